"""``render_summary.json``: its documented keys, and building it for a render or merged shards."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatgenbench.render.arguments import DEFAULT_SEED, change_kinds
from chatgenbench.render.backends import BackendOptions
from chatgenbench.render.manifest import RENDER_STATUSES, RenderRecord
from chatgenbench.render.planning import RenderPlan
from chatgenbench.render.worker import WorkerStats

if TYPE_CHECKING:  # pragma: no cover
    from chatgenbench.benchmark.loading import BenchmarkInfo

SUMMARY_FORMAT = 1
#: Every top-level key of ``render_summary.json``, documented.
SUMMARY_KEYS: dict[str, str] = {
    "format": "version of this summary's layout",
    "n_samples": "benchmark samples in this folder's manifest",
    "n_images": "samples with an image (rendered + cached)",
    "counts": "samples per status (see chatgenbench.render.manifest.RENDER_STATUSES)",
    "normalisation": "'key:change' -> samples, e.g. 'width:rounded', 'prompt:truncated'",
    "samplers": "requests whose sampler mapped exactly, approximately, or fell back to the default",
    "weights_missing_models": "model -> why its weights are missing and how to get them",
    "settings": "backend, workers, device, dtype, batch size, LRU size, threads, verify (when "
    "weight files are checked: first-load, always, never), readahead_mb (null: the default "
    "budget), setting, seed policy, LoRA bases, safety checker, image format",
    "performance": "images rendered, batches, render and wall seconds, images/s, checkpoint and "
    "LoRA loads, load seconds, groups, distinct checkpoints; files_verified and verify_seconds: "
    "the checks of files against the catalogue's digests (read and hashed on a background "
    "thread, their own seconds), verify_seconds_per_file, verified_by_digest (files checked per "
    "digest: sha256, blake3, autov2), check_failures, images_discarded (rendered from a file that "
    "then failed its check; not in images_rendered), check_wait_seconds (what groups waited for "
    "checks at their end), loads_read_ahead and loads_not_hidden (loads whose file had, or had "
    "not, been read ahead whole)",
    "cache": "cache folder, hits (taken from it), misses (rendered or failed) and rejected "
    "(entries that failed their check and were rendered again: reason -> requests)",
    "shard": "null, or index/count/groups/requests of this shard",
    "complete": "false for a shard's folder: only its samples are listed",
    "validation": "the prediction file's validation summary",
    "provenance": "package and library versions, python, benchmark info, prediction file and "
    "sha256, catalogue, time, command",
}
#: The ``performance`` counters that merging shards adds up.
SUMMED_PERFORMANCE = ("images_rendered", "batches", "render_seconds", "checkpoint_loads",
                      "lora_loads", "load_seconds", "groups", "files_verified",
                      "verify_seconds", "check_failures", "check_wait_seconds",
                      "loads_read_ahead", "loads_not_hidden", "images_discarded")  # fmt: skip


def render_settings(
    backend: str,
    n_workers: int,
    options: BackendOptions,
    setting: str,
    lora_bases: dict[str, str],
) -> dict[str, Any]:
    """Return the summary's ``settings``: the backend's name and worker count, ``options``, the
    benchmark setting and the LoRA bases, with the fixed seed, generator and output policy.
    """
    return {
        "backend": backend,
        "workers": n_workers,
        "device": options.device,
        "dtype": options.dtype,
        "batch_size": options.batch_size,
        "pipelines_in_memory": options.capacity,
        "threads": options.threads,
        "verify": options.verify,
        "readahead_mb": None if options.readahead_bytes is None else options.readahead_bytes >> 20,
        "setting": setting,
        "default_seed": DEFAULT_SEED,
        "generator": "one torch.Generator on the CPU per request, seeded with its seed",
        "lora_bases": lora_bases,
        "safety_checker": False,
        "image_format": "png",
    }


def build_summary(
    plan: RenderPlan,
    *,
    stats: WorkerStats,
    render_wall: float,
    wall: float,
    settings: dict[str, Any],
    cache: dict[str, Any],
    provenance: dict[str, Any],
    validation: dict[str, Any],
) -> dict[str, Any]:
    """Return the render summary (keys: :data:`SUMMARY_KEYS`) of a finished ``plan``.

    ``stats`` are the backend's counters, ``render_wall`` and ``wall`` the seconds the backend and
    the whole render took; the other arguments are the summary's entries of the same name.
    """
    records = list(plan.records.values())
    counts = {status: 0 for status in RENDER_STATUSES}
    counts.update(Counter(r.status for r in records))
    normalisation = Counter(label for r in records for label in change_kinds(r.normalised))
    samplers = Counter(request.arguments.scheduler.outcome for request in plan.request_of.values())
    return {
        "format": SUMMARY_FORMAT,
        "n_samples": len(records),
        "n_images": counts["rendered"] + counts["cached"],
        "counts": counts,
        "normalisation": dict(sorted(normalisation.items())),
        "samplers": {k: samplers.get(k, 0) for k in ("exact", "approximate", "fallback")},
        "weights_missing_models": dict(sorted(plan.missing_weights.items())),
        "settings": settings,
        "performance": {
            "images_rendered": stats.images,
            "batches": stats.batches,
            "render_seconds": round(stats.render_seconds, 3),
            "render_wall_seconds": round(render_wall, 3),
            "images_per_second": round(stats.images / render_wall, 4) if render_wall > 0 else None,
            "checkpoint_loads": stats.checkpoint_loads,
            "lora_loads": stats.lora_loads,
            "load_seconds": round(stats.load_seconds, 3),
            "files_verified": stats.files_verified,
            "verify_seconds": round(stats.verify_seconds, 3),
            "verify_seconds_per_file": round(stats.verify_seconds / stats.files_verified, 3)
            if stats.files_verified
            else None,
            "verified_by_digest": {
                "blake3": stats.verified_blake3,
                "sha256": stats.verified_sha256,
                "autov2": stats.verified_autov2,
            },
            "check_failures": stats.check_failures,
            "images_discarded": stats.images_discarded,
            "check_wait_seconds": round(stats.check_wait_seconds, 3),
            "loads_read_ahead": stats.loads_read_ahead,
            "loads_not_hidden": stats.loads_not_hidden,
            "groups": len(plan.groups),
            "distinct_checkpoints": plan.distinct_checkpoints,
            "wall_seconds": round(wall, 3),
        },
        "cache": cache,
        "shard": plan.shard,
        "complete": plan.shard is None,
        "validation": validation,
        "provenance": provenance,
    }


def checks_report(summary: dict[str, Any]) -> list[str]:
    """Return the lines ``chatgenbench render`` prints about weight checks and read-ahead (none
    when nothing was checked, loaded or read ahead)."""
    performance = summary.get("performance") or {}
    mode = (summary.get("settings") or {}).get("verify", "first-load")
    checked = performance.get("files_verified") or 0
    lines = []
    if checked or mode == "never":
        by = performance.get("verified_by_digest") or {}
        digests = ", ".join(f"{name} {count}" for name, count in by.items() if count)
        line = (
            f"weights checks (--verify {mode}): {checked} file(s) checked"
            + (f" ({digests})" if digests else "")
            + f", {performance.get('verify_seconds', 0)} s on a background thread, groups waited "
            f"{performance.get('check_wait_seconds', 0)} s"
        )
        failures = performance.get("check_failures") or 0
        if failures:
            line += (
                f"; {failures} file(s) are not the catalogue's: their groups failed, "
                f"{performance.get('images_discarded') or 0} image(s) made from them discarded"
            )
        lines.append(line)
    hidden, not_hidden = performance.get("loads_read_ahead"), performance.get("loads_not_hidden")
    if hidden or not_hidden:
        lines.append(f"loads: {hidden or 0} read ahead while earlier groups rendered, "
                     f"{not_hidden or 0} not hidden")  # fmt: skip
    return lines


def merge_summaries(
    summaries: list[dict[str, Any]], records: list[RenderRecord], folders: list[str], count: int
) -> dict[str, Any]:
    """Return the summary of ``count`` merged shards.

    Takes the shards' ``summaries`` in shard order, the merged ``records`` and the shard folder
    names. Settings, validation and provenance are the first shard's.
    """
    first = summaries[0]
    status_counts = Counter(r.status for r in records)
    performance = {
        key: round(sum(s["performance"].get(key) or 0 for s in summaries), 3)
        for key in SUMMED_PERFORMANCE
    }
    performance["verified_by_digest"] = {
        name: sum(
            (s["performance"].get("verified_by_digest") or {}).get(name, 0) for s in summaries
        )
        for name in ("blake3", "sha256", "autov2")
    }
    verified = performance.get("files_verified") or 0
    performance["verify_seconds_per_file"] = (
        round(performance["verify_seconds"] / verified, 3) if verified else None
    )
    normalisation = sum((Counter(s["normalisation"]) for s in summaries), Counter())
    return {
        **first,
        "n_samples": len(records),
        "n_images": status_counts["rendered"] + status_counts["cached"],
        "counts": {status: status_counts.get(status, 0) for status in first["counts"]},
        "normalisation": dict(sorted(normalisation.items())),
        "samplers": {k: sum(s["samplers"].get(k, 0) for s in summaries) for k in first["samplers"]},
        "weights_missing_models": {
            k: v for s in summaries for k, v in s["weights_missing_models"].items()
        },
        "performance": {**first["performance"], **performance},
        "cache": {
            "hits": sum(s["cache"]["hits"] for s in summaries),
            "misses": sum(s["cache"]["misses"] for s in summaries),
            "dir": sorted({s["cache"]["dir"] for s in summaries}),
            "rejected": dict(
                sum((Counter(s["cache"].get("rejected") or {}) for s in summaries), Counter())
            ),
        },  # fmt: skip
        "shard": {"merged": count, "folders": folders},
        "complete": True,
    }


def provenance(info: BenchmarkInfo, predictions: Any, catalog: Any, command: str | None) -> dict:
    """Return the summary's ``provenance``: :func:`chatgenbench.core.provenance.provenance` of the
    benchmark and the prediction file, plus the catalogue.

    ``predictions`` is the prediction file or its validation report (whose path and sha256 are
    recorded; a file is hashed); ``catalog`` is recorded when it is a file name (with a short hash
    when it exists); ``command`` defaults to this process's command line.
    """
    from chatgenbench.core.provenance import provenance as make_provenance
    from chatgenbench.core.storage import sha256_file

    prediction_path = getattr(predictions, "path", predictions)
    digest = getattr(predictions, "sha256", None)
    if digest is None and isinstance(prediction_path, (str, os.PathLike)):
        if Path(prediction_path).is_file():
            digest = sha256_file(prediction_path)
    catalog_text = None
    if isinstance(catalog, (str, os.PathLike)):
        catalog_text = str(catalog)
        if Path(catalog).is_file():
            catalog_text += f" (sha256:{sha256_file(catalog)[:16]})"
    return make_provenance(
        benchmark=info,
        predictions=prediction_path,
        predictions_sha256=digest,
        command=command,
        catalog=catalog_text,
    )
