from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatgenbench.core.errors import RenderError
from chatgenbench.render import render_predictions
from chatgenbench.render.manifest import MANIFEST_NAME, SUMMARY_NAME, read_manifest
from chatgenbench.render.planning import group_requests
from chatgenbench.render.shards import assign_shards, parse_shard
from tests.conftest import RENDERABLE, sample_predictions, write_predictions

ROOT = Path(__file__).resolve().parents[2]


def test_every_sample_gets_a_record_and_weights_decide_the_status(sample_run):
    folder, _, report = sample_run
    by_id = {r.id: r for r in report.records}
    assert len(by_id) == 12
    assert {i for i, r in by_id.items() if r.status == "rendered"} == RENDERABLE
    missing = {i for i, r in by_id.items() if r.status == "weights_missing"}
    assert missing == set(by_id) - RENDERABLE
    assert (
        "no weights" in by_id["sample-0005"].error and "To get them" in by_id["sample-0005"].error
    )
    assert report.summary["counts"]["rendered"] == 5
    assert report.summary["counts"]["weights_missing"] == 7
    assert by_id["sample-0005"].image is None


def test_render_folder_follows_the_manifest_contract(sample_run):
    from PIL import Image

    folder, _, report = sample_run
    out = folder / "out"
    assert read_manifest(out) == report.records
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["n_images"] == 5 and summary["settings"]["dtype"] == "float32"
    assert summary["settings"]["device"] == "cpu" and summary["provenance"]["predictions_sha256"]
    for record in report.records:
        if record.has_image:
            with Image.open(out / record.image) as image:
                assert image.format == "PNG" and image.size == (64, 64)
            assert record.seed == 0 and record.cache_key
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(
        f"{i}.png" for i in RENDERABLE
    )


def test_groups_load_each_checkpoint_once_and_loras_onto_their_base(sample_run):
    _, _, report = sample_run
    performance = report.summary["performance"]
    # groups: base+Small_Mostersv2, devlish (folder), hellorealistic (single file),
    # SDXL base+rolua, samaritan (SDXL folder)
    assert performance["groups"] == 5 and performance["distinct_checkpoints"] == 5
    assert performance["checkpoint_loads"] == 5 and performance["lora_loads"] == 2
    assert performance["images_rendered"] == 5


def test_normalisation_and_sampler_outcomes_are_recorded(sample_run):
    _, _, report = sample_run
    by_id = {r.id: r for r in report.records}
    assert by_id["sample-0001"].normalised["sampler"]["change"] == "sampler_approximate"
    assert by_id["sample-0008"].normalised["sampler"]["change"] == "sampler_fallback"
    assert report.summary["samplers"] == {"exact": 4, "approximate": 1, "fallback": 0}
    assert report.summary["normalisation"]["sampler:sampler_approximate"] == 1
    assert report.summary["normalisation"]["sampler:sampler_fallback"] == 1
    # the paper's prompt for sample-0003 is far longer than the 77 tokens the encoder reads
    truncated = by_id["sample-0003"].normalised["prompt"]
    assert truncated["change"] == "truncated" and truncated["used"] == "77 tokens"
    assert int(truncated["given"].split()[0]) > 200
    assert report.summary["normalisation"]["prompt:truncated"] >= 1


def test_rerun_takes_everything_from_the_cache(sample_run, tiny_models, tmp_path):
    folder, predictions, first = sample_run
    report = render_predictions(
        predictions, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "again",
        cache_dir=folder / "cache", progress=False,
    )  # fmt: skip
    assert report.summary["counts"]["cached"] == 5 and report.summary["counts"]["rendered"] == 0
    assert report.summary["performance"]["checkpoint_loads"] == 0
    for old, new in zip(first.records, report.records):
        assert old.cache_key == new.cache_key
        if new.has_image:
            assert (tmp_path / "again" / new.image).read_bytes() == (
                folder / "out" / old.image
            ).read_bytes()


def test_two_submissions_share_renders_and_a_changed_prompt_misses(
    sample_run, tiny_models, tmp_path
):
    folder, _, _ = sample_run
    rows = sample_predictions()
    rows[1]["prompt"] = "something else entirely"
    other = write_predictions(tmp_path / "other.jsonl", rows)
    report = render_predictions(
        other, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "out",
        cache_dir=folder / "cache", progress=False, threads=1,
    )  # fmt: skip
    by_id = {r.id: r for r in report.records}
    assert by_id["sample-0002"].status == "rendered"
    assert {i for i, r in by_id.items() if r.status == "cached"} == RENDERABLE - {"sample-0002"}
    assert report.summary["performance"]["checkpoint_loads"] == 1


