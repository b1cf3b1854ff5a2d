"""ModelTokens (ChatGen-Evo, stage 2): one trainable embedding per catalogue model on a frozen LM.

Each catalogue model gets one vector ``e_m`` appended to the LM head, so the next-token logits after
the selection text become ``[W h ; E h]`` (the vocabulary's, then the models'). Training fits ``E``
alone with the base frozen, by cross-entropy over that concatenated output with the reference
model's token as the target; selection takes the argmax over the model tokens only.

Because the model tokens only ever appear as *outputs*, the frozen base's last hidden state ``h`` of
a training text does not depend on ``E``: it is computed once (:func:`selection_features`), with the
log-sum-exp of the vocabulary logits, and the epochs then run on those features alone. That is the
same loss and gradient as running the LM every step, at a fraction of the cost.

The selection text is :data:`SELECTION_TEMPLATE` filled with the user's words (the input, or a
history's user turns joined) and the prompt (the reference prompt in training; stage 1's prompt at
test time). A trained set is a folder: ``model_tokens.safetensors`` (the ``[n_models, hidden]``
embeddings) and ``model_tokens.json`` (model names, base, template, training settings, losses).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baselines.causal_lm import load_causal_lm
from baselines.readable_text import readable_model_name
from baselines.train_split import load_train_split
from chatgenbench.core.normalize import normalize_model_name

SELECTION_TEMPLATE = "Request: {request}\nPrompt: {prompt}\nModel:"
WEIGHTS_FILENAME = "model_tokens.safetensors"
CONFIG_FILENAME = "model_tokens.json"


def selection_text(request: str, prompt: str, template: str = SELECTION_TEMPLATE) -> str:
    """Return the text after which the model token is predicted."""
    return template.format(request=(request or "").strip(), prompt=(prompt or "").strip())


@dataclass
class ModelTokens:
    """The model-token embeddings ``[n_models, hidden]`` and the names they stand for."""

    names: list[str]
    embeddings: Any  # torch.Tensor [n_models, hidden], float32
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.names) != int(self.embeddings.shape[0]):
            raise ValueError(
                f"{len(self.names)} model names for {int(self.embeddings.shape[0])} embeddings"
            )
        self._index = {normalize_model_name(name): i for i, name in enumerate(self.names)}

    def index(self, name: str) -> int | None:
        """Return the token index of a model name (normalised), or None."""
        return self._index.get(normalize_model_name(name))

    def logits(self, hidden):
        """Return the model-token logits ``hidden @ E.T`` for hidden states ``[n, hidden]``."""
        return hidden.float() @ self.embeddings.T.to(hidden.device)

    def select(self, hidden, allowed=None) -> list[int]:
        """Return the argmax model token per hidden state, optionally among ``allowed`` (bool mask)."""
        logits = self.logits(hidden)
        if allowed is not None:
            logits = logits.masked_fill(~allowed.to(logits.device), float("-inf"))
        return logits.argmax(dim=-1).tolist()

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the embeddings and the config into ``folder``."""
        from safetensors.torch import save_file

        from chatgenbench.core.storage import atomic_write_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{WEIGHTS_FILENAME}.tmp"
        save_file({"embeddings": self.embeddings.detach().float().contiguous().cpu()}, str(tmp))
        os.replace(tmp, folder / WEIGHTS_FILENAME)
        atomic_write_json(folder / CONFIG_FILENAME, {**self.config, "names": self.names})
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> ModelTokens:
        """Read a folder written by :meth:`save` (safetensors: no code is unpickled)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        for name in (WEIGHTS_FILENAME, CONFIG_FILENAME):
            if not (folder / name).is_file():
                raise FileNotFoundError(
                    f"{folder} is not a ModelTokens folder: {name} is missing (train one with "
                    "'chatgenbench baseline train-modeltokens')"
                )
        config = json.loads((folder / CONFIG_FILENAME).read_text(encoding="utf-8"))
        names = config.pop("names")
        return cls(names, load_file(str(folder / WEIGHTS_FILENAME))["embeddings"], config)


def selection_features(
    lm,
    tokenizer,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 256,
    progress: bool = False,
):
    """Return the frozen LM's last hidden state after each text and its vocabulary log-sum-exp.

    Returns ``(hidden [n, hidden] float32, vocab_lse [n] float32)`` on the CPU. Texts are cut from the
    left to ``max_length`` tokens, so the end (where the model token follows) is always kept.
    """
    import torch
    from tqdm.auto import tqdm

    device = next(lm.parameters()).device
    head = lm.get_output_embeddings()
    hidden_out = torch.empty((len(texts), head.weight.shape[1]), dtype=torch.float32)
    lse_out = torch.empty(len(texts), dtype=torch.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    bar = tqdm(total=len(texts), desc="ModelTokens: features", unit="text", disable=not progress)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            encoded = [
                tokenizer(texts[i], add_special_tokens=True)["input_ids"][-max_length:]
                for i in index
            ]
            width = max(len(ids) for ids in encoded)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
            ids = torch.full((len(index), width), pad, dtype=torch.long)
            mask = torch.zeros((len(index), width), dtype=torch.long)
            for row, tokens in enumerate(encoded):  # left padding: the last position is real
                ids[row, width - len(tokens) :] = torch.tensor(tokens, dtype=torch.long)
                mask[row, width - len(tokens) :] = 1
            position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
            outputs = lm(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=position_ids.to(device),
                output_hidden_states=True,
            )
            last = outputs.hidden_states[-1][:, -1, :]
            vocab = outputs.logits[:, -1, :].float()
            hidden_out[torch.tensor(index)] = last.float().cpu()
            lse_out[torch.tensor(index)] = torch.logsumexp(vocab, dim=-1).cpu()
            bar.update(len(index))
    bar.close()
    return hidden_out, lse_out


def initial_embeddings(lm, tokenizer, descriptions: Sequence[str]):
    """Return starting embeddings: the mean LM-head row of each model's description tokens."""
    import torch

    head = lm.get_output_embeddings().weight.detach().float().cpu()
    rows = []
    for text in descriptions:
        ids = [i for i in tokenizer(text, add_special_tokens=False)["input_ids"] if i < len(head)]
        rows.append(head[ids].mean(0) if ids else head.mean(0))
    return torch.stack(rows)


