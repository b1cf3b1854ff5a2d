"""The index of a submissions store: every page run reads the store in a few stats, not a parse.

Listing a store means reading each submission's ``meta.yaml`` (a bounded safe YAML parse) and
``results.json`` (up to 32 MiB, checked against the results schema): linear in the store, about
1 ms a submission, so a page of 10,000 submissions took seconds on every click. The index keeps
what reading gave (:class:`leaderboard.submissions.Submission`: metadata, results, problems) in
memory and in ``STORE/.index.sqlite3``, keyed by a **signature** of the files it came from.

**Never stale.** Each :meth:`StoreIndex.submissions` call lists the store folder and stats, per
submission, the folder itself (a file added, removed or renamed into it changes its mtime),
``meta.yaml``, ``results.json`` and the run record ``predictions.run.json``: modification time
in nanoseconds, change time, size and inode. A submission whose signature differs from the
indexed one is read again from its files (a new folder is read; a deleted one is dropped; a
results file corrupted behind the index's back is read, found broken and shown with its
problems, never ranked). Like git's index, an entry whose files changed within
:data:`RACY_SECONDS` of being read is not trusted (an edit in the same clock tick that keeps the
size would keep the signature): it is read again until its files are older than that.

**Only a cache.** The files are the truth. A missing, corrupt, locked or unwritable index file is
rebuilt from the folders or, when it cannot be written, the index keeps working in memory
(:attr:`StoreIndex.problem` says why); nothing a page shows depends on the file being there. It is
safe to delete at any time, and it is left out of backups (docs/store.md).

**Generation.** :attr:`StoreIndex.generation` grows whenever a refresh finds any change, so what
is derived from the whole list (a ranking view: :func:`leaderboard.ranking_views.cached_ranking`) is cached per generation
and rebuilt only when the store changed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatgenbench.core.errors import SubmissionError
from leaderboard.store_location import INDEX_FILENAME

# The index knows a submission only through its store (``store._read``, ``store.path_for``,
# ``Submission.to_record`` / ``from_record`` handed over by the store), so that
# ``leaderboard.submissions`` can make it without an import cycle.

INDEX_SCHEMA_VERSION = 1
#: An entry whose files changed this recently (seconds) when it was read is read again.
RACY_SECONDS = 2.0
#: Ranking views kept per generation (every setting x input type x sort x reported is 4 x 3 x ...).
MAX_CACHED_VIEWS = 256
_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    name TEXT PRIMARY KEY, signature TEXT NOT NULL, record TEXT NOT NULL
);
"""


@dataclass
class _Entry:
    signature: tuple
    trusted: bool
    submission: Any  # a leaderboard.submissions.Submission


def folder_signature(folder: str, suffixes: tuple[str, ...]) -> tuple:
    """Return the signature of one submission folder: the state (mtime_ns, ctime_ns, size,
    inode) of ``folder + suffix`` for each suffix (``""``: the folder itself; ``"/meta.yaml"``),
    None for one that is absent.

    Written for speed (a page run calls it once per submission): no Path objects, no joins."""
    parts: list[tuple[int, int, int, int] | None] = []
    for suffix in suffixes:
        try:
            found = os.stat(folder + suffix, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            parts.append(None)
        else:
            parts.append((found.st_mtime_ns, found.st_ctime_ns, found.st_size, found.st_ino))
    return tuple(parts)


def _names(root: Path) -> list[str]:
    """The names :meth:`SubmissionStore.names` gives (folders, no links, none hidden), listed
    with one ``scandir`` (the entry types come with the listing: no stat per entry)."""
    try:
        with os.scandir(root) as entries:
            return sorted(
                entry.name
                for entry in entries
                if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)
            )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _newest_ns(signature: tuple) -> int:
    return max((max(part[0], part[1]) for part in signature if part is not None), default=0)


