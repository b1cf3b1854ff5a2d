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
        [--mixes many_checkpoints,single_checkpoint] [--batch-sizes 1,4,8]

``--mixes first-run`` (with ``--arch sd15-full --device cpu``: the default ``--checkpoints 3``,
``--per-checkpoint 3`` images of 128x128 at 10 steps) is a first run: every checkpoint file is
cold (its pages dropped with ``posix_fadvise``) and the catalogue gives its digests (SHA-256 and
BLAKE3, as Civitai lists them). The bare loop checks each file (a foreground SHA-256, as the engine
did before), loads it and renders its images, one checkpoint after the other; the engine renders
the same requests from a fresh cache with ``--verify first-load`` (the check on a background
thread, the next file read ahead while a group renders; one pipeline in memory). It prints
``first_run_engine_over_bare`` (engine seconds over bare seconds; target at most 0.6),
``first_run_engine_sha256_over_bare`` (the same with only a SHA-256 in the catalogue) and
``pixels_identical`` (every image of both engine runs has the bare loop's pixels). The checkpoints
it wrote are deleted at the end of a completed run (3 full-size files: about 13 GB; an
interrupted run leaves them in ``--workdir``).

``--simulate`` instead plans the full SYNTHETIC benchmark (``--rows 14564`` requests against a
``--models 6807`` catalogue whose weight files are sparse placeholders with a catalogue sha256, so
nothing is read) and times the planning (loading the catalogue, validating the file, planning;
target at most 10 s). It then prices the plan with :mod:`chatgenbench.render.cost_model` (default
figures, or ``--costs FILE``: a JSON object of measured ones, e.g. from ``benchmarks/gpu.sh``) and
predicts the wall time on ``--gpus 1,8,64`` for the local, shard and Ray schedules against the lower
bound (target: within 10 % at 8 GPUs). It then prints (and writes under ``predictions``) the
first-run and warm-run predictions on each GPU count: ``before`` (the check of each file before its
load, nothing read ahead) and ``after`` (checks on a background thread from the read that loads the
file; on 1 GPU, where the engine renders in this process, the next groups' files read ahead while a
group renders); the check is priced by the catalogue's digest (``check_digest``, ``check_mb_s``),
file size and read bandwidth.

    python benchmarks/render.py --simulate [--rows 14564] [--models 6807] [--gpus 1,8,64]
        [--costs FILE] [--batch-size 4] [--workdir DIR]
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
    from chatgenbench.benchmark.synth import write_synthetic

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


def _evict(path: Path) -> None:
    """Drop a file's pages from the page cache (``posix_fadvise(DONTNEED)``: no root needed)."""
    import os

    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _first_run_bare(requests, ids, setup, args, dtype, out_dir: Path) -> float:
    """Check (a foreground sha256), load and render each checkpoint in turn; return the seconds."""
    import diffusers
    import torch

    from chatgenbench.core.storage import sha256_file
    from chatgenbench.render.schedulers import build_scheduler, choose_scheduler

    out_dir.mkdir(parents=True, exist_ok=True)
    extra = {"safety_checker": None, "requires_safety_checker": False}
    for path in setup["paths_by_name"].values():
        _evict(path)
    start = time.perf_counter()
    for name, path in setup["paths_by_name"].items():
        if sha256_file(path) != setup["digests"][name]["sha256"]:
            raise SystemExit(f"{path}: sha256 differs from the catalogue's")
        pipe = diffusers.StableDiffusionPipeline.from_single_file(
            str(path), config=str(setup["config"]), local_files_only=True, dtype=dtype, **extra
        ).to(args.device)
        pipe.set_progress_bar_config(disable=True)
        mine = [(i, r) for i, r in zip(ids, requests) if r["model"] == name]
        for offset in range(0, len(mine), args.batch_size):
            chunk = mine[offset : offset + args.batch_size]
            a = chunk[0][1]["arguments"]
            pipe.scheduler = build_scheduler(choose_scheduler(a["sampler"]), pipe.scheduler.config)
            generators = [torch.Generator("cpu").manual_seed(r["arguments"]["seed"])
                          for _, r in chunk]  # fmt: skip
            with torch.inference_mode():
                images = pipe(prompt=[r["prompt"] for _, r in chunk],
                              negative_prompt=[r["negative_prompt"] for _, r in chunk],
                              num_inference_steps=a["steps"], guidance_scale=a["cfg_scale"],
                              width=a["width"], height=a["height"],
                              generator=generators).images  # fmt: skip
            for (sample_id, _), image in zip(chunk, images):
                image.save(out_dir / f"{sample_id}.png")
        del pipe
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _first_run_engine(requests, ids, setup, args, workdir: Path, tag: str, digests: list[str]):
    """Render the requests with the engine from cold files and a fresh cache; return the report
    and the seconds."""
    from chatgenbench.render import render_predictions

    overlay = workdir / f"{tag}-catalog.jsonl"
    overlay.write_text("".join(json.dumps({
        "name": name, "architecture": "sd15", "kind": "checkpoint", "synthetic": True,
        "weights": {"type": "single_file", "path": str(path), "config": str(setup["config"]),
                    **{d: setup["digests"][name][d] for d in digests}},
    }) + "\n" for name, path in setup["paths_by_name"].items()), "utf-8")  # fmt: skip
    predictions = workdir / f"{tag}-predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": i, **r}) + "\n"
                                   for i, r in zip(ids, requests)), "utf-8")  # fmt: skip
    cache = workdir / f"{tag}-cache"
    shutil.rmtree(cache, ignore_errors=True)
    for path in setup["paths_by_name"].values():
        _evict(path)
    start = time.perf_counter()
    report = render_predictions(
        predictions, str(setup["benchmark"]), catalog=overlay, out_dir=workdir / f"{tag}-out",
        cache_dir=cache, device=args.device, dtype=args.dtype, progress=False,
        batch_size=args.batch_size, threads=args.threads, verify="first-load",
        pipelines_in_memory=1,
    )  # fmt: skip
    return report, time.perf_counter() - start


