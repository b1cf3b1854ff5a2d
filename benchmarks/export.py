"""Speed and memory of ``chatgenbench export`` (:mod:`chatgenbench.analysis.details`) at full scale.

Builds, under a temporary folder (or ``--workdir``):

- a SYNTHETIC benchmark of ``--rows`` test rows (default 14,564, the paper's count) with small
  reference images (``chatgenbench synth``);
- a SYNTHETIC results JSON for it (random per-sample scores, every metric object present), and
  a render folder of ``--size`` px noise PNGs, each naming its cache key, whose summary the results
  record (so the export verifies and exports every image);

then measures, each in a fresh process (peak resident memory is per process):

- ``export``: :func:`export_details` of those results with the images and predictions (rows/s,
  peak RSS, the Parquet bytes written);
- ``reference``: the bare pyarrow write of the same rows: the export's own table read back whole and
  written with ``pyarrow.parquet.write_table`` in one call (what holding everything in memory costs);
- ``baseline``: a process that only imports the same modules (its RSS is subtracted from both).

Prints readable lines, then one JSON line with every figure. Usage::

    python benchmarks/export.py [--rows 14564] [--size 64] [--workdir DIR]

With ``--workdir`` holding the inputs of an earlier run, they are used again (no rebuild).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

IMPORTS = "import datasets, pyarrow.parquet, PIL.Image; import chatgenbench.analysis.details"


def build_inputs(work: Path, rows: int, size: int) -> dict[str, str]:
    """Write the synthetic benchmark, predictions, render folder and results; return their paths."""
    import random

    from PIL import Image

    from chatgenbench.benchmark.loading import load_benchmark, resolve_source
    from chatgenbench.benchmark.synth import write_synthetic
    from chatgenbench.core.storage import sha256_file
    from chatgenbench.metrics.registry import METRICS
    from chatgenbench.metrics.values import not_computed
    from chatgenbench.render.cache import cache_key, encode_png
    from chatgenbench.render.manifest import RenderRecord, image_filename, write_manifest
    from chatgenbench.scoring.result_schema import SCHEMA_VERSION, image_placeholders

    bench = work / "bench"
    write_synthetic(bench, rows, train_rows=10, images=True, seed=0)
    info = resolve_source(str(bench))
    rng = random.Random(0)
    predictions, per_sample, records = [], [], []
    render = work / "render"
    (render / "images").mkdir(parents=True)
    for setting in info.settings:
        dataset = load_benchmark(setting, str(bench)).select_columns(
            ["id", "setting", "input_type", "prompt", "model", "arguments"]
        )
        for row in dataset:
            predictions.append({k: row[k] for k in ("id", "prompt", "model", "arguments")})
            key = cache_key({"id": row["id"]})
            noise = Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))
            name = image_filename(row["id"])
            (render / "images" / name).write_bytes(encode_png(noise, key))
            records.append(RenderRecord(row["id"], setting, row["input_type"], "rendered",
                                        f"images/{name}", key, 0, row["model"]))  # fmt: skip
            per_sample.append({
                "id": row["id"], "setting": setting, "input_type": row["input_type"],
                "has_prediction": True, "prompt_bertscore": 1.0, "selection_correct": True,
                "config_score": 1.0, "render_status": "rendered",
                "image_scores": {"clip_score": rng.random(), "hps_v2": rng.random()},
            })  # fmt: skip
    write_manifest(render, records)
    summary = {"format": 1, "n_samples": len(records), "synthetic_benchmark_run": True}
    (render / "render_summary.json").write_text(json.dumps(summary))
    pred_path = work / "predictions.jsonl"
    pred_path.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    reason = "SYNTHETIC benchmark results (benchmarks/export.py)"
    stepwise = {name: not_computed(reason) for name in METRICS.names_of("stepwise")}
    block = {"n_samples": len(records), "n_missing": 0, "stepwise": stepwise,
             "image": image_placeholders(reason), "unified": not_computed(reason),
             "by_input_type": {}}  # fmt: skip
    results = {
        "schema_version": SCHEMA_VERSION, "synthetic": True,
        "benchmark": {"source": str(bench), "revision": info.revision, "settings": info.settings},
        "predictions": {"name": pred_path.name, "sha256": sha256_file(pred_path)},
        "validation": {}, "metric_settings": {}, "provenance": {"note": reason},
        "settings": {s: block for s in info.settings}, "overall": block,
        "images": {"render_dir": str(render), "render_summary": summary},
        "per_sample": per_sample,
    }  # fmt: skip
    results_path = work / "results.json"
    results_path.write_text(json.dumps(results))
    return {"results": str(results_path), "predictions": str(pred_path), "render": str(render)}


def _child(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line; add its peak RSS (MiB).

    The peak is ``VmHWM`` of ``/proc/self/status``: the child's own address space (``ru_maxrss``
    would carry over this parent's peak through fork and exec).
    """
    tail = (
        "\nhwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]"
        "\nprint(json.dumps({**OUT, 'rss_mib': int(hwm.split()[1]) / 1024}))"
    )
    script = f"import json, sys, time\nsys.path.insert(0, {str(ROOT)!r})\n{IMPORTS}\n{code}{tail}"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"a measured process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Build the inputs, time the export and the reference, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=14_564)
    parser.add_argument("--size", type=int, default=64, help="rendered image side in px (64)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="chatgenbench-export-bench-"))
    start = time.perf_counter()
    if (work / "results.json").is_file():  # inputs of an earlier run with this --workdir
        paths = {"results": str(work / "results.json"), "render": str(work / "render"),
                 "predictions": str(work / "predictions.jsonl")}  # fmt: skip
    else:
        paths = build_inputs(work, args.rows, args.size)
    build_seconds = time.perf_counter() - start
    out = work / "details"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    export = _child(
        "from chatgenbench.analysis.details import export_details\n"
        f"t = time.perf_counter(); r = export_details({paths['results']!r}, {str(out)!r}, "
        f"images={paths['render']!r}, predictions={paths['predictions']!r})\n"
        "OUT = {'seconds': time.perf_counter() - t, 'rows': r.rows, 'images': r.images, "
        "'shards': len(r.shards)}"
    )
    reference = _child(
        "import pyarrow.parquet as pq, glob\n"
        f"table = pq.read_table(sorted(glob.glob({str(out / 'data' / '*.parquet')!r})))\n"
        f"t = time.perf_counter(); pq.write_table(table, {str(work / 'reference.parquet')!r})\n"
        "OUT = {'seconds': time.perf_counter() - t, 'rows': table.num_rows}"
    )
    baseline = _child("OUT = {}")
    written = sum(p.stat().st_size for p in (out / "data").glob("*.parquet"))
    figures = {
        "benchmark": "export",
        "rows": export["rows"],
        "images": export["images"],
        "image_px": args.size,
        "shards": export["shards"],
        "parquet_mib": round(written / 2**20, 1),
        "export_seconds": round(export["seconds"], 2),
        "export_rows_per_s": round(export["rows"] / export["seconds"], 1),
        "export_peak_rss_mib": round(export["rss_mib"], 1),
        "export_peak_over_imports_mib": round(export["rss_mib"] - baseline["rss_mib"], 1),
        "reference": "pyarrow.parquet.write_table of the same rows, all in memory",
        "reference_seconds": round(reference["seconds"], 2),
        "reference_rows_per_s": round(reference["rows"] / reference["seconds"], 1),
        "reference_peak_rss_mib": round(reference["rss_mib"], 1),
        "reference_peak_over_imports_mib": round(reference["rss_mib"] - baseline["rss_mib"], 1),
        "imports_rss_mib": round(baseline["rss_mib"], 1),
        "build_seconds": round(build_seconds, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"export: {figures['rows']} rows, {figures['images']} images in "
          f"{figures['export_seconds']} s ({figures['export_rows_per_s']} rows/s), peak "
          f"{figures['export_peak_over_imports_mib']} MiB over the imports")  # fmt: skip
    print(f"reference (bare pyarrow write, all in memory): {figures['reference_seconds']} s, peak "
          f"{figures['reference_peak_over_imports_mib']} MiB over the imports")  # fmt: skip
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
