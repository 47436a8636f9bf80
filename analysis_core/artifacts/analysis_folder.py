"""An analysis folder: ``trees.json``, ``failure_modes.csv``, ``skipped.csv``, ``visualizations/``.

trees.json records the absolute paths of the extraction it was computed from; an
:class:`AnalysisFolder` finds that extraction again (or takes paths given instead, e.g.
after the extraction folder was moved).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from analysis_core.artifacts.atomic import staged_dir
from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.extraction import METADATA_FILE, Extraction
from analysis_core.artifacts.scores import FAILURE_SCORES_FILE, read_failure_scores, write_failure_scores
from analysis_core.artifacts.tables import (
    FAILURE_MODES_FILE,
    SKIPPED_FILE,
    read_failure_modes,
    read_skipped,
    write_failure_modes,
    write_skipped,
)
from analysis_core.artifacts.trees import (
    TREES_FILE,
    TreesDocument,
    read_trees,
    trees_bytes,
)
from analysis_core.artifacts.visualization_index import (
    INDEX_FILE,
    VISUALIZATIONS_DIR,
    VisualizationIndex,
    read_visualization_index,
)


@dataclass
class AnalysisFolder:
    """The files of one ``barlow analyze`` output folder, read on first use."""

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def trees_path(self) -> Path:
        return self.path / TREES_FILE

    @property
    def failure_modes_path(self) -> Path:
        return self.path / FAILURE_MODES_FILE

    @property
    def failure_scores_path(self) -> Path:
        return self.path / FAILURE_SCORES_FILE

    @property
    def skipped_path(self) -> Path:
        return self.path / SKIPPED_FILE

    @property
    def visualizations_dir(self) -> Path:
        return self.path / VISUALIZATIONS_DIR

    @property
    def index_path(self) -> Path:
        return self.visualizations_dir / INDEX_FILE

    @cached_property
    def trees(self) -> TreesDocument:
        return read_trees(self.path)

    def failure_modes(self):
        return read_failure_modes(self.path)

    def skipped(self) -> list[dict]:
        return read_skipped(self.path)

    def failure_scores(self):
        """failure_scores.csv, or None for a folder written before Barlow scored images."""
        return read_failure_scores(self.path) if self.failure_scores_path.is_file() else None

    def visualization_index(self) -> VisualizationIndex:
        return read_visualization_index(self.visualizations_dir)

    def extraction(self, features: str | os.PathLike | None = None, metadata: str | os.PathLike | None = None) -> Extraction:
        """The extraction the trees were computed from; ``features``/``metadata`` override the recorded paths."""
        recorded = self.trees.inputs
        given = features or recorded.get("features")
        if not given or not Path(given).is_file():
            raise BarlowError(
                f"features file {given or '(none recorded)'} named by {self.trees_path} not found; pass --features PATH"
            )
        features_path = Path(given)
        metadata_path = Path(metadata or recorded.get("metadata") or features_path.parent / METADATA_FILE)
        if not metadata_path.is_file():
            raise BarlowError(f"metadata file {metadata_path} not found; pass --metadata PATH")
        return Extraction(features_path.parent, features_path, metadata_path)


def write_analysis_files(
    out_dir: str | os.PathLike, trees: TreesDocument | dict, failure_modes, skipped, failure_scores=None
) -> Path:
    """Write trees.json, failure_modes.csv, skipped.csv (and failure_scores.csv) into ``out_dir``, all or nothing."""
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as stage:
        write_failure_modes(failure_modes, stage / FAILURE_MODES_FILE)
        if failure_scores is not None:
            write_failure_scores(failure_scores, stage / FAILURE_SCORES_FILE)
        write_skipped(skipped, stage / SKIPPED_FILE)
        (stage / TREES_FILE).write_bytes(trees_bytes(trees))
    return out_dir
