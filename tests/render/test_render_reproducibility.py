"""The render cache key covers the CPU thread count, which changes some pixels."""

from __future__ import annotations

import pytest

from chatgenbench.render import render_predictions
from chatgenbench.render.planning import request_inputs


def _records(report):
    return {r.id: r for r in report.records if r.has_image}


def test_thread_count_is_in_the_key_and_defaults_to_one(sample_run, tiny_models, tmp_path):
    folder, predictions, first = sample_run  # rendered with threads=1
    default = render_predictions(
        predictions, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "default",
        cache_dir=folder / "cache", progress=False,
    )  # fmt: skip
    assert default.summary["settings"]["threads"] == 1
    assert default.summary["counts"]["rendered"] == 0  # the default is the count the cache holds
    two = render_predictions(
        predictions, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "two",
        cache_dir=folder / "cache", progress=False, threads=2,
    )  # fmt: skip
    assert two.summary["settings"]["threads"] == 2
    assert two.summary["counts"]["cached"] == 0  # never the 1-thread pixels for a 2-thread run
    ones, twos = _records(first), _records(two)
    assert set(ones) == set(twos) and len(ones) == 5
    assert all(ones[i].cache_key != twos[i].cache_key for i in ones)


@pytest.mark.parametrize("threads", [1, 2, 8])
def test_only_cpu_keys_record_threads(threads):
    from chatgenbench.render.cache import cache_key

    class Ref:
        identity = "sha256:abc"

    class Resolved:
        checkpoint, lora, lora_scale, architecture = Ref(), None, 1.0, "sd15"

    class Arguments:
        seed = 1

        def identity(self):
            return {"steps": 3}

    def key(device_type, count):
        inputs = request_inputs(
            Resolved(), "p", "", Arguments(), "float32", device_type, {}, cpu_threads=count
        )
        return cache_key(inputs), inputs["cpu_threads"]

    assert key("cpu", threads)[1] == threads
    assert key("cpu", threads) != key("cpu", threads + 1)
    assert key("cuda", threads) == key("cuda", threads + 1)
    assert key("cuda", threads)[1] is None
