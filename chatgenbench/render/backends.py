"""Render backends: the contract, the registry, and the backend that renders on this machine.

A backend takes the planned checkpoint groups and gets every request rendered by
:class:`chatgenbench.render.worker.RenderWorker` instances, wherever they run. The contract is
:class:`RenderBackend`; backends are found by name in :data:`RENDER_BACKENDS`: ``local``
(:class:`LocalBackend`, this module) and ``ray`` (:mod:`chatgenbench.render.ray_backend`, imported on
first use). A new backend implements the Protocol and registers its class::

    RENDER_BACKENDS.register("mine", "mypackage.render:MyBackend", description="...")

or, from another installed package, declares it in the ``chatgenbench.render_backends``
entry-point group (:data:`chatgenbench.core.registry.PLUGIN_GROUPS`)::

    [project.entry-points."chatgenbench.render_backends"]
    mine = "mypackage.render:MyBackend"

A backend with settings of its own declares them as a dataclass, its ``Options`` class attribute:
one field per setting, with a default and ``metadata={"help": "..."}``. Nothing else needs
editing: ``render_predictions`` accepts them as keyword options, ``chatgenbench render`` and
``chatgenbench queue work`` offer one flag each (``ray_actors`` -> ``--ray-actors``), the scoring
worker's deployment file one key each, and the backend reads them with
:meth:`BackendOptions.settings`. A field with ``"flag": False`` in its metadata is set from
Python only (no flag, no deployment key).
"""

from __future__ import annotations

import dataclasses
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from chatgenbench.core.registry import PLUGIN_GROUPS, Registry
from chatgenbench.render.planning import RenderRequest
from chatgenbench.render.worker import DEFAULT_BATCH_SIZE, RenderOutcome, RenderWorker, WorkerStats

T = typing.TypeVar("T")

#: Receives each request's :class:`RenderOutcome`, once per request, in the thread that called
#: :meth:`RenderBackend.run`. An ok outcome with ``png`` set is stored in the cache by the sink.
OutcomeSink = Callable[[RenderOutcome], None]
#: Receives the counters summed so far (for the progress bar); it reads them and keeps nothing,
#: since the backend may go on changing the same object.
ProgressCallback = Callable[[WorkerStats], None]


@dataclass
class BackendOptions:
    """Settings every backend receives.

    ``device`` (``cpu``, ``cuda``, ``cuda:1``, ...) and ``dtype`` (``float32``, ``float16``, ...)
    are what the workers render with; ``batch_size`` bounds one pipeline call, ``capacity`` the
    pipelines a worker keeps loaded, ``threads`` torch's CPU threads per worker (None: leave it).
    ``workers`` is the local worker count asked for (None: the backend decides). ``cache_root`` is
    the image cache folder; ``extra`` holds the backend's own options, the fields of its
    ``Options`` that were given (``ray_address``, ...): read them with :meth:`settings`.
    """

    device: str
    dtype: str
    batch_size: int = DEFAULT_BATCH_SIZE
    capacity: int = 2
    workers: int | None = None
    threads: int | None = None
    cache_root: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: when weight files are checked against the catalogue's digests (``first-load``, ``always``,
    #: ``never``) and the read-ahead budget in bytes (None: the default; 0: none); see
    #: :mod:`chatgenbench.render.weight_checks`
    verify: str = "first-load"
    readahead_bytes: int | None = None

    def settings(self, options_class: type[T]) -> T:
        """Return ``options_class`` (a backend's ``Options`` dataclass) filled from :attr:`extra`;
        the fields not given keep their defaults, and keys it does not declare are left out."""
        names = {f.name for f in dataclasses.fields(options_class)}
        return options_class(**{k: v for k, v in self.extra.items() if k in names})


