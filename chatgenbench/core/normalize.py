"""Type normalisation shared by the converter, validation, scoring and rendering.

The benchmark's own records are messy (``width: '512'``, a model name in the sampler field), and so
are submissions. Everything that compares or casts a value goes through these functions, so that the
scorer and the validator agree on what a value means.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

ARGUMENT_KEYS: tuple[str, ...] = ("sampler", "steps", "cfg_scale", "width", "height")
INTEGER_ARGUMENTS: frozenset[str] = frozenset({"steps", "width", "height"})
NUMERIC_ARGUMENTS: frozenset[str] = frozenset({"steps", "cfg_scale", "width", "height"})

MODEL_FILE_EXTENSIONS: tuple[str, ...] = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
_WHITESPACE = re.compile(r"\s+")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (U+D800..U+DFFF), which no UTF-8 text can carry.

    JSON can spell one (``"\\ud800"``) and Python's parser accepts it; tokenizers, terminals and
    UTF-8 files reject it.
    """
    return _LONE_SURROGATE.search(text) is not None


def printable_text(text: str) -> str:
    """Return ``text`` with each lone surrogate written as a ``\\udXXX`` escape (else unchanged)."""
    if not has_lone_surrogate(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def without_lone_surrogates(text: str) -> str:
    """Return ``text`` with each lone surrogate replaced by U+FFFD, the replacement character."""
    return _LONE_SURROGATE.sub("\ufffd", text) if has_lone_surrogate(text) else text


def normalize_model_name(name: Any) -> str | None:
    """Return the comparison key of a model name, or None when ``name`` is not a usable string.

    Case is folded, runs of whitespace collapse to one space, the ends are stripped, and a trailing
    ``.`` or a weights-file extension such as ``.safetensors`` is removed.

    >>> normalize_model_name("  DevlishPhotorealism_v40.safetensors ")
    'devlishphotorealism_v40'
    """
    if not isinstance(name, str):
        return None
    return _model_key(name)


@functools.lru_cache(maxsize=1 << 16)  # a catalogue lookup per request: 14,564 x several per run
def _model_key(name: str) -> str | None:
    key = _WHITESPACE.sub(" ", name).strip().casefold()
    changed = True
    while changed and key:
        changed = False
        if key.endswith("."):
            key, changed = key[:-1].rstrip(), True
        for extension in MODEL_FILE_EXTENSIONS:
            if key.endswith(extension):
                key, changed = key[: -len(extension)].rstrip(), True
    return key or None


def sampler_key(value: Any) -> str | None:
    """Return the comparison key of a sampler name: case-folded with all whitespace removed."""
    if not isinstance(value, str):
        return None
    key = _WHITESPACE.sub("", value).casefold()
    return key or None


def parse_number(value: Any) -> float | None:
    """Parse an int, float or numeric string into a finite float; None when it is not one.

    Booleans, NaN, infinities, empty strings and strings such as ``'512px'`` are not numbers.

    >>> parse_number("512"), parse_number(7), parse_number(" 7.0 "), parse_number("x")
    (512.0, 7.0, 7.0, None)
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float range (JSON allows any length)
            return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    try:  # numpy scalars and the like
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def parse_integer(value: Any) -> int | None:
    """Parse a value that must be a whole number (``'512'``, ``512.0``); None otherwise."""
    number = parse_number(value)
    if number is None or not number.is_integer():
        return None
    return int(number)


def normalize_argument(key: str, value: Any) -> Any:
    """Return the typed value of one argument: str for ``sampler``, int or float for numbers.

    Returns None when the value is missing or cannot be read as the key's type.
    """
    if key == "sampler":
        return value.strip() if isinstance(value, str) and value.strip() else None
    if key in INTEGER_ARGUMENTS:
        return parse_integer(value)
    if key in NUMERIC_ARGUMENTS:
        return parse_number(value)
    return value


def argument_matches(key: str, predicted: Any, reference: Any) -> bool:
    """Whether a predicted argument equals the reference after type normalisation.

    Numbers compare by value (``'512' == 512``, ``7 == 7.0``); samplers compare case- and
    space-insensitively; a missing or unparsable value on either side is a mismatch.
    """
    if key == "sampler":
        pred_key, ref_key = sampler_key(predicted), sampler_key(reference)
        return pred_key is not None and pred_key == ref_key
    if key in NUMERIC_ARGUMENTS:
        pred_num, ref_num = parse_number(predicted), parse_number(reference)
        return pred_num is not None and ref_num is not None and pred_num == ref_num
    return predicted is not None and predicted == reference
