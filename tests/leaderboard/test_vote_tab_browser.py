"""The Vote tab in a real browser: votes cast by clicking in headless Chromium are stored once, and
the results on the page follow; undo removes the last one. Skipped like the other browser tests
where Chromium or selenium is absent (a failure under ``$CHATGENBENCH_REQUIRE_BROWSER=1``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.leaderboard.test_leaderboard_browser import (  # noqa: F401  (fixtures, used by name)
    browser,
    open_tab,
    screenshot,
    served_app,
    wait_for,
)
from tests.vote_fixtures import vote_store

IDS = [f"sample-{i:04d}" for i in range(1, 13)]
MIN_SECONDS = 1.0


@pytest.fixture()
def store(tmp_path, monkeypatch) -> Path:
    """Two sample submissions sharing the images of two samples (the server reads this env)."""
    monkeypatch.setenv("CHATGENBENCH_VOTE_MIN_SECONDS", str(MIN_SECONDS))
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    return vote_store(
        tmp_path / "store", {"no-finetune-sample": IDS[:3], "retrieval-sample": IDS[1:3]}
    )


def _click(driver, key: str) -> None:
    from selenium.webdriver.common.by import By

    (button,) = driver.find_elements(By.CSS_SELECTOR, f".st-key-{key} button")
    button.click()


def _tab_text(driver) -> str:
    from selenium.webdriver.common.by import By

    panels = driver.find_elements(By.CSS_SELECTOR, "[role='tabpanel']")
    return "\n".join(panel.text for panel in panels if panel.is_displayed())


def test_votes_cast_by_clicking_are_stored_once_and_the_summary_follows(
    store,
    served_app,  # noqa: F811 (the imported fixture)
    browser,  # noqa: F811 (the imported fixture)
    tmp_path,
):
    from selenium.webdriver.common.by import By

    from leaderboard.votes import VoteStore, default_votes_path

    votes = VoteStore(default_votes_path(store))
    browser.get(served_app)
    wait_for(browser, lambda: any(t.text == "Vote" for t in browser.find_elements(
        By.CSS_SELECTOR, "[role='tab']")))  # fmt: skip
    open_tab(browser, "Vote")
    wait_for(browser, lambda: "Image B" in _tab_text(browser))
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, ".st-key-vote-undo")) == 1)

    def shown_images() -> list:
        found = browser.find_elements(By.CSS_SELECTOR, "[data-testid='stImage'] img")
        return [image for image in found if image.is_displayed()]

    wait_for(browser, lambda: len(shown_images()) == 2)  # the two blind images
    assert all(".png" in image.get_attribute("src") for image in shown_images())
    wait_for(browser, lambda: "No votes yet." in _tab_text(browser))
    time.sleep(MIN_SECONDS + 0.5)  # a person looks before answering; faster votes are flagged

    _click(browser, "vote-quality-left")
    wait_for(browser, lambda: len(votes.votes()) == 1, timeout=30)
    wait_for(browser, lambda: "quality: 1 counted vote, 0 flagged" in _tab_text(browser))
    _click(browser, "vote-relevance-right")
    wait_for(browser, lambda: len(votes.votes()) == 2, timeout=30)
    wait_for(browser, lambda: "relevance: 1 counted vote, 0 flagged" in _tab_text(browser))
    time.sleep(0.5)  # let the page settle: no click may have been stored twice
    stored = votes.votes()
    assert len(stored) == 2
    assert {vote.question for vote in stored} == {"quality", "relevance"}
    assert len({vote.voter for vote in stored}) == 1
    assert len({vote.pair for vote in stored}) == 1
    assert all(vote.counted and vote.seconds >= MIN_SECONDS for vote in stored)
    quality = next(vote for vote in stored if vote.question == "quality")
    relevance = next(vote for vote in stored if vote.question == "relevance")
    assert quality.answer == quality.left_side  # left was clicked: the submission shown there
    assert relevance.answer != relevance.left_side and relevance.answer != "tie"
    wait_for(
        browser, lambda: browser.find_elements(By.CSS_SELECTOR, "[data-testid='stVegaLiteChart']")
    )
    time.sleep(1.0)  # let the charts paint before the screenshot
    screenshot(browser, tmp_path, "leaderboard-vote.png")

    _click(browser, "vote-undo")
    wait_for(browser, lambda: len(votes.votes()) == 1, timeout=30)
    wait_for(browser, lambda: "Undid your last vote (relevance)." in _tab_text(browser))
    wait_for(browser, lambda: "relevance: 1 counted vote" not in _tab_text(browser))
    assert "quality: 1 counted vote, 0 flagged" in _tab_text(browser)
    assert [vote.question for vote in votes.votes()] == ["quality"]
