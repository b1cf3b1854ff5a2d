"""A seeded generator of SYNTHETIC benchmarks at the real scale, for scale tests and speed runs.

Everything it writes says it is synthetic: ids start with ``synth-``, every row's ``source`` is
``synthetic (seed S)``, every catalogue entry has ``"synthetic": true``, the folder's manifest has
``"synthetic": true`` and its dataset card says so. Results computed on it carry ``synthetic: true``
and never go on the leaderboard.

The data has learnable structure (each model has themes, a favourite sampler and sizes, and inputs
mention their model's themes), so baselines can be tested for beating chance, but the texts are
template-made and the "images" are coloured squares.
"""

from __future__ import annotations

import io
import os
import random
from typing import Any

from chatgenbench.benchmark.catalog import CatalogEntry, ModelCatalog
from chatgenbench.benchmark.records import to_row

#: The paper's test split sizes per setting and input type (10,240 supervised, 4,324 few-shot).
PAPER_COUNTS: dict[str, dict[str, int]] = {
    "supervised": {"single": 8009, "multimodal": 1099, "history": 1132},
    "few_shot": {"single": 3002, "multimodal": 569, "history": 753},
}
PAPER_TRAIN_COUNTS: dict[str, int] = {"single": 147888, "multimodal": 69548, "history": 39170}
PAPER_TEST_ROWS = 14564
PAPER_TRAIN_ROWS = 256606
PAPER_MODELS = 6807

SUBJECTS = [
    "cat",
    "knight",
    "robot",
    "dragon",
    "castle",
    "forest",
    "girl",
    "old man",
    "fox",
    "spaceship",
    "city street",
    "mountain lake",
    "warrior maiden",
    "wizard",
    "car",
    "samurai",
    "mermaid",
    "owl",
    "lighthouse",
    "monster",
    "cyborg",
    "princess",
    "tiger",
    "village",
    "astronaut",
    "pirate",
    "flower field",
    "teapot",
    "bee",
    "possum",
]
STYLES = [
    "anime",
    "photorealistic",
    "watercolor",
    "oil painting",
    "3d cartoon",
    "pixel art",
    "cyberpunk",
    "ink sketch",
    "neon sign",
    "comic",
    "low poly",
    "fantasy art",
    "steampunk",
    "vaporwave",
    "ukiyo-e",
    "claymation",
    "gothic",
    "pastel",
    "art nouveau",
    "cinematic",
]
PLACES = [
    "at sunset",
    "in the rain",
    "under the stars",
    "in a misty forest",
    "on a busy market",
    "by the sea",
    "in a snowy town",
    "in space",
    "in a neon alley",
    "in a meadow",
]
QUALITY = [
    "masterpiece",
    "best quality",
    "ultra detailed",
    "8k",
    "sharp focus",
    "soft lighting",
    "dramatic lighting",
    "highly detailed",
    "intricate",
    "film grain",
]
OPENERS = [
    "Could you make",
    "I'd love",
    "Let's create",
    "Please draw",
    "Imagine",
    "Show me",
    "Can I get",
    "Picture this:",
]
SAMPLERS = [
    "Euler a",
    "Euler",
    "DPM++ 2M Karras",
    "DPM++ SDE Karras",
    "DPM++ 2M SDE Karras",
    "DDIM",
    "DPM2 a Karras",
    "UniPC",
    "Heun",
    "LMS",
    "DPM++ 2S a Karras",
]
SIZES = {
    "sd15": [(512, 512), (512, 768), (768, 512), (512, 640)],
    "sdxl": [(1024, 1024), (832, 1216), (1216, 832), (896, 1152)],
}


def _scaled(counts: dict[str, int], total: int, paper_total: int) -> dict[str, int]:
    scaled = {key: round(value * total / paper_total) for key, value in counts.items()}
    first = next(iter(scaled))
    scaled[first] += total - sum(scaled.values())
    return scaled


