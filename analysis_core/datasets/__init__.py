"""Data sets: ``load_dataset(spec)`` returns an :class:`ImageDataset` of images in [0, 1].

Specs: ``fashion-mnist`` (shipped test split), ``fashion-mnist:train``, ``imagefolder:PATH``,
``barlow-csv:PATH``, ``imagenet:PATH[:split]``.
"""

from __future__ import annotations

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.options import DATASET_SPEC_HELP
from analysis_core.datasets.base import ImageDataset
from analysis_core.datasets.fashion_mnist import CLASSES as FASHION_MNIST_CLASSES
from analysis_core.datasets.fashion_mnist import load_fashion_mnist
from analysis_core.datasets.transforms import ImageTransform

# The spellings the command line's --dataset help shows, declared there once.
SPEC_HELP = DATASET_SPEC_HELP


def load_dataset(spec: str, transform: ImageTransform | None = None) -> ImageDataset:
    """Load the data set ``spec`` names.

    ``transform`` decodes files of the folder kinds (default: resize 256, center crop 224,
    RGB, as the original code); Fashion-MNIST is always 1 x 28 x 28.
    """
    from analysis_core.datasets.folders import (
        load_barlow_csv,
        load_image_folder,
        load_imagenet,
    )

    spec = str(spec).strip()
    transform = transform or ImageTransform()
    kind, _, rest = spec.partition(":")
    if kind == "fashion-mnist":
        return load_fashion_mnist(rest or "test", spec=spec)
    if not rest:
        raise BarlowError(f"unknown data set spec {spec!r}; use {SPEC_HELP}")
    if kind == "imagefolder":
        return load_image_folder(rest, transform, spec)
    if kind == "barlow-csv":
        return load_barlow_csv(rest, transform, spec)
    if kind == "imagenet":
        path, split = rest, "val"
        head, sep, tail = rest.rpartition(":")
        if sep and tail in ("train", "val"):
            path, split = head, tail
        return load_imagenet(path, split, transform, spec)
    raise BarlowError(f"unknown data set kind {kind!r} in {spec!r}; use {SPEC_HELP}")


__all__ = ["FASHION_MNIST_CLASSES", "ImageDataset", "ImageTransform", "SPEC_HELP", "load_dataset"]
