"""Efficiency columns of the ranking (the paper's Table 5): seconds per sample, device, parameters.

A submission's figures come from the adapter run record stored beside its predictions
(``predictions.run.json``: ``efficiency``, see :func:`chatgenbench.predictions.efficiency.run_efficiency`);
a submission that did not come from an adapter states them in its metadata
(``seconds_per_sample``, ``device``, and the count of ``model_size``: :mod:`leaderboard.model_size`). The paper's reported rows carry Table 5's
figures (``leaderboard/data/paper_table5.json``). Every figure says where it comes from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from chatgenbench.predictions.efficiency import format_parameters, parse_parameters, parse_seconds
from leaderboard.model_size import model_size_count

RUN_RECORD_MAX_BYTES = 1 << 20  # a run record is a few kB; a larger one is not read
FROM_RUN = "adapter run record"
FROM_META = "stated in the submission's metadata"


@dataclass(frozen=True)
class Efficiency:
    """One method's efficiency figures and where they come from."""

    seconds_per_sample: float | None = None
    device: str | None = None
    parameters: int | None = None
    source: str = ""

    @property
    def known(self) -> bool:
        """Whether any figure is known."""
        return any(v is not None for v in (self.seconds_per_sample, self.device, self.parameters))

    def cells(self) -> dict[str, str]:
        """Return the display cells: ``Params``, ``s / sample``, ``Device``, ``Efficiency from``."""
        seconds = self.seconds_per_sample
        return {
            "Params": format_parameters(self.parameters),
            "s / sample": "-" if seconds is None else f"{seconds:.3g}",
            "Device": self.device or "-",
            "Efficiency from": self.source if self.known else "-",
        }


@lru_cache(maxsize=1)
def reported_efficiency_table() -> dict[str, Any]:
    """Return the paper's Table 5 (``leaderboard/data/paper_table5.json``)."""
    text = resources.files("leaderboard.data").joinpath("paper_table5.json").read_text("utf-8")
    return json.loads(text)


def reported_efficiency(method: str) -> Efficiency | None:
    """Return Table 5's figures for a reported method (None for a method it does not list)."""
    table = reported_efficiency_table()
    for row in table["rows"]:
        if row["method"] == method:
            return Efficiency(
                seconds_per_sample=float(row["seconds_per_sample"]),
                device=table["device"],
                parameters=int(row["parameters"]),
                source="reported (paper, Table 5)",
            )
    return None


#: Run records already read, by path, with the state of the file they were read from (a ranking
#: view reads every submission's record: one stat each instead of a read and a parse).
_RUN_RECORDS: dict[str, tuple[tuple, dict[str, Any] | None]] = {}


def _run_record(submission) -> dict[str, Any] | None:
    from chatgenbench.predictions.adapters import sidecar_paths

    if submission.predictions_path is None:
        return None
    path = sidecar_paths(submission.predictions_path)["run"]
    try:
        found = path.stat()
    except OSError:  # absent (or unreachable): no figures
        return None
    state = (found.st_mtime_ns, found.st_ctime_ns, found.st_size, found.st_ino, found.st_mode)
    cached = _RUN_RECORDS.get(str(path))
    if cached is not None and cached[0] == state:
        return cached[1]
    try:
        if not path.is_file() or path.stat().st_size > RUN_RECORD_MAX_BYTES:
            record = None
        else:
            record = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):  # unreadable or not JSON: shown as no figures, never a crash
        record = None
    record = record if isinstance(record, dict) else None
    _RUN_RECORDS[str(path)] = (state, record)
    return record


def submission_efficiency(submission) -> Efficiency:
    """Return a submission's figures: its adapter run record's, else its metadata's."""
    record = _run_record(submission)
    found = (record or {}).get("efficiency")
    if isinstance(found, dict):
        seconds, parameters = found.get("seconds_per_sample"), found.get("parameters")
        try:
            return Efficiency(
                seconds_per_sample=parse_seconds(seconds),
                device=str(found["device"])[:80] if found.get("device") else None,
                parameters=parse_parameters(parameters),
                source=FROM_RUN,
            )
        except ValueError:
            pass  # a run record with unusable figures: fall back to the metadata
    meta = submission.meta
    if meta is None:
        return Efficiency()
    try:
        return Efficiency(
            seconds_per_sample=parse_seconds(getattr(meta, "seconds_per_sample", "")),
            device=getattr(meta, "device", "") or None,
            parameters=model_size_count(getattr(meta, "model_size", "")),
            source=FROM_META,
        )
    except ValueError:  # validate_meta refuses such values; an old store may still hold them
        return Efficiency()
