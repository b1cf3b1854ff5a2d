"""How long a render plan takes: a cost model and a simulation of the three schedules.

:class:`CostModel` prices the two things a render does: load a checkpoint (by architecture and file
size; the first read of a file on a machine is *cold*, later reads come from the page cache) and a
LoRA, and denoise a batch (by architecture, resolution, steps and batch size). :func:`simulate`
replays a :class:`~chatgenbench.render.planning.RenderPlan`'s checkpoint groups on ``gpus`` workers
as each backend schedules them:

- ``local``: one machine, one worker per GPU, each taking the next group when it is free (the
  process pool of :mod:`chatgenbench.render.backends`); at most ``gpus_per_machine`` GPUs;
- ``shard``: ``gpus`` independent jobs (``--shard I/N``), groups fixed in advance by
  :func:`chatgenbench.render.shards.assign_shards`, each job rendering its own in plan order;
- ``ray``: one actor per GPU over as many machines as needed, fed the next group when free
  (:mod:`chatgenbench.render.ray_backend`), plus a dispatch cost per group.

Every worker keeps an LRU of ``capacity`` loaded pipelines, as :class:`PipelinePool` does. The
makespan is compared with the lower bound ``max(total work / gpus, largest group)``, where the total
work loads every distinct checkpoint once (cold), every LoRA group's LoRA, and renders every image.

A run is ``warm`` (the files' digests are remembered: nothing is checked) or ``first`` (every
file is checked against the catalogue's digest the first time a machine loads it: a read of the
whole file at ``min(read bandwidth, check_mb_s[check_digest])``). The engine is priced ``serial``
(``overlap=False``: the check before the load, nothing read ahead; the engine before the
background checks) or overlapped (``overlap=True``): the check is the same pass over the file as
the read that warms it, on a background thread, beside the load and the render; a check still
running when the group's images are done delays its end. With ``read_ahead`` (the engine's single
in-process worker), one reader thread per worker reads and checks the files of the groups
:data:`READ_AHEAD_GROUPS` ahead while earlier groups render (a file larger than
``readahead_bytes`` is read when needed); a load waits for the bytes it still lacks.
``loads_not_hidden`` counts the loads whose file was not read whole before the load began.

The default figures (:data:`DEFAULT_COSTS`) are estimates for one H100/H200 in fp16, not
measurements: about 2 s warm and 5 to 10 s cold per SD 1.5 checkpoint, more for SDXL, 1.5 s per
LoRA, and SD 1.5 at 512x512 about 0.5 s per image at 25 steps. Override any of them with measured
ones (``benchmarks/render.py --simulate --costs FILE``; ``benchmarks/gpu.sh`` writes such a file).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEDULES: tuple[str, ...] = ("local", "shard", "ray")


def _per_arch(sd15: float, sdxl: float) -> dict[str, float]:
    return {"sd15": sd15, "sdxl": sdxl}


@dataclass
class CostModel:
    """Seconds per checkpoint load, LoRA load and denoising batch; every field is overridable.

    Checkpoint load = ``load_fixed_s[arch] + size / read_mb_s`` with ``cold_read_mb_s`` for the
    first read of a file on a machine and ``warm_read_mb_s`` after. A batch of ``b`` images of
    ``w x h`` at ``s`` steps = ``s * (step_fixed_s + b * step_per_image_s * w*h / reference_pixels)
    + b * decode_s_per_image`` (both terms by architecture). ``dispatch_s`` is paid per group and
    ``startup_s`` once per worker, by schedule.
    """

    load_fixed_s: dict[str, float] = field(default_factory=lambda: _per_arch(1.5, 3.0))
    cold_read_mb_s: float = 400.0
    warm_read_mb_s: float = 4000.0
    lora_load_s: float = 1.5
    step_fixed_s: dict[str, float] = field(default_factory=lambda: _per_arch(0.008, 0.02))
    step_per_image_s: dict[str, float] = field(default_factory=lambda: _per_arch(0.012, 0.08))
    reference_pixels: dict[str, float] = field(
        default_factory=lambda: _per_arch(512 * 512, 1024 * 1024)
    )
    decode_s_per_image: dict[str, float] = field(default_factory=lambda: _per_arch(0.03, 0.12))
    dispatch_s: dict[str, float] = field(
        default_factory=lambda: {"local": 0.002, "shard": 0.0, "ray": 0.05}
    )
    startup_s: dict[str, float] = field(
        default_factory=lambda: {"local": 20.0, "shard": 20.0, "ray": 40.0}
    )
    gpus_per_machine: int = 8
    #: hashing throughput of a check, MB/s of file, by digest (one core for SHA-256 with SHA-NI;
    #: BLAKE3 on every core); a check reads at the smaller of this and the read bandwidth
    check_mb_s: dict[str, float] = field(
        default_factory=lambda: {"sha256": 1500.0, "blake3": 5000.0, "autov2": 1500.0}
    )
    #: the digest the catalogue gives and a first run checks (Civitai lists all three: blake3)
    check_digest: str = "sha256"
    #: bytes a worker may read ahead of the group it renders (the engine's ``--readahead-mb``)
    readahead_bytes: float = 16 * 2**30
    source: str = "defaults (estimates for one H100/H200, fp16; not measured)"

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> CostModel:
        """Return the defaults with ``overrides`` laid over them (dicts merge by key).

        Raises ValueError for an unknown field.
        """
        model = cls()
        for name, value in (overrides or {}).items():
            if name not in cls.__dataclass_fields__:
                raise ValueError(
                    f"unknown cost field {name!r}; known: {sorted(cls.__dataclass_fields__)}"
                )
            current = getattr(model, name)
            setattr(model, name, {**current, **value} if isinstance(current, dict) else value)
        return model

    def describe(self) -> dict[str, Any]:
        """Return every figure (JSON-ready)."""
        return asdict(self)

    def checkpoint_load_s(self, architecture: str, size_bytes: int, cold: bool) -> float:
        """Seconds to load one checkpoint of ``size_bytes``; ``cold``: first read on the machine."""
        bandwidth = self.cold_read_mb_s if cold else self.warm_read_mb_s
        return self.load_fixed_s[architecture] + size_bytes / 1e6 / bandwidth

    def check_s(self, size_bytes: int, cold: bool) -> float:
        """Seconds to check one file of ``size_bytes`` alone: read and hashed in one pass."""
        bandwidth = min(self.cold_read_mb_s if cold else self.warm_read_mb_s,
                        self.check_mb_s[self.check_digest])  # fmt: skip
        return size_bytes / 1e6 / bandwidth

    def batch_s(self, architecture: str, width: int, height: int, steps: int, batch: int) -> float:
        """Seconds to render one batch of ``batch`` same-shape images, decoding included."""
        scale = width * height / self.reference_pixels[architecture]
        per_step = self.step_fixed_s[architecture] + batch * self.step_per_image_s[architecture] * (
            scale
        )
        return steps * per_step + batch * self.decode_s_per_image[architecture] * scale


@dataclass(frozen=True)
class GroupCost:
    """One checkpoint group, priced: what it loads and how long its images take."""

    checkpoint: str
    architecture: str
    size_bytes: int
    lora: bool
    render_s: float
    images: int


def price_groups(groups, model: CostModel, batch_size: int = 4) -> list[GroupCost]:
    """Return a :class:`GroupCost` per group of a plan (same order), batching as the worker does."""
    priced = []
    for group in groups:
        first = group[0]
        by_shape: dict[str, list] = defaultdict(list)
        for request in group:
            by_shape[request.batch_key].append(request)
        render = 0.0
        for same in by_shape.values():
            a = same[0].arguments
            for start in range(0, len(same), batch_size):
                n = len(same[start : start + batch_size])
                render += model.batch_s(first.architecture, a.width, a.height, a.steps, n)
        priced.append(
            GroupCost(
                first.checkpoint.identity,
                first.architecture,
                first.checkpoint.size_bytes,
                first.lora is not None,
                render,
                len(group),
            )  # fmt: skip
        )
    return priced


class _Worker:
    def __init__(self, machine: int, capacity: int) -> None:
        self.machine = machine
        self.capacity = max(1, capacity)
        self.loaded: OrderedDict[str, None] = OrderedDict()
        self.busy = 0.0
        self.loads = 0
        self.not_hidden = 0
        self.checks = 0
        self.reader_at = 0.0  # when the read-ahead thread is done with the files it has read
        self.starts: list[float] = []  # when each group of this worker began (read-ahead hints)


@dataclass
class _Run:
    """What a simulated run shares across workers: the page cache and checked files per machine,
    and how the engine checks (``run`` first or warm; ``overlap``; ``read_ahead``)."""

    run: str = "warm"
    overlap: bool = False
    read_ahead: bool = False
    read: set = field(default_factory=set)
    checked: set = field(default_factory=set)


#: Groups ahead whose files the engine reads ahead (as :data:`READ_AHEAD_GROUPS` of the backends).
READ_AHEAD_GROUPS = 2


def _run_group(worker: _Worker, group: GroupCost, model: CostModel, state: _Run) -> float:
    """Seconds ``worker`` spends on ``group``; updates its LRU and the machine's page cache."""
    seconds = group.render_s + (model.lora_load_s if group.lora else 0.0)
    worker.starts.append(worker.busy)
    if group.checkpoint in worker.loaded:
        worker.loaded.move_to_end(group.checkpoint)
    else:
        where = (worker.machine, group.checkpoint)
        cold = where not in state.read
        state.read.add(where)
        check = 0.0
        if state.run == "first" and where not in state.checked:
            state.checked.add(where)
            check = model.check_s(group.size_bytes, cold)
            worker.checks += 1
        load = model.checkpoint_load_s(group.architecture, group.size_bytes, cold)
        if not state.overlap:  # the check before the load, nothing read ahead
            seconds += check + load
            worker.not_hidden += 1
        elif not state.read_ahead:  # the check beside the load and render: one pass
            seconds = max(load + seconds, check)
            worker.not_hidden += 1
        else:
            seconds = _read_ahead(worker, group, model, cold, check, seconds)
        worker.loads += 1
        worker.loaded[group.checkpoint] = None
        while len(worker.loaded) > worker.capacity:
            worker.loaded.popitem(last=False)
    worker.busy += seconds
    return seconds


