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

An entry is used only when it verifies (:meth:`ImageCache.check`): its sidecar is a JSON object that
names this key, records the sha256 and size of exactly the PNG beside it, the PNG names this key
in its own text chunk (:func:`encode_png`), and, where the caller says what it asked for (the request's model, weights, prompts and arguments), agrees with that. An
entry that fails is rendered again and overwritten; the render summary counts the reasons
(``cache.rejected``).
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
#: The PNG text chunk that names the cache key an image was rendered for.
PNG_KEY_CHUNK = "chatgenbench-render-key"
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

    def has(self, key: str, expected: dict[str, Any] | None = None) -> bool:
        """Whether ``key`` is complete and verifies (see :meth:`check`)."""
        return self.check(key, expected) is None

    def check(self, key: str, expected: dict[str, Any] | None = None) -> str | None:
        """Return None when the entry of ``key`` can be used, else why not (``missing`` when
        there is no complete entry).

        It must have a sidecar that is a JSON object naming ``key``, whose ``png_sha256`` and
        ``png_bytes`` are those of the PNG, and whose values agree with every item of
        ``expected`` (compared as JSON, as the sidecar stores them).
        """
        sidecar_path, png_path = self.sidecar_path(key), self.png_path(key)
        if not (sidecar_path.is_file() and png_path.is_file()):
            return "missing"
        try:
            sidecar = json.loads(sidecar_path.read_text("utf-8"))
            png = png_path.read_bytes()
        except (OSError, ValueError) as error:
            return f"unreadable entry ({type(error).__name__})"
        if not isinstance(sidecar, dict) or sidecar.get("key") != key:
            return "sidecar names another key"
        if sidecar.get("png_bytes") != len(png) or sidecar.get("png_sha256") != _sha256(png):
            return "image does not match the sha256 in its sidecar"
        if png_key(png) != key:
            return "image was rendered for another key (its PNG key chunk)"
        if expected:
            wanted = json.loads(json.dumps(expected, sort_keys=True))
            differing = sorted(k for k, v in wanted.items() if sidecar.get(k) != v)
            if differing:
                return "sidecar describes another request (" + ", ".join(differing) + ")"
        return None

    def put(self, key: str, png: bytes, sidecar: dict[str, Any]) -> Path:
        """Store one image and its sidecar (with the PNG's sha256 and size) atomically; return
        the PNG path.

        A PNG that does not name its key yet (a backend that encoded it itself) gets the key
        chunk added (:func:`with_png_key`, pixels untouched); one that names another key raises
        ValueError: it answers another request.
        """
        png = with_png_key(png, key)
        path = atomic_write_bytes(self.png_path(key), png)
        record = {**sidecar, "key": key, "png_sha256": _sha256(png), "png_bytes": len(png)}
        atomic_write_json(self.sidecar_path(key), record)
        return path

    def discard(self, key: str) -> bool:
        """Remove the entry of ``key`` (image and sidecar, when present); return whether there was
        one. For images that must not be used: rendered from a file that failed its check."""
        found = False
        for path in (self.sidecar_path(key), self.png_path(key)):
            try:
                path.unlink()
                found = True
            except FileNotFoundError:
                continue
        return found

    def sidecar(self, key: str) -> dict[str, Any]:
        """Return the sidecar of a stored image."""
        return json.loads(self.sidecar_path(key).read_text("utf-8"))

    def export(self, key: str, target: str | os.PathLike) -> Path:
        """Place the image of ``key`` at ``target`` atomically (a hard link when possible)."""
        return place_file(self.png_path(key), target)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def encode_png(image, key: str | None = None, parameters: str | None = None) -> bytes:
    """Return a PIL image as PNG bytes (lossless: JPEG would shift FID).

    ``key``: the cache key the image was rendered for, written into the PNG as a text chunk
    (:data:`PNG_KEY_CHUNK`; the pixels are unchanged), so that the image itself says which request
    it answers and :meth:`ImageCache.check` can tell an image moved from another entry.
    ``parameters``: the generation parameters in AUTOMATIC1111's text
    (:func:`chatgenbench.render.png_parameters.parameters_text`), written as the ``parameters``
    chunk that A1111's PNG Info and Civitai read (``tEXt``, or ``iTXt`` when not Latin-1).
    """
    import io

    from PIL.PngImagePlugin import PngInfo

    info = None
    if key is not None or parameters is not None:
        info = PngInfo()
    if parameters is not None:
        from chatgenbench.render.png_parameters import PARAMETERS_CHUNK

        info.add_text(PARAMETERS_CHUNK, parameters)
    if key is not None:
        info.add_text(PNG_KEY_CHUNK, key)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def with_png_key(png: bytes, key: str) -> bytes:
    """Return ``png`` naming ``key`` in its :data:`PNG_KEY_CHUNK` text chunk.

    A PNG that already names ``key`` is returned as it is; one without the chunk gets a ``tEXt``
    chunk inserted before ``IEND`` (the image data is not re-encoded, so the pixels are the same
    bytes). Raises ValueError for bytes that are not a PNG ending in ``IEND``, or a PNG that names
    another key.
    """
    import struct
    import zlib

    found = png_key(png)
    if found == key:
        return png
    if found is not None:
        raise ValueError(f"the image names another cache key ({found[:16]}...), not {key[:16]}...")
    iend = len(png) - 12
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or png[iend + 4 : iend + 8] != b"IEND":
        raise ValueError("not a PNG that ends with its IEND chunk")
    data = PNG_KEY_CHUNK.encode("latin-1") + b"\0" + key.encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF)
    return png[:iend] + chunk + png[iend:]


def png_key(png: bytes) -> str | None:
    """Return the cache key written into a PNG by :func:`encode_png`, or None."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as image:
            key = getattr(image, "text", {}).get(PNG_KEY_CHUNK)
    except (OSError, ValueError, SyntaxError):  # PIL's errors for a truncated or foreign file
        return None
    return key if isinstance(key, str) else None
