"""Scoring a render folder with the registered image metrics, per setting and input type.

:class:`ImageMetricSuite` loads every requested metric of the registry
(:data:`chatgenbench.metrics.registry.METRICS`) once; a metric that cannot load is not computed, with
the reason and the command that fetches its weights. :func:`score_render_folder` reads a render
folder (:mod:`chatgenbench.render.manifest`) and passes every sample that has an image, in
batches, to each metric's ``update`` with its reference prompt and id: the one pass over the
images. :func:`image_results` then asks each metric for the value of every slice (setting, input
type, overall) with ``compute(ids)`` and returns the slices' blocks (``image.<metric>``,
``unified``, ``n_images``, ``image_coverage``, ``render_status``) for
:func:`chatgenbench.scoring.results.attach_image_results`. Samples without an image are counted, never
filled in; a metric that fails while scoring is reported not computed, never partial.

Nothing in a render folder stops the scoring of the rest: a manifest line that is not a record is
skipped and counted (``images.n_manifest_lines_skipped`` with the reasons); an image that is not
a regular file inside the folder, not an image, truncated or a decompression bomb
(:func:`chatgenbench.metrics.images.read_image_file`) is counted ``unreadable`` with the reason,
never scored.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from chatgenbench.benchmark.schema import ReferenceImage
from chatgenbench.core.errors import ImageScoringError, MetricNotComputed, WeightsMissing
from chatgenbench.core.registry import unknown_name
from chatgenbench.metrics.base import ImageMetric
from chatgenbench.metrics.bootstrap import Bootstrap
from chatgenbench.metrics.images import read_image_file
from chatgenbench.metrics.registry import METRICS
from chatgenbench.metrics.unified import unified_block
from chatgenbench.metrics.values import computed, not_computed
from chatgenbench.render.manifest import image_path, load_manifest
from chatgenbench.scoring.results import Slice, slices_of

#: What a metric that stops while scoring may raise (an out-of-memory error is a RuntimeError).
SCORING_ERRORS = (RuntimeError, ValueError, OSError)


class ImageMetricSettings:
    """Every setting of the image metrics; recorded in ``results["metric_settings"]["image"]``.

    Common settings are attributes; each registered metric's own options are given as keyword
    arguments named like its ``Options`` fields (``clip_model=``, ``hps_version=``,
    ``fid_cache_dir=``, ...) or as ``options={"clip_score": CLIPScoreOptions(...)}``.
    ``metrics=None`` requests every registered image metric. ``None`` paths mean the weights
    cache (``chatgenbench weights status``); ``device=None`` picks CUDA when available; ``dtype``
    applies to the metrics that honour it (FID runs float32). Raises TypeError for an option no
    registered metric has.
    """

    def __init__(
        self,
        *,
        device: str | None = None,
        dtype: str = "float32",
        batch_size: int = 16,
        bootstrap_resamples: int = 1000,
        bootstrap_seed: int = 0,
        confidence: float = 0.95,
        text: str = "reference_prompt",
        metrics: tuple[str, ...] | None = None,
        options: dict[str, Any] | None = None,
        **metric_options: Any,
    ) -> None:
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.bootstrap_resamples = bootstrap_resamples
        self.bootstrap_seed = bootstrap_seed
        self.confidence = confidence
        self.text = text
        registered = METRICS.names_of("image")
        self.metrics = tuple(metrics) if metrics is not None else registered
        for name in self.metrics:
            if name not in registered:
                raise unknown_name("image metric", name, registered)
        self.options: dict[str, Any] = dict(options or {})
        owners = {
            f.name: metric for metric in METRICS.image_metrics() for f in fields(metric.Options)
        }
        unknown = sorted(set(metric_options) - set(owners))
        if unknown:
            raise TypeError(
                f"unknown image-metric option(s) {', '.join(unknown)}; the registered metrics "
                f"take: {', '.join(sorted(owners))}"
            )
        grouped: dict[str, dict[str, Any]] = {}
        for key, value in metric_options.items():
            grouped.setdefault(owners[key].name, {})[key] = value
        for name, values in grouped.items():
            self.options[name] = METRICS.get(name).Options(**values)

    def __repr__(self) -> str:
        common = ", ".join(
            f"{key}={getattr(self, key)!r}"
            for key in ("device", "dtype", "batch_size", "bootstrap_resamples", "bootstrap_seed")
        )
        return f"ImageMetricSettings({common}, metrics={self.metrics!r}, options={self.options!r})"

    def options_for(self, name: str) -> Any:
        """Return the options of metric ``name`` (its defaults when none were given)."""
        return self.options.get(name) or METRICS.get(name).Options()

    @property
    def bootstrap(self) -> Bootstrap:
        """The bootstrap of the per-image metrics' confidence intervals."""
        return Bootstrap(self.bootstrap_resamples, self.confidence, self.bootstrap_seed)

    def resolved_device(self) -> str:
        """Return the device to run on."""
        if self.device:
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class LoadFailure:
    """Why a metric is not computed: it could not load, was not requested, or failed."""

    reason: str
    how_to_fix: str | None = None


