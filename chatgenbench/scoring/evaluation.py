"""Scoring a prediction file against a benchmark: ``evaluate()``, the whole run.

``evaluate`` is the stages of :mod:`chatgenbench.scoring.stages` in a row: open the benchmark and
the validated prediction file once, score the step-wise metrics
(:mod:`chatgenbench.scoring.stepwise`), optionally render (:mod:`chatgenbench.render`) and score the
images (:mod:`chatgenbench.scoring.images`), then assemble the results JSON of
:mod:`chatgenbench.scoring.result_schema` in one go and write it atomically. Image metrics are
reported as not computed unless a render folder is scored (``images=DIR``) or rendered first
(``render=True``).
"""

from __future__ import annotations

import os
from typing import Any

from chatgenbench.core.errors import ImageScoringError
from chatgenbench.metrics.bertscore import DEFAULT_BATCH_SIZE, DEFAULT_ENCODER
from chatgenbench.scoring.stages import (
    OpenedRun,
    assemble_results,
    open_run,
    render_run,
    score_run_images,
    score_stepwise,
    scored_samples,
    write_results,
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
    render_options: dict[str, Any] | None = None,
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
    ``render_out`` (default :func:`chatgenbench.scoring.stages.default_render_dir`, under
    ``$CHATGENBENCH_HOME/renders``, named by the predictions, setting, benchmark, catalogue) with
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
    in ``metric_settings.bertscore.reference_cache``. ``render_options`` go to
    :func:`chatgenbench.render.render_predictions` with ``render=True`` (``dtype``, ``threads``,
    ``batch_size``, ``device``, ...; they are part of the default render folder's name).

    Raises :class:`chatgenbench.core.errors.BenchmarkError` or
    :class:`chatgenbench.core.errors.PredictionFileError` when an input cannot be read at all,
    :class:`chatgenbench.core.errors.ImageScoringError` for an unusable render folder or when
    rendering is unavailable.
    """
    if images is not None and render:
        raise ImageScoringError("pass either images=DIR (score renders) or render=True, not both")
    from chatgenbench.metrics.bertscore import PromptBERTScore

    run = open_run(predictions, benchmark, setting, catalog=catalog, oracle=oracle)
    scorer = bertscore or PromptBERTScore(
        encoder, batch_size=batch_size, device=device, reference_cache=reference_cache
    )
    return evaluate_run(
        run, scorer, images=images, render=render, render_out=render_out,
        image_settings=image_settings, image_suite=image_suite, bootstrap=bootstrap, out=out,
        per_sample_out=per_sample_out, batch_size=batch_size, device=device, progress=progress,
        render_options=render_options,
    )  # fmt: skip


def evaluate_run(
    run: OpenedRun,
    scorer,
    *,
    images: str | os.PathLike | None = None,
    render: bool = False,
    render_out: str | os.PathLike | None = None,
    image_settings=None,
    image_suite=None,
    bootstrap=None,
    out: str | os.PathLike | None = None,
    per_sample_out: str | os.PathLike | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
    progress: bool = True,
    render_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score an opened run (:func:`chatgenbench.scoring.stages.open_run`) with the BERTScore
    ``scorer``: the stages of :func:`evaluate` after the opening, with its options. Returns (and
    optionally writes) the results dict; raises :class:`ImageScoringError` as :func:`evaluate`."""
    from chatgenbench.metrics.bootstrap import Bootstrap

    if images is not None and render:
        raise ImageScoringError("pass either images=DIR (score renders) or render=True, not both")
    stepwise = score_stepwise(run, scorer, progress=progress)
    render_dir = images
    if render:  # render_options: render_predictions' (dtype, threads, batch_size, device, ...)
        render_dir = render_run(
            run, render_out, progress=progress, **(render_options or {})
        ).out_dir
    if image_settings is None and image_suite is not None:
        image_settings = image_suite.settings  # one bootstrap for step-wise and image intervals
    scored = None
    if render_dir is not None:
        from chatgenbench.scoring.images import ImageMetricSettings, ImageMetricSuite

        suite = image_suite or ImageMetricSuite(
            image_settings or ImageMetricSettings(device=device, batch_size=min(batch_size, 16))
        )
        scored = score_run_images(run, render_dir, suite, progress=progress)
    if bootstrap is None:
        bootstrap = image_settings.bootstrap if image_settings is not None else Bootstrap()
    results = assemble_results(run, stepwise, scored, bootstrap=bootstrap)
    write_results(
        results, out, samples=scored_samples(stepwise, scored), per_sample_out=per_sample_out
    )
    return results
