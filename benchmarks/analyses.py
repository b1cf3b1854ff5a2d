"""Speed of the paper's analyses: the paired comparison of two results, and the Table 6 ablations.

Two measurements in one run:

- ``paired``: :func:`chatgenbench.analysis.comparison.paired_difference` (seeded bootstrap interval of the
  mean difference + sign-flip permutation p-value) over 14,564 paired samples with 1,000
  resamples (target: under 2 s), against ``scipy.stats.bootstrap`` + ``scipy.stats.
  permutation_test`` (``permutation_type="samples"``, the same sign-flip test) on the same
  differences with the same resamples. ``compare_full`` times ``compare_results`` of two
  SYNTHETIC results of that size with per-sample scores (every slice, every metric).
- ``ablations``: :func:`chatgenbench.analysis.ablation.run_ablations`, the three Table 6 ablations on the
  embedded sample (reference arguments shrunk to 64 px / 3 steps, labelled synthetic) rendered with
  the TINY RANDOM-WEIGHT SD models of :mod:`chatgenbench.testing.sd_models` (not demo or real
  weights: the images are noise) and scored with a tiny random ImageReward; wall time of a cold
  run (empty render cache) and of a second run, and how many renders came from the cache.

The last line printed is one JSON object.

    python benchmarks/analyses.py [--samples 14564] [--resamples 1000] [--skip-ablations]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _timed(function, repeats: int = 3):
    best, value = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - started)
    return best, value


def bench_paired(samples: int, resamples: int, seed: int) -> dict:
    """Time our paired comparison against scipy's bootstrap + permutation test."""
    import numpy as np
    from scipy import stats

    from chatgenbench.analysis.comparison import paired_difference

    rng = random.Random(seed)
    a = [rng.random() for _ in range(samples)]
    b = [min(1.0, max(0.0, x - 0.005 + rng.gauss(0, 0.2))) for x in a]
    ours_s, ours = _timed(lambda: paired_difference(a, b, resamples=resamples, seed=seed))
    d = np.asarray(a) - np.asarray(b)

    def reference():
        ci = stats.bootstrap(
            (d,), np.mean, n_resamples=resamples, method="percentile", random_state=seed
        ).confidence_interval
        test = stats.permutation_test(
            (np.asarray(a), np.asarray(b)),
            lambda x, y: np.mean(x - y),
            permutation_type="samples",
            n_resamples=resamples,
            random_state=seed,
            vectorized=False,
        )
        return ci, test.pvalue

    scipy_s, (ci, p_value) = _timed(reference, repeats=1)
    return {
        "samples": samples,
        "resamples": resamples,
        "paired_s": round(ours_s, 4),
        "scipy_s": round(scipy_s, 4),
        "speedup_vs_scipy": round(scipy_s / ours_s, 2),
        "target_s": 2.0,
        "ci": [round(ours["ci"]["low"], 5), round(ours["ci"]["high"], 5)],
        "scipy_ci": [round(float(ci.low), 5), round(float(ci.high), 5)],
        "p_value": round(ours["p_value"], 4),
        "scipy_p_value": round(float(p_value), 4),
    }


