"""The contract between rendering and image metrics: a render folder and its manifest.

``chatgenbench render`` (and ``evaluate --render``) writes a folder::

    DIR/render_manifest.jsonl   one RenderRecord per benchmark sample (JSON lines)
    DIR/render_summary.json     counts by status, normalisation totals, settings, versions
    DIR/images/<id>.png         one PNG per rendered sample (PNG: JPEG would shift FID)

Image metrics read only this folder, so they work on any renders that follow it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "render_manifest.jsonl"
SUMMARY_NAME = "render_summary.json"
IMAGES_DIR = "images"

#: Statuses of a sample. Only ``rendered`` and ``cached`` have an image.
RENDER_STATUSES: tuple[str, ...] = (
    "rendered",  # rendered in this run
    "cached",  # taken from the content-addressed cache
    "weights_missing",  # the predicted model's weights are not present
    "invalid_prediction",  # the prediction's model or arguments cannot be rendered
    "missing_prediction",  # no usable prediction row for this sample
    "failed",  # rendering raised; ``error`` says what
)
IMAGE_STATUSES = frozenset({"rendered", "cached"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def image_filename(sample_id: str) -> str:
    """Return a safe PNG file name for a sample id (no path can escape the images folder)."""
    safe = _UNSAFE.sub("_", sample_id).lstrip(".") or "_"
    return f"{safe}.png"


@dataclass
class RenderRecord:
    """What happened to one benchmark sample's render."""

    id: str
    setting: str
    input_type: str
    status: str
    image: str | None = None  # path relative to the render folder
    cache_key: str | None = None
    seed: int | None = None
    model: str | None = None
    normalised: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def has_image(self) -> bool:
        """Whether this sample has an image to score."""
        return self.status in IMAGE_STATUSES and self.image is not None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        return asdict(self)


def write_manifest(out_dir: str | os.PathLike, records: list[RenderRecord]) -> Path:
    """Write ``render_manifest.jsonl`` atomically and return its path."""
    from chatgenbench.core.storage import atomic_write_text

    lines = [json.dumps(record.to_dict(), sort_keys=True) for record in records]
    return atomic_write_text(Path(out_dir) / MANIFEST_NAME, "\n".join(lines) + "\n")


def read_manifest(out_dir: str | os.PathLike) -> list[RenderRecord]:
    """Read a render folder's manifest. Raises FileNotFoundError or ValueError (bad record/path)."""
    root = Path(out_dir)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no {MANIFEST_NAME} in {root}: is it a render folder?")
    records = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        data = json.loads(line)
        record = RenderRecord(**data)
        if record.status not in RENDER_STATUSES:
            raise ValueError(f"{path}: line {number}: unknown status {record.status!r}")
        if record.image is not None:
            image = (root / record.image).resolve()
            if not image.is_relative_to(root.resolve()):
                raise ValueError(f"{path}: line {number}: image path escapes the folder")
        records.append(record)
    return records


def image_path(out_dir: str | os.PathLike, record: RenderRecord) -> Path | None:
    """Return the absolute path of a record's image, or None when it has none."""
    return Path(out_dir) / record.image if record.has_image else None


@dataclass
class RenderReport:
    """A render folder in memory, as :func:`chatgenbench.render.render_predictions` and
    :func:`chatgenbench.render.shards.merge_shards` return it: one record per sample, the summary
    (``render_summary.json``) and the folder."""

    records: list[RenderRecord]
    summary: dict[str, Any]
    out_dir: Path

    @property
    def counts(self) -> dict[str, int]:
        """Return the number of samples per status."""
        return dict(self.summary["counts"])
