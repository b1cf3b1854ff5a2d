"""ChatGenBench: the evaluation harness for automatic text-to-image generation (ChatGen, Jia et al.).

The heavy entry points are imported lazily so that ``import chatgenbench`` and ``chatgenbench --help``
stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "evaluate",
    "load_benchmark",
    "load_catalog",
    "validate_predictions",
]

_LAZY = {
    "evaluate": "chatgenbench.evaluation:evaluate",
    "load_benchmark": "chatgenbench.benchmark:load_benchmark",
    "load_catalog": "chatgenbench.catalog:load_catalog",
    "validate_predictions": "chatgenbench.predictions:validate_predictions",
}

if TYPE_CHECKING:  # pragma: no cover
    from chatgenbench.benchmark import load_benchmark
    from chatgenbench.catalog import load_catalog
    from chatgenbench.evaluation import evaluate
    from chatgenbench.predictions import validate_predictions


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name].split(":")
        return getattr(importlib.import_module(module_name), attr)
    raise AttributeError(f"module 'chatgenbench' has no attribute {name!r}")
