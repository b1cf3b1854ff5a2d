"""CLIP score through the real loader on a tiny random CLIP, against torchmetrics' CLIPScore."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from chatgenbench.metrics.clip_score import (
    CLIPScore,
    clip_cosines,
    clip_score,
    load_clip,
    write_clip,
)
from chatgenbench.metrics.weights import WeightsMissing
from tests.metrics.pil_modes import image_in_mode, images_in_every_mode

TEXTS = ["a red square", "a photo of a cat", "a dog", "sunset over the sea"]
LONG = [TEXTS[0], "a photo of a cat " * 30, *TEXTS[2:]]  # over CLIP's 77 tokens


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    # seed 2: these pairs' cosines have mixed signs with a positive mean, so both clamps matter
    folder = write_clip(tmp_path_factory.mktemp("clip"), seed=2)
    return load_clip(folder)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in TEXTS]


def test_variants_follow_their_formulas(bundle, images):
    cosines = clip_cosines(bundle, images, TEXTS)
    assert any(c < 0 for c in cosines) and any(c > 0 for c in cosines)  # clipping is exercised
    expected = 100 * np.mean([2.5 * max(c, 0.0) for c in cosines])
    assert clip_score(images, TEXTS, bundle) == pytest.approx(expected, rel=1e-5)
    raw = clip_score(images, TEXTS, bundle, variant="torchmetrics")
    assert raw == pytest.approx(max(100 * np.mean(cosines), 0.0), rel=1e-5, abs=1e-6)


def test_matches_torchmetrics_clipscore(bundle, images):
    from torchmetrics.multimodal.clip_score import CLIPScore as TorchmetricsCLIPScore
    from transformers import CLIPModel

    class PooledCLIP(CLIPModel):  # transformers 5 returns outputs where torchmetrics wants tensors
        def get_image_features(self, *args, **kwargs):
            return super().get_image_features(*args, **kwargs).pooler_output

        def get_text_features(self, *args, **kwargs):
            return super().get_text_features(*args, **kwargs).pooler_output

    model = PooledCLIP.from_pretrained(bundle.source, local_files_only=True).eval()
    reference = TorchmetricsCLIPScore(model_name_or_path=lambda: (model, bundle.processor))
    short, pics = TEXTS, images
    cosines = clip_cosines(bundle, pics, short)
    assert min(cosines) < 0 < 100 * np.mean(cosines)  # torchmetrics clamps the mean, not images
    tensors = [torch.from_numpy(np.array(i)).permute(2, 0, 1) for i in pics]
    expected = float(reference(tensors, short).detach())
    assert clip_score(pics, short, bundle, variant="torchmetrics") == pytest.approx(
        expected, rel=1e-4, abs=1e-4
    )


def test_metric_object_merge_reset_and_truncation(bundle, images):
    whole = CLIPScore(bundle)
    whole.update(images, LONG, ids=["a", "b", "c", "d"])
    assert whole.truncated == 1
    left, right = CLIPScore(bundle), CLIPScore(bundle)
    left.update(images[:2], LONG[:2], ids=["a", "b"])
    right.update(images[2:], LONG[2:], ids=["c", "d"])
    left.merge(right)
    assert left.compute() == pytest.approx(whole.compute(), abs=1e-3)
    with pytest.raises(ValueError, match="twice"):
        left.merge(whole)
    whole.reset()
    with pytest.raises(ValueError, match="no images"):
        whole.compute()
    with pytest.raises(ValueError, match="variant"):
        CLIPScore(bundle, variant="cosine")


def test_missing_weights_name_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("CHATGENBENCH_CLIP", raising=False)
    with pytest.raises(
        WeightsMissing, match="chatgenbench weights download clip-vit-large-patch14"
    ):
        load_clip()


def test_single_pass_tokenisation_equals_transformers_truncation(bundle):
    from chatgenbench.metrics.clip_score import _tokenize

    mine, truncated = _tokenize(bundle, LONG)
    reference = bundle.processor.tokenizer(
        LONG, padding=True, truncation=True, max_length=77, return_tensors="pt"
    )
    assert truncated == 1
    assert torch.equal(mine["input_ids"], reference["input_ids"])
    assert torch.equal(mine["attention_mask"], reference["attention_mask"])


def _torchmetrics_reference(bundle):
    from torchmetrics.multimodal.clip_score import CLIPScore as TorchmetricsCLIPScore
    from transformers import CLIPModel

    class PooledCLIP(CLIPModel):  # transformers 5 returns outputs where torchmetrics wants tensors
        def get_image_features(self, *args, **kwargs):
            return super().get_image_features(*args, **kwargs).pooler_output

        def get_text_features(self, *args, **kwargs):
            return super().get_text_features(*args, **kwargs).pooler_output

    model = PooledCLIP.from_pretrained(bundle.source, local_files_only=True).eval()
    return TorchmetricsCLIPScore(model_name_or_path=lambda: (model, bundle.processor))


def test_every_mode_scores_as_torchmetrics_scores_its_rgb_pixels(bundle):
    """CLIP's reference takes RGB tensors: an image of any mode is scored on the pixels of PIL's
    ``convert("RGB")``. Given a PIL image, transformers 5's processor composites alpha, and a
    transparency key (which PIL's convert keeps), onto white, and reads LAB's ``A`` as alpha."""
    images = images_in_every_mode()
    texts = [f"a picture in mode {mode}" for mode in images]
    ours = CLIPScore(bundle, variant="torchmetrics").update(list(images.values()), texts)
    reference = _torchmetrics_reference(bundle)
    for (mode, image), text, score in zip(images.items(), texts, ours):
        pixels = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)
        expected = float(reference([pixels], [text]).detach()) / 100
        assert max(score, 0.0) == pytest.approx(expected, abs=1e-4), mode


#: (width, height): odd shapes, and extremes whose resized longer side is 10000 times the shorter
ODD_SIZES = [(1, 1), (10000, 1), (1, 10000), (224, 100), (100, 224), (500, 300)]


def test_no_odd_image_fails_a_batch(bundle):
    images = [
        image_in_mode(mode, size, seed=i)
        for i, (mode, size) in enumerate(zip(["RGB", "RGBA", "L", "P", "1", "I;16"], ODD_SIZES))
    ]
    texts = [f"picture {i}" for i in range(len(images))]
    alone = [clip_cosines(bundle, [image], [text])[0] for image, text in zip(images, texts)]
    mixed = CLIPScore(bundle, variant="torchmetrics").update(images, texts)
    assert mixed == pytest.approx(alone, abs=1e-5)
    assert all(np.isfinite(mixed))
