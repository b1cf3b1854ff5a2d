"""Reading untrusted archives: safe members are streamed, hostile ones refused and counted."""

from __future__ import annotations

import io
import os
import tarfile
import tracemalloc
import zipfile

import pytest

from chatgenbench.benchmark.archives import (
    ArchiveLimits,
    ArchiveReport,
    MiB,
    member_keys,
    read_archive,
    unsafe_member_name,
    webdataset_key,
)
from chatgenbench.core.errors import BenchmarkError


class Zeros(io.RawIOBase):
    """``size`` zero bytes, produced on demand (so a bomb is built without holding it)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def add_member(archive: tarfile.TarFile, name: str, data: bytes = b"", **fields) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    archive.addfile(info, io.BytesIO(data) if data else None)


def add_bomb(archive: tarfile.TarFile, name: str, size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    archive.addfile(info, Zeros(size))


LIMITS = ArchiveLimits(max_member_bytes=128 * MiB, ratio_slack_bytes=1 * MiB, max_ratio=100)


def read_all(path, limits=LIMITS):
    report = ArchiveReport(str(path))
    members = {
        name: data
        for name, data in read_archive(path, want=lambda n: True, limits=limits, report=report)
    }
    return members, report


def test_names_that_escape_are_unsafe():
    for name in ("../x.png", "/etc/passwd", "a/../../x", "C:\\x.png", "a\\..\\x", "x\x00.png", ""):
        assert unsafe_member_name(name), name
    for name in ("a/b.png", "./a.png", "a..b.png", "few_test/0001.png"):
        assert not unsafe_member_name(name), name
    assert member_keys("./few_test/0001.png") == [
        "few_test/0001.png",
        "few_test/0001",
        "0001.png",
        "0001",
    ]
    assert webdataset_key("shard/000123.ref.png") == ("shard/000123", "ref.png")


def test_hostile_tar_gz_members_are_refused_and_counted(tmp_path):
    path = tmp_path / "hostile.tar.gz"
    good = os.urandom(2000)
    with tarfile.open(path, "w:gz") as archive:
        add_member(archive, "imgs/ok-1.png", good)
        add_member(archive, "../escape.png", b"x")
        add_member(archive, "/etc/passwd", b"x")
        add_member(archive, "imgs/../../up.png", b"x")
        add_member(archive, "sym.png", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        add_member(archive, "hard.png", type=tarfile.LNKTYPE, linkname="imgs/ok-1.png")
        add_member(archive, "dev", type=tarfile.CHRTYPE)
        add_member(archive, "fifo", type=tarfile.FIFOTYPE)
        add_member(archive, "imgs/huge.png", os.urandom(9 * MiB))  # incompressible, over the bound
        add_member(archive, "imgs/ok-2.png", good[::-1])
        add_bomb(archive, "imgs/bomb.png", 8 * MiB)  # within the bound, but 8 MiB of zeros: ~8 KiB
        add_member(archive, "imgs/after-bomb.png", good)
    limits = ArchiveLimits(max_member_bytes=8 * MiB, ratio_slack_bytes=1 * MiB, max_ratio=100)
    tracemalloc.start()
    try:
        members, report = read_all(path, limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert members == {"imgs/ok-1.png": good, "imgs/ok-2.png": good[::-1]}
    assert dict(report.refused) == {
        "unsafe_path": 3,
        "link": 2,
        "special_file": 2,
        "oversize": 1,
        "bomb": 1,
    }
    assert {e["name"] for e in report.refused_examples} >= {
        "../escape.png",
        "sym.png",
        "imgs/huge.png",
    }
    assert "compression bomb" in report.stopped and "imgs/bomb.png" in report.stopped
    assert report.members == 2 and report.extensions == {".png": 2}
    # reading stopped soon after the ratio passed: the bomb was not inflated whole
    assert report.uncompressed_bytes < 9 * MiB + 3 * MiB
    assert peak < 4 * MiB
    assert not (tmp_path / "escape.png").exists() and not (tmp_path / "imgs").exists()


def test_a_bomb_that_is_too_big_for_its_header_is_refused_without_inflating_it(tmp_path):
    path = tmp_path / "oversize-bomb.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        add_bomb(archive, "bomb.png", 200 * MiB)
        add_member(archive, "later.png", b"late")
    members, report = read_all(path, ArchiveLimits(max_member_bytes=1 * MiB))
    # refused by its declared size, and skipping it passes the ratio bound: reading stops there
    assert members == {}
    assert report.refused["oversize"] == 1 and report.refused["bomb"] == 1
    assert report.uncompressed_bytes < 40 * MiB


def test_hostile_zip_members_are_refused_and_counted(tmp_path):
    path = tmp_path / "hostile.zip"
    good = os.urandom(1000)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/ok.png", good)
        archive.writestr("../escape.png", b"x")
        archive.writestr("/abs.png", b"x")
        link = zipfile.ZipInfo("link.png")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("huge.png", os.urandom(9 * MiB))
        archive.writestr("bomb.png", bytes(8 * MiB))  # within the bound, but 1000 times its size
        archive.writestr("b/ok.json", b'{"id": 1}')
    limits = ArchiveLimits(max_member_bytes=8 * MiB, ratio_slack_bytes=1 * MiB)
    members, report = read_all(path, limits)
    assert members == {"a/ok.png": good, "b/ok.json": b'{"id": 1}'}
    assert dict(report.refused) == {"unsafe_path": 2, "link": 1, "oversize": 1, "bomb": 1}
    assert report.extensions == {".png": 1, ".json": 1}


def test_a_zip_member_that_lies_about_its_size_is_refused(tmp_path):
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("liar.png", bytes(4000))
        archive.writestr("ok.png", b"fine")
    data = bytearray(path.read_bytes())
    # make the central directory claim 10 bytes for liar.png: the inflated data is longer
    central = data.find(b"PK\x01\x02")  # the first central-directory entry: liar.png's
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    members, report = read_all(path)
    assert members == {"ok.png": b"fine"}
    assert report.refused == {"corrupt": 1}


def test_only_wanted_members_are_read_and_other_formats_work(tmp_path):
    for suffix, mode in (
        (".tar", "w"),
        (".tar.xz", "w:xz"),
        (".tgz", "w:gz"),
        (".tar.bz2", "w:bz2"),
    ):
        path = tmp_path / f"a{suffix}"
        with tarfile.open(path, mode) as archive:
            add_member(archive, "dir/", type=tarfile.DIRTYPE)
            add_member(archive, "dir/one.png", b"1" * 100)
            add_member(archive, "dir/two.json", b"{}")
        got = list(read_archive(path, want=lambda name: name.endswith(".json")))
        assert got == [("dir/one.png", None), ("dir/two.json", b"{}")], suffix


def test_a_file_that_is_not_an_archive_is_a_clear_error(tmp_path):
    path = tmp_path / "fake.tar.gz"
    path.write_bytes(b"this is not gzip")
    with pytest.raises(BenchmarkError, match="fake.tar.gz: not a readable gz tar archive"):
        list(read_archive(path))
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK nope")
    with pytest.raises(BenchmarkError, match="not a readable zip archive"):
        list(read_archive(path))


# --- bounds over the whole archive, not only per member -------------------------------------


def zip_of_zeros(path, members: int, size: int) -> None:
    """A zip of ``members`` members of ``size`` zero bytes each, small on disk (deflate)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(members):
            with archive.open(f"img/{number:03d}.png", "w", force_zip64=False) as handle:
                left = size
                while left:
                    handle.write(bytes(min(left, MiB)))
                    left -= min(left, MiB)


