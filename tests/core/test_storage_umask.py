"""What ChatGenBench writes is shared as the umask says (a team's folder), not private to its
writer as ``mkstemp``/``mkdtemp`` make it; still written atomically."""

from __future__ import annotations

import os
import stat

import pytest

from chatgenbench.cli import main
from chatgenbench.core.storage import atomic_write_bytes, atomic_write_text, current_umask


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    """Run the test under this umask, then put the old one back."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_the_process_umask(umask):
    assert current_umask() == umask


def test_atomic_writes_get_the_mode_open_would_give(umask, tmp_path):
    written = atomic_write_bytes(tmp_path / "a" / "results.json", b"{}")
    assert _mode(written) == 0o666 & ~umask
    replaced = atomic_write_text(written, "{}\n")  # replacing keeps to the umask too
    assert _mode(replaced) == 0o666 & ~umask
    assert not [p for p in written.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_a_private_write_stays_private(umask, tmp_path):
    assert _mode(atomic_write_text(tmp_path / "secret", "s", private=True)) == 0o600


def test_prepare_writes_a_folder_the_team_can_share(umask, tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["prepare", "--source", "sample", "--out", str(out)]) == 0
    assert _mode(out) == 0o777 & ~umask
    for path in out.rglob("*"):
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert _mode(path) == expected, path
