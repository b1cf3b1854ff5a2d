"""Shared image-metric pieces: bootstrap intervals, mergeable per-image state, the registry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chatgenbench.core.errors import MetricNotComputed
from chatgenbench.metrics import METRICS
from chatgenbench.metrics.base import PerImageMetric, PerImageState
from chatgenbench.metrics.bootstrap import bootstrap_ci
from chatgenbench.metrics.images import to_rgb
from chatgenbench.metrics.registry import register_image_metric
from chatgenbench.metrics.weight_sets import WeightSet
from chatgenbench.render.manifest import IMAGES_DIR, RenderRecord, image_filename, write_manifest


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [float(v) for v in range(20)]
    first, again = bootstrap_ci(values, seed=3), bootstrap_ci(values, seed=3)
    other = bootstrap_ci(values, seed=4)
    assert (first.low, first.high) == (again.low, again.high)
    assert (first.low, first.high) != (other.low, other.high)
    assert first.low < 9.5 < first.high
    assert first.to_dict()["seed"] == 3 and first.to_dict()["resamples"] == 1000
    assert bootstrap_ci([1.0]) is None
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(values, level=1.5)


def test_per_image_metric_state_machine():
    class Length(PerImageMetric):
        name = "length"

        def score_batch(self, images, texts):
            return [len(t) / 100 for t in texts]

    metric = Length()
    assert metric.update([None, None], ["ab", "abcd"], ids=["x", "y"]) == [0.02, 0.04]
    assert metric.compute() == pytest.approx(3.0)  # mean raw score ×100
    other = Length()
    other.update([None], ["abcdef"], ids=["z"])
    metric.merge(other)
    assert metric.compute() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="2 images but 1 texts"):
        metric.update([None, None], ["a"])
    state = PerImageState(["x"], [1.0])
    with pytest.raises(ValueError, match="twice"):
        state.merge(PerImageState(["x"], [2.0]))


def test_registry_resolves_the_functional_forms():
    for name in ("fid", "clip_score", "hps_v2", "image_reward"):
        assert callable(METRICS.get(name))
        assert METRICS.metadata(name)["stage"] == "image"
    assert METRICS.metadata("fid")["higher_is_better"] is False


# -- a metric registered through the public API, used end to end without editing any module ----


@dataclass(frozen=True)
class BrightnessOptions:
    """The test metric's one option (a command-line flag of the same name)."""

    brightness_gamma: float = field(default=1.0, metadata={"help": "exponent of the brightness"})


BRIGHTNESS_WEIGHTS = WeightSet(
    name="brightness-table",
    description="a lookup table the brightness metric declares (never loaded)",
    repo_id="example/brightness",
    files=("table.json",),
    env="CHATGENBENCH_TEST_BRIGHTNESS",
)


class Brightness(PerImageMetric):
    """Mean pixel brightness of each image (0 to 1) to the power ``brightness_gamma``, ×100."""

    name = "brightness"
    label = "Brightness"
    higher_is_better = True
    description = "mean pixel brightness ×100 (a metric registered by a test)"
    Options = BrightnessOptions
    weights = (BRIGHTNESS_WEIGHTS,)
    comparability = ("gamma",)

    def __init__(self, options: BrightnessOptions | None = None) -> None:
        super().__init__()
        self.options = options or BrightnessOptions()

    @classmethod
    def load(cls, options, device="cpu", dtype="float32"):
        return cls(options)

    @classmethod
    def settings(cls, options, *, device, dtype):
        return {"gamma": options.brightness_gamma}

    def score_batch(self, images, texts):
        return [brightness(image) ** self.options.brightness_gamma for image in images]


def brightness(image) -> float:
    return float(np.asarray(to_rgb(image), dtype=np.float64).mean() / 255.0)


@pytest.fixture
def brightness_metric():
    register_image_metric(Brightness)
    try:
        yield Brightness
    finally:
        METRICS.unregister("brightness")


def _random_render_folder(path: Path, rows: list[dict], seed: int = 0) -> dict[str, Image.Image]:
    rng = np.random.default_rng(seed)
    (path / IMAGES_DIR).mkdir(parents=True)
    images, records = {}, []
    for row in rows:
        image = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
        name = f"{IMAGES_DIR}/{image_filename(row['id'])}"
        image.save(path / name)
        images[row["id"]] = image
        records.append(RenderRecord(row["id"], row["setting"], row["input_type"], "rendered", name))
    write_manifest(path, records)
    return images


