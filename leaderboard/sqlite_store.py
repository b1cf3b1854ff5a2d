"""The one way the leaderboard opens its SQLite databases (the scoring queue, the votes).

Autocommit connections with a 30 s busy timeout; a writer takes the write lock up front
(``BEGIN IMMEDIATE``), so two processes never interleave a read-modify-write, and any exception
rolls the transaction back before it propagates.

**A broken file is an error message, not a traceback.** A database that is not SQLite (random
bytes, a text file), is truncated or otherwise corrupt, is a folder, cannot be opened or written,
or lacks a table's column of its schema, raises
:class:`chatgenbench.core.errors.DatabaseFileError`: one line naming the file and what is wrong,
with ``how_to_fix`` saying how to recover (move it aside and a new, empty one is created; or
restore it from a backup). :func:`initialise` checks this when a store opens its file;
:func:`connect` turns the same failures met later (a corrupt page read for the first time) into
the same error. A busy database (another process holds the lock) stays an
:class:`sqlite3.OperationalError`: it is not broken, and callers may retry. An empty file is a
valid new database.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from chatgenbench.core.errors import DatabaseFileError

BUSY_TIMEOUT_S = 30.0
#: The longest text of an SQLite error message quoted in a :class:`DatabaseFileError`.
REASON_MAX_CHARS = 80

#: SQLite's primary result codes that mean the file itself cannot be used, with what each says.
_BROKEN_CODES: dict[str, str] = {
    "SQLITE_NOTADB": "not an SQLite database",
    "SQLITE_CORRUPT": "corrupt or truncated",
    "SQLITE_CANTOPEN": "cannot be opened",
    "SQLITE_READONLY": "cannot be written",
    "SQLITE_PERM": "cannot be accessed",
    "SQLITE_IOERR": "cannot be read or written (input/output error)",
}
#: The codes of SQLite's primary results, by name (``sqlite3.SQLITE_*`` holds only some).
_PRIMARY_NAMES: dict[int, str] = {
    1: "SQLITE_ERROR",
    3: "SQLITE_PERM",
    8: "SQLITE_READONLY",
    10: "SQLITE_IOERR",
    11: "SQLITE_CORRUPT",
    14: "SQLITE_CANTOPEN",
    26: "SQLITE_NOTADB",
}


def _recovery(path: Path, what: str) -> str:
    return (
        f"move {path} aside (a new, empty {what} is created at the next start) "
        "or restore it from a backup"
    )


def _bounded(text: str) -> str:
    text = " ".join(text.split())  # one line, whatever the message held
    return text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 3] + "..."


def broken_file_error(path: Path, what: str, error: sqlite3.Error) -> DatabaseFileError | None:
    """Return the :class:`DatabaseFileError` that ``error`` means for the file at ``path``, or
    None when the error says nothing against the file (a busy lock, a constraint, a bad query).

    ``what`` names the database in the message (``"votes database"``).
    """
    code = getattr(error, "sqlite_errorcode", None)
    name = _PRIMARY_NAMES.get(code & 0xFF) if isinstance(code, int) else None
    if name not in _BROKEN_CODES:
        return None
    if path.is_dir():
        reason = "is a folder, not a database file"
    else:
        reason = f"{_BROKEN_CODES[name]} ({_bounded(str(error))})"
    how_to_fix = _recovery(path, what)
    if name in ("SQLITE_READONLY", "SQLITE_PERM") and not path.is_dir():
        how_to_fix = f"make {path} and its folder readable and writable by this user"
    return DatabaseFileError(f"{what} {path}: {reason}", how_to_fix=how_to_fix)


@contextmanager
def connect(
    path: Path, *, write: bool = False, what: str = "database"
) -> Iterator[sqlite3.Connection]:
    """Yield a connection to ``path`` (rows as :class:`sqlite3.Row`); ``write`` makes it one
    immediate transaction, committed when the block ends and rolled back when it raises.

    Raises :class:`DatabaseFileError` (naming ``what`` and ``path``) when SQLite finds the file
    unusable, here or in the block; other SQLite errors (a busy database) propagate unchanged.
    """
    path = Path(path)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
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
        except sqlite3.Error as error:
            broken = broken_file_error(path, what, error)
            if broken is None:
                raise
            raise broken from error
    finally:
        db.close()


def initialise(
    path: str | Path,
    schema: str,
    *,
    what: str,
    migrate: Callable[[sqlite3.Connection], None] | None = None,
) -> None:
    """Create the database at ``path`` with ``schema`` (``CREATE ... IF NOT EXISTS``), or open
    the one there, and check that it is usable: SQLite, not corrupt, WAL journal, and every
    table of ``schema`` with all its columns (after ``migrate``, which may add columns that an
    older version lacked).

    Raises :class:`DatabaseFileError` naming ``what`` and ``path`` otherwise.
    """
    path = Path(path)
    if path.is_dir():
        raise DatabaseFileError(
            f"{what} {path}: is a folder, not a database file", how_to_fix=_recovery(path, what)
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path, what=what) as db:
        # WAL: the app reads while a worker or voter writes. (On a file system without shared
        # memory SQLite keeps its rollback journal, which is slower but as safe.)
        db.execute("PRAGMA journal_mode = WAL")
        try:
            db.executescript(schema)
        except sqlite3.OperationalError:
            # an index on a column that an existing table lacks: say which, not "no such column"
            _check_columns(db, path, what, schema)
            raise
        if migrate is not None:
            migrate(db)
        _check_columns(db, path, what, schema)


def _check_columns(db: sqlite3.Connection, path: Path, what: str, schema: str) -> None:
    """Raise :class:`DatabaseFileError` when a table of ``schema`` in ``db`` lacks a column."""
    for table, columns in expected_columns(schema).items():
        found = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
        missing = [column for column in columns if column not in found]
        if found and missing:
            raise DatabaseFileError(
                f"{what} {path}: table {table!r} lacks column(s) {', '.join(missing)}; "
                "it is not a database of this version of ChatGenBench",
                how_to_fix=_recovery(path, what),
            )


@functools.lru_cache(maxsize=8)
def expected_columns(schema: str) -> dict[str, tuple[str, ...]]:
    """Return each table of ``schema`` (SQL ``CREATE`` statements) with its column names, in
    order, read from an in-memory database made with it: the schema is the one source."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(schema)
        tables = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: tuple(row[1] for row in db.execute(f'PRAGMA table_info("{table}")'))
            for table in tables
        }
    finally:
        db.close()
