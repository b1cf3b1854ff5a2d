"""``chatgenbench export``: the per-sample details dataset that ``datasets.load_dataset`` reads, and
everything it refuses because it cannot be shown to belong to the results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chatgenbench.analysis import details
from chatgenbench.analysis.details import ExportError, export_details, push_details
from chatgenbench.cli import main
from chatgenbench.render.manifest import read_manifest
from tests.conftest import RENDERABLE, sample_predictions, write_predictions


@pytest.fixture(scope="module")
def scored_run(sample_run, metric_models, minilm_scorer, tmp_path_factory):
    """The sample's rendered answers scored (CLIP score only): results, predictions, renders."""
    from chatgenbench.scoring.evaluation import evaluate
    from chatgenbench.scoring.images import ImageMetricSettings

    folder, predictions, report = sample_run
    out = tmp_path_factory.mktemp("scored")
    settings = ImageMetricSettings(
        clip_model=metric_models["clip"],
        fid_cache_dir=metric_models["cache"],
        device="cpu",
        batch_size=4,
        bootstrap_resamples=20,
        metrics=("clip_score",),
    )
    evaluate(
        predictions,
        "sample",
        images=report.out_dir,
        image_settings=settings,
        bertscore=minilm_scorer,
        progress=False,
        out=out / "results.json",
    )
    return out / "results.json", predictions, report.out_dir


def _copy_render(render: Path, target: Path) -> Path:
    shutil.copytree(render, target)
    return target


def test_load_dataset_reads_an_export_with_images(scored_run, tmp_path):
    results_path, predictions, render = scored_run
    report = export_details(results_path, tmp_path / "out", images=render, predictions=predictions)
    assert report.rows == 12 and report.images == len(RENDERABLE) and report.matches_withheld == 0
    rows = load_dataset(tmp_path / "out")["test"]
    assert len(rows) == 12
    results = json.loads(results_path.read_text())
    scored = {r["id"]: r for r in results["per_sample"]}
    records = {r.id: r for r in read_manifest(render)}
    predicted = {r["id"]: r for r in sample_predictions()}
    for row in rows:
        sample = scored[row["id"]]
        assert row["prompt_bertscore"] == pytest.approx(sample["prompt_bertscore"])
        assert row["selection_correct"] == sample["selection_correct"]
        assert row["config_score"] == pytest.approx(sample["config_score"])
        assert row["render_status"] == sample["render_status"]
        assert row["predicted_prompt"] == predicted[row["id"]]["prompt"]
        assert json.loads(row["predicted_arguments"]) == predicted[row["id"]]["arguments"]
        matches = [row[f"match_{k}"] for k in ("sampler", "steps", "cfg_scale", "width", "height")]
        kept = [m for m in matches if m is not None]
        assert sum(kept) / len(kept) == pytest.approx(sample["config_score"])
        if row["id"] in RENDERABLE:
            assert row["score_clip_score"] == pytest.approx(sample["image_scores"]["clip_score"])
            png = (render / records[row["id"]].image).read_bytes()
            raw = rows.cast_column("image", _undecoded()).filter(
                lambda r, i=row["id"]: r["id"] == i
            )
            assert raw[0]["image"]["bytes"] == png  # the very PNG bytes that were scored
            assert row["image"].size == (64, 64)
            assert row["render_cache_key"] == records[row["id"]].cache_key
        else:
            assert row["image"] is None and row["image_problem"] is None
            assert row["score_clip_score"] is None
    card = (tmp_path / "out" / "README.md").read_text()
    assert '"revision"' in card and "Metric settings" in card and "clip_score" in card


def load_dataset(folder):
    """``datasets.load_dataset(folder)`` with a cache of its own: the shared cache keys a local
    folder by its name and file times, so two exports named ``out`` could meet there."""
    import datasets

    return datasets.load_dataset(str(folder), cache_dir=str(Path(folder).parent / "hf-cache"))


def _undecoded():
    from datasets import Image

    return Image(decode=False)


def test_the_card_says_random_demo_weights_made_the_images(scored_run, tmp_path):
    results_path, _, render = scored_run
    results = json.loads(results_path.read_text())
    results["random_weights"] = {"used": True, "render_models": ["x"], "note": "demo"}
    edited = tmp_path / "results.json"
    edited.write_text(json.dumps(results))
    export_details(edited, tmp_path / "out", images=render)
    assert "RANDOM DEMO WEIGHTS" in (tmp_path / "out" / "README.md").read_text()
    export_details(results_path, tmp_path / "plain", images=render)
    assert "RANDOM DEMO WEIGHTS" not in (tmp_path / "plain" / "README.md").read_text()


