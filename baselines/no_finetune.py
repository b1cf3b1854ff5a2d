"""``no-finetune``: the paper's "Baseline" (Table 4).

The freestyle input is the prompt (for a history, the user turns joined with ``". "``), with one
default Stable Diffusion model and fixed default arguments, whatever the request. Both are settings
(``-o model=... -o arguments.steps=25``).

Optional variant: ``-o rewriter=PATH`` names a local instruction-following causal LM that rewrites
the request into a prompt in context: :data:`REWRITE_INSTRUCTION`, then up to ``n_examples``
``Request:``/``Prompt:`` pairs drawn (seeded) from the benchmark's train split when it has one
(none otherwise: never from the rows being predicted), then the request. With a chat template the
tokenizer's template lays this out as system/user/assistant turns. Decoding is greedy; the first
line of the answer is the prompt, and an empty answer falls back to the user's words (noted).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from baselines.causal_lm import load_causal_lm
from baselines.readable_text import chat_as_prompt
from baselines.train_split import load_train_split

DEFAULT_MODEL = "v1-5-pruned-emaonly"
DEFAULT_ARGUMENTS: dict[str, Any] = {
    "sampler": "Euler a",
    "steps": 30,
    "cfg_scale": 7.0,
    "width": 512,
    "height": 512,
}
REWRITE_INSTRUCTION = (
    "Rewrite the user's request for a text-to-image model as one professional Stable Diffusion "
    "prompt: comma-separated tags for subject, style, lighting and quality. Answer with the prompt "
    "only."
)


def rewrite_messages(request: str, examples: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """Return the in-context rewrite as chat messages (system, example turns, the request)."""
    messages = [{"role": "system", "content": REWRITE_INSTRUCTION}]
    for example_request, example_prompt in examples:
        messages.append({"role": "user", "content": example_request})
        messages.append({"role": "assistant", "content": example_prompt})
    messages.append({"role": "user", "content": request})
    return messages


def rewrite_text(request: str, examples: Sequence[tuple[str, str]]) -> str:
    """Return the in-context rewrite as plain text, for a tokenizer without a chat template."""
    parts = [REWRITE_INSTRUCTION, ""]
    for example_request, example_prompt in examples:
        parts += [f"Request: {example_request}", f"Prompt: {example_prompt}", ""]
    parts += [f"Request: {request}", "Prompt:"]
    return "\n".join(parts)


def first_line(answer: str) -> str:
    """Return the first non-empty line of an answer, without a ``Prompt:`` label or quotes."""
    for line in answer.splitlines():
        line = line.strip()
        if line.lower().startswith("prompt:"):
            line = line[len("prompt:") :].strip()
        line = line.strip("\"'` ")
        if line:
            return line
    return ""


@dataclass
class NoFinetuneAdapter:
    """The chat as prompt (or an LLM's rewrite of it), ``model`` and ``arguments`` fixed."""

    model: str = DEFAULT_MODEL
    arguments: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ARGUMENTS))
    rewriter: str | None = None
    rewriter_trust_remote_code: bool = False
    n_examples: int = 3
    max_new_tokens: int = 77
    max_prompt_chars: int = 4000
    device: str | None = None
    seed: int = 0
    rewriter_lm: Any = None
    rewriter_tokenizer: Any = None
    name: str = "no-finetune"
    _examples: list[tuple[str, str]] = field(default_factory=list, init=False, repr=False)
    _counts: Counter = field(default_factory=Counter, init=False, repr=False)

    def __post_init__(self) -> None:
        self.arguments = {**DEFAULT_ARGUMENTS, **(self.arguments or {})}
        if self.rewriter and self.rewriter_lm is None:
            from baselines.checkpoint_check import check_checkpoint

            check_checkpoint(
                self.rewriter,
                role="no-finetune -o rewriter",
                how_to_get="pass -o rewriter= a local instruction-following causal LM folder",
            )

    @property
    def rewrites(self) -> bool:
        """Whether an LLM rewrites the prompt."""
        return self.rewriter is not None or self.rewriter_lm is not None

    def prepare(self, benchmark) -> None:
        """For the rewrite variant: load the LLM and draw in-context examples from the train split."""
        if not self.rewrites:
            return
        if self.rewriter_lm is None:
            self.rewriter_lm, self.rewriter_tokenizer = load_causal_lm(
                self.rewriter, device=self.device, trust_remote_code=self.rewriter_trust_remote_code
            )
        split = load_train_split(benchmark)
        self._examples = []
        if split is not None and len(split) and self.n_examples > 0:
            chosen = random.Random(self.seed).sample(
                range(len(split)), min(self.n_examples, len(split))
            )
            self._examples = [(split.texts[i], split.prompts[i]) for i in chosen]

    def _rewrite(self, request: str) -> str:
        import torch

        tokenizer, lm = self.rewriter_tokenizer, self.rewriter_lm
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(
                rewrite_messages(request, self._examples),
                tokenize=False,
                add_generation_prompt=True,
            )
        else:
            text = rewrite_text(request, self._examples)
        encoded = tokenizer(text, return_tensors="pt").to(next(lm.parameters()).device)
        with torch.inference_mode():
            output = lm.generate(
                **encoded,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        answer = tokenizer.decode(
            output[0, encoded["input_ids"].shape[1] :], skip_special_tokens=True
        )
        return answer

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return one prediction per row."""
        from chatgenbench.predictions.adapters import NOTES_KEY

        predictions = []
        for row in rows:
            request = chat_as_prompt(row)
            prediction: dict[str, Any] = {
                "id": row["id"],
                "prompt": request,
                "negative_prompt": "",
                "model": self.model,
                "arguments": dict(self.arguments),
            }
            if self.rewrites:
                raw = self._rewrite(request)
                prompt = first_line(raw)[: self.max_prompt_chars]
                if prompt:
                    prediction["prompt"] = prompt
                    self._counts["rewritten"] += 1
                else:
                    prediction[NOTES_KEY] = {
                        "notes": ["empty rewrite: the user's words"],
                        "raw": raw,
                    }
                    self._counts["empty_rewrite"] += 1
            predictions.append(prediction)
        return predictions

    def describe(self) -> dict[str, Any]:
        """Return the settings that made the predictions."""
        info: dict[str, Any] = {"model": self.model, "arguments": self.arguments}
        if self.rewrites:
            info["rewriter"] = {
                "model": self.rewriter or type(self.rewriter_lm).__name__,
                "instruction": REWRITE_INSTRUCTION,
                "n_examples": len(self._examples),
                "examples_from": "train split" if self._examples else "none (zero-shot)",
                "max_new_tokens": self.max_new_tokens,
                "decoding": "greedy",
                "seed": self.seed,
                "counts": dict(self._counts),
            }
        return info
