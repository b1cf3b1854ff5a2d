"""Checkpoint and LoRA load times through the engine's pipeline pool: cold, warm, verify, LoRA.

Saves one SYNTHETIC random-weight checkpoint of ``--arch`` as a single ``.safetensors`` file (with
its config folder) and a LoRA for it, then measures with
:class:`chatgenbench.render.pipelines.PipelinePool`:

- ``cold``: the first load after the file's pages were dropped from the page cache
  (``posix_fadvise(DONTNEED)``; ``cold_evicted`` says whether the kernel took the advice);
- ``warm``: a load in a fresh pool with the file in the page cache, and the bare
  ``from_single_file(...).to(device)`` call on the same file (ratio engine / bare);
- ``verify``: the first-load sha256 check of the file against a catalogue sha256 (paid once per file
  and machine);
- ``lora``: ``load_lora_weights`` + ``set_adapters`` and ``unload_lora_weights``.

It also prints the :class:`chatgenbench.render.cost_model.CostModel` fields these give
(``costs``), for ``benchmarks/render.py --simulate --costs``. The last line printed is one JSON
object.

    python benchmarks/loads.py [--arch sd15-full|sd15-tiny|sdxl-tiny] [--device cuda|cpu]
        [--dtype fp16] [--repeats 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _evict(path: Path) -> bool:
    """Drop ``path``'s pages from the page cache; return whether the kernel could be asked."""
    if not hasattr(os, "posix_fadvise"):
        return False
    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arch", default="sd15-tiny", choices=["sd15-tiny", "sdxl-tiny", "sd15-full"]
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="default: fp16 on CUDA, fp32 on CPU")
    parser.add_argument("--repeats", type=int, default=2, help="warm loads; the best is kept")
    parser.add_argument("--workdir", default=None)
    parser.add_argument(
        "--from-checkpoint", default=None,
        help="use this single-file checkpoint of --arch (with --config) instead of building one",
    )  # fmt: skip
    parser.add_argument("--config", default=None, help="the config folder of --from-checkpoint")
    return parser.parse_args()


def _checkpoint(args, workdir: Path, architecture: str, dtype) -> tuple[Path, Path, Path]:
    """Save (or copy) the single-file checkpoint and a LoRA; return their paths and the config."""
    import diffusers

    from chatgenbench.render.pipelines import PIPELINE_CLASSES
    from chatgenbench.testing.sd_models import (
        build_pipeline,
        save_config_folder,
        save_lora,
        save_single_file,
    )

    if args.from_checkpoint:  # e.g. the one benchmarks/render.py saved: no second build
        import shutil

        path = workdir / "checkpoint.safetensors"
        shutil.copyfile(args.from_checkpoint, path)  # a file of its own, to evict and re-read
        config = Path(args.config)
        cls = getattr(diffusers, PIPELINE_CLASSES[architecture])
        pipeline = cls.from_single_file(str(path), config=str(config), local_files_only=True)
        lora_path = save_lora(pipeline, workdir / "lora.safetensors", seed=1)
    else:
        pipeline = build_pipeline(args.arch, seed=0, workdir=workdir / "work")
        config = save_config_folder(pipeline, workdir / "config")
        lora_path = save_lora(pipeline, workdir / "lora.safetensors", seed=1)
        pipeline.to(dtype=dtype)
        path = save_single_file(pipeline, workdir / "checkpoint.safetensors")
    del pipeline
    return path, config, lora_path


def _time_checkpoint_loads(args, ref, architecture: str, dtype_name: str, dtype) -> dict:
    """Time the engine's cold and warm loads and the bare ``from_single_file`` load."""
    import diffusers

    from chatgenbench.render.pipelines import PIPELINE_CLASSES, PipelinePool

    def engine_load() -> float:
        pool = PipelinePool(device=args.device, dtype=dtype_name, capacity=1)
        start = time.perf_counter()
        loaded = pool.get(ref, architecture)
        _sync(args.device)
        seconds = time.perf_counter() - start
        del loaded, pool
        return seconds

    evicted = _evict(Path(ref.path))
    cold = engine_load()
    warm = min(engine_load() for _ in range(args.repeats))
    cls = getattr(diffusers, PIPELINE_CLASSES[architecture])
    extra = (
        {"safety_checker": None, "requires_safety_checker": False} if architecture == "sd15" else {}
    )

    def bare_load() -> float:
        start = time.perf_counter()
        pipe = cls.from_single_file(
            ref.path, config=ref.config, local_files_only=True, dtype=dtype, **extra
        ).to(args.device)
        _sync(args.device)
        seconds = time.perf_counter() - start
        del pipe
        return seconds

    bare = min(bare_load() for _ in range(args.repeats))
    return {"evicted": evicted, "cold": cold, "warm": warm, "bare": bare}


