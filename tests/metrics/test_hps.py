"""HPS v2 through the real loader on a tiny open_clip model, against a direct open_clip forward."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from chatgenbench.metrics.hps import (
    TINY_HPS_ARCHITECTURE,
    HPSv2,
    hps_preprocess,
    hps_v2,
    load_hps,
    write_hps,
)
from chatgenbench.metrics.weights import WeightsMissing

TEXTS = ["a red square", "a cat", "a dog"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_hps(tmp_path_factory.mktemp("hps"))


@pytest.fixture(scope="module")
def bundle(checkpoint):
    return load_hps(checkpoint, architecture=TINY_HPS_ARCHITECTURE)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)) for _ in TEXTS]


def test_matches_direct_open_clip_forward(checkpoint, bundle, images):
    model = open_clip.create_model(TINY_HPS_ARCHITECTURE, pretrained=None, output_dict=True)
    model.load_state_dict(torch.load(checkpoint, weights_only=True)["state_dict"])
    model.eval()
    tokenizer = open_clip.get_tokenizer(TINY_HPS_ARCHITECTURE)
    expected = []
    with torch.no_grad():
        for image, text in zip(images, TEXTS):
            out = model(hps_preprocess(image, 32).unsqueeze(0), tokenizer([text]))
            expected.append(float((out["image_features"] @ out["text_features"].T).diagonal()[0]))
    assert hps_v2(images, TEXTS, bundle) == pytest.approx(100 * np.mean(expected), rel=1e-5)


def test_preprocess_pads_the_short_side_with_black():
    image = Image.new("RGB", (64, 32), (255, 255, 255))
    x = hps_preprocess(image, 32)
    assert x.shape == (3, 32, 32)
    black = (0 - 0.48145466) / 0.26862954
    assert x[0, 0, 0].item() == pytest.approx(black, rel=1e-5)  # padded row
    assert x[0, 16, 16].item() > 1.0  # white content


def test_metric_object_merge(bundle, images):
    whole, left, right = HPSv2(bundle), HPSv2(bundle), HPSv2(bundle)
    whole.update(images, TEXTS)
    left.update(images[:1], TEXTS[:1], ids=["x"])
    right.update(images[1:], TEXTS[1:], ids=["y", "z"])
    left.merge(right)
    assert left.compute() == pytest.approx(whole.compute(), abs=1e-3)


def test_wrong_checkpoint_and_missing_weights(tmp_path, monkeypatch, checkpoint):
    with pytest.raises(ValueError, match="does not fit"):
        load_hps(checkpoint, architecture="ViT-B-32")
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("CHATGENBENCH_HPS_V2", raising=False)
    with pytest.raises(WeightsMissing, match="chatgenbench weights download hps-v2.0"):
        load_hps()
