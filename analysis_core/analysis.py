"""Failure analysis of a whole benchmark: one FailureTree per class group (paper sections 5 and 7).

``run_analysis`` groups rows by label and/or prediction, fits a ``FailureTree`` on every group
that has both failures and successes (others are reported as skipped with the reason),
optionally checks each tree on a held-out part of its group, and attaches Wilson intervals,
binomial p-values against BER and Benjamini-Hochberg q-values to every leaf of the run.

The same function backs ``barlow analyze`` and ``barlow experiments``; notebooks can call it
directly::

    from analysis_core.analysis import AnalysisConfig, analyze_files
    result = analyze_files("features.npy", "metadata.csv", AnalysisConfig(depth=2))
    result.group("label", "purse").tree.rules()
    result.failure_modes  # one row per leaf (pandas DataFrame)
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from analysis_core.errors import BarlowError
from analysis_core.failure_tree import FailureTree, check_depth
from analysis_core.mutual_info import METHODS
from analysis_core.options import option

GROUPINGS = ("label", "prediction")
GROUPING_CHOICES = ("label", "prediction", "both")


@dataclass
class AnalysisConfig:
    """All options of one analysis (the ``params`` block of trees.json)."""

    # Each default and help text is declared here only; 'barlow analyze' and 'barlow
    # experiments' generate their options from these fields (analysis_core.options).
    grouping: str = option("both", "group rows by true label, by prediction, or both", choices=GROUPING_CHOICES)
    depth: int = option(1, "tree depth, 1 to 3")
    top_k: int = option(20, "features kept per group by mutual information with failure")
    delta: float = option(0.1, "a valid leaf's error rate exceeds BER by delta (ER >= BER + delta)")
    tau: float = option(0.2, "a valid leaf holds at least a fraction tau of the group's failures (EC >= tau)")
    min_leaf: int = option(1, "minimum rows per tree leaf")
    min_rows: int = option(10, "groups with fewer rows are skipped")
    mi: str = option(
        "fast",
        "mutual-information estimator: 'fast' (vectorized quantile bins) or 'knn' "
        "(scikit-learn k-NN, as in the original code; ~100x slower)",
        choices=METHODS,
    )
    holdout: float = option(
        0.0, "fit each tree on 1-FRAC of its group and report leaf ER/EC on the held-out FRAC too",
        metavar="FRAC", default_text="0.0 = off",
    )
    seed: int = option(0, "random seed for the split and estimators")
    jobs: int = option(1, "worker processes; -1 = all cores")

    def validate(self) -> "AnalysisConfig":
        if self.grouping not in GROUPING_CHOICES:
            raise BarlowError(f"grouping must be one of {', '.join(GROUPING_CHOICES)}, got '{self.grouping}'")
        check_depth(self.depth)
        if self.mi not in METHODS:
            raise BarlowError(f"unknown mutual-information estimator '{self.mi}' (choose from {', '.join(METHODS)})")
        if self.top_k < 1:
            raise BarlowError(f"--top-k must be at least 1, got {self.top_k}")
        if not 0 <= self.delta <= 1:
            raise BarlowError(f"--delta must be between 0 and 1, got {self.delta}")
        if not 0 <= self.tau <= 1:
            raise BarlowError(f"--tau must be between 0 and 1, got {self.tau}")
        if self.min_leaf < 1:
            raise BarlowError(f"--min-leaf must be at least 1, got {self.min_leaf}")
        if self.min_rows < 2:
            raise BarlowError(f"--min-rows must be at least 2, got {self.min_rows}")
        if not 0 <= self.holdout < 1:
            raise BarlowError(f"--holdout must be a fraction in [0, 1), got {self.holdout}")
        if self.jobs == 0 or self.jobs < -1:
            raise BarlowError(f"--jobs must be a positive number of processes or -1 for all cores, got {self.jobs}")
        return self

    @property
    def groupings(self) -> list[str]:
        return list(GROUPINGS) if self.grouping == "both" else [self.grouping]


@dataclass
class SkippedGroup:
    grouping: str
    class_name: str
    n: int
    n_fail: int
    reason: str


@dataclass
class GroupResult:
    """One analysed group: the fitted tree and, with --holdout, per-leaf held-out counts."""

    grouping: str
    class_name: str
    tree: FailureTree
    holdout: dict | None = None  # {"n", "n_fail", "ber", "aler", "leaves": [{"leaf", "n", "n_fail", "er", "ec"}]}

    def to_dict(self) -> dict[str, Any]:
        record = self.tree.to_dict(self.grouping, self.class_name)
        if self.holdout is not None:
            record["holdout"] = self.holdout
        return record


@dataclass
class AnalysisResult:
    config: AnalysisConfig
    groups: list[GroupResult]
    skipped: list[SkippedGroup]
    n_rows: int
    n_features: int
    total_failures: int
    failure_modes: Any = None  # pandas DataFrame, one row per leaf (built by run_analysis)
    features_path: Path | None = None
    metadata_path: Path | None = None
    classes: dict[str, list[str]] = field(default_factory=dict)

    def group(self, grouping: str, class_name: str) -> GroupResult:
        for group in self.groups:
            if group.grouping == grouping and group.class_name == str(class_name):
                return group
        raise KeyError(f"no analysed {grouping} group '{class_name}'")

    def summary(self) -> dict[str, dict[str, float]]:
        """Per grouping: groups analysed/skipped, fraction with a valid leaf and with a valid top leaf, mean ALER-BER."""
        out = {}
        for grouping in self.config.groupings:
            groups = [g for g in self.groups if g.grouping == grouping]
            skipped = [s for s in self.skipped if s.grouping == grouping]
            gains = [g.tree.aler_minus_ber_ for g in groups]
            any_valid = [any(node["valid"] for node in g.tree.leaf_nodes()) for g in groups]
            top_valid = [g.tree.top_leaf()["valid"] for g in groups]
            entry = {
                "analysed": len(groups),
                "skipped": len(skipped),
                "fraction_with_valid_leaf": float(np.mean(any_valid)) if groups else float("nan"),
                "fraction_top_leaf_valid": float(np.mean(top_valid)) if groups else float("nan"),
                "mean_aler_minus_ber": float(np.mean(gains)) if groups else float("nan"),
            }
            if self.config.holdout > 0:
                held = [g.holdout["aler"] - g.holdout["ber"] for g in groups if g.holdout and g.holdout["n_fail"]]
                entry["mean_holdout_aler_minus_ber"] = float(np.mean(held)) if held else float("nan")
            out[grouping] = entry
        return out


# --- grouping -------------------------------------------------------------------------------


def _class_order(names: np.ndarray) -> list[str]:
    """Classes sorted numerically when they are all integer ids, else alphabetically."""
    unique = np.unique(names)
    try:
        return [str(v) for v in sorted(unique, key=lambda v: int(v))]
    except ValueError:
        return [str(v) for v in unique]


def _group_rows(keys: np.ndarray) -> dict[str, np.ndarray]:
    uniques, inverse = np.unique(keys, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(uniques)))[:-1]
    return {str(name): rows for name, rows in zip(uniques, np.split(order, bounds))}


def _holdout_split(failure: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of row positions into (fit, held-out), keeping the failure rate in both."""
    fit_parts, held_parts = [], []
    for value in (True, False):
        idx = np.flatnonzero(failure == value)
        idx = rng.permutation(idx)
        n_held = int(round(fraction * len(idx)))
        held_parts.append(idx[:n_held])
        fit_parts.append(idx[n_held:])
    return np.sort(np.concatenate(fit_parts)), np.sort(np.concatenate(held_parts))


