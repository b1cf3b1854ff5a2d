"""What the InternVL2-based ChatGen models need: 448px image tiles, the chat call, the prompts.

- **Tiles**: InternVL2 splits an image into 448x448 tiles on the grid (columns x rows, at most
  ``max_tiles`` tiles) whose aspect ratio is closest to the image's, plus one 448x448 thumbnail of
  the whole image when there is more than one tile; each tile is normalised with the ImageNet mean
  and standard deviation (:func:`image_tiles`).
- **Conversation**: the published system prompt (text or reference-image variant, from
  ``baselines/data/chatgen_system_prompts.json``) is prepended to the user's request in the same
  message, as the model cards do. Reference images become ``<image>`` placeholders (``Image-1:
  <image>`` ... when there are several). A history's earlier turns are passed as InternVL
  ``history`` pairs ``(user, assistant)``; a user turn that got no assistant reply is paired with an
  empty reply; the system prompt goes before the first user turn (:func:`build_conversation`).
- **Loading**: ``AutoModel``/``AutoTokenizer`` with ``trust_remote_code=True``: InternVL2 ships its
  own modelling code. That code runs on this machine, so it is loaded only for a checkpoint the
  user names (:func:`load_chat_model`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TILE_SIZE = 448


def system_prompts(path: str | os.PathLike | None = None) -> dict[str, str]:
    """Return the system prompts ``{"text": ..., "image": ..., "source": ...}``.

    The default is the published ChatGen-Base text; ``path`` names a JSON file with the same keys.
    """
    if path is None:
        raw = resources.files("baselines.data").joinpath("chatgen_system_prompts.json").read_text()
    else:
        with open(path, encoding="utf-8") as handle:
            raw = handle.read()
    prompts = json.loads(raw)
    for key in ("text", "image"):
        if not isinstance(prompts.get(key), str):
            raise ValueError(f"system prompts file {path}: key {key!r} must be a string")
    return prompts


def tile_grid(
    width: int, height: int, max_tiles: int, image_size: int = TILE_SIZE
) -> tuple[int, int]:
    """Return the (columns, rows) grid of at most ``max_tiles`` tiles closest to the image's shape.

    Among grids with the same aspect-ratio error the later (larger) one is kept only when the image
    has more than half the grid's pixel area, as InternVL2 does.
    """
    if max_tiles < 1:
        raise ValueError(f"max_tiles must be at least 1, got {max_tiles}")
    grids = sorted(
        {
            (columns, rows)
            for columns in range(1, max_tiles + 1)
            for rows in range(1, max_tiles + 1)
            if columns * rows <= max_tiles
        },
        key=lambda grid: grid[0] * grid[1],
    )
    aspect = width / height
    best, best_error = (1, 1), float("inf")
    for columns, rows in grids:
        error = abs(aspect - columns / rows)
        if error < best_error:
            best, best_error = (columns, rows), error
        elif error == best_error and width * height > 0.5 * image_size**2 * columns * rows:
            best = (columns, rows)
    return best


def image_tiles(image, max_tiles: int = 6, image_size: int = TILE_SIZE):
    """Return the normalised tiles of one PIL image as a float tensor ``[n, 3, size, size]``."""
    import numpy as np
    import torch

    image = image.convert("RGB")
    columns, rows = tile_grid(image.width, image.height, max_tiles, image_size)
    resized = image.resize((columns * image_size, rows * image_size), resample=3)  # bicubic
    tiles = [
        resized.crop((c * image_size, r * image_size, (c + 1) * image_size, (r + 1) * image_size))
        for r in range(rows)
        for c in range(columns)
    ]
    if len(tiles) > 1:
        tiles.append(image.resize((image_size, image_size), resample=3))
    pixels = torch.from_numpy(np.stack([np.asarray(tile, dtype=np.float32) for tile in tiles]))
    pixels = pixels.permute(0, 3, 1, 2) / 255.0  # [n, 3, size, size] in [0, 1]
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (pixels - mean) / std


def _as_pil(image: Any):
    """Return a PIL image from a datasets Image value (PIL, or ``{"bytes", "path"}``)."""
    import io

    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, dict):
        if image.get("bytes"):
            return Image.open(io.BytesIO(image["bytes"]))
        if image.get("path"):
            return Image.open(image["path"])
    raise ValueError(f"not an image: {type(image).__name__}")


@dataclass
class Conversation:
    """One request, laid out for InternVL's ``chat``."""

    question: str
    history: list[tuple[str, str]] = field(default_factory=list)
    pixel_values: Any = None
    num_patches_list: list[int] | None = None
    system_prompt: str = "text"
    notes: list[str] = field(default_factory=list)


