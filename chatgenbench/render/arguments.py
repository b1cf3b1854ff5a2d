"""Turning a prediction's arguments into the exact values a render uses, recording every change.

Width and height are cast to int, rounded to a multiple of 8 and clamped to :data:`SIZE_RANGE`;
steps and cfg scale are clamped to :data:`STEPS_RANGE` and :data:`CFG_RANGE`; a missing or unreadable
value takes its documented default (:data:`DEFAULTS`). Every change is one entry of
:attr:`RenderArguments.normalised` (``{"given": ..., "used": ..., "change": ...}``), so that the render
manifest and summary can say exactly what was altered and how often.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatgenbench.core.normalize import parse_number
from chatgenbench.render.schedulers import DEFAULT_SAMPLER, SchedulerChoice, choose_scheduler

#: The seed of a request whose prediction carries none (``arguments.seed``).
DEFAULT_SEED = 0
SIZE_RANGE: tuple[int, int] = (64, 2048)
STEPS_RANGE: tuple[int, int] = (1, 150)
CFG_RANGE: tuple[float, float] = (0.0, 30.0)
SEED_RANGE: tuple[int, int] = (0, 2**63 - 1)
#: Defaults for a missing or unreadable argument, per architecture where they differ.
DEFAULTS: dict[str, dict[str, Any]] = {
    "sd15": {
        "sampler": DEFAULT_SAMPLER,
        "steps": 30,
        "cfg_scale": 7.0,
        "width": 512,
        "height": 512,
    },
    "sdxl": {
        "sampler": DEFAULT_SAMPLER,
        "steps": 30,
        "cfg_scale": 7.0,
        "width": 1024,
        "height": 1024,
    },
}
#: The kinds of change that :attr:`RenderArguments.normalised` records.
CHANGES: tuple[str, ...] = (
    "cast",  # a string or float read as the number it holds
    "rounded",  # width/height rounded to a multiple of 8 (or steps to a whole number)
    "clamped",  # brought into range
    "default",  # missing or unreadable: the default used
    "sampler_approximate",  # no exact diffusers twin: the closest used
    "sampler_fallback",  # unknown or without counterpart: the default sampler used
    "truncated",  # a prompt longer than the text encoder reads (77 CLIP tokens); set by the engine
)


@dataclass(frozen=True)
class RenderArguments:
    """The values a render uses, and what was changed to get them."""

    scheduler: SchedulerChoice
    steps: int
    cfg_scale: float
    width: int
    height: int
    seed: int
    normalised: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False, compare=False)

    def identity(self) -> dict[str, Any]:
        """Return everything of these arguments that decides the image (cache key and batching)."""
        return {
            **self.scheduler.identity(),
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
            "width": self.width,
            "height": self.height,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the values used, as written into sidecars and manifests."""
        return {
            "sampler": self.scheduler.sampler,
            "scheduler": self.scheduler.scheduler,
            "scheduler_settings": dict(self.scheduler.settings),
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
            "width": self.width,
            "height": self.height,
            "seed": self.seed,
        }


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _number(
    key: str,
    raw: Any,
    default: float,
    low: float,
    high: float,
    *,
    integer: bool,
    multiple: int = 1,
    changes: dict[str, dict[str, Any]],
) -> Any:
    parsed = parse_number(raw)
    if parsed is None:
        changes[key] = {"given": _jsonable(raw), "used": default, "change": "default"}
        return default
    kinds = []
    if isinstance(raw, str):
        kinds.append("cast")
    value = parsed
    if integer:
        if multiple > 1:
            rounded = int(round(value / multiple) * multiple)
        else:
            rounded = int(round(value))
        if rounded != value:
            kinds.append("rounded")
        elif isinstance(raw, float):
            kinds.append("cast")
        value = rounded
    clamped = _clamp(value, low, high)
    if clamped != value:
        kinds.append("clamped")
        value = clamped
    value = int(value) if integer else float(value)
    if kinds:
        changes[key] = {"given": _jsonable(raw), "used": value, "change": "+".join(kinds)}
    return value


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)[:80]


def normalise_arguments(
    arguments: dict[str, Any] | None,
    architecture: str = "sd15",
    *,
    seed: Any = None,
) -> RenderArguments:
    """Return the :class:`RenderArguments` for a prediction's raw ``arguments`` dict.

    ``architecture`` (``sd15`` | ``sdxl``) picks the defaults of :data:`DEFAULTS`; ``seed`` (or
    ``arguments["seed"]``) is the request's seed, :data:`DEFAULT_SEED` when absent. Never raises
    for bad values: each is replaced and recorded in ``normalised``.
    """
    arguments = arguments if isinstance(arguments, dict) else {}
    defaults = DEFAULTS.get(architecture, DEFAULTS["sd15"])
    changes: dict[str, dict[str, Any]] = {}
    choice = choose_scheduler(arguments.get("sampler"))
    if choice.outcome != "exact":
        changes["sampler"] = {
            "given": _jsonable(choice.requested),
            "used": choice.sampler,
            "change": f"sampler_{choice.outcome}",
            "note": choice.note,
        }
    low, high = SIZE_RANGE
    width = _number(
        "width", arguments.get("width"), defaults["width"], low, high,
        integer=True, multiple=8, changes=changes,
    )  # fmt: skip
    height = _number(
        "height", arguments.get("height"), defaults["height"], low, high,
        integer=True, multiple=8, changes=changes,
    )  # fmt: skip
    steps = _number(
        "steps", arguments.get("steps"), defaults["steps"], *STEPS_RANGE,
        integer=True, changes=changes,
    )  # fmt: skip
    cfg_scale = _number(
        "cfg_scale", arguments.get("cfg_scale"), defaults["cfg_scale"], *CFG_RANGE,
        integer=False, changes=changes,
    )  # fmt: skip
    raw_seed = seed if seed is not None else arguments.get("seed")
    if raw_seed is None:
        used_seed = DEFAULT_SEED
    else:
        used_seed = _number(
            "seed", raw_seed, DEFAULT_SEED, *SEED_RANGE, integer=True, changes=changes
        )
    return RenderArguments(choice, steps, cfg_scale, width, height, used_seed, changes)


def change_kinds(normalised: dict[str, dict[str, Any]]) -> list[str]:
    """Return the ``key:change`` labels of one request's changes (for totals)."""
    labels = []
    for key, entry in normalised.items():
        for kind in str(entry.get("change", "")).split("+"):
            if kind:
                labels.append(f"{key}:{kind}")
    return labels
