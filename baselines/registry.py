"""The baselines by name: the four built in, and those of other installed packages.

:data:`BASELINES` maps a name to an adapter factory (a class or function that takes the adapter's
options as keyword arguments and returns an :class:`chatgenbench.predictions.adapters.Adapter`),
loaded on first use. The built-in ones are the adapter modules of this package. Another installed
package adds one by declaring it in the ``chatgenbench.baselines`` entry-point group
(:data:`chatgenbench.core.registry.PLUGIN_GROUPS`)::

    [project.entry-points."chatgenbench.baselines"]
    my-method = "my_package.adapter:MyAdapter"

``chatgenbench baseline list`` lists them and ``chatgenbench baseline run NAME`` runs one; the
prediction stage itself (:func:`chatgenbench.predictions.adapters.run_adapter`) takes the adapter,
never a name.
"""

from __future__ import annotations

import os
from typing import Any

from chatgenbench.core.registry import PLUGIN_GROUPS, Registry
from chatgenbench.predictions.adapters import Adapter, instantiate_adapter

#: Adapter factories by name, each built-in one with a ``description`` (a plugin's entry carries
#: ``plugin``: its distribution and version).
BASELINES: Registry = Registry("baseline", plugin_group=PLUGIN_GROUPS["baseline"])
BASELINES.register(
    "no-finetune",
    "baselines.no_finetune:NoFinetuneAdapter",
    description="the paper's Baseline: the chat as prompt, one default model, fixed arguments "
    "(optionally a local LLM rewrites the prompt)",
)
BASELINES.register(
    "retrieval",
    "baselines.retrieval:RetrievalAdapter",
    description="MiniLM nearest train rows (or catalogue descriptions): majority model, its "
    "common arguments; CPU only",
)
BASELINES.register(
    "chatgen-base",
    "baselines.chatgen_base:ChatGenBaseAdapter",
    description="ChatGen-Base (InternVL2) checkpoint named by the user; free-text answer parsed",
)
BASELINES.register(
    "chatgen-evo",
    "baselines.chatgen_evo:ChatGenEvoAdapter",
    description="ChatGen-Evo's three stages: MLLM prompt, ModelTokens selection, in-context "
    "arguments (local weights)",
)


def baseline_description(name: str) -> str:
    """Return what a baseline is: its registered description, else (a plugin) the first line of
    its factory's docstring and the package that declared it. Imports a plugin to read it."""
    metadata = BASELINES.metadata(name)
    if metadata.get("description"):
        return metadata["description"]
    doc = (getattr(BASELINES.get(name), "__doc__", None) or "").strip()
    first = doc.splitlines()[0] if doc else ""
    return f"{first} (from {metadata.get('plugin', 'a plugin')})".strip()


def build_adapter(
    name: str,
    options: dict[str, Any] | None = None,
    *,
    options_file: str | os.PathLike | None = None,
) -> Adapter:
    """Return the baseline registered as ``name`` built with keyword options (``options_file``
    first, ``options`` over it; see :func:`chatgenbench.predictions.adapters.instantiate_adapter`).

    Raises :class:`chatgenbench.core.errors.UnknownNameError` (with close names) for an unknown
    baseline and :class:`chatgenbench.core.errors.AdapterOptionError` for an option it lacks.
    """
    return instantiate_adapter(BASELINES.get(name), options, options_file=options_file, name=name)
