"""Reading a path that came from data opens regular files only (never waits on a FIFO or reads a
device) and, with ``within``, never follows a link out of the folder; a write with ``within``
never goes through a link."""

from __future__ import annotations

import os

import pytest

from chatgenbench.core.storage import (
    UnsafeFileError,
    atomic_write_bytes,
    open_regular_file,
    read_regular_bytes,
    sha256_file,
)
from tests.timeouts import run_with_timeout


def test_a_fifo_is_refused_at_once_never_waited_on(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for read in (read_regular_bytes, sha256_file, lambda p: open_regular_file(p).close()):
        with pytest.raises(UnsafeFileError, match="FIFO"):
            run_with_timeout(lambda read=read: read(fifo), 10)


@pytest.mark.parametrize("path", ["/dev/null", "/dev/zero"])
def test_a_device_is_refused(path):
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(UnsafeFileError, match="not a regular file"):
        read_regular_bytes(path)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(UnsafeFileError, match="a folder"):
        read_regular_bytes(tmp_path)


def test_within_refuses_links_and_dots_leading_outside(tmp_path):
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (inside / "link").symlink_to(outside / "secret")
    (inside / "dir").symlink_to(outside, target_is_directory=True)
    (inside / "ok").write_bytes(b"ok")
    (inside / "inner-link").symlink_to(inside / "ok")
    for path in (inside / "link", inside / "dir" / "secret", inside / ".." / "outside" / "secret"):
        with pytest.raises(UnsafeFileError, match="leads outside"):
            read_regular_bytes(path, within=inside)
    assert read_regular_bytes(inside / "inner-link", within=inside) == b"ok"


def test_max_bytes_reads_no_more_than_the_limit(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(UnsafeFileError, match="100-byte limit"):
        read_regular_bytes(tmp_path / "big", max_bytes=100)
    assert read_regular_bytes(tmp_path / "big", max_bytes=101) == b"x" * 101


def test_a_write_within_a_folder_never_goes_through_a_link(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    (outside / "target").write_bytes(b"old")
    (root / "linked-file").symlink_to(outside / "target")
    for path in (root / "linked-dir" / "new", root / "linked-file", tmp_path / "elsewhere"):
        with pytest.raises(UnsafeFileError):
            atomic_write_bytes(path, b"new", within=root)
    assert (outside / "target").read_bytes() == b"old" and sorted(outside.iterdir()) == [
        outside / "target"
    ]
    linked_root = tmp_path / "linked-root"
    linked_root.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        atomic_write_bytes(linked_root / "x", b"new", within=linked_root)
    assert atomic_write_bytes(root / "a" / "b", b"fine", within=root).read_bytes() == b"fine"
