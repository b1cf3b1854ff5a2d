"""Reading a prediction file: untrusted input, parsed as data without executing anything.

A prediction file has one row per benchmark id::

    {"id": "sample-0001", "prompt": "...", "negative_prompt": "...", "model": "rawXs_v2",
     "arguments": {"sampler": "Euler a", "steps": 30, "cfg_scale": 7, "width": 512,
                   "height": 768, "seed": 1234}}

Formats: JSONL (the documented default), CSV (columns ``id, prompt, negative_prompt, model`` plus
either ``arguments`` as a JSON object string, or ``sampler, steps, ...`` / ``arguments.sampler, ...``
columns) and Parquet (the same fields, ``arguments`` as a struct). Sizes are bounded
(:data:`chatgenbench.predictions.report.LIMITS`) before anything is decoded. A row that cannot be
read is yielded as the exception that says why; checking the rows' fields is
:mod:`chatgenbench.predictions.validation`'s work.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatgenbench.core.errors import PredictionFileError
from chatgenbench.core.normalize import ARGUMENT_KEYS
from chatgenbench.predictions.report import LIMITS

FORMATS = ("jsonl", "csv", "parquet")


def _json_error(error: Exception) -> ValueError:
    """Return the row error for JSON text that could not be read, in the user's terms."""
    if isinstance(error, RecursionError):
        return ValueError("not readable JSON: arrays or objects nested too deeply")
    if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError)):
        return ValueError(f"not valid JSON ({error})")
    if "integer string conversion" in str(error):
        return ValueError(f"not readable JSON: an integer of more than {_max_int_digits()} digits")
    return ValueError(f"not readable JSON ({error})")


def _max_int_digits() -> int:
    import sys

    return sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300


def detect_format(path: str | os.PathLike) -> str:
    """Return ``jsonl``, ``csv`` or ``parquet`` from the file name; raise for anything else."""
    suffix = Path(path).suffix.lower()
    mapping = {
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
        ".csv": "csv",
        ".parquet": "parquet",
        ".pq": "parquet",
    }
    if suffix not in mapping:
        raise PredictionFileError(
            f"{path}: unknown prediction format {suffix or '(no extension)'!r}; "
            "expected .jsonl (default), .csv or .parquet"
        )
    return mapping[suffix]


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    arguments: dict[str, Any] = {}
    for column, value in row.items():
        if column is None:  # more cells than header columns
            record["__extra_cells__"] = value
            continue
        name = column.strip()
        if name == "arguments":
            if value and value.strip():
                try:
                    arguments.update(json.loads(value))
                except (TypeError, ValueError, RecursionError):
                    record["arguments"] = value  # reported as a wrong type later
        elif name.startswith("arguments."):
            arguments[name.split(".", 1)[1]] = value if value != "" else None
        elif name in (*ARGUMENT_KEYS, "seed"):
            arguments[name] = value if value != "" else None
        else:
            record[name] = value
    if "arguments" not in record:
        record["arguments"] = arguments
    return record


