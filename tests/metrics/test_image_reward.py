"""ImageReward: the checkpoint loader (BLIP key layout) against a direct forward of the same tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import (
    CenterCrop,
    Compose,
    InterpolationMode,
    Normalize,
    Resize,
    ToTensor,
)

from chatgenbench.metrics.image_reward import (
    ImageReward,
    _text_config,
    _vision_config,
    build_model,
    convert_state_dict,
    image_reward,
    image_reward_preprocess,
    load_image_reward,
    load_tokenizer,
    write_image_reward,
)
from chatgenbench.metrics.weights import WeightsMissing
from tests.metrics.pil_modes import MODES, image_in_mode, images_in_every_mode

TEXTS = ["a red square on a white table", "a cat", "a dog in the snow"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_image_reward(tmp_path_factory.mktemp("ir"))


@pytest.fixture(scope="module")
def bundle(folder):
    return load_image_reward(folder)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)) for _ in TEXTS]


def test_loader_matches_direct_forward(folder, bundle, images):
    state = torch.load(folder / "ImageReward.pt", weights_only=True)
    med = json.loads((folder / "med_config.json").read_text())
    vision = _vision_config(state)
    direct = build_model(vision, _text_config(med, vision.hidden_size))
    converted, dropped = convert_state_dict(state)
    assert "blip.vision_proj.weight" in dropped
    direct.load_state_dict(converted)
    direct.eval()
    tokenizer = load_tokenizer()
    expected = []
    with torch.no_grad():
        for image, text in zip(images, TEXTS):
            tokens = tokenizer(
                text, padding="max_length", truncation=True, max_length=35, return_tensors="pt"
            )
            pixel = image_reward_preprocess(image, vision.image_size).unsqueeze(0)
            expected.append(float(direct(pixel, tokens.input_ids, tokens.attention_mask)))
    assert len(set(round(e, 6) for e in expected)) == len(expected)
    assert image_reward(images, TEXTS, bundle) == pytest.approx(100 * np.mean(expected), rel=1e-5)


def test_tokenizer_is_blips():
    tokenizer = load_tokenizer()
    assert len(tokenizer) == 30524
    assert tokenizer.convert_tokens_to_ids("[DEC]") == 30522
    assert tokenizer.convert_tokens_to_ids("[ENC]") == 30523
    assert tokenizer("A Cat").input_ids == [101, 1037, 4937, 102]


def test_unknown_key_and_missing_weights(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown ImageReward checkpoint key"):
        convert_state_dict({"something.else": torch.zeros(1)})
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("CHATGENBENCH_IMAGE_REWARD", raising=False)
    with pytest.raises(WeightsMissing, match="chatgenbench weights download image-reward"):
        load_image_reward()


def test_metric_object_merge(bundle, images):
    whole, left, right = ImageReward(bundle), ImageReward(bundle), ImageReward(bundle)
    whole.update(images, TEXTS)
    left.update(images[:2], TEXTS[:2], ids=["a", "b"])
    right.update(images[2:], TEXTS[2:], ids=["c"])
    left.merge(right)
    assert left.compute() == pytest.approx(whole.compute(), abs=1e-3)


def reference_transform(n_px: int) -> Compose:
    """image-reward 1.5's ``ImageReward._transform``, restated: resize and crop in the image's own
    mode, convert to RGB after."""
    return Compose(
        [
            Resize(n_px, interpolation=InterpolationMode.BICUBIC),
            CenterCrop(n_px),
            lambda image: image.convert("RGB"),
            ToTensor(),
            Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
        ]
    )


@pytest.mark.parametrize("size", [(90, 60), (60, 300), (224, 224), (300, 224), (7, 5), (1, 1)])
@pytest.mark.parametrize("mode", MODES)
def test_preprocess_equals_image_rewards_transform_in_every_mode(mode, size):
    image = image_in_mode(mode, size)
    expected = reference_transform(224)(image.copy())
    got = image_reward_preprocess(image, 224)
    assert got.shape == (3, 224, 224)
    assert torch.allclose(got, expected, rtol=0, atol=1e-6), (mode, size)


@pytest.mark.parametrize(
    ("mode", "suffix"),
    [
        ("RGBA", "png"),
        ("LA", "png"),
        ("P", "gif"),
        ("P+transparency", "png"),
        ("CMYK", "tif"),
        ("I;16", "png"),
        ("1", "bmp"),
    ],
)
def test_preprocess_of_a_file_equals_the_transform_of_the_opened_file(tmp_path, mode, suffix):
    path = tmp_path / f"image.{suffix}"
    image_in_mode(mode, (80, 50)).save(path)
    with Image.open(path) as opened:
        expected = reference_transform(224)(opened)
    for given in (path, str(path), {"path": str(path)}, {"bytes": path.read_bytes()}):
        assert torch.allclose(image_reward_preprocess(given), expected, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def sensitive_bundle(folder):
    """The tiny model with its cross-attention and reward head scaled up: its random rewards
    otherwise hardly depend on the image (differences of 1e-7)."""
    bundle = load_image_reward(folder)
    with torch.no_grad():
        for name, parameter in bundle.model.named_parameters():
            if "crossattention.output.dense" in name or "crossattention.self.value" in name:
                parameter.mul_(30)
        bundle.model.mlp.layers[-1].weight.mul_(1000)
    return bundle


def test_scores_equal_the_reference_transform_in_every_mode(sensitive_bundle):
    bundle = sensitive_bundle
    images = images_in_every_mode()
    texts = [f"a picture in mode {mode}" for mode in images]
    tokens = bundle.tokenizer(
        texts, padding="max_length", truncation=True, max_length=35, return_tensors="pt"
    )
    transform = reference_transform(bundle.image_size)
    pixels = torch.stack([transform(image) for image in images.values()])
    with torch.no_grad():
        expected = bundle.model(pixels, tokens.input_ids, tokens.attention_mask).tolist()
    metric = ImageReward(bundle)
    scores = metric.update(list(images.values()), texts, ids=list(images))
    assert scores == pytest.approx(expected, rel=0, abs=1e-6)
    assert float(metric.compute()) == pytest.approx(100 * np.mean(expected), abs=1e-4)
    # the test can tell the orders apart: converting to RGB first moves these modes' scores
    rgb_first = ImageReward(bundle).update([i.convert("RGB") for i in images.values()], texts)
    for mode in ("LA", "P", "PA", "RGBA"):
        index = list(images).index(mode)
        assert abs(rgb_first[index] - expected[index]) > 1e-3, mode


#: (width, height): odd shapes, and extremes whose resized longer side is 10000 times the shorter
ODD_SIZES = [(1, 1), (10000, 1), (1, 10000), (224, 100), (100, 224), (500, 300)]


def test_no_odd_image_fails_a_batch(bundle):
    images = [
        image_in_mode(mode, size, seed=i)
        for i, (mode, size) in enumerate(zip(["RGB", "RGBA", "L", "P", "1", "I;16"], ODD_SIZES))
    ]
    texts = [f"picture {i}" for i in range(len(images))]
    alone = [ImageReward(bundle).update([image], [text])[0] for image, text in zip(images, texts)]
    mixed = ImageReward(bundle).update(images, texts)
    assert mixed == pytest.approx(alone, abs=1e-5)
    assert all(np.isfinite(mixed))
