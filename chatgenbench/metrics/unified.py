"""The Unified Metric (DESIGN §3): an equal-weight mean of four min-max normalised terms, ×100."""

from __future__ import annotations

import math

#: (low, high, higher_is_better) of each input on the paper's ×100 scale.
UNIFIED_RANGES: dict[str, tuple[float, float, bool]] = {
    "fid": (0.0, 100.0, False),
    "clip_score": (0.0, 100.0, True),
    "hps_v2": (20.0, 30.0, True),
    "image_reward": (-50.0, 50.0, True),
}


def unified_metric(
    fid: float, clip: float, hps: float, image_reward: float, *, clip_to_range: bool = False
) -> float:
    """Return the Unified Metric on the paper's ×100 scale.

    ``Unified = 25 * ((100 - FID)/100 + CLIP/100 + (HPS - 20)/10 + (ImageReward + 50)/100)``

    Inputs are split-level values on the paper's scale: FID as is, CLIP score, HPS v2 and
    ImageReward ×100. With ``clip_to_range`` each normalised term is clipped to [0, 1] (off by
    default, as in the paper). Raises ValueError for a non-finite input.

    >>> round(unified_metric(19.1, 72.9, 25.1, 8.9), 1)  # Supervised ChatGen-Evo (2B)
    65.9
    """
    values = {"fid": fid, "clip_score": clip, "hps_v2": hps, "image_reward": image_reward}
    terms = []
    for name, value in values.items():
        if value is None or not math.isfinite(float(value)):
            raise ValueError(f"unified metric needs a finite {name}, got {value!r}")
        low, high, higher_is_better = UNIFIED_RANGES[name]
        term = (float(value) - low) / (high - low)
        if not higher_is_better:
            term = 1.0 - term
        if clip_to_range:
            term = min(1.0, max(0.0, term))
        terms.append(term)
    return 100.0 * sum(terms) / len(terms)
