"""Weight checks in a real render: a wrong file found after rendering started, --verify modes,
BLAKE3/AutoV2/SHA-256 in the catalogue, read-ahead, and the same images with or without them."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import blake3
import pytest

from chatgenbench.core.errors import RenderError
from chatgenbench.render import render_predictions
from chatgenbench.render.cache import ImageCache
from chatgenbench.render.manifest import read_manifest
from tests.conftest import write_predictions

CHECKPOINTS = ("v1-5-pruned-emaonly", "hellorealisticman_V12a")
ARGUMENTS = {"sampler": "Euler", "steps": 2, "cfg_scale": 7, "width": 64, "height": 64}


def _digests(path: Path) -> dict[str, str]:
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    return {"sha256": sha, "blake3": blake3.blake3(data).hexdigest(), "autov2": sha[:10].upper()}


def _overlay(root: Path, tag: str, digests_of: dict[str, dict[str, str]]) -> Path:
    """A catalogue overlay of the tiny checkpoints, each with the given digests."""
    lines = [
        {"name": name, "weights": {"type": "single_file", "path": f"{name}.safetensors",
                                   "config": "configs/sd15", **digests_of.get(name, {})}}
        for name in CHECKPOINTS
    ]  # fmt: skip
    overlay = root / f"overlay-{tag}.jsonl"  # beside the weights: relative paths stay valid
    overlay.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    return overlay


def _predictions(tmp_path: Path, per_model: int = 2, seed: int = 0) -> Path:
    rows = [
        {"id": f"sample-{len(CHECKPOINTS) * i + j + 1:04d}", "model": name,
         "prompt": f"a red house {i}", "negative_prompt": "",
         "arguments": {**ARGUMENTS, "seed": seed + i}}
        for i in range(per_model) for j, name in enumerate(CHECKPOINTS)
    ]  # fmt: skip
    return write_predictions(tmp_path / f"pred-{per_model}-{seed}.jsonl", rows)


def _render(tmp_path, predictions, overlay, tag, cache=None, **options):
    return render_predictions(
        predictions, "sample", catalog=overlay, out_dir=tmp_path / tag,
        cache_dir=cache or tmp_path / f"cache-{tag}", progress=False, batch_size=1, threads=1,
        **options,
    )  # fmt: skip


def _pngs(report) -> dict[str, bytes]:
    return {r.id: (report.out_dir / r.image).read_bytes() for r in report.records if r.image}


@pytest.mark.parametrize("algorithm", ["blake3", "sha256"])
def test_a_wrong_file_found_after_rendering_started_fails_its_group_and_keeps_no_image(
    tiny_models, tmp_path, monkeypatch, algorithm
):
    from chatgenbench.render import weight_checks, worker

    root = tiny_models.root
    good = _digests(root / "v1-5-pruned-emaonly.safetensors")
    bad_file = root / "hellorealisticman_V12a.safetensors"
    real = _digests(bad_file)
    wrong = "e" * 64
    overlay = _overlay(root, f"wrong-{algorithm}", {
        "v1-5-pruned-emaonly": {algorithm: good[algorithm]},
        "hellorealisticman_V12a": {algorithm: wrong}})  # fmt: skip
    rendered_batches = threading.Event()
    original_batch = worker.RenderWorker._render_batch

    def render_batch(self, loaded, batch):
        yield from original_batch(self, loaded, batch)
        rendered_batches.set()

    original_read = weight_checks.WeightChecker._read

    def slow_read(self, read, digest):  # the check answers only once a batch was rendered
        if read.path == str(bad_file):
            assert rendered_batches.wait(120)
        return original_read(self, read, digest)

    monkeypatch.setattr(worker.RenderWorker, "_render_batch", render_batch)
    monkeypatch.setattr(weight_checks.WeightChecker, "_read", slow_read)
    cache = ImageCache(tmp_path / "cache")
    predictions = _predictions(tmp_path, per_model=3)
    report = _render(tmp_path, predictions, overlay, "out", cache=cache.root)
    by_model = {}
    for record in report.records:
        if record.model in CHECKPOINTS:
            by_model.setdefault(record.model, []).append(record)
    assert {r.status for r in by_model["v1-5-pruned-emaonly"]} == {"rendered"}
    failed = by_model["hellorealisticman_V12a"]
    assert {r.status for r in failed} == {"failed"} and len(failed) == 3
    for record in failed:
        assert f"{algorithm} of {bad_file} is {real[algorithm]}" in record.error
        assert f"the catalogue expects {wrong}" in record.error and "discarded" in record.error
        assert record.image is None and not cache.png_path(record.cache_key).exists()
        assert not cache.sidecar_path(record.cache_key).exists()
    assert {r.id for r in read_manifest(report.out_dir) if r.image} == {
        r.id for r in by_model["v1-5-pruned-emaonly"]
    }
    performance = report.summary["performance"]
    assert performance["check_failures"] == 1 and performance["images_discarded"] >= 1
    assert performance["images_rendered"] == 3  # the kept ones only
    assert performance["verified_by_digest"][algorithm] == 2
    assert report.summary["counts"]["rendered"] == 3


def test_a_stale_cache_entry_of_a_group_whose_file_fails_is_removed(tiny_models, tmp_path):
    root = tiny_models.root
    predictions = _predictions(tmp_path, per_model=1)
    wrong = _overlay(root, "wrong-sha", {"hellorealisticman_V12a": {"sha256": "0" * 64}})
    trusted = _render(tmp_path, predictions, wrong, "trusted", cache=tmp_path / "cache",
                      verify="never")  # fmt: skip
    cache = ImageCache(tmp_path / "cache")
    key = next(r.cache_key for r in trusted.records if r.model == "hellorealisticman_V12a")
    # the entry no longer passes the cache's check (another prompt in its sidecar): rendered again
    sidecar = cache.sidecar(key)
    cache.put(key, cache.png_path(key).read_bytes(), {**sidecar, "prompt": "something else"})
    report = _render(tmp_path, predictions, wrong, "wrong", cache=tmp_path / "cache",
                     verify="always")  # fmt: skip
    record = next(r for r in report.records if r.model == "hellorealisticman_V12a")
    assert record.status == "failed" and "0" * 64 in record.error
    assert not cache.png_path(key).exists() and not cache.sidecar_path(key).exists()


def test_verify_modes_check_once_every_time_or_never_and_are_recorded(tiny_models, tmp_path):
    root = tiny_models.root
    digests = {name: {"sha256": _digests(root / f"{name}.safetensors")["sha256"]}
               for name in CHECKPOINTS}  # fmt: skip
    overlay = _overlay(root, "modes", digests)
    cache = tmp_path / "cache"
    runs = {}
    for seed, mode in enumerate(["first-load", "first-load", "always", "never"]):
        report = _render(tmp_path, _predictions(tmp_path, 1, seed), overlay, f"run{seed}",
                         cache=cache, verify=mode)  # fmt: skip
        assert report.summary["settings"]["verify"] == mode
        assert report.summary["counts"]["rendered"] == 2
        runs[seed] = report.summary["performance"]["files_verified"]
    assert runs == {0: 2, 1: 0, 2: 2, 3: 0}
    never = _overlay(root, "never-wrong", {"hellorealisticman_V12a": {"sha256": "0" * 64}})
    trusted = _render(tmp_path, _predictions(tmp_path, 1, 9), never, "never", verify="never")
    assert trusted.summary["counts"]["rendered"] == 2  # not checked: the catalogue is trusted
    assert trusted.summary["performance"]["files_verified"] == 0


@pytest.mark.parametrize(
    "bad, said",
    [({"verify": "sometimes"}, "--verify: verify mode must be one of first-load, always, never; "
      "got 'sometimes'"),
     ({"readahead_mb": -1}, "--readahead-mb must be 0 (off) or more, got -1"),
     ({"readahead_mb": "lots"}, "--readahead-mb must be a whole number of MB, got 'lots'")],
)  # fmt: skip
def test_bad_check_settings_are_refused_before_any_work(tmp_path, bad, said):
    with pytest.raises(RenderError) as raised:
        render_predictions(tmp_path / "none.jsonl", "sample", out_dir=tmp_path / "o", **bad)
    assert str(raised.value).startswith(said)


def test_checks_and_read_ahead_make_the_same_images_under_the_same_keys(tiny_models, tmp_path):
    root = tiny_models.root
    all_digests = {name: _digests(root / f"{name}.safetensors") for name in CHECKPOINTS}
    predictions = _predictions(tmp_path, per_model=2)
    bare = _render(tmp_path, predictions, _overlay(root, "bare", {}), "bare", verify="never",
                   readahead_mb=0)  # fmt: skip
    with_sha = _render(tmp_path, predictions, _overlay(root, "sha", {
        n: {"sha256": d["sha256"]} for n, d in all_digests.items()}), "sha")  # fmt: skip
    with_all = _render(tmp_path, predictions, _overlay(root, "all", all_digests), "all",
                       verify="always", readahead_mb=64)  # fmt: skip
    keys = [{r.id: r.cache_key for r in run.records} for run in (bare, with_sha, with_all)]
    assert keys[0] == keys[1] == keys[2]  # the cache key does not change
    assert _pngs(bare) == _pngs(with_sha) == _pngs(with_all) and len(_pngs(bare)) == 4
    assert with_all.summary["performance"]["verified_by_digest"] == {
        "blake3": 2, "sha256": 0, "autov2": 0}  # fmt: skip
    assert with_sha.summary["performance"]["verified_by_digest"]["sha256"] == 2
    # every load is counted as read ahead or not; the first cannot be, and no budget: none is
    for run in (bare, with_sha, with_all):
        performance = run.summary["performance"]
        assert performance["loads_read_ahead"] + performance["loads_not_hidden"] == (
            performance["checkpoint_loads"] + performance["lora_loads"]
        )
        assert performance["loads_not_hidden"] >= 1
    assert bare.summary["performance"]["loads_read_ahead"] == 0
    assert with_all.summary["settings"]["readahead_mb"] == 64


def test_the_next_groups_file_is_read_ahead_while_a_group_renders(tiny_models, tmp_path):
    root = tiny_models.root
    digests = {name: {"blake3": _digests(root / f"{name}.safetensors")["blake3"]}
               for name in CHECKPOINTS}  # fmt: skip
    report = _render(tmp_path, _predictions(tmp_path, per_model=3), _overlay(root, "ra", digests),
                     "ra", readahead_mb=256)  # fmt: skip
    performance = report.summary["performance"]
    assert performance["checkpoint_loads"] == 2
    assert performance["loads_not_hidden"] == 1 and performance["loads_read_ahead"] == 1
    assert performance["files_verified"] == 2 and performance["check_failures"] == 0


def test_the_render_command_says_what_was_checked_and_read_ahead(tiny_models, tmp_path, capsys):
    from chatgenbench.cli import main

    root = tiny_models.root
    digests = {name: {"blake3": _digests(root / f"{name}.safetensors")["blake3"]}
               for name in CHECKPOINTS}  # fmt: skip
    digests["hellorealisticman_V12a"] = {"sha256": "0" * 64}
    overlay = _overlay(root, "cli", digests)
    code = main(["render", str(_predictions(tmp_path, 2)), "--benchmark", "sample", "--catalog",
                 str(overlay), "--out", str(tmp_path / "out"), "--cache-dir",
                 str(tmp_path / "cache"), "--verify", "always", "--batch-size", "1", "--threads",
                 "1", "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "weights checks (--verify always): 2 file(s) checked (blake3 1, sha256 1)" in out
    assert (
        "1 file(s) are not the catalogue's: their groups failed, 1 image(s) made from them " in out
    )
    assert "2 images rendered in" in out  # the discarded one is not counted as rendered
    assert "loads: 1 read ahead while earlier groups rendered, 1 not hidden" in out
    print(out)
