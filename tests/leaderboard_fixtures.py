"""Helpers shared by the leaderboard tests: stores built from the repository's real submission."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SUBMISSION = ROOT / "submissions" / "no-finetune-sample"


def sample_results() -> dict:
    """Return the real results.json of the repository's no-finetune sample submission."""
    return json.loads((SAMPLE_SUBMISSION / "results.json").read_text("utf-8"))


def sample_predictions() -> bytes:
    """Return the real predictions.jsonl of the no-finetune sample submission."""
    return (SAMPLE_SUBMISSION / "predictions.jsonl").read_bytes()


def copy_sample(store: Path, name: str = "no-finetune-sample") -> Path:
    """Copy the real sample submission into ``store`` under ``name``."""
    target = store / name
    shutil.copytree(SAMPLE_SUBMISSION, target)
    return target


def add_variant(
    store: Path,
    name: str,
    *,
    method: str,
    synthetic: bool = False,
    official: bool = False,
) -> Path:
    """Add a copy of the sample submission whose results differ only in labelled ways.

    ``synthetic`` marks the results synthetic; ``official`` relabels them as roberta-large on the
    hub benchmark (the paper's comparability group), keeping the computed values.
    """
    folder = copy_sample(store, name)
    meta = yaml.safe_load((folder / "meta.yaml").read_text("utf-8"))
    meta["method"] = method
    (folder / "meta.yaml").write_text(yaml.safe_dump(meta), "utf-8")
    results = copy.deepcopy(sample_results())
    results["synthetic"] = synthetic
    if synthetic:
        results["benchmark"].update(kind="folder", source="/tmp/synth", revision="sha256:5ynth")
    if official:
        results["benchmark"].update(kind="hub", source="ChengyouJia/ChatGenBench")
        results["metric_settings"]["bertscore"].update(
            encoder="roberta-large", num_layers=17, rescale_with_baseline=True
        )
    (folder / "results.json").write_text(json.dumps(results), "utf-8")
    return folder
