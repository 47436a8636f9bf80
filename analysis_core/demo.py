"""``barlow demo``: the whole pipeline on the shipped Fashion-MNIST data and models.

extract (robust features + the standard model's predictions) -> analyze (label and
prediction groupings, depth 2) -> visualize (split features and each group's top-MI
features, so a crowd study can be created from the demo) -> report.

Each step records a fingerprint of its parameters and input files in
``<out>/.steps/<step>.json``; a rerun skips a step whose outputs exist and whose
fingerprint is unchanged, so only what changed is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from analysis_core import __version__
from analysis_core.artifacts import DESCRIPTIONS_FILE, AnalysisFolder, Extraction
from analysis_core.atomic import atomic_path
from analysis_core.errors import BarlowError
from analysis_core.options import QUIET_HELP, option
from analysis_core.visualization.config import VisualizationConfig


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


@dataclass
class StepOutcome:
    name: str
    seconds: float
    reused: bool


def _file_fingerprint(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _model_fingerprint(spec: str) -> str:
    """The checkpoint's content hash for shipped models and paths, else the spec itself."""
    from analysis_core.models.loading import SHIPPED, shipped_model_path

    path = shipped_model_path(spec) if spec in SHIPPED else Path(spec)
    return _file_fingerprint(path) if path.is_file() else spec


def fingerprint(params: dict, inputs: list[Path]) -> str:
    payload = {"barlow": __version__, "params": params, "inputs": {str(p.name): _file_fingerprint(p) for p in inputs if p.is_file()}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class StepRunner:
    """Run named steps, skipping those whose outputs exist with a matching fingerprint."""

    def __init__(self, out: Path, force: bool = False, log: Callable[[str], None] = print):
        self.records = out / ".steps"
        self.force = force
        self.log = log
        self.outcomes: list[StepOutcome] = []

    def run(self, name: str, params: dict, inputs: list[Path], outputs: list[Path], action: Callable[[], None]) -> None:
        key = fingerprint(params, inputs)
        record = self.records / f"{name}.json"
        previous = json.loads(record.read_text()).get("key") if record.is_file() else None
        start = time.perf_counter()
        if not self.force and previous == key and all(p.exists() for p in outputs):
            self.log(f"[{name}] up to date, reused")
            self.outcomes.append(StepOutcome(name, 0.0, True))
            return
        self.log(f"[{name}] running")
        action()
        missing = [str(p) for p in outputs if not p.exists()]
        if missing:
            raise BarlowError(f"step {name} finished without writing {missing[0]}")
        seconds = time.perf_counter() - start
        with atomic_path(record) as tmp:
            tmp.write_text(json.dumps({"key": key, "params": params, "seconds": round(seconds, 2)}, indent=1, default=str))
        self.log(f"[{name}] done in {seconds:.1f} s")
        self.outcomes.append(StepOutcome(name, seconds, False))


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
        {"dataset": config.dataset, "features_model": config.features_model, "features_model_sha1": _model_fingerprint(config.features_model),
         "inspect_model": config.inspect_model, "inspect_model_sha1": _model_fingerprint(config.inspect_model)},
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
