"""Tiny random-weight metric models, written in the same on-disk layout as the real weights.

Tests and CPU speed runs use these: each builder saves a model to a folder that the real loader
(:func:`~chatgenbench.metrics.clip_score.load_clip`, :func:`~chatgenbench.metrics.hps.load_hps`,
:func:`~chatgenbench.metrics.image_reward.load_image_reward`) then reads exactly as it reads the
real weights. Their scores mean nothing. ``size="full"`` builds the real architectures (CLIP
ViT-L/14, open_clip ViT-H-14, BLIP ViT-L + BERT-base) with random weights, for GPU throughput.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Literal

Size = Literal["tiny", "full"]
TINY_HPS_ARCHITECTURE = "chatgenbench-tiny-vit"


def _clip_tokenizer_files(folder: Path) -> None:
    """Write a real CLIP BPE tokenizer (vocab.json, merges.txt) from the vocabulary open_clip ships."""
    from importlib import resources

    from open_clip.tokenizer import bytes_to_unicode

    bpe = resources.files("open_clip").joinpath("bpe_simple_vocab_16e6.txt.gz").read_bytes()
    merges = gzip.decompress(bpe).decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    vocab = list(bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}), "utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", "utf-8")


def write_clip(folder: str | Path, *, size: Size = "tiny", seed: int = 1) -> Path:
    """Save a random-weight ``CLIPModel`` with a real tokenizer and processor; return the folder."""
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if size == "tiny":
        config = CLIPConfig(
            text_config={
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "vocab_size": 49408,
                "max_position_embeddings": 77,
            },
            vision_config={
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "image_size": 32,
                "patch_size": 8,
            },
            projection_dim=16,
        )
        image_size = 32
    else:  # ViT-L/14 at 224, as openai/clip-vit-large-patch14
        config = CLIPConfig(
            text_config={
                "hidden_size": 768,
                "intermediate_size": 3072,
                "num_hidden_layers": 12,
                "num_attention_heads": 12,
                "vocab_size": 49408,
                "max_position_embeddings": 77,
            },
            vision_config={
                "hidden_size": 1024,
                "intermediate_size": 4096,
                "num_hidden_layers": 24,
                "num_attention_heads": 16,
                "image_size": 224,
                "patch_size": 14,
            },
            projection_dim=768,
        )
        image_size = 224
    CLIPModel(config).eval().save_pretrained(folder)
    _clip_tokenizer_files(folder)
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def write_hps(folder: str | Path, *, size: Size = "tiny", seed: int = 0) -> Path:
    """Save a random-weight open_clip checkpoint as ``HPS_v2_compressed.pt``; return the file.

    The tiny model's config is saved beside it as ``chatgenbench-tiny-vit.json`` (the loader
    registers it); the full one is ``ViT-H-14``.
    """
    import open_clip
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if size == "tiny":
        config = {
            "embed_dim": 16,
            "vision_cfg": {
                "image_size": 32,
                "layers": 2,
                "width": 32,
                "head_width": 16,
                "patch_size": 8,
            },
            "text_cfg": {
                "context_length": 77,
                "vocab_size": 49408,
                "width": 32,
                "heads": 2,
                "layers": 2,
            },
        }
        config_file = folder / f"{TINY_HPS_ARCHITECTURE}.json"
        config_file.write_text(json.dumps(config), "utf-8")
        open_clip.add_model_config(config_file)
        architecture = TINY_HPS_ARCHITECTURE
    else:
        architecture = "ViT-H-14"
    from chatgenbench.metrics.hps import create_open_clip

    model = create_open_clip(architecture)
    path = folder / "HPS_v2_compressed.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    return path


_VISION_INVERSE: tuple[tuple[str, str], ...] = (
    (r"^embeddings\.class_embedding$", "cls_token"),
    (r"^embeddings\.position_embedding$", "pos_embed"),
    (r"^embeddings\.patch_embedding\.", "patch_embed.proj."),
    (r"^encoder\.layers\.(\d+)\.layer_norm1\.", r"blocks.\1.norm1."),
    (r"^encoder\.layers\.(\d+)\.layer_norm2\.", r"blocks.\1.norm2."),
    (r"^encoder\.layers\.(\d+)\.self_attn\.qkv\.", r"blocks.\1.attn.qkv."),
    (r"^encoder\.layers\.(\d+)\.self_attn\.projection\.", r"blocks.\1.attn.proj."),
    (r"^encoder\.layers\.(\d+)\.mlp\.", r"blocks.\1.mlp."),
    (r"^post_layernorm\.", "norm."),
)


def to_original_layout(state: dict) -> dict:
    """Rename this package's ImageReward keys back to ``ImageReward.pt``'s (BLIP) names."""
    original = {}
    for key, value in state.items():
        if key.startswith("visual_encoder."):
            rest = key.removeprefix("visual_encoder.")
            for pattern, replacement in _VISION_INVERSE:
                if re.search(pattern, rest):
                    original["blip.visual_encoder." + re.sub(pattern, replacement, rest)] = value
                    break
            else:
                raise ValueError(f"no original name for {key!r}")
        elif key.startswith("text_encoder."):
            original["blip." + key] = value
        else:
            original[key] = value
    return original


def write_image_reward(folder: str | Path, *, size: Size = "tiny", seed: int = 0) -> Path:
    """Save a random-weight ImageReward (``ImageReward.pt`` in BLIP key layout, ``med_config.json``).

    Returns the folder. The checkpoint also carries BLIP's unused ``vision_proj``/``text_proj``
    and ``position_ids`` entries, as the real one does.
    """
    import torch
    from transformers import BlipVisionConfig

    from chatgenbench.metrics.image_reward import _text_config, build_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if size == "tiny":
        vision = BlipVisionConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=1,
            image_size=32,
            patch_size=16,
            layer_norm_eps=1e-6,
        )
        med = {"hidden_size": 32, "intermediate_size": 64, "layers": 2, "heads": 2}
    else:
        vision = BlipVisionConfig(
            hidden_size=1024,
            intermediate_size=4096,
            num_hidden_layers=24,
            num_attention_heads=16,
            image_size=224,
            patch_size=16,
            layer_norm_eps=1e-6,
        )
        med = {"hidden_size": 768, "intermediate_size": 3072, "layers": 12, "heads": 12}
    med_config = {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": med["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": med["intermediate_size"],
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": med["heads"],
        "num_hidden_layers": med["layers"],
        "pad_token_id": 0,
        "type_vocab_size": 2,
        "vocab_size": 30524,
        "encoder_width": vision.hidden_size,
        "add_cross_attention": True,
    }
    model = build_model(vision, _text_config(med_config, vision.hidden_size))
    with torch.no_grad():  # random MLP weights large enough that rewards differ between inputs
        for layer in model.mlp.layers:
            if isinstance(layer, torch.nn.Linear):
                torch.nn.init.normal_(layer.weight, std=0.1)
    state = to_original_layout(model.state_dict())
    state["blip.vision_proj.weight"] = torch.zeros(8, vision.hidden_size)
    state["blip.text_encoder.embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
    torch.save(state, folder / "ImageReward.pt")
    (folder / "med_config.json").write_text(json.dumps(med_config, indent=2), "utf-8")
    return folder
