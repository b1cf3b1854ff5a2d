"""``chatgenbench compare``: paired differences, intervals, p-values, and refusals."""

from __future__ import annotations

import copy
import itertools
import json

import pytest

from chatgenbench.analysis.comparison import (
    comparability_problems,
    compare_results,
    paired_difference,
    sign_flip_p_value,
)
from chatgenbench.cli import main
from chatgenbench.core.errors import ComparisonError
from chatgenbench.metrics.bootstrap import bootstrap_ci
from chatgenbench.scoring.evaluation import evaluate
from tests.conftest import sample_predictions, write_predictions


def _wrong_models() -> list[dict]:
    rows = sample_predictions()
    models = [row["model"] for row in rows]
    for index, row in enumerate(rows):
        row["model"] = models[(index + 1) % len(models)]
    return rows


@pytest.fixture(scope="module")
def pair(tmp_path_factory, minilm_scorer):
    folder = tmp_path_factory.mktemp("compare")
    out = {}
    for name, rows in (("right", sample_predictions()), ("wrong", _wrong_models())):
        path = write_predictions(folder / f"{name}.jsonl", rows)
        out[name] = evaluate(
            path, "sample", bertscore=minilm_scorer, progress=False, out=folder / f"{name}.json"
        )
    out["folder"] = folder
    return out


def test_sign_flip_p_value_matches_exact_enumeration():
    differences = [0.3, -0.1, 0.25, 0.4, 0.05, -0.2, 0.15, 0.35]
    mean = abs(sum(differences) / len(differences))
    flips = list(itertools.product((-1, 1), repeat=len(differences)))
    exact = sum(
        abs(sum(s * d for s, d in zip(signs, differences)) / len(differences)) >= mean - 1e-12
        for signs in flips
    ) / len(flips)
    estimated = sign_flip_p_value(differences, resamples=20000, seed=1)
    assert estimated == pytest.approx(exact, abs=0.015)
    assert sign_flip_p_value(differences, resamples=500, seed=1) == sign_flip_p_value(
        differences, resamples=500, seed=1
    )


def test_paired_difference_interval_is_the_bootstrap_of_the_differences():
    a = [0.9, 0.8, 0.7, 0.95, 0.85, 0.6]
    b = [0.5, 0.7, 0.4, 0.9, 0.3, 0.6]
    result = paired_difference(a, b, resamples=300, seed=4)
    expected = bootstrap_ci([x - y for x, y in zip(a, b)], resamples=300, seed=4)
    assert result["difference"] == pytest.approx(sum(a) / 6 - sum(b) / 6)
    assert (result["ci"]["low"], result["ci"]["high"]) == pytest.approx(
        (expected.low, expected.high)
    )
    lower_better = paired_difference(a, b, higher_is_better=False, resamples=300, seed=4)
    assert result["significant"] == lower_better["significant"]
    if result["significant"]:
        assert (result["better"], lower_better["better"]) == ("A", "B")


def test_compare_finds_the_real_difference_and_not_a_fake_one(pair):
    comparison = compare_results(pair["right"], pair["wrong"], resamples=2000, seed=0)
    selection = comparison["slices"]["supervised"]["selection_accuracy"]
    assert selection["status"] == "compared" and selection["n"] == 12
    assert selection["difference"] == pytest.approx(1.0)
    assert selection["significant"] and selection["better"] == "A"
    assert selection["p_value"] < 0.01
    bertscore = comparison["slices"]["overall"]["prompt_bertscore"]
    assert bertscore["difference"] == pytest.approx(0.0)
    assert bertscore["p_value"] == 1.0 and not bertscore["significant"]
    assert bertscore["better"] is None
    fid = comparison["slices"]["overall"]["fid"]
    assert fid["status"] == "not_compared" and "not_computed" in fid["reason"]
    single = comparison["slices"]["supervised/single"]["selection_accuracy"]
    assert (
        single["n"]
        == pair["right"]["settings"]["supervised"]["by_input_type"]["single"]["n_samples"]
    )


