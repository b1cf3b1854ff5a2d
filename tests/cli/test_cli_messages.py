"""What the commands say: image counts and folders, render failures, quiet output, pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from chatgenbench.benchmark.loading import load_benchmark
from chatgenbench.cli import main
from chatgenbench.metrics.clip_score import write_clip
from chatgenbench.render.manifest import IMAGES_DIR, RenderRecord, image_filename, write_manifest
from tests.conftest import sample_predictions, write_predictions

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PREDICTIONS = "submissions/no-finetune-sample/predictions.jsonl"


def _render_folder(folder: Path, n_with_image: int) -> Path:
    rows = load_benchmark("supervised", "sample").to_list()
    (folder / IMAGES_DIR).mkdir(parents=True)
    rng = np.random.default_rng(0)
    records = []
    for index, row in enumerate(rows):
        if index < n_with_image:
            name = f"{IMAGES_DIR}/{image_filename(row['id'])}"
            image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(image).save(folder / name)
            records.append(
                RenderRecord(row["id"], "supervised", row["input_type"], "rendered", name)
            )
        else:
            records.append(
                RenderRecord(row["id"], "supervised", row["input_type"], "weights_missing")
            )
    write_manifest(folder, records)
    return folder


def test_evaluate_images_says_how_many_were_found_and_where(tmp_path, capsys):
    for found in (9, 12):
        folder = _render_folder(tmp_path / f"render-{found}", found)
        clip = write_clip(tmp_path / f"clip-{found}")
        code = main(["evaluate", SAMPLE_PREDICTIONS, "--images", str(folder),
                     "--image-metrics", "clip_score", "--clip-model", str(clip), "--no-progress"])  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0
        line = next(line for line in out.splitlines() if line.startswith("images:"))
        assert f"{found} of 12 samples found" in line and str(folder) in line
        assert ("weights_missing 3" in line) == (found == 9)


def test_evaluate_render_says_how_many_were_rendered(sample_run, tiny_models, tmp_path, capsys, monkeypatch):  # fmt: skip
    folder, predictions, _ = sample_run
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    clip = write_clip(tmp_path / "clip")
    out_dir = tmp_path / "renders"
    code = main(["evaluate", str(predictions), "--render", "--render-out", str(out_dir),
                 "--catalog", str(tiny_models.overlay), "--image-metrics", "clip_score",
                 "--clip-model", str(clip), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("images:"))
    assert "5 of 12 samples rendered (5 rendered, 0 from the cache)" in line
    assert str(out_dir) in line and "weights_missing 7" in line


def test_render_without_any_image_exits_non_zero_with_the_reason(tmp_path, capsys):
    predictions = write_predictions(tmp_path / "p.jsonl", sample_predictions())
    code = main(["render", str(predictions), "--benchmark", "sample", "--out", str(tmp_path / "o"),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert "no image was produced (weights_missing 12)" in captured.err
    assert "first reason:" in captured.err and "To get them" in captured.err


def _env(tmp_path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "CHATGENBENCH_HOME": str(tmp_path)}


def test_csv_numbers_as_text_give_one_summary_warning(tmp_path):
    from chatgenbench.predictions.validation import validate_predictions

    rows = sample_predictions()
    path = tmp_path / "p.csv"
    keys = ["sampler", "steps", "cfg_scale", "width", "height"]
    lines = ["id,prompt,model," + ",".join(keys)]
    for row in rows:
        values = [str(row["arguments"].get(k, "")) for k in keys]
        lines.append(",".join([row["id"], json.dumps(row["prompt"]), row["model"], *values]))
    path.write_text("\n".join(lines) + "\n", "utf-8")
    ids = [r["id"] for r in rows]
    report = validate_predictions(path, ids)
    casts = [p for p in report.warnings if p.kind == "cast"]
    assert len(casts) == 1 and casts[0].location == "file"
    assert casts[0].value.startswith(f"{4 * len(rows)} numeric cells")
    jsonl = write_predictions(tmp_path / "p.jsonl", rows)  # JSON strings still warn per field
    assert not [p for p in validate_predictions(jsonl, ids).warnings if p.kind == "cast"]


def test_evaluate_points_at_a_validate_that_counts_the_same(tmp_path, capsys, minilm_scorer):
    rows = sample_predictions()[:9]  # three benchmark ids without a prediction
    rows[0]["arguments"]["steps"] = "many"
    rows[1]["model"] = "no_such_model"
    path = write_predictions(tmp_path / "p.jsonl", rows)
    import chatgenbench.scoring.evaluation as evaluation

    original = evaluation.evaluate

    def with_scorer(*args, **kwargs):
        return original(*args, **{**kwargs, "bertscore": minilm_scorer})

    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluation, "evaluate", with_scorer)
        assert main(["evaluate", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    hint = next(line for line in out.splitlines() if "validation errors" in line)
    n_errors, n_warnings = int(hint.split()[0]), int(hint.split(" and ")[1].split()[0])
    command = hint.split("run '")[1].split("'")[0].split()[1:]
    assert main(command) == 1
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"{n_errors} errors, {n_warnings} warnings" in summary, (hint, summary)


def test_no_progress_silences_the_encoder_loading(tmp_path):
    for flag in ("--no-progress", "--quiet"):
        run = subprocess.run(
            [sys.executable, "-m", "chatgenbench", "evaluate", SAMPLE_PREDICTIONS, flag, "--json"],
            capture_output=True, text=True, env=_env(tmp_path), timeout=300, cwd=ROOT,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert "Loading weights" not in run.stderr and "it/s" not in run.stderr, run.stderr
        json.loads(run.stdout)  # nothing but the JSON on stdout


def test_schema_into_a_closed_pipe_ends_quietly(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "chatgenbench", "schema"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path), cwd=ROOT,
    )  # fmt: skip
    assert process.stdout.read(20).startswith(b"results schema")
    process.stdout.close()  # what `| head -1` does
    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""


def _with_session_scorer(monkeypatch, minilm_scorer) -> None:
    """Let ``evaluate`` reuse the session's MiniLM scorer (no second load)."""
    import chatgenbench.scoring.evaluation as evaluation

    original = evaluation.evaluate

    def with_scorer(*args, **kwargs):
        return original(*args, **{**kwargs, "bertscore": minilm_scorer})

    monkeypatch.setattr(evaluation, "evaluate", with_scorer)


