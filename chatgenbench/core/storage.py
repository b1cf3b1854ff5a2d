"""Files: where ChatGenBench keeps them (``$CHATGENBENCH_HOME``), writes that are never half done,
content hashes for provenance, and checkpoints read as data only."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def chatgenbench_home() -> Path:
    """Return ``$CHATGENBENCH_HOME`` (default ``~/.cache/chatgenbench``): caches and weights."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chatgenbench"
    return Path(os.environ.get("CHATGENBENCH_HOME", default))


def weights_root() -> Path:
    """Return ``$CHATGENBENCH_HOME/weights``: where fetched weights (metrics and checkpoints) live."""
    return chatgenbench_home() / "weights"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A crash leaves either the old file or the new one, never a truncated file.
    Returns the final path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 text; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, payload: Any) -> Path:
    """Atomically write ``payload`` as indented, key-sorted JSON (NaN is refused)."""
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_files(paths: list[Path], root: Path) -> str:
    """Return one sha256 over several files: their paths relative to ``root`` and their bytes."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode("utf-8") + b"\0")
        digest.update(sha256_file(path).encode("ascii"))
    return digest.hexdigest()


def load_checkpoint(path: str | Path) -> Any:
    """Return ``torch.load(path, weights_only=True)`` on the CPU.

    A checkpoint holding objects other than tensors and plain containers is refused with a
    ValueError: checkpoints are never unpickled as code.
    """
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path} holds objects other than tensors and containers; it is not unpickled "
            f"(weights_only=True): {error}"
        ) from error
