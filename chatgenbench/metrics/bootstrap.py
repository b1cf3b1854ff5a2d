"""Seeded percentile bootstrap intervals: how every metric (image, step-wise, comparisons) draws one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bootstrap:
    """How per-image metrics draw their confidence interval: a seeded percentile bootstrap."""

    resamples: int = 1000
    level: float = 0.95
    seed: int = 0


@dataclass
class BootstrapCI:
    """A percentile bootstrap confidence interval of a mean."""

    low: float
    high: float
    level: float
    resamples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """Return the interval as a JSON-ready dict."""
        return {
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "resamples": self.resamples,
            "seed": self.seed,
            "method": "percentile bootstrap of the mean",
        }


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> BootstrapCI | None:
    """Return a seeded percentile bootstrap interval of the mean of ``values`` (None for < 2 values).

    >>> ci = bootstrap_ci([1.0, 2.0, 3.0, 4.0], seed=0)
    >>> 1.0 <= ci.low <= 2.5 <= ci.high <= 4.0
    True
    """
    if len(values) < 2:
        return None
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    import numpy as np

    data = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(data), size=(resamples, len(data)))
    means = data[index].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return BootstrapCI(float(low), float(high), level, resamples, seed)