def test_shards_stream_and_read_back_in_order(scored_run, tmp_path):
    results_path, predictions, render = scored_run
    written = []
    real = details._ShardWriter.write

    def spy(self, rows):
        written.append(len(rows))
        return real(self, rows)

    pytest.MonkeyPatch.setattr(pytest.MonkeyPatch(), details._ShardWriter, "write", spy)
    try:
        report = export_details(
            results_path, tmp_path / "out", images=render, rows_per_shard=5, batch_rows=2
        )
    finally:
        details._ShardWriter.write = real
    assert len(report.shards) == 3 and max(written) <= 2  # never more than a batch in memory
    ids = load_dataset(tmp_path / "out")["test"]["id"]
    assert ids == [f"sample-{i:04d}" for i in range(1, 13)]


def test_an_image_moved_from_another_sample_is_left_out(scored_run, tmp_path):
    results_path, _, render = scored_run
    copy = _copy_render(render, tmp_path / "render")
    records = {r.id: r for r in read_manifest(copy)}
    (copy / records["sample-0001"].image).write_bytes(
        (copy / records["sample-0002"].image).read_bytes()
    )
    report = export_details(results_path, tmp_path / "out", images=copy)
    assert report.images == len(RENDERABLE) - 1
    assert report.image_problems == {
        "the PNG does not name the manifest's cache key for this sample": 1
    }


def test_an_image_linked_out_of_the_folder_or_too_large_is_left_out(
    scored_run, tmp_path, monkeypatch
):
    results_path, _, render = scored_run
    copy = _copy_render(render, tmp_path / "render")
    records = {r.id: r for r in read_manifest(copy)}
    outside = tmp_path / "outside.png"
    outside.write_bytes((copy / records["sample-0001"].image).read_bytes())
    (copy / records["sample-0001"].image).unlink()
    (copy / records["sample-0001"].image).symlink_to(outside)
    report = export_details(results_path, tmp_path / "out", images=copy)
    assert report.images == len(RENDERABLE) - 1
    assert list(report.image_problems) == [
        "unusable manifest record (a path out of the folder, a link, bad JSON)"
    ]
    monkeypatch.setattr(details, "MAX_IMAGE_BYTES", 16)
    report = export_details(results_path, tmp_path / "out2", images=render)
    assert report.images == 0 and report.image_problems == {"unreadable": len(RENDERABLE)}


def test_a_render_folder_that_was_not_the_one_scored_is_refused(scored_run, tmp_path):
    results_path, _, render = scored_run
    copy = _copy_render(render, tmp_path / "render")
    summary = json.loads((copy / "render_summary.json").read_text())
    summary["n_images"] += 1
    (copy / "render_summary.json").write_text(json.dumps(summary))
    with pytest.raises(ExportError, match="render_summary.json is not the one recorded"):
        export_details(results_path, tmp_path / "out", images=copy)
    (copy / "render_summary.json").unlink()
    (copy / "render_summary.json").symlink_to(render / "render_summary.json")
    with pytest.raises(ExportError, match="not a readable render folder"):
        export_details(results_path, tmp_path / "out", images=copy)


def test_results_without_images_refuse_a_render_folder(scored_run, tmp_path):
    results_path, _, render = scored_run
    results = json.loads(results_path.read_text())
    results.pop("images")
    edited = tmp_path / "results.json"
    edited.write_text(json.dumps(results))
    with pytest.raises(ExportError, match="scored no render folder"):
        export_details(edited, tmp_path / "out", images=render)


def test_other_predictions_or_another_benchmark_revision_are_refused(scored_run, tmp_path):
    results_path, _, _ = scored_run
    other = write_predictions(tmp_path / "other.jsonl", sample_predictions(size=128))
    with pytest.raises(ExportError, match="not that of the scored predictions"):
        export_details(results_path, tmp_path / "out", predictions=other)
    results = json.loads(results_path.read_text())
    results["benchmark"]["revision"] = "another"
    edited = tmp_path / "results.json"
    edited.write_text(json.dumps(results))
    with pytest.raises(ExportError, match="scored on benchmark revision"):
        export_details(edited, tmp_path / "out2")


