"""``visualizations/index.json``: which PNG strips ``barlow visualize`` drew, and the names in it.

Layout (version 1)::

    {"version": 1, "features_model": SPEC, "dataset": SPEC, "params": {...}, "trees_sha1": SHA1,
     "heatmap_normalization": TEXT,
     "features": {"<id>": ENTRY},                          # top-k of the whole data set
     "group_features": {"<grouping>/<class>": {"<id>": ENTRY}},   # --scope group
     "leaves": {"<grouping>/<class>/<leaf>": LEAF},
     "correct": {"<grouping>/<class>": CORRECT}}               # failure-review studies
    ENTRY = {"A", "B", "C": paths relative to visualizations/, "top_rows", "top_values",
             "attack_before", "attack_after", "heatmap_max", "group_rows" (group scope)}
    LEAF = {"grouping", "class", "leaf", "rule", "samples": path, "rows", "n_fail_in_leaf",
            "selection": "typical" (top of failure_scores.csv, most typical first) | "random"}
            (an index without "selection" was written before leaves were scored: random)
    CORRECT = {"grouping", "class", "samples": path, "rows", "n_correct"}  (random correct images)

Group and leaf keys and the file-name slugs of groups are made here only.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.json_files import read_json

VISUALIZATIONS_DIR = "visualizations"
INDEX_FILE = "index.json"
INDEX_VERSION = 1
SECTIONS = ("A", "B", "C")
LEAF_TYPICAL = "typical"
LEAF_RANDOM = "random"


def leaf_selection(entry: dict) -> str:
    """How a leaf grid's failures were chosen: 'typical' or 'random'."""
    return entry.get("selection", LEAF_RANDOM)


def _grouping_and_class(group: Any) -> tuple[str, str]:
    """(grouping, class) of a GroupTree, a trees.json group record or a (grouping, class) pair."""
    from analysis_core.artifacts.extraction import class_name

    if isinstance(group, dict):
        return str(group["grouping"]), class_name(group["class"])
    if isinstance(group, tuple):
        return str(group[0]), class_name(group[1])
    return str(group.grouping), class_name(group.class_name)


def slugify(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")
    return slug[:60] or "class"


def group_slugs(groups: Iterable[Any]) -> list[str]:
    """A distinct file-name-safe name per group, stable for a given trees.json."""
    used: set[str] = set()
    slugs = []
    for group in groups:
        grouping, name = _grouping_and_class(group)
        base = f"{grouping}-{slugify(name)}"
        slug, n = base, 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        slugs.append(slug)
    return slugs


def group_key(group: Any) -> str:
    """Key of a group in index.json's group_features, e.g. 'label/Shirt'."""
    grouping, name = _grouping_and_class(group)
    return f"{grouping}/{name}"


def leaf_key(group: Any, leaf_id: int) -> str:
    """Key of a leaf in index.json's leaves, e.g. 'label/Shirt/3'."""
    return f"{group_key(group)}/{int(leaf_id)}"


@dataclass
class VisualizationIndex:
    """A visualizations/index.json; unknown top-level keys are kept in ``extra``."""

    features: dict[str, dict] = field(default_factory=dict)
    group_features: dict[str, dict[str, dict]] = field(default_factory=dict)
    leaves: dict[str, dict] = field(default_factory=dict)
    correct: dict[str, dict] = field(default_factory=dict)
    features_model: str | None = None
    dataset: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    trees_sha1: str | None = None
    version: int = INDEX_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    _KNOWN = ("features", "group_features", "leaves", "correct", "features_model", "dataset", "params", "trees_sha1", "version")

    @classmethod
    def from_dict(cls, record: dict, path: Path | None = None) -> "VisualizationIndex":
        where = path or INDEX_FILE
        if not isinstance(record, dict):
            raise BarlowError(f"{where}: expected a JSON object (Barlow visualization index)")
        for key in ("features", "group_features", "leaves", "correct"):
            if key in record and not isinstance(record[key], dict):
                raise BarlowError(f"{where}: expected a '{key}' mapping (Barlow visualization index)")
        known = {k: record[k] for k in cls._KNOWN if k in record and record[k] is not None}
        extra = {k: v for k, v in record.items() if k not in cls._KNOWN}
        return cls(**known, extra=extra, path=path)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "features_model": self.features_model,
            "dataset": self.dataset,
            "params": self.params,
            "trees_sha1": self.trees_sha1,
        }
        out.update(self.extra)
        out["features"] = self.features
        if self.group_features:
            out["group_features"] = self.group_features
        out["leaves"] = self.leaves
        if self.correct:
            out["correct"] = self.correct
        return out

    def feature_entry(self, grouping: str, name: str, feature: int) -> tuple[dict | None, str | None]:
        """The pictures of ``feature`` to show for a group, and their scope ('group' or 'dataset').

        The group's own top-k (``--scope group``) describe what the feature means for those
        images, so they win; the data-set pictures stand in where none were drawn.
        """
        own = self.group_features.get(group_key((grouping, name)), {})
        if str(int(feature)) in own:
            return own[str(int(feature))], "group"
        entry = self.features.get(str(int(feature)))
        return (entry, "dataset") if entry else (None, None)

    def leaf_samples(self, group: Any, leaf_id: int) -> dict | None:
        return self.leaves.get(leaf_key(group, leaf_id))

    def correct_samples(self, group: Any) -> dict | None:
        """Random correctly classified images of a group (shown beside a leaf's failures)."""
        return self.correct.get(group_key(group))

    def for_trees(self, trees_sha1: str | None) -> "VisualizationIndex":
        """This index, without its leaf samples when they were drawn for other trees.

        After the analysis is rerun, leaf ids no longer name the same rows; feature
        pictures do not depend on the trees and stay.
        """
        if self.trees_sha1 in (None, trees_sha1):
            return self
        # Correct images depend only on a group's rows, not on the trees: they stay.
        return VisualizationIndex(self.features, self.group_features, {}, self.correct, self.features_model, self.dataset,
                                  self.params, self.trees_sha1, self.version, self.extra, self.path)


def _index_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path / INDEX_FILE if path.suffix != ".json" else path


def read_visualization_index(path: str | os.PathLike, missing_ok: bool = True) -> VisualizationIndex:
    """Read visualizations/index.json (a visualizations folder or the file); empty when absent."""
    path = _index_path(path)
    if not path.is_file():
        if missing_ok:
            return VisualizationIndex(version=0, path=None)
        raise BarlowError(f"{path} not found; run 'barlow visualize' first")
    return VisualizationIndex.from_dict(read_json(path, "rerun 'barlow visualize'"), path=path)


def write_visualization_index(index: VisualizationIndex | dict, path: str | os.PathLike) -> Path:
    path = _index_path(path)
    record = index.to_dict() if isinstance(index, VisualizationIndex) else index
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    return path