def _same_pixels(report, bare_dir: Path) -> bool:
    """Whether every image of the engine's render folder has the bare loop's pixels."""
    import numpy as np
    from PIL import Image

    records = [r for r in report.records if r.image]
    if not records:
        return False
    for record in records:
        with (
            Image.open(report.out_dir / record.image) as a,
            Image.open(bare_dir / f"{record.id}.png") as b,
        ):
            if a.size != b.size or not np.array_equal(np.asarray(a), np.asarray(b)):
                return False
    return True


def _first_run(setup, args, dtype, workdir: Path) -> dict:
    """The first-run mix: cold files with catalogue digests; the engine against the bare loop."""
    requests = _requests(list(setup["paths_by_name"]), args.per_checkpoint, args)
    ids = setup["ids"][: len(requests)]
    bare_s = _first_run_bare(requests, ids, setup, args, setup["dtype"], workdir / "first-bare")
    engine, engine_s = _first_run_engine(requests, ids, setup, args, workdir, "first-engine",
                                         ["sha256", "blake3"])  # fmt: skip
    sha, sha_s = _first_run_engine(requests, ids, setup, args, workdir, "first-engine-sha256",
                                   ["sha256"])  # fmt: skip
    performance = engine.summary["performance"]
    identical = _same_pixels(engine, workdir / "first-bare") and _same_pixels(
        sha, workdir / "first-bare"
    )
    figures = {
        "bare_s": round(bare_s, 3),
        "engine_s": round(engine_s, 3),
        "engine_sha256_s": round(sha_s, 3),
        "first_run_engine_over_bare": round(engine_s / bare_s, 3),
        "first_run_engine_sha256_over_bare": round(sha_s / bare_s, 3),
        "pixels_identical": identical,
        "images": len(requests),
        "checkpoints": len(setup["paths_by_name"]),
        "engine_performance": {k: performance[k] for k in (
            "checkpoint_loads", "load_seconds", "files_verified", "verify_seconds",
            "verified_by_digest", "check_wait_seconds", "loads_read_ahead", "loads_not_hidden",
            "render_seconds")},
        "engine_sha256_performance": {k: sha.summary["performance"][k] for k in (
            "verify_seconds", "check_wait_seconds", "loads_read_ahead", "loads_not_hidden")},
    }  # fmt: skip
    print(f"first run: engine {engine_s:.1f} s (blake3 checked; sha256 only: {sha_s:.1f} s), "
          f"bare loop {bare_s:.1f} s: ratio {figures['first_run_engine_over_bare']} (target <= "
          f"0.6); pixels identical: {identical}")  # fmt: skip
    return figures


