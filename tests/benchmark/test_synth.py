from __future__ import annotations

import json
from collections import Counter

import pytest

from chatgenbench import load_benchmark
from chatgenbench.benchmark.loading import load_benchmark_catalog, resolve_source
from chatgenbench.benchmark.synth import PAPER_COUNTS, synth_rows, write_synthetic


def test_small_synthetic_folder_is_labelled_everywhere(tmp_path):
    folder = tmp_path / "synth"
    info = write_synthetic(folder, 300, seed=3, train_rows=400, n_models=50)
    assert info.synthetic is True and resolve_source(folder).synthetic is True
    assert info.counts == {"supervised": 211, "few_shot": 89, "train": 400}
    manifest = json.loads((folder / "chatgenbench.json").read_text())
    assert manifest["synthetic"] is True and "SYNTHETIC" in manifest["warning"]
    assert "**This benchmark is synthetic.**" in (folder / "README.md").read_text()
    catalog = load_benchmark_catalog(folder)
    assert len(catalog) == 50 and all(entry.extra["synthetic"] for entry in catalog)
    for setting in ("supervised", "few_shot", "train"):
        ds = load_benchmark(setting, folder)
        assert all(i.startswith("synth-") for i in ds["id"])
        assert set(ds["source"]) == {"synthetic (seed 3)"}
        assert all(model in catalog for model in ds["model"])


def test_same_seed_same_data_and_other_seed_differs():
    a, _ = synth_rows(100, seed=5, train_rows=50, n_models=20)
    b, _ = synth_rows(100, seed=5, train_rows=50, n_models=20)
    c, _ = synth_rows(100, seed=6, train_rows=50, n_models=20)
    assert a == b and a != c


def test_few_shot_models_are_rare_in_train():
    rows, _ = synth_rows(400, seed=0, train_rows=5000, n_models=100)
    train_counts = Counter(r["model"] for r in rows["train"])
    for model in {r["model"] for r in rows["few_shot"]}:
        assert train_counts[model] <= 5
    frequent = Counter(r["model"] for r in rows["supervised"]).most_common(1)[0][0]
    assert train_counts[frequent] > 5


@pytest.mark.slow
def test_full_scale_counts_follow_the_paper():
    rows, catalog = synth_rows(seed=0, train_rows=0)
    assert len(catalog) == 6807
    for setting, counts in PAPER_COUNTS.items():
        assert dict(Counter(r["input_type"] for r in rows[setting])) == counts
    assert sum(len(r) for r in rows.values()) == 14564
    assert len({r["id"] for r in rows["supervised"] + rows["few_shot"]}) == 14564


def test_rows_scale_train_split_and_catalogue_by_default(tmp_path):
    from chatgenbench.benchmark.synth import PAPER_MODELS, PAPER_TRAIN_ROWS, scaled_sizes
    from chatgenbench.cli import main

    assert scaled_sizes(14564) == (PAPER_TRAIN_ROWS, PAPER_MODELS)
    assert scaled_sizes(500) == (8810, 234)
    assert scaled_sizes(20) == (352, 10)  # never fewer than 10 models
    assert scaled_sizes(500, train_rows=0, n_models=40) == (0, 40)  # explicit values win
    folder = tmp_path / "small"
    assert main(["synth", "--rows", "100", "--out", str(folder)]) == 0
    manifest = json.loads((folder / "chatgenbench.json").read_text())
    assert manifest["counts"]["train"] == 1762
    assert sum(manifest["counts"][s] for s in ("supervised", "few_shot")) == 100
    assert manifest["catalog_models"] == 47
    assert main(["synth", "--rows", "100", "--train-rows", "7", "--out", str(folder)]) == 0
    assert json.loads((folder / "chatgenbench.json").read_text())["counts"]["train"] == 7
