"""Selection accuracy and config accuracy (the paper's step-wise metrics), as pure functions.

- Selection accuracy: exact match of predicted and reference model after normalisation (case,
  whitespace, a trailing ``.``, a file extension such as ``.safetensors``).
- Config accuracy: per sample, the mean over the reference's argument keys of exact match after
  type normalisation (``'512' == 512``, ``7 == 7.0``, sampler names case- and space-insensitive;
  a missing or unparsable value is wrong); then the mean over samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatgenbench.core.normalize import ARGUMENT_KEYS, argument_matches, normalize_model_name
from chatgenbench.metrics.registry import METRICS


def selection_correct(predicted: Any, reference: Any) -> bool:
    """Whether two model names are equal after normalisation (case, whitespace, ``.``, extension)."""
    pred, ref = normalize_model_name(predicted), normalize_model_name(reference)
    return pred is not None and pred == ref


def selection_accuracy(predicted: Sequence[Any], reference: Sequence[Any]) -> float:
    """Fraction of samples whose predicted model equals the reference model.

    A missing (None) or non-string prediction counts as wrong.

    >>> selection_accuracy(["rawXs_v2.safetensors", None], ["rawxs_v2", "rolua"])
    0.5
    """
    if len(predicted) != len(reference):
        raise ValueError(f"{len(predicted)} predictions for {len(reference)} references")
    if not reference:
        raise ValueError("selection accuracy of zero samples is undefined")
    return sum(selection_correct(p, r) for p, r in zip(predicted, reference)) / len(reference)


def config_matches(
    predicted: Mapping[str, Any] | None, reference: Mapping[str, Any]
) -> dict[str, bool]:
    """Per-key exact match of predicted arguments against the reference's present keys.

    Only the reference's keys among ``sampler, steps, cfg_scale, width, height`` with a non-null
    value are scored; a missing or unparsable predicted value is a mismatch.
    """
    predicted = predicted if isinstance(predicted, Mapping) else {}
    return {
        key: argument_matches(key, predicted.get(key), reference[key])
        for key in ARGUMENT_KEYS
        if reference.get(key) is not None
    }


@dataclass
class ConfigAccuracy:
    """Config accuracy: the mean over samples of each sample's mean per-key match, plus per key."""

    value: float
    per_key: dict[str, float] = field(default_factory=dict)
    per_key_n: dict[str, int] = field(default_factory=dict)


def sample_config_score(matches: Mapping[str, bool]) -> float:
    """Return one sample's config score: the mean of its per-key matches (0 with no key)."""
    return sum(matches.values()) / len(matches) if matches else 0.0


def config_accuracy(
    predicted: Sequence[Mapping[str, Any] | None], reference: Sequence[Mapping[str, Any]]
) -> ConfigAccuracy:
    """Config accuracy over samples (the mean of per-sample scores), with each key's accuracy.

    >>> config_accuracy([{"steps": "30", "cfg_scale": 7, "width": 512}],
    ...                 [{"steps": 30, "cfg_scale": 7.0, "width": "768"}]).value  # 2 of 3 keys
    0.6666666666666666
    """
    if len(predicted) != len(reference):
        raise ValueError(f"{len(predicted)} predictions for {len(reference)} references")
    if not reference:
        raise ValueError("config accuracy of zero samples is undefined")
    totals: dict[str, int] = {}
    hits: dict[str, int] = {}
    sample_scores = []
    for pred, ref in zip(predicted, reference):
        matches = config_matches(pred, ref)
        sample_scores.append(sample_config_score(matches))
        for key, hit in matches.items():
            totals[key] = totals.get(key, 0) + 1
            hits[key] = hits.get(key, 0) + int(hit)
    return ConfigAccuracy(
        value=sum(sample_scores) / len(sample_scores),
        per_key={key: hits[key] / totals[key] for key in ARGUMENT_KEYS if key in totals},
        per_key_n={key: totals[key] for key in ARGUMENT_KEYS if key in totals},
    )


METRICS.register(
    "selection_accuracy",
    selection_accuracy,
    stage="stepwise",
    label="Sel. acc",
    higher_is_better=True,
    fmt="{:.3f}",
    description="fraction of samples whose normalised predicted model equals the reference model",
)
METRICS.register(
    "config_accuracy",
    config_accuracy,
    stage="stepwise",
    label="Config acc",
    higher_is_better=True,
    fmt="{:.3f}",
    description="mean over samples of the per-sample mean exact match of the reference's "
    "argument keys; per_key holds each key's accuracy, per_key_n its sample count",
)
