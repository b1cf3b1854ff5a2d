"""Rendering submitted triples: plan, shard, take from the cache, render, collect, report.

:func:`render_predictions` is the whole stage. It plans every benchmark sample into a render
request or a final status (:mod:`~chatgenbench.render.planning`), optionally keeps one shard of the
checkpoint groups (:mod:`~chatgenbench.render.shards`), takes what the content-addressed cache
already holds, hands the rest to a backend (:mod:`~chatgenbench.render.backends`) whose
:class:`~chatgenbench.render.worker.RenderWorker` instances render it, and writes the render folder
(:mod:`chatgenbench.render.manifest`) with its summary (:mod:`~chatgenbench.render.summary`).

``verify`` (``chatgenbench render --verify first-load|always|never``, default ``first-load``) says
when weight files are checked against the catalogue's digests, and ``readahead_mb``
(``--readahead-mb``) bounds the bytes read ahead of the next groups
(:mod:`~chatgenbench.render.weight_checks`). Both are recorded in the summary's ``settings``
(and so in the results of a scored render folder); a render with checks and read-ahead makes the
same images, under the same cache keys, as one without. An unknown mode or a negative budget is
refused with a :class:`RenderError` before any work starts. A group whose file fails its check is
``failed`` with both digests in its error, and none of its images is kept.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatgenbench.benchmark.loading import LoadedBenchmark, load_benchmark_catalog, resolve_source
from chatgenbench.core.errors import RenderError
from chatgenbench.core.storage import atomic_write_json
from chatgenbench.render.backends import (
    BackendOptions,
    backend_options,
    create_backend,
    option_fields,
    options_class,
)
from chatgenbench.render.cache import ImageCache, default_cache_dir
from chatgenbench.render.checkpoints import DEFAULT_LORA_BASES, WeightLocator
from chatgenbench.render.manifest import (
    IMAGES_DIR,
    SUMMARY_NAME,
    RenderRecord,
    RenderReport,
    image_filename,
    write_manifest,
)
from chatgenbench.render.pipelines import default_device, resolve_dtype
from chatgenbench.render.planning import RenderPlan, RequestSettings, plan_renders
from chatgenbench.render.shards import parse_shard, select_shard, shard_dir
from chatgenbench.render.summary import build_summary, provenance, render_settings
from chatgenbench.render.worker import (
    DEFAULT_BATCH_SIZE,
    RenderOutcome,
    WorkerStats,
    request_identity,
    truncation_changes,
)

if TYPE_CHECKING:  # pragma: no cover
    from chatgenbench.benchmark.catalog import ModelCatalog
    from chatgenbench.benchmark.loading import BenchmarkInfo
    from chatgenbench.predictions.report import ValidationReport

# ``RenderError`` and ``merge_shards`` are imported from here by the command line.
__all__ = ["RenderProgress", "RenderReport", "render_predictions"]


@dataclass
class RenderOptions:
    """The keyword options of :func:`render_predictions` that every backend shares, documented.

    Each field with a ``help`` and no ``"flag": False`` is also a ``chatgenbench render`` flag
    (``batch_size`` -> ``--batch-size``). A backend's own options (``ray_address``, ...) are the
    fields of its ``Options`` (:mod:`chatgenbench.render.backends`).
    """

    batch_size: int = field(
        default=DEFAULT_BATCH_SIZE,
        metadata={"help": f"images per pipeline call ({DEFAULT_BATCH_SIZE})"},
    )
    pipelines_in_memory: int = field(
        default=2,
        metadata={"help": "LRU size per worker: pipelines each keeps loaded (2)"},
    )
    workers: int | None = field(
        default=None, metadata={"help": "local workers (default: one per GPU, or 1)"}
    )
    threads: int | None = field(
        default=None,
        metadata={
            "help": "torch CPU threads per worker (default 1 on a CPU; the count is in the "
            "cache key)"
        },
    )
    verify: str = field(
        default="first-load",
        metadata={
            "help": "check weight files against the catalogue's digests: first-load (once per "
            "file and machine), always (every load) or never (default first-load)"
        },
    )
    readahead_mb: int | None = field(
        default=None,
        metadata={
            "help": "memory budget (MB) for reading the next groups' weight files ahead while a "
            "group renders; 0: off (default: a quarter of the memory, at most 16384)"
        },
    )
    lora_bases: dict[str, str] | None = field(
        default=None,
        metadata={
            "help": "architecture -> the base checkpoint a LoRA of it is loaded onto",
            "flag": False,
        },
    )
    command: Any = field(
        default=None,
        metadata={
            "help": "the command line recorded in the provenance (default: sys.argv)",
            "flag": False,
        },
    )


def render_predictions(
    predictions,
    benchmark: str | os.PathLike | LoadedBenchmark = "sample",
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
    rows: list[dict[str, Any]] | None = None,
    on_progress: Callable[[RenderProgress], None] | None = None,
    **options: Any,
) -> RenderReport:
    """Render every valid prediction of a benchmark into a render folder and return the report.

    ``predictions`` is a prediction file or its :class:`chatgenbench.predictions.report.ValidationReport`
    (then the file is not parsed again). ``benchmark`` is a source (``sample``, a folder, a hub
    id) or a :class:`chatgenbench.benchmark.loading.LoadedBenchmark` (then its rows and catalogue
    are used, nothing is loaded again, and ``catalog`` is only recorded in the provenance).
    ``rows``: the benchmark's rows (dicts with at least ``id``, ``setting`` and ``input_type``)
    when the caller has loaded them; they are used as they are, and the benchmark is neither
    loaded nor its manifest's row count checked. ``catalog`` is None (the
    benchmark's catalogue), a catalogue file laid over it (typically adding ``weights``), or a
    :class:`chatgenbench.benchmark.catalog.ModelCatalog`. ``device`` defaults to ``cuda`` when visible, else
    ``cpu``; ``dtype`` to fp16 on CUDA and fp32 on CPU. ``backend`` is a name in
    :data:`chatgenbench.render.backends.RENDER_BACKENDS` (``local``, ``ray``). ``shard`` (``"I/N"``)
    renders only shard I of N (whole checkpoint groups) into ``out_dir/shards/I-of-N``.
    ``cache_dir`` defaults to ``$CHATGENBENCH_HOME/render-cache``. ``options``: the fields of
    :class:`RenderOptions` (``batch_size``, ``workers``, ``threads``, ...) and of the backends'
    own ``Options`` (``ray_address``, ...; a backend receives its own). ``on_progress`` is
    called with a :class:`RenderProgress` when rendering starts and after every image (a scoring
    queue shows it).

    Returns a :class:`RenderReport`; writes ``render_manifest.jsonl``, ``render_summary.json`` and
    ``images/`` (see :mod:`chatgenbench.render.manifest`). A sample whose weights are missing or
    whose prediction is invalid gets that status; nothing raises for a bad row. Raises
    :class:`RenderError` for settings that cannot work.
    """
    started = time.perf_counter()
    job = _render_job(out_dir, shard, backend, device, dtype, cache_dir, options)
    if isinstance(benchmark, LoadedBenchmark):
        info, model_catalog = benchmark.info, benchmark.catalog
        rows = benchmark.rows if rows is None else rows
    else:
        info = resolve_source(benchmark)
        rows = _benchmark_rows(benchmark, setting, info) if rows is None else rows
        model_catalog = load_benchmark_catalog(benchmark, catalog)
    report = _validated(predictions, rows, model_catalog)
    plan = plan_renders(rows, report, model_catalog, job.request_settings())
    if job.shard:
        plan = select_shard(plan, *job.shard)
    run = _run_backend(job, plan, progress, on_progress)
    records = _collect_records(plan, job.cache, run.collector, job.out)
    write_manifest(job.out, records)
    summary = build_summary(
        plan,
        stats=run.stats,
        render_wall=run.seconds,
        wall=time.perf_counter() - started,
        settings=render_settings(backend, run.n_workers, job.options, setting, job.lora_bases),
        cache={
            "dir": str(job.cache.root),
            "hits": run.hits,
            "misses": run.collector.total,
            "rejected": run.rejected,
        },  # fmt: skip
        provenance=provenance(info, predictions, catalog, job.command),
        validation=report.summary(),
    )
    atomic_write_json(job.out / SUMMARY_NAME, summary)
    return RenderReport(records, summary, job.out)


@dataclass
class _RenderJob:
    """A render's resolved settings: its folder, the cache, the backend and what it is given."""

    out: Path
    shard: tuple[int, int] | None
    cache: ImageCache
    backend: str
    options: BackendOptions
    lora_bases: dict[str, str]
    versions: dict[str, str | None]
    command: Any = None

    def request_settings(self) -> RequestSettings:
        """Return what every request of this render shares."""
        device_type = self.options.device.split(":")[0]
        locator = WeightLocator(self.cache.root)
        return RequestSettings(
            locator, self.lora_bases, self.options.dtype, device_type, self.versions,
            cpu_threads=self.options.threads if device_type == "cpu" else None,
        )  # fmt: skip


