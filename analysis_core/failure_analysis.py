"""Failure analysis of a whole benchmark: one FailureTree per class group (paper sections 5 and 7).

``run_analysis`` groups rows by label and/or prediction, fits a ``FailureTree`` on every group
that has both failures and successes (others are reported as skipped with the reason), and
estimates every leaf honestly by K-fold cross-fitting (``analysis_core.honest``): Wilson
intervals, binomial p-values against BER and Benjamini-Hochberg q-values come from rows the
tree did not see. A permutation test per group (``analysis_core.permutation``) answers "is
there any failure mode here at all?", with Benjamini-Hochberg across groups. The paper's
in-sample ALER, ER, EC and IV are kept beside the honest numbers; ``valid``, the ranking and
the summary use the honest ones. Optionally each tree is also checked on a held-out part.

The same function backs ``barlow analyze`` and ``barlow experiments``; notebooks can call it
directly::

    from analysis_core.failure_analysis import AnalysisConfig, analyze_files
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

from analysis_core.artifacts import parameters as p
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.options import option
from analysis_core.artifacts.parameters import GROUPINGS
from analysis_core.artifacts.trees import GroupTree
from analysis_core.failure_tree import FailureTree
from analysis_core.honest import HonestLeaves, cross_fit
from analysis_core.mutual_info import METHODS

GROUPING_CHOICES = (*GROUPINGS, "both")
SCORE_CHOICES = ("reported", "all", "none")


@dataclass
class AnalysisConfig:
    """All options of one analysis (the ``params`` block of trees.json)."""

    # Each default and help text is declared here only; 'barlow analyze' and 'barlow
    # experiments' generate their options from these fields (analysis_core.artifacts.options).
    grouping: str = option("both", "group rows by true label, by prediction, or both", choices=GROUPING_CHOICES)
    depth: int = option(p.DEPTH, f"tree depth, {p.MIN_DEPTH} to {p.MAX_DEPTH}")
    top_k: int = option(p.TOP_K, "features kept per group by mutual information with failure")
    delta: float = option(p.DELTA, "a valid leaf's error rate exceeds BER by delta (ER >= BER + delta)")
    tau: float = option(p.TAU, "a valid leaf holds at least a fraction tau of the group's failures (EC >= tau)")
    min_leaf: int = option(p.MIN_LEAF, "minimum rows per tree leaf")
    min_rows: int = option(p.MIN_ROWS, "groups with fewer rows are skipped")
    mi: str = option(
        p.MI,
        "mutual-information estimator: 'fast' (vectorized quantile bins) or 'knn' (scikit-learn's k-NN values, "
        "as in the original code, computed for all features at once; ~10x slower than 'fast')",
        choices=METHODS,
    )
    holdout: float = option(
        0.0, "fit each tree on 1-FRAC of its group and report leaf ER/EC on the held-out FRAC too",
        metavar="FRAC", default_text="0.0 = off",
    )
    folds: int = option(
        p.FOLDS,
        "cross-fitting folds for the honest leaf estimates; 0 = off, and then valid falls back to the in-sample numbers",
    )
    permutations: int = option(
        p.PERMUTATIONS,
        "shuffles per group (at most) for the test of 'any failure mode here?'; 0 = no test",
    )
    sequential: bool = option(
        True,
        "a group's permutation test stops at the (floor(alpha x permutations) + 1)-th shuffle that reaches the "
        "observed statistic (Besag-Clifford: the p-value stays valid, and every p-value <= alpha is the full "
        "test's); --all-permutations runs every shuffle",
        flags=("--all-permutations",),
    )
    device: str = option(
        "cpu",
        "where the binned MI of the folds and shuffles is computed: cpu (NumPy, compiled with numba when installed), "
        "cuda or cuda:N (torch on a GPU), torch-cpu (the torch code on the CPU)",
    )
    alpha: float = option(p.ALPHA, "q-value threshold for calling a leaf or a group significant")
    scores: str = option(
        "reported",
        "failure modes whose images get per-image scores in failure_scores.csv: 'reported' (each group's top "
        "leaf and every valid one), 'all' leaves, or 'none' (no file; rows x groupings x leaves lines can be large)",
        choices=SCORE_CHOICES,
    )
    seed: int = option(p.SEED, "random seed for the split and estimators")
    jobs: int = option(1, "worker processes; -1 = all cores")

    def validate(self) -> "AnalysisConfig":
        """Check every option; raises :class:`~analysis_core.artifacts.parameters.ParameterError` naming the flag."""
        p.check_choice(self.grouping, GROUPING_CHOICES, "--grouping")
        p.check_tree_parameters(
            depth=self.depth, top_k=self.top_k, mi=self.mi, min_leaf=self.min_leaf, delta=self.delta, tau=self.tau,
            names={"depth": "--depth", "top_k": "--top-k", "mi": "--mi (mutual-information estimator)", "min_leaf": "--min-leaf", "delta": "--delta", "tau": "--tau"},
        )
        p.check_at_least(self.min_rows, 2, "--min-rows")
        p.check_fraction(self.holdout, "--holdout", open_high=True)
        if self.folds != 0:
            p.check_at_least(self.folds, 2, "--folds (0 = no honest estimates)")
        p.check_at_least(self.permutations, 0, "--permutations")
        p.check_fraction(self.alpha, "--alpha", open_low=True, open_high=True)
        p.check_choice(self.scores, SCORE_CHOICES, "--scores")
        from analysis_core.refits import check_device

        check_device(self.device)
        if self.jobs != -1:
            p.check_at_least(self.jobs, 1, "--jobs (-1 = all cores)")
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
    """One analysed group: the fitted tree, its honest (cross-fitted) leaf counts, its permutation
    test, and, with --holdout, per-leaf held-out counts."""

    grouping: str
    class_name: str
    tree: FailureTree
    holdout: dict | None = None  # {"n", "n_fail", "ber", "aler", "leaves": [{"leaf", "n", "n_fail", "er", "ec"}]}
    honest: HonestLeaves | None = None
    permutation: dict | None = None  # {"statistic", "null_mean", "p_value", "n_permutations"}

    def honest_by_leaf(self) -> dict[int, dict[str, float]]:
        """Honest numbers of each leaf of the displayed tree (by node id), from its in-sample IV rank."""
        if self.honest is None:
            return {}
        h = self.honest
        er, ec, iv = h.er, h.ec, h.iv
        return {
            leaf: {
                "n_leaf": int(h.n_leaf[r]), "n_fail_leaf": int(h.n_fail_leaf[r]),
                "er": float(er[r]), "ec": float(ec[r]), "iv": float(iv[r]), "stability": float(h.stability[r]),
            }
            for r, leaf in enumerate(self.tree.leaves_by_iv())
        }

    def to_group(self) -> GroupTree:
        """This group's record of trees.json: the tree with its held-out, honest and permutation results."""
        group = self.tree.to_group(self.grouping, self.class_name)
        group.holdout = self.holdout
        if self.honest is not None:
            group.honest = {
                "method": "cross-fitting",
                "folds": self.honest.n_folds,
                "aler": self.honest.aler,
                "aler_minus_ber": self.honest.aler - self.tree.ber_,
                "leaves": [{"leaf": leaf, **values} for leaf, values in self.honest_by_leaf().items()],
            }
        if self.permutation is not None:
            group.permutation = dict(self.permutation)
        return group

    def to_dict(self) -> dict[str, Any]:
        return self.to_group().to_dict()


