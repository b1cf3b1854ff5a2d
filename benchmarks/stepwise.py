"""Speed of step-wise evaluation against the bare BERTScore call it is built on.

Writes a full-scale SYNTHETIC benchmark (14,564 test rows by default), a prediction file for it,
then times in one run:

- ``evaluate``: ``chatgenbench.evaluate`` end to end (load benchmark and catalogue, validate the
  file, MiniLM BERTScore, accuracies, aggregation per setting and input type, results JSON);
- ``bare_bertscore``: a ``bert_score.BERTScorer`` built with the same setting and one
  ``.score(candidates, references)`` on the same prompt pairs.

Both include loading the encoder. The ratio evaluate_s / bare_bertscore_s says what everything
besides the encoder costs (target: at most 1.25). The last line printed is one JSON object.

    python benchmarks/stepwise.py [--rows 14564] [--seed 0] [--batch-size 64] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=14564)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    import torch
    from bert_score import BERTScorer

    from chatgenbench import evaluate, load_benchmark
    from chatgenbench.metrics.bertscore import resolve_encoder
    from chatgenbench.synth import write_synthetic

    work = Path(args.workdir or tempfile.mkdtemp(prefix="cgb-stepwise-"))
    folder = work / "synthetic"
    write_synthetic(folder, args.rows, seed=args.seed, train_rows=0)
    rows = (
        load_benchmark("all", folder)
        .select_columns(["id", "freestyle_input", "prompt", "model", "arguments"])
        .to_list()
    )
    predictions = _predictions(rows, args.seed)
    pred_path = work / "predictions.jsonl"
    pred_path.write_text("\n".join(json.dumps(p) for p in predictions) + "\n")
    candidates = [p["prompt"] for p in predictions]
    references = [r["prompt"] for r in rows]

    setting = resolve_encoder("minilm")
    # Warm-up (imports, first kernels) so that neither timed run pays it.
    BERTScorer(model_type=setting.model_type, num_layers=6).score(candidates[:64], references[:64])

    start = time.perf_counter()
    bare = BERTScorer(
        model_type=setting.model_type,
        num_layers=setting.num_layers,
        batch_size=args.batch_size,
        lang="en",
    )
    _, _, f1 = bare.score(candidates, references, batch_size=args.batch_size)
    bare_s = time.perf_counter() - start

    start = time.perf_counter()
    results = evaluate(
        pred_path,
        folder,
        encoder="minilm",
        batch_size=args.batch_size,
        progress=False,
        out=work / "results.json",
    )
    evaluate_s = time.perf_counter() - start

    ours = results["overall"]["stepwise"]["prompt_bertscore"]["value"]
    figures = {
        "rows": len(rows),
        "synthetic": True,
        "encoder": "minilm",
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "evaluate_s": round(evaluate_s, 2),
        "bare_bertscore_s": round(bare_s, 2),
        "ratio": round(evaluate_s / bare_s, 3),
        "rows_per_s": round(len(rows) / evaluate_s, 1),
        "bertscore_evaluate": round(ours, 6),
        "bertscore_bare": round(float(f1.mean()), 6),
    }
    print(
        f"evaluate: {evaluate_s:.1f} s, bare BERTScorer.score: {bare_s:.1f} s, "
        f"ratio {figures['ratio']} (target <= 1.25) on {len(rows)} synthetic rows"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
