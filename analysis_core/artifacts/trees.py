"""``trees.json``: the failure trees of an analysis, as typed groups and nodes.

Layout (version 1)::

    {"version": 1, "params": {...AnalysisConfig...}, "inputs": {"features": PATH, "metadata": PATH},
     "n_rows": N, "n_features": K, "total_failures": F, "summary": {...},
     "groups": [GROUP, ...]}
    GROUP = {"grouping": "label"|"prediction", "class": NAME, "n", "n_fail", "ber", "aler",
             "aler_minus_ber", "depth", "tree_depth", "selected_features": [{"feature", "mi"}],
             "nodes": [NODE, ...], "leaves": [node ids], "holdout": {...} (with --holdout),
             "honest": {"method": "cross-fitting", "folds", "aler", "aler_minus_ber",
                        "leaves": [{"leaf", "n_leaf", "n_fail_leaf", "er", "ec", "iv", "stability"}]}
                       (cross-fitted estimates, unless --folds 0),
             "permutation": {"statistic", "null_mean", "p_value", "n_permutations"}
                            (test of ALER - BER, unless --permutations 0)}
    NODE = {"id", "parent", "depth", "is_leaf", "feature", "threshold", "left", "right", "rule",
            "n", "n_fail", "er", "ec", "iv", "valid"}

Keys this module does not know (written by a newer Barlow or an extension) are kept in
each record's ``extra`` and written back unchanged, so a reader never drops them.
JSON has no NaN: non-finite numbers are written as ``null`` and read back as ``None``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from analysis_core.artifacts.atomic import atomic_path
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.json_files import parse_json

TREES_FILE = "trees.json"
TREES_VERSION = 1


def clean_json(value: Any) -> Any:
    """JSON has no NaN: write null instead so every JSON reader accepts the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return clean_json(value.item())
    return value


def _known_and_extra(cls, record: dict, renames: dict[str, str] | None = None) -> tuple[dict, dict]:
    renames = renames or {}
    names = {f.name for f in fields(cls)} - {"extra"}
    known, extra = {}, {}
    for key, value in record.items():
        name = renames.get(key, key)
        (known if name in names else extra)[name if name in names else key] = value
    return known, extra


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)



@dataclass
class TreeNode:
    """One node of a failure tree; figures count the group's rows that reach it."""

    id: int
    parent: int | None = None
    depth: int = 0
    is_leaf: bool = True
    feature: int | None = None  # original feature id of the split (inner nodes)
    threshold: float | None = None  # rows with value <= threshold go left
    left: int | None = None
    right: int | None = None
    rule: str = ""  # path conditions from the root, e.g. "feature[3] > 0.51 and feature[7] <= 0.1"
    n: int = 0
    n_fail: int = 0
    er: float | None = None
    ec: float | None = None
    iv: float | None = None
    valid: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, record: dict) -> "TreeNode":
        known, extra = _known_and_extra(cls, record)
        node = cls(**known, extra=extra)
        node.id = int(node.id)
        node.parent, node.left, node.right = _opt_int(node.parent), _opt_int(node.left), _opt_int(node.right)
        node.feature, node.threshold = _opt_int(node.feature), _opt_float(node.threshold)
        node.depth, node.n, node.n_fail = int(node.depth), int(node.n or 0), int(node.n_fail or 0)
        node.er, node.ec, node.iv = _opt_float(node.er), _opt_float(node.ec), _opt_float(node.iv)
        node.is_leaf, node.valid = bool(node.is_leaf), bool(node.valid)
        node.rule = node.rule or ""
        return node

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out.update(self.extra)
        return out

    @property
    def is_split(self) -> bool:
        return not self.is_leaf and self.feature is not None


@dataclass
class SelectedFeature:
    """A feature chosen for a group's tree by its mutual information with failure."""

    feature: int
    mi: float
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, record: dict) -> "SelectedFeature":
        known, extra = _known_and_extra(cls, record)
        return cls(int(known["feature"]), float(known["mi"]) if known.get("mi") is not None else float("nan"), extra)

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "mi": self.mi, **self.extra}


