"""The converter from official raw files, on raw-like fixtures with unfamiliar field names."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from chatgenbench.benchmark.loading import load_benchmark, load_benchmark_catalog, prepare
from chatgenbench.benchmark.official import KeyMapError, convert_raw_folder, load_key_map


def _png_bytes(color=(255, 0, 0)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def raw_folder(tmp_path):
    root = tmp_path / "ChatGenBench"
    (root / "Supervised").mkdir(parents=True)
    (root / "Few-Shot").mkdir()
    (root / "images").mkdir()
    (root / "images" / "ref1.png").write_bytes(_png_bytes())
    (root / "images" / "gt1.png").write_bytes(_png_bytes((0, 0, 255)))
    supervised = [
        {
            "id": "s1",
            "input": "Make a lifelike old hippie",
            "type": "single",
            "output": {
                "prompt": "RAW photo, hippie",
                "negativePrompt": "cartoon",
                "model": "devlishphotorealism_v40",
                "parameters": {
                    "sampler": "DPM++ SDE Karras",
                    "steps": 60,
                    "cfgScale": 7,
                    "width": "512",
                    "height": "512",
                },
            },
            "image": "../images/gt1.png",
        },
        {
            "id": "s2",
            "input": "3d cartoon of this",
            "type": "image",
            "images": ["../images/ref1.png"],
            "output": {
                "prompt": "3d cartoon",
                "model": "samaritan3dCartoon_v40SDXL",
                "parameters": json.dumps(
                    {
                        "sampler": "Euler a",
                        "steps": 30,
                        "cfgScale": 7,
                        "width": 1024,
                        "height": 1024,
                    }
                ),
            },
        },
    ]
    (root / "Supervised" / "test.json").write_text(json.dumps({"data": supervised}))
    few = [
        {
            "id": "f1",
            "conversations": [
                {"from": "human", "value": "a possum"},
                {"from": "human", "value": "holding fruit"},
            ],
            "type": "multi-turn",
            "output": {
                "prompt": "possum, fruit basket",
                "model": "rolua",
                "parameters": {
                    "sampler": "Euler a",
                    "steps": 20,
                    "cfgScale": "9",
                    "width": "896",
                    "height": "1344px",
                },
            },
        },
    ]
    (root / "Few-Shot" / "test.jsonl").write_text("\n".join(json.dumps(r) for r in few))
    (root / "6807_models_Info.csv").write_text(
        "model_name,description,base_model,type\n"
        "devlishphotorealism_v40,Photo-like,SD 1.5,Checkpoint\n"
        "samaritan3dCartoon_v40SDXL,3D cartoon,SDXL 1.0,Checkpoint\n"
        "rolua,Anime style,SDXL 1.0,LORA\n"
    )
    return root


def test_converter_maps_nested_and_messy_fields(raw_folder):
    rows, catalog, report = convert_raw_folder(raw_folder)
    assert sorted(rows) == ["few_shot", "supervised"]
    s1, s2 = rows["supervised"]
    assert s1["freestyle_input"] == "Make a lifelike old hippie"
    assert s1["negative_prompt"] == "cartoon"
    assert s1["arguments"] == {
        "sampler": "DPM++ SDE Karras",
        "steps": 60,
        "cfg_scale": 7.0,
        "width": 512,
        "height": 512,
    }
    assert s1["image"]["bytes"].startswith(b"\x89PNG")
    assert s2["input_type"] == "multimodal" and len(s2["reference_images"]) == 1
    assert s2["arguments"]["width"] == 1024  # arguments given as a JSON string
    f1 = rows["few_shot"][0]
    assert f1["input_type"] == "history"
    assert [t["content"] for t in f1["history"]] == ["a possum", "holding fruit"]
    assert f1["freestyle_input"] == "holding fruit"
    assert f1["arguments"]["height"] is None  # '1344px' is unreadable: null, and counted
    assert report["normalised"]["unreadable_height"] == 1
    assert catalog.get("rolua").kind == "lora" and catalog.get("rolua").architecture == "sdxl"
    assert report["catalog_file"] == "6807_models_Info.csv"


def test_prepared_official_folder_loads(raw_folder, tmp_path):
    out = tmp_path / "bench"
    info = prepare(raw_folder, out)
    assert info.counts == {"supervised": 2, "few_shot": 1}
    ds = load_benchmark("few_shot", out)
    assert ds[0]["id"] == "f1"
    image = load_benchmark("supervised", out)[0]["image"]
    assert image.size == (8, 8)
    assert len(load_benchmark_catalog(out)) == 3
    assert len(load_benchmark("all", out)) == 3


def test_unmappable_fields_stop_and_name_what_was_found(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    (root / "test.jsonl").write_text(json.dumps({"utterance": "hi", "answer": {"p": "x"}}) + "\n")
    with pytest.raises(KeyMapError) as caught:
        convert_raw_folder(root)
    message = str(caught.value)
    assert "freestyle_input" in message and "prompt" in message
    assert "'utterance'" in message and "'answer.p'" in message  # the fields it found
    assert "--key-map" in message


def test_key_map_override_fixes_it(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    record = {"utterance": "hi", "answer": {"p": "x", "m": "mod", "cfg": {"steps": 10}}}
    (root / "test.jsonl").write_text(json.dumps(record) + "\n")
    key_map_file = tmp_path / "map.yaml"
    key_map_file.write_text(
        "fields:\n  freestyle_input: utterance\n  prompt: [answer.p]\n  model: [answer.m]\n"
        "  arguments: [answer.cfg]\n"
    )
    rows, catalog, _ = convert_raw_folder(root, key_map=key_map_file)
    row = rows["supervised"][0]
    assert (row["freestyle_input"], row["prompt"], row["model"]) == ("hi", "x", "mod")
    assert row["arguments"]["steps"] == 10 and row["arguments"]["sampler"] is None
    assert row["id"] == "test-000000"  # no id in the raw file: stable id from file and index
    assert "mod" in catalog


def test_key_map_rejects_unknown_sections():
    with pytest.raises(KeyMapError, match="unknown key-map section"):
        load_key_map({"feilds": {}})


def test_image_paths_may_not_escape_the_raw_folder(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    (tmp_path / "secret.png").write_bytes(_png_bytes())
    record = {
        "input": "x",
        "prompt": "p",
        "model": "m",
        "arguments": {"steps": 1},
        "image": "../secret.png",
    }
    (root / "test.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(KeyMapError, match="escapes"):
        convert_raw_folder(root)


def test_unknown_input_type_is_reported(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    record = {
        "input": "x",
        "type": "telepathy",
        "prompt": "p",
        "model": "m",
        "arguments": {"steps": 1},
    }
    (root / "test.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(KeyMapError, match="telepathy"):
        convert_raw_folder(root)
