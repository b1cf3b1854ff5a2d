"""``chatgenbench evaluate --images DIR`` with image-metric options, through the command line."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from chatgenbench.benchmark.loading import load_benchmark
from chatgenbench.cli import main
from chatgenbench.metrics.clip_score import write_clip
from chatgenbench.render.manifest import IMAGES_DIR, RenderRecord, image_filename, write_manifest


def test_evaluate_images_with_a_metric_subset(tmp_path, capsys):
    rows = load_benchmark("supervised", "sample").to_list()
    (tmp_path / "render" / IMAGES_DIR).mkdir(parents=True)
    rng = np.random.default_rng(0)
    records = []
    for row in rows[:-2]:
        name = f"{IMAGES_DIR}/{image_filename(row['id'])}"
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
            tmp_path / "render" / name
        )
        records.append(RenderRecord(row["id"], "supervised", row["input_type"], "rendered", name))
    records.append(RenderRecord(rows[-2]["id"], "supervised", rows[-2]["input_type"], "failed"))
    write_manifest(tmp_path / "render", records)  # the last sample is not in the manifest
    clip = write_clip(tmp_path / "clip")
    code = main(
        [
            "evaluate",
            "submissions/no-finetune-sample/predictions.jsonl",
            "--images",
            str(tmp_path / "render"),
            "--image-metrics",
            "clip_score",
            "--clip-model",
            str(clip),
            "--clip-variant",
            "torchmetrics",
            "--bootstrap-seed",
            "3",
            "--no-progress",
            "--json",
            "--out",
            str(tmp_path / "results.json"),
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    overall = results["overall"]
    assert overall["n_images"] == 10
    assert overall["render_status"] == {"failed": 1, "not_in_manifest": 1, "rendered": 10}
    assert overall["image"]["clip_score"]["status"] == "computed"
    assert overall["image"]["clip_score"]["ci"]["seed"] == 3
    assert overall["image"]["hps_v2"]["reason"] == "hps_v2 was not requested"
    assert results["metric_settings"]["image"]["clip_score"]["variant"] == "torchmetrics"


def test_evaluate_rejects_unknown_image_metric(capsys):
    try:
        main(["evaluate", "x.jsonl", "--images", "d", "--image-metrics", "fid,clipscore"])
    except SystemExit as error:
        assert "clipscore" in str(error)
    else:  # pragma: no cover - the test must fail if nothing is raised
        raise AssertionError("unknown image metric accepted")
