"""The Gallery tab in a real browser: the leaderboard served by ``chatgenbench leaderboard`` and
opened in headless Chromium shows a submission's rendered images, and the side-by-side view shows
two submissions' images for one input in one row; every image must have loaded
(``naturalWidth > 0``). Screenshots are saved (``$CHATGENBENCH_TEST_ARTIFACTS`` or the tmp dir).

Skipped, like ``test_leaderboard_browser``, where Chromium or selenium is absent unless
``$CHATGENBENCH_REQUIRE_BROWSER=1``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from leaderboard.submissions import SAMPLES_FILENAME, SubmissionStore
from tests.leaderboard.test_gallery import fake_render
from tests.leaderboard.test_leaderboard_browser import (  # noqa: F401  (browser is a fixture)
    ROOT,
    _free_port,
    _wait_healthy,
    browser,
    open_tab,
    screenshot,
    wait_for,
)
from tests.leaderboard_fixtures import copy_sample

LOADED_IMAGES = """
return Array.from(document.querySelectorAll("[data-testid='stImage'] img, img"))
  .filter(img => img.offsetParent !== null)
  .map(img => [img.complete && img.naturalWidth > 0, img.naturalWidth, img.alt || img.src]);
"""


@pytest.fixture()
def gallery_store(tmp_path, minilm_scorer):
    from chatgenbench.scoring.evaluation import evaluate

    store = SubmissionStore(tmp_path / "store")
    for name in ("first", "second"):
        folder = copy_sample(store.root, name)
        evaluate(folder / "predictions.jsonl", "sample", bertscore=minilm_scorer, progress=False,
                 per_sample_out=folder / SAMPLES_FILENAME)  # fmt: skip
    fake_render(store, "first", {"sample-0001", "sample-0002", "sample-0003"})
    fake_render(store, "second", {"sample-0001", "sample-0002"})
    return store


@pytest.fixture()
def served_gallery(tmp_path, gallery_store):
    port = _free_port()
    env = dict(os.environ, CHATGENBENCH_LEADERBOARD_BENCHMARKS="sample", PYTHONPATH=str(ROOT))
    log = open(tmp_path / "streamlit.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "chatgenbench", "leaderboard", "--store", str(gallery_store.root),
         "--port", str(port), "--address", "127.0.0.1", "--headless"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        # the command runs 'streamlit run' as its child: stop the whole session it leads
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def visible_images(driver) -> list:
    return driver.execute_script(LOADED_IMAGES)


def test_gallery_and_side_by_side_images_load_in_chromium(served_gallery, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(served_gallery)
    wait_for(browser, lambda: any(t.text == "Gallery" for t in browser.find_elements(
        By.CSS_SELECTOR, "[role='tab']")))  # fmt: skip
    open_tab(browser, "Gallery")
    wait_for(browser, lambda: len([i for i in visible_images(browser) if i[0]]) >= 3)
    images = visible_images(browser)
    assert len(images) >= 3 and all(loaded for loaded, _, _ in images), images
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "12 of 12 samples match" in body
    assert "Reference prompt:" in body and "Predicted prompt:" in body
    time.sleep(0.5)
    screenshot(browser, tmp_path, "gallery.png")

    (button,) = [b for b in browser.find_elements(By.TAG_NAME, "button")
                 if b.text == "Side by side"][:1]  # fmt: skip
    button.click()  # the first sample's side-by-side view
    wait_for(browser, lambda: "Submissions (2 to 4)" in browser.find_element(
        By.TAG_NAME, "body").text)  # fmt: skip
    (radio,) = [label for label in browser.find_elements(By.CSS_SELECTOR, "[role='radiogroup'] label")
                if label.text == "Side by side"]  # fmt: skip
    assert radio.find_element(By.TAG_NAME, "input").is_selected()
    # add the second submission next to the first
    chooser = browser.find_element(By.CSS_SELECTOR, "[data-testid='stMultiSelect'] input")
    chooser.click()
    chooser.send_keys("second")
    from selenium.webdriver.common.keys import Keys

    chooser.send_keys(Keys.ENTER)
    wait_for(browser, lambda: len([i for i in visible_images(browser) if i[0]]) >= 2)
    images = visible_images(browser)
    assert len(images) >= 2 and all(loaded for loaded, _, _ in images), images
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Reference" in body and "(the benchmark has no reference image here)" in body
    time.sleep(0.5)
    screenshot(browser, tmp_path, "side-by-side.png")
