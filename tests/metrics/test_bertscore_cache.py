"""The cached reference side of BERTScore: the same F1 as bare bert-score, and never a stale entry."""

from __future__ import annotations

import json

import pytest
import torch

from chatgenbench.metrics.bertscore import resolve_encoder
from chatgenbench.metrics.bertscore_cache import (
    CACHE_ENV,
    ReferenceEmbeddingCache,
    cache_key,
    key_fields,
)

CANDIDATES = [
    "Fantz cartoon monster, bee design, ultra detailed",
    "RAW photo, german hippie, 72yo, outdoors, film grain",
    "a car",
    "neon sign of a girl with a guitar",
    "pirate punk car design, dramatic lighting",  # the same text as a reference
    "a car",  # a candidate repeated
]
REFERENCES = [
    "Fantz cartoon monster|bee design, ultra detailed, random colors, masterpiece",
    "RAW photo, 8k UHD, high detailed skin, handsome german hippie, 72yo, braid, outdoors",
    "pirate punk car design, dramatic lighting",
    "neon sign style, a girl playing guitar, glowing lines",
    "pirate punk car design, dramatic lighting",  # a reference repeated
    "a red sports car on a mountain road, golden hour",
]


@pytest.fixture()
def cached_scorer(minilm_scorer, tmp_path, monkeypatch):
    """The session's MiniLM scorer with its reference cache in a folder of this test."""
    monkeypatch.setattr(minilm_scorer, "reference_cache", tmp_path / "refs")
    return minilm_scorer


def entry_files(scorer):
    key = scorer.last_reference_cache.key
    return ReferenceEmbeddingCache(scorer.reference_cache).paths(key)


def test_cold_and_warm_match_bare_bert_score(cached_scorer):
    from bert_score import score

    setting = resolve_encoder("minilm")
    _, _, reference = score(
        CANDIDATES, REFERENCES, model_type=setting.model_type, num_layers=6, batch_size=2
    )
    cold = cached_scorer.score(CANDIDATES, REFERENCES)
    assert cached_scorer.last_reference_cache.state == "cold"
    assert not cached_scorer.last_reference_cache.used
    assert cached_scorer.last_reference_cache.n_references == len(set(REFERENCES))
    tensors, manifest = entry_files(cached_scorer)
    assert tensors.is_file() and manifest.is_file()
    warm = cached_scorer.score(CANDIDATES, REFERENCES)
    assert cached_scorer.last_reference_cache.state == "warm"
    assert cached_scorer.last_reference_cache.used
    assert torch.allclose(torch.tensor(cold), reference, atol=1e-6, rtol=0)
    assert torch.allclose(torch.tensor(warm), reference, atol=1e-6, rtol=0)
    # the candidate equal to its reference scores 1, the others less
    assert warm[4] == pytest.approx(1.0, abs=1e-6) and max(warm[:4]) < 0.999


def test_other_references_or_setting_get_another_key(minilm_scorer):
    scorer = minilm_scorer.scorer
    fields = key_fields(scorer, minilm_scorer.setting)
    assert fields["encoder"] == "minilm" and fields["num_layers"] == 6
    assert fields["max_length"] > 0 and fields["dtype"] == "float32"
    assert "model.safetensors" in fields["model"]["local_files"]
    key = cache_key(fields, REFERENCES)
    assert cache_key(fields, list(reversed(REFERENCES))) == key  # the set of texts, not the order
    assert cache_key(fields, REFERENCES[:-1]) != key
    assert cache_key({**fields, "num_layers": 5}, REFERENCES) != key
    assert cache_key({**fields, "rescale_with_baseline": True}, REFERENCES) != key


def test_a_corrupted_tensor_file_is_never_used(cached_scorer):
    expected = cached_scorer.score(CANDIDATES, REFERENCES)
    tensors, _ = entry_files(cached_scorer)
    data = bytearray(tensors.read_bytes())
    data[-5] ^= 0xFF  # one flipped bit pattern inside the embeddings
    tensors.write_bytes(bytes(data))
    again = cached_scorer.score(CANDIDATES, REFERENCES)
    outcome = cached_scorer.last_reference_cache
    assert outcome.state == "recomputed" and "sha256" in outcome.reason
    assert again == pytest.approx(expected, abs=1e-6)
    cached_scorer.score(CANDIDATES, REFERENCES)  # the entry was rewritten
    assert cached_scorer.last_reference_cache.state == "warm"


