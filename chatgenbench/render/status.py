"""``chatgenbench models status``: which models a benchmark needs, and whether their weights are here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from chatgenbench.benchmark.catalog import ModelCatalog
from chatgenbench.render.checkpoints import DEFAULT_LORA_BASES, WeightLocator, WeightStatus


@dataclass
class ModelStatus:
    """One needed model: its catalogue facts, why it is needed and its weights' status."""

    name: str
    architecture: str
    kind: str
    needed_by: str
    weights: WeightStatus

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "name": self.name,
            "architecture": self.architecture,
            "kind": self.kind,
            "needed_by": self.needed_by,
            **self.weights.to_dict(),
        }


def needed_models(
    benchmark: str | os.PathLike,
    catalog: ModelCatalog,
    *,
    setting: str = "all",
    predictions: str | os.PathLike | None = None,
    everything: bool = False,
    lora_bases: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Return ``(catalogue name, why)`` for every model to check, LoRA bases included.

    By default the models of the benchmark's reference answers; with ``predictions``, the models
    that prediction file names; with ``everything``, the whole catalogue.
    """
    from chatgenbench.benchmark.loading import load_benchmark

    wanted: dict[str, str] = {}
    if everything:
        wanted = {entry.name: "catalogue" for entry in catalog}
    elif predictions is not None:
        from chatgenbench.predictions.validation import validate_predictions

        ids = load_benchmark(setting, benchmark)["id"]
        report = validate_predictions(predictions, ids, catalog, allow_missing=True)
        for prediction in report.predictions.values():
            entry = catalog.get(prediction.model) if prediction.valid("model") else None
            if entry is not None:
                wanted.setdefault(entry.name, "predictions")
    else:
        for name in load_benchmark(setting, benchmark).select_columns(["model"])["model"]:
            entry = catalog.get(name)
            if entry is not None:
                wanted.setdefault(entry.name, "reference answers")
    bases = {**DEFAULT_LORA_BASES, **(lora_bases or {})}
    for name in list(wanted):
        entry = catalog.get(name)
        if entry is not None and entry.kind == "lora":
            base = catalog.get(entry.extra.get("base") or bases.get(entry.architecture))
            if base is not None:
                wanted.setdefault(base.name, f"base of LoRA {entry.name}")
    return list(wanted.items())


def models_status(
    benchmark: str | os.PathLike,
    catalog: ModelCatalog,
    *,
    cache_dir: str | os.PathLike | None = None,
    **kwargs: Any,
) -> list[ModelStatus]:
    """Return the weights status of every needed model (see :func:`needed_models`)."""
    locator = WeightLocator(cache_dir)
    statuses = []
    for name, why in needed_models(benchmark, catalog, **kwargs):
        entry = catalog.get(name)
        statuses.append(
            ModelStatus(entry.name, entry.architecture, entry.kind, why, locator.status(entry))
        )
    return statuses


def format_size(size: int | None) -> str:
    """Return a byte count in human units."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def format_status_table(statuses: list[ModelStatus]) -> str:
    """Return a plain-text table of :func:`models_status`, missing models with how to get them."""
    lines = []
    width = max([len(s.name) for s in statuses] + [5])
    lines.append(f"{'model'.ljust(width)}  arch  kind        weights       present  size")
    for status in statuses:
        weights = status.weights
        lines.append(
            f"{status.name.ljust(width)}  {status.architecture:<4}  {status.kind:<10}  "
            f"{(weights.type or '-'):<12}  {'yes' if weights.present else 'NO':<7}  "
            f"{format_size(weights.ref.size_bytes if weights.ref else None)}"
        )
        if not weights.present:
            lines.append(f"    {weights.reason}")
            lines.append(f"    to get it: {weights.how_to_get}")
    present = sum(s.weights.present for s in statuses)
    lines.append(f"{present} of {len(statuses)} models have their weights here")
    return "\n".join(lines)
