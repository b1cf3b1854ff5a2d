"""The plain text the baselines read from a benchmark row or a catalogue entry.

A row's user words (:func:`chat_as_prompt`: the freestyle input, or a history's user turns joined)
are what every baseline embeds, rewrites or selects a model from; a catalogue name split into words
(:func:`readable_model_name`) is what the retrieval encoder and the ModelTokens initialisation read
beside the model's description.
"""

from __future__ import annotations

import re
from typing import Any

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|[_\-]+")


def chat_as_prompt(row: dict[str, Any]) -> str:
    """Return the user's words as a prompt: the input, or a history's user turns joined."""
    turns = [t["content"].strip() for t in row.get("history") or [] if t.get("role") == "user"]
    if len(turns) > 1:
        return ". ".join(turn.rstrip(".") for turn in turns if turn)
    return (row.get("freestyle_input") or "").strip()


def readable_model_name(name: str) -> str:
    """Split a catalogue name into words: ``samaritan3dCartoon_v40SDXL`` -> ``samaritan3d Cartoon v40SDXL``."""
    return " ".join(part for part in _CAMEL.split(name) if part)
