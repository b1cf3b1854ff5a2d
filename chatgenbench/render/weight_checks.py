"""Checking weight files against the catalogue's digests, and reading them ahead, off the critical path.

A catalogue entry may give its file's digests (``weights.sha256``, ``weights.blake3``,
``weights.autov2``: what Civitai lists for a model file). Each is checked from the same bytes that
warm the page cache for the load: a :class:`WeightChecker` reads a file once, on a background
thread, computing the digest as it reads, while the pipeline loads (the two readers share the page
cache, so the file comes off the disk once) and while the group renders. The group's images are
held back until the check answers; a file that turns out wrong fails its group, with both digests,
and none of its images reaches the cache.

Which digest is checked: the fastest strong one the entry gives (:data:`DIGEST_PREFERENCE`):
BLAKE3 (several times faster than SHA-256, and parallel), then SHA-256, then AutoV2 (the first 10
hex digits of the SHA-256, as Civitai and A1111 show it: 40 bits, a typo check rather than an
identity). The render summary records which one was checked for every file.

``--verify`` (:data:`VERIFY_MODES`):

- ``first-load`` (default): a file is checked the first time it is loaded on this machine; the
  digest is then remembered by path, size and mtime (in the render cache's ``weights_index.json``);
- ``always``: every load of a file is checked, remembered digests or not;
- ``never``: no check; the catalogue's digest is trusted as the file's identity.

Read-ahead: while a group renders, the next groups' files (the plan's order, skipping checkpoints
the pipeline LRU still holds) are read on one background thread, digest included, so that their
load finds the file in the page cache and their check already done. The bytes read ahead of files
not yet loaded are bounded by a memory budget (``--readahead-mb``; default a quarter of the
machine's memory, at most 16 GiB; 0 turns read-ahead off): a reader that reaches the budget waits
until a load takes its file. Loads whose file was not fully read ahead are counted
(``loads_not_hidden``).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERIFY_MODES: tuple[str, ...] = ("first-load", "always", "never")
DEFAULT_VERIFY = "first-load"
#: The digest a check uses when an entry gives several: the first of these it gives.
DIGEST_PREFERENCE: tuple[str, ...] = ("blake3", "sha256", "autov2")
#: Hex digits of each digest as a catalogue writes it.
DIGEST_LENGTHS: dict[str, int] = {"blake3": 64, "sha256": 64, "autov2": 10}
_CHUNK = 8 << 20
_MAX_BUDGET = 16 << 30


def default_readahead_bytes() -> int:
    """Return the default read-ahead budget: a quarter of physical memory, at most 16 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf here: a modest fixed budget
        return 2 << 30
    return int(min(total // 4, _MAX_BUDGET))


def check_verify_mode(mode: str | None) -> str:
    """Return ``mode`` (None: the default); raise ValueError naming the modes for another value."""
    mode = DEFAULT_VERIFY if mode in (None, "") else str(mode)
    if mode not in VERIFY_MODES:
        raise ValueError(f"verify mode must be one of {', '.join(VERIFY_MODES)}; got {mode!r}")
    return mode


def chosen_digest(digests: dict[str, str] | tuple[tuple[str, str], ...]) -> tuple[str, str] | None:
    """Return the ``(algorithm, expected hex)`` a check uses of a file's catalogue digests."""
    given = dict(digests)
    for algorithm in DIGEST_PREFERENCE:
        if given.get(algorithm):
            return algorithm, given[algorithm]
    return None


def new_hasher(algorithm: str) -> Any:
    """Return a hasher with ``update`` and ``hexdigest`` for ``algorithm`` (AutoV2: a SHA-256).

    BLAKE3 hashes with every core (``max_threads=AUTO``); it needs the ``blake3`` package (the
    ``render`` extra). Raises ValueError for an unknown algorithm.
    """
    if algorithm in ("sha256", "autov2"):
        return hashlib.sha256()
    if algorithm == "blake3":
        import blake3

        return blake3.blake3(max_threads=blake3.blake3.AUTO)
    raise ValueError(f"unknown digest {algorithm!r}; expected one of {DIGEST_PREFERENCE}")


def digests_match(algorithm: str, actual: str, expected: str) -> bool:
    """Whether a computed digest is the catalogue's (case-insensitive hex)."""
    return actual.lower() == expected.lower()


@dataclass
class CheckResult:
    """What checking one file found: the digest used, both values, and what reading it took."""

    path: str
    algorithm: str
    expected: str
    actual: str
    seconds: float
    bytes_read: int
    #: the whole file had been read ahead when a load asked for it
    read_ahead: bool = False
    #: the full hex digest read (for AutoV2: the SHA-256 it is cut from), to remember
    full_hex: str = ""

    @property
    def ok(self) -> bool:
        """Whether the file's bytes are the catalogue's."""
        return digests_match(self.algorithm, self.actual, self.expected)

    def problem(self) -> str:
        """Return the sentence that names the file and both digests (for a failed group)."""
        return (
            f"{self.algorithm} of {self.path} is {self.actual}, the catalogue expects "
            f"{self.expected}"
        )


@dataclass
class _Read:
    """One file being read: its future, bytes read so far, and whether a load has claimed it."""

    path: str
    size: int
    future: Future
    claimed: bool = False
    started: bool = False
    cancelled: bool = False  # replaced by a read of its own before it started
    done_bytes: int = 0
    counted_ahead: int = 0  # bytes of this file that count against the read-ahead budget


@dataclass
class ReadAheadStats:
    """What the checker did: files checked, their seconds, loads read ahead in time or not."""

    files_checked: int = 0
    check_seconds: float = 0.0
    checks_by_digest: dict[str, int] = field(default_factory=dict)
    files_read_ahead: int = 0
    bytes_read_ahead: int = 0
    peak_bytes_ahead: int = 0


class WeightChecker:
    """Reads weight files on background threads, digest computed as read, within a budget.

    ``budget_bytes`` bounds the bytes read ahead of files that no load has claimed yet (0: no
    read-ahead; a claimed file is always read to its end). :meth:`read_ahead` queues a file on the
    read-ahead thread; :meth:`claim` says a load needs it now (reading starts at once on a thread
    of its own when it was not queued) and returns the future of its :class:`CheckResult` (None
    when there is nothing to check). Never raises for a bad file: the future holds the error.
    """

    def __init__(self, budget_bytes: int | None = None) -> None:
        self.budget = default_readahead_bytes() if budget_bytes is None else max(0, budget_bytes)
        self.stats = ReadAheadStats()
        self._reads: dict[str, _Read] = {}
        self._lock = threading.Condition()
        self._ahead_bytes = 0
        self._ahead_pool: ThreadPoolExecutor | None = None
        self._now_pool: ThreadPoolExecutor | None = None
        self._closed = False

    # -- asking -----------------------------------------------------------------------------------
    def read_ahead(self, path: str, digest: tuple[str, str] | None) -> bool:
        """Queue ``path`` to be read ahead (checking ``digest`` when given); return whether it was
        queued (False: no budget, already read or queued)."""
        if self.budget <= 0:
            return False
        with self._lock:
            if path in self._reads:
                return False
            if self._ahead_pool is None:
                self._ahead_pool = ThreadPoolExecutor(1, thread_name_prefix="weights-read-ahead")
            read = _Read(path, _size(path), Future())
            self._reads[path] = read
        self._ahead_pool.submit(self._run, read, digest)
        self.stats.files_read_ahead += 1
        return True

    def claim(self, path: str, digest: tuple[str, str] | None) -> tuple[Future, bool]:
        """Say a load needs ``path`` now; return the future of its check and whether the whole
        file had already been read ahead (a load that then comes from the page cache)."""
        with self._lock:
            read = self._reads.get(path)
            if read is not None and read.future.done() and read.claimed:
                read = None  # read for an earlier load: this load is checked again
            elif read is not None and not read.started:  # queued behind other read-aheads
                read.cancelled = True
                self._reads.pop(path)
                read = None
            if read is None and digest is None:  # nothing to check and nothing read ahead
                done: Future = Future()
                done.set_result(None)
                return done, False
            if read is None:
                if self._now_pool is None:
                    self._now_pool = ThreadPoolExecutor(2, thread_name_prefix="weights-check")
                read = _Read(path, _size(path), Future(), claimed=True)
                self._reads[path] = read
                self._now_pool.submit(self._run, read, digest)
                return read.future, False
            read.claimed = True
            self._ahead_bytes -= read.counted_ahead
            read.counted_ahead = 0
            self._lock.notify_all()
            hidden = read.future.done()
        return read.future, hidden

    def forget(self, path: str) -> None:
        """Drop what is known of ``path`` (after a failed check: the next load reads it again)."""
        with self._lock:
            read = self._reads.pop(path, None)
            if read is not None:
                self._ahead_bytes -= read.counted_ahead
                self._lock.notify_all()

    def ahead_bytes(self) -> int:
        """Bytes read ahead of files no load has claimed yet (never above the budget)."""
        with self._lock:
            return self._ahead_bytes

    def close(self) -> None:
        """Stop the threads (reads in progress are abandoned)."""
        with self._lock:
            self._closed = True  # readers stop at their next chunk
            self._lock.notify_all()
        for pool in (self._ahead_pool, self._now_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    # -- reading ----------------------------------------------------------------------------------
    def _run(self, read: _Read, digest: tuple[str, str] | None) -> None:
        with self._lock:
            if read.cancelled:
                return
            read.started = True
        try:
            result = self._read(read, digest)
        except BaseException as error:  # the future carries any failure to the group that waits
            read.future.set_exception(error)
            return
        read.future.set_result(result)

    def _read(self, read: _Read, digest: tuple[str, str] | None) -> CheckResult | None:
        from chatgenbench.core.storage import open_regular_file

        start = time.perf_counter()
        hasher = new_hasher(digest[0]) if digest else None
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        with open_regular_file(read.path) as handle:
            while True:
                if not self._wait_for_budget(read):
                    raise RuntimeError(f"reading {read.path} was stopped: the checker was closed")
                count = handle.readinto(buffer)
                if not count:
                    break
                if hasher is not None:
                    hasher.update(view[:count])
                self._account(read, count)
        if hasher is None:
            return None
        seconds = time.perf_counter() - start
        with self._lock:
            self.stats.files_checked += 1
            self.stats.check_seconds += seconds
            by = self.stats.checks_by_digest
            by[digest[0]] = by.get(digest[0], 0) + 1
        full = hasher.hexdigest()
        actual = full[:10].upper() if digest[0] == "autov2" else full
        return CheckResult(read.path, digest[0], digest[1], actual, seconds, read.done_bytes,
                           read_ahead=not read.claimed, full_hex=full)  # fmt: skip

    def _wait_for_budget(self, read: _Read) -> bool:
        """Wait until ``read`` may read a chunk; return False when the checker was closed."""
        with self._lock:
            while (
                not self._closed and not read.claimed and self._ahead_bytes + _CHUNK > self.budget
            ):
                self._lock.wait(0.5)
            return not self._closed

    def _account(self, read: _Read, count: int) -> None:
        with self._lock:
            read.done_bytes += count
            if not read.claimed:
                read.counted_ahead += count
                self._ahead_bytes += count
                self.stats.bytes_read_ahead += count
                self.stats.peak_bytes_ahead = max(self.stats.peak_bytes_ahead, self._ahead_bytes)


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:  # a missing file: its reader reports the error through the future
        return 0
