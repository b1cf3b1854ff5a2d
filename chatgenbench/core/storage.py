"""Files: where ChatGenBench keeps them (``$CHATGENBENCH_HOME``), writes that are never half done,
content hashes for provenance, and checkpoints read as data only.

Paths that come from data (a render manifest, a submission folder, a weights folder) are read only
through :func:`open_regular_file` / :func:`read_regular_bytes`: a FIFO, a device or a folder is
refused before anything blocks on it, and with ``within=`` a path (or a link) that leads outside
that folder is refused too. :func:`atomic_write_bytes` with ``within=`` refuses to write through a
symbolic link. Both raise :class:`UnsafeFileError`, an ``OSError``, so readers that already skip
an unreadable file skip these too.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
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


class UnsafeFileError(OSError):
    """A path that is not read or written: not a regular file, outside its folder, or a link."""


def check_within(path: str | os.PathLike, root: str | os.PathLike) -> Path:
    """Return ``path`` resolved (links followed); raise :class:`UnsafeFileError` when it leads
    outside ``root`` (resolved too)."""
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(Path(root).resolve()):
        raise UnsafeFileError(f"{path}: leads outside {root} (to {resolved}); not followed")
    return resolved


def check_no_links(path: str | os.PathLike, root: str | os.PathLike) -> None:
    """Raise :class:`UnsafeFileError` when ``path`` is not under ``root`` (as written) or when
    ``root`` or any component of ``path`` below it is a symbolic link (what a write refuses)."""
    path, root = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    if not path.is_relative_to(root):
        raise UnsafeFileError(f"{path}: not inside {root}; not written")
    current = root
    for part in ("", *path.relative_to(root).parts):
        current = current / part if part else current
        if current.is_symlink():
            raise UnsafeFileError(f"{current}: a symbolic link; nothing is written through it")


def open_regular_file(path: str | os.PathLike, *, within: str | os.PathLike | None = None):
    """Open ``path`` for reading bytes, only when it is a regular file (never blocks).

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat``, so a FIFO or a device is
    refused instead of waited on. With ``within``, a path whose resolved location is outside that
    folder (through ``..`` or a symbolic link) is refused. Returns a binary file object; raises
    :class:`UnsafeFileError` (an OSError) for what is refused and OSError when it cannot be opened.
    """
    if within is not None:
        check_within(path, within)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO, device or socket"
            raise UnsafeFileError(f"{path}: {kind}, not a regular file; not read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_bytes(
    path: str | os.PathLike,
    *,
    within: str | os.PathLike | None = None,
    max_bytes: int | None = None,
) -> bytes:
    """Return the bytes of a regular file (see :func:`open_regular_file`).

    With ``max_bytes``, a larger file raises :class:`UnsafeFileError` (nothing more is read).
    """
    with open_regular_file(path, within=within) as handle:
        if max_bytes is None:
            return handle.read()
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFileError(f"{path}: over the {max_bytes}-byte limit; not read")
    return data


def current_umask() -> int:
    """Return the process's umask (what ``open`` and ``mkdir`` leave out of a new file's mode)."""
    try:  # Linux says it without changing it; reading it through os.umask sets it for a moment
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):  # not Linux, or an old kernel: ask os.umask below
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(target: str | os.PathLike | int, *, directory: bool = False) -> None:
    """Give a file (a path or an open descriptor) or a folder the mode a plain ``open`` or
    ``mkdir`` would have given it: ``0o666`` or ``0o777`` less the umask.

    ``tempfile.mkstemp`` and ``mkdtemp`` create ``0o600`` files and ``0o700`` folders, private to
    their owner whatever the umask; what is written through them and then moved into place
    (benchmark folders, results, caches) is meant to be shared as the user's umask says.
    """
    mode = (0o777 if directory else 0o666) & ~current_umask()
    if isinstance(target, int):
        os.fchmod(target, mode)
    else:
        os.chmod(target, mode)


def atomic_write_bytes(
    path: str | os.PathLike,
    data: bytes,
    *,
    within: str | os.PathLike | None = None,
    private: bool = False,
) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A crash leaves either the old file or the new one, never a truncated file.
    With ``within``, the path must lie inside that folder and no component of it (the folder
    included, the file too) may be a symbolic link: :class:`UnsafeFileError` otherwise, and
    nothing is written. The file gets the mode a plain ``open`` would give it (``0o666`` less the
    umask: :func:`apply_umask`), or ``0o600`` with ``private``. Returns the final path.
    """
    path = Path(path)
    if within is not None:
        check_no_links(path, within)
    path.parent.mkdir(parents=True, exist_ok=True)
    if within is not None:
        check_no_links(path, within)  # again: a link may have been made beside the mkdir
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if not private:
            apply_umask(fd)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(
    path: str | os.PathLike,
    text: str,
    *,
    within: str | os.PathLike | None = None,
    private: bool = False,
) -> Path:
    """Atomically write UTF-8 text; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"), within=within, private=private)


def atomic_write_json(path: str | os.PathLike, payload: Any) -> Path:
    """Atomically write ``payload`` as indented, key-sorted JSON (NaN is refused)."""
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a regular file's bytes (a FIFO or device: UnsafeFileError)."""
    digest = hashlib.sha256()
    with open_regular_file(path) as handle:
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
