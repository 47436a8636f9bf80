"""Build a study folder from an analysis run: choose what to show, copy images, write files.

The paper's protocol (section 8): per grouping, the top, middle and bottom N classes by
error rate (N = 20), and per class the M features with the highest mutual information with
failure (M = 10); one HIT per (grouping, class, feature) visualization. An explicit list of
items replaces the protocol when given.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis_core.artifacts import (
    GroupTree,
    StudyFolder,
    TreesDocument,
    VisualizationIndex,
    read_trees,
    read_visualization_index,
)
from analysis_core.artifacts.analysis_folder import AnalysisFolder
from analysis_core.artifacts.atomic import staged_dir
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.options import option
from analysis_core.artifacts.parameters import ASSIGNMENTS_PER_HIT, GROUPINGS, REWARD, STUDY_TOP_M, STUDY_TOP_N, check_at_least
from analysis_core.artifacts.study_folder import ITEMS_FILE
from analysis_core.artifacts.study_items import StudyItem, read_items, write_items
from study.hits import HITS_FILE, SECTIONS, HitSpec, write_hits
from study.study_file import (
    AttentionCheck,
    HitSettings,
    Question,
    StudySpec,
    default_questions,
    write_study_file,
)


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in str(text).split(",") if part.strip()]


@dataclass
class CreateOptions:
    """What 'barlow study create' builds; its options are generated from these fields.

    Defaults come from analysis_core.artifacts.parameters (the reproduction config's section8 reads
    the same) or are HitSettings' own; None means "use the study kind's text".
    """

    top_n: int = option(STUDY_TOP_N, "classes per tier (top/middle/bottom by error rate) per grouping", metavar="N")
    top_m: int = option(STUDY_TOP_M, "features per class, by mutual information", metavar="M")
    items_csv: Path | None = option(
        None, "explicit list of HITs (columns grouping,class,feature) instead of the protocol",
        flags=("--items",), metavar="FILE.csv", type=Path,
    )
    assignments_per_hit: int = option(
        ASSIGNMENTS_PER_HIT, "workers per HIT", flags=("--assignments-per-hit", "--assignments"), metavar="N",
    )
    reward: str = option(REWARD, "reward per HIT in US dollars")
    title: str | None = option(None, "HIT title shown to workers", type=str, default_text="a sentence asking to describe a feature")
    description: str | None = option(None, "HIT description shown on crowd platforms", type=str)
    keywords: list[str] | None = option(None, "comma-separated HIT keywords", type=_comma_list)
    attention_checks: int = option(0, "add N attention-check HITs with known answers", metavar="N")
    questions: list[Question] | None = None  # --questions FILE (read by the command)
    timeout_minutes: int = option(HitSettings.assignment_timeout_minutes, "release an unsubmitted assignment after this long")
    name: str | None = option(None, "study name stored in the database", type=str, default_text="the folder name")
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> "CreateOptions":
        check_at_least(self.top_n, 1, "--top-n")
        check_at_least(self.top_m, 1, "--top-m")
        check_at_least(self.assignments_per_hit, 1, "--assignments-per-hit")
        check_at_least(self.attention_checks, 0, "--attention-checks")
        check_at_least(self.timeout_minutes, 1, "--timeout-minutes")
        try:
            self.reward = f"{float(self.reward):.2f}"
        except ValueError:
            raise BarlowError(f"--reward {self.reward!r} is not an amount in dollars like 0.50") from None
        return self


# ----------------------------------------------------------------------------- choosing


def load_trees(analysis_dir: Path) -> TreesDocument:
    folder = AnalysisFolder(analysis_dir)
    if not folder.trees_path.is_file():
        raise BarlowError(f"no trees.json in {analysis_dir}; run 'barlow analyze' first or pass --items FILE.csv")
    return read_trees(folder.trees_path)


def _ber(group: GroupTree) -> float:
    return float("nan") if group.ber is None else float(group.ber)


def tiers(groups: list[GroupTree], n: int) -> list[tuple[str, GroupTree]]:
    """Top, middle and bottom ``n`` groups by error rate, each group once, in that order."""
    ranked = sorted(groups, key=lambda g: (-_ber(g), g.class_name))
    if len(ranked) <= 3 * n:
        chosen = [("top" if i < n else "bottom" if i >= len(ranked) - n else "middle", g) for i, g in enumerate(ranked)]
        return chosen
    mid_start = (len(ranked) - n) // 2
    picks = [("top", ranked[:n]), ("middle", ranked[mid_start : mid_start + n]), ("bottom", ranked[-n:])]
    return [(tier, g) for tier, part in picks for g in part]


def protocol_items(trees: TreesDocument, top_n: int, top_m: int) -> tuple[list[StudyItem], list[str]]:
    """The paper's selection; also the (grouping, class) groups left out for having no features."""
    check_at_least(top_n, 1, "--top-n")
    check_at_least(top_m, 1, "--top-m")
    items: list[StudyItem] = []
    without_features: list[str] = []
    for grouping in GROUPINGS:
        for tier, g in tiers(trees.in_grouping(grouping), top_n):
            feats = sorted(g.selected_features, key=lambda f: -f.mi)[:top_m]
            if not feats:
                without_features.append(g.key)
                continue
            for f in feats:
                items.append(StudyItem(grouping, g.class_name, f.feature, tier=tier, ber=_ber(g), mi=f.mi))
    return items, without_features


