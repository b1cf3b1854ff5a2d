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
- ``first load``: on a first run (cold page cache, a fresh digest index), the time from asking the
  pool for a checkpoint whose catalogue entry gives digests until its group can start rendering,
  checks included as the engine does them (read and hashed on a background thread while the file
  loads: :mod:`chatgenbench.render.weight_checks`): ``first_load_s`` with a BLAKE3 in the
  catalogue (what Civitai lists beside the SHA-256; the one checked), ``first_load_sha256_s`` with
  a SHA-256 only, each check's own time (``check_s``, ``check_sha256_s``) and when it answered after
  the load (``check_done_after_load_s``: what a group shorter than that waits at its end);
  ``bare_cold_load_s`` (a bare cold ``from_single_file``, no check); ``first_load_over_bare_cold``
  (target at most 1.5); and, as the reference from the same run, the old path:
  ``first_load_before_s``, a foreground sha256 of the cold file and then the load;
- ``lora``: ``load_lora_weights`` + ``set_adapters`` and ``unload_lora_weights``.

"Cold": the file's pages are dropped from the page cache with ``posix_fadvise(DONTNEED)`` after an
``os.sync()`` (no root needed; the machine's other caches are left alone).

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
    from chatgenbench.render.pipelines import PipelinePool

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
    bare = min(_bare_load(args, ref, architecture, dtype) for _ in range(args.repeats))
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


def _bare_cold_load(args, ref, architecture: str, dtype) -> float:
    """Time a bare ``from_single_file(...).to(device)`` of the cold file, no check."""
    _evict(Path(ref.path))
    return _bare_load(args, ref, architecture, dtype)


def _bare_load(args, ref, architecture: str, dtype) -> float:
    """Time a bare ``from_single_file(...).to(device)`` of the file as its pages are now."""
    import diffusers

    from chatgenbench.render.pipelines import PIPELINE_CLASSES

    cls = getattr(diffusers, PIPELINE_CLASSES[architecture])
    extra = (
        {"safety_checker": None, "requires_safety_checker": False} if architecture == "sd15" else {}
    )
    start = time.perf_counter()
    pipe = cls.from_single_file(
        ref.path, config=ref.config, local_files_only=True, dtype=dtype, **extra
    ).to(args.device)
    _sync(args.device)
    seconds = time.perf_counter() - start
    del pipe
    return seconds


def _time_first_load(args, ref, architecture: str, dtype_name: str, digests, workdir) -> dict:
    """Time the engine's first load of the cold file with the catalogue's ``digests`` checked.

    Returns ``first_load_s`` (until the group can start rendering), ``check_s`` (the check's own
    time), ``check_done_after_load_s`` and ``checked`` (the digest the engine chose).
    """
    import shutil
    from dataclasses import replace

    from chatgenbench.render.pipelines import PipelinePool

    index = workdir / "first-load-index"
    shutil.rmtree(index, ignore_errors=True)  # a first run: nothing remembered
    checked = replace(ref, digests=tuple(digests))
    pool = PipelinePool(device=args.device, dtype=dtype_name, capacity=1, index_dir=str(index),
                        verify="first-load", readahead_bytes=0)  # fmt: skip
    _evict(Path(ref.path))
    start = time.perf_counter()
    loaded = pool.get(checked, architecture)
    _sync(args.device)
    first_load = time.perf_counter() - start
    state, why = pool.settle_checks(wait=True)
    after = time.perf_counter() - start - first_load
    assert state == "ok", why
    result = {"first_load_s": first_load, "check_s": pool.verify_seconds,
              "check_done_after_load_s": after, "checked": checked.check_digest()[0]}  # fmt: skip
    pool.close()
    del loaded, pool
    return result


def _time_first_load_before(args, ref, architecture: str, dtype_name: str, digest, workdir):
    """The old path, as the reference: a foreground sha256 of the cold file, then the load."""
    import shutil
    from dataclasses import replace

    from chatgenbench.render.checkpoints import WeightLocator, verify_weights
    from chatgenbench.render.pipelines import PipelinePool

    index = workdir / "before-index"
    shutil.rmtree(index, ignore_errors=True)
    pool = PipelinePool(device=args.device, dtype=dtype_name, capacity=1, verify="never",
                        readahead_bytes=0)  # fmt: skip
    _evict(Path(ref.path))
    start = time.perf_counter()
    verify_weights(replace(ref, digests=(("sha256", digest),)), WeightLocator(index))
    loaded = pool.get(ref, architecture)
    _sync(args.device)
    seconds = time.perf_counter() - start
    pool.close()
    del loaded, pool
    return seconds


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
    architecture: str,
    size: int,
    loads: dict,
    lora_loads: list[float],
    lora_unloads: list[float],
    first: dict | None = None,
) -> dict:
    """Return the :class:`CostModel` fields the measured times give (with ``first``, the first-run
    figures: the check bandwidth of each digest)."""
    from chatgenbench.render.cost_model import CostModel

    defaults = CostModel()
    fixed = max(0.0, loads["warm"] - size / 1e6 / defaults.warm_read_mb_s)
    costs = {
        "load_fixed_s": {architecture: round(fixed, 3)},
        "lora_load_s": round(min(lora_loads) + min(lora_unloads), 3),
    }
    if loads["evicted"] and loads["cold"] > fixed:
        costs["cold_read_mb_s"] = round(size / 1e6 / (loads["cold"] - fixed), 1)
    if first and first.get("check_s") and first.get("check_sha256_s"):
        costs["check_mb_s"] = {
            "blake3": round(size / 1e6 / first["check_s"], 1),
            "sha256": round(size / 1e6 / first["check_sha256_s"], 1),
        }
    return costs


