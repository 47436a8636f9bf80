"""Automated evaluation across models, groupings and depths (paper section 7, Figure 8, Table 1).

For every feature matrix ("run", e.g. robust vs standard features), grouping and tree depth,
``run_experiments`` calls the same ``run_analysis`` as ``barlow analyze`` and reduces each
tree to two numbers per class: ALER - BER, and whether its top-IV leaf is valid in the paper's
strict sense (ER > BER + delta and EC > tau). The summary is their mean / fraction across classes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from analysis_core.artifacts import FEATURES_FILE, METADATA_FILE
from analysis_core.artifacts.atomic import staged_dir
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.parameters import GROUPINGS, MAX_DEPTH, MIN_DEPTH, check_choice, check_depth
from analysis_core.failure_analysis import AnalysisConfig, run_analysis
from analysis_core.failure_tree import leaf_is_valid

SUMMARY_COLUMNS = [
    "model", "grouping", "depth", "n_classes", "n_skipped", "mean_aler_minus_ber", "sem_aler_minus_ber",
    "fraction_top_leaf_valid", "fraction_any_leaf_valid",
]
PER_CLASS_COLUMNS = [
    "model", "grouping", "depth", "class", "n", "n_fail", "ber", "aler", "aler_minus_ber",
    "top_leaf", "top_leaf_rule", "top_leaf_er", "top_leaf_ec", "top_leaf_valid", "any_leaf_valid",
]


@dataclass
class RunSpec:
    """One feature matrix to evaluate, with the metadata (labels, predictions) of its rows."""

    name: str
    features: Path
    metadata: Path


def parse_run(text: str, default_metadata: str | os.PathLike | None = None) -> RunSpec:
    """``NAME=DIR`` (an extraction folder with features.npy + metadata.csv) or ``NAME=FEATURES.npy``."""
    name, sep, location = text.partition("=")
    name, location = name.strip(), location.strip()
    if not sep or not name or not location:
        raise BarlowError(f"--run must look like NAME=DIR or NAME=FEATURES.npy, got '{text}'")
    path = Path(location)
    if path.is_dir():
        features, metadata = path / FEATURES_FILE, path / METADATA_FILE
        for required in (features, metadata):
            if not required.is_file():
                raise BarlowError(f"run '{name}': {required} not found (an extraction folder holds features.npy and metadata.csv)")
        return RunSpec(name, features, metadata)
    if not path.is_file():
        raise BarlowError(f"run '{name}': {path} is neither a folder nor a features file")
    if default_metadata is None:
        candidate = path.parent / METADATA_FILE
        if not candidate.is_file():
            raise BarlowError(f"run '{name}': give --metadata for {path} (no metadata.csv beside it)")
        default_metadata = candidate
    return RunSpec(name, path, Path(default_metadata))


@dataclass
class ExperimentResult:
    per_class: Any  # pandas DataFrame, PER_CLASS_COLUMNS
    summary: Any  # pandas DataFrame, SUMMARY_COLUMNS
    params: dict
    runs: list[RunSpec]


def reduce_analysis(result, model: str, groupings, delta: float, tau: float) -> tuple[list[dict], list[dict]]:
    """One analysis (one model, one depth) as PER_CLASS_COLUMNS rows and SUMMARY_COLUMNS rows.

    Each tree becomes ALER - BER and whether its top-IV leaf (and any leaf) is valid in the
    paper's strict sense; the summary is their mean / fraction across the grouping's classes.
    """
    depth = result.config.depth
    rows, summary = [], []
    for grouping in groupings:
        groups = [g for g in result.groups if g.grouping == grouping]
        mine = []
        for group in groups:
            tree = group.tree
            top = tree.top_leaf()
            strict = [leaf_is_valid(leaf["er"], leaf["ec"], tree.ber_, delta, tau, strict=True) for leaf in tree.leaf_nodes()]
            mine.append({
                "model": model, "grouping": grouping, "depth": depth, "class": group.class_name,
                "n": tree.n_, "n_fail": tree.n_fail_, "ber": tree.ber_, "aler": tree.aler_,
                "aler_minus_ber": tree.aler_minus_ber_, "top_leaf": top["id"], "top_leaf_rule": top["rule"],
                "top_leaf_er": top["er"], "top_leaf_ec": top["ec"],
                "top_leaf_valid": leaf_is_valid(top["er"], top["ec"], tree.ber_, delta, tau, strict=True),
                "any_leaf_valid": any(strict),
            })
        summary.append({
            "model": model, "grouping": grouping, "depth": depth, "n_classes": len(groups),
            "n_skipped": sum(1 for s in result.skipped if s.grouping == grouping),
            **gain_summary(np.array([g.tree.aler_minus_ber_ for g in groups]), mine),
            "fraction_any_leaf_valid": float(np.mean([r["any_leaf_valid"] for r in mine])) if mine else float("nan"),
        })
        rows += mine
    return rows, summary


def gain_summary(gains: np.ndarray, rows: list[dict]) -> dict[str, float]:
    """Mean and standard error of ALER - BER over a grouping's classes, and the share of classes
    whose top leaf is valid (``rows[i]["top_leaf_valid"]``); NaN where there are too few classes."""
    return {
        "mean_aler_minus_ber": float(gains.mean()) if len(gains) else float("nan"),
        "sem_aler_minus_ber": float(gains.std(ddof=1) / np.sqrt(len(gains))) if len(gains) > 1 else float("nan"),
        "fraction_top_leaf_valid": float(np.mean([r["top_leaf_valid"] for r in rows])) if rows else float("nan"),
    }


def run_experiments(
    runs: list[RunSpec],
    depths=tuple(range(MIN_DEPTH, MAX_DEPTH + 1)),
    groupings=GROUPINGS,
    base: AnalysisConfig | None = None,
    progress: bool = True,
) -> ExperimentResult:
    """Analyse every run at every depth and grouping; see the module docstring."""
    import pandas as pd

    from analysis_core.artifacts import load_feature_table

    if not runs:
        raise BarlowError("give at least one --run NAME=DIR")
    names = [run.name for run in runs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise BarlowError(f"run name(s) used twice: {', '.join(duplicated)}")
    depths = sorted({check_depth(d) for d in depths})
    groupings = list(dict.fromkeys(groupings))
    for grouping in groupings:
        check_choice(grouping, GROUPINGS, "grouping")
    base = base or AnalysisConfig()
    grouping_option = "both" if len(groupings) == 2 else groupings[0]

    rows, summary = [], []
    for run in runs:
        inputs = load_feature_table(run.features, run.metadata)
        for depth in depths:
            # Figure 8 and Table 1 are the paper's in-sample numbers: no cross-fitting or
            # permutation test is needed for them (they would multiply the cost of every cell).
            config = replace(base, depth=depth, grouping=grouping_option, holdout=0.0, folds=0, permutations=0).validate()
            result = run_analysis(
                inputs.features, inputs.labels, inputs.predictions, config, progress=progress,
                features_path=inputs.features_path, metadata_path=inputs.metadata_path,
            )
            cell_rows, cell_summary = reduce_analysis(result, run.name, groupings, base.delta, base.tau)
            rows += cell_rows
            summary += cell_summary
    params = {
        "depths": depths, "groupings": groupings, "top_k": base.top_k, "mi": base.mi, "delta": base.delta,
        "tau": base.tau, "min_leaf": base.min_leaf, "min_rows": base.min_rows, "seed": base.seed,
        "validity": "top-IV leaf with ER > BER + delta and EC > tau (strict, as in paper section 7)",
    }
    return ExperimentResult(
        per_class=pd.DataFrame(rows, columns=PER_CLASS_COLUMNS),
        summary=pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
        params=params,
        runs=list(runs),
    )


def plot_experiments(result: ExperimentResult, path: str | os.PathLike) -> None:
    """Three panels: mean ALER-BER by depth, fraction of valid top leaves, and per-class label vs
    prediction grouping at the deepest depth (the comparison of the paper's Figure 8)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary, per_class = result.summary, result.per_class
    models = list(dict.fromkeys(summary["model"]))
    groupings = list(dict.fromkeys(summary["grouping"]))
    depths = sorted(set(summary["depth"]))
    series = [(m, g) for m in models for g in groupings]
    width = 0.8 / max(len(series), 1)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for metric, ax, ylabel in (
        ("mean_aler_minus_ber", axes[0], "mean ALER - BER across classes"),
        ("fraction_top_leaf_valid", axes[1], "fraction of classes with a valid top-IV leaf"),
    ):
        for i, (model, grouping) in enumerate(series):
            part = summary[(summary["model"] == model) & (summary["grouping"] == grouping)].set_index("depth")
            x = np.arange(len(depths)) + (i - (len(series) - 1) / 2) * width
            values = [part[metric].get(d, np.nan) for d in depths]
            errors = [part["sem_aler_minus_ber"].get(d, np.nan) for d in depths] if metric == "mean_aler_minus_ber" else None
            ax.bar(x, values, width, yerr=errors, capsize=2, label=f"{model}, {grouping} grouping",
                   color=colors[i % len(colors)], hatch="//" if grouping == "prediction" else None)
        ax.set_xticks(np.arange(len(depths)), [f"depth {d}" for d in depths])
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=8)
    axes[0].set_title("Tree quality (ALER - BER)")
    axes[1].set_title("Valid leaves (ER > BER+δ, EC > τ)")
    axes[1].set_ylim(0, 1)

    ax = axes[2]
    deepest = max(depths)
    if len(groupings) == 2:
        for i, model in enumerate(models):
            part = per_class[(per_class["model"] == model) & (per_class["depth"] == deepest)]
            table = part.pivot_table(index="class", columns="grouping", values="aler_minus_ber")
            table = table.dropna()
            ax.scatter(table["label"], table["prediction"], s=10, alpha=0.6, label=model, color=colors[i % len(colors)])
        lim = [0, max(0.01, float(per_class["aler_minus_ber"].max()) * 1.05)]
        ax.plot(lim, lim, color="gray", linewidth=1, linestyle="--")
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_xlabel("ALER - BER, label grouping")
        ax.set_ylabel("ALER - BER, prediction grouping")
        ax.set_title(f"Grouping strategies per class, depth {deepest}\n(points below the line: label grouping better)")
        ax.legend(fontsize=8)
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "per-class grouping comparison\nneeds both groupings", ha="center", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_experiments(result: ExperimentResult, out_dir: str | os.PathLike) -> Path:
    """experiments.csv (summary), experiments_per_class.csv, experiments.json, experiments.png - all or nothing."""
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as stage:
        result.summary.to_csv(stage / "experiments.csv", index=False)
        result.per_class.to_csv(stage / "experiments_per_class.csv", index=False)
        document = {
            "version": 1,
            "params": result.params,
            "runs": [{"name": r.name, "features": str(r.features.resolve()), "metadata": str(r.metadata.resolve())}
                     for r in result.runs],
            "summary": [
                {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
                for row in json.loads(result.summary.to_json(orient="records"))
            ],
        }
        (stage / "experiments.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
        plot_experiments(result, stage / "experiments.png")
    return out_dir


def format_experiments(result: ExperimentResult) -> str:
    lines = ["model       grouping    depth  classes  mean ALER-BER  valid top leaf  any valid leaf"]
    for row in result.summary.itertuples(index=False):
        lines.append(
            f"{row.model:<11} {row.grouping:<11} {row.depth:>5}  {row.n_classes:>7}  {row.mean_aler_minus_ber:>13.4f}"
            f"  {row.fraction_top_leaf_valid:>14.3f}  {row.fraction_any_leaf_valid:>14.3f}"
        )
    return "\n".join(lines)
