"""Step-wise scoring: each sample's prompt, model and arguments against its reference, per slice.

:func:`score_samples` scores every benchmark row (a missing or invalid prediction scores zero and
is counted; a field with an error scores as wrong for that field's metric only), with BERTScore
batched over the whole run; :func:`aggregate` turns a list of scored samples into a slice block
(``n_samples``, ``n_missing``, ``n_invalid_fields``, ``stepwise``) with one block per input type.
The metrics are the paper's (Table 4, left): :mod:`chatgenbench.metrics.bertscore` and
:mod:`chatgenbench.metrics.stepwise`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from chatgenbench.benchmark.schema import INPUT_TYPES, reference_arguments
from chatgenbench.core.errors import EncoderUnavailable
from chatgenbench.core.normalize import ARGUMENT_KEYS
from chatgenbench.metrics.stepwise import config_matches, sample_config_score, selection_correct
from chatgenbench.metrics.values import computed, not_computed
from chatgenbench.predictions.report import Prediction, ValidationReport

#: How the step-wise scores were computed: recorded in ``metric_settings`` beside the encoder.
STEPWISE_SETTINGS: dict[str, Any] = {
    "selection_accuracy": {
        "normalisation": "case, whitespace, trailing '.', file "
        "extension (.safetensors, .ckpt, .pt, .pth, .bin)"
    },
    "config_accuracy": {
        "keys": list(ARGUMENT_KEYS),
        "normalisation": "numbers by value "
        "('512' == 512, 7 == 7.0); sampler case- and space-insensitive; "
        "missing or unparsable counts as wrong",
    },
    "invalid_prediction_policy": "a missing or invalid row scores 0 on every metric; a "
    "field with an error scores as wrong for that field's metric",
}


def _usable_arguments(prediction: Prediction) -> dict[str, Any]:
    return {
        key: value
        for key, value in prediction.arguments.items()
        if key in ARGUMENT_KEYS and prediction.valid(f"arguments.{key}")
    }


def score_samples(
    rows: list[dict[str, Any]],
    report: ValidationReport,
    *,
    bertscore=None,
    progress: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """Return one score record per benchmark row, and the reason BERTScore failed (or None).

    Each record has ``id, setting, input_type, has_prediction, prompt_bertscore,
    selection_correct, config_score, config_matches, invalid_fields``.
    """
    samples = []
    pairs: list[tuple[int, str, str]] = []
    for index, row in enumerate(rows):
        prediction = report.predictions.get(row["id"])
        record: dict[str, Any] = {
            "id": row["id"],
            "setting": row["setting"],
            "input_type": row["input_type"],
            "has_prediction": prediction is not None,
            "prompt_bertscore": 0.0,
            "selection_correct": False,
            "config_score": 0.0,
            "config_matches": {},
            "invalid_fields": sorted(prediction.invalid_fields) if prediction else [],
        }
        reference_args = reference_arguments(row)
        if prediction is None:
            record["config_matches"] = {key: False for key in reference_args}
        else:
            if prediction.valid("model"):
                record["selection_correct"] = selection_correct(prediction.model, row["model"])
            matches = config_matches(_usable_arguments(prediction), reference_args)
            record["config_matches"] = matches
            record["config_score"] = sample_config_score(matches)
            prompt = prediction.prompt
            if prediction.valid("prompt") and isinstance(prompt, str) and prompt.strip():
                pairs.append((index, prompt, row["prompt"]))
        samples.append(record)

    failure = None
    if bertscore is not None and pairs:
        try:
            scores = bertscore.score(
                [p[1] for p in pairs], [p[2] for p in pairs], progress=progress
            )
        except EncoderUnavailable as error:
            failure = str(error)
        else:
            for (index, _, _), value in zip(pairs, scores):
                samples[index]["prompt_bertscore"] = value
    elif bertscore is None:
        failure = "BERTScore was not requested"
    return samples, failure


def _slice_block(
    samples: list[dict[str, Any]], bertscore_failure: str | None, bertscore_fix: str | None
) -> dict[str, Any]:
    n = len(samples)
    invalid = Counter(field for s in samples for field in s["invalid_fields"])
    block: dict[str, Any] = {
        "n_samples": n,
        "n_missing": sum(not s["has_prediction"] for s in samples),
        "n_invalid_fields": dict(sorted(invalid.items())),
    }
    if n == 0:
        reason = "no samples in this slice"
        block["stepwise"] = {
            "prompt_bertscore": not_computed(reason),
            "selection_accuracy": not_computed(reason),
            "config_accuracy": not_computed(reason),
        }
    else:
        totals: Counter = Counter()
        hits: Counter = Counter()
        for sample in samples:
            for key, hit in sample["config_matches"].items():
                totals[key] += 1
                hits[key] += int(hit)
        per_key = {key: hits[key] / totals[key] for key in ARGUMENT_KEYS if totals[key]}
        if bertscore_failure:
            prompt = not_computed(bertscore_failure, bertscore_fix)
        else:
            prompt = computed(sum(s["prompt_bertscore"] for s in samples) / n, n)
        block["stepwise"] = {
            "prompt_bertscore": prompt,
            "selection_accuracy": computed(sum(s["selection_correct"] for s in samples) / n, n),
            "config_accuracy": computed(
                sum(s["config_score"] for s in samples) / n,
                n,
                per_key=per_key,
                per_key_n={key: totals[key] for key in per_key},
            ),
        }
    return block


def aggregate(
    samples: list[dict[str, Any]],
    bertscore_failure: str | None = None,
    bertscore_fix: str | None = None,
) -> dict[str, Any]:
    """Return the step-wise block of ``samples`` with a ``by_input_type`` block per input type.

    A block holds ``n_samples``, ``n_missing``, ``n_invalid_fields`` and ``stepwise``; the results
    builder (:mod:`chatgenbench.scoring.results`) adds the image blocks.
    """
    block = _slice_block(samples, bertscore_failure, bertscore_fix)
    block["by_input_type"] = {
        input_type: _slice_block(
            [s for s in samples if s["input_type"] == input_type],
            bertscore_failure,
            bertscore_fix,
        )
        for input_type in INPUT_TYPES
    }
    return block
