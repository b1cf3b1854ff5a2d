"""``chatgenbench ablate``: the Table 6 ablations, rendered through the cache with tiny random models
on the sample whose reference arguments are shrunk (synthetic)."""

from __future__ import annotations

import json

import pytest

from chatgenbench.analysis.ablation import ABLATIONS, ablation_table, run_ablations
from chatgenbench.cli import main
from chatgenbench.render.manifest import read_manifest
from chatgenbench.scoring.images import ImageMetricSettings
from chatgenbench.scoring.result_schema import check_results
from chatgenbench.testing.small_benchmark import write_small_sample
from tests.conftest import RENDERABLE, sample_predictions, write_predictions


def _predictions() -> list[dict]:
    """The sample's answers with the prompt of one row and the model of another wrong."""
    rows = sample_predictions()
    by_id = {row["id"]: row for row in rows}
    by_id["sample-0001"]["prompt"] = "a cat on a sofa"
    by_id["sample-0002"]["model"] = "no_such_model_v9"
    return rows


@pytest.fixture(scope="module")
def ablations(tmp_path_factory, tiny_models, metric_models, minilm_scorer):
    root = tmp_path_factory.mktemp("ablate")
    bench = write_small_sample(root / "bench")
    predictions = write_predictions(root / "method.jsonl", _predictions())
    settings = ImageMetricSettings(
        image_reward_model=metric_models["ir"], metrics=("image_reward",), device="cpu",
        batch_size=4, bootstrap_resamples=100,
    )  # fmt: skip
    common = dict(
        out_dir=root / "out", image_settings=settings, catalog=str(tiny_models.overlay),
        bertscore=minilm_scorer, progress=False, render_root=root / "renders",
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:  # a fresh render cache of this module's own
        patch.setenv("CHATGENBENCH_HOME", str(root / "home"))
        first = run_ablations([predictions], str(bench), **common)
        second = run_ablations([predictions], str(bench), **common)
        yield root, bench, predictions, first, second


def test_each_ablation_gives_the_other_steps_and_reports_its_own(ablations):
    root, _, predictions, first, _ = ablations
    assert [run["step"] for run in first["runs"]] == ["prompt", "model", "arguments"]
    for run in first["runs"]:
        results = json.loads(open(run["results_path"]).read())
        assert check_results(results) == []
        assert results["oracle"]["steps"] == list(ABLATIONS[run["step"]])
        stepwise = results["settings"]["supervised"]["stepwise"]
        for step, metric in (("prompt", "prompt_bertscore"), ("model", "selection_accuracy"),
                             ("arguments", "config_accuracy")):  # fmt: skip
            assert stepwise[metric]["status"] == ("computed" if step == run["step"] else "oracle")
        assert results["settings"]["supervised"]["image"]["image_reward"]["status"] == "computed"
    # Model selection is measured with the method's models: the unknown one renders nothing;
    # where the model is given, that sample renders with the reference model.
    model_run = {r.id: r.status for r in read_manifest(root / "renders" / "method.model")}
    prompt_run = {r.id: r.status for r in read_manifest(root / "renders" / "method.prompt")}
    assert model_run["sample-0002"] == "invalid_prediction"
    assert prompt_run["sample-0002"] in ("rendered", "cached")
    selection = first["results"][(str(predictions), "model")]["overall"]["stepwise"]
    assert selection["selection_accuracy"]["value"] == pytest.approx(11 / 12)


def test_a_second_run_renders_nothing_new(ablations):
    _, _, _, first, second = ablations
    assert sum(run["renders"]["rendered"] for run in first["runs"]) > 0
    assert sum(run["renders"]["rendered"] for run in second["runs"]) == 0
    assert all(run["renders"]["cached"] >= len(RENDERABLE) - 1 for run in second["runs"])
    for key, results in second["results"].items():
        image = results["overall"]["image"]["image_reward"]["value"]
        assert image == pytest.approx(
            first["results"][key]["overall"]["image"]["image_reward"]["value"]
        )


def test_the_table_has_tables_6_layout(ablations):
    _, _, predictions, first, _ = ablations
    text = ablation_table(first["results"])
    lines = text.splitlines()
    assert "Prompt writing (given: model, arguments)" in lines[0]
    assert "Model selection (given: prompt, arguments)" in lines[0]
    assert "Argument setting (given: prompt, model)" in lines[0]
    assert lines[1].split()[:5] == ["method", "BERTScore", "FID", "ImageReward", "Unified"]
    row = lines[3].split()
    assert row[0] == "method.jsonl" and row[5] == "0.917"  # Sel. acc of the model ablation
    assert row[3] != "-" and row[2] == "-"  # ImageReward computed; FID needs reference images


def test_cli_ablate_prints_the_table_and_the_cache_count(
    ablations, tiny_models, metric_models, tmp_path, capsys
):
    _, bench, predictions, _, _ = ablations  # the same cache: every render is in it already
    code = main([
        "ablate", str(predictions), "--benchmark", str(bench), "--out-dir", str(tmp_path / "o"),
        "--catalog", str(tiny_models.overlay), "--image-metrics", "image_reward",
        "--image-reward-model", metric_models["ir"], "--device", "cpu", "--no-progress",
        "--steps", "model,arguments",
    ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "Model selection" in out and "Prompt writing" not in out
    assert "0 rendered" in out and "from the cache" in out
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "method.arguments.json", "method.model.json"
    ]  # fmt: skip


def test_the_ablations_of_a_file_open_the_benchmark_and_read_the_file_once(
    tmp_path, minilm_scorer, monkeypatch
):
    import chatgenbench.benchmark.loading as loading_module
    import chatgenbench.predictions.validation as validation_module

    calls = {"load_benchmark": 0, "read_prediction_rows": 0}

    def counted(owner, name):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    counted(loading_module, "load_benchmark")
    counted(validation_module, "read_prediction_rows")
    predictions = write_predictions(tmp_path / "method.jsonl", _predictions())
    outcome = run_ablations(
        [predictions], "sample", out_dir=tmp_path / "out", render=False,
        bertscore=minilm_scorer, progress=False,
    )  # fmt: skip
    assert [run["step"] for run in outcome["runs"]] == ["prompt", "model", "arguments"]
    assert calls == {"load_benchmark": 1, "read_prediction_rows": 1}
    selection = outcome["results"][(str(predictions), "model")]["overall"]["stepwise"]
    assert selection["selection_accuracy"]["value"] == pytest.approx(11 / 12)


def _wrong_models() -> list[dict]:
    rows = sample_predictions()
    models = [row["model"] for row in rows]
    for index, row in enumerate(rows):
        row["model"] = models[(index + 1) % len(models)]
    return rows


def test_two_submissions_named_predictions_jsonl_keep_their_own_results(tmp_path, capsys):
    """Every submission in the store is predictions.jsonl: the outputs and table labels of two
    must stay apart (they used to share out/predictions.model.json and the label)."""
    a = write_predictions(_folder(tmp_path / "store" / "alpha"), sample_predictions())
    b = write_predictions(_folder(tmp_path / "store" / "beta"), _wrong_models())
    out = tmp_path / "out"
    args = ["ablate", str(a), str(b), "--no-images", "--steps", "model", "--encoder", "minilm"]
    assert main([*args, "--out-dir", str(out), "--no-progress", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    paths = [run["results_path"] for run in runs]
    assert len(set(paths)) == 2 and sorted(p.name for p in out.iterdir()) == sorted(
        [path.split("/")[-1] for path in paths]
    )
    accuracy = [
        json.loads(open(path).read())["overall"]["stepwise"]["selection_accuracy"]["value"]
        for path in paths
    ]
    assert accuracy == [pytest.approx(1.0), pytest.approx(0.0)]
    assert main([*args, "--out-dir", str(tmp_path / "table"), "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "alpha--predictions" in table and "beta--predictions" in table


def _folder(path):
    path.mkdir(parents=True)
    return path / "predictions.jsonl"


@pytest.mark.parametrize("same", ["twice", "dot-slash", "symlink"])
def test_the_same_file_twice_is_refused_before_any_work(tmp_path, capsys, same):
    a = write_predictions(_folder(tmp_path / "alpha"), sample_predictions())
    other = {"twice": a, "dot-slash": a.parent / "." / a.name}.get(same)
    if other is None:
        other = tmp_path / "link.jsonl"
        other.symlink_to(a)
    out = tmp_path / "out"
    args = ["ablate", str(a), str(other), "--no-images", "--out-dir", str(out)]
    assert main(args) == 2
    assert "same file" in capsys.readouterr().err
    assert not out.exists()


def test_the_table_labels_files_that_share_a_name_apart():
    results = {"overall": {"stepwise": {}}, "settings": {}}
    table = ablation_table(
        {("x/a/predictions.jsonl", "model"): results, ("x/b/predictions.jsonl", "model"): results},
        setting="all",
    )
    assert "a--predictions" in table and "b--predictions" in table


def test_a_results_file_that_would_overwrite_a_prediction_file_is_refused(tmp_path, capsys):
    """m.jsonl's model run writes m.model.json: here, that is the other prediction file."""
    first = write_predictions(tmp_path / "m.jsonl", sample_predictions())
    predictions = write_predictions(tmp_path / "m.model.json", sample_predictions())
    before = predictions.read_bytes()
    args = ["ablate", str(first), str(predictions), "--no-images", "--steps", "model"]
    assert main([*args, "--out-dir", str(tmp_path / "."), "--no-progress"]) == 2
    assert "would overwrite" in capsys.readouterr().err
    assert predictions.read_bytes() == before