@dataclass
class ImageMetricSuite:
    """The loaded image metrics of a run (each model loads once); ``failures`` says what did not."""

    settings: ImageMetricSettings = field(default_factory=ImageMetricSettings)
    metrics: dict[str, ImageMetric] = field(default_factory=dict)
    failures: dict[str, LoadFailure] = field(default_factory=dict)
    loaded: bool = False

    @property
    def models(self) -> dict[str, Any]:
        """Each loaded metric's model (a bundle of model, processor and source)."""
        return {name: metric.model for name, metric in self.metrics.items()}

    def load(self) -> ImageMetricSuite:
        """Load every requested metric; record a failure instead of raising."""
        if self.loaded:
            return self
        s = self.settings
        device = s.resolved_device()
        for cls in METRICS.image_metrics():
            if cls.name not in s.metrics:
                self.failures[cls.name] = LoadFailure(f"{cls.name} was not requested")
                continue
            options = s.options_for(cls.name)
            weights = cls.weights_for(options)
            fix = weights.fetch_command if weights is not None else None
            try:
                metric = cls.load(options, device=device, dtype=s.dtype)
            except WeightsMissing as error:
                self.failures[cls.name] = LoadFailure(f"weights missing: {error}", fix)
            except (OSError, ValueError, RuntimeError, ImportError, KeyError) as error:
                self.failures[cls.name] = LoadFailure(
                    f"{cls.name} model could not be loaded: {type(error).__name__}: {error}", fix
                )
            else:
                metric.batch_size = max(1, s.batch_size)
                self.metrics[cls.name] = metric
        self.loaded = True
        return self

    def describe(self) -> dict[str, Any]:
        """Return every setting and what was loaded from where (for ``metric_settings``)."""
        s = self.settings
        device = s.resolved_device()
        described: dict[str, Any] = {
            "device": device,
            "dtype": s.dtype,
            "batch_size": s.batch_size,
            "text": s.text,
            "bootstrap": {
                "resamples": s.bootstrap_resamples,
                "seed": s.bootstrap_seed,
                "level": s.confidence,
                "method": "percentile bootstrap of the per-image mean",
            },
            "missing_image_policy": "samples without an image are counted (n_images, "
            "image_coverage, render_status) and excluded from means; never filled in",
        }
        for cls in METRICS.image_metrics():
            if cls.name in self.metrics:
                described[cls.name] = self.metrics[cls.name].describe()
            else:
                options = s.options_for(cls.name)
                described[cls.name] = cls.settings(options, device=device, dtype=s.dtype)
        described["not_loaded"] = {k: asdict(v) for k, v in self.failures.items()}
        return described


@dataclass
class SampleImageScores:
    """What image scoring found for one benchmark sample."""

    id: str
    setting: str
    input_type: str
    status: str  # the render status, or "not_in_manifest" / "unreadable"
    has_image: bool = False
    scores: dict[str, float] = field(default_factory=dict)  # metric -> raw per-image score
    error: str | None = None


@dataclass
class RenderScores:
    """One pass over a render folder: each sample's status, and the metrics holding their state.

    ``metrics`` are this run's metric objects (updated with every image); ``failures`` holds every
    metric that is not computed in this run, with the reason. ``rendered_models`` are the models
    of the manifest's records that have an image (what says whether random demo weights made them).
    """

    render_dir: str
    samples: list[SampleImageScores]
    metrics: dict[str, ImageMetric]
    failures: dict[str, LoadFailure]
    manifest_extra_ids: int = 0
    summary: dict[str, Any] | None = None
    manifest_skipped: list[str] = field(default_factory=list)
    rendered_models: list[str] = field(default_factory=list)