def test_a_truncated_file_or_stale_manifest_is_never_used(cached_scorer):
    expected = cached_scorer.score(CANDIDATES, REFERENCES)
    tensors, manifest = entry_files(cached_scorer)
    tensors.write_bytes(tensors.read_bytes()[:100])
    again = cached_scorer.score(CANDIDATES, REFERENCES)
    assert cached_scorer.last_reference_cache.state == "recomputed"
    assert "size" in cached_scorer.last_reference_cache.reason
    assert again == pytest.approx(expected, abs=1e-6)

    record = json.loads(manifest.read_text("utf-8"))
    record["fields"]["transformers_version"] = "0.0.1"  # made by another library version
    manifest.write_text(json.dumps(record), "utf-8")
    cached_scorer.score(CANDIDATES, REFERENCES)
    assert cached_scorer.last_reference_cache.state == "recomputed"
    assert "stale" in cached_scorer.last_reference_cache.reason

    record = json.loads(manifest.read_text("utf-8"))
    record["texts"][0] = "another reference"
    manifest.write_text(json.dumps(record), "utf-8")
    cached_scorer.score(CANDIDATES, REFERENCES)
    assert "other reference texts" in cached_scorer.last_reference_cache.reason


def test_the_cache_can_be_turned_off(minilm_scorer, monkeypatch, tmp_path):
    monkeypatch.setattr(minilm_scorer, "reference_cache", None)
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path))
    monkeypatch.setenv(CACHE_ENV, "0")
    off = minilm_scorer.score(CANDIDATES, REFERENCES)
    assert minilm_scorer.last_reference_cache.state == "off"
    assert not (tmp_path / "bertscore-references").exists()
    monkeypatch.delenv(CACHE_ENV)
    on = minilm_scorer.score(CANDIDATES, REFERENCES)  # the default: on, under $CHATGENBENCH_HOME
    assert minilm_scorer.last_reference_cache.state == "cold"
    assert (tmp_path / "bertscore-references").is_dir()
    assert on == pytest.approx(off, abs=1e-6)


def test_evaluate_records_whether_the_cache_was_used(tmp_path, sample_rows):
    from chatgenbench import evaluate
    from tests.conftest import perfect_prediction, write_jsonl

    rows = [perfect_prediction(r) for r in sample_rows]
    for row in rows:
        row["prompt"] = row["prompt"].split(",")[0]  # not perfect: scores below 1
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    kwargs = dict(progress=False, reference_cache=tmp_path / "refs")
    cold = evaluate(path, "sample", **kwargs)
    warm = evaluate(path, "sample", **kwargs)
    off = evaluate(path, "sample", progress=False, reference_cache=False)
    states = [r["metric_settings"]["bertscore"]["reference_cache"] for r in (cold, warm, off)]
    assert [s["state"] for s in states] == ["cold", "warm", "off"]
    assert [s["used"] for s in states] == [False, True, False]
    values = [r["overall"]["stepwise"]["prompt_bertscore"]["value"] for r in (cold, warm, off)]
    assert values[0] < 0.999
    assert values[1] == pytest.approx(values[0], abs=1e-6)
    assert values[2] == pytest.approx(values[0], abs=1e-6)


def test_empty_candidates_do_not_change_the_reference_entry(cached_scorer):
    """A submission with empty prompts reuses the entry of one without: the key is the references'."""
    from bert_score import score

    cached_scorer.score(CANDIDATES, REFERENCES)
    full_key = cached_scorer.last_reference_cache.key
    candidates = ["", *CANDIDATES[1:4], "   ", CANDIDATES[5]]
    f1 = cached_scorer.score(candidates, REFERENCES)
    assert cached_scorer.last_reference_cache.state == "warm"
    assert cached_scorer.last_reference_cache.key == full_key
    assert f1[0] == 0.0 and f1[4] == 0.0
    setting = resolve_encoder("minilm")
    kept = [1, 2, 3, 5]
    _, _, reference = score(
        [candidates[i] for i in kept],
        [REFERENCES[i] for i in kept],
        model_type=setting.model_type,
        num_layers=6,
        batch_size=2,
    )
    assert [f1[i] for i in kept] == pytest.approx(reference.tolist(), abs=1e-6)
