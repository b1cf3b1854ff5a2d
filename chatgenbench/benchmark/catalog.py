"""The model catalogue: every model a benchmark references, as data.

A catalogue is a JSONL (or CSV) file, one model a line::

    {"name": "devlishphotorealism_v40", "description": "...", "architecture": "sd15",
     "kind": "checkpoint", "source": "...", "weights": {...}, "base": "..."}

``name``, ``architecture`` (``sd15`` | ``sdxl``) and ``kind`` (``checkpoint`` | ``lora``) are
required; ``description`` and ``source`` are text; any other field (``weights``, ``base``, ...) is kept
in :attr:`CatalogEntry.extra` for the rendering engine. Users extend a catalogue by editing the file.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from chatgenbench.core.errors import CatalogError
from chatgenbench.core.normalize import normalize_model_name

Architecture = Literal["sd15", "sdxl"]
ModelKind = Literal["checkpoint", "lora"]
ARCHITECTURES: tuple[str, ...] = ("sd15", "sdxl")
MODEL_KINDS: tuple[str, ...] = ("checkpoint", "lora")
CATALOG_FILENAME = "catalog.jsonl"
_CORE_FIELDS = ("name", "description", "architecture", "kind", "source")


@dataclass(frozen=True)
class CatalogEntry:
    """One model of the catalogue."""

    name: str
    architecture: str
    kind: str
    description: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_record(self) -> dict[str, Any]:
        """Return the entry as one JSON-ready catalogue record."""
        record = {
            "name": self.name,
            "description": self.description,
            "architecture": self.architecture,
            "kind": self.kind,
            "source": self.source,
        }
        record.update(self.extra)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any], where: str = "record") -> CatalogEntry:
        """Build an entry from a catalogue record; raise :class:`CatalogError` on a bad field."""
        if not isinstance(record, dict):
            raise CatalogError(f"{where}: expected an object, got {type(record).__name__}")
        name = record.get("name")
        if not isinstance(name, str) or normalize_model_name(name) is None:
            raise CatalogError(f"{where}: field 'name' must be a non-empty string, got {name!r}")
        architecture = record.get("architecture")
        if architecture not in ARCHITECTURES:
            raise CatalogError(
                f"{where} ({name}): field 'architecture' must be one of {ARCHITECTURES}, "
                f"got {architecture!r}"
            )
        kind = record.get("kind")
        if kind not in MODEL_KINDS:
            raise CatalogError(
                f"{where} ({name}): field 'kind' must be one of {MODEL_KINDS}, got {kind!r}"
            )
        extra = {k: v for k, v in record.items() if k not in _CORE_FIELDS}
        return cls(
            name=name.strip(),
            architecture=architecture,
            kind=kind,
            description=str(record.get("description") or ""),
            source=str(record.get("source") or ""),
            extra=extra,
        )


class ModelCatalog:
    """A set of :class:`CatalogEntry`, looked up by normalised name.

    Lookups fold case and drop file extensions (see
    :func:`chatgenbench.core.normalize.normalize_model_name`); :meth:`suggest` gives did-you-mean names.
    """

    def __init__(self, entries: Iterable[CatalogEntry], *, synthetic: bool = False) -> None:
        self.synthetic = synthetic
        self._entries: dict[str, CatalogEntry] = {}
        for entry in entries:
            key = normalize_model_name(entry.name)
            if key in self._entries:
                raise CatalogError(
                    f"duplicate model {entry.name!r} (same as {self._entries[key].name!r} "
                    "after normalisation)"
                )
            self._entries[key] = entry
        self._names_by_key: dict[str, str] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return self.get(name) is not None

    def get(self, name: object) -> CatalogEntry | None:
        """Return the entry whose normalised name equals that of ``name``, or None."""
        key = normalize_model_name(name)
        return self._entries.get(key) if key is not None else None

    def names(self) -> list[str]:
        """Return the models' names as written in the catalogue."""
        return [entry.name for entry in self._entries.values()]

    def suggest(self, name: object, n: int = 3) -> list[str]:
        """Return up to ``n`` catalogue names close to ``name`` (for did-you-mean messages)."""
        key = normalize_model_name(name)
        if key is None:
            return []
        matches = difflib.get_close_matches(key, list(self._entries), n=n, cutoff=0.6)
        return [self._entries[match].name for match in matches]

    def to_jsonl(self, path: str | Path) -> Path:
        """Write the catalogue as JSONL (atomically) and return the path."""
        from chatgenbench.core.storage import atomic_write_text

        lines = [json.dumps(entry.to_record(), ensure_ascii=False) for entry in self]
        return atomic_write_text(path, "\n".join(lines) + "\n")

    @classmethod
    def from_file(cls, path: str | Path) -> ModelCatalog:
        """Read a catalogue from a ``.jsonl``/``.json`` or ``.csv`` file."""
        path = Path(path)
        if not path.is_file():
            raise CatalogError(f"catalogue file not found: {path}")
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8") as handle:
                records = list(csv.DictReader(handle))
            entries = [
                CatalogEntry.from_record(record, f"{path}: row {i}")
                for i, record in enumerate(records, 1)
            ]
        else:
            entries = list(_entries_from_jsonl(path.read_text(encoding="utf-8"), str(path)))
        synthetic = any(entry.extra.get("synthetic") for entry in entries)
        return cls(entries, synthetic=synthetic)