def concatenated_loss(tokens_logits, vocab_lse, targets):
    """Cross-entropy over ``[vocabulary ; model tokens]`` with a model token as the target."""
    import torch

    total = torch.logaddexp(vocab_lse, torch.logsumexp(tokens_logits, dim=-1))
    return (total - tokens_logits.gather(1, targets[:, None]).squeeze(1)).mean()


@dataclass
class TrainingResult:
    """What :func:`train_model_tokens` fitted and how it went."""

    tokens: ModelTokens
    epoch_losses: list[float]
    initial_loss: float
    n_rows: int
    n_skipped: int
    seconds: float


def train_model_tokens(
    lm,
    tokenizer,
    requests: Sequence[str],
    prompts: Sequence[str],
    models: Sequence[str],
    catalog,
    *,
    epochs: int = 3,
    lr: float = 1e-2,
    batch_size: int = 64,
    max_length: int = 256,
    seed: int = 0,
    template: str = SELECTION_TEMPLATE,
    progress: bool = False,
) -> TrainingResult:
    """Fit one embedding per catalogue model on the frozen ``lm`` (see the module docstring).

    ``requests``/``prompts``/``models`` are row-aligned train columns; rows whose model is not in
    ``catalog`` are skipped (counted). Raises ValueError when no row is usable.
    """
    import torch

    lm.eval()
    for parameter in lm.parameters():
        parameter.requires_grad_(False)
    entries = list(catalog)
    names = [entry.name for entry in entries]
    position = {normalize_model_name(name): i for i, name in enumerate(names)}
    keep = [i for i, model in enumerate(models) if normalize_model_name(model) in position]
    if not keep:
        raise ValueError("no train row names a model of the catalogue: nothing to train on")
    targets = torch.tensor([position[normalize_model_name(models[i])] for i in keep])
    texts = [selection_text(requests[i], prompts[i], template) for i in keep]
    started = time.perf_counter()
    hidden, vocab_lse = selection_features(
        lm, tokenizer, texts, batch_size=batch_size, max_length=max_length, progress=progress
    )
    init = initial_embeddings(
        lm,
        tokenizer,
        [f"{readable_model_name(e.name)}. {e.description}" for e in entries],
    )
    embeddings = torch.nn.Parameter(init.clone())
    optimizer = torch.optim.AdamW([embeddings], lr=lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        initial_loss = float(concatenated_loss(hidden @ embeddings.T, vocab_lse, targets))
    epoch_losses = []
    for _ in range(epochs):
        order = torch.randperm(len(keep), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss = concatenated_loss(hidden[batch] @ embeddings.T, vocab_lse[batch], targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        epoch_losses.append(total / len(keep))
    tokens = ModelTokens(names, embeddings.detach().clone())
    return TrainingResult(
        tokens,
        epoch_losses,
        initial_loss,
        len(keep),
        len(models) - len(keep),
        time.perf_counter() - started,
    )


def train_model_tokens_cli(args) -> int:
    """The ``chatgenbench baseline train-modeltokens`` command (arguments: see ``cli.py``)."""
    from baselines.checkpoint_check import check_checkpoint

    check_checkpoint(
        args.base,
        role="train-modeltokens --base",
        how_to_get="pass --base a local causal LM folder (the frozen base the tokens are for)",
    )
    import platform

    import torch

    from chatgenbench.benchmark.loading import (
        BenchmarkError,
        load_benchmark_catalog,
        resolve_source,
    )
    from chatgenbench.core.version import __version__

    split = load_train_split(args.benchmark, max_rows=args.max_rows, seed=args.seed)
    if split is None:
        raise BenchmarkError(
            f"benchmark {args.benchmark!r} has no train split; ModelTokens learn from one "
            "(a folder from 'chatgenbench prepare' of the official data, or 'chatgenbench synth')"
        )
    torch.manual_seed(args.seed)
    catalog = load_benchmark_catalog(args.benchmark)
    lm, tokenizer = load_causal_lm(
        args.base, device=args.device, trust_remote_code=args.trust_remote_code
    )
    result = train_model_tokens(
        lm,
        tokenizer,
        split.texts,
        split.prompts,
        split.models,
        catalog,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        progress=not args.no_progress,
    )
    info = resolve_source(args.benchmark)
    result.tokens.config = {
        "base": str(args.base),
        "hidden_size": int(result.tokens.embeddings.shape[1]),
        "template": SELECTION_TEMPLATE,
        "benchmark": {
            "source": info.source,
            "revision": split.revision,
            "synthetic": info.synthetic,
        },
        "training": {
            "epochs": args.epochs,
            "lr": args.lr,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "seed": args.seed,
            "rows": result.n_rows,
            "rows_skipped_unknown_model": result.n_skipped,
            "initial_loss": result.initial_loss,
            "epoch_losses": result.epoch_losses,
            "seconds": round(result.seconds, 3),
            "objective": "cross-entropy over [vocabulary ; model tokens], base frozen",
        },
        "versions": {
            "chatgenbench": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
    }
    folder = result.tokens.save(args.out)
    print(
        f"trained {len(result.tokens.names)} model tokens on {result.n_rows} rows "
        f"({result.n_skipped} skipped): loss {result.initial_loss:.4f} -> "
        f"{result.epoch_losses[-1]:.4f}; wrote {folder}"
    )
    return 0
