"""Rank bands of the ranking (leaderboard.rank_bands): a rank is 1 + the rows significantly better,
ties and indistinguishable rows share one, untestable rows give a band, and the default sort says
which metric it sorted by and which break ties."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import pytest

from leaderboard.rank_bands import (
    PAIRWISE_ROWS,
    assign_bands,
    default_sort_keys,
    pair_verdict,
    top_line,
)
from leaderboard.ranking import build_ranking, group_frame, ranking_csv
from leaderboard.submissions import SubmissionStore
from tests.leaderboard_fixtures import ROOT, add_variant, copy_sample

APP = str(ROOT / "leaderboard" / "app.py")
DIRECTIONS = {"config_accuracy": True, "prompt_bertscore": True, "fid": False}
LABELS = {"config_accuracy": "Config acc ↑", "prompt_bertscore": "BERTScore ↑", "fid": "FID ↓"}


@dataclass
class Row:
    """What the ranking reads of a row: values, intervals, per-sample scores."""

    method: str
    values: dict
    scores: dict = field(default_factory=dict)
    intervals: dict = field(default_factory=dict)
    kind: str = "submission"
    view_of: None = None  # no cache identity: every comparison is computed

    @property
    def name(self) -> str:
        return self.method

    def scores_of(self, key):
        return self.scores.get(key)


def _scores(mean: float, n: int = 40, spread: float = 0.05, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    return {f"s{i}": mean + rng.uniform(-spread, spread) for i in range(n)}


def _row(method, config, bertscore=None, *, scores=True, seed=0, spread=0.05):
    values = {"config_accuracy": config, "prompt_bertscore": bertscore}
    row = Row(method, values)
    if scores:
        row.scores = {
            "config_accuracy": _scores(config, seed=seed, spread=spread),
            "prompt_bertscore": _scores(bertscore or 0.0, seed=seed + 100, spread=spread),
        }
    return row


def _bands(rows, keys=("config_accuracy",)):
    ordered = assign_bands(rows, tuple(keys), DIRECTIONS, LABELS)
    return [(row.method, row.rank, row.rank_upper) for row in ordered]


def test_a_tie_on_the_sorted_metric_is_broken_only_by_a_significant_next_metric():
    # the demo group's case: equal config accuracy, one clearly better BERTScore
    a = _row("A", 0.4, 0.30, seed=1)
    b = _row("B", 0.4, 0.80, seed=1)
    a.scores["config_accuracy"] = b.scores["config_accuracy"] = _scores(0.4, seed=3)
    assert _bands([a, b]) == [("A", 1, 1), ("B", 1, 1)]  # one metric: a tie is a tie
    assert _bands([a, b], ("config_accuracy", "prompt_bertscore")) == [("B", 1, 1), ("A", 2, 2)]
    assert "BERTScore ↑" in a.rank_basis and "B on BERTScore" in a.rank_basis
    # a tie-breaker that does not separate them significantly leaves the tie
    c = _row("C", 0.4, 0.3005, seed=2)
    c.scores["config_accuracy"] = a.scores["config_accuracy"]
    c.scores["prompt_bertscore"] = {
        key: value + (0.021 if i % 2 else -0.02)
        for i, (key, value) in enumerate(a.scores["prompt_bertscore"].items())
    }
    assert _bands([a, c], ("config_accuracy", "prompt_bertscore")) == [("C", 1, 1), ("A", 1, 1)]


def test_gaps_rank_rows_apart_only_when_significant():
    rows = [
        _row("top", 0.90, seed=1, spread=0.02),
        _row("close", 0.895, seed=2, spread=0.02),  # within noise of top
        _row("far", 0.50, seed=3, spread=0.02),
    ]
    assert _bands(rows) == [("top", 1, 1), ("close", 1, 1), ("far", 3, 3)]
    assert rows[2].rank_basis.startswith("2 significantly better: top on Config acc ↑")
    assert rows[1].rank_basis == "none significantly better"


def test_lower_is_better_and_ranks_follow_the_test_not_the_order():
    def fid(method, value, seed):
        row = Row(method, {"fid": value}, scores={"fid": _scores(value, seed=seed, spread=2.0)})
        return row

    rows = [fid("b", 20.0, 1), fid("a", 10.0, 2), fid("c", 20.05, 3)]
    assert _bands(rows, ("fid",)) == [("a", 1, 1), ("b", 2, 2), ("c", 2, 2)]


def test_rows_that_cannot_be_tested_get_a_band_not_an_invented_rank():
    paper = [_row(f"paper {v}", v, scores=False) for v in (0.5, 0.4, 0.4, 0.3)]
    ours = _row("ours", 0.45, seed=4)
    bands = _bands([*paper, ours])
    assert bands == [
        ("paper 0.5", 1, 1),
        ("ours", 1, 2),
        ("paper 0.4", 1, 3),  # equal values are not better than each other
        ("paper 0.4", 1, 3),
        ("paper 0.3", 1, 5),
    ]
    assert "not testable" in ours.rank_basis
    # with intervals, rows without per-sample scores are tested on them
    paper[0].intervals = {"config_accuracy": (0.48, 0.52)}
    ours.intervals = {"config_accuracy": (0.43, 0.47)}
    assert _bands([paper[0], ours]) == [("paper 0.5", 1, 1), ("ours", 2, 2)]
    assert "95% intervals are apart" in ours.rank_basis


def test_rows_without_the_sorted_metric_are_not_ranked():
    rows = [_row("none", None, scores=False), _row("some", 0.2)]
    rows[0].values["config_accuracy"] = None
    assert _bands(rows) == [("some", 1, 1), ("none", None, None)]
    assert pair_verdict(rows[0], rows[1], ("config_accuracy",), DIRECTIONS) is None


def test_a_large_group_is_ranked_on_intervals_in_n_log_n():
    rows = []
    for i in range(PAIRWISE_ROWS + 5):
        value = 1.0 - i * 0.02
        row = _row(f"m{i:02d}", value, scores=False)
        row.intervals = {"config_accuracy": (value - 0.025, value + 0.025)}
        rows.append(row)
    bands = _bands(rows)
    # each interval overlaps those of the two rows above it (0.04 apart), not the ones before
    assert bands[:4] == [("m00", 1, 1), ("m01", 1, 1), ("m02", 1, 1), ("m03", 2, 2)]
    assert bands[-1] == (f"m{len(rows) - 1}", len(rows) - 2, len(rows) - 2)
    assert "wholly better" in rows[-1].rank_basis


def test_top_line_names_every_row_that_shares_rank_one():
    a, b, c = _row("A", 0.5, seed=1), _row("B", 0.5, seed=2), _row("C", 0.1, seed=3)
    assign_bands([a, b, c], ("config_accuracy",), DIRECTIONS, LABELS)
    assert (
        top_line([a, b, c]) == "Top of this group, not told apart: A (submission), B (submission)"
    )
    paper = [_row("P1", 0.5, scores=False), _row("P2", 0.4, scores=False)]
    assign_bands(paper, ("config_accuracy",), DIRECTIONS, LABELS)
    assert top_line(paper) == (
        "Top of this group: P1 (submission); 1 more could share rank 1 (not testable against it)"
    )
    assert top_line([]) is None


def test_default_sort_keys_fall_back_in_order():
    rows = [_row("A", 0.4, 0.3)]
    assert default_sort_keys(rows) == ("config_accuracy", "selection_accuracy", "prompt_bertscore")
    rows[0].values["unified"] = 60.0
    assert default_sort_keys(rows)[0] == "unified"


def _worse_bertscore(folder, by: float = 0.05) -> None:
    """Lower every per-sample and aggregate BERTScore of a submission by ``by`` (configs kept)."""
    path = folder / "results.json"
    results = json.loads(path.read_text())
    for record in results["per_sample"]:
        record["prompt_bertscore"] -= by
    blocks = [results["overall"], *results["settings"].values()]
    for block in list(blocks):
        blocks.extend(block.get("by_input_type", {}).values())
    for block in blocks:
        metric = block["stepwise"]["prompt_bertscore"]
        if metric.get("status") == "computed":
            metric["value"] -= by
            metric["ci"] = dict(
                metric["ci"], low=metric["ci"]["low"] - by, high=metric["ci"]["high"] - by
            )
    path.write_text(json.dumps(results))


@pytest.fixture()
def tied_on_config(tmp_path):
    """Two submissions with the same configs and selections, one with a worse BERTScore."""
    copy_sample(tmp_path)
    _worse_bertscore(add_variant(tmp_path, "worse-prompts", method="Worse prompts"))
    return SubmissionStore(tmp_path).submissions()


def test_the_default_sort_breaks_a_config_tie_by_a_significant_bertscore(tied_on_config):
    group = build_ranking(tied_on_config, "supervised", "all").groups[1]
    assert [(row.name, row.rank, row.rank_upper) for row in group.rows] == [
        ("no-finetune-sample", 1, 1),
        ("worse-prompts", 2, 2),
    ]
    assert group.rows[0].values["config_accuracy"] == group.rows[1].values["config_accuracy"]
    assert "BERTScore ↑" in group.rows[1].rank_basis and "p = " in group.rows[1].rank_basis
    order = next(note for note in group.notes if note.startswith("Sorted by"))
    assert order.startswith(
        "Sorted by Config acc ↑ (Unified ↑: computed for no row here); rows equal or not "
        "significantly different on it are separated by Sel. acc ↑, then BERTScore ↑"
    )
    assert "Rank = 1 + the number of rows significantly better" in order
    shown = group_frame(group, display=True)
    assert list(shown["Rank"]) == ["1", "2"]
    assert "Rank from" in shown.columns
    csv = ranking_csv(build_ranking(tied_on_config, "supervised", "all"))
    assert "Rank upper" in csv.splitlines()[0]
    # ranked by config accuracy alone, they share rank 1
    alone = build_ranking(tied_on_config, "supervised", "all", sort_by="config_accuracy")
    assert [row.rank for row in alone.groups[1].rows] == [1, 1]
    assert any(
        n.startswith("Sorted by Config acc ↑; then by method name") for n in alone.groups[1].notes
    )


def test_the_page_shows_the_bands_the_order_and_the_shared_top(
    tied_on_config, tmp_path, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(tmp_path))
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception
    captions = [c.value for c in app.caption]
    assert any(
        c.startswith("Sorted by Config acc ↑ (Unified ↑: computed for no row here)")
        for c in captions
    )
    texts = [t.value for t in app.text]
    method = tied_on_config[0].meta.method
    assert f"Top of this group: {method} (submission)" in texts  # one top: the other is beaten
    frames = [frame.value for frame in app.dataframe]
    ranking = next(
        f for f in frames if "Submission" in f.columns and "worse-prompts" in set(f["Submission"])
    )
    ranks = dict(zip(ranking["Submission"], ranking["Rank"]))
    assert ranks == {"no-finetune-sample": "1", "worse-prompts": "2"}
    paper = next(f for f in frames if "Kind" in f.columns and set(f["Kind"]) == {"reported"})
    assert "1–2" in set(paper["Rank"])  # the paper's rows have no uncertainty: bands
    options = app.sidebar.selectbox(key="view_sort")
    assert options.format_func("default") == "Unified, else step-wise (default)"


def test_intervals_apart_need_no_paired_test_and_overlapping_ones_get_one(monkeypatch):
    import leaderboard.rank_bands as rank_bands

    tested = []

    def counting(above, row, key, *, higher_is_better):
        tested.append((above.method, row.method))
        return {"indistinct": True, "why": "paired test on 40 samples, p = 0.500"}

    monkeypatch.setattr(rank_bands, "compare_rows", counting)
    rows = [
        _row(name, value, seed=i)
        for i, (name, value) in enumerate((("high", 0.9), ("near", 0.85), ("low", 0.3)))
    ]
    rows[0].intervals = {"config_accuracy": (0.8, 1.0)}
    rows[1].intervals = {"config_accuracy": (0.75, 0.95)}
    rows[2].intervals = {"config_accuracy": (0.2, 0.4)}
    assert _bands(rows) == [("high", 1, 1), ("near", 1, 1), ("low", 3, 3)]
    assert tested == [("high", "near")]  # only the overlapping pair was tested
    assert rows[2].rank_basis.startswith(
        "2 significantly better: high on Config acc ↑, 95% intervals are apart"
    )
