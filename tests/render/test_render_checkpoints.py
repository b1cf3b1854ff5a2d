from __future__ import annotations

import hashlib
import http.server
import json
import threading

import pytest

from chatgenbench.benchmark.catalog import (
    CatalogEntry,
    CatalogError,
    ModelCatalog,
    overlay_catalog,
    sample_catalog,
)
from chatgenbench.benchmark.loading import load_benchmark_catalog
from chatgenbench.render.checkpoints import (
    CheckpointWeights,
    ResolvedModel,
    WeightLocator,
    WeightsError,
    fetch_weights,
    resolve_model,
    verify_weights,
)


def entry(name="m", kind="checkpoint", arch="sd15", **extra) -> CatalogEntry:
    return CatalogEntry(name=name, architecture=arch, kind=kind, extra=extra)


@pytest.mark.parametrize(
    "weights, message",
    [
        ({"type": "zip", "path": "x"}, "'type' must be one of"),
        ({"type": "single_file"}, "needs 'path'"),
        ({"type": "hub"}, "needs 'repo_id'"),
        ({"type": "civitai", "version_id": 1, "token": "x"}, "unknown keys"),
        (["x"], "expected an object"),
    ],
)
def test_malformed_weight_fields_are_refused_with_the_model_named(weights, message):
    with pytest.raises(CatalogError, match=message) as error:
        CheckpointWeights.from_entry(entry(weights=weights))
    assert "'m'" in str(error.value)


def test_overlay_adds_weights_and_resolves_relative_paths(tmp_path):
    overlay = tmp_path / "weights.jsonl"
    overlay.write_text(
        json.dumps({"name": "RAWXS_V2.safetensors", "weights": {"type": "single_file",
                    "path": "ckpt/rawXs_v2.safetensors", "config": "configs/sd15"}}) + "\n"
        + json.dumps({"name": "new_model", "architecture": "sdxl", "kind": "checkpoint",
                      "weights": {"type": "diffusers", "path": "/abs/new"}}) + "\n"
    )  # fmt: skip
    catalog = overlay_catalog(sample_catalog(), overlay)
    assert len(catalog) == len(sample_catalog()) + 1
    rawxs = catalog.get("rawXs_v2")
    assert rawxs.description  # the base entry's other fields are kept
    assert rawxs.extra["weights"]["path"] == str(tmp_path / "ckpt" / "rawXs_v2.safetensors")
    assert rawxs.extra["weights"]["config"] == str(tmp_path / "configs" / "sd15")
    assert catalog.get("new_model").extra["weights"]["path"] == "/abs/new"


def test_overlay_rejects_a_new_model_without_architecture(tmp_path):
    overlay = tmp_path / "weights.jsonl"
    overlay.write_text(json.dumps({"name": "mystery", "weights": "/x.safetensors"}) + "\n")
    with pytest.raises(CatalogError, match="line 1.*architecture"):
        overlay_catalog(sample_catalog(), overlay)


def test_present_missing_and_wrong_checksum_files(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    locator = WeightLocator(tmp_path / "cache")
    ok = locator.status(entry("ok", weights={"type": "single_file", "path": str(weights),
                                             "sha256": digest.upper()}))  # fmt: skip
    assert ok.present and ok.ref.identity == f"sha256:{digest}" and ok.ref.size_bytes == 7
    # planning trusts the catalogue's sha256 and reads no bytes; the first load checks it
    assert ok.ref.verify_sha256 == digest
    assert not (tmp_path / "cache" / "weights_index.json").exists()
    wrong_spec = {"type": "single_file", "path": str(weights), "sha256": "0" * 64}
    planned = locator.status(entry("wrong", weights=wrong_spec))
    assert planned.present and planned.ref.verify_sha256 == "0" * 64
    with pytest.raises(WeightsError, match="catalogue expects 0000"):
        verify_weights(planned.ref, locator)
    assert verify_weights(ok.ref, locator) == 0.0  # remembered by the failed check's hashing
    # once the file's digest is known here, a wrong catalogue sha256 is caught when planning
    wrong = WeightLocator(tmp_path / "cache").status(entry("wrong", weights=wrong_spec))
    assert not wrong.present and "sha256" in wrong.reason
    absent = locator.status(entry("absent", weights=str(tmp_path / "nope.safetensors")))
    assert not absent.present and "not found" in absent.reason and absent.how_to_get
    pickle = tmp_path / "old.ckpt"
    pickle.write_bytes(b"x")
    unsafe = locator.status(entry("unsafe", weights={"type": "single_file", "path": str(pickle)}))
    assert not unsafe.present and "only safetensors" in unsafe.reason
    none = locator.status(entry("none"))
    assert not none.present and "names no weights" in none.reason
    hub = locator.status(entry("hub", weights={"type": "hub", "repo_id": "nobody/nothing-here"}))
    assert not hub.present and "chatgenbench models fetch hub" in hub.how_to_get
    # the fingerprint index remembers the file's hash by size and mtime
    index = json.loads((tmp_path / "cache" / "weights_index.json").read_text())
    assert index[str(weights.resolve())]["sha256"] == digest


def test_lora_resolves_onto_its_base_and_reports_a_missing_base(tmp_path):
    lora_file = tmp_path / "lora.safetensors"
    lora_file.write_bytes(b"lora")
    base_file = tmp_path / "base.safetensors"
    base_file.write_bytes(b"base")
    catalog = ModelCatalog([
        entry("style", "lora", weights=str(lora_file), lora_scale=0.5),
        entry("other_style", "lora", weights=str(lora_file), base="xl_base"),
        entry("v1-5-pruned-emaonly", weights=str(base_file)),
        entry("xl_base", arch="sdxl", weights=str(base_file)),
        entry("orphan", "lora", arch="sdxl", weights=str(lora_file)),
    ])  # fmt: skip
    locator = WeightLocator()
    resolved = resolve_model("style", catalog, locator)
    assert isinstance(resolved, ResolvedModel)
    assert resolved.base == "v1-5-pruned-emaonly" and resolved.lora_scale == 0.5
    assert resolved.checkpoint.path == str(base_file) and resolved.lora.path == str(lora_file)
    mismatch = resolve_model("other_style", catalog, locator)
    assert not isinstance(mismatch, ResolvedModel) and "is sd15 but its base" in mismatch.reason
    orphan = resolve_model("orphan", catalog, locator)  # default SDXL base not in this catalogue
    assert not isinstance(orphan, ResolvedModel) and "sd_xl_base_1.0" in orphan.reason
    chosen = resolve_model("orphan", catalog, locator, {"sdxl": "xl_base"})
    assert isinstance(chosen, ResolvedModel) and chosen.base == "xl_base"


class _Handler(http.server.BaseHTTPRequestHandler):
    payload = b"civitai safetensors bytes"
    seen_auth: list[str | None] = []

    def do_GET(self):  # noqa: N802 (http.server API)
        type(self).seen_auth.append(self.headers.get("Authorization"))
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args):
        pass


