from __future__ import annotations

import csv
import json

import pytest

from chatgenbench import evaluate
from chatgenbench.benchmark.loading import BenchmarkError
from chatgenbench.metrics import config_accuracy
from chatgenbench.metrics.bertscore import EncoderUnavailable
from chatgenbench.scoring.result_schema import IMAGE_METRICS, SCHEMA_VERSION, check_results
from tests.conftest import perfect_prediction, write_jsonl


def _stepwise(results, setting="supervised", input_type=None):
    block = results["settings"][setting]
    if input_type:
        block = block["by_input_type"][input_type]
    return {name: metric["value"] for name, metric in block["stepwise"].items()}


def test_perfect_predictions_score_one(tmp_path, sample_rows, minilm_scorer):
    path = write_jsonl(tmp_path / "p.jsonl", [perfect_prediction(r) for r in sample_rows])
    out = tmp_path / "results.json"
    results = evaluate(path, "sample", out=out, bertscore=minilm_scorer, progress=False)
    assert check_results(results) == []
    assert json.loads(out.read_text()) == results
    scores = _stepwise(results)
    assert scores["selection_accuracy"] == 1.0 and scores["config_accuracy"] == 1.0
    assert scores["prompt_bertscore"] == pytest.approx(1.0, abs=1e-4)
    block = results["settings"]["supervised"]
    assert block["n_samples"] == 12 and block["n_missing"] == 0
    assert block["stepwise"]["config_accuracy"]["per_key"] == dict.fromkeys(
        ["sampler", "steps", "cfg_scale", "width", "height"], 1.0
    )
    assert {t: b["n_samples"] for t, b in block["by_input_type"].items()} == {
        "single": 6,
        "multimodal": 6,
        "history": 0,
    }
    history = block["by_input_type"]["history"]["stepwise"]["selection_accuracy"]
    assert history == {
        "status": "not_computed",
        "value": None,
        "reason": "no samples in this slice",
    }
    assert results["overall"]["stepwise"] == block["stepwise"]


def test_image_and_unified_keys_exist_as_not_computed(tmp_path, sample_rows, minilm_scorer):
    path = write_jsonl(tmp_path / "p.jsonl", [perfect_prediction(r) for r in sample_rows])
    results = evaluate(path, "sample", bertscore=minilm_scorer, progress=False)
    for block in (
        results["settings"]["supervised"],
        results["overall"],
        results["settings"]["supervised"]["by_input_type"]["single"],
    ):
        for name in IMAGE_METRICS:
            assert block["image"][name]["status"] == "not_computed"
            assert block["image"][name]["value"] is None and block["image"][name]["reason"]
        assert block["unified"]["status"] == "not_computed" and "four" in block["unified"]["reason"]


def test_provenance_and_settings_are_recorded(tmp_path, sample_rows, minilm_scorer):
    path = write_jsonl(tmp_path / "p.jsonl", [perfect_prediction(r) for r in sample_rows])
    results = evaluate(path, "sample", bertscore=minilm_scorer, progress=False)
    assert results["schema_version"] == SCHEMA_VERSION and results["synthetic"] is False
    provenance = results["provenance"]
    from chatgenbench.core.storage import sha256_file

    assert provenance["predictions_sha256"] == sha256_file(path)
    assert provenance["encoder"] == "minilm"
    assert provenance["benchmark_source"] == "sample"
    assert provenance["benchmark_revision"].startswith("chatgenbench-")
    assert provenance["libraries"]["bert-score"] == "0.3.13"
    assert results["metric_settings"]["bertscore"]["num_layers"] == 6


def test_missing_and_invalid_predictions_score_zero_and_are_counted(
    tmp_path, sample_rows, minilm_scorer
):
    records = [perfect_prediction(r) for r in sample_rows[:6]]  # 6 to 11 missing
    records.append("{broken")  # an unreadable line counts for nothing
    wrong_model = perfect_prediction(sample_rows[11])
    wrong_model["model"] = "not-a-model"
    records.append(wrong_model)  # prompt and config still count; selection is wrong
    path = write_jsonl(tmp_path / "p.jsonl", records)
    results = evaluate(path, "sample", bertscore=minilm_scorer, progress=False)
    block = results["settings"]["supervised"]
    assert block["n_missing"] == 5
    assert block["n_invalid_fields"] == {"model": 1}
    scores = _stepwise(results)
    assert scores["selection_accuracy"] == pytest.approx(6 / 12)
    assert scores["config_accuracy"] == pytest.approx(7 / 12)
    assert scores["prompt_bertscore"] == pytest.approx(7 / 12, abs=1e-3)
    assert results["validation"]["n_invalid_rows"] == 1
    assert results["validation"]["by_kind"]["error"]["unknown_model"] == 1
    per_key = block["stepwise"]["config_accuracy"]["per_key"]
    assert per_key["steps"] == pytest.approx(7 / 12)


