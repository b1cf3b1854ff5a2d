"""Random demo weights for a whole benchmark catalogue: ``chatgenbench weights demo OUT``.

:func:`write_demo_weights` lets anyone run the whole path (render, image metrics, leaderboard) on a
CPU without a single real weight file. It writes, under ``OUT``:

- ``RANDOM_DEMO_WEIGHTS.txt``: the marker (:data:`chatgenbench.core.random_weights.MARKER_NAME`);
- ``checkpoints/<name>.safetensors``: a tiny random SD 1.5 or SDXL checkpoint (original single-file
  layout) for every checkpoint of the benchmark's catalogue, each from its own seed, with the
  diffusers config folders they load with (``configs/sd15``, ``configs/sdxl``);
- ``loras/<name>.safetensors``: a random LoRA for every LoRA of the catalogue;
- ``catalog_overlay.jsonl``: a catalogue overlay giving every model those weights, each line with
  ``"random_weights": true``;
- ``metrics/<name>``: each registered image metric's tiny random weights, in the layout its real
  loader reads (:meth:`chatgenbench.metrics.base.ImageMetric.write_random_weights`: CLIP,
  HPS v2 and ImageReward write theirs; FID uses the Inception its package ships);
- ``deployment.yaml``: a scoring-worker deployment file (:mod:`leaderboard.deployment`) that uses
  all of the above on the CPU;
- ``demo_predictions.jsonl``: the benchmark's reference answers as a prediction file, shrunk to
  :data:`DEMO_SIZE` px and :data:`DEMO_STEPS` steps, so that the whole sample renders on a CPU in
  well under a minute (the real sizes, 512 px and more, take minutes per image there);
- ``demo_weights.json``: what was written, with the image-metric options that use it.

Results made with them record it (``results["random_weights"]``) and are never ranked beside
results made with real weights. The images are noise; the scores mean nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from chatgenbench.core.random_weights import CATALOG_FIELD, MARKER_NAME, MARKER_TEXT
from chatgenbench.core.storage import atomic_write_json, atomic_write_text

DEMO_MANIFEST = "demo_weights.json"
DEMO_OVERLAY = "catalog_overlay.jsonl"
DEMO_DEPLOYMENT = "deployment.yaml"
DEMO_PREDICTIONS = "demo_predictions.jsonl"
DEMO_SIZE = 64
DEMO_STEPS = 4
_TINY = {"sd15": "sd15-tiny", "sdxl": "sdxl-tiny"}


def write_demo_weights(
    out: str | os.PathLike,
    benchmark: str | os.PathLike = "sample",
    *,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Write random demo weights for every model of ``benchmark``'s catalogue into ``out``.

    Returns the contents of ``out/demo_weights.json``: the overlay, the deployment file, the
    metric models (``image_metric_options``: keyword arguments of
    :class:`chatgenbench.scoring.images.ImageMetricSettings`) and the models written. Models
    already written by an earlier call are kept (the call is cheap to repeat). Raises
    :class:`chatgenbench.core.errors.ChatGenBenchError` subclasses for an unreadable benchmark.
    """
    import torch

    from chatgenbench.benchmark.loading import load_benchmark_catalog
    from chatgenbench.metrics.registry import METRICS

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / MARKER_NAME, MARKER_TEXT)
    catalog = load_benchmark_catalog(benchmark, None)
    entries = [entry for entry in catalog if entry.architecture in _TINY]
    metrics = METRICS.image_metrics()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # building tiny models is fastest on one thread
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = len(entries) + len(metrics)
        bar = tqdm(total=total, unit="model", desc="demo weights", file=sys.stderr)
    try:
        lines = _write_render_weights(root, entries, seed, bar)
        options = _write_metric_weights(root / "metrics", metrics, seed, bar)
    finally:
        torch.set_num_threads(threads)
        if bar is not None:
            bar.close()
    overlay = root / DEMO_OVERLAY
    atomic_write_text(overlay, "".join(json.dumps(line) + "\n" for line in lines))
    deployment = root / DEMO_DEPLOYMENT
    atomic_write_text(deployment, _deployment_text(overlay, options, root))
    predictions = root / DEMO_PREDICTIONS
    atomic_write_text(predictions, _demo_predictions(benchmark))
    manifest = {
        "random_weights": True,
        "note": MARKER_TEXT.strip().replace("\n", " "),
        "benchmark": str(benchmark),
        "seed": seed,
        "catalog_overlay": str(overlay.resolve()),
        "deployment": str(deployment.resolve()),
        "predictions": str(predictions.resolve()),
        "image_metric_options": options,
        "evaluate_command": _evaluate_command(root, benchmark, options),
        "models": [line["name"] for line in lines],
        "skipped_models": [
            {"name": entry.name, "architecture": entry.architecture}
            for entry in catalog
            if entry.architecture not in _TINY
        ],
    }
    atomic_write_json(root / DEMO_MANIFEST, manifest)
    return manifest


