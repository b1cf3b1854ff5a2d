"""Metrics of ChatGenBench, each registered once in :data:`METRICS` with its metadata.

The registry, :data:`METRICS`, is :mod:`chatgenbench.metrics.registry`. Step-wise (the paper's
Table 4, left): :func:`prompt_bertscore`, :func:`selection_accuracy`, :func:`config_accuracy`.
Image metrics (:mod:`chatgenbench.metrics.base` is their contract; :mod:`~.values`,
:mod:`~.weight_sets`, :mod:`~.bootstrap` and :mod:`~.images` what it is built from):
FID (:mod:`~chatgenbench.metrics.fid`), CLIP score (:mod:`~chatgenbench.metrics.clip_score`),
HPS v2 (:mod:`~chatgenbench.metrics.hps`), ImageReward (:mod:`~chatgenbench.metrics.image_reward`).
Final: :func:`unified_metric` of those four. Each image metric has a functional twin in its module
(``fid.fid``, ``clip_score.clip_score``, ...). Heavy dependencies (bert_score, torch) are imported
only when a metric runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it; imported on first use, so that importing one metric
#: module does not import the others.
_LAZY = {
    "METRICS": "registry",
    "ImageMetric": "base",
    "MetricValue": "values",
    "PerImageMetric": "base",
    "register_image_metric": "registry",
    "ConfigAccuracy": "stepwise",
    "config_accuracy": "stepwise",
    "config_matches": "stepwise",
    "selection_accuracy": "stepwise",
    "selection_correct": "stepwise",
    "prompt_bertscore": "bertscore",
    "UNIFIED_INPUTS": "unified",
    "unified_metric": "unified",
}

if TYPE_CHECKING:  # pragma: no cover
    from chatgenbench.metrics.base import ImageMetric, PerImageMetric
    from chatgenbench.metrics.bertscore import prompt_bertscore
    from chatgenbench.metrics.registry import METRICS, register_image_metric
    from chatgenbench.metrics.stepwise import (
        ConfigAccuracy,
        config_accuracy,
        config_matches,
        selection_accuracy,
        selection_correct,
    )
    from chatgenbench.metrics.unified import UNIFIED_INPUTS, unified_metric
    from chatgenbench.metrics.values import MetricValue


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"chatgenbench.metrics.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'chatgenbench.metrics' has no attribute {name!r}")


__all__ = [
    "METRICS",
    "UNIFIED_INPUTS",
    "ConfigAccuracy",
    "ImageMetric",
    "MetricValue",
    "PerImageMetric",
    "config_accuracy",
    "config_matches",
    "prompt_bertscore",
    "register_image_metric",
    "selection_accuracy",
    "selection_correct",
    "unified_metric",
]
