"""What the image metrics share: per-image score state, bootstrap intervals, the functional forms.

Each image metric is an object with ``update()``, ``compute()``, ``reset()`` and ``merge()``
(torchmetrics-style state that partial workers combine) and a functional twin:

- :func:`fid` (:mod:`chatgenbench.metrics.fid`): Fréchet distance of Inception pool features.
- :func:`clip_score` (:mod:`chatgenbench.metrics.clip_score`): CLIP-S ×100 by default.
- :func:`hps_v2` (:mod:`chatgenbench.metrics.hps`): HPS v2 ×100.
- :func:`image_reward` (:mod:`chatgenbench.metrics.image_reward`): ImageReward ×100.

Heavy libraries are imported when a metric runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Per-image metrics report their mean on the paper's ×100 scale.
PAPER_SCALE = 100.0


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


@dataclass
class PerImageState:
    """Mergeable state of a per-image metric: one raw score per scored image, with its id."""

    ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def merge(self, other: PerImageState) -> None:
        """Append another worker's scores (an id scored twice raises ValueError)."""
        seen = set(self.ids)
        clash = [i for i in other.ids if i in seen]
        if clash:
            raise ValueError(f"cannot merge: {len(clash)} ids scored twice, e.g. {clash[0]!r}")
        self.ids.extend(other.ids)
        self.scores.extend(other.scores)


class PerImageMetric:
    """Base of the per-image metrics (CLIP score, HPS v2, ImageReward).

    Subclasses implement :meth:`score_batch` (images and texts to raw scores). ``compute()``
    returns the mean raw score ×100 (the paper's scale).
    """

    name = "per_image"

    def __init__(self) -> None:
        self.state = PerImageState()

    def score_batch(self, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
        """Return one raw score per (image, text) pair."""
        raise NotImplementedError

    def update(
        self, images: Sequence[Any], texts: Sequence[str], ids: Sequence[str] | None = None
    ) -> list[float]:
        """Score a batch of PIL images against their texts; keep and return the raw scores."""
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts")
        if ids is None:
            start = len(self.state.ids)
            ids = [f"#{start + i}" for i in range(len(images))]
        scores = [float(s) for s in self.score_batch(images, texts)] if images else []
        for sample_id, score in zip(ids, scores):
            if not math.isfinite(score):
                raise ValueError(f"{self.name}: non-finite score for {sample_id!r}")
        self.state.ids.extend(ids)
        self.state.scores.extend(scores)
        return scores

    def compute(self) -> float:
        """Return the mean score ×100; raise ValueError when nothing was scored."""
        if not self.state.scores:
            raise ValueError(f"{self.name}: no images were scored")
        return PAPER_SCALE * sum(self.state.scores) / len(self.state.scores)

    def reset(self) -> None:
        """Forget every score."""
        self.state = PerImageState()

    def merge(self, other: PerImageMetric) -> None:
        """Add another instance's scores (a worker's shard) to this one."""
        self.state.merge(other.state)


def to_rgb(image: Any):
    """Return a PIL RGB image from a PIL image, a path or a ``datasets`` image dict."""
    from PIL import Image

    if isinstance(image, dict):
        if image.get("bytes"):
            import io

            image = Image.open(io.BytesIO(image["bytes"]))
        elif image.get("path"):
            image = Image.open(image["path"])
        else:
            raise ValueError("image dict has neither bytes nor path")
    elif not isinstance(image, Image.Image):
        image = Image.open(image)
    return image.convert("RGB")


def fid(generated, reference, **kwargs) -> float:
    """FID of two image lists; see :func:`chatgenbench.metrics.fid.fid`."""
    from chatgenbench.metrics.fid import fid as _fid

    return _fid(generated, reference, **kwargs)


def clip_score(images, texts, model, **kwargs) -> float:
    """Mean CLIP score ×100; see :func:`chatgenbench.metrics.clip_score.clip_score`."""
    from chatgenbench.metrics.clip_score import clip_score as _clip_score

    return _clip_score(images, texts, model, **kwargs)


def hps_v2(images, texts, model, **kwargs) -> float:
    """Mean HPS v2 ×100; see :func:`chatgenbench.metrics.hps.hps_v2`."""
    from chatgenbench.metrics.hps import hps_v2 as _hps_v2

    return _hps_v2(images, texts, model, **kwargs)


def image_reward(images, texts, model, **kwargs) -> float:
    """Mean ImageReward ×100; see :func:`chatgenbench.metrics.image_reward.image_reward`."""
    from chatgenbench.metrics.image_reward import image_reward as _image_reward

    return _image_reward(images, texts, model, **kwargs)
