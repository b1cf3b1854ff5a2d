"""Rank bands, demo-weight labels and one scale in a real browser at 1,400 px (headless Chromium,
served by ``chatgenbench leaderboard``). Screenshots go to ``$CHATGENBENCH_TEST_ARTIFACTS`` (or the
test's tmp dir). Skipped, like the other browser tests, where Chromium or selenium is absent."""

from __future__ import annotations

import json
import time

import pytest

from tests.leaderboard.test_leaderboard_browser import (  # noqa: F401  (fixtures)
    browser,
    open_tab,
    screenshot,
    served_app,
    table_cells,
    wait_for,
)
from tests.leaderboard.test_rank_bands import _worse_bertscore
from tests.leaderboard_fixtures import add_variant, copy_sample
from tests.vote_fixtures import vote_store

IDS = [f"sample-{i:04d}" for i in range(1, 13)]


@pytest.fixture()
def store(request, tmp_path):
    """The sample submission and a copy with worse prompts (same configs), or, for the demo
    tests, two submissions with rendered images marked as made with random demo weights."""
    root = tmp_path / "store"
    if "demo" in request.node.name:
        vote_store(root, {"no-finetune-sample": IDS[:3], "retrieval-sample": IDS[:3]})
        for name in ("no-finetune-sample", "retrieval-sample"):
            path = root / name / "results.json"
            results = json.loads(path.read_text("utf-8"))
            results["random_weights"] = {"used": True, "render_models": ["sd_xl_base_1.0"]}
            path.write_text(json.dumps(results), "utf-8")
            scores = {"clip_score": 0.0164, "hps_v2": 0.389}
            lines = [
                json.dumps({"id": i, "config_score": 0.4, "image_scores": scores}) for i in IDS
            ]
            (root / name / "samples.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    else:
        copy_sample(root)
        _worse_bertscore(add_variant(root, "worse-prompts", method="Worse prompts"))
    return root


def _body(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def test_a_config_tie_is_broken_by_bertscore_and_the_order_is_said(served_app, browser, tmp_path):  # noqa: F811
    browser.set_window_size(1400, 1100)
    browser.get(served_app)
    wait_for(browser, lambda: "Worse prompts" in table_cells(browser))
    time.sleep(1.0)
    body = _body(browser)
    assert "Sorted by Config acc ↑ (Unified ↑: computed for no row here)" in body
    assert "separated by Sel. acc ↑, then BERTScore ↑" in body
    assert "Top of this group: no-finetune (paper Baseline) (submission)" in body
    cells = table_cells(browser)
    # rank, method: the tie on config accuracy is broken by a significant BERTScore difference
    assert cells[cells.index("Worse prompts") - 1] == "2"
    assert "1–2" in cells  # the paper's rows: bands, not invented ranks
    screenshot(browser, tmp_path, "ranks-ranking-1400.png")


def test_demo_weights_are_labelled_in_gallery_and_vote(served_app, browser, tmp_path):  # noqa: F811
    browser.set_window_size(1400, 1100)
    browser.get(served_app)
    wait_for(browser, lambda: "ChatGenBench leaderboard" in _body(browser))
    open_tab(browser, "Gallery")
    wait_for(browser, lambda: "rendered with RANDOM demo weights" in _body(browser))
    body = _body(browser)
    assert (
        "Made with RANDOM demo weights ('chatgenbench weights demo'): no-finetune-sample." in body
    )
    assert "CLIP 1.6 · HPS v2 38.9" in body and "clip_score" not in body
    screenshot(browser, tmp_path, "ranks-gallery-1400.png")
    open_tab(browser, "Vote")
    wait_for(browser, lambda: "Image A" in _body(browser))
    assert (
        "Made with RANDOM demo weights ('chatgenbench weights demo'): the images are noise"
        in _body(browser)
    )
    screenshot(browser, tmp_path, "ranks-vote-1400.png")
