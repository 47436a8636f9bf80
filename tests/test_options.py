"""Command options come from the config dataclasses: defaults and help cannot drift."""

import argparse
from dataclasses import replace

import pytest

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.options import (
    QUIET_HELP,
    add_options,
    from_args,
    option,
    values_from_args,
)
from analysis_core.failure_analysis import AnalysisConfig
from analysis_core.visualization.config import VisualizationConfig
from barlow.cli import build_parser
from barlow.demo import DemoConfig
from study.analysis.pipeline import StudyAnalysisOptions
from study.create import CreateOptions

REQUIRED = {
    ("analyze",): ["--features", "f.npy", "--metadata", "m.csv", "--out", "o"],
    ("experiments",): ["--run", "a=x", "--out", "o"],
    ("visualize",): ["--analysis", "a"],
    ("demo",): [],
    ("study", "create"): ["--analysis", "a", "--out", "s"],
    ("study", "analyze"): ["--study", "s", "--out", "o"],
}


def _parse(command: tuple[str, ...], *extra: str) -> argparse.Namespace:
    return build_parser().parse_args([*command, *REQUIRED[command], *extra])


@pytest.mark.parametrize(
    "command, cls, expected",
    [
        (("analyze",), AnalysisConfig, AnalysisConfig()),
        (("experiments",), AnalysisConfig, AnalysisConfig()),
        (("visualize",), VisualizationConfig, VisualizationConfig()),
        (("demo",), VisualizationConfig, DemoConfig().visualization),
        (("study", "create"), CreateOptions, CreateOptions()),
        (("study", "analyze"), StudyAnalysisOptions, StudyAnalysisOptions()),
    ],
)
def test_unset_options_give_the_dataclass_defaults(command, cls, expected):
    # demo: its drawing options start from the demo's own VisualizationConfig, as 'barlow demo' does.
    base = expected if command == ("demo",) else cls()
    assert replace(base, **values_from_args(cls, _parse(command))) == expected


def test_demo_options_are_its_config_defaults():
    args = _parse(("demo",))
    assert {name: getattr(args, name) for name in ("out", "features_model", "inspect_model", "depth", "top_mi", "device", "force", "quiet")} == {
        name: getattr(DemoConfig(), name) for name in ("out", "features_model", "inspect_model", "depth", "top_mi", "device", "force", "quiet")
    }


def test_help_shows_the_dataclass_default(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["analyze", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"(default: {AnalysisConfig().top_k})" in out and f"(default: {AnalysisConfig().delta})" in out


def test_a_given_option_reaches_the_config():
    assert from_args(AnalysisConfig, _parse(("analyze",), "--depth", "3", "--mi", "knn")).depth == 3
    assert from_args(VisualizationConfig, _parse(("visualize",), "-k", "9", "--scope", "group")).k == 9
    options = from_args(CreateOptions, _parse(("study", "create"), "--keywords", "a, b,,c", "--items", "x.csv"))
    assert options.keywords == ["a", "b", "c"] and str(options.items_csv) == "x.csv"


@pytest.mark.parametrize("command", ["extract", "analyze", "experiments", "visualize", "report", "demo", "train", "evaluate"])
def test_every_long_running_command_has_the_same_quiet(command):
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    quiet = [a for a in sub._actions if "--quiet" in a.option_strings]
    assert len(quiet) == 1 and quiet[0].help == QUIET_HELP and quiet[0].default is False


def test_one_flag_one_meaning_for_the_features_file():
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for command in ("analyze", "visualize"):
        action = next(a for a in subs[command]._actions if "--features" in a.option_strings)
        assert action.metavar == "FEATURES.npy"
    assert not any("--top-k" in a.option_strings for a in subs["visualize"]._actions)  # --top-k: features per group


def test_visualize_rejects_ids_given_as_features_file(capsys):
    from barlow.cli import main

    assert main(["visualize", "--analysis", "nowhere", "--features", "1,2"]) == 2
    assert "give ids with --feature-ids 1,2" in capsys.readouterr().err


def test_validation_lives_with_the_config():
    with pytest.raises(BarlowError, match="-k/--images-per-feature must be at least 1"):
        VisualizationConfig(k=0).validate()
    with pytest.raises(BarlowError, match="--assignments-per-hit must be an integer of at least 1"):
        CreateOptions(assignments_per_hit=0).validate()
    with pytest.raises(BarlowError, match="too few resamples"):
        StudyAnalysisOptions(n_bootstrap=10).validate()
    assert CreateOptions(reward="1").validate().reward == "1.00"


def test_options_helper_infers_types_and_flags():
    from dataclasses import dataclass

    @dataclass
    class Config:
        count: int = option(3, "how many")
        ratio: float = option(0.5, "a share of 100%")
        name: str | None = option(None, "a name", type=str)
        verbose: bool = option(False, "say more")
        hidden: int = 7

    parser = argparse.ArgumentParser()
    add_options(parser, Config)
    assert from_args(Config, parser.parse_args(["--count", "5", "--ratio", "0.25", "--verbose"])) == Config(5, 0.25, None, True)
    assert not any("--hidden" in a.option_strings for a in parser._actions)
    assert "100%" in parser.format_help()
