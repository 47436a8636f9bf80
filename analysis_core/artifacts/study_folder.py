"""Where a study folder keeps its files (``barlow study create`` writes it, the server reads it).

::

    STUDY/study.yaml      questions, HIT settings, attention checks (study.study_file)
    STUDY/hits.csv        one row per HIT (study.hits)
    STUDY/items.csv       what was chosen to show, with tier, BER and MI
    STUDY/images/...      the A/B/C strips copied from the analysis's visualizations/
    STUDY/study.sqlite    the default database of answers
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

STUDY_FILE = "study.yaml"
HITS_FILE = "hits.csv"
ITEMS_FILE = "items.csv"
IMAGES_DIR = "images"
DB_FILE = "study.sqlite"


@dataclass
class StudyFolder:
    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def study_file(self) -> Path:
        return self.path / STUDY_FILE

    @property
    def hits_file(self) -> Path:
        return self.path / HITS_FILE

    @property
    def items_file(self) -> Path:
        return self.path / ITEMS_FILE

    @property
    def images_dir(self) -> Path:
        return self.path / IMAGES_DIR

    @property
    def database(self) -> Path:
        return self.path / DB_FILE

    @property
    def holds_study(self) -> bool:
        return self.study_file.exists() or self.hits_file.exists()

    @staticmethod
    def image_path(strip: str, feature: int, section: str) -> str:
        """Where a visualization strip goes in the study folder: its place under visualizations/, below images/.

        feature_<id>/A.png and groups/<slug>/feature_<id>/A.png keep data-set and group pictures
        of one feature apart; a path that would leave the folder falls back to feature_<id>/.
        """
        path = PurePosixPath(strip)
        folder = path.parent
        if path.is_absolute() or ".." in path.parts or str(folder) in ("", "."):
            folder = PurePosixPath(f"feature_{feature}")
        return f"{IMAGES_DIR}/{folder}/{section}{path.suffix.lower() or '.png'}"

    def resolve_image(self, relative: str | os.PathLike) -> Path:
        return self.path / relative
