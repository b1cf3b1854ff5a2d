"""Broken database files (leaderboard/sqlite_store.py): the scoring queue's and the votes'.

A file that is not SQLite, a truncated one, a folder in its place or a table lacking a column is
one line naming the file and how to recover: from the stores, from every command that opens them
(exit 2, no traceback) and on the Streamlit page. An empty file is a valid new database.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from chatgenbench.cli import main
from leaderboard import sqlite_store
from leaderboard.scoring_queue import ScoringQueue
from leaderboard.votes import VoteStore
from tests.leaderboard_fixtures import ROOT, copy_sample


def _real_queue(path: Path, jobs: int = 2000) -> bytes:
    """Write a real queue database of ``jobs`` jobs at ``path``; return its bytes (WAL folded in)."""
    ScoringQueue(path)
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO jobs (submission, state, created) VALUES (?, 'pending', 0)",
        [(f"submission-{number:05d}",) for number in range(jobs)],
    )
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path.read_bytes()


def _wrong_schema(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, submission TEXT)")
    db.execute("CREATE TABLE votes (id INTEGER PRIMARY KEY, voter TEXT)")
    db.commit()
    db.close()


def _make_broken(kind: str, path: Path) -> None:
    """Put a broken database of ``kind`` at ``path``."""
    if kind == "random bytes":
        path.write_bytes(os.urandom(8192))
    elif kind == "text file":
        path.write_text("jobs: this is not a database\n" * 50, "utf-8")
    elif kind == "folder":
        path.mkdir()
        (path / "something").write_text("x", "utf-8")
    elif kind.startswith("truncated"):
        data = _real_queue(path.parent / "whole.sqlite3")
        keep = {"truncated half": len(data) // 2, "truncated header": 100, "truncated page": 4096}
        path.write_bytes(data[: keep[kind]])
    elif kind == "sqlite header, garbage after":
        path.write_bytes(b"SQLite format 3\x00" + os.urandom(4080))
    elif kind == "wrong schema":
        _wrong_schema(path)
    else:
        raise AssertionError(kind)


BROKEN = (
    "random bytes",
    "text file",
    "folder",
    "truncated half",
    "truncated header",
    "truncated page",
    "sqlite header, garbage after",
    "wrong schema",
)
STORES = {"queue": ScoringQueue, "votes": VoteStore}


def _assert_one_line_naming(message: str, path: Path) -> None:
    assert "\n" not in message
    assert str(path) in message
    assert len(message) < 400 + len(str(path))


@pytest.mark.parametrize("kind", BROKEN)
@pytest.mark.parametrize("store", sorted(STORES))
def test_a_broken_file_is_a_database_file_error_naming_it_and_the_recovery(tmp_path, kind, store):
    from chatgenbench.core.errors import ChatGenBenchError, DatabaseFileError

    path = tmp_path / f"{store}.sqlite3"
    _make_broken(kind, path)
    with pytest.raises(DatabaseFileError) as caught:
        STORES[store](path)
    error = caught.value
    assert isinstance(error, ChatGenBenchError)
    _assert_one_line_naming(str(error), path)
    assert "votes database" in str(error) if store == "votes" else "queue database" in str(error)
    assert "aside" in error.how_to_fix and "backup" in error.how_to_fix
    if kind == "wrong schema":
        assert "lacks column(s)" in str(error)
    if kind == "folder":
        assert "folder" in str(error)
    # the file is left as it was: nothing is repaired or overwritten behind the user's back
    assert path.exists()


@pytest.mark.parametrize("store", sorted(STORES))
def test_an_empty_file_is_a_valid_new_database(tmp_path, store):
    path = tmp_path / f"{store}.sqlite3"
    path.write_bytes(b"")
    opened = STORES[store](path)
    if store == "queue":
        opened.enqueue("one")
        assert [job.submission for job in ScoringQueue(path).jobs()] == ["one"]
    else:
        assert opened.votes() == [] and opened.counts()["votes"] == 0


def test_moving_the_broken_file_aside_recovers_as_the_message_says(tmp_path):
    from chatgenbench.core.errors import DatabaseFileError

    path = tmp_path / "queue.sqlite3"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(DatabaseFileError):
        ScoringQueue(path)
    path.rename(tmp_path / "queue.sqlite3.broken")
    assert ScoringQueue(path).enqueue("x").state == "pending"


def test_a_page_found_corrupt_after_opening_is_the_same_error(tmp_path):
    from chatgenbench.core.errors import DatabaseFileError

    path = tmp_path / "queue.sqlite3"
    data = bytearray(_real_queue(path))
    queue = ScoringQueue(path)  # opens fine: the schema page is intact
    page = 4096
    data[3 * page : len(data) - page] = os.urandom(len(data) - 4 * page)
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseFileError) as caught:
        queue.jobs()
    _assert_one_line_naming(str(caught.value), path)
    with pytest.raises(DatabaseFileError):
        queue.enqueue("another")  # a writer too, and the failed transaction is not left open


def test_a_busy_database_stays_an_operational_error_not_a_broken_file(tmp_path, monkeypatch):
    from chatgenbench.core.errors import DatabaseFileError

    path = tmp_path / "queue.sqlite3"
    queue = ScoringQueue(path)
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_S", 0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            queue.enqueue("waiting")
        assert not isinstance(caught.value, DatabaseFileError)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert queue.enqueue("waiting").submission == "waiting"


def test_a_queue_made_before_stages_existed_is_upgraded_not_refused(tmp_path):
    path = tmp_path / "queue.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, submission TEXT NOT NULL, state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, started REAL,
            finished REAL, heartbeat REAL, worker TEXT, error TEXT, note TEXT);
        INSERT INTO jobs (submission, state, created) VALUES ('old', 'pending', 0);
        """
    )
    db.close()
    (job,) = ScoringQueue(path).jobs()
    assert (job.submission, job.stage, job.progress) == ("old", None, None)


