from __future__ import annotations

import datetime
import io
import json

import pandas as pd
import pytest
import yaml

from leaderboard.submissions import (
    SubmissionError,
    SubmissionStore,
    sanitize_name,
    validate_meta,
)
from tests.leaderboard_fixtures import copy_sample, sample_predictions

GOOD_META = {
    "method": "My method",
    "authors": "A. Person",
    "url": "https://example.org/paper",
    "model_size": "2B",
    "date": "2026-11-26",
    "setting": "supervised",
    "benchmark": "sample",
    "notes": "made by hand",
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "etc-passwd"),
        (".hidden", "hidden"),
        ("Ünïcödé Method!", "unicode-method"),
        ("a/b\\c", "a-b-c"),
        ("x" * 100, "x" * 64),
        ("ChatGen-Evo_2B.v1", "chatgen-evo_2b.v1"),
    ],
)
def test_sanitize_name(raw, expected):
    assert sanitize_name(raw) == expected


@pytest.mark.parametrize("raw", ["///", "..", "", "  ", "中文"])
def test_sanitize_name_refuses_names_without_usable_characters(raw):
    with pytest.raises(SubmissionError, match="no usable characters"):
        sanitize_name(raw)


def test_path_for_never_escapes_the_store(tmp_path):
    store = SubmissionStore(tmp_path)
    assert store.path_for("ok-name") == (tmp_path / "ok-name").resolve()
    for bad in ("../x", ".queue.sqlite3", "a/b", "UPPER"):
        with pytest.raises(SubmissionError):
            store.path_for(bad)


def test_validate_meta_accepts_good_metadata_and_yaml_dates():
    meta, problems = validate_meta({**GOOD_META, "date": datetime.date(2026, 1, 2)})
    assert problems == []
    assert meta.date == "2026-01-02" and meta.method == "My method"
    meta, problems = validate_meta({"method": "m", "authors": "a", "setting": "all"})
    assert problems == [] and meta.model_size == "-" and meta.benchmark == "sample"
    assert meta.date == datetime.date.today().isoformat()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": None}, "'method': missing"),
        ({"authors": "x" * 301}, "'authors': 301 characters; at most 300"),
        ({"setting": "fewshot"}, "expected one of supervised, few_shot, all"),
        ({"url": "javascript:alert(1)"}, "expected an http:// or https:// link"),
        ({"date": "26/11/2026"}, "expected YYYY-MM-DD"),
        ({"date": "2026-02-30"}, "not a calendar date"),
        ({"notes": ["a", "list"]}, "'notes': expected text, got list"),
        ({"evil": "x"}, "'evil': unknown"),
        ({"method": "bell\x07"}, "control characters"),
        ({"benchmark": "/etc"}, "this leaderboard scores against sample"),
    ],
)
def test_validate_meta_reports_each_problem(change, message):
    meta, problems = validate_meta({**GOOD_META, **change}, allowed_benchmarks=("sample",))
    assert meta is None
    assert any(message in problem for problem in problems), problems


def test_load_the_repository_sample_submission(tmp_path):
    copy_sample(tmp_path)
    (submission,) = SubmissionStore(tmp_path).submissions()
    assert submission.name == "no-finetune-sample"
    assert submission.meta.setting == "supervised" and submission.meta_problems == []
    assert submission.scored and submission.rankable and not submission.synthetic
    assert submission.predictions_path.name == "predictions.jsonl"


def test_load_records_broken_files_without_raising(tmp_path):
    folder = copy_sample(tmp_path, "broken")
    (folder / "results.json").write_text("{not json", "utf-8")
    (folder / "meta.yaml").write_text("method: [unclosed", "utf-8")
    (tmp_path / ".incoming").mkdir()
    (submission,) = SubmissionStore(tmp_path).submissions()
    assert submission.results is None and "not JSON" in submission.results_problems[0]
    assert submission.meta is None and "not readable YAML" in submission.meta_problems[0]
    assert not submission.rankable
    folder = copy_sample(tmp_path, "old-schema")
    results = json.loads((folder / "results.json").read_text("utf-8"))
    results["schema_version"] = "0.9"
    (folder / "results.json").write_text(json.dumps(results), "utf-8")
    submission = SubmissionStore(tmp_path).load("old-schema")
    assert not submission.scored
    assert any("schema_version" in p for p in submission.results_problems)


