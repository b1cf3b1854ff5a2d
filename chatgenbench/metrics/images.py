"""Image inputs of the image metrics: what :meth:`ImageMetric.update` accepts, made PIL RGB."""

from __future__ import annotations

from typing import Any


def to_rgb(image: Any):
    """Return a PIL RGB image from a PIL image, a path or a ``datasets`` image dict."""
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
    return image.convert("RGB")