# -- the commands: exit 2, one error line and how to fix it, no traceback ---------------------------


def _queue_commands(store: Path, db: Path) -> list[list[str]]:
    common = ["--store", str(store), "--queue-db", str(db)]
    return [
        ["queue", "list", *common],
        ["queue", "add", "no-finetune-sample", *common],
        ["queue", "retry", "1", *common],
        ["queue", "work", "--once", *common],
    ]


def _votes_commands(store: Path, db: Path, tmp_path: Path) -> list[list[str]]:
    common = ["--store", str(store), "--votes-db", str(db)]
    return [
        ["votes", "summary", *common],
        ["votes", "summary", "--json", *common],
        ["votes", "export", "--out", str(tmp_path / "votes.parquet"), *common],
    ]


def _assert_exit_2_with_the_message(argv, path: Path, capsys) -> None:
    assert main(argv) == 2, argv
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 2, out.err  # the error, and how to fix it
    assert lines[0].startswith(f"chatgenbench {argv[0]}: error: ") and str(path) in lines[0]
    assert lines[1].startswith("how to fix: move ") and "aside" in lines[1]
    assert "Traceback" not in out.err + out.out


@pytest.mark.parametrize("kind", ["random bytes", "folder", "truncated half", "wrong schema"])
def test_every_command_that_opens_a_broken_database_exits_2_with_its_message(
    tmp_path, kind, capsys, monkeypatch
):
    store = tmp_path / "store"
    copy_sample(store)
    queue_db, votes_db = tmp_path / "queue.sqlite3", tmp_path / "votes.sqlite3"
    _make_broken(kind, queue_db)
    if kind == "folder":
        votes_db.mkdir()
    else:
        votes_db.write_bytes(queue_db.read_bytes())
    for argv in _queue_commands(store, queue_db):
        _assert_exit_2_with_the_message(argv, queue_db, capsys)
    for argv in _votes_commands(store, votes_db, tmp_path):
        _assert_exit_2_with_the_message(argv, votes_db, capsys)
    assert not (tmp_path / "votes.parquet").exists()


@pytest.mark.parametrize("broken", ["queue", "votes"])
def test_the_leaderboard_command_checks_its_databases_before_starting_the_server(
    tmp_path, broken, capsys, monkeypatch
):
    pytest.importorskip("streamlit", reason="the leaderboard extra is not installed")
    started = []
    monkeypatch.setattr("chatgenbench.cli.leaderboard.run_child", lambda *a: started.append(a) or 0)
    store = tmp_path / "store"
    copy_sample(store)
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    path = store / (".queue.sqlite3" if broken == "queue" else ".votes.sqlite3")
    path.write_text("not a database\n", "utf-8")
    _assert_exit_2_with_the_message(["leaderboard", "--store", str(store)], path, capsys)
    assert started == []
    path.unlink()
    assert main(["leaderboard", "--store", str(store)]) == 0 and len(started) == 1


# -- the page: the message on the tabs that use the database, the rest of the page still there ------

APP = str(ROOT / "leaderboard" / "app.py")


@pytest.fixture()
def app_store(tmp_path, monkeypatch):
    root = tmp_path / "store"
    copy_sample(root)
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    return root


def _tab_errors(at, label: str) -> list[str]:
    (tab,) = [tab for tab in at.tabs if tab.label == label]
    return [str(e.value) for e in tab.error]


def _run_app():
    app_test = pytest.importorskip("streamlit.testing.v1").AppTest
    at = app_test.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("kind", ["random bytes", "truncated half", "wrong schema", "folder"])
def test_the_page_shows_a_broken_votes_database_on_the_vote_tab(
    app_store, tmp_path, kind, monkeypatch
):
    path = tmp_path / "votes.sqlite3"
    _make_broken(kind, path)
    monkeypatch.setenv("CHATGENBENCH_VOTES_DB", str(path))
    at = _run_app()
    (error,) = _tab_errors(at, "Vote")
    assert str(path) in error and "votes database" in error and "aside" in error
    assert "\n" not in error
    # the rest of the page works: the ranking is there, the queue too
    assert [df for df in at.dataframe if "Rank" in df.value.columns]
    assert _tab_errors(at, "Queue") == []


@pytest.mark.parametrize("kind", ["text file", "truncated page"])
def test_the_page_shows_a_broken_queue_on_the_queue_and_submit_tabs(app_store, kind):
    path = app_store / ".queue.sqlite3"
    _make_broken(kind, path)
    at = _run_app()
    for label in ("Queue", "Submit"):
        (error,) = _tab_errors(at, label)
        assert str(path) in error and "scoring queue database" in error and "aside" in error
    assert [df for df in at.dataframe if "Rank" in df.value.columns]
    assert _tab_errors(at, "Vote") == []
