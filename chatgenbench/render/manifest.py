"""The contract between rendering and image metrics: a render folder and its manifest.

``chatgenbench render`` (and ``evaluate --render``) writes a folder::

    DIR/render_manifest.jsonl   one RenderRecord per benchmark sample (JSON lines)
    DIR/render_summary.json     counts by status, normalisation totals, settings, versions
    DIR/images/<id>.png         one PNG per rendered sample (PNG: JPEG would shift FID)

Image metrics read only this folder, so they work on any renders that follow it.

A manifest line that is not a record (not UTF-8, not JSON, nested too deep, not an object,
missing or unknown keys, a value of the wrong type, an unknown status, an image path that leads
outside the folder, through ``..`` or a link) is skipped and counted with its reason
(:func:`load_manifest`); it never stops the reading of the others. The manifest is read only when
it is a regular file inside the folder.
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


#: The type each manifest field must have (``None`` allowed where the record allows it).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "setting": (str,),
    "input_type": (str,),
    "status": (str,),
    "image": (str, type(None)),
    "cache_key": (str, type(None)),
    "seed": (int, type(None)),
    "model": (str, type(None)),
    "normalised": (dict,),
    "error": (str, type(None)),
}
_REQUIRED_FIELDS = ("id", "setting", "input_type", "status")
MANIFEST_MAX_BYTES = 1 << 30


@dataclass
class Manifest:
    """A render folder's manifest as read: its records and the lines skipped (``line N: why``)."""

    records: list[RenderRecord]
    skipped: list[str] = field(default_factory=list)


def parse_record(line: bytes | str, root: str | os.PathLike) -> RenderRecord:
    """Return one manifest line as a :class:`RenderRecord` of the render folder ``root``.

    Raises ValueError saying why the line is not a record (never TypeError or RecursionError).
    """
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        data = json.loads(text)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error})") from None
    except RecursionError:
        raise ValueError("nested too deep to be a record") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected an object (a record), got {type(data).__name__}")
    unknown = sorted(str(key)[:40] for key in data if key not in _FIELD_TYPES)
    missing = [key for key in _REQUIRED_FIELDS if key not in data]
    if unknown or missing:
        found = [f"missing keys {missing}"] if missing else []
        found += [f"unknown keys {unknown}"] if unknown else []
        raise ValueError(f"{', '.join(found)}; a record has {', '.join(_FIELD_TYPES)}")
    for key, value in data.items():
        if not isinstance(value, _FIELD_TYPES[key]) or isinstance(value, bool):
            allowed = " or ".join(t.__name__ for t in _FIELD_TYPES[key])
            raise ValueError(f"field {key!r}: expected {allowed}, got {type(value).__name__}")
    record = RenderRecord(**data)
    if record.status not in RENDER_STATUSES:
        raise ValueError(f"unknown status {record.status[:40]!r}")
    if record.image is not None:
        image = (Path(root) / record.image).resolve()
        if not image.is_relative_to(Path(root).resolve()):
            raise ValueError(f"image path {record.image[:80]!r} leads outside the render folder")
    return record


def load_manifest(out_dir: str | os.PathLike) -> Manifest:
    """Read a render folder's manifest; a line that is not a record is skipped and counted.

    Raises FileNotFoundError when there is no manifest and OSError when it is not a regular file
    inside the folder (a FIFO, a device, a link out of it) or over :data:`MANIFEST_MAX_BYTES`.
    """
    from chatgenbench.core.storage import read_regular_bytes

    root = Path(out_dir)
    path = root / MANIFEST_NAME
    if not os.path.lexists(path):
        raise FileNotFoundError(f"no {MANIFEST_NAME} in {root}: is it a render folder?")
    data = read_regular_bytes(path, within=root, max_bytes=MANIFEST_MAX_BYTES)
    manifest = Manifest(records=[])
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            manifest.records.append(parse_record(line.rstrip(b"\r"), root))
        except ValueError as error:
            manifest.skipped.append(f"line {number}: {error}")
    return manifest


def read_manifest(out_dir: str | os.PathLike) -> list[RenderRecord]:
    """Return a render folder's records (lines that are not records are skipped: see
    :func:`load_manifest`, which counts them). Raises FileNotFoundError or OSError."""
    return load_manifest(out_dir).records


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
