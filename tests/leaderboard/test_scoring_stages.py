"""The whole leaderboard path on a CPU with random demo weights: an upload is checked and stored
as the Submit tab does, a rendering worker scores it in stages (step-wise, rendering, image
metrics), the ranking shows its image columns (apart from real-weight rows), and the gallery has
its images. Also: a worker killed mid-render is resumed from the cache, models without weights,
a render that fails, and the Ray backend fanning the rendering out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from chatgenbench.core.random_weights import COMPARABILITY_LABEL
from chatgenbench.render.manifest import read_manifest
from chatgenbench.scoring.result_schema import check_results
from leaderboard.deployment import deployment_from_dict
from leaderboard.gallery import Gallery, GalleryFilter
from leaderboard.ranking import build_ranking
from leaderboard.scoring_queue import ScoringQueue, ScoringWorker, default_queue_path
from leaderboard.submissions import SubmissionStore
from tests.leaderboard_fixtures import ROOT, copy_sample

META = {"method": "Demo references", "authors": "tests", "setting": "supervised"}


def deployment_for(demo: dict, cache: Path, **changes) -> dict:
    """The demo deployment file's values, with its own render cache."""
    raw = yaml.safe_load(Path(demo["deployment"]).read_text("utf-8"))
    raw.update(render_cache=str(cache), **changes)
    return raw


def upload(store: SubmissionStore, name: str, data: bytes) -> None:
    """Check, store and queue an upload exactly as the Submit tab does."""
    check = store.check_upload("predictions.jsonl", data, {**META, "name": name})
    assert check.ok, check.problems or check.report.format_text(limit=5)
    store.add(check, data)
    ScoringQueue(default_queue_path(store.root)).enqueue(name)


def partial_overlay(demo: dict, keep: set[str], name: str) -> Path:
    """A copy of the demo overlay that gives weights only to the models in ``keep``."""
    full = Path(demo["catalog_overlay"])
    lines = [
        line for line in full.read_text("utf-8").splitlines() if json.loads(line)["name"] in keep
    ]
    overlay = full.with_name(f"{name}.jsonl")  # beside the original: its paths are relative
    overlay.write_text("\n".join(lines) + "\n", "utf-8")
    return overlay


def worker_for(store: SubmissionStore, raw: dict, scorer) -> ScoringWorker:
    queue = ScoringQueue(default_queue_path(store.root))
    worker = ScoringWorker(store, queue, deployment=deployment_from_dict(raw))
    worker._bertscore = scorer  # the session's MiniLM weights, loaded once
    return worker


@pytest.fixture(scope="module")
def scored(demo_weights, minilm_scorer, tmp_path_factory):
    """One uninterrupted rendering run of the demo predictions, with every stage recorded."""
    root = tmp_path_factory.mktemp("scored")
    store = SubmissionStore(root / "store")
    upload(store, "demo-refs", Path(demo_weights["predictions"]).read_bytes())
    worker = worker_for(store, deployment_for(demo_weights, root / "cache"), minilm_scorer)
    stages = []
    original = worker.queue.set_stage

    def recording(job_id, stage, progress=None, worker_id=None):
        stages.append((stage, json.loads(json.dumps(progress or {}))))
        ranking = build_ranking(store.submissions(), "supervised")
        names = [row.name for group in ranking.groups for row in group.rows]
        stages[-1][1]["ranked"] = "demo-refs" in names
        return original(job_id, stage, progress, worker_id)

    worker.queue.set_stage = recording
    assert worker.run(once=True) == 1
    return store, worker.queue, stages, root


