from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chatgenbench.benchmark.catalog import sample_catalog
from chatgenbench.core.errors import PredictionFileError
from chatgenbench.predictions.reading import read_prediction_rows
from chatgenbench.predictions.report import LIMITS
from chatgenbench.predictions.validation import validate_predictions
from tests.conftest import perfect_prediction, write_jsonl


@pytest.fixture(scope="module")
def ids(sample_rows):
    return [r["id"] for r in sample_rows]


def _kinds(report, severity="error"):
    return sorted((p.kind, p.location, p.field) for p in report.problems if p.severity == severity)


def test_perfect_file_validates_clean(tmp_path, sample_rows, ids):
    path = write_jsonl(tmp_path / "p.jsonl", [perfect_prediction(r) for r in sample_rows])
    report = validate_predictions(path, ids, sample_catalog())
    assert report.ok
    # The paper's own records warn twice: a model name in the sampler field (Figure 7) and a
    # width of 836, which rendering rounds to 832.
    assert _kinds(report, "warning") == [
        ("render_rounding", "line 10", "arguments.width"),
        ("unknown_sampler", "line 8", "arguments.sampler"),
    ]
    assert len(report.predictions) == 12 and report.n_rows == 12


def test_every_problem_is_listed_with_location_field_value_expected(tmp_path, sample_rows, ids):
    good = perfect_prediction(sample_rows[0])
    records = [
        good,  # line 1: fine
        "{not json",  # line 2
        "[1, 2]",  # line 3: not an object
        {"prompt": "no id"},  # line 4
        dict(good),  # line 5: duplicate of line 1
        {**perfect_prediction(sample_rows[1]), "id": "sample-9999"},  # line 6: unknown id
        {**perfect_prediction(sample_rows[1]), "model": "rawXs_v3"},  # line 7: unknown model
        {**perfect_prediction(sample_rows[2]), "prompt": 42},  # line 8: wrong type
        {
            **perfect_prediction(sample_rows[3]),
            "arguments": {
                "sampler": "Euler a",
                "steps": 0,
                "cfg_scale": "high",
                "width": 512,
                "height": 99999,
            },
        },  # line 9: out of range, wrong type
        {**perfect_prediction(sample_rows[4]), "prompt": "x" * (LIMITS["prompt_chars"] + 1)},
        {**perfect_prediction(sample_rows[5]), "arguments": "fast"},  # line 11
    ]
    path = write_jsonl(tmp_path / "p.jsonl", records)
    report = validate_predictions(path, ids, sample_catalog())
    errors = _kinds(report)
    assert ("unparsable", "line 2", None) in errors
    assert ("wrong_type", "line 3", None) in errors
    assert ("missing_id", "line 4", "id") in errors
    assert ("duplicate_id", "line 5", "id") in errors
    assert ("unknown_id", "line 6", "id") in errors
    assert ("unknown_model", "line 7", "model") in errors
    assert ("wrong_type", "line 8", "prompt") in errors
    assert ("out_of_range", "line 9", "arguments.steps") in errors
    assert ("wrong_type", "line 9", "arguments.cfg_scale") in errors
    assert ("out_of_range", "line 9", "arguments.height") in errors
    assert ("oversized", "line 10", "prompt") in errors
    assert ("wrong_type", "line 11", "arguments") in errors
    unknown_model = next(p for p in report.problems if p.kind == "unknown_model")
    assert (
        "did you mean: rawXs_v2" in unknown_model.expected and unknown_model.value == "'rawXs_v3'"
    )
    assert "line 7" in str(unknown_model) and "rawXs_v3" in str(unknown_model)
    # rows that were usable are kept with their bad fields marked; invalid rows are not
    assert report.n_invalid_rows == 5
    assert report.predictions["sample-0002"].invalid_fields == {"model"}
    assert report.predictions["sample-0001"].location == "line 1"
    # the benchmark ids nobody predicted are errors by default, warnings on request
    assert [p.id for p in report.problems if p.kind == "missing_prediction"] == ids[6:]
    lenient = validate_predictions(path, ids, sample_catalog(), allow_missing=True)
    assert all(p.severity == "warning" for p in lenient.problems if p.kind == "missing_prediction")


