"""The render worker: whole checkpoint groups rendered on one device, batch by batch.

:class:`RenderWorker` is what every backend runs, in this process, in a local worker process or as
a Ray actor. It holds an LRU of loaded pipelines, renders the requests of a group that share shape
and arguments as one batch (each with its own seeded generator), and counts what it did in
:class:`WorkerStats`. The prompt lengths it records in each image's sidecar become the
``prompt:truncated`` normalisation of :func:`truncation_changes`. Each PNG it encodes carries the
request's generation parameters in AUTOMATIC1111's ``parameters`` text chunk
(:mod:`chatgenbench.render.png_parameters`) beside its cache key chunk; the pixels are unchanged.

A group whose checkpoint or LoRA is being checked against the catalogue's digest
(:mod:`chatgenbench.render.weight_checks`) renders while the check runs, but its images are held
back (neither cached nor passed on) until the check answers: a file that turns out wrong fails the
whole group, its held images are discarded, any cache entry of its requests is removed, and every
request's error names the file and both digests. A killed worker loses the images it held.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatgenbench.render.cache import ImageCache, encode_png
from chatgenbench.render.pipelines import PipelinePool
from chatgenbench.render.planning import RenderRequest
from chatgenbench.render.png_parameters import parameters_text

DEFAULT_BATCH_SIZE = 4
#: The :class:`PipelinePool` counters a worker adds to its :class:`WorkerStats` after each group.
POOL_COUNTERS = ("checkpoint_loads", "lora_loads", "load_seconds", "files_verified",
                 "verify_seconds", "check_failures", "check_wait_seconds", "verified_sha256",
                 "verified_blake3", "verified_autov2", "loads_read_ahead",
                 "loads_not_hidden")  # fmt: skip


@dataclass
class RenderOutcome:
    """What became of one request: an image (in the cache, or as PNG bytes) or an error."""

    key: str
    ok: bool
    error: str | None = None
    seconds: float = 0.0
    png: bytes | None = None
    sidecar: dict[str, Any] | None = None


def request_identity(request: RenderRequest) -> dict[str, Any]:
    """Return what an image's sidecar says it was rendered from; a cached image is used only when
    its sidecar agrees (see :meth:`chatgenbench.render.cache.ImageCache.check`)."""
    return {
        "model": request.model,
        "checkpoint": request.checkpoint.identity,
        "checkpoint_name": request.checkpoint.name,
        "lora": request.lora.identity if request.lora else None,
        "lora_scale": request.lora_scale if request.lora else None,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "arguments": request.arguments.to_dict(),
        "dtype": request.dtype,
    }


@dataclass
class WorkerStats:
    """Counters one worker reports (summed over workers in the summary)."""

    checkpoint_loads: int = 0
    lora_loads: int = 0
    load_seconds: float = 0.0
    render_seconds: float = 0.0
    images: int = 0
    batches: int = 0
    files_verified: int = 0
    verify_seconds: float = 0.0
    check_failures: int = 0
    check_wait_seconds: float = 0.0
    verified_sha256: int = 0
    verified_blake3: int = 0
    verified_autov2: int = 0
    loads_read_ahead: int = 0
    loads_not_hidden: int = 0
    #: images rendered from a file that then failed its check (not counted in ``images``)
    images_discarded: int = 0

    def add(self, other: WorkerStats) -> None:
        """Add another worker's counters to these."""
        for counter in fields(self):
            setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))

    def snapshot(self) -> WorkerStats:
        """Return a copy of these counters, to pass to :meth:`since` later."""
        return replace(self)

    def since(self, snapshot: WorkerStats) -> WorkerStats:
        """Return what was counted after ``snapshot`` (an earlier :meth:`snapshot` of these)."""
        return WorkerStats(
            **{c.name: getattr(self, c.name) - getattr(snapshot, c.name) for c in fields(self)}
        )


