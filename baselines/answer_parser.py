"""Turning an MLLM's free-text answer into a prediction: prompt, negative prompt, model, arguments.

ChatGen models answer with a prompt, a ``negativePrompt``, a model and its parameters, usually as a
JSON object, but a generative model's text is not guaranteed to be well formed. The parser tries, in
order, and records which one worked (``ParsedAnswer.format``):

1. ``json``: the first balanced ``{...}`` object (inside a code fence or not) read as JSON;
2. ``json-repaired``: the same after mechanical repairs: curly quotes, Python literals
   (``True``/``None``), single-quoted strings, trailing commas, ``//`` comments;
3. ``labelled``: ``Key: value`` lines (``Prompt:``, ``Negative prompt:``, ``Model:``, ...) and
   A1111 parameter lines (``Steps: 30, Sampler: Euler a, CFG scale: 7, Size: 512x768``).

Keys are matched case-, space- and underscore-insensitively against :data:`KEY_ALIASES`; a nested
``parameters``/``arguments``/``config`` object is merged. Nothing is evaluated: text is only ever
parsed as data. Values are normalised (``"512"`` -> 512, ``"512x768"`` -> width and height, sampler
names to their A1111 spelling); a value outside the prediction file's accepted range is dropped and
noted, and a prompt longer than the file's limit is cut and noted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from chatgenbench.benchmark.samplers import canonical_sampler
from chatgenbench.core.normalize import parse_number
from chatgenbench.predictions.report import LIMITS, RANGES

ParseStatus = Literal["parsed", "partial", "unparsed"]

#: Normalised key (lowercase, letters and digits only) -> field of the prediction.
KEY_ALIASES: dict[str, str] = {
    "prompt": "prompt",
    "positiveprompt": "prompt",
    "professionalprompt": "prompt",
    "positive": "prompt",
    "negativeprompt": "negative_prompt",
    "negative": "negative_prompt",
    "professionalnegativeprompt": "negative_prompt",
    "negprompt": "negative_prompt",
    "model": "model",
    "modelname": "model",
    "checkpoint": "model",
    "ckpt": "model",
    "lora": "model",
    "sdmodel": "model",
    "sampler": "sampler",
    "samplername": "sampler",
    "samplingmethod": "sampler",
    "scheduler": "sampler",
    "steps": "steps",
    "samplingsteps": "steps",
    "numinferencesteps": "steps",
    "cfgscale": "cfg_scale",
    "cfg": "cfg_scale",
    "guidancescale": "cfg_scale",
    "guidance": "cfg_scale",
    "width": "width",
    "height": "height",
    "size": "size",
    "resolution": "size",
    "dimensions": "size",
    "seed": "seed",
}
#: Keys whose value is an object of further fields (merged into the answer).
NESTED_KEYS: frozenset[str] = frozenset(
    {"parameters", "params", "arguments", "args", "config", "settings", "generationparameters"}
)
ARGUMENT_FIELDS: tuple[str, ...] = ("sampler", "steps", "cfg_scale", "width", "height")
_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.S)
_SIZE = re.compile(r"(\d{2,5})\s*(?:x|×|\*|by|,)\s*(\d{2,5})", re.I)
_LEADING_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)")
_LABEL = re.compile(
    r"^[\s>*#\-]*\**\s*[\"']?([A-Za-z][A-Za-z _\-]{0,30}?)[\"']?\s*\**\s*[:=]\s*(.*)$"
)
_MAX_ANSWER_CHARS = 100_000
_CURLY = {0x201C: '"', 0x201D: '"', 0x2018: "'", 0x2019: "'"}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass
class ParsedAnswer:
    """What could be read from one answer.

    ``status`` is ``parsed`` (prompt, model and the five arguments), ``partial`` (some fields) or
    ``unparsed`` (none). ``notes`` lists what was missing, dropped or cut.
    """

    prompt: str | None = None
    negative_prompt: str | None = None
    model: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    format: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> ParseStatus:
        """``parsed``, ``partial`` or ``unparsed`` (see the class docstring)."""
        have = [self.prompt, self.model, *(self.arguments.get(k) for k in ARGUMENT_FIELDS)]
        if all(value is not None for value in have):
            return "parsed"
        if any(value is not None for value in have) or self.negative_prompt is not None:
            return "partial"
        return "unparsed"

    def missing(self) -> list[str]:
        """Return the prediction fields the answer did not give."""
        missing = [name for name in ("prompt", "model") if getattr(self, name) is None]
        return missing + [f"arguments.{k}" for k in ARGUMENT_FIELDS if k not in self.arguments]


def _balanced_objects(text: str) -> list[str]:
    """Return the top-level ``{...}`` spans of ``text``, respecting quoted strings."""
    spans, depth, start, quote, escaped = [], 0, None, None, False
    for position, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'" and depth:
            # a single quote inside a word (it's, y'know) is an apostrophe, not a string
            if char == "'" and position and text[position - 1].isalnum():
                continue
            quote = char
        elif char == "{":
            if depth == 0:
                start = position
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0 and start is not None:
                spans.append(text[start : position + 1])
    if depth and start is not None:  # an object cut off at the end (max_new_tokens): close it
        spans.append(text[start:] + "}" * depth)
    return spans


def _repair(candidate: str) -> str:
    text = candidate.translate(_CURLY)
    text = re.sub(r"(?m)^\s*//.*$", "", text)
    text = re.sub(r"\bTrue\b", "true", text)
    text = re.sub(r"\bFalse\b", "false", text)
    text = re.sub(r"\bNone\b", "null", text)
    if "'" in text:
        # single-quoted keys and values -> double-quoted (escape inner double quotes)
        text = re.sub(
            r"'((?:[^'\\]|\\.)*)'(?=\s*[:,}\]])|(?<=[:\[,{]\s)'((?:[^'\\]|\\.)*)'|(?<=[:\[,{])'((?:[^'\\]|\\.)*)'",
            lambda m: json.dumps(next(g for g in m.groups() if g is not None)),
            text,
        )
    text = re.sub(r",(\s*,)+", ",", text)
    text = re.sub(r",\s*([}\]])", r"\1", text)
    text = re.sub(r'"\s*\n\s*"', '",\n"', text)  # a missing comma between two lines
    return text


def _json_candidates(text: str) -> list[str]:
    blocks = [m.group(1) for m in _FENCE.finditer(text)]
    candidates: list[str] = []
    for block in [*blocks, text]:
        candidates.extend(_balanced_objects(block))
    return candidates


def _parse_json(text: str) -> tuple[dict[str, Any] | None, str | None]:
    candidates = _json_candidates(text)
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(value, dict):
            return value, "json"
    straightened = text.translate(_CURLY)
    if straightened != text:
        candidates = _json_candidates(straightened)
    for candidate in candidates:
        try:
            value = json.loads(_repair(candidate))
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(value, dict):
            return value, "json-repaired"
    return None, None


def _flatten(mapping: dict[str, Any], out: dict[str, Any], depth: int = 0) -> None:
    for raw_key, value in mapping.items():
        key = _key(str(raw_key))
        if key in NESTED_KEYS and isinstance(value, dict) and depth < 3:
            _flatten(value, out, depth + 1)
        elif key in KEY_ALIASES:
            out.setdefault(KEY_ALIASES[key], value)
        elif isinstance(value, dict) and depth < 3:
            _flatten(value, out, depth + 1)


def _parse_labelled(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    current: str | None = None
    for line in text.splitlines():
        pairs = _parameter_line(line)
        if pairs:
            for name, value in pairs.items():
                found.setdefault(name, value)
            current = None
            continue
        match = _LABEL.match(line)
        name = KEY_ALIASES.get(_key(match.group(1))) if match else None
        if match and name:
            value = match.group(2).strip()
            if len(value) >= 3 and value.endswith(",") and value[-2] in "\"'":
                value = value[:-1]  # a JSON-like line: "prompt": "...",
            value = value.strip("*").strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            if name in found and name in ("prompt", "negative_prompt"):
                current = None
                continue
            found[name] = value
            current = name if name in ("prompt", "negative_prompt") else None
        elif match and _key(match.group(1)) in NESTED_KEYS:
            current = None
        elif current and line.strip() and not line.lstrip().startswith(("```", "#")):
            found[current] = f"{found[current]} {line.strip()}".strip()
        elif not line.strip():
            current = None
    return found


def _parameter_line(line: str) -> dict[str, Any]:
    """Read an A1111 line ``Steps: 30, Sampler: Euler a, CFG scale: 7, Size: 512x768``."""
    pieces = re.split(r",\s*(?=[A-Za-z][A-Za-z _]{0,25}:)", line.strip())
    pairs: dict[str, Any] = {}
    for piece in pieces:
        label, sep, value = piece.partition(":")
        name = KEY_ALIASES.get(_key(label))
        if sep and name and name not in ("prompt", "negative_prompt"):
            pairs[name] = value.strip()
    return pairs if len(pairs) >= 2 else {}


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip().strip('"').strip()
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return ", ".join(v.strip() for v in value)
    return None


def _model_text(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("name", "model", "title", "id"):
            if isinstance(value.get(key), str):
                return value[key].strip() or None
        return None
    if isinstance(value, list) and value:
        return _model_text(value[0])
    if isinstance(value, str):
        value = re.sub(r"\s*\(.*\)\s*$", "", value.strip())  # "name (a LoRA for ...)"
        value = value.strip("`\"' ").strip()
        return value or None
    return None


def _number(value: Any) -> float | None:
    number = parse_number(value)
    if number is None and isinstance(value, str):
        match = _LEADING_NUMBER.match(value)
        number = float(match.group(1)) if match else None
    return number


def parse_answer(text: Any) -> ParsedAnswer:
    """Parse one free-text answer into a :class:`ParsedAnswer` (never raises on bad text)."""
    answer = ParsedAnswer()
    if not isinstance(text, str) or not text.strip():
        answer.notes.append("empty answer")
        return answer
    if len(text) > _MAX_ANSWER_CHARS:
        text = text[:_MAX_ANSWER_CHARS]
        answer.notes.append(f"answer cut to {_MAX_ANSWER_CHARS} characters before parsing")
    found: dict[str, Any] = {}
    mapping, answer.format = _parse_json(text)
    if mapping is not None:
        _flatten(mapping, found)
    if not found:
        found = _parse_labelled(text)
        answer.format = "labelled" if found else None
    _fill(answer, found)
    for name in answer.missing():
        answer.notes.append(f"no {name}")
    return answer


def _fill(answer: ParsedAnswer, found: dict[str, Any]) -> None:
    for name in ("prompt", "negative_prompt"):
        value = _text(found.get(name))
        if value is not None:
            limit = LIMITS[f"{name}_chars"]
            if len(value) > limit:
                answer.notes.append(f"{name} cut from {len(value)} to {limit} characters")
                value = value[:limit]
            setattr(answer, name, value)
    answer.model = _model_text(found.get("model"))
    sampler = _text(found.get("sampler"))
    if sampler:
        answer.arguments["sampler"] = canonical_sampler(sampler) or sampler
    size = found.get("size")
    if isinstance(size, str) and (match := _SIZE.search(size)):
        found.setdefault("width", match.group(1))
        found.setdefault("height", match.group(2))
    elif isinstance(size, list | tuple) and len(size) == 2:
        found.setdefault("width", size[0])
        found.setdefault("height", size[1])
    for key in ("steps", "cfg_scale", "width", "height", "seed"):
        if found.get(key) is None:
            continue
        number = _number(found[key])
        if number is None:
            answer.notes.append(f"unreadable {key}: {str(found[key])[:40]!r}")
            continue
        low, high = RANGES[key]
        if not low <= number <= high:
            answer.notes.append(f"{key} {number:g} outside [{low:g}, {high:g}]: dropped")
            continue
        if key == "cfg_scale":
            answer.arguments[key] = number
        elif number == int(number):
            answer.arguments[key] = int(number)
        else:
            answer.notes.append(f"{key} {number:g} is not an integer: dropped")


def resolve_model(name: str | None, catalog, *, cutoff: float = 0.9) -> tuple[str | None, str]:
    """Map a parsed model name onto the catalogue.

    Returns ``(name, how)`` with ``how`` one of ``exact`` (same after normalisation), ``close`` (one
    catalogue name with a ``difflib`` similarity of at least ``cutoff`` after normalisation, e.g. a
    dropped character), ``unknown`` (kept as written: validation counts it as a wrong model) or
    ``missing``.
    """
    import difflib

    from chatgenbench.core.normalize import normalize_model_name

    if name is None:
        return None, "missing"
    entry = catalog.get(name)
    if entry is not None:
        return entry.name, "exact"
    key = normalize_model_name(name)
    if key:
        by_key = {normalize_model_name(n): n for n in catalog.names()}
        close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=cutoff)
        if close:
            return by_key[close[0]], "close"
    return name, "unknown"