@runtime_checkable
class RenderBackend(Protocol):
    """Gets checkpoint groups rendered by :class:`RenderWorker` instances, wherever they run.

    The class registered in :data:`RENDER_BACKENDS` is called with one :class:`BackendOptions`
    and should raise :class:`chatgenbench.core.errors.RenderError` for settings it cannot serve (a
    missing library, no GPU). Each worker it starts is built from the options, as
    :func:`build_worker` does, and renders a whole group at a time (one pipeline load per group)
    with ``iter_group``, ``render_group`` or, from another process, ``render_group_counted``.
    A worker built with ``threads`` sets torch's thread count for its whole process: a backend
    that runs one in the caller's process restores the count when it is done.

    A backend with settings of its own declares an ``Options`` dataclass as a class attribute
    (see the module docstring); it receives the given ones in ``options.extra`` and reads them
    with ``options.settings(Options)``. A backend without one has no settings of its own.
    """

    @property
    def n_workers(self) -> int:
        """The number of workers rendering in parallel (recorded in the summary's settings)."""
        ...

    def run(
        self,
        groups: list[list[RenderRequest]],
        sink: OutcomeSink,
        progress: ProgressCallback | None = None,
    ) -> WorkerStats:
        """Render every group and return the counters summed over all workers.

        ``groups`` share a checkpoint and LoRA each, largest first; keep a group on one worker.
        Requests already in the cache are left out, and ``run`` is not called with no groups.
        Pass every request's outcome to ``sink`` once, from the calling thread, as it arrives; call
        ``progress`` (when given) with the counters summed so far after each outcome or group.

        The cache: where the workers can reach ``options.cache_root``, pass it to them and they
        write each image there batch by batch (their outcomes carry no PNG); otherwise pass None
        and the outcomes carry ``png`` and ``sidecar``, which the sink stores. A request that
        ends with no outcome and no cached image is recorded as ``failed`` (rerun to resume).

        A group that fails as a whole (a worker died, a remote task gave up) must not raise: pass
        a failed :class:`RenderOutcome` with the reason for each of its requests, count nothing
        for it, and go on with the other groups.
        """
        ...


BackendFactory = Callable[[BackendOptions], RenderBackend]
#: Render backends by name, each registered with a ``description`` (those of other installed
#: packages: with ``plugin``, their distribution), loaded on first use.
RENDER_BACKENDS: Registry[BackendFactory] = Registry(
    "render backend", plugin_group=PLUGIN_GROUPS["render backend"]
)


def backend_names() -> list[str]:
    """Return the registered render backend names, sorted (for a command line's choices)."""
    return RENDER_BACKENDS.names()


def options_class(name: str) -> type | None:
    """Return the ``Options`` dataclass of the backend registered as ``name``, or None."""
    declared = getattr(RENDER_BACKENDS.get(name), "Options", None)
    return declared if dataclasses.is_dataclass(declared) else None


def option_fields(options: type, *, flags_only: bool = False) -> list[dataclasses.Field]:
    """Return the fields of an options dataclass; with ``flags_only``, those that are offered as a
    flag and a deployment key (not marked ``"flag": False``)."""
    found = dataclasses.fields(options)
    return [f for f in found if f.metadata.get("flag", True)] if flags_only else list(found)


