"""compare reads a worker's or evaluate's image-metric settings as written: run-wide scalars
(batch_size, device, dtype, text, missing_image_policy) beside each metric's own block are not
refused; a metric's own block that is not an object still is."""

from __future__ import annotations

import copy

import pytest

from chatgenbench.analysis.comparison import compare_results
from chatgenbench.core.errors import ComparisonError
from tests.leaderboard_fixtures import sample_results

RUN_WIDE = {
    "batch_size": 4,
    "device": "cpu",
    "dtype": "float32",
    "text": "reference_prompt",
    "missing_image_policy": "samples without an image are left out of the means",
    "bootstrap": {"resamples": 200, "level": 0.95, "seed": 0},
}


def _with_image_settings(image: dict) -> dict:
    results = copy.deepcopy(sample_results())
    results["metric_settings"]["image"] = image
    return results


def test_run_wide_scalars_are_compared_and_a_bad_metric_block_still_refused():
    image = {**RUN_WIDE, "clip_score": {"variant": "clip_s"}}
    comparison = compare_results(_with_image_settings(image), _with_image_settings(image))
    assert comparison["slices"]["supervised"]["prompt_bertscore"]["status"] == "compared"
    for bad in ("clip_s", 3, ["clip_s"]):  # a metric's own block must still be an object
        image = {**RUN_WIDE, "clip_score": bad}
        with pytest.raises(ComparisonError, match=r"metric_settings\.image\.'clip_score'.*object"):
            compare_results(_with_image_settings(image), _with_image_settings(image))