def _entries_from_jsonl(text: str, where: str) -> Iterator[CatalogEntry]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CatalogError(f"{where}: line {number}: not valid JSON ({error.msg})") from None
        yield CatalogEntry.from_record(record, f"{where}: line {number}")


def sample_catalog() -> ModelCatalog:
    """Return the catalogue of the embedded ``sample`` benchmark (its 12 models and two bases)."""
    text = resources.files("chatgenbench.data").joinpath("sample_catalog.jsonl").read_text("utf-8")
    return ModelCatalog(_entries_from_jsonl(text, "sample_catalog.jsonl"))


def load_catalog(source: str | Path = "sample") -> ModelCatalog:
    """Load a model catalogue.

    ``source`` is ``"sample"`` (the embedded one), a benchmark folder made by ``chatgenbench
    prepare``/``synth`` (its ``catalog.jsonl``), or a catalogue file. Raises :class:`CatalogError`.
    """
    if str(source) == "sample":
        return sample_catalog()
    path = Path(source)
    if path.is_dir():
        path = path / CATALOG_FILENAME
    return ModelCatalog.from_file(path)


def absolute_weight_paths(record: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Return a catalogue record whose relative weight ``path``/``config`` are under ``base_dir``."""
    weights = record.get("weights")
    if isinstance(weights, dict):
        weights = dict(weights)
        for key in ("path", "config"):
            value = weights.get(key)
            if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                weights[key] = str((base_dir / value).resolve())
        record = {**record, "weights": weights}
    elif isinstance(weights, str) and not Path(weights).expanduser().is_absolute():
        record = {**record, "weights": str((base_dir / weights).resolve())}
    return record


def overlay_catalog(base: ModelCatalog, overlay_path: str | os.PathLike) -> ModelCatalog:
    """Return ``base`` with a catalogue file laid over it.

    A line of the overlay whose ``name`` is in ``base`` updates that entry's fields (typically only
    ``weights``, ``base``, ``lora_scale``); any other line must be a full catalogue record and adds a
    model. Relative ``path``/``config`` values are taken relative to the overlay file's folder.
    Raises :class:`CatalogError` naming the line at fault.
    """
    path = Path(overlay_path)
    if not path.is_file():
        raise CatalogError(f"catalogue file not found: {path}")
    records = {entry.name: entry.to_record() for entry in base}
    order = list(records)
    if path.suffix.lower() == ".csv":
        import csv

        with open(path, newline="", encoding="utf-8") as handle:
            rows = [(f"row {i}", row) for i, row in enumerate(csv.DictReader(handle), 1)]
    else:
        rows = []
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as error:
                raise CatalogError(f"{path}: line {number}: not valid JSON ({error.msg})") from None
    for where, row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise CatalogError(f"{path}: {where}: expected an object with a 'name'")
        row = absolute_weight_paths(row, path.parent)
        existing = base.get(row["name"])
        if existing is not None:
            name = existing.name
            merged = {**records[name], **{k: v for k, v in row.items() if k != "name"}}
            CatalogEntry.from_record(merged, f"{path}: {where}")
            records[name] = merged
        else:
            CatalogEntry.from_record(row, f"{path}: {where}")
            records[row["name"]] = row
            order.append(row["name"])
    entries = [CatalogEntry.from_record(records[name], str(path)) for name in order]
    return ModelCatalog(entries, synthetic=base.synthetic)
