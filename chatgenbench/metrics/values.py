"""A metric's value in the results: computed with its number, or not computed with the reason.

A metric is never estimated or filled in: :func:`not_computed` carries why it could not be
computed and, where there is one, the command that makes it computable. ``oracle`` marks a
step-wise metric whose step was given the reference values (``evaluate --oracle``).

An image metric's :meth:`~chatgenbench.metrics.base.ImageMetric.compute` returns a
:class:`MetricValue`: the number, with what it averages over and the further keys of its block.
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


class MetricValue(float):
    """A computed metric: the value on its display scale (it *is* that float), plus ``n`` (what it
    averages over), ``per_image`` (id -> raw score, where the metric has per-image scores) and
    ``details`` (further keys of its results block, e.g. ``ci``).

    >>> value = MetricValue(63.5, n=2, per_image={"a": 0.6, "b": 0.67})
    >>> round(value + 1, 1), value.n
    (64.5, 2)
    """

    n: int
    per_image: dict[str, float]
    details: dict[str, Any]

    def __new__(
        cls,
        value: float,
        *,
        n: int,
        per_image: dict[str, float] | None = None,
        details: dict[str, Any] | None = None,
    ) -> MetricValue:
        self = super().__new__(cls, value)
        self.n = int(n)
        self.per_image = dict(per_image or {})
        self.details = dict(details or {})
        return self
