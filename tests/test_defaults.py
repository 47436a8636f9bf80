"""One default per setting: the library, the command line and the reproduction config agree.

Every value comes from analysis_core.artifacts.parameters; this test reads each place a user meets a
default (FailureTree(), AnalysisConfig(), 'barlow analyze/experiments/study create' with no
options, a reproduction config without the setting) and checks they are the same.
"""

import pytest

from analysis_core.artifacts import parameters as p
from analysis_core.failure_analysis import AnalysisConfig
from analysis_core.failure_tree import FailureTree
from analysis_core.honest import DEFAULT_FOLDS
from analysis_core.reproduction.config import AnalysisSettings, ReproductionConfig, Section8Settings
from barlow.cli import build_parser
from study.create import CreateOptions
from study.study_file import HitSettings

TREE = {"depth": p.DEPTH, "top_k": p.TOP_K, "mi": p.MI, "min_leaf": p.MIN_LEAF, "delta": p.DELTA, "tau": p.TAU, "seed": p.SEED}
# FailureTree spells two parameters the scikit-learn way.
SKLEARN_NAMES = {"min_leaf": "min_samples_leaf", "seed": "random_state"}
ANALYSIS = {**TREE, "min_rows": p.MIN_ROWS, "folds": p.FOLDS, "permutations": p.PERMUTATIONS, "alpha": p.ALPHA}
STUDY = {"top_n": p.STUDY_TOP_N, "top_m": p.STUDY_TOP_M, "assignments_per_hit": p.ASSIGNMENTS_PER_HIT, "reward": p.REWARD}


def _cli(*argv: str):
    return build_parser().parse_args(list(argv))


def test_tree_defaults_are_the_same_in_the_estimator_the_config_and_the_cli():
    params = FailureTree().get_params()
    assert {name: params[SKLEARN_NAMES.get(name, name)] for name in TREE} == TREE
    config = AnalysisConfig()
    assert {name: getattr(config, name) for name in ANALYSIS} == ANALYSIS
    assert DEFAULT_FOLDS == p.FOLDS
    args = _cli("analyze", "--features", "f.npy", "--metadata", "m.csv", "--out", "o")
    assert {name: getattr(args, name) for name in ANALYSIS} == ANALYSIS
    # 'barlow experiments' runs every depth it is given (--depths) with the other defaults.
    args = _cli("experiments", "--run", "a=x", "--out", "o")
    assert {name: getattr(args, name) for name in ANALYSIS if name != "depth"} == {k: v for k, v in ANALYSIS.items() if k != "depth"}
    assert args.depths == AnalysisSettings().depths == list(range(p.MIN_DEPTH, p.MAX_DEPTH + 1))


def test_the_reproduction_config_starts_from_the_same_analysis_defaults():
    settings = AnalysisSettings()
    shared = {name: value for name, value in ANALYSIS.items() if name not in ("depth", "min_leaf")}
    assert {name: getattr(settings, name) for name in shared} == shared
    assert settings.groupings == list(p.GROUPINGS) == AnalysisConfig().groupings
    assert settings.depths == list(range(p.MIN_DEPTH, p.MAX_DEPTH + 1))
    assert ReproductionConfig.__dataclass_fields__["analysis"].default_factory is AnalysisSettings


def test_study_defaults_are_the_same_for_create_the_cli_the_hit_settings_and_section8():
    options, section8 = CreateOptions(), Section8Settings()
    assert {name: getattr(options, name) for name in STUDY} == STUDY
    assert {name: getattr(section8, name) for name in STUDY} == STUDY
    args = _cli("study", "create", "--analysis", "a", "--out", "s")
    assert {name: getattr(args, name) for name in STUDY} == STUDY
    hit = HitSettings()
    assert (hit.assignments_per_hit, hit.reward) == (p.ASSIGNMENTS_PER_HIT, p.REWARD)
    # The old flag still works and fills the one name.
    assert _cli("study", "create", "--analysis", "a", "--out", "s", "--assignments", "3").assignments_per_hit == 3


@pytest.mark.parametrize(
    "check, message",
    [
        (lambda: FailureTree(top_k=0).fit([[0.0], [1.0]], [0, 1]), "top_k must be an integer of at least 1, got 0"),
        (lambda: AnalysisConfig(top_k=0).validate(), "--top-k must be an integer of at least 1, got 0"),
        (lambda: FailureTree(depth=4).fit([[0.0], [1.0]], [0, 1]), "depth must be an integer from 1 to 3, got 4"),
        (lambda: AnalysisConfig(depth=4).validate(), "--depth must be an integer from 1 to 3, got 4"),
        (lambda: FailureTree(tau=2.0).fit([[0.0], [1.0]], [0, 1]), r"tau must be a number in \[0, 1\], got 2.0"),
        (lambda: AnalysisConfig(tau=2.0).validate(), r"--tau must be a number in \[0, 1\], got 2.0"),
    ],
)
def test_one_check_one_wording_wherever_a_parameter_is_given(check, message):
    with pytest.raises(p.ParameterError, match=message) as caught:
        check()
    assert isinstance(caught.value, ValueError)
