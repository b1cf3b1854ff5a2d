"""The weight checker on its own: digests (SHA-256, BLAKE3, AutoV2), --verify modes, read-ahead's
memory bound. No model is loaded here; tests/render/test_render_weight_checks.py renders."""

from __future__ import annotations

import hashlib
import threading
import time

import blake3
import pytest

from chatgenbench.benchmark.catalog import CatalogEntry, CatalogError
from chatgenbench.render.checkpoints import CheckpointWeights, WeightLocator, WeightRef
from chatgenbench.render.pipelines import PipelinePool
from chatgenbench.render.weight_checks import (
    WeightChecker,
    check_verify_mode,
    chosen_digest,
)

MB = 1 << 20


def _digests(data: bytes) -> dict[str, str]:
    sha = hashlib.sha256(data).hexdigest()
    return {"sha256": sha, "blake3": blake3.blake3(data).hexdigest(), "autov2": sha[:10].upper()}


@pytest.fixture
def weights_file(tmp_path):
    data = bytes(range(256)) * 40_000 + b"tail"  # ~10 MB: more than one read chunk
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    return path, _digests(data)


@pytest.mark.parametrize("algorithm", ["sha256", "blake3", "autov2"])
def test_each_digest_is_computed_while_reading_and_names_itself(weights_file, algorithm):
    path, digests = weights_file
    checker = WeightChecker(budget_bytes=0)
    future, hidden = checker.claim(str(path), (algorithm, digests[algorithm]))
    result = future.result(timeout=30)
    assert result.ok and result.algorithm == algorithm and not hidden
    assert result.actual.lower() == digests[algorithm].lower()
    assert result.bytes_read == path.stat().st_size
    assert checker.stats.checks_by_digest == {algorithm: 1}
    wrong = "0" * len(digests[algorithm])
    bad = checker.claim(str(path), (algorithm, wrong))[0].result(timeout=30)
    assert not bad.ok
    # the failure names the digest, the file and both values
    assert bad.problem() == (
        f"{algorithm} of {path} is {digests[algorithm]}, the catalogue expects {wrong}"
    )
    checker.close()


def test_the_fastest_strong_digest_given_is_the_one_checked():
    assert chosen_digest({"sha256": "a", "blake3": "b", "autov2": "c"}) == ("blake3", "b")
    assert chosen_digest({"sha256": "a", "autov2": "c"}) == ("sha256", "a")
    assert chosen_digest({"autov2": "c"}) == ("autov2", "c")
    assert chosen_digest({}) is None


@pytest.mark.parametrize("mode", ["first-load", "always", "never"])
def test_verify_modes_are_accepted(mode):
    assert check_verify_mode(mode) == mode


@pytest.mark.parametrize("mode", ["sometimes", "First-Load", "off", "1"])
def test_an_unknown_verify_mode_is_refused_naming_the_modes(mode):
    with pytest.raises(ValueError, match="first-load, always, never"):
        check_verify_mode(mode)


def _entry(weights: dict) -> CatalogEntry:
    return CatalogEntry(
        name="m", architecture="sd15", kind="checkpoint", extra={"weights": weights}
    )


def test_catalogue_accepts_blake3_and_autov2_and_the_identity_stays_sha256(weights_file, tmp_path):
    path, digests = weights_file
    both = CheckpointWeights.from_entry(_entry({"type": "single_file", "path": str(path),
                                                **digests}))  # fmt: skip
    assert both.digests()[0] == ("blake3", digests["blake3"])
    locator = WeightLocator(tmp_path / "index")
    ref = locator.status(_entry({"type": "single_file", "path": str(path), **digests})).ref
    assert ref.identity == f"sha256:{digests['sha256']}"  # the cache key does not change
    assert ref.check_digest() == ("blake3", digests["blake3"])
    only_b3 = {"type": "single_file", "path": str(path), "blake3": digests["blake3"]}
    ref = WeightLocator(tmp_path / "index2").status(_entry(only_b3)).ref
    assert ref.identity == f"blake3:{digests['blake3']}"
    assert not (tmp_path / "index2" / "weights_index.json").exists()  # planning read no bytes


