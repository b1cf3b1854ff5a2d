"""``chatgenbench leaderboard`` and ``chatgenbench queue``: the web app and its scoring queue.

The leaderboard is its own package (``leaderboard/``, the ``leaderboard`` extra); these commands
import it only when they run. ``chatgenbench leaderboard`` opens the queue and votes databases
before it starts the server: a broken one (not SQLite, truncated, a folder, another schema) is
exit 2 with its message, as for every ``queue`` command.

Before the server starts, ``chatgenbench leaderboard`` prints which store it uses (``--store``,
``$CHATGENBENCH_SUBMISSIONS`` or the default ``$CHATGENBENCH_HOME/submissions``; see
:mod:`leaderboard.store_location`), where its queue and votes databases are, how to change them,
and, when the store holds no submission, how to add one. ``--config FILE`` (or
``$CHATGENBENCH_DEPLOYMENT``) hands the page a deployment file whose ``access`` section switches
on OpenID Connect sign-in, roles and quotas (docs/sign-in.md); a bad section, or a secrets file
it names that is not there, is exit 2 before the server starts.
"""

from __future__ import annotations

import argparse
import sys

from chatgenbench.cli.options import (
    add_actions,
    add_encoder,
    add_render_backend_flags,
    add_store,
    render_backend_values,
)


def register(sub) -> None:
    """Add the ``leaderboard`` command and the ``queue`` family."""
    from chatgenbench.render.backends import backend_names

    p = sub.add_parser("leaderboard", help="start the leaderboard web app (streamlit run)")
    add_store(p)
    p.add_argument("--port", type=int, default=None, help="port to serve on (default 8501)")
    p.add_argument("--address", default=None, help="address to bind (default: streamlit's)")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.add_argument(
        "--config",
        default=None,
        help="deployment file whose 'access' section switches on sign-in, roles and quotas "
        "(default: $CHATGENBENCH_DEPLOYMENT; none: an anonymous page; see docs/sign-in.md)",
    )
    p.add_argument(
        "streamlit_args", nargs=argparse.REMAINDER, help="further 'streamlit run' options after --"
    )
    p.set_defaults(handler=leaderboard_command)

    p = sub.add_parser("queue", help="the scoring queue of the leaderboard")
    actions = add_actions(p, "queue_command")
    work = actions.add_parser("work", help="score queued submissions")
    work.add_argument("--once", action="store_true", help="drain the queue, then exit")
    work.add_argument("--poll", type=float, default=5.0, help="seconds between polls (default 5)")
    add_encoder(work)
    work.add_argument("--lease", type=float, default=None, help="heartbeat lease in seconds")
    work.add_argument(
        "--config",
        default=None,
        help="deployment file (YAML): catalogue overlay with weights, device, dtype, render "
        "backend, Ray address, metric weights (see leaderboard/deployment.py)",
    )
    work.add_argument(
        "--render",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="render and image-score each job (default: the deployment file's 'render', else no)",
    )
    work.add_argument("--catalog", default=None, help="catalogue overlay (over the config's)")
    work.add_argument("--device", default=None, help="render and metric device (over the config's)")
    work.add_argument(
        "--render-backend",
        default=None,
        help=f"render backend: {' or '.join(backend_names())} (over the config's)",
    )
    add_render_backend_flags(
        work.add_argument_group("render backends' own options (over the config's)")
    )
    add_store(work)
    work.set_defaults(handler=work_command)
    listing = actions.add_parser("list", help="list the jobs and their states")
    add_store(listing)
    listing.set_defaults(handler=list_command)
    add = actions.add_parser("add", help="queue a stored submission for (re)scoring")
    add.add_argument("name", help="the submission's folder name in the store")
    add_store(add)
    add.set_defaults(handler=add_command)
    retry = actions.add_parser("retry", help="put a failed job back in the queue")
    retry.add_argument("job", type=int, help="the job's number (see 'chatgenbench queue list')")
    add_store(retry)
    retry.set_defaults(handler=retry_command)


