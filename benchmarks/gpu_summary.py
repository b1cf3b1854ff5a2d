"""Collect the figures of ``benchmarks/gpu.sh``'s steps into one JSON object and measured costs.

Reads ``OUT_DIR/<step>.log`` (the step's last line is its JSON object), ``<step>.rc`` and
``<step>.seconds`` for the steps ``render``, ``loads``, ``first_run`` and ``metrics``. A step that timed out or
failed is reported with its exit status, the lines it printed before stopping and its log's tail.
From the render and load figures it fits the :class:`chatgenbench.render.cost_model.CostModel`
fields they measure and writes them to ``OUT_DIR/gpu_costs.json`` (for
``benchmarks/render.py --simulate --costs``). The last line printed is one JSON object.

    python benchmarks/gpu_summary.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STEPS = ("render", "loads", "first_run", "metrics")
#: The first-run figures shown with the ratios: step -> keys of its JSON line.
FIRST_RUN_FIGURES = {
    "loads": ("first_load_s", "check_s", "check_digest", "bare_cold_load_s",
              "first_load_over_bare_cold", "first_load_before_s"),
    "first_run": ("first_run_engine_over_bare", "first_run_engine_sha256_over_bare",
                  "pixels_identical", "bare_s", "engine_s"),
}  # fmt: skip


def _step(out: Path, name: str) -> dict:
    log = out / f"{name}.log"
    text = log.read_text("utf-8", errors="replace") if log.is_file() else ""
    lines = [line for line in text.splitlines() if line.strip()]
    rc_file, seconds_file = out / f"{name}.rc", out / f"{name}.seconds"
    step = {
        "exit_status": int(rc_file.read_text().strip()) if rc_file.is_file() else None,
        "seconds": int(seconds_file.read_text().strip()) if seconds_file.is_file() else None,
    }
    try:
        step["figures"] = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        step["figures"] = None
    if step["exit_status"] != 0 or step["figures"] is None:
        step["timed_out"] = step["exit_status"] in (124, 137)
        step["printed"] = [
            line for line in lines if ": engine " in line or "img/s" in line or "first" in line
        ][-12:]
        step["log_tail"] = text[-1500:]
    return step


def _fit_costs(render: dict | None, loads: dict | None) -> dict:
    """CostModel fields measured by the steps (SD 1.5): loads, and per-step time by batch size."""
    costs: dict = {}
    if loads:
        costs.update(loads.get("costs") or {})
    if render:
        steps, points = render.get("steps"), []
        warm = (loads or {}).get("checkpoint_warm_s", 0.0)
        for name, figure in render.items():
            if not name.startswith("single_checkpoint_batch"):
                continue
            bare = figure["bare"]
            per_image = max(1e-6, (bare["seconds"] - warm) / bare["images"])
            points.append((figure["batch_size"], figure["batch_size"] * per_image))
        if len(points) >= 2 and steps:
            n = len(points)
            mean_b = sum(b for b, _ in points) / n
            mean_t = sum(t for _, t in points) / n
            slope = sum((b - mean_b) * (t - mean_t) for b, t in points) / sum(
                (b - mean_b) ** 2 for b, _ in points
            )
            intercept = max(0.0, mean_t - slope * mean_b)
            costs["step_fixed_s"] = {"sd15": round(intercept / steps, 5)}
            costs["step_per_image_s"] = {"sd15": round(max(slope, 0.0) / steps, 5)}
            costs["decode_s_per_image"] = {"sd15": 0.0}  # inside step_per_image_s
            size = render.get("size")
            if size:
                costs["reference_pixels"] = {"sd15": size * size}
    if costs:
        device = (render or loads or {}).get("device_name", "?")
        costs["source"] = f"measured by benchmarks/gpu.sh on {device}; other figures: defaults"
    return costs


def main() -> None:
    out = Path(sys.argv[1])
    steps = {name: _step(out, name) for name in STEPS}
    render = steps["render"]["figures"]
    loads = steps["loads"]["figures"]
    metrics = steps["metrics"]["figures"]
    costs = _fit_costs(render, loads)
    if costs:
        (out / "gpu_costs.json").write_text(json.dumps(costs, indent=2, sort_keys=True), "utf-8")
    ratios = {}
    if render:
        ratios["render_engine_over_bare"] = {
            name: figure["ratio_engine_over_bare"]
            for name, figure in render.items()
            if isinstance(figure, dict) and "ratio_engine_over_bare" in figure
        }
    for name, keys in FIRST_RUN_FIGURES.items():
        figures = steps[name]["figures"] or {}
        found = {key: figures[key] for key in keys if key in figures}
        if found:
            ratios[f"{name}_first_run"] = found
    if metrics:
        ratios["metrics_engine_over_reference"] = {
            name: figure["ratio"] for name, figure in metrics.get("metrics", {}).items()
        }
    nvidia = out / "nvidia-smi.txt"
    summary = {
        "benchmark": "gpu",
        "synthetic": True,
        "device_name": (render or loads or metrics or {}).get("device_name"),
        "nvidia_smi": nvidia.read_text("utf-8", errors="replace")[:600]
        if nvidia.is_file()
        else None,
        "steps": steps,
        "ratios": ratios,
        "costs": costs,
        "costs_file": str(out / "gpu_costs.json") if costs else None,
        "all_steps_ok": all(s["exit_status"] == 0 and s["figures"] for s in steps.values()),
    }
    for name, step in steps.items():
        print(f"{name}: exit {step['exit_status']} in {step['seconds']} s")
    print(json.dumps(ratios))
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
