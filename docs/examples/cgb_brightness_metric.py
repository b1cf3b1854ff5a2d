"""A worked example: an image metric, ``brightness``, in a package of its own.

The mean brightness of each rendered image (0 to 1, raised to ``brightness_gamma``), reported
×100 like the built-in image metrics. A :class:`PerImageMetric` needs only ``score_batch``: the
base class accumulates the per-image scores, computes every slice's mean with its bootstrap
interval and merges shards. Declared in the ``chatgenbench.metrics`` entry-point group, it is
scored with the others, written into every slice of the results, documented by
``chatgenbench schema``, offered as flags (``--brightness-gamma``), listed by ``weights status``
and shown as a leaderboard column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatgenbench.metrics.base import PerImageMetric
from chatgenbench.metrics.images import to_rgb


@dataclass
class BrightnessOptions:
    """The metric's settings: each field becomes a flag of ``evaluate`` and a deployment key."""

    brightness_gamma: float = field(default=1.0, metadata={"help": "gamma applied to the mean"})


class Brightness(PerImageMetric):
    """Mean pixel brightness of each image (0 to 1), raised to ``brightness_gamma``."""

    name = "brightness"
    label = "Brightness"
    higher_is_better = True
    description = "mean pixel brightness (0 to 1), raised to brightness_gamma, ×100"
    fmt = "{:.3f}"
    Options = BrightnessOptions

    @classmethod
    def load(cls, options: BrightnessOptions, device: str = "cpu", dtype: str = "float32"):
        """Build the metric from its options (a metric with weights loads them here)."""
        return cls(options)

    def __init__(self, options: BrightnessOptions | None = None) -> None:
        super().__init__()
        self.options = options or BrightnessOptions()

    def score_batch(self, images, texts) -> list[float]:
        """Return one raw score per image (the texts are the reference prompts, unused here)."""
        from PIL import ImageStat

        means = [sum(ImageStat.Stat(to_rgb(image)).mean) / 3 / 255 for image in images]
        return [mean**self.options.brightness_gamma for mean in means]