def _render_job(
    out_dir: str | os.PathLike,
    shard: str | tuple[int, int] | None,
    backend: str,
    device: str | None,
    dtype: str | None,
    cache_dir: str | os.PathLike | None,
    options: dict[str, Any],
) -> _RenderJob:
    """Resolve the arguments of :func:`render_predictions` into a job (folder, shard, device,
    dtype, batch size, cache); raise RenderError for an unknown option, a bad shard or batch size.
    """
    from chatgenbench.render.cache import library_versions

    shared = {f.name for f in fields(RenderOptions)}
    known = shared | set(backend_options())
    unknown = set(options) - known
    if unknown:
        raise RenderError(f"unknown render options {sorted(unknown)}; known: {sorted(known)}")
    settings = RenderOptions(**{k: v for k, v in options.items() if k in shared})
    shard_spec = parse_shard(shard)
    device = str(device or default_device())
    dtype = resolve_dtype(dtype, device)
    batch_size = int(settings.batch_size or DEFAULT_BATCH_SIZE)
    if batch_size < 1:
        raise RenderError(f"batch_size must be at least 1, got {batch_size}")
    cache = ImageCache(Path(cache_dir) if cache_dir else default_cache_dir())
    own = options_class(backend)
    backend_options_given = {
        f.name: options[f.name] for f in (option_fields(own) if own else []) if f.name in options
    }
    backend_settings = BackendOptions(
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        capacity=int(settings.pipelines_in_memory or 2),
        workers=settings.workers,
        threads=_render_threads(settings.threads, device),
        cache_root=str(cache.root),
        extra=backend_options_given,
    )
    backend_settings.verify, backend_settings.readahead_bytes = _checks_settings(settings)
    lora_bases = {**DEFAULT_LORA_BASES, **(settings.lora_bases or {})}
    out = shard_dir(Path(out_dir), shard_spec)
    return _RenderJob(
        out, shard_spec, cache, backend, backend_settings, lora_bases, library_versions(),
        settings.command,
    )  # fmt: skip


