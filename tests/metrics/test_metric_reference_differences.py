"""Where our image metrics knowingly differ from a reference package, and where they agree.

- CLIP, ``torchmetrics`` variant: equal to torchmetrics' ``CLIPScore`` for captions of at most 77
  tokens; over 77, torchmetrics cuts the token ids and so drops the end-of-text token that CLIP
  pools, while we keep it (as transformers' truncation does): the scores differ.
- FID, ``pil-bicubic-299``: the bicubic resize works on the 8-bit image and gives 8-bit pixels;
  clean-fid's "clean" mode resizes each channel in float and does not round. The FIDs are close
  but not equal; without a resize (299×299 inputs) they are identical.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from chatgenbench.metrics.clip_score import clip_score, load_clip, write_clip

SHORT = ["a red square", "a photo of a cat", "a dog", "sunset over the sea"]
LONG = [SHORT[0], "a photo of a cat on a sofa " * 20, SHORT[2], "sunset, " * 60]


@pytest.fixture(scope="module")
def clip_bundle(tmp_path_factory):
    return load_clip(write_clip(tmp_path_factory.mktemp("clip"), seed=2))


@pytest.fixture(scope="module")
def torchmetrics_clip(clip_bundle):
    from torchmetrics.multimodal.clip_score import CLIPScore as TorchmetricsCLIPScore
    from transformers import CLIPModel

    class PooledCLIP(CLIPModel):  # transformers 5 returns outputs where torchmetrics wants tensors
        def get_image_features(self, *args, **kwargs):
            return super().get_image_features(*args, **kwargs).pooler_output

        def get_text_features(self, *args, **kwargs):
            return super().get_text_features(*args, **kwargs).pooler_output

    model = PooledCLIP.from_pretrained(clip_bundle.source, local_files_only=True).eval()
    return lambda: TorchmetricsCLIPScore(model_name_or_path=lambda: (model, clip_bundle.processor))


def _pictures(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(n)]


def _reference_clip(metric, images, texts) -> float:
    tensors = [torch.from_numpy(np.array(i)).permute(2, 0, 1) for i in images]
    return float(metric(tensors, texts).detach())


@pytest.mark.parametrize("long_index", [1, 3])
def test_clip_over_77_tokens_differs_from_torchmetrics(clip_bundle, torchmetrics_clip, long_index):
    images = _pictures(4)
    tokens = clip_bundle.processor.tokenizer(LONG[long_index])["input_ids"]
    assert len(tokens) > 77
    texts = [*SHORT[:long_index], LONG[long_index], *SHORT[long_index + 1 :]]
    ours = clip_score(images, texts, clip_bundle, variant="torchmetrics")
    theirs = _reference_clip(torchmetrics_clip(), images, texts)
    assert abs(ours - theirs) > 1e-3
    # the difference is the long caption alone: scored by itself, the others agree
    keep = [i for i in range(4) if i != long_index]
    short_images, short_texts = [images[i] for i in keep], [texts[i] for i in keep]
    assert clip_score(short_images, short_texts, clip_bundle, variant="torchmetrics") == (
        pytest.approx(_reference_clip(torchmetrics_clip(), short_images, short_texts), abs=1e-4)
    )


def test_clip_at_most_77_tokens_equals_torchmetrics(clip_bundle, torchmetrics_clip):
    exactly = "cat " * 75  # 75 words + start and end tokens = 77
    assert len(clip_bundle.processor.tokenizer(exactly)["input_ids"]) == 77
    texts = [SHORT[0], exactly, SHORT[2], SHORT[3]]
    images = _pictures(4, seed=1)
    ours = clip_score(images, texts, clip_bundle, variant="torchmetrics")
    assert ours == pytest.approx(_reference_clip(torchmetrics_clip(), images, texts), abs=1e-4)


def _clean_mode(image: Image.Image) -> np.ndarray:
    """clean-fid's "clean" resize: PIL bicubic per channel in float32, not rounded to 8 bits."""
    x = np.asarray(image.convert("RGB"), dtype=np.float32)
    channels = [
        np.asarray(Image.fromarray(x[:, :, c], mode="F").resize((299, 299), Image.BICUBIC))
        for c in range(3)
    ]
    return np.clip(np.stack(channels), 0, 255)


def _smooth(seed: int, n: int, size: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        out.append(base.resize((size, size), Image.BILINEAR).filter(ImageFilter.SHARPEN))
    return out


def test_fid_preprocessing_is_not_clean_fid_clean_mode():
    from chatgenbench.metrics.fid import (
        FeatureStats,
        covariance_factor,
        frechet_distance,
        load_inception,
        preprocess,
    )

    extractor = load_inception()

    def clean_features(images):
        x = torch.from_numpy(np.stack([_clean_mode(i) for i in images]))
        with torch.inference_mode():
            out = extractor.net((x / 128.0 - 1.0).clamp(-1.0, 0.9921875))
        return out.reshape(len(images), -1).double().numpy()

    def distance(fake, real):
        reference = FeatureStats.empty()
        reference.add(real)
        mean, factor = covariance_factor(fake)
        return frechet_distance(mean, None, *reference.mean_cov(), factor1=factor)

    real, fake = _smooth(0, 6, 96), _smooth(1, 6, 96)
    ours = distance(extractor.features_of(fake), extractor.features_of(real))
    clean = distance(clean_features(fake), clean_features(real))
    assert ours != clean and abs(ours - clean) / clean < 0.05  # close, not equal
    # with no resize there is nothing to round: the two preprocessings agree
    native = _smooth(2, 2, 299)
    x = preprocess(native)
    assert np.array_equal(x.numpy().astype(np.float32), np.stack([_clean_mode(i) for i in native]))


def test_the_metrics_page_says_where_they_differ():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text("utf-8")
    assert "for captions of at most 77 tokens" in page
    assert 'not clean-fid\'s "clean" mode' in page
