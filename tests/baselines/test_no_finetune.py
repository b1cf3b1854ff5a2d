"""no-finetune: the paper's Baseline, its settings, and the optional in-context LLM rewrite."""

from __future__ import annotations

import json

import pytest

from baselines.no_finetune import (
    DEFAULT_ARGUMENTS,
    REWRITE_INSTRUCTION,
    NoFinetuneAdapter,
    first_line,
    rewrite_text,
)
from baselines.readable_text import chat_as_prompt
from baselines.registry import build_adapter
from chatgenbench.predictions.adapters import (
    AdapterOptionError,
    run_adapter,
    sidecar_paths,
)
from tests.tiny_models import tiny_causal_lm, word_tokenizer


def test_chat_as_prompt_joins_user_turns():
    row = {
        "freestyle_input": "Put it at sunset.",
        "history": [
            {"role": "user", "content": "Draw a fox."},
            {"role": "assistant", "content": "Sure."},
            {"role": "user", "content": "Put it at sunset."},
        ],
    }
    assert chat_as_prompt(row) == "Draw a fox. Put it at sunset"
    assert chat_as_prompt({"freestyle_input": "  a cat "}) == "a cat"


def test_options_override_model_and_single_arguments(tmp_path):
    adapter = build_adapter(
        "no-finetune", {"model": "sd_xl_base_1.0", "arguments": {"width": 1024}}
    )
    out = run_adapter(adapter, "sample", tmp_path / "p.jsonl", progress=False)
    first = json.loads(out.read_text().splitlines()[0])
    assert first["model"] == "sd_xl_base_1.0"
    assert first["arguments"] == {**DEFAULT_ARGUMENTS, "width": 1024}
    assert not sidecar_paths(out)["notes"].exists()
    with pytest.raises(AdapterOptionError, match="did you mean 'model'"):
        build_adapter("no-finetune", {"modle": "x"})


def test_first_line():
    assert first_line('\n  Prompt: "a cat, 8k"\nmore') == "a cat, 8k"
    assert first_line("   \n ") == ""


@pytest.mark.parametrize("chat_template", [False, True])
def test_rewrite_with_a_tiny_local_llm(tmp_path, chat_template):
    from chatgenbench.benchmark.synth import write_synthetic

    bench = tmp_path / "bench"
    write_synthetic(bench, 20, seed=2, train_rows=60, n_models=10)
    tokenizer = word_tokenizer(
        [REWRITE_INSTRUCTION, "Request Prompt a cat dog anime photo , masterpiece"]
    )
    if chat_template:
        tokenizer.chat_template = (
            "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}assistant :{% endif %}"
        )
    tiny_causal_lm(tokenizer, tmp_path / "llm", hidden=32, seed=3)
    adapter = build_adapter(
        "no-finetune", {"rewriter": str(tmp_path / "llm"), "n_examples": 2, "max_new_tokens": 6}
    )
    out = run_adapter(adapter, bench, tmp_path / "p.jsonl", setting="supervised", progress=False)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    info = adapter.describe()["rewriter"]
    assert info["n_examples"] == 2 and info["examples_from"] == "train split"
    counts = info["counts"]
    assert counts.get("rewritten", 0) + counts.get("empty_rewrite", 0) == len(lines)
    from chatgenbench.benchmark.loading import load_benchmark

    rows = {r["id"]: r for r in load_benchmark("supervised", bench).to_list()}
    for line in lines:
        expected = first_line(adapter._rewrite(chat_as_prompt(rows[line["id"]])))
        assert line["prompt"] == (expected or chat_as_prompt(rows[line["id"]]))
        assert line["model"] == "v1-5-pruned-emaonly"


def test_rewrite_text_layout():
    text = rewrite_text("a dog", [("a cat", "cat, 8k")])
    assert text.startswith(REWRITE_INSTRUCTION)
    assert text.endswith("Request: a cat\nPrompt: cat, 8k\n\nRequest: a dog\nPrompt:")


def test_shipped_submission_is_reproduced(tmp_path):
    from pathlib import Path

    out = run_adapter(NoFinetuneAdapter(), "sample", tmp_path / "p.jsonl", progress=False)
    shipped = (
        Path(__file__).resolve().parents[2] / "submissions/no-finetune-sample/predictions.jsonl"
    )
    assert out.read_text() == shipped.read_text()


def test_plain_variant_needs_no_model():
    adapter = NoFinetuneAdapter()
    adapter.prepare("sample")
    assert adapter.rewriter_lm is None and "rewriter" not in adapter.describe()
