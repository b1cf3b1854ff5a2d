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
from chatgenbench.core.normalize import printable_text
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


# --- annotation files: deep nesting, lone surrogates, image fields of the wrong type ---------


def deep(depth: int) -> str:
    """JSON text of arrays nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth


def with_field(text: str, field: str = "extra") -> str:
    """A record's JSON text with ``field`` set to the raw JSON ``text``."""
    return json.dumps(record("bad"))[:-1] + f', "{field}": {text}}}'


ANNOTATIONS = {
    "deep-for-the-parser": (with_field(deep(100_000)), "nested too deeply"),
    "deep-for-the-pipeline": (with_field(deep(200)), "nested more than 64 levels deep"),
    "surrogate-value": (
        json.dumps(record("bad", output={"prompt": "a \ud800 b", "model": "m"})),
        "field output.prompt holds a lone surrogate",
    ),
    "surrogate-key": (with_field('{"\\udfff": 1}'), "a field name holds a lone surrogate"),
    "surrogate-in-history": (
        json.dumps(record("bad", history=[{"role": "user", "content": "\udc80"}])),
        "field history.0.content holds a lone surrogate",
    ),
}


def annotation_folder(tmp_path, name: str, line: str, suffix: str = ".jsonl"):
    raw = tmp_path / "raw"
    raw.mkdir()
    first = json.dumps(record("ok1"))
    text = f"{first}\n{line}\n" if suffix == ".jsonl" else f"[{first}, {line}]"
    (raw / f"test{suffix}").write_text(text, encoding="utf-8", errors="surrogatepass")
    return raw


def inspect_names(tmp_path, raw, capsys, *needles) -> None:
    """``prepare --inspect`` and its ``--json`` end well and name the problem."""
    assert main(["prepare", "--inspect", str(raw)]) == 0
    captured = capsys.readouterr()
    assert all(printable_text(needle) in captured.out for needle in needles), captured.out
    assert main(["prepare", "--inspect", str(raw), "--json"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    report = json.dumps(json.loads(captured.out))
    assert all(json.dumps(needle)[1:-1] in report for needle in needles), report


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
@pytest.mark.parametrize("case", sorted(ANNOTATIONS))
def test_an_annotation_file_that_cannot_be_data_is_a_named_problem(tmp_path, capsys, case, suffix):
    line, problem = ANNOTATIONS[case]
    raw = annotation_folder(tmp_path, case, line, suffix)
    error = prepare_fails(tmp_path, raw, capsys)
    where = "test.jsonl: line 2" if suffix == ".jsonl" and "parser" in case else "record 2"
    assert f"test{suffix}" in error and problem in error
    if suffix == ".jsonl" or "parser" not in case:
        assert where in error
    inspect_names(tmp_path, raw, capsys, f"test{suffix}", problem)


def write_webdataset(raw, members: dict[str, bytes]) -> None:
    import tarfile

    from tests.benchmark.test_archives import add_member

    with tarfile.open(raw / "shard-0.tar", "w") as archive:
        for name, data in members.items():
            add_member(archive, name, data)


@pytest.mark.parametrize("case", sorted(ANNOTATIONS))
def test_a_webdataset_record_that_cannot_be_data_is_a_named_problem(tmp_path, capsys, case):
    line, problem = ANNOTATIONS[case]
    raw = tmp_path / "raw"
    raw.mkdir()
    write_webdataset(
        raw,
        {
            "k1.json": json.dumps(record("k1")).encode(),
            "k1.png": noise("PNG"),
            "k2.json": line.encode("utf-8", "surrogatepass"),
        },
    )
    error = prepare_fails(tmp_path, raw, capsys)
    assert "shard-0.tar: member 'k2.json'" in error and problem in error
    inspect_names(tmp_path, raw, capsys, "shard-0.tar: member 'k2.json'", problem)


WRONG_IMAGES = {
    "a number": (12345, "image: expected an image path (text) or an object", "int 12345"),
    "a boolean": (True, "image: expected an image path", "bool True"),
    "a list of strings": (["a.png", "b.png"], "image: expected an image path", "list"),
    "an object without path or bytes": ({"url": "x"}, "image: expected an image path", "dict"),
    "bytes as text": ({"bytes": "iVBORw0KGgo="}, "got bytes of type str", "image"),
    "a path of the wrong type": ({"path": 7}, "got path 7", "image"),
}


@pytest.mark.parametrize("case", sorted(WRONG_IMAGES))
def test_an_image_field_of_the_wrong_type_is_a_named_problem(tmp_path, capsys, case):
    value, problem, detail = WRONG_IMAGES[case]
    raw = annotation_folder(tmp_path, case, json.dumps(record("bad", image=value)))
    error = prepare_fails(tmp_path, raw, capsys)
    assert "test.jsonl: record 2" in error and problem in error and detail in error
    inspect_names(tmp_path, raw, capsys, "record 2: image: expected an image", detail)


@pytest.mark.parametrize("value", [3, False, {"name": "x"}, ["nested"]])
def test_a_reference_image_of_the_wrong_type_is_a_named_problem(tmp_path, capsys, value):
    raw = annotation_folder(tmp_path, "refs", json.dumps(record("bad", images=["", value])))
    error = prepare_fails(tmp_path, raw, capsys)
    assert "test.jsonl: record 2: reference_images[1]: expected an image path" in error
    inspect_names(tmp_path, raw, capsys, "record 2: reference_images[1]: expected an image")


@pytest.mark.parametrize("case", ["a number", "a boolean", "an object without path or bytes"])
def test_a_webdataset_image_field_of_the_wrong_type_is_a_named_problem(tmp_path, capsys, case):
    value, problem, _ = WRONG_IMAGES[case]
    raw = tmp_path / "raw"
    raw.mkdir()
    write_webdataset(
        raw, {"k2.json": json.dumps(record("k2", image=value)).encode(), "k2.png": noise("PNG")}
    )
    error = prepare_fails(tmp_path, raw, capsys)
    assert "shard-0.tar: member k2.json" in error and problem in error
    inspect_names(tmp_path, raw, capsys, "shard-0.tar", "record 1: image: expected an image")


def test_a_file_name_that_is_not_utf8_is_named_not_a_traceback(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    name = os.path.join(os.fsencode(raw), b"test-\xff.jsonl")
    with open(name, "wb") as handle:
        handle.write(json.dumps(record("r1")).encode())
    inspect_names(tmp_path, raw, capsys, "test-\udcff.jsonl")
    error = prepare_fails(tmp_path, raw, capsys)
    assert "test-\\udcff.jsonl" in error and "not UTF-8" in error


def test_an_archive_member_name_that_is_not_utf8_is_refused_and_named(tmp_path, capsys):
    import tarfile

    raw = annotation_folder(tmp_path, "ok", json.dumps(record("r2")))
    members = {"k\xff.json": json.dumps(record("k")).encode(), "r1\xff.png": noise("PNG")}
    with tarfile.open(
        raw / "shard.tar", "w", encoding="latin-1", format=tarfile.GNU_FORMAT
    ) as archive:  # names stored as their latin-1 bytes, read back as \udcXX
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    out = tmp_path / "bench"
    assert main(["prepare", "--source", str(raw), "--out", str(out)]) == 0
    manifest = json.loads((out / "chatgenbench.json").read_text("utf-8"))
    shard = manifest["conversion"]["images"]["archives"]["shard.tar"]
    assert shard["refused"] == {"name_not_utf8": 2}
    assert shard["refused_examples"][0] == {"name": "k\\udcff.json", "reason": "name_not_utf8"}
    inspect_names(tmp_path, raw, capsys, "name_not_utf8")
