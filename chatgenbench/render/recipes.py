"""Recipes: what reruns one rendered sample elsewhere, as a standalone diffusers script or as
AUTOMATIC1111's parameters text.

:func:`build_recipe` reads one sample of a render folder: its manifest record, its PNG (a regular
file inside the folder, at most :data:`MAX_PNG_BYTES`, naming the record's cache key in its key
chunk) and the ``parameters`` text inside it (:mod:`chatgenbench.render.png_parameters`). The
weights are found again through the catalogue (the benchmark's, with ``catalog`` laid over it),
and refused when their content hash is not the ``Model hash`` (or ``Lora hashes``) the image
records: a recipe never points at other weights than those that made the image. The device, the
dtype and torch's CPU thread count come from the folder's ``render_summary.json``.

:func:`diffusers_script` writes a Python script that needs only ``torch`` and ``diffusers``: it
loads the checkpoint as the engine does (single file with its config folder, or a diffusers
folder; no safety checker), applies the LoRA with the engine's adapter name and scale, builds the
scheduler class with the engine's settings from the checkpoint's own scheduler config, seeds one
``torch.Generator("cpu")`` with the seed, and calls the pipeline with one-element lists as the
engine does. On the same device and library versions it reproduces the engine's pixels exactly
(the engine renders a batch of requests with equal arguments in one call: on some devices a batch
may change a pixel by one level; the recipe records the batch size).

Untrusted strings (prompts, negative prompts, model names, paths) are data: the script holds the
whole recipe as one JSON text inside a Python string literal written by ``repr`` (ASCII only:
``json.dumps`` escapes everything else), which it decodes with ``json.loads``. Nothing of the
submission is ever Python code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatgenbench.core.errors import ChatGenBenchError

MAX_PNG_BYTES = 64 << 20
RECIPE_FORMATS = ("diffusers", "a1111")


class RecipeError(ChatGenBenchError, ValueError):
    """A recipe that cannot be written: the sample, its image or its weights cannot be verified."""


@dataclass
class Recipe:
    """Everything that decides one sample's image, as the engine used it."""

    sample_id: str
    parameters: str
    data: dict[str, Any] = field(default_factory=dict)


def _summary(root: Path) -> dict[str, Any]:
    from chatgenbench.core.storage import read_regular_bytes
    from chatgenbench.render.manifest import SUMMARY_NAME

    try:
        summary = json.loads(
            read_regular_bytes(root / SUMMARY_NAME, within=root, max_bytes=64 << 20)
        )
    except (OSError, ValueError) as error:  # missing, a link out, not JSON
        raise RecipeError(f"{root}: no readable {SUMMARY_NAME} ({error})") from error
    if not isinstance(summary, dict):
        raise RecipeError(f"{root / SUMMARY_NAME}: expected an object")
    return summary


def _record(root: Path, sample_id: str):
    from chatgenbench.render.manifest import load_manifest

    try:
        manifest = load_manifest(root)
    except (OSError, ValueError) as error:  # missing, a link out, two ids on one image
        raise RecipeError(f"{root}: not a readable render folder ({error})") from error
    record = next((r for r in manifest.records if r.id == sample_id), None)
    if record is None:
        raise RecipeError(f"{root}: no sample {sample_id[:200]!r} in its render manifest")
    if not record.has_image:
        raise RecipeError(
            f"{root}: sample {sample_id[:200]!r} has no image (status {record.status!r}); "
            "there is nothing to reproduce"
        )
    return record


def _parameters(root: Path, record) -> dict[str, Any]:
    from chatgenbench.core.storage import read_regular_bytes
    from chatgenbench.render.cache import png_key
    from chatgenbench.render.png_parameters import parse_parameters, png_parameters

    where = f"{root}: sample {record.id[:200]!r}"
    try:
        png = read_regular_bytes(root / record.image, within=root, max_bytes=MAX_PNG_BYTES)
    except OSError as error:  # missing, a link out of the folder, over the limit
        raise RecipeError(f"{where}: its image cannot be read ({error})") from error
    if record.cache_key is None or png_key(png) != record.cache_key:
        raise RecipeError(f"{where}: its PNG does not name the manifest's cache key")
    text = png_parameters(png)
    if text is None:
        raise RecipeError(
            f"{where}: its PNG has no 'parameters' chunk (rendered by an older chatgenbench)",
            how_to_fix="render it again with an empty cache (render --cache-dir NEW): cached PNGs "
            "written before the parameters chunk existed are used as they are",
        )
    try:
        return {"text": text, **parse_parameters(text)}
    except ValueError as error:
        raise RecipeError(f"{where}: its 'parameters' text cannot be read ({error})") from error


