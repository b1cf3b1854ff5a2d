"""Reading members out of untrusted archives without extracting them: ``.tar``, ``.tar.gz``/``.tgz``,
``.tar.bz2``, ``.tar.xz`` and ``.zip``.

The official release ships its images as a compressed tar (``few_test_img/few_test.tar.gz``), and an
archive from outside is untrusted. So nothing here writes to disk: members are streamed in one pass
and their bytes handed to the caller in memory. A member is *refused* (counted in the
:class:`ArchiveReport`, with its name, never read) when

- its name is absolute, has a drive letter, a ``..`` part or a NUL (``unsafe_path``), or is not
  UTF-8 text (``name_not_utf8``: its bytes could not be stored in a benchmark folder);
- it is a symbolic or hard link (``link``), or a device, FIFO or other special file (``special_file``);
- it is larger than :attr:`ArchiveLimits.max_member_bytes` (``oversize``);
- a zip member claims more than :attr:`ArchiveLimits.max_ratio` times its compressed size, or its
  data cannot be read back as declared (``bomb``, ``corrupt``, ``encrypted``).

Bounds hold over the whole archive, not only per member. Compressed tars are decompressed here in
small chunks with a bounded output size, counting the bytes in and out: when the whole stream, or
the current member alone, passes ``max_ratio`` (after a ``ratio_slack_bytes`` allowance), or the
stream passes ``max_total_bytes``, reading stops with ``stopped`` set in the report. A zip whose
members together declare more than ``max_total_bytes``, or more than ``max_ratio`` times the
archive's size on disk, is refused whole before any member is read (``stopped``, one ``bomb``).
Members are yielded one at a time and nothing here keeps them: memory stays bounded by the member
size limit whatever the archive holds.

>>> archive_suffix("few_test_img/few_test.tar.gz")
'.tar.gz'
>>> member_keys("shard-0/000123.ref.png")
['shard-0/000123.ref.png', 'shard-0/000123.ref', '000123.ref.png', '000123.ref', '000123']
"""

from __future__ import annotations

import bz2
import io
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from chatgenbench.core.errors import BenchmarkError
from chatgenbench.core.normalize import has_lone_surrogate, printable_text

MiB = 1024 * 1024

#: Archive file endings read here, longest first, each with its compression.
ARCHIVE_SUFFIXES: dict[str, str] = {
    ".tar.gz": "gz",
    ".tar.bz2": "bz2",
    ".tar.xz": "xz",
    ".tgz": "gz",
    ".tbz2": "bz2",
    ".txz": "xz",
    ".tar": "tar",
    ".zip": "zip",
}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
REFUSAL_REASONS = (
    "unsafe_path",
    "name_not_utf8",
    "link",
    "special_file",
    "oversize",
    "bomb",
    "corrupt",
    "encrypted",
    "too_many_members",
)
_CHUNK = 16 * 1024
_TAR_BUFFER = 256 * 1024  # tarfile's stream reads: larger than its 10 KiB default, fewer copies
_EXAMPLES = 20


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on what one archive may make us read (defaults fit the official image archives)."""

    max_member_bytes: int = 64 * MiB
    max_total_bytes: int = 32 * 1024 * MiB
    max_ratio: float = 100.0
    ratio_slack_bytes: int = 16 * MiB
    max_members: int = 2_000_000


@dataclass
class ArchiveReport:
    """What one pass over an archive saw: members, their extensions, what was refused and why."""

    path: str
    members: int = 0
    extensions: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    refused_examples: list[dict[str, str]] = field(default_factory=list)
    stopped: str | None = None
    uncompressed_bytes: int = 0

    def refuse(self, name: str, reason: str) -> None:
        """Count one refused member (and keep the first few names as examples)."""
        self.refused[reason] += 1
        if len(self.refused_examples) < _EXAMPLES:
            self.refused_examples.append({"name": printable_text(name), "reason": reason})

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return {
            "members": self.members,
            "extensions": dict(self.extensions.most_common()),
            "refused": dict(self.refused),
            "refused_examples": list(self.refused_examples),
            "stopped": self.stopped,
            "uncompressed_bytes": self.uncompressed_bytes,
        }


def archive_suffix(path: str | os.PathLike) -> str | None:
    """Return the archive ending of ``path`` (``.tar.gz``, ``.zip``, ...), or None if not one."""
    name = str(path).casefold()
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def unsafe_member_name(name: str) -> bool:
    """Whether an archive member's name could escape a folder (absolute, drive, ``..``, NUL)."""
    if not name or "\x00" in name:
        return True
    normal = name.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal):
        return True
    return ".." in normal.split("/")


