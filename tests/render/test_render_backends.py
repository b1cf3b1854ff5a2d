from __future__ import annotations

import pytest

from chatgenbench.core.errors import UnknownNameError
from chatgenbench.render import render_predictions
from chatgenbench.render.backends import (
    RENDER_BACKENDS,
    BackendOptions,
    LocalBackend,
    OutcomeSink,
    ProgressCallback,
    RenderBackend,
    backend_names,
    create_backend,
)
from chatgenbench.render.planning import RenderRequest
from chatgenbench.render.worker import RenderWorker, WorkerStats
from tests.conftest import RENDERABLE


class CountingBackend:
    """A backend written from the Protocol alone: one worker in this process, counting groups.

    It keeps the cache to the sink (the workers get no cache folder and return PNG bytes).
    """

    built: list[CountingBackend] = []

    def __init__(self, options: BackendOptions) -> None:
        self.options = options
        self.groups = 0
        CountingBackend.built.append(self)

    @property
    def n_workers(self) -> int:
        return 1

    def run(
        self,
        groups: list[list[RenderRequest]],
        sink: OutcomeSink,
        progress: ProgressCallback | None = None,
    ) -> WorkerStats:
        import torch

        threads = torch.get_num_threads()
        try:
            worker = RenderWorker(
                self.options.device, self.options.dtype, capacity=self.options.capacity,
                batch_size=self.options.batch_size, threads=self.options.threads,
            )  # fmt: skip
            for group in groups:
                self.groups += 1
                for outcome in worker.iter_group(group, cache_root=None):
                    sink(outcome)
                if progress:
                    progress(worker.stats)
        finally:
            torch.set_num_threads(threads)
        return worker.stats


@pytest.fixture
def counting_backend():
    RENDER_BACKENDS.register("counting", CountingBackend, description="test: counts its groups")
    CountingBackend.built.clear()
    try:
        yield "counting"
    finally:
        RENDER_BACKENDS.unregister("counting")


def test_a_registered_backend_renders_the_same_images_as_local(
    counting_backend, sample_run, tiny_models, tmp_path
):
    folder, predictions, local = sample_run
    assert counting_backend in backend_names()
    report = render_predictions(
        predictions, "sample", catalog=tiny_models.overlay, out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache", backend=counting_backend, threads=1, progress=False,
    )  # fmt: skip
    (backend,) = CountingBackend.built
    assert isinstance(backend, RenderBackend)
    assert backend.groups == 5 == report.summary["performance"]["groups"]
    assert report.summary["settings"]["backend"] == "counting"
    assert report.summary["settings"]["workers"] == 1
    assert {r.id for r in report.records if r.status == "rendered"} == RENDERABLE
    for ours, theirs in zip(report.records, local.records, strict=True):
        assert ours.cache_key == theirs.cache_key and ours.status == theirs.status
        if ours.has_image:
            assert (tmp_path / "out" / ours.image).read_bytes() == (
                folder / "out" / theirs.image
            ).read_bytes()
    assert len(list((tmp_path / "cache").glob("*/*.png"))) == 5  # the sink stored the PNGs


def test_unregistered_backends_are_gone(counting_backend):
    RENDER_BACKENDS.unregister(counting_backend)
    assert counting_backend not in backend_names()
    with pytest.raises(UnknownNameError, match="Unknown render backend 'counting'"):
        create_backend(counting_backend, BackendOptions(device="cpu", dtype="float32"))
    RENDER_BACKENDS.register(counting_backend, CountingBackend)  # for the fixture to remove


def test_every_backend_is_described_and_local_follows_the_protocol():
    assert {"local", "ray"} <= set(backend_names())
    for name in backend_names():
        assert RENDER_BACKENDS.metadata(name)["description"]
    local = create_backend("local", BackendOptions(device="cpu", dtype="float32", workers=2))
    assert isinstance(local, LocalBackend) and isinstance(local, RenderBackend)
    assert local.n_workers == 2
    with pytest.raises(UnknownNameError, match="Did you mean: local?"):
        create_backend("locl", BackendOptions(device="cpu", dtype="float32"))