def _read_ahead(
    worker: _Worker, group: GroupCost, model: CostModel, cold: bool, check: float, rest: float
) -> float:
    """Seconds of a group whose file the worker's read-ahead thread read (and checked) in one
    pass: it starts when the group is :data:`READ_AHEAD_GROUPS` ahead of the one rendering and
    the thread is free, so reads run beside the rendering of earlier groups; the load waits for
    the bytes, the group's end for the check."""
    start = worker.busy
    hint = worker.starts[-1 - READ_AHEAD_GROUPS] if len(worker.starts) > READ_AHEAD_GROUPS else 0.0
    if group.size_bytes > model.readahead_bytes:  # beyond the budget: read when it is needed
        hint = start
    read = group.size_bytes / 1e6 / (model.cold_read_mb_s if cold else model.warm_read_mb_s)
    read_start = max(worker.reader_at, hint)
    bytes_read = read_start + read
    checked = read_start + max(read, check)  # reading and hashing are one pass
    worker.reader_at = checked
    warm_load = model.checkpoint_load_s(group.architecture, group.size_bytes, False)
    load_end = max(start + warm_load, bytes_read + model.load_fixed_s[group.architecture])
    if bytes_read > start + 1e-9:
        worker.not_hidden += 1
    return max(load_end + rest, checked) - start