def synth_catalog(n_models: int, rng: random.Random) -> tuple[ModelCatalog, list[dict[str, Any]]]:
    """Return a synthetic catalogue and each model's hidden preferences (themes, sampler, size)."""
    entries, profiles = [], []
    for index in range(n_models):
        style, subject = rng.choice(STYLES), rng.choice(SUBJECTS)
        architecture = "sdxl" if rng.random() < 0.3 else "sd15"
        kind = "lora" if rng.random() < 0.55 else "checkpoint"
        name = f"synth_{style.replace(' ', '')}_{subject.replace(' ', '')}_{index:04d}" + (
            "XL" if architecture == "sdxl" else ""
        )
        description = (
            f"A {'LoRA' if kind == 'lora' else 'checkpoint'} for {style} images, "
            f"good at {subject}s. SYNTHETIC model for testing."
        )
        entries.append(
            CatalogEntry(
                name=name,
                architecture=architecture,
                kind=kind,
                description=description,
                source="synthetic",
                extra={"synthetic": True},
            )
        )
        profiles.append(
            {
                "name": name,
                "style": style,
                "subject": subject,
                "architecture": architecture,
                "sampler": rng.choice(SAMPLERS),
                "steps": rng.choice([20, 25, 28, 30, 40]),
                "cfg_scale": rng.choice([5.0, 6.0, 7.0, 7.5, 8.0]),
                "size": rng.choice(SIZES[architecture]),
                "quality": rng.sample(QUALITY, 3),
            }
        )
    return ModelCatalog(entries, synthetic=True), profiles


def _png(rng: random.Random, size: int = 64) -> dict[str, Any]:
    from PIL import Image

    image = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def _record(
    rng: random.Random, profile: dict, input_type: str, row_id: str, seed: int, images: bool
) -> dict[str, Any]:
    subject = profile["subject"] if rng.random() < 0.8 else rng.choice(SUBJECTS)
    style = profile["style"] if rng.random() < 0.8 else rng.choice(STYLES)
    place = rng.choice(PLACES)
    request = f"{rng.choice(OPENERS)} a {style} picture of a {subject} {place}?"
    record: dict[str, Any] = {
        "id": row_id,
        "input_type": input_type,
        "source": f"synthetic (seed {seed})",
    }
    if input_type == "history":
        turns = [f"{rng.choice(OPENERS)} a {subject}.", f"Make it {style}.", f"Put it {place}."]
        record["history"] = [{"role": "user", "content": t} for t in turns[: rng.choice([2, 3])]]
    else:
        record["freestyle_input"] = (
            request
            if input_type == "single"
            else (f"{request} Use the attached picture as a reference.")
        )
    if input_type == "multimodal" and images:
        record["reference_images"] = [_png(rng)]
    stick = rng.random() < 0.75
    width, height = profile["size"] if stick else rng.choice(SIZES[profile["architecture"]])
    record.update(
        {
            "prompt": ", ".join([style, f"a {subject}", place, *profile["quality"]]),
            "negative_prompt": "lowres, bad anatomy, blurry" if rng.random() < 0.5 else "",
            "model": profile["name"],
            "model_description": f"SYNTHETIC: {style} / {subject}",
            "arguments": {
                "sampler": profile["sampler"] if stick else rng.choice(SAMPLERS),
                "steps": profile["steps"] if stick else rng.choice([20, 30, 50]),
                "cfg_scale": profile["cfg_scale"] if stick else rng.choice([4.0, 7.0, 9.0]),
                "width": width,
                "height": height,
            },
        }
    )
    if images:
        record["image"] = _png(rng)
    return record


def scaled_sizes(
    rows: int, train_rows: int | None = None, n_models: int | None = None
) -> tuple[int, int]:
    """Return ``(train_rows, n_models)`` for ``rows`` test rows: the paper's ratios unless given.

    At the paper's 14,564 test rows this is 256,606 train rows and 6,807 models; ``rows=500`` gives
    8,810 train rows and 234 models (never fewer than 10 models).
    """
    if train_rows is None:
        train_rows = round(rows * PAPER_TRAIN_ROWS / PAPER_TEST_ROWS)
    if n_models is None:
        n_models = max(10, round(rows * PAPER_MODELS / PAPER_TEST_ROWS))
    return train_rows, n_models


