"""Scale-out on Ray Core: one actor per GPU, each holding its pipelines, fed whole checkpoint groups.

Ray Data's ``map_batches`` has no key affinity and would reload checkpoints, so this backend keeps
:class:`chatgenbench.render.worker.RenderWorker` actors alive and hands each idle actor the next
whole group (largest first). Actors restart after a crash (``max_restarts``) and a group's task is
retried (``max_task_retries``); a group that still fails is reported as ``failed`` for its samples,
and what finished is already in the cache. Actors write into the cache folder when it is shared
(``shared_cache``, the default for a local Ray); otherwise they return PNG bytes to the driver.

Ray is an optional extra, ``ray`` (:func:`chatgenbench.core.extras.install_commands`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatgenbench.core.errors import RenderError
from chatgenbench.render.backends import BackendOptions, OutcomeSink, ProgressCallback
from chatgenbench.render.planning import RenderRequest
from chatgenbench.render.worker import RenderOutcome, RenderWorker, WorkerStats

MAX_RESTARTS = 2
MAX_TASK_RETRIES = 2


@dataclass
class RayOptions:
    """The ray backend's own settings (``--ray-address``, ``--ray-actors``; deployment keys of the
    same names)."""

    ray_address: str | None = field(
        default=None, metadata={"help": "Ray cluster address (default: start a local Ray)"}
    )
    ray_actors: int | None = field(
        default=None, metadata={"help": "Ray actors (default: one per GPU, else 1)"}
    )
    shared_cache: bool | None = field(
        default=None,
        metadata={
            "help": "actors write into the cache folder themselves (default: only for a Ray "
            "started here); else they return PNG bytes to the driver",
            "flag": False,
        },
    )


class RayBackend:
    """Render on a Ray cluster (``ray_address``) or a Ray started here.

    Follows :class:`chatgenbench.render.backends.RenderBackend`; its settings are
    :class:`RayOptions`. Raises :class:`RenderError` without Ray, or for CUDA on a cluster with
    no GPU.
    """

    name = "ray"
    Options = RayOptions

    def __init__(self, options: BackendOptions) -> None:
        try:
            import ray
        except ImportError as error:
            from chatgenbench.core.extras import missing_extra

            raise RenderError(missing_extra("the ray render backend", "ray", error)) from None
        self.ray = ray
        self.options = options
        settings = options.settings(RayOptions)
        address = settings.ray_address
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, ignore_reinit_error=True)
        shared = settings.shared_cache
        self.shared_cache = address in (None, "local") if shared is None else shared
        gpus = int(ray.cluster_resources().get("GPU", 0))
        use_gpu = str(options.device).startswith("cuda")
        if use_gpu and gpus == 0:
            raise RenderError("--device cuda with the ray backend, but the Ray cluster has no GPU")
        self.n_workers = int(settings.ray_actors or (gpus if use_gpu else 1))
        actor_class = ray.remote(RenderWorker).options(
            num_gpus=1 if use_gpu else 0,
            num_cpus=max(1, options.threads or 1),
            max_restarts=MAX_RESTARTS,
            max_task_retries=MAX_TASK_RETRIES,
        )
        device = "cuda" if use_gpu else str(options.device)
        self.actors = [
            actor_class.remote(
                device,
                options.dtype,
                capacity=options.capacity,
                batch_size=options.batch_size,
                threads=options.threads or 1,
                verify=options.verify,
                readahead_bytes=options.readahead_bytes,
            )
            for _ in range(self.n_workers)
        ]

    def run(
        self,
        groups: list[list[RenderRequest]],
        sink: OutcomeSink,
        progress: ProgressCallback | None = None,
    ) -> WorkerStats:
        """Render every group on the actors, passing each outcome to ``sink``."""
        ray = self.ray
        cache_root = self.options.cache_root if self.shared_cache else None
        pending = list(groups)
        idle = list(self.actors)
        running: dict[Any, tuple[Any, list]] = {}
        total = WorkerStats()
        while pending or running:
            while idle and pending:
                actor, group = idle.pop(0), pending.pop(0)
                running[actor.render_group_counted.remote(group, cache_root)] = (actor, group)
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                actor, group = running.pop(ref)
                idle.append(actor)
                try:
                    outcomes, stats = ray.get(ref)
                except Exception as error:  # the group failed after Ray's retries
                    message = f"ray actor failed on this group: {type(error).__name__}: {error}"
                    outcomes = [RenderOutcome(r.key, False, message) for r in group]
                    stats = WorkerStats()
                total.add(stats)
                for outcome in outcomes:
                    sink(outcome)
                if progress:
                    progress(total)
        for actor in self.actors:
            ray.kill(actor)
        return total
