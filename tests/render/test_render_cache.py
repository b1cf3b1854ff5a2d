from __future__ import annotations

import hashlib
import json

import pytest

from chatgenbench.render.cache import ImageCache, cache_key, encode_png, library_versions


def test_cache_key_is_canonical_and_sensitive():
    inputs = {"prompt": "a cat", "seed": 0, "steps": 20, "versions": {"torch": "2"}}
    assert cache_key(inputs) == cache_key(dict(reversed(list(inputs.items()))))
    for change in ({"prompt": "a dog"}, {"seed": 1}, {"steps": 21}, {"versions": {"torch": "3"}}):
        assert cache_key({**inputs, **change}) != cache_key(inputs)
    assert len(cache_key(inputs)) == 64


def test_put_has_export(tmp_path):
    from PIL import Image

    cache = ImageCache(tmp_path / "cache")
    key = cache_key({"x": 1})
    assert not cache.has(key)
    png = encode_png(Image.new("RGB", (8, 8), (255, 0, 0)), key)
    cache.put(key, png, {"prompt": "red"})
    assert cache.has(key)
    assert cache.sidecar(key) == {
        "key": key, "prompt": "red", "png_sha256": hashlib.sha256(png).hexdigest(),
        "png_bytes": len(png)}  # fmt: skip
    target = cache.export(key, tmp_path / "out" / "images" / "a.png")
    assert target.read_bytes() == png
    cache.export(key, target)  # exporting again replaces the file in place
    assert target.read_bytes() == png
    assert not [p for p in (tmp_path / "out" / "images").iterdir() if p.name.startswith(".")]


def test_a_png_without_its_sidecar_does_not_count(tmp_path):
    cache = ImageCache(tmp_path)
    key = cache_key({"y": 2})
    cache.png_path(key).parent.mkdir(parents=True)
    cache.png_path(key).write_bytes(b"\x89PNG half")
    assert not cache.has(key)


def test_library_versions_name_diffusers_and_torch():
    versions = library_versions()
    assert versions["diffusers"] and versions["torch"]


def _two_entries(cache):
    from PIL import Image

    keys = [cache_key({"n": 1}), cache_key({"n": 2})]
    colors = ((255, 0, 0), (0, 0, 255))
    pngs = [encode_png(Image.new("RGB", (8, 8), c), k) for c, k in zip(colors, keys)]
    for key, png, prompt in zip(keys, pngs, ("red", "blue")):
        cache.put(key, png, {"prompt": prompt})
    return keys, pngs


def _resign(cache, key):
    """Make the sidecar's digest fit whatever PNG now sits beside it."""
    sidecar = cache.sidecar(key)
    png = cache.png_path(key).read_bytes()
    sidecar["png_sha256"], sidecar["png_bytes"] = hashlib.sha256(png).hexdigest(), len(png)
    cache.sidecar_path(key).write_text(json.dumps(sidecar))


@pytest.mark.parametrize(
    "tamper, reason",
    [
        ("swap_png", "does not match the sha256"),
        ("truncate_png", "does not match the sha256"),
        ("move_entry", "another key"),
        ("sidecar_list", "another key"),
        ("sidecar_garbage", "unreadable"),
        ("old_sidecar", "does not match the sha256"),
        ("other_prompt", "another key"),
        ("other_prompt_own_image", "another request (prompt)"),
        ("plain_png", "another key"),
    ],
)
def test_an_entry_that_does_not_verify_is_not_used(tmp_path, tamper, reason):
    cache = ImageCache(tmp_path)
    (first, second), (red, blue) = _two_entries(cache)
    assert cache.check(first, {"prompt": "red"}) is None
    if tamper == "swap_png":
        cache.png_path(first).write_bytes(blue)
    elif tamper == "truncate_png":
        cache.png_path(first).write_bytes(red[:-10])
    elif tamper == "move_entry":  # the image and sidecar of another key, both under this key
        cache.png_path(first).write_bytes(blue)
        cache.sidecar_path(first).write_text(cache.sidecar_path(second).read_text())
    elif tamper == "sidecar_list":
        cache.sidecar_path(first).write_text("[]")
    elif tamper == "sidecar_garbage":
        cache.sidecar_path(first).write_bytes(b"\xff{")
    elif tamper == "old_sidecar":  # written before sidecars carried the digest
        cache.sidecar_path(first).write_text(json.dumps({"key": first, "prompt": "red"}))
    elif tamper == "other_prompt_own_image":  # a sidecar that describes another request
        sidecar = cache.sidecar(first)
        cache.sidecar_path(first).write_text(json.dumps({**sidecar, "prompt": "blue"}))
    elif tamper == "plain_png":  # an image without the key chunk, with a fitting sidecar
        from PIL import Image

        cache.png_path(first).write_bytes(encode_png(Image.new("RGB", (8, 8), (255, 0, 0))))
        _resign(cache, first)
    elif tamper == "other_prompt":  # a consistent entry, but of another request
        cache.png_path(first).write_bytes(blue)
        sidecar = cache.sidecar(first)
        cache.sidecar_path(first).write_text(json.dumps({**sidecar, "prompt": "blue"}))
        _resign(cache, first)
    problem = cache.check(first, {"prompt": "red"})
    assert problem is not None and reason in problem, problem
    assert not cache.has(first, {"prompt": "red"})
    assert cache.check(second, {"prompt": "blue"}) is None  # the other entry is untouched
    assert cache.check(cache_key({"n": 3})) == "missing"


