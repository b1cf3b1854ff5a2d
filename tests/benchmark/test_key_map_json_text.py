"""The key map reaches into fields that hold JSON text (a ShareGPT-style release keeps its answer as
JSON text inside ``conversations[1].value``), bounded; the answer turn is never chat history; and
``prepare --inspect`` offers a command only when nothing it found would stop the conversion."""

from __future__ import annotations

import json

import pytest

from chatgenbench.benchmark import official
from chatgenbench.benchmark.inspection import inspect_raw_folder
from chatgenbench.benchmark.official import KeyMapError, convert_raw_folder
from chatgenbench.cli import main

ANSWER = {
    "prompt": "a tabby cat on a tin roof, golden hour",
    "negative_prompt": "blurry",
    "model": "devlishphotorealism_v40",
    "parameters": {"sampler": "Euler a", "steps": 30, "cfgScale": 7, "width": 512, "height": 768},
}


def _turn(who: str, value) -> dict:
    return {"from": who, "value": value if isinstance(value, str) else json.dumps(value)}


def _sharegpt(record_id: str, *turns: dict) -> dict:
    return {"id": record_id, "conversations": list(turns)}


def _raw(tmp_path, records, name="Supervised/test.json"):
    root = tmp_path / "raw"
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records), "utf-8")
    return root


def test_the_default_map_reads_the_answer_json_of_a_sharegpt_release(tmp_path):
    root = _raw(
        tmp_path, [_sharegpt("s1", _turn("human", "a cat on a roof"), _turn("gpt", ANSWER))]
    )
    rows, _, _ = convert_raw_folder(root)
    row = rows["supervised"][0]
    assert row["prompt"] == ANSWER["prompt"] and row["negative_prompt"] == "blurry"
    assert row["model"] == "devlishphotorealism_v40"
    assert row["arguments"] == {
        "sampler": "Euler a", "steps": 30, "cfg_scale": 7.0, "width": 512, "height": 768
    }  # fmt: skip
    # the answer turn is not chat history: one user turn is a single input
    assert row["freestyle_input"] == "a cat on a roof"
    assert row["history"] == [] and row["input_type"] == "single"


def test_a_multi_turn_chat_keeps_its_turns_but_not_the_answer(tmp_path):
    chat = _sharegpt(
        "s2",
        _turn("human", "draw a possum"),
        _turn("gpt", "Which style?"),
        _turn("human", "holding fruit, watercolour"),
        _turn("gpt", ANSWER),
    )
    rows, _, report = convert_raw_folder(_raw(tmp_path, [chat]))
    row = rows["supervised"][0]
    assert row["input_type"] == "history"
    assert [turn["role"] for turn in row["history"]] == ["user", "assistant", "user"]
    assert row["freestyle_input"] == "holding fruit, watercolour"  # the last user turn
    assert not any(ANSWER["prompt"] in turn["content"] for turn in row["history"])


def test_a_key_map_path_reaches_through_nested_json_text(tmp_path):
    inner = {"answer": json.dumps({"prompt": "p", "model": "m", "args": {"steps": 9}})}
    record = {"id": "k1", "question": "q", "payload": json.dumps(inner)}
    key_map = {
        "fields": {
            "prompt": ["payload.answer.prompt"],
            "model": ["payload.answer.model"],
            "arguments": ["payload.answer.args"],
        }
    }
    rows, _, _ = convert_raw_folder(_raw(tmp_path, [record]), key_map=key_map)
    row = rows["supervised"][0]
    assert (row["prompt"], row["model"], row["arguments"]["steps"]) == ("p", "m", 9)


def test_text_that_only_looks_like_json_leaves_the_path_to_the_next_candidate(tmp_path):
    record = _sharegpt(
        "s3", _turn("human", "hi"), _turn("gpt", "{not json: really"), _turn("gpt", ANSWER)
    )
    fields = {name: [f"conversations.1.value.{name}", f"conversations.2.value.{name}"]
              for name in ("prompt", "model", "parameters")}  # fmt: skip
    fields["arguments"] = fields.pop("parameters")
    rows, _, _ = convert_raw_folder(_raw(tmp_path, [record]), key_map={"fields": fields})
    assert rows["supervised"][0]["prompt"] == ANSWER["prompt"]  # from the second candidate