@dataclass
class AnalysisResult:
    config: AnalysisConfig
    groups: list[GroupResult]
    skipped: list[SkippedGroup]
    n_rows: int
    n_features: int
    total_failures: int
    failure_modes: Any = None  # pandas DataFrame, one row per leaf (built by run_analysis)
    failure_scores: Any = None  # pandas DataFrame, one row per (image, reported leaf): analysis_core.failure_scores
    features_path: Path | None = None
    metadata_path: Path | None = None
    classes: dict[str, list[str]] = field(default_factory=dict)

    def group(self, grouping: str, class_name: str) -> GroupResult:
        for group in self.groups:
            if group.grouping == grouping and group.class_name == str(class_name):
                return group
        raise KeyError(f"no analysed {grouping} group '{class_name}'")

    def summary(self) -> dict[str, dict[str, float]]:
        """Per grouping: groups analysed/skipped, fraction with a valid leaf and with a valid top leaf
        (honest numbers), mean ALER-BER in-sample (the paper's) and honest, and the fraction of groups
        whose permutation test is significant after Benjamini-Hochberg (q <= alpha)."""
        table = self.failure_modes if self.failure_modes is not None else failure_modes_table(self)
        out = {}
        for grouping in self.config.groupings:
            groups = [g for g in self.groups if g.grouping == grouping]
            skipped = [s for s in self.skipped if s.grouping == grouping]
            rows = table[table["grouping"] == grouping] if len(table) else table
            per_group = rows.groupby("class", sort=False) if len(rows) else None
            any_valid = per_group["valid"].any() if per_group is not None else []
            top_valid = rows[rows["rank"] == 1]["valid"] if len(rows) else []
            first = rows.drop_duplicates("class") if len(rows) else rows
            entry = {
                "analysed": len(groups),
                "skipped": len(skipped),
                "fraction_with_valid_leaf": _mean(any_valid),
                "fraction_top_leaf_valid": _mean(top_valid),
                "mean_aler_minus_ber": _mean([g.tree.aler_minus_ber_ for g in groups]),
                "mean_honest_aler_minus_ber": _mean(first["honest_aler_minus_ber"]) if len(first) else float("nan"),
                "fraction_significant": _mean(first["group_q_value"] <= self.config.alpha)
                if len(first) and self.config.permutations > 0
                else float("nan"),
            }
            if self.config.holdout > 0:
                held = [g.holdout["aler"] - g.holdout["ber"] for g in groups if g.holdout and g.holdout["n_fail"]]
                entry["mean_holdout_aler_minus_ber"] = float(np.mean(held)) if held else float("nan")
            out[grouping] = entry
        return out


