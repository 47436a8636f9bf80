"""Fixtures: an analysis folder with depth-2 failure trees, failure_modes.csv and every
picture a failure-review HIT shows (split features' A/B/C, leaf failures, correct images)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.images import pattern_strip

CLASSES = ["Shirt", "Pullover", "Coat"]


def _node(i, parent, depth, n, n_fail, total_fail, rule, feature=None, threshold=None, left=None, right=None):
    er, ec = n_fail / n, n_fail / total_fail
    return {"id": i, "parent": parent, "depth": depth, "is_leaf": feature is None, "feature": feature, "threshold": threshold,
            "left": left, "right": right, "rule": rule, "n": n, "n_fail": n_fail, "er": er, "ec": ec, "iv": er * ec, "valid": False}


def make_review_analysis(root: Path, draw_correct: bool = True) -> Path:
    """Per group a depth-2 tree: root splits on f_a, its right child on f_b; leaf 4 holds most failures."""
    root.mkdir(parents=True, exist_ok=True)
    groups, rows = [], []
    vis = root / "visualizations"
    index = {"version": 1, "features_model": "fmnist-robust", "dataset": "fashion-mnist", "features": {}, "leaves": {}, "correct": {}}
    for gi, (grouping, cls) in enumerate([(g, c) for g in ("label", "prediction") for c in CLASSES]):
        fa, fb = 10 + gi, 20 + gi
        n, fails = 1000, 100
        ta, tb = 0.5 + gi / 100, 0.25
        ra = f"feature[{fa}] > {ta:.4f}"
        nodes = [
            _node(0, None, 0, n, fails, fails, "", fa, ta, 1, 2),
            _node(1, 0, 1, 600, 10, fails, f"feature[{fa}] <= {ta:.4f}"),
            _node(2, 0, 1, 400, 90, fails, ra, fb, tb, 3, 4),
            _node(3, 2, 2, 250, 15, fails, f"{ra} and feature[{fb}] <= {tb:.4f}"),
            _node(4, 2, 2, 150, 75, fails, f"{ra} and feature[{fb}] > {tb:.4f}"),
        ]
        ber = fails / n
        leaves = [1, 3, 4]
        for leaf in leaves:
            nd = nodes[leaf]
            nd["valid"] = bool(nd["er"] > ber + 0.1 and nd["ec"] > 0.2)
        aler = sum(nodes[i]["er"] * nodes[i]["ec"] for i in leaves)
        groups.append({"grouping": grouping, "class": cls, "n": n, "n_fail": fails, "ber": ber, "aler": aler, "aler_minus_ber": aler - ber,
                       "depth": 2, "selected_features": [{"feature": fa, "mi": 0.3}, {"feature": fb, "mi": 0.2}, {"feature": 40 + gi, "mi": 0.1}],
                       "nodes": nodes, "leaves": leaves})
        slug = f"{grouping}-{cls}"
        for leaf in leaves:
            nd = nodes[leaf]
            rows.append({"grouping": grouping, "class": cls, "depth": 2, "n": n, "n_fail": fails, "ber": ber, "aler": aler,
                         "aler_minus_ber": aler - ber, "leaf": leaf, "rule": nd["rule"], "n_leaf": nd["n"], "n_fail_leaf": nd["n_fail"],
                         "er": nd["er"], "ec": nd["ec"], "iv": nd["iv"], "valid": nd["valid"]})
            name = f"leaves/{slug}-leaf{leaf}.png"
            pattern_strip(vis / name, seed=gi * 10 + leaf, k=6)
            index["leaves"][f"{grouping}/{cls}/{leaf}"] = {"grouping": grouping, "class": cls, "leaf": leaf, "rule": nd["rule"],
                                                          "samples": name, "rows": list(range(6)), "n_fail_in_leaf": nd["n_fail"]}
        if draw_correct:
            name = f"correct/{slug}.png"
            pattern_strip(vis / name, seed=500 + gi, k=6)
            index["correct"][f"{grouping}/{cls}"] = {"grouping": grouping, "class": cls, "samples": name, "rows": list(range(6)), "n_correct": n - fails}
        for f in (fa, fb):
            for j, s in enumerate("ABC"):
                pattern_strip(vis / f"feature_{f}" / f"{s}.png", seed=1000 + f * 3 + j)
            index["features"][str(f)] = {s: f"feature_{f}/{s}.png" for s in "ABC"} | {"top_rows": [], "top_values": []}
    (root / "trees.json").write_text(json.dumps({"version": 1, "params": {"depth": 2, "delta": 0.1, "tau": 0.2}, "inputs": {},
                                                 "total_failures": 600, "groups": groups}))
    pd.DataFrame(rows).to_csv(root / "failure_modes.csv", index=False)
    (vis / "index.json").write_text(json.dumps(index))
    return root


@pytest.fixture(scope="session")
def review_analysis(tmp_path_factory) -> Path:
    return make_review_analysis(tmp_path_factory.mktemp("review_analysis"))


@pytest.fixture
def review_study(review_analysis, tmp_path) -> Path:
    """Six valid leaves (one per group), two reviewers each, one attention check."""
    from analysis_core.report.context import load_report_data
    from study.db import open_study_database
    from study.failure_review.create import ReviewOptions, create_review_study

    out = tmp_path / "review"
    spec, _ = create_review_study(review_analysis, out, ReviewOptions(assignments_per_hit=2, attention_checks=1), load_report_data)
    open_study_database(out, spec=spec).dispose()
    return out


@pytest.fixture
def review_analysis_factory():
    """make_review_analysis(root, draw_correct=True) -> analysis folder."""
    return make_review_analysis
