from __future__ import annotations

import pytest

from chatgenbench.metrics import config_accuracy, config_matches, selection_accuracy


def test_selection_accuracy_hand_computed():
    predicted = ["rawXs_v2.safetensors", "ROLUA", "epicdream", None, "krnglln."]
    reference = ["rawXs_v2", "rolua", "epicdream_lullaby", "DanseMacabre", "krnglln"]
    assert selection_accuracy(predicted, reference) == pytest.approx(3 / 5)


def test_selection_accuracy_rejects_length_mismatch_and_empty():
    with pytest.raises(ValueError):
        selection_accuracy(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        selection_accuracy([], [])


def test_config_matches_type_normalisation():
    reference = {"sampler": "Euler a", "steps": 30, "cfg_scale": 7.0, "width": "512", "height": 768}
    predicted = {"sampler": "euler a", "steps": "30", "cfg_scale": 7, "width": 512, "height": "512"}
    assert config_matches(predicted, reference) == {
        "sampler": True,
        "steps": True,
        "cfg_scale": True,
        "width": True,
        "height": False,
    }


def test_config_matches_scores_only_reference_keys():
    assert config_matches({"steps": 20, "width": 64}, {"steps": 20, "width": None}) == {
        "steps": True
    }
    assert config_matches(None, {"steps": 20}) == {"steps": False}
    assert config_matches("garbage", {"steps": 20}) == {"steps": False}


def test_config_accuracy_hand_computed():
    reference = [
        {"sampler": "Euler a", "steps": 30, "cfg_scale": 7, "width": "512", "height": "512"},
        {"sampler": "DDIM", "steps": 20, "cfg_scale": 5, "width": 768, "height": 512},
    ]
    predicted = [
        # 5 of 5: '512' vs 512 and 7 vs 7.0 match
        {"sampler": "Euler a", "steps": 30, "cfg_scale": 7.0, "width": 512, "height": 512},
        # 2 of 5: sampler, width right; steps missing; cfg wrong; height unparsable
        {"sampler": "ddim", "cfg_scale": 6, "width": "768", "height": "tall"},
    ]
    result = config_accuracy(predicted, reference)
    assert result.value == pytest.approx((1.0 + 2 / 5) / 2)
    assert result.per_key == {
        "sampler": 1.0,
        "steps": 0.5,
        "cfg_scale": 0.5,
        "width": 1.0,
        "height": 0.5,
    }
    assert result.per_key_n == {k: 2 for k in result.per_key}
