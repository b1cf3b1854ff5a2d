"""Untrusted inputs of a raw release, read through ``chatgenbench prepare`` and ``prepare --inspect``:
image files on disk, annotation files and their image fields. Each problem is named (the file, the
record, the field) and exits 2; none ends in a traceback."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib

import pytest
from PIL import Image

from chatgenbench.cli import main
from tests.benchmark.test_archive_images import record


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A ~70-byte PNG whose header claims ``width`` x ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def noise(fmt: str, size=(64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, format=fmt)
    return buffer.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real JPEG whose start-of-frame header is edited to claim ``width`` x ``height``."""
    data = bytearray(noise("JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def raw_folder(tmp_path, image_value, **record_fields):
    raw = tmp_path / "raw"
    (raw / "images").mkdir(parents=True)
    rows = [record("ok1"), record("bad", image=image_value, **record_fields)]
    (raw / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return raw


def prepare_fails(tmp_path, raw, capsys) -> str:
    out = tmp_path / "bench"
    assert main(["prepare", "--source", str(raw), "--out", str(out)]) == 2
    assert not out.exists()
    error = capsys.readouterr().err
    assert "Traceback" not in error
    return error


def write(raw, name: str, data: bytes) -> None:
    (raw / "images" / name).write_bytes(data)


IMAGE_FILES = {
    "huge-declared.png": (png_declaring(100_000, 100_000), "too_many_pixels"),
    "wide-declared.png": (png_declaring(2**31 - 1, 1), "too_many_pixels"),
    "jpeg-header-lie.jpg": (jpeg_declaring(65_000, 65_000), "too_many_pixels"),
    "text.jpg": (b"this is text, not a JPEG\n", "not_an_image"),
    "text.png": (b"<html>not a png</html>", "not_an_image"),
    "truncated.png": (noise("PNG")[:600], "damaged_image"),
    "truncated.jpg": (noise("JPEG")[:700], "damaged_image"),
    "empty.png": (b"", "not_an_image"),
}


@pytest.mark.parametrize("name", sorted(IMAGE_FILES))
def test_an_image_file_on_disk_gets_the_archive_members_checks(tmp_path, capsys, name):
    data, problem = IMAGE_FILES[name]
    raw = raw_folder(tmp_path, f"images/{name}")
    write(raw, name, data)
    error = prepare_fails(tmp_path, raw, capsys)
    assert "test.jsonl: record 2" in error and f"image file 'images/{name}'" in error
    assert f"({problem})" in error


@pytest.mark.parametrize("name", ["truncated.png", "text.jpg", "huge-declared.png"])
def test_a_reference_image_on_disk_is_checked_too(tmp_path, capsys, name):
    data, problem = IMAGE_FILES[name]
    raw = raw_folder(tmp_path, None, images=["images/fine.png", f"images/{name}"])
    write(raw, "fine.png", noise("PNG"))
    write(raw, name, data)
    error = prepare_fails(tmp_path, raw, capsys)
    assert "record 2" in error and f"reference_images[1]: image file 'images/{name}'" in error
    assert f"({problem})" in error


def test_a_directory_named_like_an_image_is_named(tmp_path, capsys):
    raw = raw_folder(tmp_path, "images/x.png")
    (raw / "images" / "x.png").mkdir()
    error = prepare_fails(tmp_path, raw, capsys)
    assert "record 2" in error and "'images/x.png' is not a regular file" in error


def test_a_symlink_pointing_outside_the_release_is_refused(tmp_path, capsys):
    outside = tmp_path / "outside.png"
    outside.write_bytes(noise("PNG"))
    raw = raw_folder(tmp_path, "images/link.png")
    (raw / "images" / "link.png").symlink_to(outside)
    error = prepare_fails(tmp_path, raw, capsys)
    assert "record 2" in error and "'images/link.png' escapes the raw folder" in error


def test_good_image_files_on_disk_still_convert(tmp_path, capsys):
    raw = raw_folder(tmp_path, "images/good.jpg", images=["images/good.png"])
    write(raw, "good.jpg", noise("JPEG"))
    write(raw, "good.png", noise("PNG"))
    out = tmp_path / "bench"
    assert main(["prepare", "--source", str(raw), "--out", str(out)]) == 0
    from chatgenbench.benchmark.loading import load_benchmark

    rows = {row["id"]: row for row in load_benchmark("supervised", out)}
    assert rows["bad"]["image"].size == (64, 64) and rows["bad"]["image"].format == "JPEG"
