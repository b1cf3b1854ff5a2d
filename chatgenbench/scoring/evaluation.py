"""Scoring a prediction file against a benchmark: ``evaluate()``, the whole run.

One run loads the benchmark once (:func:`chatgenbench.benchmark.loading.open_benchmark`), reads and
validates the prediction file once (its :class:`~chatgenbench.predictions.validation.ValidationReport` is what
every later stage reads), scores the step-wise metrics (:mod:`chatgenbench.scoring.stepwise`),
optionally renders (:mod:`chatgenbench.render`) and scores the images
(:mod:`chatgenbench.scoring.images`), and assembles the results JSON of
:mod:`chatgenbench.scoring.result_schema` with :func:`chatgenbench.scoring.results.build_results`, written
atomically. Image metrics are reported as not computed unless a render folder is scored
(``images=DIR``) or rendered first (``render=True``).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from chatgenbench.benchmark.loading import LoadedBenchmark, open_benchmark
from chatgenbench.core.errors import ImageScoringError
from chatgenbench.core.provenance import provenance
from chatgenbench.core.storage import atomic_write_json, atomic_write_text
from chatgenbench.metrics.bertscore import DEFAULT_BATCH_SIZE, DEFAULT_ENCODER
from chatgenbench.predictions.validation import ValidationReport, validate_predictions
from chatgenbench.scoring.results import build_results
from chatgenbench.scoring.stepwise import STEPWISE_SETTINGS, aggregate, score_samples

ROBERTA_FIX = (
    "set $CHATGENBENCH_ROBERTA_LARGE to a local roberta-large folder, or pass --encoder minilm"
)


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
    oracle=None,
    bootstrap=None,
    reference_cache=None,
) -> dict[str, Any]:
    """Score a prediction file and return (and optionally write) the results dict.

    ``setting`` is ``supervised``, ``few_shot`` or ``all`` (every setting the benchmark has).
    ``catalog`` is a catalogue file laid over the benchmark's (usually to add weights), or a
    :class:`chatgenbench.benchmark.catalog.ModelCatalog`. ``encoder`` names the BERTScore setting (``minilm``
    or ``roberta-large``); an encoder that cannot load leaves ``prompt_bertscore`` not computed
    with the reason, and the other metrics are still scored. ``bertscore`` may pass a ready
    :class:`~chatgenbench.metrics.bertscore.PromptBERTScore` to reuse its weights.

    Image metrics: ``images=DIR`` scores an existing render folder
    (:mod:`chatgenbench.render.manifest`); ``render=True`` first renders the predictions into
    ``render_out`` (default ``$CHATGENBENCH_HOME/renders/<predictions sha256>-<setting>``) with
    :func:`chatgenbench.render.render_predictions`, then scores that folder. ``image_settings``
    (:class:`chatgenbench.scoring.images.ImageMetricSettings`) or a loaded ``image_suite``
    (:class:`chatgenbench.scoring.images.ImageMetricSuite`, reused across calls) choose the metric
    models. A metric whose weights are missing is reported not computed with the fetch command.
    ``per_sample_out`` writes one JSON line of scores per sample; the results keep every sample's
    scores in ``per_sample`` too (:func:`chatgenbench.scoring.uncertainty.per_sample_records`).

    ``oracle`` (``"prompt,model"`` or a list of :data:`chatgenbench.scoring.oracle.ORACLE_STEPS`) gives the
    method the benchmark's reference values for those steps before scoring and rendering
    (:func:`chatgenbench.scoring.oracle.apply_oracle`); their step-wise metrics are reported ``oracle``.
    ``bootstrap`` (:class:`chatgenbench.metrics.base.Bootstrap`; default: that of
    ``image_settings``, else 1,000 resamples with seed 0) draws the step-wise metrics' intervals.
    ``reference_cache`` (None: on unless ``$CHATGENBENCH_BERTSCORE_CACHE=0``; False: off; a folder) reuses the reference prompts'
    BERTScore embeddings (:mod:`chatgenbench.metrics.bertscore_cache`); whether it did is recorded
    in ``metric_settings.bertscore.reference_cache``.

    Raises :class:`chatgenbench.core.errors.BenchmarkError` or
    :class:`chatgenbench.core.errors.PredictionFileError` when an input cannot be read at all,
    :class:`chatgenbench.core.errors.ImageScoringError` for an unusable render folder or when
    rendering is unavailable.
    """
    if images is not None and render:
        raise ImageScoringError("pass either images=DIR (score renders) or render=True, not both")
    from chatgenbench.metrics.bertscore import PromptBERTScore
    from chatgenbench.scoring.oracle import parse_oracle_steps

    oracle_steps = parse_oracle_steps(oracle)
    bench, report = open_predictions(predictions, benchmark, setting, catalog, oracle_steps)
    scorer = bertscore or PromptBERTScore(
        encoder, batch_size=batch_size, device=device, reference_cache=reference_cache
    )
    if hasattr(scorer, "last_reference_cache"):  # a reused scorer: forget its previous run's
        scorer.last_reference_cache = None
    samples, failure = score_samples(bench.rows, report, bertscore=scorer, progress=progress)
    fix = ROBERTA_FIX if failure and scorer.setting.name == "roberta-large" else None

    image = None
    render_dir = (
        _render(report, bench, render_out, setting, progress, oracle_steps) if render else images
    )
    if render_dir is not None:
        from chatgenbench.scoring.images import ImageMetricSettings, ImageMetricSuite, score_images

        suite = image_suite or ImageMetricSuite(
            image_settings or ImageMetricSettings(device=device, batch_size=min(batch_size, 16))
        )
        image = score_images(render_dir, bench, suite, progress=progress)
        by_id = {s.id: s for s in image.samples}
        for sample in samples:
            found = by_id.get(sample["id"])
            if found is not None:
                sample["render_status"] = found.status
                sample["image_scores"] = found.scores

    results = build_results(
        header=_header(bench, report, predictions, scorer),
        settings={
            name: aggregate([s for s in samples if s["setting"] == name], failure, fix)
            for name in bench.settings
        },
        overall=aggregate(samples, failure, fix),
        provenance=provenance(
            benchmark=bench.info,
            predictions=predictions,
            predictions_sha256=report.sha256,
            encoder=scorer.setting.name,
            seed=None,
            deterministic="step-wise metrics use no randomness",
        ),
        image=image,
    )
    if image_settings is None and image_suite is not None:
        image_settings = image_suite.settings  # one bootstrap for step-wise and image intervals
    _attach_uncertainty(results, samples, failure, oracle_steps, bootstrap, image_settings)
    if image is not None:
        results["random_weights"] = _random_weights(bench, render_dir, image)
    if out is not None:
        atomic_write_json(out, results)
    if per_sample_out is not None:
        lines = [json.dumps(sample, sort_keys=True) for sample in samples]
        atomic_write_text(per_sample_out, "\n".join(lines) + "\n")
    return results


def _attach_uncertainty(results, samples, failure, oracle_steps, bootstrap, image_settings) -> None:
    """Add the step-wise intervals, the per-sample scores and the oracle record to ``results``."""
    from chatgenbench.metrics.base import Bootstrap
    from chatgenbench.scoring.oracle import mark_oracle_metrics
    from chatgenbench.scoring.uncertainty import attach_stepwise_intervals, per_sample_records

    if bootstrap is None:
        bootstrap = image_settings.bootstrap if image_settings is not None else Bootstrap()
    attach_stepwise_intervals(results, samples, bootstrap)
    results["provenance"]["seed"] = bootstrap.seed
    results["provenance"]["deterministic"] = (
        "step-wise metrics use no randomness; their intervals use the seeded bootstrap"
    )
    results["per_sample"] = per_sample_records(samples, failure)
    mark_oracle_metrics(results, oracle_steps, results["per_sample"])


def open_predictions(
    predictions, benchmark, setting: str, catalog=None, oracle=None
) -> tuple[LoadedBenchmark, ValidationReport]:
    """Open the benchmark and validate the prediction file against it, missing rows allowed;
    with ``oracle`` steps the predictions carry the reference values of those steps
    (:func:`chatgenbench.scoring.oracle.apply_oracle`). What :func:`evaluate` scores and renders."""
    from chatgenbench.scoring.oracle import apply_oracle, parse_oracle_steps

    bench = open_benchmark(benchmark, setting, catalog=catalog)
    report = validate_predictions(predictions, bench.ids, bench.catalog, allow_missing=True)
    return bench, apply_oracle(report, bench.rows, parse_oracle_steps(oracle))


def _random_weights(bench: LoadedBenchmark, render_dir, image) -> dict[str, Any]:
    """Return ``results["random_weights"]``: the random demo weights behind the scored images."""
    from chatgenbench.core.random_weights import random_weights_block
    from chatgenbench.render.manifest import read_manifest

    models = [r.model for r in read_manifest(render_dir) if r.has_image and r.model]
    return random_weights_block(bench.catalog, models, image.metric_settings)


def _header(
    bench: LoadedBenchmark, report: ValidationReport, predictions, scorer
) -> dict[str, Any]:
    """Return what a results file says about its inputs and settings."""
    return {
        "synthetic": bench.info.synthetic,
        "benchmark": bench.info.to_dict(),
        "predictions": {
            "name": Path(predictions).name,
            "format": report.format,
            "bytes": report.n_bytes,
            "sha256": report.sha256,
        },
        "validation": report.summary(),
        "normalisation": dict(report.counts()["warning"]),
        "metric_settings": {
            "bertscore": {
                **scorer.setting.describe(),
                "reference_cache": _reference_cache_record(scorer),
            },
            **copy.deepcopy(STEPWISE_SETTINGS),
        },
    }


def _reference_cache_record(scorer) -> dict[str, Any] | None:
    """Return how the scorer's last call got the reference embeddings (None: it made none)."""
    outcome = getattr(scorer, "last_reference_cache", None)
    return outcome.describe() if outcome is not None else None


def _render(
    report: ValidationReport,
    bench: LoadedBenchmark,
    render_out: str | os.PathLike | None,
    setting: str,
    progress: bool,
    oracle_steps: tuple[str, ...] = (),
) -> Path:
    """Render the validated predictions with :mod:`chatgenbench.render`; return the folder."""
    try:
        from chatgenbench.render import render_predictions
    except ImportError as error:
        raise ImageScoringError(
            "rendering is not available in this installation (chatgenbench.render could not be "
            f"imported: {error}); install the render extra ('pip install chatgenbench[render]') "
            "or score an existing render folder with --images DIR"
        ) from error
    if render_out is None:
        from chatgenbench.core.storage import chatgenbench_home

        suffix = "".join(f"-oracle-{step}" for step in oracle_steps)
        render_out = chatgenbench_home() / "renders" / f"{report.sha256[:16]}-{setting}{suffix}"
    render_predictions(
        report,
        bench.source,
        catalog=bench.catalog,
        out_dir=render_out,
        setting=setting,
        rows=bench.rows,
        progress=progress,
    )
    return Path(render_out)
