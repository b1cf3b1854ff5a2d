"""Shared fixtures: the embedded sample, perfect predictions, a persistent MiniLM scorer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_rows():
    from chatgenbench import load_benchmark

    return load_benchmark("supervised", "sample").to_list()


@pytest.fixture(scope="session")
def minilm_scorer():
    from chatgenbench.metrics.bertscore import PromptBERTScore

    return PromptBERTScore("minilm", batch_size=16)


def write_jsonl(path: Path, records) -> Path:
    """Write records (dicts or raw strings) one per line."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def perfect_prediction(row: dict) -> dict:
    """A prediction that repeats the reference exactly."""
    return {
        "id": row["id"],
        "prompt": row["prompt"],
        "negative_prompt": row["negative_prompt"],
        "model": row["model"],
        "arguments": {k: v for k, v in row["arguments"].items() if v is not None},
    }
