"""Speed of step-wise evaluation against the bare BERTScore call it is built on, cold and warm.

Writes a full-scale SYNTHETIC benchmark (14,564 test rows by default) and a prediction file for it,
then times, each in its own process (so that each phase's peak memory is its own) and in this
order:

- ``bare``: a ``bert_score.BERTScorer`` built with the MiniLM setting and one
  ``.score(candidates, references)`` on the prompt pairs;
- ``cold``: ``chatgenbench.evaluate`` end to end (load benchmark and catalogue, validate the file,
  BERTScore, accuracies, aggregation per setting and input type, results JSON) with an empty
  reference cache: it encodes the references and stores them
  (:mod:`chatgenbench.metrics.bertscore_cache`);
- ``warm``: the same ``evaluate`` again: the references' embeddings come from the cache, only the
  candidates are encoded.

Each phase includes loading the encoder; imports and a small warm-up call come before its clock
starts. Targets: cold <= 1.05x bare, warm <= 0.6x bare, every per-sample score within 1e-6 of bare
(checked here), and a warm ``evaluate`` peak memory (max RSS of its process) under 3 GB. The last
line printed is one JSON object.

    python benchmarks/stepwise.py [--rows 14564] [--seed 0] [--batch-size 64] [--threads N]
        [--workdir DIR]

``--threads`` sets torch's CPU threads in every phase (default: torch's own); on a shared machine
one thread gives steadier figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package

TARGETS = {"cold_over_bare": 1.05, "warm_over_bare": 0.6, "max_abs_diff": 1e-6, "warm_rss_gb": 3.0}


def _predictions(rows: list[dict], seed: int) -> list[dict]:
    """Plausible predictions: the chat as prompt, the right model half the time."""
    rng = random.Random(seed)
    models = sorted({row["model"] for row in rows})
    out = []
    for row in rows:
        args = {k: v for k, v in row["arguments"].items() if v is not None}
        if rng.random() < 0.5:
            args["steps"] = rng.choice([20, 30, 40])
        out.append(
            {
                "id": row["id"],
                "prompt": row["freestyle_input"] or row["prompt"],
                "negative_prompt": "",
                "model": row["model"] if rng.random() < 0.5 else rng.choice(models),
                "arguments": args,
            }
        )
    return out


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _phase(args) -> None:
    """One timed phase in this process; print its figures as one JSON line."""
    import torch
    from bert_score import BERTScorer

    from chatgenbench import evaluate
    from chatgenbench.metrics.bertscore import resolve_encoder

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(args.workdir)
    pairs = json.loads((work / "pairs.json").read_text("utf-8"))
    setting = resolve_encoder("minilm")
    # warm-up (first kernels, files in the page cache) so that no phase pays it on its clock
    BERTScorer(model_type=setting.model_type, num_layers=6).score(
        pairs["candidates"][:64], pairs["references"][:64]
    )
    start = time.perf_counter()
    if args.phase == "bare":
        bare = BERTScorer(
            model_type=setting.model_type,
            num_layers=setting.num_layers,
            batch_size=args.batch_size,
            lang="en",
        )
        _, _, f1 = bare.score(pairs["candidates"], pairs["references"], batch_size=args.batch_size)
        seconds = time.perf_counter() - start
        scores = dict(zip(pairs["ids"], f1.tolist()))
        extra = {}
    else:
        per_sample = work / f"{args.phase}-per-sample.jsonl"
        results = evaluate(
            work / "predictions.jsonl",
            work / "synthetic",
            encoder="minilm",
            batch_size=args.batch_size,
            progress=False,
            out=work / f"{args.phase}-results.json",
            per_sample_out=per_sample,
        )
        seconds = time.perf_counter() - start
        lines = per_sample.read_text("utf-8").splitlines()
        scores = {s["id"]: s["prompt_bertscore"] for s in map(json.loads, lines)}
        cache = results["metric_settings"]["bertscore"]["reference_cache"]
        extra = {"reference_cache": cache["state"], "cache_reason": cache["reason"]}
    (work / f"{args.phase}-scores.json").write_text(json.dumps(scores), "utf-8")
    figures = {"seconds": round(seconds, 3), "peak_rss_mb": _peak_rss_mb(),
               "torch_threads": torch.get_num_threads(), **extra}  # fmt: skip
    print(json.dumps(figures))


def _run_phase(phase: str, args, work: Path, home: Path) -> dict:
    env = {**os.environ, "CHATGENBENCH_HOME": str(home), "PYTHONPATH": str(Path.cwd())}
    env.pop("CHATGENBENCH_BERTSCORE_CACHE", None)
    command = [sys.executable, __file__, "--phase", phase, "--workdir", str(work),
               "--batch-size", str(args.batch_size), "--threads", str(args.threads or 0)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=14564)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads per phase")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--phase", choices=["bare", "cold", "warm"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        _phase(args)
        return

    from chatgenbench import load_benchmark
    from chatgenbench.benchmark.synth import write_synthetic

    work = Path(args.workdir or tempfile.mkdtemp(prefix="cgb-stepwise-"))
    work.mkdir(parents=True, exist_ok=True)
    folder = work / "synthetic"
    write_synthetic(folder, args.rows, seed=args.seed, train_rows=0)
    rows = (
        load_benchmark("all", folder)
        .select_columns(["id", "freestyle_input", "prompt", "model", "arguments"])
        .to_list()
    )
    predictions = _predictions(rows, args.seed)
    (work / "predictions.jsonl").write_text(
        "\n".join(json.dumps(p) for p in predictions) + "\n", "utf-8"
    )
    pairs = {
        "ids": [r["id"] for r in rows],
        "candidates": [p["prompt"] for p in predictions],
        "references": [r["prompt"] for r in rows],
    }
    (work / "pairs.json").write_text(json.dumps(pairs), "utf-8")
    home = Path(tempfile.mkdtemp(prefix="home-", dir=work))  # an empty reference cache

    phases = {phase: _run_phase(phase, args, work, home) for phase in ("bare", "cold", "warm")}
    scores = {p: json.loads((work / f"{p}-scores.json").read_text("utf-8")) for p in phases}
    diffs = {
        p: max(abs(scores[p][i] - scores["bare"][i]) for i in scores["bare"])
        for p in ("cold", "warm")
    }
    bare_s = phases["bare"]["seconds"]
    cold_over = round(phases["cold"]["seconds"] / bare_s, 3)
    warm_over = round(phases["warm"]["seconds"] / bare_s, 3)
    warm_gb = phases["warm"]["peak_rss_mb"] / 1024
    mean = {p: sum(scores[p].values()) / len(scores[p]) for p in scores}
    figures = {
        "benchmark": "stepwise",
        "rows": len(rows),
        "synthetic": True,
        "encoder": "minilm",
        "batch_size": args.batch_size,
        "torch_threads": phases["bare"]["torch_threads"],
        "bare_bertscore_s": bare_s,
        "evaluate_cold_s": phases["cold"]["seconds"],
        "evaluate_warm_s": phases["warm"]["seconds"],
        "cold_over_bare": cold_over,
        "warm_over_bare": warm_over,
        "rows_per_s_warm": round(len(rows) / phases["warm"]["seconds"], 1),
        "reference_cache_states": [
            phases["cold"]["reference_cache"],
            phases["warm"]["reference_cache"],
        ],  # fmt: skip
        "max_abs_diff_cold": diffs["cold"],
        "max_abs_diff_warm": diffs["warm"],
        "bertscore_mean": {p: round(v, 6) for p, v in mean.items()},
        "peak_rss_mb": {p: phases[p]["peak_rss_mb"] for p in phases},
        "targets": {
            "cold_within_1.05x_bare": cold_over <= TARGETS["cold_over_bare"],
            "warm_within_0.6x_bare": warm_over <= TARGETS["warm_over_bare"],
            "scores_within_1e-6": max(diffs.values()) <= TARGETS["max_abs_diff"],
            "warm_peak_under_3gb": warm_gb < TARGETS["warm_rss_gb"],
        },
    }
    print(
        f"bare BERTScorer.score {bare_s:.1f} s; evaluate cold {phases['cold']['seconds']:.1f} s "
        f"({cold_over}x, target <= 1.05), warm {phases['warm']['seconds']:.1f} s ({warm_over}x, "
        f"target <= 0.6); max |diff| {max(diffs.values()):.2e}; warm peak {warm_gb:.2f} GB; "
        f"{len(rows)} synthetic rows"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
