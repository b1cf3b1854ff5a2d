"""ChatGen-Evo's three stages on a synthetic benchmark, with a tiny GPT-2 selector."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from baselines.chatgen_evo import ARGUMENT_INSTRUCTION, ChatGenEvoAdapter, arguments_question
from baselines.model_tokens import train_model_tokens_cli
from baselines.readable_text import chat_as_prompt
from baselines.voting import majority_arguments, most_common
from chatgenbench.benchmark.loading import load_benchmark, load_benchmark_catalog
from chatgenbench.predictions.adapters import run_adapter, sidecar_paths
from chatgenbench.predictions.validation import validate_predictions
from tests.tiny_models import ScriptedChat, tiny_causal_lm, word_tokenizer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from chatgenbench.benchmark.synth import write_synthetic

    root = tmp_path_factory.mktemp("evo")
    bench = root / "bench"
    write_synthetic(bench, 60, seed=7, train_rows=900, n_models=12)
    rows = [
        r for s in ("supervised", "few_shot", "train") for r in load_benchmark(s, bench).to_list()
    ]
    tokenizer = word_tokenizer(
        [chat_as_prompt(r) + " " + r["prompt"] for r in rows], extra=("Request Prompt Model :",)
    )
    tiny_causal_lm(tokenizer, root / "base", hidden=64, seed=1)
    args = argparse.Namespace(
        benchmark=str(bench),
        base=str(root / "base"),
        out=str(root / "tokens"),
        epochs=30,
        lr=0.05,
        batch_size=64,
        max_rows=None,
        max_length=128,
        device="cpu",
        seed=0,
        trust_remote_code=False,
        no_progress=True,
    )
    assert train_model_tokens_cli(args) == 0
    return bench, root


def _stage_answers(bench):
    """A scripted chat model: a perfect stage 1, and stage 3 echoing the first demonstration's sampler."""
    tests = [r for s in ("supervised", "few_shot") for r in load_benchmark(s, bench).to_list()]

    def user_turns(row):
        return [t["content"] for t in row["history"]] or [row["freestyle_input"]]

    def answer(question: str, history) -> str:
        if question.startswith(ARGUMENT_INSTRUCTION.split("{")[0]):
            shown = [json.loads(m) for m in re.findall(r"Arguments: (\{.*\})", question)]
            return json.dumps({"sampler": shown[0]["sampler"], "steps": 11})
        asked = [q for q, _ in history or []] + [question]
        row = next(
            r
            for r in tests
            if len(user_turns(r)) == len(asked)
            and all(a.endswith(t) for a, t in zip(asked, user_turns(r)))
        )
        return json.dumps({"prompt": row["prompt"], "negativePrompt": "lowres"})

    return answer


def test_three_stages_in_context(setup, tmp_path):
    bench, root = setup
    chat_model = ScriptedChat(_stage_answers(bench))
    adapter = ChatGenEvoAdapter(
        selector_checkpoint=str(root / "base"),
        model_tokens=str(root / "tokens"),
        chat_model=chat_model,
        tokenizer=None,
        n_demonstrations=4,
    )
    out = run_adapter(adapter, bench, tmp_path / "pred.jsonl", setting="supervised", progress=False)
    rows = load_benchmark("supervised", bench).to_list()
    report = validate_predictions(out, [r["id"] for r in rows], load_benchmark_catalog(bench))
    assert report.ok
    predictions = report.predictions
    # stage 1: the chat model's prompt is the prediction's prompt
    assert all(predictions[r["id"]].prompt == r["prompt"] for r in rows)
    # stage 2: ModelTokens selection beats chance (1/12) and the majority model clearly
    accuracy = sum(predictions[r["id"]].model == r["model"] for r in rows) / len(rows)
    majority = most_common([r["model"] for r in load_benchmark("train", bench).to_list()])
    baseline = sum(r["model"] == majority for r in rows) / len(rows)
    assert accuracy > max(3 / 12, baseline), (accuracy, baseline)
    # stage 3: every demonstration shown belongs to the chosen model
    train = load_benchmark("train", bench).to_list()
    model_of_text = {}
    for r in train:
        model_of_text.setdefault(chat_as_prompt(r), set()).add(r["model"])
    stage3 = [c for c in chat_model.calls if c["question"].startswith("You choose")]
    assert len(stage3) == len(rows)
    for call in stage3:
        chosen = re.search(r"text-to-image model (\S+)\.", call["question"]).group(1)
        shown = re.findall(r"Request: (.*)\nArguments: \{", call["question"])
        assert shown and all(chosen in model_of_text[text] for text in shown)
    # the answered keys are used, the rest come from the demonstrations' majority (and are noted)
    assert all(predictions[r["id"]].arguments["steps"] == 11 for r in rows)
    notes = [json.loads(line) for line in sidecar_paths(out)["notes"].read_text().splitlines()]
    assert len(notes) == len(rows) and all("majority" in n["notes"][-1] for n in notes)
    assert adapter.describe()["counts"]["stage3_in_context_filled"] == len(rows)


def test_majority_mode_needs_no_llm_for_arguments(setup, tmp_path):
    bench, root = setup
    chat_model = ScriptedChat(_stage_answers(bench))
    adapter = ChatGenEvoAdapter(
        selector_checkpoint=str(root / "base"),
        model_tokens=str(root / "tokens"),
        chat_model=chat_model,
        arguments_mode="majority",
    )
    adapter.prepare(bench)
    rows = load_benchmark("few_shot", bench).to_list()[:10]
    predictions = adapter.predict(rows)
    assert not any(c["question"].startswith("You choose") for c in chat_model.calls)
    for row, prediction in zip(rows, predictions):
        demos = adapter._demonstrations(row["id"], prediction["model"])
        if demos:
            expected = majority_arguments([adapter._split.arguments[i] for i in demos])
        else:
            assert "no train demonstration" in prediction["_notes"]["notes"][-1]
            continue
        assert prediction["arguments"] == expected


def test_missing_weights_and_mismatched_tokens_are_clear_errors(setup, tmp_path):
    bench, root = setup
    with pytest.raises(ValueError, match="prompt_checkpoint.*selector_checkpoint.*model_tokens"):
        ChatGenEvoAdapter().prepare(bench)
    tokenizer = word_tokenizer(["a b c"])
    tiny_causal_lm(tokenizer, tmp_path / "other", hidden=32)
    with pytest.raises(ValueError, match="trained on another base"):
        ChatGenEvoAdapter(
            selector_checkpoint=str(tmp_path / "other"),
            model_tokens=str(root / "tokens"),
            chat_model=ScriptedChat(lambda q, h: ""),
        ).prepare(bench)


def test_arguments_question_layout():
    question = arguments_question("m_v1", [("a cat", {"steps": 20, "sampler": None})], "a dog")
    assert question.endswith(
        'Request: a cat\nArguments: {"steps": 20}\n\nRequest: a dog\nArguments:'
    )
    assert "m_v1" in question
