"""Scoring a prediction file against a benchmark: step-wise metrics per setting and input type.

``evaluate()`` validates the file, scores every benchmark sample (a missing or invalid prediction
scores zero and is counted), aggregates per setting, per input type and overall, and writes the
results JSON of :mod:`chatgenbench.result_schema` atomically. Image metrics are reported as not
computed unless a render folder is scored (``images=DIR``) or rendered first (``render=True``); see
:mod:`chatgenbench.image_scoring`.
"""

from __future__ import annotations

import os
import platform
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatgenbench import __version__
from chatgenbench.benchmark import load_benchmark, load_benchmark_catalog, resolve_source
from chatgenbench.metrics.bertscore import DEFAULT_BATCH_SIZE, DEFAULT_ENCODER, EncoderUnavailable
from chatgenbench.metrics.stepwise import config_matches, sample_config_score, selection_correct
from chatgenbench.normalize import ARGUMENT_KEYS
from chatgenbench.predictions import Prediction, ValidationReport, validate_predictions
from chatgenbench.result_schema import (
    SCHEMA_VERSION,
    computed,
    image_placeholders,
    not_computed,
)
from chatgenbench.schema import INPUT_TYPES, reference_arguments
from chatgenbench.storage import atomic_write_json, sha256_file

IMAGE_REASON = "images were not rendered: image metrics need 'chatgenbench evaluate --render'"
LIBRARIES = ("datasets", "transformers", "torch", "bert-score", "pyarrow", "numpy", "tokenizers")
SCORED_COLUMNS = ["id", "setting", "input_type", "prompt", "model", "arguments"]


def _library_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


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
    block["image"] = image_placeholders(IMAGE_REASON, "chatgenbench evaluate PRED --render")
    block["unified"] = not_computed(
        "the Unified Metric needs all four image metrics, which were not computed",
        "chatgenbench evaluate PRED --render",
    )
    return block


def aggregate(
    samples: list[dict[str, Any]],
    bertscore_failure: str | None = None,
    bertscore_fix: str | None = None,
) -> dict[str, Any]:
    """Return the slice block for ``samples`` with a ``by_input_type`` block for each input type."""
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


