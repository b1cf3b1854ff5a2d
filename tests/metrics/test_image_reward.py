"""ImageReward: the checkpoint loader (BLIP key layout) against a direct forward of the same tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

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
