"""The A1111 sampler names that the benchmark's arguments use.

Validation warns on a name outside this list; rendering maps each to a diffusers scheduler.
"""

from __future__ import annotations

from chatgenbench.core.normalize import sampler_key

A1111_SAMPLERS: tuple[str, ...] = (
    "Euler",
    "Euler a",
    "LMS",
    "LMS Karras",
    "Heun",
    "DPM2",
    "DPM2 Karras",
    "DPM2 a",
    "DPM2 a Karras",
    "DPM++ 2S a",
    "DPM++ 2S a Karras",
    "DPM++ 2M",
    "DPM++ 2M Karras",
    "DPM++ SDE",
    "DPM++ SDE Karras",
    "DPM++ 2M SDE",
    "DPM++ 2M SDE Karras",
    "DPM fast",
    "DPM adaptive",
    "DDIM",
    "PLMS",
    "UniPC",
)

_BY_KEY = {sampler_key(name): name for name in A1111_SAMPLERS}


def canonical_sampler(name: str) -> str | None:
    """Return the canonical A1111 spelling of ``name`` (case and spaces ignored), or None."""
    key = sampler_key(name)
    return _BY_KEY.get(key) if key is not None else None
