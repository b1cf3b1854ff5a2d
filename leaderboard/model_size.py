"""One field for a method's size: ``model_size``, the parameter count of the method.

Submissions once had two fields that looked alike: ``model_size`` (free text, shown as the
ranking's ``Size``, e.g. ``2B``) and ``parameters`` (a count, shown as ``Params`` among the
efficiency figures, e.g. ``2.21B``). They meant the same thing at two precisions. Now there is one,
``model_size``: a parameter count (``2.21B``, ``350M``, ``123456``), optionally followed by a note
in parentheses (``22M (all-MiniLM-L6-v2 encoder)``), or ``-`` when not applicable. The ranking's
``Params`` is read from it (:func:`model_size_count`).

A stored ``meta.yaml`` that still has ``parameters`` is read as if merged
(:func:`merge_model_size`: the count of ``parameters``, which is the more precise, with the note of
``model_size``), so every page and command sees one field. The files themselves are rewritten by
the maintainer with :mod:`leaderboard.meta_migration`.
"""

from __future__ import annotations

import re
from typing import Any

from chatgenbench.predictions.efficiency import parse_parameters

#: The field that is merged into ``model_size``.
LEGACY_FIELD = "parameters"
_NOTE = re.compile(r"^\s*(?P<count>[^()]*?)\s*(?:\((?P<note>.*)\))?\s*$", re.DOTALL)


def model_size_count(text: Any) -> int | None:
    """Return the parameter count that a ``model_size`` starts with (``2.21B (LoRA)`` ->
    2210000000), or None for ``-``, an empty value or text that starts with no count."""
    if text is None:
        return None
    found = _NOTE.match(str(text))
    count = found.group("count") if found else str(text)
    if count.strip() in ("", "-"):
        return None
    try:
        return parse_parameters(count)
    except ValueError:
        return None


def _note(text: str) -> str:
    """Return the note of a ``model_size`` (``(...)``) or, when it starts with no count, all
    of it."""
    if model_size_count(text) is None:
        return "" if text.strip() in ("", "-") else text.strip()
    found = _NOTE.match(text)
    return (found.group("note") or "").strip() if found else ""


def merge_model_size(data: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
    """Return ``(data with parameters merged into model_size, what was done, problem)``.

    - ``parameters`` absent: ``data`` as it is, ``what`` None;
    - ``parameters`` empty: it is dropped;
    - ``model_size`` empty or ``-``: ``model_size`` becomes ``parameters``;
    - otherwise the count of ``parameters`` (the more precise) with the note of ``model_size``:
      ``2B`` + ``2.21B`` -> ``2.21B``; ``22M (encoder)`` + ``22.7M`` -> ``22.7M (encoder)``;
      ``LoRA on SD`` + ``1B`` -> ``1B (LoRA on SD)``.

    ``problem`` names the field, the value and what was expected when ``parameters`` is not a
    parameter count (it is then dropped, not merged, and metadata validation refuses the whole).
    """
    if LEGACY_FIELD not in data:
        return data, None, None
    legacy = data[LEGACY_FIELD]
    merged = {key: value for key, value in data.items() if key != LEGACY_FIELD}
    if legacy is None or (isinstance(legacy, str) and not legacy.strip()):
        return merged, "dropped an empty 'parameters'", None
    try:
        if isinstance(legacy, bool) or not isinstance(legacy, str | int | float):
            raise ValueError(f"expected text, got {type(legacy).__name__}")
        parse_parameters(legacy)
    except ValueError as error:
        problem = (
            f"metadata field 'parameters' (now part of 'model_size'): {error}; "
            "give the count in model_size instead"
        )
        return merged, None, problem
    legacy_text = str(legacy).strip()
    size = data.get("model_size")
    size_text = str(size).strip() if isinstance(size, str | int | float) else ""
    note = _note(size_text)
    merged["model_size"] = f"{legacy_text} ({note})" if note else legacy_text
    what = (
        f"model_size {merged['model_size']!r} from model_size {size_text or '-'!r} and "
        f"parameters {legacy_text!r}"
    )
    return merged, what, None
