"""The Unified Metric reproduces every Unified value of the paper's Table 4 from its four inputs."""

from __future__ import annotations

import pytest

from chatgenbench.metrics.unified import unified_metric

# DESIGN §3, Table 4: (setting, method, FID, CLIP, HPS v2, ImageReward, Unified)
TABLE_4 = [
    ("supervised", "Baseline", 32.7, 64.6, 20.2, -34.6, 37.3),
    ("supervised", "ChatGen-Base (2B)", 21.3, 69.9, 23.5, 2.4, 59.0),
    ("supervised", "ChatGen-Base (4B)", 20.7, 70.0, 23.4, 1.5, 58.7),
    ("supervised", "ChatGen-Base (8B)", 20.8, 70.7, 23.9, 4.0, 60.7),
    ("supervised", "ChatGen-Evo (2B)", 19.1, 72.9, 25.1, 8.9, 65.9),
    ("few_shot", "Baseline", 54.4, 63.4, 20.0, -40.2, 29.7),
    ("few_shot", "ChatGen-Base (2B)", 42.8, 69.1, 23.3, -4.8, 51.1),
    ("few_shot", "ChatGen-Base (4B)", 41.2, 69.4, 23.4, -4.3, 51.9),
    ("few_shot", "ChatGen-Base (8B)", 41.4, 70.6, 23.4, -3.1, 52.5),
    ("few_shot", "ChatGen-Evo (2B)", 40.7, 72.5, 25.0, 5.1, 59.2),
]


@pytest.mark.parametrize("setting,method,fid,clip,hps,ir,unified", TABLE_4)
def test_reproduces_table_4(setting, method, fid, clip, hps, ir, unified):
    assert unified_metric(fid, clip, hps, ir) == pytest.approx(unified, abs=0.1)


def test_clipping_only_when_asked():
    assert unified_metric(150.0, 50.0, 25.0, 0.0) == pytest.approx(25 * (-0.5 + 0.5 + 0.5 + 0.5))
    clipped = unified_metric(150.0, 50.0, 25.0, 0.0, clip_to_range=True)
    assert clipped == pytest.approx(25 * (0.0 + 0.5 + 0.5 + 0.5))


def test_non_finite_input_is_refused():
    with pytest.raises(ValueError, match="fid"):
        unified_metric(float("nan"), 70.0, 23.0, 0.0)
