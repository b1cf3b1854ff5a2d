"""Rank bands: a rank that claims no more than the evidence, as arena leaderboards print it.

A row's rank is ``1 + the number of rows significantly better than it``: rows that cannot be
told apart share a rank, and two rows get different ranks only when a test separates them. Where
no test is possible (a row without per-sample scores or an interval, such as the paper's reported
rows), nothing is invented: the rank becomes a band ``low–high``, ``high`` counting also the rows
ranked above it by value that could not be tested against it.

:func:`interval_bands` computes the bands from one value and one interval per row (the
Bradley-Terry ratings of the vote tab, a large ranking group); :func:`band_text` is how every
table prints a band.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

#: What a rank band means, in one sentence every page and command that prints bands shows.
RANK_BAND_NOTE = (
    "Rank = 1 + the number of rows significantly better; rows that cannot be told apart share "
    "a rank; a band such as 1–3 means some rows above could not be tested against this one "
    "(no per-sample scores or interval), so its rank lies anywhere in the band."
)


@dataclass(frozen=True)
class RankBand:
    """A rank band: ``low`` = 1 + rows significantly better; ``high`` = ``low`` + rows above by
    value that could not be tested against this one."""

    low: int
    high: int

    @property
    def text(self) -> str:
        """The band as a table prints it (:func:`band_text`)."""
        return band_text(self.low, self.high)


def band_text(low: int | None, high: int | None = None) -> str:
    """Return ``"2"`` for a band of one rank, ``"1–3"`` for a wider one, ``"-"`` for no rank."""
    if low is None:
        return "-"
    if high is None or high == low:
        return str(low)
    return f"{low}–{high}"


def interval_bands(
    values: Sequence[float],
    intervals: Sequence[tuple[float, float] | None],
    *,
    higher_is_better: bool = True,
) -> list[RankBand]:
    """Return one :class:`RankBand` per value, from the values' intervals (same order).

    ``j`` is significantly better than ``i`` when both have an interval and ``j``'s lies wholly
    beyond ``i``'s in the better direction (they do not overlap). A row without an interval
    cannot be tested: each row better by value and untested widens the band. Equal values are
    never better than each other. O(n log n): sorted bounds and bisection, for groups of any size.
    """
    if len(values) != len(intervals):
        raise ValueError(f"{len(values)} values but {len(intervals)} intervals")
    sign = 1.0 if higher_is_better else -1.0
    # On the "higher is better" axis: a lower bound and an upper bound per row.
    bounds = [
        None if iv is None else tuple(sorted((sign * iv[0], sign * iv[1]))) for iv in intervals
    ]
    lows = sorted(b[0] for b in bounds if b is not None)
    untested_values = sorted(sign * v for v, b in zip(values, bounds) if b is None)
    tested_values = sorted(sign * v for v, b in zip(values, bounds) if b is not None)
    bands = []
    for value, bound in zip(values, bounds):
        mine = sign * value
        if bound is None:
            better = 0
            untested = len(untested_values) - bisect_right(untested_values, mine)
            untested += len(tested_values) - bisect_right(tested_values, mine)
        else:
            better = len(lows) - bisect_right(lows, bound[1])
            untested = len(untested_values) - bisect_right(untested_values, mine)
        bands.append(RankBand(1 + better, 1 + better + untested))
    return bands