def _synthetic_results(samples: int, seed: int, shift: float) -> dict:
    from chatgenbench.scoring.result_schema import SCHEMA_VERSION

    rng = random.Random(seed)
    settings = ("supervised", "few_shot")
    types = ("single", "multimodal", "history")
    records = []
    for index in range(samples):
        records.append(
            {
                "id": f"s{index}",
                "setting": settings[index % 2],
                "input_type": types[index % 3],
                "has_prediction": True,
                "prompt_bertscore": rng.random() * 0.5 + shift,
                "selection_correct": rng.random() < 0.3 + shift,
                "config_score": rng.random(),
                "render_status": "rendered",
                "image_scores": {"clip_score": rng.random() * 0.3 + 0.5, "hps_v2": 0.2 + shift},
            }
        )

    def block(members):
        mean = lambda key: sum(float(r[key]) for r in members) / len(members)  # noqa: E731
        return {
            "n_samples": len(members),
            "stepwise": {
                "prompt_bertscore": {"status": "computed", "value": mean("prompt_bertscore")},
                "selection_accuracy": {"status": "computed", "value": mean("selection_correct")},
                "config_accuracy": {"status": "computed", "value": mean("config_score")},
            },
            "image": {
                "clip_score": {"status": "computed", "value": 70.0},
                "hps_v2": {"status": "computed", "value": 100 * (0.2 + shift)},
            },
        }

    def nested(members):
        inner = {t: block([r for r in members if r["input_type"] == t]) for t in types}
        return {**block(members), "by_input_type": inner}

    return {
        "schema_version": SCHEMA_VERSION,
        "synthetic": True,
        "benchmark": {"kind": "folder", "source": "synthetic", "revision": "sha256:synthetic"},
        "predictions": {"name": f"synthetic-{seed}.jsonl", "sha256": str(seed)},
        "metric_settings": {"bertscore": {"encoder": "minilm", "num_layers": 6}},
        "settings": {s: nested([r for r in records if r["setting"] == s]) for s in settings},
        "overall": nested(records),
        "per_sample": records,
    }


def bench_compare_full(samples: int, resamples: int, seed: int) -> dict:
    from chatgenbench.analysis.comparison import compare_results

    a = _synthetic_results(samples, seed, 0.0)
    b = _synthetic_results(samples, seed + 1, 0.01)
    seconds, comparison = _timed(lambda: compare_results(a, b, resamples=resamples), repeats=1)
    tests = sum(
        1
        for block in comparison["slices"].values()
        for r in block.values()
        if r["status"] == "compared"
    )
    return {"compare_full_s": round(seconds, 3), "paired_tests": tests}


def bench_ablations(workdir: Path) -> dict:
    from chatgenbench.analysis.ablation import run_ablations
    from chatgenbench.metrics.bertscore import PromptBERTScore
    from chatgenbench.scoring.images import ImageMetricSettings
    from chatgenbench.testing.demo_weights import write_demo_weights
    from chatgenbench.testing.small_benchmark import write_small_sample

    os.environ["CHATGENBENCH_HOME"] = str(workdir / "home")
    bench = write_small_sample(workdir / "bench")
    demo = write_demo_weights(workdir / "demo", str(bench), progress=False)
    lines = Path(demo["predictions"]).read_text("utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    models = [row["model"] for row in rows]
    for index, row in enumerate(rows):  # a method that gets a third of the models wrong
        if index % 3 == 0:
            row["model"] = models[(index + 1) % len(models)]
        if index % 4 == 0:
            row["prompt"] = "a picture of " + row["prompt"][:40]
    predictions = workdir / "method.jsonl"
    predictions.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    options = {
        key: value
        for key, value in demo["image_metric_options"].items()
        if key.startswith("image_reward")
    }
    settings = ImageMetricSettings(**options, metrics=("image_reward",), device="cpu", batch_size=4)
    scorer = PromptBERTScore("minilm")
    figures = {}
    for label in ("cold", "warm"):
        started = time.perf_counter()
        outcome = run_ablations(
            [predictions], str(bench), out_dir=workdir / f"out-{label}", image_settings=settings,
            catalog=demo["catalog_overlay"], bertscore=scorer, progress=False,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        figures[f"ablations_{label}_s"] = round(seconds, 2)
        figures[f"renders_{label}"] = {
            "rendered": sum(r["renders"]["rendered"] for r in outcome["runs"]),
            "from_cache": sum(r["renders"]["cached"] for r in outcome["runs"]),
        }
    figures["ablation_weights"] = "RANDOM demo weights (chatgenbench weights demo), CPU"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=14564)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-ablations", action="store_true")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    figures = bench_paired(args.samples, args.resamples, args.seed)
    print("paired comparison:", json.dumps(figures))
    full = bench_compare_full(args.samples, args.resamples, args.seed)
    print("compare_results, every slice and metric:", json.dumps(full))
    figures.update(full)
    if not args.skip_ablations:
        with tempfile.TemporaryDirectory() as tmp:
            ablations = bench_ablations(Path(args.workdir or tmp))
        print("Table 6 ablations:", json.dumps(ablations))
        figures.update(ablations)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