# ----------------------------------------------------------------------------- images


def load_visualization_index(analysis_dir: Path) -> VisualizationIndex:
    return read_visualization_index(AnalysisFolder(analysis_dir).visualizations_dir)


def item_key(item: StudyItem | AttentionCheck) -> tuple[str, str, int]:
    return (item.grouping, item.class_name, int(item.feature))


def find_strips(analysis_dir: Path, index: VisualizationIndex, items: list[StudyItem]) -> dict[tuple[str, str, int], dict[str, str]]:
    """Per (grouping, class, feature) item, its A/B/C strips, relative to visualizations/.

    An item shows its group's own pictures when 'barlow visualize --scope group' drew them
    (the top images among that group's images, what a worker should describe for it), else
    the feature's data-set pictures. A clear error lists every feature without either.
    """
    vis_dir = AnalysisFolder(analysis_dir).visualizations_dir
    found: dict[tuple[str, str, int], dict[str, str]] = {}
    missing: set[int] = set()
    for key in dict.fromkeys(item_key(it) for it in items):
        entry, _ = index.feature_entry(*key)
        paths = {s: entry[s] for s in SECTIONS if entry and entry.get(s)}
        if len(paths) != len(SECTIONS) or not all((vis_dir / p).is_file() for p in paths.values()):
            missing.add(key[2])
        else:
            found[key] = paths
    if missing:
        ordered = sorted(missing)
        shown = ",".join(map(str, ordered[:40])) + (",..." if len(ordered) > 40 else "")
        raise BarlowError(
            f"{len(ordered)} feature(s) have no A/B/C visualization in {vis_dir}: {shown}; "
            f"make them with 'barlow visualize --analysis {analysis_dir} --feature-ids {','.join(map(str, ordered))}'"
        )
    return found


def study_image_path(strip: str, feature: int, section: str) -> str:
    """Where a strip goes in the study folder (see StudyFolder.image_path)."""
    return StudyFolder.image_path(strip, feature, section)


# ----------------------------------------------------------------------------- checks


def make_attention_checks(questions: list[Question], items: list[StudyItem], n: int) -> list[AttentionCheck]:
    """``n`` checks that each ask for one stated answer to a choice and a Likert question."""
    if n <= 0:
        return []
    choice = next((q for q in questions if q.type == "choice"), None)
    likert = next((q for q in questions if q.type == "likert"), None)
    if choice is None and likert is None:
        raise BarlowError("attention checks need a choice or Likert question in the study's questions")
    checks = []
    for i in range(n):
        expected: dict[str, str] = {}
        parts: list[str] = []
        if choice is not None:
            # Rotate from the last option (e.g. 'none'), the answer least given by chance.
            value = choice.options[(len(choice.options) - 1 - i) % len(choice.options)]
            expected[choice.id] = value
            parts.append(f"choose \u201c{choice.option_labels.get(value, value)}\u201d for \u201c{choice.prompt}\u201d")
        if likert is not None:
            value = str(likert.scale_min if i % 2 == 0 else likert.scale_max)
            expected[likert.id] = value
            parts.append(f"choose {value} for \u201c{likert.prompt}\u201d")
        item = items[(i * 7) % len(items)]
        checks.append(
            AttentionCheck(
                id=f"check-{i + 1:02d}",
                instruction="This HIT checks attention. Whatever the images show, " + " and ".join(parts) + ".",
                expected=expected,
                grouping=item.grouping,
                class_name=item.class_name,
                feature=item.feature,
            )
        )
    return checks


