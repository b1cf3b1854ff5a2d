"""Uncertainty of a result: per-sample scores kept with it, and bootstrap intervals of the step-wise
metrics of every slice.

The image metrics already carry a seeded percentile bootstrap interval (``ci``, from
:func:`chatgenbench.metrics.bootstrap.bootstrap_ci`); :func:`slice_intervals` gives every computed
step-wise metric of a slice the same kind of interval, drawn with the same function over the
slice's per-sample scores (:func:`attach_stepwise_intervals`: of every slice of a results dict).
:func:`per_sample_records` is what a results file keeps of each sample (``per_sample``), so that
two results can be compared sample by sample (:mod:`chatgenbench.analysis.comparison`).
"""

from __future__ import annotations

from typing import Any

from chatgenbench.metrics.bootstrap import Bootstrap, bootstrap_ci
from chatgenbench.metrics.registry import METRICS
from chatgenbench.scoring.result_schema import STATUS_COMPUTED
from chatgenbench.scoring.results import slice_blocks

#: The key of a scored sample (:func:`chatgenbench.scoring.stepwise.score_samples`) that holds each
#: step-wise metric's per-sample score: the metric of a slice is the mean of these.
STEPWISE_SAMPLE_KEYS: dict[str, str] = {
    "prompt_bertscore": "prompt_bertscore",
    "selection_accuracy": "selection_correct",
    "config_accuracy": "config_score",
}


def bootstrap_settings(bootstrap: Bootstrap) -> dict[str, Any]:
    """Return how the step-wise intervals were drawn, as recorded in ``metric_settings``."""
    return {
        "resamples": bootstrap.resamples,
        "level": bootstrap.level,
        "seed": bootstrap.seed,
        "method": "percentile bootstrap of the mean over the slice's samples",
    }


def stepwise_sample_value(sample: dict[str, Any], metric: str) -> float | None:
    """Return one sample's score for step-wise ``metric`` (a bool counts 1 or 0), None if absent."""
    key = STEPWISE_SAMPLE_KEYS.get(metric)
    value = sample.get(key) if key else None
    return None if value is None else float(value)


def slice_intervals(
    stepwise: dict[str, Any], members: list[dict[str, Any]], bootstrap: Bootstrap
) -> dict[str, Any]:
    """Return one slice's ``stepwise`` block with a ``ci`` on every computed step-wise metric.

    ``members`` are the scored samples of the slice. The interval is
    :func:`chatgenbench.metrics.bootstrap.bootstrap_ci` of their per-sample scores (null for fewer than
    two samples); a metric that was not computed, or has no per-sample scores, gets none.
    """
    found = dict(stepwise)
    for name in METRICS.names_of("stepwise"):
        metric = found.get(name)
        if not isinstance(metric, dict) or metric.get("status") != STATUS_COMPUTED:
            continue
        values = [stepwise_sample_value(s, name) for s in members]
        if any(v is None for v in values):
            continue  # a metric registered without per-sample scores: no interval
        ci = bootstrap_ci(
            values, resamples=bootstrap.resamples, level=bootstrap.level, seed=bootstrap.seed
        )
        found[name] = {**metric, "ci": ci.to_dict() if ci else None}
    return found


def attach_stepwise_intervals(
    results: dict[str, Any], samples: list[dict[str, Any]], bootstrap: Bootstrap
) -> dict[str, Any]:
    """Give every computed step-wise metric of every slice of ``results`` a ``ci``, in place.

    ``samples`` are the scored samples the slices were aggregated from (see
    :func:`slice_intervals`). Records the bootstrap in ``metric_settings.stepwise_bootstrap``.
    Returns ``results``.
    """
    for piece, block in slice_blocks(results):
        if block.get("stepwise"):
            members = [s for s in samples if piece.selects(s)]
            block["stepwise"] = slice_intervals(block["stepwise"], members, bootstrap)
    results.setdefault("metric_settings", {})["stepwise_bootstrap"] = bootstrap_settings(bootstrap)
    return results


def per_sample_records(
    samples: list[dict[str, Any]], bertscore_failure: str | None = None
) -> list[dict[str, Any]]:
    """Return what a results file keeps of each scored sample (its ``per_sample`` list).

    Each record has ``id``, ``setting``, ``input_type``, ``has_prediction``, the step-wise scores
    (``prompt_bertscore``: null when BERTScore was not computed; ``selection_correct``;
    ``config_score``) and, when images were scored, ``render_status`` and ``image_scores`` (raw
    per-image score by metric; FID has none: it is a statistic of the whole set).
    """
    records = []
    for sample in samples:
        record: dict[str, Any] = {
            "id": sample["id"],
            "setting": sample["setting"],
            "input_type": sample["input_type"],
            "has_prediction": bool(sample["has_prediction"]),
            "prompt_bertscore": None if bertscore_failure else sample["prompt_bertscore"],
            "selection_correct": bool(sample["selection_correct"]),
            "config_score": sample["config_score"],
        }
        if "render_status" in sample:
            record["render_status"] = sample["render_status"]
            record["image_scores"] = dict(sample.get("image_scores") or {})
        records.append(record)
    return records
