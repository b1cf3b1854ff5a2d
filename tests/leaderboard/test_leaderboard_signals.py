"""``chatgenbench leaderboard`` passes SIGTERM and SIGINT on to its Streamlit server and waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import processes_of_this_session

pytest.importorskip("streamlit", reason="the leaderboard extra is not installed")
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_server_stops_with_the_wrapper(tmp_path, signum):
    port = _free_port()
    wrapper = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatgenbench",
            "leaderboard",
            "--store",
            str(tmp_path / "s"),
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--headless",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/_stcore/health"
    servers: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while not _healthy(url):
            assert wrapper.poll() is None, f"the wrapper exited with {wrapper.returncode}"
            assert time.monotonic() < deadline, "the leaderboard did not start"
            time.sleep(0.3)
        servers = _children(wrapper.pid)
        assert servers, "streamlit runs as the wrapper's child"
        assert {pid for pid, _ in processes_of_this_session()} >= set(servers)
        wrapper.send_signal(signum)
        wrapper.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in servers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in servers), "the server outlived the wrapper"
        assert not _healthy(url)
    finally:
        for pid in [*servers, wrapper.pid]:  # only what this test started, by PID
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        wrapper.wait(timeout=10)


def test_run_child_returns_the_exit_code_and_signal_code(tmp_path):
    from chatgenbench.cli.leaderboard import run_child

    assert run_child([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ)) == 3
    code = run_child(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"],
        dict(os.environ),
    )
    assert code == 128 + signal.SIGTERM
