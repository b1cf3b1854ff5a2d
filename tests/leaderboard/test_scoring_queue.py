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

from chatgenbench.cli import main
from chatgenbench.scoring.result_schema import check_results
from leaderboard.scoring_queue import ScoringQueue, ScoringWorker, default_queue_path
from leaderboard.submissions import SubmissionStore
from tests.leaderboard_fixtures import ROOT, copy_sample, sample_results


def unscored(store: Path, name: str) -> Path:
    folder = copy_sample(store, name)
    (folder / "results.json").unlink()
    return folder


def copy_results(predictions, benchmark, *, setting, encoder, out):
    """A stand-in scorer for queue-logic tests: writes the sample's real results."""
    Path(out).write_text(json.dumps(sample_results()), "utf-8")


def test_job_lifecycle(tmp_path):
    queue = ScoringQueue(tmp_path / "q.sqlite3")
    job = queue.enqueue("a")
    assert (job.state, job.attempts) == ("pending", 0)
    assert queue.enqueue("a").id == job.id  # an active job is not duplicated
    claimed = queue.claim("host:1")
    assert (claimed.id, claimed.state, claimed.attempts, claimed.worker) == (
        job.id,
        "running",
        1,
        "host:1",
    )
    assert queue.claim("host:2") is None
    assert not queue.complete(job.id, "host:2")  # not that worker's job
    assert not queue.heartbeat(job.id, "host:2")
    assert queue.heartbeat(job.id, "host:1")
    assert queue.complete(job.id, "host:1")
    assert queue.get(job.id).state == "done"
    assert queue.enqueue("a").id != job.id  # rescoring a finished submission is a new job
    assert queue.counts() == {"pending": 1, "running": 0, "done": 1, "failed": 0}


def test_jobs_and_results_survive_a_restart_of_queue_and_worker(tmp_path):
    """Jobs queued by one process are still there for a new one, which scores them for real."""
    store = SubmissionStore(tmp_path)
    unscored(tmp_path, "first")
    unscored(tmp_path, "second")
    path = default_queue_path(tmp_path)
    ids = [ScoringQueue(path).enqueue(name).id for name in ("first", "second")]
    del store  # "restart": nothing but the files remain

    store = SubmissionStore(tmp_path)
    queue = ScoringQueue(path)
    assert [job.state for job in queue.jobs()] == ["pending", "pending"]
    worker = ScoringWorker(store, queue)  # the real scorer: chatgenbench.evaluate + MiniLM
    assert worker.run(once=True, max_jobs=1) == 1
    assert queue.get(ids[0]).state == "done" and queue.get(ids[1]).state == "pending"

    # the worker "restarts" too: a fresh one finishes the rest
    assert ScoringWorker(SubmissionStore(tmp_path), ScoringQueue(path)).run(once=True) == 1
    assert queue.counts() == {"pending": 0, "running": 0, "done": 2, "failed": 0}
    for name in ("first", "second"):
        submission = store.load(name)
        assert submission.rankable, submission.results_problems
        assert check_results(submission.results) == []
        config = submission.results["settings"]["supervised"]["stepwise"]["config_accuracy"]
        assert config["value"] == pytest.approx(1 / 3)  # as in the repository's results.json
        assert submission.results["metric_settings"]["bertscore"]["encoder"] == "minilm"


