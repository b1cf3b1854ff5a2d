from __future__ import annotations

import io

import pandas as pd
import pytest

from chatgenbench.metrics.unified import unified_metric
from leaderboard.ranking import (
    REPORTED,
    build_ranking,
    group_frame,
    ranking_csv,
    reported_notes,
    reported_rows,
    reported_table,
    unified_formula,
)
from leaderboard.submissions import SubmissionStore
from tests.leaderboard_fixtures import add_variant, copy_sample


def test_reported_table_matches_the_paper_and_its_own_unified_values():
    table = reported_table()
    assert "Table 4" in table["source"]
    rows = {(r["setting"], r["input_type"], r["method"]): r for r in table["rows"]}
    assert len(rows) == 13
    evo = dict(zip(table["columns"], rows[("supervised", "all", "ChatGen-Evo (2B)")]["values"]))
    assert evo == {
        "prompt_bertscore": 0.247,
        "selection_accuracy": 0.328,
        "config_accuracy": 0.537,
        "fid": 19.1,
        "clip_score": 72.9,
        "hps_v2": 25.1,
        "image_reward": 8.9,
        "unified": 65.9,
    }
    # every row with all four image metrics reproduces its printed Unified value within rounding
    checked = 0
    for row in table["rows"]:
        v = dict(zip(table["columns"], row["values"]))
        if v["fid"] is None:
            continue
        recomputed = unified_metric(v["fid"], v["clip_score"], v["hps_v2"], v["image_reward"])
        assert recomputed == pytest.approx(v["unified"], abs=0.08), row["method"]
        checked += 1
    assert checked == 10


def test_reported_rows_per_view():
    assert [r.method for r in reported_rows("supervised", "all")][-1] == "ChatGen-Evo (2B)"
    assert len(reported_rows("few_shot", "all")) == 5
    assert reported_rows("overall", "all") == []
    history = reported_rows("supervised", "history")
    assert [r.method for r in history] == ["ChatGen-Evo (2B)"]
    assert history[0].values["prompt_bertscore"] == 0.165
    assert history[0].values["unified"] == 60.1
    assert history[0].values["fid"] is None
    assert history[0].reasons["fid"] == "not reported in the paper"
    assert reported_rows("few_shot", "single") == []


def test_minilm_sample_results_never_share_a_group_with_the_paper(tmp_path):
    copy_sample(tmp_path)
    ranking = build_ranking(SubmissionStore(tmp_path).submissions(), "supervised", "all")
    assert len(ranking.groups) == 2
    paper, sample = ranking.groups
    assert paper.has_reported and all(row.kind == REPORTED for row in paper.rows)
    assert [row.method for row in paper.rows][0] == "ChatGen-Evo (2B)"
    assert paper.rows[0].rank == 1
    assert [row.name for row in sample.rows] == ["no-finetune-sample"]
    assert "minilm" in sample.label and "sample" in sample.label
    assert any("not comparable" in note for note in sample.notes)
    # the sample has no image metrics: not computed, with the reason from results.json
    row = sample.rows[0]
    assert row.values["fid"] is None and "not rendered" in row.reasons["fid"]
    assert row.values["config_accuracy"] == pytest.approx(1 / 3)


def test_official_setting_results_rank_among_the_reported_rows(tmp_path):
    add_variant(tmp_path, "official-copy", method="Relabelled", official=True)
    ranking = build_ranking(
        SubmissionStore(tmp_path).submissions(), "supervised", "all", sort_by="config_accuracy"
    )
    assert len(ranking.groups) == 1
    methods = [(row.method, row.rank, row.rank_upper) for row in ranking.groups[0].rows]
    # sorted by config accuracy, highest first; the Baseline reports none and comes last, unranked
    assert methods[0] == ("ChatGen-Evo (2B)", 1, 1)
    # 0.333 is below the four reported rows, none of which can be tested against it (the paper
    # gives no per-sample scores or intervals): a band, not an invented rank 5
    assert methods[4] == ("Relabelled", 1, 5)
    assert methods[-1] == ("Baseline", None, None)