def _time_verify(ref, digest: str, workdir: Path) -> tuple[float, float]:
    """Time the first-load sha256 check from a cold file, then the remembered one."""
    from chatgenbench.render.checkpoints import WeightLocator, WeightRef, verify_weights

    _evict(Path(ref.path))
    index = workdir / "verify-index"
    checked = WeightRef(
        ref.name, ref.form, ref.path, ref.identity, ref.config, ref.size_bytes, digest
    )
    start = time.perf_counter()
    verify_weights(checked, WeightLocator(index))
    verify_cold = time.perf_counter() - start
    start = time.perf_counter()
    verify_weights(checked, WeightLocator(index))  # remembered: no read
    verify_again = time.perf_counter() - start
    return verify_cold, verify_again


def _time_lora(
    args, ref, architecture: str, dtype_name: str, lora_path: Path
) -> tuple[list[float], list[float]]:
    """Time loading and unloading a LoRA on a pooled pipeline, ``--repeats`` times each."""
    from chatgenbench.render.checkpoints import WeightRef
    from chatgenbench.render.pipelines import PipelinePool

    pool = PipelinePool(device=args.device, dtype=dtype_name, capacity=1)
    loaded = pool.get(ref, architecture)
    lora_ref = WeightRef("bench-lora", "single_file", str(lora_path), "sha256:lora", None,
                         lora_path.stat().st_size)  # fmt: skip
    lora_loads, lora_unloads = [], []
    for _ in range(args.repeats):
        context = pool.lora(loaded, lora_ref, 1.0)
        start = time.perf_counter()
        context.__enter__()
        _sync(args.device)
        lora_loads.append(time.perf_counter() - start)
        start = time.perf_counter()
        context.__exit__(None, None, None)
        _sync(args.device)
        lora_unloads.append(time.perf_counter() - start)
    return lora_loads, lora_unloads


def _costs(
    architecture: str, size: int, loads: dict, lora_loads: list[float], lora_unloads: list[float]
) -> dict:
    """Return the :class:`CostModel` fields the measured times give."""
    from chatgenbench.render.cost_model import CostModel

    defaults = CostModel()
    fixed = max(0.0, loads["warm"] - size / 1e6 / defaults.warm_read_mb_s)
    costs = {
        "load_fixed_s": {architecture: round(fixed, 3)},
        "lora_load_s": round(min(lora_loads) + min(lora_unloads), 3),
    }
    if loads["evicted"] and loads["cold"] > fixed:
        costs["cold_read_mb_s"] = round(size / 1e6 / (loads["cold"] - fixed), 1)
    return costs


def main() -> None:
    args = _parse_args()

    import torch

    from chatgenbench.core.storage import sha256_file
    from chatgenbench.render.checkpoints import WeightRef
    from chatgenbench.render.pipelines import quiet_libraries, resolve_dtype

    quiet_libraries()
    dtype_name = resolve_dtype(args.dtype, args.device)
    dtype = getattr(torch, dtype_name)
    architecture = "sdxl" if "sdxl" in args.arch else "sd15"
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="chatgenbench-loads-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path, config, lora_path = _checkpoint(args, workdir, architecture, dtype)
    size = path.stat().st_size
    start = time.perf_counter()
    digest = sha256_file(path)
    hash_s = time.perf_counter() - start
    ref = WeightRef("bench", "single_file", str(path), f"sha256:{digest}", str(config), size)

    loads = _time_checkpoint_loads(args, ref, architecture, dtype_name, dtype)
    cold, warm, bare = loads["cold"], loads["warm"], loads["bare"]
    verify_cold, verify_again = _time_verify(ref, digest, workdir)
    lora_loads, lora_unloads = _time_lora(args, ref, architecture, dtype_name, lora_path)
    result = {
        "benchmark": "loads",
        "synthetic": True,
        "arch": args.arch,
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "dtype": dtype_name,
        "checkpoint_bytes": size,
        "checkpoint_cold_s": round(cold, 3),
        "cold_evicted": loads["evicted"],
        "checkpoint_warm_s": round(warm, 3),
        "bare_from_single_file_warm_s": round(bare, 3),
        "warm_ratio_bare_over_engine": round(bare / warm, 3),
        "sha256_s": round(hash_s, 3),
        "verify_first_load_s": round(verify_cold, 3),
        "verify_remembered_s": round(verify_again, 4),
        "lora_bytes": lora_path.stat().st_size,
        "lora_load_s": round(min(lora_loads), 3),
        "lora_unload_s": round(min(lora_unloads), 3),
        "costs": _costs(architecture, size, loads, lora_loads, lora_unloads),
    }
    print(f"{args.arch} on {args.device} ({dtype_name}), {size / 1e9:.2f} GB: cold {cold:.2f} s, "
          f"warm {warm:.2f} s (bare {bare:.2f} s), first-load verify {verify_cold:.2f} s; LoRA "
          f"load {min(lora_loads):.3f} s, unload {min(lora_unloads):.3f} s")  # fmt: skip
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
