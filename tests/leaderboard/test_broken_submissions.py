"""One bad submission folder never takes the store, a page or a command down: it is listed as
broken, with its reason, and the others are served."""

from __future__ import annotations

import json
import os

import pytest

from leaderboard.gallery import Gallery
from leaderboard.ranking import VIEW_INPUT_TYPES, VIEW_SETTINGS, build_ranking
from leaderboard.submissions import SubmissionStore
from leaderboard.votes import candidate_pairs, submission_weights
from tests.leaderboard_fixtures import ROOT, copy_sample

GOOD = "no-finetune-sample"


def _meta(folder, text: str) -> None:
    (folder / "meta.yaml").write_text(text, "utf-8")


def _results(folder, change) -> None:
    path = folder / "results.json"
    results = json.loads(path.read_text("utf-8"))
    (path).write_text(json.dumps(change(results)), "utf-8")


def _rename(folder, new: str) -> None:
    folder.rename(folder.parent / new)


GOOD_META = "method: m\nauthors: a\nsetting: supervised\n"

#: name -> (how to break a copy of the sample submission, what its reason says)
BREAKS = {
    "name-with-space": (lambda f: _rename(f, "Bad Name"), "not a submission name"),
    "name-uppercase": (lambda f: _rename(f, "UPPER"), "not a submission name"),
    "name-unicode": (lambda f: _rename(f, "café"), "not a submission name"),
    "date-month-13": (lambda f: _meta(f, GOOD_META + "date: 2026-13-45\n"), "month must be"),
    "date-feb-30": (lambda f: _meta(f, GOOD_META + "date: 2026-02-30\n"), "day is out of range"),
    "meta-list": (lambda f: _meta(f, "- 1\n- 2\n"), "expected a mapping"),
    "meta-number": (lambda f: _meta(f, "42\n"), "expected a mapping"),
    "meta-folder": (
        lambda f: ((f / "meta.yaml").unlink(), (f / "meta.yaml").mkdir()),
        "not a regular file",
    ),
    "results-deep": (
        lambda f: (f / "results.json").write_text("[" * 200_000 + "]" * 200_000),
        "nested too deep",
    ),
    "results-deep-object": (
        lambda f: (f / "results.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000),
        "nested too deep",
    ),
    "results-not-json": (lambda f: (f / "results.json").write_text("{nope"), "not JSON"),
    "results-not-utf8": (lambda f: (f / "results.json").write_bytes(b"\xff\xfe{}"), "not JSON"),
    "results-list": (lambda f: (f / "results.json").write_text("[1, 2]"), "expected an object"),
    "results-settings-int": (
        lambda f: _results(f, lambda r: {**r, "settings": 3}),
        "settings: expected an object",
    ),
    "results-benchmark-str": (
        lambda f: _results(f, lambda r: {**r, "benchmark": "x"}),
        "benchmark: expected an object",
    ),
    "results-synthetic-str": (
        lambda f: _results(f, lambda r: {**r, "synthetic": "no"}),
        "synthetic: expected true or false",
    ),
    "results-overall-list": (
        lambda f: _results(f, lambda r: {**r, "overall": []}),
        "overall: expected an object",
    ),
    "results-stepwise-list": (
        lambda f: _results(f, lambda r: {**r, "overall": {**r["overall"], "stepwise": [1]}}),
        "overall.stepwise: expected an object",
    ),
    "results-image-number": (
        lambda f: _results(f, lambda r: {**r, "overall": {**r["overall"], "image": 3}}),
        "overall.image: expected an object",
    ),
    "results-folder": (
        lambda f: ((f / "results.json").unlink(), (f / "results.json").mkdir()),
        "not a regular file",
    ),
}


def _store_with(tmp_path, broken: str):
    root = tmp_path / "store"
    copy_sample(root)
    folder = copy_sample(root, "zz-broken")
    BREAKS[broken][0](folder)
    return root


@pytest.mark.parametrize("broken", sorted(BREAKS))
def test_a_broken_submission_is_listed_with_its_reason_and_the_others_are_served(tmp_path, broken):
    root = _store_with(tmp_path, broken)
    store = SubmissionStore(root)
    submissions = store.submissions()
    by_name = {s.name: s for s in submissions}
    assert set(by_name) - {GOOD} and by_name[GOOD].rankable and not by_name[GOOD].broken
    (bad,) = [s for s in submissions if s.name != GOOD]
    assert bad.broken and not bad.rankable
    assert any(BREAKS[broken][1] in problem for problem in bad.problems), bad.problems
    # every page's backend copes with it
    for setting in VIEW_SETTINGS:
        for input_type in VIEW_INPUT_TYPES:
            ranking = build_ranking(submissions, setting, input_type)
            assert bad.name in {name for name, _ in ranking.excluded}
    ranked = build_ranking(submissions, "supervised", "all")
    assert GOOD in {row.name for group in ranking.groups for row in group.rows} | {
        row.name for group in ranked.groups for row in group.rows
    }
    assert set(submission_weights(store)) == set(by_name)
    candidate_pairs(store)
    assert Gallery(store).index(GOOD) is not None


def test_an_unreadable_folder_of_any_kind_never_stops_the_listing(tmp_path, monkeypatch):
    root = tmp_path / "store"
    copy_sample(root)
    copy_sample(root, "zz-crash")
    store = SubmissionStore(root)
    real_read = store._read

    def crashing(name, folder):
        if name == "zz-crash":
            raise RuntimeError("disk on fire")
        return real_read(name, folder)

    monkeypatch.setattr(store, "_read", crashing)
    good, bad = store.submissions()
    assert good.name == GOOD and good.rankable
    assert bad.meta is None and "RuntimeError: disk on fire" in bad.read_error


AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = str(ROOT / "leaderboard" / "app.py")


@pytest.mark.parametrize("broken", ["name-with-space", "date-month-13", "results-deep"])
def test_the_page_renders_the_others_and_names_the_broken_one(tmp_path, monkeypatch, broken):
    root = _store_with(tmp_path, broken)
    BREAKS["results-benchmark-str"][0](copy_sample(root, "zz-wrong-types"))
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    ranked = [df.value for df in at.dataframe if "Rank" in df.value.columns]
    assert any(GOOD in set(frame.get("Submission", [])) for frame in ranked)
    assert any("2 submissions could not be read" in c.value for c in at.caption)
    (table,) = [df.value for df in at.dataframe if "Problem" in df.value.columns]
    reasons = dict(zip(table["Submission"], table["Problem"]))
    assert BREAKS[broken][1] in " ".join(reasons.values())
    assert "benchmark: expected an object" in reasons["zz-wrong-types"]
    names = at.selectbox(key="detail_submission").options
    bad = next(name for name in names if name not in (GOOD, "zz-wrong-types"))
    at.selectbox(key="detail_submission").set_value(bad).run()
    assert not at.exception, at.exception


def test_votes_summary_lists_the_broken_submissions_and_still_summarises(tmp_path, capsys):
    from chatgenbench.cli import main
    from leaderboard.votes import VoteStore

    root = _store_with(tmp_path, "name-with-space")
    BREAKS["results-deep"][0](copy_sample(root, "zz-deep"))
    VoteStore(root / ".votes.sqlite3")
    assert main(["votes", "summary", "--store", str(root), "--resamples", "0"]) == 0
    err = capsys.readouterr().err
    assert "2 submission(s) could not be read" in err
    assert "'Bad Name'" in err and "nested too deep" in err
    assert main(["votes", "summary", "--store", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["broken_submissions"]) == {"Bad Name", "zz-deep"}


def test_a_fifo_in_a_submission_folder_is_not_waited_on(tmp_path):
    from tests.timeouts import run_with_timeout

    root = tmp_path / "store"
    copy_sample(root)
    folder = copy_sample(root, "zz-fifo")
    for name in ("meta.yaml", "results.json"):
        (folder / name).unlink()
        os.mkfifo(folder / name)
    submissions = run_with_timeout(lambda: SubmissionStore(root).submissions(), 20)
    (bad,) = [s for s in submissions if s.name == "zz-fifo"]
    assert "FIFO" in " ".join(bad.problems)
