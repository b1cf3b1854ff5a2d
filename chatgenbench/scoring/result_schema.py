"""The results JSON that ``chatgenbench evaluate`` writes, documented key by key.

This module is the single description of the format. :data:`DOCUMENTED_KEYS` maps every key path
(``<setting>`` and ``<type>`` stand for any setting and input type) to its meaning;
:func:`check_results` verifies that a results dict has them. Bump :data:`SCHEMA_VERSION` on any
incompatible change. The metric keys come from the metric registry
(:data:`chatgenbench.metrics.registry.METRICS`): a registered metric is documented, placed and checked
here without this module being edited. :data:`STEPWISE_METRICS`, :data:`IMAGE_METRICS` and
:data:`DOCUMENTED_KEYS` are read from it each time they are used.

Every metric is an object with a ``status``:

- ``computed``: ``value`` holds the number (step-wise metrics in [0, 1] or rescaled BERTScore;
  image metrics on the paper's ×100 scale), ``n`` the number of samples it averages over.
- ``not_computed``: ``value`` is null; ``reason`` says why and, where it applies, ``how_to_fix`` the
  command that makes it computable. A metric is never estimated or filled in.
- ``oracle``: a step-wise metric of a step whose reference values were given (``evaluate
  --oracle``, :mod:`chatgenbench.scoring.oracle`): ``value`` is null, ``reason`` says which step.
"""

from __future__ import annotations

from typing import Any

from chatgenbench.metrics.registry import METRICS

# The metric-object constructors and statuses live with the metrics; re-exported here.
from chatgenbench.metrics.values import STATUS_COMPUTED as STATUS_COMPUTED
from chatgenbench.metrics.values import STATUS_NOT_COMPUTED as STATUS_NOT_COMPUTED
from chatgenbench.metrics.values import STATUS_ORACLE as STATUS_ORACLE
from chatgenbench.metrics.values import computed as computed
from chatgenbench.metrics.values import not_computed as not_computed

SCHEMA_VERSION = "1.0"

_COUNT_KEYS = {
    "n_samples": "number of benchmark samples in this slice",
    "n_missing": "samples without a usable prediction row (missing or invalid row): they score 0",
    "n_invalid_fields": "per field (prompt, model, arguments.<key>): samples whose predicted value "
    "had an error and so scored as wrong",
}
_STEPWISE_SLICE_KEYS = {
    "stepwise.<metric>.ci": "seeded percentile bootstrap interval of the mean over the slice's "
    "samples (low, high, level, resamples, seed, method); null for fewer than two samples",
}
_IMAGE_SLICE_KEYS = {
    "n_images": "samples of this slice with a scored image (present only when images were scored)",
    "image_coverage": "n_images / n_samples: samples without an image are counted, never filled in",
    "render_status": "samples by render status (rendered, cached, weights_missing, ..., "
    "not_in_manifest, unreadable)",
    "image.<metric>.n": "images the metric averages over (FID: rendered images of the slice)",
    "image.<metric>.coverage": "that count / n_samples",
}

