"""One sample, one image: image file names are injective on sample ids, and a manifest that
points two samples at one file is refused wherever it is read or written."""

from __future__ import annotations

import json
import random

import pytest

from chatgenbench.render.manifest import (
    IMAGES_DIR,
    MANIFEST_NAME,
    RenderRecord,
    image_filename,
    read_manifest,
    write_manifest,
)
from tests.conftest import sample_predictions, write_predictions

#: Pairs of ids that the old sanitiser put on one file (or that a case-insensitive FS merges).
COLLIDING = [
    ("a/b", "a_b"),
    ("A", "a"),
    ("x:y", "x_y"),
    ("a\\b", "a_b"),
    ("a\x00b", "a_b"),
    ("..", "_"),
    (".", ".."),
    (".hidden", "hidden"),
    ("Sample-0001", "sample-0001"),
    ("ab", "AB"),
    ("a b", "a_b"),
    ("é", "_"),
    ("x" * 256, "x" * 255 + "y"),
    ("con", "CON"),
]
HOSTILE = sorted({i for pair in COLLIDING for i in pair})


def _stem_is_safe(name: str) -> bool:
    return (
        name.endswith(".png")
        and not name.startswith(".")
        and all(c.isascii() and (c.isalnum() or c in "._-+") for c in name)
        and len(name) <= 100
    )


@pytest.mark.parametrize("first, second", COLLIDING)
def test_ids_that_differ_only_in_unsafe_characters_or_case_get_different_files(first, second):
    a, b = image_filename(first), image_filename(second)
    assert a.casefold() != b.casefold(), (first, second, a)
    assert _stem_is_safe(a) and _stem_is_safe(b)


def test_file_names_are_injective_and_safe_on_random_hostile_ids():
    alphabet = "aAbB09._-/\\:\x00 é+~*?<>|\"'"
    rng = random.Random(3)
    ids = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(20000)}
    ids |= {image_filename(i)[: -len(".png")] for i in list(ids)[:2000]}  # names as ids
    names = {}
    for sample_id in ids:
        name = image_filename(sample_id)
        assert _stem_is_safe(name), (sample_id, name)
        other = names.setdefault(name.casefold(), sample_id)
        assert other == sample_id, (other, sample_id, name)


def test_plain_lower_case_ids_keep_their_file_names():
    for sample_id in ("sample-0001", "a_b", "x.y", "0", "a..b"):
        assert image_filename(sample_id) == f"{sample_id}.png"


def _records(*pairs):
    return [
        RenderRecord(i, "supervised", "text", "rendered", image=image, cache_key="k")
        for i, image in pairs
    ]


@pytest.mark.parametrize(
    "first, second",
    [
        ("images/a.png", "images/a.png"),
        ("images/a.png", "images/A.png"),
        ("images/a.png", "images/./a.png"),
        ("images/a.png", "images\\a.png"),
        ("images/a.png", "images/x/../a.png"),
    ],
)
def test_a_manifest_with_two_samples_on_one_file_is_refused(tmp_path, first, second):
    records = _records(("s1", first), ("s2", second))
    with pytest.raises(ValueError, match="'s1' and 's2' both point at the image"):
        write_manifest(tmp_path, records)
    assert not (tmp_path / MANIFEST_NAME).exists()
    lines = [json.dumps(r.to_dict()) for r in records]
    (tmp_path / MANIFEST_NAME).write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="'s1' and 's2' both point at the image"):
        read_manifest(tmp_path)


def test_a_manifest_with_one_id_twice_is_refused(tmp_path):
    records = _records(("s1", "images/a.png"), ("s1", "images/b.png"))
    (tmp_path / MANIFEST_NAME).write_text("\n".join(json.dumps(r.to_dict()) for r in records))
    with pytest.raises(ValueError, match="sample 's1' has two records"):
        read_manifest(tmp_path)


def test_records_without_images_never_conflict(tmp_path):
    records = _records(("s1", "images/a.png"), ("s2", None), ("s3", None))
    write_manifest(tmp_path, records)
    assert read_manifest(tmp_path) == records


def test_colliding_ids_each_get_their_own_image_through_the_render_path(tiny_models, tmp_path):
    """Hostile ids rendered for real, each with its own prompt: every record points at its own
    file, and that file holds exactly the image cached under the record's own key."""
    from chatgenbench.render import render_predictions
    from chatgenbench.render.cache import ImageCache

    template = next(p for p in sample_predictions(size=32, steps=1) if p["id"] == "sample-0007")
    ids = HOSTILE
    predictions, rows = [], []
    for index, sample_id in enumerate(ids):
        predictions.append(dict(template, id=sample_id, prompt=f"{index}: {template['prompt']}"))
        rows.append({"id": sample_id, "setting": "supervised", "input_type": "text"})
    path = write_predictions(tmp_path / "pred.jsonl", predictions)
    cache_dir = tmp_path / "cache"
    report = render_predictions(
        path, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "out",
        cache_dir=cache_dir, progress=False, rows=rows, threads=1,
    )  # fmt: skip
    records = read_manifest(tmp_path / "out")
    assert {r.id for r in records} == set(ids)
    assert all(r.has_image for r in records), [(r.id, r.status, r.error) for r in records]
    assert len({r.cache_key for r in records}) == len(ids)
    images = [r.image.casefold() for r in records]
    assert len(set(images)) == len(ids)
    cache = ImageCache(cache_dir)
    for record in records:
        exported = (report.out_dir / record.image).read_bytes()
        assert exported == cache.png_path(record.cache_key).read_bytes(), record.id
        assert record.image.startswith(f"{IMAGES_DIR}/")
