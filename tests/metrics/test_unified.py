from __future__ import annotations

import math

import pytest

from chatgenbench.metrics import unified_metric

# The paper's Table 4: setting, method, FID, CLIP, HPS v2, ImageReward, Unified.
TABLE_4 = [
    ("Supervised", "Baseline", 32.7, 64.6, 20.2, -34.6, 37.3),
    ("Supervised", "ChatGen-Base (2B)", 21.3, 69.9, 23.5, 2.4, 59.0),
    ("Supervised", "ChatGen-Base (4B)", 20.7, 70.0, 23.4, 1.5, 58.7),
    ("Supervised", "ChatGen-Base (8B)", 20.8, 70.7, 23.9, 4.0, 60.7),
    ("Supervised", "ChatGen-Evo (2B)", 19.1, 72.9, 25.1, 8.9, 65.9),
    ("Few-shot", "Baseline", 54.4, 63.4, 20.0, -40.2, 29.7),
    ("Few-shot", "ChatGen-Base (2B)", 42.8, 69.1, 23.3, -4.8, 51.1),
    ("Few-shot", "ChatGen-Base (4B)", 41.2, 69.4, 23.4, -4.3, 51.9),
    ("Few-shot", "ChatGen-Base (8B)", 41.4, 70.6, 23.4, -3.1, 52.5),
    ("Few-shot", "ChatGen-Evo (2B)", 40.7, 72.5, 25.0, 5.1, 59.2),
]


@pytest.mark.parametrize(("setting", "method", "fid", "clip", "hps", "ir", "unified"), TABLE_4)
def test_unified_reproduces_table_4(setting, method, fid, clip, hps, ir, unified):
    assert abs(unified_metric(fid, clip, hps, ir) - unified) <= 0.1, (setting, method)


def test_unified_formula_and_clipping():
    assert unified_metric(0, 100, 30, 50) == pytest.approx(100.0)
    assert unified_metric(100, 0, 20, -50) == pytest.approx(0.0)
    # Outside the ranges: unclipped by default, clipped on request.
    assert unified_metric(150, 0, 20, -50) == pytest.approx(-12.5)
    assert unified_metric(150, 0, 20, -50, clip_to_range=True) == pytest.approx(0.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, None])
def test_unified_rejects_non_finite(bad):
    with pytest.raises(ValueError):
        unified_metric(bad, 70, 23, 1)
