from __future__ import annotations

import json

import datasets
import pytest

from chatgenbench import load_benchmark
from chatgenbench.benchmark.loading import (
    BenchmarkError,
    load_benchmark_catalog,
    prepare,
    resolve_source,
    sample_records,
)
from chatgenbench.benchmark.schema import benchmark_features


def test_sample_has_the_twelve_paper_records(sample_rows):
    ds = load_benchmark("supervised", "sample")
    assert isinstance(ds, datasets.Dataset)
    assert ds.features == benchmark_features()
    assert len(sample_rows) == 12
    assert [r["id"] for r in sample_rows] == [f"sample-{i:04d}" for i in range(1, 13)]
    assert {r["setting"] for r in sample_rows} == {"supervised"}
    assert [r["input_type"] for r in sample_rows].count("multimodal") == 6
    assert all(r["source"].startswith("ChatGen paper, Figure") for r in sample_rows)


def test_sample_types_are_normalised_from_the_paper_strings(sample_rows):
    first = sample_rows[0]
    assert first["model"] == "Small_Mostersv2"
    assert first["arguments"] == {
        "sampler": "DPM++ 2S a Karras",
        "steps": 42,
        "cfg_scale": 4.0,
        "width": 600,
        "height": 600,
    }
    assert sample_records()[0]["arguments"]["width"] == "600"  # the raw record is kept verbatim
    # The figure with a model name in the sampler field is kept as the paper prints it.
    lucy = next(r for r in sample_rows if r["model"] == "lucy_(cyberpunk)_v10")
    assert lucy["arguments"]["sampler"] == "lucy_(cyberpunk)_v10"
    assert lucy["reference_images"] == [] and lucy["image"] is None


def test_sample_ids_are_stable_across_loads(sample_rows):
    again = load_benchmark("supervised", "sample")
    assert again["id"] == [r["id"] for r in sample_rows]
    assert resolve_source("sample").revision == resolve_source("sample").revision


def test_sample_has_no_few_shot_setting():
    with pytest.raises(BenchmarkError, match="only the 'supervised'"):
        load_benchmark("few_shot", "sample")
    with pytest.raises(BenchmarkError, match="unknown setting"):
        load_benchmark("fewshot", "sample")


def test_prepared_folder_loads_with_plain_datasets(tmp_path, sample_rows):
    folder = tmp_path / "bench"
    info = prepare("sample", folder)
    assert info.counts == {"supervised": 12}
    card = (folder / "README.md").read_text()
    assert "config_name: supervised" in card
    direct = datasets.load_dataset(str(folder), "supervised", split="test")
    assert direct["id"] == [r["id"] for r in sample_rows]
    assert direct[0]["arguments"]["width"] == 600
    ours = load_benchmark("supervised", folder)
    assert ours.to_list() == direct.to_list()
    assert load_benchmark_catalog(folder).names() == load_benchmark_catalog("sample").names()
    manifest = json.loads((folder / "chatgenbench.json").read_text())
    assert manifest["synthetic"] is False
    assert resolve_source(folder).revision == manifest["revision"]


def test_prepare_refuses_to_replace_a_foreign_folder(tmp_path):
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "precious.txt").write_text("x")
    with pytest.raises(BenchmarkError, match="not a benchmark folder"):
        prepare("sample", tmp_path / "keep")
    assert (tmp_path / "keep" / "precious.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".keep.")]


def test_unknown_sources_fail_clearly(tmp_path):
    with pytest.raises(BenchmarkError, match="neither"):
        resolve_source(tmp_path / "nope" / "deeper")
    with pytest.raises(BenchmarkError, match="no chatgenbench.json"):
        resolve_source(tmp_path)


def test_hub_source_goes_through_the_converter(tmp_path, monkeypatch):
    """A hub id is downloaded (here: a fixture folder) and converted once into the cache."""
    raw = tmp_path / "raw"
    (raw / "data").mkdir(parents=True)
    records = [
        {
            "idx": 1,
            "query": "a cat",
            "prompt": "cat, best quality",
            "model_name": "m1",
            "parameters": {
                "sampler_name": "Euler a",
                "steps": "20",
                "cfg_scale": 7,
                "width": "512",
                "height": 512,
            },
        },
    ]
    (raw / "data" / "supervised.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    calls = []

    def fake_download(repo_id, revision=None):
        calls.append((repo_id, revision))
        return raw

    monkeypatch.setattr("chatgenbench.benchmark.official.download_raw", fake_download)
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    ds = load_benchmark("supervised", "ChengyouJia/ChatGenBench")
    assert ds[0]["freestyle_input"] == "a cat" and ds[0]["arguments"]["steps"] == 20
    info = resolve_source("ChengyouJia/ChatGenBench")
    assert info.kind == "hub" and info.source == "ChengyouJia/ChatGenBench"
    assert calls == [("ChengyouJia/ChatGenBench", None)]  # converted once, then cached


def test_hub_unreachable_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(BenchmarkError, match="chatgenbench prepare --source"):
        load_benchmark("supervised", "ChengyouJia/ChatGenBench")


def test_two_folders_with_the_same_name_never_share_rows(tmp_path):
    """datasets' cache keys a folder by its base name; our loader reads the files themselves."""
    from chatgenbench.benchmark.synth import write_synthetic

    a = write_synthetic(tmp_path / "a" / "bench", 30, seed=1, train_rows=0, n_models=12)
    b = write_synthetic(tmp_path / "b" / "bench", 50, seed=2, train_rows=0, n_models=12)
    assert len(load_benchmark("all", a.path)) == 30
    assert len(load_benchmark("all", b.path)) == 50
    assert load_benchmark("supervised", b.path).features == benchmark_features()


def test_a_folder_changed_after_writing_is_refused(tmp_path, sample_rows):
    folder = tmp_path / "bench"
    prepare("sample", folder)
    manifest = json.loads((folder / "chatgenbench.json").read_text())
    manifest["counts"]["supervised"] = 13
    (folder / "chatgenbench.json").write_text(json.dumps(manifest))
    with pytest.raises(BenchmarkError, match="manifest says 13"):
        load_benchmark("supervised", folder)