def test_lora_then_plain_checkpoint_in_one_run(tiny_models, tmp_path):
    import numpy as np
    from PIL import Image

    base = {"prompt": "a red house", "negative_prompt": "",
            "arguments": {"sampler": "Euler", "steps": 3, "cfg_scale": 7, "width": 64,
                          "height": 64}}  # fmt: skip
    rows = [
        {"id": "sample-0001", "model": "Small_Mostersv2", **base},
        {"id": "sample-0002", "model": "Small_Mostersv2", **base,
         "arguments": {**base["arguments"], "seed": 1}},
        {"id": "sample-0003", "model": "v1-5-pruned-emaonly", **base},
    ]  # fmt: skip
    predictions = write_predictions(tmp_path / "pred.jsonl", rows)
    report = render_predictions(
        predictions, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "mixed",
        cache_dir=tmp_path / "cache-mixed", progress=False, batch_size=1, threads=1,
    )  # fmt: skip
    # The LoRA group is larger, so it runs first; the plain group reuses the same pipeline (LRU).
    assert report.summary["performance"]["checkpoint_loads"] == 1
    assert report.summary["performance"]["lora_loads"] == 1
    assert all("prompt" not in r.normalised for r in report.records)  # short prompts: no truncation
    plain_only = write_predictions(tmp_path / "plain.jsonl", [rows[2]])
    fresh = render_predictions(
        plain_only, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "plain",
        cache_dir=tmp_path / "cache-plain", progress=False, batch_size=1, threads=1,
    )  # fmt: skip
    assert fresh.summary["counts"]["rendered"] == 1

    def pixels(folder: Path, sample_id: str):
        return np.asarray(Image.open(folder / "images" / f"{sample_id}.png"), dtype=np.int16)

    after_lora = pixels(tmp_path / "mixed", "sample-0003")
    never_lora = pixels(tmp_path / "plain", "sample-0003")
    with_lora = pixels(tmp_path / "mixed", "sample-0001")
    assert np.array_equal(after_lora, never_lora)  # the LoRA was unloaded cleanly
    assert np.abs(with_lora - never_lora).mean() > 1.0  # and it did change the image


def test_invalid_missing_and_failed_samples_are_reported(tiny_models, tmp_path):
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"not a safetensors file at all")
    overlay = tiny_models.root / "overlay-with-corrupt-file.jsonl"  # relative paths stay valid
    overlay.write_text(
        tiny_models.overlay.read_text()
        + json.dumps(
            {
                "name": "epicdream_lullaby",
                "weights": {
                    "type": "single_file",
                    "path": str(corrupt),
                    "config": str(tiny_models.root / "configs" / "sd15"),
                },
            }
        )
        + "\n"
        # an SD 1.5 LoRA entry whose file is really an SDXL LoRA: loading it must fail cleanly
        + json.dumps(
            {
                "name": "lucy_(cyberpunk)_v10",
                "weights": {"type": "single_file", "path": "loras/rolua.safetensors"},
            }
        )
        + "\n"  # fmt: skip
    )
    arguments = {"sampler": "Euler", "steps": 0, "cfg_scale": "high", "width": "66", "height": 64}
    rows = [
        {"id": "sample-0001", "prompt": "x", "model": "not_a_model", "arguments": arguments},
        {"id": "sample-0002", "prompt": 123, "model": "devlishphotorealism_v40"},
        {"id": "sample-0003", "prompt": "a man", "model": "hellorealisticman_V12a",
         "negative_prompt": ["not", "a", "string"], "arguments": arguments},
        {"id": "sample-0005", "prompt": "a dream", "model": "epicdream_lullaby",
         "arguments": arguments},
        {"id": "sample-0005", "prompt": "duplicate row", "model": "epicdream_lullaby"},
        {"id": "sample-0008", "prompt": "a girl", "model": "lucy_(cyberpunk)_v10",
         "arguments": arguments},
        {"id": "sample-0009", "prompt": "a boy", "model": "lucy_(cyberpunk)_v10",
         "arguments": arguments},  # two failing LoRA requests: that group goes first
        {"id": "sample-0006", "prompt": "a girl", "model": "v1-5-pruned-emaonly",
         "arguments": arguments},
    ]  # fmt: skip
    predictions = write_predictions(tmp_path / "pred.jsonl", rows)
    report = render_predictions(
        predictions, "sample", catalog=overlay, out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache", progress=False, threads=1,
    )  # fmt: skip
    by_id = {r.id: r for r in report.records}
    assert by_id["sample-0001"].status == "invalid_prediction"
    assert "unknown_model" in by_id["sample-0001"].error
    assert by_id["sample-0002"].status == "invalid_prediction"
    assert "prompt" in by_id["sample-0002"].error
    assert by_id["sample-0003"].status == "rendered"
    assert {k: v["change"] for k, v in by_id["sample-0003"].normalised.items()} == {
        "width": "cast+rounded",
        "steps": "clamped",
        "cfg_scale": "default",
        "negative_prompt": "default",
    }
    assert by_id["sample-0005"].status == "failed"
    assert by_id["sample-0005"].error.startswith("loading epicdream_lullaby")
    assert by_id["sample-0004"].status == "missing_prediction"
    assert by_id["sample-0008"].status == "failed"
    assert "onto v1-5-pruned-emaonly" in by_id["sample-0008"].error
    assert "size mismatch" in by_id["sample-0008"].error
    assert by_id["sample-0006"].status == "rendered"  # the base pipeline was left clean
    counts = report.summary["counts"]
    assert counts == {"rendered": 2, "cached": 0, "weights_missing": 0, "invalid_prediction": 2,
                      "missing_prediction": 5, "failed": 3}  # fmt: skip
    assert report.summary["normalisation"]["steps:clamped"] == 5
    assert report.summary["performance"]["checkpoint_loads"] == 2  # base reused after the failure