def member_extension(name: str) -> str:
    """Return a member's last extension, lower case (``.png``), or ``''``."""
    return PurePosixPath(name.replace("\\", "/")).suffix.casefold()


def member_keys(name: str) -> list[str]:
    """Return the names a member (or a record's image reference) answers to, most specific first.

    The full path, the path without its extension, the file name, the file name without its
    extension, and the webdataset key (the file name up to its first dot).
    """
    path = PurePosixPath(name.replace("\\", "/").strip())
    while path.parts and path.parts[0] == ".":
        path = PurePosixPath(*path.parts[1:])
    full = path.as_posix() if path.parts else ""
    keys = [full, full[: -len(path.suffix)] if path.suffix else full, path.name, path.stem]
    keys.append(path.name.split(".", 1)[0])
    unique: list[str] = []
    for key in keys:
        if key and key not in unique:
            unique.append(key)
    return unique


def webdataset_key(name: str) -> tuple[str, str]:
    """Split a member name into its webdataset ``(key, extension)``: ``a/b.ref.png -> (a/b, ref.png)``."""
    path = PurePosixPath(name.replace("\\", "/"))
    stem, _, extension = path.name.partition(".")
    parent = path.parent.as_posix()
    key = stem if parent in ("", ".") else f"{parent}/{stem}"
    return key, extension.casefold()


class _Bomb(Exception):
    """Raised inside the decompressing stream when a limit is passed."""


class _GuardedStream(io.RawIOBase):
    """A file's decompressed bytes, produced in bounded chunks and counted against the limits."""

    def __init__(self, raw, compression: str, limits: ArchiveLimits) -> None:
        self._raw = raw
        self._compression = compression
        self._limits = limits
        self._decompressor = self._new()
        self._tail = b""
        self._eof = False
        self.compressed = 0
        self.uncompressed = 0
        self._mark = (0, 0)

    def _new(self):
        if self._compression == "gz":
            return zlib.decompressobj(wbits=31)
        if self._compression == "bz2":
            return bz2.BZ2Decompressor()
        if self._compression == "xz":
            return lzma.LZMADecompressor()
        return None

    def readable(self) -> bool:
        return True

    def mark_member(self) -> None:
        """Start counting a new member's ratio from here."""
        self._mark = (self.compressed, self.uncompressed)

    def _read_raw(self) -> bytes:
        chunk = self._raw.read(_CHUNK)
        self.compressed += len(chunk)
        return chunk

    def _step(self, size: int) -> bytes:
        if self._decompressor is None:
            return self._raw_exact(size)
        d = self._decompressor
        if self._tail:
            data, self._tail = self._tail, b""
            out = d.decompress(data, size)
            self._tail = getattr(d, "unconsumed_tail", b"")
            return out
        if self._compression != "gz" and not d.eof and not d.needs_input:
            return d.decompress(b"", size)
        if d.eof:
            rest = d.unused_data or self._read_raw()
            if not rest.strip(b"\x00"):  # end of stream, or zero padding after it
                self._eof = True
                return b""
            self._decompressor = d = self._new()  # a further concatenated stream
            out = d.decompress(rest, size)
        else:
            chunk = self._read_raw()
            if not chunk:
                raise EOFError("the compressed stream ends early")
            out = d.decompress(chunk, size)
        self._tail = getattr(d, "unconsumed_tail", b"")
        return out

    def _raw_exact(self, size: int) -> bytes:
        chunk = self._raw.read(size)
        self.compressed += len(chunk)
        return chunk

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and not self._eof:
            out = self._step(len(view) - filled)
            if self._decompressor is None and not out:
                self._eof = True
            view[filled : filled + len(out)] = out
            filled += len(out)
            self.uncompressed += len(out)
            self._check()
        return filled

    def _check(self) -> None:
        limits = self._limits
        if self.uncompressed > limits.max_total_bytes:
            raise _Bomb(f"more than {limits.max_total_bytes} bytes uncompressed")
        if self._decompressor is None and self._compression == "tar":
            return
        ratio, slack = limits.max_ratio, limits.ratio_slack_bytes
        if self.uncompressed > slack and self.uncompressed > ratio * (self.compressed + _CHUNK):
            raise _Bomb(f"the archive expands more than {ratio:g} times")
        member_out = self.uncompressed - self._mark[1]
        member_in = self.compressed - self._mark[0]
        if member_out > slack and member_out > ratio * (member_in + _CHUNK):
            raise _Bomb(f"a member expands more than {ratio:g} times")