def test_image_metrics_are_paired_on_their_per_image_scores(pair):
    a, b = copy.deepcopy(pair["right"]), copy.deepcopy(pair["wrong"])
    for results, shift in ((a, 0.02), (b, 0.0)):
        for index, record in enumerate(results["per_sample"]):
            record["render_status"] = "rendered"
            record["image_scores"] = {"hps_v2": 0.2 + 0.001 * index + shift}
        for block in (results["overall"], results["settings"]["supervised"]):
            mean = sum(r["image_scores"]["hps_v2"] for r in results["per_sample"]) / 12
            block["image"]["hps_v2"] = {"status": "computed", "value": 100 * mean, "n": 12}
    hps = compare_results(a, b, resamples=500)["slices"]["overall"]["hps_v2"]
    assert hps["status"] == "compared"
    assert hps["difference"] == pytest.approx(2.0)  # on the x100 scale the results report
    assert hps["value_a"] - hps["value_b"] == pytest.approx(2.0)


def test_results_of_other_benchmarks_or_settings_are_refused(pair):
    right = pair["right"]
    other = copy.deepcopy(right)
    other["benchmark"]["revision"] = "another"
    assert "different benchmarks" in " ".join(comparability_problems(right, other))
    other = copy.deepcopy(right)
    other["metric_settings"]["bertscore"]["encoder"] = "roberta-large"
    assert "metric settings differ" in " ".join(comparability_problems(right, other))
    other = copy.deepcopy(right)
    other["settings"]["few_shot"] = other["settings"]["supervised"]
    assert "different settings" in " ".join(comparability_problems(right, other))
    other = copy.deepcopy(right)
    del other["per_sample"]
    with pytest.raises(ComparisonError, match="B has no per-sample scores"):
        compare_results(right, other)
    assert comparability_problems(right, pair["wrong"]) == []


