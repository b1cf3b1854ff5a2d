"""Adding an image metric is one module and its registration: a toy metric registered here, with a
path option and a random-weights writer, is picked up by the deployment file (its path resolved
against the file's folder), by ``chatgenbench weights demo`` (its random weights written and put
into the deployment and the evaluate command), by the command line (its flag) and by the
leaderboard (its column), with no other module edited."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chatgenbench.core.random_weights import is_random_weights
from chatgenbench.metrics.base import PerImageMetric
from chatgenbench.metrics.registry import METRICS, register_image_metric


@dataclass(frozen=True)
class ToyOptions:
    toy_model: str | None = field(
        default=None, metadata={"help": "toy weights file (JSON)", "path": True}
    )
    toy_offset: float = field(default=0.0, metadata={"help": "added to every score"})


class Toy(PerImageMetric):
    name, label, higher_is_better = "toy", "Toy", True
    description = "a toy metric: a constant read from its weights file ×100"
    Options = ToyOptions

    @classmethod
    def load(cls, options, device="cpu", dtype="float32"):
        metric = cls()
        metric.options = options
        metric.weight = json.loads(Path(options.toy_model).read_text("utf-8"))["weight"]
        return metric

    @classmethod
    def write_random_weights(cls, folder, seed=0):
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / "toy.json"
        file.write_text(json.dumps({"weight": 0.25 + seed}), "utf-8")
        return {"toy_model": str(file)}

    def score_batch(self, images, texts):
        return [self.weight + self.options.toy_offset for _ in images]


@pytest.fixture
def toy_metric():
    register_image_metric(Toy)
    try:
        yield Toy
    finally:
        METRICS.unregister("toy")


def test_a_registered_path_option_is_resolved_against_the_deployment_file(toy_metric, tmp_path):
    from leaderboard.deployment import metric_path_options, read_deployment

    assert {"clip_model", "hps_checkpoint", "image_reward_model", "fid_cache_dir"} <= set(
        metric_path_options()
    )
    assert "toy_model" in metric_path_options() and "toy_offset" not in metric_path_options()
    assert Toy.path_options() == ("toy_model",)
    path = tmp_path / "deploy.yaml"
    path.write_text(
        "metrics:\n  toy_model: weights/toy.json\n  toy_offset: 1.5\n  clip_model: clip\n", "utf-8"
    )
    settings = read_deployment(path).image_settings()
    assert settings.options_for("toy").toy_model == str(tmp_path / "weights" / "toy.json")
    assert settings.options_for("toy").toy_offset == 1.5
    assert settings.options_for("clip_score").clip_model == str(tmp_path / "clip")


def test_demo_weights_flags_and_columns_pick_the_metric_up(toy_metric, demo_weights, tmp_path):
    from chatgenbench.cli import build_parser
    from chatgenbench.testing.demo_weights import write_demo_weights
    from leaderboard.deployment import read_deployment
    from leaderboard.ranking import columns_by_key

    # a copy of the session's demo folder: every model in it is kept, only the toy's is new
    root = tmp_path / "demo"
    shutil.copytree(Path(demo_weights["deployment"]).parent, root)
    manifest = write_demo_weights(root, "sample", progress=False)
    toy_file = manifest["image_metric_options"]["toy_model"]
    assert toy_file == str((root / "metrics" / "toy" / "toy.json").resolve())
    assert is_random_weights(toy_file)
    assert "--toy-model" in manifest["evaluate_command"]
    deployment = read_deployment(manifest["deployment"])
    assert deployment.metrics["toy_model"] == toy_file
    loaded = Toy.load(deployment.image_settings().options_for("toy"))
    loaded.update([object()], ["a prompt"])
    assert float(loaded.compute()) == pytest.approx(25.0)

    args = build_parser().parse_args(["evaluate", "p.jsonl", "--toy-model", "w.json"])
    assert args.toy_model == "w.json" and args.toy_offset == 0.0
    assert columns_by_key()["toy"].header == "Toy ↑"


def test_a_metric_without_random_weights_writes_none(tmp_path):
    from chatgenbench.metrics.fid import FID

    assert FID.write_random_weights(tmp_path / "fid", 0) == {}
    assert not (tmp_path / "fid").exists()
    assert FID.path_options() == ("fid_inception", "fid_cache_dir")
