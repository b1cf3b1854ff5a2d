"""How far each image metric agrees with people (leaderboard/metric_agreement.py): simulated votes
whose agreement is known, the paper's Figure 4 counts, ties counted apart, demo weights apart,
and what `chatgenbench votes summary|export` and the Vote tab show."""

from __future__ import annotations

import json
import math
import random

import pytest

from chatgenbench.cli import main
from leaderboard.metric_agreement import format_agreement, metric_agreement
from leaderboard.submissions import SubmissionStore
from leaderboard.votes import DEMO_WEIGHTS, REAL_WEIGHTS, Pair, Shown, Vote, VoteStore
from tests.leaderboard_fixtures import ROOT
from tests.vote_fixtures import vote_store

# The paper's Figure 4, Supervised, image quality: Base (8B) wins 638, ties 422, Evo (2B) wins 940.
FIGURE4_QUALITY = (638, 422, 940)


def _vote(number: int, a: str, b: str, sample: str, answer: str, **fields) -> Vote:
    values = dict(
        id=number, voter=f"v{number}", benchmark="sample", setting="supervised", sample_id=sample,
        submission_a=a, submission_b=b, method_a=a, method_b=b, question="quality",
        answer=answer, left_side="a", shown_at=0.0, cast_at=float(number), seconds=3.0,
        flag=None, seq=1,
    )  # fmt: skip
    values.update(fields)
    return Vote(**values)


def _lookup(table: dict[tuple[str, str], dict[str, float]]):
    return lambda submission, sample: table.get((submission, sample), {})


def _rows(votes, table, **options):
    return {(r.question, r.metric, r.weights): r for r in metric_agreement(votes, _lookup(table),
                                                                            **options)}  # fmt: skip


def test_a_metric_that_agrees_on_a_known_share_of_votes_gets_that_share():
    """300 votes where the preferred image scored higher, 100 where it scored lower: 75 %."""
    votes, table = [], {}
    for i in range(400):
        sample = f"s{i}"
        table[("x", sample)] = {"clip_score": 0.30, "hps_v2": 0.25}
        table[("y", sample)] = {"clip_score": 0.20, "hps_v2": 0.26}
        votes.append(_vote(i, "x", "y", sample, "a" if i < 300 else "b"))
    rows = _rows(votes, table)
    clip = rows[("quality", "clip_score", REAL_WEIGHTS)]
    assert (clip.n_decisive, clip.n_agree, clip.share) == (400, 300, 0.75)
    assert clip.interval["low"] < 0.75 < clip.interval["high"]
    half = 1.96 * math.sqrt(0.75 * 0.25 / 400)  # a binomial share's 95 % interval
    assert clip.interval["high"] - clip.interval["low"] == pytest.approx(2 * half, rel=0.2)
    hps = rows[("quality", "hps_v2", REAL_WEIGHTS)]  # y scores higher: agrees on the 100 b-wins
    assert (hps.n_decisive, hps.n_agree, hps.share) == (400, 100, 0.25)
    assert ("quality", "fid", REAL_WEIGHTS) not in rows  # FID has no per-image score


@pytest.mark.parametrize("truth", [0.5, 0.7, 0.9])
def test_simulated_votes_recover_the_agreement_they_were_drawn_with(truth):
    """People prefer the higher-scored image with probability ``truth``; 10 % of votes are ties;
    the interval holds the truth and the ties are counted apart."""
    rng = random.Random(int(truth * 100))
    votes, table, vote_ties = [], {}, 0
    for i in range(3000):
        sample = f"s{i}"
        a_score, b_score = rng.random(), rng.random()
        table[("x", sample)] = {"image_reward": a_score}
        table[("y", sample)] = {"image_reward": b_score}
        if rng.random() < 0.1:
            answer, vote_ties = "tie", vote_ties + 1
        else:
            better = "a" if a_score > b_score else "b"
            answer = better if rng.random() < truth else {"a": "b", "b": "a"}[better]
        votes.append(_vote(i, "x", "y", sample, answer))
    row = _rows(votes, table)[("quality", "image_reward", REAL_WEIGHTS)]
    assert row.n_vote_ties == vote_ties and row.n_decisive == 3000 - vote_ties
    assert row.interval["low"] <= truth <= row.interval["high"]
    assert row.share == pytest.approx(truth, abs=0.03)


