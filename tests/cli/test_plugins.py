"""Extending ChatGenBench from another installed package: a metric, a baseline and a render backend.

A small distribution, ``cgb-demo-plugin``, is written into a folder (its module and its
``dist-info`` with the three entry-point groups) and put on ``PYTHONPATH``; nothing in the
repository names it. The command line, run as a user would, then finds all three: the baseline is
listed and writes predictions, the render backend renders them (with its own flag) into a render
folder through the image cache, and ``evaluate`` scores that folder with the plugin's metric (with
its own flag). The backend's option is a key of the scoring worker's deployment file as well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PLUGIN_MODULE = '''
"""A demo ChatGenBench plugin: one image metric, one baseline, one render backend."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from chatgenbench.metrics.base import PerImageMetric
from chatgenbench.metrics.images import to_rgb
from chatgenbench.render.worker import RenderOutcome, WorkerStats


@dataclass
class BrightnessOptions:
    brightness_gamma: float = field(default=1.0, metadata={"help": "gamma applied first"})


class Brightness(PerImageMetric):
    name, label, higher_is_better = "brightness", "Brightness", True
    description = "mean pixel brightness (0 to 1), raised to brightness_gamma, ×100"
    fmt = "{:.3f}"
    Options = BrightnessOptions

    @classmethod
    def load(cls, options, device="cpu", dtype="float32"):
        return cls(options)

    def __init__(self, options=None):
        super().__init__()
        self.options = options or BrightnessOptions()

    def score_batch(self, images, texts):
        from PIL import ImageStat

        means = [sum(ImageStat.Stat(to_rgb(image)).mean) / 3 / 255 for image in images]
        return [mean**self.options.brightness_gamma for mean in means]


class ReferenceAdapter:
    """Answers every row with its reference prompt and model, at a small size."""

    name = "reference-echo"

    def __init__(self, size: int = 64):
        self.size = size

    def predict(self, rows):
        return [
            {
                "id": row["id"],
                "prompt": row["prompt"],
                "negative_prompt": row.get("negative_prompt") or "",
                "model": row["model"],
                "arguments": dict(row["arguments"], width=self.size, height=self.size, steps=4),
            }
            for row in rows
        ]


@dataclass
class SolidOptions:
    solid_grey: int = field(default=128, metadata={"help": "grey level of every image (0-255)"})


class SolidBackend:
    """Paints every requested image one grey, handing it to the sink like any backend."""

    Options = SolidOptions
    n_workers = 1

    def __init__(self, options):
        self.settings = options.settings(SolidOptions)

    def run(self, groups, sink, progress=None):
        from PIL import Image

        stats = WorkerStats()
        for group in groups:
            for request in group:
                size = (request.arguments.width, request.arguments.height)
                buffer = io.BytesIO()
                Image.new("RGB", size, (self.settings.solid_grey,) * 3).save(buffer, "PNG")
                sink(RenderOutcome(request.key, True, png=buffer.getvalue(), sidecar={}))
                stats.images += 1
            if progress:
                progress(stats)
        return stats
