"""The HIT list of a study (``hits.csv``): one row per visualization shown to workers."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.study_folder import HITS_FILE

SECTIONS = ("A", "B", "C")
_COLUMNS = ["hit", "grouping", "class", "feature", "is_attention_check", "check_id", "image_A", "image_B", "image_C"]


@dataclass
class HitSpec:
    """One HIT: the feature of one (grouping, class) group, its three image strips."""

    key: str
    grouping: str
    class_name: str
    feature: int
    images: dict[str, str] = field(default_factory=dict)  # section -> path relative to the study folder
    is_attention_check: bool = False
    check_id: str = ""

    def inputs(self) -> dict[str, str]:
        """The fields a crowd platform's batch file would carry for this HIT."""
        return {
            "grouping": self.grouping,
            "class": self.class_name,
            "feature": str(self.feature),
            "is_attention_check": str(self.is_attention_check).lower(),
            "check_id": self.check_id,
            **{f"image_{s}": self.images.get(s, "") for s in SECTIONS},
        }


def write_hits(hits: list[HitSpec], path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(_COLUMNS)
        for h in hits:
            writer.writerow(
                [h.key, h.grouping, h.class_name, h.feature, str(h.is_attention_check).lower(), h.check_id]
                + [h.images.get(s, "") for s in SECTIONS]
            )


def load_hits(study_dir: str | Path) -> list[HitSpec]:
    study_dir = Path(study_dir)
    path = study_dir / HITS_FILE
    if not path.is_file():
        raise BarlowError(f"no HIT list {path}; create the study with 'barlow study create'")
    hits: list[HitSpec] = []
    seen: set[str] = set()
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise BarlowError(f"{path}: missing columns {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            key = row["hit"].strip()
            if not key or key in seen:
                raise BarlowError(f"{path} line {line}: hit id {key!r} is empty or repeated")
            seen.add(key)
            try:
                feature = int(row["feature"])
            except ValueError:
                raise BarlowError(f"{path} line {line}: feature {row['feature']!r} is not an integer") from None
            images = {s: row[f"image_{s}"].strip() for s in SECTIONS if row[f"image_{s}"].strip()}
            for s, rel in images.items():
                if not (study_dir / rel).is_file():
                    raise BarlowError(f"{path} line {line}: image for section {s} not found: {study_dir / rel}")
            hits.append(
                HitSpec(
                    key=key,
                    grouping=row["grouping"],
                    class_name=row["class"],
                    feature=feature,
                    images=images,
                    is_attention_check=row["is_attention_check"].strip().lower() in ("true", "1", "yes"),
                    check_id=row["check_id"].strip(),
                )
            )
    if not hits:
        raise BarlowError(f"{path}: the study has no HITs")
    return hits