def _weights(parsed: dict[str, Any], model: str, summary: dict[str, Any], catalog, benchmark):
    """Resolve the record's model through the catalogue; refuse other weights than the image's."""
    from chatgenbench.benchmark.loading import load_benchmark_catalog
    from chatgenbench.render.checkpoints import WeightLocator, resolve_model
    from chatgenbench.render.png_parameters import short_hash

    provenance = summary.get("provenance") or {}
    source = benchmark or provenance.get("benchmark_source") or "sample"
    overlay = catalog or (
        provenance.get("catalog") if isinstance(provenance.get("catalog"), str) else None
    )
    cache_dir = (summary.get("cache") or {}).get("dir")
    models = load_benchmark_catalog(str(source), overlay)
    lora_bases = (summary.get("settings") or {}).get("lora_bases")
    try:
        resolved = resolve_model(model, models, WeightLocator(cache_dir), lora_bases)
    except KeyError as error:
        raise RecipeError(f"model {model[:200]!r} is not in the catalogue") from error
    if not hasattr(resolved, "checkpoint"):
        raise RecipeError(
            f"model {model[:200]!r}: its weights are not here ({resolved.reason})",
            how_to_fix="pass --catalog with the overlay the render used",
        )
    if short_hash(resolved.checkpoint.identity) != parsed.get("Model hash"):
        raise RecipeError(
            f"model {model[:200]!r}: the catalogue's checkpoint {resolved.checkpoint.name!r} has "
            f"hash {short_hash(resolved.checkpoint.identity)}, the image was made with "
            f"{str(parsed.get('Model hash'))[:20]!r}; a recipe with other weights would not "
            "reproduce it",
            how_to_fix="pass --catalog with the overlay the render used",
        )
    lora_hash = short_hash(resolved.lora.identity) if resolved.lora else None
    recorded = str(parsed.get("Lora hashes", "")).rpartition(": ")[2] or None
    if lora_hash != recorded:
        raise RecipeError(
            f"model {model[:200]!r}: the catalogue's LoRA hash {lora_hash} is not the image's "
            f"{str(recorded)[:20]!r}"
        )
    return resolved


def build_recipe(
    render_dir: str | os.PathLike,
    sample_id: str,
    *,
    catalog: str | os.PathLike | None = None,
    benchmark: str | None = None,
) -> Recipe:
    """Return the recipe of one rendered sample of a render folder (see the module docstring).

    ``catalog``: the catalogue overlay the render used (default: the one its summary records);
    ``benchmark``: the benchmark source (default: the summary's). Raises :class:`RecipeError`
    when the sample has no verified image, its PNG carries no parameters, or the weights found
    are not those that made the image.
    """
    from chatgenbench.render.pipelines import PIPELINE_CLASSES, _dtype_keyword

    root = Path(render_dir)
    summary = _summary(root)
    record = _record(root, sample_id)
    parsed = _parameters(root, record)
    resolved = _weights(parsed, record.model or "", summary, catalog, benchmark)
    settings = summary.get("settings") or {}
    device = str(settings.get("device") or "cpu")
    checkpoint, lora = resolved.checkpoint, resolved.lora
    data = {
        "sample_id": sample_id,
        "model": record.model,
        "architecture": resolved.architecture,
        "pipeline": PIPELINE_CLASSES[resolved.architecture],
        "checkpoint": {
            "name": checkpoint.name, "form": checkpoint.form, "path": checkpoint.path,
            "config": checkpoint.config, "identity": checkpoint.identity,
        },
        "lora": None if lora is None else {
            "name": lora.name, "path": lora.path, "identity": lora.identity,
            "scale": resolved.lora_scale,
            "adapter_name": "lora_" + lora.identity.split(":")[-1][:16],
        },
        "prompt": parsed["prompt"],
        "negative_prompt": parsed["negative_prompt"],
        "scheduler": parsed["Scheduler"],
        "scheduler_settings": parsed["Scheduler settings"],
        "sampler": parsed["Sampler"],
        "steps": parsed["Steps"],
        "cfg_scale": parsed["CFG scale"],
        "width": parsed["width"],
        "height": parsed["height"],
        "seed": parsed["Seed"],
        "generator": "cpu",
        "dtype": parsed["Dtype"],
        "dtype_keyword": _dtype_keyword(),
        "device": device,
        "cpu_threads": settings.get("threads") if device.startswith("cpu") else None,
        "batch_size_limit": settings.get("batch_size"),
        "cache_key": record.cache_key,
        "libraries": (summary.get("provenance") or {}).get("libraries"),
    }  # fmt: skip
    return Recipe(sample_id, parsed["text"], data)


