"""Asking a chat model about one benchmark row, reproducibly: per-row seed, generation defaults.

``chatgen-base`` asks once per row; ``chatgen-evo`` asks the same way for its stage-1 prompt, and
seeds its stage-3 demonstration choice and question with the same per-row seed. The seed depends
on the run's ``seed`` and the row id only, so a row gets the same answer whatever the batch or
order.
"""

from __future__ import annotations

import hashlib
from typing import Any

from baselines.internvl import Conversation, build_conversation, chat

DEFAULT_GENERATION: dict[str, Any] = {"max_new_tokens": 1024, "do_sample": False}


def row_seed(seed: int, row_id: str) -> int:
    """Return a per-row seed: the same row gets the same seed whatever the batch or order."""
    digest = hashlib.sha256(f"{seed}|{row_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def ask(
    chat_model,
    tokenizer,
    row: dict[str, Any],
    prompts: dict[str, str],
    *,
    max_tiles: int,
    generation: dict[str, Any],
    seed: int,
) -> tuple[str, Conversation]:
    """Ask the chat model about one benchmark row, seeded per row.

    The row is laid out by :func:`baselines.internvl.build_conversation` (``prompts``: the system
    prompts, ``max_tiles`` per reference image); ``torch`` is seeded with :func:`row_seed` of
    ``seed`` and the row id before :func:`baselines.internvl.chat` generates with ``generation``.
    Returns ``(raw answer, conversation)``; the conversation's notes name what could not be laid
    out (an unreadable reference image).
    """
    import torch

    conversation = build_conversation(row, prompts, max_tiles=max_tiles)
    torch.manual_seed(row_seed(seed, row["id"]))
    return chat(chat_model, tokenizer, conversation, generation), conversation
