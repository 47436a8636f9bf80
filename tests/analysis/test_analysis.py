"""run_analysis over groups: skipped reasons, holdout, parallel runs, the per-leaf table."""

import numpy as np
import pytest

from analysis_core.artifacts.errors import BarlowError
from analysis_core.failure_analysis import AnalysisConfig, run_analysis


def skip_table():
    """Classes: 'ok' (30 rows, 10 failures), 'perfect' (no failures), 'hopeless' (only failures), 'rare' (4 rows)."""
    rng = np.random.default_rng(0)
    labels = ["ok"] * 30 + ["perfect"] * 12 + ["hopeless"] * 12 + ["rare"] * 4
    predictions = (["ok"] * 20 + ["perfect"] * 10) + ["perfect"] * 12 + ["ok"] * 12 + ["rare", "ok", "rare", "rare"]
    X = rng.random((len(labels), 6))
    return X, np.array(labels), np.array(predictions)


def test_skipped_groups_have_reasons_and_do_not_stop_the_run():
    X, labels, predictions = skip_table()
    result = run_analysis(X, labels, predictions, AnalysisConfig(grouping="label"), progress=False)
    reasons = {s.class_name: s.reason for s in result.skipped}
    assert reasons == {"perfect": "no failures", "hopeless": "only failures", "rare": "too few rows (4 < 10)"}
    assert [g.class_name for g in result.groups] == ["ok"]
    assert set(result.failure_modes["class"]) == {"ok"}
    skipped = {s.class_name: (s.n, s.n_fail) for s in result.skipped}
    assert skipped["hopeless"] == (12, 12) and skipped["rare"] == (4, 1)


def test_prediction_grouping_groups_by_prediction():
    X, labels, predictions = skip_table()
    result = run_analysis(X, labels, predictions, AnalysisConfig(grouping="prediction"), progress=False)
    # Predicted 'ok': 20 correct 'ok' + 12 wrong 'hopeless' + 1 wrong 'rare' = 33 rows, 13 failures.
    ok = result.group("prediction", "ok").tree
    assert (ok.n_, ok.n_fail_) == (33, 13)
    # Predicted 'perfect': 10 wrong ('ok') + 12 right.
    perfect = result.group("prediction", "perfect").tree
    assert (perfect.n_, perfect.n_fail_) == (22, 10)
    assert result.total_failures == 10 + 12 + 1


def test_failure_modes_table_columns_and_stats(planted):
    # The table now carries the paper's in-sample numbers and the honest (cross-fitted) ones;
    # valid, rank and the significance use the honest ones.
    X, labels, predictions, planted_ids = planted(n_classes=3, per_class=400)
    result = run_analysis(X, labels, predictions, AnalysisConfig(depth=2, permutations=39), progress=False)
    table = result.failure_modes
    required = ["grouping", "class", "depth", "n", "n_fail", "ber", "aler", "aler_minus_ber", "leaf", "rule",
                "n_leaf", "n_fail_leaf", "er", "ec", "iv", "valid", "valid_in_sample", "rank", "iv_rank",
                "honest_n_leaf", "honest_n_fail_leaf", "honest_er", "honest_ec", "honest_iv", "stability",
                "honest_er_ci_low", "honest_er_ci_high", "honest_p_value", "honest_q_value", "significant",
                "honest_aler", "honest_aler_minus_ber", "group_p_value", "group_q_value"]
    assert all(column in table.columns for column in required)
    assert set(table["grouping"]) == {"label", "prediction"}
    measured = table["honest_n_leaf"] > 0
    assert ((table["honest_er_ci_low"] <= table["honest_er"]) & (table["honest_er"] <= table["honest_er_ci_high"]))[measured].all()
    assert (table["honest_q_value"] >= table["honest_p_value"] - 1e-12)[measured].all()
    for _, group in table.groupby(["grouping", "class"]):
        # Rows are ordered by the honest rank; the in-sample IV rank is a permutation of 1..L.
        assert list(group["rank"]) == list(range(1, len(group) + 1))
        assert sorted(group["iv_rank"]) == list(range(1, len(group) + 1))
        assert group["ec"].sum() == pytest.approx(1.0)
        # Every row is held out exactly once: honest leaf counts never exceed the group.
        assert group["honest_n_leaf"].sum() <= group["n"].iloc[0]
        assert group["honest_n_fail_leaf"].sum() <= group["n_fail"].iloc[0]
        # The paper's validity rule applied to the in-sample numbers.
        paper = (group["er"] >= group["ber"] + 0.1 - 1e-12) & (group["ec"] >= 0.2 - 1e-12)
        assert (group["valid_in_sample"] == paper).all()
    # The planted mode is found honestly: every label group's top leaf is valid and significant,
    # and the permutation test calls each label group significant.
    top = table[(table["grouping"] == "label") & (table["rank"] == 1)]
    # (At depth 2 a refit may split the planted cell in two, so the top leaf's honest ER is lower
    # than in-sample; it still clears BER + delta.)
    assert top["valid"].all() and top["significant"].all()
    assert (top["honest_er"] >= top["ber"] + 0.1).all()
    assert top["group_p_value"].tolist() == pytest.approx([1 / 40] * 3)
    summary = result.summary()["label"]
    assert summary["analysed"] == 3 and summary["fraction_top_leaf_valid"] == 1.0
    assert summary["fraction_significant"] == 1.0
    assert summary["mean_aler_minus_ber"] == pytest.approx(
        np.mean([g.tree.aler_minus_ber_ for g in result.groups if g.grouping == "label"])
    )
    assert summary["mean_honest_aler_minus_ber"] < summary["mean_aler_minus_ber"]