def shards_by_cost(groups: list[GroupCost], model: CostModel, count: int) -> list[int]:
    """Return a shard per group: largest predicted cost first onto the least-loaded shard.

    What :func:`chatgenbench.render.shards.assign_shards` does by image count, done by predicted
    seconds (the group's images plus its LoRA load, or a cold load of its checkpoint: LoRA groups
    share their base, loaded once per shard); for comparison in ``benchmarks/render.py --simulate``.
    """
    cost = [
        g.render_s
        + (
            model.lora_load_s
            if g.lora
            else model.checkpoint_load_s(g.architecture, g.size_bytes, True)
        )
        for g in groups
    ]
    load = [0.0] * count
    shards = [0] * len(groups)
    for index in sorted(range(len(groups)), key=lambda i: (-cost[i], i)):
        target = min(range(count), key=lambda s: (load[s], s))
        load[target] += cost[index]
        shards[index] = target
    return shards


def lower_bound(
    groups: list[GroupCost], model: CostModel, gpus: int, overlap: bool = False
) -> dict[str, float]:
    """Return the total work (each distinct checkpoint loaded once, cold), the largest group, and
    ``max(total / gpus, largest)``.

    With ``overlap`` (the engine reads files while earlier groups render), a load costs its warm
    time and the cold reads may run beside the work: the total is the larger of the two.
    """
    first_size: dict[str, tuple[str, int]] = {}
    for g in groups:
        first_size.setdefault(g.checkpoint, (g.architecture, g.size_bytes))
    if overlap:
        warm = sum(model.checkpoint_load_s(a, s, False) for a, s in first_size.values())
        reads = sum(s / 1e6 / model.cold_read_mb_s for _, s in first_size.values())
        work = warm + sum(g.render_s + (model.lora_load_s if g.lora else 0.0) for g in groups)
        work = max(work, reads)
        largest = max((g.render_s + (model.lora_load_s if g.lora else 0.0)
                       + model.checkpoint_load_s(g.architecture, g.size_bytes, False)
                       for g in groups), default=0.0)  # fmt: skip
        return {"total_work_s": work, "largest_group_s": largest,
                "bound_s": max(work / gpus, largest)}  # fmt: skip
    loads = sum(model.checkpoint_load_s(a, s, True) for a, s in first_size.values())
    work = loads + sum(g.render_s + (model.lora_load_s if g.lora else 0.0) for g in groups)
    largest = max(
        (
            g.render_s
            + (model.lora_load_s if g.lora else 0.0)
            + model.checkpoint_load_s(g.architecture, g.size_bytes, True)
            for g in groups
        ),
        default=0.0,
    )
    return {"total_work_s": work, "largest_group_s": largest, "bound_s": max(work / gpus, largest)}