def build_conversation(
    row: dict[str, Any],
    prompts: dict[str, str],
    *,
    max_tiles: int = 6,
    request: str | None = None,
) -> Conversation:
    """Lay out one benchmark row as an InternVL conversation (see the module docstring).

    ``request`` replaces the user's last words (used by ChatGen-Evo's in-context stage).
    """
    import torch

    notes: list[str] = []
    turns = [t for t in row.get("history") or [] if t.get("content")]
    last = (row.get("freestyle_input") or "").strip()
    if turns and not last:
        last = next((t["content"] for t in reversed(turns) if t.get("role") == "user"), "")
    images = []
    for image in row.get("reference_images") or []:
        try:
            images.append(_as_pil(image))
        except (ValueError, OSError) as error:
            notes.append(f"reference image unreadable: {error}")
    if row.get("input_type") == "multimodal" and not images:
        notes.append("multimodal input without a readable reference image: text system prompt")
    kind = "image" if images else "text"
    system = prompts[kind]
    pixel_values, patches, placeholders = None, None, ""
    if images:
        tiles = [image_tiles(image, max_tiles) for image in images]
        pixel_values = torch.cat(tiles)
        patches = [len(t) for t in tiles]
        placeholders = (
            "<image>\n"
            if len(images) == 1
            else "".join(f"Image-{i}: <image>\n" for i in range(1, len(images) + 1))
        )
    history: list[tuple[str, str]] = []
    earlier = turns[:-1] if turns and turns[-1].get("content", "").strip() == last else turns
    pending: str | None = None
    for turn in earlier:
        if turn.get("role") == "user":
            if pending is not None:
                history.append((pending, ""))
            pending = turn["content"]
        elif pending is not None:
            history.append((pending, turn["content"]))
            pending = None
    if pending is not None:
        history.append((pending, ""))
    final = request if request is not None else last
    if history:
        history[0] = (system + history[0][0], history[0][1])
        question = placeholders + final
    else:
        question = system + placeholders + final
    return Conversation(question, history, pixel_values, patches, kind, notes)


def load_chat_model(
    checkpoint: str,
    *,
    device: str | None = None,
    dtype: str = "auto",
):
    """Load an InternVL2-style chat model and its tokenizer with ``trust_remote_code=True``.

    ``checkpoint`` is a hub id (fetched unless ``HF_HUB_OFFLINE=1``) or a local folder; the model's
    own code runs, which is why a checkpoint is only ever loaded when the user names it. ``dtype``
    ``auto`` is bfloat16 on CUDA and float32 on CPU. Raises a clear error for an empty tokenizer.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    torch_dtype = getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint, trust_remote_code=True, use_fast=False)
    if len(tokenizer) == 0:
        raise RuntimeError(f"the tokenizer of {checkpoint} loaded empty; is the folder complete?")
    model = AutoModel.from_pretrained(
        checkpoint, dtype=torch_dtype, low_cpu_mem_usage=True, trust_remote_code=True
    )
    model = model.eval().to(device)
    if not callable(getattr(model, "chat", None)):
        raise TypeError(
            f"{checkpoint} loaded as {type(model).__name__}, which has no chat() method"
        )
    return model, tokenizer


def chat(model, tokenizer, conversation: Conversation, generation: dict[str, Any]) -> str:
    """Call ``model.chat`` (InternVL2's signature) on one conversation; return the answer text."""
    pixel_values = conversation.pixel_values
    if pixel_values is not None:
        parameter = next(model.parameters(), None)
        if parameter is not None:
            pixel_values = pixel_values.to(device=parameter.device, dtype=parameter.dtype)
    kwargs: dict[str, Any] = {"history": conversation.history or None, "return_history": False}
    if conversation.num_patches_list and len(conversation.num_patches_list) > 1:
        kwargs["num_patches_list"] = conversation.num_patches_list
    answer = model.chat(tokenizer, pixel_values, conversation.question, dict(generation), **kwargs)
    if isinstance(answer, tuple):  # return_history ignored by some versions
        answer = answer[0]
    return answer if isinstance(answer, str) else str(answer)
