"""Image-metric shards merge whether or not they were updated with sample ids."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from chatgenbench.metrics.base import PerImageMetric


class Red(PerImageMetric):
    """Mean red channel of each image (0 to 1), ×100: enough to check merging."""

    name = "red_test"
    label = "Red"
    higher_is_better = True
    description = "mean red (a test metric, not registered)"

    def score_batch(self, images, texts):
        return [float(np.asarray(i, np.float64)[..., 0].mean() / 255) for i in images]


def _images(n: int, seed: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)) for _ in range(n)]


@pytest.mark.parametrize("sizes", [(2, 3), (1, 1, 1), (4, 0, 2)])
def test_per_image_shards_without_ids_merge(sizes):
    batches = [_images(n, seed) for seed, n in enumerate(sizes)]
    whole = Red()
    for batch in batches:
        whole.update(batch, [""] * len(batch))
    shards = []
    for batch in batches:
        shard = Red()
        shard.update(batch, [""] * len(batch))
        shards.append(shard)
    merged = shards[0]
    for shard in shards[1:]:
        merged.merge(shard)
    assert merged.compute().n == sum(sizes)
    assert merged.compute() == pytest.approx(whole.compute())
    assert len(set(merged.state.ids)) == sum(sizes)


def test_mixed_shards_merge_and_explicit_clashes_say_what_to_pass():
    named, anonymous = Red(), Red()
    named.update(_images(2, 0), ["", ""], ids=["a", "b"])
    anonymous.update(_images(2, 1), ["", ""])
    named.merge(anonymous)
    assert named.compute().n == 4 and named.compute(["a", "b"]).n == 2
    again = Red()
    again.update(_images(1, 2), [""], ids=["a"])
    with pytest.raises(ValueError, match=r"'a'.*update\(ids=\.\.\.\)"):
        named.merge(again)
    positional = Red()
    positional.update(_images(1, 3), [""])  # '#0'
    explicit = Red()
    explicit.update(_images(1, 3), [""], ids=["#0"])
    with pytest.raises(ValueError, match="on every shard, or on none"):
        positional.merge(explicit)


def test_fid_shards_without_ids_merge():
    from chatgenbench.metrics.fid import FID

    class Extractor:
        source, device = "test", "cpu"

        def features_of(self, images):
            return [np.asarray(i, np.float64).reshape(-1)[:8] for i in images]

    left, right, whole = (FID(Extractor()) for _ in range(3))
    first, second = _images(3, 0), _images(2, 1)
    left.update(first, [""] * 3)
    right.update(second, [""] * 2)
    whole.update(first + second, [""] * 5)
    left.merge(right)
    assert len(left.features) == 5
    merged = np.stack(list(left.features.values()))
    assert np.array_equal(merged, np.stack(list(whole.features.values())))
    named = FID(Extractor())
    named.update(first[:1], [""], ids=["x"])
    twice = FID(Extractor())
    twice.update(first[:1], [""], ids=["x"])
    with pytest.raises(ValueError, match="ids scored twice, e.g. 'x'"):
        named.merge(twice)