def _cost_model(args):
    """Return the :class:`CostModel` to price with: the defaults, or ``--costs`` laid over them."""
    from chatgenbench.render.cost_model import CostModel

    overrides = json.loads(Path(args.costs).read_text("utf-8")) if args.costs else None
    model = CostModel.from_overrides(overrides)
    if args.costs and "source" not in (overrides or {}):
        model.source = f"{args.costs} laid over the defaults"
    return model


def _sparse_catalogue(workdir: Path, base_catalog) -> Path:
    """Write a weights overlay whose files are sparse placeholders; return the overlay's path.

    Each placeholder has the logical size of a real checkpoint and no blocks on disk: planning
    must not read them; the catalogue gives each a sha256, trusted until the file is loaded.
    """
    import hashlib

    from chatgenbench.render.checkpoints import DEFAULT_LORA_BASES

    sizes = {("sd15", "checkpoint"): 2_132_856_622, ("sdxl", "checkpoint"): 6_938_078_334,
             ("sd15", "lora"): 151_108_831, ("sdxl", "lora"): 228_458_643}  # fmt: skip
    weights_dir = workdir / "weights"
    weights_dir.mkdir(exist_ok=True)
    configs = {}
    for arch in ("sd15", "sdxl"):
        configs[arch] = workdir / "configs" / arch
        configs[arch].mkdir(parents=True, exist_ok=True)
        (configs[arch] / "model_index.json").write_text("{}", "utf-8")
    entries = [(e.name, e.architecture, e.kind) for e in base_catalog] + [
        (name, arch, "checkpoint") for arch, name in DEFAULT_LORA_BASES.items()
    ]
    lines = []
    for name, arch, kind in entries:
        path = weights_dir / f"{hashlib.sha1(name.encode()).hexdigest()[:16]}.safetensors"
        with open(path, "wb") as handle:
            handle.truncate(sizes[(arch, kind)])
        weights = {"type": "single_file", "path": str(path),
                   "sha256": hashlib.sha256(name.encode()).hexdigest()}  # fmt: skip
        if kind == "checkpoint":
            weights["config"] = str(configs[arch])
        lines.append({"name": name, "architecture": arch, "kind": kind, "synthetic": True,
                      "weights": weights})  # fmt: skip
    overlay = workdir / "weights-overlay.jsonl"
    overlay.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    return overlay


def _time_planning(folder: Path, overlay: Path, predictions: Path, rows: list[dict], workdir: Path):
    """Load the catalogue, validate the prediction file and plan, each timed.

    Returns ``(catalog, plan, timings)``.
    """
    from chatgenbench.benchmark.loading import load_benchmark_catalog
    from chatgenbench.predictions.validation import validate_predictions
    from chatgenbench.render.cache import library_versions
    from chatgenbench.render.checkpoints import DEFAULT_LORA_BASES, WeightLocator
    from chatgenbench.render.planning import RequestSettings, plan_renders

    timings = {}
    start = time.perf_counter()
    catalog = load_benchmark_catalog(str(folder), str(overlay))
    timings["catalogue_s"] = time.perf_counter() - start
    start = time.perf_counter()
    report = validate_predictions(predictions, [r["id"] for r in rows], catalog, allow_missing=True)
    timings["validate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    settings = RequestSettings(WeightLocator(workdir / "render-cache"), dict(DEFAULT_LORA_BASES),
                               "float16", "cuda", library_versions())  # fmt: skip
    plan = plan_renders(rows, report, catalog, settings)
    timings["plan_s"] = time.perf_counter() - start
    return catalog, plan, timings


