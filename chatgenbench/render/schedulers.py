"""A1111 sampler names to diffusers schedulers: a table (data), and the code that applies it.

Each row of :data:`SAMPLER_TABLE` says which diffusers scheduler class stands for an A1111 sampler,
with which constructor settings, and whether the match is exact. ``DPM++ 2S a`` (and its Karras
variant) has no exact diffusers twin: it maps to the closest one, ``DPMSolverSinglestepScheduler``,
and is counted as approximate. ``DPM fast`` and ``DPM adaptive`` have no diffusers counterpart at all:
they, like a name outside the table, render with :data:`DEFAULT_SAMPLER` and are counted as a
fallback. Nothing here raises for a bad name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatgenbench.benchmark.samplers import canonical_sampler

#: The sampler used when a prediction's sampler is missing, unknown or has no diffusers twin.
DEFAULT_SAMPLER = "Euler a"

_KARRAS = {"use_karras_sigmas": True}
_SDE = {"algorithm_type": "sde-dpmsolver++"}

#: A1111 name -> (diffusers scheduler class name or None, constructor settings, exact?, note).
SAMPLER_TABLE: dict[str, tuple[str | None, dict[str, Any], bool, str]] = {
    "Euler": ("EulerDiscreteScheduler", {}, True, ""),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}, True, ""),
    "LMS": ("LMSDiscreteScheduler", {}, True, ""),
    "LMS Karras": ("LMSDiscreteScheduler", _KARRAS, True, ""),
    "Heun": ("HeunDiscreteScheduler", {}, True, ""),
    "DPM2": ("KDPM2DiscreteScheduler", {}, True, ""),
    "DPM2 Karras": ("KDPM2DiscreteScheduler", _KARRAS, True, ""),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", {}, True, ""),
    "DPM2 a Karras": ("KDPM2AncestralDiscreteScheduler", _KARRAS, True, ""),
    "DPM++ 2S a": (
        "DPMSolverSinglestepScheduler",
        {},
        False,
        "no diffusers twin; closest is the second-order singlestep DPM-Solver++ (not ancestral)",
    ),
    "DPM++ 2S a Karras": (
        "DPMSolverSinglestepScheduler",
        _KARRAS,
        False,
        "no diffusers twin; closest is the second-order singlestep DPM-Solver++ with Karras "
        "sigmas (not ancestral)",
    ),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {}, True, ""),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", _KARRAS, True, ""),
    "DPM++ SDE": ("DPMSolverSinglestepScheduler", {}, True, ""),
    "DPM++ SDE Karras": ("DPMSolverSinglestepScheduler", _KARRAS, True, ""),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", _SDE, True, ""),
    "DPM++ 2M SDE Karras": ("DPMSolverMultistepScheduler", {**_SDE, **_KARRAS}, True, ""),
    "DPM fast": (None, {}, False, "no diffusers counterpart; the default sampler is used"),
    "DPM adaptive": (None, {}, False, "no diffusers counterpart; the default sampler is used"),
    "DDIM": ("DDIMScheduler", {}, True, ""),
    "PLMS": ("PNDMScheduler", {"skip_prk_steps": True}, True, ""),
    "UniPC": ("UniPCMultistepScheduler", {}, True, ""),
}


@dataclass(frozen=True)
class SchedulerChoice:
    """How one request's sampler is rendered.

    ``requested`` is the name as given; ``sampler`` the A1111 name actually used; ``outcome`` is
    ``exact``, ``approximate`` (no exact twin, closest used) or ``fallback`` (missing, unknown or
    without a counterpart: :data:`DEFAULT_SAMPLER` used).
    """

    requested: Any
    sampler: str
    scheduler: str
    settings: dict[str, Any] = field(default_factory=dict, hash=False)
    outcome: str = "exact"
    note: str = ""

    def identity(self) -> dict[str, Any]:
        """Return what decides the images: class and settings (for cache keys and grouping)."""
        return {"scheduler": self.scheduler, "settings": dict(sorted(self.settings.items()))}


def choose_scheduler(name: Any) -> SchedulerChoice:
    """Map an A1111 sampler name (case and spaces ignored) to a :class:`SchedulerChoice`.

    Never raises: a missing, unknown or counterpart-less name falls back to :data:`DEFAULT_SAMPLER`.
    """
    canonical = canonical_sampler(name) if isinstance(name, str) else None
    if canonical is not None:
        scheduler, settings, exact, note = SAMPLER_TABLE[canonical]
        if scheduler is not None:
            return SchedulerChoice(
                name,
                canonical,
                scheduler,
                dict(settings),
                "exact" if exact else "approximate",
                note,
            )
        reason = f"{canonical!r}: {note}"
    elif name is None or (isinstance(name, str) and not name.strip()):
        reason = "no sampler given; the default sampler is used"
    else:
        reason = f"unknown sampler {name!r}; the default sampler is used"
    scheduler, settings, _, _ = SAMPLER_TABLE[DEFAULT_SAMPLER]
    return SchedulerChoice(name, DEFAULT_SAMPLER, scheduler, dict(settings), "fallback", reason)


def build_scheduler(choice: SchedulerChoice, base_config: dict[str, Any]):
    """Return a diffusers scheduler for ``choice``, built from a pipeline's own scheduler config.

    ``base_config`` (the checkpoint's scheduler config: betas, timestep count, prediction type) is
    kept; only the class and the table's settings change, as A1111 does.
    """
    import diffusers

    scheduler_class = getattr(diffusers, choice.scheduler)
    return scheduler_class.from_config(dict(base_config), **choice.settings)
