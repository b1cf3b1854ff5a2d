from __future__ import annotations

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
    png = encode_png(Image.new("RGB", (8, 8), (255, 0, 0)))
    cache.put(key, png, {"prompt": "red"})
    assert cache.has(key) and cache.sidecar(key) == {"key": key, "prompt": "red"}
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
