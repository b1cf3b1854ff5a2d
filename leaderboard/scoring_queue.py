"""The scoring queue: jobs in SQLite, and the worker that scores them.

A job scores one stored submission (:mod:`leaderboard.submissions`) with the stages of
:mod:`chatgenbench.scoring.stages` (those :func:`chatgenbench.evaluate` runs) and writes its
``results.json``. States::

    pending -> running -> done
                       -> failed (reason kept; ``retry`` puts it back to pending)

A running job also has a **stage** (:data:`STAGES`) with its progress: ``step-wise``; then, for a
worker with rendering enabled (a :class:`leaderboard.deployment.Deployment` with ``render: true``),
``rendering`` (images done / to render, taken from the cache, checkpoint loads; the images go to
the submission's render folder through the shared content-addressed cache) and ``image metrics``.
The step-wise ``results.json`` is written first, so the ranking shows it while the images are
rendered; the image columns fill in after the last stage. The stages hand on what they read: a job
parses its prediction file once, opens the benchmark once and computes BERTScore once. A render
that fails leaves the step-wise results with the image metrics not computed (the reason given) and
fails the job with that reason. A worker killed mid-render leaves its images in the cache: the next
worker resumes the job and renders only what the cache lacks (the job's progress counts the cached
images).

Jobs live in an SQLite file (``$CHATGENBENCH_QUEUE_DB``, default ``<store>/.queue.sqlite3``), so
they survive restarts of the app and of the worker. A running job carries its worker's id
(``host:pid``) and a heartbeat that the worker refreshes while it scores. When a worker dies, its
job is taken up again: at once by the next worker on the same host (the pid is gone), or by any
worker once the heartbeat is older than the lease. A job whose workers died
:data:`MAX_ATTEMPTS` times is failed with that reason, so one poisonous submission cannot crash
workers forever. A queue file that cannot be used (not SQLite, truncated, a folder, another
schema) raises :class:`chatgenbench.core.errors.DatabaseFileError` naming it
(:mod:`leaderboard.sqlite_store`); every ``chatgenbench queue`` command then exits 2 with it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatgenbench.core.errors import DatabaseFileError
from chatgenbench.metrics.bertscore import DEFAULT_ENCODER
from leaderboard import sqlite_store
from leaderboard.store_location import QUEUE_ENV, QUEUE_FILENAME, database_path
from leaderboard.submissions import RESULTS_FILENAME, SAMPLES_FILENAME, SubmissionStore

QUEUE_WHAT = "scoring queue database"  # how errors name the file
STATES: tuple[str, ...] = ("pending", "running", "done", "failed")
#: The stages of a running job, in order (a step-wise-only worker has only the first).
STAGES: tuple[str, ...] = ("step-wise", "rendering", "image metrics")
PROGRESS_SECONDS = 0.25
DEFAULT_LEASE_SECONDS = 120.0
DEFAULT_HEARTBEAT_SECONDS = 10.0
MAX_ATTEMPTS = 3
ERROR_MAX_CHARS = 2000

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    submission TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    heartbeat REAL,
    worker TEXT,
    error TEXT,
    note TEXT,
    stage TEXT,
    progress TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE INDEX IF NOT EXISTS jobs_submission ON jobs (submission, id);
"""


def _add_stage_columns(db: sqlite3.Connection) -> None:
    """Add the ``stage`` and ``progress`` columns to a queue made before stages existed."""
    columns = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
    for column in ("stage", "progress"):
        if column not in columns:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {column} TEXT")


def default_queue_path(store_root: str | os.PathLike) -> Path:
    """Return ``$CHATGENBENCH_QUEUE_DB`` or ``<store_root>/.queue.sqlite3``."""
    return database_path(store_root, QUEUE_ENV, QUEUE_FILENAME)