def test_cli_compare_prints_the_verdicts_and_refuses_with_exit_2(pair, capsys):
    folder = pair["folder"]
    a, b = str(folder / "right.json"), str(folder / "wrong.json")
    assert main(["compare", a, b, "--resamples", "500"]) == 0
    out = capsys.readouterr().out
    assert "A better" in out and "not significant" in out
    assert main(["compare", a, b, "--json", "--resamples", "200"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["slices"]["supervised"]["selection_accuracy"]["better"] == "A"
    other = json.loads((folder / "wrong.json").read_text())
    other["metric_settings"]["bertscore"]["num_layers"] = 17
    (folder / "other.json").write_text(json.dumps(other))
    assert main(["compare", a, str(folder / "other.json")]) == 2
    assert "cannot be compared" in capsys.readouterr().err


def test_compare_on_a_synthetic_benchmark_of_both_settings(tmp_path, minilm_scorer):
    """400 synthetic rows over supervised and few-shot: a method that gets the model right on
    supervised only is better there, and the few-shot slices tell them apart in no metric."""
    from chatgenbench import load_benchmark
    from chatgenbench.benchmark.synth import write_synthetic

    folder = tmp_path / "synth"
    write_synthetic(folder, 400, seed=5, train_rows=10, n_models=40)
    rows = [*load_benchmark("supervised", str(folder)), *load_benchmark("few_shot", str(folder))]
    base = []
    for row in rows:
        base.append({
            "id": row["id"], "prompt": row["prompt"], "negative_prompt": "",
            "model": "none_of_them_v1",
            "arguments": {k: v for k, v in row["arguments"].items() if v is not None},
        })  # fmt: skip
    better = [
        dict(p, model=row["model"]) if row["setting"] == "supervised" else p
        for p, row in zip(base, rows)
    ]
    results = {}
    for name, predictions in (("base", base), ("better", better)):
        path = write_predictions(tmp_path / f"{name}.jsonl", predictions)
        results[name] = evaluate(path, str(folder), bertscore=minilm_scorer, progress=False)
    assert results["better"]["synthetic"] is True
    comparison = compare_results(results["better"], results["base"], resamples=500)
    supervised = comparison["slices"]["supervised"]["selection_accuracy"]
    n_supervised = results["base"]["settings"]["supervised"]["n_samples"]
    assert supervised["n"] == n_supervised and supervised["better"] == "A"
    assert supervised["difference"] == pytest.approx(1.0)
    overall = comparison["slices"]["overall"]["selection_accuracy"]
    assert overall["difference"] == pytest.approx(n_supervised / len(rows))
    for name, result in comparison["slices"]["few_shot"].items():
        if result["status"] == "compared":
            assert result["difference"] == 0.0 and not result["significant"], name
    one_setting = evaluate(
        tmp_path / "base.jsonl", str(folder), setting="supervised", bertscore=minilm_scorer,
        progress=False,
    )  # fmt: skip
    with pytest.raises(ComparisonError, match="different settings"):
        compare_results(results["better"], one_setting)


# --- untrusted results: refused, never a verdict --------------------------------------------


def _record(results: dict, sample_id: str = "sample-0003") -> dict:
    return next(r for r in results["per_sample"] if r["id"] == sample_id)


def _set_score(results: dict, value, key: str = "prompt_bertscore") -> dict:
    _record(results)[key] = value
    return results


@pytest.mark.parametrize(
    ("side", "key", "value", "expected"),
    [
        ("b", "prompt_bertscore", float("nan"), "finite"),
        ("both", "prompt_bertscore", float("inf"), "finite"),
        ("a", "config_score", float("-inf"), "finite"),
        ("b", "config_score", "0.5", "expected a number"),
        ("a", "prompt_bertscore", True, "expected a number"),
        ("b", "selection_correct", "yes", "expected a number"),
        ("a", "config_score", [0.5], "expected a number"),
        ("b", "prompt_bertscore", {"value": 0.5}, "expected a number"),
    ],
)
def test_a_score_that_is_not_a_finite_number_is_refused(pair, side, key, value, expected):
    a, b = copy.deepcopy(pair["right"]), copy.deepcopy(pair["right"])
    for label, results in (("a", a), ("b", b)):
        if side in (label, "both"):
            _set_score(results, value, key)
    with pytest.raises(ComparisonError) as caught:
        compare_results(a, b, resamples=200, names=("left.json", "right.json"))
    message = str(caught.value)
    named = "left.json" if side in ("a", "both") else "right.json"
    assert named in message and key in message and "sample-0003" in message
    assert expected in message


def test_cli_refuses_a_nan_score_instead_of_a_verdict(pair, tmp_path, capsys):
    """The reported case: one NaN score made "B better, p 0.001" of identical results."""
    a = tmp_path / "a.json"
    a.write_text(json.dumps(pair["right"]))
    b = tmp_path / "b.json"
    b.write_text(json.dumps(_set_score(copy.deepcopy(pair["right"]), float("nan"))))
    assert main(["compare", str(a), str(b), "--resamples", "200"]) == 2
    captured = capsys.readouterr()
    assert "better" not in captured.out
    assert str(b) in captured.err and "prompt_bertscore" in captured.err
    assert "sample-0003" in captured.err


@pytest.mark.parametrize("same_value", [True, False])
def test_a_repeated_sample_id_is_refused(pair, same_value):
    b = copy.deepcopy(pair["wrong"])
    copied = copy.deepcopy(_record(b))
    if not same_value:
        copied["selection_correct"] = not copied["selection_correct"]
    b["per_sample"].append(copied)
    with pytest.raises(ComparisonError, match=r"B: .*sample-0003.*more than once"):
        compare_results(pair["right"], b, resamples=200)


@pytest.mark.parametrize("change", ["missing", "extra", "renamed"])
def test_ids_on_one_side_only_are_refused(pair, change):
    b = copy.deepcopy(pair["right"])
    if change == "missing":
        b["per_sample"] = [r for r in b["per_sample"] if r["id"] != "sample-0003"]
        expected = r"only in A: 'sample-0003'"
    elif change == "extra":
        b["per_sample"].append(dict(_record(b), id="sample-9999"))
        expected = r"only in B: 'sample-9999'"
    else:
        _record(b)["id"] = "sample-9999"
        expected = r"only in A: 'sample-0003'.*only in B: 'sample-9999'"
    # the per-sample change alone moves no reported mean here (every score is the same)
    with pytest.raises(ComparisonError, match=expected):
        compare_results(pair["right"], b, resamples=200)


def test_per_sample_scores_that_disagree_with_the_reported_mean_are_refused(pair):
    b = copy.deepcopy(pair["wrong"])
    for record in b["per_sample"]:
        record["selection_correct"] = True  # the per-sample records say 1.0, the slices say 0.0
    with pytest.raises(ComparisonError) as caught:
        compare_results(pair["right"], b, resamples=200)
    assert "selection_accuracy" in str(caught.value) and "mean of its 12" in str(caught.value)
    b = copy.deepcopy(pair["right"])
    b["settings"]["supervised"]["by_input_type"]["single"]["stepwise"]["config_accuracy"][
        "value"
    ] = 0.41
    with pytest.raises(ComparisonError, match=r"slice supervised/single\.config_accuracy"):
        compare_results(pair["right"], b, resamples=200)
    b = copy.deepcopy(pair["right"])
    b["overall"]["stepwise"]["selection_accuracy"]["value"] = "1.0"
    with pytest.raises(ComparisonError, match=r"overall\.selection_accuracy\.value"):
        compare_results(pair["right"], b, resamples=200)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("per_sample", {"sample-0001": {}}, "per_sample: .*expected a list"),
        ("per_sample", ["sample-0001"], r"per_sample\[0\]: .*expected an object"),
        ("per_sample", [{"id": 7}], r"per_sample\[0\]\.id: 7, expected a non-empty string"),
        ("settings", ["supervised"], "settings: .*expected an object"),
        ("metric_settings", {"bertscore": "minilm"}, "metric_settings.bertscore"),
        ("oracle", {"steps": "model"}, "oracle.steps"),
    ],
)
def test_blocks_of_the_wrong_type_are_refused(pair, field, value, expected):
    b = copy.deepcopy(pair["right"])
    b[field] = value
    with pytest.raises(ComparisonError, match=expected):
        compare_results(pair["right"], b, resamples=200)