def test_the_papers_figure4_counts_with_a_metric_that_always_prefers_evo():
    """Figure 4 (Supervised, quality) as votes, and a metric that scores every ChatGen-Evo image
    above ChatGen-Base's: it agrees with the 940 Evo wins and disagrees with the 638 Base wins;
    the 422 ties are counted apart."""
    answers = ["a"] * FIGURE4_QUALITY[0] + ["tie"] * FIGURE4_QUALITY[1] + ["b"] * FIGURE4_QUALITY[2]
    random.Random(0).shuffle(answers)
    votes = [_vote(i, "base", "evo", f"s{i}", answer) for i, answer in enumerate(answers)]
    table = {("base", f"s{i}"): {"hps_v2": 0.20} for i in range(2000)}
    table.update({("evo", f"s{i}"): {"hps_v2": 0.30} for i in range(2000)})
    row = _rows(votes, table)[("quality", "hps_v2", REAL_WEIGHTS)]
    assert (row.n_votes, row.n_decisive, row.n_agree) == (2000, 1578, 940)
    assert row.share == pytest.approx(940 / 1578)  # 59.6 %
    assert (row.n_vote_ties, row.n_metric_ties, row.n_unscored) == (422, 0, 0)
    assert row.interval["low"] < 940 / 1578 < row.interval["high"]


def test_vote_ties_metric_ties_and_unscored_images_are_counted_apart():
    table = {
        ("x", "same"): {"clip_score": 0.3, "hps_v2": 0.2},
        ("y", "same"): {"clip_score": 0.3, "hps_v2": 0.1},
        ("x", "half"): {"clip_score": 0.3},
        ("y", "half"): {"hps_v2": 0.1},
        ("x", "nan"): {"clip_score": float("nan")},
        ("y", "nan"): {"clip_score": 0.1},
    }
    votes = [
        _vote(1, "x", "y", "same", "a"),  # clip: a metric tie; hps: agrees
        _vote(2, "x", "y", "same", "tie", voter="v9"),  # a vote tie for both
        _vote(3, "x", "y", "half", "b"),  # each metric misses one image
        _vote(4, "x", "y", "nan", "a"),  # not a number: unscored, never a disagreement
        _vote(5, "x", "y", "none", "a"),  # no scores at all
    ]
    rows = _rows(votes, table)
    clip = rows[("quality", "clip_score", REAL_WEIGHTS)]
    assert (clip.n_decisive, clip.n_vote_ties, clip.n_metric_ties, clip.n_unscored) == (0, 1, 1, 3)
    assert clip.share is None and clip.interval is None
    hps = rows[("quality", "hps_v2", REAL_WEIGHTS)]
    assert (hps.n_decisive, hps.n_agree, hps.n_vote_ties, hps.n_unscored) == (1, 1, 1, 3)
    assert hps.interval is None  # one vote: no interval


def test_lower_is_better_metrics_read_their_direction_from_the_registry(monkeypatch):
    from chatgenbench.metrics.registry import METRICS

    METRICS.register("test_distance", object, stage="image", label="Test distance",
                     higher_is_better=False, fmt="{:.2f}")  # fmt: skip
    try:
        table = {("x", "s"): {"test_distance": 1.0}, ("y", "s"): {"test_distance": 2.0}}
        rows = _rows([_vote(1, "x", "y", "s", "a")], table)
        row = rows[("quality", "test_distance", REAL_WEIGHTS)]
        assert (row.label, row.higher_is_better, row.n_agree) == ("Test distance", False, 1)
    finally:
        METRICS.unregister("test_distance")


def test_flagged_replaced_and_demo_weight_votes():
    table = {("x", "s"): {"clip_score": 0.3}, ("y", "s"): {"clip_score": 0.1}}
    table.update({("d1", "s"): {"clip_score": 0.3}, ("d2", "s"): {"clip_score": 0.1}})
    votes = [
        _vote(1, "x", "y", "s", "b", voter="same"),  # replaced by the voter's next answer
        _vote(2, "x", "y", "s", "a", voter="same"),
        _vote(3, "x", "y", "s", "b", flag="too_fast"),  # flagged: not counted
        _vote(4, "d1", "d2", "s", "b"),  # images of random demo weights: apart
    ]
    weights = {"d1": DEMO_WEIGHTS, "d2": DEMO_WEIGHTS}
    rows = _rows(votes, table, weights=weights)
    real = rows[("quality", "clip_score", REAL_WEIGHTS)]
    assert (real.n_votes, real.n_decisive, real.n_agree) == (1, 1, 1)
    demo = rows[("quality", "clip_score", DEMO_WEIGHTS)]
    assert (demo.n_votes, demo.n_agree) == (1, 0)
    text = format_agreement(list(rows.values()))
    assert f"{DEMO_WEIGHTS} (not comparable with real weights)" in text
    assert "CLIP" in text and "1 decisive vote;" in text


