"""ChatGen-Base: conversation layout, tiles, parsing into predictions, and the whole adapter."""

from __future__ import annotations

import io
import json

import pytest

from baselines.chatgen_base import ChatGenBaseAdapter, answer_to_prediction
from baselines.internvl import (
    build_conversation,
    image_tiles,
    load_chat_model,
    system_prompts,
    tile_grid,
)
from baselines.registry import build_adapter
from baselines.row_chat import row_seed
from chatgenbench.benchmark.catalog import sample_catalog
from chatgenbench.benchmark.loading import load_benchmark
from chatgenbench.predictions.adapters import run_adapter, sidecar_paths
from chatgenbench.predictions.validation import validate_predictions
from tests.tiny_models import (
    ScriptedChat,
    TinyChat,
    tiny_causal_lm,
    word_tokenizer,
    write_remote_code_chat_model,
)

PROMPTS = system_prompts()


def _png(width: int, height: int) -> dict:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def test_published_system_prompts_are_shipped():
    assert "user requirements translation expert" in PROMPTS["text"]
    assert "reference images" in PROMPTS["image"]
    assert "reference images" not in PROMPTS["text"]
    assert "ChatGen-Base" in PROMPTS["source"]


@pytest.mark.parametrize(
    ("size", "max_tiles", "grid"),
    [
        ((448, 448), 6, (1, 1)),
        ((1000, 500), 6, (2, 1)),
        ((500, 1500), 6, (1, 3)),
        ((4000, 100), 4, (4, 1)),
    ],
)
def test_tile_grid_follows_the_aspect_ratio(size, max_tiles, grid):
    assert tile_grid(*size, max_tiles) == grid


def test_image_tiles_shape_and_thumbnail():
    from PIL import Image

    tiles = image_tiles(Image.new("RGB", (1000, 500), (255, 0, 0)), max_tiles=6)
    assert tuple(tiles.shape) == (3, 3, 448, 448)  # 2x1 grid + thumbnail
    red = (1.0 - 0.485) / 0.229
    assert abs(float(tiles[0, 0].mean()) - red) < 1e-3
    assert tuple(image_tiles(Image.new("RGB", (300, 300)), 6).shape) == (1, 3, 448, 448)


def test_single_input_prefixes_the_text_system_prompt():
    c = build_conversation({"input_type": "single", "freestyle_input": "a cat"}, PROMPTS)
    assert c.question == PROMPTS["text"] + "a cat"
    assert c.history == [] and c.pixel_values is None and c.system_prompt == "text"


def test_multimodal_input_gets_tiles_and_placeholders():
    row = {
        "input_type": "multimodal",
        "freestyle_input": "like these",
        "reference_images": [_png(1000, 500), _png(64, 64)],
    }
    c = build_conversation(row, PROMPTS, max_tiles=6)
    assert c.system_prompt == "image"
    assert c.question == PROMPTS["image"] + "Image-1: <image>\nImage-2: <image>\nlike these"
    assert c.num_patches_list == [3, 1]
    assert tuple(c.pixel_values.shape) == (4, 3, 448, 448)
    missing = build_conversation({"input_type": "multimodal", "freestyle_input": "x"}, PROMPTS)
    assert (
        missing.system_prompt == "text" and "without a readable reference image" in missing.notes[0]
    )


def test_history_becomes_dialogue_turns():
    row = {
        "input_type": "history",
        "freestyle_input": "Put it at sunset.",
        "history": [
            {"role": "user", "content": "Draw a fox."},
            {"role": "assistant", "content": "Which style?"},
            {"role": "user", "content": "Make it anime."},
            {"role": "user", "content": "Put it at sunset."},
        ],
    }
    c = build_conversation(row, PROMPTS)
    assert c.history == [(PROMPTS["text"] + "Draw a fox.", "Which style?"), ("Make it anime.", "")]
    assert c.question == "Put it at sunset."


def test_answer_to_prediction_parsed_and_unparsed():
    catalog = sample_catalog()
    good = json.dumps(
        {
            "prompt": "a knight",
            "negativePrompt": "blurry",
            "model": "rawxs_v2.safetensors",
            "parameters": {
                "sampler": "Euler a",
                "steps": 20,
                "cfgScale": 7,
                "width": 512,
                "height": 512,
            },
        }
    )
    prediction = answer_to_prediction("x", good, catalog)
    assert prediction == {
        "id": "x",
        "prompt": "a knight",
        "negative_prompt": "blurry",
        "model": "rawXs_v2",
        "arguments": {
            "sampler": "Euler a",
            "steps": 20,
            "cfg_scale": 7.0,
            "width": 512,
            "height": 512,
        },
    }
    bad = answer_to_prediction("y", "I am not sure.", catalog)
    assert bad["prompt"] == "" and bad["model"] == "" and bad["arguments"] == {}
    assert bad["_notes"]["status"] == "unparsed" and bad["_notes"]["raw"] == "I am not sure."


def test_no_checkpoint_is_a_clear_error():
    with pytest.raises(ValueError, match="needs a checkpoint"):
        ChatGenBaseAdapter().prepare("sample")


