"""The leaderboard as an installed package: found from any folder, and run by its CLI command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import leaderboard
from chatgenbench.cli import main
from leaderboard.scoring_queue import QUEUE_ENV
from leaderboard.submissions import STORE_ENV

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_imports_from_a_folder_outside_the_repository(tmp_path):
    code = (
        "import json, pathlib, leaderboard\n"
        "from leaderboard.ranking import reported_table\n"
        "app = leaderboard.app_path()\n"
        "print(json.dumps({'app': str(app), 'is_file': app.is_file(),\n"
        "    'package': str(pathlib.Path(leaderboard.__file__).resolve().parent),\n"
        "    'reported_rows': len(reported_table()['rows'])}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    app = Path(found["app"])
    assert found["is_file"] and app.name == "app.py"
    assert app.parent == Path(found["package"])
    assert tmp_path not in app.parents
    assert found["reported_rows"] == 13  # the package's data file came with it


def test_the_core_package_does_not_import_the_leaderboard():
    code = (
        "import sys, chatgenbench, chatgenbench.cli\n"
        "try:\n    chatgenbench.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'leaderboard'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_leaderboard_command_runs_streamlit_on_the_packaged_app(tmp_path, monkeypatch):
    pytest.importorskip("streamlit", reason="the leaderboard extra is not installed")
    calls = []

    def call(command, env):
        calls.append((command, env))
        return 0

    monkeypatch.setattr("chatgenbench.cli.leaderboard.run_child", call)
    store, queue_db = tmp_path / "store", tmp_path / "queue.sqlite3"
    argv = ["leaderboard", "--store", str(store), "--queue-db", str(queue_db), "--port", "8765"]
    assert main([*argv, "--headless", "--", "--theme.base=dark"]) == 0
    ((command, env),) = calls
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(leaderboard.app_path())]
    assert leaderboard.app_path() == Path(leaderboard.__file__).resolve().parent / "app.py"
    assert {"--server.port=8765", "--server.headless=true", "--theme.base=dark"} <= set(command)
    assert "--" not in command
    assert (env[STORE_ENV], env[QUEUE_ENV]) == (str(store.resolve()), str(queue_db.resolve()))


def test_leaderboard_command_without_streamlit_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "streamlit", None)  # find_spec() now reports it absent

    def call(command, env):
        raise AssertionError(f"streamlit was started: {command}")

    monkeypatch.setattr("chatgenbench.cli.leaderboard.run_child", call)
    monkeypatch.setattr(subprocess, "Popen", call)
    assert main(["leaderboard", "--headless"]) == 2
    assert "pip install -e '.[leaderboard]'" in capsys.readouterr().err


def test_stopping_the_leaderboard_command_stops_the_server_it_started(tmp_path):
    """SIGTERM to the wrapper reaches its child (so a test's teardown leaves no server behind)."""
    import os
    import signal
    import time

    child = (
        "import os, signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))\n"
        f"pathlib.Path({str(tmp_path / 'pid')!r}).write_text(str(os.getpid()))\n"
        "time.sleep(120)\n"
    )
    wrapper = (
        "import os, sys\n"
        "from chatgenbench.cli.leaderboard import run_child\n"
        f"sys.exit(run_child([sys.executable, '-c', {child!r}], dict(os.environ)))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", wrapper], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        child_pid = int((tmp_path / "pid").read_text())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 3  # the child's own exit code, passed back
        with pytest.raises(ProcessLookupError):
            os.kill(child_pid, 0)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