'''

ENTRY_POINTS = """[chatgenbench.metrics]
brightness = cgb_demo_plugin:Brightness

[chatgenbench.baselines]
reference-echo = cgb_demo_plugin:ReferenceAdapter

[chatgenbench.render_backends]
solid = cgb_demo_plugin:SolidBackend
"""


def write_plugin(root: Path) -> None:
    """Write the ``cgb-demo-plugin`` distribution, as ``pip install`` would leave it, in ``root``."""
    (root / "cgb_demo_plugin.py").write_text(PLUGIN_MODULE, "utf-8")
    info = root / "cgb_demo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cgb-demo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS, "utf-8")


def write_stand_in_weights(root: Path) -> Path:
    """Give every model of the sample's catalogue a stand-in weights file (never loaded: the
    plugin backend paints its images) and return the catalogue overlay that names them."""
    from chatgenbench.benchmark.loading import load_benchmark_catalog

    lines = []
    for index, entry in enumerate(load_benchmark_catalog("sample", None)):
        path = root / "weights" / f"model-{index}.safetensors"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(f"stand-in {entry.name}".encode())
        lines.append({"name": entry.name, "weights": {"type": "single_file", "path": str(path)}})
    overlay = root / "weights.jsonl"
    overlay.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    return overlay


@pytest.fixture
def chatgenbench_cli(tmp_path):
    """Run ``chatgenbench ARGS`` (or ``python -c CODE``) in a fresh process that sees the plugin;
    return its output."""
    plugin = tmp_path / "site"
    plugin.mkdir()
    write_plugin(plugin)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(plugin), str(ROOT)])
    env["CHATGENBENCH_HOME"] = str(tmp_path / "home")

    def run(*args: str) -> str:
        command = list(args) if args[0] == "-c" else ["-m", "chatgenbench", *args]
        done = subprocess.run(
            [sys.executable, *command],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    return run


def test_a_plugin_package_adds_a_baseline_a_render_backend_and_a_metric(chatgenbench_cli, tmp_path):
    listing = chatgenbench_cli("baseline", "list")
    (line,) = [row for row in listing.splitlines() if row.startswith("reference-echo\t")]
    assert "cgb-demo-plugin 0.1" in line and "no-finetune" in listing

    predictions = tmp_path / "pred.jsonl"
    chatgenbench_cli("baseline", "run", "reference-echo", "--out", str(predictions),
                     "-o", "size=32", "--no-progress")  # fmt: skip
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(rows) == 12 and {row["arguments"]["width"] for row in rows} == {32}
    run_record = json.loads((tmp_path / "pred.run.json").read_text())
    assert run_record["adapter"] == "reference-echo" and run_record["options"] == {"size": 32}

    overlay = write_stand_in_weights(tmp_path)
    chatgenbench_cli("render", str(predictions), "--catalog", str(overlay), "--out",
                     str(tmp_path / "render"), "--backend", "solid", "--solid-grey", "100", "--device", "cpu",
                     "--dtype", "float32",
                     "--cache-dir", str(tmp_path / "cache"), "--no-progress")  # fmt: skip
    summary = json.loads((tmp_path / "render" / "render_summary.json").read_text())
    assert summary["settings"]["backend"] == "solid"
    assert summary["counts"]["rendered"] + summary["counts"]["cached"] == 12 == summary["n_images"]
    assert len(list((tmp_path / "cache").glob("*/*.png"))) == summary["counts"]["rendered"]

    results_path = tmp_path / "results.json"
    chatgenbench_cli("evaluate", str(predictions), "--images", str(tmp_path / "render"),
                     "--image-metrics", "brightness", "--brightness-gamma", "2",
                     "--bootstrap-resamples", "50", "--device", "cpu",
                     "--out", str(results_path), "--no-progress")  # fmt: skip
    results = json.loads(results_path.read_text())
    assert results["settings"]
    for block in results["settings"].values():
        brightness = block["image"]["brightness"]
        assert brightness["status"] == "computed", brightness
        assert brightness["value"] == pytest.approx(100 * (100 / 255) ** 2, abs=1e-4)


DEPLOYMENT_CHECK = """
from leaderboard.deployment import deployment_from_dict
deployment = deployment_from_dict({"render_backend": "solid", "solid_grey": 100})
print(deployment.solid_grey, deployment.render_options()["solid_grey"], deployment.describe()["solid_grey"])
try:
    deployment_from_dict({"render_backend": "solid", "solid_grey": "light"})
except Exception as error:
    print(error)
"""


def test_a_plugin_backend_s_options_are_deployment_keys(chatgenbench_cli):
    lines = chatgenbench_cli("-c", DEPLOYMENT_CHECK).splitlines()
    assert lines[0] == "100 100 100"
    assert "solid_grey: 'light' is a str; expected int" in lines[1]
