"""Image metrics end to end: a render folder scored by evaluate(images=DIR), with tiny random
CLIP/HPS/ImageReward models loaded through the real loaders and the real FID Inception."""

from __future__ import annotations

import json
import sys
import uuid

import numpy as np
import pytest
from PIL import Image

from chatgenbench.benchmark.loading import load_benchmark
from chatgenbench.benchmark.synth import write_synthetic
from chatgenbench.metrics.clip_score import clip_score
from chatgenbench.metrics.hps import TINY_HPS_ARCHITECTURE
from chatgenbench.metrics.images import to_rgb
from chatgenbench.metrics.unified import unified_metric
from chatgenbench.render.manifest import IMAGES_DIR, RenderRecord, image_filename, write_manifest
from chatgenbench.scoring.evaluation import evaluate
from chatgenbench.scoring.images import ImageMetricSettings, ImageMetricSuite, ImageScoringError
from chatgenbench.scoring.result_schema import IMAGE_METRICS, check_results


@pytest.fixture(scope="module")
def tiny(metric_models):
    return metric_models


def _settings(tiny, **overrides) -> ImageMetricSettings:
    base = dict(
        clip_model=tiny["clip"],
        hps_checkpoint=tiny["hps"],
        hps_architecture=TINY_HPS_ARCHITECTURE,
        image_reward_model=tiny["ir"],
        fid_cache_dir=tiny["cache"],
        device="cpu",
        batch_size=8,
        bootstrap_resamples=200,
        bootstrap_seed=7,
    )
    base.update(overrides)
    return ImageMetricSettings(**base)


@pytest.fixture(scope="module")
def suite(tiny):
    return ImageMetricSuite(_settings(tiny)).load()


@pytest.fixture(scope="module")
def bertscore():
    from chatgenbench.metrics.bertscore import PromptBERTScore

    return PromptBERTScore("minilm")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    # a unique folder name: the datasets cache keys local folders by their name (see report)
    bench = root / f"bench-metrics-{uuid.uuid4().hex}"
    write_synthetic(bench, 10, seed=0, train_rows=20, n_models=30, images=True)
    rows = load_benchmark("all", bench).to_list()
    assert len(rows) == 10
    pred = root / "pred.jsonl"
    pred.write_text(
        "\n".join(
            json.dumps({k: r[k] for k in ("id", "prompt", "model", "arguments")}) for r in rows
        )
        + "\n"
    )
    return bench, pred, rows


def _render_folder(path, rows, *, missing=(), image_of=None):
    """Write a render folder: the reference image (or image_of(row)) for each row, except missing."""
    (path / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    records = []
    for row in rows:
        if row["id"] in missing:
            records.append(
                RenderRecord(
                    row["id"], row["setting"], row["input_type"], "weights_missing", error="no file"
                )
            )
            continue
        image = image_of(row) if image_of else to_rgb(row["image"])
        name = f"{IMAGES_DIR}/{image_filename(row['id'])}"
        image.save(path / name, format="PNG")
        records.append(
            RenderRecord(
                row["id"], row["setting"], row["input_type"], "rendered", image=name, seed=1
            )
        )
    write_manifest(path, records)
    return path


def test_render_folder_fills_every_image_key(tmp_path, synthetic, suite, bertscore):
    bench, pred, rows = synthetic
    missing = {rows[0]["id"]}
    render = _render_folder(tmp_path / "render", rows, missing=missing)
    results = evaluate(
        pred,
        bench,
        images=render,
        image_suite=suite,
        bertscore=bertscore,
        progress=False,
        out=tmp_path / "r.json",
        per_sample_out=tmp_path / "s.jsonl",
    )
    assert check_results(results) == []
    overall = results["overall"]
    n = len(rows)
    assert overall["n_images"] == n - 1
    assert overall["image_coverage"] == pytest.approx((n - 1) / n)
    assert overall["render_status"] == {"rendered": n - 1, "weights_missing": 1}
    for name in ("clip_score", "hps_v2", "image_reward"):
        block = overall["image"][name]
        assert block["status"] == "computed" and block["n"] == n - 1
        assert (
            block["ci"]["seed"] == 7 and block["ci"]["low"] <= block["value"] <= block["ci"]["high"]
        )
    scored = [r for r in rows if r["id"] not in missing]
    expected_clip = clip_score(
        [r["image"] for r in scored], [r["prompt"] for r in scored], suite.models["clip_score"]
    )
    assert overall["image"]["clip_score"]["value"] == pytest.approx(expected_clip, rel=1e-5)
    fid = overall["image"]["fid"]
    assert fid["status"] == "computed" and fid["n"] == n - 1 and fid["n_reference"] == n
    image = overall["image"]
    assert overall["unified"]["value"] == pytest.approx(
        unified_metric(*(image[m]["value"] for m in IMAGE_METRICS))
    )
    # a slice without samples says so; every slice is a documented block
    few_shot = results["settings"]["few_shot"]["by_input_type"]["multimodal"]
    assert few_shot["n_samples"] == 0
    assert few_shot["image"]["clip_score"]["reason"] == "no rendered images in this slice"
    assert few_shot["unified"]["status"] == "not_computed"
    settings = results["metric_settings"]["image"]
    assert settings["clip_score"]["variant"] == "clip_s" and settings["bootstrap"]["seed"] == 7
    assert settings["fid"]["feature_extractor"] == "inception-v3-tf-2015-12-05"
    assert results["provenance"]["seed"] == 7
    lines = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert {line["render_status"] for line in lines} == {"rendered", "weights_missing"}

    # identical images score FID ~0, with the reference statistics now served from the cache
    same = _render_folder(tmp_path / "same", rows)
    again = evaluate(
        pred, bench, images=same, image_suite=suite, bertscore=bertscore, progress=False
    )
    assert again["settings"]["supervised"]["image"]["fid"]["value"] == pytest.approx(0.0, abs=1e-2)
    assert again["images"]["fid_reference_cache"]["misses"] == 0


def test_missing_weights_and_no_reference_images(tmp_path, monkeypatch, tiny, bertscore):
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    for name in ("CHATGENBENCH_HPS_V2", "CHATGENBENCH_IMAGE_REWARD"):
        monkeypatch.delenv(name, raising=False)
    rows = load_benchmark("supervised", "sample").to_list()
    rng = np.random.default_rng(0)
    render = _render_folder(
        tmp_path / "render",
        rows,
        image_of=lambda r: Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)),
    )
    settings = _settings(tiny, hps_checkpoint=None, image_reward_model=None)
    pred = "submissions/no-finetune-sample/predictions.jsonl"
    results = evaluate(
        pred, "sample", images=render, image_settings=settings, bertscore=bertscore, progress=False
    )
    image = results["overall"]["image"]
    assert image["clip_score"]["status"] == "computed" and image["clip_score"]["n"] == 12
    assert image["fid"]["status"] == "not_computed"
    assert "no reference images" in image["fid"]["reason"]
    assert image["hps_v2"]["how_to_fix"] == "chatgenbench weights download hps-v2.0"
    assert image["image_reward"]["how_to_fix"] == "chatgenbench weights download image-reward"
    assert "fid, hps_v2, image_reward" in results["overall"]["unified"]["reason"]


