"""How one sample's scores read on every page: the ranking's labels, scale and digits.

The ranking's columns (:func:`leaderboard.ranking.metric_columns`, from the metric registry's
``label``, ``scale`` and ``fmt``) are the one table of metric display. Results hold the means on
that scale (a CLIP score ×100); the per-sample scores behind them are raw (0.016), so a page that
shows a sample's scores goes through :func:`sample_scores` and reads ``CLIP 1.6 · HPS v2 38.9``
beside a ranking that shows ``CLIP ↑ 1.6`` and ``HPS v2 ↑ 38.9``, never ``clip_score 0.016``.
A score of a metric that is not registered here keeps its key and raw value, marked ``(raw)``.
"""

from __future__ import annotations

from typing import Any

from leaderboard.ranking import metric_columns


def sample_scores(sample: Any) -> list[tuple[str, str]]:
    """Return ``(label, value)`` pairs of a gallery sample's scores, in the ranking's order.

    ``sample`` is a :class:`leaderboard.gallery.SampleView` (its ``bertscore``, ``config_score``
    and ``image_scores``); BERTScore and config accuracy are always listed (``-`` when absent),
    image metrics only where the sample has a score.
    """
    raw: dict[str, float | None] = {
        "prompt_bertscore": sample.bertscore,
        "config_accuracy": sample.config_score,
        **(sample.image_scores or {}),
    }
    shown = []
    known = set()
    for column in metric_columns():
        known.add(column.key)
        if column.key in raw:
            shown.append((column.label, column.format_sample(raw[column.key])))
    for key, value in sorted((sample.image_scores or {}).items()):
        if key not in known:
            shown.append((f"{key} (raw)", "-" if value is None else f"{value:.3f}"))
    return shown


def sample_scores_text(sample: Any) -> str:
    """Return a sample's scores as one line: ``BERTScore 0.812 · Config acc 0.400 · CLIP 1.6``."""
    return " · ".join(f"{label} {value}" for label, value in sample_scores(sample))
