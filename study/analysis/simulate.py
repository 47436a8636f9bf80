"""A simulated crowd study in MTurk batch-results shape, for benchmarks, tests and trying things out.

The numbers follow the paper's study (section 8): groups × top features, five workers per
item, a few hundred workers with a skewed number of tasks each, most-useful-view answers
near the paper's shares, Likert answers driven by how clear each feature is, and free-text
descriptions that agree more for clear features. Everything is drawn from one seeded
generator, so a seed gives the same file every time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CONCEPTS = [
    ("metal", "buckle"), ("dog", "collar"), ("striped", "texture"), ("red", "fabric"), ("wooden", "handle"),
    ("water", "surface"), ("green", "grass"), ("blue", "sky"), ("human", "face"), ("white", "text"),
    ("round", "wheel"), ("shiny", "glass"), ("black", "strap"), ("furry", "animal"), ("checkered", "pattern"),
    ("snow", "background"), ("leather", "sole"), ("zipper", "teeth"), ("floral", "print"), ("dark", "shadow"),
]
SYNONYMS = {
    "buckle": ["buckle", "buckles", "clasp"], "collar": ["collar", "collars", "neckband"],
    "texture": ["texture", "textures", "stripes"], "fabric": ["fabric", "cloth", "material"],
    "handle": ["handle", "handles", "grip"], "surface": ["surface", "waves", "ripples"],
    "face": ["face", "faces", "person"], "wheel": ["wheel", "wheels", "tire"], "strap": ["strap", "straps", "band"],
}
FILLERS = ["it seems to be", "looks like", "the", "some kind of", "maybe", "mostly", "a", "I think it is"]
DISTRACTORS = ["blurry", "colors", "edges", "background", "noise", "light", "shape", "dots"]
PAPER_VIEW_SHARES = {"A": 0.02, "B": 0.425, "C": 0.17, "B and C": 0.315, "none": 0.07}


def _description(rng: np.random.Generator, concept: tuple[str, str], clear: bool) -> str:
    if not clear:
        words = list(rng.choice(DISTRACTORS, size=rng.integers(1, 4), replace=False))
        return " ".join([str(rng.choice(FILLERS)), *words])
    adjective, noun = concept
    noun = str(rng.choice(SYNONYMS.get(noun, [noun])))
    parts = [str(rng.choice(FILLERS))]
    if rng.random() < 0.8:
        parts.append(adjective)
    parts.append(noun)
    if rng.random() < 0.3:
        parts.append(str(rng.choice(DISTRACTORS)))
    return " ".join(parts)


def simulate_batch(
    n_groups: int = 120,
    features_per_group: int = 10,
    raters: int = 5,
    n_workers: int = 300,
    n_attention_checks: int = 60,
    short_items: int = 29,
    seed: int = 0,
) -> pd.DataFrame:
    """A batch-results table: n_groups × features_per_group items, ``raters`` answers each.

    ``short_items`` items get one answer fewer (the paper had 29 with four answers);
    ``n_attention_checks`` extra assignments show a blank visualization whose expected
    most-useful-view answer is "none".
    """
    rng = np.random.default_rng(seed)
    groupings = np.array(["label", "prediction"])
    views, view_p = list(PAPER_VIEW_SHARES), np.array(list(PAPER_VIEW_SHARES.values()))
    # Skewed worker activity: a few workers do many tasks, most do a handful.
    activity = rng.lognormal(0.0, 1.0, size=n_workers)
    activity /= activity.sum()
    worker_ids = [f"A{rng.integers(10**12, 10**13):013d}" for _ in range(n_workers)]
    careless = rng.random(n_workers) < 0.05

    rows = []
    n_items = n_groups * features_per_group
    short = set(rng.choice(n_items, size=min(short_items, n_items), replace=False).tolist())
    item = 0
    for g in range(n_groups):
        grouping = groupings[g % 2]
        class_name = f"class_{g // 2:03d}"
        features = rng.choice(2048, size=features_per_group, replace=False)
        for feature in features:
            clarity = rng.beta(4, 2)
            concept = CONCEPTS[int(feature) % len(CONCEPTS)]
            shares = rng.dirichlet(view_p * 12)
            k = raters - 1 if item in short else raters
            chosen = rng.choice(n_workers, size=k, replace=False, p=activity)
            hit_id = f"3H{item:06d}"
            for w in chosen:
                clear = rng.random() < clarity
                ease = int(np.clip(round(rng.normal(1.2 + 3.8 * clarity, 0.9)), 1, 5))
                confidence = int(np.clip(round(ease + rng.normal(0.2, 0.7)), 1, 5))
                rows.append(_row(rng, hit_id, worker_ids[w], grouping, class_name, int(feature), False, "",
                                 _description(rng, concept, clear), ease, confidence, str(rng.choice(views, p=shares))))
            item += 1
    for c in range(n_attention_checks):
        w = int(rng.choice(n_workers, p=activity))
        answer = str(rng.choice(views, p=view_p)) if careless[w] else "none"
        rows.append(_row(rng, f"3C{c:06d}", worker_ids[w], "label", "attention_check", -1, True, "none",
                         "nothing visible", 1, 5, answer))
    order = rng.permutation(len(rows))  # MTurk lists assignments in submission order, not by item
    return pd.DataFrame([rows[i] for i in order])


def _row(rng, hit_id, worker, grouping, class_name, feature, is_check, expected, description, ease, confidence, view) -> dict:
    seconds = int(np.clip(rng.lognormal(np.log(120), 0.5), 20, 1800))
    accept = pd.Timestamp("2020-11-02 15:00:00") + pd.Timedelta(seconds=int(rng.integers(0, 7 * 86400)))
    return {
        "HITId": hit_id,
        "AssignmentId": f"3A{rng.integers(10**12, 10**13):013d}",
        "WorkerId": worker,
        "AssignmentStatus": "Approved",
        "WorkTimeInSeconds": seconds,
        "AcceptTime": accept.strftime("%a %b %d %H:%M:%S PST %Y"),
        "SubmitTime": (accept + pd.Timedelta(seconds=seconds)).strftime("%a %b %d %H:%M:%S PST %Y"),
        "Input.grouping": grouping,
        "Input.class": class_name,
        "Input.feature": feature,
        "Input.is_attention_check": "true" if is_check else "false",
        "Input.expected_useful_view": expected,
        "Answer.description": description,
        "Answer.ease": ease,
        "Answer.confidence": confidence,
        "Answer.useful_view": view,
    }
