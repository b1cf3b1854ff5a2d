"""The content-addressed image store that makes every render resumable and shareable.

An image's key is the sha256 of everything that decides its pixels (:func:`cache_key`): the
checkpoint's and LoRA's content identities, the pipeline class, scheduler class and settings,
prompt, negative prompt, steps, cfg scale, size, seed, dtype, device type, library versions and,
on a CPU, torch's thread count (1 unless asked otherwise: it changes some pixels by one level). It
does not depend on the sample id, the submission or the number of workers, so two submissions that
ask for the same render share it, and a rerun after a crash renders only what is missing.

Layout: ``ROOT/ab/<key>.png`` plus ``ROOT/ab/<key>.json`` (the sidecar: the key's inputs, timings,
versions). Both are written atomically (temporary file and rename), PNG first: an entry counts only
when its sidecar exists, so a killed run never leaves a half-written image that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatgenbench.core.storage import atomic_write_bytes, atomic_write_json

CACHE_FORMAT = 1
RENDER_LIBRARIES = ("diffusers", "torch", "transformers", "peft", "safetensors")


def library_versions() -> dict[str, str | None]:
    """Return the versions of the libraries that decide rendered pixels (part of every key)."""
    from chatgenbench.core.provenance import package_versions

    return package_versions(RENDER_LIBRARIES)


def default_cache_dir() -> Path:
    """Return the default image cache: ``$CHATGENBENCH_HOME/render-cache``."""
    from chatgenbench.core.storage import chatgenbench_home

    return chatgenbench_home() / "render-cache"


def cache_key(inputs: dict[str, Any]) -> str:
    """Return the hex sha256 of a render's inputs (canonical JSON: sorted keys, no spaces)."""
    text = json.dumps({"format": CACHE_FORMAT, **inputs}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class ImageCache:
    """A folder of PNGs keyed by :func:`cache_key`; safe to share between processes and machines."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def png_path(self, key: str) -> Path:
        """Return where the PNG of ``key`` lives (whether or not it exists)."""
        return self.root / key[:2] / f"{key}.png"

    def sidecar_path(self, key: str) -> Path:
        """Return where the JSON sidecar of ``key`` lives."""
        return self.root / key[:2] / f"{key}.json"

    def has(self, key: str) -> bool:
        """Whether ``key`` is complete (its PNG and its sidecar both exist)."""
        return self.sidecar_path(key).is_file() and self.png_path(key).is_file()

    def put(self, key: str, png: bytes, sidecar: dict[str, Any]) -> Path:
        """Store one image and its sidecar atomically; return the PNG path."""
        path = atomic_write_bytes(self.png_path(key), png)
        atomic_write_json(self.sidecar_path(key), {"key": key, **sidecar})
        return path

    def sidecar(self, key: str) -> dict[str, Any]:
        """Return the sidecar of a stored image."""
        return json.loads(self.sidecar_path(key).read_text("utf-8"))

    def export(self, key: str, target: str | os.PathLike) -> Path:
        """Place the image of ``key`` at ``target`` atomically (a hard link when possible)."""
        return place_file(self.png_path(key), target)


def place_file(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Put ``source``'s bytes at ``target`` atomically: a hard link where possible, else a copy."""
    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and os.path.samefile(source, target):
        return target  # already this file (rename() between two links of one file is a no-op)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        os.unlink(tmp)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def encode_png(image) -> bytes:
    """Return a PIL image as PNG bytes (lossless: JPEG would shift FID)."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
