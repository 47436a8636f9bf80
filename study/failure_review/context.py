"""What each HIT of a failure-review study shows, read from its ``review.json``.

The file is written by :mod:`study.failure_review.create` and read (through
:mod:`analysis_core.artifacts.review_file`) by the HIT page, the export (its ``Input.*``
columns) and the analysis (which failure mode each answer judges).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from analysis_core.artifacts.review_file import REVIEW_FILE, read_review

# Export columns (Input.<name>) describing the failure mode a HIT shows.
INPUT_FIELDS = ("unit", "leaf", "rule", "er", "ec", "ber", "n_leaf", "n_fail_leaf")


@lru_cache(maxsize=8)
def _contexts(path: str, mtime_ns: int) -> dict[str, dict]:
    return read_review(path).hits


def load_review_contexts(study_dir: str | Path) -> dict[str, dict]:
    """HIT key -> context; cached until the file changes."""
    path = Path(study_dir) / REVIEW_FILE
    # A missing file is read too, for read_review's error (an exception is never cached).
    return _contexts(str(path.resolve()), path.stat().st_mtime_ns if path.is_file() else -1)


def input_fields(context: dict) -> dict[str, object]:
    """The export's Input.* values for one HIT."""
    leaf = context.get("leaf") or {}
    return {
        "unit": context.get("unit", ""),
        "leaf": leaf.get("id", ""),
        "rule": leaf.get("rule", ""),
        "er": leaf.get("er", ""),
        "ec": leaf.get("ec", ""),
        "ber": context.get("group", {}).get("ber", ""),
        "n_leaf": leaf.get("n", ""),
        "n_fail_leaf": leaf.get("n_fail", ""),
    }
