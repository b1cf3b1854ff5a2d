"""HPS v2 through the real loader on a tiny open_clip model, against a direct open_clip forward."""

from __future__ import annotations

import json

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image
from torchvision.transforms import Compose, InterpolationMode, Normalize, ToTensor
from torchvision.transforms import functional as F

from chatgenbench.metrics.hps import (
    TINY_HPS_ARCHITECTURE,
    HPSv2,
    create_open_clip,
    hps_preprocess,
    hps_scores,
    hps_v2,
    load_hps,
    write_hps,
)
from chatgenbench.metrics.weights import WeightsMissing
from tests.metrics.pil_modes import MODES, image_in_mode, images_in_every_mode

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


class ResizeMaxSize(torch.nn.Module):
    """hpsv2's ``ResizeMaxSize`` (its open_clip fork's transform.py), restated."""

    def __init__(self, max_size, interpolation=InterpolationMode.BICUBIC, fill=0):
        super().__init__()
        self.max_size, self.interpolation, self.fill = max_size, interpolation, fill

    def forward(self, img):
        width, height = img.size
        scale = self.max_size / float(max(height, width))
        if scale != 1.0:
            new_size = tuple(round(dim * scale) for dim in (height, width))
            img = F.resize(img, new_size, self.interpolation)
            pad_h = self.max_size - new_size[0]
            pad_w = self.max_size - new_size[1]
            img = F.pad(
                img,
                padding=[pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2],
                fill=self.fill,
            )
        return img


def reference_transform(size: int) -> Compose:
    """hpsv2's ``preprocess_val`` (``image_transform(..., is_train=False,
    resize_longest_max=True)``): resize and pad in the image's own mode, RGB after."""
    return Compose(
        [
            ResizeMaxSize(size),
            lambda image: image.convert("RGB"),
            ToTensor(),
            Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
        ]
    )


@pytest.mark.parametrize("size", [(90, 60), (60, 300), (224, 224), (300, 224), (7, 5), (1, 1)])
@pytest.mark.parametrize("mode", MODES)
def test_preprocess_equals_hpsv2_transform_in_every_mode(mode, size):
    image = image_in_mode(mode, size)
    expected = reference_transform(224)(image.copy())
    got = hps_preprocess(image, 224)
    assert got.shape == (3, 224, 224)
    assert torch.allclose(got, expected, rtol=0, atol=1e-6), (mode, size)


@pytest.mark.parametrize(
    ("mode", "suffix"),
    [("RGBA", "png"), ("LA", "png"), ("P", "gif"), ("CMYK", "tif"), ("I;16", "png")],
)
def test_preprocess_of_a_file_equals_the_transform_of_the_opened_file(tmp_path, mode, suffix):
    path = tmp_path / f"image.{suffix}"
    image_in_mode(mode, (80, 50)).save(path)
    with Image.open(path) as opened:
        expected = reference_transform(224)(opened)
    for given in (path, {"bytes": path.read_bytes()}):
        assert torch.allclose(hps_preprocess(given, 224), expected, rtol=0, atol=1e-6)


def test_scores_equal_the_reference_transform_in_every_mode(bundle):
    images = images_in_every_mode()
    texts = [f"a picture in mode {mode}" for mode in images]
    transform = reference_transform(bundle.image_size)
    pixels = torch.stack([transform(image) for image in images.values()])
    with torch.no_grad():
        image_features = bundle.model.encode_image(pixels, normalize=True)
        text_features = bundle.model.encode_text(bundle.tokenizer(texts), normalize=True)
    expected = (image_features * text_features).sum(dim=-1).tolist()
    metric = HPSv2(bundle)
    assert metric.update(list(images.values()), texts) == pytest.approx(expected, abs=1e-6)
    # the test can tell the orders apart: converting to RGB first moves these modes' scores
    rgb_first = hps_scores(bundle, [i.convert("RGB") for i in images.values()], texts)
    for mode in ("LA", "P", "PA", "RGBA"):
        index = list(images).index(mode)
        assert abs(rgb_first[index] - expected[index]) > 1e-4, mode


@pytest.fixture(scope="module")
def bundle_224(tmp_path_factory):
    """A tiny random HPS model at HPS v2's input size, 224."""
    folder = tmp_path_factory.mktemp("hps224")
    architecture = "chatgenbench-tiny-vit-224"
    config = {
        "embed_dim": 16,
        "vision_cfg": {
            "image_size": 224,
            "layers": 1,
            "width": 32,
            "head_width": 16,
            "patch_size": 32,
        },
        "text_cfg": {
            "context_length": 77,
            "vocab_size": 49408,
            "width": 32,
            "heads": 2,
            "layers": 1,
        },
    }
    (folder / f"{architecture}.json").write_text(json.dumps(config), "utf-8")
    open_clip.add_model_config(folder / f"{architecture}.json")
    torch.manual_seed(0)
    model = create_open_clip(architecture)
    torch.save({"state_dict": model.state_dict()}, folder / "HPS_v2_compressed.pt")
    return load_hps(folder, architecture=architecture)


#: (width, height): a longer side of 224 already (hpsv2 leaves these unpadded), a square at
#: size, an ordinary one, and the extremes (hpsv2 resizes 10000x1 to 0 pixels high and fails).
ODD_SIZES = [(224, 100), (100, 224), (224, 224), (500, 300), (1, 1), (10000, 1), (1, 10000)]


def test_every_odd_image_is_padded_to_a_square():
    for width, height in ODD_SIZES:
        image = image_in_mode("RGB", (width, height))
        assert hps_preprocess(image, 224).shape == (3, 224, 224), (width, height)
    # 224x100 is padded black above and below, unscaled: as a 448x200 image is after its resize
    image = image_in_mode("RGBA", (224, 100))
    padded = F.pad(image, [0, 62, 0, 62], fill=0)
    expected = reference_transform(224)(padded)
    assert torch.allclose(hps_preprocess(image, 224), expected, rtol=0, atol=1e-6)
    x = hps_preprocess(image_in_mode("RGB", (10000, 1)), 224)
    black = (0 - 0.48145466) / 0.26862954
    assert x[0, 111].ne(black).any() and x[0, 110].eq(black).all()  # one row kept, centred


def test_no_odd_image_fails_a_batch(bundle_224):
    images = [image_in_mode("RGB", size, seed=i) for i, size in enumerate(ODD_SIZES)]
    texts = [f"picture {i}" for i in range(len(images))]
    alone = [HPSv2(bundle_224).update([image], [text])[0] for image, text in zip(images, texts)]
    mixed = HPSv2(bundle_224).update(images, texts)
    assert mixed == pytest.approx(alone, abs=1e-5)
    assert all(np.isfinite(mixed))
