from __future__ import annotations

import pytest

from tests.conftest import RENDERABLE

ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_backend_with_two_cpu_actors_matches_the_local_backend(
    local_ray, sample_run, tiny_models, tmp_path
):
    from chatgenbench.render import render_predictions

    folder, predictions, local = sample_run
    report = render_predictions(
        predictions, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache", backend="ray", ray_actors=2, threads=1, progress=False,
    )  # fmt: skip
    assert report.summary["settings"]["backend"] == "ray"
    assert report.summary["settings"]["workers"] == 2
    assert {r.id for r in report.records if r.status == "rendered"} == RENDERABLE
    performance = report.summary["performance"]
    # whole groups go to one actor each: one load per distinct checkpoint, never more
    assert performance["checkpoint_loads"] == 5 and performance["lora_loads"] == 2
    for ours, theirs in zip(report.records, local.records):
        assert ours.cache_key == theirs.cache_key and ours.status == theirs.status
        if ours.has_image:  # same device, same batches, same seeds: the same pixels
            assert (tmp_path / "out" / ours.image).read_bytes() == (
                folder / "out" / theirs.image
            ).read_bytes()


def test_ray_backend_without_a_shared_cache_returns_images_to_the_driver(
    local_ray, sample_run, tiny_models, tmp_path
):
    from chatgenbench.render.backends import BackendOptions
    from chatgenbench.render.planning import RenderRequest
    from chatgenbench.render.ray_backend import RayBackend

    folder, _, local = sample_run
    options = BackendOptions(device="cpu", dtype="float32", threads=1,
                             extra={"ray_actors": 1, "shared_cache": False})  # fmt: skip
    backend = RayBackend(options)
    assert not backend.shared_cache
    outcomes = []
    # a group whose checkpoint cannot be loaded fails cleanly and is reported per request
    from dataclasses import replace

    from chatgenbench.render.checkpoints import WeightRef

    broken = WeightRef("broken", "single_file", str(tmp_path / "missing.safetensors"), "sha256:0")
    request = RenderRequest(
        key="k" * 64, model="broken", architecture="sd15", checkpoint=broken, lora=None,
        lora_scale=1.0, prompt="x", negative_prompt="", arguments=_arguments(), dtype="float32",
        device_type="cpu",
    )  # fmt: skip
    good = replace(request, key="g" * 64, checkpoint=_first_checkpoint(local), model="ok")
    stats = backend.run([[request], [good]], outcomes.append)
    by_key = {o.key: o for o in outcomes}
    assert not by_key["k" * 64].ok and "loading broken" in by_key["k" * 64].error
    assert by_key["g" * 64].ok and by_key["g" * 64].png.startswith(b"\x89PNG")
    assert stats.images == 1


def _arguments():
    from chatgenbench.render.arguments import normalise_arguments

    return normalise_arguments(
        {"sampler": "Euler", "steps": 2, "cfg_scale": 7, "width": 64, "height": 64}
    )


def _first_checkpoint(local_report):
    from chatgenbench.benchmark.loading import load_benchmark_catalog
    from chatgenbench.render.checkpoints import WeightLocator, resolve_model

    record = next(r for r in local_report.records if r.id == "sample-0002")
    summary = local_report.summary
    catalog = load_benchmark_catalog("sample", summary["provenance"]["catalog"].split(" (")[0])
    return resolve_model(record.model, catalog, WeightLocator()).checkpoint