def _first_load_figures(args, ref, architecture, dtype_name, dtype, path, digest, workdir) -> dict:
    """Return the first-run figures: the engine's first load (BLAKE3, then SHA-256 in the
    catalogue), the bare cold load, their ratio, and the old path's first load."""
    import blake3

    b3 = blake3.blake3(max_threads=blake3.blake3.AUTO)
    b3.update_mmap(str(path))
    both = [("blake3", b3.hexdigest()), ("sha256", digest)]
    with_b3 = _time_first_load(args, ref, architecture, dtype_name, both, workdir)
    with_sha = _time_first_load(args, ref, architecture, dtype_name, both[1:], workdir)
    bare_cold = _bare_cold_load(args, ref, architecture, dtype)
    before = _time_first_load_before(args, ref, architecture, dtype_name, digest, workdir)
    return {
        "first_load_s": round(with_b3["first_load_s"], 3),
        "check_s": round(with_b3["check_s"], 3),
        "check_digest": with_b3["checked"],
        "check_done_after_load_s": round(with_b3["check_done_after_load_s"], 3),
        "first_load_sha256_s": round(with_sha["first_load_s"], 3),
        "check_sha256_s": round(with_sha["check_s"], 3),
        "check_sha256_done_after_load_s": round(with_sha["check_done_after_load_s"], 3),
        "bare_cold_load_s": round(bare_cold, 3),
        "first_load_over_bare_cold": round(with_b3["first_load_s"] / bare_cold, 3),
        "first_load_sha256_over_bare_cold": round(with_sha["first_load_s"] / bare_cold, 3),
        "first_load_before_s": round(before, 3),
        "first_load_before_over_bare_cold": round(before / bare_cold, 3),
        "targets": {
            "first_load_over_bare_cold_at_most_1.5": with_b3["first_load_s"] / bare_cold <= 1.5
        },  # fmt: skip
    }


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
    first = _first_load_figures(args, ref, architecture, dtype_name, dtype, path, digest, workdir)
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
        "costs": _costs(architecture, size, loads, lora_loads, lora_unloads, first),
        **first,
    }
    print(f"{args.arch} on {args.device} ({dtype_name}), {size / 1e9:.2f} GB: cold {cold:.2f} s, "
          f"warm {warm:.2f} s (bare {bare:.2f} s), first-load verify {verify_cold:.2f} s; LoRA "
          f"load {min(lora_loads):.3f} s, unload {min(lora_unloads):.3f} s")  # fmt: skip
    print(f"first run: first load {first['first_load_s']:.2f} s with the {first['check_digest']} "
          f"check on a background thread (its own {first['check_s']:.2f} s), "
          f"{first['first_load_sha256_s']:.2f} s with sha256 ({first['check_sha256_s']:.2f} s); "
          f"bare cold load {first['bare_cold_load_s']:.2f} s: ratio "
          f"{first['first_load_over_bare_cold']} (target <= 1.5); before: "
          f"{first['first_load_before_s']:.2f} s ({first['first_load_before_over_bare_cold']}x)")  # fmt: skip
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