@dataclass
class GroupTree:
    """The failure tree of one group: rows labelled (or predicted as) one class."""

    grouping: str
    class_name: str
    n: int = 0
    n_fail: int = 0
    ber: float | None = None
    aler: float | None = None
    aler_minus_ber: float | None = None
    depth: int = 0
    tree_depth: int = 0
    selected_features: list[SelectedFeature] = field(default_factory=list)
    nodes: list[TreeNode] = field(default_factory=list)
    leaves: list[int] = field(default_factory=list)
    holdout: dict | None = None
    honest: dict | None = None
    permutation: dict | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, record: dict) -> "GroupTree":
        from analysis_core.artifacts.extraction import class_name

        known, extra = _known_and_extra(cls, record, renames={"class": "class_name"})
        for key in ("grouping", "class_name"):
            if key not in known or known[key] is None:
                raise KeyError("class" if key == "class_name" else key)
        group = cls(**known, extra=extra)
        group.class_name = class_name(group.class_name)
        group.grouping = str(group.grouping)
        group.n, group.n_fail = int(group.n or 0), int(group.n_fail or 0)
        group.ber, group.aler = _opt_float(group.ber), _opt_float(group.aler)
        group.aler_minus_ber = _opt_float(group.aler_minus_ber)
        group.depth, group.tree_depth = int(group.depth or 0), int(group.tree_depth or 0)
        group.selected_features = [SelectedFeature.from_dict(s) for s in (record.get("selected_features") or [])]
        group.nodes = [TreeNode.from_dict(n) for n in (record.get("nodes") or [])]
        group.leaves = [int(leaf) for leaf in (record.get("leaves") or [])]
        return group

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "grouping": self.grouping,
            "class": self.class_name,
            "n": self.n,
            "n_fail": self.n_fail,
            "ber": self.ber,
            "aler": self.aler,
            "aler_minus_ber": self.aler_minus_ber,
            "depth": self.depth,
            "tree_depth": self.tree_depth,
            "selected_features": [s.to_dict() for s in self.selected_features],
            "nodes": [n.to_dict() for n in self.nodes],
            "leaves": list(self.leaves),
        }
        for name in ("holdout", "honest", "permutation"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        out.update(self.extra)
        return out

    # --- reading the tree ------------------------------------------------------------------

    @property
    def key(self) -> str:
        """``grouping/class``, e.g. 'label/Shirt' (the key of the group in visualizations/index.json)."""
        return f"{self.grouping}/{self.class_name}"

    def node_map(self) -> dict[int, TreeNode]:
        return {node.id: node for node in self.nodes}

    def node(self, node_id: int) -> TreeNode:
        for node in self.nodes:
            if node.id == int(node_id):
                return node
        raise KeyError(f"{self.key} has no node {node_id}")

    @property
    def root(self) -> TreeNode | None:
        return next((node for node in self.nodes if node.parent is None), None)

    def leaf_nodes(self) -> list[TreeNode]:
        nodes = self.node_map()
        return [nodes[leaf] for leaf in self.leaves if leaf in nodes]

    def split_features(self) -> list[int]:
        """Original ids of the features that split a node, in node order, each once."""
        return list(dict.fromkeys(node.feature for node in sorted(self.nodes, key=lambda n: n.id) if node.is_split))

    def top_mi_features(self, m: int) -> list[int]:
        """The ``m`` selected features with the highest mutual information with failure."""
        ranked = sorted(self.selected_features, key=lambda s: -s.mi)
        return [s.feature for s in ranked[:m]]


@dataclass
class TreesDocument:
    """A whole trees.json; ``sha1`` is the hash of the file's bytes when read from disk."""

    groups: list[GroupTree] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    n_rows: int | None = None
    n_features: int | None = None
    total_failures: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    version: int = TREES_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    sha1: str | None = None

    @classmethod
    def from_dict(cls, record: dict, path: Path | None = None, sha1: str | None = None) -> "TreesDocument":
        known, extra = _known_and_extra(cls, record)
        known.pop("path", None), known.pop("sha1", None)
        doc = cls(**known, extra=extra, path=path, sha1=sha1)
        doc.params = dict(doc.params or {})
        doc.inputs = dict(doc.inputs or {})
        doc.summary = dict(doc.summary or {})
        doc.groups = [GroupTree.from_dict(g) for g in record.get("groups") or []]
        return doc

    def to_dict(self) -> dict[str, Any]:
        out = {
            "version": self.version,
            "params": self.params,
            "inputs": self.inputs,
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "total_failures": self.total_failures,
            "summary": self.summary,
            "groups": [g.to_dict() for g in self.groups],
        }
        out.update(self.extra)
        return out

    def group(self, grouping: str, name: str) -> GroupTree:
        from analysis_core.artifacts.extraction import class_name

        for group in self.groups:
            if group.grouping == grouping and group.class_name == class_name(name):
                return group
        raise KeyError(f"no analysed {grouping} group '{name}'")

    def in_grouping(self, grouping: str) -> list[GroupTree]:
        return [g for g in self.groups if g.grouping == grouping]

    def split_features(self) -> list[int]:
        return sorted({f for g in self.groups for f in g.split_features()})

    def top_mi_features(self, m: int) -> list[int]:
        return sorted({f for g in self.groups for f in g.top_mi_features(m)})


def _trees_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path / TREES_FILE if path.is_dir() or path.suffix != ".json" else path


def read_trees(analysis_dir: str | os.PathLike) -> TreesDocument:
    """Read an analysis folder's trees.json (or the file itself), hashing its bytes once.

    Parameters
    ----------
    analysis_dir : path-like
        A folder written by ``barlow analyze``, or its ``trees.json``.

    Returns
    -------
    TreesDocument
        Typed groups and nodes; ``sha1`` is the hash of the file's bytes (visualizations
        record it to tell which trees they were drawn for).

    Raises
    ------
    BarlowError
        The file is missing, not JSON, or a group or node record is malformed.
    """
    path = _trees_path(analysis_dir)
    if not path.is_file():
        raise BarlowError(f"{path} not found: --analysis must be a folder written by 'barlow analyze'")
    raw = path.read_bytes()
    record = parse_json(raw, path)
    if not isinstance(record, dict) or not isinstance(record.get("groups"), list):
        raise BarlowError(f"{path} has no 'groups' list; was it written by 'barlow analyze'?")
    try:
        return TreesDocument.from_dict(record, path=path, sha1=hashlib.sha1(raw).hexdigest())
    except (KeyError, TypeError, ValueError) as exc:
        raise BarlowError(f"{path}: a group or node record is malformed ({type(exc).__name__}: {exc})") from None


def trees_bytes(doc: TreesDocument | dict) -> bytes:
    record = doc.to_dict() if isinstance(doc, TreesDocument) else doc
    return json.dumps(clean_json(record), indent=1, allow_nan=False).encode("utf-8")


def write_trees(doc: TreesDocument | dict, path: str | os.PathLike) -> Path:
    """Write trees.json atomically into a folder (or to the given file path)."""
    path = _trees_path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(trees_bytes(doc))
    return path


def groups_from_dicts(records: Iterable[dict]) -> list[GroupTree]:
    return [GroupTree.from_dict(r) for r in records]


__all__ = [
    "TREES_FILE",
    "GroupTree",
    "SelectedFeature",
    "TreeNode",
    "TreesDocument",
    "clean_json",
    "read_trees",
    "trees_bytes",
    "write_trees",
]
