"""``chatgenbench weights demo``: random weights for every catalogue model, marked everywhere, and a
result made with them that says so and is never ranked beside real-weight results."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from chatgenbench.benchmark.catalog import overlay_catalog
from chatgenbench.cli import main
from chatgenbench.core.random_weights import (
    CATALOG_FIELD,
    COMPARABILITY_LABEL,
    MARKER_NAME,
    is_random_weights,
    random_weights_block,
)
from chatgenbench.scoring.result_schema import comparability_key


def test_demo_weights_cover_the_catalogue_and_are_marked(demo_weights):
    from chatgenbench.benchmark.loading import load_benchmark_catalog

    root = Path(demo_weights["catalog_overlay"]).parent
    assert (root / MARKER_NAME).is_file()
    assert "RANDOM DEMO WEIGHTS" in (root / MARKER_NAME).read_text("utf-8")
    catalog = load_benchmark_catalog("sample", None)
    assert sorted(demo_weights["models"]) == sorted(entry.name for entry in catalog)
    lines = [json.loads(line) for line in open(demo_weights["catalog_overlay"], encoding="utf-8")]
    assert all(line[CATALOG_FIELD] is True for line in lines)
    overlaid = overlay_catalog(catalog, demo_weights["catalog_overlay"])
    for entry in overlaid:
        path = Path(entry.extra["weights"]["path"])
        assert path.is_file() and path.stat().st_size > 1000, entry.name
        assert is_random_weights(path)
    for key in ("clip_model", "hps_checkpoint", "image_reward_model"):
        assert is_random_weights(demo_weights["image_metric_options"][key])
    assert not is_random_weights(Path(__file__))
    rows = [json.loads(line) for line in open(demo_weights["predictions"], encoding="utf-8")]
    assert len(rows) == 12 and {r["arguments"]["width"] for r in rows} == {64}


def test_weights_demo_command_writes_and_reports(tmp_path, capsys):
    assert main(["weights", "demo", str(tmp_path / "demo"), "--no-progress", "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["random_weights"] is True
    assert Path(written["deployment"]).is_file()
    from leaderboard.deployment import read_deployment

    deployment = read_deployment(written["deployment"])
    assert deployment.render and deployment.device == "cpu"
    assert deployment.catalog == written["catalog_overlay"]


def test_a_random_weights_result_is_grouped_apart(demo_weights):
    from chatgenbench.benchmark.loading import load_benchmark_catalog

    catalog = overlay_catalog(
        load_benchmark_catalog("sample", None), demo_weights["catalog_overlay"]
    )
    block = random_weights_block(catalog, ["rolua", "not-a-model"], {})
    assert block["used"] and block["render_models"] == ["rolua"] and block["metric_models"] == []
    settings = {"clip_score": {"loaded_from": demo_weights["image_metric_options"]["clip_model"]}}
    assert random_weights_block(None, [], settings)["metric_models"] == ["clip_score"]
    assert random_weights_block(load_benchmark_catalog("sample", None), ["rolua"])["used"] is False

    real = json.loads(
        (
            Path(__file__).parents[2] / "submissions" / "no-finetune-sample" / "results.json"
        ).read_text("utf-8")
    )
    demo = copy.deepcopy(real)
    demo["random_weights"] = block
    assert COMPARABILITY_LABEL in comparability_key(demo)
    assert COMPARABILITY_LABEL not in comparability_key(real)
    assert comparability_key(demo) != comparability_key(real)
