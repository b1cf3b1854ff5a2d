"""The adapter contract that every baseline implements, and the registry of baselines.

An adapter takes a batch of benchmark rows (dicts of :mod:`chatgenbench.schema`) and returns one
prediction dict per row (the prediction-file format of :mod:`chatgenbench.predictions`).
Implementations live one per module in the top-level ``baselines/`` package and are registered
here by name, loaded lazily.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from chatgenbench.registry import Registry


@runtime_checkable
class Adapter(Protocol):
    """A system under test: benchmark rows in, predictions out."""

    name: str

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return one prediction dict (``id, prompt, negative_prompt, model, arguments``) per row."""
        ...


ADAPTERS: Registry = Registry("baseline")
ADAPTERS.register(
    "no-finetune",
    "baselines.no_finetune:NoFinetuneAdapter",
    description="the paper's Baseline: the chat as prompt, one default model, fixed arguments",
)


def run_adapter(
    adapter: Adapter,
    benchmark: str | os.PathLike = "sample",
    out: str | os.PathLike = "predictions.jsonl",
    *,
    setting: str = "all",
    batch_size: int = 32,
    progress: bool = True,
) -> Path:
    """Run ``adapter`` over a benchmark and write its predictions as JSONL (atomically)."""
    from tqdm.auto import tqdm

    from chatgenbench.benchmark import load_benchmark
    from chatgenbench.storage import atomic_write_text

    dataset = load_benchmark(setting, benchmark)
    lines: list[str] = []
    bar = tqdm(
        total=len(dataset), desc=f"baseline {adapter.name}", unit="row", disable=not progress
    )
    for start in range(0, len(dataset), batch_size):
        batch = dataset.select(range(start, min(start + batch_size, len(dataset)))).to_list()
        predictions = adapter.predict(batch)
        if len(predictions) != len(batch):
            raise RuntimeError(
                f"adapter {adapter.name!r} returned {len(predictions)} predictions "
                f"for {len(batch)} rows"
            )
        lines.extend(json.dumps(p, ensure_ascii=False) for p in predictions)
        bar.update(len(batch))
    bar.close()
    return atomic_write_text(out, "\n".join(lines) + "\n")
