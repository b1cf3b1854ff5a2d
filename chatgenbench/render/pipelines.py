"""Loading diffusers pipelines from catalogue weights, with a small LRU and clean LoRA swaps.

Loading a checkpoint dominates the cost of a group with few images, so :class:`PipelinePool` keeps
the last few base pipelines (``capacity``, default 2) and counts every load. A LoRA is loaded onto its
base pipeline for one group and unloaded afterwards (:meth:`PipelinePool.lora`), so the next group
sees the plain checkpoint again.

A file the catalogue gives a digest for is checked as it is loaded, not before: the pool claims it
from its :class:`~chatgenbench.render.weight_checks.WeightChecker` (which reads it once, digest
computed as read, on a background thread, or has read it ahead already) and loads it meanwhile; the
worker holds the group's images until :meth:`PipelinePool.settle_checks` says the bytes were right.
:meth:`PipelinePool.read_ahead` queues the next groups' files while a group renders.

Defaults: fp16 on CUDA, fp32 on CPU (both recorded). The SD 1.5 safety checker is not loaded: the
benchmark's reference images are unfiltered, and a blacked-out image would distort the metrics.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatgenbench.render.checkpoints import WeightRef

PIPELINE_CLASSES: dict[str, str] = {
    "sd15": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline",
}
DTYPES: dict[str, str] = {
    "fp32": "float32",
    "float32": "float32",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
}


def default_device() -> str:
    """Return ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str | None, device: str) -> str:
    """Return the canonical dtype name: fp16 on CUDA and fp32 elsewhere unless ``dtype`` is given.

    Raises ValueError for an unknown name.
    """
    if dtype is None:
        return "float16" if str(device).startswith("cuda") else "float32"
    key = str(dtype).lower().removeprefix("torch.")
    if key not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {sorted(set(DTYPES))}")
    return DTYPES[key]


def _dtype_keyword() -> str:
    # diffusers renamed ``torch_dtype`` to ``dtype`` (the old name warns); older releases lack it.
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401
    except ImportError:
        return "torch_dtype"
    return "dtype"


def quiet_libraries() -> None:
    """Turn the per-call info, warnings and progress bars of diffusers and transformers down to
    errors, unless ``$CHATGENBENCH_VERBOSE`` asks for them (``chatgenbench --verbose``; see
    :mod:`chatgenbench.core.library_output`)."""
    from diffusers.utils import logging as diffusers_logging  # noqa: F401 (set once imported)
    from transformers.utils import logging as transformers_logging  # noqa: F401

    from chatgenbench.core.library_output import configure_library_output

    configure_library_output(None)


@dataclass
class LoadedPipeline:
    """A pipeline in memory, with the scheduler config it came with."""

    pipeline: Any
    architecture: str
    base_scheduler_config: dict[str, Any]
    load_seconds: float


