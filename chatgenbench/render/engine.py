"""Rendering submitted triples: plan, group by checkpoint, batch, render, cache, report.

:func:`render_predictions` is the whole stage. It turns every benchmark sample into either a
:class:`RenderRequest` or a final status (``missing_prediction``, ``invalid_prediction``,
``weights_missing``), takes what the content-addressed cache already holds, groups the rest by
checkpoint and LoRA (largest groups first), optionally keeps one shard of the groups, and hands the
groups to a backend (:mod:`chatgenbench.render.backends`), whose workers
(:mod:`chatgenbench.render.worker`) render them. The render folder follows
:mod:`chatgenbench.render_manifest`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatgenbench.errors import RenderError
from chatgenbench.render.arguments import DEFAULT_SEED, normalise_arguments
from chatgenbench.render.backends import RENDER_BACKENDS, BackendOptions
from chatgenbench.render.cache import (
    ImageCache,
    cache_key,
    default_cache_dir,
    place_file,
)
from chatgenbench.render.pipelines import (
    default_device,
    resolve_dtype,
)
from chatgenbench.render.planning import RenderRequest, group_requests, request_inputs
from chatgenbench.render.weights import (
    DEFAULT_LORA_BASES,
    ResolvedModel,
    WeightLocator,
    render_catalog,
    resolve_model,
)
from chatgenbench.render.worker import (
    DEFAULT_BATCH_SIZE,
    RenderOutcome,
    WorkerStats,
    truncation_changes,
)
from chatgenbench.render_manifest import (
    IMAGES_DIR,
    SUMMARY_NAME,
    RenderRecord,
    image_filename,
    write_manifest,
)

SUMMARY_FORMAT = 1
#: Every top-level key of ``render_summary.json``, documented.
SUMMARY_KEYS: dict[str, str] = {
    "format": "version of this summary's layout",
    "n_samples": "benchmark samples in this folder's manifest",
    "n_images": "samples with an image (rendered + cached)",
    "counts": "samples per status (see chatgenbench.render_manifest.RENDER_STATUSES)",
    "normalisation": "'key:change' -> samples, e.g. 'width:rounded', 'prompt:truncated'",
    "samplers": "requests whose sampler mapped exactly, approximately, or fell back to the default",
    "weights_missing_models": "model -> why its weights are missing and how to get them",
    "settings": "backend, workers, device, dtype, batch size, LRU size, threads, setting, seed "
    "policy, LoRA bases, safety checker, image format",
    "performance": "images rendered, batches, render and wall seconds, images/s, checkpoint and "
    "LoRA loads, load seconds, groups, distinct checkpoints",
    "cache": "cache folder, hits (taken from it) and misses (rendered or failed)",
    "shard": "null, or index/count/groups/requests of this shard",
    "complete": "false for a shard's folder: only its samples are listed",
    "validation": "the prediction file's validation summary",
    "provenance": "package and library versions, python, benchmark info, prediction file and "
    "sha256, catalogue, time, command",
}


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """Parse ``"I/N"`` (0-based, ``0 <= I < N``) into ``(I, N)``; raise RenderError when malformed."""
    if shard is None:
        return None
    if isinstance(shard, str):
        parts = shard.split("/")
        try:
            index, count = int(parts[0]), int(parts[1])
        except (ValueError, IndexError):
            raise RenderError(f"--shard must be I/N such as 0/4, got {shard!r}") from None
        if len(parts) != 2:
            raise RenderError(f"--shard must be I/N such as 0/4, got {shard!r}")
    else:
        index, count = shard
    if count < 1 or not 0 <= index < count:
        raise RenderError(f"--shard I/N needs N >= 1 and 0 <= I < N, got {index}/{count}")
    return index, count


def assign_shards(groups: list[list[RenderRequest]], count: int) -> list[int]:
    """Return the shard of each group: whole groups, largest first onto the least-loaded shard.

    Deterministic for the same requests, so every shard of a SLURM array or torchrun job computes
    the same assignment independently.
    """
    load = [0] * count
    shards = []
    for group in groups:
        target = min(range(count), key=lambda i: (load[i], i))
        load[target] += len(group)
        shards.append(target)
    return shards


@dataclass
class RenderReport:
    """The outcome of :func:`render_predictions`: one record per sample, and the summary."""

    records: list[RenderRecord]
    summary: dict[str, Any]
    out_dir: Path

    @property
    def counts(self) -> dict[str, int]:
        """Return the number of samples per status."""
        return dict(self.summary["counts"])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _select_rows(benchmark: str, setting: str) -> list[dict[str, Any]]:
    from chatgenbench.benchmark import load_benchmark

    dataset = load_benchmark(setting, benchmark)
    columns = ["id", "setting", "input_type"]
    return dataset.select_columns(columns).to_list()


def render_predictions(
    predictions,
    benchmark: str | os.PathLike = "sample",
    *,
    catalog=None,
    out_dir: str | os.PathLike,
    setting: str = "all",
    device: str | None = None,
    dtype: str | None = None,
    backend: str = "local",
    shard: str | tuple[int, int] | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    **options: Any,
) -> RenderReport:
    """Render every valid prediction of a benchmark into a render folder and return the report.

    ``predictions`` is a prediction file or a :class:`chatgenbench.predictions.ValidationReport`.
    ``catalog`` is None (the benchmark's catalogue), a catalogue file laid over it (typically adding
    ``weights``), or a :class:`chatgenbench.catalog.ModelCatalog`. ``device`` defaults to ``cuda``
    when visible, else ``cpu``; ``dtype`` to fp16 on CUDA and fp32 on CPU. ``backend`` is ``local`` or
    ``ray``. ``shard`` (``"I/N"``) renders only shard I of N (whole checkpoint groups) into
    ``out_dir/shards/I-of-N``. ``cache_dir`` defaults to ``$CHATGENBENCH_HOME/render-cache``.

    ``options``: ``batch_size`` (default 4), ``pipelines_in_memory`` (LRU size, default 2),
    ``workers`` (local worker count), ``threads`` (torch CPU threads per worker), ``lora_bases``
    (architecture -> base checkpoint name), ``ray_address``, ``ray_actors``, ``command`` (recorded).

    Returns a :class:`RenderReport`; writes ``render_manifest.jsonl``, ``render_summary.json`` and
    ``images/`` (see :mod:`chatgenbench.render_manifest`). A sample whose weights are missing or
    whose prediction is invalid gets that status; nothing raises for a bad row. Raises
    :class:`RenderError` for settings that cannot work.
    """
    started = time.perf_counter()
    known = {
        "batch_size", "pipelines_in_memory", "workers", "threads", "lora_bases",
        "ray_address", "ray_actors", "command",
    }  # fmt: skip
    unknown = set(options) - known
    if unknown:
        raise RenderError(f"unknown render options {sorted(unknown)}; known: {sorted(known)}")
    from chatgenbench.benchmark import resolve_source
    from chatgenbench.predictions import ValidationReport, validate_predictions
    from chatgenbench.render.cache import library_versions

    shard_spec = parse_shard(shard)
    device = str(device or default_device())
    dtype = resolve_dtype(dtype, device)
    batch_size = int(options.get("batch_size") or DEFAULT_BATCH_SIZE)
    if batch_size < 1:
        raise RenderError(f"batch_size must be at least 1, got {batch_size}")
    out = Path(out_dir)
    if shard_spec:
        out = out / "shards" / f"{shard_spec[0]}-of-{shard_spec[1]}"
    cache = ImageCache(Path(cache_dir) if cache_dir else default_cache_dir())
    info = resolve_source(benchmark)
    rows = _select_rows(str(benchmark), setting)
    from chatgenbench.schema import SETTINGS

    expected = sum(
        info.counts.get(name, 0) for name in (SETTINGS if setting == "all" else [setting])
    )
    if info.counts and len(rows) != expected:
        raise RenderError(
            f"benchmark {benchmark}: loading {setting!r} gave {len(rows)} rows, its manifest says "
            f"{expected}; the `datasets` cache may hold another folder of the same name (clear "
            "~/.cache/huggingface/datasets/<folder name>)"
        )
    model_catalog = render_catalog(benchmark, catalog)
    if isinstance(predictions, ValidationReport):
        report = predictions
    else:
        report = validate_predictions(
            predictions, [r["id"] for r in rows], model_catalog, allow_missing=True
        )
    locator = WeightLocator(cache.root)
    versions = library_versions()
    lora_bases = {**DEFAULT_LORA_BASES, **(options.get("lora_bases") or {})}
    device_type = device.split(":")[0]

    records: dict[str, RenderRecord] = {}
    request_of: dict[str, RenderRequest] = {}
    missing_weights: dict[str, str] = {}
    for row in rows:
        record = RenderRecord(row["id"], row["setting"], row["input_type"], "missing_prediction")
        records[row["id"]] = record
        prediction = report.predictions.get(row["id"])
        if prediction is None:
            record.error = "no usable prediction row for this sample"
            continue
        record.model = prediction.model if isinstance(prediction.model, str) else None
        bad = [f for f in ("model", "prompt") if not prediction.valid(f)]
        if bad:
            record.status = "invalid_prediction"
            problems = [
                str(p)
                for p in report.problems
                if p.id == row["id"] and p.severity == "error" and p.field in bad
            ]
            record.error = "; ".join(problems) or f"invalid field(s): {', '.join(bad)}"
            continue
        entry = model_catalog.get(prediction.model)
        if entry is None:  # validated against the same catalogue, so only for a passed report
            record.status = "invalid_prediction"
            record.error = f"model {prediction.model!r} is not in the catalogue"
            continue
        resolved = resolve_model(entry.name, model_catalog, locator, lora_bases)
        arguments = normalise_arguments(
            prediction.arguments, entry.architecture, seed=prediction.seed
        )
        record.seed = arguments.seed
        record.normalised = dict(arguments.normalised)
        if not isinstance(resolved, ResolvedModel):
            record.status = "weights_missing"
            record.error = f"{resolved.reason}. To get them: {resolved.how_to_get}"
            missing_weights[entry.name] = record.error
            continue
        prompt = _text(prediction.prompt)
        negative = _text(prediction.negative_prompt) if prediction.valid("negative_prompt") else ""
        if not prediction.valid("negative_prompt"):
            record.normalised["negative_prompt"] = {
                "given": repr(prediction.negative_prompt)[:80], "used": "", "change": "default"}  # fmt: skip
        inputs = request_inputs(resolved, prompt, negative, arguments, dtype, device_type, versions)
        request = RenderRequest(
            key=cache_key(inputs),
            model=entry.name,
            architecture=resolved.architecture,
            checkpoint=resolved.checkpoint,
            lora=resolved.lora,
            lora_scale=resolved.lora_scale,
            prompt=prompt,
            negative_prompt=negative,
            arguments=arguments,
            dtype=dtype,
            device_type=device_type,
        )
        record.cache_key = request.key
        request_of[row["id"]] = request

    unique: dict[str, RenderRequest] = {}
    for request in request_of.values():
        unique.setdefault(request.key, request)
    groups = group_requests(unique.values())
    shard_info = None
    if shard_spec:
        index, count = shard_spec
        assignment = assign_shards(groups, count)
        mine = [g for g, s in zip(groups, assignment) if s == index]
        keys = {r.key for g in mine for r in g}
        shard_info = {
            "index": index,
            "count": count,
            "groups": len(mine),
            "requests": len(keys),
            "total_groups": len(groups),
        }
        groups = mine
        for sample_id in list(records):
            request = request_of.get(sample_id)
            if request is not None and request.key not in keys:
                del records[sample_id]
            elif request is None and index != 0:  # final statuses go with shard 0
                del records[sample_id]
        request_of = {i: r for i, r in request_of.items() if i in records}

    hits = {r.key for g in groups for r in g if cache.has(r.key)}
    to_render = [[r for r in g if r.key not in hits] for g in groups]
    to_render = [g for g in to_render if g]
    n_to_render = sum(len(g) for g in to_render)

    out.mkdir(parents=True, exist_ok=True)
    (out / IMAGES_DIR).mkdir(exist_ok=True)
    errors: dict[str, str] = {}
    rendered: set[str] = set()
    bar = None
    if progress and n_to_render:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_to_render, unit="img", desc="render", file=sys.stderr)

    def sink(outcome: RenderOutcome) -> None:
        if outcome.ok:
            if outcome.png is not None:
                cache.put(outcome.key, outcome.png, outcome.sidecar or {})
            rendered.add(outcome.key)
        else:
            errors[outcome.key] = outcome.error or "unknown error"
        if bar is not None:
            bar.update(1)

    def show(stats: WorkerStats) -> None:
        if bar is not None:
            bar.set_postfix(loads=stats.checkpoint_loads, lora=stats.lora_loads, refresh=False)

    backend_options = BackendOptions(
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        capacity=int(options.get("pipelines_in_memory") or 2),
        workers=options.get("workers"),
        threads=options.get("threads"),
        cache_root=str(cache.root),
        extra={k: options[k] for k in ("ray_address", "ray_actors") if k in options},
    )
    runner = RENDER_BACKENDS.get(backend)(backend_options)
    render_start = time.perf_counter()
    stats = runner.run(to_render, sink, show) if to_render else WorkerStats()
    render_wall = time.perf_counter() - render_start
    if bar is not None:
        bar.close()

    for sample_id, request in request_of.items():
        record = records[sample_id]
        if request.key in errors and request.key not in rendered:
            record.status, record.error = "failed", errors[request.key]
            continue
        if not cache.has(request.key):
            record.status = "failed"
            record.error = "no image was produced (the worker stopped); rerun to resume"
            continue
        record.status = "rendered" if request.key in rendered else "cached"
        record.normalised.update(truncation_changes(cache.sidecar(request.key)))
        name = image_filename(sample_id)
        cache.export(request.key, out / IMAGES_DIR / name)
        record.image = f"{IMAGES_DIR}/{name}"

    ordered = list(records.values())
    # A key rendered once and shared by several samples: the first is "rendered", the rest "cached".
    seen: set[str] = set()
    for record in ordered:
        if record.status == "rendered":
            if record.cache_key in seen:
                record.status = "cached"
            seen.add(record.cache_key)
    write_manifest(out, ordered)
    summary = _summary(
        ordered,
        request_of,
        stats=stats,
        render_wall=render_wall,
        wall=time.perf_counter() - started,
        settings={
            "backend": backend,
            "workers": getattr(runner, "n_workers", 1),
            "device": device,
            "dtype": dtype,
            "batch_size": batch_size,
            "pipelines_in_memory": backend_options.capacity,
            "threads": backend_options.threads,
            "setting": setting,
            "default_seed": DEFAULT_SEED,
            "generator": "one torch.Generator on the CPU per request, seeded with its seed",
            "lora_bases": lora_bases,
            "safety_checker": False,
            "image_format": "png",
        },
        cache={"dir": str(cache.root), "hits": len(hits), "misses": n_to_render},
        shard=shard_info,
        groups=len(groups),
        distinct_checkpoints=len({r.checkpoint.identity for g in groups for r in g}),
        missing_weights=missing_weights,
        provenance=_provenance(info, predictions, catalog, versions, options.get("command")),
        validation=report.summary(),
    )
    from chatgenbench.storage import atomic_write_json

    atomic_write_json(out / SUMMARY_NAME, summary)
    return RenderReport(ordered, summary, out)


def _summary(records, request_of, *, stats: WorkerStats, render_wall: float, wall: float,
             settings, cache, shard, groups, distinct_checkpoints, missing_weights, provenance,
             validation) -> dict[str, Any]:  # fmt: skip
    from chatgenbench.render.arguments import change_kinds
    from chatgenbench.render_manifest import RENDER_STATUSES

    counts = {status: 0 for status in RENDER_STATUSES}
    counts.update(Counter(r.status for r in records))
    normalisation = Counter(label for r in records for label in change_kinds(r.normalised))
    samplers = Counter(request.arguments.scheduler.outcome for request in request_of.values())
    return {
        "format": SUMMARY_FORMAT,
        "n_samples": len(records),
        "n_images": counts["rendered"] + counts["cached"],
        "counts": counts,
        "normalisation": dict(sorted(normalisation.items())),
        "samplers": {k: samplers.get(k, 0) for k in ("exact", "approximate", "fallback")},
        "weights_missing_models": dict(sorted(missing_weights.items())),
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
            "groups": groups,
            "distinct_checkpoints": distinct_checkpoints,
            "wall_seconds": round(wall, 3),
        },
        "cache": cache,
        "shard": shard,
        "complete": shard is None,
        "validation": validation,
        "provenance": provenance,
    }


def _provenance(info, predictions, catalog, versions, command) -> dict[str, Any]:
    import platform

    from chatgenbench import __version__
    from chatgenbench.storage import sha256_file

    prediction_path = getattr(predictions, "path", predictions)
    digest = None
    if isinstance(prediction_path, (str, os.PathLike)) and Path(prediction_path).is_file():
        digest = sha256_file(prediction_path)
    catalog_text = None
    if isinstance(catalog, (str, os.PathLike)):
        catalog_text = str(catalog)
        if Path(catalog).is_file():
            catalog_text += f" (sha256:{sha256_file(catalog)[:16]})"
    return {
        "chatgenbench": __version__,
        "versions": versions,
        "python": platform.python_version(),
        "benchmark": info.to_dict(),
        "predictions": str(prediction_path),
        "predictions_sha256": digest,
        "catalog": catalog_text,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command or " ".join(sys.argv),
    }


def merge_shards(out_dir: str | os.PathLike) -> RenderReport:
    """Assemble ``out_dir`` from the shard folders ``out_dir/shards/I-of-N`` of a sharded render.

    Needs neither the weights nor a shared cache: images are copied (hard-linked where possible)
    from the shard folders. Raises :class:`RenderError` when a shard is missing, the shards disagree
    on N, or a sample appears twice.
    """
    from chatgenbench.render_manifest import read_manifest
    from chatgenbench.storage import atomic_write_json

    out = Path(out_dir)
    folders = sorted((out / "shards").glob("*-of-*"))
    if not folders:
        raise RenderError(f"no shard folders in {out / 'shards'}: render with --shard I/N first")
    parsed = {}
    for folder in folders:
        index, _, count = folder.name.partition("-of-")
        parsed[folder] = (int(index), int(count))
    counts = {count for _, count in parsed.values()}
    if len(counts) != 1:
        raise RenderError(f"shard folders of different N in {out / 'shards'}: {sorted(counts)}")
    count = counts.pop()
    missing = sorted(set(range(count)) - {index for index, _ in parsed.values()})
    if missing:
        raise RenderError(f"shards {missing} of {count} are missing in {out / 'shards'}")
    records: list[RenderRecord] = []
    summaries = []
    seen: dict[str, str] = {}
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    for folder in sorted(folders, key=lambda f: parsed[f][0]):
        summaries.append(json.loads((folder / SUMMARY_NAME).read_text("utf-8")))
        for record in read_manifest(folder):
            if record.id in seen:
                raise RenderError(f"sample {record.id} is in {seen[record.id]} and {folder.name}")
            seen[record.id] = folder.name
            if record.has_image:
                target = place_file(
                    folder / record.image, out / IMAGES_DIR / image_filename(record.id)
                )
                record.image = f"{IMAGES_DIR}/{target.name}"
            records.append(record)
    records.sort(key=lambda r: r.id)
    write_manifest(out, records)
    first = summaries[0]
    status_counts = Counter(r.status for r in records)
    performance = {
        key: round(sum(s["performance"].get(key) or 0 for s in summaries), 3)
        for key in ("images_rendered", "batches", "render_seconds", "checkpoint_loads",
                    "lora_loads", "load_seconds", "groups")
    }  # fmt: skip
    summary = {
        **first,
        "n_samples": len(records),
        "n_images": status_counts["rendered"] + status_counts["cached"],
        "counts": {status: status_counts.get(status, 0) for status in first["counts"]},
        "normalisation": dict(
            sorted(sum((Counter(s["normalisation"]) for s in summaries), Counter()).items())
        ),
        "samplers": {k: sum(s["samplers"].get(k, 0) for s in summaries) for k in first["samplers"]},
        "weights_missing_models": {
            k: v for s in summaries for k, v in s["weights_missing_models"].items()
        },
        "performance": {**first["performance"], **performance},
        "cache": {
            "hits": sum(s["cache"]["hits"] for s in summaries),
            "misses": sum(s["cache"]["misses"] for s in summaries),
            "dir": sorted({s["cache"]["dir"] for s in summaries}),
        },  # fmt: skip
        "shard": {"merged": count, "folders": [f.name for f in folders]},
        "complete": True,
    }
    atomic_write_json(out / SUMMARY_NAME, summary)
    return RenderReport(records, summary, out)