def test_config_accuracy_matches_the_functional_form(tmp_path, sample_rows, minilm_scorer):
    from baselines.no_finetune import NoFinetuneAdapter

    predictions = NoFinetuneAdapter().predict(sample_rows)
    path = write_jsonl(tmp_path / "p.jsonl", predictions)
    results = evaluate(path, "sample", bertscore=minilm_scorer, progress=False)
    expected = config_accuracy(
        [p["arguments"] for p in predictions], [r["arguments"] for r in sample_rows]
    )
    block = results["settings"]["supervised"]["stepwise"]["config_accuracy"]
    assert block["value"] == pytest.approx(expected.value)
    assert block["per_key"] == pytest.approx(expected.per_key)
    assert _stepwise(results)["selection_accuracy"] == 0.0  # one model for every request


def test_encoder_failure_leaves_other_metrics_computed(tmp_path, sample_rows):
    class Broken:
        setting = type(
            "S",
            (),
            {
                "name": "roberta-large",
                "describe": lambda self: {
                    "encoder": "roberta-large",
                    "num_layers": 17,
                    "rescale_with_baseline": True,
                },
            },
        )()

        def score(self, *args, **kwargs):
            raise EncoderUnavailable("weights not here")

    path = write_jsonl(tmp_path / "p.jsonl", [perfect_prediction(r) for r in sample_rows])
    results = evaluate(path, "sample", bertscore=Broken(), progress=False)
    prompt = results["settings"]["supervised"]["stepwise"]["prompt_bertscore"]
    assert prompt["status"] == "not_computed" and prompt["reason"] == "weights not here"
    assert "minilm" in prompt["how_to_fix"]
    assert _stepwise(results)["selection_accuracy"] == 1.0


def test_csv_and_jsonl_give_the_same_scores(tmp_path, sample_rows, minilm_scorer):
    records = [perfect_prediction(r) for r in sample_rows]
    records[0]["prompt"] = "a monster"
    jsonl = write_jsonl(tmp_path / "p.jsonl", records)
    path = tmp_path / "p.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "prompt", "model", "arguments"])
        for r in records:
            writer.writerow([r["id"], r["prompt"], r["model"], json.dumps(r["arguments"])])
    a = evaluate(jsonl, "sample", bertscore=minilm_scorer, progress=False)
    b = evaluate(path, "sample", bertscore=minilm_scorer, progress=False)
    assert a["settings"] == b["settings"]


def test_per_sample_output(tmp_path, sample_rows, minilm_scorer):
    path = write_jsonl(tmp_path / "p.jsonl", [perfect_prediction(r) for r in sample_rows[:2]])
    per_sample = tmp_path / "per_sample.jsonl"
    evaluate(path, "sample", bertscore=minilm_scorer, progress=False, per_sample_out=per_sample)
    lines = [json.loads(line) for line in per_sample.read_text().splitlines()]
    assert len(lines) == 12
    assert lines[0]["selection_correct"] is True and lines[5]["has_prediction"] is False


def test_unknown_setting_for_source(tmp_path, sample_rows, minilm_scorer):
    path = write_jsonl(tmp_path / "p.jsonl", [perfect_prediction(sample_rows[0])])
    with pytest.raises(BenchmarkError, match="no 'few_shot' setting"):
        evaluate(path, "sample", setting="few_shot", bertscore=minilm_scorer, progress=False)


def test_synthetic_results_say_so(tmp_path, minilm_scorer):
    from chatgenbench import load_benchmark
    from chatgenbench.benchmark.synth import write_synthetic

    folder = tmp_path / "synth"
    write_synthetic(folder, 60, seed=1, train_rows=0, n_models=20)
    rows = load_benchmark("all", folder).to_list()
    path = write_jsonl(tmp_path / "p.jsonl", [perfect_prediction(r) for r in rows])
    results = evaluate(path, folder, bertscore=minilm_scorer, progress=False)
    assert results["synthetic"] is True and results["benchmark"]["synthetic"] is True
    assert set(results["settings"]) == {"supervised", "few_shot"}
    assert results["overall"]["n_samples"] == 60
    assert _stepwise(results, "few_shot")["selection_accuracy"] == 1.0
