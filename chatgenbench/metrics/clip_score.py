"""CLIP score of an image against its reference prompt, with a named variant.

Variants (``variant=``; the raw per-image score, reported ×100):

- ``clip_s`` (default, Hessel et al. 2021, the scale the paper prints: 63 to 73):
  ``2.5 * max(cos(image, text), 0)``.
- ``torchmetrics``: ``cos(image, text)`` per image, and the mean clamped at 0: ×100 this is
  ``torchmetrics``' ``CLIPScore`` (which clamps the mean, not each image) **for captions of at
  most 77 tokens**. Over 77, torchmetrics cuts the token ids after the 77th and so drops the
  end-of-text token that CLIP pools from; we truncate as transformers does, keeping it (the
  correct reading), so long captions score differently from torchmetrics.

The model is a ``transformers`` ``CLIPModel`` with its processor, loaded from a local folder only
(``chatgenbench weights download clip-vit-large-patch14`` fetches the default,
``openai/clip-vit-large-patch14``). Texts longer than the model's 77 tokens are truncated and
counted. An image of any mode is scored on the pixels of PIL's ``convert("RGB")``, given to the
processor as a uint8 tensor as torchmetrics gives them (so no alpha or transparency key is
composited onto white, which transformers 5's processor does with a PIL image).
:func:`write_clip` saves a random-weight CLIP in that layout (tests, demos).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chatgenbench.metrics.base import PerImageMetric
from chatgenbench.metrics.images import to_rgb
from chatgenbench.metrics.registry import register_image_metric
from chatgenbench.metrics.weight_sets import WeightSet

ClipVariant = Literal["clip_s", "torchmetrics"]
#: variant -> (weight, where the clamp at 0 applies: "image" or "mean")
CLIP_VARIANTS: dict[str, tuple[float, str]] = {
    "clip_s": (2.5, "image"),
    "torchmetrics": (1.0, "mean"),
}
DEFAULT_CLIP_MODEL = "clip-vit-large-patch14"
CLIP_WEIGHTS = WeightSet(
    name=DEFAULT_CLIP_MODEL,
    description="OpenAI CLIP ViT-L/14 (transformers format)",
    repo_id="openai/clip-vit-large-patch14",
    files=("config.json", "model.safetensors"),
    env="CHATGENBENCH_CLIP",
    patterns=(
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
        "merges.txt",
        "special_tokens_map.json",
    ),
)


@dataclass(frozen=True)
class CLIPScoreOptions:
    """The CLIP score's options (each field is a command-line flag of the same name)."""

    clip_model: str | None = field(
        default=None,
        metadata={
            "help": "local CLIP folder (default: weights cache clip-vit-large-patch14)",
            "path": True,
        },
    )
    clip_variant: str = field(
        default="clip_s",
        metadata={
            "help": "clip_s = 2.5*max(cos,0) (paper scale, default); torchmetrics = max(cos,0)",
            "choices": tuple(CLIP_VARIANTS),
        },
    )


@dataclass
class CLIPBundle:
    """A loaded CLIP model, its processor and where they came from."""

    model: Any
    processor: Any
    source: str
    device: str = "cpu"
    dtype: str = "float32"


def load_clip(
    path: str | Path | None = None, *, device: str = "cpu", dtype: str = "float32"
) -> CLIPBundle:
    """Load a CLIP model and processor from a local folder (default: the weights cache).

    Never downloads (``local_files_only=True``). Raises
    :class:`chatgenbench.metrics.weights.WeightsMissing` when the folder is absent or incomplete, and
    ValueError when the tokenizer loads empty (transformers 5 does that for an uncached one).
    """
    import torch
    from transformers import CLIPModel, CLIPProcessor

    from chatgenbench.core.errors import WeightsMissing

    folder = Path(path) if path is not None else CLIP_WEIGHTS.locate()
    if not (folder / "config.json").is_file():
        raise WeightsMissing(f"no CLIP model in {folder} (config.json missing)")
    model = CLIPModel.from_pretrained(folder, local_files_only=True, dtype=getattr(torch, dtype))
    processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
    if len(processor.tokenizer) == 0:
        raise ValueError(f"the CLIP tokenizer in {folder} loaded empty")
    model = model.to(device).eval()
    return CLIPBundle(model, processor, str(folder), device, dtype)


def _features(output):
    # transformers 5 returns a model output where 4.x returned the tensor
    return output if hasattr(output, "norm") else output.pooler_output


def _tokenize(bundle: CLIPBundle, texts: Sequence[str]):
    """Tokenise once; cut texts over the model's limit as transformers' truncation does (keeping
    the end-of-text token). Return (padded batch, number of truncated texts)."""
    tokenizer = bundle.processor.tokenizer
    limit = getattr(bundle.model.config.text_config, "max_position_embeddings", 77)
    encoded = tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]
    ids = [i if len(i) <= limit else i[: limit - 1] + [i[-1]] for i in encoded]
    batch = tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
    return batch, sum(len(i) > limit for i in encoded)


