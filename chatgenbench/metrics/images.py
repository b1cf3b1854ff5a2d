"""Image inputs of the image metrics: what :meth:`ImageMetric.update` accepts, made PIL.

:func:`open_image` returns the image in its own mode (``RGBA``, ``P``, ``I;16``, ...), for metrics
whose reference resizes before converting to RGB (ImageReward, HPS v2: Pillow premultiplies alpha
when it resizes ``RGBA``/``LA`` and resizes palette images nearest-neighbour, so the order changes
the pixels). :func:`to_rgb` converts first, for metrics whose reference takes RGB tensors (CLIP
score and FID, as torchmetrics does).
"""

from __future__ import annotations

from typing import Any


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