def _distance(a: bytes, b: bytes) -> float:
    """Mean absolute difference of two PNGs' pixels (0-255)."""
    import io

    import numpy as np
    from PIL import Image

    pixels = [np.asarray(Image.open(io.BytesIO(x)).convert("RGB"), dtype=float) for x in (a, b)]
    return float(np.abs(pixels[0] - pixels[1]).mean())


def test_a_tampered_render_cache_is_rendered_again_through_the_render_path(tiny_models, tmp_path):
    """Real renders of two prompts; then one entry gets the other's image (with and without a
    sidecar made to fit). The rerun renders that sample again and exports its true image."""
    from chatgenbench.render import render_predictions
    from chatgenbench.render.manifest import read_manifest
    from tests.conftest import sample_predictions, write_predictions

    template = next(p for p in sample_predictions(size=32, steps=1) if p["id"] == "sample-0007")
    ids = ["s-red", "s-blue"]
    predictions = [dict(template, id=i, prompt=f"{i}: {template['prompt']}") for i in ids]
    rows = [{"id": i, "setting": "supervised", "input_type": "text"} for i in ids]
    path = write_predictions(tmp_path / "pred.jsonl", predictions)
    cache = ImageCache(tmp_path / "cache")

    def render(out):
        report = render_predictions(
            path, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / out,
            cache_dir=cache.root, progress=False, rows=rows, threads=1,
        )  # fmt: skip
        images = {
            r.id: (report.out_dir / r.image).read_bytes() for r in read_manifest(report.out_dir)
        }
        return report, images, {r.id: r.cache_key for r in report.records}

    first, truth, keys = render("one")
    assert truth["s-red"] != truth["s-blue"]
    for step, resign in enumerate((False, True)):
        cache.png_path(keys["s-red"]).unlink()  # the export is a hard link: replace, not rewrite
        cache.png_path(keys["s-red"]).write_bytes(cache.png_path(keys["s-blue"]).read_bytes())
        if resign:
            _resign(cache, keys["s-red"])
        report, images, _ = render(f"again-{step}")
        # its own image again (rendered alone, not in a batch of two: a few levels apart at most),
        # never the other sample's
        assert images["s-blue"] == truth["s-blue"] and images["s-red"] != truth["s-blue"]
        assert (
            _distance(images["s-red"], truth["s-red"])
            < _distance(truth["s-red"], truth["s-blue"]) / 10
        )
        assert images["s-red"] == cache.png_path(keys["s-red"]).read_bytes()
        assert report.summary["cache"]["hits"] == 1 and report.summary["cache"]["misses"] == 1
        (reason,) = report.summary["cache"]["rejected"]
        assert ("sha256" if not resign else "another key") in reason
        statuses = {r.id: r.status for r in report.records}
        assert statuses == {"s-red": "rendered", "s-blue": "cached"}


def test_a_backend_png_without_the_key_chunk_is_stored_naming_its_key(tmp_path):
    """A render backend from another package may encode its PNG itself: the cache adds the key
    chunk (the pixels stay the same bytes), and refuses a PNG that names another key."""
    import io

    from PIL import Image

    from chatgenbench.render.cache import png_key

    image = Image.new("RGB", (9, 7), (12, 200, 34))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    cache = ImageCache(tmp_path)
    key, other = "ab" * 32, "cd" * 32
    cache.put(key, buffer.getvalue(), {"model": "m"})
    assert cache.check(key, {"model": "m"}) is None
    stored = cache.png_path(key).read_bytes()
    assert png_key(stored) == key
    with Image.open(io.BytesIO(stored)) as back:
        assert back.tobytes() == image.tobytes()
    with pytest.raises(ValueError, match="another cache key"):
        cache.put(other, stored, {})
    assert cache.check(other) == "missing"
