"""The download buttons in a real browser (1,400 px wide): the ranking view as CSV and JSON on the
Ranking tab, a submission's details (Parquet) and results.json on the Details tab. A screenshot
of each tab is saved (``$CHATGENBENCH_TEST_ARTIFACTS`` or the test's tmp dir)."""

from __future__ import annotations

from tests.leaderboard.test_leaderboard_browser import (  # noqa: F401  (fixtures)
    browser,
    open_tab,
    screenshot,
    served_app,
    store,
    wait_for,
)


def _buttons(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stDownloadButton'] button")
    return [b.text for b in found if b.is_displayed()]


def test_the_download_buttons_show_at_1400_px(served_app, browser, tmp_path):  # noqa: F811
    browser.set_window_size(1400, 1100)
    browser.get(served_app)
    wait_for(browser, lambda: "Download this view as JSON" in _buttons(browser), timeout=120)
    assert "Download this view as CSV" in _buttons(browser)
    screenshot(browser, tmp_path, "downloads-ranking.png")
    open_tab(browser, "Details")
    wait_for(
        browser,
        lambda: "Download the per-sample details (Parquet)" in _buttons(browser),
        timeout=120,
    )
    assert "Download results.json" in _buttons(browser)
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, tmp_path, "downloads-details.png")