def test_good_jsonl_upload_is_checked_and_stored(tmp_path):
    store = SubmissionStore(tmp_path)
    data = sample_predictions()
    check = store.check_upload("preds.jsonl", data, {**GOOD_META, "name": "My Run #1"})
    assert check.ok, (check.problems, check.report and check.report.format_text())
    assert check.name == "my-run-1" and check.format == "jsonl"
    assert check.report.n_rows == 12 and not check.report.errors
    folder = store.add(check, data)
    assert folder == (tmp_path / "my-run-1").resolve()
    assert (folder / "predictions.jsonl").read_bytes() == data
    stored = yaml.safe_load((folder / "meta.yaml").read_text("utf-8"))
    assert stored["method"] == "My method" and stored["setting"] == "supervised"
    assert not list((tmp_path / ".incoming").iterdir())
    submission = store.load("my-run-1")
    assert submission.meta is not None and submission.results is None
    again = store.check_upload("preds.jsonl", data, {**GOOD_META, "name": "my-run-1"})
    assert not again.ok and any("is taken" in p for p in again.problems)
    with pytest.raises(SubmissionError, match="only an upload whose check is ok"):
        store.add(again, data)


def test_csv_and_parquet_uploads_are_accepted(tmp_path):
    store = SubmissionStore(tmp_path)
    rows = [json.loads(line) for line in sample_predictions().splitlines()]
    flat = [{**{k: v for k, v in r.items() if k != "arguments"}, **r["arguments"]} for r in rows]
    csv_bytes = pd.DataFrame(flat).to_csv(index=False).encode("utf-8")
    check = store.check_upload("p.csv", csv_bytes, GOOD_META)
    assert check.ok and check.format == "csv", check.report.format_text()
    buffer = io.BytesIO()
    pd.DataFrame(rows).to_parquet(buffer)
    check = store.check_upload("p.parquet", buffer.getvalue(), {**GOOD_META, "name": "pq"})
    assert check.ok and check.format == "parquet", check.report.format_text()
    assert store.add(check, buffer.getvalue()).joinpath("predictions.parquet").is_file()


def test_uploads_with_row_errors_are_refused_with_row_level_problems(tmp_path):
    store = SubmissionStore(tmp_path)
    lines = sample_predictions().decode("utf-8").splitlines()
    bad = json.loads(lines[1])
    bad["arguments"]["steps"] = "many"
    lines[1] = json.dumps(bad)
    lines[2] = "{not json"
    lines.append(json.dumps({**bad, "id": "sample-9999"}))
    check = store.check_upload("p.jsonl", "\n".join(lines).encode(), GOOD_META)
    assert not check.ok and check.problems == []
    errors = {(p.location, p.kind) for p in check.report.errors}
    assert ("line 3", "unparsable") in errors
    assert ("line 13", "unknown_id") in errors
    assert any(p.field == "arguments.steps" and p.location == "line 2" for p in check.report.errors)
    # the unparsable line leaves sample-0003 without a prediction: an error for an upload
    missing = [p.id for p in check.report.errors if p.kind == "missing_prediction"]
    assert missing == ["sample-0003"]
    assert store.names() == []


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("p.pkl", b"\x80\x04K\x01.", "expected a .jsonl, .csv or .parquet file"),
        ("p.jsonl", b"", "file is empty"),
        ("p.jsonl", b"x" * 2048, "over the upload limit of 1024 bytes"),
        ("p.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ],
)
def test_bad_files_are_refused_before_anything_is_stored(tmp_path, filename, data, message):
    store = SubmissionStore(tmp_path, max_upload_bytes=1024)
    check = store.check_upload(filename, data, GOOD_META)
    assert not check.ok
    assert any(message in problem for problem in check.problems), check.problems
    assert store.names() == []