def read_archive(
    path: str | os.PathLike,
    *,
    want: Callable[[str], bool] | None = None,
    limits: ArchiveLimits | None = None,
    report: ArchiveReport | None = None,
) -> Iterator[tuple[str, bytes | None]]:
    """Yield ``(name, data)`` for every safe regular member of an archive, in archive order.

    ``data`` holds the member's bytes when ``want(name)`` is true, else None (the member is only
    counted). Refused members are never yielded; they are counted in ``report`` (pass one to read
    it afterwards). Directories are skipped. Raises :class:`BenchmarkError` for a file that is not a
    readable archive; a limit passed mid-way ends the iteration with ``report.stopped`` set.
    """
    path = Path(path)
    limits = limits or ArchiveLimits()
    report = report if report is not None else ArchiveReport(str(path))
    suffix = archive_suffix(path)
    if suffix is None:
        raise BenchmarkError(
            f"{path}: not an archive (known endings: {', '.join(ARCHIVE_SUFFIXES)})"
        )
    if ARCHIVE_SUFFIXES[suffix] == "zip":
        yield from _read_zip(path, want, limits, report)
    else:
        yield from _read_tar(path, ARCHIVE_SUFFIXES[suffix], want, limits, report)


def _read_tar(path, compression, want, limits, report) -> Iterator[tuple[str, bytes | None]]:
    with open(path, "rb") as raw:
        stream = _GuardedStream(raw, compression, limits)
        seen, name = 0, ""
        try:
            archive = tarfile.open(fileobj=stream, mode="r|", bufsize=_TAR_BUFFER)
            while True:
                stream.mark_member()
                member = archive.next()
                if member is None:
                    break
                seen += 1
                if seen > limits.max_members:
                    report.stopped = f"more than {limits.max_members} members"
                    report.refuse(member.name, "too_many_members")
                    break
                name = member.name
                if member.isdir():
                    continue
                if unsafe_member_name(name):
                    report.refuse(name, "unsafe_path")
                elif has_lone_surrogate(name):
                    report.refuse(name, "name_not_utf8")
                elif member.issym() or member.islnk():
                    report.refuse(name, "link")
                elif not member.isfile():
                    report.refuse(name, "special_file")
                elif member.size > limits.max_member_bytes:
                    report.refuse(name, "oversize")
                else:
                    data = None
                    if want is not None and want(name):
                        data = _read_tar_member(archive, member)
                    report.members += 1
                    report.extensions[member_extension(name)] += 1
                    yield name, data
        except _Bomb as error:
            where = f"{name} (member {seen})" if seen else "the first member"
            report.stopped = (
                f"compression bomb at {where} or just after: {error}; the rest of the archive "
                "was not read"
            )
            report.refuse(name or "(start of archive)", "bomb")
        except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as error:
            if seen == 0:
                raise BenchmarkError(
                    f"{path}: not a readable {compression} tar archive ({error})",
                    how_to_fix="check the download (its size and checksum) and try again",
                ) from None
            report.stopped = f"archive damaged after {seen} members ({error})"
        finally:
            report.uncompressed_bytes = stream.uncompressed