def test_normalisations_are_warnings(tmp_path, sample_rows, ids):
    record = perfect_prediction(sample_rows[0])
    record["arguments"] = {
        "sampler": "DPM++ 2S a Karras",
        "steps": "42",
        "cfg_scale": 4,
        "width": 836,
        "height": 600.0,
        "seed": 7,
    }
    record["extra"] = 1
    path = write_jsonl(tmp_path / "p.jsonl", [record])
    report = validate_predictions(path, ids[:1], sample_catalog())
    assert report.ok
    warnings = _kinds(report, "warning")
    assert ("cast", "line 1", "arguments.steps") in warnings
    assert ("cast", "line 1", "arguments.height") in warnings
    assert ("render_rounding", "line 1", "arguments.width") in warnings
    assert ("unknown_field", "line 1", "extra") in warnings
    assert report.predictions["sample-0001"].seed == 7
    rounding = next(p for p in report.problems if p.kind == "render_rounding")
    assert "rendering uses 832" in rounding.expected


def test_unknown_sampler_is_a_warning(tmp_path, sample_rows, ids):
    record = perfect_prediction(sample_rows[0])
    record["arguments"]["sampler"] = "Warp Drive"
    report = validate_predictions(write_jsonl(tmp_path / "p.jsonl", [record]), ids[:1])
    assert report.ok and [p.kind for p in report.warnings] == ["unknown_sampler"]


def test_missing_argument_is_an_error_for_that_field(tmp_path, sample_rows, ids):
    record = perfect_prediction(sample_rows[0])
    del record["arguments"]["steps"]
    report = validate_predictions(write_jsonl(tmp_path / "p.jsonl", [record]), ids[:1])
    assert _kinds(report) == [("missing_field", "line 1", "arguments.steps")]
    assert report.predictions["sample-0001"].invalid_fields == {"arguments.steps"}


def _rows_for_tabular(sample_rows):
    return [perfect_prediction(r) for r in sample_rows]


def test_csv_with_json_arguments_and_with_flat_columns(tmp_path, sample_rows, ids):
    records = _rows_for_tabular(sample_rows)
    flat = tmp_path / "flat.csv"
    keys = ["sampler", "steps", "cfg_scale", "width", "height"]
    with open(flat, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "prompt", "negative_prompt", "model", *keys])
        for r in records:
            writer.writerow(
                [r["id"], r["prompt"], "", r["model"], *(r["arguments"][k] for k in keys)]
            )
    nested = tmp_path / "nested.csv"
    with open(nested, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "prompt", "model", "arguments"])
        for r in records:
            writer.writerow([r["id"], r["prompt"], r["model"], json.dumps(r["arguments"])])
    for path in (flat, nested):
        report = validate_predictions(path, ids, sample_catalog())
        assert report.ok, report.format_text()
        assert len(report.predictions) == 12
        assert report.predictions["sample-0003"].location == "line 4"  # header is line 1


def test_parquet(tmp_path, sample_rows, ids):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(_rows_for_tabular(sample_rows)), path)
    report = validate_predictions(path, ids, sample_catalog())
    assert report.ok and len(report.predictions) == 12
    assert report.predictions["sample-0001"].location == "row 1"


def test_whole_file_problems_raise(tmp_path, monkeypatch):
    with pytest.raises(PredictionFileError, match="not found"):
        list(read_prediction_rows(tmp_path / "nope.jsonl"))
    with pytest.raises(PredictionFileError, match="unknown prediction format"):
        list(read_prediction_rows(tmp_path / "p.pkl"))
    big = write_jsonl(tmp_path / "big.jsonl", ['{"id": "x"}'] * 10)
    monkeypatch.setitem(LIMITS, "file_bytes", 20)
    with pytest.raises(PredictionFileError, match="over the limit"):
        list(read_prediction_rows(big))
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 nonsense")
    monkeypatch.setitem(LIMITS, "file_bytes", 1 << 20)
    with pytest.raises(PredictionFileError, match="Parquet"):
        list(read_prediction_rows(tmp_path / "bad.parquet"))


def test_overlong_line_is_reported_not_parsed(tmp_path, monkeypatch, ids):
    monkeypatch.setitem(LIMITS, "line_bytes", 50)
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "sample-0001", "prompt": "x" * 100}])
    report = validate_predictions(path, ids[:1])
    assert _kinds(report)[0][:2] == ("missing_prediction", "file")
    assert any(p.kind == "unparsable" and "bytes" in p.value for p in report.errors)
