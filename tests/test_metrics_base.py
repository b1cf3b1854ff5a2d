"""Shared image-metric pieces: bootstrap intervals, mergeable per-image state, the registry."""

from __future__ import annotations

import pytest

from chatgenbench.metrics import METRICS
from chatgenbench.metrics.base import PerImageMetric, PerImageState, bootstrap_ci


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [float(v) for v in range(20)]
    first, again = bootstrap_ci(values, seed=3), bootstrap_ci(values, seed=3)
    other = bootstrap_ci(values, seed=4)
    assert (first.low, first.high) == (again.low, again.high)
    assert (first.low, first.high) != (other.low, other.high)
    assert first.low < 9.5 < first.high
    assert first.to_dict()["seed"] == 3 and first.to_dict()["resamples"] == 1000
    assert bootstrap_ci([1.0]) is None
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(values, level=1.5)


def test_per_image_metric_state_machine():
    class Length(PerImageMetric):
        name = "length"

        def score_batch(self, images, texts):
            return [len(t) / 100 for t in texts]

    metric = Length()
    assert metric.update([None, None], ["ab", "abcd"], ids=["x", "y"]) == [0.02, 0.04]
    assert metric.compute() == pytest.approx(3.0)  # mean raw score ×100
    other = Length()
    other.update([None], ["abcdef"], ids=["z"])
    metric.merge(other)
    assert metric.compute() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="2 images but 1 texts"):
        metric.update([None, None], ["a"])
    state = PerImageState(["x"], [1.0])
    with pytest.raises(ValueError, match="twice"):
        state.merge(PerImageState(["x"], [2.0]))


def test_registry_resolves_the_functional_forms():
    for name in ("fid", "clip_score", "hps_v2", "image_reward"):
        assert callable(METRICS.get(name))
        assert METRICS.metadata(name)["stage"] == "image"
    assert METRICS.metadata("fid")["higher_is_better"] is False
