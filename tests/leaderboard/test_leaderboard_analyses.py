"""The leaderboard's efficiency columns (Table 5), intervals with the 'cannot be told apart' mark,
and the ablation table (Table 6) that never ranks oracle runs against full runs."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from chatgenbench.predictions.efficiency import parameter_count, parse_parameters, parse_seconds
from leaderboard.ablations import ablation_frame
from leaderboard.efficiency import FROM_META, FROM_RUN, submission_efficiency
from leaderboard.ranking import build_ranking, group_frame
from leaderboard.significance import INDISTINCT_MARK, INDISTINCT_NOTE
from leaderboard.submissions import SubmissionStore, validate_meta
from tests.leaderboard_fixtures import ROOT, add_variant, copy_sample, sample_results

APP = str(ROOT / "leaderboard" / "app.py")


def _edit(folder, change):
    results = json.loads((folder / "results.json").read_text())
    change(results)
    (folder / "results.json").write_text(json.dumps(results))


def _by_method(rows):
    return {row.method: row for row in rows}


def test_reported_rows_carry_table_5():
    ranking = build_ranking([], "supervised", "all")
    rows = _by_method(ranking.groups[0].rows)
    for method, parameters, seconds in (
        ("ChatGen-Base (2B)", 2_210_000_000, 1.1),
        ("ChatGen-Base (8B)", 8_080_000_000, 2.3),
        ("ChatGen-Evo (2B)", 2_240_000_000, 1.9),
    ):
        efficiency = rows[method].efficiency
        assert (efficiency.parameters, efficiency.seconds_per_sample) == (parameters, seconds)
        assert "A100 80GB" in efficiency.device and "Table 5" in efficiency.source
    assert rows["ChatGen-Base (4B)"].efficiency is None  # Table 5 does not list it
    shown = group_frame(ranking.groups[0], display=True).set_index("Method")
    assert shown.loc["ChatGen-Evo (2B)", "Params"] == "2.24 B"
    assert shown.loc["ChatGen-Base (8B)", "s / sample"] == "2.3"
    assert shown.loc["ChatGen-Base (4B)", "Params"] == "-"
    raw = group_frame(ranking.groups[0]).set_index("Method")
    assert raw.loc["ChatGen-Base (2B)", "Parameters"] == 2_210_000_000


def test_efficiency_comes_from_the_run_record_else_the_metadata(tmp_path):
    folder = copy_sample(tmp_path)
    run = json.loads((folder / "predictions.run.json").read_text())
    run["efficiency"] = {"seconds_per_sample": 0.25, "device": "cuda:0", "parameters": 123456789}
    (folder / "predictions.run.json").write_text(json.dumps(run))
    (submission,) = SubmissionStore(tmp_path).submissions()
    found = submission_efficiency(submission)
    assert (found.seconds_per_sample, found.device, found.parameters) == (0.25, "cuda:0", 123456789)
    assert found.source == FROM_RUN
    (folder / "predictions.run.json").unlink()
    meta = yaml.safe_load((folder / "meta.yaml").read_text())
    meta.update(seconds_per_sample="1.9", device="1x A100 80GB", parameters="2.24B")
    (folder / "meta.yaml").write_text(yaml.safe_dump(meta))
    (submission,) = SubmissionStore(tmp_path).submissions()
    found = submission_efficiency(submission)
    assert (found.seconds_per_sample, found.parameters, found.source) == (
        1.9,
        2_240_000_000,
        FROM_META,
    )
    row = build_ranking([submission], "supervised").groups[1].rows[0]
    assert group_frame_row(row)["Efficiency from"] == FROM_META


def group_frame_row(row):
    from leaderboard.ranking import RankingGroup

    return group_frame(RankingGroup((), "", [], [row]), display=True).iloc[0]


def test_metadata_refuses_figures_that_are_not_numbers():
    base = {"method": "m", "authors": "a", "setting": "supervised"}
    meta, problems = validate_meta({**base, "parameters": "lots", "seconds_per_sample": "-1"})
    assert meta is None
    assert any("'parameters'" in p and "2.21B" in p for p in problems)
    assert any("'seconds_per_sample'" in p for p in problems)
    meta, problems = validate_meta({**base, "parameters": "350M", "seconds_per_sample": "0.4"})
    assert problems == [] and meta.model_size == "350M"  # one size field (leaderboard.model_size)
    assert parse_parameters("8.08 B") == 8_080_000_000 and parse_seconds("2.3 s") == 2.3


def test_adapter_runs_record_their_efficiency(tmp_path):
    import torch

    from baselines.registry import build_adapter
    from chatgenbench.predictions.adapters import run_adapter

    out = run_adapter(build_adapter("no-finetune"), "sample", tmp_path / "p.jsonl", progress=False)
    record = json.loads(out.with_name("p.run.json").read_text())
    efficiency = record["efficiency"]
    assert efficiency["seconds_per_sample"] > 0 and efficiency["parameters"] is None

    class Holder:
        def __init__(self):
            self.encoder = torch.nn.Linear(4, 3)
            self.head = torch.nn.Sequential(self.encoder, torch.nn.Linear(3, 2))

    assert parameter_count(Holder()) == (4 * 3 + 3) + (3 * 2 + 2)  # shared layer counted once


@pytest.fixture()
def three_submissions(tmp_path):
    """The sample submission, an identical copy, and a variant whose configs are all right."""
    copy_sample(tmp_path)
    add_variant(tmp_path, "copy", method="Copy")
    better = add_variant(tmp_path, "better", method="Better")

    def perfect_configs(results):
        for record in results["per_sample"]:
            record["config_score"] = 1.0
        for block in [results["overall"], *results["settings"].values()]:
            for inner in [block, *block["by_input_type"].values()]:
                metric = inner["stepwise"]["config_accuracy"]
                if metric["status"] == "computed":
                    metric["value"] = 1.0
                    metric["ci"] = dict(metric["ci"], low=1.0, high=1.0)

    _edit(better, perfect_configs)
    return tmp_path


def test_rows_that_cannot_be_told_apart_are_marked(three_submissions):
    submissions = SubmissionStore(three_submissions).submissions()
    ranking = build_ranking(submissions, "supervised", sort_by="config_accuracy")
    group = ranking.groups[1]
    assert [row.method for row in group.rows][0] == "Better"
    first, second, third = group.rows
    assert first.vs_above is None
    assert second.vs_above["indistinct"] is False and "paired test on 12" in second.vs_above["why"]
    assert third.vs_above["indistinct"] is True and "p = 1.000" in third.vs_above["why"]
    assert INDISTINCT_NOTE in group.notes
    shown = group_frame(group, display=True)
    assert list(shown["vs above"]) == [
        "",
        "",
        f"{INDISTINCT_MARK} (paired test on 12 samples, p = 1.000)",
    ]
    ci = sample_results()["settings"]["supervised"]["stepwise"]["config_accuracy"]["ci"]
    assert shown.iloc[1]["Config acc 95% CI"] == f"[{ci['low']:.3f}, {ci['high']:.3f}]"
    assert shown.iloc[0]["Config acc 95% CI"] == "[1.000, 1.000]"
    # The paper's rows have no interval: nothing is said of them.
    assert all(row.vs_above is None for row in ranking.groups[0].rows)


def test_without_per_sample_scores_the_intervals_decide(three_submissions):
    for name in ("copy", "better", "no-finetune-sample"):
        _edit(three_submissions / name, lambda results: results.pop("per_sample"))
    submissions = SubmissionStore(three_submissions).submissions()
    group = build_ranking(submissions, "supervised", sort_by="config_accuracy").groups[1]
    _, second, third = group.rows
    assert second.vs_above == {"indistinct": False, "why": "95% intervals are apart"}
    assert third.vs_above == {"indistinct": True, "why": "95% intervals overlap"}


def test_ablations_are_tabled_with_their_given_steps_and_never_ranked(tmp_path):
    copy_sample(tmp_path)
    ablation = add_variant(tmp_path, "ablation", method="No-finetune, prompt alone")

    def as_ablation(results):
        results["oracle"] = {"steps": ["model", "arguments"], "metrics": [], "given": "..."}
        for block in [results["overall"], *results["settings"].values()]:
            for inner in [block, *block["by_input_type"].values()]:
                for name in ("selection_accuracy", "config_accuracy"):
                    inner["stepwise"][name] = {"status": "oracle", "value": None, "reason": "x"}

    _edit(ablation, as_ablation)
    submissions = SubmissionStore(tmp_path).submissions()
    ranking = build_ranking(submissions, "supervised")
    ranked = [row.name for group in ranking.groups for row in group.rows]
    assert "ablation" not in ranked and "no-finetune-sample" in ranked
    assert "never ranked against full runs" in dict(ranking.excluded)["ablation"]
    rows = ranking.ablations
    assert sum(row.kind == "reported" for row in rows) == 7
    (mine,) = [row for row in rows if row.kind == "submission"]
    assert mine.measured == "prompt" and mine.given == ("model", "arguments")
    frame = ablation_frame(rows).set_index("Submission")
    assert frame.loc["ablation", "Measured step"] == "Prompt writing"
    assert frame.loc["ablation", "Given"] == "given: model, arguments"
    bertscore = sample_results()["settings"]["supervised"]["stepwise"]["prompt_bertscore"]["value"]
    assert frame.loc["ablation", "Step value"] == f"{bertscore:.3f}"
    evo = frame.loc["paper: ChatGen-Evo"]
    model_row = evo[evo["Measured step"] == "Model selection"].iloc[0]
    assert (model_row["Step metric"], model_row["Step value"], model_row["Unified"]) == (
        "Sel. acc", "0.553", "69.7"
    )  # fmt: skip
    assert build_ranking(submissions, "few_shot").ablations == []  # Table 6 is Supervised only


def test_the_page_shows_the_ablation_table(tmp_path, monkeypatch):
    AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
    copy_sample(tmp_path)
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(tmp_path))
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert any("Step ablations" in h.value for h in at.subheader)
    (table,) = [df.value for df in at.dataframe if "Measured step" in df.value.columns]
    assert len(table) == 7 and set(table["Kind"]) == {"reported"}
    ranking = [df.value for df in at.dataframe if "Rank" in df.value.columns]
    assert "vs above" in ranking[0].columns and "Params" in ranking[0].columns
    assert copy.copy(ranking[0].set_index("Method").loc["ChatGen-Evo (2B)", "s / sample"]) == "1.9"


def test_a_submission_asking_for_an_ablation_is_scored_with_oracle_steps(tmp_path):
    from leaderboard.scoring_queue import ScoringQueue, ScoringWorker, default_queue_path

    folder = copy_sample(tmp_path, "prompt-alone")
    (folder / "results.json").unlink()
    meta = yaml.safe_load((folder / "meta.yaml").read_text())
    meta["oracle"] = "model,arguments"
    (folder / "meta.yaml").write_text(yaml.safe_dump(meta))
    store = SubmissionStore(tmp_path)
    queue = ScoringQueue(default_queue_path(tmp_path))
    queue.enqueue("prompt-alone")
    assert ScoringWorker(store, queue).run(once=True) == 1
    submission = store.load("prompt-alone")
    assert submission.results["oracle"]["steps"] == ["model", "arguments"]
    ranking = build_ranking([submission], "supervised")
    assert "prompt-alone" in dict(ranking.excluded)
    (row,) = [row for row in ranking.ablations if row.kind == "submission"]
    assert row.measured == "prompt" and row.values["selection_accuracy"] is None
    _, problems = validate_meta({"method": "m", "authors": "a", "setting": "all", "oracle": "x"})
    assert any("'oracle'" in p and "unknown oracle step" in p for p in problems)