def test_results_that_are_not_results_or_a_full_folder_are_refused(scored_run, tmp_path):
    results_path, _, _ = scored_run
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ExportError, match="does not match the results schema"):
        export_details(tmp_path / "bad.json", tmp_path / "out")
    (tmp_path / "deep.json").write_text("[" * 100_000)
    with pytest.raises(ExportError, match="not a readable results JSON"):
        export_details(tmp_path / "deep.json", tmp_path / "out")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not an empty folder"):
        export_details(results_path, tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_hostile_prediction_text_is_stored_as_bounded_text(
    scored_run, tmp_path, minilm_scorer, sample_run
):
    """A prediction whose text Parquet cannot hold (a lone surrogate) or that is huge is stored
    as bounded text, and per-key matches that do not reproduce the score are withheld."""
    results_path, predictions, _ = scored_run
    rows = [json.loads(line) for line in Path(predictions).read_text().splitlines()]
    rows[0]["prompt"] = "a \ud800 b" + "x" * 50_000
    rows[0]["model"] = "__import__('os').system('echo hi')"
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = json.loads(results_path.read_text())
    from chatgenbench.core.storage import sha256_file

    results["predictions"]["sha256"] = sha256_file(hostile)
    results["per_sample"][1]["config_score"] = 0.123  # not what its arguments give
    edited = tmp_path / "results.json"
    edited.write_text(json.dumps(results))
    report = export_details(edited, tmp_path / "out", predictions=hostile)
    assert report.matches_withheld == 1
    data = load_dataset(tmp_path / "out")["test"]
    assert data[0]["predicted_prompt"].startswith("a \ufffd b")
    assert len(data[0]["predicted_prompt"]) == details.MAX_TEXT_CHARS
    assert data[0]["predicted_model"] == "__import__('os').system('echo hi')"
    assert data[1]["match_steps"] is None and data[1]["config_score"] == pytest.approx(0.123)


class FakeHub:
    """Records the calls an upload makes (no hub is reachable here)."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))

        class Commit:
            commit_url = f"https://hub.example/datasets/{kwargs['repo_id']}/commit/1"

        return Commit()


def test_push_to_hub_creates_a_dataset_repo_and_uploads_the_folder(scored_run, tmp_path):
    results_path, _, _ = scored_run
    export_details(results_path, tmp_path / "out")
    hub = FakeHub()
    url = push_details(tmp_path / "out", "me/details", private=True, api=hub)
    assert url.endswith("/me/details/commit/1")
    assert hub.calls[0] == (
        "create_repo",
        "me/details",
        {"repo_type": "dataset", "private": True, "exist_ok": True},
    )
    assert hub.calls[1][1]["folder_path"] == str(tmp_path / "out")
    assert hub.calls[1][1]["repo_type"] == "dataset"
    for bad in ("no-owner", "../x/y", "a/b/c", "me/" + "x" * 200, ""):
        with pytest.raises(ExportError, match="not a repository id"):
            push_details(tmp_path / "out", bad, api=hub)
    with pytest.raises(ExportError, match="not a details export"):
        push_details(tmp_path, "me/details", api=hub)


def test_the_export_command_writes_and_pushes(scored_run, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    results_path, predictions, render = scored_run
    hub = FakeHub()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: hub)
    code = main([
        "export", str(results_path), "--out", str(tmp_path / "out"), "--images", str(render),
        "--predictions", str(predictions), "--push-to-hub", "me/details", "--json",
    ])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rows"] == 12 and printed["images"] == len(RENDERABLE)
    assert printed["hub"].endswith("/me/details/commit/1")
    assert hub.calls[0][2]["private"] is False
    code = main(["export", str(results_path), "--out", str(tmp_path / "o2"), "--private"])
    assert code == 2 and "--private needs --push-to-hub" in capsys.readouterr().err


def test_results_with_a_sample_the_benchmark_lacks_leave_no_partial_export(scored_run, tmp_path):
    results_path, _, _ = scored_run
    results = json.loads(results_path.read_text())
    results["per_sample"].append(dict(results["per_sample"][0], id="not-in-the-benchmark"))
    edited = tmp_path / "results.json"
    edited.write_text(json.dumps(results))
    with pytest.raises(ExportError, match="13 samples scored, 12 found in the benchmark"):
        export_details(edited, tmp_path / "out", rows_per_shard=5)
    assert not (tmp_path / "out").exists()  # no shards that look like a whole export
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError):
        export_details(edited, tmp_path / "empty", rows_per_shard=5)
    assert list((tmp_path / "empty").iterdir()) == []


def test_a_recipe_from_a_results_json_uses_the_render_folder_it_scored(
    scored_run, tiny_models, tmp_path, capsys
):
    from chatgenbench.render.png_parameters import png_parameters

    results_path, _, render = scored_run
    record = next(r for r in read_manifest(render) if r.id == "sample-0001")
    out = tmp_path / "params.txt"
    args = ["recipe", str(results_path), "--id", "sample-0001", "--format", "a1111"]
    assert main([*args, "--out", str(out), "--catalog", str(tiny_models.overlay)]) == 0
    assert out.read_text() == png_parameters((render / record.image).read_bytes()) + "\n"
    summary = json.loads((render / "render_summary.json").read_text())
    results = json.loads(results_path.read_text())
    results["images"]["render_summary"] = dict(summary, n_images=0)
    edited = tmp_path / "results.json"
    edited.write_text(json.dumps(results))
    capsys.readouterr()
    assert main(["recipe", str(edited), "--id", "sample-0001", "--out", str(tmp_path / "x")]) == 2
    assert "is not the one recorded" in capsys.readouterr().err
