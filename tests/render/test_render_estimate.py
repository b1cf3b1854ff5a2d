"""Long work says how long before it starts: the render estimate from the cost model, by device,
dtype, threads and checkpoint size, printed before the first image (and not for cached work)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from chatgenbench.cli import main
from chatgenbench.render.estimate import duration_text, estimate_line, estimate_render
from tests.conftest import sample_predictions, write_predictions

#: What a CPU took for the first image of `ablate --render` at the reference arguments (SDXL,
#: 1024 px, 60 steps, one thread, float32): 9 min 43 s.
MEASURED_SDXL_CPU_IMAGE_S = 9 * 60 + 43


@dataclass(frozen=True)
class _Checkpoint:
    identity: str
    size_bytes: int


@dataclass(frozen=True)
class _Arguments:
    width: int
    height: int
    steps: int


@dataclass(frozen=True)
class _Request:
    architecture: str
    checkpoint: _Checkpoint
    arguments: _Arguments
    lora: object = None
    batch_key: str = field(default="")


def _groups(n_images: int, *, arch="sdxl", size=6_900_000_000, px=1024, steps=60, models=1):
    """``n_images`` requests over ``models`` checkpoints of one architecture and shape."""
    groups = []
    for model in range(models):
        checkpoint = _Checkpoint(f"{arch}-{model}", size)
        arguments = _Arguments(px, px, steps)
        share = n_images // models + (1 if model < n_images % models else 0)
        groups.append([_Request(arch, checkpoint, arguments, batch_key=f"{px}-{steps}")] * share)
    return [group for group in groups if group]


def _estimate(groups, **overrides):
    options = dict(device="cpu", dtype="float32", threads=1, batch_size=1)
    return estimate_render(groups, **{**options, **overrides})


def test_a_cpu_render_at_the_reference_arguments_is_announced_as_hours():
    estimate = _estimate(_groups(12))  # the first step of the ablate run: 12 images
    measured = 12 * MEASURED_SDXL_CPU_IMAGE_S  # about 1 h 57 min
    assert measured / 2 < estimate.seconds < measured * 2
    line = estimate_line(estimate, cpu_count=16)
    assert line.startswith(
        "render: 12 images to render (0 from the cache) on cpu, float32, 1 thread"
    )
    assert "about 1 h" in line
    assert "faster: --threads 16 (this machine has 16 cores), a GPU (--device cuda)" in line


def test_more_threads_a_gpu_or_fewer_pixels_are_faster():
    groups = _groups(12)
    one = _estimate(groups).seconds
    sixteen = _estimate(groups, threads=16).seconds
    gpu16 = _estimate(groups, device="cuda", dtype="float16", threads=None).seconds
    gpu32 = _estimate(groups, device="cuda:0", dtype="float32", threads=None).seconds
    small = _estimate(_groups(12, px=512, steps=25)).seconds
    assert sixteen < one / 5
    assert gpu16 < gpu32 < sixteen
    assert small < one / 5


def test_a_short_render_gets_no_advice_and_says_seconds():
    line = estimate_line(_estimate(_groups(2, arch="sd15", size=2_000_000_000, px=64, steps=3)))
    assert "faster" not in line and line.endswith(")")
    assert " s (estimate from the cost model" in line


def test_tiny_demo_checkpoints_are_priced_by_their_size():
    full = _estimate(_groups(12, arch="sd15", size=2_100_000_000, px=512, steps=25)).seconds
    tiny = _estimate(_groups(12, arch="sd15", size=2_000_000, px=512, steps=25)).seconds
    assert tiny < full / 5
    assert tiny < 120  # a demo of tiny models is not announced as a long job


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "1 s"),
        (45, "45 s"),
        (89, "89 s"),
        (700, "12 min"),
        (6420, "1 h 47 min"),
        (7200, "2 h"),
    ],
)
def test_durations_read_as_a_person_says_them(seconds, text):
    assert duration_text(seconds) == text


def test_render_prints_the_estimate_before_rendering_and_not_for_cached_work(
    tiny_models, tmp_path, capsys
):
    predictions = write_predictions(tmp_path / "p.jsonl", sample_predictions())
    command = ["render", str(predictions), "--benchmark", "sample", "--catalog",
               str(tiny_models.overlay), "--out", str(tmp_path / "out"), "--cache-dir",
               str(tmp_path / "cache"), "--threads", "1"]  # fmt: skip
    assert main(command) == 0
    err = capsys.readouterr().err.replace("\r", "\n")
    line = next(line for line in err.splitlines() if "images to render" in line)
    assert line.startswith(
        "render: 5 images to render (0 from the cache) on cpu, float32, 1 thread"
    )
    assert "about " in line and "estimate from the cost model" in line
    first_bar = err.index("render:   0%") if "render:   0%" in err else len(err)
    assert err.index(line) < first_bar  # said before the progress bar starts
    assert main(command) == 0  # all from the cache: nothing to announce
    assert "images to render" not in capsys.readouterr().err
