"""The notes under the results table name each metric's status: what was computed, what was not
and why (an image metric missing is never read as all of them missing)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from chatgenbench.scoring.report import metric_status_notes, results_table

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_RESULTS = ROOT / "submissions" / "no-finetune-sample" / "results.json"


def _overall(**image_status) -> dict:
    """The sample's overall block with the given image metrics' blocks."""
    block = copy.deepcopy(json.loads(SAMPLE_RESULTS.read_text("utf-8"))["overall"])
    block["image"].update(image_status)
    return block


def _computed(value: float = 0.3) -> dict:
    return {"status": "computed", "value": value, "n": 12}


def _missing(reason: str, fix: str | None = None) -> dict:
    block = {"status": "not_computed", "value": None, "reason": reason}
    return {**block, "how_to_fix": fix} if fix else block


def test_only_fid_missing_says_the_others_were_computed():
    block = _overall(
        fid=_missing("the benchmark has no reference images, so FID cannot be computed"),
        clip_score=_computed(),
        hps_v2=_computed(),
        image_reward=_computed(),
    )
    notes = metric_status_notes(block)
    assert notes[0] == "image metrics: CLIP, HPS v2, ImageReward computed; not computed:"
    assert notes[1] == "  FID: the benchmark has no reference images, so FID cannot be computed"
    assert not any(note.startswith("image metrics: not computed") for note in notes)


def test_one_reason_for_all_names_every_metric_once():
    notes = metric_status_notes(_overall())
    assert notes[0].startswith(
        "image metrics: FID, CLIP, HPS v2, ImageReward not computed: images were not rendered"
    )
    assert "(how to fix: chatgenbench evaluate PRED --render)" in notes[0]
    assert notes[1].startswith("Unified: not computed:")


def test_each_reason_gets_its_metrics_and_a_fix_said_once():
    fix = "chatgenbench weights download hps-v2.0"
    block = _overall(
        fid=_computed(30.0),
        clip_score=_missing("weights missing: CLIP", "chatgenbench weights download clip"),
        hps_v2=_missing(f"weights missing: HPS v2; fetch with '{fix}'", fix),
        image_reward=_missing("weights missing: CLIP", "chatgenbench weights download clip"),
    )
    notes = metric_status_notes(block)
    assert notes[0] == "image metrics: FID computed; not computed:"
    assert "  CLIP, ImageReward: weights missing: CLIP (how to fix: chatgenbench weights " \
        "download clip)" in notes  # fmt: skip
    hps = next(note for note in notes if note.startswith("  HPS v2:"))
    assert hps.count(fix) == 1  # the fix is already in the reason: not said twice


def test_a_missing_step_wise_metric_is_named_beside_the_computed_ones():
    block = _overall()
    block["stepwise"]["prompt_bertscore"] = _missing("encoder unavailable", "use --encoder minilm")
    notes = metric_status_notes(block)
    step = next(note for note in notes if note.startswith("step-wise metrics:"))
    assert step.startswith("step-wise metrics: Sel. acc, Config acc computed; not computed:")
    assert "  BERTScore: encoder unavailable (how to fix: use --encoder minilm)" in notes


def test_all_computed_gives_no_metric_note():
    block = _overall(
        fid=_computed(30.0),
        clip_score=_computed(),
        hps_v2=_computed(),
        image_reward=_computed(),
    )
    block["unified"] = _computed(50.0)
    assert metric_status_notes(block) == []
    results = json.loads(SAMPLE_RESULTS.read_text("utf-8"))
    results["overall"] = block
    assert "not computed" not in results_table(results)