def test_scripted_model_through_run_adapter(tmp_path):
    rows = load_benchmark("supervised", "sample").to_list()
    by_input = {row["freestyle_input"]: row for row in rows}

    def answer(question, history):
        row = next(r for text, r in by_input.items() if question.endswith(text))
        if row["id"] == "sample-0003":
            return "Sorry, I cannot do that."
        return json.dumps(
            {
                "prompt": row["prompt"],
                "negativePrompt": "",
                "model": row["model"],
                "parameters": {
                    "Size": f"{row['arguments']['width']}x{row['arguments']['height']}",
                    "sampler": row["arguments"]["sampler"],
                    "steps": row["arguments"]["steps"],
                    "cfgScale": row["arguments"]["cfg_scale"],
                },
            }
        )

    adapter = ChatGenBaseAdapter(chat_model=ScriptedChat(answer), tokenizer=None)
    out = run_adapter(adapter, "sample", tmp_path / "pred.jsonl", progress=False)
    report = validate_predictions(
        out, [r["id"] for r in rows], sample_catalog(), allow_missing=False
    )
    assert len(report.predictions) == 12
    assert (
        sum(
            p.model == by_input[r["freestyle_input"]]["model"]
            for r in rows
            for p in [report.predictions[r["id"]]]
        )
        == 11
    )
    notes = [json.loads(line) for line in sidecar_paths(out)["notes"].read_text().splitlines()]
    assert [n["id"] for n in notes if n["status"] == "unparsed"] == ["sample-0003"]
    assert notes[[n["id"] for n in notes].index("sample-0003")]["raw"] == "Sorry, I cannot do that."
    run = json.loads(sidecar_paths(out)["run"].read_text())
    assert run["settings"]["parse_status"]["unparsed"] == 1
    assert run["settings"]["generation"] == {"max_new_tokens": 1024, "do_sample": False}


def test_tiny_random_model_end_to_end(tmp_path):
    rows = load_benchmark("supervised", "sample").to_list()
    texts = [PROMPTS["text"], PROMPTS["image"], *(r["freestyle_input"] for r in rows)]
    tokenizer = word_tokenizer(texts, extra=('{ " prompt model : }',))
    lm, tokenizer = tiny_causal_lm(tokenizer, tmp_path / "lm")
    chat_model = TinyChat(lm, tokenizer, max_new_tokens=8)
    adapter = ChatGenBaseAdapter(
        chat_model=chat_model, tokenizer=tokenizer, generation={"max_new_tokens": 8}
    )
    out = run_adapter(adapter, "sample", tmp_path / "pred.jsonl", progress=False)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == [r["id"] for r in rows]
    assert all(
        set(line) == {"id", "prompt", "negative_prompt", "model", "arguments"} for line in lines
    )
    assert len(chat_model.calls) == 12
    assert all(call["question"].startswith(PROMPTS["text"]) for call in chat_model.calls)
    # a random model's words are not an answer: each row is recorded with its raw text
    notes = [json.loads(line) for line in sidecar_paths(out)["notes"].read_text().splitlines()]
    assert len(notes) == 12 and all(isinstance(n["raw"], str) and n["raw"] for n in notes)
    # greedy decoding repeats exactly
    again = TinyChat(lm, tokenizer, max_new_tokens=8)
    adapter2 = ChatGenBaseAdapter(
        chat_model=again, tokenizer=tokenizer, generation={"max_new_tokens": 8}
    )
    out2 = run_adapter(adapter2, "sample", tmp_path / "pred2.jsonl", progress=False)
    assert out2.read_text() == out.read_text()


def test_checkpoint_loads_with_remote_code_and_runs(tmp_path):
    answer = json.dumps(
        {
            "prompt": "a cat",
            "negativePrompt": "",
            "model": "rolua",
            "parameters": {
                "sampler": "Euler a",
                "steps": 20,
                "cfg_scale": 7,
                "width": 1024,
                "height": 1024,
            },
        }
    )
    folder = write_remote_code_chat_model(tmp_path / "ckpt", answer, word_tokenizer(["a cat"]))
    model, tokenizer = load_chat_model(str(folder), device="cpu")
    assert model.chat(tokenizer, None, "q", {}) == answer
    adapter = build_adapter("chatgen-base", {"checkpoint": str(folder), "device": "cpu"})
    out = run_adapter(adapter, "sample", tmp_path / "pred.jsonl", progress=False)
    first = json.loads(out.read_text().splitlines()[0])
    assert first["model"] == "rolua" and first["arguments"]["width"] == 1024
    notes = [json.loads(line) for line in sidecar_paths(out)["notes"].read_text().splitlines()]
    # only the sample's multimodal rows (published without their images) get a note
    assert {n["id"] for n in notes} == {f"sample-{i:04d}" for i in range(7, 13)}
    assert all(n["status"] == "parsed" and "reference image" in n["notes"][0] for n in notes)


def test_row_seed_is_stable():
    assert row_seed(0, "a") == row_seed(0, "a") != row_seed(1, "a")


def test_tiles_match_torchvision_preprocessing():
    tv = pytest.importorskip("torchvision.transforms.functional")
    import numpy as np
    import torch
    from PIL import Image

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (300, 500, 3), dtype=np.uint8))
    tiles = image_tiles(image, max_tiles=4)
    columns, rows = tile_grid(500, 300, 4)
    resized = image.resize((columns * 448, rows * 448), resample=3)
    first = tv.normalize(
        tv.to_tensor(resized.crop((0, 0, 448, 448))), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    )
    assert torch.allclose(tiles[0], first, atol=1e-5)