def option_value_type(options: type, option: dataclasses.Field) -> type | None:
    """Return the type a field's value has when it is set: ``int`` for ``int | None``; None for a
    type that is not one plain class (a union of several, a generic)."""
    hint = typing.get_type_hints(options).get(option.name)
    kinds = (
        [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_args(hint)
        else [hint]
    )
    if len(kinds) == 1 and isinstance(kinds[0], type) and not typing.get_args(kinds[0]):
        return kinds[0]
    return None


def backend_options(*, flags_only: bool = False) -> dict[str, tuple[str, type, dataclasses.Field]]:
    """Return every registered backend's own options: name -> (backend, its ``Options``, field).

    When two backends declare the same name, the first (by backend name) is listed. A backend that
    cannot be imported is skipped with a warning that names it and the error (a broken plugin must
    not take the command line down).
    """
    found: dict[str, tuple[str, type, dataclasses.Field]] = {}
    for name in backend_names():
        try:
            options = options_class(name)
        except Exception as error:  # any import error of a plugin: skip it, say why
            warnings.warn(
                f"render backend {name!r} could not be imported and is skipped: "
                f"{type(error).__name__}: {error}",
                stacklevel=2,
            )
            continue
        for option in option_fields(options, flags_only=flags_only) if options else []:
            found.setdefault(option.name, (name, options, option))
    return found


def create_backend(name: str, options: BackendOptions) -> RenderBackend:
    """Return the backend registered as ``name``, built with ``options``.

    Raises :class:`chatgenbench.core.errors.UnknownNameError` for an unknown name, and whatever the
    backend raises for options it cannot serve (:class:`chatgenbench.core.errors.RenderError`).
    """
    return RENDER_BACKENDS.get(name)(options)


def build_worker(device: str, options: BackendOptions) -> RenderWorker:
    """Return a :class:`RenderWorker` on ``device`` with the dtype, LRU, batch size and threads
    of ``options``.
    """
    return RenderWorker(
        device,
        options.dtype,
        capacity=options.capacity,
        batch_size=options.batch_size,
        threads=options.threads,
        verify=options.verify,
        readahead_bytes=options.readahead_bytes,
    )


#: Groups ahead of the current one whose files an in-process worker reads ahead (the memory
#: budget bounds the bytes).
READ_AHEAD_GROUPS = 2


def local_worker_devices(device: str, workers: int | None) -> list[str]:
    """Return one device per local worker: every visible GPU for ``cuda``, else one CPU worker.

    ``workers`` overrides the count (for a CPU it starts that many CPU processes).
    """
    if str(device) == "cuda":
        import torch

        count = torch.cuda.device_count()
        if workers:
            count = min(count, workers)
        return [f"cuda:{i}" for i in range(max(1, count))]
    return [str(device)] * max(1, workers or 1)


@dataclass
class LocalOptions:
    """The local backend has no settings of its own (``workers`` is every backend's)."""


class LocalBackend:
    """Render on this machine: in this process for one device, else one process per device."""

    name = "local"
    Options = LocalOptions

    def __init__(self, options: BackendOptions) -> None:
        self.options = options
        self.devices = local_worker_devices(options.device, options.workers)

    @property
    def n_workers(self) -> int:
        """The number of workers this backend runs."""
        return len(self.devices)

    def run(
        self,
        groups: list[list[RenderRequest]],
        sink: OutcomeSink,
        progress: ProgressCallback | None = None,
    ) -> WorkerStats:
        """Render every group, passing each outcome to ``sink`` as it arrives (see the Protocol)."""
        if len(self.devices) == 1:
            return self._run_here(groups, sink, progress)
        return self._run_processes(groups, sink, progress)

    def _run_here(self, groups, sink: OutcomeSink, progress) -> WorkerStats:
        import torch

        threads = torch.get_num_threads()  # the in-process worker may change it: restore
        worker = None
        try:
            worker = build_worker(self.devices[0], self.options)
            for index, group in enumerate(groups):
                upcoming = groups[index + 1 : index + 1 + READ_AHEAD_GROUPS]
                for outcome in worker.iter_group(group, self.options.cache_root, upcoming):
                    sink(outcome)
                    if progress:
                        progress(worker.stats)
        finally:
            torch.set_num_threads(threads)
            if worker is not None:
                worker.pool.close()
        return worker.stats

    def _run_processes(self, groups, sink: OutcomeSink, progress) -> WorkerStats:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        context = multiprocessing.get_context("spawn")
        devices = context.Manager().Queue()
        for device in self.devices:
            devices.put(device)
        total = WorkerStats()
        with ProcessPoolExecutor(
            max_workers=len(self.devices),
            mp_context=context,
            initializer=_init_process_worker,
            initargs=(devices, self.options),
        ) as pool:
            futures = {
                pool.submit(_process_render_group, group, self.options.cache_root): group
                for group in groups
            }
            for future in as_completed(futures):
                try:
                    outcomes, stats = future.result()
                except BrokenProcessPool as error:
                    message = f"a worker process died ({error}); rerun to resume from the cache"
                    outcomes = [RenderOutcome(r.key, False, message) for r in futures[future]]
                    stats = WorkerStats()
                total.add(stats)
                for outcome in outcomes:
                    sink(outcome)
                if progress:
                    progress(total)
        return total


_WORKER: RenderWorker | None = None


def _init_process_worker(devices, options: BackendOptions) -> None:
    global _WORKER
    _WORKER = build_worker(devices.get(), options)


def _process_render_group(
    group: list[RenderRequest], cache_root: str
) -> tuple[list[RenderOutcome], WorkerStats]:
    assert _WORKER is not None
    return _WORKER.render_group_counted(group, cache_root)


RENDER_BACKENDS.register("local", LocalBackend, description="this machine: one worker per GPU")
RENDER_BACKENDS.register(
    "ray",
    "chatgenbench.render.ray_backend:RayBackend",
    description="Ray Core actors, one per GPU, fed whole checkpoint groups",
)
