"""HPS v2 (Human Preference Score v2) through open_clip alone.

HPS v2 is an open_clip ``ViT-H-14`` fine-tuned on human preferences. Its checkpoint
(``HPS_v2_compressed.pt``; v2.1: ``HPS_v2.1_compressed.pt``) holds a ``state_dict`` that loads
strictly into ``open_clip.create_model('ViT-H-14', pretrained=None)``, so the ``hpsv2`` package (which
pins old dependencies and always downloads the 3.9 GB base model first) is not needed. The score
is the ``hpsv2`` package's: ``encode_image(x, normalize=True) · encode_text(t, normalize=True)``
(raw about 0.20 to 0.30, reported ×100), with ``hpsv2``'s evaluation preprocessing in its order
for every PIL mode: resize the longer side to 224 (bicubic) and pad to a square with 0 in the
image's own mode, then convert to RGB, then OpenAI CLIP mean/std. Where ``hpsv2`` would fail the
batch, one odd image is defined instead (:func:`hps_preprocess`): a non-square image whose longer
side is already 224 is padded to a square too, and no side shrinks below 1 pixel.

A checkpoint folder may carry ``<architecture>.json`` (an open_clip model config): it is registered
with ``open_clip.add_model_config`` before the model is built (tests use this for a tiny model).
:func:`write_hps` saves a random-weight checkpoint in that layout (tests, demos).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chatgenbench.metrics.base import PerImageMetric, load_state_strictly
from chatgenbench.metrics.images import open_image
from chatgenbench.metrics.registry import register_image_metric
from chatgenbench.metrics.weight_sets import WeightSet

HPSVersion = Literal["v2.0", "v2.1"]
#: Checkpoint keys the loader drops as safe to ignore: none but a ``module.`` prefix (a model saved
#: from DistributedDataParallel). The HPS checkpoints are plain open_clip state_dicts; any other
#: extra key means another architecture and is refused by name.
HPS_IGNORABLE = "none (a 'module.' prefix on every key is removed)"
HPS_FILES: dict[str, str] = {"v2.0": "HPS_v2_compressed.pt", "v2.1": "HPS_v2.1_compressed.pt"}
#: version -> the weight set of its checkpoint
HPS_WEIGHTS: dict[str, WeightSet] = {
    "v2.0": WeightSet(
        name="hps-v2.0",
        description="HPS v2.0 state_dict for open_clip ViT-H-14 (xswu/HPSv2)",
        repo_id="xswu/HPSv2",
        files=(HPS_FILES["v2.0"],),
        env="CHATGENBENCH_HPS_V2",
    ),
    "v2.1": WeightSet(
        name="hps-v2.1",
        description="HPS v2.1 state_dict for open_clip ViT-H-14 (xswu/HPSv2)",
        repo_id="xswu/HPSv2",
        files=(HPS_FILES["v2.1"],),
        env="CHATGENBENCH_HPS_V2_1",
    ),
}
DEFAULT_ARCHITECTURE = "ViT-H-14"
#: The open_clip architecture of the tiny random HPS model (:func:`write_hps`).
TINY_HPS_ARCHITECTURE = "chatgenbench-tiny-vit"
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class HPSOptions:
    """HPS v2's options (each field is a command-line flag of the same name)."""

    hps_version: str = field(
        default="v2.0", metadata={"help": "HPS checkpoint version", "choices": tuple(HPS_FILES)}
    )
    hps_checkpoint: str | None = field(
        default=None,
        metadata={"help": "HPS checkpoint file (default: weights cache)", "path": True},
    )
    hps_architecture: str = field(
        default="ViT-H-14",
        metadata={
            "help": "open_clip model of the HPS checkpoint (default ViT-H-14; a <name>.json "
            "open_clip config beside the checkpoint is registered first)"
        },
    )


@dataclass
class HPSBundle:
    """A loaded HPS model, its tokenizer and preprocessing, and where they came from."""

    model: Any
    tokenizer: Any
    image_size: int
    source: str
    version: str
    architecture: str
    device: str = "cpu"
    dtype: str = "float32"


def create_open_clip(architecture: str):
    """Return ``open_clip.create_model(architecture, pretrained=None)`` on the CPU, without its
    "no pretrained weights" warning (the caller loads a state_dict next)."""
    import logging

    import open_clip

    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return open_clip.create_model(architecture, pretrained=None, device="cpu")
    finally:
        logger.setLevel(level)


def load_hps(
    checkpoint: str | Path | None = None,
    *,
    version: HPSVersion = "v2.0",
    architecture: str = DEFAULT_ARCHITECTURE,
    device: str = "cpu",
    dtype: str = "float32",
) -> HPSBundle:
    """Load HPS v2 from a checkpoint file or folder (default: the weights cache for ``version``).

    The checkpoint is read with ``torch.load(weights_only=True)`` and its ``state_dict`` loaded
    strictly. Raises :class:`chatgenbench.metrics.weights.WeightsMissing` when absent, ValueError for a
    checkpoint that does not fit the architecture.
    """
    import open_clip
    import torch

    from chatgenbench.core.errors import WeightsMissing
    from chatgenbench.core.storage import load_checkpoint

    if version not in HPS_FILES:
        raise ValueError(f"unknown HPS version {version!r}; expected {list(HPS_FILES)}")
    if checkpoint is None:
        path = HPS_WEIGHTS[version].locate() / HPS_FILES[version]
    else:
        path = Path(checkpoint)
        if path.is_dir():
            path = path / HPS_FILES[version]
    if not path.is_file():
        raise WeightsMissing(f"HPS {version} checkpoint not found: {path}")
    config = path.parent / f"{architecture}.json"
    if config.is_file():
        open_clip.add_model_config(config)
    model = create_open_clip(architecture)
    payload = load_checkpoint(path)
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state_dict (or a dict holding 'state_dict')")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    load_state_strictly(
        model, state, source=str(path), network=f"open_clip {architecture}", ignorable=HPS_IGNORABLE
    )
    model = model.to(device=device, dtype=getattr(torch, dtype)).eval()
    tokenizer = open_clip.get_tokenizer(architecture)
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    return HPSBundle(model, tokenizer, size, str(path), version, architecture, device, dtype)