def test_holdout_reports_held_out_leaf_counts(planted):
    X, labels, predictions, _ = planted(n_classes=2, per_class=300)
    result = run_analysis(X, labels, predictions, AnalysisConfig(grouping="label", holdout=0.3, seed=1),
                          progress=False)
    table = result.failure_modes
    for group in result.groups:
        rows = labels == group.class_name
        full_n, full_fail = int(rows.sum()), int((labels[rows] != predictions[rows]).sum())
        assert group.tree.n_ + group.holdout["n"] == full_n
        assert group.tree.n_fail_ + group.holdout["n_fail"] == full_fail
        assert group.holdout["n"] == pytest.approx(0.3 * full_n, abs=2)
        leaves = table[table["class"] == group.class_name]
        assert leaves["holdout_n_leaf"].sum() == group.holdout["n"]
        assert leaves["holdout_n_fail_leaf"].sum() == group.holdout["n_fail"]
    assert {"holdout_er", "holdout_ec", "holdout_p_value", "holdout_q_value"} <= set(table.columns)
    # The planted mode generalizes: the top leaf's held-out error rate is above the held-out BER.
    top = table[table["iv_rank"] == 1]
    assert (top["holdout_er"] > top["holdout_ber"]).all()


def test_parallel_run_gives_the_same_trees(planted):
    X, labels, predictions, _ = planted(n_classes=3, per_class=150)
    serial = run_analysis(X, labels, predictions, AnalysisConfig(depth=2, jobs=1), progress=False)
    parallel = run_analysis(X, labels, predictions, AnalysisConfig(depth=2, jobs=2), progress=False)
    assert [g.to_dict() for g in serial.groups] == [g.to_dict() for g in parallel.groups]


def test_mismatched_lengths_are_refused():
    with pytest.raises(BarlowError, match="5 feature rows but 4 labels"):
        run_analysis(np.zeros((5, 2)), ["a"] * 4, ["a"] * 4, progress=False)


@pytest.mark.parametrize(
    "change, message",
    [({"grouping": "class"}, "grouping must be one of"), ({"holdout": 1.0}, "--holdout"),
     ({"top_k": 0}, "--top-k"), ({"tau": 1.5}, "--tau"), ({"jobs": 0}, "--jobs"), ({"mi": "mine"}, "estimator"),
     ({"folds": 1}, "--folds"), ({"permutations": -1}, "--permutations"), ({"alpha": 0}, "--alpha")],
)
def test_bad_options_are_refused(change, message):
    with pytest.raises(BarlowError, match=message):
        AnalysisConfig(**change).validate()