def test_an_autov2_alone_is_checked_when_planning_against_the_files_sha256(weights_file, tmp_path):
    path, digests = weights_file
    locator = WeightLocator(tmp_path / "index")
    ok = locator.status(_entry({"type": "single_file", "path": str(path),
                                "autov2": digests["autov2"].lower()}))  # fmt: skip
    assert ok.present and ok.ref.identity == f"sha256:{digests['sha256']}"
    wrong = WeightLocator(tmp_path / "index").status(
        _entry({"type": "single_file", "path": str(path), "autov2": "ABCDEF0123"})
    )
    assert not wrong.present
    assert (
        wrong.reason == f"autov2 of {path} is {digests['autov2']}, the catalogue expects ABCDEF0123"
    )


@pytest.mark.parametrize(
    "field, value",
    [("blake3", "xyz"), ("blake3", "a" * 63), ("autov2", "ABCDEF012"), ("sha256", "g" * 64),
     ("autov2", "ABCDEF01234")],
)  # fmt: skip
def test_a_malformed_digest_is_refused_naming_the_field(field, value):
    with pytest.raises(CatalogError, match=f"catalogue model 'm': field 'weights': '{field}'"):
        CheckpointWeights.from_entry(_entry({"type": "single_file", "path": "/x.safetensors",
                                             field: value}))  # fmt: skip


def _ref(path, digests: dict[str, str], only: str) -> WeightRef:
    return WeightRef("m", "single_file", str(path), f"sha256:{digests['sha256']}", None,
                     path.stat().st_size, None, ((only, digests[only]),))  # fmt: skip


@pytest.mark.parametrize("algorithm", ["sha256", "blake3", "autov2"])
def test_pool_checks_by_mode_first_load_once_always_every_time_never_not(
    weights_file, tmp_path, algorithm
):
    path, digests = weights_file
    ref = _ref(path, digests, algorithm)
    index = str(tmp_path / "index")
    first = PipelinePool(index_dir=index, verify="first-load", readahead_bytes=0)
    assert first.digest_to_check(ref) == (algorithm, digests[algorithm])
    first._claim(ref)
    assert first.settle_checks(wait=True) == ("ok", None)
    assert first.files_verified == 1 and getattr(first, f"verified_{algorithm}") == 1
    # remembered by path, size and mtime: a later first-load pool does not read it again
    assert PipelinePool(index_dir=index, verify="first-load").digest_to_check(ref) is None
    always = PipelinePool(index_dir=index, verify="always", readahead_bytes=0)
    assert always.digest_to_check(ref) == (algorithm, digests[algorithm])
    for _ in range(2):
        always._claim(ref)
        assert always.settle_checks(wait=True) == ("ok", None)
    assert always.files_verified == 2
    never = PipelinePool(index_dir=index, verify="never")
    assert never.digest_to_check(_ref(path, {**digests, algorithm: "0" * 64}, algorithm)) is None
    for pool in (first, always, never):
        pool.close()


def test_a_wrong_file_fails_its_check_with_both_digests_and_is_checked_again(
    weights_file, tmp_path
):
    path, digests = weights_file
    wrong = {**digests, "blake3": "f" * 64}
    ref = _ref(path, wrong, "blake3")
    pool = PipelinePool(index_dir=str(tmp_path / "index"), verify="first-load", readahead_bytes=0)
    pool._claim(ref)
    state, why = pool.settle_checks(wait=True)
    assert state == "failed" and digests["blake3"] in why and "f" * 64 in why
    assert pool.check_failures == 1
    # the file's true digest is remembered, so the wrong one is never taken as checked
    assert pool.digest_to_check(ref) == ("blake3", "f" * 64)
    pool.close()


def _sparse(path, size: int):
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def _wait_until(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.02)


@pytest.mark.parametrize("budget_mb", [16, 40])
def test_read_ahead_never_holds_more_than_its_memory_budget(tmp_path, budget_mb):
    budget = budget_mb * MB
    files = [_sparse(tmp_path / f"ckpt{i}.safetensors", 48 * MB) for i in range(3)]
    zeros = hashlib.sha256(bytes(48 * MB)).hexdigest()
    checker = WeightChecker(budget_bytes=budget)
    for path in files:
        assert checker.read_ahead(str(path), ("sha256", zeros))
    # the reader stops at the budget and waits: no file is finished, nothing above the budget
    _wait_until(lambda: checker.stats.bytes_read_ahead >= budget - 8 * MB)
    time.sleep(0.3)
    assert checker.ahead_bytes() <= budget and checker.stats.peak_bytes_ahead <= budget
    assert checker.stats.bytes_read_ahead <= budget
    # a load claims the first file: it is read to its end, and its bytes leave the budget
    future, hidden = checker.claim(str(files[0]), ("sha256", zeros))
    assert not hidden and future.result(timeout=30).ok
    for path in files[1:]:
        result = checker.claim(str(path), ("sha256", zeros))[0].result(timeout=30)
        assert result.ok and result.bytes_read == 48 * MB
    assert checker.stats.peak_bytes_ahead <= budget
    assert checker.ahead_bytes() == 0
    checker.close()


