"""A metric's value in the results: computed with its number, or not computed with the reason.

A metric is never estimated or filled in: :func:`not_computed` carries why it could not be
computed and, where there is one, the command that makes it computable. ``oracle`` marks a
step-wise metric whose step was given the reference values (``evaluate --oracle``).
"""

from __future__ import annotations

from typing import Any

STATUS_COMPUTED = "computed"
STATUS_NOT_COMPUTED = "not_computed"
STATUS_ORACLE = "oracle"


def computed(value: float, n: int, **extra: Any) -> dict[str, Any]:
    """Return a computed metric object."""
    return {"status": STATUS_COMPUTED, "value": float(value), "n": int(n), **extra}


def not_computed(reason: str, how_to_fix: str | None = None, **extra: Any) -> dict[str, Any]:
    """Return a not-computed metric object carrying its reason (and the fix, where there is one)."""
    block = {"status": STATUS_NOT_COMPUTED, "value": None, "reason": reason, **extra}
    if how_to_fix:
        block["how_to_fix"] = how_to_fix
    return block