def hps_preprocess(image: Any, size: int):
    """Return the ``(3, size, size)`` tensor of ``hpsv2``'s evaluation transform for one image.

    ``hpsv2``'s steps in its order, for every PIL mode: resize the longer side to ``size``
    (bicubic) and pad to a square with 0 **in the image's own mode** (``ResizeMaxSize``), then
    convert to RGB, then scale to [0, 1] and normalise. Two cases where ``hpsv2`` itself breaks
    are defined here so that one odd image never fails its batch: a non-square image whose longer
    side is already ``size`` is padded to a square like every other (``hpsv2`` leaves it
    unpadded), and a side that would round to 0 pixels (a 10000x1 image) is kept at 1 pixel.
    """
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    img = open_image(image)
    width, height = img.size
    if (width, height) != (size, size):
        scale = size / float(max(height, width))
        new = tuple(max(1, round(d * scale)) for d in (height, width))
        if new != (height, width):
            img = F.resize(img, list(new), InterpolationMode.BICUBIC)
        pad_h, pad_w = size - new[0], size - new[1]
        img = F.pad(img, [pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2], fill=0)
    x = F.to_tensor(img.convert("RGB"))
    mean = torch.tensor(OPENAI_MEAN).view(3, 1, 1)
    std = torch.tensor(OPENAI_STD).view(3, 1, 1)
    return (x - mean) / std


def hps_scores(bundle: HPSBundle, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
    """Return the raw HPS v2 score (cosine of normalised features) of each image with its text."""
    import torch

    dtype = next(bundle.model.parameters()).dtype
    pixels = torch.stack([hps_preprocess(i, bundle.image_size) for i in images])
    tokens = bundle.tokenizer(list(texts))
    with torch.inference_mode():
        image_features = bundle.model.encode_image(
            pixels.to(bundle.device, dtype), normalize=True
        ).float()
        text_features = bundle.model.encode_text(tokens.to(bundle.device), normalize=True).float()
    return (image_features * text_features).sum(dim=-1).cpu().tolist()


@register_image_metric
class HPSv2(PerImageMetric):
    """HPS v2 as a metric object (``update(images, texts, ids)``, ``compute()`` ×100)."""

    name = "hps_v2"
    label = "HPS v2"
    higher_is_better = True
    description = "HPS v2 ×100"
    weights = tuple(HPS_WEIGHTS.values())
    Options = HPSOptions
    comparability = ("version",)

    def __init__(self, bundle: HPSBundle) -> None:
        super().__init__(bundle)
        self.options = HPSOptions(bundle.version, bundle.source, bundle.architecture)

    @classmethod
    def load(cls, options: HPSOptions, device: str = "cpu", dtype: str = "float32") -> HPSv2:
        """Load the HPS checkpoint of ``options`` (default: the weights cache) as the metric."""
        metric = cls(
            load_hps(
                options.hps_checkpoint,
                version=options.hps_version,
                architecture=options.hps_architecture,
                device=device,
                dtype=dtype,
            )
        )
        metric.options = options
        return metric

    @classmethod
    def weights_for(cls, options: HPSOptions) -> WeightSet | None:
        """Return the weight set of the chosen HPS version."""
        return HPS_WEIGHTS.get(options.hps_version)

    @classmethod
    def settings(cls, options: HPSOptions, *, device: str, dtype: str) -> dict[str, Any]:
        """Return the version, architecture, checkpoint, implementation and preprocessing."""
        return {
            "version": options.hps_version,
            "architecture": options.hps_architecture,
            "checkpoint": options.hps_checkpoint or f"weights cache hps-{options.hps_version}",
            "implementation": "open_clip state_dict load (no hpsv2 package)",
            "preprocessing": "resize longer side to 224 bicubic and pad to a square in the "
            "image's own mode, then RGB, OpenAI mean/std",
        }

    @classmethod
    def write_random_weights(cls, folder: Path, seed: int = 0) -> dict[str, Any]:
        """Write a tiny random HPS checkpoint (:func:`write_hps`) into ``folder`` unless it holds
        one; return the checkpoint and its architecture."""
        checkpoint = Path(folder) / "HPS_v2_compressed.pt"
        if not checkpoint.is_file():
            write_hps(folder, seed=seed)
        return {"hps_checkpoint": str(checkpoint), "hps_architecture": TINY_HPS_ARCHITECTURE}

    def score_batch(self, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
        """Return the raw HPS v2 score of each pair."""
        return hps_scores(self.bundle, images, texts)


def hps_v2(images: Sequence[Any], texts: Sequence[str], model: HPSBundle) -> float:
    """Return the mean HPS v2 ×100 of images against texts."""
    metric = HPSv2(model)
    metric.update(images, texts)
    return float(metric.compute())


# Random weights, for tests and ``chatgenbench weights demo``: the real layout, seeded noise.
# ``size="full"`` builds the real architecture (for GPU throughput runs); the scores mean nothing.


def write_hps(folder: str | Path, *, size: Literal["tiny", "full"] = "tiny", seed: int = 0) -> Path:
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
    model = create_open_clip(architecture)
    path = folder / "HPS_v2_compressed.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    return path
