"""Pairwise preference statistics: win / tie / loss tallies and Bradley-Terry strengths."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from chatgenbench.analysis.pairwise import (
    PairVote,
    PairwiseError,
    bradley_terry,
    fit_strengths,
    tally_pairs,
    votes_from_counts,
)

# The paper's Figure 4, Supervised, image quality: Base (8B) wins 638, ties 422, Evo (2B) wins 940.
FIGURE4_QUALITY = (638, 422, 940)


def _simulated(
    n_votes: int, n_methods: int, seed: int, ties: float = 0.1
) -> tuple[list[PairVote], dict[str, float]]:
    """Votes drawn from a Bradley-Terry model; a share ``ties`` of them are ties."""
    rng = random.Random(seed)
    methods = [f"method-{i:02d}" for i in range(n_methods)]
    truth = {name: rng.gauss(0.0, 1.0) for name in methods}
    votes = []
    for _ in range(n_votes):
        a, b = rng.sample(methods, 2)
        p = 1.0 / (1.0 + math.exp(truth[b] - truth[a]))
        u = rng.random()
        keep = 1.0 - ties
        votes.append(PairVote(a, b, "a" if u < keep * p else ("b" if u < keep else "tie")))
    return votes, truth


def test_tally_counts_rates_and_intervals_of_the_papers_quality_votes():
    votes = votes_from_counts("ChatGen-Base (8B)", "ChatGen-Evo (2B)", FIGURE4_QUALITY)
    random.Random(1).shuffle(votes)
    (tally,) = tally_pairs(votes, seed=3)
    assert (tally.method_a, tally.method_b) == ("ChatGen-Base (8B)", "ChatGen-Evo (2B)")
    assert tally.counts == {"a": 638, "tie": 422, "b": 940}
    assert tally.n == 2000
    assert tally.rates["b"] == pytest.approx(0.47)
    for key, rate in tally.rates.items():
        interval = tally.intervals[key]
        assert interval.low < rate < interval.high
        # a binomial share of 2,000 votes: the 95 % interval is about +-1.96 * sqrt(p(1-p)/n)
        half = 1.96 * math.sqrt(rate * (1 - rate) / 2000)
        assert interval.high - interval.low == pytest.approx(2 * half, rel=0.15)
    assert tally_pairs(votes, seed=3)[0].intervals == tally.intervals  # seeded
    assert tally_pairs(votes, seed=4)[0].intervals != tally.intervals


def test_a_vote_written_the_other_way_round_counts_for_the_same_pair():
    votes = [PairVote("x", "y", "a"), PairVote("y", "x", "a"), PairVote("y", "x", "tie")]
    (tally,) = tally_pairs(votes)
    assert (tally.method_a, tally.method_b) == ("x", "y")
    assert tally.counts == {"a": 1, "tie": 1, "b": 1}


def test_bad_votes_are_refused_with_their_number():
    with pytest.raises(PairwiseError, match="vote 2: outcome 'win'"):
        tally_pairs([PairVote("x", "y", "a"), PairVote("x", "y", "win")])
    with pytest.raises(PairwiseError, match="compared with itself"):
        bradley_terry([PairVote("x", "x", "a")])
    with pytest.raises(PairwiseError, match="no votes"):
        bradley_terry([])


def test_bradley_terry_matches_scikit_learns_logistic_regression():
    """The arena leaderboards fit Bradley-Terry as a logistic regression without intercept or
    penalty, ties as half a win each way: the same likelihood, so the same strengths."""
    sklearn = pytest.importorskip("sklearn.linear_model")
    votes, _ = _simulated(3000, 6, seed=5)
    fit = bradley_terry(votes, resamples=0, pseudo_ties=0.0)
    index = {name: i for i, name in enumerate(fit.methods)}
    rows, labels, weights = [], [], []
    for vote in votes:
        x = np.zeros(len(index))
        x[index[vote.method_a]], x[index[vote.method_b]] = 1.0, -1.0
        share = {"a": 1.0, "tie": 0.5, "b": 0.0}[vote.outcome]
        for label, weight in ((1, share), (0, 1.0 - share)):
            if weight:
                rows.append(x)
                labels.append(label)
                weights.append(weight)
    model = sklearn.LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=5000)
    model.fit(np.array(rows), np.array(labels), sample_weight=np.array(weights))
    reference = model.coef_[0] - model.coef_[0].mean()
    assert np.allclose(fit.theta, reference, atol=1e-5)


def test_bradley_terry_recovers_the_order_of_simulated_strengths_with_intervals():
    votes, truth = _simulated(20000, 8, seed=11, ties=0.0)
    fit = bradley_terry(votes, resamples=200, seed=2)
    rows = fit.rows()
    assert [row["method"] for row in rows] == sorted(truth, key=lambda m: -truth[m])
    centred = np.array([truth[m] for m in fit.methods])
    centred -= centred.mean()
    assert np.allclose(fit.theta, centred, atol=0.1)
    for row in rows:
        assert row["theta_low"] < row["theta"] < row["theta_high"]
        assert row["rating"] == pytest.approx(1000 + 400 * row["theta"] / math.log(10))
    assert bradley_terry(votes, resamples=200, seed=2).intervals == fit.intervals
    assert fit.to_dict()["bootstrap"] == {"resamples": 200, "level": 0.95, "seed": 2}


def test_a_method_that_never_wins_gets_a_finite_strength_only_with_pseudo_ties():
    votes = votes_from_counts("strong", "weak", (10, 0, 0)) + votes_from_counts(
        "strong", "mid", (5, 2, 3)
    )
    fit = bradley_terry(votes, resamples=50)
    assert [row["method"] for row in fit.rows()] == ["strong", "mid", "weak"]
    assert all(math.isfinite(t) for t in fit.theta)
    with pytest.raises(PairwiseError, match="'weak' won or lost every comparison"):
        bradley_terry(votes, resamples=0, pseudo_ties=0.0)


def test_methods_that_never_meet_are_refused_naming_the_groups():
    votes = votes_from_counts("a1", "a2", (3, 1, 2)) + votes_from_counts("b1", "b2", (1, 1, 1))
    with pytest.raises(PairwiseError, match="2 groups that never met \\(a1, a2; b1, b2\\)"):
        bradley_terry(votes)


def test_fit_strengths_fits_a_batch_like_each_matrix_alone():
    rng = np.random.default_rng(0)
    wins = rng.integers(1, 20, size=(4, 5, 5)).astype(float)
    for k in range(4):
        np.fill_diagonal(wins[k], 0.0)
    batch, _ = fit_strengths(wins)
    for k in range(4):
        alone, _ = fit_strengths(wins[k])
        assert np.allclose(batch[k], alone)
        # at the maximum, each method's expected wins equal its observed wins
        p = 1.0 / (1.0 + np.exp(alone[None, :] - alone[:, None]))
        games = wins[k] + wins[k].T
        assert np.allclose((games * p).sum(axis=1), wins[k].sum(axis=1))


def test_tally_intervals_agree_with_the_bootstrap_of_each_outcomes_indicator():
    """Multinomial resampling of the counts is the vote-level bootstrap: compare with
    :func:`chatgenbench.metrics.bootstrap.bootstrap_ci` of each outcome's 0/1 indicator."""
    from chatgenbench.metrics.bootstrap import bootstrap_ci

    votes = votes_from_counts("x", "y", (345, 124, 531))  # Figure 4, Few-shot, quality
    (tally,) = tally_pairs(votes, resamples=4000, seed=0)
    for key in ("a", "tie", "b"):
        indicator = [1.0 if v.outcome == key else 0.0 for v in votes]
        reference = bootstrap_ci(indicator, resamples=4000, seed=0)
        assert tally.intervals[key].low == pytest.approx(reference.low, abs=0.006)
        assert tally.intervals[key].high == pytest.approx(reference.high, abs=0.006)
    assert tally_pairs(votes[:1])[0].intervals == {"a": None, "tie": None, "b": None}