def _mean(values) -> float:
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


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
        X, failure = X[fit_idx], fit_fail
    from analysis_core.permutation import permutation_test, stop_count
    from analysis_core.refits import GroupRefits

    # Cross-fitting and the permutation test refit the procedure on the same rows: they share its
    # bins, and so does the displayed tree when fitted on those rows with the binned estimator.
    refits = None
    if config.permutations > 0 or (config.folds >= 2 and config.mi == "fast"):
        refits = GroupRefits(X, config.top_k, config.depth, config.min_leaf, config.device)
    if holdout is None:
        tree.fit(X, failure, precomputed_mi=refits.mutual_information(failure) if refits and config.mi == "fast" else None)
    honest = None
    if config.folds >= 2:
        honest = cross_fit(tree, X, failure, config.folds, random_state=[config.seed, task["index"]], refits=refits)
    permutation = None
    if config.permutations > 0:
        stop_at = stop_count(config.alpha, config.permutations) if config.sequential else None
        permutation = permutation_test(tree, X, failure, config.permutations, random_state=[config.seed, task["index"], 1],
                                       stop_at=stop_at, refits=refits)
    return GroupResult(task["grouping"], task["class"], tree, holdout, honest, permutation)


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
    if config.scores != "none":
        from analysis_core.failure_scores import failure_scores_table

        result.failure_scores = failure_scores_table(result, features, labels, predictions, leaves=config.scores)
    return result


