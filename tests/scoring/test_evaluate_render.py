"""``evaluate --render`` end to end: tiny random SD models render the sample's answers through the
catalogue path, tiny random CLIP/HPS/ImageReward models score them, and the results say what was
not computed and why."""

from __future__ import annotations

import json

import pytest

from chatgenbench.cli import main
from chatgenbench.metrics.hps import TINY_HPS_ARCHITECTURE
from chatgenbench.render.manifest import read_manifest
from chatgenbench.scoring.evaluation import evaluate
from chatgenbench.scoring.images import ImageMetricSettings
from chatgenbench.scoring.result_schema import check_results
from tests.conftest import RENDERABLE, sample_predictions, write_predictions


def test_evaluate_render_fills_the_image_keys(
    tmp_path, tiny_models, metric_models, minilm_scorer, monkeypatch
):
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    predictions = write_predictions(tmp_path / "pred.jsonl", sample_predictions())
    settings = ImageMetricSettings(
        clip_model=metric_models["clip"],
        hps_checkpoint=metric_models["hps"],
        hps_architecture=TINY_HPS_ARCHITECTURE,
        image_reward_model=metric_models["ir"],
        fid_cache_dir=metric_models["cache"],
        device="cpu",
        batch_size=4,
        bootstrap_resamples=100,
        bootstrap_seed=3,
    )
    render_out = tmp_path / "render"
    results = evaluate(
        predictions,
        "sample",
        catalog=str(tiny_models.overlay),
        render=True,
        render_out=render_out,
        image_settings=settings,
        bertscore=minilm_scorer,
        progress=False,
        out=tmp_path / "results.json",
    )
    assert check_results(results) == []
    records = {r.id: r for r in read_manifest(render_out)}
    assert {i for i, r in records.items() if r.has_image} == RENDERABLE
    assert records["sample-0005"].status == "weights_missing"
    block = results["settings"]["supervised"]
    image = block["image"]
    for name in ("clip_score", "hps_v2", "image_reward"):
        assert image[name]["status"] == "computed", image[name]
        assert image[name]["n"] == len(RENDERABLE)
    # The sample has no human-validated reference images: FID cannot be computed, and so the
    # Unified Metric is not either. Neither is estimated.
    assert image["fid"]["status"] == "not_computed" and image["fid"]["value"] is None
    assert block["unified"]["status"] == "not_computed"
    assert block["n_images"] == len(RENDERABLE)
    # The step-wise scores are those of the predictions, whatever happened to the renders.
    assert block["stepwise"]["selection_accuracy"]["value"] == 1.0
    assert json.loads((tmp_path / "results.json").read_text())["settings"] == results["settings"]

    # A second run renders nothing: every image comes from the cache.
    again = evaluate(
        predictions,
        "sample",
        catalog=str(tiny_models.overlay),
        render=True,
        render_out=tmp_path / "render2",
        image_settings=settings,
        bertscore=minilm_scorer,
        progress=False,
    )
    statuses = {r.status for r in read_manifest(tmp_path / "render2") if r.id in RENDERABLE}
    assert statuses == {"cached"}
    assert again["settings"]["supervised"]["image"]["clip_score"]["value"] == pytest.approx(
        image["clip_score"]["value"]
    )


def test_validate_accepts_a_weights_overlay(tmp_path, tiny_models):
    predictions = write_predictions(tmp_path / "pred.jsonl", sample_predictions())
    code = main(
        [
            "validate",
            str(predictions),
            "--benchmark",
            "sample",
            "--catalog",
            str(tiny_models.overlay),
        ]
    )
    assert code == 0


def test_a_run_loads_the_benchmark_once_and_reads_the_prediction_file_once(
    tmp_path, tiny_models, metric_models, minilm_scorer, monkeypatch
):
    import chatgenbench.benchmark.loading as benchmark
    import chatgenbench.predictions.validation as predictions_module

    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    calls = {"load_benchmark": 0, "read_prediction_rows": 0}

    def counted(module, name):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counted(benchmark, "load_benchmark")
    counted(predictions_module, "read_prediction_rows")
    predictions = write_predictions(tmp_path / "pred.jsonl", sample_predictions())
    settings = ImageMetricSettings(
        clip_model=metric_models["clip"], metrics=("clip_score",), device="cpu", batch_size=4
    )
    results = evaluate(
        predictions, "sample", catalog=str(tiny_models.overlay), render=True,
        render_out=tmp_path / "render", image_settings=settings, bertscore=minilm_scorer,
        progress=False,
    )  # fmt: skip
    assert results["overall"]["image"]["clip_score"]["n"] == len(RENDERABLE)
    assert calls == {"load_benchmark": 1, "read_prediction_rows": 1}