def test_a_rendering_worker_scores_in_stages_and_fills_the_image_columns(scored):
    store, queue, stages, _ = scored
    (job,) = queue.jobs()
    assert job.state == "done", job.error
    order = list(dict.fromkeys(stage for stage, _ in stages))
    assert order == ["step-wise", "rendering", "image metrics"]
    # the step-wise results were in the ranking while the images were being rendered
    assert any(progress["ranked"] for stage, progress in stages if stage == "rendering")
    rendering = [progress["render"] for stage, progress in stages if "render" in progress]
    assert rendering[-1]["done"] == rendering[-1]["total"] == 12
    assert rendering[-1]["checkpoint_loads"] >= 1
    progress = job.progress_dict()
    assert set(progress["stage_seconds"]) == {"step-wise", "rendering", "image metrics"}
    assert progress["render_status"]["rendered"] == 12

    submission = store.load("demo-refs")
    results = submission.results
    assert check_results(results) == []
    block = results["settings"]["supervised"]
    for name in ("clip_score", "hps_v2", "image_reward"):
        assert block["image"][name]["status"] == "computed" and block["image"][name]["n"] == 12
    assert block["image"]["fid"]["status"] == "not_computed"  # the sample has no reference images
    assert block["stepwise"]["selection_accuracy"]["value"] == 1.0
    assert results["random_weights"]["used"] is True
    assert set(results["random_weights"]["metric_models"]) == {
        "clip_score",
        "hps_v2",
        "image_reward",
    }

    # the ranking: image columns filled, in a group of its own apart from real-weight rows
    copy_sample(store.root, "real-weights")
    ranking = build_ranking(store.submissions(), "supervised")
    (ours,) = [g for g in ranking.groups for r in g.rows if r.name == "demo-refs"]
    (real,) = [g for g in ranking.groups for r in g.rows if r.name == "real-weights"]
    assert ours is not real and COMPARABILITY_LABEL in ours.key
    assert any("RANDOM demo weights" in note for note in ours.notes)
    (row,) = ours.rows
    assert row.values["clip_score"] == pytest.approx(block["image"]["clip_score"]["value"])

    # the gallery: every sample has its image, served from the render folder
    gallery = Gallery(store)
    page = gallery.page("demo-refs", GalleryFilter(), 0, 12)
    assert page["n_selected"] == 12 and len(page["thumbnails"]) == 12
    sample = page["samples"][0]
    assert sample.has_image and sample.model_correct is True and sample.image_scores
    assert sample.bertscore == pytest.approx(1.0, abs=1e-4)
    assert gallery.thumbnail("demo-refs", sample.id).parent.parent.parent == store.render_dir(
        "demo-refs"
    )


def test_models_without_weights_are_counted_per_model_and_never_faked(
    scored, demo_weights, minilm_scorer, tmp_path
):
    _, _, _, root = scored
    keep = {"devlishphotorealism_v40", "hellorealisticman_V12a", "v1-5-pruned-emaonly"}
    overlay = partial_overlay(demo_weights, keep, "without-weights")
    store = SubmissionStore(tmp_path / "store")
    upload(store, "partial", Path(demo_weights["predictions"]).read_bytes())
    # the same shared cache as the first run: what it already holds is not rendered again
    raw = deployment_for(demo_weights, root / "cache", catalog=str(overlay))
    worker = worker_for(store, raw, minilm_scorer)
    assert worker.run(once=True) == 1
    (job,) = worker.queue.jobs()
    assert job.state == "done", job.error
    records = {r.id: r for r in read_manifest(store.render_dir("partial"))}
    with_image = {i for i, r in records.items() if r.has_image}
    assert with_image and all(records[i].model in keep for i in with_image)
    assert {r.status for r in records.values() if r.id in with_image} == {"cached"}
    assert set(store.rendered_images("partial")) == with_image
    index = Gallery(store).index("partial")
    missing = {r.model for r in records.values() if r.status == "weights_missing"}
    assert set(index.weights_missing) == missing and missing
    assert sum(index.weights_missing.values()) == 12 - len(with_image)
    block = store.load("partial").results["settings"]["supervised"]
    assert block["render_status"]["weights_missing"] == 12 - len(with_image)
    assert block["image"]["clip_score"]["n"] == len(with_image)


def test_an_ablation_submission_renders_with_the_oracle_steps_in_place(
    scored, demo_weights, minilm_scorer, tmp_path
):
    """meta.yaml 'oracle: model': the images are made with the reference model, not the predicted
    one (as 'evaluate --oracle' renders), and the model-selection metric is reported as oracle."""
    _, _, _, root = scored
    rows = [json.loads(line) for line in Path(demo_weights["predictions"]).read_text().splitlines()]
    for row in rows:
        row["model"] = "sd_xl_base_1.0"  # a wrong model for every sample
    data = ("\n".join(json.dumps(row) for row in rows) + "\n").encode()
    store = SubmissionStore(tmp_path / "store")
    check = store.check_upload(
        "predictions.jsonl", data, {**META, "name": "given-model", "oracle": "model"}
    )
    assert check.ok, check.problems
    store.add(check, data)
    ScoringQueue(default_queue_path(store.root)).enqueue("given-model")
    worker = worker_for(store, deployment_for(demo_weights, root / "cache"), minilm_scorer)
    assert worker.run(once=True) == 1
    (job,) = worker.queue.jobs()
    assert job.state == "done", job.error
    records = {r.id: r for r in read_manifest(store.render_dir("given-model"))}
    full = {r.id: r for r in read_manifest(scored[0].render_dir("demo-refs"))}
    assert {i: r.model for i, r in records.items()} == {i: r.model for i, r in full.items()}
    assert {r.status for r in records.values()} == {"cached"}  # the same images as the full run
    results = store.load("given-model").results
    assert results["oracle"]["steps"] == ["model"]