@dataclass
class PipelinePool:
    """An LRU of loaded pipelines on one device; counts checkpoint and LoRA loads."""

    device: str = "cpu"
    dtype: str = "float32"
    capacity: int = 2
    offline: bool = field(
        default_factory=lambda: os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    )
    checkpoint_loads: int = 0
    lora_loads: int = 0
    load_seconds: float = 0.0
    #: Where the digests of checked files are remembered (the render cache folder), or None.
    index_dir: str | None = None
    #: ``first-load``, ``always`` or ``never`` (:data:`chatgenbench.render.weight_checks.VERIFY_MODES`)
    verify: str = "first-load"
    #: Read-ahead budget in bytes (None: the default, 0: no read-ahead).
    readahead_bytes: int | None = None
    files_verified: int = 0
    verify_seconds: float = 0.0
    check_failures: int = 0
    check_wait_seconds: float = 0.0
    verified_sha256: int = 0
    verified_blake3: int = 0
    verified_autov2: int = 0
    loads_read_ahead: int = 0
    loads_not_hidden: int = 0

    def __post_init__(self) -> None:
        self._pipelines: OrderedDict[str, LoadedPipeline] = OrderedDict()
        self._locator = None
        self._checker = None
        self._pending: list[tuple[WeightRef, Any]] = []

    # -- checks and read-ahead ----------------------------------------------------------------------
    def checker(self):
        """Return this pool's :class:`~chatgenbench.render.weight_checks.WeightChecker`."""
        if self._checker is None:
            from chatgenbench.render.weight_checks import WeightChecker

            self._checker = WeightChecker(self.readahead_bytes)
        return self._checker

    def locator(self):
        """Return the :class:`WeightLocator` that remembers checked digests in ``index_dir``."""
        from chatgenbench.render.checkpoints import WeightLocator

        if self._locator is None or str(self._locator.cache_dir) != str(self.index_dir):
            self._locator = WeightLocator(self.index_dir)
        return self._locator

    def digest_to_check(self, weights: WeightRef) -> tuple[str, str] | None:
        """Return the ``(algorithm, hex)`` a load of ``weights`` must check under ``verify``, or
        None (``never``, no digest, or, for ``first-load``, a digest already remembered here)."""
        from chatgenbench.render.weight_checks import check_verify_mode

        check = weights.check_digest()
        if check_verify_mode(self.verify) == "never" or check is None:
            return None
        if self.verify == "first-load":
            try:
                known = self.locator().known_digest(Path(weights.path), check[0])
            except OSError:  # the file is gone: its reader says so through the check
                known = None
            if known is not None and known.lower() == check[1].lower():
                return None
        return check

    def read_ahead(self, upcoming: list[tuple[WeightRef, str, WeightRef | None]]) -> int:
        """Queue the files of the next groups (``(checkpoint, architecture, lora)``, plan order)
        to be read ahead, skipping checkpoints the LRU holds; return how many were queued."""
        queued = 0
        for checkpoint, architecture, lora in upcoming:
            if f"{architecture}:{checkpoint.identity}" not in self._pipelines:
                if checkpoint.form == "single_file":
                    queued += self.checker().read_ahead(
                        checkpoint.path, self.digest_to_check(checkpoint)
                    )
            if lora is not None:
                queued += self.checker().read_ahead(lora.path, self.digest_to_check(lora))
        return queued

    def _claim(self, weights: WeightRef) -> None:
        """Start (or take over) the read and check of a file a load needs now; count whether the
        load was read ahead."""
        if weights.form != "single_file":
            return
        future, hidden = self.checker().claim(weights.path, self.digest_to_check(weights))
        if hidden:
            self.loads_read_ahead += 1
        else:
            self.loads_not_hidden += 1
        self._pending.append((weights, future))

    def settle_checks(self, wait: bool) -> tuple[str, str | None]:
        """Return ``("pending", None)``, ``("ok", None)`` or ``("failed", why)`` for the checks
        of the files loaded since the last settled call; with ``wait``, wait for them.

        A failed check names the file and both digests; its file is forgotten (the next load
        reads it again) and its pipeline leaves the LRU. Digests found right are remembered.
        """
        if not wait and not all(future.done() for _, future in self._pending):
            return "pending", None
        start = time.perf_counter()
        problems = []
        for weights, future in self._pending:
            try:
                result = future.result()
            except Exception as error:  # the read failed (file gone, unreadable): the check did
                problems.append(f"reading {weights.path} for its check failed: "
                                f"{type(error).__name__}: {error}")  # fmt: skip
                self.checker().forget(weights.path)
                continue
            if result is None:
                continue
            self.files_verified += 1
            self.verify_seconds += result.seconds
            name = f"verified_{result.algorithm}"
            setattr(self, name, getattr(self, name) + 1)
            stored = "sha256" if result.algorithm == "autov2" else result.algorithm
            try:
                self.locator().remember_digest(Path(result.path), stored, result.full_hex)
            except OSError:  # an index that cannot be written: the file is checked again later
                pass
            if not result.ok:
                self.check_failures += 1
                problems.append(result.problem())
                self.checker().forget(weights.path)
                self.discard(weights)
        self._pending = []
        if wait:
            self.check_wait_seconds += time.perf_counter() - start
        return ("failed", "; ".join(problems)) if problems else ("ok", None)

    def discard(self, weights: WeightRef) -> None:
        """Drop every pipeline loaded from ``weights`` (its bytes were not the catalogue's)."""
        for key in [k for k in self._pipelines if k.endswith(f":{weights.identity}")]:
            del self._pipelines[key]

    def close(self) -> None:
        """Stop the read-ahead threads."""
        if self._checker is not None:
            self._checker.close()

    def get(self, checkpoint: WeightRef, architecture: str) -> LoadedPipeline:
        """Return the pipeline of ``checkpoint``, loading it (and evicting the oldest) if needed.

        The file's check starts as the load does (see :meth:`settle_checks`); a load that fails
        on a file whose check finds other bytes raises :class:`WeightsError` with both digests.
        """
        key = f"{architecture}:{checkpoint.identity}"
        if key in self._pipelines:
            self._pipelines.move_to_end(key)
            return self._pipelines[key]
        self._claim(checkpoint)
        while len(self._pipelines) >= max(1, self.capacity):
            self._evict_oldest()
        try:
            loaded = self._load(checkpoint, architecture)
        except Exception:
            self._raise_check_failure()
            raise
        self._pipelines[key] = loaded
        return loaded

    def _raise_check_failure(self) -> None:
        """After a failed load: raise the check's verdict when the file is not the catalogue's."""
        from chatgenbench.core.errors import WeightsError

        state, why = self.settle_checks(wait=True)
        if state == "failed":
            raise WeightsError(
                f"{why}; the file was not loaded",
                how_to_fix="download the file again, or correct the digest in the catalogue",
            )

    def _evict_oldest(self) -> None:
        _, evicted = self._pipelines.popitem(last=False)
        if not str(self.device).startswith("cuda"):
            return  # CPU memory comes back by reference counting; a full gc costs about a second
        import gc

        import torch

        before = torch.cuda.memory_allocated()
        del evicted
        if torch.cuda.memory_allocated() >= before:  # held by reference cycles: collect them
            gc.collect()
        torch.cuda.empty_cache()

    def _load(self, checkpoint: WeightRef, architecture: str) -> LoadedPipeline:
        import diffusers
        import torch

        start = time.perf_counter()
        pipeline_class = getattr(diffusers, PIPELINE_CLASSES[architecture])
        torch_dtype = getattr(torch, self.dtype)
        dtype_key = _dtype_keyword()
        extra: dict[str, Any] = {}
        if architecture == "sd15":
            extra = {"safety_checker": None, "requires_safety_checker": False}
        if checkpoint.form == "single_file":
            kwargs: dict[str, Any] = {dtype_key: torch_dtype, **extra}
            if checkpoint.config:
                kwargs.update(config=checkpoint.config, local_files_only=True)
            elif self.offline:
                kwargs["local_files_only"] = True
            pipeline = pipeline_class.from_single_file(checkpoint.path, **kwargs)
        else:
            pipeline = pipeline_class.from_pretrained(
                checkpoint.path,
                **{dtype_key: torch_dtype},
                use_safetensors=True,
                local_files_only=True,
                **extra,
            )
        pipeline = pipeline.to(self.device)
        pipeline.set_progress_bar_config(disable=True)
        seconds = time.perf_counter() - start
        self.checkpoint_loads += 1
        self.load_seconds += seconds
        return LoadedPipeline(pipeline, architecture, dict(pipeline.scheduler.config), seconds)

    @contextmanager
    def lora(
        self, loaded: LoadedPipeline, lora: WeightRef | None, scale: float = 1.0
    ) -> Iterator[None]:
        """Apply ``lora`` (if any) to ``loaded`` for the duration of the block, then unload it."""
        if lora is None:
            yield
            return
        self._claim(lora)
        pipeline = loaded.pipeline
        adapter = "lora_" + lora.identity.split(":")[-1][:16]
        start = time.perf_counter()
        try:
            pipeline.load_lora_weights(lora.path, adapter_name=adapter)
            pipeline.set_adapters([adapter], adapter_weights=[scale])
        except BaseException as error:
            pipeline.unload_lora_weights()  # leave the cached base pipeline as it was
            if isinstance(error, Exception):  # not on an interrupt: that must not wait
                self._raise_check_failure()
            raise
        self.lora_loads += 1
        self.load_seconds += time.perf_counter() - start
        try:
            yield
        finally:
            pipeline.unload_lora_weights()


def save_config_folder(pipeline, folder: str | os.PathLike) -> Path:
    """Save a pipeline's configs and tokenizers without weights: the ``config`` of a single file.

    ``from_single_file`` needs such a local folder to work offline (otherwise it asks the hub).
    """
    import shutil
    import tempfile

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline.save_pretrained(tmp)
        for weights in Path(tmp).rglob("*"):
            if weights.suffix in (".safetensors", ".bin"):
                weights.unlink()
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(tmp, folder)
    return folder
