"""The pairwise user study's store: pairs drawn from rendered images, votes and their rules,
the summary, the Parquet export and ``chatgenbench votes``."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from chatgenbench.analysis.pairwise import votes_from_counts
from leaderboard.submissions import SubmissionStore
from leaderboard.votes import (
    EXPORT_COLUMNS,
    FLAG_TOO_FAST,
    Pair,
    Shown,
    VoteError,
    VoteStore,
    candidate_pairs,
    default_votes_path,
    draw_pair,
    export_parquet,
    format_summary,
    summarize,
)
from tests.vote_fixtures import vote_store, write_render_dir

IDS = [f"sample-{i:04d}" for i in range(1, 13)]
NOFT, RETR = "no-finetune-sample", "retrieval-sample"


@pytest.fixture()
def store(tmp_path) -> SubmissionStore:
    # the two submissions share the images of samples 2..6; 1 and 7 each have one side only
    root = vote_store(tmp_path / "store", {NOFT: IDS[:6], RETR: IDS[1:7]})
    return SubmissionStore(root)


@pytest.fixture()
def votes(tmp_path, store) -> VoteStore:
    return VoteStore(
        tmp_path / "votes.sqlite3",
        min_seconds=1.5,
        rate_limit=100,
        rate_window=60,
        submissions=store,
    )


def _shown(sample: str = "sample-0002", left_side: str = "a") -> Shown:
    return Shown(Pair("sample", "supervised", sample, NOFT, RETR), left_side)


def test_pairs_are_samples_both_submissions_rendered(store, tmp_path):
    pairs = candidate_pairs(store)
    assert [pair.sample_id for pair in pairs] == IDS[1:6]
    assert {(p.submission_a, p.submission_b, p.benchmark, p.setting) for p in pairs} == {
        (NOFT, RETR, "sample", "supervised")
    }
    # a third submission of another setting pairs with nobody
    other = tmp_path / "store" / "few-shot-one"
    other.mkdir()
    meta = (tmp_path / "store" / NOFT / "meta.yaml").read_text("utf-8")
    (other / "meta.yaml").write_text(meta.replace("setting: supervised", "setting: few_shot"))
    write_render_dir(other / "render", IDS, (9, 9, 9))
    assert candidate_pairs(SubmissionStore(tmp_path / "store")) == pairs


def test_drawing_is_seeded_and_skips_answered_pairs(store):
    pairs = candidate_pairs(store)
    first = draw_pair(pairs, seed=0, voter="v1", round=0)
    assert first == draw_pair(pairs, seed=0, voter="v1", round=0)
    draws = {draw_pair(pairs, seed=s, voter="v1", round=0) for s in range(40)}
    assert {d.pair for d in draws} == set(pairs)  # every pair can be drawn
    assert {d.left_side for d in draws} == {"a", "b"}  # and either side can be on the left
    exclude = {pair.key for pair in pairs[:-1]}
    assert draw_pair(pairs, seed=0, voter="v1", round=3, exclude=exclude).pair == pairs[-1]
    assert draw_pair(pairs, seed=0, voter="v1", round=3, exclude={p.key for p in pairs}) is None


def test_a_click_on_a_side_is_stored_for_the_submission_shown_there():
    assert _shown(left_side="a").answer_for("left") == "a"
    assert _shown(left_side="b").answer_for("left") == "b"
    assert _shown(left_side="b").answer_for("right") == "a"
    assert _shown(left_side="b").answer_for("tie") == "tie"
    assert _shown(left_side="b").left == RETR


def test_a_second_vote_replaces_the_first_and_undo_removes_the_last(votes):
    shown = _shown()
    first = votes.cast("v1", shown, "quality", "a", shown_at=100.0, now=103.0)
    assert not first.replaced and not first.flagged
    votes.cast("v1", shown, "relevance", "tie", shown_at=100.0, now=104.0)
    again = votes.cast("v1", shown, "quality", "b", shown_at=100.0, now=105.0)
    assert again.replaced and again.vote.id == first.vote.id
    stored = votes.votes()
    assert [(v.question, v.answer) for v in stored] == [("quality", "b"), ("relevance", "tie")]
    assert votes.answered_pairs("v1") == {shown.pair.key}
    assert votes.answered_pairs("v2") == set()
    undone = votes.undo_last("v1")
    assert (undone.question, undone.answer) == ("quality", "b")  # the most recent one
    assert [(v.question, v.answer) for v in votes.votes()] == [("relevance", "tie")]
    assert votes.answered_pairs("v1") == set()
    assert votes.undo_last("v2") is None  # another voter has nothing to undo
    assert votes.undo_last("v1").question == "relevance"
    assert votes.undo_last("v1") is None


def test_a_vote_faster_than_the_threshold_is_stored_flagged_and_not_counted(votes):
    fast = votes.cast("v1", _shown(), "quality", "a", shown_at=100.0, now=100.4)
    assert fast.flagged and fast.vote.flag == FLAG_TOO_FAST
    assert fast.vote.seconds == pytest.approx(0.4)
    votes.cast("v2", _shown(), "quality", "b", shown_at=100.0, now=102.0)
    assert votes.counts() == {"votes": 2, "counted": 1, "flagged": 1, "voters": 2}
    (summary,) = summarize(votes.votes(), resamples=50)
    assert (summary.n_votes, summary.n_flagged) == (1, 1)
    assert summary.tallies[0]["counts"] == {"a": 0, "tie": 0, "b": 1}


def test_the_rate_limit_refuses_votes_over_it_and_stores_nothing(tmp_path, store):
    votes = VoteStore(
        tmp_path / "v.sqlite3", min_seconds=0, rate_limit=3, rate_window=10, submissions=store
    )
    for number, sample in enumerate(IDS[1:4]):
        votes.cast("v1", _shown(sample), "quality", "a", shown_at=0.0, now=100.0 + number)
    with pytest.raises(VoteError, match="at most 3 every 10 s") as caught:
        votes.cast("v1", _shown(IDS[4]), "quality", "a", shown_at=0.0, now=103.0)
    assert caught.value.how_to_fix
    assert len(votes.votes()) == 3
    votes.cast("v2", _shown(IDS[4]), "quality", "a", shown_at=0.0, now=103.0)  # per voter
    votes.cast("v1", _shown(IDS[4]), "quality", "a", shown_at=0.0, now=111.0)  # window passed
    assert len(votes.votes()) == 5


def test_bad_questions_and_answers_are_refused(votes):
    with pytest.raises(VoteError, match="question 'beauty'"):
        votes.cast("v1", _shown(), "beauty", "a", shown_at=0.0)
    with pytest.raises(VoteError, match="answer 'left'"):
        votes.cast("v1", _shown(), "quality", "left", shown_at=0.0)
    with pytest.raises(VoteError, match="voter id"):
        votes.cast("", _shown(), "quality", "a", shown_at=0.0)
    # the database itself refuses what the checks let through
    with sqlite3.connect(votes.path) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO votes (voter, benchmark, setting, sample_id, submission_a, submission_b,"
            " method_a, method_b, question, answer, left_side, shown_at, cast_at, seconds, seq)"
            " VALUES ('v', 'b', 's', 'i', 'x', 'y', 'x', 'y', 'quality', 'x', 'a', 0, 0, 0, 1)"
        )
    assert votes.votes() == []


def test_the_database_is_in_wal_mode_and_defaults_to_the_store(votes, tmp_path, monkeypatch):
    with sqlite3.connect(votes.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    assert default_votes_path(tmp_path) == tmp_path / ".votes.sqlite3"
    monkeypatch.setenv("CHATGENBENCH_VOTE_MIN_SECONDS", "4")
    monkeypatch.setenv("CHATGENBENCH_VOTE_RATE", "5/30")
    configured = VoteStore(tmp_path / "other.sqlite3")
    assert (configured.min_seconds, configured.rate_limit, configured.rate_window) == (4.0, 5, 30.0)
    monkeypatch.setenv("CHATGENBENCH_VOTE_RATE", "lots")
    with pytest.raises(VoteError, match="expected VOTES/SECONDS"):
        VoteStore(tmp_path / "third.sqlite3")


def _cast_counts(votes: VoteStore, counts: tuple[int, int, int], question: str) -> None:
    """Cast ``counts`` (no-finetune wins, ties, retrieval wins) from distinct voters."""
    for number, vote in enumerate(votes_from_counts("a", "b", counts)):
        votes.cast(
            f"voter-{number}",
            _shown(IDS[1 + number % 5], "a" if number % 2 else "b"),
            question,
            vote.outcome,
            shown_at=0.0,
            now=10.0,
            methods=("no-finetune", "retrieval"),
        )


def test_the_summary_has_tallies_and_bradley_terry_per_question(votes):
    _cast_counts(votes, (30, 10, 60), "quality")
    _cast_counts(votes, (5, 15, 20), "relevance")
    quality, relevance = summarize(votes.votes(), resamples=200, seed=1)
    assert (quality.question, quality.n_votes, relevance.n_votes) == ("quality", 100, 40)
    (tally,) = quality.tallies
    assert (tally["method_a"], tally["method_b"]) == ("no-finetune", "retrieval")
    assert tally["counts"] == {"a": 30, "tie": 10, "b": 60}
    assert tally["rates"]["b"] == pytest.approx(0.6)
    assert tally["intervals"]["b"]["low"] < 0.6 < tally["intervals"]["b"]["high"]
    rows = quality.bradley_terry["rows"]
    assert [row["method"] for row in rows] == ["retrieval", "no-finetune"]
    assert rows[0]["rating"] > 1000 > rows[1]["rating"]
    text = format_summary([quality, relevance])
    assert "sample · supervised · quality: 100 counted votes, 0 flagged" in text
    assert "A = no-finetune vs B = retrieval: A wins 30 (30.0%" in text
    assert "1. retrieval:" in text


def test_the_export_is_a_parquet_file_that_datasets_loads(votes, tmp_path):
    datasets = pytest.importorskip("datasets")
    _cast_counts(votes, (2, 1, 3), "quality")
    votes.cast("late", _shown(), "relevance", "a", shown_at=10.0, now=10.2)  # flagged
    path = export_parquet(votes.votes(), tmp_path / "out" / "votes.parquet")
    loaded = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert loaded.column_names == list(EXPORT_COLUMNS)
    assert len(loaded) == 7
    assert loaded["answer"] == [v.answer for v in votes.votes()]
    assert loaded["flag"].count(FLAG_TOO_FAST) == 1 and loaded["flag"].count(None) == 6
    assert loaded["cast_time"][0] == "1970-01-01T00:00:10+00:00"


def test_the_cli_prints_the_summary_and_exports(store, tmp_path, capsys):
    from chatgenbench.cli import main

    db = tmp_path / "store" / ".votes.sqlite3"
    votes = VoteStore(db, min_seconds=0, submissions=store)
    _cast_counts(votes, (3, 1, 4), "quality")
    assert main(["votes", "summary", "--store", str(store.root), "--resamples", "100"]) == 0
    out = capsys.readouterr().out
    assert "sample · supervised · quality: 8 counted votes" in out
    assert "A = no-finetune vs B = retrieval: A wins 3 (37.5%" in out
    assert main(["votes", "summary", "--store", str(store.root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["counted"] == 8
    assert data["summaries"][0]["tallies"][0]["counts"] == {"a": 3, "tie": 1, "b": 4}
    out_file = tmp_path / "export.parquet"
    assert main(["votes", "export", "--store", str(store.root), "--out", str(out_file)]) == 0
    assert "8 votes" in capsys.readouterr().out
    import pyarrow.parquet as pq

    assert pq.read_table(out_file).num_rows == 8
    votes.undo_last("voter-0")
    assert main(["votes", "summary", "--store", str(store.root), "--resamples", "0"]) == 0
    assert "7 counted votes" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["votes", "summary", "--store", str(empty)]) == 2
    assert "no votes database at" in capsys.readouterr().err
    assert not (empty / ".votes.sqlite3").exists()  # nothing was created
    assert main(["votes", "export", "--store", str(empty), "--out", str(out_file)]) == 2


def test_the_version_changes_with_every_store_replace_and_undo(votes):
    seen = [votes.version()]
    votes.cast("v1", _shown(), "quality", "a", shown_at=0.0, now=10.0)
    seen.append(votes.version())
    votes.cast("v1", _shown(), "relevance", "a", shown_at=0.0, now=11.0)
    seen.append(votes.version())
    votes.cast("v1", _shown(), "quality", "b", shown_at=0.0, now=12.0)  # replaced
    seen.append(votes.version())
    votes.undo_last("v1")  # leaves only the relevance vote: a state not seen before
    seen.append(votes.version())
    assert len(set(seen)) == 5
    votes.undo_last("v1")
    assert votes.version() == seen[0]  # no votes again: the same data, the same version


def test_pairs_come_from_the_submissions_renders_with_demo_weights(tiny_models, tmp_path):
    """The two real sample submissions (shrunk to 64 px and 2 steps) rendered into their render
    folders through RANDOM-weight (demo) pipelines: a pair is exactly a sample both have an image of."""
    import shutil

    from chatgenbench.render import render_predictions
    from tests.vote_fixtures import ROOT, SUBMISSIONS

    root = tmp_path / "store"
    store = SubmissionStore(root)
    with_image = {}
    for name in SUBMISSIONS:
        shutil.copytree(ROOT / "submissions" / name, root / name)
        path = root / name / "predictions.jsonl"
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
        for row in rows:
            row["arguments"].update(width=64, height=64, steps=2)
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
        report = render_predictions(
            store.predictions_path(name),
            "sample",
            catalog=tiny_models.overlay,
            out_dir=store.render_dir(name),
            cache_dir=tmp_path / "cache",
            progress=False,
            threads=1,
        )
        with_image[name] = {record.id for record in report.records if record.has_image}
        assert set(store.rendered_images(name)) == with_image[name]
    shared = with_image[SUBMISSIONS[0]] & with_image[SUBMISSIONS[1]]
    assert shared  # the demo weights cover some samples of both
    pairs = candidate_pairs(store)
    assert [pair.sample_id for pair in pairs] == sorted(shared)
    shown = draw_pair(pairs, seed=0, voter="v", round=0)
    for name in (shown.left, shown.right):
        assert store.rendered_images(name)[shown.pair.sample_id].stat().st_size > 0


def test_demo_weight_images_are_never_paired_or_summarised_with_real_ones(store, votes, tmp_path):
    """A submission whose images came from random demo weights meets only its own kind, and its
    votes get a summary of their own, labelled, so it is never ranked beside real weights."""
    from leaderboard.votes import DEMO_WEIGHTS, REAL_WEIGHTS, submission_weights

    root = tmp_path / "store"
    for name in ("demo-one", "demo-two"):
        shutil.copytree(root / NOFT, root / name, ignore=shutil.ignore_patterns("render"))
        results = json.loads((root / name / "results.json").read_text("utf-8"))
        results["random_weights"] = {"used": True, "render_models": ["sd_xl_base_1.0"]}
        (root / name / "results.json").write_text(json.dumps(results), "utf-8")
        write_render_dir(root / name / "render", IDS[1:4], (9, 9, 9))
    both = SubmissionStore(root)
    weights = submission_weights(both)
    assert weights == {
        NOFT: REAL_WEIGHTS,
        RETR: REAL_WEIGHTS,
        "demo-one": DEMO_WEIGHTS,
        "demo-two": DEMO_WEIGHTS,
    }
    pairs = candidate_pairs(both)
    met = {frozenset((p.submission_a, p.submission_b)) for p in pairs}
    assert met == {frozenset((NOFT, RETR)), frozenset(("demo-one", "demo-two"))}

    demo_pair = next(p for p in pairs if p.submission_a == "demo-one")
    votes.cast("v1", _shown(), "quality", "a", shown_at=100.0, now=103.0)
    votes.cast("v1", Shown(demo_pair, "a"), "quality", "b", shown_at=100.0, now=104.0)
    summaries = summarize(votes.votes(), resamples=20, weights=weights)
    assert [(s.weights, s.n_votes) for s in summaries] == [(DEMO_WEIGHTS, 1), (REAL_WEIGHTS, 1)]
    for summary in summaries:
        assert summary.bradley_terry is not None  # each group is connected on its own
        names = {row["method"] for row in summary.bradley_terry["rows"]}
        assert len(names) == 2
    assert DEMO_WEIGHTS in format_summary(summaries)


# --- votes mean what they say ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        (Pair("sample", "supervised", "sample-0002", NOFT, NOFT), "two distinct submissions"),
        (Pair("sample", "supervised", "sample-0002", NOFT, "ghost"), "no submission 'ghost'"),
        (Pair("sample", "supervised", "sample-0002", "../x", RETR), "no submission"),
        (Pair("sample", "few_shot", "sample-0002", NOFT, RETR), "setting"),
        (Pair("other-bench", "supervised", "sample-0002", NOFT, RETR), "benchmark"),
        (Pair("sample", "supervised", "sample-0001", NOFT, RETR), "no image of sample"),
        (Pair("sample", "supervised", "sample-0099", RETR, NOFT), "no image of sample"),
        (Pair("sample", "supervised", None, NOFT, RETR), "sample_id None"),
    ],
)
def test_a_vote_on_a_pair_that_cannot_be_voted_on_is_refused_and_not_stored(votes, pair, expected):
    with pytest.raises(VoteError, match=expected):
        votes.cast("v1", Shown(pair, "a"), "quality", "a", shown_at=0.0, now=10.0)
    assert votes.votes() == [] and votes.counts()["votes"] == 0


def test_a_vote_store_without_submissions_records_nothing(tmp_path):
    bare = VoteStore(tmp_path / "bare.sqlite3")
    with pytest.raises(VoteError, match="without the submissions store"):
        bare.cast("v1", _shown(), "quality", "a", shown_at=0.0, now=10.0)
    assert bare.votes() == []


def _reversed(sample: str = "sample-0002", left_side: str = "a") -> Shown:
    return Shown(Pair("sample", "supervised", sample, RETR, NOFT), left_side)


@pytest.mark.parametrize(
    ("answer", "left_side", "stored_answer", "stored_left"),
    [("a", "a", "b", "b"), ("b", "a", "a", "b"), ("tie", "b", "tie", "a"), ("a", "b", "b", "a")],
)
def test_a_pair_given_as_b_a_is_stored_as_a_b_with_the_same_meaning(
    votes, answer, left_side, stored_answer, stored_left
):
    shown = _reversed(left_side=left_side)
    result = votes.cast(
        "v1", shown, "quality", answer, shown_at=0.0, now=10.0, methods=("retrieval", "no-ft")
    )
    vote = result.vote
    assert (vote.submission_a, vote.submission_b) == (NOFT, RETR)
    assert (vote.method_a, vote.method_b) == ("no-ft", "retrieval")
    assert (vote.answer, vote.left_side) == (stored_answer, stored_left)
    # the submission the voter preferred, and the one shown on the left, are unchanged
    winner = {"a": shown.pair.submission_a, "b": shown.pair.submission_b}.get(answer)
    assert {"a": vote.submission_a, "b": vote.submission_b}.get(vote.answer) == winner
    assert Shown(vote.pair, vote.left_side).left == shown.left


@pytest.mark.parametrize("second_reversed", [False, True])
@pytest.mark.parametrize("first_reversed", [False, True])
def test_a_second_answer_replaces_the_first_whichever_way_round(
    votes, first_reversed, second_reversed
):
    first = _reversed() if first_reversed else _shown()
    second = _reversed() if second_reversed else _shown()
    # first: NOFT better; second: RETR better
    votes.cast("v1", first, "quality", "b" if first_reversed else "a", shown_at=0.0, now=10.0)
    again = votes.cast(
        "v1", second, "quality", "a" if second_reversed else "b", shown_at=0.0, now=20.0
    )
    assert again.replaced
    (stored,) = votes.votes()
    assert stored.answer == "b"  # RETR (submission_b) better
    (summary,) = summarize(votes.votes(), resamples=20)
    assert summary.n_votes == 1 and summary.tallies[0]["counts"]["b"] == 1
    assert set(votes.answers("v1", second.pair)) == {"quality"}


def _raw_insert(path, **row) -> None:
    base = {
        "voter": "raw", "benchmark": "sample", "setting": "supervised", "sample_id": IDS[1],
        "submission_a": NOFT, "submission_b": RETR, "method_a": "no-ft", "method_b": "retr",
        "question": "quality", "answer": "a", "left_side": "a", "shown_at": 0.0, "cast_at": 5.0,
        "seconds": 5.0, "flag": None, "seq": 1,
    }  # fmt: skip
    base.update(row)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA ignore_check_constraints = 1")
        db.execute(
            f"INSERT INTO votes ({', '.join(base)}) VALUES ({', '.join('?' * len(base))})",
            list(base.values()),
        )


_LOOSE_SCHEMA = """CREATE TABLE votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, voter, benchmark, setting, sample_id, submission_a,
    submission_b, method_a, method_b, question, answer, left_side, shown_at, cast_at, seconds,
    flag, seq)"""


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"answer": "left"}, "answer 'left'"),
        ({"question": "beauty"}, "question 'beauty'"),
        ({"left_side": "middle"}, "left_side"),
        ({"cast_at": "yesterday"}, "cast_at 'yesterday'"),
        ({"seconds": None}, "seconds None"),
        ({"voter": None}, "voter None"),
        ({"submission_b": 7}, "submission_b 7"),
        ({"seq": "one"}, "seq"),
        ({"flag": 3}, "flag 3"),
        ({"submission_b": NOFT}, "both sides"),
        ({"answer": None}, "answer None"),
        ({"shown_at": b"\x00\x01"}, "shown_at"),
    ],
)
def test_a_malformed_row_is_skipped_and_counted_never_fatal(store, tmp_path, capsys, row, expected):
    from chatgenbench.cli import main

    db = tmp_path / "store" / ".votes.sqlite3"
    with sqlite3.connect(db) as connection:
        connection.execute(_LOOSE_SCHEMA)  # a database written by an older or another tool
    votes = VoteStore(db, min_seconds=0, submissions=store)
    votes.cast("good", _shown(), "quality", "b", shown_at=0.0, now=10.0)
    _raw_insert(db, **row)
    stored = votes.read()
    assert [vote.voter for vote in stored.votes] == ["good"]
    assert len(stored.skipped) == 1 and expected in stored.skipped[0]
    assert main(["votes", "summary", "--store", str(store.root), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["skipped_rows"] == 1 and expected in payload["skipped_reasons"][0]
    assert payload["summaries"][0]["n_votes"] == 1
    assert main(["votes", "summary", "--store", str(store.root), "--resamples", "20"]) == 0
    assert "1 malformed vote row skipped" in capsys.readouterr().out
    out_file = tmp_path / "votes.parquet"
    assert main(["votes", "export", "--store", str(store.root), "--out", str(out_file)]) == 0
    assert "wrote 1 vote (" in capsys.readouterr().out
    import pyarrow.parquet as pq

    assert pq.read_table(out_file).column("voter").to_pylist() == ["good"]


def test_rows_stored_in_both_orders_count_once_with_their_meaning(store, tmp_path):
    db = tmp_path / "legacy.sqlite3"
    votes = VoteStore(db, min_seconds=0, submissions=store)
    # an older version stored (RETR, NOFT) as given: "a" there means RETR better
    _raw_insert(db, submission_a=RETR, submission_b=NOFT, answer="a", cast_at=5.0, seq=1)
    _raw_insert(db, answer="a", cast_at=9.0, seq=2)  # then NOFT better, as (NOFT, RETR)
    _raw_insert(db, voter="other", submission_a=RETR, submission_b=NOFT, answer="a", seq=1)
    stored = votes.read()
    assert stored.skipped == []
    assert all((v.submission_a, v.submission_b) == (NOFT, RETR) for v in stored.votes)
    assert [v.answer for v in stored.votes] == ["b", "a", "b"]
    (summary,) = summarize(stored.votes, resamples=20)
    assert summary.n_votes == 2  # "raw"'s later answer replaced the earlier one
    assert summary.tallies[0]["counts"] == {"a": 1, "tie": 0, "b": 1}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((7, "quality", "a", 0.0), "voter id must be text"),
        (("v1", ["quality"], "a", 0.0), "must be text"),
        (("v1", "quality", {"a": 1}, 0.0), "must be text"),
        (("v1", "quality", "a", float("nan")), "shown_at nan"),
        (("v1", "quality", "a", "now"), "shown_at 'now'"),
    ],
)
def test_a_vote_of_the_wrong_types_is_refused_and_not_stored(votes, args, expected):
    voter, question, answer, shown_at = args
    with pytest.raises(VoteError, match=expected):
        votes.cast(voter, _shown(), question, answer, shown_at=shown_at, now=10.0)
    assert votes.read().votes == [] and votes.read().skipped == []


def test_the_cli_summary_says_one_vote_from_one_voter(store, tmp_path, capsys):
    """Counts agree with their nouns: '1 vote from 1 voter', '1 counted vote' (not '1 votes')."""
    from chatgenbench.cli import main

    votes = VoteStore(tmp_path / "store" / ".votes.sqlite3", min_seconds=0, submissions=store)
    _cast_counts(votes, (1, 0, 0), "quality")
    assert main(["votes", "summary", "--store", str(store.root), "--resamples", "0"]) == 0
    out = capsys.readouterr().out
    assert ": 1 vote from 1 voter, 0 flagged" in out
    assert "quality: 1 counted vote, 0 flagged" in out
