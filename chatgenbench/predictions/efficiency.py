"""Efficiency of a method (the paper's Table 5): seconds per sample, device, parameter count.

An adapter run (:func:`chatgenbench.predictions.adapters.run_adapter`) measures them and writes them into the
run record (``PRED.run.json``: ``efficiency``); a submission that did not come from an adapter
states them in its metadata (``seconds_per_sample``, ``device``, ``parameters``). The leaderboard
shows them as columns, saying where each figure comes from.
"""

from __future__ import annotations

import math
import re
from typing import Any

_PARAMETERS = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMbBtT]?)\s*$")
_SUFFIX = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def parse_parameters(text: Any) -> int | None:
    """Return a parameter count from ``2.21B``, ``350M``, ``8.08 b`` or ``123456`` (None if absent).

    Raises ValueError for text that is not such a count.

    >>> parse_parameters("2.21B"), parse_parameters("350M"), parse_parameters(None)
    (2210000000, 350000000, None)
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, bool):
        raise ValueError(f"not a parameter count: {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text <= 0:
            raise ValueError(f"not a parameter count: {text!r}")
        return int(text)
    found = _PARAMETERS.match(str(text))
    if not found:
        raise ValueError(
            f"not a parameter count: {str(text)[:40]!r}; expected e.g. 2.21B, 350M or 123456"
        )
    count = int(round(float(found.group(1)) * _SUFFIX[found.group(2).lower()]))
    if count <= 0:
        raise ValueError(f"not a parameter count: {str(text)[:40]!r}")
    return count


def parse_seconds(text: Any) -> float | None:
    """Return seconds per sample from ``1.9`` or ``"1.9"`` (None if absent); ValueError otherwise."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        value = float(str(text).strip().removesuffix("s").strip())
    except ValueError:
        raise ValueError(
            f"not a number of seconds: {str(text)[:40]!r}; expected e.g. 1.9"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"not a positive number of seconds: {str(text)[:40]!r}")
    return value


def format_parameters(count: int | None) -> str:
    """Return ``2.21 B`` / ``350 M`` / ``-`` for a parameter count."""
    if count is None:
        return "-"
    for suffix, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g} {suffix}"
    return str(count)


def parameter_count(adapter: Any) -> int | None:
    """Return the parameters of the models an adapter holds, or None when it holds none.

    An adapter may say it itself (``parameter_count()``); otherwise every attribute with a
    ``parameters()`` method (a ``torch.nn.Module``) is counted, each tensor once.
    """
    own = getattr(adapter, "parameter_count", None)
    if callable(own):
        return own()
    seen: set[int] = set()
    total = 0
    for value in vars(adapter).values():
        parameters = getattr(value, "parameters", None)
        if not callable(parameters):
            continue
        try:
            tensors = list(parameters())
        except TypeError:  # a parameters attribute that is not torch's (takes arguments)
            continue
        for tensor in tensors:
            if id(tensor) not in seen and hasattr(tensor, "numel"):
                seen.add(id(tensor))
                total += int(tensor.numel())
    return total or None


def run_efficiency(
    adapter: Any, seconds: float, n_rows: int, describe: dict[str, Any]
) -> dict[str, Any]:
    """Return the ``efficiency`` entry of an adapter run record.

    ``seconds_per_sample`` is the wall time of the rows predicted in this run over their number
    (None when none were predicted); ``device`` the adapter's (its ``device`` attribute or its
    settings), ``parameters`` :func:`parameter_count`.
    """
    device = describe.get("device") or getattr(adapter, "device", None)
    return {
        "seconds_per_sample": round(seconds / n_rows, 6) if n_rows else None,
        "device": str(device) if device else None,
        "parameters": parameter_count(adapter),
        "measured": "wall time of adapter.predict over the rows of this run",
    }
