"""The Vote tab (leaderboard/vote_tab.py) driven through streamlit.testing's AppTest."""

from __future__ import annotations

import pytest

from leaderboard.votes import VoteStore, default_votes_path
from tests.leaderboard_fixtures import ROOT
from tests.vote_fixtures import vote_store

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = str(ROOT / "leaderboard" / "app.py")
IDS = [f"sample-{i:04d}" for i in range(1, 13)]


@pytest.fixture()
def store(tmp_path, monkeypatch):
    root = vote_store(
        tmp_path / "store", {"no-finetune-sample": IDS[:3], "retrieval-sample": IDS[1:3]}
    )
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    monkeypatch.setenv("CHATGENBENCH_VOTE_MIN_SECONDS", "0")
    return root


def _run() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def _click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    """The text of the Vote tab."""
    (tab,) = [tab for tab in at.tabs if tab.label == "Vote"]
    at = tab
    parts = [e.value for e in (*at.text, *at.caption, *at.subheader, *at.markdown)]
    parts += [str(e.value) for e in (*at.error, *at.success, *at.info, *at.warning)]
    return "\n".join(parts)


def test_votes_are_stored_per_click_the_pair_advances_and_undo_brings_it_back(store):
    from chatgenbench.benchmark.loading import load_benchmark

    at = _run()
    assert "Image A" in _texts(at) and "Image B" in _texts(at)
    # the input shown is the drawn sample's request, and no submission name is on the page
    requests = {row["id"]: row["freestyle_input"] for row in load_benchmark("supervised")}
    shown = [sample for sample in IDS[1:3] if f"user (1): {requests[sample]}" in _texts(at)]
    assert len(shown) == 1
    assert "no-finetune (paper Baseline)" not in _texts(at).split("Results")[0]
    _click(at, "vote-quality-left")
    votes = VoteStore(default_votes_path(store))
    (first,) = votes.votes()
    assert (first.sample_id, first.question, first.flag) == (shown[0], "quality", None)
    left = first.submission_a if first.left_side == "a" else first.submission_b
    assert first.answer == ("a" if left == first.submission_a else "b")
    _click(at, "vote-quality-right")  # a change of mind replaces the vote
    assert [(v.question, v.answer) for v in votes.votes()] == [
        ("quality", "b" if first.answer == "a" else "a")
    ]
    _click(at, "vote-relevance-tie")
    assert len(votes.votes()) == 2
    # both questions answered: the other sample is shown next
    assert f"user (1): {requests[shown[0]]}" not in _texts(at)
    assert "quality: 1 counted vote, 0 flagged" in _texts(at)
    _click(at, "vote-undo")
    assert [v.question for v in votes.votes()] == ["quality"]
    assert f"user (1): {requests[shown[0]]}" in _texts(at)  # the undone pair is back
    assert "Undid your last vote (relevance)." in _texts(at)
    assert any("Method" in frame.value.columns for frame in at.dataframe)  # Bradley-Terry table


def test_a_vote_under_the_threshold_is_kept_flagged_and_said_so(store, monkeypatch):
    monkeypatch.setenv("CHATGENBENCH_VOTE_MIN_SECONDS", "600")
    at = _click(_run(), "vote-quality-tie")
    (vote,) = VoteStore(default_votes_path(store)).votes()
    assert vote.flag == "too_fast"
    assert "not counted" in _texts(at)
    assert "quality: 0 counted votes, 1 flagged" in _texts(at)


def test_without_shared_images_there_is_nothing_to_vote_on(tmp_path, monkeypatch):
    root = vote_store(tmp_path / "store", {"no-finetune-sample": IDS[:2]})
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    assert "Nothing to vote on yet" in _texts(_run())


