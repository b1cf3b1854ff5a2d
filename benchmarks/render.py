"""Speed of the rendering engine against a bare diffusers loop, on the same requests in one run.

Two request mixes, each rendered twice, into fresh caches:

- ``many_checkpoints``: K distinct checkpoints with P images each, requests interleaved as a
  prediction file would list them. The bare loop is the obvious one: for each request, load its
  pipeline (``from_single_file``, as the engine does), set the scheduler, render, save a PNG.
- ``single_checkpoint``: one checkpoint, S images. The bare loop loads the pipeline once and calls it
  in batches of the same size as the engine (so this measures the engine's own overhead: planning,
  hashing, cache writes).

Both sides include loading and PNG writing; a warm-up call is made before timing, and each side
runs ``--repeats`` times, alternating, keeping its best run (all runs are printed). The engine's
one-time sha256 of each checkpoint file (its identity in cache keys, remembered afterwards) is done
before timing and reported as ``first_use_hashing_seconds``. Targets: on the
mix, the engine beats the bare loop and loads each checkpoint once; on one checkpoint, the engine
reaches at least 0.95 of the bare loop's images/s.

By default: tiny random-weight SD 1.5 models on the CPU (one torch thread), 64x64, 10 steps. With
``--device cuda --arch sd15-full``: the full SD 1.5 architecture (random weights, fp16) at 512x512.
Checkpoints and the benchmark are SYNTHETIC. The last line printed is one JSON object.

    python benchmarks/render.py [--arch sd15-tiny|sdxl-tiny|sd15-full] [--device cpu|cuda]
        [--checkpoints 6] [--per-checkpoint 3] [--single-images 48] [--batch-size 4]
        [--steps 10] [--size 64] [--threads 1] [--repeats 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package


def _checkpoints(arch: str, count: int, workdir: Path, dtype) -> tuple[list[Path], Path]:
    """Save ``count`` distinct single-file checkpoints of ``arch`` and one shared config folder."""
    import torch

    from chatgenbench.testing.sd_models import (
        build_pipeline,
        save_config_folder,
        save_single_file,
    )

    pipeline = build_pipeline(arch, seed=0, workdir=workdir / "work")
    config = save_config_folder(pipeline, workdir / "config")
    paths = []
    for index in range(count):
        if index and arch.endswith("tiny"):
            pipeline = build_pipeline(arch, seed=index, workdir=workdir / "work")
        elif index:  # full size: perturb one tensor so each file has its own bytes and identity
            with torch.no_grad():
                pipeline.unet.conv_out.bias.add_(1e-3)
        pipeline.to(dtype=dtype)
        paths.append(save_single_file(pipeline, workdir / f"bench_ckpt_{index:02d}.safetensors"))
    return paths, config


def _benchmark_folder(workdir: Path, rows: int) -> tuple[Path, list[str]]:
    """Write a SYNTHETIC benchmark folder with at least ``rows`` test rows; return it and its ids."""
    import uuid

    from chatgenbench import load_benchmark
    from chatgenbench.synth import write_synthetic

    # a unique name: `datasets` caches a folder's configs by its base name, not its content
    folder = workdir / f"synthetic-render-bench-{uuid.uuid4().hex[:12]}"
    write_synthetic(folder, rows=max(rows, 2), seed=0, train_rows=0, n_models=10)
    ids = load_benchmark("all", str(folder))["id"]
    return folder, list(ids)


def _requests(names: list[str], per: int, args) -> list[dict]:
    """Interleave ``per`` requests per model: a, b, c, a, b, c, ..."""
    out = []
    for round_ in range(per):
        for name in names:
            out.append(
                {
                    "model": name,
                    "prompt": f"a synthetic test scene number {round_} for {name}",
                    "negative_prompt": "blurry",
                    "arguments": {
                        "sampler": "DPM++ 2M Karras",
                        "steps": args.steps,
                        "cfg_scale": 7,
                        "width": args.size,
                        "height": args.size,
                        "seed": round_,
                    },  # fmt: skip
                }
            )
    return out


def _bare_loop(requests, paths_by_name, config, args, dtype, out_dir: Path, *, reuse: bool):
    """The obvious loop; ``reuse`` loads once and batches (single checkpoint), else load per request."""
    import diffusers
    import torch

    from chatgenbench.render.schedulers import build_scheduler, choose_scheduler

    cls = diffusers.StableDiffusionXLPipeline if "sdxl" in args.arch else (
        diffusers.StableDiffusionPipeline)  # fmt: skip
    extra = (
        {} if "sdxl" in args.arch else {"safety_checker": None, "requires_safety_checker": False}
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    loads = 0
    start = time.perf_counter()

    def load(name):
        nonlocal loads
        loads += 1
        pipe = cls.from_single_file(str(paths_by_name[name]), config=str(config),
                                    local_files_only=True, dtype=dtype, **extra)  # fmt: skip
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(args.device)

    batch = args.batch_size if reuse else 1
    pipe = load(requests[0]["model"]) if reuse else None
    for start_index in range(0, len(requests), batch):
        chunk = requests[start_index : start_index + batch]
        if not reuse:
            pipe = load(chunk[0]["model"])
        a = chunk[0]["arguments"]
        pipe.scheduler = build_scheduler(choose_scheduler(a["sampler"]), pipe.scheduler.config)
        generators = [torch.Generator("cpu").manual_seed(r["arguments"]["seed"]) for r in chunk]
        with torch.inference_mode():
            images = pipe(prompt=[r["prompt"] for r in chunk],
                          negative_prompt=[r["negative_prompt"] for r in chunk],
                          num_inference_steps=a["steps"], guidance_scale=a["cfg_scale"],
                          width=a["width"], height=a["height"], generator=generators).images  # fmt: skip
        for offset, image in enumerate(images):
            image.save(out_dir / f"{start_index + offset:06d}.png")
        if not reuse:
            del pipe
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "images": len(requests), "loads": loads,
            "images_per_s": round(len(requests) / seconds, 4)}  # fmt: skip


def _engine(requests, benchmark, ids, overlay, paths, args, workdir: Path, tag: str):
    from chatgenbench.render import render_predictions

    predictions = workdir / f"{tag}-predictions.jsonl"
    rows = [{"id": i, **r} for i, r in zip(ids, requests)]
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    cache = workdir / f"{tag}-cache"
    shutil.rmtree(cache, ignore_errors=True)
    # One-time cost, paid once per file and machine: the sha256 that names each checkpoint in cache
    # keys (remembered by size and mtime in the cache folder). Reported apart from the timing.
    from chatgenbench.render.checkpoints import WeightLocator

    locator = WeightLocator(cache)
    hashing = time.perf_counter()
    for path in paths:
        locator.file_sha256(path)
    hashing = time.perf_counter() - hashing
    start = time.perf_counter()
    report = render_predictions(
        predictions, str(benchmark), catalog=overlay, out_dir=workdir / f"{tag}-out",
        cache_dir=cache, device=args.device, dtype=args.dtype, progress=False,
        batch_size=args.batch_size, threads=args.threads,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    performance = report.summary["performance"]
    images = report.summary["counts"]["rendered"]
    assert images == len(requests), report.summary["counts"]
    return {"seconds": round(seconds, 3), "images": images,
            "loads": performance["checkpoint_loads"], "images_per_s": round(images / seconds, 4),
            "distinct_checkpoints": performance["distinct_checkpoints"],
            "first_use_hashing_seconds": round(hashing, 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arch", default="sd15-tiny", choices=["sd15-tiny", "sdxl-tiny", "sd15-full"]
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="default: fp16 on CUDA, fp32 on CPU")
    parser.add_argument("--checkpoints", type=int, default=None, help="default 6 (3 full size)")
    parser.add_argument("--per-checkpoint", type=int, default=3)
    parser.add_argument(
        "--single-images", type=int, default=None, help="default 48 (tiny) / 16 (full)"
    )
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=None, help="default 10 (tiny) / 20 (full)")
    parser.add_argument("--size", type=int, default=None, help="default 64 (tiny) / 512 (full)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (CPU runs)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per side; the best is kept")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    full = args.arch.endswith("full")
    args.checkpoints = args.checkpoints or (3 if full else 6)
    # enough images that the engine's fixed cost (loading the benchmark, planning: ~0.3 s) does
    # not dominate a job of a few seconds; it is printed in the engine's "seconds" all the same
    args.single_images = args.single_images or (16 if full else 48)
    args.steps = args.steps or (20 if full else 10)
    args.size = args.size or (512 if full else 64)

    import torch

    from chatgenbench.render.cache import library_versions
    from chatgenbench.render.pipelines import quiet_libraries, resolve_dtype

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but no CUDA device is visible")
    torch.set_num_threads(args.threads)
    quiet_libraries()
    args.dtype = resolve_dtype(args.dtype, args.device)
    dtype = getattr(torch, args.dtype)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="chatgenbench-render-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; arch {args.arch} on {args.device} ({args.dtype}), "
          f"{args.size}x{args.size}, {args.steps} steps, batch {args.batch_size}")  # fmt: skip

    paths, config = _checkpoints(args.arch, args.checkpoints, workdir, dtype)
    names = [p.stem for p in paths]
    architecture = "sdxl" if "sdxl" in args.arch else "sd15"
    overlay = workdir / "catalog.jsonl"
    overlay.write_text("".join(json.dumps({
        "name": name, "architecture": architecture, "kind": "checkpoint",
        "description": "SYNTHETIC random-weight checkpoint for speed runs", "synthetic": True,
        "weights": {"type": "single_file", "path": str(path), "config": str(config)},
    }) + "\n" for name, path in zip(names, paths)), "utf-8")  # fmt: skip
    paths_by_name = dict(zip(names, paths))
    many = _requests(names, args.per_checkpoint, args)
    single = _requests(names[:1], args.single_images, args)
    benchmark, ids = _benchmark_folder(workdir, max(len(many), len(single)))

    # warm-up: one call of one pipeline, so neither side pays first-call costs
    _bare_loop(single[:1], paths_by_name, config, args, dtype, workdir / "warmup", reuse=True)

    figures = {}
    for tag, requests, reuse in (("many_checkpoints", many, False),
                                 ("single_checkpoint", single, True)):  # fmt: skip
        used = sorted({paths_by_name[r["model"]] for r in requests})
        bare_runs, engine_runs = [], []
        for _ in range(args.repeats):  # alternate the two, keep each one's best run
            bare_runs.append(_bare_loop(requests, paths_by_name, config, args, dtype,
                                        workdir / f"{tag}-bare", reuse=reuse))  # fmt: skip
            engine_runs.append(_engine(requests, benchmark, ids, overlay, used, args, workdir, tag))
        bare = max(bare_runs, key=lambda run: run["images_per_s"])
        engine = max(engine_runs, key=lambda run: run["images_per_s"])
        bare["all_runs_images_per_s"] = [run["images_per_s"] for run in bare_runs]
        engine["all_runs_images_per_s"] = [run["images_per_s"] for run in engine_runs]
        ratio = round(engine["images_per_s"] / bare["images_per_s"], 3)
        figures[tag] = {"engine": engine, "bare": bare, "ratio_engine_over_bare": ratio,
                        "distinct_checkpoints": len({r["model"] for r in requests})}  # fmt: skip
        print(f"{tag}: engine {engine['images_per_s']} img/s ({engine['loads']} loads), bare "
              f"{bare['images_per_s']} img/s ({bare['loads']} loads), ratio {ratio}")  # fmt: skip

    mix, one = figures["many_checkpoints"], figures["single_checkpoint"]
    result = {
        "benchmark": "render",
        "synthetic": True,
        "arch": args.arch,
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "dtype": args.dtype,
        "threads": args.threads,
        "size": args.size,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        **figures,
        "targets": {
            "many_engine_beats_bare": mix["ratio_engine_over_bare"] > 1.0,
            "many_loads_equal_distinct_checkpoints": mix["engine"]["loads"]
            == mix["distinct_checkpoints"],
            "single_ratio_at_least_0.95": one["ratio_engine_over_bare"] >= 0.95,
        },
        "versions": library_versions(),
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