def _checks_settings(settings: RenderOptions) -> tuple[str, int | None]:
    """Return the verify mode and the read-ahead budget in bytes; raise RenderError when bad."""
    from chatgenbench.render.weight_checks import check_verify_mode

    try:
        mode = check_verify_mode(settings.verify)
    except ValueError as error:
        raise RenderError(f"--verify: {error}") from None
    budget = settings.readahead_mb
    if budget is None:
        return mode, None
    try:
        budget = int(budget)
    except (TypeError, ValueError):
        raise RenderError(f"--readahead-mb must be a whole number of MB, got {budget!r}") from None
    if budget < 0:
        raise RenderError(f"--readahead-mb must be 0 (off) or more, got {budget}")
    return mode, budget << 20


#: torch threads of a CPU render when none is asked for: one, so that the pixels (and the cache
#: key, which records the count) do not depend on the machine's core count.
DEFAULT_CPU_THREADS = 1


def _render_threads(threads: Any, device: str) -> int | None:
    """Return the torch thread count the workers render with: as asked, else 1 on a CPU."""
    if threads:
        threads = int(threads)
        if threads < 1:
            raise RenderError(f"threads must be at least 1, got {threads}")
        return threads
    return DEFAULT_CPU_THREADS if device.split(":")[0] == "cpu" else None


