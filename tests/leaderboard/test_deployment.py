"""The worker's deployment file: read safely, every key checked, relative paths resolved, and the
``queue work`` flags laid over it."""

from __future__ import annotations

import argparse

import pytest

from chatgenbench.core.errors import DeploymentError
from leaderboard.deployment import deployment_from_dict, read_deployment


def test_a_deployment_file_is_read_with_paths_relative_to_it(tmp_path):
    (tmp_path / "weights.jsonl").write_text("", "utf-8")
    path = tmp_path / "deploy.yaml"
    path.write_text(
        "render: true\ncatalog: weights.jsonl\ndevice: cpu\nrender_backend: ray\n"
        "ray_address: ray://head:10001\nray_actors: 8\nrender_cache: cache\n"
        "metrics:\n  clip_model: clip\n  batch_size: 2\n  names: [clip_score]\n",
        "utf-8",
    )
    deployment = read_deployment(path)
    assert deployment.render and deployment.catalog == str(tmp_path / "weights.jsonl")
    assert deployment.render_cache == str(tmp_path / "cache")
    options = deployment.render_options()
    assert options["backend"] == "ray" and options["ray_address"] == "ray://head:10001"
    assert options["ray_actors"] == 8 and options["cache_dir"] == str(tmp_path / "cache")
    settings = deployment.image_settings()
    assert settings.metrics == ("clip_score",) and settings.batch_size == 2
    assert settings.options_for("clip_score").clip_model == str(tmp_path / "clip")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rendr": True}, "unknown key(s) rendr"),
        ({"render": "yes"}, "render: 'yes' is a str; expected bool"),
        ({"ray_actors": True}, "ray_actors: True is a bool; expected int"),
        ({"render_backend": "slurm"}, "'slurm' is not a render backend"),
        ({"encoder": "bert"}, "encoder: 'bert'"),
        ({"catalog": "/no/such/file.jsonl"}, "catalog: no such file"),
        ({"metrics": {"clip_modle": "x"}}, "clip_modle"),
        (["render"], "expected a mapping"),
    ],
)
def test_a_bad_deployment_names_the_key(raw, message):
    with pytest.raises(DeploymentError) as error:
        deployment_from_dict(raw, source="deploy.yaml")
    assert message in str(error.value) and "deploy.yaml" in str(error.value)


def test_a_deployment_file_that_is_not_yaml_or_absent(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("render: [unclosed\n", "utf-8")
    with pytest.raises(DeploymentError, match="not readable YAML"):
        read_deployment(bad)
    with pytest.raises(DeploymentError, match="not found") as error:
        read_deployment(tmp_path / "absent.yaml")
    assert "weights demo" in error.value.how_to_fix


def test_the_work_flags_override_the_file(tmp_path):
    from chatgenbench.cli.leaderboard import _deployment

    path = tmp_path / "deploy.yaml"
    path.write_text("render: false\ndevice: cuda\nencoder: roberta-large\n", "utf-8")
    args = argparse.Namespace(
        config=str(path), encoder="minilm", render=True, catalog=None, device="cpu",
        render_backend=None, ray_address="auto",
    )  # fmt: skip
    deployment = _deployment(args)
    assert deployment.render and deployment.device == "cpu" and deployment.ray_address == "auto"
    assert deployment.encoder == "roberta-large"  # the flag's default does not override the file
