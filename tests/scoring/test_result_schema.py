from __future__ import annotations

import copy
import json
from pathlib import Path

from chatgenbench.scoring.result_schema import (
    DOCUMENTED_KEYS,
    check_results,
    comparability_key,
    image_settings_label,
)

ROOT = Path(__file__).resolve().parents[2]
STORED = json.loads((ROOT / "submissions" / "no-finetune-sample" / "results.json").read_text())


def _with_image_metrics(results: dict, variant: str) -> dict:
    results = copy.deepcopy(results)
    results["overall"]["image"]["clip_score"] = {"status": "computed", "value": 70.0, "n": 5}
    results["metric_settings"]["image"] = {
        "clip_score": {"variant": variant, "model": "/some/local/clip"},
        "fid": {
            "feature_extractor": "inception-v3-tf-2015-12-05",
            "preprocessing": "pil-bicubic-299",
        },
        "hps_v2": {"version": "v2.0"},
    }
    return results


def test_stored_results_conform_to_the_schema():
    assert check_results(STORED) == []
    assert (
        "overall" in DOCUMENTED_KEYS
        and "settings.<setting>.stepwise.prompt_bertscore" in DOCUMENTED_KEYS
    )


def test_check_results_names_what_is_missing():
    broken = copy.deepcopy(STORED)
    del broken["overall"]["stepwise"]["config_accuracy"]
    broken["schema_version"] = "0.9"
    problems = check_results(broken)
    assert any("schema_version" in p for p in problems)
    assert "overall.stepwise.config_accuracy: missing or without status" in problems


def test_image_settings_split_comparability_only_when_image_metrics_exist():
    assert image_settings_label(STORED) is None  # nothing rendered: only the BERTScore setting
    assert comparability_key(STORED) == ("1.0", "minilm", 6, False)
    clip_s = _with_image_metrics(STORED, "clip_s")
    other = _with_image_metrics(STORED, "torchmetrics")
    assert comparability_key(clip_s) != comparability_key(other)
    assert comparability_key(clip_s)[:4] == comparability_key(STORED)
    assert "CLIP clip_s" in image_settings_label(clip_s)
    moved = _with_image_metrics(STORED, "clip_s")
    moved["metric_settings"]["image"]["clip_score"]["model"] = "/elsewhere/clip"
    assert comparability_key(moved) == comparability_key(clip_s)  # a path is not an identity