def test_a_zip_of_many_members_each_under_the_bounds_is_refused_whole(tmp_path):
    """100 members of 15 MiB of zeros: each under the 64 MiB bound and the 16 MiB ratio
    allowance, together 1.5 GB from a 1.5 MiB file. Refused before any member is read."""
    path = tmp_path / "zeros.zip"
    zip_of_zeros(path, 100, 15 * MiB)
    assert path.stat().st_size < 2 * MiB
    tracemalloc.start()
    try:
        members, report = read_all(path, ArchiveLimits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert members == {}
    assert report.refused == {"bomb": 1}
    assert "compression bomb" in report.stopped and "no member was read" in report.stopped
    assert peak < 4 * MiB


def test_a_zip_of_many_small_members_summing_over_the_total_is_refused(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for number in range(40):
            archive.writestr(f"{number}.png", os.urandom(64 * 1024))  # incompressible: ratio 1
    limits = ArchiveLimits(max_total_bytes=1 * MiB)
    members, report = read_all(path, limits)
    assert members == {}  # not the first 15 members and a stop: nothing from a refused archive
    assert report.refused == {"bomb": 1}
    assert f"more than {1 * MiB} bytes uncompressed" in report.stopped


def test_a_tar_gz_whose_members_are_small_but_expand_a_lot_together_stops(tmp_path):
    """Each member (1 MiB of zeros) is under the ratio allowance alone; the stream is not."""
    path = tmp_path / "zeros.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for number in range(64):
            add_bomb(archive, f"{number:02d}.png", 1 * MiB)
    limits = ArchiveLimits(ratio_slack_bytes=4 * MiB, max_ratio=100)
    members, report = read_all(path, limits)
    assert report.refused["bomb"] == 1 and "compression bomb" in report.stopped
    assert len(members) < 8  # stopped soon after the allowance, not after all 64 MiB
    assert report.uncompressed_bytes < 8 * MiB


def test_a_zip_whose_central_directory_understates_sizes_inflates_no_more_than_it_declares(
    tmp_path,
):
    """Every member claims 1 KiB (so the totals look small) but holds 4 MiB of zeros: reading
    stops at the declared size, each member is refused as corrupt, memory stays small."""
    path = tmp_path / "liar.zip"
    zip_of_zeros(path, 20, 4 * MiB)
    data = bytearray(path.read_bytes())
    start = 0
    while (central := data.find(b"PK\x01\x02", start)) >= 0:
        data[central + 24 : central + 28] = (1024).to_bytes(4, "little")
        start = central + 4
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        members, report = read_all(path, ArchiveLimits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert members == {}
    assert report.refused == {"corrupt": 20}
    assert peak < 2 * MiB