def read_prediction_rows(
    path: str | os.PathLike, fmt: str | None = None
) -> Iterator[tuple[str, Any]]:
    """Yield ``(location, record)`` for each row of a prediction file.

    ``record`` is a dict for a readable row, or an :class:`Exception` describing why the row could
    not be parsed. Raises :class:`PredictionFileError` when the file is missing, too large or of an
    unknown format.
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise PredictionFileError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    if not path.is_file():
        raise PredictionFileError(f"prediction file not found: {path}")
    size = path.stat().st_size
    if size > LIMITS["file_bytes"]:
        raise PredictionFileError(
            f"{path}: {size} bytes is over the limit of {LIMITS['file_bytes']} bytes"
        )
    if fmt == "jsonl":
        from chatgenbench.core.storage import open_regular_file

        with open_regular_file(path) as handle:  # never a FIFO swapped in after is_file()
            for number, raw in enumerate(handle, 1):
                location = f"line {number}"
                if len(raw) > LIMITS["line_bytes"]:
                    yield (
                        location,
                        ValueError(f"line is {len(raw)} bytes, over {LIMITS['line_bytes']}"),
                    )
                    continue
                if not raw.strip():
                    continue
                try:
                    yield location, json.loads(raw.decode("utf-8"))
                except (ValueError, RecursionError) as error:  # every way json.loads refuses
                    yield location, _json_error(error)
    elif fmt == "csv":
        yield from _read_csv_rows(path)
    else:
        yield from _read_parquet_rows(path)


def _csv_location(record: int, first_line: int, last_line: int) -> str:
    """``line 4`` for a record on one line; ``lines 4-6 (record 3)`` when its fields hold newlines."""
    if first_line >= last_line:
        return f"line {last_line}"
    return f"lines {first_line}-{last_line} (record {record})"


def _read_csv_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield the rows of a CSV file (see :func:`read_prediction_rows`).

    A UTF-8 byte-order mark (what spreadsheets write for "CSV UTF-8") is dropped. The ``csv``
    module's field-size limit is lifted to the file limit while reading, so an overlong field
    costs only its own row (over ``LIMITS["line_bytes"]``) and not the rest of the file.
    """
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PredictionFileError(f"{path}: not UTF-8 text ({error})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    record = 0
    last_line = 0
    while True:
        first_line = last_line + 1
        previous_limit = csv.field_size_limit(max(LIMITS["file_bytes"], 1))
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            last_line = reader.line_num
            yield (
                _csv_location(record + 1, first_line, last_line),
                ValueError(f"CSV error ({error})"),
            )
            if last_line < first_line:  # the reader made no progress: stop rather than spin
                return
            continue
        finally:
            csv.field_size_limit(previous_limit)
        last_line = reader.line_num
        if header is None:
            header = cells
            continue
        if not cells:
            continue
        record += 1
        location = _csv_location(record, first_line, last_line)
        size = sum(len(cell.encode("utf-8", "surrogatepass")) for cell in cells)
        if size > LIMITS["line_bytes"]:
            yield location, ValueError(f"row is {size} bytes, over {LIMITS['line_bytes']}")
            continue
        row: dict[Any, Any] = dict(zip(header, cells))
        for missing in header[len(cells) :]:
            row[missing] = None
        if len(cells) > len(header):
            row[None] = cells[len(header) :]
        yield location, _csv_record(row)


def _parquet_columns(schema) -> tuple[list[str], list[str], dict[str, str]]:
    """Split an Arrow schema into the columns to read, their text leaves, and nested ones skipped.

    Returns ``(columns, text_leaves, skipped)``: top-level scalar columns and the scalar children
    of struct columns (``arguments.sampler``) are read; text leaves are read dictionary-encoded;
    anything nested deeper (lists, maps, structs in structs) is not read and named in ``skipped``.
    """
    import pyarrow as pa

    def scalar(kind) -> bool:
        return not pa.types.is_nested(kind)

    def text(kind) -> bool:
        return (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
        )

    columns: list[str] = []
    leaves: list[str] = []
    skipped: dict[str, str] = {}
    for top in schema:
        kind = top.type.value_type if pa.types.is_dictionary(top.type) else top.type
        if scalar(kind):
            columns.append(top.name)
            if text(kind):
                leaves.append(top.name)
        elif pa.types.is_struct(kind):
            for child in kind:
                child_kind = child.type
                if pa.types.is_dictionary(child_kind):
                    child_kind = child_kind.value_type
                name = f"{top.name}.{child.name}"
                if scalar(child_kind):
                    columns.append(name)
                    if text(child_kind):
                        leaves.append(name)
                else:
                    skipped[name] = str(child.type)
        else:
            skipped[top.name] = str(top.type)
    return columns, leaves, skipped


def _text_bytes(array) -> Any:
    """Per-row byte length of a text (or dictionary-of-text) array, nulls as 0, without decoding."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    out = []
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            lengths = pc.take(pc.binary_length(chunk.dictionary), chunk.indices)
        else:
            lengths = pc.binary_length(chunk)
        out.append(pc.fill_null(pc.cast(lengths, pa.int64()), 0))
    return pa.chunked_array(out, type=pa.int64()).combine_chunks()


def _read_parquet_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield the rows of a Parquet file (see :func:`read_prediction_rows`), bounded before decoding.

    The footer's row count, column count and uncompressed sizes are checked before any data page
    is read; text columns are then read dictionary-encoded (as stored) and their decoded size is
    summed from the value lengths, so a small file whose repeated values unpack into gigabytes is
    refused before a single Python string is made. A row over ``LIMITS["line_bytes"]`` is
    reported alone.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    limit = LIMITS["file_bytes"]
    try:
        parquet = pq.ParquetFile(path)
        meta = parquet.metadata
        schema = parquet.schema_arrow
    except Exception as error:  # pyarrow raises several types for corrupt files
        raise PredictionFileError(f"{path}: not a readable Parquet file ({error})") from None
    if meta.num_rows > LIMITS["rows"]:
        raise PredictionFileError(f"{path}: {meta.num_rows} rows, more than {LIMITS['rows']}")
    if meta.num_columns > LIMITS["parquet_columns"]:
        raise PredictionFileError(
            f"{path}: {meta.num_columns} columns, more than {LIMITS['parquet_columns']}",
            how_to_fix="keep the columns id, prompt, negative_prompt, model and arguments",
        )
    stored = sum(
        meta.row_group(group).column(column).total_uncompressed_size
        for group in range(meta.num_row_groups)
        for column in range(meta.row_group(group).num_columns)
    )
    if stored > limit:
        raise PredictionFileError(
            f"{path}: its data unpacks to {stored} bytes, over the limit of {limit} bytes"
        )
    columns, leaves, skipped = _parquet_columns(schema)
    try:
        parquet = pq.ParquetFile(path, read_dictionary=leaves)
        table = parquet.read(columns=columns) if columns else None
    except Exception as error:  # pyarrow raises several types for corrupt pages
        raise PredictionFileError(f"{path}: not a readable Parquet file ({error})") from None
    if table is None:
        table = pa.table({"__empty__": pa.nulls(meta.num_rows)})
    flat = table.flatten()
    row_bytes = pa.array([0] * flat.num_rows, type=pa.int64())
    for name in flat.column_names:
        if name in leaves:
            row_bytes = pc.add(row_bytes, _text_bytes(flat.column(name)))
    decoded = pc.sum(row_bytes).as_py() or 0
    if decoded > limit:
        raise PredictionFileError(
            f"{path}: its text decodes to {decoded} bytes, over the limit of {limit} bytes "
            "(repeated values stored once unpack into many)"
        )
    oversized = set(pc.indices_nonzero(pc.greater(row_bytes, LIMITS["line_bytes"])).to_pylist())
    placeholders = {name: f"<{kind} column, not read>" for name, kind in skipped.items()}
    batch = 1024
    for start in range(0, table.num_rows, batch):
        part = table.slice(start, batch)
        if oversized.intersection(range(start, start + part.num_rows)):
            rows: list[Any] = [
                None if start + offset in oversized else _parquet_row(part, offset)
                for offset in range(part.num_rows)
            ]
        else:
            try:
                rows = part.to_pylist()
            except Exception:  # e.g. text that is not UTF-8: retried row by row to name the row
                rows = [_parquet_row(part, offset) for offset in range(part.num_rows)]
        for offset, row in enumerate(rows):
            number = start + offset + 1
            if start + offset in oversized:
                size = row_bytes[start + offset].as_py()
                row = ValueError(f"row is {size} bytes, over {LIMITS['line_bytes']}")
            elif isinstance(row, dict):
                row.pop("__empty__", None)
                _place_skipped(row, placeholders)
                if isinstance(row.get("arguments"), str):
                    row = _csv_record({k: v for k, v in row.items()})
            yield f"row {number}", row


def _parquet_row(part, offset: int) -> Any:
    try:
        return part.slice(offset, 1).to_pylist()[0]
    except Exception as error:  # broad: pyarrow's conversion errors have several types
        return ValueError(f"unreadable values ({type(error).__name__}: {error})")


def _place_skipped(row: dict[str, Any], placeholders: dict[str, str]) -> None:
    for name, text in placeholders.items():
        top, _, child = name.partition(".")
        if child and isinstance(row.get(top), dict):
            row[top][child] = text
        elif not child:
            row[top] = text
