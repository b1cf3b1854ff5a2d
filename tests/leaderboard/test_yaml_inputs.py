"""Every YAML file a user supplies goes through the bounded loader: the deployment file of
``chatgenbench queue work --config``, a submission's ``meta.yaml``, the official import's key map
and adapter options. A "billion laughs" is refused fast with one bounded line, and a value a
check rejects is shown in at most 80 characters."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import pytest

from chatgenbench.core.errors import (
    AdapterOptionError,
    DeploymentError,
    KeyMapError,
    SubmissionError,
)
from leaderboard.deployment import deployment_from_dict, read_deployment
from tests.leaderboard_fixtures import ROOT

MESSAGE_MAX_CHARS = 400


def bomb_items(levels: int = 9, width: int = 10, indent: str = "  ") -> str:
    """The "billion laughs" as the items of a block list: anchors a..i, the last one 10**9 items."""
    names = "abcdefghi"
    lines = [f"{indent}- &a [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        name, previous = names[level], names[level - 1]
        lines.append(f"{indent}- &{name} [" + ", ".join([f"*{previous}"] * width) + "]")
    return "\n".join(lines) + "\n"


def deployment_bomb() -> str:
    """513-odd bytes: ``render`` (a bool) given the bomb, so that a check would print its repr."""
    return "render:\n" + bomb_items()


def _refused_fast(call, error_class, path) -> str:
    start = time.perf_counter()
    with pytest.raises(error_class) as caught:
        call()
    assert time.perf_counter() - start < 1.0
    message = str(caught.value)
    assert str(path) in message and "aliases are expanded" in message
    assert "\n" not in message and len(message) < MESSAGE_MAX_CHARS + len(str(path))
    return message


def test_a_deployment_bomb_is_refused_before_any_check(tmp_path):
    path = tmp_path / "deployment.yaml"
    path.write_text(deployment_bomb(), "utf-8")
    assert len(path.read_bytes()) < 600
    _refused_fast(lambda: read_deployment(path), DeploymentError, path)


def _limited(megabytes: int):
    def limit() -> None:  # in the child: a bomb that gets through fails there, not on this host
        resource.setrlimit(resource.RLIMIT_AS, (megabytes * 2**20, megabytes * 2**20))

    return limit


def test_queue_work_with_a_bomb_config_exits_2_with_one_line(tmp_path):
    config = tmp_path / "bomb.yaml"
    config.write_text(deployment_bomb(), "utf-8")
    store = tmp_path / "store"
    command = [sys.executable, "-m", "chatgenbench", "queue", "work", "--once"]
    command += ["--store", str(store), "--config", str(config)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=_limited(3072),
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("chatgenbench queue: error: ") and str(config) in lines[0]
    assert "aliases are expanded" in lines[0] and len(lines[0]) < MESSAGE_MAX_CHARS * 2


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"render": list(range(5000))}, "render"),
        ({"render_workers": "w" * 20_000}, "render_workers"),
        ({"encoder": "e" * 20_000}, "encoder"),
        ({"render_backend": "b" * 20_000}, "render_backend"),
        ({"metrics": {("k" * 5000, 1): 1}}, "metrics"),
        ({"k" * 20_000: 1}, "unknown key"),
        ({f"key{i}": 1 for i in range(2000)}, "and 1995 more"),
        ({"catalog": "c" * 20_000}, "catalog"),
    ],
    ids=["list", "int-key", "encoder", "backend", "metric-keys", "long-key", "many-keys", "path"],
)
def test_a_rejected_deployment_value_is_shown_bounded(raw, key):
    with pytest.raises(DeploymentError) as caught:
        deployment_from_dict(raw, source="deploy.yaml")
    message = str(caught.value)
    assert key in message and "deploy.yaml" in message
    assert len(message) < MESSAGE_MAX_CHARS, message[:500]


def test_a_meta_yaml_bomb_is_refused(tmp_path):
    from leaderboard.submissions import read_meta

    path = tmp_path / "meta.yaml"
    path.write_text("method: x\nnotes:\n" + bomb_items(), "utf-8")
    _refused_fast(lambda: read_meta(path), SubmissionError, path)
    deep = tmp_path / "deep.yaml"
    deep.write_text("method: " + "[" * 5000 + "]" * 5000, "utf-8")
    with pytest.raises(SubmissionError, match="nested deeper"):
        read_meta(deep)
    path.write_text("method: Plain\nauthors: [a, b]\n", "utf-8")
    assert read_meta(path) == {"method": "Plain", "authors": ["a", "b"]}


@pytest.mark.parametrize("top", ["mapping", "list"])
def test_a_key_map_bomb_is_refused(tmp_path, top):
    from chatgenbench.benchmark.official import DEFAULT_KEY_MAP, load_key_map

    path = tmp_path / "keys.yaml"
    # a list at the top is not a key map: its message once printed the whole value
    text = (
        "fields:\n  prompt:\n" + bomb_items(indent="    ")
        if top == "mapping"
        else bomb_items(indent="")
    )
    path.write_text(text, "utf-8")
    _refused_fast(lambda: load_key_map(path), KeyMapError, path)
    path.write_text("[" + ", ".join(["x"] * 3000) + "]", "utf-8")
    with pytest.raises(KeyMapError) as caught:
        load_key_map(path)  # within the limits, not a mapping: said without the value
    assert len(str(caught.value)) < MESSAGE_MAX_CHARS + len(str(path))
    path.write_text("fields:\n  prompt: [my_prompt]\n", "utf-8")
    assert load_key_map(path)["fields"]["prompt"] == ["my_prompt"]
    assert load_key_map(path)["required"] == DEFAULT_KEY_MAP["required"]


def test_adapter_options_bombs_are_refused_or_kept_as_text(tmp_path):
    from chatgenbench.predictions.adapters import load_options_file, parse_option_assignments

    path = tmp_path / "options.yaml"
    path.write_text("k: 5\nextra:\n" + bomb_items(), "utf-8")
    _refused_fast(lambda: load_options_file(path), AdapterOptionError, path)
    bomb = "[&a [x,x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]," + ",".join(
        f"&{n} [" + ",".join([f"*{p}"] * 10) + "]"
        for p, n in zip("bcdefgh", "cdefghi", strict=True)
    )
    options = parse_option_assignments([f"k={bomb}]", "steps=20"])
    assert options == {"k": f"{bomb}]", "steps": 20}  # not YAML within the limits: the text