def test_shards_cover_every_sample_exactly_once(sample_run, tiny_models):
    folder, predictions, full = sample_run
    seen: list[str] = []
    rendered_keys: list[str] = []
    for index in range(3):
        report = render_predictions(
            predictions, "sample", catalog=tiny_models.overlay, out_dir=folder / "sharded",
            cache_dir=folder / "cache", shard=f"{index}/3", progress=False,
        )  # fmt: skip
        assert report.out_dir == folder / "sharded" / "shards" / f"{index}-of-3"
        assert report.summary["shard"]["index"] == index and not report.summary["complete"]
        seen += [r.id for r in read_manifest(report.out_dir)]
        rendered_keys += [r.cache_key for r in report.records if r.has_image]
    assert sorted(seen) == sorted(r.id for r in full.records)
    assert sorted(rendered_keys) == sorted(r.cache_key for r in full.records if r.has_image)

    # assembling the shards needs neither weights nor the cache
    from chatgenbench.cli import main

    assert (
        main(["render", str(predictions), "--out", str(folder / "sharded"), "--merge-shards"]) == 0
    )
    merged = read_manifest(folder / "sharded")
    assert [r.id for r in merged] == sorted(r.id for r in full.records)
    for record in merged:
        if record.has_image:
            assert (folder / "sharded" / record.image).read_bytes() == (
                folder / "out" / record.image
            ).read_bytes()
    summary = json.loads((folder / "sharded" / SUMMARY_NAME).read_text())
    assert summary["complete"] and summary["counts"] == full.summary["counts"] | {
        "rendered": 0, "cached": 5}  # fmt: skip


def test_merge_refuses_incomplete_shards(tmp_path):
    from chatgenbench.render.shards import merge_shards

    with pytest.raises(RenderError, match="no shard folders"):
        merge_shards(tmp_path)
    (tmp_path / "shards" / "1-of-2").mkdir(parents=True)
    with pytest.raises(RenderError, match=r"shards \[0\] of 2 are missing"):
        merge_shards(tmp_path)


def test_shard_assignment_keeps_groups_whole_and_is_deterministic():
    from chatgenbench.render.planning import RenderRequest

    class Fake:
        def __init__(self, key, group):
            self.key, self.group_key, self.batch_key = key, group, ""

    requests = [Fake(f"k{i}", f"g{i % 7}") for i in range(50)] + [Fake("x", "big")] * 0
    groups = group_requests(requests)
    for count in (1, 2, 3, 5):
        first = assign_shards(groups, count)
        assert first == assign_shards(group_requests(list(reversed(requests))), count)
        keys = [r.key for g, s in zip(groups, first) for r in g]
        assert sorted(keys) == sorted(r.key for r in requests)  # each request exactly once
        sizes = [sum(len(g) for g, s in zip(groups, first) if s == i) for i in range(count)]
        assert max(sizes) - min(sizes) <= max(len(g) for g in groups)
    assert RenderRequest.__dataclass_fields__  # the real request type is a dataclass


