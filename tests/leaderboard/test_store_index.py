"""The store's index (leaderboard/store_index.py): fast page runs that never serve stale rows.

Files are edited, added, deleted and corrupted behind the index's back (no call tells it); the
listing, the ranking and the page must show what the files say. ``RACY_SECONDS`` is 0 in the
tests that check the signature alone (else every file written within 2 s is read again anyway,
which :func:`test_a_racy_entry_is_read_again_until_its_files_are_old` checks on its own).
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

import leaderboard.store_index as store_index
from leaderboard.ranking_views import cached_ranking
from leaderboard.submissions import SubmissionStore
from tests.leaderboard_fixtures import ROOT, add_variant, copy_sample


@pytest.fixture()
def no_racy(monkeypatch):
    monkeypatch.setattr(store_index, "RACY_SECONDS", 0.0)


@pytest.fixture()
def root(tmp_path):
    root = tmp_path / "store"
    copy_sample(root, "alpha")
    add_variant(root, "beta", method="Beta Method")
    return root


def _methods(store: SubmissionStore) -> dict[str, str | None]:
    return {s.name: (s.meta.method if s.meta else None) for s in store.submissions()}


def _ranked(store: SubmissionStore) -> list[str]:
    listing = store.submissions()
    ranking = cached_ranking(store, listing, "supervised", "all", include_reported=False)
    return sorted(row.name for group in ranking.groups for row in group.rows if row.name)


def _set_method(folder, method: str, *, keep_size: bool = False) -> None:
    path = folder / "meta.yaml"
    meta = yaml.safe_load(path.read_text("utf-8"))
    old = len(path.read_bytes())
    meta["method"] = method
    text = yaml.safe_dump(meta)
    if keep_size:
        assert len(text.encode()) == old, "the test's edit must keep the size"
    stat = path.stat()
    with open(path, "w", encoding="utf-8") as handle:  # in place: same inode, folder untouched
        handle.write(text)
    if keep_size:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even the mtime is kept


def test_edits_behind_the_index_are_seen_in_the_listing_and_the_ranking(root, no_racy):
    store = SubmissionStore(root)
    assert _methods(store) == {"alpha": "no-finetune (paper Baseline)", "beta": "Beta Method"}
    assert _ranked(store) == ["alpha", "beta"]
    _set_method(root / "beta", "Renamed Method")
    assert _methods(store)["beta"] == "Renamed Method"
    ranking = cached_ranking(store, store.submissions(), "supervised", "all")
    assert "Renamed Method" in [row.method for group in ranking.groups for row in group.rows]


def test_an_edit_that_keeps_size_and_mtime_is_seen(root, no_racy):
    store = SubmissionStore(root)
    original = _methods(store)["beta"]
    _set_method(root / "beta", original.replace("Beta", "Zeta"), keep_size=True)
    assert _methods(store)["beta"] == "Zeta Method"  # the change time and inode sign it too


def test_added_and_deleted_submissions_are_seen(root, no_racy):
    import shutil

    store = SubmissionStore(root)
    assert _ranked(store) == ["alpha", "beta"]
    add_variant(root, "gamma", method="Gamma Method")
    assert _ranked(store) == ["alpha", "beta", "gamma"]
    shutil.rmtree(root / "alpha")
    assert sorted(_methods(store)) == ["beta", "gamma"]
    assert _ranked(store) == ["beta", "gamma"]


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda path: path.write_text("{not json", "utf-8"),
        lambda path: path.write_text(json.dumps({"schema_version": "nope"}), "utf-8"),
        lambda path: path.write_bytes(b"\xff\xfe\x00"),
        lambda path: (path.unlink(), os.mkfifo(path)),
    ],
    ids=["not-json", "wrong-schema", "not-utf8", "fifo"],
)
def test_a_results_file_corrupted_behind_the_index_is_refused_not_served(root, no_racy, corrupt):
    store = SubmissionStore(root)
    assert _ranked(store) == ["alpha", "beta"]
    corrupt(root / "beta" / "results.json")
    (beta,) = [s for s in store.submissions() if s.name == "beta"]
    assert beta.results_problems and not beta.rankable
    assert _ranked(store) == ["alpha"]


def test_a_results_file_deleted_behind_the_index_makes_the_submission_unscored(root, no_racy):
    store = SubmissionStore(root)
    assert _ranked(store) == ["alpha", "beta"]
    (root / "beta" / "results.json").unlink()
    (beta,) = [s for s in store.submissions() if s.name == "beta"]
    assert beta.results is None and not beta.scored
    assert _ranked(store) == ["alpha"]


def test_a_new_process_starts_from_the_index_file_without_reading_a_submission(
    root, no_racy, monkeypatch
):
    first = SubmissionStore(root)
    expected = [(s.name, s.meta, s.results, s.predictions_path) for s in first.submissions()]
    assert (root / ".index.sqlite3").is_file()

    def no_reading(*args, **kwargs):
        raise AssertionError("a submission was read although the index file has it")

    with monkeypatch.context() as patch:
        patch.setattr("leaderboard.submissions.read_meta", no_reading)
        patch.setattr("leaderboard.submissions._read_results", no_reading)
        second = SubmissionStore(root)
        found = [(s.name, s.meta, s.results, s.predictions_path) for s in second.submissions()]
    assert found == expected
    assert second.index.last_refresh == {"read": 0, "from_index_file": 2, "removed": 0}
    # changed while no process ran: that one is read from its files, the other comes from the index
    _set_method(root / "alpha", "Changed Offline")
    third = SubmissionStore(root)
    assert _methods(third)["alpha"] == "Changed Offline"
    assert third.index.last_refresh == {"read": 1, "from_index_file": 1, "removed": 0}


def test_a_warm_page_run_reuses_the_listing_and_the_ranking_views(root, no_racy):
    store = SubmissionStore(root)
    listing = store.submissions()
    first = cached_ranking(store, listing, "supervised", "all")
    assert store.submissions() is listing
    assert cached_ranking(store, store.submissions(), "supervised", "all") is first
    assert cached_ranking(store, store.submissions(), "few_shot", "all") is not first
    add_variant(root, "gamma", method="Gamma Method")
    assert cached_ranking(store, store.submissions(), "supervised", "all") is not first
    # a list that is not the index's current one is never served from the cache
    assert cached_ranking(store, list(listing), "supervised", "all") is not first


def test_a_racy_entry_is_read_again_until_its_files_are_old(root, monkeypatch):
    store = SubmissionStore(root)
    store.submissions()  # written just now: racy, so not trusted
    reads = []
    original = store._read
    monkeypatch.setattr(store, "_read", lambda *a: reads.append(a[0]) or original(*a))
    store.submissions()
    assert sorted(reads) == ["alpha", "beta"]
    monkeypatch.setattr(store_index, "RACY_SECONDS", 0.0)
    reads.clear()
    store.submissions()
    store.submissions()
    assert sorted(reads) == ["alpha", "beta"]  # once more (now trusted), then never again


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(os.urandom(4096)),
        lambda path: path.write_bytes(path.read_bytes()[:1000]),
        lambda path: path.write_text("SQLite format 3\x00 truncated", "latin-1"),
    ],
    ids=["random-bytes", "truncated", "fake-header"],
)
def test_a_broken_index_file_is_rebuilt_from_the_folders(root, no_racy, damage):
    SubmissionStore(root).submissions()
    damage(root / ".index.sqlite3")
    store = SubmissionStore(root)
    assert _methods(store) == {"alpha": "no-finetune (paper Baseline)", "beta": "Beta Method"}
    assert store.index.problem is None
    again = SubmissionStore(root)
    assert again.submissions()  # the rebuilt file opens again and serves every submission
    assert again.index.last_refresh["read"] == 0


def test_an_index_file_that_cannot_be_used_leaves_the_index_in_memory(root, no_racy):
    (root / ".index.sqlite3").mkdir()
    store = SubmissionStore(root)
    assert _ranked(store) == ["alpha", "beta"]
    assert store.index.problem and ".index.sqlite3" in store.index.problem
    _set_method(root / "beta", "Still Fresh")
    assert _methods(store)["beta"] == "Still Fresh"


def test_an_index_record_for_other_files_is_not_served(root, no_racy):
    """A record whose signature does not match the folder (copied from another store, or the
    folder replaced by another with the same name) is read again from the files."""
    import shutil

    SubmissionStore(root).submissions()
    shutil.rmtree(root / "beta")
    add_variant(root, "beta", method="Replaced Beta")
    assert _methods(SubmissionStore(root))["beta"] == "Replaced Beta"


AppTest = pytest.importorskip("streamlit.testing.v1").AppTest


def test_the_page_shows_what_the_files_say_after_edits_behind_its_back(root, monkeypatch, no_racy):
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    for name in ("CHATGENBENCH_QUEUE_DB", "CHATGENBENCH_VOTES_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    at = AppTest.from_file(str(ROOT / "leaderboard" / "app.py"), default_timeout=90)

    def ranked_methods() -> set[str]:
        at.run()
        assert not at.exception, at.exception
        frames = [df.value for df in at.dataframe if "Submission" in df.value.columns]
        return {m for frame in frames if "Method" in frame for m in frame["Method"]}

    assert {"no-finetune (paper Baseline)", "Beta Method"} <= ranked_methods()
    _set_method(root / "beta", "Edited Beta")
    assert "Edited Beta" in ranked_methods() and "Beta Method" not in ranked_methods()
    (root / "alpha" / "results.json").write_text("{broken", "utf-8")
    methods = ranked_methods()
    assert "no-finetune (paper Baseline)" not in methods and "Edited Beta" in methods


def test_a_run_record_is_read_once_while_unchanged_and_again_when_edited(root, monkeypatch):
    """The ranking reads every submission's predictions.run.json for its efficiency figures: one
    stat per view while the file is unchanged, a read again as soon as it changes."""
    import leaderboard.efficiency as efficiency
    from leaderboard.ranking import build_ranking

    record = root / "beta" / "predictions.run.json"
    record.write_text(json.dumps({"efficiency": {"seconds_per_sample": 1.5}}), "utf-8")
    parsed = []
    real_json = efficiency.json

    class CountingJson:
        @staticmethod
        def loads(text):
            parsed.append(text)
            return real_json.loads(text)

    monkeypatch.setattr(efficiency, "json", CountingJson)
    store = SubmissionStore(root)

    def beta_seconds() -> float | None:
        ranking = build_ranking(store.submissions(), "supervised", "all", include_reported=False)
        rows = [row for group in ranking.groups for row in group.rows if row.name == "beta"]
        return rows[0].efficiency.seconds_per_sample

    assert beta_seconds() == 1.5
    reads = len(parsed)
    assert beta_seconds() == 1.5 and len(parsed) == reads  # unchanged: not read again
    record.write_text(json.dumps({"efficiency": {"seconds_per_sample": 2.25}}), "utf-8")
    assert beta_seconds() == 2.25
