"""FID with the real offline Inception: identical sets ~0, distorted sets clearly higher; the engine
matches torchmetrics' FID with the same feature extractor; the reference-statistics cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from chatgenbench.metrics.fid import (
    FeatureStats,
    FIDSetting,
    ReferenceStatsCache,
    covariance_factor,
    fid,
    fid_features,
    fid_from_features,
    frechet_distance,
    image_set_hash,
    load_inception,
    preprocess,
)


@pytest.fixture(scope="module")
def extractor():
    torch.set_num_threads(2)
    return load_inception()


def _images(seed: int, n: int = 4, size: int = 64) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # smooth coloured blocks
        out.append(Image.fromarray(base).resize((size, size), Image.BILINEAR))
    return out


@pytest.fixture(scope="module")
def features(extractor):
    clean = _images(0)
    distorted = [
        Image.fromarray(
            np.clip(
                np.asarray(i.filter(ImageFilter.GaussianBlur(6)), np.int16)
                + np.random.default_rng(1).integers(-90, 90, (64, 64, 3)),
                0,
                255,
            ).astype(np.uint8)
        )
        for i in clean
    ]
    return (
        clean,
        distorted,
        fid_features(clean, extractor, batch_size=10),
        fid_features(distorted, extractor, batch_size=10),
    )


def test_identical_sets_score_zero_and_distorted_clearly_higher(features, extractor):
    clean, distorted, f_clean, f_distorted = features
    reference = FeatureStats.empty()
    reference.add(f_clean)
    identical = _fid(f_clean, reference)
    moved = _fid(f_distorted, reference)
    assert identical == pytest.approx(0.0, abs=1e-3)
    assert moved > 50.0


def _fid(features, reference: FeatureStats) -> float:
    mean, factor = covariance_factor(features)
    return frechet_distance(mean, None, *reference.mean_cov(), factor1=factor)


def test_feature_stats_of_shards_merge_into_the_whole(features, extractor):
    clean, distorted, f_clean, f_distorted = features
    whole_real, whole_fake = FeatureStats.of(f_clean), FeatureStats.of(f_distorted)
    left_real, right_real = FeatureStats.of(f_clean[:2]), FeatureStats.of(f_clean[2:])
    left_fake, right_fake = FeatureStats.of(f_distorted[:3]), FeatureStats.of(f_distorted[3:])
    left_real.merge(right_real)
    left_fake.merge(right_fake)
    for mine, theirs in ((left_real, whole_real), (left_fake, whole_fake)):
        assert mine.n == theirs.n and np.allclose(mine.outer, theirs.outer)
    assert whole_real.n == 4 and FeatureStats.empty().n == 0
    with pytest.raises(ValueError, match="at least 2"):
        fid_from_features(f_distorted[:1], whole_real)


def test_the_functional_fid_and_the_registered_metric_are_one_path(features, extractor, tmp_path):
    """fid() and FID (update by id, compute of a slice) share the update and compute steps."""
    import io

    from chatgenbench.benchmark.schema import ReferenceImage
    from chatgenbench.metrics.fid import FID, FIDOptions

    clean, distorted, f_clean, f_distorted = features

    def png(image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    metric = FID(extractor, options=FIDOptions(fid_cache_dir=str(tmp_path)))
    ids = [f"s{i}" for i in range(len(distorted))]
    metric.update(distorted, [""] * len(ids), ids=ids)
    metric.set_references([ReferenceImage(i, png(image)) for i, image in zip(ids, clean)])
    functional = fid(distorted, clean, extractor=extractor)
    assert float(metric.compute()) == functional
    assert functional == fid_from_features(f_distorted, FeatureStats.of(f_clean))


def test_update_state_matches_torchmetrics_with_same_extractor(features, extractor):
    from torchmetrics.image.fid import FrechetInceptionDistance as TorchmetricsFID

    clean, _, f_clean, _ = features
    reference = TorchmetricsFID(feature=extractor.as_module())
    reference.update(preprocess(clean[:3]), real=True)
    ours = FeatureStats.empty()
    ours.add(f_clean[:3])
    assert int(reference.real_features_num_samples) == ours.n == 3
    assert np.allclose(reference.real_features_sum.numpy(), ours.total, rtol=1e-5, atol=1e-5)
    assert np.allclose(reference.real_features_cov_sum.numpy(), ours.outer, rtol=1e-5, atol=1e-5)


def test_frechet_distance_matches_torchmetrics_formula():
    from torchmetrics.image.fid import _compute_fid

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((40, 64)), rng.standard_normal((30, 64)) * 1.5 + 0.2
    stats_a, stats_b = FeatureStats.empty(64), FeatureStats.empty(64)
    stats_a.add(a)
    stats_b.add(b)
    (mu_a, s_a), (mu_b, s_b) = stats_a.mean_cov(), stats_b.mean_cov()
    expected = float(
        _compute_fid(
            torch.from_numpy(mu_a),
            torch.from_numpy(s_a),
            torch.from_numpy(mu_b),
            torch.from_numpy(s_b),
        )
    )
    assert frechet_distance(mu_a, s_a, mu_b, s_b) == pytest.approx(expected, rel=1e-6)
    mean, factor = covariance_factor(a)
    assert frechet_distance(mean, None, mu_b, s_b, factor1=factor) == pytest.approx(
        expected, rel=1e-6
    )


@pytest.mark.slow
def test_fid_matches_torchmetrics_compute_with_same_extractor(features, extractor):
    """The whole torchmetrics FID (update + compute: a 2048-d general eigensolve, slow on CPU)."""
    from torchmetrics.image.fid import FrechetInceptionDistance as TorchmetricsFID

    clean, distorted, f_clean, f_distorted = features
    reference = TorchmetricsFID(feature=extractor.as_module())
    reference.update(preprocess(clean[:3]), real=True)
    reference.update(preprocess(distorted[:3]), real=False)
    ours = fid_from_features(f_distorted[:3], FeatureStats.of(f_clean[:3]))
    assert ours == pytest.approx(float(reference.compute()), rel=1e-4)


def test_reference_cache_roundtrip_and_key(tmp_path, features):
    _, _, f_clean, _ = features
    stats = FeatureStats.empty()
    stats.add(f_clean)
    cache = ReferenceStatsCache(tmp_path)
    key = image_set_hash([("a", b"1"), ("b", b"2")])
    assert key == image_set_hash([("b", b"2"), ("a", b"1")])
    assert key != image_set_hash([("a", b"1"), ("b", b"3")])
    assert cache.load(key, FIDSetting()) is None
    cache.save(key, FIDSetting(), stats)
    loaded = cache.load(key, FIDSetting())
    assert loaded.n == 4 and np.allclose(loaded.outer, stats.outer)
    assert cache.load(key, FIDSetting(preprocessing="other")) is None


def test_extractor_rejects_float_input(extractor):
    with pytest.raises(TypeError, match="uint8"):
        extractor(torch.zeros(1, 3, 299, 299))


def _cached_fid(extractor, tmp_path, features):
    """An FID metric with references set, whose reference statistics are cached in tmp_path."""
    import io

    from chatgenbench.benchmark.schema import ReferenceImage
    from chatgenbench.metrics.fid import FID, FIDOptions

    clean, distorted, _, _ = features

    def png(image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    metric = FID(extractor, options=FIDOptions(fid_cache_dir=str(tmp_path)))
    ids = [f"s{i}" for i in range(len(distorted))]
    metric.update(distorted, [""] * len(ids), ids=ids)
    metric.set_references([ReferenceImage(i, png(image)) for i, image in zip(ids, clean)])
    return metric


def _tamper_npz(path, **changes):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k].copy() for k in data.files}
    arrays.update(changes)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize(
    "tamper, reason",
    [
        ("other_set", "another key"),
        ("edited_stats", "sha256"),
        ("fewer_images", "sha256"),
        ("truncated", "cannot be read"),
        ("old_format", "cannot be read"),
    ],
)
def test_cached_reference_statistics_that_do_not_verify_are_recomputed(
    tmp_path, features, extractor, tamper, reason
):
    """Statistics of another reference set put under this key, edited arrays, a truncated file
    or a file without the key and digest: each is recomputed, the reason counted, and the FID
    equals the fresh one."""
    metric = _cached_fid(extractor, tmp_path, features)
    fresh = float(metric.compute())
    assert metric.cache_misses == 1 and metric.notes()["fid_reference_cache"]["rejected"] == {}
    (path,) = tmp_path.glob("*.npz")
    other = FeatureStats.of(features[3])  # the distorted images' statistics
    if tamper == "other_set":  # another set's file, copied under this key: whole and signed
        cache = ReferenceStatsCache(tmp_path / "other")
        identity = metric._identity
        cache.save("0" * 64, FIDSetting(), other, identity)
        (other_path,) = (tmp_path / "other").glob("*.npz")
        path.write_bytes(other_path.read_bytes())
    elif tamper == "edited_stats":
        _tamper_npz(path, total=other.total, outer=other.outer)
    elif tamper == "fewer_images":
        _tamper_npz(path, n=np.asarray(3))
    elif tamper == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif tamper == "old_format":  # as written before the key and digest were stored
        with open(path, "wb") as handle:
            np.savez(handle, total=other.total, outer=other.outer, n=np.asarray(other.n))
    again = _cached_fid(extractor, tmp_path, features)
    assert float(again.compute()) == pytest.approx(fresh, rel=1e-9)
    assert again.cache_hits == 0 and again.cache_misses == 1
    (problem,) = again.notes()["fid_reference_cache"]["rejected"]
    assert reason in problem, problem
    third = _cached_fid(extractor, tmp_path, features)  # rewritten: used again
    assert float(third.compute()) == pytest.approx(fresh, rel=1e-9) and third.cache_hits == 1


def test_reference_statistics_are_keyed_by_the_inception_file(tmp_path, features, extractor):
    """Another Inception file (or device) never finds the statistics of this one."""
    from chatgenbench.metrics.fid import extractor_identity

    _, _, f_clean, _ = features
    cache = ReferenceStatsCache(tmp_path)
    identity = extractor_identity(extractor)
    assert identity["weights_sha256"] and identity["device_type"] == "cpu"
    key = image_set_hash([("a", b"1"), ("b", b"2")])
    cache.save(key, FIDSetting(), FeatureStats.of(f_clean), identity)
    assert cache.load(key, FIDSetting(), identity, n_images=4).n == 4
    assert cache.load(key, FIDSetting(), {**identity, "weights_sha256": "0" * 64}) is None
    assert cache.load(key, FIDSetting(), {**identity, "device_type": "cuda"}) is None
    assert cache.load(key, FIDSetting(), identity, n_images=5) is None
    assert "reference set has 5" in cache.last_problem
