"""The rendering engine: submitted (prompt, model, arguments) triples to PNG images.

``render_predictions(predictions, benchmark, catalog=..., out_dir=...)`` is the whole stage; see
:mod:`chatgenbench.render.engine`. Modules: ``schedulers`` (A1111 sampler table), ``arguments``
(normalisation), ``weights`` (catalogue weight sources, ``models status``), ``pipelines`` (loading,
LRU, LoRA), ``cache`` (content-addressed store), ``planning`` (samples to requests, grouping by
checkpoint), ``worker`` (rendering groups on one device), ``backends`` (the backend contract and
registry, local workers), ``ray_backend`` (Ray Core actors), ``shards`` (``--shard I/N``, merging),
``summary`` (``render_summary.json``), ``engine`` (the stage), ``random_models`` (random-weight
pipelines for tests and speed runs). Heavy libraries (torch, diffusers) are imported only when
rendering starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["RenderReport", "render_predictions"]

if TYPE_CHECKING:  # pragma: no cover
    from chatgenbench.render.engine import RenderReport, render_predictions


def __getattr__(name: str) -> Any:
    if name in __all__:
        from chatgenbench.render import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'chatgenbench.render' has no attribute {name!r}")