# -- the command line and the page, on a store with rendered and scored images -------------------

IDS = [f"sample-{i:04d}" for i in range(1, 13)]
NOFT, RETR = "no-finetune-sample", "retrieval-sample"


@pytest.fixture()
def scored_store(tmp_path, monkeypatch):
    """Two sample submissions with images of three samples, per-image scores, and six votes:
    on quality people prefer the no-finetune image twice and the retrieval image once; CLIP
    score rates no-finetune higher on every sample (agrees 2 of 3)."""
    root = vote_store(tmp_path / "store", {NOFT: IDS[:3], RETR: IDS[:3]})
    for name, clip in ((NOFT, 0.31), (RETR, 0.22)):
        lines = [json.dumps({"id": i, "image_scores": {"clip_score": clip}}) for i in IDS[:3]]
        (root / name / "samples.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    for name in ("CHATGENBENCH_SUBMISSIONS", "CHATGENBENCH_QUEUE_DB", "CHATGENBENCH_VOTES_DB"):
        monkeypatch.delenv(name, raising=False)
    votes = VoteStore(root / ".votes.sqlite3", submissions=SubmissionStore(root))
    for number, (sample, quality, relevance) in enumerate(
        [(IDS[0], "a", "a"), (IDS[1], "a", "tie"), (IDS[2], "b", "b")]
    ):
        shown = Shown(Pair("sample", "supervised", sample, NOFT, RETR), "a")
        for question, answer in (("quality", quality), ("relevance", relevance)):
            votes.cast(f"voter-{number}", shown, question, answer, shown_at=0.0, now=5.0)
    return root


def test_votes_summary_prints_the_agreement_as_text_and_json(scored_store, capsys):
    assert main(["votes", "summary", "--store", str(scored_store), "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "How far each metric agrees with people" in out
    assert "sample · supervised · quality:" in out
    assert "CLIP: 66.7% [" in out and "of 3 decisive votes; apart: 0 vote ties" in out
    assert "CLIP: 50.0% [" in out and "of 2 decisive votes; apart: 1 vote tie," in out
    assert main(["votes", "summary", "--store", str(scored_store), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = {(r["question"], r["metric"]): r for r in payload["metric_agreement"]}
    assert rows[("quality", "clip_score")]["n_agree"] == 2
    assert rows[("relevance", "clip_score")]["n_vote_ties"] == 1
    assert rows[("quality", "clip_score")]["interval"]["resamples"] == 1000


def test_votes_export_writes_the_agreement_beside_the_votes(scored_store, tmp_path, capsys):
    out = tmp_path / "export" / "votes.parquet"
    assert main(["votes", "export", "--store", str(scored_store), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    agreement = out.with_name("votes.agreement.json")
    assert str(agreement) in text
    payload = json.loads(agreement.read_text("utf-8"))
    assert payload["votes_file"] == "votes.parquet"
    (quality,) = [r for r in payload["metric_agreement"] if r["question"] == "quality"]
    assert (quality["metric"], quality["n_decisive"], quality["n_agree"]) == ("clip_score", 3, 2)


AppTest = pytest.importorskip("streamlit.testing.v1").AppTest


def test_the_vote_tab_shows_the_agreement_table(scored_store, monkeypatch):
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(scored_store))
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    at = AppTest.from_file(str(ROOT / "leaderboard" / "app.py"), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    (tab,) = [tab for tab in at.tabs if tab.label == "Vote"]
    assert "How far each metric agrees with people" in [h.value for h in tab.subheader]
    (frame,) = [df.value for df in tab.dataframe if "Metric" in df.value.columns]
    rows = {row["Question"]: row for row in frame.to_dict("records")}
    assert rows["quality"]["Metric"] == "CLIP"
    assert rows["quality"]["Agreement (95% interval)"].startswith("66.7% [")
    assert (rows["relevance"]["Decisive votes"], rows["relevance"]["Vote ties"]) == ("2", "1")
    # rescored behind the page's back: the retrieval images now score higher (agrees 1 of 3)
    lines = [json.dumps({"id": i, "image_scores": {"clip_score": 0.5}}) for i in IDS[:3]]
    (scored_store / RETR / "samples.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    at.run()
    (tab,) = [tab for tab in at.tabs if tab.label == "Vote"]
    (frame,) = [df.value for df in tab.dataframe if "Metric" in df.value.columns]
    rows = {row["Question"]: row for row in frame.to_dict("records")}
    assert rows["quality"]["Agreement (95% interval)"].startswith("33.3% [")
