"""The access database of a store: the audit log, who owns each submission, and what is hidden.

One SQLite file (``$CHATGENBENCH_ACCESS_DB``, default ``<store>/.access.sqlite3``; opened as
every leaderboard database is, :mod:`leaderboard.sqlite_store`) with three tables:

- ``audit``: **append-only**, one row per action taken in the page or refused there: when (UTC),
  who (the identity, or ``anonymous``), what (an action of :data:`leaderboard.roles.ACTIONS`),
  on which submission, the outcome (``done`` or ``refused``) and a short detail (a reason, a job
  number). SQLite triggers refuse every ``UPDATE`` and ``DELETE`` of it, so not even a bug in
  this program rewrites history; maintainers read it in the page and with
  ``chatgenbench audit``.
- ``owners``: the identity that uploaded each submission (uploads made before sign-in have none).
- ``states``: a submission withdrawn by its owner or hidden by a maintainer, with the public
  reason, who and when. Such a submission leaves the ranking, the gallery and the vote; its files
  stay in the store for the maintainers.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leaderboard import sqlite_store

ACCESS_ENV = "CHATGENBENCH_ACCESS_DB"
ACCESS_FILENAME = ".access.sqlite3"
ACCESS_WHAT = "access database"
WITHDRAWN, HIDDEN = "withdrawn", "hidden"
DONE, REFUSED = "done", "refused"
DETAIL_MAX_CHARS = 500
REASON_MAX_CHARS = 300

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    submission TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('done', 'refused')),
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_who ON audit (who, action, at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS owners (
    submission TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS states (
    submission TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('withdrawn', 'hidden')),
    reason TEXT NOT NULL DEFAULT '',
    who TEXT NOT NULL,
    at REAL NOT NULL
);
"""


def default_access_path(store_root: str | os.PathLike) -> Path:
    """Return ``$CHATGENBENCH_ACCESS_DB`` or ``<store_root>/.access.sqlite3``."""
    return Path(os.environ.get(ACCESS_ENV) or Path(store_root) / ACCESS_FILENAME)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _one_line(text: str, limit: int) -> str:
    # one line of printable text: submitter names reach a maintainer's terminal through it
    text = "".join(c if c.isprintable() else " " for c in str(text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    at: float
    who: str
    action: str
    submission: str | None
    outcome: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a JSON-ready dict, with its ISO time."""
        return {**asdict(self), "time": _iso(self.at)}

    def line(self) -> str:
        """Return the entry as one line of text (what ``chatgenbench audit`` prints)."""
        return "\t".join(
            [
                _iso(self.at),
                self.who,
                self.action,
                self.submission or "-",
                self.outcome,
                self.detail,
            ]
        )


@dataclass(frozen=True)
class SubmissionState:
    """A submission that is out of the public views: ``withdrawn`` or ``hidden``, and why."""

    submission: str
    state: str
    reason: str
    who: str
    at: float


class AccessStore:
    """The access database (see the module docstring); each method opens its own connection."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        # a broken file (not SQLite, truncated, a folder, a wrong schema) is a DatabaseFileError
        sqlite_store.initialise(self.path, _SCHEMA, what=ACCESS_WHAT)

    def _connect(self, *, write: bool = False):
        return sqlite_store.connect(self.path, write=write, what=ACCESS_WHAT)

    # -- the audit log ---------------------------------------------------------------------------

    def record(
        self,
        who: str,
        action: str,
        submission: str | None = None,
        *,
        outcome: str = DONE,
        detail: str = "",
        now: float | None = None,
    ) -> AuditEntry:
        """Append one line to the audit log and return it (text fields bounded, on one line)."""
        at = time.time() if now is None else now
        values = (
            at,
            _one_line(who, 400),
            _one_line(action, 40),
            None if submission is None else _one_line(submission, 200),
            outcome,
            _one_line(detail, DETAIL_MAX_CHARS),
        )
        with self._connect(write=True) as db:
            cursor = db.execute(
                "INSERT INTO audit (at, who, action, submission, outcome, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )
        return AuditEntry(cursor.lastrowid, *values)

    def entries(
        self,
        *,
        who: str | None = None,
        submission: str | None = None,
        action: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Return audit lines, oldest first (the last ``limit`` when given), optionally only
        those of one identity, submission or action, or since a time."""
        where, params = [], []
        for column, value in (("who", who), ("submission", submission), ("action", action)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        query = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "")
        query += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit is not None else "")
        with self._connect() as db:
            rows = [AuditEntry(**dict(row)) for row in db.execute(query, params)]
        return rows[::-1]

    def count(self, who: str, action: str, *, since: float, outcome: str = DONE) -> int:
        """Return how many times ``who`` took ``action`` (with ``outcome``) since ``since``."""
        with self._connect() as db:
            return db.execute(
                "SELECT COUNT(*) FROM audit WHERE who = ? AND action = ? AND outcome = ? "
                "AND at >= ?",
                (who, action, outcome, since),
            ).fetchone()[0]

    # -- owners and states -----------------------------------------------------------------------

    def owner(self, submission: str) -> str | None:
        """Return the identity that uploaded ``submission`` (None: unknown, or before sign-in)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT owner FROM owners WHERE submission = ?", (submission,)
            ).fetchone()
        return None if row is None else row["owner"]

    def owned_by(self, who: str) -> list[str]:
        """Return the submissions ``who`` uploaded, in upload order."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT submission FROM owners WHERE owner = ? ORDER BY at", (who,)
            ).fetchall()
        return [row["submission"] for row in rows]

    def set_owner(self, submission: str, who: str, *, now: float | None = None) -> None:
        """Record ``who`` as the uploader of ``submission``."""
        with self._connect(write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO owners (submission, owner, at) VALUES (?, ?, ?)",
                (submission, who, time.time() if now is None else now),
            )

    def states(self) -> dict[str, SubmissionState]:
        """Return every withdrawn or hidden submission's state, by name."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM states ORDER BY submission").fetchall()
        return {row["submission"]: SubmissionState(**dict(row)) for row in rows}

    def state(self, submission: str) -> SubmissionState | None:
        """Return ``submission``'s state (None: shown as usual)."""
        return self.states().get(submission)

    def set_state(self, submission: str, state: str, reason: str, who: str) -> None:
        """Mark ``submission`` withdrawn or hidden, with its public ``reason``."""
        if state not in (WITHDRAWN, HIDDEN):
            raise ValueError(f"state {state!r}: expected {WITHDRAWN} or {HIDDEN}")
        with self._connect(write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO states (submission, state, reason, who, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (submission, state, _one_line(reason, REASON_MAX_CHARS), who, time.time()),
            )

    def clear_state(self, submission: str) -> None:
        """Show ``submission`` again (no state)."""
        with self._connect(write=True) as db:
            db.execute("DELETE FROM states WHERE submission = ?", (submission,))
