"""The benchmark's schema as ``datasets.Features``, and the records that fill it.

One row is one benchmark sample:

==================  ===========================================================================
``id``              stable, unique string (``sample-0001``; ``synth-supervised-000001``; ...)
``setting``         ``supervised`` | ``few_shot`` (| ``train`` for a train split)
``input_type``      ``single`` | ``multimodal`` | ``history``
``freestyle_input`` the user's freestyle request; for ``history`` the last user turn
``history``         list of ``{role, content}`` turns (empty for ``single``)
``reference_images`` list of Image (the multimodal input's pictures; may be empty)
``prompt``          the reference prompt
``negative_prompt`` the reference negative prompt (may be empty)
``model``           the reference model's catalogue name
``model_description`` the catalogue description of that model, as the source gave it
``arguments``       ``{sampler: str, steps: int, cfg_scale: float, width: int, height: int}``; a
                    value the source gave in an unreadable form is null (and scored as missing)
``image``           the human-validated reference image (for FID), or null
``source``          where the record comes from (a paper figure, the hub, ``synthetic``)
==================  ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SETTINGS: tuple[str, ...] = ("supervised", "few_shot")
TRAIN_CONFIG = "train"
INPUT_TYPES: tuple[str, ...] = ("single", "multimodal", "history")
TEST_SPLIT = "test"
SETTING_TITLES = {"supervised": "Supervised", "few_shot": "Few-shot"}


def benchmark_features():
    """Return the ``datasets.Features`` of a benchmark row (see the module docstring)."""
    from datasets import Features, Image, List, Value

    return Features(
        {
            "id": Value("string"),
            "setting": Value("string"),
            "input_type": Value("string"),
            "freestyle_input": Value("string"),
            "history": List({"role": Value("string"), "content": Value("string")}),
            "reference_images": List(Image()),
            "prompt": Value("string"),
            "negative_prompt": Value("string"),
            "model": Value("string"),
            "model_description": Value("string"),
            "arguments": {
                "sampler": Value("string"),
                "steps": Value("int32"),
                "cfg_scale": Value("float32"),
                "width": Value("int32"),
                "height": Value("int32"),
            },
            "image": Image(),
            "source": Value("string"),
        }
    )


def reference_arguments(row: dict[str, Any]) -> dict[str, Any]:
    """Return the reference arguments of a row with null values dropped (the keys that are scored)."""
    arguments = row.get("arguments") or {}
    return {key: value for key, value in arguments.items() if value is not None}


@dataclass(frozen=True)
class ReferenceImage:
    """A benchmark sample's human-validated reference image (the ``image`` column), encoded bytes."""

    id: str
    data: bytes
