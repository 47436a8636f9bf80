"""``review.json``: what each HIT of a failure-review study shows (tree, rule, rates, pictures).

Written by :mod:`study.failure_review.create`, read by the HIT page, the export (its
``Input.*`` columns) and the analysis (which failure mode each answer judges).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from analysis_core.artifacts.errors import BarlowError

REVIEW_FILE = "review.json"
REVIEW_VERSION = 1
# Export columns (Input.<name>) describing the failure mode a HIT shows.
INPUT_FIELDS = ("unit", "leaf", "rule", "er", "ec", "ber", "n_leaf", "n_fail_leaf")


@lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BarlowError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("hits"), dict):
        raise BarlowError(f"{path}: expected a mapping with 'hits' (Barlow failure-review contexts)")
    if data.get("version") != REVIEW_VERSION:
        raise BarlowError(f"{path}: unsupported version {data.get('version')!r} (this Barlow reads {REVIEW_VERSION})")
    return data


def load_review_contexts(study_dir: str | Path) -> dict[str, dict]:
    """HIT key -> context; cached until the file changes."""
    path = Path(study_dir) / REVIEW_FILE
    if not path.is_file():
        raise BarlowError(f"{path} not found: the study says it is a failure review; recreate it with 'barlow study create --kind failure-review'")
    return _read(str(path.resolve()), path.stat().st_mtime_ns)["hits"]


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
