"""``retrieval``: a cheap, CPU-only reference point built on the offline MiniLM encoder.

The user's words (:func:`baselines.readable_text.chat_as_prompt`: the input, or a history's user
turns joined) are embedded with all-MiniLM-L6-v2 (mean pooling, unit norm, cosine similarity).

**With a train split** (mode ``neighbours``; a benchmark folder from ``chatgenbench prepare`` or
``chatgenbench synth`` that has a ``train`` config):

- *neighbours*: every train row whose text is among the ``k`` nearest **distinct** train texts
  (identical texts tie, so they come in together);
- *model*: the most frequent reference model among the neighbours; a tie goes to the model of the
  nearest neighbour;
- *arguments*: among the neighbours that used that model, the most common ``sampler``, ``steps`` and
  ``cfg_scale`` (each on its own) and the most common ``width x height`` pair (together, so that
  the size is one that was used); ties go to the nearest neighbour's value;
- *prompt*: the user's words, then that model's "house tags": the comma-separated tags found in at
  least ``tag_share`` of those neighbours' reference prompts (most frequent first, at most
  ``max_tags``, skipping tags already in the user's words);
- *negative prompt*: the most common reference negative prompt among them.

Train texts are embedded once and cached under ``$CHATGENBENCH_HOME/baselines/retrieval``, keyed by
the benchmark revision and the encoder.

**Without a train split** (mode ``catalog``; e.g. the embedded sample): zero-shot match of the
user's words against each catalogue model's readable name and description; the prompt is the user's
words, the negative prompt empty, and the arguments are the documented defaults of the chosen
model's architecture, :data:`baselines.architecture_defaults.DEFAULT_ARGUMENTS_BY_ARCHITECTURE`
(common community settings, not fitted to any benchmark data; override one with
``-o default_arguments.sd15.steps=25``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from baselines.architecture_defaults import DEFAULT_ARGUMENTS_BY_ARCHITECTURE
from baselines.readable_text import chat_as_prompt, readable_model_name
from baselines.text_encoder import SentenceEncoder
from baselines.train_split import TrainSplit, load_train_split
from baselines.voting import majority_arguments, most_common

RetrievalMode = Literal["auto", "neighbours", "catalog"]


def split_tags(prompt: str) -> list[str]:
    """Return the comma-separated tags of a prompt, stripped, empty ones dropped."""
    return [tag.strip() for tag in (prompt or "").split(",") if tag.strip()]


@dataclass
class _TrainIndex:
    split: TrainSplit
    embeddings: Any  # float32 tensor [n_unique, dim], unit rows
    rows_by_text: list[list[int]]
    cache_file: Path | None
    cache_hit: bool


@dataclass
class RetrievalAdapter:
    """Nearest train rows (or catalogue descriptions) by MiniLM similarity; see the module docstring."""

    k: int = 10
    mode: RetrievalMode = "auto"
    tag_share: float = 0.5
    max_tags: int = 12
    encoder_path: str | None = None
    device: str | None = None
    encode_batch_size: int = 256
    cache_dir: str | None = None
    max_train_rows: int | None = None
    seed: int = 0
    progress: bool = True
    default_arguments: dict[str, dict[str, Any]] = field(
        default_factory=lambda: json.loads(json.dumps(DEFAULT_ARGUMENTS_BY_ARCHITECTURE))
    )
    name: str = "retrieval"
    _encoder: SentenceEncoder | None = field(default=None, init=False, repr=False)
    _index: _TrainIndex | None = field(default=None, init=False, repr=False)
    _catalog: Any = field(default=None, init=False, repr=False)
    _catalog_embeddings: Any = field(default=None, init=False, repr=False)
    _active_mode: str | None = field(default=None, init=False, repr=False)
    _benchmark: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "neighbours", "catalog"):
            raise ValueError(f"mode must be 'auto', 'neighbours' or 'catalog', got {self.mode!r}")
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        if not 0.0 < float(self.tag_share) <= 1.0:
            raise ValueError(f"tag_share must be in (0, 1], got {self.tag_share!r}")
        defaults = json.loads(json.dumps(DEFAULT_ARGUMENTS_BY_ARCHITECTURE))
        for architecture, overrides in (self.default_arguments or {}).items():
            if architecture not in defaults:
                raise ValueError(
                    f"default_arguments: unknown architecture {architecture!r}; "
                    f"expected one of {sorted(defaults)}"
                )
            defaults[architecture].update(overrides)
        self.default_arguments = defaults

    # -- setup -----------------------------------------------------------------------------
    @property
    def encoder(self) -> SentenceEncoder:
        """The sentence encoder (MiniLM unless ``encoder_path`` names another local folder)."""
        if self._encoder is None:
            self._encoder = SentenceEncoder(
                self.encoder_path, device=self.device, batch_size=self.encode_batch_size
            )
        return self._encoder

    def prepare(self, benchmark: str | os.PathLike) -> None:
        """Load the benchmark's catalogue and, where one exists, its train split and embeddings."""
        from chatgenbench.benchmark.loading import BenchmarkError, load_benchmark_catalog

        if self._benchmark == str(benchmark):
            return
        self._benchmark = str(benchmark)
        self._catalog = load_benchmark_catalog(benchmark)
        self._index = None
        split = None
        if self.mode in ("auto", "neighbours"):
            split = load_train_split(benchmark, max_rows=self.max_train_rows, seed=self.seed)
            if split is None and self.mode == "neighbours":
                raise BenchmarkError(
                    f"retrieval mode 'neighbours' needs a train split, and {benchmark} has none; "
                    "use mode=catalog (or auto)"
                )
        if split is not None and len(split):
            self._index = self._build_index(split)
            self._active_mode = "neighbours"
        else:
            self._active_mode = "catalog"
            entries = list(self._catalog)
            texts = [
                f"{readable_model_name(entry.name)}. {entry.description}".strip()
                for entry in entries
            ]
            self._catalog_embeddings = self.encoder.encode(texts)

    def _cache_file(self, split: TrainSplit, digest: str) -> Path:
        from chatgenbench.core.storage import chatgenbench_home

        root = (
            Path(self.cache_dir)
            if self.cache_dir
            else chatgenbench_home() / "baselines" / "retrieval"
        )
        key = hashlib.sha256(f"{split.revision}|{self.encoder.identity}".encode()).hexdigest()[:24]
        return root / f"train-{key}-{digest[:12]}.npy"

    def _build_index(self, split: TrainSplit) -> _TrainIndex:
        import numpy as np
        import torch

        position: dict[str, int] = {}
        rows_by_text: list[list[int]] = []
        for row, text in enumerate(split.texts):
            slot = position.setdefault(text, len(rows_by_text))
            if slot == len(rows_by_text):
                rows_by_text.append([])
            rows_by_text[slot].append(row)
        unique = list(position)
        digest = hashlib.sha256("\0".join(unique).encode("utf-8")).hexdigest()
        cache = self._cache_file(split, digest)
        embeddings, hit = None, False
        if cache.is_file():
            try:
                array = np.load(cache, allow_pickle=False)
                if array.shape[0] == len(unique):
                    embeddings, hit = torch.from_numpy(array.astype(np.float32)), True
            except (OSError, ValueError):
                embeddings = None
        if embeddings is None:
            embeddings = self.encoder.encode(
                unique, progress=self.progress, desc="retrieval: embedding train texts"
            )
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + ".tmp.npy")
            np.save(tmp, embeddings.numpy().astype(np.float16), allow_pickle=False)
            os.replace(tmp, cache)
        return _TrainIndex(split, embeddings, rows_by_text, cache, hit)

    # -- prediction ------------------------------------------------------------------------
    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return one prediction per row (call :meth:`prepare` first; ``run_adapter`` does)."""
        if self._active_mode is None:
            self.prepare("sample")
        texts = [chat_as_prompt(row) for row in rows]
        queries = self.encoder.encode(texts)
        if self._active_mode == "neighbours":
            import torch

            k = min(self.k, self._index.embeddings.shape[0])
            nearest = torch.topk(queries @ self._index.embeddings.T, k, dim=1).indices.tolist()
            return [
                self._from_neighbours(row["id"], text, slots)
                for row, text, slots in zip(rows, texts, nearest)
            ]
        return self._from_catalog(rows, texts, queries)

    def _from_catalog(self, rows, texts, queries) -> list[dict[str, Any]]:
        entries = list(self._catalog)
        best = (queries @ self._catalog_embeddings.T).argmax(dim=1).tolist()
        predictions = []
        for row, text, choice in zip(rows, texts, best):
            entry = entries[choice]
            predictions.append(
                {
                    "id": row["id"],
                    "prompt": text,
                    "negative_prompt": "",
                    "model": entry.name,
                    "arguments": dict(self.default_arguments[entry.architecture]),
                }
            )
        return predictions

    def _from_neighbours(self, row_id: str, text: str, nearest: list[int]) -> dict[str, Any]:
        index = self._index
        assert index is not None
        neighbours = [row for slot in nearest for row in index.rows_by_text[slot]]
        split = index.split
        model = most_common([split.models[row] for row in neighbours])
        own = [row for row in neighbours if split.models[row] == model]
        return {
            "id": row_id,
            "prompt": self._prompt(text, [split.prompts[row] for row in own]),
            "negative_prompt": most_common([split.negative_prompts[row] for row in own]),
            "model": model,
            "arguments": majority_arguments([split.arguments[row] for row in own]),
        }

    def _prompt(self, text: str, neighbour_prompts: list[str]) -> str:
        counts: Counter[str] = Counter()
        first_form: dict[str, str] = {}
        for prompt in neighbour_prompts:
            seen = set()
            for tag in split_tags(prompt):
                key = tag.casefold()
                if key not in seen:
                    seen.add(key)
                    counts[key] += 1
                    first_form.setdefault(key, tag)
        needed = self.tag_share * len(neighbour_prompts)
        lowered = text.casefold()
        tags = [
            first_form[key]
            for key, count in sorted(counts.items(), key=lambda item: -item[1])
            if count >= needed and key not in lowered
        ][: self.max_tags]
        return ", ".join([text.rstrip(" ,"), *tags]) if tags else text

    def describe(self) -> dict[str, Any]:
        """Return the settings that made the predictions (written into the run record)."""
        info: dict[str, Any] = {
            "mode": self._active_mode or self.mode,
            "k": self.k,
            "tag_share": self.tag_share,
            "max_tags": self.max_tags,
            "encoder": self.encoder.identity,
            "encoder_path": str(self.encoder.model_path),
            "default_arguments": self.default_arguments,
        }
        if self._index is not None:
            info.update(
                train_revision=self._index.split.revision,
                train_rows=len(self._index.split),
                train_distinct_texts=len(self._index.rows_by_text),
                embedding_cache=str(self._index.cache_file),
                embedding_cache_hit=self._index.cache_hit,
            )
        return info
