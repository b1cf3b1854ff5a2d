"""A small generic registry: names to lazily imported implementations, with metadata.

Modelled on lm-evaluation-harness: an entry is either an object or a ``"module:attr"`` string that is
imported on first use, and an unknown name is answered with close matches.

Other installed packages extend a registry through an entry-point group (:data:`PLUGIN_GROUPS`):
a distribution that declares, in its ``pyproject.toml``::

    [project.entry-points."chatgenbench.baselines"]
    my-method = "my_package.adapter:MyAdapter"

is found by :func:`plugin_entry_points` and registered under ``my-method`` the first time the
registry is read, imported only when it is used.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from chatgenbench.core.errors import UnknownNameError

T = TypeVar("T")

#: What other installed packages may add, and the entry-point group each is found through.
PLUGIN_GROUPS: dict[str, str] = {
    "metric": "chatgenbench.metrics",
    "baseline": "chatgenbench.baselines",
    "render backend": "chatgenbench.render_backends",
}


def plugin_entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """Return the entry points that installed distributions declare in ``group``, by name.

    Nothing is imported: an entry point is loaded when it is used. Takes one of the groups of
    :data:`PLUGIN_GROUPS` (any group works); raises nothing.
    """
    return sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name)


def plugin_source(entry_point: importlib.metadata.EntryPoint) -> str:
    """Return ``"<distribution> <version>"`` of the package that declared an entry point."""
    dist = entry_point.dist
    if dist is None:
        return "an unknown distribution"
    return f"{dist.metadata['Name']} {dist.version}"


def unknown_name(kind: str, name: str, known: Iterable[str]) -> UnknownNameError:
    """Return the error for a ``kind`` named ``name`` that is not among ``known``, with close names.

    >>> str(unknown_name("baseline", "no-finetun", ["no-finetune", "retrieval"]))
    "Unknown baseline 'no-finetun'. Did you mean: no-finetune? Known: no-finetune, retrieval."
    """
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return UnknownNameError(f"Unknown {kind} {name!r}.{hint} Known: {', '.join(known) or 'none'}.")


@dataclass
class RegistryEntry:
    """One registered implementation and its metadata."""

    name: str
    target: Any
    metadata: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Map names to implementations, loaded lazily from ``"module:attr"`` strings.

    >>> reg = Registry("metric")
    >>> reg.register("answer", lambda: 42, higher_is_better=True)
    >>> reg.get("answer")()
    42
    """

    def __init__(self, kind: str, plugin_group: str | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, RegistryEntry] = {}
        self.plugin_group = plugin_group
        self._plugins_loaded = plugin_group is None

    def _load_plugins(self) -> None:
        """Register the entry points of :attr:`plugin_group` (once), as lazy ``module:attr``
        targets with ``plugin`` metadata naming their distribution. A plugin never replaces an
        entry of the same name: it is skipped with a warning that says so."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry_point in plugin_entry_points(self.plugin_group):
            if entry_point.name in self._entries:
                warnings.warn(
                    f"{plugin_source(entry_point)} declares the {self.kind} "
                    f"{entry_point.name!r}, which is already registered: it is ignored",
                    stacklevel=3,
                )
                continue
            self._entries[entry_point.name] = RegistryEntry(
                entry_point.name, entry_point.value, {"plugin": plugin_source(entry_point)}
            )

    def register(self, name: str, target: Any, **metadata: Any) -> None:
        """Register ``target`` (an object or a ``"module:attr"`` string) under ``name``."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = RegistryEntry(name, target, dict(metadata))

    def unregister(self, name: str) -> RegistryEntry:
        """Remove ``name`` and return its entry; raise :class:`UnknownNameError` when unknown."""
        entry = self.entry(name)
        del self._entries[name]
        return entry

    def decorator(self, name: str, **metadata: Any):
        """Return a decorator that registers the decorated object under ``name``."""

        def wrap(obj: T) -> T:
            self.register(name, obj, **metadata)
            return obj

        return wrap

    def entry(self, name: str) -> RegistryEntry:
        """Return the entry for ``name``; raise :class:`UnknownNameError` with suggestions."""
        self._load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            raise unknown_name(self.kind, name, self._entries) from None

    def get(self, name: str) -> T:
        """Return the implementation registered under ``name``, importing it if needed."""
        entry = self.entry(name)
        if isinstance(entry.target, str):
            module_name, _, attr = entry.target.partition(":")
            entry.target = getattr(importlib.import_module(module_name), attr)
        return entry.target

    def metadata(self, name: str) -> dict[str, Any]:
        """Return the metadata registered with ``name``."""
        return dict(self.entry(name).metadata)

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        self._load_plugins()
        return sorted(self._entries)

    def entries(self) -> list[RegistryEntry]:
        """Return every entry in registration order (the order in which a table shows them)."""
        self._load_plugins()
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