def _simulate_schedules(plan, model, args) -> tuple[dict, dict]:
    """Simulate the plan's render on each ``--gpus`` count; return ``(simulation, ok_at_8)``."""
    from chatgenbench.render.cost_model import (
        SCHEDULES,
        lower_bound,
        price_groups,
        shards_by_cost,
        simulate,
    )
    from chatgenbench.render.shards import assign_shards

    priced = price_groups(plan.groups, model, args.batch_size)
    simulation = {}
    ok_at_8 = {}
    for gpus in args.gpus:
        shard_of = assign_shards(plan.groups, gpus)
        per = {s: simulate(priced, model, gpus, s, shard_of=shard_of) for s in SCHEDULES}
        # for comparison: shards balanced by predicted seconds instead of image counts
        per["shard_by_cost"] = simulate(priced, model, gpus, "shard",
                                        shard_of=shards_by_cost(priced, model, gpus))  # fmt: skip
        per["lower_bound"] = {k: round(v, 1) for k, v in lower_bound(priced, model, gpus).items()}
        simulation[str(gpus)] = per
        if gpus == 8:
            ok_at_8 = {s: per[s]["over_bound"] <= 1.10 for s in SCHEDULES if per[s]["applicable"]}
        print(f"{gpus} GPU(s): " + ", ".join(
            f"{s} {per[s]['makespan_h']} h ({per[s]['over_bound']}x bound)"
            if per[s]["applicable"] else f"{s} n/a" for s in SCHEDULES
        ) + f"; shard by cost {per['shard_by_cost']['over_bound']}x; bound "
          f"{per['lower_bound']['bound_s'] / 3600:.3f} h")  # fmt: skip
    return simulation, ok_at_8


def _predict_runs(plan, model, args) -> dict:
    """Predict the first run (every file checked at its first load on a machine) and a warm run
    (digests remembered) on each ``--gpus`` count, with the engine's checks before the loads and
    nothing read ahead (``before``) and with background checks (``after``), read-ahead included
    where the engine reads ahead: one worker in this process (1 GPU)."""
    from chatgenbench.render.cost_model import price_groups, simulate

    priced = price_groups(plan.groups, model, args.batch_size)
    predictions = {}
    for gpus in args.gpus:
        schedule = "local" if gpus <= model.gpus_per_machine else "ray"
        per = {"schedule": schedule}
        for run in ("first", "warm"):
            per[run] = {}
            for name, overlap in (("before", False), ("after", True)):
                found = simulate(priced, model, gpus, schedule, run=run, overlap=overlap,
                                 read_ahead=overlap and gpus == 1)  # fmt: skip
                per[run][name] = {k: found[k] for k in (
                    "makespan_h", "over_bound", "checkpoint_loads", "loads_not_hidden",
                    "files_checked")}  # fmt: skip
        predictions[str(gpus)] = per
        print(f"{gpus} GPU(s), {schedule}: first run {per['first']['before']['makespan_h']} h "
              f"before, {per['first']['after']['makespan_h']} h with background checks"
              f"{' and read-ahead' if gpus == 1 else ''} "
              f"({per['first']['after']['loads_not_hidden']} loads not hidden); warm "
              f"run {per['warm']['before']['makespan_h']} h before, "
              f"{per['warm']['after']['makespan_h']} h after")  # fmt: skip
    return predictions


def _simulate(args) -> None:
    """Plan the full SYNTHETIC benchmark against a sparse-file catalogue; time it; simulate it."""
    from chatgenbench.benchmark.loading import load_benchmark, load_benchmark_catalog
    from chatgenbench.benchmark.synth import write_synthetic

    model = _cost_model(args)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="chatgenbench-plan-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    folder = workdir / "synthetic-full"
    write_synthetic(folder, rows=args.rows, seed=0, train_rows=0, n_models=args.models)
    rows = load_benchmark("all", str(folder)).to_list()
    overlay = _sparse_catalogue(workdir, load_benchmark_catalog(str(folder)))
    predictions = workdir / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({
        "id": r["id"], "prompt": r["prompt"], "negative_prompt": r["negative_prompt"] or "",
        "model": r["model"], "arguments": {k: v for k, v in r["arguments"].items() if v is not None},
    }) + "\n" for r in rows), "utf-8")  # fmt: skip

    catalog, plan, timings = _time_planning(folder, overlay, predictions, rows, workdir)
    planning_s = sum(timings.values())
    statuses = {"planned": len(plan.request_of)}  # the others have their final status already
    for sample_id, record in plan.records.items():
        if sample_id not in plan.request_of:
            statuses[record.status] = statuses.get(record.status, 0) + 1
    requests = sum(len(g) for g in plan.groups)
    simulation, ok_at_8 = _simulate_schedules(plan, model, args)
    predictions = _predict_runs(plan, model, args)
    print(f"planned {requests} requests in {len(plan.groups)} groups against "
          f"{len(catalog.names())} catalogue models in {planning_s:.2f} s (target <= 10 s)")  # fmt: skip
    result = {
        "benchmark": "render-simulate",
        "synthetic": True,
        "rows": len(rows),
        "catalogue_models": len(catalog.names()),
        "requests": requests,
        "groups": len(plan.groups),
        "distinct_checkpoints": plan.distinct_checkpoints,
        "statuses": statuses,
        "planning_s": round(planning_s, 3),
        **{k: round(v, 3) for k, v in timings.items()},
        "weights_read_when_planning": 0,
        "batch_size": args.batch_size,
        "costs": model.describe(),
        "simulation": simulation,
        "predictions": predictions,
        "targets": {
            "planning_within_10s": planning_s <= 10.0,
            "within_10pct_of_bound_at_8_gpus": ok_at_8,
        },
    }
    print(json.dumps(result, sort_keys=True))


