"""Which features to visualize, chosen from the trees of an analysis."""

from __future__ import annotations

from analysis_core.artifacts import GroupTree
from analysis_core.artifacts.errors import BarlowError


def _typed(groups) -> list[GroupTree]:
    return [g if isinstance(g, GroupTree) else GroupTree.from_dict(g) for g in groups]


def split_features(groups) -> list[int]:
    """Original ids of every feature that splits a node in any group's tree (GroupTrees or trees.json records)."""
    return sorted({f for g in _typed(groups) for f in g.split_features()})


def top_mi_features(groups, m: int) -> list[int]:
    """The ``m`` features with the highest mutual information with failure, in each group."""
    return sorted({f for g in _typed(groups) for f in g.top_mi_features(m)})


def parse_feature_list(text: str, n_features: int | None = None) -> list[int]:
    """'1,2, 5-7' -> [1, 2, 5, 6, 7]; a clear error names the bad piece."""
    ids: set[int] = set()
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        try:
            if "-" in piece[1:]:
                low, high = piece.split("-", 1)
                ids.update(range(int(low), int(high) + 1))
            else:
                ids.add(int(piece))
        except ValueError:
            raise BarlowError(f"--feature-ids: '{piece}' is not a feature id or a range like 5-7") from None
    if not ids:
        raise BarlowError("--feature-ids: no feature ids given")
    bad = [i for i in ids if i < 0 or (n_features is not None and i >= n_features)]
    if bad:
        raise BarlowError(f"--feature-ids: feature id {min(bad)} is outside 0..{(n_features or 1) - 1}")
    return sorted(ids)