_SCRIPT = '''#!/usr/bin/env python
"""Rerun one ChatGenBench sample with diffusers (written by 'chatgenbench recipe').

RECIPE below holds everything that decided the sample's image, as JSON text (data, never code).
Usage: python THIS_FILE [OUT.png]   (default: recipe.png). Needs torch and diffusers; on the
same device and library versions as the render it gives the same pixels.
"""

import json
import sys

RECIPE = json.loads({recipe_literal})


def load_pipeline(recipe):
    """Load the checkpoint as the ChatGenBench render engine does."""
    import diffusers
    import torch

    pipeline_class = getattr(diffusers, recipe["pipeline"])
    kwargs = {{recipe["dtype_keyword"]: getattr(torch, recipe["dtype"])}}
    if recipe["architecture"] == "sd15":
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    checkpoint = recipe["checkpoint"]
    if checkpoint["form"] == "single_file":
        if checkpoint["config"]:
            kwargs.update(config=checkpoint["config"], local_files_only=True)
        pipeline = pipeline_class.from_single_file(checkpoint["path"], **kwargs)
    else:
        pipeline = pipeline_class.from_pretrained(
            checkpoint["path"], use_safetensors=True, local_files_only=True, **kwargs
        )
    pipeline = pipeline.to(recipe["device"])
    pipeline.set_progress_bar_config(disable=True)
    lora = recipe["lora"]
    if lora:
        pipeline.load_lora_weights(lora["path"], adapter_name=lora["adapter_name"])
        pipeline.set_adapters([lora["adapter_name"]], adapter_weights=[lora["scale"]])
    scheduler_class = getattr(diffusers, recipe["scheduler"])
    pipeline.scheduler = scheduler_class.from_config(
        dict(pipeline.scheduler.config), **recipe["scheduler_settings"]
    )
    return pipeline


def render(recipe):
    """Return the PIL image of the recipe."""
    import torch

    if recipe["cpu_threads"]:
        torch.set_num_threads(recipe["cpu_threads"])
    pipeline = load_pipeline(recipe)
    generator = torch.Generator(recipe["generator"]).manual_seed(recipe["seed"])
    with torch.inference_mode():
        result = pipeline(
            prompt=[recipe["prompt"]],
            negative_prompt=[recipe["negative_prompt"]],
            num_inference_steps=recipe["steps"],
            guidance_scale=recipe["cfg_scale"],
            width=recipe["width"],
            height=recipe["height"],
            generator=[generator],
            output_type="pil",
        )
    return result.images[0]


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "recipe.png"
    render(RECIPE).save(out, format="PNG")
    print(f"written: {{out}}")
'''


def diffusers_script(recipe: Recipe) -> str:
    """Return the standalone diffusers script of ``recipe`` (see the module docstring)."""
    text = json.dumps(recipe.data, ensure_ascii=True, sort_keys=True, indent=1)
    return _SCRIPT.format(recipe_literal=repr(text))


def a1111_text(recipe: Recipe) -> str:
    """Return the AUTOMATIC1111 parameters text of ``recipe`` (as its PNG carries it)."""
    return recipe.parameters + "\n"
