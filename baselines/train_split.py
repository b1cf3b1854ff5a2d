"""A benchmark's train split, read once into plain columns for the baselines that learn from it.

Used by ``retrieval`` (nearest neighbours), ``chatgen-evo`` (ModelTokens training and in-context
demonstrations) and ``no-finetune``'s optional LLM rewrite (in-context examples).
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from baselines.readable_text import chat_as_prompt
from chatgenbench.core.normalize import normalize_model_name


@dataclass
class TrainSplit:
    """The columns of a train split that the baselines use, row-aligned."""

    revision: str
    texts: list[str]
    prompts: list[str]
    negative_prompts: list[str]
    models: list[str]
    arguments: list[dict[str, Any]]
    _by_model: dict[str, list[int]] | None = field(default=None, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.texts)

    def rows_of_model(self, model: str) -> list[int]:
        """Return the indices of the train rows whose reference model is ``model`` (normalised)."""
        if self._by_model is None:
            by_model: dict[str, list[int]] = defaultdict(list)
            for index, name in enumerate(self.models):
                by_model[normalize_model_name(name) or ""].append(index)
            self._by_model = dict(by_model)
        return self._by_model.get(normalize_model_name(model) or "", [])


def load_train_split(source: str | os.PathLike, *, max_rows: int | None = None, seed: int = 0):
    """Return the :class:`TrainSplit` of a benchmark source, or None when it has none.

    ``max_rows`` keeps a seeded random subset (for quick runs); the revision then says so.
    """
    from chatgenbench.benchmark.loading import load_benchmark, resolve_source
    from chatgenbench.benchmark.schema import TRAIN_CONFIG

    info = resolve_source(source)
    if TRAIN_CONFIG not in info.counts:
        return None
    dataset = load_benchmark(TRAIN_CONFIG, source)
    dataset = dataset.select_columns(
        ["freestyle_input", "history", "prompt", "negative_prompt", "model", "arguments"]
    )
    revision = info.revision
    if max_rows is not None and max_rows < len(dataset):
        dataset = dataset.shuffle(seed=seed).select(range(max_rows))
        revision = f"{revision}+subset{max_rows}-seed{seed}"
    columns = dataset.to_dict()
    rows = [
        {"freestyle_input": text, "history": history}
        for text, history in zip(columns["freestyle_input"], columns["history"])
    ]
    return TrainSplit(
        revision=revision,
        texts=[chat_as_prompt(row) for row in rows],
        prompts=[p or "" for p in columns["prompt"]],
        negative_prompts=[p or "" for p in columns["negative_prompt"]],
        models=columns["model"],
        arguments=columns["arguments"],
    )
