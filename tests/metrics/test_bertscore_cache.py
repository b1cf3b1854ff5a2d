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
    manifest_digest,
    ordered_texts_sha256,
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


def signed(record: dict) -> dict:
    """A hand-edited manifest with a digest that matches it (as a consistent but wrong entry)."""
    return {**record, "manifest_sha256": manifest_digest(record)}


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
    manifest.write_text(json.dumps(signed(record)), "utf-8")
    cached_scorer.score(CANDIDATES, REFERENCES)
    assert cached_scorer.last_reference_cache.state == "recomputed"
    assert "stale" in cached_scorer.last_reference_cache.reason

    record = json.loads(manifest.read_text("utf-8"))
    record["texts"][0] = "another reference"
    manifest.write_text(json.dumps(signed(record)), "utf-8")
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


def _fresh(minilm_scorer, tmp_path, references=REFERENCES):
    """Scores computed from an empty cache: what every recomputation must equal."""
    import copy

    fresh = copy.copy(minilm_scorer)
    fresh.reference_cache = tmp_path / f"fresh-{len(references)}"
    return fresh.score(CANDIDATES, references)


def _recomputed(scorer, expected, *words):
    again = scorer.score(CANDIDATES, REFERENCES)
    outcome = scorer.last_reference_cache
    assert outcome.state == "recomputed" and not outcome.used, outcome
    for word in words:
        assert word in outcome.reason, outcome.reason
    assert outcome.describe()["reason"] == outcome.reason
    assert again == pytest.approx(expected, abs=1e-6)
    scorer.score(CANDIDATES, REFERENCES)  # the entry was rewritten and is whole again
    assert scorer.last_reference_cache.state == "warm"
    return again


def _reorder(texts):
    """The same texts in another order: the first two swapped (rows of different lengths)."""
    return [texts[1], texts[0], *texts[2:]]


@pytest.mark.parametrize("resign", [False, True], ids=["as-edited", "digest-recomputed"])
def test_a_manifest_listing_the_same_texts_in_another_order_is_never_used(
    cached_scorer, tmp_path, resign
):
    expected = _fresh(cached_scorer, tmp_path)
    cached_scorer.score(CANDIDATES, REFERENCES)
    _, manifest = entry_files(cached_scorer)
    record = json.loads(manifest.read_text("utf-8"))
    record["texts"] = _reorder(record["texts"])
    if resign:  # the ordered digest too: only the rows themselves can tell
        record["texts_sha256"] = ordered_texts_sha256(record["texts"])
        record = signed(record)
    manifest.write_text(json.dumps(record), "utf-8")
    _recomputed(cached_scorer, expected, "sha256" if not resign else "order")


def test_texts_of_equal_token_counts_swapped_in_a_consistent_manifest_are_caught(
    cached_scorer, tmp_path
):
    """Swapping two texts whose rows have the same length keeps every count right: the order the
    encoder packs them in still tells, and so does the tensor file's ordered digest."""
    refs = ["a red car", "a blue car", *REFERENCES[2:]]  # two texts of one token count
    expected = _fresh(cached_scorer, tmp_path, refs)
    cached_scorer.score(CANDIDATES, refs)
    _, manifest = entry_files(cached_scorer)
    record = json.loads(manifest.read_text("utf-8"))
    texts = record["texts"]
    i, j = texts.index("a blue car"), texts.index("a red car")
    texts[i], texts[j] = texts[j], texts[i]
    record["texts_sha256"] = ordered_texts_sha256(texts)
    manifest.write_text(json.dumps(signed(record)), "utf-8")
    again = cached_scorer.score(CANDIDATES, refs)
    outcome = cached_scorer.last_reference_cache
    assert outcome.state == "recomputed" and "order" in outcome.reason, outcome
    assert again == pytest.approx(expected, abs=1e-6)


def test_a_swapped_tensor_file_is_never_used(cached_scorer, tmp_path):
    """The tensor file of another entry (other texts, same sizes or not) put in place with a
    manifest that records its sha256: its own metadata names another key and order."""
    expected = _fresh(cached_scorer, tmp_path)
    cached_scorer.score(CANDIDATES, REFERENCES)
    tensors, manifest = entry_files(cached_scorer)
    other_refs = [text.upper() for text in REFERENCES]
    cached_scorer.score(CANDIDATES, other_refs)
    other_tensors, _ = entry_files(cached_scorer)
    tensors.write_bytes(other_tensors.read_bytes())
    _recomputed(cached_scorer, expected, "sha256")
    # the same swap with the manifest's size and sha256 made to fit the swapped file
    from chatgenbench.core.storage import sha256_file

    tensors.write_bytes(other_tensors.read_bytes())
    record = json.loads(manifest.read_text("utf-8"))
    record["bytes"], record["sha256"] = tensors.stat().st_size, sha256_file(tensors)
    manifest.write_text(json.dumps(signed(record)), "utf-8")
    _recomputed(cached_scorer, expected, "another key or another order")


def test_a_manifest_whose_digest_does_not_match_is_never_used(cached_scorer, tmp_path):
    expected = _fresh(cached_scorer, tmp_path)
    cached_scorer.score(CANDIDATES, REFERENCES)
    _, manifest = entry_files(cached_scorer)
    record = json.loads(manifest.read_text("utf-8"))
    record["about"] = {"benchmark": "edited"}
    manifest.write_text(json.dumps(record), "utf-8")
    _recomputed(cached_scorer, expected, "fails its own sha256")
    record = json.loads(manifest.read_text("utf-8"))
    del record["manifest_sha256"]
    manifest.write_text(json.dumps(record), "utf-8")
    _recomputed(cached_scorer, expected, "fails its own sha256")
    manifest.write_text(json.dumps([record]), "utf-8")
    _recomputed(cached_scorer, expected, "not a JSON object")


@pytest.mark.parametrize("keep", [0, 100, -8])
def test_a_truncated_tensor_file_is_never_used_even_with_a_fitting_manifest(
    cached_scorer, tmp_path, keep
):
    from chatgenbench.core.storage import sha256_file

    expected = _fresh(cached_scorer, tmp_path)
    cached_scorer.score(CANDIDATES, REFERENCES)
    tensors, manifest = entry_files(cached_scorer)
    data = tensors.read_bytes()
    tensors.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    _recomputed(cached_scorer, expected, "size")
    tensors.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    record = json.loads(manifest.read_text("utf-8"))
    record["bytes"], record["sha256"] = tensors.stat().st_size, sha256_file(tensors)
    manifest.write_text(json.dumps(signed(record)), "utf-8")
    _recomputed(cached_scorer, expected, "cannot be read")


def test_warm_cache_with_every_candidate_a_reference_shows_no_empty_bar(cached_scorer, capsys):
    # a candidate that is also a reference needs no encoding: no "BERTScore embeddings: 0batch"
    cached_scorer.score(REFERENCES, REFERENCES)  # cold: the references' bar
    capsys.readouterr()
    cached_scorer.score(REFERENCES, REFERENCES, progress=True)
    assert cached_scorer.last_reference_cache.state == "warm"
    assert "BERTScore embeddings" not in capsys.readouterr().err
    cached_scorer.score(CANDIDATES, REFERENCES, progress=True)  # candidates to encode
    assert "BERTScore embeddings" in capsys.readouterr().err  # our own bar stays
