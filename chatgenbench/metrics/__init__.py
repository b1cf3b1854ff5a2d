"""Metrics of ChatGenBench, registered by name with their direction.

Step-wise (the paper's Table 4, left): :func:`prompt_bertscore`, :func:`selection_accuracy`,
:func:`config_accuracy`. Final: :func:`unified_metric` of FID, CLIP score, HPS v2 and ImageReward.
Heavy dependencies (bert_score, torch) are imported only when a metric runs.
"""

from __future__ import annotations

from chatgenbench.metrics.stepwise import (
    ConfigAccuracy,
    config_accuracy,
    config_matches,
    selection_accuracy,
    selection_correct,
)
from chatgenbench.metrics.unified import UNIFIED_RANGES, unified_metric
from chatgenbench.registry import Registry

METRICS: Registry = Registry("metric")
METRICS.register(
    "prompt_bertscore",
    "chatgenbench.metrics.bertscore:prompt_bertscore",
    higher_is_better=True,
    stage="stepwise",
    scale="raw",
)
METRICS.register(
    "selection_accuracy", selection_accuracy, higher_is_better=True, stage="stepwise", scale="raw"
)
METRICS.register(
    "config_accuracy", config_accuracy, higher_is_better=True, stage="stepwise", scale="raw"
)
METRICS.register(
    "fid", "chatgenbench.metrics.image:fid", higher_is_better=False, stage="image", scale="x1"
)
METRICS.register(
    "clip_score",
    "chatgenbench.metrics.image:clip_score",
    higher_is_better=True,
    stage="image",
    scale="x100",
)
METRICS.register(
    "hps_v2",
    "chatgenbench.metrics.image:hps_v2",
    higher_is_better=True,
    stage="image",
    scale="x100",
)
METRICS.register(
    "image_reward",
    "chatgenbench.metrics.image:image_reward",
    higher_is_better=True,
    stage="image",
    scale="x100",
)
METRICS.register("unified", unified_metric, higher_is_better=True, stage="image", scale="x100")


def prompt_bertscore(candidates, references, encoder: str = "minilm", **kwargs) -> float:
    """Mean BERTScore F1 of predicted against reference prompts; see
    :func:`chatgenbench.metrics.bertscore.prompt_bertscore`."""
    from chatgenbench.metrics.bertscore import prompt_bertscore as _prompt_bertscore

    return _prompt_bertscore(candidates, references, encoder=encoder, **kwargs)


__all__ = [
    "METRICS",
    "UNIFIED_RANGES",
    "ConfigAccuracy",
    "config_accuracy",
    "config_matches",
    "prompt_bertscore",
    "selection_accuracy",
    "selection_correct",
    "unified_metric",
]