def worker_identity() -> str:
    """Return this process's worker id, ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _worker_is_dead_here(worker: str | None) -> bool:
    """True when ``worker`` ran on this host and its process no longer exists."""
    if not worker or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return not _pid_alive(int(pid))


def _timestamp(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")


@dataclass
class Job:
    """One scoring job as stored in the queue."""

    id: int
    submission: str
    state: str
    attempts: int
    created: float
    started: float | None = None
    finished: float | None = None
    heartbeat: float | None = None
    worker: str | None = None
    error: str | None = None
    note: str | None = None
    stage: str | None = None
    progress: str | None = None  # JSON: the stage's counters and each finished stage's seconds

    def progress_dict(self) -> dict[str, Any]:
        """Return the job's progress record (empty when it has none)."""
        try:
            found = json.loads(self.progress) if self.progress else {}
        except json.JSONDecodeError:
            return {}
        return found if isinstance(found, dict) else {}

    def stage_text(self) -> str:
        """Return what the job is doing, e.g. ``rendering 5/12 images (3 cached, 2 loads)``."""
        if self.state == "pending":
            return "queued"
        if self.state in ("done", "failed"):
            return self.state
        stage = self.stage or "starting"
        render = self.progress_dict().get("render")
        if stage == "rendering" and render:
            return (
                f"rendering {render.get('done', 0)}/{render.get('total', 0)} images "
                f"({render.get('cached', 0)} cached, {render.get('checkpoint_loads', 0)} "
                f"checkpoint loads)"
            )
        return stage

    def to_dict(self) -> dict[str, Any]:
        """Return the job as a JSON-ready dict with ISO times."""
        return {
            "id": self.id,
            "submission": self.submission,
            "state": self.state,
            "stage": self.stage_text(),
            "attempts": self.attempts,
            "created": _timestamp(self.created),
            "started": _timestamp(self.started),
            "finished": _timestamp(self.finished),
            "worker": self.worker,
            "error": self.error,
            "note": self.note,
            "progress": self.progress or "",
        }


