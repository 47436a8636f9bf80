"""Turn image tensors and heatmaps into PNG strips and grids that read at a glance."""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Small inputs are enlarged until their shorter side is at least this many pixels.
MIN_DISPLAY_SIDE = 128
BACKGROUND = (255, 255, 255)
CAPTION_COLOR = (40, 40, 40)


def display_scale(height: int, width: int) -> int:
    """Integer zoom factor so that a 28x28 image becomes 140x140 and 224x224 stays."""
    return max(1, math.ceil(MIN_DISPLAY_SIDE / max(1, min(height, width))))


def to_rgb_uint8(images: np.ndarray, scale: int) -> np.ndarray:
    """(n, C, H, W) floats in [0, 1] -> (n, H*scale, W*scale, 3) uint8.

    Upscaling repeats pixels (nearest neighbour): a 28x28 digit or garment stays sharp
    instead of turning into a blur, and each original pixel remains visible.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError("expected images shaped (n, C, H, W)")
    if images.shape[1] == 1:
        images = np.repeat(images, 3, axis=1)
    elif images.shape[1] != 3:
        raise ValueError(f"cannot display images with {images.shape[1]} channels")
    hwc = np.transpose(images, (0, 2, 3, 1))
    if scale > 1:
        hwc = hwc.repeat(scale, axis=1).repeat(scale, axis=2)
    return (np.clip(hwc, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def overlay_heat(rgb: np.ndarray, heat: np.ndarray, cmap: str = "turbo", alpha: float = 0.75) -> np.ndarray:
    """Blend a colormapped heat (n, H, W) in [0, 1] over images (n, H, W, 3) uint8.

    The image is shown in grey under the colour so that the heat's hue is not confused
    with the image's own colours. The colour's opacity grows with the heat (from 30% to
    100% of ``alpha``): inactive regions stay readable as the image, active ones turn red.
    """
    from matplotlib import colormaps

    heat = np.clip(heat, 0.0, 1.0)
    colored = colormaps[cmap](heat)[..., :3]
    grey = rgb.astype(np.float32).mean(axis=-1, keepdims=True) / 255.0
    weight = (alpha * (0.3 + 0.7 * heat))[..., None]
    blended = (1.0 - weight) * grey + weight * colored
    return (np.clip(blended, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont:
    # DejaVu Sans ships with matplotlib and has the arrow and minus signs the captions use;
    # Pillow's built-in font lacks them.
    try:
        from matplotlib import font_manager

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans", fallback_to_default=True), size)
    except (ImportError, OSError, ValueError):
        return ImageFont.load_default()


def tile_sheet(tiles: np.ndarray, captions: list[str] | None = None, columns: int | None = None, gap: int = 6) -> Image.Image:
    """Lay tiles (n, H, W, 3) out in rows of ``columns`` with an optional caption under each."""
    tiles = np.asarray(tiles)
    n = len(tiles)
    if n == 0:
        return Image.new("RGB", (1, 1), BACKGROUND)
    columns = columns or n
    rows = math.ceil(n / columns)
    height, width = tiles.shape[1:3]
    font_size = max(12, min(18, width // 8))
    caption_height = font_size + 8 if captions else 0
    sheet = Image.new(
        "RGB",
        (columns * width + (columns + 1) * gap, rows * (height + caption_height) + (rows + 1) * gap),
        BACKGROUND,
    )
    draw = ImageDraw.Draw(sheet)
    font = _font(font_size)
    for i, tile in enumerate(tiles):
        row, col = divmod(i, columns)
        x = gap + col * (width + gap)
        y = gap + row * (height + caption_height + gap)
        sheet.paste(Image.fromarray(tile), (x, y))
        if captions:
            text = captions[i]
            text_width = draw.textlength(text, font=font)
            draw.text((x + (width - text_width) / 2, y + height + 3), text, fill=CAPTION_COLOR, font=font)
    return sheet