def test_civitai_fetch_uses_the_token_checks_sha256_and_caches(tmp_path, monkeypatch):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/models/{{version_id}}"
        monkeypatch.setenv("CHATGENBENCH_CIVITAI_URL", url)
        monkeypatch.setenv("CIVITAI_TOKEN", "secret-token")
        digest = hashlib.sha256(_Handler.payload).hexdigest()
        good = entry("c", weights={"type": "civitai", "version_id": 128713, "sha256": digest})
        locator = WeightLocator(tmp_path / "cache", fetch_dir=tmp_path / "weights")
        before = locator.status(good)
        assert not before.present and "CIVITAI_TOKEN" in before.how_to_get
        status = fetch_weights(good, locator)
        assert status.present
        assert (tmp_path / "weights" / "civitai" / "128713.safetensors").read_bytes() == (
            _Handler.payload
        )
        assert _Handler.seen_auth[-1] == "Bearer secret-token"
        bad = entry("d", weights={"type": "civitai", "version_id": 99, "sha256": "1" * 64})
        with pytest.raises(WeightsError, match="does not match"):
            fetch_weights(bad, locator)
        assert not (tmp_path / "weights" / "civitai" / "99.safetensors").exists()
        assert not list((tmp_path / "weights" / "civitai").glob(".*"))
    finally:
        server.shutdown()


def test_render_catalog_without_overlay_is_the_benchmarks():
    assert load_benchmark_catalog("sample").names() == sample_catalog().names()


def test_hub_weights_are_found_in_the_local_hub_cache_by_commit(tmp_path, monkeypatch):
    import huggingface_hub.constants

    commit = "a" * 40
    repo = tmp_path / "hub" / "models--someone--tiny-sd"
    snapshot = repo / "snapshots" / commit
    (snapshot / "unet").mkdir(parents=True)
    (snapshot / "model_index.json").write_text("{}")
    (snapshot / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"0" * 10)
    (snapshot / "lora.safetensors").write_bytes(b"1" * 5)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    locator = WeightLocator()
    folder = locator.status(entry("f", weights={"type": "hub", "repo_id": "someone/tiny-sd"}))
    assert folder.present, folder.reason
    assert folder.ref.form == "diffusers" and folder.ref.identity == f"hub:someone/tiny-sd@{commit}"
    assert folder.ref.size_bytes == 12
    single = locator.status(entry("s", "lora", weights={
        "type": "hub", "repo_id": "someone/tiny-sd", "filename": "lora.safetensors"}))  # fmt: skip
    assert single.present and single.ref.form == "single_file"
    assert single.ref.identity == f"hub:someone/tiny-sd@{commit}/lora.safetensors"


@pytest.mark.parametrize("version", ["../../etc/x", "12/34", "1e3", "١٢٣"])
def test_a_civitai_version_that_is_not_a_number_is_refused(version):
    with pytest.raises(CatalogError, match="version"):
        CheckpointWeights.from_entry(entry(weights={"type": "civitai", "version_id": version}))


def test_a_civitai_download_is_never_written_through_a_link(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "civitai").symlink_to(outside, target_is_directory=True)
    monkeypatch.setenv("CHATGENBENCH_CIVITAI_URL", "http://127.0.0.1:9/{version_id}")
    good = entry("c", weights={"type": "civitai", "version_id": 5, "sha256": "0" * 64})
    with pytest.raises(WeightsError, match="symbolic link"):
        fetch_weights(good, WeightLocator(tmp_path / "cache", fetch_dir=weights))
    assert list(outside.iterdir()) == []