_RESULT_KEYS = {
    "schema_version": f"format version of this file ({SCHEMA_VERSION})",
    "synthetic": "true when the benchmark is synthetic: such results never go on the leaderboard",
    "benchmark": "the benchmark source: source, kind (sample|folder|hub), revision, settings, counts",
    "predictions": "the scored file: name, format, bytes, sha256",
    "validation": "the validation summary: rows, usable rows, errors and warnings by kind",
    "normalisation": "what scoring normalised or ignored (casts, rounding, unknown samplers, ...), "
    "counted by kind",
    "metric_settings": "the settings that make two results comparable (BERTScore encoder, ...)",
    "metric_settings.bertscore.reference_cache": "whether the reference prompts' BERTScore "
    "embeddings came from the cache (used, state warm/cold/recomputed/off/write_failed, key, "
    "path, n_references, reason); never part of comparability: the scores are the same",
    "metric_settings.image": "image metrics (when scored): device, dtype, batch size, text scored, "
    "bootstrap (resamples, seed, level), missing-image policy, and one entry per image metric "
    "with its settings (fid: feature extractor, preprocessing, weights file, input range; "
    "clip_score: variant, formula, model; hps_v2: version, architecture, checkpoint; "
    "image_reward: checkpoint, tokenizer), each with loaded_from; not_loaded names each metric "
    "that could not load and why",
    "images": "the scored render folder (when scored): render_dir, render_summary (the folder's "
    "render_summary.json), manifest records outside the benchmark, manifest lines that are not "
    "records (n_manifest_lines_skipped, manifest_lines_skipped: 'line N: why', the first 20), "
    "images that could not be read (n_unreadable_images; each sample's render_status says "
    "unreadable, with the reason in per_sample), and each image metric's run "
    "notes (texts cut at CLIP's 77 tokens: clip_score_truncated_texts; the FID reference cache "
    "dir, hits, misses and rejected (statistics that failed their check, by reason): "
    "fid_reference_cache)",
    "random_weights": "(when images were scored) used: whether random demo weights made the "
    "images or scored them (render_models, metric_models, note); such results are never ranked "
    "beside results made with real weights",
    "provenance": "package and library versions (libraries), python, platform, creation time "
    "(created_utc), command, benchmark source and revision, prediction sha256, encoder, seed",
    "settings.<setting>": "one block per evaluated setting (supervised, few_shot)",
    "settings.<setting>.by_input_type.<type>": "the same block for each input type (single, "
    "multimodal, history), without by_input_type",
    "overall": "the same block over every evaluated sample, with by_input_type",
    "metric_settings.stepwise_bootstrap": "how the step-wise intervals were drawn: resamples, "
    "level, seed, method",
    "per_sample": "one record per benchmark sample: id, setting, input_type, has_prediction, "
    "prompt_bertscore (null when not computed or an oracle step), selection_correct, "
    "config_score, and when images were scored render_status and image_scores (raw per-image "
    "score by metric), and render_error when the sample has no image and a reason is known "
    "(an unreadable image: why); 'chatgenbench compare' pairs two results by these",
    "oracle": "the oracle steps of the run (evaluate --oracle): steps (prompt, model, arguments), "
    "metrics (the step-wise metrics reported as oracle), given; steps is empty for a full run",
}


def _metric_key(name: str, stage: str) -> str:
    return {"stepwise": f"stepwise.{name}", "image": f"image.{name}"}.get(stage, name)


def documented_keys() -> dict[str, str]:
    """Return every documented key path and its meaning, the registered metrics' keys included."""
    slice_keys = dict(_COUNT_KEYS)
    for entry in METRICS.entries():
        slice_keys[_metric_key(entry.name, entry.metadata["stage"])] = entry.metadata["description"]
    slice_keys.update(_STEPWISE_SLICE_KEYS)
    slice_keys.update(_IMAGE_SLICE_KEYS)
    for metric in METRICS.image_metrics():
        for key, text in metric.result_keys.items():
            slice_keys[f"image.{metric.name}.{key}"] = text
    return {
        **_RESULT_KEYS,
        **{f"settings.<setting>.{key}": text for key, text in slice_keys.items()},
    }


def __getattr__(name: str) -> Any:
    # Read from the metric registry on each use, so that a metric registered later is included.
    if name == "STEPWISE_METRICS":
        return METRICS.names_of("stepwise")
    if name == "IMAGE_METRICS":
        return METRICS.names_of("image")
    if name == "DOCUMENTED_KEYS":
        return documented_keys()
    raise AttributeError(f"module 'chatgenbench.scoring.result_schema' has no attribute {name!r}")


def image_placeholders(reason: str, how_to_fix: str | None = None) -> dict[str, Any]:
    """Return the ``image`` block with every image metric not computed for ``reason``."""
    return {name: not_computed(reason, how_to_fix) for name in METRICS.names_of("image")}