def _parse_args() -> argparse.Namespace:
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
    parser.add_argument(
        "--mixes", type=lambda t: t.split(","), default=["many_checkpoints", "single_checkpoint"],
        help="request mixes to run, comma-separated (default both)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-sizes", type=lambda t: [int(x) for x in t.split(",")], default=None,
        help="run each mix at these batch sizes, e.g. 1,4,8 (figures named <mix>_batch<B>)",
    )  # fmt: skip
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="plan the full synthetic benchmark (sparse weight files) and simulate its render",
    )
    parser.add_argument("--rows", type=int, default=14564, help="--simulate: benchmark rows")
    parser.add_argument("--models", type=int, default=6807, help="--simulate: catalogue models")
    parser.add_argument(
        "--gpus", type=lambda t: [int(x) for x in t.split(",")], default=[1, 8, 64],
        help="--simulate: GPU counts, comma-separated (default 1,8,64)",
    )  # fmt: skip
    parser.add_argument("--costs", default=None, help="--simulate: JSON file of measured costs")
    parser.add_argument(
        "--keep-checkpoints", action="store_true",
        help="first-run: keep the checkpoint files (default: deleted at the end)",
    )  # fmt: skip
    return parser.parse_args()


def _apply_size_defaults(args) -> None:
    """Fill the options left unset with the defaults of a tiny or a full-size architecture."""
    full = args.arch.endswith("full")
    if "first-run" in args.mixes:  # a few small images per full-size checkpoint
        args.size = args.size or 128
        args.steps = args.steps or 10
    args.checkpoints = args.checkpoints or (3 if full else 6)
    # enough images that the engine's fixed cost (loading the benchmark, planning: ~0.3 s) does
    # not dominate a job of a few seconds; it is printed in the engine's "seconds" all the same
    args.single_images = args.single_images or (16 if full else 48)
    args.steps = args.steps or (20 if full else 10)
    args.size = args.size or (512 if full else 64)


def _write_overlay(workdir: Path, arch: str, names: list[str], paths: list[Path], config) -> Path:
    """Write the catalogue overlay of the SYNTHETIC checkpoints; return its path."""
    architecture = "sdxl" if "sdxl" in arch else "sd15"
    overlay = workdir / "catalog.jsonl"
    overlay.write_text("".join(json.dumps({
        "name": name, "architecture": architecture, "kind": "checkpoint",
        "description": "SYNTHETIC random-weight checkpoint for speed runs", "synthetic": True,
        "weights": {"type": "single_file", "path": str(path), "config": str(config)},
    }) + "\n" for name, path in zip(names, paths)), "utf-8")  # fmt: skip
    return overlay


