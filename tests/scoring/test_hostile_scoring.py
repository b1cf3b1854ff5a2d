"""What ``validate`` accepts, ``evaluate`` scores; empty prompts on either side get a defined score."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from chatgenbench import evaluate
from chatgenbench.metrics.bertscore import EMPTY_PROMPT_POLICY, resolve_encoder
from chatgenbench.predictions.validation import validate_predictions
from tests.conftest import perfect_prediction

EMPTY_TEXTS = ["", " ", "\t\n ", "\u200b", "\x00", "\u0301"]  # no content token for the encoder
TEXT_VALUES = [
    "a \ud800 cat",
    "\udfff",
    "\ud83d\ude00 ok",  # a proper surrogate pair spelt in JSON: one emoji
    "猫" * 3000,
    "a " * 1999,
    "x\r\ny",
    "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0",
    *EMPTY_TEXTS,
]
NUMBER_VALUES = ["9" * 400, "1e400", '"512"', "512.0", "-0", "true", "null", '"\\ud800"', "[1]"]


def _hostile_lines(rows) -> list[str]:
    """One JSONL line per benchmark row, each with a hostile value in a different field."""
    fields = ["prompt", "negative_prompt", "model", "arguments.sampler"]
    numbers = ["arguments.steps", "arguments.cfg_scale", "arguments.width", "arguments.seed"]
    cases = [(f, json.dumps(v)) for f, v in itertools.product(fields, TEXT_VALUES)]
    cases += list(itertools.product(numbers, NUMBER_VALUES))
    lines = []
    for index, (field, raw) in enumerate(cases):
        record = perfect_prediction(rows[index % len(rows)])
        record["id"] = f"{record['id']}#{index}"
        marker = json.dumps("__RAW__")
        top, _, child = field.partition(".")
        if child:
            record[top][child] = "__RAW__"
        else:
            record[top] = "__RAW__"
        lines.append(json.dumps(record).replace(marker, raw))
    return lines


@pytest.fixture(scope="module")
def hostile_benchmark(tmp_path_factory, sample_rows):
    """A benchmark with one row per hostile case (ids ``<sample id>#<n>``), some with an empty
    reference prompt."""
    from chatgenbench.benchmark.catalog import sample_catalog
    from chatgenbench.benchmark.folder import write_benchmark_folder

    n = len(_hostile_lines(sample_rows))
    rows = []
    for index in range(n):
        row = dict(sample_rows[index % len(sample_rows)])
        row["id"] = f"{row['id']}#{index}"
        if index % 7 == 3:
            row["prompt"] = EMPTY_TEXTS[index % len(EMPTY_TEXTS)]
        rows.append(row)
    folder = tmp_path_factory.mktemp("hostile") / "bench"
    write_benchmark_folder(
        folder, {"supervised": rows}, sample_catalog(), source="test", synthetic=True
    )
    return folder, rows


def test_what_validate_accepts_evaluate_scores(
    tmp_path, sample_rows, hostile_benchmark, minilm_scorer
):
    folder, rows = hostile_benchmark
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(_hostile_lines(sample_rows)) + "\n", "utf-8")
    report = validate_predictions(path, [r["id"] for r in rows])
    assert report.n_invalid_rows == 0 and len(report.predictions) == len(rows)
    per_sample = tmp_path / "samples.jsonl"
    results = evaluate(
        path, folder, bertscore=minilm_scorer, progress=False, per_sample_out=per_sample
    )
    samples = [json.loads(line) for line in per_sample.read_text().splitlines()]
    assert len(samples) == len(rows)
    for sample in samples:
        assert math.isfinite(sample["prompt_bertscore"])
    stepwise = results["settings"]["supervised"]["stepwise"]
    assert all(metric["status"] == "computed" for metric in stepwise.values())
    by_id = {s["id"]: s for s in samples}
    for row in rows:  # an empty reference prompt scores 0 whatever was predicted
        if not row["prompt"].strip() or row["prompt"] in EMPTY_TEXTS:
            assert by_id[row["id"]]["prompt_bertscore"] == 0.0
    # a lone surrogate in the prompt is an invalid field: scored as wrong, not crashed on
    bad = [p for p in report.predictions.values() if not p.valid("prompt")]
    assert bad and all(by_id[p.id]["prompt_bertscore"] == 0.0 for p in bad)
    assert results["metric_settings"]["bertscore"]["empty_prompt"] == EMPTY_PROMPT_POLICY


@pytest.mark.parametrize("empty", EMPTY_TEXTS)
@pytest.mark.parametrize("side", ["candidate", "reference", "both"])
def test_empty_prompt_scores_zero_and_the_rest_match_bert_score(minilm_scorer, empty, side):
    from bert_score import score

    candidates = ["a red car on a hill", "portrait of an old man, film grain", "a cat"]
    references = ["red sports car, dramatic hill", "old man portrait, 35mm film", "a dog"]
    if side in ("candidate", "both"):
        candidates[1] = empty
    if side in ("reference", "both"):
        references[1] = empty
    ours = minilm_scorer.score(candidates, references)
    assert ours[1] == 0.0
    setting = resolve_encoder("minilm")
    _, _, reference_f1 = score(
        [candidates[0], candidates[2]],
        [references[0], references[2]],
        model_type=setting.model_type,
        num_layers=6,
    )
    assert ours[0] == pytest.approx(float(reference_f1[0]), abs=1e-5)
    assert ours[2] == pytest.approx(float(reference_f1[1]), abs=1e-5)


def test_all_empty_batch_needs_no_encoder_call(minilm_scorer):
    assert minilm_scorer.score(["", " "], ["a", "\u200b"]) == [0.0, 0.0]


def test_empty_prompt_policy_is_in_the_predictions_page():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "predictions.md").read_text("utf-8")
    assert "empty or whitespace-only prompt" in page