def analyze_files(
    features_path: str | os.PathLike,
    metadata_path: str | os.PathLike,
    config: AnalysisConfig | None = None,
    progress: bool = True,
) -> AnalysisResult:
    """Load and check a features .npy and metadata CSV, then fit a failure tree per class group.

    Parameters
    ----------
    features_path : path-like
        ``features.npy`` of ``barlow extract``: one row per image, one column per feature.
    metadata_path : path-like
        ``metadata.csv`` with a ``label`` and a ``prediction`` per row (as text).
    config : AnalysisConfig, optional
        The options of ``barlow analyze`` (default: ``AnalysisConfig()``); validated first.
    progress : bool, default=True
        Show a progress bar on stderr.

    Returns
    -------
    AnalysisResult
        Per group its fitted :class:`~analysis_core.failure_tree.FailureTree` with honest and
        permutation results (``groups``), the groups skipped and why (``skipped``) and the
        per-leaf table (``failure_modes``, a DataFrame); write it with
        :func:`analysis_core.failure_analysis_outputs.write_analysis`.

    Raises
    ------
    BarlowError
        A file is missing or malformed, or an option is out of range
        (:class:`~analysis_core.artifacts.parameters.ParameterError`).

    Examples
    --------
    >>> result = analyze_files("features.npy", "metadata.csv", AnalysisConfig(depth=2))  # doctest: +SKIP
    >>> result.group("label", "Shirt").tree.rules()  # doctest: +SKIP
    """
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

# Paper (in-sample) numbers keep the paper's names: aler, aler_minus_ber, er, ec, iv, iv_rank,
# valid_in_sample. honest_* come from cross-fitting; valid, rank and significant use them:
# valid = honest ER >= BER + delta, honest EC >= tau and significant;
# significant = honest q-value (Benjamini-Hochberg over all leaves of the run) <= alpha.
FAILURE_MODE_COLUMNS = [
    "grouping", "class", "depth", "tree_depth", "n", "n_fail", "ber", "aler", "aler_minus_ber",
    "honest_aler", "honest_aler_minus_ber", "group_p_value", "group_q_value",
    "leaf", "rank", "iv_rank", "rule", "n_leaf", "n_fail_leaf", "er", "ec", "iv", "valid_in_sample",
    "honest_n_leaf", "honest_n_fail_leaf", "honest_er", "honest_ec", "honest_iv", "stability",
    "honest_er_ci_low", "honest_er_ci_high", "honest_p_value", "honest_q_value", "valid", "significant",
]
HOLDOUT_COLUMNS = [
    "holdout_n", "holdout_n_fail", "holdout_ber", "holdout_aler", "holdout_n_leaf", "holdout_n_fail_leaf",
    "holdout_er", "holdout_ec", "holdout_er_ci_low", "holdout_er_ci_high", "holdout_p_value", "holdout_q_value",
]


