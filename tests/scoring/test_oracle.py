"""``evaluate --oracle``: reference values given for some steps, their metrics reported as oracle."""

from __future__ import annotations

import pytest

from chatgenbench.benchmark.loading import open_benchmark
from chatgenbench.cli import main
from chatgenbench.core.errors import UsageError
from chatgenbench.predictions.validation import validate_predictions
from chatgenbench.scoring.evaluation import evaluate
from chatgenbench.scoring.oracle import apply_oracle, parse_oracle_steps
from chatgenbench.scoring.result_schema import check_results
from chatgenbench.scoring.results import slice_blocks
from tests.conftest import sample_predictions, write_predictions


def _wrong_predictions() -> list[dict]:
    rows = sample_predictions()
    for row in rows:
        row["model"] = "surely_not_a_model_v1"
        row["arguments"] = {"sampler": "Euler a", "steps": "many", "cfg_scale": 3, "seed": 11}
        row["prompt"] = "a cat"
    return rows


def test_parse_oracle_steps_orders_and_refuses_unknown_steps():
    assert parse_oracle_steps("arguments, prompt") == ("prompt", "arguments")
    assert parse_oracle_steps(None) == () and parse_oracle_steps("") == ()
    with pytest.raises(UsageError, match="unknown oracle step"):
        parse_oracle_steps("prompt,models")


def test_apply_oracle_replaces_the_fields_of_the_given_steps(tmp_path):
    path = write_predictions(tmp_path / "pred.jsonl", _wrong_predictions())
    bench = open_benchmark("sample", "all")
    report = validate_predictions(path, bench.ids, bench.catalog, allow_missing=True)
    original = report.predictions["sample-0001"]
    assert {"model", "arguments.steps"} <= original.invalid_fields
    given = apply_oracle(report, bench.rows, ["model", "arguments"])
    rows = {row["id"]: row for row in bench.rows}
    for key, prediction in given.predictions.items():
        assert prediction.model == rows[key]["model"]
        assert prediction.prompt == "a cat"  # not given: the method's own
        assert {k: v for k, v in prediction.arguments.items() if k != "seed"} == {
            k: v for k, v in rows[key]["arguments"].items() if v is not None
        }
        assert prediction.arguments["seed"] == 11
        assert not {f for f in prediction.invalid_fields if f != "prompt"} & {
            "model", "arguments.steps"
        }  # fmt: skip
    # The file's own report is untouched, and its identity kept.
    assert original.model == "surely_not_a_model_v1" and given.sha256 == report.sha256


def test_oracle_metrics_are_reported_as_oracle_and_the_others_are_the_methods(
    tmp_path, minilm_scorer
):
    path = write_predictions(tmp_path / "pred.jsonl", _wrong_predictions())
    full = evaluate(path, "sample", bertscore=minilm_scorer, progress=False)
    given = evaluate(
        path, "sample", bertscore=minilm_scorer, progress=False, oracle="model,arguments"
    )
    assert check_results(given) == []
    assert given["oracle"]["steps"] == ["model", "arguments"]
    assert full["oracle"]["steps"] == []
    for _, block in slice_blocks(given):
        if not block["n_samples"]:
            continue
        assert block["stepwise"]["selection_accuracy"]["status"] == "oracle"
        assert block["stepwise"]["config_accuracy"]["status"] == "oracle"
        assert block["stepwise"]["selection_accuracy"]["value"] is None
    assert full["overall"]["stepwise"]["selection_accuracy"]["value"] == 0.0
    assert given["overall"]["stepwise"]["prompt_bertscore"]["value"] == pytest.approx(
        full["overall"]["stepwise"]["prompt_bertscore"]["value"]
    )
    assert all(r["selection_correct"] is None for r in given["per_sample"])
    assert all(r["config_score"] is None for r in given["per_sample"])
    assert all(r["prompt_bertscore"] is not None for r in given["per_sample"])
    # The prompt step given: its metric is no longer the method's.
    prompt = evaluate(path, "sample", bertscore=minilm_scorer, progress=False, oracle=["prompt"])
    assert prompt["overall"]["stepwise"]["prompt_bertscore"]["status"] == "oracle"
    assert prompt["overall"]["stepwise"]["selection_accuracy"]["value"] == 0.0


def test_cli_oracle_prints_oracle_and_refuses_an_unknown_step(tmp_path, capsys):
    path = write_predictions(tmp_path / "pred.jsonl", sample_predictions())
    assert main(["evaluate", str(path), "--no-progress", "--oracle", "model"]) == 0
    out = capsys.readouterr().out
    assert "oracle" in out.splitlines()[2] and "oracle steps" in out
    assert main(["evaluate", str(path), "--no-progress", "--oracle", "modle"]) == 2
    assert "unknown oracle step(s) modle" in capsys.readouterr().err