def test_render_unavailable_and_bad_folder(tmp_path, monkeypatch, suite):
    pred = "submissions/no-finetune-sample/predictions.jsonl"
    monkeypatch.setitem(sys.modules, "chatgenbench.render", None)  # as on a branch without it
    with pytest.raises(
        ImageScoringError, match=r"rendering needs the 'render' extra.*chatgenbench\[render\]"
    ):
        evaluate(
            pred,
            "sample",
            render=True,
            image_suite=suite,
            bertscore=None,
            progress=False,
            encoder="minilm",
        )
    with pytest.raises(ImageScoringError, match="does not exist"):
        evaluate(pred, "sample", images=tmp_path / "nowhere", image_suite=suite, progress=False)
    (tmp_path / "bad").mkdir()
    with pytest.raises(ImageScoringError, match="render_manifest.jsonl"):
        evaluate(pred, "sample", images=tmp_path / "bad", image_suite=suite, progress=False)
    with pytest.raises(ImageScoringError, match="not both"):
        evaluate(pred, "sample", images=tmp_path, render=True, progress=False)


def test_a_metric_failing_mid_run_is_not_computed(tmp_path, monkeypatch, tiny):
    from chatgenbench.metrics.clip_score import CLIPScore
    from chatgenbench.scoring.images import fill_image_metrics, score_render_folder

    rows = load_benchmark("supervised", "sample").to_list()
    rng = np.random.default_rng(1)
    render = _render_folder(
        tmp_path / "render",
        rows,
        image_of=lambda r: Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)),
    )
    suite = ImageMetricSuite(_settings(tiny, metrics=("clip_score", "hps_v2"), batch_size=4))
    calls = {"n": 0}
    original = CLIPScore.score_batch

    def flaky(self, images, texts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("CUDA out of memory (simulated)")
        return original(self, images, texts)

    monkeypatch.setattr(CLIPScore, "score_batch", flaky)
    scores = score_render_folder(render, rows, suite, progress=False, fid_features=False)
    from chatgenbench.scoring.stepwise import aggregate

    results = {
        "settings": {"supervised": aggregate([])},
        "overall": aggregate([]),
        "metric_settings": {},
    }
    for block in (results["settings"]["supervised"], results["overall"]):
        block["n_samples"] = len(rows)
    fill_image_metrics(results, scores, {"supervised": []}, suite, progress=False)
    image = results["overall"]["image"]
    assert image["clip_score"]["status"] == "not_computed"
    assert "failed while scoring" in image["clip_score"]["reason"]
    assert image["hps_v2"]["status"] == "computed" and image["hps_v2"]["n"] == 12


def test_a_fifth_metric_that_fails_leaves_the_unified_metric_on(
    tmp_path, synthetic, tiny, bertscore
):
    from chatgenbench.metrics.base import PerImageMetric
    from chatgenbench.metrics.registry import METRICS, register_image_metric
    from chatgenbench.metrics.unified import UNIFIED_INPUTS

    class Exploding(PerImageMetric):
        name, label, higher_is_better = "exploding", "Exploding", True
        description = "a metric that fails on every batch"

        @classmethod
        def load(cls, options, device="cpu", dtype="float32"):
            return cls()

        def score_batch(self, images, texts):
            raise RuntimeError("CUDA out of memory (simulated)")

    register_image_metric(Exploding)
    try:
        bench, pred, rows = synthetic
        suite = ImageMetricSuite(_settings(tiny)).load()  # every registered metric, this one too
        results = evaluate(
            pred, bench, images=_render_folder(tmp_path / "render", rows), image_suite=suite,
            bertscore=bertscore, progress=False,
        )  # fmt: skip
    finally:
        METRICS.unregister("exploding")
    overall = results["overall"]
    assert overall["image"]["exploding"]["status"] == "not_computed"
    assert "failed while scoring" in overall["image"]["exploding"]["reason"]
    assert overall["unified"]["status"] == "computed"
    assert overall["unified"]["value"] == pytest.approx(
        unified_metric(*(overall["image"][name]["value"] for name in UNIFIED_INPUTS))
    )


def test_settings_route_each_option_to_its_metric_and_refuse_unknown_ones():
    from chatgenbench.core.errors import UnknownNameError

    settings = ImageMetricSettings(clip_variant="torchmetrics", hps_version="v2.1")
    assert settings.options_for("clip_score").clip_variant == "torchmetrics"
    assert settings.options_for("hps_v2").hps_version == "v2.1"
    assert settings.options_for("image_reward").image_reward_model is None  # its defaults
    assert settings.metrics == IMAGE_METRICS
    with pytest.raises(UnknownNameError, match="Did you mean: clip_score"):
        ImageMetricSettings(metrics=("clipscore",))
    with pytest.raises(TypeError, match="clip_modle"):
        ImageMetricSettings(clip_modle="/models/clip")


def test_a_hand_written_manifest_with_two_samples_on_one_file_is_refused(tmp_path, suite):
    from chatgenbench.scoring.images import score_render_folder

    rows = load_benchmark("supervised", "sample").to_list()[:3]
    render = _render_folder(
        tmp_path / "render", rows, image_of=lambda r: Image.new("RGB", (32, 32), (9, 9, 9))
    )
    lines = (render / "render_manifest.jsonl").read_text().splitlines()
    second = json.loads(lines[1])
    second["image"] = json.loads(lines[0])["image"].upper().replace("IMAGES/", "images/")
    lines[1] = json.dumps(second)
    (render / "render_manifest.jsonl").write_text("\n".join(lines) + "\n")
    first_id, second_id = rows[0]["id"], rows[1]["id"]
    with pytest.raises(ImageScoringError, match=f"'{first_id}' and '{second_id}' both point at"):
        score_render_folder(render, rows, suite, progress=False)


def test_scoring_hands_each_metric_the_image_in_its_own_mode(tmp_path, synthetic, tiny, bertscore):
    """A render folder's RGBA or palette PNG reaches the metrics unconverted: each metric converts
    in its reference's order (ImageReward and HPS v2 resize before converting to RGB)."""
    from chatgenbench.metrics.base import PerImageMetric
    from chatgenbench.metrics.registry import METRICS, register_image_metric

    modes: list[str] = []

    class Modes(PerImageMetric):
        name, label, higher_is_better = "modes_seen", "Modes", True
        description = "records the mode of every image it is given"

        @classmethod
        def load(cls, options, device="cpu", dtype="float32"):
            return cls()

        def score_batch(self, images, texts):
            modes.extend(image.mode for image in images)
            return [1.0 for _ in images]

    def translucent(row):
        image = Image.new("RGBA", (40, 24), (200, 30, 30, 60))
        return image if row["id"].endswith(("0", "2", "4", "6", "8")) else image.convert("P")

    register_image_metric(Modes)
    try:
        bench, pred, rows = synthetic
        settings = ImageMetricSettings(metrics=("modes_seen",), device="cpu")
        evaluate(
            pred, bench, images=_render_folder(tmp_path / "render", rows, image_of=translucent),
            image_suite=ImageMetricSuite(settings).load(), bertscore=bertscore, progress=False,
        )  # fmt: skip
    finally:
        METRICS.unregister("modes_seen")
    assert len(modes) == len(rows)
    assert set(modes) <= {"RGBA", "P"} and "RGB" not in modes