def test_evaluate_render_without_any_image_exits_non_zero_with_what_to_run(
    tmp_path, capsys, monkeypatch, minilm_scorer
):
    _with_session_scorer(monkeypatch, minilm_scorer)
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    predictions = write_predictions(tmp_path / "p.jsonl", sample_predictions())
    for extra in ([], ["--json"]):
        out = tmp_path / f"results{len(extra)}.json"
        code = main(["evaluate", str(predictions), "--render", "--render-out", str(tmp_path / "r"),
                     "--image-metrics", "clip_score", "--out", str(out), "--no-progress",
                     *extra])  # fmt: skip
        captured = capsys.readouterr()
        assert code == 1, captured.err
        assert "no image was produced (weights_missing 12)" in captured.err
        assert "first reason:" in captured.err
        assert json.loads(out.read_text())["overall"]["n_images"] == 0  # results still written
        if extra:
            json.loads(captured.out)  # stdout stays the results JSON
    command = captured.err.split("run '")[1].split("'")[0]
    assert command.startswith("chatgenbench weights status --kind models --benchmark sample")
    assert main(command.split()[1:]) in (0, 1)  # the command it names runs
    assert "v1-5-pruned-emaonly" in capsys.readouterr().out


def test_render_without_any_image_names_the_same_status_command(tmp_path, capsys):
    predictions = write_predictions(tmp_path / "p.jsonl", sample_predictions())
    code = main(["render", str(predictions), "--benchmark", "sample", "--out", str(tmp_path / "o"),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    expected = (
        f"chatgenbench weights status --kind models --benchmark sample --predictions {predictions}"
    )
    assert f"run '{expected}'" in captured.err
    assert f"run '{expected}'" in captured.out  # the summary's line says the same


def test_evaluate_without_out_writes_the_results_and_says_where(
    tmp_path, capsys, monkeypatch, minilm_scorer
):
    _with_session_scorer(monkeypatch, minilm_scorer)
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    assert main(["evaluate", SAMPLE_PREDICTIONS, "--benchmark", "sample", "--no-progress"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("results written to ")
    first = Path(line.removeprefix("results written to "))
    assert first.parent == tmp_path / "home" / "results"
    assert json.loads(first.read_text())["overall"]["n_samples"] == 12
    # a second run (even in the same second) writes a file of its own; --json keeps stdout JSON
    assert main(["evaluate", SAMPLE_PREDICTIONS, "--benchmark", "sample", "--no-progress",
                 "--json"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    json.loads(captured.out)
    second = Path(captured.err.strip().splitlines()[-1].removeprefix("results written to "))
    assert second != first and second.is_file() and first.is_file()


def test_queue_list_prints_a_header(tmp_path, capsys):
    store = ["--store", str(tmp_path / "store")]
    assert main(["queue", "list", *store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["job", "state", "submission", "queued", "stage", "reason"]
    assert lines[1].startswith("(no jobs in ")
    from leaderboard.scoring_queue import ScoringQueue, default_queue_path

    ScoringQueue(default_queue_path(tmp_path / "store")).enqueue("some-run")
    assert main(["queue", "list", *store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("job\tstate") and lines[1].startswith("1\tpending\tsome-run\t")
