"""Oracle steps: giving a method the benchmark's reference values for some of its steps.

The paper's Table 6 measures each step alone by giving the method the human-validated answer for
the other steps. ``chatgenbench evaluate PRED --oracle STEPS`` does that: :func:`apply_oracle`
replaces the fields of the given steps in every prediction with the benchmark's reference values
before scoring and rendering, and :func:`oracle_stepwise` reports the step-wise metric of an
oracle step as ``oracle`` (its value is the reference's own, not the method's score). A results
file records the steps in ``oracle``.

========== ================================================== ======================
step       fields replaced                                    its step-wise metric
========== ================================================== ======================
prompt     ``prompt``, ``negative_prompt``                    ``prompt_bertscore``
model      ``model``                                          ``selection_accuracy``
arguments  ``arguments`` (sampler, steps, cfg_scale, width,   ``config_accuracy``
           height; a predicted ``seed`` is kept)
========== ================================================== ======================

A benchmark id without a usable prediction row stays missing: it scores zero and renders nothing,
as in a full run.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from typing import Any

from chatgenbench.benchmark.schema import reference_arguments
from chatgenbench.core.errors import UsageError
from chatgenbench.predictions.report import Prediction, ValidationReport
from chatgenbench.scoring.result_schema import STATUS_ORACLE

ORACLE_STEPS: tuple[str, ...] = ("prompt", "model", "arguments")
#: The step-wise metric that measures each step.
STEP_METRICS: dict[str, str] = {
    "prompt": "prompt_bertscore",
    "model": "selection_accuracy",
    "arguments": "config_accuracy",
}
STEP_TITLES: dict[str, str] = {
    "prompt": "Prompt writing",
    "model": "Model selection",
    "arguments": "Argument setting",
}


def parse_oracle_steps(steps: str | Iterable[str] | None) -> tuple[str, ...]:
    """Return oracle steps in :data:`ORACLE_STEPS` order from ``"prompt,model"`` or a list.

    None or empty gives ``()``. Raises :class:`chatgenbench.core.errors.UsageError` for an unknown step.
    """
    if steps is None:
        return ()
    parts = steps.split(",") if isinstance(steps, str) else list(steps)
    wanted = {str(p).strip() for p in parts if str(p).strip()}
    unknown = sorted(wanted - set(ORACLE_STEPS))
    if unknown:
        raise UsageError(
            f"unknown oracle step(s) {', '.join(unknown)}; expected some of "
            f"{', '.join(ORACLE_STEPS)}",
            how_to_fix="--oracle prompt,model (any of prompt, model, arguments, comma-separated)",
        )
    return tuple(step for step in ORACLE_STEPS if step in wanted)


def _given(prediction: Prediction, row: dict[str, Any], steps: tuple[str, ...]) -> Prediction:
    invalid = set(prediction.invalid_fields)
    changes: dict[str, Any] = {}
    if "prompt" in steps:
        changes["prompt"] = row["prompt"]
        changes["negative_prompt"] = row.get("negative_prompt") or ""
        invalid -= {"prompt", "negative_prompt"}
    if "model" in steps:
        changes["model"] = row["model"]
        invalid.discard("model")
    if "arguments" in steps:
        arguments = dict(reference_arguments(row))
        if prediction.seed is not None:
            arguments["seed"] = prediction.seed
        changes["arguments"] = arguments
        invalid = {f for f in invalid if not f.startswith("arguments.") or f == "arguments.seed"}
    return dataclasses.replace(prediction, invalid_fields=invalid, **changes)


def apply_oracle(
    report: ValidationReport, rows: list[dict[str, Any]], steps: Iterable[str]
) -> ValidationReport:
    """Return a copy of ``report`` whose predictions carry the reference values of ``steps``.

    ``rows`` are the benchmark rows being scored (their ``prompt``, ``negative_prompt``, ``model``
    and ``arguments`` are the reference). The file's identity (``sha256``) and its validation
    problems are kept: they describe the submitted file. With no steps, ``report`` itself is
    returned.
    """
    steps = parse_oracle_steps(steps)
    if not steps:
        return report
    by_id = {row["id"]: row for row in rows}
    given = copy.copy(report)
    given.predictions = {
        key: _given(prediction, by_id[key], steps) if key in by_id else prediction
        for key, prediction in report.predictions.items()
    }
    return given


def oracle_metric(step: str) -> dict[str, Any]:
    """Return the metric object of an oracle step: status ``oracle``, no value, and the reason."""
    return {
        "status": STATUS_ORACLE,
        "value": None,
        "reason": f"oracle step: the benchmark's reference {step} was given (--oracle {step}), "
        "so this is not the method's score",
    }


def oracle_stepwise(stepwise: dict[str, Any], steps: Iterable[str]) -> dict[str, Any]:
    """Return one slice's ``stepwise`` block with the metric of each oracle step reported
    ``oracle`` (:func:`oracle_metric`)."""
    steps = parse_oracle_steps(steps)
    return {**stepwise, **{STEP_METRICS[step]: oracle_metric(step) for step in steps}}


def oracle_per_sample(records: list[dict[str, Any]], steps: Iterable[str]) -> list[dict[str, Any]]:
    """Return per-sample records (:func:`chatgenbench.scoring.uncertainty.per_sample_records`)
    with the scores of the oracle steps' metrics cleared (null)."""
    from chatgenbench.scoring.uncertainty import STEPWISE_SAMPLE_KEYS

    keys = [STEPWISE_SAMPLE_KEYS[STEP_METRICS[step]] for step in parse_oracle_steps(steps)]
    return [{**record, **dict.fromkeys(keys)} for record in records]


def oracle_record(steps: tuple[str, ...]) -> dict[str, Any]:
    """Return the ``oracle`` key of a results file: the steps given and the metrics they void."""
    return {
        "steps": list(steps),
        "metrics": [STEP_METRICS[step] for step in steps],
        "given": (
            "the benchmark's reference values replaced the predicted fields of these steps "
            "before scoring and rendering"
            if steps
            else "nothing: a full run"
        ),
    }


def ablation_label(steps: Iterable[str]) -> str:
    """Return how a table names an ablation: ``"given: model, arguments"`` (``"full run"``)."""
    steps = parse_oracle_steps(steps)
    return "given: " + ", ".join(steps) if steps else "full run"
