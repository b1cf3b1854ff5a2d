"""Turning loosely typed source records into rows of the benchmark schema.

Used for the embedded sample, the official data's converter and the synthetic generator, so that
every source goes through the same normalisation (``'512'`` -> 512, turns -> history, ...).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from chatgenbench.benchmark.schema import INPUT_TYPES, SETTINGS, TRAIN_CONFIG
from chatgenbench.core.errors import KeyMapError, RecordError
from chatgenbench.core.normalize import ARGUMENT_KEYS, has_lone_surrogate, normalize_argument

#: How deep a source record's objects and arrays may nest (real records nest a few levels).
MAX_RECORD_DEPTH = 64


def record_problem(record: Any, max_depth: int = MAX_RECORD_DEPTH) -> str | None:
    """Return why a parsed source record cannot be used as data, or None.

    Two things JSON can carry that the rest of the pipeline cannot: nesting deeper than
    ``max_depth`` (walked here without recursion, so any depth is answered) and text, key or
    value, holding a lone surrogate (``"\\ud800"``), which no UTF-8 file can store. The answer names
    the field (a dotted path) where the problem is.
    """
    stack: list[tuple[Any, str, int]] = [(record, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth >= max_depth:
                at = where if len(where) <= 60 else where[:57] + "..."
                return f"objects or arrays nested more than {max_depth} levels deep (at {at})"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, inner in items:
                if isinstance(key, str) and has_lone_surrogate(key):
                    return f"a field name holds a lone surrogate: {key!r} (in {where or 'the top'})"
                stack.append((inner, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(value, str) and has_lone_surrogate(value):
            shown = value if len(value) <= 40 else value[:37] + "..."
            return (
                f"field {where or '(the record)'} holds a lone surrogate, which UTF-8 text cannot "
                f"carry: {shown!r}"
            )
    return None


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
    ``arguments`` and missing optional fields. Trailing assistant turns of the history (the
    answer turn of a ShareGPT-style ``conversations``) are the answer, not chat history: they are
    dropped and counted under ``"answer_turn_not_history"``. Values that could not be read are counted in
    ``normalised`` under ``"unreadable_<key>"``; casts are counted under ``"cast_<key>"``.
    Raises :class:`RecordError` when ``id`` is absent or the input type is unknown.
    """
    if setting not in (*SETTINGS, TRAIN_CONFIG):
        raise RecordError(f"unknown setting {setting!r}; expected one of {SETTINGS}")
    record_id = record.get("id")
    if record_id is None or _text(record_id).strip() == "":
        raise RecordError("record has no 'id'")
    history = _history(record.get("history", record.get("turns")))
    while history and history[-1]["role"] == "assistant":  # the answer turn is not chat history
        history.pop()
        if normalised is not None:
            normalised["answer_turn_not_history"] += 1
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


def parse_json_text(text: str, where: str) -> Any:
    """Return the value of a JSON text from a release, or raise :class:`KeyMapError` naming
    ``where`` for text that is not JSON or that nests too deeply for the parser."""
    try:
        return json.loads(text)
    except RecursionError:
        raise KeyMapError(
            f"{where}: not readable JSON: arrays or objects nested too deeply"
        ) from None
    except ValueError as error:  # JSONDecodeError, and an integer of too many digits
        raise KeyMapError(f"{where}: not valid JSON ({error})") from None