def test_a_file_read_ahead_whole_makes_its_load_hidden_and_no_budget_reads_nothing(tmp_path):
    path = _sparse(tmp_path / "small.safetensors", 3 * MB)
    checker = WeightChecker(budget_bytes=64 * MB)
    assert checker.read_ahead(str(path), None)
    assert not checker.read_ahead(str(path), None)  # queued once
    _wait_until(lambda: checker.stats.bytes_read_ahead == 3 * MB)
    time.sleep(0.1)
    future, hidden = checker.claim(str(path), None)
    assert hidden and future.result(timeout=5) is None
    off = WeightChecker(budget_bytes=0)
    assert not off.read_ahead(str(path), None) and off.stats.bytes_read_ahead == 0
    for each in (checker, off):
        each.close()


def test_pool_reads_ahead_the_next_groups_files_but_not_a_checkpoint_it_holds(
    weights_file, tmp_path
):
    path, digests = weights_file
    other = tmp_path / "lora.safetensors"
    other.write_bytes(b"lora bytes")
    ref = _ref(path, digests, "sha256")
    lora = WeightRef("l", "single_file", str(other), "sha256:l", None, 10)
    pool = PipelinePool(index_dir=str(tmp_path / "index"), readahead_bytes=64 * MB)
    pool._pipelines[f"sd15:{ref.identity}"] = object()  # held in the LRU: no load to hide
    assert pool.read_ahead([(ref, "sd15", lora)]) == 1  # only the LoRA
    assert pool.read_ahead([(ref, "sdxl", None)]) == 1  # another architecture: a load
    pool.close()


def test_a_claimed_file_queued_behind_a_stalled_read_ahead_is_read_at_once(tmp_path):
    stalled = _sparse(tmp_path / "stalled.safetensors", 64 * MB)
    needed = tmp_path / "needed.safetensors"
    needed.write_bytes(b"needed now")
    checker = WeightChecker(budget_bytes=16 * MB)
    checker.read_ahead(str(stalled), None)  # stops at the budget, never claimed
    checker.read_ahead(str(needed), ("sha256", hashlib.sha256(b"needed now").hexdigest()))
    _wait_until(lambda: checker.stats.bytes_read_ahead >= 8 * MB)
    future, hidden = checker.claim(
        str(needed), ("sha256", hashlib.sha256(b"needed now").hexdigest())
    )
    assert future.result(timeout=10).ok and not hidden  # not stuck behind the stalled read
    checker.close()
    # closing stops the stalled reader instead of letting it read the rest of its file
    _wait_until(lambda: not any(t.name.startswith("weights-read-ahead") and t.is_alive()
                                for t in threading.enumerate()), 10)  # fmt: skip
    assert checker.stats.bytes_read_ahead <= 16 * MB


@pytest.mark.parametrize("mode", ["always", "never"])
def test_every_backend_gives_its_workers_the_verify_mode_and_budget(monkeypatch, mode):
    import sys
    import types

    from chatgenbench.render.backends import BackendOptions, build_worker
    from chatgenbench.render.ray_backend import RayBackend

    options = BackendOptions(device="cpu", dtype="float32", verify=mode, readahead_bytes=5 * MB)
    local = build_worker("cpu", options)
    assert (local.pool.verify, local.pool.readahead_bytes) == (mode, 5 * MB)
    made = []

    class Actor:  # stands for ray.remote(RenderWorker).options(...): records its arguments
        def remote(self, *args, **kwargs):
            made.append(kwargs)

    fake = types.SimpleNamespace(
        is_initialized=lambda: True,
        cluster_resources=lambda: {},
        remote=lambda cls: types.SimpleNamespace(options=lambda **_: Actor()),
    )
    monkeypatch.setitem(sys.modules, "ray", fake)
    RayBackend(options)
    assert made and all((kw["verify"], kw["readahead_bytes"]) == (mode, 5 * MB) for kw in made)
