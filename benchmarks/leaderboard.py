"""Speed of the leaderboard's own work (not of scoring): upload checks, ranking, queue operations.

- upload check of a full-size prediction file: 14,564 rows against a SYNTHETIC benchmark at the
  paper's scale (6,807 models), cold (ids and catalogue loaded) and warm;
- building every view of the ranking from a store of N submissions (copies of the repository's
  real sample submission under distinct names);
- the SQLite queue: enqueue, then claim + complete, per job.

Prints readable lines, then one JSON line with every figure. Usage::

    python benchmarks/leaderboard.py [--submissions 200] [--jobs 500] [--rows 14564]
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
from leaderboard.ranking import VIEW_INPUT_TYPES, VIEW_SETTINGS, build_ranking  # noqa: E402
from leaderboard.scoring_queue import ScoringQueue  # noqa: E402
from leaderboard.submissions import SubmissionStore  # noqa: E402


def _predictions_from_references(folder: Path) -> bytes:
    from chatgenbench.benchmark import load_benchmark

    rows = load_benchmark("all", str(folder)).select_columns(
        ["id", "prompt", "negative_prompt", "model", "arguments"]
    )
    return "".join(json.dumps(row) + "\n" for row in rows.to_list()).encode("utf-8")


def bench_upload(work: Path, rows: int) -> dict:
    from chatgenbench.synth import write_synthetic

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
    source = ROOT / "submissions" / "no-finetune-sample"
    store_root = work / "ranking-store"
    for index in range(n):
        shutil.copytree(source, store_root / f"sub-{index:04d}")
    store = SubmissionStore(store_root)
    start = time.perf_counter()
    submissions = store.submissions()
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    views = 0
    for setting in VIEW_SETTINGS:
        for input_type in VIEW_INPUT_TYPES:
            build_ranking(submissions, setting, input_type)
            views += 1
    rank_s = time.perf_counter() - start
    return {
        "ranking_submissions": n,
        "store_load_s": round(load_s, 3),
        "ranking_views": views,
        "ranking_all_views_s": round(rank_s, 3),
        "ranking_one_view_ms": round(1000 * rank_s / views, 2),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--rows", type=int, default=14564)
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
            f"ranking: {args.submissions} submissions loaded in {figures['store_load_s']} s; "
            f"{figures['ranking_views']} views in {figures['ranking_all_views_s']} s"
        )
        figures.update(bench_queue(work, args.jobs))
        print(
            f"queue: enqueue {figures['enqueue_ms_per_job']} ms/job, claim+complete "
            f"{figures['claim_complete_ms_per_job']} ms/job ({args.jobs} jobs)"
        )
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
