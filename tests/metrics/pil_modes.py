"""Images in every PIL mode a file can open as, with partly transparent pixels, for the
preprocessing tests of the image metrics (and paths, as ``evaluate --images DIR`` passes them)."""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Every mode an image file can decode to (PNG, GIF, TIFF, JPEG, WebP, PPM, ...), and HSV.
MODES = (
    "1",
    "L",
    "LA",
    "P",
    "P+transparency",
    "PA",
    "RGB",
    "RGB+transparency",
    "RGBA",
    "RGBX",
    "CMYK",
    "YCbCr",
    "LAB",
    "HSV",
    "I",
    "I;16",
    "I;16B",
    "F",
)


def image_in_mode(mode: str, size: tuple[int, int] = (90, 60), seed: int = 0) -> Image.Image:
    """Return a random ``size`` (width, height) image in ``mode``: an RGBA noise image whose
    alpha spans 0..255, converted (``P``: quantised to 64 colours; ``I;16*``: 16-bit noise)."""
    rng = np.random.default_rng(seed)
    width, height = size
    rgba = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
    if mode.startswith("I;16"):
        wide = Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
        return wide if mode == "I;16" else wide.convert(mode)
    if mode == "P+transparency":
        image = rgba.convert("RGB").quantize(64)
        image.info["transparency"] = 3
        return image
    if mode == "RGB+transparency":  # a PNG tRNS chunk: one colour is transparent
        image = rgba.convert("RGB")
        image.info["transparency"] = image.getpixel((0, 0))
        return image
    if mode == "P":
        return rgba.convert("RGB").quantize(64)
    if mode == "PA":
        return rgba.convert("PA")
    return rgba.convert(mode)


def images_in_every_mode(size: tuple[int, int] = (90, 60)) -> dict[str, Image.Image]:
    """Return ``{mode: image}`` for :data:`MODES`, each image different."""
    return {mode: image_in_mode(mode, size, seed=i) for i, mode in enumerate(MODES)}
