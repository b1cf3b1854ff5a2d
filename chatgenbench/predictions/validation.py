"""Reading and validating prediction files: untrusted input, parsed without executing anything.

A prediction file has one row per benchmark id::

    {"id": "sample-0001", "prompt": "...", "negative_prompt": "...", "model": "rawXs_v2",
     "arguments": {"sampler": "Euler a", "steps": 30, "cfg_scale": 7, "width": 512,
                   "height": 768, "seed": 1234}}

Formats: JSONL (the documented default), CSV (columns ``id, prompt, negative_prompt, model`` plus
either ``arguments`` as a JSON object string, or ``sampler, steps, ...`` / ``arguments.sampler, ...``
columns) and Parquet (the same fields, ``arguments`` as a struct). Sizes are bounded
(:data:`LIMITS`). Every problem is reported with its line or row, field, value and what was expected.

Scoring policy (also in the README): a row that cannot be read, has no usable id, repeats an id or
names an unknown id is *invalid* and ignored; its benchmark sample, like one without any prediction,
scores zero on every metric. A field-level error (e.g. an unknown model, ``steps: "many"``) makes only
that field's metric wrong for the sample.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chatgenbench.core.errors import PredictionFileError
from chatgenbench.core.normalize import (
    ARGUMENT_KEYS,
    INTEGER_ARGUMENTS,
    has_lone_surrogate,
    parse_integer,
    parse_number,
    printable_text,
)

Severity = Literal["error", "warning"]
FORMATS = ("jsonl", "csv", "parquet")

LIMITS: dict[str, int] = {
    "file_bytes": 256 * 1024 * 1024,
    "line_bytes": 1024 * 1024,
    "rows": 1_000_000,
    "id_chars": 256,
    "prompt_chars": 4000,
    "negative_prompt_chars": 4000,
    "model_chars": 512,
    "sampler_chars": 128,
    "parquet_columns": 64,
}

#: Inclusive ranges that a numeric argument must fall in to be accepted.
RANGES: dict[str, tuple[float, float]] = {
    "steps": (1, 500),
    "cfg_scale": (0.0, 100.0),
    "width": (64, 4096),
    "height": (64, 4096),
    "seed": (0, 2**63 - 1),
}
TOP_LEVEL_FIELDS = ("id", "prompt", "negative_prompt", "model", "arguments")
TEXT_EXPECTED = "text that UTF-8 can hold (no lone surrogate such as \\ud800)"
MAX_SHOWN_VALUE = 80


@dataclass
class Problem:
    """One thing wrong (``error``) or to be normalised (``warning``) in a prediction file."""

    severity: Severity
    kind: str
    location: str
    field: str | None
    value: str | None
    expected: str
    id: str | None = None

    def __post_init__(self) -> None:
        # Text from a submission may hold lone surrogates (JSON's "\\ud800"): escape them, so a
        # problem prints to a UTF-8 terminal and goes into a page or a JSON file unchanged.
        for name in ("kind", "location", "field", "value", "expected", "id"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, printable_text(value))

    def __str__(self) -> str:
        where = self.location + (f" (id {self.id})" if self.id else "")
        what = f"field '{self.field}'" if self.field else "row"
        got = f"got {self.value}" if self.value is not None else "missing"
        return f"{self.severity}: {where}: {what}: {got}; expected {self.expected} [{self.kind}]"

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as a JSON-ready dict."""
        return dict(self.__dict__)


@dataclass
class Prediction:
    """One readable prediction row. ``invalid_fields`` lists the fields with an error."""

    id: str
    location: str
    prompt: Any = None
    negative_prompt: Any = None
    model: Any = None
    arguments: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    invalid_fields: set[str] = field(default_factory=set)

    def valid(self, name: str) -> bool:
        """Whether field ``name`` (``prompt``, ``model`` or ``arguments.<key>``) is usable."""
        return name not in self.invalid_fields


