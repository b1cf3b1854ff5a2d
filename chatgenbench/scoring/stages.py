"""The stages of a scoring run, each returning what the next one takes.

::

    open_run  ->  score_stepwise  ->  [render_run]  ->  [score_run_images]  ->  assemble_results
    (OpenedRun)   (StepwiseScores)    (RenderReport)    (ScoredImages)          (results dict)

:func:`open_run` reads the inputs once: the benchmark (rows and catalogue) and the prediction file,
validated, with the oracle steps' reference values in place. :func:`score_stepwise` scores every
sample (BERTScore runs here, once). :func:`render_run` renders the validated predictions and
:func:`score_run_images` scores the render folder; both are optional. :func:`assemble_results`
builds the complete results JSON (:mod:`chatgenbench.scoring.result_schema`) in one go from what the
stages returned; nothing is added to it afterwards. :func:`write_results` writes it with the
per-sample lines.

:func:`chatgenbench.scoring.evaluation.evaluate` is these stages in a row; the scoring worker of
the leaderboard (``leaderboard.scoring_queue``) runs the same stages and keeps what they returned
between them, so that it can publish the step-wise results before it renders.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatgenbench.benchmark.loading import LoadedBenchmark, open_benchmark
from chatgenbench.core.errors import ImageScoringError
from chatgenbench.core.provenance import provenance
from chatgenbench.core.storage import atomic_write_json, atomic_write_text
from chatgenbench.metrics.bertscore import OFFICIAL_ENCODER
from chatgenbench.metrics.bootstrap import Bootstrap
from chatgenbench.predictions.report import ValidationReport
from chatgenbench.predictions.validation import validate_predictions
from chatgenbench.scoring.oracle import (
    apply_oracle,
    oracle_per_sample,
    oracle_record,
    oracle_stepwise,
    parse_oracle_steps,
)
from chatgenbench.scoring.results import build_results
from chatgenbench.scoring.stepwise import STEPWISE_SETTINGS, aggregate, score_samples
from chatgenbench.scoring.uncertainty import bootstrap_settings, per_sample_records, slice_intervals

if TYPE_CHECKING:  # pragma: no cover
    from chatgenbench.render.manifest import RenderReport
    from chatgenbench.scoring.images import ImageMetricSuite, ImageResults

ROBERTA_FIX = (
    "set $CHATGENBENCH_ROBERTA_LARGE to a local roberta-large folder, or pass --encoder minilm"
)


@dataclass(frozen=True)
class OpenedRun:
    """What every later stage reads: the prediction file as given, the setting, the benchmark
    loaded once, the file's validation report as read (``submitted``) and with the oracle steps
    applied (``report``: what is scored and rendered), and those steps."""

    predictions: str | os.PathLike
    setting: str
    bench: LoadedBenchmark
    submitted: ValidationReport
    report: ValidationReport
    oracle: tuple[str, ...] = ()

    def with_oracle(self, oracle) -> OpenedRun:
        """Return the same run with the oracle steps ``oracle`` (``"prompt,model"``, a list, or
        None for none) in place of its own, without reading anything again."""
        steps = parse_oracle_steps(oracle)
        report = apply_oracle(self.submitted, self.bench.rows, steps)
        return dataclasses.replace(self, report=report, oracle=steps)


def open_run(
    predictions: str | os.PathLike,
    benchmark: str | os.PathLike | LoadedBenchmark = "sample",
    setting: str = "all",
    *,
    catalog=None,
    oracle=None,
) -> OpenedRun:
    """Open the benchmark and read and validate the prediction file against it, once.

    ``benchmark`` is a source, or a :class:`~chatgenbench.benchmark.loading.LoadedBenchmark`
    already opened for ``setting`` (then it is used as it is and ``catalog`` must be None).
    ``catalog`` is a catalogue file laid over the benchmark's, or a
    :class:`~chatgenbench.benchmark.catalog.ModelCatalog`; missing prediction rows are allowed
    (they score zero). With ``oracle`` steps (``"prompt,model"`` or a list) the predictions carry
    the benchmark's reference values of those steps
    (:func:`chatgenbench.scoring.oracle.apply_oracle`). Returns an :class:`OpenedRun`.

    Raises :class:`chatgenbench.core.errors.BenchmarkError` or
    :class:`chatgenbench.core.errors.PredictionFileError` when an input cannot be read at all,
    :class:`chatgenbench.core.errors.UsageError` for an unknown oracle step, ValueError for a
    ``catalog`` given with an opened benchmark.
    """
    steps = parse_oracle_steps(oracle)
    if isinstance(benchmark, LoadedBenchmark):
        if catalog is not None:
            raise ValueError(
                "an opened benchmark has its catalogue; pass catalog to open_benchmark"
            )
        bench = benchmark
    else:
        bench = open_benchmark(benchmark, setting, catalog=catalog)
    read = validate_predictions(predictions, bench.ids, bench.catalog, allow_missing=True)
    return OpenedRun(predictions, setting, bench, read, read).with_oracle(steps)


@dataclass(frozen=True)
class StepwiseScores:
    """The step-wise stage's outcome: one score record per benchmark row, why BERTScore was not
    computed (None: it was) and how to fix that, the BERTScore encoder's name, and the setting
    it ran with (``metric_settings.bertscore``)."""

    samples: list[dict[str, Any]]
    failure: str | None
    fix: str | None
    encoder: str
    bertscore: dict[str, Any]


def score_stepwise(run: OpenedRun, scorer, *, progress: bool = True) -> StepwiseScores:
    """Score every benchmark row of ``run`` with the step-wise metrics, BERTScore in one pass.

    ``scorer`` is a :class:`~chatgenbench.metrics.bertscore.PromptBERTScore` (reused across runs:
    its weights load once). An encoder that cannot load leaves BERTScore not computed, with the
    reason; nothing raises for it. Returns a :class:`StepwiseScores`.
    """
    if hasattr(scorer, "last_reference_cache"):  # a reused scorer: forget its previous run's
        scorer.last_reference_cache = None
    samples, failure = score_samples(
        run.bench.rows, run.report, bertscore=scorer, progress=progress
    )
    fix = ROBERTA_FIX if failure and scorer.setting.name == OFFICIAL_ENCODER else None
    outcome = getattr(scorer, "last_reference_cache", None)
    bertscore = {
        **scorer.setting.describe(),
        "reference_cache": outcome.describe() if outcome is not None else None,
    }
    return StepwiseScores(samples, failure, fix, scorer.setting.name, bertscore)


#: Render options that do not change the images: left out of the default folder's name.
_NOT_IMAGE_OPTIONS = frozenset({"on_progress", "progress", "command", "cache_dir"})


def render_identity(run: OpenedRun, catalog=None, options: dict[str, Any] | None = None) -> str:
    """Return 8 hex digits of what, beside the predictions, decides a run's images: the
    benchmark (source, kind, revision, path), its model catalogue with any overlay, the catalogue
    file given to the render and the render options (backend, device, dtype, ...)."""
    import hashlib

    info = run.bench.info
    described = {
        "benchmark": [info.source, info.kind, info.revision, info.path],
        "catalog": [
            dataclasses.asdict(entry) if dataclasses.is_dataclass(entry) else repr(entry)
            for entry in run.bench.catalog
        ],
        "catalog_file": None if catalog is None else str(catalog),
        "options": {
            key: repr(value)
            for key, value in sorted((options or {}).items())
            if key not in _NOT_IMAGE_OPTIONS
        },
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def default_render_dir(run: OpenedRun, catalog=None, options: dict[str, Any] | None = None) -> Path:
    """Return where a run renders by default:
    ``$CHATGENBENCH_HOME/renders/<predictions sha256>-<setting>[-oracle-<step>...]-<identity>``.

    ``<identity>`` is :func:`render_identity`: the same prediction file rendered for another
    benchmark, with another catalogue or other render options gets a folder of its own instead
    of overwriting the first one's manifest.
    """
    from chatgenbench.core.storage import chatgenbench_home

    suffix = "".join(f"-oracle-{step}" for step in run.oracle)
    identity = render_identity(run, catalog, options)
    name = f"{run.report.sha256[:16]}-{run.setting}{suffix}-{identity}"
    return chatgenbench_home() / "renders" / name


def render_run(
    run: OpenedRun,
    out_dir: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    catalog=None,
    **options: Any,
) -> RenderReport:
    """Render the validated predictions of ``run`` (oracle values in place) into ``out_dir``
    (default :func:`default_render_dir`) with :func:`chatgenbench.render.render_predictions`,
    which reads neither the prediction file nor the benchmark again.

    ``catalog`` is the catalogue file the run was opened with, recorded in the render summary's
    provenance; ``options`` go to ``render_predictions`` (``on_progress``, ``device``, ``backend``,
    ``cache_dir``, ``command``, ...). Returns its
    :class:`~chatgenbench.render.manifest.RenderReport`. Raises
    :class:`chatgenbench.core.errors.ImageScoringError` when rendering is not installed, and what
    ``render_predictions`` raises for settings that cannot work.
    """
    try:
        from chatgenbench.render import render_predictions
    except ImportError as error:
        from chatgenbench.core.extras import missing_extra

        raise ImageScoringError(
            missing_extra(
                "rendering", "render", f"chatgenbench.render could not be imported: {error}"
            )
            + "; or score an existing render folder with --images DIR"
        ) from error
    return render_predictions(
        run.report,
        run.bench,
        catalog=catalog,
        out_dir=default_render_dir(run, catalog, options) if out_dir is None else out_dir,
        setting=run.setting,
        progress=progress,
        **options,
    )


@dataclass(frozen=True)
class ScoredImages:
    """The image stage's outcome: the image blocks of every slice, the folder scored, and the
    random demo weights behind its images (``results["random_weights"]``)."""

    image: ImageResults
    render_dir: Path
    random_weights: dict[str, Any]


def score_run_images(
    run: OpenedRun, render_dir: str | os.PathLike, suite: ImageMetricSuite, *, progress: bool = True
) -> ScoredImages:
    """Score the render folder ``render_dir`` of ``run`` with the loaded image metrics of
    ``suite`` (:func:`chatgenbench.scoring.images.score_images`). Returns a :class:`ScoredImages`.
    Raises :class:`chatgenbench.core.errors.ImageScoringError` for an unusable render folder."""
    from chatgenbench.core.random_weights import random_weights_block
    from chatgenbench.scoring.images import score_images

    image = score_images(render_dir, run.bench, suite, progress=progress)
    weights = random_weights_block(run.bench.catalog, image.rendered_models, image.metric_settings)
    return ScoredImages(image, Path(render_dir), weights)


def scored_samples(
    stepwise: StepwiseScores, images: ScoredImages | None = None
) -> list[dict[str, Any]]:
    """Return each sample's score record; when images were scored, with its ``render_status``
    and ``image_scores`` (raw per-image score by metric). The stages' records are not changed."""
    if images is None:
        return [dict(sample) for sample in stepwise.samples]
    by_id = {s.id: s for s in images.image.samples}
    found = []
    for sample in stepwise.samples:
        image = by_id.get(sample["id"])
        extra = {"render_status": image.status, "image_scores": image.scores} if image else {}
        if image is not None and image.error and not image.has_image:
            extra["render_error"] = image.error[:500]
        found.append({**sample, **extra})
    return found