class RenderWorker:
    """Renders whole checkpoint groups on one device, holding an LRU of pipelines.

    The same class runs in this process, in a local worker process per GPU and as a Ray actor.
    With ``cache_root`` set, images are written to the shared cache batch by batch (a killed worker
    loses at most one batch); without it, outcomes carry PNG bytes for the caller to store.
    """

    def __init__(
        self,
        device: str = "cpu",
        dtype: str = "float32",
        *,
        capacity: int = 2,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
        verify: str = "first-load",
        readahead_bytes: int | None = None,
    ) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)
        from chatgenbench.render.pipelines import quiet_libraries

        quiet_libraries()
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self.pool = PipelinePool(device=device, dtype=dtype, capacity=capacity, verify=verify,
                                 readahead_bytes=readahead_bytes)  # fmt: skip
        self.stats = WorkerStats()

    def render_group(
        self, group: list[RenderRequest], cache_root: str | None = None
    ) -> list[RenderOutcome]:
        """Render one group (same checkpoint and LoRA) and return every request's outcome."""
        return list(self.iter_group(group, cache_root))

    def render_group_counted(
        self, group: list[RenderRequest], cache_root: str | None = None
    ) -> tuple[list[RenderOutcome], WorkerStats]:
        """Render one group; return every request's outcome and what rendering it counted.

        For workers in another process, which report each group's counters to the backend.
        """
        before = self.stats.snapshot()
        outcomes = self.render_group(group, cache_root)
        return outcomes, self.stats.since(before)

    def iter_group(
        self,
        group: list[RenderRequest],
        cache_root: str | None = None,
        upcoming: list[list[RenderRequest]] | None = None,
    ) -> Iterator[RenderOutcome]:
        """Render one group, yielding outcomes batch by batch.

        ``upcoming``: the groups this worker renders next (plan order), whose files are read
        ahead while this one renders. A group whose checkpoint or LoRA cannot be loaded, or whose
        file fails its check, yields a failed outcome for each request; a batch that fails is
        retried request by request. Never raises for a bad file.
        """
        cache = ImageCache(Path(cache_root)) if cache_root else None
        if cache_root:  # remember checked files' digests beside the planner's fingerprints
            self.pool.index_dir = str(cache_root)
        before = {name: getattr(self.pool, name) for name in POOL_COUNTERS}
        try:
            yield from self._checked_group(group, cache, upcoming or [])
        finally:
            for name in POOL_COUNTERS:
                delta = getattr(self.pool, name) - before[name]
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def _checked_group(
        self, group: list[RenderRequest], cache, upcoming: list[list[RenderRequest]]
    ) -> Iterator[RenderOutcome]:
        """Load, read the next groups ahead, render; hold the images until the checks answer."""
        first = group[0]
        try:
            loaded = self.pool.get(first.checkpoint, first.architecture)
            lora_context = self.pool.lora(loaded, first.lora, first.lora_scale)
            lora_context.__enter__()
        except Exception as error:  # a corrupt or incompatible file fails its group, not the run
            what = f"loading {first.model}" + (
                f" onto {first.checkpoint.name}" if first.lora else ""
            )
            message = f"{what}: {type(error).__name__}: {error}"
            for request in group:
                yield RenderOutcome(request.key, False, message)
            return
        self.pool.read_ahead([(g[0].checkpoint, g[0].architecture, g[0].lora) for g in upcoming])
        held: list[RenderOutcome] = []
        state, why = "pending", None
        try:
            batches: dict[str, list[RenderRequest]] = defaultdict(list)
            for request in group:
                batches[request.batch_key].append(request)
            for same_shape in batches.values():
                for start in range(0, len(same_shape), self.batch_size):
                    batch = same_shape[start : start + self.batch_size]
                    held.extend(self._render_batch(loaded, batch))
                    if state != "ok":
                        state, why = self.pool.settle_checks(wait=False)
                    if state == "failed":
                        break
                    if state == "ok":
                        yield from (self._release(outcome, cache) for outcome in held)
                        held = []
                if state == "failed":
                    break
            if state == "pending":
                state, why = self.pool.settle_checks(wait=True)
        finally:
            lora_context.__exit__(None, None, None)
        if state == "failed":
            discarded = sum(1 for outcome in held if outcome.ok)
            yield from self._fail_checked_group(group, cache, why, discarded)
            return
        yield from (self._release(outcome, cache) for outcome in held)

    def _release(self, outcome: RenderOutcome, cache) -> RenderOutcome:
        """Pass on a checked outcome: store its image in the cache when there is one."""
        if cache is None or not outcome.ok or outcome.png is None:
            return outcome
        cache.put(outcome.key, outcome.png, outcome.sidecar or {})
        return RenderOutcome(outcome.key, True, seconds=outcome.seconds)

    def _fail_checked_group(
        self, group: list[RenderRequest], cache, why: str | None, discarded: int
    ) -> Iterator[RenderOutcome]:
        """Fail every request of a group whose file failed its check; no image of it is kept."""
        self.stats.images -= discarded
        self.stats.images_discarded += discarded
        message = (
            f"weights check failed: {why}; the {discarded} image(s) rendered from it were "
            "discarded and none is scored"
        )
        for request in group:
            if cache is not None:
                cache.discard(request.key)
            yield RenderOutcome(request.key, False, message)

    def _render_batch(self, loaded, batch: list[RenderRequest]) -> Iterator[RenderOutcome]:
        """Render one batch; yield each request's outcome with its PNG and sidecar (not stored)."""
        try:
            images, seconds = self._call(loaded, batch)
            tokens = token_counts(loaded.pipeline, batch)
        except Exception as error:
            if len(batch) > 1:  # e.g. out of memory: try each request alone
                for request in batch:
                    yield from self._render_batch(loaded, [request])
                return
            message = f"rendering: {type(error).__name__}: {error}"
            yield RenderOutcome(batch[0].key, False, message)
            return
        self.stats.images += len(batch)
        self.stats.batches += 1
        self.stats.render_seconds += seconds
        for request, image, counted in zip(batch, images, tokens):
            sidecar = {
                **request_identity(request),
                "device": self.device,
                "batch_size": len(batch),
                "tokens": counted,
                "seconds": seconds / len(batch),
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            png = encode_png(image, request.key, parameters_text(request))
            yield RenderOutcome(request.key, True, None, seconds / len(batch), png, sidecar)

    def _call(self, loaded, batch: list[RenderRequest]) -> tuple[list[Any], float]:
        import torch

        from chatgenbench.render.schedulers import build_scheduler

        first = batch[0].arguments
        pipeline = loaded.pipeline
        pipeline.scheduler = build_scheduler(first.scheduler, loaded.base_scheduler_config)
        generators = [torch.Generator("cpu").manual_seed(r.arguments.seed) for r in batch]
        start = time.perf_counter()
        with torch.inference_mode():
            result = pipeline(
                prompt=[r.prompt for r in batch],
                negative_prompt=[r.negative_prompt for r in batch],
                num_inference_steps=first.steps,
                guidance_scale=first.cfg_scale,
                width=first.width,
                height=first.height,
                generator=generators,
                output_type="pil",
            )
        if str(self.device).startswith("cuda"):
            torch.cuda.synchronize()
        return list(result.images), time.perf_counter() - start


def token_counts(pipeline: Any, batch: list[RenderRequest]) -> list[dict[str, int]]:
    """Return each request's prompt and negative prompt length in tokens, and the encoder's limit.

    ``pipeline`` is a loaded diffusers pipeline (its ``tokenizer`` is used). CLIP encoders read at
    most ``model_max_length`` (77) tokens; diffusers drops the rest, where A1111 would chunk. The
    counts go into the sidecar so that truncation is recorded per sample.
    """
    tokenizer = pipeline.tokenizer
    limit = int(tokenizer.model_max_length)
    counts = []
    for request in batch:
        prompt = len(tokenizer(request.prompt, truncation=False).input_ids)
        negative = len(tokenizer(request.negative_prompt, truncation=False).input_ids)
        counts.append({"prompt": prompt, "negative_prompt": negative, "limit": limit})
    return counts


def truncation_changes(sidecar: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the ``normalised`` entries for prompts longer than the text encoder reads.

    ``sidecar`` is an image's cache sidecar; its ``tokens`` entry comes from :func:`token_counts`.
    """
    tokens = sidecar.get("tokens") or {}
    limit = tokens.get("limit")
    changes = {}
    for key in ("prompt", "negative_prompt"):
        count = tokens.get(key)
        if limit and count and count > limit:
            changes[key] = {"given": f"{count} tokens", "used": f"{limit} tokens",
                            "change": "truncated"}  # fmt: skip
    return changes
