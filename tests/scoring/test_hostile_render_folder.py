"""A render folder is data: a bad manifest line is skipped and counted, a bad image is counted
unreadable with its reason, and nothing in the folder (a FIFO, a device, a link out of it) makes
scoring wait or read outside it."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from chatgenbench.benchmark.loading import load_benchmark
from chatgenbench.render.manifest import IMAGES_DIR, MANIFEST_NAME, RenderRecord, write_manifest
from chatgenbench.scoring.images import (
    ImageMetricSettings,
    ImageMetricSuite,
    image_results,
    score_render_folder,
)
from tests.timeouts import run_with_timeout

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rows():
    return load_benchmark("all", "sample").to_list()


def _png(path: Path, size=(8, 8)) -> None:
    Image.new("RGB", size, (200, 10, 10)).save(path, format="PNG")


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _folder(tmp_path, rows, images: dict[int, object]) -> Path:
    """A render folder with a good PNG for every row, except rows in ``images`` whose file is
    made by the given callable (path -> None)."""
    folder = tmp_path / "render"
    (folder / IMAGES_DIR).mkdir(parents=True)
    records = []
    for index, row in enumerate(rows):
        name = f"{IMAGES_DIR}/{row['id']}.png"
        (images.get(index) or _png)(folder / name)
        records.append(RenderRecord(row["id"], row["setting"], row["input_type"], "rendered", name))
    write_manifest(folder, records)
    return folder


def _suite() -> ImageMetricSuite:
    return ImageMetricSuite(ImageMetricSettings(metrics=(), device="cpu")).load()


def _truncated(path: Path) -> None:
    _png(path, (64, 64))
    path.write_bytes(path.read_bytes()[:60])


def _bomb(path: Path) -> None:
    path.write_bytes(bomb_png())


def _bomb_under_pil_limit(path: Path) -> None:  # PIL only warns here; we refuse
    path.write_bytes(bomb_png(9_000, 9_000))


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _outside_link(path: Path) -> None:
    outside = path.parent.parent.parent / "outside.png"
    _png(outside)
    path.symlink_to(outside)


BAD_IMAGES = {
    "truncated": (_truncated, "not a readable image"),
    "not-an-image": (lambda p: p.write_bytes(b"hello, not a PNG"), "not a readable image"),
    "empty": (lambda p: p.write_bytes(b""), "not a readable image"),
    "bomb": (_bomb, "decompression bomb"),
    "bomb-under-pil-limit": (_bomb_under_pil_limit, "decompression bomb"),
    "folder": (lambda p: p.mkdir(), "not a regular file"),
    "fifo": (_fifo, "FIFO"),
}


@pytest.mark.parametrize("kind", sorted(BAD_IMAGES))
def test_a_bad_image_is_counted_unreadable_with_its_reason_not_scored(tmp_path, rows, kind):
    make, reason = BAD_IMAGES[kind]
    folder = _folder(tmp_path, rows, {3: make})
    scores = run_with_timeout(
        lambda: score_render_folder(folder, rows, _suite(), progress=False), 30
    )
    by_id = {s.id: s for s in scores.samples}
    bad = by_id[rows[3]["id"]]
    assert bad.status == "unreadable" and not bad.has_image and not bad.scores
    assert reason in bad.error
    assert sum(s.has_image for s in scores.samples) == len(rows) - 1
    found = image_results(scores, _suite(), ["supervised", "few_shot"], progress=False)
    assert found.images["n_unreadable_images"] == 1
    overall = next(
        block
        for piece, block in found.blocks.items()
        if piece.setting is None and piece.input_type is None
    )
    assert overall["render_status"]["unreadable"] == 1


def test_an_image_linked_outside_the_folder_is_never_read(tmp_path, rows):
    folder = _folder(tmp_path, rows, {3: _outside_link})
    scores = score_render_folder(folder, rows, _suite(), progress=False)
    bad = {s.id: s for s in scores.samples}[rows[3]["id"]]
    assert not bad.has_image and bad.status == "not_in_manifest"
    assert "leads outside the render folder" in scores.manifest_skipped[0]
    assert sum(s.has_image for s in scores.samples) == len(rows) - 1


BAD_LINES = {
    "list": "[1, 2]",
    "number": "3",
    "string": '"a record"',
    "null": "null",
    "missing-keys": '{"id": "x"}',
    "extra-key": None,  # a whole record plus a key
    "wrong-type-id": None,
    "wrong-type-seed-bool": None,
    "wrong-type-normalised": None,
    "unknown-status": None,
    "escaping-image": None,
    "nested-too-deep": "[" * 100_000 + "]" * 100_000,
    "nested-object-too-deep": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "invalid-json": "{nope",
}


def _line(kind: str, row: dict) -> bytes:
    record = RenderRecord(row["id"], row["setting"], row["input_type"], "failed").to_dict()
    changes = {
        "extra-key": {"colour": "red"},
        "wrong-type-id": {"id": 7},
        "wrong-type-seed-bool": {"seed": True},
        "wrong-type-normalised": {"normalised": [1]},
        "unknown-status": {"status": "painted"},
        "escaping-image": {"status": "rendered", "image": "../../etc/passwd"},
    }
    if BAD_LINES[kind] is None:
        return json.dumps({**record, **changes[kind]}).encode()
    return BAD_LINES[kind].encode()


@pytest.mark.parametrize("kind", [*sorted(BAD_LINES), "invalid-utf8"])
def test_a_manifest_line_that_is_not_a_record_is_skipped_and_counted(tmp_path, rows, kind):
    folder = _folder(tmp_path, rows, {})
    manifest = folder / MANIFEST_NAME
    lines = manifest.read_bytes().splitlines()
    bad = b'{"id": "\xff\xfe"}' if kind == "invalid-utf8" else _line(kind, rows[2])
    lines[2] = bad  # the third sample's record is replaced by the bad line
    manifest.write_bytes(b"\n".join(lines) + b"\n")
    scores = score_render_folder(folder, rows, _suite(), progress=False)
    assert len(scores.manifest_skipped) == 1 and scores.manifest_skipped[0].startswith("line 3:")
    by_id = {s.id: s for s in scores.samples}
    assert by_id[rows[2]["id"]].status == "not_in_manifest"
    assert sum(s.has_image for s in scores.samples) == len(rows) - 1
    found = image_results(scores, _suite(), ["supervised", "few_shot"], progress=False)
    assert found.images["n_manifest_lines_skipped"] == 1
    assert found.images["manifest_lines_skipped"][0].startswith("line 3:")


def test_a_manifest_or_summary_that_is_a_fifo_is_refused_not_waited_on(tmp_path, rows):
    from chatgenbench.core.errors import ImageScoringError

    folder = _folder(tmp_path, rows, {})
    (folder / "render_summary.json").unlink(missing_ok=True)
    os.mkfifo(folder / "render_summary.json")
    scores = run_with_timeout(
        lambda: score_render_folder(folder, rows, _suite(), progress=False), 30
    )
    assert "FIFO" in scores.summary["unreadable"]
    (folder / MANIFEST_NAME).unlink()
    os.mkfifo(folder / MANIFEST_NAME)
    with pytest.raises(ImageScoringError, match="FIFO"):
        run_with_timeout(lambda: score_render_folder(folder, rows, _suite(), progress=False), 30)


def test_evaluate_images_with_a_fifo_image_ends_and_counts_it(tmp_path, rows):
    """The command itself, in a subprocess with a timeout: a FIFO never makes it wait."""
    folder = _folder(tmp_path, rows, {0: _fifo})
    out = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHATGENBENCH_HOME": str(tmp_path / "home")}
    command = [
        sys.executable,
        "-m",
        "chatgenbench",
        "evaluate",
        str(ROOT / "submissions" / "no-finetune-sample" / "predictions.jsonl"),
        "--benchmark",
        "sample",
        "--images",
        str(folder),
        "--image-metrics",
        "clip_score",
        "--no-progress",
        "--out",
        str(out),
    ]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        pytest.fail("evaluate --images waited on a FIFO")
    assert out.is_file(), done.stderr[-2000:]
    results = json.loads(out.read_text("utf-8"))
    assert results["images"]["n_unreadable_images"] == 1
    assert results["overall"]["render_status"]["unreadable"] == 1
