"""The leaderboard in a real browser: the app served by ``chatgenbench leaderboard``, loaded in
headless Chromium (Debian ``chromium`` + ``chromium-driver``), must show the paper's reported
ChatGen-Evo row. A screenshot is saved (``$CHATGENBENCH_TEST_ARTIFACTS`` or the test's tmp dir).

Skipped where Chromium or selenium is absent, unless ``$CHATGENBENCH_REQUIRE_BROWSER=1`` (CI sets
it, after installing Chromium), which turns their absence into a failure."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1300",
)

REQUIRED = os.environ.get("CHATGENBENCH_REQUIRE_BROWSER") == "1"


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[leaderboard]')"
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        return (
            "Chromium is not installed: apt-get install -y chromium chromium-driver (.ci/run does)"
        )
    return None


if _missing() is not None:
    if REQUIRED:
        raise RuntimeError(f"$CHATGENBENCH_REQUIRE_BROWSER=1 but {_missing()}")
    pytest.skip(_missing(), allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen) -> None:
    """Stop a server a test started, by its handle: SIGTERM, then SIGKILL after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_healthy(
    url: str, process: subprocess.Popen, timeout: float = 60.0, what: str = "the leaderboard"
) -> None:
    """Wait until ``url`` answers 200 (``process`` serves it), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{what} did not answer on {url} within {timeout:.0f} s")


@pytest.fixture()
def store(tmp_path) -> Path:
    store = tmp_path / "store"
    shutil.copytree(ROOT / "submissions" / "no-finetune-sample", store / "no-finetune-sample")
    return store


@pytest.fixture()
def served_app(tmp_path, store):
    port = _free_port()
    env = dict(os.environ, CHATGENBENCH_LEADERBOARD_BENCHMARKS="sample")
    log = open(tmp_path / "streamlit.log", "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatgenbench",
            "leaderboard",
            "--store",
            str(store),
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--headless",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_process(process)
        log.close()


@pytest.fixture()
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")  # new and empty
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def grid_cells(driver) -> list[str]:
    """The text of every rendered data-grid cell.

    The grid paints on a canvas; its accessible DOM twin holds each cell's text.
    """
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stDataFrame'] [role='gridcell']")
    return [cell.get_attribute("textContent") for cell in found]


def table_cells(driver) -> list[str]:
    """The text of every cell of the page's HTML tables (:mod:`leaderboard.text_table`), in
    order (rows of the ranking's main tables, Details, Queue). Read in one script, so a panel
    that redraws meanwhile cannot leave a stale element behind."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('table.cgb-table td'))"
        ".map(cell => cell.textContent);"
    )


def open_tab(driver, title: str) -> None:
    from selenium.webdriver.common.by import By

    (tab,) = [t for t in driver.find_elements(By.CSS_SELECTOR, "[role='tab']") if t.text == title]
    tab.click()


def wait_for(driver, condition, timeout: float = 60.0) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: condition())


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    artifacts = Path(os.environ.get("CHATGENBENCH_TEST_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / name
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    return shot


def test_ranking_shows_reported_chatgen_evo_row_in_chromium(served_app, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(served_app)
    wait_for(browser, lambda: "ChatGen-Evo (2B)" in table_cells(browser))
    time.sleep(1.0)  # let the charts finish painting before the screenshot
    cells = table_cells(browser)
    body = browser.find_element(By.TAG_NAME, "body").text
    screenshot(browser, tmp_path, "leaderboard.png")
    assert "ChatGenBench leaderboard" in body
    assert "Top of this group: ChatGen-Evo (2B) (reported)" in body
    # the first row of the first table is the paper's Supervised ChatGen-Evo (2B), rank 1 (the
    # rank-by column, Unified by default, follows Method); the main columns only
    assert cells[:14] == [
        "1",
        "ChatGen-Evo (2B)",
        "65.9",
        "reported",
        "2B",
        "0.247",
        "0.328",
        "0.537",
        "19.1",
        "72.9",
        "25.1",
        "8.9",
        "-",
        "",
    ]
    assert "no-finetune (paper Baseline)" in cells  # the scored sample, in its own group
    # every column, the submission ids included, in the sortable grid under the table
    (expander,) = [
        e
        for e in browser.find_elements(By.TAG_NAME, "summary")
        if "All columns" in (e.get_attribute("textContent") or "")
    ][:1]
    browser.execute_script("arguments[0].click();", expander)
    wait_for(browser, lambda: "paper: ChatGen-Evo (2B)" in grid_cells(browser))


def test_a_queued_submission_appears_without_reloading_once_scored(
    store, served_app, browser, tmp_path
):
    """Pending on the Queue tab; a real worker scores it; the open page shows it as done and
    ranks it, without a reload."""
    from leaderboard.scoring_queue import ScoringQueue, default_queue_path

    folder = store / "queued-one"
    shutil.copytree(store / "no-finetune-sample", folder)
    (folder / "results.json").unlink()
    meta = (folder / "meta.yaml").read_text("utf-8")
    (folder / "meta.yaml").write_text(
        meta.replace("method: no-finetune (paper Baseline)", "method: Queued Method"), "utf-8"
    )
    ScoringQueue(default_queue_path(store)).enqueue("queued-one")

    browser.get(served_app)
    wait_for(browser, lambda: "ChatGen-Evo (2B)" in table_cells(browser))
    assert "Queued Method" not in table_cells(browser)
    open_tab(browser, "Queue")
    wait_for(browser, lambda: "pending" in table_cells(browser))
    worker = subprocess.run(
        [sys.executable, "-m", "chatgenbench", "queue", "work", "--once", "--store", str(store)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert "job 1 (queued-one): done" in worker.stdout
    wait_for(browser, lambda: "done" in table_cells(browser), timeout=30)  # the panel polls
    screenshot(browser, tmp_path, "leaderboard-queue.png")
    open_tab(browser, "Ranking")
    wait_for(browser, lambda: "Queued Method" in table_cells(browser), timeout=30)