class ScoringQueue:
    """The SQLite job queue. Every method opens its own connection, so it is thread-safe.

    ``lease_seconds``: how old a running job's heartbeat may get before another worker takes the
    job over. ``max_attempts``: how many worker deaths a job survives before it is failed.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        # a broken file (not SQLite, truncated, a folder, a wrong schema) is a DatabaseFileError
        sqlite_store.initialise(self.path, _SCHEMA, what=QUEUE_WHAT, migrate=_add_stage_columns)

    def _connect(self, *, write: bool = False):
        return sqlite_store.connect(self.path, write=write, what=QUEUE_WHAT)

    @staticmethod
    def _job(row: sqlite3.Row | None) -> Job | None:
        return None if row is None else Job(**dict(row))

    # -- submitting and reading ------------------------------------------------------------------

    def enqueue(self, submission: str) -> Job:
        """Queue ``submission`` for scoring; return its job.

        If the submission already has a pending or running job, that job is returned instead.
        """
        with self._connect(write=True) as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE submission = ? AND state IN ('pending', 'running') "
                "ORDER BY id DESC LIMIT 1",
                (submission,),
            ).fetchone()
            if row is not None:
                return self._job(row)
            cursor = db.execute(
                "INSERT INTO jobs (submission, state, created) VALUES (?, 'pending', ?)",
                (submission, time.time()),
            )
            return self._job(
                db.execute("SELECT * FROM jobs WHERE id = ?", (cursor.lastrowid,)).fetchone()
            )

    def get(self, job_id: int) -> Job | None:
        """Return job ``job_id``, or None."""
        with self._connect() as db:
            return self._job(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())

    def jobs(self, *, state: str | None = None, limit: int | None = None) -> list[Job]:
        """Return jobs, newest first, optionally only those in ``state``."""
        query, params = "SELECT * FROM jobs", []
        if state is not None:
            if state not in STATES:
                raise ValueError(f"unknown job state {state!r}; expected one of {STATES}")
            query += " WHERE state = ?"
            params.append(state)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        with self._connect() as db:
            return [Job(**dict(row)) for row in db.execute(query, params)]

    def latest_by_submission(self) -> dict[str, Job]:
        """Return each submission's most recent job."""
        latest: dict[str, Job] = {}
        for job in reversed(self.jobs()):
            latest[job.submission] = job
        return latest

    def counts(self) -> dict[str, int]:
        """Return the number of jobs in each state."""
        with self._connect() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        found = {state: count for state, count in rows}
        return {state: found.get(state, 0) for state in STATES}

    # -- working ---------------------------------------------------------------------------------

    def _recover(self, db: sqlite3.Connection, now: float) -> list[int]:
        recovered = []
        rows = db.execute("SELECT * FROM jobs WHERE state = 'running'").fetchall()
        for row in rows:
            job = Job(**dict(row))
            stale = job.heartbeat is None or now - job.heartbeat > self.lease_seconds
            dead = _worker_is_dead_here(job.worker)
            if not (stale or dead):
                continue
            why = (
                f"worker {job.worker} stopped while scoring"
                if dead
                else f"worker {job.worker} sent no heartbeat for over {self.lease_seconds:.0f} s"
            )
            if job.attempts >= self.max_attempts:
                db.execute(
                    "UPDATE jobs SET state = 'failed', finished = ?, error = ? WHERE id = ?",
                    (now, f"{why}; gave up after {job.attempts} attempts", job.id),
                )
            else:
                db.execute(
                    "UPDATE jobs SET state = 'pending', worker = NULL, heartbeat = NULL, "
                    "note = ? WHERE id = ?",
                    (f"requeued: {why} (attempt {job.attempts})", job.id),
                )
            recovered.append(job.id)
        return recovered

    def recover(self, *, now: float | None = None) -> list[int]:
        """Requeue (or fail, after too many attempts) running jobs whose worker is gone.

        Returns the ids of the jobs it changed. :meth:`claim` does this too.
        """
        with self._connect(write=True) as db:
            return self._recover(db, time.time() if now is None else now)

    def claim(self, worker: str | None = None, *, now: float | None = None) -> Job | None:
        """Take the oldest pending job for ``worker`` (default: this process); None if none.

        Jobs left running by a dead worker are recovered first, in the same transaction.
        """
        worker = worker or worker_identity()
        now = time.time() if now is None else now
        with self._connect(write=True) as db:
            self._recover(db, now)
            row = db.execute(
                "SELECT * FROM jobs WHERE state = 'pending' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, started = ?, "
                "heartbeat = ?, worker = ?, error = NULL WHERE id = ?",
                (now, now, worker, row["id"]),
            )
            return self._job(db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone())

    def heartbeat(self, job_id: int, worker: str | None = None) -> bool:
        """Refresh a running job's heartbeat; False when the job is no longer this worker's."""
        with self._connect(write=True) as db:
            cursor = db.execute(
                "UPDATE jobs SET heartbeat = ? WHERE id = ? AND state = 'running' AND worker = ?",
                (time.time(), job_id, worker or worker_identity()),
            )
            return cursor.rowcount == 1

    def set_stage(
        self,
        job_id: int,
        stage: str,
        progress: dict[str, Any] | None = None,
        worker: str | None = None,
    ) -> bool:
        """Record a running job's stage and progress; False when it is no longer this worker's."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
        with self._connect(write=True) as db:
            cursor = db.execute(
                "UPDATE jobs SET stage = ?, progress = ?, heartbeat = ? "
                "WHERE id = ? AND state = 'running' AND worker = ?",
                (
                    stage,
                    json.dumps(progress or {}, sort_keys=True),
                    time.time(),
                    job_id,
                    worker or worker_identity(),
                ),
            )
            return cursor.rowcount == 1

    def _finish(self, job_id: int, worker: str | None, state: str, error: str | None) -> bool:
        with self._connect(write=True) as db:
            cursor = db.execute(
                "UPDATE jobs SET state = ?, finished = ?, error = ? "
                "WHERE id = ? AND state = 'running' AND worker = ?",
                (state, time.time(), error, job_id, worker or worker_identity()),
            )
            return cursor.rowcount == 1

    def complete(self, job_id: int, worker: str | None = None) -> bool:
        """Mark a running job done; False when it is no longer this worker's."""
        return self._finish(job_id, worker, "done", None)

    def fail(self, job_id: int, reason: str, worker: str | None = None) -> bool:
        """Mark a running job failed with ``reason``; False when it is no longer this worker's."""
        return self._finish(job_id, worker, "failed", reason[:ERROR_MAX_CHARS])

    def release(self, job_id: int, reason: str, worker: str | None = None) -> bool:
        """Hand a running job back to the queue uncounted (the worker is being stopped).

        Returns False when the job is no longer this worker's.
        """
        with self._connect(write=True) as db:
            cursor = db.execute(
                "UPDATE jobs SET state = 'pending', attempts = MAX(attempts - 1, 0), "
                "worker = NULL, heartbeat = NULL, note = ? "
                "WHERE id = ? AND state = 'running' AND worker = ?",
                (reason[:ERROR_MAX_CHARS], job_id, worker or worker_identity()),
            )
            return cursor.rowcount == 1

    def retry(self, job_id: int) -> Job:
        """Put a failed job back to pending (attempts reset). Raises ValueError otherwise."""
        with self._connect(write=True) as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise ValueError(f"no job {job_id}")
            if row["state"] != "failed":
                raise ValueError(f"job {job_id} is {row['state']}; only a failed job is retried")
            db.execute(
                "UPDATE jobs SET state = 'pending', attempts = 0, worker = NULL, heartbeat = NULL, "
                "note = ? WHERE id = ?",
                (f"retried after: {row['error']}"[:ERROR_MAX_CHARS], job_id),
            )
            return self._job(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())