def metric_block(block: dict[str, Any], name: str) -> dict[str, Any] | None:
    """Return the metric object of registered metric ``name`` in a results slice block (under
    ``stepwise``, ``image`` or at the top, by the metric's stage), None when absent."""
    stage = METRICS.entry(name).metadata["stage"]
    if stage == "final":
        return block.get(name)
    found = (block.get(stage) or {}).get(name)
    return found if isinstance(found, dict) else None


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
    for key in ("stepwise", "image"):
        if not isinstance(block.get(key, {}), dict):
            problems.append(f"{where}.{key}: expected an object")
    stepwise = block.get("stepwise") if isinstance(block.get("stepwise"), dict) else {}
    for name in METRICS.names_of("stepwise"):
        metric = stepwise.get(name)
        if not isinstance(metric, dict) or "status" not in metric:
            problems.append(f"{where}.stepwise.{name}: missing or without status")
    image = block.get("image") if isinstance(block.get("image"), dict) else {}
    # The built-in image metrics are part of this schema version; one registered later is
    # checked only where a result has it (older results do not).
    required = [name for name in METRICS.names_of("image") if METRICS.is_builtin(name)]
    for name in dict.fromkeys([*required, *image]):
        metric = image.get(name) if isinstance(image, dict) else None
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
    """Return the problems of a results dict against this schema (empty when it conforms).

    Never raises for a value of the wrong type: it is a problem (``benchmark: expected an
    object, got str``), so one bad results file is reported, not a crash of its reader.
    """
    if not isinstance(results, dict):
        return [f"results: expected an object, got {type(results).__name__}"]
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
        elif not isinstance(results[key], bool if key == "synthetic" else dict):
            expected = "true or false" if key == "synthetic" else "an object"
            problems.append(f"{key}: expected {expected}, got {type(results[key]).__name__}")
    if not all(isinstance(results.get(key, {}), dict) for key in ("settings", "overall")):
        return problems
    for setting, block in (results.get("settings") or {}).items():
        _check_slice(block, f"settings.{setting}", problems, nested=True)
    if "overall" in results:
        _check_slice(results["overall"], "overall", problems, nested=True)
    _check_per_sample(results, problems)
    return problems


def _check_per_sample(results: dict[str, Any], problems: list[str]) -> None:
    # Optional: results written before per-sample scores were kept have none.
    if "per_sample" not in results:
        return
    records = results["per_sample"]
    if not isinstance(records, list):
        problems.append("per_sample: expected a list of sample records")
        return
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not all(
            key in record for key in ("id", "setting", "input_type")
        ):
            problems.append(f"per_sample[{index}]: expected an object with id, setting, input_type")
            return


def image_settings_label(results: dict[str, Any]) -> str | None:
    """Return the image-metric settings that make image columns comparable, or None.

    None when the result has no computed image metric. Otherwise a label of each image metric's
    ``comparability`` settings (the CLIP-score variant, the FID feature extractor and
    preprocessing, the HPS version, ...): two results whose labels differ never share an image
    column. (Local model paths are not part of it: a path names a file, not a model.)
    """
    overall = results.get("overall") or {}
    image = overall.get("image") or {}
    names = METRICS.names_of("image")
    if not any(metric_value(image.get(name)) is not None for name in names):
        return None
    settings = (results.get("metric_settings") or {}).get("image") or {}
    parts = []
    for metric in METRICS.image_metrics():
        if metric.comparability:
            described = settings.get(metric.name) or {}
            values = "/".join(str(described.get(key)) for key in metric.comparability)
            parts.append(f"{metric.label} {values}")
    return "image metrics: " + ", ".join(parts)


def comparability_key(results: dict[str, Any]) -> tuple:
    """Return what must agree for two results to share a leaderboard column.

    The schema version and the BERTScore setting (encoder, layer, rescaling); for a result
    with computed image metrics, :func:`image_settings_label`; and, for a result made with random
    demo weights (``random_weights.used``), a label that keeps it apart from real-weight results.
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
    key = key if label is None else (*key, label)
    from chatgenbench.core.random_weights import COMPARABILITY_LABEL, random_weights_of

    if random_weights_of(results).get("used"):
        key = (*key, COMPARABILITY_LABEL)
    return key
