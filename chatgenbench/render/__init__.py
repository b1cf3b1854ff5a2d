"""The rendering engine: submitted (prompt, model, arguments) triples to PNG images.

``render_predictions(predictions, benchmark, catalog=..., out_dir=...)`` is the whole stage; see
:mod:`chatgenbench.render.engine`. Modules, in the order a render uses them:

- ``planning``: benchmark samples to requests, grouped by checkpoint (``arguments``: argument
  normalisation; ``schedulers``: the A1111 sampler table; ``checkpoints``: which file backs each
  catalogue model, fetching it, ``status``: ``chatgenbench models status``);
- ``cache``: the content-addressed image store that makes every render resumable;
- ``backends``: the :class:`~chatgenbench.render.backends.RenderBackend` contract, the backend
  registry and the local backend; ``ray_backend``: Ray Core actors;
- ``worker``: rendering whole groups on one device (``pipelines``: loading, LRU, LoRA);
- ``shards``: ``--shard I/N`` and merging shard folders; ``summary``: ``render_summary.json``;
- ``engine``: the stage itself.

Random-weight pipelines for tests and speed runs are in :mod:`chatgenbench.testing.sd_models`.
Heavy libraries (torch, diffusers) are imported only when rendering starts.
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
