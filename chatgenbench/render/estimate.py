"""How long a render will take, said before it starts.

:func:`estimate_render` prices the requests that the image cache lacks with the cost model of the
device (:func:`chatgenbench.render.cost_model.device_cost_model`: a GPU's defaults, or rough CPU
figures divided by the thread count) and replays them on the backend's workers
(:func:`chatgenbench.render.cost_model.simulate`). :func:`estimate_line` says it in one line, with
what would make a long CPU render faster (``--threads``, a GPU). The render engine prints that line
to standard error before it renders anything, whichever command started it (``render``,
``evaluate --render``, ``ablate``, the leaderboard's scoring worker).

A checkpoint much smaller than its architecture's usual size (the tiny random demo models) is
priced by its size, so that a demo is not announced as an hour's work.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

#: Usual checkpoint sizes (bytes) by architecture: a smaller checkpoint's denoising is priced by
#: its share of this size (SD 1.5 pruned fp16 about 2.0 GB; SDXL base fp16 about 6.5 GB).
USUAL_CHECKPOINT_BYTES: dict[str, float] = {"sd15": 2.0e9, "sdxl": 6.5e9}

#: A CPU render estimated longer than this (seconds) gets the advice of what makes it faster.
SLOW_RENDER_S = 600.0


@dataclass(frozen=True)
class RenderEstimate:
    """The predicted duration of a render: the images to render and those from the cache, the
    device, dtype, threads, batch size and workers priced, the seconds, and the figures' source."""

    images: int
    cached: int
    device: str
    dtype: str
    threads: int | None
    batch_size: int
    workers: int
    seconds: float
    source: str


def estimate_render(
    groups: list[list[Any]],
    *,
    device: str,
    dtype: str,
    threads: int | None,
    batch_size: int,
    workers: int = 1,
    capacity: int = 2,
    cached: int = 0,
    schedule: str = "local",
) -> RenderEstimate:
    """Return the :class:`RenderEstimate` of rendering ``groups`` (a plan's checkpoint groups of
    :class:`~chatgenbench.render.planning.RenderRequest`, those the cache lacks)."""
    from chatgenbench.render.cost_model import device_cost_model, price_groups, simulate

    model = device_cost_model(device, dtype, threads)
    priced = [
        dataclasses.replace(cost, render_s=cost.render_s * _size_share(group))
        for cost, group in zip(price_groups(groups, model, batch_size), groups)
    ]
    seconds = 0.0
    if priced:
        workers = max(1, int(workers))
        if schedule not in ("local", "ray") or workers > model.gpus_per_machine:
            schedule = "ray"
        seconds = float(simulate(priced, model, workers, schedule, capacity=capacity)["makespan_s"])
    return RenderEstimate(
        images=sum(len(group) for group in groups),
        cached=cached,
        device=device,
        dtype=dtype,
        threads=threads,
        batch_size=batch_size,
        workers=max(1, int(workers)),
        seconds=seconds,
        source=model.source,
    )


def _size_share(group: list[Any]) -> float:
    """The share of its architecture's usual size that a group's checkpoint has (at most 1; 1 when
    its size is unknown)."""
    first = group[0]
    size = getattr(first.checkpoint, "size_bytes", 0) or 0
    usual = USUAL_CHECKPOINT_BYTES.get(first.architecture)
    if not size or not usual:
        return 1.0
    return min(1.0, size / usual)


def duration_text(seconds: float) -> str:
    """``45 s``, ``12 min``, ``1 h 47 min``: a duration as a person says it."""
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def estimate_line(estimate: RenderEstimate, cpu_count: int | None = None) -> str:
    """Return the one-line announcement of a render, with advice when it is a long CPU render:
    ``render: 12 images to render (0 from the cache) on cpu, float32, 1 thread, batch 1,
    1 worker: about 1 h 52 min (rough CPU figures ...)``."""
    threads = estimate.threads or 1
    where = f"{estimate.device}, {estimate.dtype}"
    on_cpu = estimate.device.split(":")[0] == "cpu"
    if on_cpu:
        where += f", {threads} thread{'s' if threads != 1 else ''}"
    where += f", batch {estimate.batch_size}, {estimate.workers} worker"
    where += "s" if estimate.workers != 1 else ""
    text = (
        f"render: {estimate.images} images to render ({estimate.cached} from the cache) on {where}: "
        f"about {duration_text(estimate.seconds)} (estimate from the cost model: {estimate.source})"
    )
    if on_cpu and estimate.seconds > SLOW_RENDER_S:
        cores = cpu_count if cpu_count is not None else os.cpu_count()
        more = (
            f"--threads {cores} (this machine has {cores} cores), "
            if cores and cores > threads
            else ""
        )
        text += f"; faster: {more}a GPU (--device cuda), or Ctrl-C now"
    return text
