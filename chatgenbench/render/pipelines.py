"""Loading diffusers pipelines from catalogue weights, with a small LRU and clean LoRA swaps.

Loading a checkpoint dominates the cost of a group with few images, so :class:`PipelinePool` keeps
the last few base pipelines (``capacity``, default 2) and counts every load. A LoRA is loaded onto its
base pipeline for one group and unloaded afterwards (:meth:`PipelinePool.lora`), so the next group
sees the plain checkpoint again.

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
    #: Where the sha256 of verified files is remembered (the render cache folder), or None.
    index_dir: str | None = None
    files_verified: int = 0
    verify_seconds: float = 0.0

    def __post_init__(self) -> None:
        self._pipelines: OrderedDict[str, LoadedPipeline] = OrderedDict()
        self._locator = None

    def verify(self, weights: WeightRef) -> None:
        """Check a file against its catalogue sha256 before its first load (first run: a read).

        Raises :class:`chatgenbench.core.errors.WeightsError` when the bytes differ.
        """
        if not weights.verify_sha256:
            return
        from chatgenbench.render.checkpoints import WeightLocator, verify_weights

        if self._locator is None or str(self._locator.cache_dir) != str(self.index_dir):
            self._locator = WeightLocator(self.index_dir)
        first_time = self._locator.known_sha256(Path(weights.path)) is None
        start = time.perf_counter()
        try:
            verify_weights(weights, self._locator)
        finally:  # a file that fails its check was read all the same
            if first_time:
                self.files_verified += 1
                self.verify_seconds += time.perf_counter() - start

    def get(self, checkpoint: WeightRef, architecture: str) -> LoadedPipeline:
        """Return the pipeline of ``checkpoint``, loading it (and evicting the oldest) if needed."""
        key = f"{architecture}:{checkpoint.identity}"
        if key in self._pipelines:
            self._pipelines.move_to_end(key)
            return self._pipelines[key]
        self.verify(checkpoint)
        while len(self._pipelines) >= max(1, self.capacity):
            self._evict_oldest()
        loaded = self._load(checkpoint, architecture)
        self._pipelines[key] = loaded
        return loaded

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
        self.verify(lora)
        pipeline = loaded.pipeline
        adapter = "lora_" + lora.identity.split(":")[-1][:16]
        start = time.perf_counter()
        try:
            pipeline.load_lora_weights(lora.path, adapter_name=adapter)
            pipeline.set_adapters([adapter], adapter_weights=[scale])
        except BaseException:
            pipeline.unload_lora_weights()  # leave the cached base pipeline as it was
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
