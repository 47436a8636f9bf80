"""Section 7's analysis cells: one inspected model at one depth, both groupings, as one task.

A cell fits the paper's trees on all rows of each group (the in-sample numbers the paper
reports) and writes them as a ``barlow analyze`` folder; it then refits every tree on part
of its group and measures it on the held-out rest (the honest numbers): ALER - BER on the
held-out rows, and whether the top-IV leaf chosen on the fitting rows is still valid there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis_core.reproduction.config import ReproductionConfig

HONEST_COLUMNS = [
    "model", "grouping", "depth", "class", "holdout_n", "holdout_n_fail", "holdout_ber", "holdout_aler",
    "holdout_aler_minus_ber", "top_leaf", "top_leaf_holdout_er", "top_leaf_holdout_ec", "top_leaf_valid",
]
HONEST_SUMMARY_COLUMNS = [
    "model", "grouping", "depth", "n_classes", "n_skipped", "mean_aler_minus_ber", "sem_aler_minus_ber",
    "fraction_top_leaf_valid",
]


@dataclass(frozen=True)
class CellTask:
    config: ReproductionConfig
    model: str
    depth: int
    features: str
    metadata: str
    out_dir: str  # the cell's analysis folder


def analysis_config(config: ReproductionConfig, depth: int, holdout: float = 0.0):
    from analysis_core.analysis import AnalysisConfig

    a = config.analysis
    return AnalysisConfig(
        grouping="both" if len(a.groupings) == 2 else a.groupings[0], depth=depth, top_k=a.top_k,
        delta=a.delta, tau=a.tau, mi=a.mi, min_rows=a.min_rows, seed=a.seed, holdout=holdout,
    ).validate()


def honest_rows(result, model: str, groupings, delta: float, tau: float) -> tuple[list[dict], list[dict]]:
    """Held-out ALER - BER per class and validity of the top-IV leaf on held-out rows (strict)."""
    depth = result.config.depth
    rows, summary = [], []
    for grouping in groupings:
        mine = []
        for group in (g for g in result.groups if g.grouping == grouping):
            held = group.holdout
            if not held or not held["n_fail"]:
                continue
            top = group.tree.top_leaf()
            leaf = next(item for item in held["leaves"] if item["leaf"] == top["id"])
            er = leaf["er"] if leaf["n"] else 0.0
            mine.append({
                "model": model, "grouping": grouping, "depth": depth, "class": group.class_name,
                "holdout_n": held["n"], "holdout_n_fail": held["n_fail"], "holdout_ber": held["ber"],
                "holdout_aler": held["aler"], "holdout_aler_minus_ber": held["aler"] - held["ber"],
                "top_leaf": top["id"], "top_leaf_holdout_er": er, "top_leaf_holdout_ec": leaf["ec"],
                "top_leaf_valid": bool(er > held["ber"] + delta and leaf["ec"] > tau),
            })
        gains = np.array([r["holdout_aler_minus_ber"] for r in mine])
        summary.append({
            "model": model, "grouping": grouping, "depth": depth, "n_classes": len(mine),
            "n_skipped": sum(1 for s in result.skipped if s.grouping == grouping)
            + sum(1 for g in result.groups if g.grouping == grouping and not (g.holdout and g.holdout["n_fail"])),
            "mean_aler_minus_ber": float(gains.mean()) if len(gains) else float("nan"),
            "sem_aler_minus_ber": float(gains.std(ddof=1) / np.sqrt(len(gains))) if len(gains) > 1 else float("nan"),
            "fraction_top_leaf_valid": float(np.mean([r["top_leaf_valid"] for r in mine])) if mine else float("nan"),
        })
        rows += mine
    return rows, summary


def run_cell(task: CellTask) -> dict:
    """Analyse one (model, depth) cell; returns plain rows for the section 7 tables."""
    from analysis_core.analysis import analyze_files
    from analysis_core.analysis_outputs import write_analysis
    from analysis_core.experiments import reduce_analysis

    start = time.perf_counter()
    config, a = task.config, task.config.analysis
    result = analyze_files(task.features, task.metadata, analysis_config(config, task.depth), progress=False)
    write_analysis(result, Path(task.out_dir))
    rows, summary = reduce_analysis(result, task.model, a.groupings, a.delta, a.tau)
    held = analyze_files(task.features, task.metadata, analysis_config(config, task.depth, a.honest_holdout), progress=False)
    honest, honest_summary = honest_rows(held, task.model, a.groupings, a.delta, a.tau)
    return {
        "model": task.model, "depth": task.depth, "rows": rows, "summary": summary,
        "honest_rows": honest, "honest_summary": honest_summary, "seconds": time.perf_counter() - start,
    }


def plan_cells(config: ReproductionConfig, extraction: dict[str, Path], analysis_root: Path) -> list[CellTask]:
    return [
        CellTask(config, m.name, d, str(extraction[m.name] / "features.npy"), str(extraction[m.name] / "metadata.csv"),
                 str(analysis_root / cell_name(m.name, d)))
        for m in config.inspected_models for d in sorted(config.analysis.depths)
    ]


def cell_name(model: str, depth: int) -> str:
    return f"{model}-depth{depth}"


def combine(config: ReproductionConfig, outcomes: list[dict]):
    """The cells' rows as one ExperimentResult (in-sample) and two DataFrames (honest)."""
    import pandas as pd

    from analysis_core.experiments import PER_CLASS_COLUMNS, SUMMARY_COLUMNS, ExperimentResult, RunSpec

    a = config.analysis
    in_sample = ExperimentResult(
        per_class=pd.DataFrame([r for o in outcomes for r in o["rows"]], columns=PER_CLASS_COLUMNS),
        summary=pd.DataFrame([r for o in outcomes for r in o["summary"]], columns=SUMMARY_COLUMNS),
        params={
            "depths": sorted(a.depths), "groupings": list(a.groupings), "top_k": a.top_k, "mi": a.mi, "delta": a.delta,
            "tau": a.tau, "min_rows": a.min_rows, "seed": a.seed,
            "validity": "top-IV leaf with ER > BER + delta and EC > tau (strict, as in paper section 7)",
            "features_model": config.features_model.spec,
            "inspected_models": {m.name: m.spec for m in config.inspected_models},
        },
        runs=[RunSpec(m.name, Path(), Path()) for m in config.inspected_models],
    )
    honest = pd.DataFrame([r for o in outcomes for r in o["honest_rows"]], columns=HONEST_COLUMNS)
    honest_summary = pd.DataFrame([r for o in outcomes for r in o["honest_summary"]], columns=HONEST_SUMMARY_COLUMNS)
    return in_sample, honest, honest_summary
