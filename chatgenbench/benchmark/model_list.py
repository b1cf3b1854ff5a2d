"""Reading a community model list (the official ``6807_models_Info.csv`` or any CSV/JSON/JSONL of
models) into catalogue entries, through the key map's ``catalog_fields``.

The list's columns are not known here, so each catalogue field has candidate column names (matched
ignoring case, spaces, ``_`` and ``-``): ``name``, ``description``, ``architecture``, ``kind``,
``base`` (the checkpoint a LoRA loads onto), ``version_id`` / ``download`` (where the weights come
from: a Civitai version id, or a URL holding one), ``hash`` (a SHA-256 becomes ``weights.sha256``;
anything else is kept as ``hash``), ``blake3`` and ``autov2`` (Civitai's other digests of the file,
kept as ``weights.blake3`` and ``weights.autov2`` when they have their length). Columns that no
field takes are named in the report, never silently used.

Community lists are messy, and a messy row never stops the import: a byte-order mark (removed on
every decoding path; a UTF-16 or UTF-32 mark chooses that encoding), text that is not UTF-8 (read
as cp1252, and reported), NUL bytes, names with surrounding spaces or in decomposed
unicode (normalised to NFC), rows without a name (skipped), rows with more cells than the header,
and duplicate names (the first row is kept) are all counted in the report.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

from chatgenbench.benchmark.catalog import CatalogEntry
from chatgenbench.benchmark.records import parse_json_text, record_problem
from chatgenbench.core.errors import KeyMapError
from chatgenbench.core.normalize import normalize_model_name

_EXAMPLES = 10
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_AUTOV2 = re.compile(r"^[0-9a-fA-F]{10}$")
_CIVITAI_VERSION = re.compile(r"(?:/api/download/models/|modelVersionId=)(\d+)")


def find_model_list(
    raw_folder: Path, key_map: dict[str, Any], models: str | os.PathLike | None = None
) -> Path | None:
    """Return the model list to read: ``models`` when given, else the first file below
    ``raw_folder`` named in ``key_map["catalog_files"]``, else None."""
    if models is not None:
        return Path(models)
    for name in key_map["catalog_files"]:
        found = sorted(raw_folder.rglob(name))
        if found:
            return found[0]
    return None


def alias_value(table: dict[str, list[str]], value: Any) -> str | None:
    """Return the key of ``table`` whose aliases include ``value`` (exactly, then as a substring).

    When aliases of several keys occur in ``value`` ("LoRA model" holds "lora" and "model"), the
    key whose alias comes first in the text wins, so the head word decides, not the table's order.
    """
    text = str(value).strip().casefold()
    for target, aliases in table.items():
        if text == target or text in (alias.casefold() for alias in aliases):
            return target
    found: list[tuple[int, str]] = []
    for target, aliases in table.items():
        positions = [
            text.find(alias.casefold())
            for alias in (target, *aliases)
            if len(alias) > 2 and alias.casefold() in text
        ]
        if positions:
            found.append((min(positions), target))
    return min(found)[1] if found else None


def _column_key(name: Any) -> str:
    return re.sub(r"[\s_\-]+", "_", str(name).strip().casefold()).strip("_")


def catalog_entry(mapped: dict[str, Any], key_map: dict, report: dict, where: str) -> CatalogEntry:
    """Build a catalogue entry from mapped fields (None where absent), inferring and counting the
    architecture (from the name) and kind (from the description) when they are not given."""
    name = unicodedata.normalize("NFC", str(mapped["name"]).strip())
    architecture = None
    if mapped.get("architecture") not in (None, ""):
        architecture = alias_value(key_map["architecture_values"], mapped["architecture"])
    notes = []
    if architecture is None:
        architecture = "sdxl" if "xl" in name.casefold() else "sd15"
        report["inferred_architecture"] = report.get("inferred_architecture", 0) + 1
        notes.append("architecture inferred from the name")
    kind = None
    if mapped.get("kind") not in (None, ""):
        kind = alias_value(key_map["kind_values"], mapped["kind"])
    if kind is None:
        kind = "lora" if "lora" in str(mapped.get("description") or "").casefold() else "checkpoint"
        report["inferred_kind"] = report.get("inferred_kind", 0) + 1
        notes.append("kind inferred from the description")
    source = where + (f" ({'; '.join(notes)})" if notes else "")
    return CatalogEntry(
        name=name,
        architecture=architecture,
        kind=kind,
        description=str(mapped.get("description") or "").strip(),
        source=source,
        extra=_extra_fields(mapped),
    )


def _extra_fields(mapped: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if mapped.get("base"):
        extra["base"] = str(mapped["base"]).strip()
    version = str(mapped.get("version_id") or "").strip()
    download = str(mapped.get("download") or "").strip()
    if version.endswith(".0") and version[:-2].isdigit():  # a spreadsheet's float
        version = version[:-2]
    if not version.isdigit():
        found = _CIVITAI_VERSION.search(download) or _CIVITAI_VERSION.search(version)
        version = found.group(1) if found else ""
    digest = str(mapped.get("hash") or "").strip()
    if version:
        extra["weights"] = {"type": "civitai", "version_id": version}
        if _SHA256.match(digest):
            extra["weights"]["sha256"] = digest.lower()
            digest = ""
        blake3 = str(mapped.get("blake3") or "").strip()
        if _SHA256.match(blake3):  # 64 hex digits, as a SHA-256
            extra["weights"]["blake3"] = blake3.lower()
        autov2 = str(mapped.get("autov2") or "").strip()
        if _AUTOV2.match(autov2):
            extra["weights"]["autov2"] = autov2.upper()
    if download and not version:
        extra["download_url"] = download
    if digest:
        extra["hash"] = digest
    return extra


#: Byte-order marks, longest first (UTF-32's little-endian mark begins with UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
)


def _decode(data: bytes, report: dict[str, Any]) -> str:
    """Return the list's text. A byte-order mark is removed on every path (it would otherwise
    glue itself to the first column's name): it chooses UTF-32 or UTF-16 when it says so; UTF-8
    text (with a mark or without) that does not decode is read as cp1252, and that is reported."""
    codec = "utf-8"
    for bom, name, label in _BOMS:
        if data.startswith(bom):
            data, codec = data[len(bom) :], name
            report["byte_order_mark"] = label
            break
    try:
        text = data.decode(codec)
        report["encoding"] = codec.removesuffix("-le").removesuffix("-be")
    except UnicodeDecodeError:
        if codec == "utf-8":
            text = data.decode("cp1252", errors="replace")
            report["encoding"] = "cp1252 (the file is not valid UTF-8)"
        else:
            text = data.decode(codec, errors="replace")
            report["encoding"] = f"{codec} (undecodable bytes replaced by U+FFFD)"
    text = text.lstrip("\ufeff")  # a mark written twice, or one a cp1252 reading left as text
    if "\x00" in text:
        report["nul_bytes_removed"] = text.count("\x00")
        text = text.replace("\x00", "")
    return text


def _read_rows(path: Path, report: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    text = _decode(path.read_bytes(), report)
    if path.suffix.casefold() == ".csv":
        limit = csv.field_size_limit()
        csv.field_size_limit(16 * 1024 * 1024)  # long descriptions; restored below
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            rows = list(reader)
            columns = [column for column in reader.fieldnames or [] if column is not None]
        except csv.Error as error:
            raise KeyMapError(
                f"{path}: line {reader.line_num}: not readable as CSV ({error})",
                how_to_fix="check the file's quoting on that line",
            ) from None
        finally:
            csv.field_size_limit(limit)
        ragged = sum(1 for row in rows if None in row)
        if ragged:
            report["rows_with_extra_cells"] = ragged
        return [{k: v for k, v in row.items() if k is not None} for row in rows], columns
    if path.suffix.casefold() == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                rows.append(parse_json_text(line, f"{path}: line {number}"))
    else:
        data = parse_json_text(text, str(path))
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [data])
        rows = data if isinstance(data, list) else [data]
    for number, row in enumerate(rows, 1):
        problem = record_problem(row)
        if problem is not None:
            raise KeyMapError(f"{path}: row {number}: {problem}")
    flat_rows, columns = [], []
    for row in rows:
        flat = _flatten(row) if isinstance(row, dict) else {}
        for column in flat:
            if column not in columns:
                columns.append(column)
        flat_rows.append(flat)
    return flat_rows, columns


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    flat = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": v for inner, v in value.items()})
        else:
            flat[str(key)] = value
    return flat


def map_columns(columns: list[str], key_map: dict[str, Any]) -> dict[str, str]:
    """Return catalogue field -> the list's column, each column taken by one field at most."""
    by_key = {}
    for column in columns:
        by_key.setdefault(_column_key(column), column)
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for field, candidates in key_map["catalog_fields"].items():
        for candidate in candidates:
            column = by_key.get(_column_key(candidate))
            if column is not None and column not in taken:
                mapping[field] = column
                taken.add(column)
                break
    return mapping