def stepwise_blocks(
    samples: list[dict[str, Any]],
    settings: list[str],
    stepwise: StepwiseScores,
    bootstrap: Bootstrap,
    oracle: tuple[str, ...] = (),
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Return the step-wise blocks of each setting and of ``overall``: each slice's metrics
    (:func:`chatgenbench.scoring.stepwise.aggregate`), the oracle steps' metrics reported
    ``oracle``, every computed one with its bootstrap interval."""

    def finished(block: dict[str, Any], members: list[dict[str, Any]]) -> dict[str, Any]:
        marked = oracle_stepwise(block["stepwise"], oracle)
        return {**block, "stepwise": slice_intervals(marked, members, bootstrap)}

    def of(members: list[dict[str, Any]]) -> dict[str, Any]:
        block = aggregate(members, stepwise.failure, stepwise.fix)
        inner = {
            input_type: finished(part, [s for s in members if s["input_type"] == input_type])
            for input_type, part in block["by_input_type"].items()
        }
        return {**finished(block, members), "by_input_type": inner}

    blocks = {name: of([s for s in samples if s["setting"] == name]) for name in settings}
    return blocks, of(samples)


def assemble_results(
    run: OpenedRun,
    stepwise: StepwiseScores,
    images: ScoredImages | None = None,
    *,
    bootstrap: Bootstrap | None = None,
    no_images: tuple[str, str | None] | None = None,
) -> dict[str, Any]:
    """Build the complete results dict of a run, once, from what the stages returned.

    The header (benchmark, predictions, validation, normalisation, metric settings), the
    step-wise blocks of every slice with their intervals (``bootstrap``, default
    :class:`~chatgenbench.metrics.base.Bootstrap`) and oracle marks, the image blocks of
    ``images`` (or ``not_computed`` ones without: why and how to fix it are ``no_images``,
    default: not rendered), the provenance with the seed, ``per_sample``,
    ``oracle`` and, with images, ``random_weights``. Returns the dict; nothing changes it later.
    """
    bootstrap = bootstrap or Bootstrap()
    bench, report = run.bench, run.report
    samples = scored_samples(stepwise, images)
    settings, overall = stepwise_blocks(samples, bench.settings, stepwise, bootstrap, run.oracle)
    per_sample = oracle_per_sample(per_sample_records(samples, stepwise.failure), run.oracle)
    extra: dict[str, Any] = {"per_sample": per_sample, "oracle": oracle_record(run.oracle)}
    if images is not None:
        extra["random_weights"] = images.random_weights
    return build_results(
        header={
            "synthetic": bench.info.synthetic,
            "benchmark": bench.info.to_dict(),
            "predictions": {
                "name": Path(run.predictions).name,
                "format": report.format,
                "bytes": report.n_bytes,
                "sha256": report.sha256,
            },
            "validation": report.summary(),
            "normalisation": dict(report.counts()["warning"]),
            "metric_settings": {
                "bertscore": dict(stepwise.bertscore),
                **copy.deepcopy(STEPWISE_SETTINGS),
                "stepwise_bootstrap": bootstrap_settings(bootstrap),
            },
        },
        settings=settings,
        overall=overall,
        provenance=provenance(
            benchmark=bench.info,
            predictions=run.predictions,
            predictions_sha256=report.sha256,
            encoder=stepwise.encoder,
            seed=bootstrap.seed,
            deterministic="step-wise metrics use no randomness; their intervals use the seeded "
            "bootstrap",
        ),
        image=images.image if images is not None else None,
        extra=extra,
        no_images=no_images,
    )


def write_results(
    results: dict[str, Any],
    out: str | os.PathLike | None = None,
    *,
    samples: list[dict[str, Any]] | None = None,
    per_sample_out: str | os.PathLike | None = None,
) -> None:
    """Write ``results`` to ``out`` (key-sorted JSON) and ``samples`` (:func:`scored_samples`),
    one JSON line each, to ``per_sample_out``, each atomically; a None path is not written."""
    if out is not None:
        atomic_write_json(out, results)
    if per_sample_out is not None:
        lines = [json.dumps(sample, sort_keys=True) for sample in samples or ()]
        atomic_write_text(per_sample_out, "\n".join(lines) + "\n")