def leaderboard_command(args: argparse.Namespace) -> int:
    """Run ``streamlit run`` on the installed leaderboard app; exit with its code."""
    import importlib.util
    import os
    from pathlib import Path

    from chatgenbench.core.errors import UsageError

    if importlib.util.find_spec("streamlit") is None:
        from chatgenbench.core.extras import missing_extra

        raise UsageError(
            missing_extra("the leaderboard", "leaderboard", "streamlit is not installed")
        )
    from leaderboard import app_path
    from leaderboard.scoring_queue import QUEUE_ENV
    from leaderboard.submissions import STORE_ENV, default_upload_limit

    env = dict(os.environ)
    if args.store:
        env[STORE_ENV] = str(Path(args.store).resolve())
    if args.queue_db:
        env[QUEUE_ENV] = str(Path(args.queue_db).resolve())
    location, existed = _check_databases(args)
    _print_store(location, existed)
    secrets = _access_config(args, env)
    limit_mb = max(1, -(-default_upload_limit() // 2**20))
    command = [sys.executable, "-m", "streamlit", "run", str(app_path())]
    command += [f"--server.maxUploadSize={limit_mb}", "--browser.gatherUsageStats=false"]
    command.append("--client.toolbarMode=viewer")
    if args.port is not None:
        command.append(f"--server.port={args.port}")
    if args.address:
        command.append(f"--server.address={args.address}")
    if args.headless:
        command.append("--server.headless=true")
    if secrets:
        command.append(f"--secrets.files={secrets}")
    command += [arg for arg in args.streamlit_args if arg != "--"]
    return run_child(command, env)


def _check_databases(args: argparse.Namespace):
    """Open the queue, votes and access databases the app will use (creating them when absent), so
    that a broken one stops the command here with its message (exit 2), before the server starts.
    Return the store's :class:`leaderboard.store_location.StoreLocation` and whether its folder
    was there before."""
    from leaderboard.audit import AccessStore, default_access_path
    from leaderboard.scoring_queue import ScoringQueue
    from leaderboard.store_location import resolve_store
    from leaderboard.votes import VoteStore

    location = resolve_store(args.store, queue_db=args.queue_db)
    existed = location.root.is_dir()
    ScoringQueue(location.queue_db)
    VoteStore(location.votes_db)
    AccessStore(default_access_path(location.root))  # owners, hidden submissions and the audit log
    return location, existed


def _print_store(location, existed: bool) -> None:
    """Say which store the app serves, where its databases are, how to change them, and how to
    add a submission when it holds none."""
    from leaderboard.store_location import EMPTY_STORE_HINT
    from leaderboard.submissions import SubmissionStore
    from leaderboard.wording import plural

    lines = location.describe()
    if not existed:
        lines[0] += " - created now"
    print("leaderboard " + "\n".join(lines))
    n = len(SubmissionStore(location.root).names())
    print(EMPTY_STORE_HINT if n == 0 else f"{plural(n, 'submission')} in the store")
    sys.stdout.flush()


def _access_config(args: argparse.Namespace, env: dict[str, str]) -> str | None:
    """Read the deployment file (``--config`` or ``$CHATGENBENCH_DEPLOYMENT``) now, so a bad
    ``access`` section stops the command with its message (exit 2); pass it to the app and
    return the Streamlit secrets file it names (None: Streamlit's own places)."""
    import os
    from pathlib import Path

    from leaderboard.deployment import read_deployment
    from leaderboard.roles import DEPLOYMENT_ENV

    config = args.config or os.environ.get(DEPLOYMENT_ENV)
    if not config:
        return None
    deployment = read_deployment(config)
    env[DEPLOYMENT_ENV] = str(Path(config).resolve())
    return deployment.access_policy().secrets


#: The signals the wrapper passes on to its server (a service manager's stop, Ctrl-C, hang-up).
FORWARDED_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP")


def run_child(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` as a child, pass SIGTERM/SIGINT/SIGHUP on to it, and wait for it to end.

    Returns the child's exit code (``128 + N`` when signal ``N`` ended it). When the wrapper stops
    for any other reason the child is terminated too, so no server outlives the command.
    """
    import signal
    import subprocess

    state: dict[str, object] = {"child": None, "pending": []}

    def forward(signum, frame) -> None:
        child = state["child"]
        if child is None:
            state["pending"].append(signum)  # arrived while the child was starting
        elif child.poll() is None:
            child.send_signal(signum)

    previous = {}
    for name in FORWARDED_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            previous[signum] = signal.signal(signum, forward)
        except ValueError:
            pass  # not the main thread: signals cannot be caught; the finally still ends it
    child = None
    try:
        child = subprocess.Popen(command, env=env)
        state["child"] = child
        for signum in state["pending"]:
            child.send_signal(signum)
        code = child.wait()
        return 128 - code if code < 0 else code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _queue(args: argparse.Namespace):
    from leaderboard.scoring_queue import ScoringQueue, default_queue_path
    from leaderboard.submissions import SubmissionStore

    store = SubmissionStore(args.store)
    path = args.queue_db or default_queue_path(store.root)
    options = {"lease_seconds": args.lease} if getattr(args, "lease", None) else {}
    return store, ScoringQueue(path, **options)


def work_command(args: argparse.Namespace) -> int:
    """Score queued submissions until interrupted (or, with ``--once``, until none is pending)."""
    import logging

    from leaderboard.scoring_queue import ScoringWorker

    store, queue = _queue(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def report(job) -> None:
        reason = f": {job.error}" if job.error else ""
        print(f"job {job.id} ({job.submission}): {job.state}{reason}", flush=True)

    deployment = _deployment(args)
    worker = ScoringWorker(store, queue, encoder=deployment.encoder, deployment=deployment)
    if worker.renders:
        print(
            f"rendering with backend {deployment.render_backend} on "
            f"{deployment.device or 'the default device'}"
            + "".join(f", {key} {value}" for key, value in deployment.backend_options.items()),
            flush=True,
        )
    print(f"worker {worker.worker} on {queue.path} (store {store.root})", flush=True)
    count = worker.run(once=args.once, poll_seconds=args.poll, on_job=report)
    print(f"scored {count} jobs; queue: {queue.counts()}")
    return 0


def _deployment(args: argparse.Namespace):
    """Return the worker's deployment: the ``--config`` file with the flags laid over it."""
    from leaderboard.deployment import Deployment, deployment_from_dict, read_deployment

    deployment = read_deployment(args.config) if args.config else Deployment()
    from chatgenbench.metrics.bertscore import DEFAULT_ENCODER

    if args.encoder != DEFAULT_ENCODER or not args.config:
        deployment.encoder = args.encoder
    changes = {
        "render": args.render,
        "catalog": args.catalog,
        "device": args.device,
        "render_backend": args.render_backend,
        **render_backend_values(args),
    }
    changes = {key: value for key, value in changes.items() if value is not None}
    if not changes:
        return deployment
    values = {**deployment.describe(), **changes}
    source = values.pop("source") or "command line"
    return deployment_from_dict(values, source=source)


#: The columns of ``queue list``, its header line.
QUEUE_LIST_COLUMNS = ("job", "state", "submission", "queued", "stage", "reason")


def list_command(args: argparse.Namespace) -> int:
    """Print a header line, then every job, one per line, tab-separated: number, state,
    submission, when queued, stage and progress, and the reason of a failure (or that the queue
    has no job)."""
    _, queue = _queue(args)
    jobs = queue.jobs()
    print("\t".join(QUEUE_LIST_COLUMNS))
    if not jobs:
        print(f"(no jobs in {queue.path})")
    for job in jobs:
        info = job.to_dict()
        reason = f"\t{info['error']}" if info["error"] else ""
        print(
            f"{job.id}\t{job.state}\t{job.submission}\t{info['created']}\t{info['stage']}{reason}"
        )
    return 0


def add_command(args: argparse.Namespace) -> int:
    """Queue a stored submission; exit 2 when the store has no such submission."""
    from chatgenbench.core.errors import SubmissionError

    store, queue = _queue(args)
    if args.name not in store.names():
        raise SubmissionError(f"no submission {args.name!r} in {store.root}")
    job = queue.enqueue(args.name)
    print(f"job {job.id} ({job.submission}): {job.state}")
    return 0


def retry_command(args: argparse.Namespace) -> int:
    """Put a failed job back in the queue; exit 2 when it is not a failed job."""
    from chatgenbench.core.errors import UsageError

    _, queue = _queue(args)
    try:
        job = queue.retry(args.job)
    except ValueError as error:
        raise UsageError(str(error)) from error
    print(f"job {job.id} ({job.submission}): {job.state}")
    return 0