def failure_modes_table(result: AnalysisResult):
    """One row per leaf of every analysed group, with the paper's in-sample and the honest numbers.

    Leaves of a group are ordered by ``rank`` (honest IV, highest first; in-sample IV rank
    ``iv_rank`` breaks ties and orders everything when honest estimates are off).
    """
    import pandas as pd

    from analysis_core.failure_tree import leaf_is_valid
    from analysis_core.leaf_stats import (
        benjamini_hochberg,
        binomial_p_greater,
        wilson_interval,
    )

    cfg = result.config
    nan = float("nan")
    rows = []
    group_p = [g.permutation["p_value"] if g.permutation else nan for g in result.groups]
    group_q = benjamini_hochberg(group_p) if result.groups else []
    for group, p_value, q_value in zip(result.groups, group_p, group_q):
        tree = group.tree
        iv_order = tree.leaves_by_iv()
        honest = group.honest_by_leaf()
        held = {leaf["leaf"]: leaf for leaf in group.holdout["leaves"]} if group.holdout else {}
        honest_aler = group.honest.aler if group.honest else nan

        def honest_key(leaf_id):
            iv = honest.get(leaf_id, {}).get("iv", nan)
            return (-(iv if iv == iv else -1.0), iv_order.index(leaf_id))

        for rank, leaf_id in enumerate(sorted(iv_order, key=honest_key), start=1):
            node = tree.nodes_[leaf_id]
            h = honest.get(leaf_id, {})
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
                "honest_aler": honest_aler,
                "honest_aler_minus_ber": honest_aler - tree.ber_,
                "group_p_value": p_value,
                "group_q_value": q_value,
                "leaf": leaf_id,
                "rank": rank,
                "iv_rank": iv_order.index(leaf_id) + 1,
                "rule": node["rule"],
                "n_leaf": node["n"],
                "n_fail_leaf": node["n_fail"],
                "er": node["er"],
                "ec": node["ec"],
                "iv": node["iv"],
                "valid_in_sample": node["valid"],
                "honest_n_leaf": h.get("n_leaf", nan),
                "honest_n_fail_leaf": h.get("n_fail_leaf", nan),
                "honest_er": h.get("er", nan),
                "honest_ec": h.get("ec", nan),
                "honest_iv": h.get("iv", nan),
                "stability": h.get("stability", nan),
            }
            if group.honest is not None:
                er, ec = row["honest_er"], row["honest_ec"]
                # Thresholds on the honest numbers; requiring significance too (below) keeps a leaf
                # of 1 failure in 8 unseen rows from passing ER >= BER + delta by luck. The q-value,
                # not the p-value: picking the top leaf by honest IV is itself a selection.
                row["valid"] = bool(er == er and leaf_is_valid(er, ec, tree.ber_, cfg.delta, cfg.tau))
            else:
                # Without cross-fitting there is nothing honest to judge by: fall back to the paper's rule.
                row["valid"] = bool(node["valid"])
            if group.holdout is not None:
                h = held[leaf_id]
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
    columns = FAILURE_MODE_COLUMNS + (HOLDOUT_COLUMNS if cfg.holdout > 0 else [])
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        low, high = wilson_interval(table["honest_n_fail_leaf"].fillna(0), table["honest_n_leaf"].fillna(0))
        table["honest_er_ci_low"], table["honest_er_ci_high"] = low, high
        # Honest leaves are tested against their group's BER: the rows were not seen by the tree
        # that chose the leaf, so the one-sided binomial test keeps its level.
        table["honest_p_value"] = binomial_p_greater(
            table["honest_n_fail_leaf"].fillna(0), table["honest_n_leaf"].fillna(0), table["ber"]
        )
        table["honest_q_value"] = benjamini_hochberg(table["honest_p_value"])
        if cfg.holdout > 0:
            low, high = wilson_interval(table["holdout_n_fail_leaf"], table["holdout_n_leaf"])
            table["holdout_er_ci_low"], table["holdout_er_ci_high"] = low, high
            # Held-out leaves are tested against the held-out part's own BER: an honest test of
            # a rule chosen on the other part.
            table["holdout_p_value"] = binomial_p_greater(
                table["holdout_n_fail_leaf"], table["holdout_n_leaf"], table["holdout_ber"]
            )
            table["holdout_q_value"] = benjamini_hochberg(table["holdout_p_value"])
    if len(table):
        table["significant"] = (table["honest_q_value"] <= cfg.alpha).astype(bool)
        honest_rows = table["honest_er"].notna()
        table.loc[honest_rows, "valid"] = table.loc[honest_rows, "valid"] & table.loc[honest_rows, "significant"]
    else:
        table["significant"] = []
    table["valid"] = table["valid"].astype(bool)
    table["valid_in_sample"] = table["valid_in_sample"].astype(bool)
    return table


def config_dict(config: AnalysisConfig) -> dict[str, Any]:
    return asdict(config)
