"""The gallery never crashes on a bad render image, never waits on a FIFO, and never follows a
link out of the store, when it reads and when it writes thumbnails."""

from __future__ import annotations

import io
import os
import stat

import pytest

from chatgenbench.render.manifest import MANIFEST_NAME, RenderRecord, write_manifest
from leaderboard.gallery import THUMBNAIL_SIZE, THUMBNAILS_DIR, Gallery
from leaderboard.submissions import SubmissionStore
from tests.leaderboard_fixtures import copy_sample
from tests.scoring.test_hostile_render_folder import bomb_png
from tests.timeouts import run_with_timeout

IDS = [f"sample-{n:04d}" for n in range(1, 13)]


def png(colour=(200, 0, 0), size: int = 64) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def rendered(folder, ids=IDS, image_of=None) -> None:
    """A render folder with a PNG for each of ``ids`` at ``images/<id>.png`` (or image_of(id))."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for sample_id in ids:
        name = (image_of or (lambda i: f"images/{i}.png"))(sample_id)
        if not os.path.lexists(folder / name):
            (folder / name).write_bytes(png())
        records.append(RenderRecord(sample_id, "supervised", "single", "rendered", image=name))
    write_manifest(folder, records)


@pytest.fixture()
def store(tmp_path):
    store = SubmissionStore(tmp_path / "store")
    copy_sample(store.root, "first")
    rendered(store.render_dir("first"))
    return store


def _truncated(path) -> None:
    path.write_bytes(png(size=256)[:70])


BAD = {
    "truncated": (_truncated, "not a readable image"),
    "not-an-image": (lambda p: p.write_bytes(b"GIF89a but not really"), "not a readable image"),
    "empty": (lambda p: p.write_bytes(b""), "not a readable image"),
    "bomb": (lambda p: p.write_bytes(bomb_png()), "decompression bomb"),
    "bomb-under-pil-limit": (lambda p: p.write_bytes(bomb_png(9_000, 9_000)), "pixel limit"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_render_image_gets_a_placeholder_with_its_reason(store, kind):
    make, reason = BAD[kind]
    make(store.render_dir("first") / "images" / f"{IDS[1]}.png")
    page = Gallery(store).page("first", page_size=12)
    assert reason in page["image_problems"][IDS[1]]
    assert str(store.root) not in page["image_problems"][IDS[1]]  # no server path on the page
    assert IDS[1] not in page["thumbnails"]
    assert set(page["thumbnails"]) == set(IDS) - {IDS[1]}
    (panel,) = Gallery(store).side_by_side(["first"], IDS[1])
    assert panel["image"] is None and reason in panel["image_problem"]


def _outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    return outside


def test_a_symlinked_thumbnail_file_is_neither_served_nor_written_through(store, tmp_path):
    secret = _outside(tmp_path) / "secret.png"
    folder = store.render_dir("first") / THUMBNAILS_DIR / str(THUMBNAIL_SIZE)
    folder.mkdir(parents=True)
    secret.write_bytes(png((0, 0, 255)))  # newer than the render: "fresh" to a naive cache
    (folder / f"{IDS[0]}.png").symlink_to(secret)
    path, reason = Gallery(store).thumbnail_or_reason("first", IDS[0])
    assert path is None and "symbolic link" in reason
    assert secret.read_bytes() == png((0, 0, 255))
    assert Gallery(store).thumbnail("first", IDS[1]) is not None  # the others are made


@pytest.mark.parametrize("linked", [THUMBNAILS_DIR, f"{THUMBNAILS_DIR}/{THUMBNAIL_SIZE}"])
def test_a_symlinked_thumbnail_folder_is_never_written_into(store, tmp_path, linked):
    outside = _outside(tmp_path)
    link = store.render_dir("first") / linked
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)
    page = Gallery(store).page("first", page_size=12)
    assert not page["thumbnails"]
    assert all("symbolic link" in reason for reason in page["image_problems"].values())
    assert list(outside.rglob("*")) == []


def test_a_render_image_through_a_link_out_of_the_store_is_not_served(store, tmp_path):
    outside = _outside(tmp_path)
    (outside / "x.png").write_bytes(png((0, 255, 0)))
    folder = store.render_dir("first")
    (folder / "images" / "elsewhere").symlink_to(outside, target_is_directory=True)
    (folder / "images" / f"{IDS[0]}.png").unlink()
    (folder / "images" / f"{IDS[0]}.png").symlink_to(outside / "x.png")
    rendered(
        folder, image_of=lambda i: "images/elsewhere/x.png" if i == IDS[1] else f"images/{i}.png"
    )
    images = store.rendered_images("first")
    assert set(images) == set(IDS) - {IDS[0], IDS[1]}
    page = Gallery(store).page("first", page_size=12)
    assert set(page["thumbnails"]) == set(IDS) - {IDS[0], IDS[1]}
    index = Gallery(store).index("first")
    assert any("leads outside" in line for line in index.manifest_skipped)


def test_a_symlinked_render_folder_serves_nothing_and_gets_nothing_written(tmp_path):
    store = SubmissionStore(tmp_path / "store")
    copy_sample(store.root, "first")
    outside = _outside(tmp_path) / "render"
    rendered(outside)
    before = sorted(p.name for p in outside.rglob("*"))
    store.render_dir("first").symlink_to(outside, target_is_directory=True)
    assert store.rendered_images("first") == {}
    page = Gallery(store).page("first", page_size=12)
    assert not page["thumbnails"]
    assert sorted(p.name for p in outside.rglob("*")) == before


def test_a_fifo_where_a_thumbnail_is_cached_is_replaced_not_served(store):
    folder = store.render_dir("first") / THUMBNAILS_DIR / str(THUMBNAIL_SIZE)
    folder.mkdir(parents=True)
    os.mkfifo(folder / f"{IDS[0]}.png")
    path = run_with_timeout(lambda: Gallery(store).thumbnail("first", IDS[0]), 20)
    assert path is not None and stat.S_ISREG(os.lstat(path).st_mode)


def test_samples_scores_that_are_a_fifo_or_of_wrong_types_never_stop_the_gallery(store):
    import json

    folder = store.path_for("first")
    scores = [
        {"id": IDS[0], "config_score": "high", "selection_correct": "yes"},
        {"id": IDS[1], "config_matches": [1], "image_scores": {"clip": "x"}},
    ]
    (folder / "samples.jsonl").write_text("\n".join(map(json.dumps, scores)) + "\n[[[[\n")
    gallery = Gallery(store)
    from leaderboard.gallery import GalleryFilter

    _, selected = gallery.select("first", GalleryFilter(min_config=0.5, model="right"))
    index = gallery.index("first")
    assert index.by_id[IDS[0]].config_score is None
    assert index.by_id[IDS[1]].config_matches == {} and index.by_id[IDS[1]].image_scores == {}
    assert IDS[0] not in {s.id for s in selected}
    (folder / "samples.jsonl").unlink()
    os.mkfifo(folder / "samples.jsonl")
    index = run_with_timeout(lambda: Gallery(store).index("first"), 20)
    assert len(index.samples) == 12


@pytest.mark.parametrize("line", ["[1]", "7", '{"id": "x"}', "{nope", "[" * 50_000])
def test_manifest_lines_that_are_not_records_are_counted_for_the_caption(store, line):
    manifest = store.render_dir("first") / MANIFEST_NAME
    manifest.write_text(manifest.read_text() + line + "\n")
    index = Gallery(store).index("first")
    assert len(index.manifest_skipped) == 1 and index.manifest_skipped[0].startswith("line 13:")
    assert len(store.rendered_images("first")) == 12


def test_the_gallery_page_shows_the_placeholder_and_the_skipped_lines(store, monkeypatch):
    from tests.leaderboard_fixtures import ROOT

    AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
    _truncated(store.render_dir("first") / "images" / f"{IDS[1]}.png")
    manifest = store.render_dir("first") / MANIFEST_NAME
    manifest.write_text(manifest.read_text() + "[1, 2]\n")
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(store.root))
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    at = AppTest.from_file(str(ROOT / "leaderboard" / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    (tab,) = [tab for tab in at.tabs if tab.label == "Gallery"]
    captions = " ".join(c.value for c in tab.caption)
    assert "1 render manifest line could not be read and was skipped: line 13" in captions
    texts = " ".join(t.value for t in tab.text)
    assert "no image shown: image unreadable: not a readable image" in texts
