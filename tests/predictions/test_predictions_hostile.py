"""Hostile prediction files: every JSON text, CSV quirk and Parquet bomb becomes a named problem.

Each case is tested in variants (field, position, format), so that the class is fixed and not one
example of it.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chatgenbench.benchmark.catalog import sample_catalog
from chatgenbench.core.errors import PredictionFileError
from chatgenbench.predictions.report import LIMITS
from chatgenbench.predictions.validation import validate_predictions
from tests.conftest import perfect_prediction


@pytest.fixture(scope="module")
def ids(sample_rows):
    return [r["id"] for r in sample_rows]


def _line(record: dict, field: str, raw_value: str) -> str:
    """A JSONL line of ``record`` whose ``field`` (``a`` or ``a.b``) is the raw JSON ``raw_value``."""
    marker = "__RAW__"
    top, _, child = field.partition(".")
    copy = json.loads(json.dumps(record))
    if child:
        copy[top][child] = marker
    else:
        copy[top] = marker
    return json.dumps(copy).replace(json.dumps(marker), raw_value)


def _errors(report):
    return {(p.location, p.field, p.kind) for p in report.errors}


HUGE_INT = "9" * 400  # beyond float range, within the integer-digit limit
OVER_DIGITS = "1" * 5000  # beyond Python's integer-digit limit (4300)
DEEP_ARRAY = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000
SURROGATE = '"a \\ud800 b"'
LOW_SURROGATE = '"\\udfff"'


@pytest.mark.parametrize(
    "field",
    ["arguments.steps", "arguments.cfg_scale", "arguments.width", "arguments.seed", "id"],
)
def test_integer_beyond_float_range_is_a_named_problem(tmp_path, sample_rows, ids, field):
    record = perfect_prediction(sample_rows[0])
    record["arguments"]["seed"] = 1
    path = tmp_path / "p.jsonl"
    path.write_text(_line(record, field, HUGE_INT) + "\n", "utf-8")
    report = validate_predictions(path, ids[:1], sample_catalog())
    problem = next(p for p in report.errors if p.field == field)
    assert problem.location == "line 1"
    assert problem.kind in ("wrong_type", "oversized", "out_of_range")
    assert problem.value and len(problem.value) <= 80  # "an integer of about 400 digits"
    str(problem).encode("utf-8")


@pytest.mark.parametrize(
    "field, raw",
    [
        ("arguments.steps", OVER_DIGITS),
        ("id", OVER_DIGITS),
        ("prompt", "-" + OVER_DIGITS),
        ("arguments", DEEP_ARRAY),
        ("prompt", DEEP_OBJECT),
        ("negative_prompt", "[" + DEEP_ARRAY + "]"),
    ],
)
def test_unreadable_json_is_a_row_problem_with_its_line(tmp_path, sample_rows, ids, field, raw):
    good = perfect_prediction(sample_rows[1])
    lines = [json.dumps(good), _line(perfect_prediction(sample_rows[0]), field, raw)]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    report = validate_predictions(path, ids[:2], sample_catalog())
    bad = [p for p in report.errors if p.location == "line 2"]
    assert [p.kind for p in bad] == ["unparsable"]
    assert "JSON" in bad[0].value and "set_int_max_str_digits" not in bad[0].value
    assert ("digits" in bad[0].value) == (raw.lstrip("-") == OVER_DIGITS)
    assert "sample-0002" in report.predictions  # the other line is still read


def test_deep_but_readable_nesting_is_shown_short(tmp_path, sample_rows, ids):
    record = perfect_prediction(sample_rows[0])
    path = tmp_path / "p.jsonl"
    path.write_text(_line(record, "prompt", "[" * 900 + "]" * 900) + "\n", "utf-8")
    report = validate_predictions(path, ids[:1], sample_catalog())
    problem = next(p for p in report.errors if p.field == "prompt")
    assert problem.kind == "wrong_type" and len(problem.value) <= 80


@pytest.mark.parametrize(
    "field",
    ["prompt", "negative_prompt", "model", "arguments.sampler", "id", "extra", "arguments.extra"],
)
@pytest.mark.parametrize("raw", [SURROGATE, LOW_SURROGATE])
def test_lone_surrogates_are_named_and_print_as_utf8(tmp_path, sample_rows, ids, field, raw):
    record = perfect_prediction(sample_rows[0])
    record["extra"] = "x"
    record["arguments"]["extra"] = "x"
    path = tmp_path / "p.jsonl"
    path.write_text(_line(record, field, raw) + "\n", "utf-8")
    report = validate_predictions(path, ids[:1], sample_catalog())
    problem = next(p for p in report.problems if p.field == field and p.kind != "missing_field")
    if field.endswith("extra"):
        assert problem.kind == "unknown_field" and problem.severity == "warning"
    else:
        assert problem.kind == "invalid_text" and problem.severity == "error"
        assert "\\ud" in problem.value or "\\ud" in problem.value.lower()
    # the whole report, as text and as JSON, goes to a UTF-8 terminal or file
    report.format_text(limit=None).encode("utf-8")
    json.dumps([p.to_dict() for p in report.problems], ensure_ascii=False).encode("utf-8")
    if field in ("prompt", "model", "arguments.sampler"):
        assert not report.predictions["sample-0001"].valid(field)


def test_surrogate_in_a_key_and_an_unknown_id_print(tmp_path, sample_rows, ids):
    record = perfect_prediction(sample_rows[0])
    text = json.dumps(record)[:-1] + ', "k\\ud83d": 1}\n'
    unknown = json.dumps({**perfect_prediction(sample_rows[1]), "id": "sample-\\ud800"})
    path = tmp_path / "p.jsonl"
    path.write_text(text + unknown.replace("\\\\", "\\") + "\n", "utf-8")
    report = validate_predictions(path, ids[:1], sample_catalog())
    report.format_text(limit=None).encode("utf-8")
    assert ("line 2", "id", "invalid_text") in _errors(report)
    assert any(p.kind == "unknown_field" and p.field == "k\\ud83d" for p in report.warnings)


def test_validate_cli_prints_surrogates_to_a_utf8_terminal(tmp_path, sample_rows):
    record = perfect_prediction(sample_rows[0])
    path = tmp_path / "p.jsonl"
    path.write_text(_line(record, "id", SURROGATE) + "\n" + _line(record, "prompt", SURROGATE))
    run = subprocess.run(
        [sys.executable, "-m", "chatgenbench", "validate", str(path), "--benchmark", "sample"],
        capture_output=True,
        env={**_env(), "PYTHONIOENCODING": "utf-8:strict"},
        timeout=120,
    )
    out = run.stdout.decode("utf-8")
    assert run.returncode == 1, run.stderr.decode()
    assert "Traceback" not in run.stderr.decode()
    assert "invalid_text" in out and "line 1" in out and "line 2" in out


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": os.getcwd()}


# ----------------------------------------------------------------------------------------- CSV


def _write_csv(path, header, rows, *, bom=False, newline="\n"):
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.writer(handle, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _flat_rows(sample_rows, n):
    keys = ["sampler", "steps", "cfg_scale", "width", "height"]
    header = ["id", "prompt", "model", *keys]
    rows = []
    for row in sample_rows[:n]:
        r = perfect_prediction(row)
        rows.append([r["id"], r["prompt"], r["model"], *(r["arguments"].get(k, "") for k in keys)])
    return header, rows


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_with_a_bom_reads_its_header(tmp_path, sample_rows, ids, newline):
    header, rows = _flat_rows(sample_rows, 3)
    path = _write_csv(tmp_path / "p.csv", header, rows, bom=True, newline=newline)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = validate_predictions(path, ids[:3], sample_catalog())
    assert report.ok, report.format_text()
    assert sorted(report.predictions) == ids[:3]


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("size", [200_000, 2_000_000])
def test_csv_overlong_field_costs_only_its_row(tmp_path, sample_rows, ids, position, size):
    header, rows = _flat_rows(sample_rows, 3)
    rows[position][1] = "x" * size  # over csv's default field limit (131072)
    path = _write_csv(tmp_path / "p.csv", header, rows)
    report = validate_predictions(path, ids[:3], sample_catalog())
    others = {i for n, i in enumerate(ids[:3]) if n != position}
    assert others <= set(report.predictions)
    location = f"line {position + 2}"
    if size > LIMITS["line_bytes"]:
        assert (location, None, "unparsable") in _errors(report)
        assert ids[position] not in report.predictions
    else:  # within the per-line bound: read, and only the prompt's own limit applies
        assert (location, "prompt", "oversized") in _errors(report)
    import csv as csv_module

    assert csv_module.field_size_limit() == 131072  # the module's setting is left as it was


def test_csv_fields_with_newlines_name_record_and_lines(tmp_path, sample_rows, ids):
    header, rows = _flat_rows(sample_rows, 4)
    rows[1][1] = "first line\nsecond line\nthird"
    rows[2][3] = "many"  # sampler ok, steps 'many' is wrong: on record 3
    rows[2][4] = "many"
    path = _write_csv(tmp_path / "p.csv", header, rows)
    report = validate_predictions(path, ids[:4], sample_catalog())
    steps = next(p for p in report.errors if p.field == "arguments.steps")
    assert steps.location == "line 6"  # header 1, record 1 on 2, record 2 on 3-5, record 3
    locations = {r.id: r.location for r in report.predictions.values()}
    assert locations[ids[0]] == "line 2"
    assert locations[ids[1]] == "lines 3-5 (record 2)"
    assert locations[ids[2]] == "line 6"
    assert locations[ids[3]] == "line 7"


def test_csv_numbers_as_strings_are_read(tmp_path, sample_rows, ids):
    header, rows = _flat_rows(sample_rows, 2)
    rows[0][4] = "1" * 5000  # steps: more digits than Python converts
    rows[1][5] = "1e400"  # cfg_scale: beyond float range
    path = _write_csv(tmp_path / "p.csv", header, rows)
    report = validate_predictions(path, ids[:2], sample_catalog())
    assert ("line 2", "arguments.steps", "wrong_type") in _errors(report)
    assert ("line 3", "arguments.cfg_scale", "wrong_type") in _errors(report)


def test_csv_json_arguments_nested_too_deep(tmp_path, sample_rows, ids):
    path = _write_csv(
        tmp_path / "p.csv",
        ["id", "prompt", "model", "arguments"],
        [[ids[0], "a cat", sample_rows[0]["model"], DEEP_ARRAY]],
    )
    report = validate_predictions(path, ids[:1], sample_catalog())
    assert ("line 2", "arguments", "wrong_type") in _errors(report)


# ------------------------------------------------------------------------------------- Parquet


def _bomb(path, column: str, value_bytes: int, rows: int, n_ids: list[str]):
    """A Parquet file whose ``column`` repeats one ``value_bytes`` string on every row."""
    value = "x" * value_bytes
    dictionary = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array([value]))
    ids = pa.array([n_ids[i % len(n_ids)] for i in range(rows)])
    if column == "arguments.sampler":
        table = pa.table(
            {"id": ids, "arguments": pa.StructArray.from_arrays([dictionary], ["sampler"])}
        )
    else:
        table = pa.table({"id": ids, column: dictionary})
    pq.write_table(table, path, compression="zstd", dictionary_pagesize_limit=value_bytes * 2)
    return path


@pytest.mark.parametrize("column", ["prompt", "model", "extra", "arguments.sampler"])
def test_parquet_dictionary_bomb_is_refused_before_decoding(tmp_path, ids, column, monkeypatch):
    monkeypatch.setitem(LIMITS, "file_bytes", 4 * 1024 * 1024)
    path = _bomb(tmp_path / "p.parquet", column, 100_000, 100, ids)  # 10 MB of text
    assert path.stat().st_size < 100_000
    id_bytes = sum(len(ids[i % len(ids)]) for i in range(100))
    with pytest.raises(PredictionFileError, match=f"decodes to {10_000_000 + id_bytes} bytes"):
        validate_predictions(path, ids)


def test_parquet_stored_size_is_checked_from_the_footer(tmp_path, ids, monkeypatch):
    prompts = [f"{i} " + "y" * 50_000 for i in range(40)]  # 2 MB, distinct: no dictionary
    table = pa.table({"id": [ids[i % len(ids)] for i in range(40)], "prompt": prompts})
    path = tmp_path / "p.parquet"
    pq.write_table(table, path, compression="zstd", use_dictionary=False)
    monkeypatch.setitem(LIMITS, "file_bytes", 1024 * 1024)
    with pytest.raises(PredictionFileError, match="unpacks to"):
        validate_predictions(path, ids)


def test_parquet_oversized_row_costs_only_that_row(tmp_path, sample_rows, ids):
    records = [perfect_prediction(r) for r in sample_rows[:3]]
    records[1]["prompt"] = "z" * (LIMITS["line_bytes"] + 10)
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(records), path)
    report = validate_predictions(path, ids[:3], sample_catalog())
    assert ("row 2", None, "unparsable") in _errors(report)
    assert {ids[0], ids[2]} <= set(report.predictions)


def test_parquet_nested_unknown_columns_are_not_read(tmp_path, sample_rows, ids):
    records = [perfect_prediction(r) for r in sample_rows[:2]]
    table = pa.Table.from_pylist(records).append_column(
        "tags", pa.array([["a"] * 3, ["b"]], pa.list_(pa.string()))
    )
    path = tmp_path / "p.parquet"
    pq.write_table(table, path)
    report = validate_predictions(path, ids[:2], sample_catalog())
    assert report.ok, report.format_text()
    tags = [p for p in report.warnings if p.field == "tags"]
    assert len(tags) == 2 and "not read" in tags[0].value


def test_parquet_bomb_peak_memory_stays_bounded(tmp_path):
    """A 2 GB-of-text file of a few kB is refused; the process's peak memory grows < 150 MB."""
    script = textwrap.dedent(
        """
        import resource, sys
        import pyarrow.parquet
        from chatgenbench.core.errors import PredictionFileError
        from chatgenbench.predictions.validation import validate_predictions
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            validate_predictions(sys.argv[1], ["sample-0001"])
        except PredictionFileError as error:
            print("refused", error)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("peak_growth_kb", after - before)
        """
    )
    path = _bomb(tmp_path / "bomb.parquet", "prompt", 1_000_000, 2000, ["sample-0001"])
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert path.stat().st_size < 200_000
    assert "refused" in run.stdout and "decodes to 2000022000 bytes" in run.stdout
    growth_kb = int(run.stdout.split("peak_growth_kb")[1])
    assert growth_kb < 150_000, run.stdout