def _cosines(bundle: CLIPBundle, images: Sequence[Any], texts: Sequence[str]):
    import numpy as np
    import torch

    # RGB uint8 tensors, as torchmetrics passes them: given a PIL image, transformers 5's processor
    # composites a transparency key (which PIL's convert keeps in ``info``) onto white
    rgb = [torch.from_numpy(np.array(to_rgb(i))).permute(2, 0, 1) for i in images]
    pixel = bundle.processor.image_processor(rgb, return_tensors="pt")
    tokens, truncated = _tokenize(bundle, texts)
    dtype = next(bundle.model.parameters()).dtype
    with torch.inference_mode():
        image_features = _features(
            bundle.model.get_image_features(
                pixel_values=pixel["pixel_values"].to(bundle.device, dtype)
            )
        ).float()
        text_features = _features(
            bundle.model.get_text_features(
                input_ids=tokens["input_ids"].to(bundle.device),
                attention_mask=tokens["attention_mask"].to(bundle.device),
            )
        ).float()
    image_features = image_features / image_features.norm(dim=-1, keepdim=True)
    text_features = text_features / text_features.norm(dim=-1, keepdim=True)
    return (image_features * text_features).sum(dim=-1).cpu().tolist(), truncated


def clip_cosines(bundle: CLIPBundle, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
    """Return the cosine similarity of each image with its text (texts cut at 77 tokens)."""
    return _cosines(bundle, images, texts)[0]


def aggregate_clip(mean: float, variant: str) -> float:
    """Apply the variant's clamp of the mean (torchmetrics clamps the mean at 0)."""
    return max(mean, 0.0) if CLIP_VARIANTS[variant][1] == "mean" else mean


@register_image_metric
class CLIPScore(PerImageMetric):
    """CLIP score as a metric object (``update(images, texts, ids)``, ``compute()`` ×100)."""

    name = "clip_score"
    label = "CLIP"
    higher_is_better = True
    description = "CLIP score ×100 (variant in metric_settings.image.clip_score)"
    weights = (CLIP_WEIGHTS,)
    Options = CLIPScoreOptions
    comparability = ("variant",)

    def __init__(self, bundle: CLIPBundle, variant: ClipVariant = "clip_s") -> None:
        super().__init__(bundle)
        if variant not in CLIP_VARIANTS:
            raise ValueError(
                f"unknown CLIP score variant {variant!r}; expected {list(CLIP_VARIANTS)}"
            )
        self.variant = variant
        self.options = CLIPScoreOptions(clip_model=bundle.source, clip_variant=variant)
        self.truncated = 0

    @classmethod
    def load(
        cls, options: CLIPScoreOptions, device: str = "cpu", dtype: str = "float32"
    ) -> CLIPScore:
        """Load the CLIP model of ``options`` (default: the weights cache) and return the metric."""
        if options.clip_variant not in CLIP_VARIANTS:
            raise ValueError(f"unknown CLIP score variant {options.clip_variant!r}")
        metric = cls(
            load_clip(options.clip_model, device=device, dtype=dtype), options.clip_variant
        )
        metric.options = options
        return metric

    @classmethod
    def settings(cls, options: CLIPScoreOptions, *, device: str, dtype: str) -> dict[str, Any]:
        """Return the variant, its formula, the model and the text limit."""
        return {
            "variant": options.clip_variant,
            "formula": "100 * 2.5 * max(cos(image, text), 0) per image, mean"
            if options.clip_variant == "clip_s"
            else "100 * max(mean of cos(image, text), 0) (torchmetrics CLIPScore)",
            "model": options.clip_model or "clip-vit-large-patch14 (openai/clip-vit-large-patch14)",
            "max_text_tokens": 77,
        }

    def score_batch(self, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
        """Return ``2.5 * max(cos, 0)`` per pair (clip_s) or ``cos`` (torchmetrics)."""
        weight, clamp = CLIP_VARIANTS[self.variant]
        cosines, truncated = _cosines(self.bundle, images, texts)
        self.truncated += truncated
        if clamp == "image":
            return [weight * max(c, 0.0) for c in cosines]
        return [weight * c for c in cosines]

    def finalize(self, mean: float) -> float:
        """Clamp the mean at 0 for the torchmetrics variant (which clamps the mean, not images)."""
        return aggregate_clip(mean, self.variant)

    def merge(self, other: PerImageMetric) -> None:
        """Add another instance's scores and truncation count."""
        super().merge(other)
        self.truncated += getattr(other, "truncated", 0)

    def reset(self) -> None:
        """Forget every score and the truncation count."""
        super().reset()
        self.truncated = 0

    @classmethod
    def write_random_weights(cls, folder: Path, seed: int = 0) -> dict[str, Any]:
        """Write a tiny random CLIP (:func:`write_clip`) into ``folder`` unless it holds one."""
        if not (Path(folder) / "config.json").is_file():
            write_clip(folder, seed=seed + 1)  # CLIP's demo seed has always been one above
        return {"clip_model": str(folder)}

    def notes(self) -> dict[str, Any]:
        """Return how many texts were cut at CLIP's 77 tokens."""
        return {"clip_score_truncated_texts": self.truncated}


def clip_score(
    images: Sequence[Any],
    texts: Sequence[str],
    model: CLIPBundle,
    *,
    variant: ClipVariant = "clip_s",
) -> float:
    """Return the mean CLIP score ×100 of images against texts.

    >>> clip_score([image], ["a red square"], load_clip("tiny-clip"))  # doctest: +SKIP
    """
    metric = CLIPScore(model, variant)
    metric.update(images, texts)
    return float(metric.compute())


# Random weights, for tests and ``chatgenbench weights demo``: the real layout, seeded noise.
# ``size="full"`` builds the real architecture (for GPU throughput runs); the scores mean nothing.


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


def write_clip(
    folder: str | Path, *, size: Literal["tiny", "full"] = "tiny", seed: int = 1
) -> Path:
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