def test_a_failed_render_keeps_the_stepwise_results(
    demo_weights, minilm_scorer, tmp_path, monkeypatch
):
    import chatgenbench.render as render
    from chatgenbench.core.errors import RenderError

    def broken(*args, **kwargs):
        raise RenderError("no GPU left")

    monkeypatch.setattr(render, "render_predictions", broken)
    store = SubmissionStore(tmp_path / "store")
    upload(store, "broken", Path(demo_weights["predictions"]).read_bytes())
    worker = worker_for(store, deployment_for(demo_weights, tmp_path / "cache"), minilm_scorer)
    worker.run(once=True)
    (job,) = worker.queue.jobs()
    assert job.state == "failed" and "rendering failed: RenderError: no GPU left" in job.error
    submission = store.load("broken")
    assert submission.scored
    block = submission.results["settings"]["supervised"]
    assert block["stepwise"]["selection_accuracy"]["status"] == "computed"
    assert block["image"]["clip_score"]["status"] == "not_computed"
    assert "rendering failed" in block["image"]["clip_score"]["reason"]
    ranking = build_ranking(store.submissions(), "supervised")
    assert "broken" in [row.name for group in ranking.groups for row in group.rows]


def test_a_worker_killed_mid_render_is_resumed_from_the_cache(
    scored, demo_weights, minilm_scorer, tmp_path
):
    reference_store = scored[0]
    store = SubmissionStore(tmp_path / "store")
    upload(store, "killed", Path(demo_weights["predictions"]).read_bytes())
    config = tmp_path / "deployment.yaml"
    raw = deployment_for(demo_weights, tmp_path / "cache")
    config.write_text(yaml.safe_dump(raw), "utf-8")
    queue = ScoringQueue(default_queue_path(store.root))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "chatgenbench", "queue", "work", "--once",
         "--store", str(store.root), "--config", str(config)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seen = 0
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            (job,) = queue.jobs()
            render = job.progress_dict().get("render") or {}
            if job.stage == "rendering" and 1 <= render.get("done", 0) < render.get("total", 0):
                seen = render["done"]
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    if not seen:
        pytest.fail("the worker was not caught mid-render")
    (job,) = queue.jobs()
    assert job.state == "running"  # its worker is dead; the next worker takes it over

    worker = worker_for(store, raw, minilm_scorer)
    assert worker.run(once=True) == 1
    (job,) = queue.jobs()
    assert job.state == "done" and job.attempts == 2, job.error
    render = job.progress_dict()["render"]
    assert render["cached"] >= seen  # what the killed worker rendered is not rendered again
    assert render["total"] == 12 - render["cached"] and render["done"] == render["total"]
    ours = {r.id: r for r in read_manifest(store.render_dir("killed"))}
    theirs = {r.id: r for r in read_manifest(reference_store.render_dir("demo-refs"))}
    assert sum(r.status == "cached" for r in ours.values()) == render["cached"]
    for sample_id, record in theirs.items():
        assert ours[sample_id].cache_key == record.cache_key
        assert (store.render_dir("killed") / ours[sample_id].image).read_bytes() == (
            reference_store.render_dir("demo-refs") / record.image
        ).read_bytes()
    mine = store.load("killed").results["settings"]["supervised"]["image"]
    reference = reference_store.load("demo-refs").results["settings"]["supervised"]["image"]
    for name in ("clip_score", "hps_v2", "image_reward"):
        assert mine[name]["value"] == pytest.approx(reference[name]["value"])


def test_the_ray_backend_fans_the_rendering_out_from_one_coordinator(
    demo_weights, minilm_scorer, tmp_path
):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        store = SubmissionStore(tmp_path / "store")
        upload(store, "ray-run", Path(demo_weights["predictions"]).read_bytes())
        keep = {"devlishphotorealism_v40", "hellorealisticman_V12a", "v1-5-pruned-emaonly"}
        overlay = partial_overlay(demo_weights, keep, "ray")
        raw = deployment_for(
            demo_weights, tmp_path / "cache", render_backend="ray", ray_address=address,
            ray_actors=2, catalog=str(overlay),
        )  # fmt: skip
        worker = worker_for(store, raw, minilm_scorer)
        assert worker.run(once=True) == 1
    finally:
        ray.shutdown()
    (job,) = worker.queue.jobs()
    assert job.state == "done", job.error
    summary = json.loads((store.render_dir("ray-run") / "render_summary.json").read_text())
    assert summary["settings"]["backend"] == "ray" and summary["settings"]["workers"] == 2
    rendered = summary["counts"]["rendered"]
    assert rendered >= 2 and summary["counts"]["weights_missing"] == 12 - rendered
    assert len(store.rendered_images("ray-run")) == rendered