def test_json_text_over_the_bound_is_refused_naming_record_and_field(tmp_path, monkeypatch):
    monkeypatch.setattr(official, "MAX_FIELD_JSON_CHARS", 200)
    big = {**ANSWER, "prompt": "x" * 300}
    root = _raw(tmp_path, [_sharegpt("s4", _turn("human", "hi"), _turn("gpt", big))])
    with pytest.raises(KeyMapError) as caught:
        convert_raw_folder(root)
    text = str(caught.value)
    assert "Supervised/test.json" in text and "record 1" in text
    assert "field conversations.-1.value: JSON text of" in text and "not parsed" in text


def test_arguments_held_as_json_text_are_bounded_too(tmp_path, monkeypatch):
    monkeypatch.setattr(official, "MAX_FIELD_JSON_CHARS", 200)
    record = {"id": "a1", "query": "q", "prompt": "p", "model": "m",
              "parameters": json.dumps({"steps": 20, "note": "y" * 300})}  # fmt: skip
    with pytest.raises(KeyMapError, match="field arguments: JSON text of"):
        convert_raw_folder(_raw(tmp_path, [record]))


def test_json_text_holding_a_lone_surrogate_is_refused_with_its_field(tmp_path):
    answer = json.dumps(ANSWER).replace("a tabby cat", "a tabby \\ud800 cat")
    root = _raw(tmp_path, [_sharegpt("s5", _turn("human", "hi"), _turn("gpt", answer))])
    with pytest.raises(
        KeyMapError, match=r"field conversations\.-1\.value \(JSON text\).*surrogate"
    ):
        convert_raw_folder(root)


def test_inspect_offers_the_command_for_a_sharegpt_release(tmp_path, capsys):
    root = _raw(tmp_path, [_sharegpt("s1", _turn("human", "a cat"), _turn("gpt", ANSWER))])
    assert main(["prepare", "--inspect", str(root)]) == 0
    text = capsys.readouterr().out
    assert "    prompt <- conversations.-1.value.prompt (1) of 1" in text
    assert f"to convert:\n    chatgenbench prepare --source {root} --out BENCHMARK_DIR" in text


@pytest.mark.parametrize(
    "problem",
    ["oversized_json_text", "unreadable_file", "image_of_the_wrong_type", "no_data"],
)
def test_inspect_never_offers_a_command_that_would_stop(tmp_path, capsys, monkeypatch, problem):
    monkeypatch.setattr(official, "MAX_FIELD_JSON_CHARS", 200)
    good = _sharegpt("s1", _turn("human", "a cat"), _turn("gpt", ANSWER))
    records = [good]
    if problem == "oversized_json_text":
        records.append(
            _sharegpt("s2", _turn("human", "hi"), _turn("gpt", {**ANSWER, "prompt": "x" * 300}))
        )
    if problem == "image_of_the_wrong_type":
        records.append({**good, "id": "s3", "image": 42})
    root = _raw(tmp_path, records)
    if problem == "unreadable_file":
        (root / "Supervised" / "broken.jsonl").write_text("{not json\n")
    if problem == "no_data":
        (root / "Supervised" / "test.json").unlink()
    assert main(["prepare", "--inspect", str(root)]) == 0  # inspection never stops on these
    text = capsys.readouterr().out
    assert "\nto convert:" not in text and "chatgenbench prepare --source" not in text
    assert "not ready to convert: conversion would stop here:" in text
    report = inspect_raw_folder(root)
    assert report["command"] is None and report["would_stop"]
    # and it would indeed stop
    assert main(["prepare", "--source", str(root), "--out", str(tmp_path / "bench")]) == 2
