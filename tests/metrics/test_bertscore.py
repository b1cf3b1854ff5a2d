"""Our Prompt BERTScore against the reference package, on the same pairs."""

from __future__ import annotations

import os

import pytest
import torch

from chatgenbench.metrics import prompt_bertscore
from chatgenbench.metrics.bertscore import (
    EncoderUnavailable,
    PromptBERTScore,
    resolve_encoder,
)

CANDIDATES = [
    "Fantz cartoon monster, bee design, ultra detailed",
    "RAW photo, german hippie, 72yo, outdoors, film grain",
    "a car",
    "neon sign of a girl with a guitar",
]
REFERENCES = [
    "Fantz cartoon monster|bee design, ultra detailed, random colors, masterpiece",
    "RAW photo, 8k UHD, high detailed skin, handsome german hippie, 72yo, braid, outdoors",
    "pirate punk car design, dramatic lighting",
    "neon sign style, a girl playing guitar, glowing lines",
]


def test_minilm_matches_bert_score_score(minilm_scorer):
    from bert_score import score

    setting = resolve_encoder("minilm")
    _, _, reference_f1 = score(
        CANDIDATES, REFERENCES, model_type=setting.model_type, num_layers=6, batch_size=2
    )
    ours = minilm_scorer.score(CANDIDATES, REFERENCES)
    assert torch.allclose(torch.tensor(ours), reference_f1, atol=1e-5)
    assert prompt_bertscore(CANDIDATES, REFERENCES, encoder="minilm") == pytest.approx(
        float(reference_f1.mean()), abs=1e-5
    )
    # A prompt scores higher against its own reference than against another one.
    assert ours[1] > minilm_scorer.score([CANDIDATES[1]], [REFERENCES[2]])[0]


def test_scorer_is_persistent_and_batched(minilm_scorer):
    first = minilm_scorer.scorer
    minilm_scorer.score(CANDIDATES[:1], REFERENCES[:1])
    assert minilm_scorer.scorer is first
    assert minilm_scorer.score([], []) == []
    with pytest.raises(ValueError):
        minilm_scorer.score(["a"], [])


def test_encoder_settings_are_recorded():
    minilm = resolve_encoder("minilm").describe()
    assert minilm["encoder"] == "minilm" and minilm["num_layers"] == 6
    assert minilm["rescale_with_baseline"] is False and minilm["official"] is False
    roberta = resolve_encoder("roberta-large")
    assert roberta.num_layers == 17 and roberta.rescale_with_baseline
    assert os.path.isfile(roberta.baseline_path)  # the baseline shipped in bert-score's wheel
    assert roberta.describe()["baseline"] == "roberta-large.tsv"
    with pytest.raises(ValueError, match="unknown BERTScore encoder"):
        resolve_encoder("bert-tiny")


def test_roberta_large_unavailable_offline_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATGENBENCH_ROBERTA_LARGE", str(tmp_path / "no-such-model"))
    scorer = PromptBERTScore("roberta-large")
    with pytest.raises(EncoderUnavailable, match="CHATGENBENCH_ROBERTA_LARGE"):
        scorer.score(["a"], ["b"])


def test_roberta_large_rescaled_on_a_local_copy(tmp_path, monkeypatch):
    """The official path end to end on a tiny random RoBERTa saved locally: layer 17, rescaled."""
    from bert_score import score
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    tokenizer_dir = tmp_path / "roberta"

    words = sorted(
        {w for text in CANDIDATES + REFERENCES for w in text.lower().replace(",", " ").split()}
    )
    vocab = {tok: i for i, tok in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>", *words])}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = RobertaTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
        model_max_length=60,
    )
    config = RobertaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=17,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        pad_token_id=1,
    )
    torch.manual_seed(0)
    RobertaModel(config).save_pretrained(tokenizer_dir)
    tokenizer.save_pretrained(tokenizer_dir)
    monkeypatch.setenv("CHATGENBENCH_ROBERTA_LARGE", str(tokenizer_dir))
    setting = resolve_encoder("roberta-large")
    ours = PromptBERTScore("roberta-large").score(CANDIDATES, REFERENCES)
    _, _, reference = score(
        CANDIDATES,
        REFERENCES,
        model_type=str(tokenizer_dir),
        num_layers=17,
        rescale_with_baseline=True,
        baseline_path=setting.baseline_path,
        lang="en",
    )
    assert torch.allclose(torch.tensor(ours), reference, atol=1e-5)
