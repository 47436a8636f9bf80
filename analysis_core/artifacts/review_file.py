"""``review.json``: what each HIT of a failure-review study shows (tree, rule, rates, pictures).

Layout (version 1)::

    {"version": 1, "kind": "failure-review", "unit": "leaf" | "tree",
     "hits": {HIT KEY: CONTEXT, ...}}

A CONTEXT is plain JSON built by ``study.failure_review.create`` (the group, the leaf or
tree, its features with their A/B/C strips, sample grids); the HIT page, the export and
the study analysis read it back through :func:`read_review`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.json_files import read_json

REVIEW_FILE = "review.json"
REVIEW_VERSION = 1
REVIEW_KIND = "failure-review"


@dataclass
class ReviewDocument:
    """A whole review.json: the study's unit and each HIT's context by HIT key."""

    unit: str
    hits: dict[str, dict[str, Any]] = field(default_factory=dict)
    kind: str = REVIEW_KIND
    version: int = REVIEW_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "kind": self.kind, "unit": self.unit, "hits": self.hits}


def _review_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path if path.suffix == ".json" else path / REVIEW_FILE


def write_review(doc: ReviewDocument, path: str | os.PathLike) -> Path:
    """Write review.json (into a study folder, or to the given file) atomically."""
    path = _review_path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def read_review(path: str | os.PathLike) -> ReviewDocument:
    """A study folder's review.json (or the file itself).

    Parameters
    ----------
    path : path-like
        A failure-review study folder, or its ``review.json``.

    Returns
    -------
    ReviewDocument
        The study's unit and each HIT's context by HIT key.

    Raises
    ------
    BarlowError
        The file is missing, not JSON, of another version, or a context is not a mapping.
    """
    path = _review_path(path)
    if not path.is_file():
        raise BarlowError(f"{path} not found: the study says it is a failure review; recreate it with 'barlow study create --kind failure-review'")
    data = read_json(path, "recreate the study with 'barlow study create --kind failure-review'")
    if not isinstance(data, dict) or not isinstance(data.get("hits"), dict):
        raise BarlowError(f"{path}: expected a mapping with 'hits' (Barlow failure-review contexts)")
    if data.get("version") != REVIEW_VERSION:
        raise BarlowError(f"{path}: unsupported version {data.get('version')!r} (this Barlow reads {REVIEW_VERSION})")
    bad = sorted(key for key, context in data["hits"].items() if not isinstance(context, dict))
    if bad:
        raise BarlowError(f"{path}: the context of HIT {bad[0]} is not a mapping")
    return ReviewDocument(unit=str(data.get("unit", "")), hits=data["hits"], kind=str(data.get("kind", REVIEW_KIND)))
