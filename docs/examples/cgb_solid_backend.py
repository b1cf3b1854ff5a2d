"""A worked example: a render backend, ``solid``, in a package of its own.

A backend receives the planned work (groups of render requests, one group per checkpoint and
LoRA) and hands every finished image to ``sink``; the engine does the rest (the image cache, the
render folder, the manifest, the summary). This one paints each image one grey instead of running
a diffusion model: a stand-in for a render service of your own. Its settings are an ``Options``
dataclass: each field becomes a keyword of ``render_predictions``, a flag of ``render`` and
``queue work`` (``--solid-grey``) and a key of the deployment file. Declared in the
``chatgenbench.render_backends`` entry-point group, ``--backend solid`` selects it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from chatgenbench.render.worker import RenderOutcome, WorkerStats


@dataclass
class SolidOptions:
    """The backend's settings."""

    solid_grey: int = field(default=128, metadata={"help": "grey level of every image (0-255)"})


class SolidBackend:
    """Paints every requested image one grey and hands it to the sink, like any backend."""

    Options = SolidOptions
    n_workers = 1

    def __init__(self, options) -> None:
        self.settings = options.settings(SolidOptions)

    def run(self, groups, sink, progress=None) -> WorkerStats:
        """Render every request of every group, calling ``sink`` once per image."""
        from PIL import Image

        stats = WorkerStats()
        for group in groups:
            for request in group:
                size = (request.arguments.width, request.arguments.height)
                buffer = io.BytesIO()
                Image.new("RGB", size, (self.settings.solid_grey,) * 3).save(buffer, "PNG")
                sink(RenderOutcome(request.key, True, png=buffer.getvalue(), sidecar={}))
                stats.images += 1
            if progress:
                progress(stats)
        return stats
