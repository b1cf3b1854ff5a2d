"""Baselines whose named weights are missing or unreachable fail at once, in one clear error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CASES = [
    (["run", "chatgen-base", "-o", "checkpoint=ChengyouJia/ChatGen-Base-2B"], "ChatGen-Base-2B"),
    (["run", "chatgen-base", "-o", "checkpoint=/no/such/folder"], "/no/such/folder"),
    (["run", "chatgen-evo", "-o", "prompt_checkpoint=ChengyouJia/ChatGen-Evo"], "ChatGen-Evo"),
    (["run", "chatgen-evo", "-o", "selector_checkpoint=./no-base"], "./no-base"),
    (["run", "chatgen-evo", "-o", "model_tokens=/no/tokens"], "/no/tokens"),
    (["run", "no-finetune", "-o", "rewriter=Qwen/Qwen2-0.5B-Instruct"], "Qwen2-0.5B-Instruct"),
    (["train-modeltokens", "--base", "Qwen/Qwen2-0.5B"], "Qwen/Qwen2-0.5B"),
]


def _run(argv, tmp_path, **env):
    command = [sys.executable, "-m", "chatgenbench", "baseline", *argv, "--benchmark", "sample"]
    command += ["--out", str(tmp_path / "out")]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "CHATGENBENCH_HOME": str(tmp_path)}
    environment["HF_HOME"] = str(tmp_path / "hf")  # an empty hub cache
    environment.pop("HF_HUB_OFFLINE", None)
    environment.update(env)
    start = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)
    return run, time.monotonic() - start


@pytest.mark.parametrize("argv, named", CASES)
@pytest.mark.parametrize(
    "network",
    [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}],  # offline; hub unreachable
    ids=["offline", "unreachable"],
)
def test_missing_weights_give_one_error_not_a_traceback(tmp_path, argv, named, network):
    run, elapsed = _run(argv, tmp_path, **network)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0].startswith("chatgenbench baseline: error:") and named in lines[0]
    assert lines[1].startswith("how to fix:")
    assert elapsed < 30  # not a speed test: a minute of hub retries would fail it


def test_the_check_runs_before_any_model_library_is_imported(tmp_path):
    code = (
        "import sys\n"
        "from baselines.registry import build_adapter\n"
        "from chatgenbench.core.errors import WeightsMissing\n"
        "try:\n"
        "    build_adapter('chatgen-base', {'checkpoint': 'ChengyouJia/ChatGen-Base-8B'})\n"
        "except WeightsMissing as error:\n"
        "    print('refused', error)\n"
        "print('transformers' in sys.modules, 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env["HF_HOME"] = str(tmp_path / "hf")
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert "refused" in run.stdout, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "False False"


def test_a_folder_without_config_is_named(tmp_path):
    (tmp_path / "empty-model").mkdir()
    run, _ = _run(["train-modeltokens", "--base", str(tmp_path / "empty-model")], tmp_path)
    assert run.returncode == 2 and "config.json" in run.stderr and "Traceback" not in run.stderr
