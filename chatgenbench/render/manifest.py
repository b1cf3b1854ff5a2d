"""The contract between rendering and image metrics: a render folder and its manifest.

``chatgenbench render`` (and ``evaluate --render``) writes a folder::

    DIR/render_manifest.jsonl   one RenderRecord per benchmark sample (JSON lines)
    DIR/render_summary.json     counts by status, normalisation totals, settings, versions
    DIR/images/<name>.png       one PNG per rendered sample (PNG: JPEG would shift FID)

Image metrics read only this folder, so they work on any renders that follow it.

A manifest line that is not a record (not UTF-8, not JSON, nested too deep, not an object,
missing or unknown keys, a value of the wrong type, an unknown status, an image path that leads
outside the folder, through ``..`` or a link) is skipped and counted with its reason
(:func:`load_manifest`); it never stops the reading of the others. The manifest is read only when
it is a regular file inside the folder.

One sample, one image: :func:`image_filename` is injective on sample ids, also on a file system
that ignores case. An id that is already a plain lower-case name (``sample-0001``) keeps it
(``sample-0001.png``); any other id (upper case, a path separator, ``:``, NUL, a leading dot, a
Windows device name, over 96 characters) gets a readable stem plus ``+`` and 16 hex digits of the
sha256 of the exact id (``A+3f2a....png``). A plain name never contains ``+``, so the two forms
never meet. :func:`read_manifest` and :func:`write_manifest` refuse a manifest in which two records
share an id, or share an image file (compared case-insensitively), naming both ids.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
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
#: An id that is its own file stem: lower case, no leading dot, nothing a file system reinterprets.
_PLAIN = re.compile(r"[a-z0-9_-][a-z0-9._-]{0,95}")
#: Stems Windows reserves whatever their extension (``con.png`` cannot be created there).
_DEVICE_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{n}" for p in ("com", "lpt") for n in range(1, 10)]
)
_STEM_CHARS = 64
_HASH_CHARS = 16


def image_filename(sample_id: str) -> str:
    """Return the PNG file name of a sample id: safe (no path can escape the images folder) and
    injective (two different ids never share a file, even where file names ignore case).

    A plain lower-case id is its own stem; any other id gets a sanitised stem plus ``+`` and 16
    hex digits of the sha256 of the exact id (see the module docstring).
    """
    if _PLAIN.fullmatch(sample_id) and sample_id.split(".")[0] not in _DEVICE_NAMES:
        return f"{sample_id}.png"
    digest = hashlib.sha256(sample_id.encode("utf-8", "surrogatepass")).hexdigest()
    stem = _UNSAFE.sub("_", sample_id).lstrip(".")[:_STEM_CHARS] or "_"
    return f"{stem}+{digest[:_HASH_CHARS]}.png"


def _image_identity(image: str) -> str:
    """Return what makes two manifest image paths one file on any file system: the normalised
    path, case folded."""
    return posixpath.normpath(image.replace("\\", "/")).casefold()


def check_one_image_per_sample(records: list[RenderRecord], where: str) -> None:
    """Raise ValueError when two records share an id or an image file (case-insensitively).

    ``where`` (the manifest's path) starts the message, which names both ids and the file.
    """
    ids: set[str] = set()
    owners: dict[str, str] = {}
    for record in records:
        if record.id in ids:
            raise ValueError(f"{where}: sample {record.id[:200]!r} has two records")
        ids.add(record.id)
        if record.image is None:
            continue
        identity = _image_identity(record.image)
        other = owners.setdefault(identity, record.id)
        if other != record.id:
            raise ValueError(
                f"{where}: samples {other[:200]!r} and {record.id[:200]!r} both point at the image "
                f"{record.image[:200]!r}; every sample must have its own image file"
            )


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
    """Write ``render_manifest.jsonl`` atomically and return its path.

    Raises ValueError (nothing is written) when two records share an id or an image file.
    """
    from chatgenbench.core.storage import atomic_write_text

    check_one_image_per_sample(records, str(Path(out_dir) / MANIFEST_NAME))

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

    Raises FileNotFoundError when there is no manifest, OSError when it is not a regular file
    inside the folder (a FIFO, a device, a link out of it) or over :data:`MANIFEST_MAX_BYTES`, and
    ValueError when two of its records share an id or an image file (one sample, one image: the
    whole manifest is refused, never one of them scored on the other's image).
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
    check_one_image_per_sample(manifest.records, str(path))
    return manifest


def read_manifest(out_dir: str | os.PathLike) -> list[RenderRecord]:
    """Return a render folder's records (lines that are not records are skipped: see
    :func:`load_manifest`, which counts them). Raises FileNotFoundError, OSError, or ValueError
    for two records with one id or one image file."""
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
