"""The gallery's data: a submission's samples joined with the benchmark, its per-sample scores and
its render folder; filters, pages, thumbnails made once, images only from the render folder, and
the side-by-side panels."""

from __future__ import annotations

import io
import json
import os

import pytest

from chatgenbench.render.manifest import RenderRecord, write_manifest
from leaderboard.gallery import Gallery, GalleryFilter, weights_missing_by_model
from leaderboard.submissions import SAMPLES_FILENAME, SubmissionStore
from tests.leaderboard_fixtures import copy_sample


def png(colour: tuple[int, int, int], size: int = 300) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def fake_render(store: SubmissionStore, name: str, with_image: set[str]) -> None:
    """A render folder in the standard layout: an image for ``with_image``, weights missing else."""
    folder = store.render_dir(name)
    (folder / "images").mkdir(parents=True)
    records = []
    for number in range(1, 13):
        sample_id = f"sample-{number:04d}"
        if sample_id in with_image:
            (folder / "images" / f"{sample_id}.png").write_bytes(png((number * 20, 0, 0)))
            records.append(RenderRecord(sample_id, "supervised", "single", "rendered",
                                        image=f"images/{sample_id}.png", model="m"))  # fmt: skip
        else:
            records.append(RenderRecord(sample_id, "supervised", "single", "weights_missing",
                                        model=f"model-{number % 2}"))  # fmt: skip
    write_manifest(folder, records)


@pytest.fixture()
def store(tmp_path, minilm_scorer):
    from chatgenbench.scoring.evaluation import evaluate

    store = SubmissionStore(tmp_path / "store")
    for name in ("first", "second"):
        folder = copy_sample(store.root, name)
        evaluate(folder / "predictions.jsonl", "sample", bertscore=minilm_scorer, progress=False,
                 per_sample_out=folder / SAMPLES_FILENAME)  # fmt: skip
    fake_render(store, "first", {"sample-0001", "sample-0002", "sample-0003"})
    fake_render(store, "second", {"sample-0002"})
    return store


def test_filters_select_by_setting_type_model_config_and_text(store):
    gallery = Gallery(store)
    index, everything = gallery.select("first")
    assert len(everything) == 12 == len(index.samples)
    scores = {
        json.loads(line)["id"]: json.loads(line)
        for line in (store.path_for("first") / SAMPLES_FILENAME).read_text().splitlines()
    }
    right = {i for i, s in scores.items() if s["selection_correct"]}
    _, selected = gallery.select("first", GalleryFilter(model="right"))
    assert {s.id for s in selected} == right
    _, selected = gallery.select("first", GalleryFilter(model="wrong"))
    assert {s.id for s in selected} == set(scores) - right
    _, selected = gallery.select("first", GalleryFilter(min_config=0.5))
    assert {s.id for s in selected} == {i for i, s in scores.items() if s["config_score"] >= 0.5}
    _, selected = gallery.select("first", GalleryFilter(input_type="multimodal"))
    assert selected and {s.input_type for s in selected} == {"multimodal"}
    assert len(selected) == sum(s["input_type"] == "multimodal" for s in scores.values())
    word = index.samples[4].freestyle_input.split()[2].upper()
    _, selected = gallery.select("first", GalleryFilter(text=word))
    assert index.samples[4] in selected and len(selected) < 12
    _, selected = gallery.select("first", GalleryFilter(only_with_image=True))
    assert [s.id for s in selected] == ["sample-0001", "sample-0002", "sample-0003"]
    sample = index.by_id["sample-0001"]
    marks = sample.field_marks()
    assert marks[0]["Answer field"] == "model"
    assert marks[0]["Match"] == ("✓" if sample.model_correct else "✗")
    assert {m["Answer field"] for m in marks[1:]} == set(sample.config_matches)


def test_pages_thumbnails_made_once_and_models_without_weights(store):
    gallery = Gallery(store)
    first = gallery.page("first", GalleryFilter(), page=0, page_size=5)
    assert (first["n_selected"], first["pages"], len(first["samples"])) == (12, 3, 5)
    assert set(first["thumbnails"]) == {"sample-0001", "sample-0002", "sample-0003"}
    last = gallery.page("first", GalleryFilter(), page=9, page_size=5)
    assert last["page"] == 2 and len(last["samples"]) == 2
    thumb = first["thumbnails"]["sample-0001"]
    from PIL import Image

    with Image.open(thumb) as image:
        assert image.format == "PNG" and max(image.size) == 256
    made = thumb.stat().st_mtime_ns
    assert gallery.thumbnail("first", "sample-0001") == thumb
    assert thumb.stat().st_mtime_ns == made  # made once
    assert gallery.thumbnail("first", "sample-0004") is None
    assert weights_missing_by_model(store.render_dir("first")) == {"model-0": 5, "model-1": 4}
    assert gallery.index("first").weights_missing == {"model-0": 5, "model-1": 4}


def test_images_come_only_from_the_render_folder(store, tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(png((0, 0, 255)))
    folder = store.render_dir("first")
    manifest = folder / "render_manifest.jsonl"
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    lines[3].update(status="rendered", image="images/link.png")  # a symlink out of the folder
    os.symlink(outside, folder / "images" / "link.png")
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    gallery = Gallery(store)
    assert gallery.thumbnail("first", "sample-0004") is None
    assert "sample-0004" not in gallery.page("first")["thumbnails"]


def test_submissions_scored_without_per_sample_scores_still_filter(store):
    (store.path_for("second") / SAMPLES_FILENAME).unlink()
    gallery = Gallery(store)
    ours = {s.id: s for s in gallery.index("first").samples}
    theirs = {s.id: s for s in gallery.index("second").samples}
    for sample_id, sample in ours.items():  # the same predictions: the same exact-match scores
        assert theirs[sample_id].model_correct == sample.model_correct
        assert theirs[sample_id].config_score == pytest.approx(sample.config_score)
        assert theirs[sample_id].bertscore is None and sample.bertscore is not None


def test_side_by_side_panels(store):
    gallery = Gallery(store)
    panels = gallery.side_by_side(["first", "second"], "sample-0001")
    assert [p["name"] for p in panels] == ["first", "second"]
    assert panels[0]["image"] is not None and panels[1]["image"] is None
    assert panels[1]["status"] == "weights_missing"
    both = gallery.side_by_side(["first", "second"], "sample-0002")
    assert all(p["image"] is not None for p in both)
    # the sample benchmark has no human-validated reference images
    assert gallery.reference_image("sample", "supervised", "sample-0002") is None