def _benchmark_rows(
    benchmark: str | os.PathLike, setting: str, info: BenchmarkInfo
) -> list[dict[str, Any]]:
    """Load the rows of ``setting``; raise RenderError when their number is not the manifest's."""
    from chatgenbench.benchmark.loading import load_benchmark
    from chatgenbench.benchmark.schema import SETTINGS

    dataset = load_benchmark(setting, str(benchmark))
    rows = dataset.select_columns(["id", "setting", "input_type"]).to_list()
    expected = sum(
        info.counts.get(name, 0) for name in (SETTINGS if setting == "all" else [setting])
    )
    if info.counts and len(rows) != expected:
        raise RenderError(
            f"benchmark {benchmark}: loading {setting!r} gave {len(rows)} rows, its manifest says "
            f"{expected}; the `datasets` cache may hold another folder of the same name (clear "
            "~/.cache/huggingface/datasets/<folder name>)"
        )
    return rows


def _validated(
    predictions: Any, rows: Iterable[dict[str, Any]], catalog: ModelCatalog
) -> ValidationReport:
    """Return ``predictions`` if it is a validation report, else the prediction file's report."""
    from chatgenbench.predictions.report import ValidationReport
    from chatgenbench.predictions.validation import validate_predictions

    if isinstance(predictions, ValidationReport):
        return predictions
    ids = [r["id"] for r in rows]
    return validate_predictions(predictions, ids, catalog, allow_missing=True)


@dataclass
class RenderProgress:
    """How far a render is: requests done of those to render, cache hits, checkpoint loads."""

    done: int
    total: int
    cached: int
    checkpoint_loads: int = 0
    lora_loads: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, int]:
        """Return the counters as a dict."""
        return dict(vars(self))


class _OutcomeCollector:
    """The backend's sink: stores returned PNGs in the cache, notes what was rendered and what
    failed, and moves the progress bar (``total`` images) when there is one.

    A returned PNG is stored with a sidecar that says which request it answers
    (:func:`~chatgenbench.render.worker.request_identity` of ``requests[key]``, whatever the
    backend adds on top), so that the cache can verify it the next time it is asked for.
    """

    def __init__(
        self,
        cache: ImageCache,
        total: int,
        progress: bool,
        on_progress: Callable[[RenderProgress], None] | None = None,
        cached: int = 0,
        requests: dict[str, Any] | None = None,
    ) -> None:
        self.cache = cache
        self.requests = requests or {}
        self.total = total
        self.rendered: set[str] = set()
        self.errors: dict[str, str] = {}
        self.bar = None
        self.on_progress = on_progress
        self.state = RenderProgress(0, total, cached)
        if progress and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="img", desc="render", file=sys.stderr)

    def __call__(self, outcome: RenderOutcome) -> None:
        if outcome.ok:
            if outcome.png is not None:
                request = self.requests.get(outcome.key)
                identity = request_identity(request) if request is not None else {}
                self.cache.put(outcome.key, outcome.png, {**identity, **(outcome.sidecar or {})})
            self.rendered.add(outcome.key)
        else:
            self.errors[outcome.key] = outcome.error or "unknown error"
            self.state.failed += 1
        if self.bar is not None:
            self.bar.update(1)
        self.state.done += 1
        self.report()

    def report(self) -> None:
        """Hand the progress to ``on_progress``, when there is one."""
        if self.on_progress is not None:
            self.on_progress(RenderProgress(**self.state.to_dict()))

    def show(self, stats: WorkerStats) -> None:
        """Show the checkpoint and LoRA loads so far next to the bar."""
        self.state.checkpoint_loads = stats.checkpoint_loads
        self.state.lora_loads = stats.lora_loads
        if self.bar is not None:
            self.bar.set_postfix(loads=stats.checkpoint_loads, lora=stats.lora_loads, refresh=False)

    def close(self) -> None:
        """Close the bar."""
        if self.bar is not None:
            self.bar.close()