@dataclass
class ValidationReport:
    """The outcome of :func:`validate_predictions`."""

    path: str
    format: str
    n_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    predictions: dict[str, Prediction] = field(default_factory=dict)
    missing_ids: list[str] = field(default_factory=list)
    n_invalid_rows: int = 0
    sha256: str | None = None  # of the file's bytes: the identity every later stage records
    n_bytes: int = 0
    csv_text_numbers: Counter = field(default_factory=Counter)  # argument -> cells read from text

    @property
    def errors(self) -> list[Problem]:
        """The problems of severity ``error``."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems of severity ``warning``."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def counts(self) -> dict[str, dict[str, int]]:
        """Return problem counts by severity and kind."""
        out: dict[str, dict[str, int]] = {"error": {}, "warning": {}}
        for (severity, kind), count in Counter((p.severity, p.kind) for p in self.problems).items():
            out[severity][kind] = count
        return out

    def summary(self) -> dict[str, Any]:
        """Return the JSON-ready summary stored in results files."""
        return {
            "format": self.format,
            "n_rows": self.n_rows,
            "n_valid_rows": len(self.predictions),
            "n_invalid_rows": self.n_invalid_rows,
            "n_missing_ids": len(self.missing_ids),
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "by_kind": self.counts(),
        }

    def format_text(self, limit: int | None = 50) -> str:
        """Return a human-readable listing: errors first, then warnings, then a summary line."""
        ordered = self.errors + self.warnings
        shown = ordered if limit is None else ordered[:limit]
        lines = [str(problem) for problem in shown]
        if len(ordered) > len(shown):
            lines.append(f"... and {len(ordered) - len(shown)} more (use --all to list them)")
        lines.append(
            f"{self.path}: {self.n_rows} rows, {len(self.predictions)} usable, "
            f"{len(self.errors)} errors, {len(self.warnings)} warnings, "
            f"{len(self.missing_ids)} benchmark ids without a prediction"
        )
        return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # nested too deep, or an int past the digit limit
        return f"a {type(value).__name__} nested too deeply to show"
    text = printable_text(text)
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 3] + "..."


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
        with open(path, "rb") as handle:
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


def _field_problem(
    report: ValidationReport,
    prediction: Prediction,
    severity: Severity,
    kind: str,
    field_name: str,
    value: str | None,
    expected: str,
) -> None:
    """Record a problem with one field of a usable row; an error marks the field invalid."""
    if severity == "error":
        prediction.invalid_fields.add(field_name)
    report.problems.append(
        Problem(severity, kind, prediction.location, field_name, value, expected, prediction.id)
    )


def _check_text(
    prediction: Prediction, report: ValidationReport, name: str, value: Any, *, required: bool
) -> None:
    limit = LIMITS[f"{name}_chars"]
    if value is None:
        if required:
            _field_problem(report, prediction, "error", "missing_field", name, None, "a string")
    elif not isinstance(value, str):
        _field_problem(report, prediction, "error", "wrong_type", name, _show(value), "a string")
    elif has_lone_surrogate(value):
        _field_problem(
            report, prediction, "error", "invalid_text", name, _show(value), TEXT_EXPECTED
        )
    elif len(value) > limit:
        _field_problem(
            report,
            prediction,
            "error",
            "oversized",
            name,
            f"{len(value)} characters",
            f"at most {limit} characters",
        )
    elif required and not value.strip():
        _field_problem(
            report,
            prediction,
            "warning",
            "empty_field",
            name,
            _show(value),
            "a non-empty string (scores zero)",
        )


def _check_number(prediction: Prediction, report: ValidationReport, key: str, value: Any) -> None:
    field_name = f"arguments.{key}"
    integer = key in INTEGER_ARGUMENTS or key == "seed"
    parsed = parse_integer(value) if integer else parse_number(value)
    expected = "an integer" if integer else "a number"
    low, high = RANGES[key]
    if parsed is None:
        _field_problem(
            report, prediction, "error", "wrong_type", field_name, _show(value), expected
        )
        return
    if not low <= parsed <= high:
        _field_problem(
            report,
            prediction,
            "error",
            "out_of_range",
            field_name,
            _show(value),
            f"{expected} in [{low}, {high}]",
        )
        return
    if isinstance(value, str) and report.format == "csv":
        report.csv_text_numbers[key] += 1  # every CSV cell is text: one summary warning
    elif isinstance(value, str) or (integer and isinstance(value, float)):
        _field_problem(
            report,
            prediction,
            "warning",
            "cast",
            field_name,
            _show(value),
            f"{expected} (will be read as {parsed})",
        )
    if key in ("width", "height") and parsed % 8:
        rounded = int(round(parsed / 8) * 8)
        _field_problem(
            report,
            prediction,
            "warning",
            "render_rounding",
            field_name,
            _show(value),
            f"a multiple of 8 (rendering uses {rounded})",
        )


def _check_sampler(prediction: Prediction, report: ValidationReport, value: Any) -> None:
    from chatgenbench.benchmark.samplers import canonical_sampler

    name = "arguments.sampler"
    if not isinstance(value, str) or not value.strip():
        _field_problem(
            report, prediction, "error", "wrong_type", name, _show(value), "a sampler name"
        )
    elif has_lone_surrogate(value):
        _field_problem(
            report, prediction, "error", "invalid_text", name, _show(value), TEXT_EXPECTED
        )
    elif len(value) > LIMITS["sampler_chars"]:
        _field_problem(
            report,
            prediction,
            "error",
            "oversized",
            name,
            f"{len(value)} characters",
            f"at most {LIMITS['sampler_chars']} characters",
        )
    elif canonical_sampler(value) is None:
        _field_problem(
            report,
            prediction,
            "warning",
            "unknown_sampler",
            name,
            _show(value),
            "an A1111 sampler name (rendering falls back to the default sampler)",
        )


def _check_arguments(prediction: Prediction, report: ValidationReport, arguments: Any) -> None:
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        prediction.invalid_fields.update(f"arguments.{k}" for k in ARGUMENT_KEYS)
        _field_problem(
            report,
            prediction,
            "error",
            "wrong_type",
            "arguments",
            _show(arguments),
            "an object with " + ", ".join(ARGUMENT_KEYS),
        )
        return
    prediction.arguments = dict(arguments)
    for key in ARGUMENT_KEYS:
        value = arguments.get(key)
        if value is None:
            _field_problem(
                report,
                prediction,
                "error",
                "missing_field",
                f"arguments.{key}",
                None,
                "a value (a missing one scores as wrong)",
            )
        elif key == "sampler":
            _check_sampler(prediction, report, value)
        else:
            _check_number(prediction, report, key, value)
    seed = arguments.get("seed")
    if seed is not None:
        _check_number(prediction, report, "seed", seed)
        if prediction.valid("arguments.seed"):
            prediction.seed = parse_integer(seed)
    for key in arguments:
        if key not in (*ARGUMENT_KEYS, "seed"):
            _field_problem(
                report,
                prediction,
                "warning",
                "unknown_field",
                f"arguments.{key}",
                _show(arguments[key]),
                "one of " + ", ".join((*ARGUMENT_KEYS, "seed")) + " (ignored)",
            )


def _row_problem(
    report: ValidationReport,
    location: str,
    kind: str,
    field_name: str | None,
    value: str | None,
    expected: str,
    pred_id: str | None = None,
) -> None:
    """Record a problem that makes a whole row invalid (it is ignored, its sample scores zero)."""
    report.n_invalid_rows += 1
    report.problems.append(Problem("error", kind, location, field_name, value, expected, pred_id))


def validate_predictions(
    path: str | os.PathLike,
    benchmark_ids: Iterable[str],
    catalog=None,
    *,
    fmt: str | None = None,
    allow_missing: bool = False,
) -> ValidationReport:
    """Read and check a prediction file against a benchmark's ids and model catalogue.

    Returns a :class:`ValidationReport` listing every problem; it never raises for a bad row.
    ``allow_missing`` turns "benchmark id without a prediction" from an error into a warning.
    Raises :class:`PredictionFileError` only when the file as a whole cannot be read.
    """
    fmt = fmt or detect_format(path)
    expected_ids = list(benchmark_ids)
    known = set(expected_ids)
    report = ValidationReport(path=str(path), format=fmt)
    first_location: dict[str, str] = {}
    for location, record in read_prediction_rows(path, fmt):
        report.n_rows += 1
        if report.n_rows > LIMITS["rows"]:
            raise PredictionFileError(f"{path}: more than {LIMITS['rows']} rows")
        if isinstance(record, Exception):
            expected = "one JSON object per line" if fmt == "jsonl" else "a well-formed row"
            _row_problem(report, location, "unparsable", None, str(record), expected)
            continue
        if not isinstance(record, dict):
            _row_problem(report, location, "wrong_type", None, _show(record), "an object")
            continue
        raw_id = record.get("id")
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        if not isinstance(raw_id, str) or not raw_id.strip():
            kind, shown = ("missing_id", None) if raw_id is None else ("wrong_type", _show(raw_id))
            _row_problem(report, location, kind, "id", shown, "a benchmark id (string)")
            continue
        pred_id = raw_id.strip()
        if has_lone_surrogate(pred_id):
            _row_problem(report, location, "invalid_text", "id", _show(pred_id), TEXT_EXPECTED)
            continue
        if len(pred_id) > LIMITS["id_chars"]:
            _row_problem(
                report,
                location,
                "oversized",
                "id",
                f"{len(pred_id)} characters",
                f"at most {LIMITS['id_chars']} characters",
            )
            continue
        if pred_id in first_location:
            _row_problem(
                report,
                location,
                "duplicate_id",
                "id",
                _show(pred_id),
                f"each id once (first seen at {first_location[pred_id]}; that row is used)",
                pred_id,
            )
            continue
        if pred_id not in known:
            _row_problem(
                report,
                location,
                "unknown_id",
                "id",
                _show(pred_id),
                "an id of the benchmark being scored",
                pred_id,
            )
            continue
        first_location[pred_id] = location
        prediction = Prediction(
            id=pred_id,
            location=location,
            prompt=record.get("prompt"),
            negative_prompt=record.get("negative_prompt"),
            model=record.get("model"),
        )
        _check_text(prediction, report, "prompt", prediction.prompt, required=True)
        _check_text(
            prediction, report, "negative_prompt", prediction.negative_prompt, required=False
        )
        _check_text(prediction, report, "model", prediction.model, required=True)
        if catalog is not None and prediction.valid("model") and prediction.model not in catalog:
            suggestions = catalog.suggest(prediction.model)
            hint = f" (did you mean: {', '.join(suggestions)}?)" if suggestions else ""
            _field_problem(
                report,
                prediction,
                "error",
                "unknown_model",
                "model",
                _show(prediction.model),
                f"a model of the catalogue{hint}",
            )
        _check_arguments(prediction, report, record.get("arguments"))
        for key in record:
            if key not in (*TOP_LEVEL_FIELDS, "__extra_cells__"):
                _field_problem(
                    report,
                    prediction,
                    "warning",
                    "unknown_field",
                    key,
                    _show(record[key]),
                    "one of " + ", ".join(TOP_LEVEL_FIELDS) + " (ignored)",
                )
        if "__extra_cells__" in record:
            report.problems.append(
                Problem(
                    "error",
                    "unparsable",
                    location,
                    None,
                    _show(record["__extra_cells__"]),
                    "no more cells than header columns",
                    pred_id,
                )
            )
        report.predictions[pred_id] = prediction
    if report.csv_text_numbers:
        cells = sum(report.csv_text_numbers.values())
        columns = ", ".join(sorted(report.csv_text_numbers))
        report.problems.append(
            Problem(
                "warning",
                "cast",
                "file",
                None,
                f"{cells} numeric cells ({columns})",
                "numbers; a CSV holds text, so they are read from their text (one warning for "
                "the whole file)",
            )
        )
    report.missing_ids = [i for i in expected_ids if i not in report.predictions]
    severity: Severity = "warning" if allow_missing else "error"
    for missing in report.missing_ids:
        report.problems.append(
            Problem(
                severity,
                "missing_prediction",
                "file",
                "id",
                None,
                f"a prediction for benchmark id {missing!r} (scores zero)",
                missing,
            )
        )
    from chatgenbench.core.storage import sha256_file

    report.sha256, report.n_bytes = sha256_file(path), Path(path).stat().st_size
    return report
