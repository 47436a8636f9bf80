"""``barlow study analyze --study``: answers stored by the study platform (contract 6)."""

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from barlow.cli import main

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal"]


def _analysis(root):
    """The smallest analysis folder 'barlow study create' accepts: trees.json and A/B/C strips."""
    rng = np.random.default_rng(0)
    groups = []
    for grouping in ("label", "prediction"):
        for i, name in enumerate(CLASSES):
            features = rng.choice(8, size=3, replace=False)
            groups.append({
                "grouping": grouping, "class": name, "n": 100, "n_fail": 5 + 7 * i, "ber": (5 + 7 * i) / 100,
                "aler": 0.0, "aler_minus_ber": 0.0, "depth": 1, "nodes": [], "leaves": [],
                "selected_features": [{"feature": int(f), "mi": 0.3 - 0.1 * k} for k, f in enumerate(features)],
            })
    root.mkdir(parents=True)
    (root / "trees.json").write_text(json.dumps({"version": 1, "params": {}, "inputs": {}, "total_failures": 0, "groups": groups}))
    features = {}
    for fid in range(8):
        for s in "ABC":
            path = root / "visualizations" / f"feature_{fid}" / f"{s}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, size=(20, 60, 3), dtype=np.uint8)).save(path)
        features[str(fid)] = {s: f"feature_{fid}/{s}.png" for s in "ABC"} | {"top_rows": [], "top_values": []}
    (root / "visualizations" / "index.json").write_text(json.dumps(
        {"version": 1, "features_model": "fmnist-robust", "dataset": "fashion-mnist", "features": features, "leaves": {}}))
    return root


@pytest.fixture
def answered_study(tmp_path):
    from study.allocation import Allocator
    from study.create import CreateOptions, create_study
    from study.db import open_study_database
    from study.models import Hit

    study = tmp_path / "study"
    spec, _ = create_study(_analysis(tmp_path / "analysis"), study, CreateOptions(top_n=1, top_m=2, assignments_per_hit=3, attention_checks=2))
    db = open_study_database(study, spec=spec)
    allocator = Allocator(db.study_id, timedelta(minutes=30))
    checks = {c.id: c for c in spec.attention_checks}
    try:
        for w, worker_id in enumerate(["worker-one", "worker-two", "worker-three"]):
            while True:
                with db.sessions.begin() as session:
                    worker = allocator.worker(session, worker_id)
                    assignment = allocator.next_assignment(session, worker)
                    if assignment is None:
                        break
                    hit = session.get(Hit, assignment.hit_id)
                    if hit.is_attention_check:
                        expected = checks[hit.check_id].expected
                        # worker-three ignores the instruction
                        answers = {"description": "an attention check here", "ease": "3", "confidence": "3",
                                   "useful_view": "A" if w == 2 else expected["useful_view"]}
                        answers.update({k: v for k, v in expected.items() if k != "useful_view" and w != 2})
                    else:
                        answers = {"description": f"pattern number {hit.feature} stripes", "ease": str(1 + (hit.feature + w) % 5),
                                   "confidence": "4", "useful_view": ["B", "B and C", "C"][w]}
                    allocator.submit(session, assignment, answers)
    finally:
        db.dispose()
    return study, spec


def test_study_answers_are_analysed_with_roles_from_the_study_file(answered_study, tmp_path, capsys):
    study, spec = answered_study
    out = tmp_path / "out"
    assert main(["study", "analyze", "--study", str(study), "--out", str(out), "--bootstrap", "200", "--embeddings", "off"]) == 0
    s = json.loads((out / "summary.json").read_text())
    n_items = 12  # 2 groupings x top/middle/bottom 1 class x 2 features
    assert s["source"]["kind"] == "study"
    assert (s["items"], s["answers"], s["workers"]) == (n_items, 3 * n_items, 3)
    assert set(s["likert"]) == {"ease", "confidence"} and set(s["text"]) == {"description"}
    view = s["choice"]["useful_view"]
    assert view["options"] == ["A", "B", "C", "B and C", "none"]
    assert {k: d["n"] for k, d in view["distribution"].items()} == {"A": 0, "B": n_items, "C": n_items, "B and C": n_items, "none": 0}
    assert view["majority_ties"]["count"] == n_items  # every item: B, B and C, C once each
    a = s["attention_checks"]
    assert a["n_answers"] == 6 and a["n_passed"] == 4
    assert (a["workers_checked"], a["workers_failed"]) == (3, 1)
    workers = pd.read_csv(out / "per_worker.csv").set_index("worker")
    assert workers.loc["worker-three", "attention_failed"] == 2
    assert workers.loc["worker-one", "attention_failed"] == 0
    descriptions = pd.read_csv(out / "feature_descriptions.csv")
    assert all(d == f"pattern number {f} stripes" for f, d in zip(descriptions["feature"], descriptions["description"]))
    html = (out / "summary.html").read_text()
    assert "How easy was it to understand" in html  # question prompts label the tables
    assert "worker-three" not in html


def test_excluding_failed_workers_drops_their_answers(answered_study, tmp_path):
    study, _ = answered_study
    out = tmp_path / "out"
    assert main(["study", "analyze", "--study", str(study), "--out", str(out), "--bootstrap", "200", "--embeddings", "off", "--exclude-failed-workers"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert (s["answers"], s["workers"]) == (24, 2)
    assert any("from 1 worker(s) who failed" in w for w in s["warnings"])


def test_study_without_answers_is_a_clear_error(tmp_path, capsys):
    from study.create import CreateOptions, create_study
    from study.db import open_study_database

    study = tmp_path / "study"
    spec, _ = create_study(_analysis(tmp_path / "analysis"), study, CreateOptions(top_n=1, top_m=1, assignments_per_hit=2))
    open_study_database(study, spec=spec).dispose()
    assert main(["study", "analyze", "--study", str(study), "--out", str(tmp_path / "out")]) == 2
    assert "no submitted answers yet" in capsys.readouterr().err
