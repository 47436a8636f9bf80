"""Image folders on disk: torchvision ImageFolder layout, Barlow CSV, ImageNet (ILSVRC2012)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.extraction import class_name
from analysis_core.datasets.base import ImageDataset
from analysis_core.datasets.transforms import (
    IMAGE_EXTENSIONS,
    ImageTransform,
    list_images,
)

CSV_COLUMNS = ("Filenames", "Predictions", "Labels")


def _folder(path: str | Path, what: str) -> Path:
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise BarlowError(f"{what} folder not found: {folder}")
    return folder


def _make(spec: str, root: Path, files: list[Path], labels, classes, transform: ImageTransform, predictions=None):
    filenames = [p.relative_to(root).as_posix() for p in files]
    return ImageDataset(
        spec=spec,
        classes=classes,
        filenames=filenames,
        labels=np.asarray(labels, dtype=np.int64),
        load_image=lambda i: transform(files[i]),
        decode_image=lambda i: transform.decode(files[i]),
        predictions=predictions,
        root=str(root.resolve()),
    )


def load_image_folder(path: str | Path, transform: ImageTransform, spec: str | None = None) -> ImageDataset:
    """``root/<class name>/<image>``: classes are the sorted sub-folder names (torchvision's rule)."""
    root = _folder(path, "image")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise BarlowError(f"{root} has no class sub-folders (expected root/<class>/<image>)")
    files, labels = [], []
    for class_id, class_dir in enumerate(class_dirs):
        found = list_images(class_dir)
        files += found
        labels += [class_id] * len(found)
    if not files:
        raise BarlowError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {root}")
    dataset = _make(spec or f"imagefolder:{path}", root, files, labels, [d.name for d in class_dirs], transform)
    dataset.transform = transform
    return dataset


def _read_classes_file(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(set(names)) != len(names):
        raise BarlowError(f"{path} lists a class name twice")
    return names


def load_barlow_csv(path: str | Path, transform: ImageTransform, spec: str | None = None) -> ImageDataset:
    """The original repository's custom format: ``metadata.csv`` (Filenames,Predictions,Labels) + images.

    ``path`` is the folder holding ``metadata.csv`` or the CSV itself. Filenames are relative
    to the CSV's folder (or its ``images/`` sub-folder). Class ids follow ``classes.txt``
    (one name a line) when present, else the sorted names found in the CSV.
    """
    import pandas as pd

    path = Path(path).expanduser()
    csv_path = path / "metadata.csv" if path.is_dir() else path
    if not csv_path.is_file():
        raise BarlowError(f"Barlow CSV not found: {csv_path}")
    try:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BarlowError(f"cannot parse {csv_path}: {str(exc).splitlines()[0]}") from exc
    missing = [c for c in CSV_COLUMNS if c not in table.columns]
    if missing:
        raise BarlowError(
            f"{csv_path} lacks column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)} (found {','.join(map(str, table.columns))})"
        )
    if table.empty:
        raise BarlowError(f"{csv_path} has no rows")
    for column in ("Labels", "Predictions"):
        # The one spelling of class names every step uses (see artifacts.class_name).
        table[column] = table[column].map(class_name)
    for column in CSV_COLUMNS:
        blank = table.index[table[column].str.strip() == ""]
        if len(blank):
            raise BarlowError(f"{csv_path} row {int(blank[0]) + 2}: empty {column}")
    root = csv_path.parent
    classes_file = root / "classes.txt"
    if classes_file.is_file():
        classes = _read_classes_file(classes_file)
    else:
        classes = sorted(set(table["Labels"]) | set(table["Predictions"]))
    index = {name: i for i, name in enumerate(classes)}
    for column in ("Labels", "Predictions"):
        unknown = [(row, name) for row, name in enumerate(table[column]) if name not in index]
        if unknown:
            row, name = unknown[0]
            raise BarlowError(
                f"{csv_path} row {row + 2}: unknown class name {name!r} in {column} "
                f"({len(unknown)} unknown in all; known: {', '.join(classes[:10])}{'...' if len(classes) > 10 else ''})"
            )
    files = []
    image_root = root
    for row, name in enumerate(table["Filenames"]):
        candidate = root / name
        if not candidate.is_file() and (root / "images" / name).is_file():
            candidate = root / "images" / name
        if not candidate.is_file():
            raise BarlowError(f"{csv_path} row {row + 2}: image {name!r} not found in {root}")
        files.append(candidate)
    dataset = ImageDataset(
        spec=spec or f"barlow-csv:{path}",
        classes=classes,
        filenames=list(table["Filenames"]),
        labels=np.array([index[n] for n in table["Labels"]]),
        load_image=lambda i: transform(files[i]),
        decode_image=lambda i: transform.decode(files[i]),
        predictions=np.array([index[n] for n in table["Predictions"]]),
        root=str(image_root.resolve()),
    )
    dataset.transform = transform
    return dataset


def _synset_mapping(root: Path) -> tuple[list[str], dict[str, str]] | None:
    """Read ``LOC_synset_mapping.txt`` (ILSVRC: 'n01440764 tench, Tinca tinca' per line)."""
    for name in ("LOC_synset_mapping.txt", "synset_words.txt"):
        path = root / name
        if path.is_file():
            wnids, names = [], {}
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    wnid, _, label = line.strip().partition(" ")
                    wnids.append(wnid)
                    names[wnid] = label.split(",")[0].strip() or wnid
            return wnids, names
    return None


def load_imagenet(path: str | Path, split: str, transform: ImageTransform, spec: str | None = None) -> ImageDataset:
    """ILSVRC2012 in train/val folder layout: ``root/<split>/<wnid>/<image>``.

    Class index = position of the WordNet id in ``LOC_synset_mapping.txt`` (sorted wnids,
    the standard 0-999 order); names come from that file, or from torchvision's ImageNet
    category list when all 1,000 wnid folders are present.
    """
    from analysis_core.models.resnet import imagenet_class_names

    root = _folder(path, "ImageNet")
    split_dir = root / split
    if not split_dir.is_dir():
        raise BarlowError(f"ImageNet split folder not found: {split_dir} (expected {root}/train and {root}/val)")
    folders = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    if not folders:
        raise BarlowError(f"{split_dir} has no WordNet-id class folders (a flat val/ folder must be sorted into val/<wnid>/ first)")
    mapping = _synset_mapping(root)
    if mapping is not None:
        wnids, names = mapping
        unknown = [w for w in folders if w not in names]
        if unknown:
            raise BarlowError(f"{split_dir}/{unknown[0]}: unknown class (WordNet id not in {root}/LOC_synset_mapping.txt)")
        classes = [names[w] for w in wnids]
    else:
        wnids = folders
        classes = imagenet_class_names() if len(wnids) == 1000 else list(wnids)
    position = {w: i for i, w in enumerate(wnids)}
    files, labels = [], []
    for wnid in folders:
        found = list_images(split_dir / wnid)
        files += found
        labels += [position[wnid]] * len(found)
    if not files:
        raise BarlowError(f"no images under {split_dir}")
    dataset = _make(spec or f"imagenet:{path}:{split}", split_dir, files, labels, classes, transform)
    dataset.wnids = list(wnids)
    dataset.transform = transform
    return dataset
