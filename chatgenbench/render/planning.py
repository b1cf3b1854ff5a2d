"""Planning a render: the :class:`RenderRequest` of a sample and how requests are grouped.

A request's cache key is made from :func:`request_inputs`. :func:`group_requests` groups the
distinct requests by checkpoint and LoRA, the unit a backend renders with one loaded pipeline.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chatgenbench.render.arguments import RenderArguments
from chatgenbench.render.pipelines import PIPELINE_CLASSES
from chatgenbench.render.weights import ResolvedModel, WeightRef


@dataclass(frozen=True)
class RenderRequest:
    """One image to render: everything that decides it, and the key it is cached under."""

    key: str
    model: str
    architecture: str
    checkpoint: WeightRef
    lora: WeightRef | None
    lora_scale: float
    prompt: str
    negative_prompt: str
    arguments: RenderArguments
    dtype: str
    device_type: str

    @property
    def group_key(self) -> str:
        """Requests with the same group key share one loaded pipeline (checkpoint plus LoRA)."""
        lora = f"{self.lora.identity}@{self.lora_scale}" if self.lora else "-"
        return f"{self.architecture}|{self.checkpoint.identity}|{lora}"

    @property
    def batch_key(self) -> str:
        """Requests with the same batch key can be rendered in one pipeline call."""
        return json.dumps(self.arguments.identity(), sort_keys=True)


def request_inputs(
    resolved: ResolvedModel,
    prompt: str,
    negative_prompt: str,
    arguments: RenderArguments,
    dtype: str,
    device_type: str,
    versions: dict[str, str | None],
) -> dict[str, Any]:
    """Return the inputs that make a request's cache key (see :mod:`chatgenbench.render.cache`)."""
    return {
        "checkpoint": resolved.checkpoint.identity,
        "lora": resolved.lora.identity if resolved.lora else None,
        "lora_scale": resolved.lora_scale if resolved.lora else None,
        "pipeline": PIPELINE_CLASSES[resolved.architecture],
        **arguments.identity(),
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "seed": arguments.seed,
        "generator": "torch.Generator(cpu)",
        "dtype": dtype,
        "device_type": device_type,
        "versions": versions,
    }


def group_requests(requests: Iterable[RenderRequest]) -> list[list[RenderRequest]]:
    """Group requests by checkpoint and LoRA; largest groups first, ties by key (deterministic)."""
    groups: dict[str, list[RenderRequest]] = defaultdict(list)
    for request in requests:
        groups[request.group_key].append(request)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [sorted(group, key=lambda r: (r.batch_key, r.key)) for _, group in ordered]
