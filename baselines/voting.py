"""Majority votes over neighbours or demonstrations, shared by ``retrieval`` and ``chatgen-evo``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any


def most_common(values: Sequence[Any]) -> Any:
    """Return the most common value; among equals, the one seen first (callers order nearest first).

    >>> most_common(["b", "a", "a", "b", "c"])
    'b'
    """
    counts = Counter(values)
    best = max(counts.values())
    return next(value for value in values if counts[value] == best)


def majority_arguments(candidates: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Return the most common ``sampler``, ``steps`` and ``cfg_scale`` (each on its own) and the
    most common ``width x height`` pair (together, so the size is one that was used).

    Null values are ignored; a key no candidate has is left out.
    """
    arguments: dict[str, Any] = {}
    for key in ("sampler", "steps", "cfg_scale"):
        values = [c[key] for c in candidates if c and c.get(key) is not None]
        if values:
            arguments[key] = most_common(values)
    sizes = [
        (c["width"], c["height"])
        for c in candidates
        if c and c.get("width") is not None and c.get("height") is not None
    ]
    if sizes:
        arguments["width"], arguments["height"] = most_common(sizes)
    if isinstance(arguments.get("cfg_scale"), float):
        arguments["cfg_scale"] = round(arguments["cfg_scale"], 4)  # float32 storage noise
    return arguments
