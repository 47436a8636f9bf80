"""``run_reproduction``: the paper's sections 6-9 from one config, each step reused when up to date.

Output folder::

    extraction/<inspected>/      features.npy (robust features), metadata.csv, manifest.json
    analysis/<inspected>-depth<d>/  a barlow analyze folder per cell (+ visualizations/)
    section6/                    Figure 6/7-style failure modes and their sentences
    section7/                    Table 1 (table.csv), per-class numbers, honest numbers, figures
    section8/study/              the crowd study, ready for 'barlow study serve'
    section9/study/              the practitioner review study (when the installed Barlow has it)
    report.md, report.html       every claim with the paper's number, ours and whether it holds
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from analysis_core.artifacts.errors import BarlowError
from analysis_core.reproduction.cells import cell_name, combine, plan_cells, run_cell
from analysis_core.reproduction.config import ReproductionConfig

EXAMPLES_PER_GROUPING = 3


def _extraction_outputs(config: ReproductionConfig, out: Path) -> list[Path]:
    return [out / "extraction" / m.name / f for m in config.inspected_models for f in ("features.npy", "metadata.csv", "manifest.json")]


def _model_keys(config: ReproductionConfig) -> dict:
    from analysis_core.fingerprints import model_fingerprint

    return {m.spec: model_fingerprint(m.spec) for m in [config.features_model, *config.inspected_models]}


def _move_aside(folder: Path) -> Path | None:
    """A study folder may hold answers: never delete it, keep it beside the new one."""
    if not folder.exists():
        return None
    target = folder.with_name(f"{folder.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
    folder.rename(target)
    return target


def run_reproduction(config: ReproductionConfig, out: Path, executor, *, force: bool = False,
                     log: Callable[[str], None] = print, commit: str | None = None,
                     command: str | None = None) -> dict:
    """Run (or resume) every step; returns the step timings and where the report is."""
    from barlow.demo import StepRunner

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=1, default=str) + "\n")
    steps = StepRunner(out, force, log)
    extraction_root = out / "extraction"
    extraction = {m.name: extraction_root / m.name for m in config.inspected_models}
    params = asdict(config)

    def do_extract():
        from analysis_core.reproduction.shards import extract_sharded

        extract_sharded(config, extraction_root, executor, log)

    steps.run("extract", {"data": params["data"], "features_model": params["features_model"],
                          "inspected": params["inspected_models"], "models": _model_keys(config),
                          "shard_size": config.execution.shard_size},
              [], _extraction_outputs(config, out), do_extract)

    analysis_root = out / "analysis"
    cells = plan_cells(config, extraction, analysis_root)
    section7 = out / "section7"
    features_inputs = [extraction[m.name] / f for m in config.inspected_models for f in ("metadata.csv", "manifest.json")]

    def do_analyze():
        log(f"[analyze] {len(cells)} cell(s) (inspected model x depth) on {executor.describe()}")
        outcomes = executor.map(run_cell, cells)
        write_section7(config, outcomes, section7)

    steps.run("analyze", {"analysis": params["analysis"]}, features_inputs,
              [section7 / "table.csv", section7 / "per_class.csv", section7 / "honest_per_class.csv"]
              + [Path(c.out_dir) / "trees.json" for c in cells], do_analyze)

    # Visualize the analyses that sections 6, 8 and 9 show.
    from analysis_core.reproduction.visuals import VisualizeTask, visualize

    first_depth = min(config.analysis.depths)
    wanted: dict[str, int] = {}
    for name, top_mi in ((cell_name(config.section6.inspected, config.section6.depth), 0),
                         (cell_name(config.section8.inspected, first_depth), config.section8.top_m),
                         (cell_name(config.section9.inspected, config.section9.depth), 0)):
        # Sections may share an analysis: it is drawn once, with the most features any asks for.
        wanted[name] = max(top_mi, wanted.get(name, 0))
    tasks = [VisualizeTask(config, str(analysis_root / name), top_mi) for name, top_mi in wanted.items()]

    def do_visualize():
        log(f"[visualize] {len(tasks)} analysis folder(s) on {executor.describe()}")
        executor.map(visualize, tasks)

    steps.run("visualize", {"visualization": params["visualization"], "top_mi": wanted},
              [analysis_root / name / "trees.json" for name in wanted],
              [analysis_root / name / "visualizations" / "index.json" for name in wanted], do_visualize)

    section6 = out / "section6"
    s6_analysis = analysis_root / cell_name(config.section6.inspected, config.section6.depth)
    steps.run("section6", {"section6": params["section6"], "examples": EXAMPLES_PER_GROUPING},
              [s6_analysis / "trees.json", s6_analysis / "visualizations" / "index.json"],
              [section6 / "examples.csv"], lambda: write_section6(s6_analysis, section6))

    s8_analysis = analysis_root / cell_name(config.section8.inspected, first_depth)
    s8_study = out / "section8" / "study"
    steps.run("section8", {"section8": params["section8"]},
              [s8_analysis / "trees.json", s8_analysis / "visualizations" / "index.json"],
              [s8_study / "study.yaml"], lambda: write_section8(config, s8_analysis, s8_study, log))

    s9_analysis = analysis_root / cell_name(config.section9.inspected, config.section9.depth)
    s9_study = out / "section9" / "study"
    try:
        steps.run("section9", {"section9": params["section9"]},
                  [s9_analysis / "trees.json", s9_analysis / "visualizations" / "index.json"],
                  [s9_study / "study.yaml"], lambda: write_section9(config, s9_analysis, s9_study, log))
        (out / "section9" / "left_out.txt").unlink(missing_ok=True)
    except BarlowError as exc:
        # Nothing to review (no valid failure mode) is a result, not a reason to stop the run.
        (out / "section9").mkdir(parents=True, exist_ok=True)
        (out / "section9" / "left_out.txt").write_text(f"{exc}\n", encoding="utf-8")
        log(f"[section9] left out: {exc}")

    from analysis_core.reproduction.report import write_report

    timings = {o.name: {"seconds": round(o.seconds, 2), "reused": o.reused} for o in steps.outcomes}
    recorded = {}
    for record in sorted((out / ".steps").glob("*.json")):
        recorded[record.stem] = json.loads(record.read_text()).get("seconds")
    start = time.perf_counter()
    report = write_report(config, out, timings=timings, recorded_seconds=recorded, commit=commit, command=command)
    log(f"[report] done in {time.perf_counter() - start:.1f} s")
    return {"report": report, "timings": timings}


def write_section7(config: ReproductionConfig, outcomes: list[dict], folder: Path) -> None:
    from analysis_core.artifacts.atomic import staged_dir
    from analysis_core.experiments import plot_experiments
    from analysis_core.reproduction.figures import section7_figures

    in_sample, honest, honest_summary = combine(config, outcomes)
    models = [m.name for m in config.inspected_models]
    with staged_dir(folder) as stage:
        in_sample.summary.to_csv(stage / "table.csv", index=False)
        in_sample.per_class.to_csv(stage / "per_class.csv", index=False)
        honest.to_csv(stage / "honest_per_class.csv", index=False)
        honest_summary.to_csv(stage / "honest_table.csv", index=False)
        (stage / "cells.json").write_text(json.dumps(
            [{"model": o["model"], "depth": o["depth"], "seconds": round(o["seconds"], 2)} for o in outcomes], indent=1))
        plot_experiments(in_sample, stage / "overview.png")
        section7_figures(in_sample.per_class, models, list(config.analysis.groupings), sorted(config.analysis.depths), stage)
        honest_view = honest.rename(columns={"honest_aler_minus_ber": "aler_minus_ber"})
        section7_figures(honest_view, models, list(config.analysis.groupings), sorted(config.analysis.depths), stage,
                         prefix="honest_")


def write_section6(analysis_dir: Path, folder: Path) -> None:
    import pandas as pd

    from analysis_core.artifacts import slugify
    from analysis_core.artifacts.atomic import staged_dir
    from analysis_core.reproduction.figures import (
        failure_mode_examples,
        failure_mode_figure,
    )

    examples = failure_mode_examples(analysis_dir)
    rows = []
    with staged_dir(folder) as stage:
        for grouping in ("label", "prediction"):
            ranked = sorted((e for e in examples if e["grouping"] == grouping), key=lambda e: -e["iv"])
            for rank, example in enumerate(ranked, start=1):
                figure = ""
                if rank <= EXAMPLES_PER_GROUPING and (example["pictures"] or example["failures"]):
                    figure = f"{grouping}-{rank}-{slugify(example['class'])}.png"
                    failure_mode_figure(example, stage / figure)
                rows.append({k: example[k] for k in ("grouping", "class", "ber", "aler", "leaf", "rule", "er", "ec", "iv",
                                                      "honest_er", "honest_ec", "feature", "sentence")}
                            | {"rank": rank, "figure": figure})
        pd.DataFrame(rows).to_csv(stage / "examples.csv", index=False)


def write_section8(config: ReproductionConfig, analysis_dir: Path, study_dir: Path, log) -> None:
    from study.create import CreateOptions, create_study
    from study.db import open_study_database

    s = config.section8
    moved = _move_aside(study_dir)
    if moved:
        log(f"[section8] the earlier study folder (and any answers in it) is kept at {moved}")
    study_dir.parent.mkdir(parents=True, exist_ok=True)
    spec, hits = create_study(analysis_dir, study_dir, CreateOptions(
        top_n=s.top_n, top_m=s.top_m, assignments_per_hit=s.assignments_per_hit, reward=s.reward,
        name=f"{config.name}-section8", extra={"reproduction": config.name}))
    open_study_database(study_dir, spec=spec).dispose()
    log(f"[section8] {len(hits)} HITs in {study_dir}; serve with: barlow study serve {study_dir}")


def write_section9(config: ReproductionConfig, analysis_dir: Path, study_dir: Path, log) -> None:
    """The practitioner protocol: one HIT per group's failure tree (depth 2 in the paper)."""
    from analysis_core.report.context import load_report_data
    from study.db import open_study_database
    from study.failure_review.create import ReviewOptions, create_review_study

    moved = _move_aside(study_dir)
    if moved:
        log(f"[section9] the earlier study folder (and any answers in it) is kept at {moved}")
    study_dir.parent.mkdir(parents=True, exist_ok=True)
    options = ReviewOptions(unit="tree", max_depth=config.section9.depth, assignments_per_hit=config.section8.assignments_per_hit,
                            reward=config.section8.reward, name=f"{config.name}-section9",
                            extra={"reproduction": config.name}).validate()
    spec, hits = create_review_study(analysis_dir, study_dir, options, load_report_data)
    open_study_database(study_dir, spec=spec).dispose()
    log(f"[section9] {len(hits)} review HITs in {study_dir}; serve with: barlow study serve {study_dir}")


