"""Speed of reading image archives: ``chatgenbench.benchmark.archives.read_archive`` against ``tarfile``.

Usage::

    python benchmarks/archives.py              # a 120 MiB tar.gz of 200 incompressible members
    python benchmarks/archives.py --mib 475    # the size of the release's few_test.tar.gz

The archive is built here from random bytes (PNG data hardly compresses, so random members are
a fair stand-in). Three reads of the same file, each the best of three runs after a warm-up:

- reference: the standard library's ``tarfile.open(path, "r:gz")``, every member read whole;
- ``read_archive`` with every member wanted (our guarded, chunked decompression and checks);
- ``read_archive`` listing only (the converter's first pass: headers, no bytes kept).

The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tarfile
import tempfile
import time
from pathlib import Path

# run from a checkout: its package wins over an installed copy
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build(path: Path, mib: int, members: int) -> int:
    """Write a tar.gz of ``members`` random members totalling about ``mib`` MiB; return bytes."""
    import io

    size = mib * 1024 * 1024 // members
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for number in range(members):
            info = tarfile.TarInfo(f"few_test/{number:06d}.png")
            info.size = size
            archive.addfile(info, io.BytesIO(os.urandom(size)))
    return size * members


def time_reference(path: Path) -> tuple[float, int]:
    start, total = time.perf_counter(), 0
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            handle = archive.extractfile(member)
            if handle is not None:
                total += len(handle.read())
    return time.perf_counter() - start, total


def time_ours(path: Path, *, keep: bool) -> tuple[float, int]:
    from chatgenbench.benchmark.archives import read_archive

    start, total = time.perf_counter(), 0
    want = (lambda name: True) if keep else None
    for _, data in read_archive(path, want=want):
        total += len(data) if data is not None else 0
    return time.perf_counter() - start, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=120, help="archive size in MiB (default 120)")
    parser.add_argument("--members", type=int, default=200, help="members (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "few_test.tar.gz"
        payload = build(path, args.mib, args.members)
        mib = payload / 2**20
        time_reference(path)  # warm the page cache
        # best of three each, interleaved: the machine is shared, the minimum is the least noisy
        runs = [
            (time_reference(path), time_ours(path, keep=True), time_ours(path, keep=False))
            for _ in range(3)
        ]
        reference, got_reference = min(run[0] for run in runs)
        ours, got_ours = min(run[1] for run in runs)
        listing, _ = min(run[2] for run in runs)
        assert got_reference == got_ours == payload, (got_reference, got_ours, payload)
        print(
            f"archive: {args.members} members, {mib:.0f} MiB, {path.stat().st_size / 2**20:.0f} MiB on disk"
        )
        print(f"tarfile r:gz (reference): {reference:.2f} s ({mib / reference:.0f} MiB/s)")
        print(
            f"read_archive, all read:   {ours:.2f} s ({mib / ours:.0f} MiB/s), {ours / reference:.2f}x"
        )
        print(f"read_archive, list only:  {listing:.2f} s ({mib / listing:.0f} MiB/s)")
        print(
            json.dumps(
                {
                    "benchmark": "archives",
                    "members": args.members,
                    "mib": round(mib, 1),
                    "reference_tarfile_s": round(reference, 3),
                    "read_archive_s": round(ours, 3),
                    "read_archive_list_s": round(listing, 3),
                    "ratio_read_vs_tarfile": round(ours / reference, 3),
                    "python": platform.python_version(),
                    "cpu_count": os.cpu_count(),
                }
            )
        )


if __name__ == "__main__":
    main()
