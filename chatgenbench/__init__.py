"""ChatGenBench: the evaluation harness for automatic text-to-image generation (ChatGen, Jia et al.).

The heavy entry points are imported lazily so that ``import chatgenbench`` and ``chatgenbench --help``
stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatgenbench.core.version import __version__

__all__ = [
    "__version__",
    "evaluate",
    "load_benchmark",
    "load_catalog",
    "validate_predictions",
]

_LAZY = {
    "evaluate": "chatgenbench.scoring.evaluation:evaluate",
    "load_benchmark": "chatgenbench.benchmark.loading:load_benchmark",
    "load_catalog": "chatgenbench.benchmark.catalog:load_catalog",
    "validate_predictions": "chatgenbench.predictions.validation:validate_predictions",
}

if TYPE_CHECKING:  # pragma: no cover
    from chatgenbench.benchmark.catalog import load_catalog
    from chatgenbench.benchmark.loading import load_benchmark
    from chatgenbench.predictions.validation import validate_predictions
    from chatgenbench.scoring.evaluation import evaluate


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name].split(":")
        return getattr(importlib.import_module(module_name), attr)
    raise AttributeError(f"module 'chatgenbench' has no attribute {name!r}")