PUBLISHED = ("report.md", "report.html", "config.json", "section6/*.png", "section6/examples.csv", "section7/*.png",
             "section7/*.csv", "section7/cells.json", "section8/study/items.csv", "section8/study/study.yaml",
             "section9/study/study.yaml", "extraction/*/manifest.json")


def publish_results(out: Path, dest: Path) -> list[Path]:
    """Copy the report and its small files (figures, tables, manifests; no feature matrices,
    no study images or databases) to ``dest``, keeping the paths the report links to.

    Published results are read on other machines: paths into the run folder become relative
    to it, and paths into Barlow's shipped data become ``data/...`` (the repository's folder).
    """
    import shutil

    from analysis_core.artifacts.resources import data_dir

    local = [(str(out.resolve()) + "/", ""), (str(data_dir().resolve()) + "/", "data/")]
    copied = []
    for pattern in PUBLISHED:
        for source in sorted(out.glob(pattern)):
            target = dest / source.relative_to(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.suffix in (".png",):
                shutil.copyfile(source, target)
            else:
                text = source.read_text(encoding="utf-8")
                for prefix, replacement in local:
                    text = text.replace(prefix, replacement)
                target.write_text(text, encoding="utf-8")
            copied.append(target)
    return copied


def extraction_done(config: ReproductionConfig, out: Path) -> bool:
    return all(p.is_file() for p in _extraction_outputs(config, out))
