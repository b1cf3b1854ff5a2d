"""The store hint and the metric-agreement table in a real browser at 1,400 px: an empty store
says where it is and how to submit; the Vote tab shows how far each metric agrees with the votes.
Screenshots are saved (``$CHATGENBENCH_TEST_ARTIFACTS`` or the test's tmp dir). Skipped like the
other browser tests where Chromium or selenium is absent."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.leaderboard.test_leaderboard_browser import (  # noqa: F401  (fixtures, used by name)
    browser,
    grid_cells,
    open_tab,
    screenshot,
    served_app,
    wait_for,
)
from tests.vote_fixtures import vote_store

IDS = [f"sample-{i:04d}" for i in range(1, 13)]
NOFT, RETR = "no-finetune-sample", "retrieval-sample"


@pytest.fixture()
def store(tmp_path, monkeypatch, request) -> Path:
    """An empty store for the tests named ``empty``; else two scored submissions with votes."""
    from leaderboard.submissions import SubmissionStore
    from leaderboard.votes import Pair, Shown, VoteStore

    for name in ("CHATGENBENCH_SUBMISSIONS", "CHATGENBENCH_QUEUE_DB", "CHATGENBENCH_VOTES_DB"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "store"
    if "empty" in request.node.name:
        root.mkdir()
        return root
    vote_store(root, {NOFT: IDS[:3], RETR: IDS[:3]})
    for name, clip in ((NOFT, 0.31), (RETR, 0.22)):
        lines = [json.dumps({"id": i, "image_scores": {"clip_score": clip}}) for i in IDS[:3]]
        (root / name / "samples.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    votes = VoteStore(root / ".votes.sqlite3", submissions=SubmissionStore(root))
    for number, (sample, answer) in enumerate([(IDS[0], "a"), (IDS[1], "a"), (IDS[2], "b")]):
        shown = Shown(Pair("sample", "supervised", sample, NOFT, RETR), "a")
        votes.cast(f"voter-{number}", shown, "quality", answer, shown_at=0.0, now=5.0)
    return root


def test_an_empty_store_says_where_it_is_and_how_to_submit(
    served_app,  # noqa: F811 (the imported fixture)
    browser,  # noqa: F811 (the imported fixture)
    store,
    tmp_path,
):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1400, 1100)
    browser.get(served_app)
    wait_for(
        browser, lambda: "holds no submission yet" in browser.find_element(By.TAG_NAME, "body").text
    )
    time.sleep(1.0)
    body = browser.find_element(By.TAG_NAME, "body").text
    screenshot(browser, tmp_path, "empty-store.png")
    assert "chatgenbench queue work" in body
    sidebar = browser.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar']").text
    assert str(store) in sidebar and "CHATGENBENCH_SUBMISSIONS" in sidebar


def test_the_vote_tab_shows_how_far_each_metric_agrees(
    served_app,  # noqa: F811 (the imported fixture)
    browser,  # noqa: F811 (the imported fixture)
    tmp_path,
):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1400, 1100)
    browser.get(served_app)
    wait_for(browser, lambda: bool(browser.find_elements(By.CSS_SELECTOR, "[role='tab']")))
    open_tab(browser, "Vote")
    wait_for(browser, lambda: any(c.startswith("66.7% [") for c in grid_cells(browser)))
    heading = [
        h for h in browser.find_elements(By.TAG_NAME, "h3")
        if "How far each metric agrees with people" in h.text
    ]  # fmt: skip
    browser.execute_script("arguments[0].scrollIntoView();", heading[0])
    time.sleep(1.0)
    screenshot(browser, tmp_path, "vote-agreement.png")
    cells = grid_cells(browser)
    assert "CLIP" in cells and "3" in cells
