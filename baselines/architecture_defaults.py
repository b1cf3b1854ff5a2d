"""The generation arguments of each catalogue architecture when no data says otherwise.

Common community settings, not fitted to any benchmark data. ``retrieval`` uses them in its
zero-shot (catalogue) mode, where they are a setting (``-o default_arguments.sd15.steps=25``);
``chatgen-evo``'s stage 3 uses them for a chosen model without a train demonstration.
"""

from __future__ import annotations

from typing import Any

#: The default arguments per architecture (``sd15``, ``sdxl``).
DEFAULT_ARGUMENTS_BY_ARCHITECTURE: dict[str, dict[str, Any]] = {
    "sd15": {
        "sampler": "DPM++ 2M Karras",
        "steps": 30,
        "cfg_scale": 7.0,
        "width": 512,
        "height": 512,
    },
    "sdxl": {
        "sampler": "DPM++ 2M Karras",
        "steps": 30,
        "cfg_scale": 7.0,
        "width": 1024,
        "height": 1024,
    },
}