def _read_rows(features: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The group's rows as one in-memory array; a contiguous run is read as a slice (fast on a memmap)."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows) and np.all(np.diff(rows) == 1):
        return np.array(features[rows[0] : rows[-1] + 1])
    return np.asarray(features[rows])


def _analyze_group(features: np.ndarray, task: dict, config: AnalysisConfig) -> GroupResult | SkippedGroup:
    """Fit one group's tree; runs in a worker process when --jobs > 1."""
    rows, failure = task["rows"], task["failure"]
    X = _read_rows(features, rows)
    tree = FailureTree(
        depth=config.depth,
        top_k=config.top_k,
        mi=config.mi,
        min_samples_leaf=config.min_leaf,
        delta=config.delta,
        tau=config.tau,
        random_state=config.seed,
    )
    holdout = None
    if config.holdout > 0:
        rng = np.random.default_rng([config.seed, task["index"]])
        fit_idx, held_idx = _holdout_split(failure, config.holdout, rng)
        fit_fail = failure[fit_idx]
        if fit_fail.sum() == 0 or fit_fail.all() or len(fit_idx) < config.min_rows:
            return SkippedGroup(
                task["grouping"], task["class"], len(rows), int(failure.sum()),
                f"too few rows or failures left to fit after holding out {config.holdout:g}",
            )
        tree.fit(X[fit_idx], fit_fail)
        held_fail = failure[held_idx]
        leaves = tree.evaluate(X[held_idx], held_fail)
        held_n_fail = int(held_fail.sum())
        holdout = {
            "n": int(len(held_idx)),
            "n_fail": held_n_fail,
            "ber": held_n_fail / len(held_idx) if len(held_idx) else float("nan"),
            "aler": float(sum(leaf["er"] * leaf["ec"] for leaf in leaves if leaf["n"])) if held_n_fail else float("nan"),
            "leaves": leaves,
        }
    else:
        tree.fit(X, failure)
    # The per-feature MI array is large and all of it is not needed once features are chosen.
    del tree.mi_
    return GroupResult(task["grouping"], task["class"], tree, holdout)


def _tasks(labels: np.ndarray, predictions: np.ndarray, config: AnalysisConfig) -> Iterator[dict | SkippedGroup]:
    failure_all = labels != predictions
    index = 0
    for grouping in config.groupings:
        keys = labels if grouping == "label" else predictions
        rows_by_class = _group_rows(keys)
        for class_name in _class_order(keys):
            rows = rows_by_class[class_name]
            failure = failure_all[rows]
            n, n_fail = len(rows), int(failure.sum())
            reason = None
            if n_fail == 0:
                reason = "no failures"
            elif n_fail == n:
                reason = "only failures"
            elif n < config.min_rows:
                reason = f"too few rows ({n} < {config.min_rows})"
            if reason:
                yield SkippedGroup(grouping, class_name, n, n_fail, reason)
            else:
                yield {"grouping": grouping, "class": class_name, "rows": rows, "failure": failure, "index": index}
            index += 1


def run_analysis(
    features: np.ndarray,
    labels,
    predictions,
    config: AnalysisConfig | None = None,
    progress: bool = True,
    features_path: str | os.PathLike | None = None,
    metadata_path: str | os.PathLike | None = None,
) -> AnalysisResult:
    """Analyse every class group of a feature matrix; see the module docstring."""
    from tqdm import tqdm

    config = (config or AnalysisConfig()).validate()
    labels = np.asarray(labels).astype(str)
    predictions = np.asarray(predictions).astype(str)
    if features.ndim != 2:
        raise BarlowError(f"features must be a 2-D matrix, found shape {features.shape}")
    if not (features.shape[0] == len(labels) == len(predictions)):
        raise BarlowError(
            f"{features.shape[0]} feature rows but {len(labels)} labels and {len(predictions)} predictions"
        )
    if len(labels) == 0:
        raise BarlowError("no rows to analyse")

    items = list(_tasks(labels, predictions, config))
    tasks = [item for item in items if isinstance(item, dict)]
    outcomes: dict[int, GroupResult | SkippedGroup] = {}
    bar = tqdm(total=len(tasks), desc="failure trees", unit="group", disable=not progress or not tasks)
    if config.jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            outcomes[task["index"]] = _analyze_group(features, task, config)
            bar.update()
    else:
        from joblib import Parallel, delayed

        # joblib passes a np.memmap to workers by file name, and dumps a large in-memory array
        # to a shared temporary memmap once, so workers never receive copies of the matrix.
        parallel = Parallel(n_jobs=config.jobs, return_as="generator", batch_size="auto")
        results = parallel(delayed(_analyze_group)(features, task, config) for task in tasks)
        for task, outcome in zip(tasks, results):
            outcomes[task["index"]] = outcome
            bar.update()
    bar.close()

    groups: list[GroupResult] = []
    skipped: list[SkippedGroup] = []
    for item in items:
        outcome = item if isinstance(item, SkippedGroup) else outcomes[item["index"]]
        (skipped if isinstance(outcome, SkippedGroup) else groups).append(outcome)

    result = AnalysisResult(
        config=config,
        groups=groups,
        skipped=skipped,
        n_rows=int(features.shape[0]),
        n_features=int(features.shape[1]),
        total_failures=int((labels != predictions).sum()),
        features_path=Path(features_path).resolve() if features_path else None,
        metadata_path=Path(metadata_path).resolve() if metadata_path else None,
        classes={g: _class_order(labels if g == "label" else predictions) for g in config.groupings},
    )
    result.failure_modes = failure_modes_table(result)
    return result


def analyze_files(
    features_path: str | os.PathLike,
    metadata_path: str | os.PathLike,
    config: AnalysisConfig | None = None,
    progress: bool = True,
) -> AnalysisResult:
    """Load and check a features .npy and metadata CSV, then run the analysis."""
    from analysis_core.artifacts import load_feature_table

    config = (config or AnalysisConfig()).validate()
    inputs = load_feature_table(features_path, metadata_path)
    return run_analysis(
        inputs.features,
        inputs.labels,
        inputs.predictions,
        config,
        progress=progress,
        features_path=inputs.features_path,
        metadata_path=inputs.metadata_path,
    )


# --- per-leaf table --------------------------------------------------------------------------

FAILURE_MODE_COLUMNS = [
    "grouping", "class", "depth", "tree_depth", "n", "n_fail", "ber", "aler", "aler_minus_ber",
    "leaf", "iv_rank", "rule", "n_leaf", "n_fail_leaf", "er", "ec", "iv", "valid",
    "er_ci_low", "er_ci_high", "p_value", "q_value",
]
HOLDOUT_COLUMNS = [
    "holdout_n", "holdout_n_fail", "holdout_ber", "holdout_aler", "holdout_n_leaf", "holdout_n_fail_leaf",
    "holdout_er", "holdout_ec", "holdout_er_ci_low", "holdout_er_ci_high", "holdout_p_value", "holdout_q_value",
]


def failure_modes_table(result: AnalysisResult):
    """One row per leaf of every analysed group, leaves of a group ranked by IV; with CIs, p- and q-values."""
    import pandas as pd

    from analysis_core.leaf_stats import benjamini_hochberg, binomial_p_greater, wilson_interval

    rows = []
    for group in result.groups:
        tree = group.tree
        leaves = sorted(tree.leaf_nodes(), key=lambda node: (-node["iv"], node["id"]))
        held = {leaf["leaf"]: leaf for leaf in group.holdout["leaves"]} if group.holdout else {}
        for rank, node in enumerate(leaves, start=1):
            row = {
                "grouping": group.grouping,
                "class": group.class_name,
                "depth": tree.depth,
                "tree_depth": tree.tree_depth_,
                "n": tree.n_,
                "n_fail": tree.n_fail_,
                "ber": tree.ber_,
                "aler": tree.aler_,
                "aler_minus_ber": tree.aler_minus_ber_,
                "leaf": node["id"],
                "iv_rank": rank,
                "rule": node["rule"],
                "n_leaf": node["n"],
                "n_fail_leaf": node["n_fail"],
                "er": node["er"],
                "ec": node["ec"],
                "iv": node["iv"],
                "valid": node["valid"],
            }
            if group.holdout is not None:
                h = held[node["id"]]
                row.update(
                    holdout_n=group.holdout["n"],
                    holdout_n_fail=group.holdout["n_fail"],
                    holdout_ber=group.holdout["ber"],
                    holdout_aler=group.holdout["aler"],
                    holdout_n_leaf=h["n"],
                    holdout_n_fail_leaf=h["n_fail"],
                    holdout_er=h["er"],
                    holdout_ec=h["ec"],
                )
            rows.append(row)
    columns = FAILURE_MODE_COLUMNS + (HOLDOUT_COLUMNS if result.config.holdout > 0 else [])
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        table["er_ci_low"], table["er_ci_high"] = wilson_interval(table["n_fail_leaf"], table["n_leaf"])
        table["p_value"] = binomial_p_greater(table["n_fail_leaf"], table["n_leaf"], table["ber"])
        table["q_value"] = benjamini_hochberg(table["p_value"])
        if result.config.holdout > 0:
            low, high = wilson_interval(table["holdout_n_fail_leaf"], table["holdout_n_leaf"])
            table["holdout_er_ci_low"], table["holdout_er_ci_high"] = low, high
            # Held-out leaves are tested against the held-out part's own BER: an honest test of
            # a rule chosen on the other part.
            table["holdout_p_value"] = binomial_p_greater(
                table["holdout_n_fail_leaf"], table["holdout_n_leaf"], table["holdout_ber"]
            )
            table["holdout_q_value"] = benjamini_hochberg(table["holdout_p_value"])
    table["valid"] = table["valid"].astype(bool)
    return table


def config_dict(config: AnalysisConfig) -> dict[str, Any]:
    return asdict(config)
