"""Barlow's parameters: every default and every range check, declared once.

``FailureTree``, ``AnalysisConfig`` (the options of ``barlow analyze`` and ``barlow
experiments``), the reproduction config's ``analysis`` and ``section8`` sections, and the
study side's ``CreateOptions`` and ``HitSettings`` take their defaults from here, and
check a value with the functions below, so a default or a message cannot drift apart
between the library, the command line and a config file.

The functions raise :class:`ParameterError`, a :class:`~analysis_core.artifacts.errors.BarlowError`
(the command line prints it in one line) that is also a ``ValueError`` (what scikit-learn
and Python code expect of a bad argument). ``name`` is how the caller spells the
parameter (``depth``, ``--top-k``, ``config: analysis.top_k``).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Iterable

from analysis_core.artifacts.errors import BarlowError

# How rows are grouped: by their true label or by the inspected model's prediction.
GROUPINGS = ("label", "prediction")

# Failure trees (paper section 5).
MIN_DEPTH, MAX_DEPTH = 1, 3
DEPTH = 1
TOP_K = 20  # features kept per group by mutual information with failure
MI_METHODS = ("fast", "knn")  # mutual-information estimators (analysis_core.mutual_info)
MI = "fast"
MIN_LEAF = 1
DELTA = 0.1  # a valid leaf has ER >= BER + delta
TAU = 0.2  # ... and EC >= tau
SEED = 0

# A whole analysis.
MIN_ROWS = 10  # groups with fewer rows are skipped
FOLDS = 5  # cross-fitting folds of the honest estimates
PERMUTATIONS = 100
ALPHA = 0.05

# Crowd studies (paper section 8): top/middle/bottom N classes, M features each.
STUDY_TOP_N = 20
STUDY_TOP_M = 10
ASSIGNMENTS_PER_HIT = 5
REWARD = "0.50"  # US dollars per HIT


class InputError(BarlowError, ValueError):
    """A value Barlow cannot work with: a user error for the CLI, a ValueError for Python code."""


class ParameterError(InputError):
    """A parameter outside its range."""


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_depth(depth: Any, name: str = "depth") -> int:
    if not _is_int(depth) or not MIN_DEPTH <= depth <= MAX_DEPTH:
        raise ParameterError(f"{name} must be an integer from {MIN_DEPTH} to {MAX_DEPTH}, got {depth!r}")
    return int(depth)


def check_at_least(value: Any, minimum: int, name: str) -> int:
    """An integer >= ``minimum``."""
    if not _is_int(value) or value < minimum:
        raise ParameterError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


def check_fraction(value: Any, name: str, *, open_low: bool = False, open_high: bool = False) -> float:
    """A number in [0, 1] (``open_low``/``open_high``: the end itself excluded)."""
    ok = isinstance(value, Real) and not isinstance(value, bool)
    if ok:
        low_ok = value > 0 if open_low else value >= 0
        high_ok = value < 1 if open_high else value <= 1
        ok = low_ok and high_ok
    if not ok:
        interval = ("(" if open_low else "[") + "0, 1" + (")" if open_high else "]")
        raise ParameterError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def check_choice(value: Any, choices: Iterable[str], name: str) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def check_tree_parameters(*, depth: Any, top_k: Any, mi: Any, min_leaf: Any, delta: Any, tau: Any, names: dict[str, str] | None = None) -> None:
    """The checks every failure tree's settings pass, wherever they come from.

    ``names`` maps a parameter to how the caller spells it (default: the keyword itself).
    """
    names = names or {}
    check_depth(depth, names.get("depth", "depth"))
    check_at_least(top_k, 1, names.get("top_k", "top_k"))
    check_choice(mi, MI_METHODS, names.get("mi", "mi (mutual-information estimator)"))
    check_at_least(min_leaf, 1, names.get("min_leaf", "min_leaf"))
    check_fraction(delta, names.get("delta", "delta"))
    check_fraction(tau, names.get("tau", "tau"))
