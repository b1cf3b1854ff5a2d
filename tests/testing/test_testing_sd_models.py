from __future__ import annotations

import pytest


@pytest.mark.parametrize("arch", ["sd15-tiny", "sdxl-tiny"])
def test_single_file_export_loads_back_exactly_through_from_single_file(arch, tmp_path):
    import diffusers
    import torch

    from chatgenbench.testing.sd_models import (
        build_pipeline,
        save_config_folder,
        save_single_file,
    )

    pipeline = build_pipeline(arch, seed=7, workdir=tmp_path)
    path = save_single_file(pipeline, tmp_path / "model.safetensors")
    save_config_folder(pipeline, tmp_path / "config")
    assert not list((tmp_path / "config").rglob("*.safetensors"))  # configs only, no weights
    loaded = type(pipeline).from_single_file(
        str(path), config=str(tmp_path / "config"), local_files_only=True
    )
    assert isinstance(loaded, diffusers.DiffusionPipeline)
    components = ["unet", "vae", "text_encoder"] + (["text_encoder_2"] if "xl" in arch else [])
    for name in components:
        ours, theirs = getattr(pipeline, name).state_dict(), getattr(loaded, name).state_dict()
        assert ours.keys() == theirs.keys(), name
        for key, value in ours.items():
            assert torch.equal(value, theirs[key].reshape(value.shape)), f"{name}.{key}"


def test_clip_tokenizer_from_code_and_from_open_clip_vocab(tmp_path):
    from transformers import CLIPTokenizer

    from chatgenbench.testing.sd_models import write_clip_tokenizer

    small = CLIPTokenizer.from_pretrained(write_clip_tokenizer(tmp_path / "small"))
    assert len(small) == 514
    assert small("a cat").input_ids[0] == small.bos_token_id
    full = CLIPTokenizer.from_pretrained(write_clip_tokenizer(tmp_path / "full", full_vocab=True))
    assert len(full) == 49408
    assert full("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_unknown_architecture_is_refused(tmp_path):
    from chatgenbench.testing.sd_models import build_pipeline

    with pytest.raises(ValueError, match="unknown architecture"):
        build_pipeline("sd3", workdir=tmp_path)
