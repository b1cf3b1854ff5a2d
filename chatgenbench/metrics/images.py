"""Image inputs of the image metrics: what :meth:`ImageMetric.update` accepts, made PIL.

:func:`open_image` returns the image in its own mode (``RGBA``, ``P``, ``I;16``, ...), for metrics
whose reference resizes before converting to RGB (ImageReward, HPS v2: Pillow premultiplies alpha
when it resizes ``RGBA``/``LA`` and resizes palette images nearest-neighbour, so the order changes
the pixels). :func:`to_rgb` converts first, for metrics whose reference takes RGB tensors (CLIP
score and FID, as torchmetrics does).

:func:`read_image_file` is how a rendered image (a file named by data: a render manifest, a
submission's render folder) is read, by scoring and by the gallery alike: a regular file only
(never a FIFO or a device, never a link out of its folder), at most :data:`MAX_IMAGE_BYTES`, with
a declared size of at most :data:`MAX_IMAGE_PIXELS` pixels checked before anything is decoded (a
decompression bomb), and fully decoded (a truncated file is refused, not half-read). Whatever is
wrong is one :class:`UnreadableImage` with the reason.
"""

from __future__ import annotations

import os
from typing import Any

#: The largest image file read (bytes) and the largest declared size decoded (pixels).
MAX_IMAGE_BYTES = 256 * 1024 * 1024
MAX_IMAGE_PIXELS = 8192 * 8192


class UnreadableImage(ValueError):
    """An image file that is not read: not a regular file, not an image, truncated, too large."""


def read_image_file(
    path: str | os.PathLike,
    *,
    within: str | os.PathLike | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    mode: str | None = "RGB",
):
    """Return the image at ``path`` decoded, converted to ``mode`` (None: in its own mode, as
    scoring hands it to the metrics, each of which converts in its reference's order).

    With ``within``, a path that leads outside that folder (``..`` or a link) is refused.
    Raises :class:`UnreadableImage` saying why for anything that cannot be shown or scored.
    """
    from chatgenbench.core.storage import read_regular_bytes

    try:
        data = read_regular_bytes(path, within=within, max_bytes=MAX_IMAGE_BYTES)
    except OSError as error:
        raise UnreadableImage(f"not read: {error}") from None
    return decode_image(data, max_pixels=max_pixels, mode=mode)


def decode_image(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS, mode: str | None = "RGB"):
    """Return image bytes decoded as a PIL image converted to ``mode`` (None: its own mode);
    raise :class:`UnreadableImage` for bytes that are not a whole image or declare more than
    ``max_pixels`` pixels (checked first)."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise UnreadableImage(
                        f"declares {width}x{height} pixels, over the {max_pixels}-pixel limit "
                        "(a decompression bomb?); not decoded"
                    )
                image.load()
                return image.convert(mode) if mode else image.copy()
    except UnreadableImage:
        raise
    except Exception as error:  # broad: PIL raises OSError, SyntaxError, struct.error, ... for a
        # malformed file, and DecompressionBombError; every one means the file is not an image
        raise UnreadableImage(f"not a readable image ({type(error).__name__}: {error})") from None


def open_image(image: Any):
    """Return a PIL image, in its own mode, from a PIL image, a path or a ``datasets`` image dict.

    Raises ValueError for a dict with neither ``bytes`` nor ``path``; Pillow's errors for a file
    that is not an image.
    """
    from PIL import Image

    if isinstance(image, dict):
        if image.get("bytes"):
            import io

            image = Image.open(io.BytesIO(image["bytes"]))
        elif image.get("path"):
            image = Image.open(image["path"])
        else:
            raise ValueError("image dict has neither bytes nor path")
    elif not isinstance(image, Image.Image):
        image = Image.open(image)
    return image


def to_rgb(image: Any):
    """Return a PIL RGB image from a PIL image, a path or a ``datasets`` image dict."""
    return open_image(image).convert("RGB")