def synth_rows(
    rows: int = PAPER_TEST_ROWS,
    *,
    seed: int = 0,
    train_rows: int | None = None,
    n_models: int | None = None,
    images: bool = False,
) -> tuple[dict[str, list[dict[str, Any]]], ModelCatalog]:
    """Return synthetic rows per config (``supervised``, ``few_shot``, ``train``) and the catalogue.

    Test rows follow the paper's setting and input-type proportions. Few-shot models are drawn from
    a tail of models that appear at most 5 times in the train split. ``train_rows`` and
    ``n_models`` default to the paper's ratios to ``rows`` (see :func:`scaled_sizes`).
    """
    train_rows, n_models = scaled_sizes(rows, train_rows, n_models)
    if rows < 2 or n_models < 10:
        raise ValueError("synthetic benchmarks need at least 2 rows and 10 models")
    rng = random.Random(seed)
    catalog, profiles = synth_catalog(n_models, rng)
    n_tail = max(1, n_models // 5)
    head, tail = profiles[:-n_tail], profiles[-n_tail:]
    head_weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(head))]

    total = sum(sum(c.values()) for c in PAPER_COUNTS.values())
    per_setting = _scaled({s: sum(c.values()) for s, c in PAPER_COUNTS.items()}, rows, total)
    out: dict[str, list[dict[str, Any]]] = {}
    for setting, n_setting in per_setting.items():
        pool, weights = (head, head_weights) if setting == "supervised" else (tail, None)
        counts = _scaled(PAPER_COUNTS[setting], n_setting, sum(PAPER_COUNTS[setting].values()))
        records, number = [], 0
        for input_type, n in counts.items():
            chosen = rng.choices(pool, weights=weights, k=n)
            for profile in chosen:
                number += 1
                records.append(
                    _record(rng, profile, input_type, f"synth-{setting}-{number:06d}", seed, images)
                )
        out[setting] = [to_row(record, setting=setting) for record in records]
    if train_rows:
        counts = _scaled(PAPER_TRAIN_COUNTS, train_rows, PAPER_TRAIN_ROWS)
        records, number = [], 0
        tail_budget = {profile["name"]: rng.randint(0, 5) for profile in tail}
        for input_type, n in counts.items():
            for _ in range(n):
                number += 1
                profile = rng.choices(head, weights=head_weights)[0]
                if tail_budget and rng.random() < 0.01:
                    name = rng.choice(list(tail_budget))
                    profile = next(p for p in tail if p["name"] == name)
                    tail_budget[name] -= 1
                    if tail_budget[name] <= 0:
                        del tail_budget[name]
                records.append(
                    _record(rng, profile, input_type, f"synth-train-{number:07d}", seed, False)
                )
        out["train"] = [to_row(record, setting="train") for record in records]
    return out, catalog


def write_synthetic(
    out_dir: str | os.PathLike,
    rows: int = PAPER_TEST_ROWS,
    *,
    seed: int = 0,
    train_rows: int | None = None,
    n_models: int | None = None,
    images: bool = False,
):
    """Write a synthetic benchmark folder (see :func:`synth_rows`) and return its BenchmarkInfo."""
    from chatgenbench.benchmark.folder import write_benchmark_folder

    rows_by_config, catalog = synth_rows(
        rows, seed=seed, train_rows=train_rows, n_models=n_models, images=images
    )
    return write_benchmark_folder(
        out_dir,
        rows_by_config,
        catalog,
        source=f"synthetic (chatgenbench synth, seed {seed})",
        synthetic=True,
        extra_manifest={
            "seed": seed,
            "generator": "chatgenbench.benchmark.synth",
            "images": images,
            "warning": "SYNTHETIC: not real benchmark data; never on the leaderboard",
        },
    )