def test_meta_problems_and_unknown_benchmarks_are_refused(tmp_path):
    store = SubmissionStore(tmp_path, allowed_benchmarks=("sample",))
    check = store.check_upload(
        "p.jsonl", sample_predictions(), {**GOOD_META, "authors": "", "benchmark": "/data/x"}
    )
    assert not check.ok and check.report is None
    assert any("'authors': missing" in p for p in check.problems)
    assert any("scores against sample" in p for p in check.problems)
    few_shot = store.check_upload(
        "p.jsonl", sample_predictions(), {**GOOD_META, "setting": "few_shot"}
    )
    assert any("has no 'few_shot' setting" in p for p in few_shot.problems)


def test_environment_configures_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(tmp_path / "s"))
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample, /data/bench")
    monkeypatch.setenv("CHATGENBENCH_UPLOAD_MAX_BYTES", "4096")
    store = SubmissionStore()
    assert store.root == tmp_path / "s"
    assert store.allowed_benchmarks == ("sample", "/data/bench")
    assert store.max_upload_bytes == 4096
    monkeypatch.setenv("CHATGENBENCH_UPLOAD_MAX_BYTES", "lots")
    with pytest.raises(SubmissionError, match="not a number of bytes"):
        SubmissionStore()


def test_load_rereads_a_folder_only_when_its_files_change(tmp_path):
    folder = copy_sample(tmp_path)
    store = SubmissionStore(tmp_path)
    first = store.load("no-finetune-sample")
    assert store.load("no-finetune-sample") is first
    results = json.loads((folder / "results.json").read_text("utf-8"))
    results["synthetic"] = True
    (folder / "results.json").write_text(json.dumps(results, indent=1), "utf-8")
    again = store.load("no-finetune-sample")
    assert again is not first and again.synthetic and not again.rankable


def test_rendered_images_come_from_the_manifest_and_stay_inside_the_render_folder(tmp_path):
    from chatgenbench.render.manifest import RenderRecord, write_manifest
    from leaderboard.submissions import SubmissionStore

    store = SubmissionStore(tmp_path / "store")
    folder = store.path_for("method-a")
    render = store.render_dir("method-a")
    assert store.rendered_images("method-a") == {}
    (render / "images").mkdir(parents=True)
    (render / "images" / "s1.png").write_bytes(b"\x89PNG")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"x")
    (render / "images" / "link.png").symlink_to(outside)
    records = [
        RenderRecord("s1", "supervised", "text", "rendered", image="images/s1.png"),
        RenderRecord("s2", "supervised", "text", "weights_missing"),
        RenderRecord("s4", "supervised", "text", "rendered", image="images/absent.png"),
    ]
    write_manifest(render, records)
    assert store.rendered_images("method-a") == {"s1": render / "images" / "s1.png"}
    # A record whose image leaves the folder (here through a link) is skipped; the others stay.
    records.append(RenderRecord("s3", "supervised", "text", "cached", image="images/link.png"))
    write_manifest(render, records)
    assert store.rendered_images("method-a") == {"s1": render / "images" / "s1.png"}
    assert folder == render.parent


def test_rendered_images_of_colliding_ids_are_each_their_own(tmp_path):
    from chatgenbench.render.manifest import RenderRecord, image_filename, write_manifest
    from leaderboard.submissions import SubmissionStore

    store = SubmissionStore(tmp_path / "store")
    render = store.render_dir("method-a")
    (render / "images").mkdir(parents=True)
    ids = ["a/b", "a_b", "A", "a", "x:y", "x_y", ".."]
    records = []
    for sample_id in ids:
        name = f"images/{image_filename(sample_id)}"
        (render / name).write_bytes(sample_id.encode())
        records.append(RenderRecord(sample_id, "supervised", "text", "rendered", image=name))
    write_manifest(render, records)
    images = store.rendered_images("method-a")
    assert {i: p.read_bytes().decode() for i, p in images.items()} == {i: i for i in ids}
    # Two samples on one file (here differing only in case): the manifest gives no images at all.
    records[1].image = records[0].image.upper().replace("IMAGES/", "images/")
    (render / "render_manifest.jsonl").write_text(
        "\n".join(json.dumps(r.to_dict()) for r in records) + "\n"
    )
    assert store.rendered_images("method-a") == {}
