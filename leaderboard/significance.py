"""Intervals in the ranking, and the mark of a row that cannot be told apart from the row above.

Each submission row carries the interval of every metric that has one (``ci`` in its results:
the step-wise metrics' and the per-image metrics' seeded bootstrap intervals) and its per-sample
scores in the view. :func:`mark_indistinct` compares each ranked row with the row above on the
column the group is sorted by:

- both rows have per-sample scores: a paired sign-flip permutation test on the samples they share
  (:func:`chatgenbench.analysis.comparison.paired_difference`); p >= alpha: not distinguishable;
- otherwise both have an interval: overlapping intervals are not distinguishable;
- otherwise (a reported paper row has neither) nothing is said.
"""

from __future__ import annotations

from typing import Any

from chatgenbench.analysis.comparison import DEFAULT_ALPHA, paired_difference

INDISTINCT_MARK = "≈"
INDISTINCT_NOTE = (
    f"{INDISTINCT_MARK} in 'vs above': this row's score on the sorted column cannot be told apart "
    f"from the row above (a paired sign-flip test on their per-sample scores gives p >= "
    f"{DEFAULT_ALPHA}, or, without per-sample scores, their 95% intervals overlap)."
)
RESAMPLES = 1000


def metric_interval(metric: Any) -> tuple[float, float] | None:
    """Return ``(low, high)`` of a results metric object's ``ci``, None when it has none."""
    ci = metric.get("ci") if isinstance(metric, dict) else None
    if isinstance(ci, dict) and ci.get("low") is not None and ci.get("high") is not None:
        return float(ci["low"]), float(ci["high"])
    return None


def view_scores(results: dict[str, Any], setting: str, input_type: str, metric: str):
    """Return a result's per-sample scores of ``metric`` in a ranking view (None when absent)."""
    from chatgenbench.analysis.comparison import per_sample_scores
    from chatgenbench.scoring.results import Slice

    if not isinstance(results.get("per_sample"), list):
        return None
    piece = Slice(
        None if setting == "overall" else setting, None if input_type == "all" else input_type
    )
    scores = per_sample_scores(results, metric, piece)
    return scores or None


#: Paired tests already run, by what identifies the two results, the view and the metric: the
#: page builds its ranking on every interaction, and a full-size paired test takes a fraction of
#: a second.
_PAIRED_CACHE: dict[tuple, dict[str, Any] | None] = {}
_PAIRED_CACHE_SIZE = 4096


def _identity(row) -> tuple | None:
    if row.view_of is None:
        return None
    results, setting, input_type = row.view_of
    provenance = results.get("provenance") or {}
    predictions = results.get("predictions") or {}
    return (
        row.name,
        predictions.get("sha256"),
        provenance.get("created_utc"),
        len(results.get("per_sample") or ()),
        setting,
        input_type,
    )


def compare_rows(above, row, key: str, *, higher_is_better: bool) -> dict[str, Any] | None:
    """Return how ``row`` compares with ``above`` on ``key``: ``{"indistinct": bool, "why": ...}``,
    or None when neither a paired test nor intervals are available."""
    identities = (_identity(above), _identity(row))
    cache_key = (*identities, key, higher_is_better) if None not in identities else None
    if cache_key is not None and cache_key in _PAIRED_CACHE:
        return _PAIRED_CACHE[cache_key]
    found = _compare_rows(above, row, key, higher_is_better=higher_is_better)
    if cache_key is not None:
        if len(_PAIRED_CACHE) >= _PAIRED_CACHE_SIZE:
            _PAIRED_CACHE.clear()
        _PAIRED_CACHE[cache_key] = found
    return found


def _compare_rows(above, row, key: str, *, higher_is_better: bool) -> dict[str, Any] | None:
    scores_above, scores_row = above.scores_of(key), row.scores_of(key)
    if scores_above and scores_row:
        shared = sorted(set(scores_above) & set(scores_row))
        if len(shared) >= 2:
            result = paired_difference(
                [scores_above[i] for i in shared],
                [scores_row[i] for i in shared],
                higher_is_better=higher_is_better,
                resamples=RESAMPLES,
            )
            return {
                "indistinct": not result["significant"],
                "why": f"paired test on {len(shared)} samples, p = {result['p_value']:.3f}",
            }
    low_high_above, low_high_row = above.intervals.get(key), row.intervals.get(key)
    if low_high_above and low_high_row:
        overlap = low_high_above[0] <= low_high_row[1] and low_high_row[0] <= low_high_above[1]
        return {
            "indistinct": overlap,
            "why": "95% intervals overlap" if overlap else "95% intervals are apart",
        }
    return None


def mark_indistinct(rows: list, key: str, *, higher_is_better: bool) -> None:
    """Set ``vs_above`` on each ranked row after the first (sorted by ``key``), in place."""
    ranked = [row for row in rows if row.values.get(key) is not None]
    for above, row in zip(ranked, ranked[1:]):
        row.vs_above = compare_rows(above, row, key, higher_is_better=higher_is_better)


def vs_above_cell(row) -> str:
    """Return the display cell of a row's comparison with the row above."""
    found = getattr(row, "vs_above", None)
    if not found:
        return ""
    return f"{INDISTINCT_MARK} ({found['why']})" if found["indistinct"] else ""
