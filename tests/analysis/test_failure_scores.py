import numpy as np
import pytest

from analysis_core.artifacts.errors import BarlowError
from analysis_core.failure_analysis import AnalysisConfig, run_analysis
from analysis_core.failure_scores import LeafProfile, leaf_profile, most_typical, path_conditions, rule_margin, score_leaf

from .conftest import planted_benchmark

# root: feature 0 <= 1.0 goes to node 1 (a leaf); else node 2 splits on feature 1 <= 0.0.
NODES = [
    {"id": 0, "parent": None, "is_leaf": False, "feature": 0, "threshold": 1.0, "left": 1, "right": 2},
    {"id": 1, "parent": 0, "is_leaf": True, "feature": None, "threshold": None, "left": None, "right": None},
    {"id": 2, "parent": 0, "is_leaf": False, "feature": 1, "threshold": 0.0, "left": 3, "right": 4},
    {"id": 3, "parent": 2, "is_leaf": True, "feature": None, "threshold": None, "left": None, "right": None},
    {"id": 4, "parent": 2, "is_leaf": True, "feature": None, "threshold": None, "left": None, "right": None},
]


def test_margin_is_the_closest_threshold_in_feature_units():
    assert path_conditions(NODES, 4) == [(0, 1.0, False), (1, 0.0, False)]
    X = np.array([[3.0, 0.5], [1.5, 4.0], [0.0, 9.0], [1.0, 1.0]])
    margin = rule_margin(path_conditions(NODES, 4), X, {0: 1.0, 1: 0.5})
    # Row 0: 2 sd past feature 0's threshold but only 1 sd past feature 1's.
    np.testing.assert_allclose(margin, [1.0, 0.5, -1.0, 0.0])
    profile = LeafProfile({0: 1.0, 1: 0.5}, np.array([0, 1]), centre=np.array([1.5, 4.0]), scale=np.ones(2))
    scored = score_leaf(NODES, 4, X, np.array([False, True, False, False]), profile)
    # A row exactly on a '>' threshold does not meet it (the tree sends it left).
    assert scored["in_leaf"].tolist() == [True, True, False, False]
    assert scored["typicality"][1] == 1.0  # at the centre of the leaf's failures
    assert scored["score"][1] > scored["score"][0] > scored["score"][2]  # a failure inside the rule comes first


def test_typicality_prefers_images_like_the_leafs_failures_over_the_rules_extremes():
    # Inside the rule (feature 0 > 1), failures sit near feature 0 = 2 with feature 1 high;
    # the successes furthest past the threshold (feature 0 = 6) are another kind of image.
    X = np.array([[2.0, 3.0], [2.2, 3.1], [1.8, 2.9], [6.0, 0.0], [6.5, 0.1], [0.0, 0.0], [0.5, 0.2]])
    failure = np.array([True, True, True, False, False, False, False])
    nodes = NODES[:2] + [dict(NODES[2], is_leaf=True, feature=None, threshold=None, left=None, right=None)]
    profile = leaf_profile(nodes, 2, [0, 1], X, failure)
    np.testing.assert_allclose(profile.centre, [2.0, 3.0])
    new = np.array([[2.1, 3.0], [7.0, 0.0]])
    scored = score_leaf(nodes, 2, new, np.array([False, False]), profile)
    assert scored["in_leaf"].all()
    assert scored["margin"][1] > scored["margin"][0]
    assert scored["score"][0] > scored["score"][1]


def test_inner_node_is_not_a_failure_mode():
    with pytest.raises(BarlowError, match="node 2 is not a leaf"):
        path_conditions(NODES, 2)


def test_most_typical_images_of_a_planted_mode_are_its_failures_deep_inside_the_rule():
    X, labels, predictions, planted = planted_benchmark(n_classes=2, per_class=400)
    result = run_analysis(X, labels, predictions, AnalysisConfig(grouping="label", depth=1, permutations=0), progress=False)
    scores = result.failure_scores
    top = result.failure_modes[result.failure_modes["rank"] == 1].iloc[0]
    typical = most_typical(scores, "label", top["class"], int(top["leaf"]), k=8)
    assert len(typical) == 8 and typical["in_leaf"].all() and typical["failure"].all()
    c = int(top["class"].split("_")[1])
    x = X[typical["row"].to_numpy(), planted[c]]
    rows = np.flatnonzero(labels == top["class"])
    # The planted mode is the feature's lowest 40 %: its most typical images lie well inside it.
    assert (x <= np.quantile(X[rows, planted[c]], 0.4)).all()


def test_scores_option_chooses_which_failure_modes_are_scored(tmp_path):
    from analysis_core.artifacts.errors import BarlowError as Error
    from analysis_core.failure_analysis_outputs import write_analysis

    X, labels, predictions, _ = planted_benchmark(n_classes=2, per_class=200)
    run = lambda scores: run_analysis(X, labels, predictions, AnalysisConfig(  # noqa: E731
        grouping="label", depth=2, permutations=0, scores=scores), progress=False)
    every = run("all")
    leaves = every.failure_modes[["class", "leaf"]].drop_duplicates()
    assert len(every.failure_scores) == len(leaves) * 200
    reported = run("reported").failure_scores
    modes = every.failure_modes
    shown = modes[(modes["rank"] == 1) | modes["valid"]]
    assert set(zip(reported["class"], reported["leaf"])) == set(zip(shown["class"], shown["leaf"]))
    none = run("none")
    assert none.failure_scores is None
    assert not (write_analysis(none, tmp_path / "a") / "failure_scores.csv").exists()
    with pytest.raises(Error, match="--scores must be one of reported, all, none"):
        AnalysisConfig(scores="some").validate()
