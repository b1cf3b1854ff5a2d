"""Sharding a render: shard I of N renders whole checkpoint groups into ``out_dir/shards/I-of-N``.

:func:`select_shard` keeps one shard of a plan and :func:`merge_shards` assembles the N shard
folders into ``out_dir``. :func:`assign_shards` is deterministic, so every shard computes the same
assignment on its own: shards run as the tasks of a SLURM array or torchrun job without talking.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from chatgenbench.core.errors import RenderError
from chatgenbench.render.cache import place_file
from chatgenbench.render.manifest import (
    IMAGES_DIR,
    SUMMARY_NAME,
    RenderRecord,
    RenderReport,
    image_filename,
    write_manifest,
)
from chatgenbench.render.planning import RenderPlan, RenderRequest

SHARDS_DIR = "shards"


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """Parse ``"I/N"`` (0-based, ``0 <= I < N``) into ``(I, N)``; raise RenderError when malformed."""
    if shard is None:
        return None
    if isinstance(shard, str):
        parts = shard.split("/")
        try:
            index, count = int(parts[0]), int(parts[1])
        except (ValueError, IndexError):
            raise RenderError(f"--shard must be I/N such as 0/4, got {shard!r}") from None
        if len(parts) != 2:
            raise RenderError(f"--shard must be I/N such as 0/4, got {shard!r}")
    else:
        index, count = shard
    if count < 1 or not 0 <= index < count:
        raise RenderError(f"--shard I/N needs N >= 1 and 0 <= I < N, got {index}/{count}")
    return index, count


def shard_dir(out_dir: Path, shard: tuple[int, int] | None) -> Path:
    """Return the folder a render writes into: ``out_dir``, or ``out_dir/shards/I-of-N``."""
    if shard is None:
        return out_dir
    return out_dir / SHARDS_DIR / f"{shard[0]}-of-{shard[1]}"


def assign_shards(groups: list[list[RenderRequest]], count: int) -> list[int]:
    """Return the shard of each group: whole groups, largest first onto the least-loaded shard.

    Deterministic for the same requests, so every shard of a SLURM array or torchrun job computes
    the same assignment independently.
    """
    load = [0] * count
    shards = []
    for group in groups:
        target = min(range(count), key=lambda i: (load[i], i))
        load[target] += len(group)
        shards.append(target)
    return shards


def select_shard(plan: RenderPlan, index: int, count: int) -> RenderPlan:
    """Return shard ``index`` of ``count`` of ``plan``, its ``shard`` set to the summary's entry.

    The shard keeps its groups and the samples whose requests are in them; samples with a final
    status (no request) go with shard 0. ``missing_weights`` is kept whole in every shard.
    """
    assignment = assign_shards(plan.groups, count)
    mine = [g for g, s in zip(plan.groups, assignment) if s == index]
    keys = {r.key for g in mine for r in g}
    records: dict[str, RenderRecord] = {}
    for sample_id, record in plan.records.items():
        request = plan.request_of.get(sample_id)
        if request is not None and request.key in keys:
            records[sample_id] = record
        elif request is None and index == 0:
            records[sample_id] = record
    request_of = {i: r for i, r in plan.request_of.items() if i in records}
    info = {
        "index": index,
        "count": count,
        "groups": len(mine),
        "requests": len(keys),
        "total_groups": len(plan.groups),
    }
    return RenderPlan(records, request_of, plan.missing_weights, mine, shard=info)


def merge_shards(out_dir: str | os.PathLike) -> RenderReport:
    """Assemble ``out_dir`` from the shard folders ``out_dir/shards/I-of-N`` of a sharded render.

    Needs neither the weights nor a shared cache: images are copied (hard-linked where possible)
    from the shard folders. Returns the merged folder's report. Raises :class:`RenderError` when a
    shard is missing, the shards disagree on N, or a sample appears twice.
    """
    from chatgenbench.core.storage import atomic_write_json
    from chatgenbench.render.summary import merge_summaries

    out = Path(out_dir)
    folders, count = _shard_folders(out / SHARDS_DIR)
    summaries = [json.loads((f / SUMMARY_NAME).read_text("utf-8")) for f in folders]
    records = _merge_records(folders, out)
    write_manifest(out, records)
    summary = merge_summaries(summaries, records, [f.name for f in folders], count)
    atomic_write_json(out / SUMMARY_NAME, summary)
    return RenderReport(records, summary, out)


def _shard_folders(shards: Path) -> tuple[list[Path], int]:
    """Return the shard folders in shard order and N; raise RenderError unless all N are there."""
    folders = sorted(shards.glob("*-of-*"))
    if not folders:
        raise RenderError(f"no shard folders in {shards}: render with --shard I/N first")
    parsed: dict[Path, tuple[int, int]] = {}
    for folder in folders:
        index, _, count = folder.name.partition("-of-")
        parsed[folder] = (int(index), int(count))
    counts = {count for _, count in parsed.values()}
    if len(counts) != 1:
        raise RenderError(f"shard folders of different N in {shards}: {sorted(counts)}")
    count = counts.pop()
    missing = sorted(set(range(count)) - {index for index, _ in parsed.values()})
    if missing:
        raise RenderError(f"shards {missing} of {count} are missing in {shards}")
    return sorted(folders, key=lambda f: parsed[f][0]), count


def _merge_records(folders: list[Path], out: Path) -> list[RenderRecord]:
    """Return the shards' records sorted by id, with their images placed in ``out``.

    Raises :class:`RenderError` for a sample that is in two shards.
    """
    from chatgenbench.render.manifest import read_manifest

    records: list[RenderRecord] = []
    seen: dict[str, str] = {}
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    for folder in folders:
        for record in read_manifest(folder):
            if record.id in seen:
                raise RenderError(f"sample {record.id} is in {seen[record.id]} and {folder.name}")
            seen[record.id] = folder.name
            if record.has_image:
                target = place_file(
                    folder / record.image, out / IMAGES_DIR / image_filename(record.id)
                )
                record.image = f"{IMAGES_DIR}/{target.name}"
            records.append(record)
    records.sort(key=lambda r: r.id)
    return records
