"""ModelTokens on a tiny random GPT-2: the loss falls and held-out selection beats chance."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from baselines.model_tokens import (
    ModelTokens,
    concatenated_loss,
    selection_features,
    selection_text,
    train_model_tokens,
    train_model_tokens_cli,
)
from baselines.readable_text import chat_as_prompt
from chatgenbench.benchmark.synth import synth_rows
from tests.tiny_models import tiny_causal_lm, word_tokenizer


@pytest.fixture(scope="module")
def synthetic_split():
    rows_by_config, catalog = synth_rows(120, seed=5, train_rows=900, n_models=12)
    return rows_by_config, catalog


@pytest.fixture(scope="module")
def tiny_base(synthetic_split, tmp_path_factory):
    rows_by_config, catalog = synthetic_split
    texts = [
        chat_as_prompt(r) + " " + r["prompt"] for rows in rows_by_config.values() for r in rows
    ]
    tokenizer = word_tokenizer(texts, extra=("Request Prompt Model :",))
    folder = tmp_path_factory.mktemp("base")
    lm, tokenizer = tiny_causal_lm(tokenizer, folder, hidden=64, seed=1)
    return lm, tokenizer, folder


def test_concatenated_loss_matches_cross_entropy():
    torch.manual_seed(0)
    vocab, tokens = torch.randn(4, 10), torch.randn(4, 3)
    targets = torch.tensor([0, 2, 1, 1])
    reference = torch.nn.functional.cross_entropy(torch.cat([vocab, tokens], 1), targets + 10)
    ours = concatenated_loss(tokens, torch.logsumexp(vocab, 1), targets)
    assert torch.allclose(ours, reference, atol=1e-6)


def test_features_do_not_depend_on_padding(tiny_base):
    lm, tokenizer, _ = tiny_base
    texts = [
        "Request: a cat\nPrompt: cat\nModel:",
        "Request: a much longer request about a fox in the rain\nPrompt: fox\nModel:",
    ]
    together, _ = selection_features(lm, tokenizer, texts, batch_size=2)
    alone = torch.cat([selection_features(lm, tokenizer, [t], batch_size=1)[0] for t in texts])
    assert torch.allclose(together, alone, atol=1e-4)


def test_training_lowers_the_loss_and_selects_above_chance(synthetic_split, tiny_base):
    rows_by_config, catalog = synthetic_split
    lm, tokenizer, _ = tiny_base
    before = [p.detach().clone() for p in lm.parameters()]
    train = rows_by_config["train"]
    result = train_model_tokens(
        lm,
        tokenizer,
        [chat_as_prompt(r) for r in train],
        [r["prompt"] for r in train],
        [r["model"] for r in train],
        catalog,
        epochs=30,
        lr=0.05,
        batch_size=64,
        seed=0,
    )
    assert result.n_rows == len(train) and result.n_skipped == 0
    assert result.epoch_losses[-1] < 0.7 * result.initial_loss
    assert result.epoch_losses[-1] < result.epoch_losses[0]
    # the base stayed frozen
    assert all(torch.equal(a, b) for a, b in zip(before, lm.parameters()))

    held_out = rows_by_config["supervised"]
    texts = [selection_text(chat_as_prompt(r), r["prompt"]) for r in held_out]
    hidden, _ = selection_features(lm, tokenizer, texts)
    chosen = result.tokens.select(hidden)
    accuracy = sum(result.tokens.names[c] == r["model"] for c, r in zip(chosen, held_out)) / len(
        held_out
    )
    chance = 1 / len(catalog)
    most_common = max({r["model"] for r in train}, key=[r["model"] for r in train].count)
    majority = sum(r["model"] == most_common for r in held_out) / len(held_out)
    print(
        f"held-out selection accuracy {accuracy:.3f}, chance {chance:.3f}, majority {majority:.3f}"
    )
    assert accuracy > max(3 * chance, majority), (accuracy, chance, majority)


def test_save_load_roundtrip_and_restriction(tmp_path):
    tokens = ModelTokens(["a_v1", "b_v2"], torch.tensor([[1.0, 0.0], [0.0, 1.0]]), {"base": "x"})
    tokens.save(tmp_path)
    loaded = ModelTokens.load(tmp_path)
    assert loaded.names == ["a_v1", "b_v2"] and loaded.config == {"base": "x"}
    assert torch.equal(loaded.embeddings, tokens.embeddings)
    hidden = torch.tensor([[2.0, 1.0]])
    assert loaded.select(hidden) == [0]
    assert loaded.select(hidden, allowed=torch.tensor([False, True])) == [1]
    assert loaded.index("B_V2.safetensors") == 1
    with pytest.raises(FileNotFoundError, match="train-modeltokens"):
        ModelTokens.load(tmp_path / "nothing")


def test_cli_trains_and_writes_a_folder(synthetic_split, tiny_base, tmp_path, capsys):
    from chatgenbench.benchmark.folder import write_benchmark_folder

    rows_by_config, catalog = synthetic_split
    bench = tmp_path / "bench"
    write_benchmark_folder(bench, rows_by_config, catalog, source="synthetic test", synthetic=True)
    _, _, base = tiny_base
    args = argparse.Namespace(
        benchmark=str(bench),
        base=str(base),
        out=str(tmp_path / "tokens"),
        epochs=2,
        lr=0.05,
        batch_size=64,
        max_rows=300,
        max_length=64,
        device="cpu",
        seed=0,
        trust_remote_code=False,
        no_progress=True,
    )
    assert train_model_tokens_cli(args) == 0
    config = json.loads((tmp_path / "tokens" / "model_tokens.json").read_text())
    assert config["training"]["rows"] == 300 and len(config["names"]) == len(catalog)
    assert config["benchmark"]["synthetic"] is True
    assert len(config["training"]["epoch_losses"]) == 2
    assert "trained 12 model tokens" in capsys.readouterr().out