ScoreFunction = Callable[..., dict[str, Any]]


#: How to fix a job whose rendering failed (its image metrics are not computed with the reason).
RENDER_FAILED_FIX = (
    "see the job's reason in 'chatgenbench queue list', then 'chatgenbench queue retry JOB'"
)


class RenderStageFailed(RuntimeError):
    """The rendering stage of a job failed; the step-wise results stay, images not computed."""


class ScoringWorker:
    """Scores queued submissions with the stages of :mod:`chatgenbench.scoring.stages`.

    ``encoder`` is the BERTScore encoder (``minilm`` offline default, ``roberta-large`` official);
    its weights load once and serve every job. ``score`` (``evaluate``'s signature) replaces the
    step-wise stage, for tests; a worker given one scores step-wise only. The worker checks again
    that a submission's benchmark is one the store allows.
    ``deployment`` (:class:`leaderboard.deployment.Deployment`) gives the catalogue overlay, and,
    with ``render: true``, the render and image-metric settings: each job is then scored in the
    stages of :data:`STAGES` (see the module docstring). The image metrics load once per worker.
    """

    def __init__(
        self,
        store: SubmissionStore,
        queue: ScoringQueue,
        *,
        encoder: str = DEFAULT_ENCODER,
        worker: str | None = None,
        heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
        score: ScoreFunction | None = None,
        progress: bool = False,
        deployment=None,
    ) -> None:
        from leaderboard.deployment import Deployment

        self.store = store
        self.queue = queue
        self.deployment = deployment or Deployment(encoder=encoder)
        self.encoder = self.deployment.encoder  # a deployment's encoder wins over ``encoder``
        self.worker = worker or worker_identity()
        self.heartbeat_seconds = heartbeat_seconds
        self.progress = progress
        self._score = score
        self._bertscore = None
        self._image_suite = None

    @property
    def renders(self) -> bool:
        """Whether this worker renders and image-scores its jobs."""
        return bool(self.deployment.render)

    def _stage(self, job: Job, stage: str, progress: dict[str, Any]) -> None:
        try:
            self.queue.set_stage(job.id, stage, progress, self.worker)
        except (sqlite3.Error, DatabaseFileError) as error:  # a busy database must not stop the
            # scoring; a broken one stops the worker at its next write, with its message
            log.warning("stage of job %s not recorded: %s", job.id, error)

    def _evaluate(self, predictions: Path, benchmark: str, setting: str, out: Path, **given):
        """The step-wise stage: open the run (benchmark and prediction file, each read once, the
        ``oracle`` steps of ``given`` applied), score it and publish the step-wise ``results.json``
        and ``samples.jsonl``. Returns the opened run and its step-wise scores, what the later
        stages take (None when a ``score`` function replaces this stage)."""
        if self._score is not None:
            self._score(
                predictions, benchmark, setting=setting, encoder=self.encoder, out=out, **given
            )
            return None
        from chatgenbench.metrics.bertscore import PromptBERTScore
        from chatgenbench.scoring.stages import open_run, score_stepwise

        if self._bertscore is None:
            self._bertscore = PromptBERTScore(self.encoder)
        run = open_run(predictions, benchmark, setting, catalog=self.deployment.catalog, **given)
        stepwise = score_stepwise(run, self._bertscore, progress=self.progress)
        self._publish(run, stepwise, out)
        return run, stepwise

    def _publish(self, run, stepwise, out: Path, images=None, no_images=None) -> None:
        """Assemble the results of the stages so far and write ``results.json`` and
        ``samples.jsonl`` (the image metrics' bootstrap draws the intervals once images are in;
        ``no_images``: why they are not, and how to fix it)."""
        from chatgenbench.scoring.stages import assemble_results, scored_samples, write_results

        bootstrap = self._suite().settings.bootstrap if images is not None else None
        results = assemble_results(run, stepwise, images, bootstrap=bootstrap, no_images=no_images)
        samples = scored_samples(stepwise, images)
        write_results(results, out, samples=samples, per_sample_out=out.parent / SAMPLES_FILENAME)

    def _score_stages(self, job: Job, submission, meta) -> None:
        """Step-wise, then (when this worker renders) rendering and image metrics, each stage
        taking what the one before returned: the prediction file is parsed once, the benchmark
        opened once and BERTScore computed once per job."""
        from chatgenbench.scoring.stages import score_run_images

        out = submission.path / RESULTS_FILENAME
        timings: dict[str, float] = {}
        record: dict[str, Any] = {"stage_seconds": timings}
        started = time.perf_counter()
        oracle = getattr(meta, "oracle", "")
        given = {"oracle": oracle} if oracle else {}  # an ablation run (meta.yaml 'oracle')
        self._stage(job, "step-wise", record)
        scored = self._evaluate(
            submission.predictions_path, meta.benchmark, meta.setting, out, **given
        )
        timings["step-wise"] = round(time.perf_counter() - started, 3)
        if not self.renders or scored is None:
            self._stage(job, "step-wise", record)
            return
        run, stepwise = scored
        render_dir = self.store.render_dir(submission.name)
        started = time.perf_counter()
        self._stage(job, "rendering", record)
        report = self._render(job, run, stepwise, render_dir, record, out)
        timings["rendering"] = round(time.perf_counter() - started, 3)
        record["render_status"] = report.summary.get("counts") or {}
        started = time.perf_counter()
        self._stage(job, "image metrics", record)
        images = score_run_images(run, render_dir, self._suite(), progress=self.progress)
        self._publish(run, stepwise, out, images)
        timings["image metrics"] = round(time.perf_counter() - started, 3)
        self._stage(job, "image metrics", record)

    def _render(self, job: Job, run, stepwise, render_dir: Path, record: dict[str, Any], out: Path):
        """The rendering stage: render the opened run (an ablation run with the oracle steps'
        reference values in place, as ``evaluate --oracle`` renders) into ``render_dir``, showing
        the progress in ``record``. Returns the render report; a failure keeps the step-wise
        results with the image metrics not computed and raises :class:`RenderStageFailed`."""
        from chatgenbench.scoring.stages import render_run

        last = [0.0]

        def on_progress(state) -> None:
            record["render"] = state.to_dict()
            now = time.monotonic()
            if now - last[0] >= PROGRESS_SECONDS or state.done == state.total:
                last[0] = now
                self._stage(job, "rendering", record)

        try:
            from chatgenbench.core.storage import check_no_links
            from chatgenbench.render.manifest import IMAGES_DIR

            # the render folder is written only inside the submission's folder, never through
            # a link (render/ or render/images/ linked elsewhere): UnsafeFileError fails the stage
            check_no_links(render_dir / IMAGES_DIR, render_dir.parent)
            return render_run(
                run,
                render_dir,
                progress=self.progress,
                catalog=self.deployment.catalog,
                on_progress=on_progress,
                command=["chatgenbench", "queue", "work", f"job {job.id}"],
                **self.deployment.render_options(),
            )
        except Exception as error:  # any render failure keeps the step-wise results, with why
            reason = f"rendering failed: {type(error).__name__}: {error}"
            log.error("job %s: %s\n%s", job.id, reason, traceback.format_exc())
            self._publish(run, stepwise, out, no_images=(reason, RENDER_FAILED_FIX))
            raise RenderStageFailed(reason) from error

    def _suite(self):
        if self._image_suite is None:
            from chatgenbench.scoring.images import ImageMetricSuite

            self._image_suite = ImageMetricSuite(self.deployment.image_settings())
        return self._image_suite

    def _keep_alive(self, job: Job, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_seconds):
            try:
                if not self.queue.heartbeat(job.id, self.worker):
                    log.warning("job %s is no longer ours", job.id)
                    return
            except sqlite3.Error as error:  # a busy database must not kill the scoring
                log.warning("heartbeat of job %s failed: %s", job.id, error)
            except DatabaseFileError as error:  # broken: the worker stops at its next write
                log.warning("heartbeat of job %s failed: %s", job.id, error)
                return

    def score_job(self, job: Job) -> Job:
        """Score one claimed job; record done or failed (with the reason); return the job."""
        stop = threading.Event()
        beat = threading.Thread(target=self._keep_alive, args=(job, stop), daemon=True)
        beat.start()
        try:
            submission = self.store.load(job.submission)
            if submission.meta is None:
                raise ValueError("invalid meta.yaml: " + "; ".join(submission.meta_problems))
            if submission.predictions_path is None:
                raise ValueError("the submission folder has no prediction file")
            meta = submission.meta
            if meta.benchmark not in self.store.allowed_benchmarks:
                raise ValueError(
                    f"benchmark {meta.benchmark!r} is not one this leaderboard scores against "
                    f"({', '.join(self.store.allowed_benchmarks)})"
                )
            self._score_stages(job, submission, meta)
        except KeyboardInterrupt:
            stop.set()
            self.queue.release(
                job.id, f"released: worker {self.worker} was interrupted", self.worker
            )
            raise
        except Exception as error:
            log.error("job %s (%s) failed:\n%s", job.id, job.submission, traceback.format_exc())
            stop.set()
            self.queue.fail(job.id, f"{type(error).__name__}: {error}", self.worker)
        else:
            stop.set()
            self.queue.complete(job.id, self.worker)
        beat.join(timeout=5)
        return self.queue.get(job.id) or job

    def run(
        self,
        *,
        once: bool = False,
        poll_seconds: float = 5.0,
        max_jobs: int | None = None,
        on_job: Callable[[Job], None] | None = None,
    ) -> int:
        """Claim and score jobs; return how many were scored.

        With ``once`` it stops when no job is pending (drain and exit); otherwise it polls every
        ``poll_seconds`` until interrupted or ``max_jobs`` jobs are done. ``on_job`` is called
        with each finished job.
        """
        done = 0
        while max_jobs is None or done < max_jobs:
            job = self.queue.claim(self.worker)
            if job is None:
                if once:
                    break
                time.sleep(poll_seconds)
                continue
            log.info("scoring job %s (%s), attempt %s", job.id, job.submission, job.attempts)
            finished = self.score_job(job)
            done += 1
            if on_job is not None:
                on_job(finished)
        return done