def _read_summary(root: Path) -> dict[str, Any] | None:
    """Return the folder's ``render_summary.json`` (None when absent or not a JSON object)."""
    from chatgenbench.core.storage import read_regular_bytes

    path = root / "render_summary.json"
    if not os.path.lexists(path):
        return None
    try:
        summary = json.loads(read_regular_bytes(path, within=root, max_bytes=64 * 1024 * 1024))
    except (OSError, ValueError, RecursionError) as error:
        return {"unreadable": f"render_summary.json: {type(error).__name__}: {error}"[:500]}
    return summary if isinstance(summary, dict) else {"unreadable": "not a JSON object"}


def _read_samples(root: Path, rows: list[dict[str, Any]]):
    if not root.is_dir():
        raise ImageScoringError(f"render folder {root} does not exist")
    try:
        manifest = load_manifest(root)
    except (OSError, ValueError) as error:
        raise ImageScoringError(f"cannot read the render folder {root}: {error}") from error
    records = {r.id: r for r in manifest.records}
    samples = []
    for row in rows:
        record = records.get(row["id"])
        sample = SampleImageScores(row["id"], row["setting"], row["input_type"], "not_in_manifest")
        if record is not None:
            sample.status, sample.has_image, sample.error = (
                record.status,
                record.has_image,
                record.error,
            )
        samples.append(sample)
    return records, samples, manifest.skipped


def score_render_folder(
    render_dir: str | os.PathLike,
    rows: list[dict[str, Any]],
    suite: ImageMetricSuite,
    *,
    progress: bool = True,
    fid_features: bool = True,
) -> RenderScores:
    """Score every benchmark row's image in ``render_dir`` with the suite's loaded metrics.

    ``rows`` need ``id, setting, input_type, prompt`` (the reference prompt is the text scored).
    ``fid_features=False`` skips the metrics that compare with reference images (FID) when the
    benchmark has none. The suite's metrics are not changed: the run updates empty copies.
    Raises :class:`ImageScoringError` when the folder is not a readable render folder.
    """
    from tqdm.auto import tqdm

    suite.load()
    root = Path(render_dir)
    records, samples, skipped = _read_samples(root, rows)
    summary = _read_summary(root)
    metrics = {name: metric.empty() for name, metric in suite.metrics.items()}
    failures = dict(suite.failures)
    updating = {n: m for n, m in metrics.items() if fid_features or not m.uses_references}
    todo = [(s, row) for s, row in zip(samples, rows) if s.has_image]
    batch = max(1, suite.settings.batch_size)
    bar = tqdm(total=len(todo), desc="image metrics", unit="img", disable=not progress)
    for start in range(0, len(todo), batch):
        chunk = []
        for sample, row in todo[start : start + batch]:
            path = image_path(root, records[sample.id])
            try:
                chunk.append((sample, row["prompt"], read_image_file(path, within=root, mode=None)))
            except (OSError, ValueError) as error:
                sample.has_image, sample.status = False, "unreadable"
                sample.error = f"cannot read {path}: {error}"
        if chunk:
            _update(updating, metrics, failures, chunk)
        bar.update(len(todo[start : start + batch]))
    bar.close()
    return RenderScores(
        str(root),
        samples,
        metrics,
        failures,
        manifest_extra_ids=len(set(records) - {row["id"] for row in rows}),
        summary=summary,
        manifest_skipped=skipped,
        rendered_models=[r.model for r in records.values() if r.has_image and r.model],
    )


def _update(updating, metrics, failures, chunk) -> None:
    """Pass one batch to every metric still running; stop one that raises (never partial)."""
    samples, texts, images = [c[0] for c in chunk], [c[1] for c in chunk], [c[2] for c in chunk]
    ids = [sample.id for sample in samples]
    for name, metric in list(updating.items()):
        try:
            scores = metric.update(images, texts, ids)
        except SCORING_ERRORS as error:
            del updating[name], metrics[name]
            failures[name] = LoadFailure(
                f"{name} failed while scoring: {type(error).__name__}: {error}"
            )
            continue
        for sample, score in zip(samples, scores or ()):
            sample.scores[name] = float(score)


@dataclass
class ImageResults:
    """The image part of a results file: per-slice blocks and what goes beside them.

    ``blocks`` maps each :class:`chatgenbench.scoring.results.Slice` to ``{n_images, image_coverage,
    render_status, image, unified}``; ``metric_settings`` is ``metric_settings.image``; ``images``
    the results' ``images`` section; ``provenance`` the keys added to the results' provenance;
    ``rendered_models`` those of :class:`RenderScores`.
    """

    blocks: dict[Slice, dict[str, Any]]
    metric_settings: dict[str, Any]
    images: dict[str, Any]
    provenance: dict[str, Any]
    samples: list[SampleImageScores]
    rendered_models: list[str] = field(default_factory=list)