def simulate(
    groups: list[GroupCost],
    model: CostModel,
    gpus: int,
    schedule: str,
    *,
    capacity: int = 2,
    shard_of: list[int] | None = None,
    run: str = "warm",
    overlap: bool = False,
    read_ahead: bool | None = None,
) -> dict[str, Any]:
    """Return the predicted makespan of ``groups`` on ``gpus`` workers under ``schedule``.

    ``shard_of`` (for ``shard``): each group's shard, as :func:`assign_shards` gives it. ``run``:
    ``warm`` (nothing checked) or ``first`` (each file checked at its first load on a machine);
    ``overlap``: the engine's background checks (False: checks before loads, nothing read
    ahead); ``read_ahead`` (default: ``overlap``): the next groups' files read ahead too, as the
    engine does with one in-process worker. The result holds ``makespan_s``, ``lower_bound_s``, ``over_bound``
    (makespan / bound), ``checkpoint_loads``, ``loads_not_hidden``, ``files_checked`` and the
    busiest and idlest worker's seconds; ``applicable`` False (with ``reason``) for ``local``
    beyond one machine.
    """
    if run not in ("warm", "first"):
        raise ValueError(f"unknown run {run!r}; expected 'warm' or 'first'")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {SCHEDULES}")
    read_ahead = overlap if read_ahead is None else read_ahead
    bound = lower_bound(groups, model, gpus, read_ahead)
    if schedule == "local" and gpus > model.gpus_per_machine:
        return {"applicable": False, "reason": f"one machine holds at most "
                f"{model.gpus_per_machine} GPUs (gpus_per_machine): use shard or ray"}  # fmt: skip
    workers = [_Worker(i // model.gpus_per_machine, capacity) for i in range(gpus)]
    state = _Run(run, overlap, read_ahead)
    dispatch = model.dispatch_s[schedule]
    if schedule == "shard":
        if shard_of is None:
            raise ValueError("the shard schedule needs shard_of (assign_shards)")
        for group, shard in zip(groups, shard_of):
            _run_group(workers[shard], group, model, state)
            workers[shard].busy += dispatch
    else:  # the next group goes to the worker that is free first
        free = [(0.0, i) for i in range(gpus)]
        heapq.heapify(free)
        for group in groups:
            at, index = heapq.heappop(free)
            seconds = _run_group(workers[index], group, model, state) + dispatch
            workers[index].busy += dispatch
            heapq.heappush(free, (at + seconds, index))
    busy = [w.busy for w in workers]
    makespan = max(busy) + model.startup_s[schedule]
    return {
        "applicable": True,
        "makespan_s": round(makespan, 1),
        "makespan_h": round(makespan / 3600, 3),
        "lower_bound_s": round(bound["bound_s"], 1),
        "over_bound": round(makespan / bound["bound_s"], 4) if bound["bound_s"] else None,
        "busiest_worker_s": round(max(busy), 1),
        "idlest_worker_s": round(min(busy), 1),
        "checkpoint_loads": sum(w.loads for w in workers),
        "loads_not_hidden": sum(w.not_hidden for w in workers),
        "files_checked": sum(w.checks for w in workers),
        "machines": (gpus - 1) // model.gpus_per_machine + 1,
    }


#: Figures for one CPU thread in float32, from one measured image: an SDXL model at 1024x1024 and
#: 60 steps took 9 min 43 s on a CPU with one torch thread (about 8.7 s a step and 40 s of decoding
#: and loading); SD 1.5 at 512x512 is priced by its UNet's share of that work (about a seventh).
#: Rough: a machine's cores differ by a factor of two or more either way.
CPU_ONE_THREAD_COSTS: dict[str, Any] = {
    "load_fixed_s": _per_arch(5.0, 15.0),
    "cold_read_mb_s": 200.0,
    "warm_read_mb_s": 1000.0,
    "lora_load_s": 3.0,
    "step_fixed_s": _per_arch(0.02, 0.05),
    "step_per_image_s": _per_arch(1.25, 8.7),
    "decode_s_per_image": _per_arch(6.0, 25.0),
    "startup_s": {"local": 5.0, "shard": 5.0, "ray": 20.0},
    "source": "rough CPU figures (one SDXL image measured at 1 thread, float32), not measured on "
    "this machine",
}

#: How much faster than one thread ``n`` torch threads denoise: ``n ** CPU_THREAD_SCALING`` (the
#: work does not split perfectly over cores).
CPU_THREAD_SCALING = 0.8

#: GPU denoising in float32 is about this many times slower than in float16/bfloat16.
GPU_FP32_FACTOR = 2.0


def device_cost_model(
    device: str, dtype: str | None = None, threads: int | None = None
) -> CostModel:
    """Return the cost model of rendering on ``device`` (``cpu``, ``cuda``, ``cuda:1``, ...) in
    ``dtype`` with ``threads`` torch threads (a CPU's; None: 1).

    A GPU gets :class:`CostModel`'s defaults (one H100/H200 in fp16), float32 steps
    :data:`GPU_FP32_FACTOR` times slower; a CPU gets :data:`CPU_ONE_THREAD_COSTS` with the
    denoising and decoding divided by ``threads ** CPU_THREAD_SCALING``. Every figure is an
    estimate, named in :attr:`CostModel.source`.
    """
    if device.split(":")[0] != "cpu":
        model = CostModel()
        if str(dtype or "").lower() in ("fp32", "float32"):
            model.step_fixed_s = {k: v * GPU_FP32_FACTOR for k, v in model.step_fixed_s.items()}
            model.step_per_image_s = {
                k: v * GPU_FP32_FACTOR for k, v in model.step_per_image_s.items()
            }
            model.source += f"; float32 steps taken as {GPU_FP32_FACTOR:g}x slower"
        return model
    model = CostModel.from_overrides(CPU_ONE_THREAD_COSTS)
    speedup = max(1, int(threads or 1)) ** CPU_THREAD_SCALING
    for name in ("step_fixed_s", "step_per_image_s", "decode_s_per_image"):
        setattr(model, name, {k: v / speedup for k, v in getattr(model, name).items()})
    return model