def test_a_job_whose_worker_was_killed_is_scored_again(tmp_path):
    """SIGKILL a real `chatgenbench queue work` while it scores; the next worker redoes the job."""
    unscored(tmp_path, "victim")
    path = default_queue_path(tmp_path)
    queue = ScoringQueue(path)
    job = queue.enqueue("victim")
    worker = subprocess.Popen(
        [sys.executable, "-m", "chatgenbench", "queue", "work", "--store", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while queue.get(job.id).state != "running":
            assert worker.poll() is None, "the worker exited before claiming the job"
            assert time.monotonic() < deadline, "the worker never claimed the job"
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    crashed = queue.get(job.id)
    assert crashed.state == "running" and crashed.worker.endswith(f":{worker.pid}")
    assert not (tmp_path / "victim" / "results.json").exists()

    finished = []
    ScoringWorker(SubmissionStore(tmp_path), queue, score=copy_results).run(
        once=True, on_job=finished.append
    )
    (done,) = finished
    assert (done.id, done.state, done.attempts) == (job.id, "done", 2)
    assert f"worker {crashed.worker} stopped while scoring" in done.note
    assert SubmissionStore(tmp_path).load("victim").rankable


def test_a_silent_worker_on_another_host_loses_its_job_after_the_lease(tmp_path):
    queue = ScoringQueue(tmp_path / "q.sqlite3", lease_seconds=60, max_attempts=2)
    job = queue.enqueue("a")
    start = time.time()
    queue.claim("elsewhere:1", now=start)
    assert queue.recover(now=start + 30) == []  # still within the lease
    assert queue.recover(now=start + 61) == [job.id]
    assert queue.get(job.id).state == "pending"
    assert "no heartbeat for over 60 s" in queue.get(job.id).note
    queue.claim("elsewhere:2", now=start + 62)
    assert queue.recover(now=start + 200) == [job.id]
    failed = queue.get(job.id)
    assert failed.state == "failed" and "gave up after 2 attempts" in failed.error
    retried = queue.retry(job.id)
    assert (retried.state, retried.attempts) == ("pending", 0)
    with pytest.raises(ValueError, match="only a failed job is retried"):
        queue.retry(job.id)


def test_a_submission_that_cannot_be_scored_fails_with_its_reason(tmp_path):
    folder = unscored(tmp_path, "elsewhere")
    meta = yaml.safe_load((folder / "meta.yaml").read_text("utf-8"))
    meta["benchmark"] = "/data/not-allowed"
    (folder / "meta.yaml").write_text(yaml.safe_dump(meta), "utf-8")
    unscored(tmp_path, "no-file")
    (tmp_path / "no-file" / "predictions.jsonl").unlink()
    queue = ScoringQueue(default_queue_path(tmp_path))
    jobs = [queue.enqueue(name) for name in ("elsewhere", "no-file")]
    ScoringWorker(SubmissionStore(tmp_path), queue, score=copy_results).run(once=True)
    first, second = (queue.get(job.id) for job in jobs)
    assert first.state == "failed" and "is not one this leaderboard scores against" in first.error
    assert second.state == "failed" and "no prediction file" in second.error
    assert not (tmp_path / "elsewhere" / "results.json").exists()


def test_queue_commands(tmp_path, capsys, monkeypatch):
    unscored(tmp_path, "cli-run")
    store = ["--store", str(tmp_path)]
    assert main(["queue", "add", "cli-run", *store]) == 0
    assert "job 1 (cli-run): pending" in capsys.readouterr().out
    assert main(["queue", "add", "nothing-here", *store]) == 2
    assert main(["queue", "list", *store]) == 0
    assert "1\tpending\tcli-run" in capsys.readouterr().out
    monkeypatch.setattr(
        "leaderboard.scoring_queue.ScoringWorker._evaluate",
        lambda self, predictions, benchmark, setting, out: (_ for _ in ()).throw(
            RuntimeError("disk full")
        ),
    )
    assert main(["queue", "work", "--once", *store]) == 0
    assert "job 1 (cli-run): failed: RuntimeError: disk full" in capsys.readouterr().out
    assert main(["queue", "retry", "1", *store]) == 0
    assert "pending" in capsys.readouterr().out
    assert main(["queue", "retry", "1", *store]) == 2


def test_an_interrupted_worker_hands_its_job_back_uncounted(tmp_path):
    unscored(tmp_path, "interrupted")
    queue = ScoringQueue(default_queue_path(tmp_path))
    job = queue.enqueue("interrupted")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ScoringWorker(SubmissionStore(tmp_path), queue, score=interrupt).run(once=True)
    back = queue.get(job.id)
    assert (back.state, back.attempts, back.worker) == ("pending", 0, None)
    assert "was interrupted" in back.note