@dataclass
class _BackendRun:
    """What running the backend gave: counters, seconds, workers, cache hits and the outcomes."""

    stats: WorkerStats
    seconds: float
    n_workers: int
    hits: int
    collector: _OutcomeCollector
    rejected: dict[str, int]  # cache entries that failed their check: reason -> requests


def _announce_estimate(job: _RenderJob, groups: list, workers: int, cached: int) -> None:
    """Say on stderr how long rendering ``groups`` will take (:mod:`chatgenbench.render.estimate`),
    before it starts."""
    import sys

    from chatgenbench.render.estimate import estimate_line, estimate_render

    options = job.options
    try:
        estimate = estimate_render(
            groups, device=options.device, dtype=options.dtype, threads=options.threads,
            batch_size=options.batch_size, workers=workers, capacity=options.capacity,
            cached=cached, schedule=job.backend,
        )  # fmt: skip
    except (KeyError, ValueError) as error:  # no figures for it: the render goes on, unestimated
        images = sum(len(group) for group in groups)
        print(f"render: {images} images to render; no estimate ({error!r})", file=sys.stderr)
        return
    print(estimate_line(estimate), file=sys.stderr, flush=True)


def _run_backend(
    job: _RenderJob,
    plan: RenderPlan,
    progress: bool,
    on_progress: Callable[[RenderProgress], None] | None = None,
) -> _BackendRun:
    """Render the requests of ``plan`` that the cache lacks, group by group, with the backend."""
    checks = {r.key: job.cache.check(r.key, request_identity(r)) for g in plan.groups for r in g}
    hits = {key for key, problem in checks.items() if problem is None}
    rejected = Counter(problem for problem in checks.values() if problem not in (None, "missing"))
    to_render = [[r for r in g if r.key not in hits] for g in plan.groups]
    to_render = [g for g in to_render if g]
    job.out.mkdir(parents=True, exist_ok=True)
    (job.out / IMAGES_DIR).mkdir(exist_ok=True)
    runner = create_backend(job.backend, job.options)
    if to_render:  # before the progress bar: how long, before it starts
        _announce_estimate(job, to_render, runner.n_workers, len(hits))
    collector = _OutcomeCollector(
        job.cache,
        sum(len(g) for g in to_render),
        progress,
        on_progress,
        len(hits),
        requests={request.key: request for group in to_render for request in group},
    )
    collector.report()
    start = time.perf_counter()
    stats = runner.run(to_render, collector, collector.show) if to_render else WorkerStats()
    seconds = time.perf_counter() - start
    collector.show(stats)
    collector.report()
    collector.close()
    return _BackendRun(stats, seconds, runner.n_workers, len(hits), collector, dict(rejected))


def _collect_records(
    plan: RenderPlan, cache: ImageCache, collector: _OutcomeCollector, out: Path
) -> list[RenderRecord]:
    """Give each planned sample its final status and export its image; return all records."""
    for sample_id, request in plan.request_of.items():
        record = plan.records[sample_id]
        if request.key in collector.errors and request.key not in collector.rendered:
            record.status, record.error = "failed", collector.errors[request.key]
            continue
        problem = cache.check(request.key, request_identity(request))
        if problem == "missing":
            record.status = "failed"
            record.error = "no image was produced (the worker stopped); rerun to resume"
            continue
        if problem is not None:
            record.status, record.error = "failed", f"the cached image fails its check: {problem}"
            continue
        record.status = "rendered" if request.key in collector.rendered else "cached"
        record.normalised.update(truncation_changes(cache.sidecar(request.key)))
        name = image_filename(sample_id)
        cache.export(request.key, out / IMAGES_DIR / name)
        record.image = f"{IMAGES_DIR}/{name}"
    records = list(plan.records.values())
    # A key rendered once and shared by several samples: the first is "rendered", the rest "cached".
    seen: set[str] = set()
    for record in records:
        if record.status == "rendered":
            if record.cache_key in seen:
                record.status = "cached"
            seen.add(record.cache_key)
    return records
