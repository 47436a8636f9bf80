"""Image decoding and the resize / center-crop transform (inputs stay in [0, 1])."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from analysis_core.artifacts.errors import BarlowError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")


@dataclass(frozen=True)
class ImageTransform:
    """Resize the shorter side to ``resize``, center-crop ``crop`` x ``crop``, scale to [0, 1].

    The defaults (256, 224, RGB) are the original code's ImageNet transform; normalization
    happens inside the model.
    """

    resize: int = 256
    crop: int = 224
    channels: int = 3

    def __call__(self, path: str | Path) -> torch.Tensor:
        return torch.from_numpy(self.decode(path)).permute(2, 0, 1).float().div_(255.0)

    def decode(self, path: str | Path) -> np.ndarray:
        """The image as H x W x C uint8, resized and cropped: a quarter of the float's bytes,
        and batches convert to float in one vectorized step."""
        from PIL import Image, UnidentifiedImageError
        from torchvision.transforms import functional as F

        try:
            with Image.open(path) as img:
                img = img.convert("L" if self.channels == 1 else "RGB")
        except FileNotFoundError as exc:
            raise BarlowError(f"image not found: {path}") from exc
        except (UnidentifiedImageError, OSError) as exc:
            raise BarlowError(f"cannot decode image {path}: {exc}") from exc
        if min(img.size) != self.resize:
            img = F.resize(img, self.resize)
        if img.size != (self.crop, self.crop):
            img = F.center_crop(img, [self.crop, self.crop])
        array = np.array(img, dtype=np.uint8)  # a writable copy torch can share
        return array[:, :, None] if array.ndim == 2 else array

    @classmethod
    def for_input_shape(cls, input_shape: tuple[int, int, int]) -> "ImageTransform":
        """The transform that feeds a model expecting ``(C, H, W)`` inputs."""
        channels, height, _ = input_shape
        if height == 224:
            return cls(256, 224, channels)
        return cls(height, height, channels)


def input_mismatch(path: str | Path, transform: ImageTransform) -> str | None:
    """A warning when the data set's images are much larger, or in colour, than the model's input.

    A model trained on 28x28 grayscale digits or clothes runs on 224x224 colour photos without
    error: every photo is shrunk and turned gray first. The run succeeds and means little.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height, mode = img.width, img.height, img.mode
    except (OSError, UnidentifiedImageError):
        return None  # the extraction reports undecodable files itself
    colour = mode not in ("1", "L", "LA", "I", "I;16", "F")
    problems = []
    if min(width, height) > 2 * transform.crop:
        problems.append(f"shrunk from {width}x{height} to {transform.crop}x{transform.crop}")
    if colour and transform.channels == 1:
        problems.append("converted from colour to grayscale")
    if not problems:
        return None
    return (
        f"the data set's images (e.g. {Path(path).name}, {width}x{height} {mode}) are "
        f"{' and '.join(problems)} for a features model that takes {transform.channels}x{transform.crop}x"
        f"{transform.crop} inputs; is this the model you meant for these images?"
    )


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
