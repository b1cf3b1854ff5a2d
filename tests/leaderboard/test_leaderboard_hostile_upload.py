"""The upload check lists every hostile-file problem on the page and never raises."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leaderboard.submissions import SubmissionStore
from tests.leaderboard.test_leaderboard_app import frame_with, run_app, store, upload  # noqa: F401
from tests.leaderboard_fixtures import sample_predictions


def _lines() -> list[dict]:
    return [json.loads(line) for line in sample_predictions().decode().splitlines()]


def _jsonl(rows: list[dict], replace: dict[int, tuple[str, str]]) -> bytes:
    """JSONL of ``rows`` where row ``i``'s field holds raw JSON text ``replace[i]``."""
    out = []
    for index, row in enumerate(rows):
        if index in replace:
            field, raw = replace[index]
            row = {**row, field: "__RAW__"}
            out.append(json.dumps(row).replace('"__RAW__"', raw))
        else:
            out.append(json.dumps(row))
    return ("\n".join(out) + "\n").encode()


def _csv(rows: list[dict], *, prompt_of_row_2: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "prompt", "model", "arguments"])
    for index, row in enumerate(rows):
        prompt = prompt_of_row_2 if index == 1 else row["prompt"]
        writer.writerow([row["id"], prompt, row["model"], json.dumps(row["arguments"])])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode()


def _parquet_bomb(rows: list[dict]) -> bytes:
    n = 300
    table = pa.table(
        {
            "id": pa.array([rows[i % len(rows)]["id"] for i in range(n)]),
            "prompt": pa.DictionaryArray.from_arrays(
                pa.array([0] * n, pa.int32()), pa.array(["p" * 1_000_000])
            ),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", dictionary_pagesize_limit=4_000_000)
    return buffer.getvalue()


CASES = {
    "surrogates.jsonl": (
        lambda rows: _jsonl(rows, {0: ("prompt", '"\\ud800"'), 2: ("id", '"x\\udfff"')}),
        [("line 1", "invalid_text"), ("line 3", "invalid_text")],
    ),
    "numbers.jsonl": (
        lambda rows: _jsonl(rows, {1: ("prompt", "1" * 5000), 3: ("model", "9" * 400)}),
        [("line 2", "unparsable"), ("line 4", "wrong_type")],
    ),
    "deep.jsonl": (
        lambda rows: _jsonl(rows, {4: ("arguments", "[" * 5000 + "]" * 5000)}),
        [("line 5", "unparsable")],
    ),
    "bom-long-field.csv": (
        lambda rows: _csv(rows, prompt_of_row_2="x" * 40_000 + "\n" + "y" * 2_000),
        [("lines 3-4 (record 2)", "oversized")],
    ),
}


@pytest.mark.parametrize("filename", sorted(CASES))
def test_hostile_files_are_listed_on_the_page(store, monkeypatch, filename):  # noqa: F811
    monkeypatch.setenv("CHATGENBENCH_UPLOAD_MAX_BYTES", str(1024 * 1024))
    build, expected = CASES[filename]
    at = upload(run_app(), filename, build(_lines()), method="Hostile", authors="T")
    assert not at.exception, at.exception
    assert any("not queued" in e.value for e in at.error)
    errors = frame_with(at, "location")
    found = set(zip(errors["location"], errors["kind"]))
    assert set(expected) <= found, found
    assert SubmissionStore(store).names() == ["no-finetune-sample", "synthetic-run"]


def test_a_parquet_bomb_is_refused_on_the_page(store):  # noqa: F811
    data = _parquet_bomb(_lines())
    assert len(data) < 64 * 1024
    at = upload(run_app(), "bomb.parquet", data, method="Bomb", authors="T")
    assert not at.exception, at.exception
    problems = " | ".join(frame_with(at, "Problem")["Problem"])
    assert "decodes to" in problems and "over the limit" in problems


def test_check_upload_never_raises(tmp_path, monkeypatch):
    """Whatever the validator raises becomes a listed problem."""
    from tests.leaderboard_fixtures import copy_sample

    copy_sample(tmp_path / "store")
    submissions = SubmissionStore(tmp_path / "store", allowed_benchmarks=("sample",))

    def broken(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr("chatgenbench.predictions.validation.validate_predictions", broken)
    check = submissions.check_upload(
        "p.jsonl",
        sample_predictions(),
        {"method": "M", "authors": "T", "benchmark": "sample", "setting": "supervised"},
    )
    assert not check.ok
    assert any("could not be checked" in p and "MemoryError" in p for p in check.problems), (
        check.problems
    )