def read_model_list(
    path: str | os.PathLike, key_map: dict[str, Any], *, where: str | None = None
) -> tuple[list[CatalogEntry], dict[str, Any]]:
    """Read a model list (CSV, JSON or JSONL) into catalogue entries, one per distinct name.

    Returns ``(entries, report)``: the report names the column mapped to each field, the columns
    left unmapped, and counts rows, entries, rows without a name, duplicates and inferred fields.
    Raises :class:`KeyMapError` when no column can be the model's name.
    """
    path = Path(path)
    if not path.is_file():
        raise KeyMapError(f"model list not found: {path}")
    where = where or path.name
    report: dict[str, Any] = {"file": where}
    rows, columns = _read_rows(path, report)
    mapping = map_columns(columns, key_map)
    if "name" not in mapping:
        raise KeyMapError(
            f"{path}: no column holds the model name; columns found: {columns}; candidates "
            f"tried: {key_map['catalog_fields']['name']}",
            how_to_fix="name the column in a key map: 'catalog_fields: {name: [your_column]}' "
            "(--key-map FILE)",
        )
    report["rows"] = len(rows)
    report["columns"] = mapping
    report["unmapped_columns"] = [c for c in columns if c not in mapping.values()]
    entries: dict[str, CatalogEntry] = {}
    first_row: dict[str, dict[str, str]] = {}
    counts: Counter = Counter()
    duplicates: list[str] = []
    for number, row in enumerate(rows, 1):
        mapped = {field: row.get(column) for field, column in mapping.items()}
        others = {f: str(v).strip() for f, v in mapped.items() if f != "name" and v is not None}
        raw_name = mapped.get("name")
        name = unicodedata.normalize("NFC", str(raw_name).strip()) if raw_name is not None else ""
        key = normalize_model_name(name)
        if key is None:
            counts["rows_without_name"] += 1
            continue
        if raw_name != name:
            counts["names_cleaned"] += 1
        if key in entries:
            counts["duplicates"] += 1
            if first_row[key] != others:
                counts["conflicting_duplicates"] += 1
            if len(duplicates) < _EXAMPLES:
                duplicates.append(f"{name} (row {number})")
            continue
        mapped["name"] = name
        first_row[key] = others
        entries[key] = catalog_entry(mapped, key_map, report, where)
    report["entries"] = len(entries)
    for name in ("rows_without_name", "names_cleaned", "duplicates", "conflicting_duplicates"):
        report[name] = counts[name]
    report["duplicate_examples"] = duplicates
    return list(entries.values()), report
