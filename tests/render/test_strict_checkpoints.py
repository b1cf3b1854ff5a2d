"""HPS v2 and ImageReward load strictly; a mismatch names every unexpected and missing key."""

from __future__ import annotations

import shutil

import pytest
import torch

from chatgenbench.metrics.hps import TINY_HPS_ARCHITECTURE, load_hps, write_hps
from chatgenbench.metrics.image_reward import (
    IGNORED_PREFIXES,
    load_image_reward,
    write_image_reward,
)


@pytest.fixture(scope="module")
def hps_file(tmp_path_factory):
    return write_hps(tmp_path_factory.mktemp("hps"))


@pytest.fixture(scope="module")
def ir_folder(tmp_path_factory):
    return write_image_reward(tmp_path_factory.mktemp("ir"))


def _hps_variant(hps_file, tmp_path, change):
    folder = tmp_path / "hps"
    shutil.copytree(hps_file.parent, folder)
    target = folder / hps_file.name
    payload = torch.load(target, weights_only=True)
    state = payload.get("state_dict", payload)
    change(state)
    torch.save(payload, target)
    return target


def _drop_first(state):
    del state[sorted(state)[0]]


@pytest.mark.parametrize(
    "change, unexpected, missing",
    [
        (lambda s: s.update({"extra.weight": torch.zeros(1)}), ["extra.weight"], []),
        (lambda s: s.update({"a.b": torch.zeros(1), "c": torch.zeros(2)}), ["a.b", "c"], []),
        (_drop_first, [], ["<first>"]),
    ],
)
def test_hps_mismatch_lists_keys(hps_file, tmp_path, change, unexpected, missing):
    original = torch.load(hps_file, weights_only=True)
    first = sorted(original.get("state_dict", original))[0]
    path = _hps_variant(hps_file, tmp_path, change)
    with pytest.raises(ValueError) as caught:
        load_hps(path, architecture=TINY_HPS_ARCHITECTURE)
    message = str(caught.value)
    for key in unexpected:
        assert key in message and "unexpected keys" in message
    for key in missing:
        assert (first if key == "<first>" else key) in message and "missing keys" in message
    assert "safe to ignore" in message


def test_hps_module_prefix_is_safe(hps_file, tmp_path):
    def prefix(state):
        for key in list(state):
            state["module." + key] = state.pop(key)

    bundle = load_hps(_hps_variant(hps_file, tmp_path, prefix), architecture=TINY_HPS_ARCHITECTURE)
    assert bundle.model is not None


def _ir_variant(ir_folder, tmp_path, change):
    folder = tmp_path / "ir"
    shutil.copytree(ir_folder, folder)
    state = torch.load(folder / "ImageReward.pt", weights_only=True)
    change(state.get("state_dict", state))
    torch.save(state, folder / "ImageReward.pt")
    return folder


@pytest.mark.parametrize(
    "extra", [["blip.extra_head.weight"], ["mlp.extra.bias", "something.else"]]
)
def test_image_reward_unexpected_keys_are_all_named(ir_folder, tmp_path, extra):
    folder = _ir_variant(
        ir_folder, tmp_path, lambda s: s.update({k: torch.zeros(1) for k in extra})
    )
    with pytest.raises(ValueError) as caught:
        load_image_reward(folder)
    message = str(caught.value)
    assert f"{len(extra)} unexpected keys" in message
    assert all(key in message for key in extra)
    assert all(prefix in message for prefix in IGNORED_PREFIXES)  # what may be ignored


def test_image_reward_missing_key_is_named(ir_folder, tmp_path):
    removed = "mlp.layers.0.weight"
    folder = _ir_variant(ir_folder, tmp_path, lambda s: s.pop(removed))
    with pytest.raises(ValueError, match=r"1 missing keys \[mlp\.layers\.0\.weight\]"):
        load_image_reward(folder)


def test_image_reward_ignorable_keys_load(ir_folder, tmp_path):
    def add(state):
        state["blip.itm_head.weight"] = torch.zeros(2, 3)
        state["blip.text_encoder.embeddings.position_ids"] = torch.arange(4)

    assert load_image_reward(_ir_variant(ir_folder, tmp_path, add)).model is not None


def test_image_reward_without_vision_keys_is_a_value_error(ir_folder, tmp_path):
    def strip(state):
        for key in [k for k in state if k.startswith("blip.visual_encoder.")]:
            del state[key]

    with pytest.raises(ValueError, match="not an ImageReward checkpoint"):
        load_image_reward(_ir_variant(ir_folder, tmp_path, strip))