def _read_tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """Read a member in chunks, so that memory follows what was inflated, not what is declared."""
    handle = archive.extractfile(member)
    if handle is None:
        return b""
    parts, left = [], member.size
    while left > 0:
        chunk = handle.read(min(left, MiB))
        if not chunk:
            raise EOFError(f"member {member.name!r} ends early")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _zip_file_type(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "special_file"
    return "file"


def _read_zip(path, want, limits, report) -> Iterator[tuple[str, bytes | None]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as error:  # a name flagged UTF-8
        raise BenchmarkError(
            f"{path}: not a readable zip archive ({error})",
            how_to_fix="check the download (its size and checksum) and try again",
        ) from None
    with archive:
        if _zip_declares_too_much(path, archive, limits, report):
            return
        total = 0
        for number, info in enumerate(archive.infolist(), 1):
            name = info.filename
            if number > limits.max_members:
                report.stopped = f"more than {limits.max_members} members"
                report.refuse(name, "too_many_members")
                break
            if info.is_dir():
                continue
            kind = _zip_file_type(info)
            declared_ratio = info.file_size / max(info.compress_size, 1)
            if unsafe_member_name(name):
                report.refuse(name, "unsafe_path")
            elif has_lone_surrogate(name):
                report.refuse(name, "name_not_utf8")
            elif kind != "file":
                report.refuse(name, kind)
            elif info.file_size > limits.max_member_bytes:
                report.refuse(name, "oversize")
            elif info.file_size > limits.ratio_slack_bytes and declared_ratio > limits.max_ratio:
                report.refuse(name, "bomb")
            elif total + info.file_size > limits.max_total_bytes:
                report.stopped = f"more than {limits.max_total_bytes} bytes uncompressed"
                report.refuse(name, "bomb")
                break
            else:
                data = None
                if want is not None and want(name):
                    data = _read_zip_member(archive, info, report)
                    if data is None:
                        continue
                total += info.file_size
                report.members += 1
                report.extensions[member_extension(name)] += 1
                yield name, data
        report.uncompressed_bytes = total


def _zip_declares_too_much(path: Path, archive: zipfile.ZipFile, limits, report) -> bool:
    """Refuse a whole zip, before reading a member, when its central directory declares more
    bytes than ``max_total_bytes``, or more than ``max_ratio`` times the archive's size on disk
    (after ``ratio_slack_bytes``): members each under the per-member bounds may sum to a bomb.

    The archive's size on disk is used, not the members' declared compressed sizes, which a forged
    central directory can inflate. A member cannot inflate past its declared size (reading stops
    there, and a member whose data does not match is ``corrupt``), so the declared total bounds
    what is inflated.
    """
    declared = sum(info.file_size for info in archive.infolist() if not info.is_dir())
    on_disk = max(path.stat().st_size, 1)
    if declared > limits.max_total_bytes:
        why = f"more than {limits.max_total_bytes} bytes uncompressed"
    elif declared > limits.ratio_slack_bytes and declared > limits.max_ratio * on_disk:
        why = f"the archive expands more than {limits.max_ratio:g} times"
    else:
        return False
    report.stopped = (
        f"compression bomb: its members declare {declared} bytes in all from {on_disk} bytes on "
        f"disk ({why}); no member was read"
    )
    report.refuse("(whole archive)", "bomb")
    return True


def _read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, report) -> bytes | None:
    try:
        with archive.open(info) as handle:
            data = handle.read(info.file_size + 1)  # zipfile stops at the declared size
    except RuntimeError:  # zipfile's answer to an encrypted member
        report.refuse(info.filename, "encrypted")
        return None
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError) as error:
        reason = "bomb" if "overlap" in str(error).casefold() else "corrupt"
        report.refuse(info.filename, reason)
        return None
    if len(data) != info.file_size:
        report.refuse(info.filename, "corrupt")
        return None
    return data
