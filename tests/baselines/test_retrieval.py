"""The retrieval baseline: zero-shot on the sample, neighbours on a synthetic train split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from baselines.architecture_defaults import DEFAULT_ARGUMENTS_BY_ARCHITECTURE
from baselines.readable_text import readable_model_name
from baselines.registry import build_adapter
from baselines.retrieval import RetrievalAdapter
from chatgenbench.benchmark.catalog import sample_catalog
from chatgenbench.benchmark.loading import load_benchmark
from chatgenbench.predictions.adapters import run_adapter
from chatgenbench.predictions.validation import validate_predictions


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from chatgenbench.benchmark.synth import write_synthetic

    folder = tmp_path_factory.mktemp("synth") / "bench"
    write_synthetic(folder, 80, seed=3, train_rows=700, n_models=12)
    return folder


def test_readable_model_name():
    assert readable_model_name("samaritan3dCartoon_v40SDXL") == "samaritan3d Cartoon v40SDXL"
    assert readable_model_name("lucy_(cyberpunk)_v10") == "lucy (cyberpunk) v10"


def test_sample_zero_shot_matches_descriptions(tmp_path):
    adapter = build_adapter("retrieval", {"cache_dir": str(tmp_path / "cache")})
    out = run_adapter(adapter, "sample", tmp_path / "pred.jsonl", progress=False)
    rows = load_benchmark("supervised", "sample").to_list()
    report = validate_predictions(out, [r["id"] for r in rows], sample_catalog())
    assert report.ok and len(report.predictions) == 12
    catalog = sample_catalog()
    for prediction in report.predictions.values():
        architecture = catalog.get(prediction.model).architecture
        expected = DEFAULT_ARGUMENTS_BY_ARCHITECTURE[architecture]
        assert prediction.arguments == expected
    assert adapter.describe()["mode"] == "catalog"
    # the neon-sign request finds the neon-sign LoRA by its description alone
    assert report.predictions["sample-0010"].model == "PE_NeonSignStyle"
    assert report.predictions["sample-0002"].prompt == rows[1]["freestyle_input"]
    # the shipped submission is exactly what the README's command writes
    shipped = Path(__file__).resolve().parents[2] / "submissions/retrieval-sample/predictions.jsonl"
    assert out.read_text() == shipped.read_text()


def test_default_arguments_are_settings():
    adapter = RetrievalAdapter(default_arguments={"sdxl": {"steps": 25}})
    assert adapter.default_arguments["sdxl"]["steps"] == 25
    assert adapter.default_arguments["sdxl"]["width"] == 1024
    with pytest.raises(ValueError, match="unknown architecture"):
        RetrievalAdapter(default_arguments={"sd3": {}})
    with pytest.raises(ValueError, match="mode"):
        RetrievalAdapter(mode="magic")


def test_neighbours_beat_the_majority_model_and_cache_embeddings(synthetic, tmp_path):
    cache = tmp_path / "cache"
    adapter = RetrievalAdapter(k=8, cache_dir=str(cache), progress=False)
    out = run_adapter(
        adapter, synthetic, tmp_path / "pred.jsonl", setting="supervised", progress=False
    )
    info = adapter.describe()
    assert info["mode"] == "neighbours" and info["train_rows"] == 700
    assert info["embedding_cache_hit"] is False
    assert len(list(cache.glob("*.npy"))) == 1

    rows = load_benchmark("supervised", synthetic).to_list()
    train_models = load_benchmark("train", synthetic)["model"]
    majority = Counter(train_models).most_common(1)[0][0]
    report = validate_predictions(
        out,
        [r["id"] for r in rows],
        __import__("chatgenbench.benchmark.loading", fromlist=["x"]).load_benchmark_catalog(
            synthetic
        ),
    )
    assert report.ok
    hits = sum(report.predictions[r["id"]].model == r["model"] for r in rows) / len(rows)
    majority_hits = sum(r["model"] == majority for r in rows) / len(rows)
    assert hits > majority_hits + 0.1, (hits, majority_hits)
    # arguments: the chosen model's usual sampler, so config accuracy beats a fixed guess
    sampler_hits = sum(
        report.predictions[r["id"]].arguments.get("sampler") == r["arguments"]["sampler"]
        for r in rows
    ) / len(rows)
    assert sampler_hits > 0.3
    # the prompt starts with the user's words and adds the model's house tags
    first = report.predictions[rows[0]["id"]]
    assert first.prompt.startswith(
        rows[0]["freestyle_input"] or rows[0]["history"][0]["content"][:5]
    )

    again = RetrievalAdapter(k=8, cache_dir=str(cache), progress=False)
    again.prepare(synthetic)
    assert again.describe()["embedding_cache_hit"] is True
    batch = rows[:16]
    assert again.predict(batch) == adapter.predict(batch)


def test_neighbours_mode_without_train_split_is_a_clear_error():
    from chatgenbench.benchmark.loading import BenchmarkError

    with pytest.raises(BenchmarkError, match="needs a train split"):
        RetrievalAdapter(mode="neighbours").prepare("sample")
