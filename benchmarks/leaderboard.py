"""Speed of the leaderboard's own work (not of scoring): upload checks, ranking, queue operations.

- upload check of a full-size prediction file: 14,564 rows against a SYNTHETIC benchmark at the
  paper's scale (6,807 models), cold (ids and catalogue loaded) and warm;
- listing a store of N submissions (copies of the repository's real sample submission under
  distinct names) through its index (:mod:`leaderboard.store_index`), warm and from the index
  file, against the full scan every page run did before (the reference), and building every
  view of the ranking, fresh and cached per generation of the store;
- the SQLite queue: enqueue, then claim + complete, per job;
- the gallery: building a page (filter, 12 samples, their thumbnails) of a 14,564-sample
  submission on the SYNTHETIC benchmark with an image per sample, cold (the joined index built)
  and warm (reference: the cold build, as a ratio);
- the stage times of one rendering job on the embedded sample with RANDOM demo weights on the CPU
  (``chatgenbench weights demo``; 64 px, 4 steps): step-wise, rendering, image metrics (reference:
  the step-wise stage, as ratios).

Prints readable lines, then one JSON line with every figure. Usage::

    python benchmarks/leaderboard.py [--submissions 200] [--jobs 500] [--rows 14564] [--no-stages]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatgenbench import __version__  # noqa: E402
from leaderboard.ranking import VIEW_INPUT_TYPES, VIEW_SETTINGS  # noqa: E402
from leaderboard.scoring_queue import ScoringQueue  # noqa: E402
from leaderboard.submissions import SubmissionStore  # noqa: E402


def _predictions_from_references(folder: Path) -> bytes:
    from chatgenbench.benchmark.loading import load_benchmark

    rows = load_benchmark("all", str(folder)).select_columns(
        ["id", "prompt", "negative_prompt", "model", "arguments"]
    )
    return "".join(json.dumps(row) + "\n" for row in rows.to_list()).encode("utf-8")


def bench_upload(work: Path, rows: int) -> dict:
    from chatgenbench.benchmark.synth import write_synthetic

    folder = work / "synthetic-benchmark"
    write_synthetic(folder, rows, seed=0, train_rows=0)
    data = _predictions_from_references(folder)
    store = SubmissionStore(
        work / "upload-store", allowed_benchmarks=(str(folder),), max_upload_bytes=len(data) + 1
    )
    meta = {"method": "speed", "authors": "benchmarks/leaderboard.py", "setting": "all"}
    meta["benchmark"] = str(folder)
    start = time.perf_counter()
    cold = store.check_upload("p.jsonl", data, meta)
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = store.check_upload("p.jsonl", data, meta)
    warm_s = time.perf_counter() - start
    assert cold.ok and warm.ok, cold.problems or cold.report.format_text(limit=5)
    return {
        "upload_rows": warm.report.n_rows,
        "upload_bytes": len(data),
        "upload_check_cold_s": round(cold_s, 3),
        "upload_check_warm_s": round(warm_s, 3),
        "upload_rows_per_s_warm": round(warm.report.n_rows / warm_s),
        "upload_benchmark": "synthetic",
    }


def bench_ranking(work: Path, n: int) -> dict:
    """Time listing the store and building ranking views, through the index and without it.

    ``store_load_full_scan_s`` (the reference: every folder read, what every page run did before
    the index) and ``ranking_one_view_ms`` (a view built from the list) are cold figures;
    ``store_load_s`` is a warm page run (the index checks every folder's files, reads none),
    ``store_load_index_file_s`` a new process that starts from the index file,
    ``ranking_one_view_cached_ms`` a view already built for this generation of the store, and
    ``page_interaction_warm_s`` the two together (what a click costs at ``n`` submissions);
    ``*_cpu_s``: the same in CPU time of this process (the wall time on a shared machine also
    counts the time spent waiting for a core).
    """
    from leaderboard.ranking_views import cached_ranking
    from leaderboard.store_index import RACY_SECONDS

    source = ROOT / "submissions" / "no-finetune-sample"
    store_root = work / "ranking-store"
    for index in range(n):
        shutil.copytree(source, store_root / f"sub-{index:04d}")
    time.sleep(RACY_SECONDS + 0.1)  # files as old as in a store in use (a fresh copy is re-read)
    store = SubmissionStore(store_root)
    start = time.perf_counter()
    reference = store.scan()
    scan_s = time.perf_counter() - start
    start = time.perf_counter()
    store.submissions()  # the first page run: every folder read, the index file written
    index_build_s = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    submissions = store.submissions()
    load_s, load_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    fresh = SubmissionStore(store_root)
    start = time.perf_counter()
    from_file = fresh.submissions()
    from_file_s = time.perf_counter() - start
    assert fresh.index.last_refresh["read"] == 0, fresh.index.last_refresh
    assert [s.results for s in from_file] == [s.results for s in reference]
    start = time.perf_counter()
    views = 0
    for setting in VIEW_SETTINGS:
        for input_type in VIEW_INPUT_TYPES:
            cached_ranking(store, submissions, setting, input_type)
            views += 1
    rank_s = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    for setting in VIEW_SETTINGS:
        for input_type in VIEW_INPUT_TYPES:
            cached_ranking(store, store.submissions(), setting, input_type)
    click_s = (time.perf_counter() - start) / views
    click_cpu_s = (time.process_time() - cpu) / views
    start = time.perf_counter()
    for setting in VIEW_SETTINGS:
        for input_type in VIEW_INPUT_TYPES:
            cached_ranking(store, submissions, setting, input_type)
    cached_s = time.perf_counter() - start
    return {
        "ranking_submissions": n,
        "store_load_full_scan_s": round(scan_s, 3),
        "store_index_build_s": round(index_build_s, 3),
        "store_load_s": round(load_s, 3),
        "store_load_cpu_s": round(load_cpu_s, 3),
        "store_load_index_file_s": round(from_file_s, 3),
        "ranking_views": views,
        "ranking_all_views_s": round(rank_s, 3),
        "ranking_one_view_ms": round(1000 * rank_s / views, 2),
        "ranking_one_view_cached_ms": round(1000 * cached_s / views, 3),
        "page_interaction_warm_s": round(click_s, 3),
        "page_interaction_warm_cpu_s": round(click_cpu_s, 3),
    }


def bench_queue(work: Path, jobs: int) -> dict:
    queue = ScoringQueue(work / "queue.sqlite3")
    start = time.perf_counter()
    for index in range(jobs):
        queue.enqueue(f"job-{index}")
    enqueue_s = time.perf_counter() - start
    start = time.perf_counter()
    while (job := queue.claim("bench:1")) is not None:
        queue.complete(job.id, "bench:1")
    cycle_s = time.perf_counter() - start
    assert queue.counts()["done"] == jobs
    return {
        "queue_jobs": jobs,
        "enqueue_ms_per_job": round(1000 * enqueue_s / jobs, 3),
        "claim_complete_ms_per_job": round(1000 * cycle_s / jobs, 3),
    }


def bench_gallery(work: Path, rows: int) -> dict:
    import io

    from PIL import Image

    from chatgenbench.benchmark.synth import write_synthetic
    from chatgenbench.render.manifest import RenderRecord, write_manifest
    from leaderboard.gallery import Gallery, GalleryFilter
    from leaderboard.submissions import SAMPLES_FILENAME

    folder = work / "gallery-benchmark"
    write_synthetic(folder, rows, seed=1, train_rows=0)
    store = SubmissionStore(work / "gallery-store", allowed_benchmarks=(str(folder),))
    sub = store.root / "big"
    sub.mkdir(parents=True)
    data = _predictions_from_references(folder)
    (sub / "predictions.jsonl").write_bytes(data)
    (sub / "meta.yaml").write_text(
        f"method: speed\nauthors: benchmarks\nsetting: all\nbenchmark: {folder}\n", "utf-8"
    )
    buffer = io.BytesIO()
    Image.new("RGB", (512, 512), (90, 30, 160)).save(buffer, format="PNG")
    png = buffer.getvalue()
    render = store.render_dir("big")
    (render / "images").mkdir(parents=True)
    records, samples = [], []
    for line in data.decode("utf-8").splitlines():
        row = json.loads(line)
        name = f"{row['id']}.png"
        (render / "images" / name).write_bytes(png)
        records.append(RenderRecord(row["id"], "supervised", "single", "rendered",
                                    image=f"images/{name}", model=row["model"]))  # fmt: skip
        samples.append(json.dumps({"id": row["id"], "selection_correct": True,
                                   "config_score": 1.0, "config_matches": {},
                                   "prompt_bertscore": 1.0, "image_scores": {}}))  # fmt: skip
    write_manifest(render, records)
    (sub / SAMPLES_FILENAME).write_text("\n".join(samples) + "\n", "utf-8")
    gallery = Gallery(store)
    start = time.perf_counter()
    cold = gallery.page("big", GalleryFilter(), 0)
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = gallery.page("big", GalleryFilter(), 0)
    warm_s = time.perf_counter() - start
    word = warm["samples"][0].freestyle_input.split()[0]
    start = time.perf_counter()
    filtered = gallery.page("big", GalleryFilter(text=word, model="right"), 3)
    filtered_s = time.perf_counter() - start
    assert cold["n_selected"] == rows and len(warm["thumbnails"]) == len(warm["samples"])
    return {
        "gallery_samples": rows,
        "gallery_benchmark": "synthetic",
        "gallery_page_cold_s": round(cold_s, 3),
        "gallery_page_warm_s": round(warm_s, 4),
        "gallery_page_warm_filtered_s": round(filtered_s, 4),
        "gallery_filtered_matches": filtered["n_selected"],
        "gallery_warm_vs_cold": round(warm_s / cold_s, 4),
    }


def bench_job_stages(work: Path) -> dict:
    from chatgenbench.core.yaml_files import read_yaml_file
    from chatgenbench.testing.demo_weights import write_demo_weights
    from leaderboard.deployment import deployment_from_dict
    from leaderboard.scoring_queue import ScoringWorker

    start = time.perf_counter()
    demo = write_demo_weights(work / "demo-weights", "sample", progress=False)
    demo_s = time.perf_counter() - start
    raw = read_yaml_file(demo["deployment"])
    raw["render_cache"] = str(work / "stage-cache")
    store = SubmissionStore(work / "stage-store")
    data = Path(demo["predictions"]).read_bytes()
    meta = {"method": "demo references", "authors": "benchmarks", "setting": "supervised"}
    check = store.check_upload("predictions.jsonl", data, {**meta, "name": "demo"})
    store.add(check, data)
    queue = ScoringQueue(work / "stage-queue.sqlite3")
    queue.enqueue("demo")
    worker = ScoringWorker(store, queue, deployment=deployment_from_dict(raw))
    start = time.perf_counter()
    worker.run(once=True)
    job_s = time.perf_counter() - start
    (job,) = queue.jobs()
    assert job.state == "done", job.error
    stages = job.progress_dict()["stage_seconds"]
    step = stages["step-wise"]
    return {
        "stages_demo_weights_s": round(demo_s, 2),
        "stages_job_s": round(job_s, 2),
        "stages_stepwise_s": stages["step-wise"],
        "stages_rendering_s": stages["rendering"],
        "stages_image_metrics_s": stages["image metrics"],
        "stages_rendering_vs_stepwise": round(stages["rendering"] / step, 2),
        "stages_image_metrics_vs_stepwise": round(stages["image metrics"] / step, 2),
        "stages_images": job.progress_dict()["render"]["done"],
        "stages_weights": "RANDOM demo weights, CPU, 64 px, 4 steps",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--rows", type=int, default=14564)
    parser.add_argument("--no-stages", action="store_true", help="skip the rendering job")
    args = parser.parse_args()
    figures: dict = {
        "chatgenbench": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    with tempfile.TemporaryDirectory(prefix="chatgenbench-lb-bench-") as tmp:
        work = Path(tmp)
        figures.update(bench_upload(work, args.rows))
        print(
            f"upload check, {figures['upload_rows']} rows ({figures['upload_bytes']} bytes, "
            f"SYNTHETIC benchmark): cold {figures['upload_check_cold_s']} s, warm "
            f"{figures['upload_check_warm_s']} s ({figures['upload_rows_per_s_warm']} rows/s)"
        )
        figures.update(bench_ranking(work, args.submissions))
        print(
            f"ranking: {args.submissions} submissions: full scan (no index, the reference) "
            f"{figures['store_load_full_scan_s']} s, index built {figures['store_index_build_s']}"
            f" s, from the index file {figures['store_load_index_file_s']} s, warm "
            f"store_load_s {figures['store_load_s']} s; {figures['ranking_views']} views in "
            f"{figures['ranking_all_views_s']} s (ranking_one_view_ms "
            f"{figures['ranking_one_view_ms']}, cached {figures['ranking_one_view_cached_ms']} "
            f"ms); a warm page interaction {figures['page_interaction_warm_s']} s (CPU "
            f"{figures['page_interaction_warm_cpu_s']} s: on a shared machine the wall time "
            "includes waiting for a core)"
        )
        figures.update(bench_queue(work, args.jobs))
        print(
            f"queue: enqueue {figures['enqueue_ms_per_job']} ms/job, claim+complete "
            f"{figures['claim_complete_ms_per_job']} ms/job ({args.jobs} jobs)"
        )
        figures.update(bench_gallery(work, args.rows))
        print(
            f"gallery page of a {figures['gallery_samples']}-sample submission (SYNTHETIC): cold "
            f"{figures['gallery_page_cold_s']} s, warm {figures['gallery_page_warm_s']} s, warm "
            f"filtered {figures['gallery_page_warm_filtered_s']} s (warm/cold "
            f"{figures['gallery_warm_vs_cold']})"
        )
        if not args.no_stages:
            figures.update(bench_job_stages(work))
            print(
                f"one rendering job on the sample ({figures['stages_weights']}): step-wise "
                f"{figures['stages_stepwise_s']} s, rendering {figures['stages_rendering_s']} s "
                f"({figures['stages_images']} images), image metrics "
                f"{figures['stages_image_metrics_s']} s"
            )
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
