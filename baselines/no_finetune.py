"""``no-finetune``: the paper's "Baseline" (Table 4).

The freestyle input is the prompt (for a history, the user turns joined with ``". "``), with one
default Stable Diffusion model and fixed default arguments, whatever the request. Both are settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODEL = "v1-5-pruned-emaonly"
DEFAULT_ARGUMENTS: dict[str, Any] = {
    "sampler": "Euler a",
    "steps": 30,
    "cfg_scale": 7.0,
    "width": 512,
    "height": 512,
}


def chat_as_prompt(row: dict[str, Any]) -> str:
    """Return the user's words as a prompt: the input, or a history's user turns joined."""
    turns = [t["content"].strip() for t in row.get("history") or [] if t.get("role") == "user"]
    if len(turns) > 1:
        return ". ".join(turn.rstrip(".") for turn in turns if turn)
    return (row.get("freestyle_input") or "").strip()


@dataclass
class NoFinetuneAdapter:
    """The chat as prompt, with ``model`` and ``arguments`` fixed for every request."""

    model: str = DEFAULT_MODEL
    arguments: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ARGUMENTS))
    name: str = "no-finetune"

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return one prediction per row."""
        return [
            {
                "id": row["id"],
                "prompt": chat_as_prompt(row),
                "negative_prompt": "",
                "model": self.model,
                "arguments": dict(self.arguments),
            }
            for row in rows
        ]
