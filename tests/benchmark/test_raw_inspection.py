"""prepare --inspect: what a raw folder holds, before anything is converted."""

from __future__ import annotations

import json

from chatgenbench.benchmark.inspection import inspect_raw_folder
from chatgenbench.cli import main
from tests.benchmark.test_archive_images import BLUE, GREEN, RED, record, write_tar


def make_raw(tmp_path):
    raw = tmp_path / "raw"
    (raw / "Supervised").mkdir(parents=True)
    records = [record("0001", image="0001.png"), record("0002")]
    (raw / "Supervised" / "test.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    write_tar(raw / "imgs.tar.gz", {"imgs/0001.png": RED, "imgs/0002.png": GREEN, "x.txt": b"x"})
    write_tar(
        raw / "few_test.tar",
        {
            "k1.json": json.dumps(
                {"query": "q", "prompt": "p", "model": "m", "params": {"steps": 8}}
            ).encode(),
            "k1.png": BLUE,
        },
        mode="w",
    )
    (raw / "6807_models_Info.csv").write_text(
        "model_name,Description ,Base Model,creator\ndevlishphotorealism_v40,Photo,SD 1.5,ann\n"
    )
    return raw


def test_inspect_reports_files_fields_archives_matches_and_the_command(tmp_path, capsys):
    raw = make_raw(tmp_path)
    assert main(["prepare", "--inspect", str(raw)]) == 0
    text = capsys.readouterr().out
    assert "Supervised/test.jsonl: 2 records (setting supervised)" in text
    assert "    output.prompt = 'prompt 0001'" in text  # a field with an example value
    assert "    parameters.sampler = 'Euler a'" in text
    assert "imgs.tar.gz: archive, 3 members (.png 2, .txt 1)" in text
    assert "few_test.tar: archive, 2 members" in text
    assert "    webdataset records: 1 (setting few_shot)" in text
    assert "    prompt <- output.prompt (2), prompt (1) of 3" in text
    assert "    freestyle_input <- input (2), query (1) of 3" in text
    assert "    arguments.steps <- steps (3) of 3" in text
    assert "    negative_prompt: no match (tried" in text
    assert "archive images named by records: 2 of 3 sampled records (3 images)" in text
    assert "model list 6807_models_Info.csv" not in text  # the path is given in full
    assert "1 rows, 1 models, 0 duplicates" in text and "not mapped: ['creator']" in text
    assert f"chatgenbench prepare --source {raw} --out BENCHMARK_DIR" in text
    assert not any(p.name == "chatgenbench.json" for p in tmp_path.rglob("*"))  # nothing written

    assert main(["prepare", "--inspect", str(raw), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files"][0]["records"] == 2
    assert report["archives"]["imgs.tar.gz"]["extensions"] == {".png": 2, ".txt": 1}
    assert report["key_map"]["model"]["matched"] == {"output.model": 2, "model": 1}
    assert report["required_missing"] == {}
    assert report["model_list"]["columns"]["description"] == "Description "

    # the printed command converts it, and says what matched
    assert main(["prepare", "--source", str(raw), "--out", str(tmp_path / "bench")]) == 0
    text = capsys.readouterr().out
    assert "images: 3 of 3 records have one (3 from archives); 0 without" in text
    assert "archive members used 3 of 3" in text
    assert "not mapped: ['creator']; models only in the rows: 1" in text


def test_inspect_says_which_required_fields_are_unmatched(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "data.json").write_text(json.dumps([{"utterance": "hi", "answer": {"p": "x"}}]))
    report = inspect_raw_folder(raw)
    assert report["required_missing"] == {
        "freestyle_input (or history)": 1,
        "prompt": 1,
        "model": 1,
        "arguments": 1,
    }
    assert report["files"][0]["fields"] == {
        "utterance": "'hi'",
        "answer": '{"p": "x"}',
        "answer.p": "'x'",
    }
    assert main(["prepare", "--inspect", str(raw), "--key-map", str(tmp_path / "map.yaml")]) == 2
    (tmp_path / "map.yaml").write_text("fields:\n  prompt: [answer.p]\n")
    assert main(["prepare", "--inspect", str(raw), "--key-map", str(tmp_path / "map.yaml")]) == 0
    text = capsys.readouterr().out
    assert "    prompt <- answer.p (1) of 1" in text
    assert (
        "required fields missing: freestyle_input (or history) in 1 of 1 records, model in 1 of 1 "
        "records, arguments in 1 of 1 records: conversion would stop" in text
    )
    # it said conversion would stop: no "to convert" command follows (it would stop)
    assert "\nto convert:" not in text and "chatgenbench prepare --source" not in text
    assert "not ready to convert: conversion would stop here:" in text


def test_prepare_without_source_or_inspect_is_a_usage_error(tmp_path, capsys):
    assert main(["prepare", "--out", str(tmp_path / "b")]) == 2
    assert "--inspect RAW" in capsys.readouterr().err


def test_inspect_a_hub_id_downloads_then_inspects(tmp_path, monkeypatch, capsys):
    from chatgenbench.benchmark import official

    raw = make_raw(tmp_path)
    calls = []

    def download(repo_id, *, revision=None):
        calls.append((repo_id, revision))
        return raw

    monkeypatch.setattr(official, "download_raw", download)
    assert main(["prepare", "--inspect", "ChengyouJia/ChatGenBench", "--revision", "v1"]) == 0
    assert calls == [("ChengyouJia/ChatGenBench", "v1")]
    text = capsys.readouterr().out
    assert "Supervised/test.jsonl: 2 records" in text
    assert (
        "chatgenbench prepare --source ChengyouJia/ChatGenBench --out BENCHMARK_DIR --revision v1"
        in text
    )
