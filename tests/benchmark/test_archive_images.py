"""prepare on raw folders whose images (or whole records) lie inside archives."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile

import pytest
from PIL import Image

from chatgenbench.benchmark.archives import ArchiveLimits, MiB
from chatgenbench.benchmark.loading import load_benchmark, prepare
from chatgenbench.benchmark.official import convert_raw_folder
from chatgenbench.core.errors import KeyMapError
from tests.benchmark.test_archives import Zeros, add_member


def png(color, size=(8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


RED, GREEN, BLUE, GREY = png((255, 0, 0)), png((0, 255, 0)), png((0, 0, 255)), png((9, 9, 9))


def record(rid, **fields):
    base = {
        "id": rid,
        "input": f"request {rid}",
        "output": {"prompt": f"prompt {rid}", "model": "devlishphotorealism_v40"},
        "parameters": {"sampler": "Euler a", "steps": 20, "cfg_scale": 7, "width": 512},
    }
    base.update(fields)
    return base


def write_tar(path, members: dict[str, bytes], mode="w:gz") -> None:
    with tarfile.open(path, mode) as archive:
        for name, data in members.items():
            add_member(archive, name, data)


def test_tar_gz_images_match_records_by_name_path_and_id(tmp_path):
    raw = tmp_path / "raw"
    (raw / "few_test_img").mkdir(parents=True)
    write_tar(
        raw / "few_test_img" / "few_test.tar.gz",
        {
            "few_test/0001.png": RED,  # named by the record's image field (with another folder)
            "few_test/0002.png": GREEN,  # named by its stem
            "few_test/0003.png": BLUE,  # matched by the record id alone
            "few_test/9999.png": GREY,  # no record: unused
            "few_test/notes.txt": b"not an image",
            "__MACOSX/few_test/._0001.png": b"resource fork",  # skipped, not an image member
            "few_test/.DS_Store": b"junk",
        },
    )
    records = [
        record("0001", image="few_test_img/0001.png"),
        record("0002", image="0002"),
        record("0003"),
        record("0004", image="missing.png"),  # in no archive and not on disk
    ]
    (raw / "few_test.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    rows, catalog, report = convert_raw_folder(raw)
    by_id = {row["id"]: row for row in rows["few_shot"]}  # 'few_test' names the few-shot split
    assert by_id["0001"]["image"]["bytes"] == RED
    assert by_id["0002"]["image"]["bytes"] == GREEN
    assert by_id["0003"]["image"]["bytes"] == BLUE
    assert by_id["0004"]["image"] is None
    images = report["images"]
    assert images["records"] == 4 and images["records_with_image"] == 3
    assert images["records_without_image"] == 1 and images["match_rate"] == 0.75
    assert images["images_from_archives"] == 3
    assert images["image_members"] == 4 and images["members_used"] == 3
    assert images["members_unused"] == 1 and images["unused_examples"] == ["few_test/9999.png"]
    assert images["not_found"] == 1 and images["not_found_examples"] == ["missing.png"]
    archive = images["archives"]["few_test_img/few_test.tar.gz"]
    assert images["hidden_members_skipped"] == 2
    assert archive["members"] == 7 and archive["extensions"] == {".png": 5, ".txt": 1, "": 1}
    assert archive["refused"] == {} and archive["members_used"] == 3

    out = tmp_path / "bench"
    info = prepare(raw, out)
    assert info.counts == {"few_shot": 4}
    first = load_benchmark("few_shot", out)[0]
    assert first["id"] == "0001" and first["image"].getpixel((0, 0)) == (255, 0, 0)
    manifest = json.loads((out / "chatgenbench.json").read_text())
    assert manifest["conversion"]["images"]["records_with_image"] == 3


def test_zip_holds_reference_images_and_human_images(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    with zipfile.ZipFile(raw / "images.zip", "w") as archive:
        archive.writestr("refs/a.png", RED)
        archive.writestr("gt/a.png", GREEN)
    records = [record("a", type="multimodal", images=["refs/a.png"], image="gt/a.png")]
    (raw / "test.json").write_text(json.dumps({"data": records}))
    rows, _, report = convert_raw_folder(raw)
    row = rows["supervised"][0]
    assert [image["bytes"] for image in row["reference_images"]] == [RED]
    assert row["image"]["bytes"] == GREEN  # "a.png" twice: the full path decides
    assert report["images"]["reference_images_from_archives"] == 1
    assert report["images"]["members_used"] == 2


def test_zero_matches_stop_with_the_names_seen(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_tar(raw / "imgs.tar", {"img_000.png": RED, "img_001.png": GREEN}, mode="w")
    (raw / "test.jsonl").write_text(json.dumps(record("s-1", picture="P-0")) + "\n")
    with pytest.raises(KeyMapError) as caught:
        convert_raw_folder(raw)
    message = str(caught.value)
    assert "img_000.png" in message and "img_001.png" in message  # the member names
    assert "'s-1'" in message  # the record keys it tried
    assert "archive_match" in caught.value.how_to_fix
    # the key map names the field that holds the member's stem: then it converts
    (raw / "test.jsonl").write_text(json.dumps(record("s-1", picture="img_001")) + "\n")
    rows, _, _ = convert_raw_folder(raw, key_map={"archive_match": {"image": ["picture"]}})
    assert rows["supervised"][0]["image"]["bytes"] == GREEN


def test_webdataset_archive_converts_on_its_own(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    members = {}
    for key, color in (("000001", RED), ("000002", GREEN)):
        members[f"shard-0/{key}.json"] = json.dumps(
            {
                "query": f"a picture {key}",
                "type": "image" if key == "000002" else "single",
                "prompt": f"prompt {key}",
                "model": "rolua",
                "params": {"sampler": "Euler a", "steps": "30", "cfgScale": 7},
            }
        ).encode()
        members[f"shard-0/{key}.png"] = color
    members["shard-0/000002.ref.png"] = BLUE
    members["shard-0/000003.png"] = GREY  # an image without a record
    write_tar(raw / "few_test.tar.gz", members)
    out = tmp_path / "bench"
    info = prepare(raw, out)
    assert info.counts == {"few_shot": 2}
    rows = {row["id"]: row for row in load_benchmark("few_shot", out)}
    assert sorted(rows) == ["shard-0/000001", "shard-0/000002"]  # ids are the webdataset keys
    assert rows["shard-0/000001"]["image"].getpixel((0, 0)) == (255, 0, 0)
    second = rows["shard-0/000002"]
    assert second["input_type"] == "multimodal" and second["arguments"]["steps"] == 30
    assert second["reference_images"][0].getpixel((0, 0)) == (0, 0, 255)
    manifest = json.loads((out / "chatgenbench.json").read_text())
    conversion = manifest["conversion"]
    assert conversion["files"] == {"few_test.tar.gz": {"setting": "few_shot", "rows": 2}}
    assert conversion["images"]["archives"]["few_test.tar.gz"]["records"] == 2
    assert conversion["images"]["members_used"] == 3 and conversion["images"]["members_unused"] == 1


def test_hostile_archive_members_are_refused_counted_and_the_rest_used(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    path = raw / "images.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        add_member(archive, "a.png", RED)
        add_member(archive, "../b.png", GREEN)  # would escape: refused
        add_member(archive, "c.png", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        add_member(archive, "d.png", os.urandom(2 * MiB))  # over the bound
        add_member(archive, "e.png", b"\x89PNG but not really")  # not an image
        info = tarfile.TarInfo("f.png")
        info.size = 8 * MiB
        archive.addfile(info, Zeros(info.size))  # a bomb
        add_member(archive, "g.png", BLUE)  # after the bomb: never reached
    records = [record(rid, image=f"{rid}.png") for rid in "abcdefg"]
    (raw / "test.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    limits = ArchiveLimits(max_member_bytes=1 * MiB, ratio_slack_bytes=256 * 1024)
    # f.png is over the 1 MiB bound (refused by its size) and skipping its zeros passes the ratio
    # bound, so reading stops there (a bomb within the size bound: see tests/test_archives.py)
    rows, _, report = convert_raw_folder(raw, archive_limits=limits)
    by_id = {row["id"]: row for row in rows["supervised"]}
    assert by_id["a"]["image"]["bytes"] == RED
    assert [rid for rid, row in by_id.items() if row["image"] is None] == list("bcdefg")
    images = report["images"]
    archive_report = images["archives"]["images.tar.gz"]
    assert archive_report["refused"] == {"unsafe_path": 1, "link": 1, "oversize": 2, "bomb": 1}
    assert "compression bomb" in archive_report["stopped"]
    assert images["refused_images"] == {"not_an_image": 1}
    assert images["refused_image_examples"][0]["name"] == "e.png"
    assert images["not_found"] == 5  # b, c, d, f, g: refused or unreached, so never found
    assert not (tmp_path / "b.png").exists()


def test_an_annotation_file_packed_beside_the_images_is_read_from_the_archive(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    annotations = [record("r1", image="images/r1.png"), record("r2")]
    write_tar(
        raw / "release.tar.gz",
        {
            "release/annotations/test.json": json.dumps(annotations).encode(),
            "release/images/r1.png": RED,
            "release/images/r2.png": GREEN,
        },
    )
    rows, _, report = convert_raw_folder(raw)
    by_id = {row["id"]: row for row in rows["supervised"]}
    assert by_id["r1"]["image"]["bytes"] == RED and by_id["r2"]["image"]["bytes"] == GREEN
    assert by_id["r1"]["source"] == "release.tar.gz:release/annotations/test.json"
    assert report["images"]["match_rate"] == 1.0


def test_matched_members_are_checked_and_released_one_at_a_time(tmp_path):
    """A plain tar (no ratio to catch) of 12 members of 4 MiB of zeros named .png, each matched by
    a record: each is read, refused as not an image and released before the next is read."""
    raw = tmp_path / "raw"
    raw.mkdir()
    with tarfile.open(raw / "images.tar", "w") as archive:
        for number in range(12):
            info = tarfile.TarInfo(f"r{number}.png")
            info.size = 4 * MiB
            archive.addfile(info, Zeros(info.size))
        add_member(archive, "ok.png", RED)
    records = [record(f"r{number}", image=f"r{number}.png") for number in range(12)]
    records.append(record("ok", image="ok.png"))
    (raw / "test.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    import tracemalloc

    tracemalloc.start()
    try:
        rows, _, report = convert_raw_folder(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * 4 * MiB  # about one member (and the tar reader's buffer), not twelve
    assert report["images"]["refused_images"] == {"not_an_image": 12}
    by_id = {row["id"]: row for row in rows["supervised"]}
    assert by_id["ok"]["image"]["bytes"] == RED and by_id["r0"]["image"] is None
