"""Rank bands from intervals (chatgenbench.analysis.rank_bands) and the Bradley-Terry ranks that
use them: overlapping intervals share a rank, untestable rows widen a band, nothing is invented."""

from __future__ import annotations

import pytest

from chatgenbench.analysis.pairwise import PairVote, bradley_terry, votes_from_counts
from chatgenbench.analysis.rank_bands import RankBand, band_text, interval_bands


def test_band_text():
    assert band_text(None) == "-"
    assert band_text(2) == band_text(2, 2) == "2"
    assert band_text(1, 3) == "1–3"
    assert RankBand(2, 4).text == "2–4"


def test_overlapping_intervals_share_a_rank_and_apart_ones_do_not():
    values = [0.9, 0.8, 0.5, 0.5]
    intervals = [(0.85, 0.95), (0.75, 0.86), (0.4, 0.6), (0.45, 0.55)]
    bands = interval_bands(values, intervals)
    # 0.8 overlaps 0.9; both 0.5 rows lie wholly below both others; equal values share a rank
    assert [(b.low, b.high) for b in bands] == [(1, 1), (1, 1), (3, 3), (3, 3)]


def test_a_chain_of_overlaps_is_not_made_transitive():
    # A overlaps B, B overlaps C, A is apart from C: C is beaten by A only
    bands = interval_bands([3.0, 2.0, 1.0], [(2.6, 3.4), (1.5, 2.7), (0.5, 1.6)])
    assert [(b.low, b.high) for b in bands] == [(1, 1), (1, 1), (2, 2)]


def test_lower_is_better_reads_the_intervals_the_other_way():
    bands = interval_bands(
        [10.0, 20.0, 21.0], [(9, 11), (18, 22), (19, 23)], higher_is_better=False
    )
    assert [(b.low, b.high) for b in bands] == [(1, 1), (2, 2), (2, 2)]


def test_rows_without_an_interval_widen_the_band_instead_of_taking_an_order():
    values = [0.9, 0.8, 0.7, 0.6]
    intervals = [None, (0.7, 0.9), None, (0.55, 0.65)]
    bands = interval_bands(values, intervals)
    assert [(b.low, b.high) for b in bands] == [
        (1, 1),  # nothing above it by value
        (1, 2),  # the 0.9 row cannot be tested against it
        (1, 3),  # untestable: both rows above widen its band
        (2, 4),  # beaten by the 0.8 row's interval; the two untestable rows widen the band
    ]
    assert [b.low for b in interval_bands([0.5, 0.5], [None, None])] == [1, 1]
    with pytest.raises(ValueError, match="2 values but 1 intervals"):
        interval_bands([1.0, 2.0], [None])


def test_bradley_terry_methods_that_cannot_be_told_apart_share_rank_one():
    # the vote tab's case: two methods, both rated 1000 [1000, 1000], were ranked 1 and 2
    fit = bradley_terry(votes_from_counts("alpha", "beta", [0, 4, 0]))
    rows = fit.rows()
    assert [round(row["rating"]) for row in rows] == [1000, 1000]
    assert [(row["rank"], row["rank_upper"]) for row in rows] == [(1, 1), (1, 1)]
    # a close split: the intervals overlap, one rank
    close = bradley_terry(votes_from_counts("alpha", "beta", [6, 2, 5])).rows()
    assert [row["rank"] for row in close] == [1, 1]


def test_bradley_terry_ranks_apart_only_where_the_intervals_are_apart():
    votes = votes_from_counts("strong", "weak", [60, 5, 2])
    votes += votes_from_counts("strong", "middle", [30, 10, 25])
    votes += votes_from_counts("middle", "weak", [55, 5, 3])
    rows = bradley_terry(votes).rows()
    ranks = {row["method"]: (row["rank"], row["rank_upper"]) for row in rows}
    assert ranks == {"strong": (1, 1), "middle": (1, 1), "weak": (3, 3)}
    for row in rows:  # the rank is what the intervals say
        above = [
            other
            for other in rows
            if other["theta_low"] > row["theta_high"] and other["method"] != row["method"]
        ]
        assert row["rank"] == 1 + len(above)


def test_bradley_terry_without_intervals_says_its_ranks_are_untested():
    fit = bradley_terry([PairVote("a", "b", "a")] * 9 + [PairVote("a", "b", "b")], resamples=0)
    assert [(row["method"], row["rank"], row["rank_upper"]) for row in fit.rows()] == [
        ("a", 1, 1),
        ("b", 1, 2),
    ]
