"""Validating a prediction file: every row checked against the benchmark's ids and catalogue.

The rows come from :func:`chatgenbench.predictions.reading.read_prediction_rows` (JSONL, CSV or
Parquet, bounded); every problem is reported as a
:class:`~chatgenbench.predictions.report.Problem` with its line or row, field, value and what was
expected, in a :class:`~chatgenbench.predictions.report.ValidationReport`.

Scoring policy (also in the README): a row that cannot be read, has no usable id, repeats an id or
names an unknown id is *invalid* and ignored; its benchmark sample, like one without any prediction,
scores zero on every metric. A field-level error (e.g. an unknown model, ``steps: "many"``) makes only
that field's metric wrong for the sample.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chatgenbench.core.errors import PredictionFileError
from chatgenbench.core.normalize import (
    ARGUMENT_KEYS,
    INTEGER_ARGUMENTS,
    has_lone_surrogate,
    parse_integer,
    parse_number,
    printable_text,
)
from chatgenbench.predictions.reading import detect_format, read_prediction_rows
from chatgenbench.predictions.report import (
    LIMITS,
    RANGES,
    Prediction,
    Problem,
    Severity,
    ValidationReport,
)

TOP_LEVEL_FIELDS = ("id", "prompt", "negative_prompt", "model", "arguments")
TEXT_EXPECTED = "text that UTF-8 can hold (no lone surrogate such as \\ud800)"
MAX_SHOWN_VALUE = 80


def _show(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # nested too deep, or an int past the digit limit
        return f"a {type(value).__name__} nested too deeply to show"
    text = printable_text(text)
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 3] + "..."


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


def _unusable_text(
    prediction: Prediction, report: ValidationReport, name: str, value: str, limit: int
) -> bool:
    """Report a text field holding a lone surrogate or longer than ``limit`` characters (an
    error); return whether it did, so that the caller checks nothing more of it."""
    if has_lone_surrogate(value):
        _field_problem(
            report, prediction, "error", "invalid_text", name, _show(value), TEXT_EXPECTED
        )
        return True
    if len(value) > limit:
        _field_problem(
            report,
            prediction,
            "error",
            "oversized",
            name,
            f"{len(value)} characters",
            f"at most {limit} characters",
        )
        return True
    return False


def _check_text(
    prediction: Prediction, report: ValidationReport, name: str, value: Any, *, required: bool
) -> None:
    limit = LIMITS[f"{name}_chars"]
    if value is None:
        if required:
            _field_problem(report, prediction, "error", "missing_field", name, None, "a string")
    elif not isinstance(value, str):
        _field_problem(report, prediction, "error", "wrong_type", name, _show(value), "a string")
    elif _unusable_text(prediction, report, name, value, limit):
        pass
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
    elif _unusable_text(prediction, report, name, value, LIMITS["sampler_chars"]):
        pass
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
        pred_id = _row_id(report, location, record, known, first_location)
        if pred_id is None:
            continue
        first_location[pred_id] = location
        report.predictions[pred_id] = _check_record(report, location, record, pred_id, catalog)
    _summarize_csv_text_numbers(report)
    _report_missing(report, expected_ids, allow_missing=allow_missing)
    from chatgenbench.core.storage import sha256_file

    report.sha256, report.n_bytes = sha256_file(path), Path(path).stat().st_size
    return report


def _row_id(
    report: ValidationReport,
    location: str,
    record: Any,
    known: set[str],
    first_location: dict[str, str],
) -> str | None:
    """Return the benchmark id of a usable row, or None after recording why the row is invalid.

    A row is invalid when it could not be read, is not an object, or its id is missing, not text,
    oversized, a repeat of an earlier row's, or not an id of the benchmark.
    """
    if isinstance(record, Exception):
        expected = "one JSON object per line" if report.format == "jsonl" else "a well-formed row"
        _row_problem(report, location, "unparsable", None, str(record), expected)
        return None
    if not isinstance(record, dict):
        _row_problem(report, location, "wrong_type", None, _show(record), "an object")
        return None
    raw_id = record.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str) or not raw_id.strip():
        kind, shown = ("missing_id", None) if raw_id is None else ("wrong_type", _show(raw_id))
        _row_problem(report, location, kind, "id", shown, "a benchmark id (string)")
        return None
    pred_id = raw_id.strip()
    if has_lone_surrogate(pred_id):
        _row_problem(report, location, "invalid_text", "id", _show(pred_id), TEXT_EXPECTED)
        return None
    if len(pred_id) > LIMITS["id_chars"]:
        _row_problem(
            report,
            location,
            "oversized",
            "id",
            f"{len(pred_id)} characters",
            f"at most {LIMITS['id_chars']} characters",
        )
        return None
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
        return None
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
        return None
    return pred_id


def _check_record(
    report: ValidationReport, location: str, record: dict[str, Any], pred_id: str, catalog
) -> Prediction:
    """Check every field of one usable row and return its :class:`Prediction`.

    Field problems go into ``report`` in the order the fields are checked: prompt, negative
    prompt, model (and whether the catalogue knows it), arguments, unknown fields, extra cells.
    """
    prediction = Prediction(
        id=pred_id,
        location=location,
        prompt=record.get("prompt"),
        negative_prompt=record.get("negative_prompt"),
        model=record.get("model"),
    )
    _check_text(prediction, report, "prompt", prediction.prompt, required=True)
    _check_text(prediction, report, "negative_prompt", prediction.negative_prompt, required=False)
    _check_text(prediction, report, "model", prediction.model, required=True)
    _check_model_in_catalog(prediction, report, catalog)
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
    return prediction


def _check_model_in_catalog(prediction: Prediction, report: ValidationReport, catalog) -> None:
    """Report a readable model that the catalogue (when given) does not know, with suggestions."""
    if catalog is None or not prediction.valid("model") or prediction.model in catalog:
        return
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


def _summarize_csv_text_numbers(report: ValidationReport) -> None:
    """Add one warning for the whole file for the CSV's numeric cells read from their text."""
    if not report.csv_text_numbers:
        return
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


def _report_missing(
    report: ValidationReport, expected_ids: list[str], *, allow_missing: bool
) -> None:
    """List the benchmark ids without a usable prediction: errors, or warnings if allowed."""
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
