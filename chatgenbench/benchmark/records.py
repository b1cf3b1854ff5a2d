"""Turning loosely typed source records into rows of the benchmark schema.

Used for the embedded sample, the official data's converter and the synthetic generator, so that
every source goes through the same normalisation (``'512'`` -> 512, turns -> history, ...).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from chatgenbench.benchmark.schema import INPUT_TYPES, SETTINGS, TRAIN_CONFIG
from chatgenbench.core.errors import RecordError
from chatgenbench.core.normalize import ARGUMENT_KEYS, normalize_argument


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _history(value: Any) -> list[dict[str, str]]:
    """Accept a list of strings (user turns) or of ``{role, content}``/``{from, value}`` dicts."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    turns = []
    for turn in value:
        if isinstance(turn, dict):
            role = turn.get("role", turn.get("from", "user"))
            content = turn.get("content", turn.get("value", turn.get("text", "")))
            role = {"human": "user", "gpt": "assistant"}.get(str(role), str(role))
            turns.append({"role": role, "content": _text(content)})
        else:
            turns.append({"role": "user", "content": _text(turn)})
    return turns


def to_row(
    record: dict[str, Any], *, setting: str, normalised: Counter | None = None
) -> dict[str, Any]:
    """Return the benchmark row for one source record.

    ``record`` may carry ``turns`` or ``history`` instead of ``freestyle_input``, string numbers in
    ``arguments`` and missing optional fields. Values that could not be read are counted in
    ``normalised`` under ``"unreadable_<key>"``; casts are counted under ``"cast_<key>"``.
    Raises :class:`RecordError` when ``id`` is absent or the input type is unknown.
    """
    if setting not in (*SETTINGS, TRAIN_CONFIG):
        raise RecordError(f"unknown setting {setting!r}; expected one of {SETTINGS}")
    record_id = record.get("id")
    if record_id is None or _text(record_id).strip() == "":
        raise RecordError("record has no 'id'")
    history = _history(record.get("history", record.get("turns")))
    freestyle = _text(record.get("freestyle_input"))
    if not freestyle and history:
        user_turns = [turn["content"] for turn in history if turn["role"] == "user"]
        freestyle = user_turns[-1] if user_turns else history[-1]["content"]
    input_type = record.get("input_type")
    if input_type is None:
        if len(history) > 1:
            input_type = "history"
        elif record.get("reference_images"):
            input_type = "multimodal"
        else:
            input_type = "single"
    if input_type not in INPUT_TYPES:
        raise RecordError(f"record {record_id}: unknown input_type {input_type!r}")
    if input_type != "history" and len(history) <= 1:
        history = []

    raw_arguments = record.get("arguments") or {}
    if not isinstance(raw_arguments, dict):
        raw_arguments = {}
    arguments: dict[str, Any] = {}
    for key in ARGUMENT_KEYS:
        raw = raw_arguments.get(key)
        value = normalize_argument(key, raw)
        if normalised is not None:
            if raw is not None and value is None:
                normalised[f"unreadable_{key}"] += 1
            elif raw is not None and type(raw) is not type(value):
                normalised[f"cast_{key}"] += 1
        arguments[key] = value

    images = record.get("reference_images") or []
    return {
        "id": _text(record_id).strip(),
        "setting": setting,
        "input_type": input_type,
        "freestyle_input": freestyle,
        "history": history,
        "reference_images": list(images),
        "prompt": _text(record.get("prompt")),
        "negative_prompt": _text(record.get("negative_prompt")),
        "model": _text(record.get("model")).strip(),
        "model_description": _text(record.get("model_description")),
        "arguments": arguments,
        "image": record.get("image"),
        "source": _text(record.get("source")),
    }