def test_a_registered_metric_reaches_results_schema_cli_weights_and_leaderboard(
    brightness_metric, tmp_path, sample_rows, minilm_scorer, capsys
):
    from chatgenbench.cli import build_parser, main
    from chatgenbench.metrics import weights
    from chatgenbench.scoring.evaluation import evaluate
    from chatgenbench.scoring.images import ImageMetricSettings
    from chatgenbench.scoring.result_schema import check_results, documented_keys
    from leaderboard.ranking import build_ranking, group_frame
    from leaderboard.submissions import SubmissionStore
    from tests.leaderboard_fixtures import copy_sample

    images = _random_render_folder(tmp_path / "render", sample_rows)
    pred = "submissions/no-finetune-sample/predictions.jsonl"
    settings = ImageMetricSettings(metrics=("brightness",), brightness_gamma=2.0, device="cpu")
    results = evaluate(
        pred, "sample", images=tmp_path / "render", image_settings=settings,
        bertscore=minilm_scorer, progress=False,
    )  # fmt: skip
    block = results["overall"]["image"]["brightness"]
    expected = 100 * np.mean([brightness(images[r["id"]]) ** 2 for r in sample_rows])
    assert block["status"] == "computed" and block["n"] == 12
    assert block["value"] == pytest.approx(expected)
    assert block["ci"]["low"] <= block["value"] <= block["ci"]["high"]
    by_type = results["settings"]["supervised"]["by_input_type"]
    multimodal = [r for r in sample_rows if r["input_type"] == "multimodal"]
    assert by_type["multimodal"]["image"]["brightness"]["value"] == pytest.approx(
        100 * np.mean([brightness(images[r["id"]]) ** 2 for r in multimodal])
    )  # every slice from the one pass
    assert by_type["history"]["image"]["brightness"]["reason"] == "no rendered images in this slice"
    assert results["metric_settings"]["image"]["brightness"] == {"gamma": 2.0}
    # the four the Unified Metric needs were not requested: it says which, and only those
    assert "fid, clip_score, hps_v2, image_reward" in results["overall"]["unified"]["reason"]
    assert check_results(results) == []
    assert "settings.<setting>.image.brightness" in documented_keys()

    # the command line offers its option and scores it the same way
    parser_help = build_parser().format_help()
    assert "evaluate" in parser_help
    out = tmp_path / "cli.json"
    assert main(["evaluate", pred, "--images", str(tmp_path / "render"), "--image-metrics",
                 "brightness", "--brightness-gamma", "2", "--no-progress", "--out", str(out)]) == 0  # fmt: skip
    cli_value = json.loads(out.read_text())["overall"]["image"]["brightness"]["value"]
    assert cli_value == pytest.approx(expected)
    assert "Brightness" in capsys.readouterr().out  # the terminal table has its column

    # its weights are listed with the built-in ones
    assert weights.WEIGHTS["brightness-table"] is BRIGHTNESS_WEIGHTS
    assert {r["name"]: r["metric"] for r in weights.status()}["brightness-table"] == "brightness"

    # and the leaderboard shows it as a column, with its direction
    store = tmp_path / "store"
    folder = copy_sample(store)
    (folder / "results.json").write_text(json.dumps(results), "utf-8")
    ranking = build_ranking(SubmissionStore(store).submissions(), "supervised", "all")
    (group,) = [g for g in ranking.groups if not g.has_reported]
    frame = group_frame(group)
    assert frame["Brightness ↑"].iloc[0] == pytest.approx(
        results["settings"]["supervised"]["image"]["brightness"]["value"]
    )
    assert "Brightness 2.0" in group.label  # its comparability setting splits groups


def test_the_contract_is_checked_at_registration():
    class Nameless(PerImageMetric):
        label, higher_is_better, description = "X", True, "x"

    with pytest.raises(ValueError, match="name"):
        register_image_metric(Nameless)
    with pytest.raises(ValueError, match="already registered"):
        register_image_metric(type("Again", (Brightness,), {"name": "clip_score"}))


def test_compute_of_a_subset_and_merge_of_shards():
    metric = Brightness()
    white, black = Image.new("RGB", (4, 4), "white"), Image.new("RGB", (4, 4), "black")
    metric.update([white, black, white], ["", "", ""], ids=["a", "b", "c"])
    assert metric.compute() == pytest.approx(100 * 2 / 3)
    subset = metric.compute(["a", "b", "zzz"])  # an id never scored is ignored
    assert subset == pytest.approx(50.0) and subset.n == 2
    assert subset.per_image == {"a": 1.0, "b": 0.0}
    with pytest.raises(MetricNotComputed, match="no rendered images in this slice"):
        metric.compute(["zzz"])
    left, right = metric.empty(), metric.empty()
    assert left.compute.__self__ is not metric and left.state.ids == []
    left.update([white], [""], ids=["a"])
    right.update([black], [""], ids=["b"])
    left.merge(right)
    assert left.compute() == pytest.approx(metric.compute(["a", "b"]))
    assert metric.state.ids == ["a", "b", "c"]  # the copies did not touch the original


def test_display_order_and_stages():
    names = [entry.name for entry in METRICS.entries()]
    assert names == [
        "prompt_bertscore", "selection_accuracy", "config_accuracy",
        "fid", "clip_score", "hps_v2", "image_reward", "unified",
    ]  # fmt: skip
    assert METRICS.names_of("image") == ("fid", "clip_score", "hps_v2", "image_reward")
    assert METRICS.metadata("unified")["needs"] == ("fid", "clip_score", "hps_v2", "image_reward")
