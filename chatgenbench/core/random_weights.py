"""Random demo weights: how they are marked, and how a result records that it used them.

``chatgenbench weights demo OUT`` (:func:`chatgenbench.testing.demo_weights.write_demo_weights`)
writes random-weight checkpoints, LoRAs and metric models. Each of them is marked twice: the
folder holds :data:`MARKER_NAME`, and each line of its catalogue overlay has
``"random_weights": true``. A result whose images were rendered by such a checkpoint, or scored by
such a metric model, says so in ``results["random_weights"]`` (:func:`random_weights_block`), and
:func:`chatgenbench.scoring.result_schema.comparability_key` keeps it apart from results made with real
weights: the leaderboard never ranks the two side by side.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MARKER_NAME = "RANDOM_DEMO_WEIGHTS.txt"
#: The catalogue field that marks an entry's weights as random.
CATALOG_FIELD = "random_weights"
#: The label that :func:`chatgenbench.scoring.result_schema.comparability_key` adds for such results.
COMPARABILITY_LABEL = "RANDOM DEMO WEIGHTS (images and scores mean nothing)"
MARKER_TEXT = (
    "RANDOM DEMO WEIGHTS. Every model under this folder has seeded random weights, written by\n"
    "'chatgenbench weights demo'. Their images are noise and their scores mean nothing; results\n"
    "made with them are labelled so and never ranked beside results made with real weights.\n"
)
_MAX_PARENTS = 6
#: How every page and command names results made with random demo weights.
DEMO_WEIGHTS_LABEL = "RANDOM demo weights"
_DEMO_WEIGHTS_SOURCE = f"Made with {DEMO_WEIGHTS_LABEL} ('chatgenbench weights demo')"


def is_random_weights(path: str | os.PathLike | None) -> bool:
    """True when ``path`` (a file or folder) or one of its few nearest parents holds the marker."""
    if not path:
        return False
    current = Path(path).expanduser()
    for _ in range(_MAX_PARENTS):
        folder = current if current.is_dir() else current.parent
        if (folder / MARKER_NAME).is_file():
            return True
        if folder.parent == folder:
            return False
        current = folder.parent
    return False


def _loaded_paths(described: Any) -> Iterable[str]:
    """Yield every ``loaded_from`` value (and local paths) of a metric's described settings."""
    if isinstance(described, dict):
        for key, value in described.items():
            if isinstance(value, str) and key in {"loaded_from", "checkpoint", "model", "path"}:
                yield value
            else:
                yield from _loaded_paths(value)
    elif isinstance(described, list):
        for value in described:
            yield from _loaded_paths(value)


def random_weights_of(results: dict[str, Any] | None) -> dict[str, Any]:
    """Return a result's ``random_weights`` block (:func:`random_weights_block`), or ``{}`` when
    it has none or it is not an object: what every reader of the block goes through."""
    block = (results or {}).get("random_weights")
    return block if isinstance(block, dict) else {}


def uses_random_weights(results: dict[str, Any] | None) -> bool:
    """True when a result says that random demo weights made its images or scored them."""
    return random_weights_of(results).get("used") is True


def demo_weights_warning(who: Iterable[str] = ()) -> str:
    """Return the one sentence every surface shows where random demo weights made what it shows
    (the leaderboard's ranking, gallery, side by side, details and vote pair; ``compare``,
    ``ablate`` and ``votes summary``), naming ``who`` (submissions, files, ``A``/``B``) if given.

    >>> demo_weights_warning(["demo"])
    "Made with RANDOM demo weights ('chatgenbench weights demo'): demo. Their images are noise and their image scores mean nothing."
    """
    names = ", ".join(str(name) for name in who)
    if names:
        return (
            f"{_DEMO_WEIGHTS_SOURCE}: {names}. Their images are noise and their image scores "
            "mean nothing."
        )
    return f"{_DEMO_WEIGHTS_SOURCE}: the images are noise and the image scores mean nothing."


def random_weights_block(
    catalog: Any,
    render_models: Iterable[str] = (),
    metric_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return ``results["random_weights"]``: which models with random weights made this result.

    ``catalog`` is the :class:`chatgenbench.benchmark.catalog.ModelCatalog` the images were rendered with,
    ``render_models`` the catalogue names of the models that gave an image, ``metric_settings``
    the ``metric_settings.image`` block (each metric's ``loaded_from``).
    """
    render = []
    for name in sorted(set(render_models)):
        entry = catalog.get(name) if catalog is not None else None
        if entry is None:
            continue
        weights = entry.extra.get("weights")
        path = weights.get("path") if isinstance(weights, dict) else weights
        if entry.extra.get(CATALOG_FIELD) or is_random_weights(path):
            render.append(entry.name)
    metrics = []
    for name, described in (metric_settings or {}).items():
        if name == "not_loaded" or not isinstance(described, dict):
            continue
        if any(is_random_weights(path) for path in _loaded_paths(described)):
            metrics.append(name)
    used = bool(render or metrics)
    return {
        "used": used,
        "render_models": render,
        "metric_models": sorted(metrics),
        "note": (
            "made with RANDOM demo weights: the images are noise and the image scores mean "
            "nothing; never ranked beside results made with real weights"
            if used
            else "no model with random demo weights was used"
        ),
    }
