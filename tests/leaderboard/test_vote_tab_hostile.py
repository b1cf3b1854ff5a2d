"""The Vote tab shows a placeholder with the reason for a render image it cannot read (truncated,
not an image, a decompression bomb), never an exception of the whole page."""

from __future__ import annotations

import pytest

from tests.leaderboard_fixtures import ROOT
from tests.scoring.test_hostile_render_folder import bomb_png
from tests.vote_fixtures import vote_store

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = str(ROOT / "leaderboard" / "app.py")
IDS = [f"sample-{i:04d}" for i in range(1, 13)]

BAD = {
    "truncated": lambda data: data[:60],
    "not-an-image": lambda data: b"not a PNG at all",
    "bomb": lambda data: bomb_png(9_000, 9_000),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_an_unreadable_image_gets_a_placeholder_and_the_page_stays(tmp_path, monkeypatch, kind):
    root = vote_store(
        tmp_path / "store", {"no-finetune-sample": IDS[1:2], "retrieval-sample": IDS[1:2]}
    )
    image = next((root / "no-finetune-sample" / "render" / "images").glob("*.png"))
    image.write_bytes(BAD[kind](image.read_bytes()))
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    (tab,) = [tab for tab in at.tabs if tab.label == "Vote"]
    warnings = [w.value for w in tab.warning]
    assert any("This image cannot be shown" in w for w in warnings), warnings