class StoreIndex:
    """The index of one :class:`leaderboard.submissions.SubmissionStore` (see the module
    docstring). ``signed_files``: the files of a submission folder whose state signs it (with the
    folder itself); ``decode(name, folder, record)`` makes a submission of a stored record and
    ``encode(submission)`` the record (``Submission.from_record`` and ``to_record``). ``path``
    defaults to ``STORE/.index.sqlite3``; ``persist=False`` keeps it in memory only."""

    def __init__(
        self,
        store: Any,
        *,
        signed_files: tuple[str, ...],
        decode,
        encode,
        path: str | os.PathLike | None = None,
        persist: bool = True,
    ):
        self.store = store
        self.signed_files = signed_files
        self._suffixes = ("", *(os.sep + name for name in signed_files))
        self._decode, self._encode = decode, encode
        self.path = Path(path) if path is not None else Path(store.root) / INDEX_FILENAME
        self.persist = persist
        self.generation = 0
        #: Why the index file is not used (then the index lives in memory only), or None.
        self.problem: str | None = None
        self.last_refresh: dict[str, int] = {}
        self._entries: dict[str, _Entry] = {}
        self._stored: dict[str, tuple[str, str]] | None = None  # the file's rows, read once
        self._listing: list = []
        self._views: dict[tuple, Any] = {}
        self._lock = threading.RLock()

    # -- the refresh -------------------------------------------------------------------------------

    def submissions(self) -> list:
        """Return every submission of the store, sorted by name, as
        :meth:`SubmissionStore.submissions` does, reading again only the folders whose files
        changed. The same list object is returned while nothing changed. Thread-safe (the
        page's sessions share one store)."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> list:
        root = Path(self.store.root)
        names = _names(root)
        now = time.time_ns()
        changed: dict[str, _Entry] = {}
        reread = 0
        prefix = str(root) + os.sep
        for name in names:
            signature = folder_signature(prefix + name, self._suffixes)
            entry = self._entries.get(name)
            if entry is not None and entry.trusted and entry.signature == signature:
                continue
            trusted = now - _newest_ns(signature) > RACY_SECONDS * 1e9
            submission = self._from_file(name, root / name, signature) if trusted else None
            if submission is None:
                submission = self._read(name)
                reread += 1
            changed[name] = _Entry(signature, trusted, submission)
        removed = set(self._entries) - set(names)
        self.last_refresh = {"read": reread, "from_index_file": len(changed) - reread}
        self.last_refresh["removed"] = len(removed)
        if changed or removed or len(self._listing) != len(names):
            for name in removed:
                del self._entries[name]
            self._entries.update(changed)
            self._listing = [self._entries[name].submission for name in names]
            self.generation += 1
            self._views.clear()
            self._write(changed, removed)
        return self._listing

    def update(self, name: str) -> None:
        """Read submission ``name`` again at the next refresh (a writer that knows it changed
        it calls this; the signature check finds the change anyway)."""
        self._entries.pop(name, None)

    def _read(self, name: str):
        # the files themselves (not SubmissionStore.load's cache, whose signature is narrower)
        try:
            return self.store._read(name, self.store.path_for(name))
        except SubmissionError as error:
            return self.store._unreadable(name, str(error))
        except Exception as error:  # broad: one bad folder must not take every page down
            reason = f"could not be read ({type(error).__name__}: {str(error)[:300]})"
            return self.store._unreadable(name, reason)

    # -- the index file ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection | None:
        if not self.persist or self.problem is not None or not Path(self.store.root).is_dir():
            return None
        try:
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM info WHERE key = 'schema'").fetchone()
            if row is None or row[0] != str(INDEX_SCHEMA_VERSION):
                db.execute("DELETE FROM entries")
                db.execute(
                    "INSERT OR REPLACE INTO info VALUES ('schema', ?)", (str(INDEX_SCHEMA_VERSION),)
                )
            return db
        except sqlite3.DatabaseError as error:
            return self._rebuild(error)

    def _rebuild(self, error: sqlite3.Error) -> sqlite3.Connection | None:
        """A corrupt index file is removed and made again once; else the index stays in memory."""
        if getattr(self, "_rebuilt", False) or not self.path.is_file() or self.path.is_symlink():
            self.problem = f"{self.path}: not used ({type(error).__name__}: {str(error)[:80]})"
            return None
        self._rebuilt = True
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                os.unlink(str(self.path) + suffix)
            except FileNotFoundError:
                pass
            except OSError as unlink_error:
                self.problem = f"{self.path}: not used, not removed ({unlink_error})"
                return None
        self._stored = {}
        return self._connect()

    def _from_file(self, name: str, folder: Path, signature: tuple):
        if self._stored is None:
            self._stored = {}
            db = self._connect()
            if db is not None:
                try:
                    rows = db.execute("SELECT name, signature, record FROM entries").fetchall()
                    self._stored = {row[0]: (row[1], row[2]) for row in rows}
                except sqlite3.DatabaseError as error:  # corrupt pages: rebuilt from the files
                    self._rebuild(error)
                finally:
                    db.close()
        stored = self._stored.pop(name, None)
        if stored is None or stored[0] != json.dumps(signature):
            return None
        try:
            return self._decode(name, folder, json.loads(stored[1]))
        except (ValueError, TypeError, AttributeError):  # a record this code cannot use: re-read
            return None

    def _write(self, changed: dict[str, _Entry], removed: set[str]) -> None:
        db = self._connect()
        if db is None:
            return
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("DELETE FROM entries WHERE name = ?", [(name,) for name in removed])
            rows = []
            for name, entry in changed.items():
                if entry.trusted:
                    record = json.dumps(self._encode(entry.submission), allow_nan=True)
                    rows.append((name, json.dumps(entry.signature), record))
                else:  # racy: not stored, read again from the files next time
                    db.execute("DELETE FROM entries WHERE name = ?", (name,))
            db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?)", rows)
            db.execute("COMMIT")
        except sqlite3.OperationalError:
            # busy (another process writes) or read-only: the index is a cache, the next refresh
            # writes it; what is served came from the files either way
            if db.in_transaction:
                db.execute("ROLLBACK")
        except sqlite3.DatabaseError as error:  # corrupt: rebuilt at the next write
            self._rebuild(error)
        finally:
            db.close()

    # -- what is derived from the whole list ------------------------------------------------------

    def is_current(self, submissions: list) -> bool:
        """Whether ``submissions`` is the list the last refresh returned (nothing changed since)."""
        return submissions is self._listing

    def cached(self, key: tuple, build, submissions: list) -> Any:
        """Return ``build()`` cached under ``key`` for the current generation when ``build``
        works on ``submissions``, the current list (else built and not kept). The lock is held
        while building, so that no refresh can slip a view of an older list into the cache."""
        with self._lock:
            if not self.is_current(submissions):
                return build()
            found = self._views.get(key)
            if found is None:
                if len(self._views) >= MAX_CACHED_VIEWS:
                    self._views.clear()
                found = self._views[key] = build()
            return found
