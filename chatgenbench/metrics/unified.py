"""The Unified Metric: an equal-weight mean of four min-max normalised image metrics, ×100.

``Unified = 25 * ((100 - FID)/100 + CLIP/100 + (HPS - 20)/10 + (ImageReward + 50)/100)``

on the paper's ×100 values: FID over [0, 100] (inverted: lower is better), CLIP score over
[0, 100], HPS v2 over [20, 30], ImageReward over [-50, 50], no clipping by default. It reproduces
every Unified value of the paper's Table 4 within rounding (Supervised ChatGen-Evo (2B): FID 19.1,
CLIP 72.9, HPS 25.1, ImageReward 8.9 give 65.9). The metric declares the four it needs
(:data:`UNIFIED_INPUTS`): it is computed whenever those four are, whatever other image metrics do.
"""

from __future__ import annotations

import math
from typing import Any

from chatgenbench.metrics.registry import METRICS
from chatgenbench.metrics.values import computed, not_computed

#: The image metrics the Unified Metric needs, in the order :func:`unified_metric` takes them,
#: each with the range it is min-max normalised over (the paper's ×100 scale).
UNIFIED_INPUTS: dict[str, tuple[float, float]] = {
    "fid": (0.0, 100.0),
    "clip_score": (0.0, 100.0),
    "hps_v2": (20.0, 30.0),
    "image_reward": (-50.0, 50.0),
}
#: How :func:`unified_formula` writes each input.
UNIFIED_SYMBOLS: dict[str, str] = {
    "fid": "FID",
    "clip_score": "CLIP",
    "hps_v2": "HPS",
    "image_reward": "ImageReward",
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
    values = dict(zip(UNIFIED_INPUTS, (fid, clip, hps, image_reward)))
    terms = []
    for name, value in values.items():
        if value is None or not math.isfinite(float(value)):
            raise ValueError(f"unified metric needs a finite {name}, got {value!r}")
        low, high = UNIFIED_INPUTS[name]
        term = (float(value) - low) / (high - low)
        if not METRICS.metadata(name)["higher_is_better"]:  # FID: lower is better, so inverted
            term = 1.0 - term
        if clip_to_range:
            term = min(1.0, max(0.0, term))
        terms.append(term)
    return 100.0 * sum(terms) / len(terms)


def unified_formula() -> str:
    """Return the formula as text, written from :data:`UNIFIED_INPUTS` and the directions.

    >>> unified_formula()
    'Unified = 25 * ((100 - FID)/100 + CLIP/100 + (HPS - 20)/10 + (ImageReward + 50)/100)'
    """
    terms = []
    for name, (low, high) in UNIFIED_INPUTS.items():
        symbol, span = UNIFIED_SYMBOLS[name], f"{high - low:g}"
        if not METRICS.metadata(name)["higher_is_better"]:
            terms.append(f"({high:g} - {symbol})/{span}")
        elif low == 0:
            terms.append(f"{symbol}/{span}")
        else:
            terms.append(f"({symbol} {'-' if low > 0 else '+'} {abs(low):g})/{span}")
    return f"Unified = {100 / len(terms):g} * ({' + '.join(terms)})"


def unified_block(image: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return the results block of the Unified Metric from a slice's ``image`` blocks.

    Computed when the four :data:`UNIFIED_INPUTS` are (``n`` is the smallest of their counts);
    otherwise not computed, naming the ones that are not. Other image metrics play no part.
    """
    missing = [
        name for name in UNIFIED_INPUTS if (image.get(name) or {}).get("status") != "computed"
    ]
    if missing:
        return not_computed(
            "the Unified Metric needs all four image metrics; not computed: " + ", ".join(missing)
        )
    value = unified_metric(*(image[name]["value"] for name in UNIFIED_INPUTS))
    return computed(value, min(image[name]["n"] for name in UNIFIED_INPUTS))


METRICS.register(
    "unified",
    unified_metric,
    stage="final",
    label="Unified",
    higher_is_better=True,
    fmt="{:.1f}",
    scale="x100",
    description="Unified Metric ×100 of the four image metrics (FID, CLIP score, HPS v2, "
    "ImageReward); computed only when those four are",
    needs=tuple(UNIFIED_INPUTS),
)