def test_the_votes_can_be_spent_on_one_chosen_pair_of_methods(store):
    import shutil

    import yaml

    from tests.vote_fixtures import write_render_dir

    third = store / "third-sample"
    shutil.copytree(store / "no-finetune-sample", third)
    meta = yaml.safe_load((third / "meta.yaml").read_text("utf-8"))
    meta["method"] = "Third Method"
    (third / "meta.yaml").write_text(yaml.safe_dump(meta), "utf-8")
    write_render_dir(third / "render", IDS[1:3], (1, 2, 3))
    at = _run()
    (choice,) = [box for box in at.selectbox if box.label == "Methods to compare"]
    labels = list(choice.options)  # as shown: method names, not folder names
    assert "no-finetune (paper Baseline) vs Third Method" in labels
    assert len(labels) == 4  # any two, and each of the three pairs of submissions
    target = ("retrieval-sample", "third-sample")
    choice.set_value(target).run()
    assert not at.exception
    for _ in range(2):  # both samples of that pair, and nothing else
        _click(at, "vote-quality-tie")
        _click(at, "vote-relevance-tie")
    votes = VoteStore(default_votes_path(store)).votes()
    assert {(v.submission_a, v.submission_b) for v in votes} == {target}
    assert sorted({v.sample_id for v in votes}) == IDS[1:3]
    assert "You have voted on every pair. Thank you!" in _texts(at)


def test_a_history_input_is_shown_turn_by_turn_on_a_synthetic_benchmark(tmp_path, monkeypatch):
    """SYNTHETIC benchmark: the pair's sample is a multi-turn history; every turn is on the page."""
    import yaml

    from chatgenbench.benchmark.loading import load_benchmark
    from chatgenbench.benchmark.synth import write_synthetic
    from leaderboard.votes import chat_turns
    from tests.vote_fixtures import write_render_dir

    folder = tmp_path / "synthetic-benchmark"
    write_synthetic(folder, 60, seed=3, train_rows=0, n_models=20, images=True)
    rows = load_benchmark("supervised", str(folder)).to_list()
    history = next(row for row in rows if row["input_type"] == "history")
    assert len(history["history"]) >= 2
    turns = chat_turns(history)
    assert [text for _, text in turns][: len(history["history"])] == [
        turn["content"] for turn in history["history"]
    ]
    root = tmp_path / "store"
    for name, colour in (("synth-one", (200, 0, 0)), ("synth-two", (0, 0, 200))):
        (root / name).mkdir(parents=True)
        meta = {"method": name.title(), "authors": "tests", "setting": "supervised"}
        meta["benchmark"] = str(folder)
        (root / name / "meta.yaml").write_text(yaml.safe_dump(meta), "utf-8")
        write_render_dir(root / name / "render", [history["id"]], colour)
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", str(folder))
    text = _texts(_run())
    for number, (role, content) in enumerate(turns, 1):
        assert f"{role} ({number}): {content}" in text


def test_a_malformed_vote_row_is_skipped_and_counted_on_the_page(store):
    """A row with an unknown answer (a database edited or written by another tool) never stops
    the Results panel: the other votes are summarised and the skipped row is counted."""
    import sqlite3

    path = default_votes_path(store)
    VoteStore(path)  # creates the table
    row = (
        "raw", "sample", "supervised", IDS[1], "no-finetune-sample", "retrieval-sample",
        "no-finetune", "retrieval", "quality", "a", "a", 0.0, 5.0, 5.0, None, 1,
    )  # fmt: skip
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA ignore_check_constraints = 1")
        columns = (
            "voter, benchmark, setting, sample_id, submission_a, submission_b, method_a, "
            "method_b, question, answer, left_side, shown_at, cast_at, seconds, flag, seq"
        )
        db.execute(f"INSERT INTO votes ({columns}) VALUES ({', '.join('?' * 16)})", row)
        bad = ("raw2", *row[1:9], "left", *row[10:])
        db.execute(f"INSERT INTO votes ({columns}) VALUES ({', '.join('?' * 16)})", bad)
    at = _run()
    text = _texts(at)
    assert "1 malformed vote row skipped" in text and "answer 'left'" in text
    assert "quality: 1 counted vote, 0 flagged" in text
