"""Fashion-MNIST from its idx files: the shipped test split, or the training split found locally."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from analysis_core.artifacts.errors import BarlowError
from analysis_core.datasets.base import ImageDataset

CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # package dataset-fashion-mnist


def search_dirs() -> list[Path]:
    """Where the idx files are looked for, in order: $BARLOW_FASHION_MNIST, data/, Debian, torchvision cache."""
    from analysis_core.artifacts.resources import data_dir

    dirs = []
    if os.environ.get("BARLOW_FASHION_MNIST"):
        dirs.append(Path(os.environ["BARLOW_FASHION_MNIST"]))
    dirs += [data_dir() / "fashion-mnist", DEBIAN_DIR, torchvision_cache() / "FashionMNIST" / "raw"]
    return dirs


def torchvision_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "barlow"


def _read_idx(path: Path, magic: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise BarlowError(f"cannot read Fashion-MNIST file {path}: {exc}") from exc
    if len(data) < 8 or int.from_bytes(data[:4], "big") != magic:
        raise BarlowError(f"{path} is not an idx file (bad magic number)")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise BarlowError(f"{path} is truncated: expected {expected} bytes of data, found {len(data) - offset}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _find(split: str) -> tuple[Path, Path]:
    image_name, label_name = FILES[split]
    for folder in search_dirs():
        for names in ((image_name, label_name), (image_name[:-3], label_name[:-3])):  # .gz or unpacked
            images, labels = folder / names[0], folder / names[1]
            if images.is_file() and labels.is_file():
                return images, labels
    return _download(split)


def _download(split: str) -> tuple[Path, Path]:
    """Last resort: torchvision's downloader, which needs a network."""
    import torchvision

    root = torchvision_cache()
    try:
        torchvision.datasets.FashionMNIST(str(root), train=(split == "train"), download=True)
    except Exception as exc:  # noqa: BLE001 - any network failure gets the same advice
        looked = ", ".join(str(d) for d in search_dirs())
        raise BarlowError(
            f"Fashion-MNIST {split} split not found (looked in {looked}) and download failed "
            f"({type(exc).__name__}); install Debian's dataset-fashion-mnist or set BARLOW_FASHION_MNIST"
        ) from exc
    raw = root / "FashionMNIST" / "raw"
    return raw / FILES[split][0], raw / FILES[split][1]


def load_fashion_mnist_arrays(split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N x 28 x 28, labels int64 N) of a split."""
    if split not in FILES:
        raise BarlowError(f"Fashion-MNIST has splits 'train' and 'test', not {split!r}")
    image_path, label_path = _find(split)
    images = _read_idx(image_path, 2051)
    labels = _read_idx(label_path, 2049).astype(np.int64)
    if len(images) != len(labels):
        raise BarlowError(f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels")
    return images, labels


def load_fashion_mnist(split: str = "test", spec: str | None = None) -> ImageDataset:
    images, labels = load_fashion_mnist_arrays(split)
    # One float tensor for the whole split (31 MB for the test split) keeps __getitem__ cheap.
    tensor = torch.from_numpy(images.copy()).unsqueeze(1)
    filenames = [f"{split}/{i:05d}.png" for i in range(len(labels))]
    dataset = ImageDataset(
        spec=spec or ("fashion-mnist" if split == "test" else f"fashion-mnist:{split}"),
        classes=CLASSES,
        filenames=filenames,
        labels=labels,
        load_image=lambda i: tensor[i].float().div_(255.0),
    )
    dataset.images_uint8 = tensor  # fast path for training and batch loading
    return dataset