@pytest.mark.parametrize("bad", ["3/3", "-1/2", "1", "a/b", "1/0", "1/2/3"])
def test_bad_shards_are_refused(bad):
    with pytest.raises(RenderError):
        parse_shard(bad)
    assert parse_shard("2/4") == (2, 4)


def test_resume_after_the_worker_is_killed_mid_group(tiny_models, tmp_path):
    rows = [
        {"id": f"sample-{i:04d}", "prompt": f"a house number {i}",
         "model": "hellorealisticman_V12a",
         "arguments": {"sampler": "Euler", "steps": 12, "cfg_scale": 7, "width": 64,
                       "height": 64}}
        for i in range(1, 13)
    ]  # fmt: skip
    predictions = write_predictions(tmp_path / "pred.jsonl", rows)
    cache = tmp_path / "cache"
    command = [
        sys.executable, "-m", "chatgenbench", "render", str(predictions), "--benchmark", "sample",
        "--catalog", str(tiny_models.overlay), "--out", str(tmp_path / "out"), "--cache-dir",
        str(cache), "--batch-size", "1", "--threads", "1", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if len(list(cache.glob("*/*.json"))) >= 2:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the render finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    done_before = len(list(cache.glob("*/*.json")))
    assert 2 <= done_before < 12
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()  # killed before the manifest

    report = render_predictions(
        predictions, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "out",
        cache_dir=cache, progress=False, batch_size=1, threads=1,
    )  # fmt: skip
    counts = report.summary["counts"]
    assert counts["cached"] >= done_before and counts["cached"] + counts["rendered"] == 12
    assert report.summary["performance"]["images_rendered"] == counts["rendered"]
    assert len(list(cache.glob("*/*.png"))) == 12
    assert not list(cache.glob("*/.*"))  # no temporary file left behind


def test_unknown_option_is_refused(tmp_path):
    with pytest.raises(RenderError, match="unknown render options"):
        render_predictions(tmp_path / "p.jsonl", out_dir=tmp_path, batchsize=3)


def test_local_backend_with_two_worker_processes(sample_run, tiny_models, tmp_path):
    folder, _, local = sample_run
    rows = [row for row in sample_predictions() if row["id"] in ("sample-0002", "sample-0003")]
    predictions = write_predictions(tmp_path / "pred.jsonl", rows)
    report = render_predictions(
        predictions, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache", workers=2, threads=1, progress=False,
    )  # fmt: skip
    assert report.summary["settings"]["workers"] == 2
    assert report.summary["counts"]["rendered"] == 2
    assert report.summary["performance"]["checkpoint_loads"] == 2
    expected = {r.id: r for r in local.records}
    for record in report.records:
        if record.has_image:  # one process per group gives the same pixels as one in-process worker
            assert record.cache_key == expected[record.id].cache_key
            assert (tmp_path / "out" / record.image).read_bytes() == (
                folder / "out" / expected[record.id].image
            ).read_bytes()


def test_every_summary_key_is_documented(sample_run):
    from chatgenbench.render.summary import SUMMARY_KEYS

    _, _, report = sample_run
    assert set(report.summary) == set(SUMMARY_KEYS)


def test_a_validation_report_can_stand_for_the_prediction_file(sample_run, tiny_models, tmp_path):
    from chatgenbench import load_benchmark
    from chatgenbench.benchmark.loading import load_benchmark_catalog
    from chatgenbench.predictions.validation import validate_predictions

    folder, predictions, _ = sample_run
    ids = load_benchmark("supervised", "sample")["id"]
    catalog = load_benchmark_catalog("sample", tiny_models.overlay)
    validation = validate_predictions(predictions, ids, catalog)
    report = render_predictions(
        validation, "sample", catalog=catalog, setting="supervised", out_dir=tmp_path / "out",
        cache_dir=folder / "cache", progress=False,
    )  # fmt: skip
    assert report.summary["counts"]["cached"] == 5
    assert report.summary["provenance"]["predictions"] == str(predictions)
    assert report.summary["provenance"]["predictions_sha256"]


def test_rows_given_by_the_caller_are_used_and_the_benchmark_is_not_loaded(
    sample_run, tiny_models, tmp_path, monkeypatch
):
    import chatgenbench.benchmark.loading

    folder, predictions, full = sample_run
    by_id = {r.id: r for r in full.records}
    ids = ["sample-0007", "sample-0002", "sample-0005"]  # two renderable, one without weights
    rows = [{"id": i, "setting": by_id[i].setting, "input_type": by_id[i].input_type} for i in ids]

    def refuse(*args, **kwargs):
        raise AssertionError("load_benchmark was called although rows were given")

    monkeypatch.setattr(chatgenbench.benchmark.loading, "load_benchmark", refuse)
    report = render_predictions(
        predictions, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "out",
        cache_dir=folder / "cache", progress=False, rows=rows,
    )  # fmt: skip
    assert [r.id for r in read_manifest(tmp_path / "out")] == ids
    assert report.summary["n_samples"] == 3
    assert {r.id: r.status for r in report.records} == {
        "sample-0007": "cached", "sample-0002": "cached", "sample-0005": "weights_missing"}  # fmt: skip
    for record in report.records:
        assert record.cache_key == by_id[record.id].cache_key


def test_a_benchmark_folder_with_a_train_split_renders_only_its_test_settings(tmp_path):
    import uuid

    from chatgenbench.benchmark.synth import write_synthetic

    folder = tmp_path / f"synthetic-{uuid.uuid4().hex[:8]}"  # datasets caches by folder name
    info = write_synthetic(folder, rows=20, seed=1, train_rows=10, n_models=10)
    predictions = write_predictions(tmp_path / "empty.jsonl", [])
    report = render_predictions(
        predictions, str(folder), out_dir=tmp_path / "out", cache_dir=tmp_path / "cache",
        progress=False,
    )  # fmt: skip
    assert info.counts["train"] == 10
    assert report.summary["n_samples"] == 20
    assert report.summary["counts"]["missing_prediction"] == 20
    assert report.summary["provenance"]["benchmark"]["synthetic"] is True


def test_catalogue_sha256_is_checked_at_first_load_not_when_planning(tiny_models, tmp_path):
    from chatgenbench.core.storage import sha256_file

    root = tiny_models.root
    good = root / "v1-5-pruned-emaonly.safetensors"
    overlay = root / "overlay-with-sha256.jsonl"  # relative paths stay valid
    lines = [
        {"name": "v1-5-pruned-emaonly", "weights": {
            "type": "single_file", "path": good.name, "config": "configs/sd15",
            "sha256": sha256_file(good)}},
        {"name": "hellorealisticman_V12a", "weights": {
            "type": "single_file", "path": "hellorealisticman_V12a.safetensors",
            "config": "configs/sd15", "sha256": "0" * 64}},
    ]  # fmt: skip
    overlay.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    base = {"prompt": "a red house", "negative_prompt": "",
            "arguments": {"sampler": "Euler", "steps": 2, "cfg_scale": 7, "width": 64,
                          "height": 64}}  # fmt: skip
    rows = [
        {"id": "sample-0001", "model": "v1-5-pruned-emaonly", **base},
        {"id": "sample-0002", "model": "hellorealisticman_V12a", **base},
    ]
    predictions = write_predictions(tmp_path / "pred.jsonl", rows)
    cache = tmp_path / "cache"

    def run(tag: str, rows_file: Path):
        return render_predictions(
            rows_file, "sample", catalog=overlay, out_dir=tmp_path / tag, cache_dir=cache,
            progress=False, batch_size=1, threads=1,
        )  # fmt: skip

    report = run("first", predictions)
    by_id = {r.id: r for r in report.records}
    assert by_id["sample-0001"].status == "rendered"
    failed = by_id["sample-0002"]
    assert failed.status == "failed" and "catalogue expects 0000" in failed.error
    performance = report.summary["performance"]
    assert performance["files_verified"] == 2 and performance["verify_seconds"] > 0
    assert performance["verify_seconds_per_file"] > 0
    # the checked digests are remembered: a second run verifies nothing again, and the wrong
    # catalogue sha256 is now caught when planning (weights_missing, before any load)
    again = run("second", write_predictions(tmp_path / "pred2.jsonl", [
        {**rows[0], "arguments": {**base["arguments"], "seed": 7}}, rows[1]]))  # fmt: skip
    assert again.summary["performance"]["files_verified"] == 0
    statuses = {r.id: r.status for r in again.records}
    assert statuses["sample-0001"] == "rendered"
    assert statuses["sample-0002"] == "weights_missing"
