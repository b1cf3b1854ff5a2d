"""Stable Diffusion pipelines with random weights, saved the ways real weights come.

No Stable Diffusion weights can be had on our machines, so tests and speed runs build SD 1.5 and SDXL
pipelines with random weights here and save them as a diffusers folder, as one original-layout
(A1111/LDM) ``.safetensors`` file, and LoRA files. The engine then loads them back through the same
catalogue path that a user's real checkpoints take. Random weights produce noise images, but cost the
same time as trained ones at the same architecture.

Architectures (``arch``):

- ``sd15-tiny`` / ``sdxl-tiny``: a few thousand parameters per block, 64x64 renders in well under a
  second on a CPU; the tokenizer is a byte-level CLIP tokenizer written here (no merges).
- ``sd15-full``: the real SD 1.5 UNet, VAE and CLIP ViT-L/14 text encoder shapes (about 1.07 B
  parameters) with the real CLIP BPE vocabulary that ``open_clip`` ships; for GPU speed runs.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

from chatgenbench.render.pipelines import save_config_folder  # noqa: F401  (builders use it)

ARCHES: tuple[str, ...] = ("sd15-tiny", "sdxl-tiny", "sd15-full")
_START, _END = "<|startoftext|>", "<|endoftext|>"


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2/CLIP byte-level alphabet: every byte maps to a printable character.
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def write_clip_tokenizer(folder: str | os.PathLike, *, full_vocab: bool = False) -> Path:
    """Write a CLIP tokenizer (``vocab.json``, ``merges.txt``, configs) to ``folder`` and return it.

    ``full_vocab=False``: a byte-level vocabulary of 514 tokens written here (each character, with and
    without ``</w>``, no merges). ``full_vocab=True``: the real 49,408-token CLIP BPE vocabulary from
    the ``bpe_simple_vocab_16e6.txt.gz`` file that ``open_clip`` ships.
    """
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = list(_bytes_to_unicode().values())
    merges: list[tuple[str, str]] = []
    if full_vocab:
        import open_clip

        bpe = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
        lines = gzip.open(bpe).read().decode("utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges]
    tokens += [_START, _END]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), "utf-8")
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), "utf-8"
    )
    tokenizer = CLIPTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        model_max_length=77,
        pad_token=_END,
    )
    tokenizer.save_pretrained(folder)
    return folder


def _text_config(tokenizer, hidden: int, layers: int, heads: int, intermediate: int, **extra: Any):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=77,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_act="quick_gelu",
        **extra,
    )


def build_pipeline(arch: str = "sd15-tiny", *, seed: int = 0, workdir: str | os.PathLike):
    """Return a diffusers pipeline of ``arch`` (see :data:`ARCHES`) with seeded random weights.

    ``workdir`` receives the tokenizer files the pipeline is built from.
    """
    import torch
    from diffusers import (
        AutoencoderKL,
        PNDMScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    if arch not in ARCHES:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {ARCHES}")
    torch.manual_seed(seed)
    workdir = Path(workdir)
    tokenizer = CLIPTokenizer.from_pretrained(
        write_clip_tokenizer(workdir / f"tokenizer-{arch}", full_vocab=arch == "sd15-full")
    )
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        skip_prk_steps=True,
        steps_offset=1,
    )

    def sd15_pipeline(vae, text_encoder, unet) -> StableDiffusionPipeline:
        return StableDiffusionPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )

    if arch == "sd15-full":
        text_encoder = CLIPTextModel(_text_config(tokenizer, 768, 12, 12, 3072))
        unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768)
        vae = AutoencoderKL(
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            latent_channels=4,
            sample_size=512,
        )
        return sd15_pipeline(vae, text_encoder, unet)
    vae = AutoencoderKL(
        block_out_channels=(16, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
    )
    if arch == "sd15-tiny":
        unet = UNet2DConditionModel(
            block_out_channels=(16, 32),
            layers_per_block=1,
            sample_size=8,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=4,
            norm_num_groups=8,
        )
        text_encoder = CLIPTextModel(_text_config(tokenizer, 32, 2, 4, 37))
        return sd15_pipeline(vae, text_encoder, unet)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=6 * 8 + 40,
        cross_attention_dim=32 + 40,
        norm_num_groups=8,
    )
    text_encoder = CLIPTextModel(_text_config(tokenizer, 32, 2, 4, 37))
    # The second encoder is wider than the first, as in SDXL (768 and 1280): diffusers tells the two
    # apart in a single file by their width.
    text_encoder_2 = CLIPTextModelWithProjection(
        _text_config(tokenizer, 40, 2, 4, 48, projection_dim=40)
    )
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=scheduler,
    )


# --- diffusers layout -> original (LDM / A1111) single-file layout -------------------------------

_RESNET_PARTS = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)
_UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
}


def _unet_to_ldm(state: dict[str, Any], unet_config: dict[str, Any]) -> dict[str, Any]:
    per_block = unet_config["layers_per_block"]
    n_up = len(unet_config["up_block_types"])
    up_has_attention = ["CrossAttn" in kind for kind in unet_config["up_block_types"]]
    out: dict[str, Any] = {}
    for key, value in state.items():
        parts = key.split(".")
        new: str | None = None
        for prefix, target in _UNET_TOP.items():
            if key.startswith(prefix + "."):
                new = target + key[len(prefix) :]
        if new is None and parts[0] == "down_blocks":
            block, kind, index = int(parts[1]), parts[2], int(parts[3])
            rest = ".".join(parts[4:])
            if kind == "resnets":
                new = f"input_blocks.{1 + block * (per_block + 1) + index}.0.{rest}"
            elif kind == "attentions":
                new = f"input_blocks.{1 + block * (per_block + 1) + index}.1.{rest}"
            else:  # downsamplers.0.conv.*
                new = f"input_blocks.{(block + 1) * (per_block + 1)}.0.op.{'.'.join(parts[5:])}"
        elif new is None and parts[0] == "up_blocks":
            block, kind, index = int(parts[1]), parts[2], int(parts[3])
            rest = ".".join(parts[4:])
            base = block * (per_block + 1)
            if kind == "resnets":
                new = f"output_blocks.{base + index}.0.{rest}"
            elif kind == "attentions":
                new = f"output_blocks.{base + index}.1.{rest}"
            else:  # upsamplers.0.conv.*
                slot = 2 if up_has_attention[block] else 1
                new = f"output_blocks.{base + per_block}.{slot}.{rest}"
            assert block < n_up
        elif new is None and parts[0] == "mid_block":
            kind, index, rest = parts[1], int(parts[2]), ".".join(parts[3:])
            slot = 1 if kind == "attentions" else 2 * index
            new = f"middle_block.{slot}.{rest}"
        if new is None:
            raise ValueError(f"no original-layout name for UNet key {key}")
        if ".0." in new and ("resnets" in key):
            head, _, tail = new.rpartition(".0.")
            for old, ldm in _RESNET_PARTS:
                if tail.startswith(old + "."):
                    tail = ldm + tail[len(old) :]
            new = f"{head}.0.{tail}"
        out["model.diffusion_model." + new] = value
    return out


def _vae_to_ldm(state: dict[str, Any], vae_config: dict[str, Any]) -> dict[str, Any]:
    n_blocks = len(vae_config["block_out_channels"])
    out: dict[str, Any] = {}
    attention = {
        "group_norm": "norm",
        "to_q": "q",
        "to_k": "k",
        "to_v": "v",
        "to_out.0": "proj_out",
    }
    for key, value in state.items():
        parts = key.split(".")
        side = parts[0]
        new = key
        if parts[1] == "conv_norm_out":
            new = f"{side}.norm_out.{'.'.join(parts[2:])}"
        elif parts[1] in ("down_blocks", "up_blocks"):
            block = int(parts[2])
            ldm_block = block if side == "encoder" else n_blocks - 1 - block
            group = "down" if side == "encoder" else "up"
            if parts[3] == "resnets":
                rest = ".".join(parts[5:]).replace("conv_shortcut", "nin_shortcut")
                new = f"{side}.{group}.{ldm_block}.block.{parts[4]}.{rest}"
            else:
                sample = "downsample" if side == "encoder" else "upsample"
                new = f"{side}.{group}.{ldm_block}.{sample}.{'.'.join(parts[5:])}"
        elif parts[1] == "mid_block":
            if parts[2] == "resnets":
                rest = ".".join(parts[4:]).replace("conv_shortcut", "nin_shortcut")
                new = f"{side}.mid.block_{int(parts[3]) + 1}.{rest}"
            else:
                rest = ".".join(parts[4:])
                for old, ldm in attention.items():
                    if rest.startswith(old + "."):
                        rest = ldm + rest[len(old) :]
                new = f"{side}.mid.attn_1.{rest}"
                if value.ndim == 2:  # original checkpoints hold 1x1 convolutions here
                    value = value[:, :, None, None]
        out["first_stage_model." + new] = value
    return out


def _openclip_text_to_ldm(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {}
    qkv: dict[str, dict[str, Any]] = {}
    names = {
        "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "positional_embedding",
        "text_model.final_layer_norm.weight": "ln_final.weight",
        "text_model.final_layer_norm.bias": "ln_final.bias",
    }
    for key, value in state.items():
        if key in names:
            out[prefix + names[key]] = value
        elif key == "text_projection.weight":
            out[prefix + "text_projection"] = value.T.contiguous()
        elif key.startswith("text_model.encoder.layers."):
            rest = key[len("text_model.encoder.layers.") :]
            layer, _, name = rest.partition(".")
            block = f"{prefix}transformer.resblocks.{layer}."
            if name.split(".")[1] in ("q_proj", "k_proj", "v_proj"):
                qkv.setdefault(block, {})[name.split(".")[1][0] + name.split(".")[-1]] = value
                continue
            name = (
                name.replace("self_attn.out_proj", "attn.out_proj")
                .replace("layer_norm1", "ln_1")
                .replace("layer_norm2", "ln_2")
                .replace("mlp.fc1", "mlp.c_fc")
                .replace("mlp.fc2", "mlp.c_proj")
            )
            out[block + name] = value
    for block, parts in qkv.items():
        out[block + "attn.in_proj_weight"] = torch.cat([parts[c + "weight"] for c in "qkv"])
        out[block + "attn.in_proj_bias"] = torch.cat([parts[c + "bias"] for c in "qkv"])
    return out


def original_state_dict(pipeline) -> dict[str, Any]:
    """Return a pipeline's weights in the original single-file (A1111/LDM) layout."""
    state = _unet_to_ldm(pipeline.unet.state_dict(), dict(pipeline.unet.config))
    state.update(_vae_to_ldm(pipeline.vae.state_dict(), dict(pipeline.vae.config)))
    text = {
        k if k.startswith("text_model.") else "text_model." + k: v
        for k, v in pipeline.text_encoder.state_dict().items()
    }
    if getattr(pipeline, "text_encoder_2", None) is None:
        state.update({"cond_stage_model.transformer." + k: v for k, v in text.items()})
    else:
        state.update({"conditioner.embedders.0.transformer." + k: v for k, v in text.items()})
        state.update(
            _openclip_text_to_ldm(
                pipeline.text_encoder_2.state_dict(), "conditioner.embedders.1.model."
            )
        )
    return {k: v.detach().contiguous() for k, v in state.items()}


def save_single_file(pipeline, path: str | os.PathLike) -> Path:
    """Save a pipeline as one original-layout ``.safetensors`` file (what Civitai serves)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(original_state_dict(pipeline), str(path))
    return path


def save_lora(pipeline, path: str | os.PathLike, *, rank: int = 4, seed: int = 0) -> Path:
    """Save a random LoRA for ``pipeline``'s UNet attention layers as a diffusers LoRA file.

    The up-projections are random (not zero), so that the LoRA visibly changes the output.
    """
    import torch
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import copy

    unet = copy.deepcopy(pipeline.unet)
    config = LoraConfig(
        r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"]
    )
    unet.add_adapter(config, adapter_name="random")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    state = get_peft_model_state_dict(unet, adapter_name="random")
    pipeline_class = type(pipeline)
    pipeline_class.save_lora_weights(
        save_directory=str(path.parent),
        unet_lora_layers=state,
        weight_name=path.name,
        safe_serialization=True,
    )
    return path
