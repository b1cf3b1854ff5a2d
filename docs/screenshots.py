"""Make the documentation's pictures of the leaderboard from a real browser over a demo store.

Run it whenever the leaderboard's UI changes, and commit what it writes::

    python docs/screenshots.py [--out docs/images] [--keep DIR] [--width 1400]

What it does, with the project's own commands only:

1. ``chatgenbench weights demo``: tiny RANDOM weights for every model of the sample's catalogue and
   for the image metrics, a CPU deployment file and demo predictions;
2. a store with two submissions of the sample (the demo predictions, and the same with every
   model replaced by the SD 1.5 base checkpoint), queued with ``chatgenbench queue add`` and
   rendered and scored by ``chatgenbench queue work --once`` on the CPU;
3. ``chatgenbench leaderboard`` on a free local port, and headless Chromium (selenium, Debian's
   ``chromium`` and ``chromium-driver``) at 1,400 px wide: the Ranking tab, the Gallery tab, the
   Gallery's *Side by side* view of both submissions, and the Vote tab, each saved as an optimised
   PNG (``ranking.png``, ``gallery.png``, ``side-by-side.png``, ``vote.png``).

Every process it starts (the commands, the server and its ``streamlit`` child, the browser) is
stopped by its process id (the server by its process group) when it ends, also on Ctrl-C or
SIGTERM. It takes a few minutes on a CPU, most of it the rendering. The pictures show random demo
weights, and the page says so.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: The largest PNG written; a bigger screenshot is reduced to fewer colours until it fits.
MAX_PNG_BYTES = 300 * 1024
#: The two demo submissions: name -> (method shown on the page, the model every row uses or None).
SUBMISSIONS = {
    "demo-reference-models": ("Demo: reference models", None),
    "demo-base-model": ("Demo: SD 1.5 base for every row", "v1-5-pruned-emaonly"),
}

_started: list[subprocess.Popen] = []


def run_command(*args: str, env: dict[str, str]) -> str:
    """Run ``chatgenbench ARGS`` to completion (stopped with this script); return its output."""
    process = subprocess.Popen(
        [sys.executable, "-m", "chatgenbench", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    _started.append(process)
    output, _ = process.communicate()
    _started.remove(process)
    if process.returncode != 0:
        raise SystemExit(f"chatgenbench {' '.join(args)} failed ({process.returncode}):\n{output}")
    return output


def stop_started() -> None:
    """Stop every process this script started, by process id (a server by its process group)."""
    for process in reversed(_started):
        if process.poll() is not None:
            continue
        try:
            os.killpg(process.pid, signal.SIGTERM)  # the leaderboard and its streamlit child
        except (ProcessLookupError, PermissionError):  # not a group leader, or already gone
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    _started.clear()


def build_store(work: Path, env: dict[str, str]) -> Path:
    """Write demo weights and a store of two demo submissions, rendered and scored; return it.

    A store already built in ``work`` (``--keep`` of an earlier run) is reused as it is.
    """
    weights = work / "weights"
    store = work / "store"
    if all((store / name / "results.json").is_file() for name in SUBMISSIONS):
        print(f"reusing the demo store in {store}", flush=True)
        return store
    if store.exists() or weights.exists():
        raise SystemExit(
            f"{work} holds an unfinished demo store: remove it, or --keep another folder"
        )
    print("writing random demo weights ...", flush=True)
    run_command("weights", "demo", str(weights), env=env)
    rows = [
        json.loads(line) for line in (weights / "demo_predictions.jsonl").read_text().splitlines()
    ]
    store = work / "store"
    for name, (method, model) in SUBMISSIONS.items():
        folder = store / name
        folder.mkdir(parents=True)
        lines = [json.dumps(dict(row, model=model) if model else row) for row in rows]
        (folder / "predictions.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
        (folder / "meta.yaml").write_text(
            f"method: '{method}'\nauthors: docs/screenshots.py\nsetting: supervised\n"
            "benchmark: sample\nnotes: random demo weights, for the documentation's pictures\n",
            "utf-8",
        )
        run_command("queue", "add", name, "--store", str(store), env=env)
    print("rendering and scoring both submissions on the CPU (a few minutes) ...", flush=True)
    run_command("queue", "work", "--once", "--store", str(store),
                "--config", str(weights / "deployment.yaml"), env=env)  # fmt: skip
    return store


def free_port() -> int:
    """Return a free local TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(store: Path, work: Path, env: dict[str, str]) -> str:
    """Start ``chatgenbench leaderboard`` on ``store`` in its own process group; return its URL."""
    port = free_port()
    log = open(work / "leaderboard.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "chatgenbench", "leaderboard", "--store", str(store),
         "--port", str(port), "--address", "127.0.0.1", "--headless"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    _started.append(process)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"the leaderboard exited ({process.returncode}); see {work / 'leaderboard.log'}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return f"http://127.0.0.1:{port}/"
        except OSError:  # not listening yet
            time.sleep(0.3)
    raise SystemExit("the leaderboard did not answer within 90 s")


def open_browser(width: int, height: int, profile: Path):
    """Start headless Chromium at ``width`` x ``height`` through chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROME_FLAGS, f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def wait_for(condition: Callable[[], bool], timeout: float = 90.0) -> None:
    """Wait until ``condition()`` is true; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # the page re-renders under us (stale elements): ask again
            pass
        time.sleep(0.25)
    raise TimeoutError("the page did not reach the expected state")


LOADED_IMAGES = """
return Array.from(document.querySelectorAll("img"))
  .filter(img => img.offsetParent !== null && img.complete && img.naturalWidth > 0).length;
"""


def open_tab(driver, title: str) -> None:
    """Click the tab called ``title`` (Streamlit tabs are ``[role=tab]`` buttons)."""
    from selenium.webdriver.common.by import By

    selector = 'button[data-baseweb="tab"], [role="tab"]'
    wait_for(lambda: any(t.text == title for t in driver.find_elements(By.CSS_SELECTOR, selector)))
    (tab,) = [t for t in driver.find_elements(By.CSS_SELECTOR, selector) if t.text == title][:1]
    tab.click()


def body_text(driver) -> str:
    """Return the page's visible text."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def settle(driver, seconds: float = 1.5) -> None:
    """Let Streamlit finish a run: wait until its 'running' indicator is gone, then a moment."""
    from selenium.webdriver.common.by import By

    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']"))
    time.sleep(seconds)


def scroll_to_first_image(driver) -> None:
    """Scroll the page so that its first visible image is in the middle of the window."""
    driver.execute_script(
        "const img = Array.from(document.querySelectorAll('img'))"
        ".find(i => i.offsetParent !== null && i.naturalWidth > 0);"
        "if (img) img.scrollIntoView({block: 'center'});"
    )
    time.sleep(0.5)


def save_png(driver, path: Path) -> None:
    """Save a screenshot of the viewport as an optimised PNG of at most :data:`MAX_PNG_BYTES`."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    for colours in (None, 256, 128, 64):
        candidate = image if colours is None else image.quantize(colours, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        candidate.save(buffer, "PNG", optimize=True)
        if buffer.tell() <= MAX_PNG_BYTES:
            break
    path.write_bytes(buffer.getvalue())
    print(f"wrote {path} ({buffer.tell() / 1024:.0f} KB)", flush=True)


def take_pictures(url: str, out: Path, width: int, height: int, work: Path) -> None:
    """Open the leaderboard and save the ranking, gallery, side-by-side and vote pictures."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = open_browser(width, height, work / "chromium-profile")
    try:
        driver.get(url)
        wait_for(lambda: "Ranking" in body_text(driver) and "Demo" in body_text(driver))
        settle(driver)
        save_png(driver, out / "ranking.png")

        open_tab(driver, "Gallery")
        wait_for(lambda: driver.execute_script(LOADED_IMAGES) >= 2)
        settle(driver)
        scroll_to_first_image(driver)
        save_png(driver, out / "gallery.png")

        buttons = [
            b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == "Side by side"
        ]
        buttons[0].click()
        wait_for(lambda: "Submissions (2 to 4)" in body_text(driver))
        settle(driver)
        if driver.execute_script(LOADED_IMAGES) < 2:  # only one submission chosen: add the other
            chooser = driver.find_element(By.CSS_SELECTOR, "[data-testid='stMultiSelect'] input")
            chooser.click()
            chooser.send_keys("Demo")
            chooser.send_keys(Keys.ENTER)
            chooser.send_keys(Keys.ESCAPE)  # close the chooser's menu, which covers the images
            wait_for(lambda: driver.execute_script(LOADED_IMAGES) >= 2)
            settle(driver)
        scroll_to_first_image(driver)
        save_png(driver, out / "side-by-side.png")

        driver.get(url)  # back to the top of a fresh page
        open_tab(driver, "Vote")
        wait_for(lambda: driver.execute_script(LOADED_IMAGES) >= 2)
        settle(driver)
        save_png(driver, out / "vote.png")
    finally:
        driver.quit()  # chromedriver stops the browser it started


def main(argv: list[str] | None = None) -> int:
    """Build the demo store, serve it, take the pictures, stop everything; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="picture folder")
    parser.add_argument(
        "--keep", type=Path, help="build the demo store here and keep it (reused when it is there)"
    )
    parser.add_argument("--width", type=int, default=1400, help="browser width (default 1400)")
    parser.add_argument("--height", type=int, default=1100, help="browser height (default 1100)")
    args = parser.parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):  # stop what we started, then leave
        signal.signal(signum, lambda *_: (stop_started(), sys.exit(130)))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cgb-screenshots-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, CHATGENBENCH_HOME=str(work / "home"), PYTHONPATH=str(ROOT))
        env["CHATGENBENCH_LEADERBOARD_BENCHMARKS"] = "sample"
        try:
            store = build_store(work, env)
            url = serve(store, work, env)
            take_pictures(url, args.out, args.width, args.height, work)
        finally:
            stop_started()
    return 0


if __name__ == "__main__":
    sys.exit(main())