def _compare(name: str, requests, reuse: bool, setup: dict, args, dtype, workdir: Path) -> dict:
    """Run the bare loop and the engine ``--repeats`` times each, alternating; keep each's best.

    Returns the mix's figures: ``engine``, ``bare``, ``ratio_engine_over_bare``,
    ``distinct_checkpoints`` and ``batch_size``.
    """
    paths_by_name = setup["paths_by_name"]
    used = sorted({paths_by_name[r["model"]] for r in requests})
    bare_runs, engine_runs = [], []
    for _ in range(args.repeats):  # alternate the two, keep each one's best run
        bare_runs.append(_bare_loop(requests, paths_by_name, setup["config"], args, dtype,
                                    workdir / f"{name}-bare", reuse=reuse))  # fmt: skip
        engine_runs.append(
            _engine(requests, setup["benchmark"], setup["ids"], setup["overlay"], used, args,
                    workdir, name)
        )  # fmt: skip
    bare = max(bare_runs, key=lambda run: run["images_per_s"])
    engine = max(engine_runs, key=lambda run: run["images_per_s"])
    bare["all_runs_images_per_s"] = [run["images_per_s"] for run in bare_runs]
    engine["all_runs_images_per_s"] = [run["images_per_s"] for run in engine_runs]
    ratio = round(engine["images_per_s"] / bare["images_per_s"], 3)
    print(f"{name}: engine {engine['images_per_s']} img/s ({engine['loads']} loads), "
          f"bare {bare['images_per_s']} img/s ({bare['loads']} loads), ratio {ratio}")  # fmt: skip
    return {"engine": engine, "bare": bare, "ratio_engine_over_bare": ratio,
            "distinct_checkpoints": len({r["model"] for r in requests}),
            "batch_size": args.batch_size}  # fmt: skip


def _targets(name: str, tag: str, figures: dict) -> dict[str, bool]:
    """Return the targets a mix's figures meet or miss (see the module's docstring)."""
    ratio = figures["ratio_engine_over_bare"]
    if tag == "many_checkpoints":
        return {
            f"{name}_engine_beats_bare": ratio > 1.0,
            f"{name}_loads_equal_distinct_checkpoints": (
                figures["engine"]["loads"] == figures["distinct_checkpoints"]
            ),
        }
    return {f"{name}_ratio_at_least_0.95": ratio >= 0.95}


def main() -> None:
    args = _parse_args()
    if args.simulate:
        _simulate(args)
        return
    _apply_size_defaults(args)

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
    overlay = _write_overlay(workdir, args.arch, names, paths, config)
    paths_by_name = dict(zip(names, paths))
    many = _requests(names, args.per_checkpoint, args)
    single = _requests(names[:1], args.single_images, args)
    benchmark, ids = _benchmark_folder(workdir, max(len(many), len(single)))
    setup = {"paths_by_name": paths_by_name, "config": config, "benchmark": benchmark,
             "ids": ids, "overlay": overlay}  # fmt: skip

    # warm-up: one call of one pipeline, so neither side pays first-call costs
    _bare_loop(single[:1], paths_by_name, config, args, dtype, workdir / "warmup", reuse=True)

    figures = {}
    targets = {}
    if "first-run" in args.mixes:
        import blake3

        from chatgenbench.core.storage import sha256_file

        digests = {}
        for name, path in paths_by_name.items():  # the catalogue's digests: not timed
            b3 = blake3.blake3(max_threads=blake3.blake3.AUTO)
            b3.update_mmap(str(path))
            digests[name] = {"sha256": sha256_file(path), "blake3": b3.hexdigest()}
        setup.update(digests=digests, dtype=dtype)
        figures["first_run"] = _first_run(setup, args, dtype, workdir)
        ratio = figures["first_run"]["first_run_engine_over_bare"]
        targets["first_run_engine_over_bare_at_most_0.6"] = ratio <= 0.6
        targets["first_run_pixels_identical"] = figures["first_run"]["pixels_identical"]
    mixes = (("many_checkpoints", many, False), ("single_checkpoint", single, True))
    for batch_size in args.batch_sizes or [args.batch_size]:
        args.batch_size = batch_size
        for tag, requests, reuse in mixes:
            if tag not in args.mixes:
                continue
            name = tag if not args.batch_sizes else f"{tag}_batch{batch_size}"
            figures[name] = _compare(name, requests, reuse, setup, args, dtype, workdir)
            targets.update(_targets(name, tag, figures[name]))

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
        "batch_sizes": args.batch_sizes or [args.batch_size],
        "repeats": args.repeats,
        **figures,
        "targets": targets,
        "versions": library_versions(),
    }
    if "first-run" in args.mixes:  # its figures on the last line too, and its gigabytes gone
        result.update({k: v for k, v in figures["first_run"].items() if "performance" not in k})
        if not args.keep_checkpoints:
            for path in paths:
                path.unlink(missing_ok=True)
            for tag in ("first-engine", "first-engine-sha256"):
                shutil.rmtree(workdir / f"{tag}-cache", ignore_errors=True)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