def test_a_jobs_stage_and_progress_are_shown_and_kept(tmp_path, capsys):
    from chatgenbench.cli import main

    queue = ScoringQueue(default_queue_path(tmp_path))
    job = queue.enqueue("staged")
    assert queue.get(job.id).stage_text() == "queued"
    queue.claim("host:1")
    progress = {"render": {"done": 5, "total": 12, "cached": 3, "checkpoint_loads": 2}}
    assert queue.set_stage(job.id, "rendering", progress, "host:1")
    assert not queue.set_stage(job.id, "rendering", progress, "host:2")  # not its job
    with pytest.raises(ValueError, match="unknown stage"):
        queue.set_stage(job.id, "painting", {}, "host:1")
    shown = queue.get(job.id)
    assert shown.stage_text() == "rendering 5/12 images (3 cached, 2 checkpoint loads)"
    assert shown.to_dict()["stage"] == shown.stage_text()
    assert main(["queue", "list", "--store", str(tmp_path)]) == 0
    assert "rendering 5/12 images (3 cached, 2 checkpoint loads)" in capsys.readouterr().out
    queue.complete(job.id, "host:1")
    done = queue.get(job.id)
    assert done.stage_text() == "done" and done.progress_dict()["render"]["done"] == 5


def test_a_queue_made_before_stages_gains_the_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, submission TEXT NOT NULL, "
            "state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, "
            "started REAL, finished REAL, heartbeat REAL, worker TEXT, error TEXT, note TEXT)"
        )
        db.execute("INSERT INTO jobs (submission, state, created) VALUES ('old', 'pending', 1)")
    queue = ScoringQueue(path)
    (job,) = queue.jobs()
    assert (job.submission, job.stage, job.stage_text()) == ("old", None, "queued")


@pytest.mark.parametrize("oracle", ["", "model"], ids=["full-run", "ablation"])
def test_a_rendering_job_reads_its_inputs_once_and_runs_bertscore_once(
    scored, demo_weights, minilm_scorer, tmp_path, monkeypatch, oracle
):
    """One rendering job (a full run, or an ablation with 'oracle' in meta.yaml) parses the
    prediction file once, opens the benchmark (rows and catalogue) once and computes BERTScore
    once, however many stages it has."""
    import chatgenbench.benchmark.catalog as catalog_module
    import chatgenbench.benchmark.loading as loading_module
    import chatgenbench.predictions.validation as validation_module
    from chatgenbench.metrics.bertscore import PromptBERTScore

    _, _, _, root = scored
    store = SubmissionStore(tmp_path / "store")
    data = Path(demo_weights["predictions"]).read_bytes()
    check = store.check_upload(
        "predictions.jsonl", data, {**META, "name": "counted", "oracle": oracle}
    )
    assert check.ok, check.problems
    store.add(check, data)
    ScoringQueue(default_queue_path(store.root)).enqueue("counted")
    worker = worker_for(store, deployment_for(demo_weights, root / "cache"), minilm_scorer)
    calls = {"read_prediction_rows": 0, "load_benchmark": 0, "load_catalog": 0, "score": 0}

    def counted(owner, name):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    counted(validation_module, "read_prediction_rows")
    counted(loading_module, "load_benchmark")
    counted(catalog_module, "load_catalog")
    counted(PromptBERTScore, "score")
    assert worker.run(once=True) == 1
    (job,) = worker.queue.jobs()
    assert job.state == "done", job.error
    assert calls == {"read_prediction_rows": 1, "load_benchmark": 1, "load_catalog": 1, "score": 1}
    results = store.load("counted").results
    assert results["oracle"]["steps"] == ([oracle] if oracle else [])
    assert results["settings"]["supervised"]["image"]["clip_score"]["status"] == "computed"
    assert results["per_sample"][0]["prompt_bertscore"] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("linked", ["render", "render/images"])
def test_a_render_folder_linked_out_of_the_store_is_never_written_into(
    demo_weights, minilm_scorer, tmp_path, linked
):
    store = SubmissionStore(tmp_path / "store")
    upload(store, "linked", Path(demo_weights["predictions"]).read_bytes())
    outside = tmp_path / "outside"
    outside.mkdir()
    link = store.path_for("linked") / linked
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)
    worker = worker_for(store, deployment_for(demo_weights, tmp_path / "cache"), minilm_scorer)
    worker.run(once=True)
    (job,) = worker.queue.jobs()
    assert job.state == "failed" and "symbolic link" in job.error
    assert list(outside.rglob("*")) == []
    assert store.load("linked").scored  # the step-wise results stay
