"""Where the store lives (leaderboard/store_location.py): one resolver, a default under
$CHATGENBENCH_HOME instead of ./submissions, said on the command line and on the page."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from chatgenbench.cli import main
from leaderboard.scoring_queue import default_queue_path
from leaderboard.store_location import EMPTY_STORE_HINT, resolve_store
from leaderboard.submissions import SubmissionStore, default_store_root
from leaderboard.votes import default_votes_path
from tests.leaderboard_fixtures import ROOT, copy_sample

ENVS = ("CHATGENBENCH_SUBMISSIONS", "CHATGENBENCH_QUEUE_DB", "CHATGENBENCH_VOTES_DB")


@pytest.fixture()
def elsewhere(tmp_path, monkeypatch):
    """A working folder that is not the repository, and a fresh $CHATGENBENCH_HOME."""
    work = tmp_path / "some-project"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    for name in ENVS:
        monkeypatch.delenv(name, raising=False)
    return work


def test_default_store_is_under_chatgenbench_home_wherever_the_command_runs(elsewhere, tmp_path):
    home_store = tmp_path / "home" / "submissions"
    assert default_store_root() == home_store
    assert SubmissionStore().root == home_store
    assert default_queue_path(default_store_root()) == home_store / ".queue.sqlite3"
    assert default_votes_path(default_store_root()) == home_store / ".votes.sqlite3"
    assert not (elsewhere / "submissions").exists()


def test_flags_beat_the_environment_which_beats_the_default(elsewhere, tmp_path, monkeypatch):
    location = resolve_store()
    assert (location.root_from, location.queue_from, location.votes_from) == ("default",) * 3
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", "relative-store")
    monkeypatch.setenv("CHATGENBENCH_VOTES_DB", str(tmp_path / "v.sqlite3"))
    location = resolve_store()
    # a relative path is made absolute, so messages name the folder wherever they are read
    assert location.root == elsewhere / "relative-store"
    assert location.root_from == "$CHATGENBENCH_SUBMISSIONS"
    assert location.queue_db == elsewhere / "relative-store" / ".queue.sqlite3"
    assert (location.votes_db, location.votes_from) == (
        tmp_path / "v.sqlite3",
        "$CHATGENBENCH_VOTES_DB",
    )
    location = resolve_store(tmp_path / "flag", queue_db=tmp_path / "q.sqlite3")
    assert (location.root, location.root_from) == (tmp_path / "flag", "--store")
    assert (location.queue_db, location.queue_from) == (tmp_path / "q.sqlite3", "--queue-db")
    text = "\n".join(location.describe())
    assert str(tmp_path / "flag") in text and "--store DIR" in text
    assert "$CHATGENBENCH_SUBMISSIONS" in text


@pytest.fixture()
def no_server(monkeypatch):
    """``chatgenbench leaderboard`` without starting streamlit: the command it would run."""
    import chatgenbench.cli.leaderboard as command

    started = []
    monkeypatch.setattr(command, "run_child", lambda cmd, env: started.append((cmd, env)) or 0)
    return started


def test_leaderboard_command_names_its_store_and_leaves_the_working_folder_alone(
    elsewhere, tmp_path, capsys, no_server
):
    assert main(["leaderboard", "--headless"]) == 0
    out = capsys.readouterr().out
    home_store = tmp_path / "home" / "submissions"
    assert not (elsewhere / "submissions").exists()
    assert list(elsewhere.iterdir()) == []
    assert f"store: {home_store}" in out and "created now" in out
    assert "$CHATGENBENCH_HOME" in out and "--store DIR" in out
    assert EMPTY_STORE_HINT in out
    assert (home_store / ".queue.sqlite3").is_file() and (home_store / ".votes.sqlite3").is_file()
    assert len(no_server) == 1
    # a second start: the store exists now, and one submission is counted (no hint)
    copy_sample(home_store)
    assert main(["leaderboard", "--headless"]) == 0
    out = capsys.readouterr().out
    assert "created now" not in out and EMPTY_STORE_HINT not in out
    assert "1 submission in the store" in out


def test_leaderboard_command_with_a_relative_store_names_it_absolute(elsewhere, capsys, no_server):
    assert main(["leaderboard", "--headless", "--store", "mine"]) == 0
    out = capsys.readouterr().out
    assert f"store: {elsewhere / 'mine'} (from --store)" in out
    assert no_server[0][1]["CHATGENBENCH_SUBMISSIONS"] == str(elsewhere / "mine")


AppTest = pytest.importorskip("streamlit.testing.v1").AppTest


def _page(tmp_path, monkeypatch, root):
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    for name in ENVS:
        monkeypatch.delenv(name, raising=False)
    if root is not None:
        monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    at = AppTest.from_file(str(ROOT / "leaderboard" / "app.py"), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    (ranking,) = [tab for tab in at.tabs if tab.label == "Ranking"]
    infos = [str(e.value) for e in ranking.info]
    captions = [str(e.value) for e in at.sidebar.caption]
    return infos, captions


def test_page_with_an_empty_default_store_says_where_it_is_and_how_to_submit(tmp_path, monkeypatch):
    infos, captions = _page(tmp_path, monkeypatch, None)
    assert EMPTY_STORE_HINT in infos
    store_line = [text for text in captions if text.startswith("Store:")]
    assert store_line and str(tmp_path / "home" / "submissions") in store_line[0]
    assert "$CHATGENBENCH_SUBMISSIONS" in store_line[0] and "--store DIR" in store_line[0]


def test_page_with_submissions_has_no_empty_store_hint(tmp_path, monkeypatch):
    root = tmp_path / "store"
    copy_sample(root)
    infos, captions = _page(tmp_path, monkeypatch, root)
    assert EMPTY_STORE_HINT not in infos
    assert any(str(root) in text and "$CHATGENBENCH_SUBMISSIONS" in text for text in captions)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize(
    "path",
    [
        "submissions/.votes.sqlite3",
        "submissions/.queue.sqlite3",
        "submissions/.index.sqlite3",
        "submissions/.votes.sqlite3-wal",
        "submissions/.index.sqlite3-journal",
        "submissions/.incoming/x.1/predictions.jsonl",
    ],
)
def test_store_databases_are_ignored_by_git(path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    found = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT, check=False)
    assert found.returncode == 0, f"{path} is not in .gitignore"
