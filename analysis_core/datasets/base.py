"""The data set interface every loader returns."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm


class ImageDataset(Dataset):
    """Images with integer labels; items are ``(image C x H x W float in [0, 1], label_id)``.

    Attributes: ``classes`` (names in id order), ``filenames`` (one per image, relative
    names as written to ``metadata.csv``), ``labels`` (int array), ``predictions``
    (class ids from a Barlow CSV, or None) and ``spec`` (the string it was loaded from).
    """

    def __init__(
        self,
        *,
        spec: str,
        classes: Sequence[str],
        filenames: Sequence[str],
        labels: np.ndarray,
        load_image: Callable[[int], torch.Tensor],
        decode_image: Callable[[int], np.ndarray] | None = None,
        predictions: np.ndarray | None = None,
        root: str | None = None,
    ) -> None:
        self.spec = spec
        self.classes = list(classes)
        self.filenames = list(filenames)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.predictions = None if predictions is None else np.asarray(predictions, dtype=np.int64)
        self.root = root
        # The ImageTransform that decodes files (None for fixed-size arrays like Fashion-MNIST).
        self.transform = None
        self._load_image = load_image
        # Image files: the H x W x C uint8 pixels before conversion, for batch loaders.
        self.decode_image = decode_image
        if len(self.filenames) != len(self.labels):
            raise ValueError("filenames and labels differ in length")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._load_image(index), int(self.labels[index])

    def __repr__(self) -> str:
        return f"ImageDataset({self.spec!r}, {len(self)} images, {len(self.classes)} classes)"


def load_images(dataset, rows: np.ndarray, progress: bool = False) -> torch.Tensor:
    """Stack dataset items (image tensors in [0, 1]) for the given rows."""
    images = [dataset[int(r)][0] for r in tqdm(rows, desc="loading images", unit="img", disable=not progress, leave=False)]
    if not images:
        return torch.zeros((0,))
    return torch.stack([torch.as_tensor(img, dtype=torch.float32) for img in images])
