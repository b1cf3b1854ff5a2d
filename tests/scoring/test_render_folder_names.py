"""The default render folder of a run: one per prediction content, setting, oracle steps,
benchmark, catalogue and render options, so that no run overwrites another's render."""

from __future__ import annotations

import json

from chatgenbench.scoring.stages import default_render_dir, open_run
from chatgenbench.testing.small_benchmark import write_small_sample
from tests.conftest import sample_predictions, write_predictions


def _predictions(folder):
    folder.mkdir(parents=True)
    return write_predictions(folder / "predictions.jsonl", sample_predictions())


def test_the_same_predictions_for_another_benchmark_catalogue_or_options_render_apart(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    predictions = _predictions(tmp_path / "a")
    sample = open_run(predictions, "sample", "supervised")
    small = open_run(predictions, str(write_small_sample(tmp_path / "bench")), "supervised")
    assert sample.report.sha256 == small.report.sha256  # one file, the same requests
    # another benchmark: the render used to go to (and overwrite) the same folder
    assert default_render_dir(sample) != default_render_dir(small)
    overlay = tmp_path / "overlay.jsonl"
    entry = {"name": "extra_model_v1", "architecture": "sd15", "kind": "checkpoint"}
    overlay.write_text(json.dumps(entry) + "\n", "utf-8")
    folders = [
        default_render_dir(sample),
        default_render_dir(small),
        default_render_dir(sample, options={"device": "cuda"}),
        default_render_dir(sample, options={"dtype": "fp16"}),
        default_render_dir(sample, catalog=overlay),
        default_render_dir(sample.with_oracle("model")),
    ]
    assert len(set(folders)) == len(folders)
    assert all(folder.parent == tmp_path / "home" / "renders" for folder in folders)


def test_the_same_run_renders_into_the_same_folder(tmp_path, monkeypatch):
    """The folder is stable: a rerun (or a copy of the same file elsewhere) finds its render."""
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    first, copy = _predictions(tmp_path / "a"), _predictions(tmp_path / "b")
    progress = {"on_progress": print, "command": ["x"], "device": "cpu"}
    assert default_render_dir(open_run(first, "sample", "supervised"), options=progress) == (
        default_render_dir(open_run(copy, "sample", "supervised"), options={"device": "cpu"})
    )
