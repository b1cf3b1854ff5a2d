"""Speed of the baselines: ``retrieval`` at full synthetic scale on CPU, ``chatgen-base`` with a tiny model.

Usage::

    python benchmarks/baselines.py                        # synthesise a full-scale benchmark first
    python benchmarks/baselines.py --benchmark DIR        # a folder from 'chatgenbench synth'
    python benchmarks/baselines.py --benchmark DIR --cache-dir DIR   # reuse cached train embeddings

Retrieval: the train split's distinct texts are embedded once (``prepare``; skipped when the cache
already holds them), then every test row is predicted through ``run_adapter`` (request embedding,
k-nearest distinct texts, votes). The encoder's throughput is also measured on its own on 2,000
distinct train texts, so a run with a warm cache still says what a cold one costs.

ChatGen-Base: the whole adapter (conversation layout, 448px tiles for the reference images, a chat
call, answer parsing) on a tiny random GPT-2 behind InternVL2's ``chat`` signature, greedy, 32 new
tokens. It measures the adapter's own overhead, not an InternVL2 model: that needs a GPU and the
checkpoint's remote code (the paper reports 1.1 s per sample, Table 5).

The data is SYNTHETIC. The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

# run from a checkout: its package wins over an installed copy
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _tiny_chat_model(texts: list[str]):
    import re

    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab: dict[str, int] = {"[PAD]": 0, "[UNK]": 1, "[EOS]": 2}
    for text in texts:
        for word in re.findall(r"\w+|[^\w\s]", text):
            vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    torch.manual_seed(0)
    lm = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=len(vocab),
            n_positions=1024,
            n_embd=64,
            n_layer=2,
            n_head=2,
            bos_token_id=2,
            eos_token_id=2,
            pad_token_id=0,
        )
    ).eval()

    class TinyChat:
        def parameters(self):
            return lm.parameters()

        def chat(self, tok, pixel_values, question, generation_config, history=None, **kwargs):
            text = " ".join(f"{q} {a}" for q, a in history or []) + " " + question
            ids = tok(text, return_tensors="pt").input_ids[:, -900:]
            with torch.no_grad():
                out = lm.generate(
                    ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=generation_config["max_new_tokens"],
                    do_sample=False,
                    pad_token_id=0,
                )
            return tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)

    return TinyChat(), tokenizer


def bench_retrieval(benchmark: Path, cache_dir: Path, batch_size: int) -> dict:
    """Time the retrieval baseline's preparation and its predictions over every test row."""
    from baselines.retrieval import RetrievalAdapter
    from baselines.train_split import load_train_split
    from chatgenbench.benchmark.loading import load_benchmark
    from chatgenbench.predictions.adapters import run_adapter

    split = load_train_split(benchmark)
    distinct = list(dict.fromkeys(split.texts))
    adapter = RetrievalAdapter(cache_dir=str(cache_dir))
    sample = distinct[:2000]
    adapter.encoder.load()
    started = time.perf_counter()
    adapter.encoder.encode(sample)
    encoder_rate = len(sample) / (time.perf_counter() - started)

    started = time.perf_counter()
    adapter.prepare(benchmark)
    prepare_seconds = time.perf_counter() - started
    info = adapter.describe()
    n_test = len(load_benchmark("all", benchmark))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run_adapter(adapter, benchmark, Path(tmp) / "pred.jsonl", batch_size=batch_size)
        predict_seconds = time.perf_counter() - started
    return {
        "train_rows": len(split),
        "train_distinct_texts": len(distinct),
        "test_rows": n_test,
        "encoder_texts_per_second": round(encoder_rate, 1),
        "embedding_cache_hit": info["embedding_cache_hit"],
        "prepare_seconds": round(prepare_seconds, 1),
        "predict_seconds": round(predict_seconds, 1),
        "rows_per_second": round(n_test / predict_seconds, 1),
        "estimated_cold_seconds": round(len(distinct) / encoder_rate + predict_seconds, 1),
    }


def bench_chatgen_base(rows: int) -> dict:
    """Time the chatgen-base adapter on a tiny random model over synthetic rows with images."""
    from baselines.chatgen_base import ChatGenBaseAdapter
    from baselines.internvl import system_prompts
    from chatgenbench.benchmark.loading import load_benchmark
    from chatgenbench.benchmark.synth import write_synthetic
    from chatgenbench.predictions.adapters import run_adapter

    with tempfile.TemporaryDirectory() as tmp:
        bench = Path(tmp) / "tiny"
        write_synthetic(bench, rows, seed=1, train_rows=0, n_models=50, images=True)
        dataset = load_benchmark("all", bench)
        prompts = system_prompts()
        texts = [prompts["text"], prompts["image"], *dataset["freestyle_input"]]
        texts += [t["content"] for h in dataset["history"] for t in h]
        chat_model, tokenizer = _tiny_chat_model(texts)
        adapter = ChatGenBaseAdapter(
            chat_model=chat_model, tokenizer=tokenizer, generation={"max_new_tokens": 32}
        )
        started = time.perf_counter()
        run_adapter(adapter, bench, Path(tmp) / "pred.jsonl", batch_size=16)
        seconds = time.perf_counter() - started
        by_type = {t: dataset["input_type"].count(t) for t in set(dataset["input_type"])}
    return {
        "rows": len(dataset),
        "input_types": by_type,
        "model": "tiny random GPT-2 (2 layers, 64 wide) behind InternVL2's chat(); 32 new tokens",
        "seconds": round(seconds, 2),
        "rows_per_second": round(len(dataset) / seconds, 2),
        "parse_status": adapter.describe()["parse_status"],
    }


def main() -> None:
    """Run the measurements and print them; the last line is one JSON object."""
    import torch

    from chatgenbench.benchmark.synth import (
        PAPER_MODELS,
        PAPER_TEST_ROWS,
        PAPER_TRAIN_ROWS,
        write_synthetic,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", help="a synthetic benchmark folder (default: write one)")
    parser.add_argument("--cache-dir", help="retrieval embedding cache (default: a temporary one)")
    parser.add_argument("--rows", type=int, default=PAPER_TEST_ROWS)
    parser.add_argument("--train-rows", type=int, default=PAPER_TRAIN_ROWS)
    parser.add_argument("--models", type=int, default=PAPER_MODELS)
    parser.add_argument("--batch-size", type=int, default=256, help="retrieval rows per batch")
    parser.add_argument("--tiny-rows", type=int, default=48, help="rows for chatgen-base")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        benchmark = Path(args.benchmark) if args.benchmark else Path(tmp) / "synth"
        if not args.benchmark:
            print(f"writing a SYNTHETIC benchmark ({args.rows} test, {args.train_rows} train rows)")
            write_synthetic(benchmark, args.rows, train_rows=args.train_rows, n_models=args.models)
        cache = Path(args.cache_dir) if args.cache_dir else Path(tmp) / "cache"
        retrieval = bench_retrieval(benchmark, cache, args.batch_size)
        print("retrieval:", json.dumps(retrieval))
    chatgen_base = bench_chatgen_base(args.tiny_rows)
    print("chatgen-base (tiny):", json.dumps(chatgen_base))
    gpu = torch.cuda.is_available()
    result = {
        "benchmark": "baselines",
        "synthetic": True,
        "device": "cpu",
        "cpu_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "retrieval": retrieval,
        "chatgen_base_tiny": chatgen_base,
        "chatgen_base_internvl2_2b": {
            "status": "not_measured",
            "reason": "no GPU in this session"
            if not gpu
            else "InternVL2's modelling code is remote code that is not available offline",
            "paper_seconds_per_sample": 1.1,
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