def test_synthetic_and_unscored_submissions_are_left_out_with_a_reason(tmp_path):
    add_variant(tmp_path, "synthetic-run", method="Synthetic", synthetic=True)
    folder = copy_sample(tmp_path, "unscored")
    (folder / "results.json").unlink()
    ranking = build_ranking(SubmissionStore(tmp_path).submissions(), "overall", "all")
    names = [row.name for group in ranking.groups for row in group.rows]
    assert names == []  # overall: no reported rows, and neither submission may be ranked
    assert "The paper reports no overall" in ranking.notes[0]
    few_shot_history = build_ranking([], "few_shot", "history")
    assert few_shot_history.groups == []
    assert "only for ChatGen-Evo (2B), Supervised" in few_shot_history.notes[0]
    assert build_ranking([], "supervised", "all").notes == []
    assert dict(ranking.excluded) == {
        "synthetic-run": "scored on a synthetic benchmark",
        "unscored": "not scored yet",
    }


def test_sort_direction_follows_the_metric(tmp_path):
    ranking = build_ranking([], "few_shot", "all", sort_by="fid")
    fids = [row.values["fid"] for row in ranking.groups[0].rows]
    assert fids == sorted(fids)  # lower FID is better
    ranking = build_ranking([], "few_shot", "all", sort_by="image_reward")
    rewards = [row.values["image_reward"] for row in ranking.groups[0].rows]
    assert rewards == sorted(rewards, reverse=True)
    # the paper's rows carry no uncertainty: ranks are bands, their order is by value
    assert [row.rank for row in ranking.groups[0].rows] == [1, 1, 1, 1, 1]
    assert [row.rank_upper for row in ranking.groups[0].rows] == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="unknown metric"):
        build_ranking([], "few_shot", "all", sort_by="accuracy")
    with pytest.raises(ValueError, match="unknown setting"):
        build_ranking([], "fewshot", "all")


def test_frames_and_csv(tmp_path):
    copy_sample(tmp_path)
    ranking = build_ranking(SubmissionStore(tmp_path).submissions(), "supervised", "all")
    shown = group_frame(ranking.groups[0], display=True)
    baseline = shown[shown["Method"] == "Baseline"].iloc[0]
    assert baseline["Sel. acc ↑"] == "-" and baseline["FID ↓"] == "32.7"
    assert list(shown.columns)[5:13] == [
        "BERTScore ↑",
        "Sel. acc ↑",
        "Config acc ↑",
        "FID ↓",
        "CLIP ↑",
        "HPS v2 ↑",
        "ImageReward ↑",
        "Unified ↑",
    ]
    csv = pd.read_csv(io.StringIO(ranking_csv(ranking)))
    assert len(csv) == 6 and csv["Group"].nunique() == 2
    evo = csv[csv["Method"] == "ChatGen-Evo (2B)"].iloc[0]
    assert evo["Unified ↑"] == 65.9 and evo["Kind"] == "reported"
    assert pd.isna(csv[csv["Method"] == "Baseline"].iloc[0]["Sel. acc ↑"])


def test_image_metrics_with_other_settings_get_their_own_group(tmp_path):
    """An official-setting result with rendered image metrics is not ranked in the paper's image
    columns: the paper states no CLIP/FID/HPS settings, so agreement cannot be shown."""
    import json

    add_variant(tmp_path, "stepwise-only", method="Step-wise only", official=True)
    folder = add_variant(tmp_path, "with-images", method="With images", official=True)
    results = json.loads((folder / "results.json").read_text())
    for block in (results["overall"], results["settings"]["supervised"]):
        block["image"]["clip_score"] = {"status": "computed", "value": 70.0, "n": 12}
    results["metric_settings"]["image"] = {
        "clip_score": {"variant": "clip_s"},
        "fid": {
            "feature_extractor": "inception-v3-tf-2015-12-05",
            "preprocessing": "pil-bicubic-299",
        },
        "hps_v2": {"version": "v2.0"},
    }
    (folder / "results.json").write_text(json.dumps(results))
    ranking = build_ranking(SubmissionStore(tmp_path).submissions(), "supervised", "all")
    groups = {tuple(row.method for row in group.rows): group for group in ranking.groups}
    assert len(ranking.groups) == 2
    paper_group = next(g for m, g in groups.items() if "ChatGen-Evo (2B)" in m)
    assert "Step-wise only" in [row.method for row in paper_group.rows]
    image_group = groups[("With images",)]
    assert "CLIP clip_s" in image_group.label


def test_the_reported_rows_footer_explains_them_without_outside_documents():
    formula = "Unified = 25 * ((100 - FID)/100 + CLIP/100 + (HPS - 20)/10 + (ImageReward + 50)/100)"
    assert unified_formula() == formula
    notes = "\n".join(reported_notes())
    assert "Table 4" in notes and formula in notes and "roberta-large" in notes
    assert ".md" not in notes and "section" not in notes
