"""The free-text answer parser on crafted answers: well formed, damaged and hopeless."""

from __future__ import annotations

import json

import pytest

from baselines.answer_parser import parse_answer, resolve_model
from chatgenbench.benchmark.catalog import sample_catalog

FULL = {
    "prompt": "masterpiece, 1girl, robot, neon",
    "negativePrompt": "lowres, bad hands",
    "model": "rawXs_v2",
    "parameters": {
        "sampler": "DPM++ 2M Karras",
        "steps": 30,
        "cfgScale": 7,
        "width": 512,
        "height": 768,
    },
}
EXPECTED_ARGS = {
    "sampler": "DPM++ 2M Karras",
    "steps": 30,
    "cfg_scale": 7.0,
    "width": 512,
    "height": 768,
}


def _assert_full(answer, fmt: str) -> None:
    assert answer.status == "parsed", answer.notes
    assert answer.format == fmt
    assert answer.prompt == FULL["prompt"]
    assert answer.negative_prompt == FULL["negativePrompt"]
    assert answer.model == "rawXs_v2"
    assert answer.arguments == EXPECTED_ARGS


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(FULL),
        json.dumps(FULL, indent=2),
        "Sure! Here is the result:\n```json\n" + json.dumps(FULL, indent=2) + "\n```\nEnjoy.",
        "```\n" + json.dumps(FULL) + "\n```",
        "Answer: " + json.dumps(FULL) + " -- hope this helps {not json}",
    ],
)
def test_well_formed_json_in_any_wrapping(text):
    _assert_full(parse_answer(text), "json")


@pytest.mark.parametrize(
    "text",
    [
        # Python-style dict with single quotes and True
        str(FULL).replace("}", ", 'hires': True}", 1),
        # trailing commas
        json.dumps(FULL, indent=2)
        .replace('"height": 768', '"height": 768,')
        .replace('"model": "rawXs_v2"', '"model": "rawXs_v2",'),
        # curly quotes
        json.dumps(FULL).replace('"', "\u201c", 1).replace('"prompt"', '"prompt\u201d', 1),
        # comment lines and a missing comma between lines
        json.dumps(FULL, indent=2).replace('"model"', '// chosen model\n  "model"'),
        json.dumps(FULL, indent=2).replace('",\n  "model"', '"\n  "model"'),
    ],
)
def test_damaged_json_is_repaired(text):
    answer = parse_answer(text)
    assert answer.format == "json-repaired"
    assert answer.status == "parsed", answer.notes
    assert answer.model == "rawXs_v2"
    assert answer.arguments["height"] == 768


def test_cut_off_json_keeps_what_arrived():
    text = json.dumps(FULL)[:-30]  # max_new_tokens ended mid-object
    answer = parse_answer(text)
    assert answer.prompt == FULL["prompt"]
    assert answer.model == "rawXs_v2"
    assert answer.status in ("partial", "parsed")


def test_flat_keys_string_numbers_and_size():
    text = json.dumps(
        {
            "Prompt": "a cat",
            "negative_prompt": "",
            "Model": "Small_Mostersv2.safetensors",
            "Sampler": "euler a",
            "Steps": "25",
            "CFG scale": "6.5",
            "Size": "640x896",
        }
    )
    answer = parse_answer(text)
    assert answer.status == "parsed"
    assert answer.arguments == {
        "sampler": "Euler a",
        "steps": 25,
        "cfg_scale": 6.5,
        "width": 640,
        "height": 896,
    }
    assert answer.negative_prompt == ""


def test_a1111_parameter_text():
    text = (
        "Prompt: masterpiece, best quality, a knight\n"
        "Negative prompt: lowres, blurry\n"
        "Steps: 28, Sampler: DPM++ SDE Karras, CFG scale: 7.5, Seed: 42, Size: 512x768, "
        "Model: devlishphotorealism_v40\n"
    )
    answer = parse_answer(text)
    assert answer.format == "labelled"
    assert answer.status == "parsed"
    assert answer.prompt == "masterpiece, best quality, a knight"
    assert answer.negative_prompt == "lowres, blurry"
    assert answer.model == "devlishphotorealism_v40"
    assert answer.arguments == {
        "sampler": "DPM++ SDE Karras",
        "steps": 28,
        "cfg_scale": 7.5,
        "width": 512,
        "height": 768,
        "seed": 42,
    }


def test_markdown_labelled_answer_with_multiline_prompt():
    text = (
        "**Prompt:** a cozy cabin,\nsnow, warm light\n\n"
        "**Negative Prompt:** people\n"
        "- **Model:** `epicdream_lullaby` (a realistic checkpoint)\n"
        "- Sampler: Euler a\n- Steps: 30 steps\n- CFG Scale: 7\n- Width: 512px\n- Height: 512px\n"
    )
    answer = parse_answer(text)
    assert answer.status == "parsed", answer.notes
    assert answer.prompt == "a cozy cabin, snow, warm light"
    assert answer.model == "epicdream_lullaby"
    assert answer.arguments["steps"] == 30 and answer.arguments["width"] == 512


def test_model_as_object_and_prompt_as_list():
    text = json.dumps({"prompt": ["a", "b"], "model": {"name": "rolua", "type": "LoRA"}})
    answer = parse_answer(text)
    assert answer.prompt == "a, b"
    assert answer.model == "rolua"
    assert answer.status == "partial"
    assert "no arguments.steps" in answer.notes


def test_out_of_range_and_unreadable_values_are_dropped_with_notes():
    text = json.dumps(
        {"prompt": "x", "model": "rolua", "steps": 100000, "cfg_scale": "lots", "width": 512.5}
    )
    answer = parse_answer(text)
    assert "steps" not in answer.arguments and "cfg_scale" not in answer.arguments
    assert "width" not in answer.arguments
    assert any("steps 100000 outside" in note for note in answer.notes)
    assert any("unreadable cfg_scale" in note for note in answer.notes)
    assert any("not an integer" in note for note in answer.notes)


def test_oversized_prompt_is_cut():
    answer = parse_answer(json.dumps({"prompt": "tag, " * 2000, "model": "rolua"}))
    assert len(answer.prompt) == 4000
    assert any("cut from" in note for note in answer.notes)


@pytest.mark.parametrize(
    "text",
    ["", "   ", None, 42, "I cannot help with that.", "{{{{", "}{", "a: b\n\nc d e"],
)
def test_hopeless_answers_are_unparsed_not_errors(text):
    answer = parse_answer(text)
    assert answer.status == "unparsed"
    assert answer.prompt is None and answer.model is None and answer.arguments == {}


def test_deeply_nested_or_huge_input_does_not_crash():
    assert parse_answer("{" * 5000 + "}" * 5000).status == "unparsed"
    answer = parse_answer("prompt: " + "x" * 200_000)
    assert answer.status == "partial"
    assert any("answer cut" in note for note in answer.notes)


def test_resolve_model_against_catalogue():
    catalog = sample_catalog()
    assert resolve_model("RAWXS_V2.safetensors", catalog) == ("rawXs_v2", "exact")
    assert resolve_model("devlishphotorealism_v4", catalog) == ("devlishphotorealism_v40", "close")
    assert resolve_model("realisticVision_v51", catalog) == ("realisticVision_v51", "unknown")
    assert resolve_model(None, catalog) == (None, "missing")
