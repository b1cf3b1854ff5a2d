"""The leaderboard's layout at normal window widths, measured in a real browser (issue 20, 2).

The page is served by ``chatgenbench leaderboard`` over a store of two scored submissions with
rendered images and a queue with a rendering, a failed and a pending job, and opened in headless
Chromium. What is measured is what a reader sees: bounding boxes
(``getBoundingClientRect``) of the side-by-side images against their columns and the viewport,
and of every table against the viewport, and whether any table cell clips its text. Screenshots
at 1,400 px are saved (``$CHATGENBENCH_TEST_ARTIFACTS`` or the tmp dir).

Skipped, like ``test_leaderboard_browser``, where Chromium or selenium is absent unless
``$CHATGENBENCH_REQUIRE_BROWSER=1``."""

from __future__ import annotations

import time

import pytest

from tests.leaderboard.test_gallery_browser import (  # noqa: F401  (fixtures)
    gallery_store,
    served_gallery,
    visible_images,
)
from tests.leaderboard.test_leaderboard_browser import (  # noqa: F401  (browser is a fixture)
    browser,
    open_tab,
    screenshot,
    wait_for,
)

WIDTHS = (1000, 1400, 1920)

#: For each visible image of the page: its box, its column's box (or null), the viewport width.
IMAGE_BOXES = """
const box = r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom});
return Array.from(document.querySelectorAll("[data-testid='stImage'] img"))
  .filter(img => img.offsetParent !== null && img.complete && img.naturalWidth > 0)
  .map(img => {
    const column = img.closest("[data-testid='stColumn'], [data-testid='column']");
    return {image: box(img.getBoundingClientRect()),
            column: column ? box(column.getBoundingClientRect()) : null,
            alt: img.alt || "", viewport: document.documentElement.clientWidth};
  });
"""

#: What overflows sideways in the visible tab: tables past the viewport, data grids that scroll
#: sideways, HTML table cells that clip their text, and the page itself.
OVERFLOWS = """
const viewport = document.documentElement.clientWidth;
const panel = Array.from(document.querySelectorAll("[role='tabpanel']"))
  .find(p => p.offsetParent !== null && p.getBoundingClientRect().height > 0) || document.body;
const found = [];
for (const grid of panel.querySelectorAll("[data-testid='stDataFrame']")) {
  if (grid.offsetParent === null) continue;
  const r = grid.getBoundingClientRect();
  if (r.right > viewport + 1) found.push(`data grid ends at ${r.right} > ${viewport}`);
  const scroller = grid.querySelector(".dvn-scroller");
  if (scroller && scroller.scrollWidth > scroller.clientWidth + 1)
    found.push(`data grid scrolls sideways: ${scroller.scrollWidth} > ${scroller.clientWidth}` +
               ` (${grid.innerText.slice(0, 60)})`);
}
for (const table of panel.querySelectorAll("table")) {
  if (table.offsetParent === null) continue;
  const r = table.getBoundingClientRect();
  if (r.right > viewport + 1) found.push(`table ends at ${r.right} > ${viewport}`);
  for (const cell of table.querySelectorAll("td, th")) {
    if (cell.scrollWidth > cell.clientWidth + 1)
      found.push(`cell clips its text: ${cell.textContent.slice(0, 60)}`);
  }
}
const page = document.documentElement;
if (page.scrollWidth > page.clientWidth + 1)
  found.push(`the page scrolls sideways: ${page.scrollWidth} > ${page.clientWidth}`);
return found;
"""

#: The answer tables of the gallery cards that an image covers (a table's box crossing an
#: image's box).
MARKS_BESIDE_IMAGES = """
const boxes = Array.from(document.querySelectorAll("[data-testid='stImage'] img"))
  .filter(img => img.offsetParent !== null).map(img => img.getBoundingClientRect());
const found = [];
for (const table of document.querySelectorAll("table")) {
  if (table.offsetParent === null) continue;
  const t = table.getBoundingClientRect();
  for (const b of boxes) {
    if (t.left < b.right - 1 && b.left < t.right - 1 && t.top < b.bottom - 1 && b.top < t.bottom - 1)
      found.push(`an image covers a table: ${JSON.stringify(b)} over ${JSON.stringify(t)}`);
  }
}
return found;
"""

#: The text of every HTML table cell in the visible tab (a data grid's cells are painted).
TABLE_TEXTS = """
const panel = Array.from(document.querySelectorAll("[role='tabpanel']"))
  .find(p => p.offsetParent !== null && p.getBoundingClientRect().height > 0) || document.body;
return Array.from(panel.querySelectorAll("table td, table th")).map(c => c.innerText.trim());
"""


@pytest.fixture()
def layout_store(gallery_store):  # noqa: F811
    """The gallery store plus a queue with a rendering, a failed and a pending job."""
    from leaderboard.scoring_queue import ScoringQueue, default_queue_path

    queue = ScoringQueue(default_queue_path(gallery_store.root))
    running = queue.enqueue("first")
    claimed = queue.claim("layout-worker")
    assert claimed is not None and claimed.id == running.id
    queue.set_stage(running.id, "rendering", {"render": {"done": 5, "total": 12}}, "layout-worker")
    failed = queue.enqueue("second")
    assert queue.claim("layout-worker").id == failed.id
    queue.fail(
        failed.id,
        "the render backend could not load the checkpoint 'v1-5-pruned-emaonly' (no weights)",
        "layout-worker",
    )
    queue.enqueue("first")  # pending
    return gallery_store


@pytest.fixture()
def served_layout(layout_store, served_gallery):  # noqa: F811
    return served_gallery