def test_image_scores_that_are_not_numbers_are_refused(pair):
    b = copy.deepcopy(pair["right"])
    _record(b)["image_scores"] = {"hps_v2": float("nan")}
    with pytest.raises(ComparisonError, match=r"sample-0003.*image_scores.*hps_v2.*finite"):
        compare_results(pair["right"], b, resamples=200)
    _record(b)["image_scores"] = [0.2]
    with pytest.raises(ComparisonError, match=r"sample-0003.*image_scores.*expected an object"):
        compare_results(pair["right"], b, resamples=200)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 10_000 + "]" * 10_000, "nested too deep"),
        ('{"overall": ' * 10_000 + "{}" + "}" * 10_000, "nested too deep"),
        ("this is not json", "not a results JSON"),
        ('[{"overall": {}}]', "got list"),
        ('"overall"', "got str"),
        ('{"per_sample": []}', "no 'overall' block"),
        ("", "not a results JSON"),
    ],
)
def test_cli_refuses_files_that_are_not_results(pair, tmp_path, capsys, text, expected):
    a = pair["folder"] / "right.json"
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    assert main(["compare", str(a), str(bad), "--resamples", "200"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and expected in err
    bad.write_bytes(b"\xff\xfe{")
    assert main(["compare", str(bad), str(a), "--resamples", "200"]) == 2


def test_paired_difference_refuses_non_finite_scores():
    with pytest.raises(ValueError, match="NaN or infinite"):
        paired_difference([0.5, float("nan")], [0.5, 0.5])