def evaluate(
    predictions: str | os.PathLike,
    benchmark: str | os.PathLike = "sample",
    *,
    setting: str = "all",
    encoder: str = DEFAULT_ENCODER,
    catalog=None,
    out: str | os.PathLike | None = None,
    per_sample_out: str | os.PathLike | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
    progress: bool = True,
    bertscore=None,
    images: str | os.PathLike | None = None,
    render: bool = False,
    render_out: str | os.PathLike | None = None,
    image_settings=None,
    image_suite=None,
) -> dict[str, Any]:
    """Score a prediction file and return (and optionally write) the results dict.

    ``setting`` is ``supervised``, ``few_shot`` or ``all`` (every setting the benchmark has).
    ``encoder`` names the BERTScore setting (``minilm`` or ``roberta-large``); an encoder that
    cannot load leaves ``prompt_bertscore`` not computed with the reason, and the other metrics
    are still scored. ``bertscore`` may pass a ready :class:`PromptBERTScore` to reuse its weights.

    Image metrics: ``images=DIR`` scores an existing render folder
    (:mod:`chatgenbench.render_manifest`); ``render=True`` first renders the predictions into
    ``render_out`` (default ``$CHATGENBENCH_HOME/renders/<predictions sha256>-<setting>``) with
    :func:`chatgenbench.render.render_predictions`, then scores that folder. ``image_settings``
    (:class:`chatgenbench.image_scoring.ImageMetricSettings`) or a loaded ``image_suite``
    (:class:`chatgenbench.image_scoring.ImageMetricSuite`, reused across calls) choose the metric
    models. A metric whose weights are missing is reported not computed with the fetch command.
    Raises :class:`chatgenbench.benchmark.BenchmarkError` or
    :class:`chatgenbench.predictions.PredictionFileError` when an input cannot be read at all,
    :class:`chatgenbench.image_scoring.ImageScoringError` for an unusable render folder or when
    rendering is unavailable.
    """
    if images is not None and render:
        from chatgenbench.image_scoring import ImageScoringError

        raise ImageScoringError("pass either images=DIR (score renders) or render=True, not both")
    from chatgenbench.benchmark import BenchmarkError
    from chatgenbench.metrics.bertscore import PromptBERTScore

    info = resolve_source(benchmark)
    settings = info.settings if setting == "all" else [setting]
    for name in settings:
        if name not in info.settings:
            raise BenchmarkError(
                f"benchmark {info.source!r} has no {name!r} setting "
                f"(it has: {', '.join(info.settings)})"
            )
    rows: list[dict[str, Any]] = []
    for name in settings:
        dataset = load_benchmark(name, benchmark).select_columns(SCORED_COLUMNS)
        rows.extend(dataset.to_list())
    if catalog is None:
        catalog = load_benchmark_catalog(benchmark)
    elif isinstance(catalog, (str, os.PathLike)):
        # A catalogue file is laid over the benchmark's (usually to add weights), as for render.
        from chatgenbench.render.weights import render_catalog

        catalog = render_catalog(benchmark, catalog)
    report = validate_predictions(
        predictions, [row["id"] for row in rows], catalog, allow_missing=True
    )

    scorer = bertscore or PromptBERTScore(encoder, batch_size=batch_size, device=device)
    samples, failure = score_samples(rows, report, bertscore=scorer, progress=progress)
    fix = None
    if failure:
        fix = (
            (
                "set $CHATGENBENCH_ROBERTA_LARGE to a local roberta-large folder, or pass "
                "--encoder minilm"
            )
            if scorer.setting.name == "roberta-large"
            else None
        )

    predictions_sha256 = sha256_file(predictions)
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "synthetic": info.synthetic,
        "benchmark": info.to_dict(),
        "predictions": {
            "name": Path(predictions).name,
            "format": report.format,
            "bytes": Path(predictions).stat().st_size,
            "sha256": predictions_sha256,
        },
        "validation": report.summary(),
        "normalisation": {kind: count for kind, count in report.counts()["warning"].items()},
        "metric_settings": {
            "bertscore": scorer.setting.describe(),
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
        },
        "settings": {
            name: aggregate([s for s in samples if s["setting"] == name], failure, fix)
            for name in settings
        },
        "overall": aggregate(samples, failure, fix),
        "provenance": {
            "chatgenbench_version": __version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "libraries": _library_versions(),
            "encoder": scorer.setting.name,
            "benchmark_source": info.source,
            "benchmark_revision": info.revision,
            "predictions_sha256": predictions_sha256,
            "seed": None,
            "deterministic": "step-wise metrics use no randomness",
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["chatgenbench", *sys.argv[1:]]) if sys.argv else None,
        },
    }
    render_dir = images
    if render:
        render_dir = _render(
            predictions, benchmark, catalog, render_out, setting, predictions_sha256
        )
    if render_dir is not None:
        from chatgenbench.image_scoring import ImageMetricSettings, score_and_fill

        if image_settings is None and image_suite is None:
            image_settings = ImageMetricSettings(device=device, batch_size=min(batch_size, 16))

        image_scores = score_and_fill(
            results,
            render_dir,
            rows,
            benchmark,
            settings,
            settings=image_settings,
            suite=image_suite,
            progress=progress,
        )
        by_id = {s.id: s for s in image_scores.samples}
        for sample in samples:
            found = by_id.get(sample["id"])
            if found is not None:
                sample["render_status"] = found.status
                sample["image_scores"] = found.scores
    if out is not None:
        atomic_write_json(out, results)
    if per_sample_out is not None:
        import json

        from chatgenbench.storage import atomic_write_text

        lines = [json.dumps(sample, sort_keys=True) for sample in samples]
        atomic_write_text(per_sample_out, "\n".join(lines) + "\n")
    return results


def _render(
    predictions, benchmark, catalog, render_out, setting: str, predictions_sha256: str
) -> Path:
    """Render the predictions with :mod:`chatgenbench.render` and return the render folder."""
    from chatgenbench.image_scoring import ImageScoringError

    try:
        from chatgenbench.render import render_predictions
    except ImportError as error:
        raise ImageScoringError(
            "rendering is not available in this installation (chatgenbench.render could not be "
            f"imported: {error}); install the render extra ('pip install chatgenbench[render]') "
            "or score an existing render folder with --images DIR"
        ) from error
    if render_out is None:
        from chatgenbench.storage import chatgenbench_home

        render_out = chatgenbench_home() / "renders" / f"{predictions_sha256[:16]}-{setting}"
    render_predictions(predictions, benchmark, catalog=catalog, out_dir=render_out, setting=setting)
    return Path(render_out)