# ----------------------------------------------------------------------------- building


def build_hits(items: list[StudyItem], checks: list[AttentionCheck], images: dict[tuple[str, str, int], dict[str, str]]) -> list[HitSpec]:
    hits = [
        HitSpec(key=f"h{i + 1:04d}", grouping=it.grouping, class_name=it.class_name, feature=it.feature, images=images[item_key(it)])
        for i, it in enumerate(items)
    ]
    # Spread the checks through the list so that workers meet them early and late.
    for j, check in enumerate(checks):
        at = round((j + 1) * len(hits) / (len(checks) + 1))
        hits.insert(
            min(at, len(hits)),
            HitSpec(
                key=f"c{j + 1:03d}",
                grouping=check.grouping,
                class_name=check.class_name,
                feature=int(check.feature),
                images=images[item_key(check)],
                is_attention_check=True,
                check_id=check.id,
            ),
        )
    return hits


def hit_settings(options: CreateOptions, defaults: HitSettings) -> HitSettings:
    """The study's HIT settings: the user's options, with the study kind's texts where they left them out."""
    return HitSettings(
        title=options.title or defaults.title,
        description=options.description or defaults.description,
        keywords=options.keywords or defaults.keywords,
        reward=options.reward,
        assignments_per_hit=options.assignments_per_hit,
        assignment_timeout_minutes=options.timeout_minutes,
    )


def study_folders(analysis_dir: str | Path, out_dir: str | Path) -> tuple[Path, Path]:
    """The analysis folder (resolved) and the new study's folder; refuses a missing analysis
    and a folder that already holds a study (either kind of study)."""
    analysis_dir = Path(analysis_dir).resolve()
    out_dir = Path(out_dir)
    if not analysis_dir.is_dir():
        raise BarlowError(f"analysis folder {analysis_dir} not found")
    if StudyFolder(out_dir).holds_study:
        raise BarlowError(f"{out_dir} already holds a study; choose a new --out folder")
    return analysis_dir, out_dir


def create_study(analysis_dir: str | Path, out_dir: str | Path, options: CreateOptions) -> tuple[StudySpec, list[HitSpec]]:
    analysis_dir, out_dir = study_folders(analysis_dir, out_dir)
    options.validate()

    skipped: list[str] = []
    if options.items_csv is not None:
        items = read_items(Path(options.items_csv), unique=True)
        protocol: dict[str, Any] = {"items": str(Path(options.items_csv).resolve())}
    else:
        items, skipped = protocol_items(load_trees(analysis_dir), options.top_n, options.top_m)
        protocol = {"top_n": options.top_n, "top_m": options.top_m}
        if not items:
            raise BarlowError(f"{analysis_dir}/trees.json: no group has selected features to show")

    index = load_visualization_index(analysis_dir)
    strips = find_strips(analysis_dir, index, items)

    questions = options.questions or default_questions()
    checks = make_attention_checks(questions, items, options.attention_checks)
    spec = StudySpec(
        name=options.name or out_dir.resolve().name,
        settings=hit_settings(options, HitSettings()),
        questions=questions,
        attention_checks=checks,
        source={
            "analysis": str(analysis_dir),
            "features_model": index.features_model,
            "dataset": index.dataset,
            "protocol": protocol,
            "groups_without_features": skipped,
            **options.extra,
        },
    )

    with staged_dir(out_dir) as stage:
        vis_dir = AnalysisFolder(analysis_dir).visualizations_dir
        rel_images: dict[tuple[str, str, int], dict[str, str]] = {}
        for key, paths in strips.items():
            rel_images[key] = {}
            for s, strip in paths.items():
                rel = study_image_path(strip, key[2], s)
                if not (stage / rel).is_file():  # groups falling back to one data-set strip share it
                    (stage / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(vis_dir / strip, stage / rel)
                rel_images[key][s] = rel
        hits = build_hits(items, checks, rel_images)
        write_study_file(spec, stage)
        write_hits(hits, stage / HITS_FILE)
        write_items(items, stage / ITEMS_FILE)
    return spec, hits