def _write_render_weights(root: Path, entries: list[Any], seed: int, bar: Any) -> list[dict]:
    """Write a random checkpoint or LoRA for every catalogue entry (each from its own seed) and
    the config folders they load with; return the overlay lines."""
    from chatgenbench.render.pipelines import save_config_folder
    from chatgenbench.testing.sd_models import build_pipeline, save_lora, save_single_file

    work = root / ".work"
    bases: dict[str, Any] = {}
    for arch, tiny in _TINY.items():
        config = root / "configs" / arch
        if not (config / "model_index.json").is_file():
            bases[arch] = build_pipeline(tiny, seed=seed, workdir=work)
            save_config_folder(bases[arch], config)
    lines: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        folder = "loras" if entry.kind == "lora" else "checkpoints"
        relative = f"{folder}/{_file_stem(entry.name)}.safetensors"
        target = root / relative
        if not target.is_file():
            model_seed = seed + 1 + index
            if entry.kind == "lora":
                base = bases.get(entry.architecture) or build_pipeline(
                    _TINY[entry.architecture], seed=seed, workdir=work
                )
                bases[entry.architecture] = base
                save_lora(base, target, seed=model_seed)
            else:
                pipeline = build_pipeline(_TINY[entry.architecture], seed=model_seed, workdir=work)
                save_single_file(pipeline, target)
        weights: dict[str, Any] = {"type": "single_file", "path": relative}
        if entry.kind != "lora":
            weights["config"] = f"configs/{entry.architecture}"
        lines.append({"name": entry.name, "weights": weights, CATALOG_FIELD: True})
        if bar is not None:
            bar.update(1)
    return lines


def _write_metric_weights(folder: Path, metrics: list[Any], seed: int, bar: Any) -> dict[str, Any]:
    """Let every registered image metric write its random weights into ``folder/<name>``; return
    the option values that load them, paths (the options marked ``path``) made absolute."""
    options: dict[str, Any] = {}
    for metric in metrics:
        written = dict(metric.write_random_weights(folder / metric.name, seed))
        for key in metric.path_options():
            if written.get(key):
                written[key] = str(Path(written[key]).resolve())
        options.update(written)
        if bar is not None:
            bar.update(1)
    return options


def _demo_predictions(benchmark: str | os.PathLike) -> str:
    """Return the benchmark's reference answers as JSONL predictions at the demo size."""
    from chatgenbench.benchmark.loading import load_benchmark

    columns = ["id", "prompt", "negative_prompt", "model", "arguments"]
    lines = []
    for row in load_benchmark("all", str(benchmark)).select_columns(columns).to_list():
        arguments = {k: v for k, v in (row["arguments"] or {}).items() if v is not None}
        arguments.update(width=DEMO_SIZE, height=DEMO_SIZE, steps=DEMO_STEPS)
        lines.append(json.dumps({**row, "arguments": arguments}))
    return "\n".join(lines) + "\n"


def _evaluate_command(root: Path, benchmark: str | os.PathLike, options: dict[str, Any]) -> str:
    """Return the one command that renders and image-scores the demo predictions on a CPU."""
    import shlex

    parts = ["chatgenbench", "evaluate", str((root / DEMO_PREDICTIONS).resolve())]
    parts += ["--benchmark", str(benchmark), "--render", "--device", "cpu"]
    parts += ["--catalog", str((root / DEMO_OVERLAY).resolve())]
    for key, value in options.items():
        parts += ["--" + key.replace("_", "-"), str(value)]
    parts += ["--render-out", str((root / "render").resolve())]
    parts += ["--out", str((root / "results.json").resolve())]
    return shlex.join(parts)


def _file_stem(name: str) -> str:
    """Return a file name for a catalogue name (no path can escape the folder)."""
    from chatgenbench.render.manifest import image_filename

    return image_filename(name)[: -len(".png")]


def _deployment_text(overlay: Path, options: dict[str, Any], root: Path) -> str:
    """Return a deployment file (:mod:`leaderboard.deployment`) that uses the demo weights."""
    lines = [
        "# Scoring-worker deployment using RANDOM DEMO WEIGHTS (written by 'chatgenbench weights",
        "# demo'). Every result made with it is labelled as such and ranked apart.",
        "render: true",
        f"catalog: {json.dumps(str(overlay.resolve()))}",
        "device: cpu",
        "dtype: float32",
        "render_backend: local",
        "ray_address: null",
        f"render_cache: {json.dumps(str((root / 'render-cache').resolve()))}",
        "render_threads: 1",
        "metrics:",
        *(f"  {key}: {json.dumps(value)}" for key, value in options.items()),
        "  batch_size: 4",
        "  bootstrap_resamples: 200",
    ]
    return "\n".join(lines) + "\n"
