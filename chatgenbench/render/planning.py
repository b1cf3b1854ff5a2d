"""Planning a render: benchmark rows and validated predictions to records and render requests.

:func:`plan_renders` gives every benchmark sample a :class:`RenderRecord`. A sample whose
prediction is missing or invalid, or whose model has no weights, gets that final status here; every
other sample gets a :class:`RenderRequest` whose cache key is made from :func:`request_inputs`.
:func:`group_requests` groups the distinct requests by checkpoint and LoRA, the unit a backend
renders with one loaded pipeline.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatgenbench.render.arguments import RenderArguments, normalise_arguments
from chatgenbench.render.cache import cache_key
from chatgenbench.render.checkpoints import ResolvedModel, WeightLocator, WeightRef, resolve_model
from chatgenbench.render.manifest import RenderRecord
from chatgenbench.render.pipelines import PIPELINE_CLASSES

if TYPE_CHECKING:  # pragma: no cover
    from chatgenbench.benchmark.catalog import CatalogEntry, ModelCatalog
    from chatgenbench.predictions.report import Prediction, ValidationReport


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
    *,
    cpu_threads: int | None = None,
) -> dict[str, Any]:
    """Return the inputs that make a request's cache key (see :mod:`chatgenbench.render.cache`).

    ``cpu_threads`` is torch's intra-op thread count of a CPU render: it changes some pixels by one
    level (the reduction order of the convolutions), so it is part of the key; on a GPU it is None.
    """
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
        "cpu_threads": cpu_threads if device_type == "cpu" else None,
        "versions": versions,
    }


@dataclass(frozen=True)
class RequestSettings:
    """What every request of one render shares: weights, LoRA bases, dtype, device, versions."""

    locator: WeightLocator
    lora_bases: dict[str, str]
    dtype: str
    device_type: str
    versions: dict[str, str | None]
    cpu_threads: int | None = None


@dataclass
class RenderPlan:
    """What a render will do.

    ``records``: every sample's record, in benchmark order. ``request_of``: the request of each
    renderable sample. ``missing_weights``: model -> why its weights are missing and how to get
    them. ``groups``: the distinct requests, grouped (:func:`group_requests`). ``shard``: None, or
    the summary's ``shard`` entry when the plan is one shard of a render.
    """

    records: dict[str, RenderRecord] = field(default_factory=dict)
    request_of: dict[str, RenderRequest] = field(default_factory=dict)
    missing_weights: dict[str, str] = field(default_factory=dict)
    groups: list[list[RenderRequest]] = field(default_factory=list)
    shard: dict[str, int] | None = None

    @property
    def distinct_checkpoints(self) -> int:
        """Return the number of distinct checkpoints the groups load."""
        return len({r.checkpoint.identity for g in self.groups for r in g})


def plan_renders(
    rows: Iterable[dict[str, Any]],
    report: ValidationReport,
    catalog: ModelCatalog,
    settings: RequestSettings,
) -> RenderPlan:
    """Return the plan for ``rows`` (dicts with ``id``, ``setting`` and ``input_type``).

    ``report`` holds the validated predictions, ``catalog`` the models they may name. Never raises
    for a bad prediction: its sample gets ``missing_prediction``, ``invalid_prediction`` or
    ``weights_missing`` with the reason in ``error``.
    """
    plan = RenderPlan()
    for row in rows:
        record = RenderRecord(row["id"], row["setting"], row["input_type"], "missing_prediction")
        plan.records[row["id"]] = record
        usable = _usable_prediction(record, report, catalog)
        if usable is None:
            continue
        request = _plan_request(record, *usable, catalog, settings)
        if request is None:
            plan.missing_weights[usable[1].name] = record.error or ""
            continue
        record.cache_key = request.key
        plan.request_of[row["id"]] = request
    unique: dict[str, RenderRequest] = {}
    for request in plan.request_of.values():
        unique.setdefault(request.key, request)
    plan.groups = group_requests(unique.values())
    return plan


def _usable_prediction(
    record: RenderRecord, report: ValidationReport, catalog: ModelCatalog
) -> tuple[Prediction, CatalogEntry] | None:
    """Return the sample's prediction and catalogue entry, or set its final status and return None."""
    prediction = report.predictions.get(record.id)
    if prediction is None:
        record.error = "no usable prediction row for this sample"
        return None
    record.model = prediction.model if isinstance(prediction.model, str) else None
    bad = [f for f in ("model", "prompt") if not prediction.valid(f)]
    if bad:
        record.status = "invalid_prediction"
        problems = [
            str(p)
            for p in report.problems
            if p.id == record.id and p.severity == "error" and p.field in bad
        ]
        record.error = "; ".join(problems) or f"invalid field(s): {', '.join(bad)}"
        return None
    entry = catalog.get(prediction.model)
    if entry is None:  # validated against the same catalogue, so only for a passed report
        record.status = "invalid_prediction"
        record.error = f"model {prediction.model!r} is not in the catalogue"
        return None
    return prediction, entry


def _plan_request(
    record: RenderRecord,
    prediction: Prediction,
    entry: CatalogEntry,
    catalog: ModelCatalog,
    settings: RequestSettings,
) -> RenderRequest | None:
    """Return the sample's request, or None (status ``weights_missing``) when weights are missing."""
    resolved = resolve_model(entry.name, catalog, settings.locator, settings.lora_bases)
    arguments = normalise_arguments(prediction.arguments, entry.architecture, seed=prediction.seed)
    record.seed = arguments.seed
    record.normalised = dict(arguments.normalised)
    if not isinstance(resolved, ResolvedModel):
        record.status = "weights_missing"
        record.error = f"{resolved.reason}. To get them: {resolved.how_to_get}"
        return None
    prompt = _text(prediction.prompt)
    negative = _text(prediction.negative_prompt) if prediction.valid("negative_prompt") else ""
    if not prediction.valid("negative_prompt"):
        record.normalised["negative_prompt"] = {
            "given": repr(prediction.negative_prompt)[:80], "used": "", "change": "default"}  # fmt: skip
    inputs = request_inputs(
        resolved, prompt, negative, arguments, settings.dtype, settings.device_type,
        settings.versions, cpu_threads=settings.cpu_threads,
    )  # fmt: skip
    return RenderRequest(
        key=cache_key(inputs),
        model=entry.name,
        architecture=resolved.architecture,
        checkpoint=resolved.checkpoint,
        lora=resolved.lora,
        lora_scale=resolved.lora_scale,
        prompt=prompt,
        negative_prompt=negative,
        arguments=arguments,
        dtype=settings.dtype,
        device_type=settings.device_type,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def group_requests(requests: Iterable[RenderRequest]) -> list[list[RenderRequest]]:
    """Group requests by checkpoint and LoRA; largest groups first, ties by key (deterministic)."""
    groups: dict[str, list[RenderRequest]] = defaultdict(list)
    for request in requests:
        groups[request.group_key].append(request)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [sorted(group, key=lambda r: (r.batch_key, r.key)) for _, group in ordered]
