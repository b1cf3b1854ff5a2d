"""Rank bands of the ranking's rows: ranks from significance, never from order alone.

Each group of the ranking is sorted by one metric (the one chosen in 'Rank by', or by default the
first of :data:`DEFAULT_SORT_ORDER` that some row has), and a row's rank is 1 + the number of rows
that **beat** it (:data:`chatgenbench.analysis.rank_bands.RANK_BAND_NOTE`):

- row ``o`` beats row ``r`` on a metric when ``o``'s value is better and their 95% intervals do
  not overlap, or, where they overlap (or either has none), the paired sign-flip test on their
  per-sample scores gives p < 0.05 (:func:`leaderboard.significance.compare_rows`: without
  per-sample scores, overlapping intervals are not significantly different);
- the default sort (:func:`default_sort_label`: "Unified, else step-wise (default)") reads the
  rest of :data:`DEFAULT_SORT_ORDER` as tie-breakers: when two rows are equal or cannot be told
  apart on the sorted metric, the next metric both have decides, again only by a significant
  difference. A metric chosen in 'Rank by' is the only one read;
- where no test is possible (a reported paper row has neither per-sample scores nor intervals),
  the row above by value is counted in the band's upper end only: the rank shows as ``1–3``.

Rows are listed by rank, then by the sorted metric's values (the tie-breakers' after it), then by
method name. A group of more than :data:`PAIRWISE_ROWS` rows is ranked on its intervals of the
sorted metric alone (:func:`chatgenbench.analysis.rank_bands.interval_bands`, O(n log n)), as the
page says; paired tests between every two rows would cost too much there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatgenbench.analysis.comparison import DEFAULT_ALPHA
from chatgenbench.analysis.rank_bands import RANK_BAND_NOTE, interval_bands
from leaderboard.significance import compare_rows

#: The metrics the default sort reads, in order: the first that some row of a group has is sorted
#: by, the ones after it break ties (only where they separate two rows significantly).
DEFAULT_SORT_ORDER: tuple[str, ...] = (
    "unified",
    "config_accuracy",
    "selection_accuracy",
    "prompt_bertscore",
)
#: Above this many ranked rows in a group, ranks come from intervals of the sorted metric alone.
PAIRWISE_ROWS = 20
UNTESTABLE = "no per-sample scores or interval"


@dataclass(frozen=True)
class Verdict:
    """Which of two rows beats the other: ``leader`` is better by value on ``key``; ``tested``
    says whether a test separated them (False: nothing could be tested), ``why`` says how."""

    leader: Any
    key: str
    tested: bool
    why: str


def default_sort_keys(rows: list) -> tuple[str, ...]:
    """Return the default sort's metrics for ``rows``: the first of :data:`DEFAULT_SORT_ORDER`
    that some row has, then the ones after it (the tie-breakers)."""
    for position, key in enumerate(DEFAULT_SORT_ORDER):
        if any(row.values.get(key) is not None for row in rows):
            return DEFAULT_SORT_ORDER[position:]
    return DEFAULT_SORT_ORDER


def pair_verdict(a, b, keys: tuple[str, ...], directions: dict[str, bool]) -> Verdict | None:
    """Return which of rows ``a`` and ``b`` beats the other on ``keys`` read in order, or None when
    no key separates them (equal, or not significantly different, on every key both have).

    ``directions`` maps a key to whether higher is better.
    """
    for key in keys:
        value_a, value_b = a.values.get(key), b.values.get(key)
        if value_a is None or value_b is None or value_a == value_b:
            continue
        higher = directions[key]
        leader, other = (a, b) if (value_a > value_b) == higher else (b, a)
        if _intervals_apart(leader, other, key):  # significant without a paired test: cheap
            return Verdict(leader, key, True, "95% intervals are apart")
        found = compare_rows(leader, other, key, higher_is_better=higher)
        if found is None:
            return Verdict(leader, key, False, UNTESTABLE)
        if not found["indistinct"]:
            return Verdict(leader, key, True, found["why"])
    return None


def _intervals_apart(a, b, key: str) -> bool:
    # Two 95% intervals that do not overlap: the paired test (more powerful on the same samples)
    # would find the difference too, so the O(n^2) pairs of a group cost a paired test only
    # where the intervals overlap.
    first, second = a.intervals.get(key), b.intervals.get(key)
    if not first or not second:
        return False
    return first[1] < second[0] or second[1] < first[0]


def assign_bands(rows: list, keys: tuple[str, ...], directions: dict[str, bool], labels) -> list:
    """Set ``rank``, ``rank_upper`` and ``rank_basis`` on every row, in place, and return the rows
    listed by rank (unranked rows, without ``keys[0]``, last with rank None).

    ``labels`` maps a key to the label the page shows. Raises ValueError for an empty ``keys``.
    """
    if not keys:
        raise ValueError("a ranking needs at least one metric to sort by")
    primary = keys[0]
    ranked = [row for row in rows if row.values.get(primary) is not None]
    unranked = [row for row in rows if row.values.get(primary) is None]
    for row in unranked:
        row.rank, row.rank_upper = None, None
        row.rank_basis = f"no {labels[primary]}: not ranked"
    if len(ranked) > PAIRWISE_ROWS:
        _interval_bands(ranked, primary, directions[primary], labels)
    else:
        _pairwise_bands(ranked, keys, directions, labels)

    def order(row) -> tuple:
        values = []
        for key in keys:
            value = row.values.get(key)
            sign = -1.0 if directions[key] else 1.0
            values.append((1, 0.0) if value is None else (0, sign * value))
        return (row.rank, *values, row.method.lower(), row.name)

    unranked.sort(key=lambda row: (row.method.lower(), row.name))
    return sorted(ranked, key=order) + unranked


def _pairwise_bands(ranked: list, keys, directions, labels) -> None:
    beaten_by: dict[int, list[Verdict]] = {id(row): [] for row in ranked}
    for i, a in enumerate(ranked):
        for b in ranked[i + 1 :]:
            verdict = pair_verdict(a, b, keys, directions)
            if verdict is not None:
                loser = b if verdict.leader is a else a
                beaten_by[id(loser)].append(verdict)
    for row in ranked:
        verdicts = beaten_by[id(row)]
        better = [v for v in verdicts if v.tested]
        untested = [v for v in verdicts if not v.tested]
        row.rank = 1 + len(better)
        row.rank_upper = row.rank + len(untested)
        row.rank_basis = _basis(better, untested, labels)


def _basis(better: list[Verdict], untested: list[Verdict], labels) -> str:
    parts = []
    if better:
        first = better[0]
        more = f" (and {len(better) - 1} more)" if len(better) > 1 else ""
        parts.append(
            f"{len(better)} significantly better: {first.leader.method} on "
            f"{labels[first.key]}, {first.why}{more}"
        )
    if untested:
        parts.append(f"{len(untested)} above by value not testable ({UNTESTABLE})")
    return "; ".join(parts) or "none significantly better"


def _interval_bands(ranked: list, key: str, higher_is_better: bool, labels) -> None:
    bands = interval_bands(
        [row.values[key] for row in ranked],
        [row.intervals.get(key) for row in ranked],
        higher_is_better=higher_is_better,
    )
    for row, band in zip(ranked, bands):
        row.rank, row.rank_upper = band.low, band.high
        row.rank_basis = f"{band.low - 1} with a 95% interval of {labels[key]} wholly better" + (
            f"; {band.high - band.low} above by value not testable" if band.high > band.low else ""
        )


def order_note(keys: tuple[str, ...], labels, *, default: bool, skipped: tuple[str, ...] = ()):
    """Return the sentence that says how a group is sorted and ranked: by which metric, then which
    tie-breakers, then method name; and what a rank band means.

    ``labels`` maps a key to the header the page shows; ``skipped`` names the default sort's
    metrics that no row of the group has (the reason it falls back).
    """
    text = f"Sorted by {labels[keys[0]]}"
    if default and skipped:
        text += f" ({', '.join(labels[k] for k in skipped)}: computed for no row here)"
    if default and len(keys) > 1:
        text += (
            "; rows equal or not significantly different on it are separated by "
            + ", then ".join(labels[k] for k in keys[1:])
            + " where a test separates them"
        )
    text += "; then by method name. "
    return (
        text
        + RANK_BAND_NOTE
        + " Significantly: 95% intervals that do not overlap, or, where they overlap, a paired "
        f"sign-flip test on per-sample scores with p < {DEFAULT_ALPHA}."
    )


def top_line(rows: list) -> str | None:
    """Return the line that names a group's top: the rows ranked 1 for certain (shared when a test
    cannot tell them apart), and how many more might be (untestable), or None when no row is
    ranked."""
    certain = [row for row in rows if row.rank == 1 and row.rank_upper == 1]
    maybe = [row for row in rows if row.rank == 1 and row.rank_upper != 1]
    if not certain and not maybe:
        return None
    if not certain:
        return (
            f"Top of this group: not known ({len(maybe)} rows could rank 1; they cannot be "
            "tested against each other)"
        )
    names = ", ".join(f"{row.method} ({row.kind})" for row in certain)
    line = "Top of this group" + (", not told apart: " if len(certain) > 1 else ": ") + names
    if maybe:
        line += f"; {len(maybe)} more could share rank 1 (not testable against it)"
    return line


def default_sort_label() -> str:
    """Return how the 'Rank by' choice names the default sort, short enough for the sidebar:
    ``Unified, else step-wise (default)``; each group's notes give the full order
    (:func:`order_note`)."""
    from chatgenbench.metrics.registry import METRICS

    return f"{METRICS.metadata(DEFAULT_SORT_ORDER[0])['label']}, else step-wise (default)"