def _metric_block(
    name: str, scores: RenderScores, ids: list[str], n: int, bootstrap: Bootstrap
) -> dict[str, Any]:
    if name not in scores.metrics:
        failure = scores.failures.get(name) or LoadFailure(f"{name} was not scored")
        return not_computed(failure.reason, failure.how_to_fix)
    try:
        value = scores.metrics[name].compute(ids, bootstrap=bootstrap)
    except MetricNotComputed as error:
        return not_computed(str(error), error.how_to_fix)
    return computed(value, value.n, coverage=value.n / n if n else 0.0, **value.details)


def slice_block(
    samples: list[SampleImageScores], scores: RenderScores, bootstrap: Bootstrap
) -> dict[str, Any]:
    """Return one slice's image block: counts, every registered image metric, the Unified Metric."""
    n = len(samples)
    with_image = sum(s.has_image for s in samples)
    ids = [s.id for s in samples]
    image = {
        name: _metric_block(name, scores, ids, n, bootstrap) for name in METRICS.names_of("image")
    }
    return {
        "n_images": with_image,
        "image_coverage": with_image / n if n else 0.0,
        "render_status": dict(sorted(Counter(s.status for s in samples).items())),
        "image": image,
        "unified": unified_block(image),
    }


def image_results(
    scores: RenderScores,
    suite: ImageMetricSuite,
    settings: list[str],
    references: list[ReferenceImage] | None = None,
    *,
    progress: bool = True,
) -> ImageResults:
    """Compute every slice of ``settings`` (each setting, each input type, overall) from one pass.

    ``references`` are the benchmark's reference images, given to the metrics that use them;
    ``progress`` shows a bar for their work on them (FID's reference features on a cache miss).
    """
    for metric in scores.metrics.values():
        metric.progress = progress
        if metric.uses_references:
            metric.set_references(references or [])
    bootstrap = suite.settings.bootstrap
    blocks = {
        piece: slice_block([s for s in scores.samples if piece.selects(s)], scores, bootstrap)
        for piece in slices_of(settings)
    }
    notes: dict[str, Any] = {}
    for metric in scores.metrics.values():
        notes.update(metric.notes())
    images = {
        "render_dir": scores.render_dir,
        "n_manifest_records_outside_benchmark": scores.manifest_extra_ids,
        "n_manifest_lines_skipped": len(scores.manifest_skipped),
        "manifest_lines_skipped": scores.manifest_skipped[:20],
        "n_unreadable_images": sum(s.status == "unreadable" for s in scores.samples),
        **notes,
        "render_summary": scores.summary,
    }
    s = suite.settings
    return ImageResults(
        blocks=blocks,
        metric_settings=suite.describe(),
        images=images,
        provenance={
            "seed": s.bootstrap_seed,
            "deterministic": "step-wise metrics use no randomness; image-metric confidence "
            "intervals use a seeded bootstrap (seed above)",
        },
        samples=scores.samples,
        rendered_models=scores.rendered_models,
    )


def score_images(
    render_dir: str | os.PathLike,
    benchmark,
    suite: ImageMetricSuite,
    *,
    progress: bool = True,
) -> ImageResults:
    """Score ``render_dir`` against a :class:`chatgenbench.benchmark.loading.LoadedBenchmark` (what
    ``evaluate`` calls): one pass over the images, then every slice of its settings."""
    suite.load()
    wants_references = any(m.uses_references for m in suite.metrics.values())
    references = benchmark.reference_images() if wants_references else []
    scores = score_render_folder(
        render_dir, benchmark.rows, suite, progress=progress, fid_features=bool(references)
    )
    return image_results(scores, suite, benchmark.settings, references, progress=progress)


def fill_image_metrics(
    results: dict[str, Any],
    scores: RenderScores,
    references: dict[str, list[tuple[str, str, bytes]]],
    suite: ImageMetricSuite,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Add the image blocks of a scored render folder to an existing results dict, in place.

    For results made without images (e.g. step-wise scores published first). ``references``
    maps each setting to ``(id, input_type, image bytes)`` of its reference images. Returns
    ``results``.
    """
    from chatgenbench.scoring.results import attach_image_results

    flat = [ReferenceImage(i, d) for items in references.values() for i, _, d in items]
    found = image_results(scores, suite, list(results["settings"]), flat, progress=progress)
    return attach_image_results(results, found)
