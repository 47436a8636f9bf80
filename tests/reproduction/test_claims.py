"""The section 7 claims: verdicts follow the numbers, per cell, with the paper's bounds."""

import numpy as np
import pandas as pd

from analysis_core.reproduction.claims import section7_claims, section8_claims


def _tables(robust_gain: float, label_gain: float, depth_gain: float, fraction: dict):
    rng = np.random.default_rng(0)
    rows, summary = [], []
    for model in ("standard", "robust"):
        for grouping in ("label", "prediction"):
            for depth in (1, 3):
                base = 0.1 + (robust_gain if model == "robust" else 0) + (label_gain if grouping == "label" else 0)
                base += depth_gain if depth == 3 else 0
                values = base + rng.normal(0, 0.01, 12)
                rows += [{"model": model, "grouping": grouping, "depth": depth, "class": f"c{i}", "aler_minus_ber": v,
                          "honest_aler_minus_ber": v / 2} for i, v in enumerate(values)]
                summary.append({"model": model, "grouping": grouping, "depth": depth,
                                "fraction_top_leaf_valid": fraction[(model, grouping, depth)]})
    per_class = pd.DataFrame(rows)
    return per_class, pd.DataFrame(summary), per_class, pd.DataFrame(summary)


def _claims(**kwargs):
    per_class, summary, honest, honest_summary = _tables(**kwargs)
    claims = section7_claims(per_class, summary, honest, honest_summary, ["standard", "robust"], ["label", "prediction"],
                             [1, 3], "standard", "robust")
    return {c.claim.split(" ")[0] + " " + c.claim.split(" ")[1]: c for c in claims}


PAPER_LIKE = {("standard", "prediction", 1): 0.25, **{(m, g, d): 0.8 for m in ("standard", "robust")
                                                       for g in ("label", "prediction") for d in (1, 3)
                                                       if not (m == "standard" and g == "prediction" and d == 1)}}


def test_numbers_like_the_papers_hold():
    claims = _claims(robust_gain=0.1, label_gain=0.05, depth_gain=0.1, fraction=PAPER_LIKE)
    assert claims["Label grouping"].holds == "yes" and claims["Label grouping"].holds_honest == "yes"
    assert claims["Inspecting the"].holds == "yes"
    assert "p = 0.000244" in claims["Inspecting the"].ours  # 12 of 12 classes, one-sided Wilcoxon
    assert claims["Increasing depth"].holds == "yes"
    assert claims["Standard model,"].holds == "yes"  # prediction/depth 1 within 0.1 of 0.211
    assert all(c.holds == "yes" for c in claims.values())


def test_opposite_numbers_do_not_hold_and_mixed_ones_partly():
    fraction = dict(PAPER_LIKE)
    fraction[("robust", "label", 3)] = 0.5
    claims = _claims(robust_gain=-0.1, label_gain=-0.05, depth_gain=-0.05, fraction=fraction)
    assert claims["Label grouping"].holds == "no" and claims["Inspecting the"].holds == "no"
    assert claims["Increasing depth"].holds == "no"
    robust = next(c for c in claims.values() if c.claim.startswith("Robust model"))
    assert robust.holds == "partly (3 of 4)" and "label, depth 3: 0.500" in robust.ours


def test_crowd_claims_wait_for_answers():
    claims = section8_claims(180, {"label": 9, "prediction": 9}, 3, 10, None)
    assert claims[0].holds.startswith("yes") and "180 visualizations (N = 3, 10 features" in claims[0].ours
    assert [c.holds for c in claims[1:]] == ["not measured"] * 4
