"""Statistics of pairwise preference votes (the paper's Figure 4 user study): pure numpy.

A vote compares two methods ``a`` and ``b`` on one question and has one of the outcomes
:data:`OUTCOMES`: ``"a"`` (a is better), ``"tie"`` or ``"b"``. Two summaries are computed:

- :func:`tally_pairs`: per pair of methods, win / tie / loss counts and rates, each rate with a
  seeded percentile bootstrap interval over the votes (the pair's votes drawn with replacement,
  as multinomial counts of the three outcomes: the same distribution, the same resamples for the
  three rates);
- :func:`bradley_terry`: across all methods, Bradley-Terry strengths fitted by maximum likelihood
  (ties count half a win for each side, as the public arena leaderboards count them), with seeded
  bootstrap intervals from refitting on resampled votes.

The Bradley-Terry model says ``P(i beats j) = 1 / (1 + exp(theta_j - theta_i))``; strengths are
reported as ``theta`` (natural-log scale, mean zero over the methods) and on the arena's Elo-like
scale, ``1000 + 400 * theta / ln 10``. ``pseudo_ties`` (default 1) adds that many virtual ties to
every pair of methods that met, so a method that never won still gets a finite strength; it is
recorded with the fit. Methods that never meet (directly or through others) cannot be put on one
scale: the fit refuses them with :class:`PairwiseError`, naming the separate groups. A method's
rank is a band from the intervals (:func:`chatgenbench.analysis.rank_bands.interval_bands`): 1 +
the methods whose interval lies wholly above its own, so methods that cannot be told apart share
a rank.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chatgenbench.core.errors import ChatGenBenchError

OUTCOMES: tuple[str, ...] = ("a", "tie", "b")
ELO_BASE, ELO_SCALE = 1000.0, 400.0 / math.log(10.0)
DEFAULT_RESAMPLES, DEFAULT_LEVEL, DEFAULT_SEED = 1000, 0.95, 0


class PairwiseError(ChatGenBenchError, ValueError):
    """Votes that cannot be summarised (an unknown outcome, methods that never meet)."""


@dataclass(frozen=True)
class PairVote:
    """One counted vote: ``method_a`` against ``method_b``, outcome ``a``, ``tie`` or ``b``."""

    method_a: str
    method_b: str
    outcome: str


@dataclass
class Interval:
    """A percentile bootstrap interval."""

    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        """Return ``{"low": ..., "high": ...}``."""
        return {"low": self.low, "high": self.high}


@dataclass
class PairTally:
    """Win / tie / loss of ``method_a`` against ``method_b`` (``method_a`` sorts first).

    ``rates`` and ``intervals`` are keyed by outcome (``a``, ``tie``, ``b``); an interval is None
    when fewer than two votes were cast.
    """

    method_a: str
    method_b: str
    counts: dict[str, int]
    rates: dict[str, float]
    intervals: dict[str, Interval | None]

    @property
    def n(self) -> int:
        """The number of votes of this pair."""
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """Return the tally as a JSON-ready dict."""
        return {
            "method_a": self.method_a,
            "method_b": self.method_b,
            "n": self.n,
            "counts": dict(self.counts),
            "rates": dict(self.rates),
            "intervals": {k: v.to_dict() if v else None for k, v in self.intervals.items()},
        }


@dataclass
class BradleyTerryFit:
    """Bradley-Terry strengths of ``methods`` (same order as ``theta``), with bootstrap intervals."""

    methods: list[str]
    theta: list[float]
    intervals: list[Interval | None]
    n_votes: int
    pseudo_ties: float
    resamples: int
    level: float
    seed: int
    iterations: int

    def elo(self, value: float) -> float:
        """Return a strength on the arena's Elo-like scale (1000 = the mean method)."""
        return ELO_BASE + ELO_SCALE * value

    def rows(self) -> list[dict[str, Any]]:
        """Return one row per method, strongest first: rank band, method, theta, rating and
        intervals.

        ``rank`` is 1 + the number of methods whose interval lies wholly above this one's, and
        ``rank_upper`` adds the stronger methods that could not be tested (a fit without
        bootstrap intervals): :func:`chatgenbench.analysis.rank_bands.interval_bands`. Methods
        whose intervals overlap share a rank, whatever their point strengths.
        """
        from chatgenbench.analysis.rank_bands import interval_bands

        bands = interval_bands(
            self.theta,
            [None if iv is None else (iv.low, iv.high) for iv in self.intervals],
        )
        order = sorted(range(len(self.methods)), key=lambda i: (-self.theta[i], self.methods[i]))
        rows = []
        for i in order:
            interval = self.intervals[i]
            rows.append(
                {
                    "rank": bands[i].low,
                    "rank_upper": bands[i].high,
                    "method": self.methods[i],
                    "theta": self.theta[i],
                    "theta_low": interval.low if interval else None,
                    "theta_high": interval.high if interval else None,
                    "rating": self.elo(self.theta[i]),
                    "rating_low": self.elo(interval.low) if interval else None,
                    "rating_high": self.elo(interval.high) if interval else None,
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """Return the fit as a JSON-ready dict (rows strongest first, and how it was made)."""
        return {
            "n_votes": self.n_votes,
            "rows": self.rows(),
            "method": "Bradley-Terry maximum likelihood (Newton), ties count half a win each",
            "pseudo_ties": self.pseudo_ties,
            "bootstrap": {"resamples": self.resamples, "level": self.level, "seed": self.seed},
            "iterations": self.iterations,
            "scale": "theta: natural log, mean zero; rating: 1000 + 400 * theta / ln 10",
        }


def _check(votes: Iterable[PairVote]) -> list[PairVote]:
    checked = []
    for number, vote in enumerate(votes, 1):
        if vote.outcome not in OUTCOMES:
            raise PairwiseError(
                f"vote {number}: outcome {vote.outcome!r}; expected one of {', '.join(OUTCOMES)}"
            )
        if vote.method_a == vote.method_b:
            raise PairwiseError(f"vote {number}: {vote.method_a!r} compared with itself")
        checked.append(vote)
    return checked


def _oriented(vote: PairVote) -> tuple[str, str, str]:
    """Return the vote with its methods in sorted order (the outcome flipped to match)."""
    if vote.method_a <= vote.method_b:
        return vote.method_a, vote.method_b, vote.outcome
    flipped = {"a": "b", "b": "a", "tie": "tie"}[vote.outcome]
    return vote.method_b, vote.method_a, flipped


def tally_pairs(
    votes: Iterable[PairVote],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = DEFAULT_SEED,
) -> list[PairTally]:
    """Return one :class:`PairTally` per pair of methods that met, sorted by the pair's names.

    A vote of ``b`` against ``a`` counts as the same pair (outcome flipped). Rates are shares of
    the pair's votes; each interval is the seeded percentile bootstrap of that share (None for
    fewer than two votes or ``resamples=0``). Raises :class:`PairwiseError` for an unknown
    outcome or a bad level.
    """
    import numpy as np

    if not 0.0 < level < 1.0:
        raise PairwiseError(f"level must be in (0, 1), got {level}")
    grouped: dict[tuple[str, str], list[str]] = {}
    for vote in _check(votes):
        a, b, outcome = _oriented(vote)
        grouped.setdefault((a, b), []).append(outcome)
    alpha = (1.0 - level) / 2.0
    tallies = []
    for (a, b), outcomes in sorted(grouped.items()):
        n = len(outcomes)
        counts = {key: outcomes.count(key) for key in OUTCOMES}
        rates = {key: counts[key] / n for key in OUTCOMES}
        intervals: dict[str, Interval | None] = dict.fromkeys(OUTCOMES)
        if n >= 2 and resamples > 0:
            # drawing n votes with replacement = multinomial counts of the three outcomes
            rng = np.random.default_rng(seed)
            shares = rng.multinomial(n, [rates[key] for key in OUTCOMES], size=resamples) / n
            low, high = np.quantile(shares, [alpha, 1.0 - alpha], axis=0)
            intervals = {
                key: Interval(float(lo), float(hi)) for key, lo, hi in zip(OUTCOMES, low, high)
            }
        tallies.append(PairTally(a, b, counts, rates, intervals))
    return tallies


def _components(n: int, edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in edges:
        parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values())


def fit_strengths(wins, *, max_iterations: int = 100, tolerance: float = 1e-9):
    """Fit Bradley-Terry log-strengths to win matrices; return ``(theta, iterations)``.

    ``wins``: an array of shape ``(M, M)`` or ``(R, M, M)``: ``wins[..., i, j]`` is how often
    ``i`` beat ``j`` (fractions allowed: a tie is half a win each way). Every matrix is fitted at
    once by Newton's method on the log-likelihood; ``theta`` has the shape of ``wins`` less one
    axis, mean zero over the methods. The comparison graph must be connected and no method may
    win or lose every comparison (:func:`bradley_terry` ensures both). Raises
    :class:`PairwiseError` when Newton's method has not converged.
    """
    import numpy as np

    wins = np.asarray(wins, dtype=np.float64)
    single = wins.ndim == 2
    if single:
        wins = wins[None]
    _, m, _ = wins.shape
    games = wins + np.swapaxes(wins, 1, 2)
    won = wins.sum(axis=2)
    theta = np.zeros(wins.shape[:2])
    centre = np.full((m, m), 1.0 / m)
    iterations, converged = 0, False
    while iterations < max_iterations and not converged:
        iterations += 1
        diff = theta[:, :, None] - theta[:, None, :]
        p = 1.0 / (1.0 + np.exp(-diff))  # P(i beats j)
        gradient = won - (games * p).sum(axis=2)
        weight = games * p * (1.0 - p)
        hessian = weight - np.eye(m)[None] * weight.sum(axis=2)[:, :, None]  # negative semidefinite
        # the likelihood is flat along theta + c: add the centring direction to make it definite
        step = np.linalg.solve(centre[None] - hessian, gradient[:, :, None])[:, :, 0]
        theta = theta + step
        theta -= theta.mean(axis=1, keepdims=True)
        converged = bool(np.abs(step).max() < tolerance)
    if not converged:
        raise PairwiseError(
            f"the Bradley-Terry fit did not converge in {max_iterations} Newton steps "
            f"(last step {np.abs(step).max():.3g})"
        )
    return (theta[0] if single else theta), iterations


def bradley_terry(
    votes: Iterable[PairVote],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = DEFAULT_SEED,
    pseudo_ties: float = 1.0,
) -> BradleyTerryFit:
    """Fit Bradley-Terry strengths to ``votes``, with seeded percentile bootstrap intervals.

    Ties count half a win for each side; ``pseudo_ties`` virtual ties are added to every pair of
    methods that met (in the data and in every resample). The bootstrap draws ``len(votes)``
    votes with replacement ``resamples`` times (as multinomial counts over the distinct
    (pair, outcome) cells, which is the same distribution) and refits each; ``resamples=0`` skips
    it. Raises :class:`PairwiseError` for no votes, an unknown outcome, or methods that never meet.
    """
    import numpy as np

    checked = _check(votes)
    if not checked:
        raise PairwiseError("no votes to fit")
    if not 0.0 < level < 1.0:
        raise PairwiseError(f"level must be in (0, 1), got {level}")
    methods = sorted({v.method_a for v in checked} | {v.method_b for v in checked})
    index = {name: i for i, name in enumerate(methods)}
    m = len(methods)
    # one cell per (i, j, outcome) with its count
    cells: dict[tuple[int, int, str], int] = {}
    for vote in checked:
        a, b, outcome = _oriented(vote)
        key = (index[a], index[b], outcome)
        cells[key] = cells.get(key, 0) + 1
    pairs = sorted({(i, j) for i, j, _ in cells})
    groups = _components(m, pairs)
    if len(groups) > 1:
        named = "; ".join(", ".join(methods[i] for i in group) for group in groups)
        raise PairwiseError(
            f"the methods fall into {len(groups)} groups that never met ({named}): their "
            "strengths cannot be put on one scale",
            how_to_fix="collect votes that compare methods across these groups",
        )
    keys = list(cells)
    counts = np.array([cells[key] for key in keys], dtype=np.float64)
    rows = np.array([key[0] for key in keys])
    cols = np.array([key[1] for key in keys])
    share = {"a": (1.0, 0.0), "tie": (0.5, 0.5), "b": (0.0, 1.0)}
    to_a = np.array([share[key[2]][0] for key in keys])
    to_b = np.array([share[key[2]][1] for key in keys])
    prior = np.zeros((m, m))
    for i, j in pairs:
        prior[i, j] = prior[j, i] = pseudo_ties / 2.0

    def win_matrices(cell_counts):  # cell_counts: (R, cells)
        wins = np.broadcast_to(prior, (len(cell_counts), m, m)).copy()
        np.add.at(wins, (slice(None), rows, cols), cell_counts * to_a)
        np.add.at(wins, (slice(None), cols, rows), cell_counts * to_b)
        return wins

    base = win_matrices(counts[None])[0]
    if m > 1 and pseudo_ties <= 0:
        for i in range(m):
            if base[i].sum() == 0 or base[:, i].sum() == 0:
                raise PairwiseError(
                    f"{methods[i]!r} won or lost every comparison: its strength is infinite",
                    how_to_fix="fit with pseudo_ties > 0 (the default is 1)",
                )
    theta, iterations = fit_strengths(base) if m > 1 else (np.zeros(1), 0)
    intervals: list[Interval | None] = [None] * m
    if resamples > 0 and m > 1:
        rng = np.random.default_rng(seed)
        drawn = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=resamples)
        boot, _ = fit_strengths(win_matrices(drawn.astype(np.float64)))
        alpha = (1.0 - level) / 2.0
        low, high = np.quantile(boot, [alpha, 1.0 - alpha], axis=0)
        intervals = [Interval(float(lo), float(hi)) for lo, hi in zip(low, high)]
    return BradleyTerryFit(
        methods=methods,
        theta=[float(t) for t in theta],
        intervals=intervals,
        n_votes=len(checked),
        pseudo_ties=pseudo_ties,
        resamples=resamples,
        level=level,
        seed=seed,
        iterations=iterations,
    )


def votes_from_counts(
    method_a: str, method_b: str, counts: Sequence[int] | dict[str, int]
) -> list[PairVote]:
    """Return the votes that ``counts`` (a-wins, ties, b-wins) stand for, e.g. a published tally."""
    if isinstance(counts, dict):
        counts = [counts.get(key, 0) for key in OUTCOMES]
    votes = []
    for outcome, count in zip(OUTCOMES, counts):
        votes.extend(PairVote(method_a, method_b, outcome) for _ in range(int(count)))
    return votes
