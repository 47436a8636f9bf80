"""``barlow demo``: the whole pipeline on the shipped Fashion-MNIST data and models.

extract (robust features + the standard model's predictions) -> analyze (label and
prediction groupings, depth 2) -> visualize (split features and each group's top-MI
features, so a crowd study can be created from the demo) -> report.

Each step records a fingerprint of its parameters and input files in
``<out>/.steps/<step>.json``; a rerun skips a step whose outputs exist and whose
fingerprint is unchanged, so only what changed is recomputed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from analysis_core.artifacts import DESCRIPTIONS_FILE, AnalysisFolder, Extraction
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.options import QUIET_HELP, option
from analysis_core.fingerprints import model_fingerprint
from analysis_core.visualization.config import VisualizationConfig
from barlow.steps import StepOutcome, StepRunner


@dataclass
class DemoConfig:
    """The demo's settings; 'barlow demo' generates its options from these fields."""

    out: Path = option(Path("barlow-demo"), "output folder", type=Path, metavar="DIR")
    dataset: str = "fashion-mnist"
    features_model: str = option("fmnist-robust", "model whose features explain failures", metavar="SPEC")
    inspect_model: str = option("fmnist-standard", "model whose failures are explained", metavar="SPEC")
    depth: int = option(2, "failure tree depth, 1-3")
    top_mi: int = option(
        10, "also visualize the M highest-MI features of each group, as the paper's crowd study and "
        "'barlow study create' use", metavar="M",
    )
    batch_size: int = 256
    device: str = option("cpu", "torch device")
    force: bool = option(False, "recompute every step even if its results are up to date")
    quiet: bool = option(False, QUIET_HELP)
    # Each group's own most activating images: what a reader of a group's page wants to see.
    visualization: VisualizationConfig = field(default_factory=lambda: VisualizationConfig(scope="group"))

    @property
    def extraction_dir(self) -> Path:
        return self.out / "extraction"

    @property
    def analysis_dir(self) -> Path:
        return self.out / "analysis"

    @property
    def report_dir(self) -> Path:
        return self.out / "report"


def _extract(config: DemoConfig) -> None:
    from analysis_core.datasets import load_dataset
    from analysis_core.extraction import extract
    from analysis_core.models import load_model

    dataset = load_dataset(config.dataset)
    features_model = load_model(config.features_model, device=config.device)
    same = config.inspect_model == config.features_model
    inspect_model = features_model if same else load_model(config.inspect_model, device=config.device)
    extract(
        dataset,
        features_model,
        config.extraction_dir,
        inspect_model=inspect_model,
        features_spec=config.features_model,
        inspect_spec=config.inspect_model,
        batch_size=config.batch_size,
        device=config.device,
        progress=not config.quiet,
    )


def _analyze(config: DemoConfig, analysis_config) -> None:
    from analysis_core.failure_analysis import analyze_files
    from analysis_core.failure_analysis_outputs import write_analysis

    extraction = Extraction(config.extraction_dir)
    result = analyze_files(extraction.features_path, extraction.metadata_path, analysis_config, progress=not config.quiet)
    write_analysis(result, config.analysis_dir)


def run_demo(config: DemoConfig, log: Callable[[str], None] = print) -> tuple[Path, str, list[StepOutcome]]:
    """Run (or resume) the demo; returns the report's index.html, a summary paragraph and step timings."""
    from analysis_core.failure_analysis import AnalysisConfig, config_dict
    from analysis_core.report import build_report, summary_paragraph
    from analysis_core.visualization.pipeline import visualize_analysis

    if config.depth < 1 or config.depth > 3:
        raise BarlowError(f"--depth must be 1, 2 or 3 (trees stay readable), got {config.depth}")
    if config.top_mi < 0:
        raise BarlowError(f"--top-mi must be 0 or more, got {config.top_mi}")
    config.out.mkdir(parents=True, exist_ok=True)
    steps = StepRunner(config.out, config.force, log)
    ext, ana = Extraction(config.extraction_dir), AnalysisFolder(config.analysis_dir)
    extraction_files = [ext.features_path, ext.metadata_path]

    steps.run(
        "extract",
        {"dataset": config.dataset, "features_model": config.features_model, "features_model_sha1": model_fingerprint(config.features_model),
         "inspect_model": config.inspect_model, "inspect_model_sha1": model_fingerprint(config.inspect_model)},
        [],
        [*extraction_files, ext.manifest_path],
        lambda: _extract(config),
    )
    analysis_config = AnalysisConfig(grouping="both", depth=config.depth)
    steps.run(
        "analyze",
        config_dict(analysis_config),
        extraction_files,
        [ana.trees_path, ana.failure_modes_path],
        lambda: _analyze(config, analysis_config),
    )
    steps.run(
        "visualize",
        {"top_mi": config.top_mi, **asdict(config.visualization)},
        [ana.trees_path, ext.manifest_path],
        [ana.index_path],
        lambda: visualize_analysis(ana.path, top_mi=config.top_mi, config=config.visualization, device=config.device, progress=not config.quiet),
    )
    descriptions = ana.path / DESCRIPTIONS_FILE
    steps.run(
        "report",
        {"out": str(config.report_dir)},
        [ana.trees_path, ana.failure_modes_path, ana.index_path, descriptions],
        [config.report_dir / "index.html"],
        lambda: build_report(ana.path, config.report_dir, progress=not config.quiet),
    )
    from analysis_core.report.context import load_report_data

    data = load_report_data(ana.path)
    return config.report_dir / "index.html", summary_paragraph(data), steps.outcomes