def _open(browser, url: str, width: int) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.set_window_size(width, 1100)
    browser.get(url)
    wait_for(browser, lambda: any(t.text == "Gallery" for t in browser.find_elements(
        By.CSS_SELECTOR, "[role='tab']")))  # fmt: skip


def _chosen_submissions(browser) -> list[str]:  # noqa: F811
    from selenium.webdriver.common.by import By

    tags = browser.find_elements(By.CSS_SELECTOR, "[data-testid='stMultiSelect'] [data-tag]")
    return [tag.get_attribute("aria-label") for tag in tags]


def _open_side_by_side(browser) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    open_tab(browser, "Gallery")
    wait_for(browser, lambda: len([i for i in visible_images(browser) if i[0]]) >= 3)
    button = next(
        b for b in browser.find_elements(By.TAG_NAME, "button") if b.text == "Side by side"
    )
    button.click()  # the first card's sample (sample-0001: both submissions rendered it)
    wait_for(browser, lambda: "Submissions (2 to 4)" in browser.find_element(
        By.TAG_NAME, "body").text)  # fmt: skip


@pytest.mark.parametrize("width", WIDTHS)
def test_side_by_side_images_fit_their_columns(served_layout, browser, tmp_path, width):  # noqa: F811
    """The card's button opens side by side with its submission and one more; each image lies
    inside its column, inside the viewport, and overlaps no other image."""
    _open(browser, served_layout, width)
    _open_side_by_side(browser)
    time.sleep(1.0)
    if width == 1400:
        screenshot(browser, tmp_path, "side-by-side-opened-1400.png")
    wait_for(browser, lambda: len(_chosen_submissions(browser)) >= 2, timeout=10)
    assert _chosen_submissions(browser) == ["first", "second"]
    wait_for(browser, lambda: len(browser.execute_script(IMAGE_BOXES)) >= 2)
    time.sleep(0.5)  # let the columns settle
    boxes = browser.execute_script(IMAGE_BOXES)
    if width == 1400:
        screenshot(browser, tmp_path, "side-by-side-1400.png")
    assert len(boxes) >= 2, boxes
    _assert_images_fit(boxes, width)


def _assert_images_fit(boxes: list[dict], width: int) -> None:
    """Each image inside its column and the viewport, and no two images overlapping."""
    for found in boxes:
        image, column = found["image"], found["column"]
        assert column is not None, f"an image outside any column: {found}"
        assert image["left"] >= column["left"] - 1 and image["right"] <= column["right"] + 1, (
            f"at {width} px an image ({found['alt']}) leaves its column: {found}"
        )
        assert 0 <= image["left"] and image["right"] <= found["viewport"] + 1, (
            f"at {width} px an image leaves the viewport: {found}"
        )
        assert image["right"] - image["left"] > 100, f"an image shrunk to nothing: {found}"
    for first in range(len(boxes)):
        for second in range(first + 1, len(boxes)):
            a, b = boxes[first]["image"], boxes[second]["image"]
            apart = (
                a["right"] <= b["left"] + 1
                or b["right"] <= a["left"] + 1
                or a["bottom"] <= b["top"] + 1
                or b["bottom"] <= a["top"] + 1
            )
            assert apart, f"at {width} px two images overlap: {a} and {b}"


def _tab_overflows(browser, title: str, ready) -> list[str]:  # noqa: F811
    open_tab(browser, title)
    wait_for(browser, ready, timeout=30)
    time.sleep(1.0)  # let grids and charts finish their layout
    return browser.execute_script(OVERFLOWS)


def _body(browser) -> str:  # noqa: F811
    from selenium.webdriver.common.by import By

    return browser.find_element(By.TAG_NAME, "body").text


def test_tables_read_without_scrolling_sideways_at_1400(served_layout, browser, tmp_path):  # noqa: F811
    """Ranking, Details, Queue and the gallery's ✓/✗ tables fit a 1,400 px window, and their
    full texts are visible: the ranking's 'vs above', the reasons and how to fix them, the queue's
    stage, the model names of the answer tables."""
    _open(browser, served_layout, 1400)
    problems: dict[str, list[str]] = {}

    problems["Ranking"] = _tab_overflows(browser, "Ranking", lambda: "vs above" in _body(browser))
    screenshot(browser, tmp_path, "ranking-1400.png")

    problems["Details"] = _tab_overflows(browser, "Details", lambda: "How to fix" in _body(browser))
    texts = browser.execute_script(TABLE_TEXTS)
    assert "How to fix" in texts and "Reason" in texts, texts[:20]
    screenshot(browser, tmp_path, "details-1400.png")

    problems["Queue"] = _tab_overflows(browser, "Queue", lambda: "rendering" in _body(browser))
    texts = browser.execute_script(TABLE_TEXTS)
    assert any(text.startswith("rendering 5/12 images") for text in texts), texts
    assert any("could not load the checkpoint" in text for text in texts), texts
    screenshot(browser, tmp_path, "queue-1400.png")

    problems["Gallery"] = _tab_overflows(
        browser, "Gallery", lambda: "Reference prompt:" in _body(browser)
    )
    texts = browser.execute_script(TABLE_TEXTS)
    assert "v1-5-pruned-emaonly" in texts, texts[:20]  # a model name, whole
    # the sample's multimodal inputs come without their images: the cards say so
    assert "holds none for this multimodal sample" in _body(browser)
    screenshot(browser, tmp_path, "gallery-1400.png")
    cards = browser.execute_script(IMAGE_BOXES)
    assert len(cards) >= 3, cards
    _assert_images_fit(cards, 1400)  # the cards' images stay in their columns too
    problems["Gallery"] += browser.execute_script(MARKS_BESIDE_IMAGES)

    assert not any(problems.values()), problems
