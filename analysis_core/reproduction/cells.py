"""Section 7's analysis cells: one inspected model at one depth, both groupings, as one task.

A cell fits the paper's trees on all rows of each group (the in-sample numbers the paper
reports) and writes them as a ``barlow analyze`` folder. The same analysis gives the honest
numbers (``analysis_core.honest``): every tree refitted K times by cross-fitting, each row
scored once by a tree that did not see it; and a permutation test per group ("is there any
failure mode here at all?").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis_core.reproduction.config import ReproductionConfig

HONEST_COLUMNS = [
    "model", "grouping", "depth", "class", "ber", "honest_aler", "honest_aler_minus_ber", "top_leaf",
    "top_leaf_honest_er", "top_leaf_honest_ec", "top_leaf_stability", "top_leaf_valid", "group_p_value",
    "group_q_value", "significant",
]
HONEST_SUMMARY_COLUMNS = [
    "model", "grouping", "depth", "n_classes", "mean_aler_minus_ber", "sem_aler_minus_ber", "fraction_top_leaf_valid",
    "fraction_significant",
]


@dataclass(frozen=True)
class CellTask:
    config: ReproductionConfig
    model: str
    depth: int
    features: str
    metadata: str
    out_dir: str  # the cell's analysis folder


def analysis_config(config: ReproductionConfig, depth: int):
    from analysis_core.failure_analysis import AnalysisConfig

    a = config.analysis
    return AnalysisConfig(
        grouping="both" if len(a.groupings) == 2 else a.groupings[0], depth=depth, top_k=a.top_k,
        delta=a.delta, tau=a.tau, mi=a.mi, min_rows=a.min_rows, seed=a.seed, folds=a.folds,
        permutations=a.permutations, alpha=a.alpha,
    ).validate()


def honest_rows(result, model: str, groupings, delta: float, tau: float, alpha: float) -> tuple[list[dict], list[dict]]:
    """Cross-fitted ALER - BER per class, the paper's top-IV leaf measured honestly (strict
    validity, as section 7) and the group's permutation test (q-values across the whole cell)."""
    from analysis_core.experiments import gain_summary
    from analysis_core.failure_tree import leaf_is_valid

    depth = result.config.depth
    table = result.failure_modes
    q_by_group = {}
    if table is not None and len(table):
        firsts = table.drop_duplicates(["grouping", "class"])
        q_by_group = {(g, str(c)): (p, q) for g, c, p, q in zip(firsts["grouping"], firsts["class"], firsts["group_p_value"], firsts["group_q_value"])}
    rows, summary = [], []
    for grouping in groupings:
        mine = []
        for group in (g for g in result.groups if g.grouping == grouping):
            honest, tree = group.honest, group.tree
            if honest is None:
                continue
            # Index 0 of the honest arrays is the displayed tree's top-IV leaf.
            er, ec = float(honest.er[0]), float(honest.ec[0])
            p, q = q_by_group.get((grouping, group.class_name), (float("nan"), float("nan")))
            mine.append({
                "model": model, "grouping": grouping, "depth": depth, "class": group.class_name, "ber": tree.ber_,
                "honest_aler": honest.aler, "honest_aler_minus_ber": honest.aler - tree.ber_,
                "top_leaf": tree.leaves_by_iv()[0], "top_leaf_honest_er": er, "top_leaf_honest_ec": ec,
                "top_leaf_stability": float(honest.stability[0]),
                "top_leaf_valid": leaf_is_valid(er, ec, tree.ber_, delta, tau, strict=True),
                "group_p_value": p, "group_q_value": q, "significant": bool(q == q and q <= alpha),
            })
        gains = np.array([r["honest_aler_minus_ber"] for r in mine], dtype=float)
        gains = gains[np.isfinite(gains)]
        tested = [r for r in mine if r["group_q_value"] == r["group_q_value"]]
        summary.append({
            "model": model, "grouping": grouping, "depth": depth, "n_classes": len(mine),
            **gain_summary(gains, mine),
            "fraction_significant": float(np.mean([r["significant"] for r in tested])) if tested else float("nan"),
        })
        rows += mine
    return rows, summary


def run_cell(task: CellTask) -> dict:
    """Analyse one (model, depth) cell; returns plain rows for the section 7 tables."""
    from analysis_core.experiments import reduce_analysis
    from analysis_core.failure_analysis import analyze_files
    from analysis_core.failure_analysis_outputs import write_analysis

    start = time.perf_counter()
    config, a = task.config, task.config.analysis
    result = analyze_files(task.features, task.metadata, analysis_config(config, task.depth), progress=False)
    write_analysis(result, Path(task.out_dir))
    rows, summary = reduce_analysis(result, task.model, a.groupings, a.delta, a.tau)
    honest, honest_summary = honest_rows(result, task.model, a.groupings, a.delta, a.tau, a.alpha)
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
