"""The one way the leaderboard opens its SQLite databases (the scoring queue, the votes).

Autocommit connections with a 30 s busy timeout; a writer takes the write lock up front
(``BEGIN IMMEDIATE``), so two processes never interleave a read-modify-write, and any exception
rolls the transaction back before it propagates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_S = 30.0


@contextmanager
def connect(path: Path, *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """Yield a connection to ``path`` (rows as :class:`sqlite3.Row`); ``write`` makes it one
    immediate transaction, committed when the block ends and rolled back when it raises."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if write:
            db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        if db.in_transaction:
            db.execute("COMMIT")
    finally:
        db.close()
