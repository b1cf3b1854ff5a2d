"""Step-wise bootstrap intervals on every slice, and the per-sample scores kept with a result."""

from __future__ import annotations

import pytest

from chatgenbench.metrics.bootstrap import Bootstrap, bootstrap_ci
from chatgenbench.scoring.evaluation import evaluate
from chatgenbench.scoring.result_schema import check_results, documented_keys
from chatgenbench.scoring.results import slice_blocks
from chatgenbench.scoring.uncertainty import (
    STEPWISE_SAMPLE_KEYS,
    attach_stepwise_intervals,
    per_sample_records,
)
from tests.conftest import sample_predictions, write_predictions


def _mixed_predictions() -> list[dict]:
    rows = sample_predictions()
    for index, row in enumerate(rows):
        if index % 3 == 0:
            row["model"] = rows[(index + 1) % len(rows)]["model"]
        if index % 2 == 0:
            row["arguments"] = dict(row["arguments"], sampler="Euler a", cfg_scale=3.5)
        if index % 4 == 1:
            row["prompt"] = "a photo of a cat"
    return rows


@pytest.fixture(scope="module")
def mixed_results(tmp_path_factory, minilm_scorer):
    folder = tmp_path_factory.mktemp("uncertainty")
    predictions = write_predictions(folder / "pred.jsonl", _mixed_predictions())
    return evaluate(predictions, "sample", bertscore=minilm_scorer, progress=False)


def test_every_computed_stepwise_metric_of_every_slice_has_a_seeded_interval(mixed_results):
    assert check_results(mixed_results) == []
    seen = 0
    for piece, block in slice_blocks(mixed_results):
        members = [r for r in mixed_results["per_sample"] if piece.selects(r)]
        for name, key in STEPWISE_SAMPLE_KEYS.items():
            metric = block["stepwise"][name]
            if metric["status"] != "computed":
                continue
            values = [float(r[key]) for r in members]
            assert metric["value"] == pytest.approx(sum(values) / len(values))
            expected = bootstrap_ci(values, resamples=1000, seed=0)
            if expected is None:
                assert metric["ci"] is None and len(values) < 2
                continue
            seen += 1
            assert metric["ci"]["low"] == pytest.approx(expected.low)
            assert metric["ci"]["high"] == pytest.approx(expected.high)
            assert metric["ci"]["low"] <= metric["value"] <= metric["ci"]["high"]
            assert metric["ci"]["seed"] == 0 and metric["ci"]["resamples"] == 1000
    assert seen >= 9  # three metrics on supervised, overall and at least one input type
    assert mixed_results["metric_settings"]["stepwise_bootstrap"]["seed"] == 0
    assert mixed_results["provenance"]["seed"] == 0


def test_the_interval_follows_the_seed_and_resamples(tmp_path, minilm_scorer):
    predictions = write_predictions(tmp_path / "pred.jsonl", _mixed_predictions())
    runs = [
        evaluate(
            predictions, "sample", bertscore=minilm_scorer, progress=False, bootstrap=bootstrap
        )
        for bootstrap in (Bootstrap(500, 0.9, 7), Bootstrap(500, 0.9, 7), Bootstrap(500, 0.9, 8))
    ]
    cis = [run["overall"]["stepwise"]["config_accuracy"]["ci"] for run in runs]
    assert cis[0] == cis[1]
    assert (cis[0]["low"], cis[0]["high"]) != (cis[2]["low"], cis[2]["high"])
    assert cis[0]["level"] == 0.9 and cis[0]["resamples"] == 500 and cis[2]["seed"] == 8


def test_per_sample_scores_are_kept_with_the_result(mixed_results):
    records = {r["id"]: r for r in mixed_results["per_sample"]}
    assert len(records) == mixed_results["overall"]["n_samples"] == 12
    rows = {row["id"]: row for row in _mixed_predictions()}
    from chatgenbench.benchmark.loading import sample_records

    for reference in sample_records():
        record = records[reference["id"]]
        assert record["selection_correct"] == (rows[reference["id"]]["model"] == reference["model"])
        assert record["setting"] == "supervised"
        assert 0.0 <= record["config_score"] <= 1.0
    assert "per_sample" in documented_keys()


def test_a_slice_of_one_sample_has_no_interval_and_a_failed_metric_none():
    samples = [
        {"id": "a", "setting": "s", "input_type": "single", "has_prediction": True,
         "prompt_bertscore": 0.5, "selection_correct": True, "config_score": 1.0},
        {"id": "b", "setting": "s", "input_type": "history", "has_prediction": True,
         "prompt_bertscore": 0.1, "selection_correct": False, "config_score": 0.2},
    ]  # fmt: skip

    def block(n, status="computed"):
        metric = {"status": status, "value": 0.0 if status == "computed" else None}
        return {
            "n_samples": n,
            "stepwise": {
                "prompt_bertscore": dict(metric, status="not_computed", value=None),
                "selection_accuracy": dict(metric),
                "config_accuracy": dict(metric),
            },
        }

    results = {
        "settings": {"s": {**block(2), "by_input_type": {"single": block(1), "history": block(1)}}},
        "overall": {**block(2), "by_input_type": {"single": block(1), "history": block(1)}},
    }
    attach_stepwise_intervals(results, samples, Bootstrap(200, 0.95, 1))
    top = results["overall"]["stepwise"]
    expected = bootstrap_ci([1.0, 0.2], resamples=200, seed=1)
    assert top["config_accuracy"]["ci"]["low"] == pytest.approx(expected.low)
    assert "ci" not in top["prompt_bertscore"]
    assert (
        results["overall"]["by_input_type"]["single"]["stepwise"]["config_accuracy"]["ci"] is None
    )
    kept = per_sample_records(samples, bertscore_failure="no encoder")
    assert [r["prompt_bertscore"] for r in kept] == [None, None]
    assert [r["selection_correct"] for r in kept] == [True, False]
