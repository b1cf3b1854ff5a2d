"""The metric registry: every metric of ChatGenBench registered once, by name, with its metadata.

:data:`METRICS` holds every metric of ChatGenBench in display order with its metadata, and the rest
of the harness iterates it instead of listing metrics by hand: the results schema documents and
checks one key per metric, image scoring runs every image metric, the leaderboard makes one column
per metric (label, direction, format), the command line makes each image metric's flags from its
options, a worker's deployment file resolves the options they mark as paths, ``chatgenbench
weights demo`` has each write its random weights, and ``chatgenbench weights status`` lists the
weights they need.

Metadata of every entry:

- ``stage``: ``"stepwise"`` (``block["stepwise"][name]``), ``"image"`` (``block["image"][name]``)
  or ``"final"`` (``block[name]``: the Unified Metric);
- ``label`` and ``fmt``: how a table shows it (``"FID"``, ``"{:.1f}"``);
- ``higher_is_better``: the direction every ranking reads;
- ``scale``: ``"raw"``, ``"x1"`` or ``"x100"`` (the paper prints image scores ×100);
- ``description``: what the value is, for the results schema.

An image metric registers with :func:`register_image_metric` (its metadata read from the class,
see :class:`chatgenbench.metrics.base.ImageMetric`). The built-in metrics register themselves in
their own modules (:data:`BUILTIN_MODULES`), which :data:`METRICS` imports the first time it is
read, then the metrics other installed packages declare in the ``chatgenbench.metrics``
entry-point group.
"""

from __future__ import annotations

import importlib
from typing import Any

from chatgenbench.core.registry import Registry, RegistryEntry
from chatgenbench.metrics.base import ImageMetric

STAGES: tuple[str, ...] = ("stepwise", "image", "final")
#: The modules that register the built-in metrics, in display order.
BUILTIN_MODULES: tuple[str, ...] = (
    "chatgenbench.metrics.bertscore",
    "chatgenbench.metrics.stepwise",
    "chatgenbench.metrics.fid",
    "chatgenbench.metrics.clip_score",
    "chatgenbench.metrics.hps",
    "chatgenbench.metrics.image_reward",
    "chatgenbench.metrics.unified",
)


class MetricRegistry(Registry):
    """The registry of metrics: reading it first imports :data:`BUILTIN_MODULES` (once).

    The display order is worked out once and kept until a metric is registered or removed: the
    results schema, the leaderboard and the scorers read it for every slice and every cell.
    """

    def __init__(self) -> None:
        super().__init__("metric")
        self._builtins_loaded = False
        self._ordered: list[RegistryEntry] | None = None
        self._by_stage: dict[str, tuple[str, ...]] = {}

    def _load_builtins(self) -> None:
        if not self._builtins_loaded:
            self._builtins_loaded = True  # set first: the modules register while being imported
            for module in BUILTIN_MODULES:
                importlib.import_module(module)
            self._load_metric_plugins()

    def _load_metric_plugins(self) -> None:
        """Import the metrics other installed packages declare in the ``chatgenbench.metrics``
        entry-point group: a module that registers its metrics when imported, or an
        :class:`ImageMetric` subclass, registered here. A metric's metadata (stage, label,
        direction) is needed to list the registry, so plugins are imported when it is first read.
        One that cannot be imported is skipped with a warning naming it and the error."""
        import warnings

        from chatgenbench.core.registry import PLUGIN_GROUPS, plugin_entry_points, plugin_source

        for entry_point in plugin_entry_points(PLUGIN_GROUPS["metric"]):
            try:
                loaded = entry_point.load()
            except Exception as error:  # a broken plugin must not take the built-in metrics down
                warnings.warn(
                    f"metric plugin {entry_point.name!r} of {plugin_source(entry_point)} could not "
                    f"be imported and is skipped: {type(error).__name__}: {error}",
                    stacklevel=2,
                )
                continue
            if isinstance(loaded, type) and issubclass(loaded, ImageMetric):
                if not any(e.target is loaded for e in self._entries.values()):
                    register_image_metric(loaded)

    def register(self, name: str, target: Any, **metadata: Any) -> None:
        """Register a metric; ``stage``, ``label``, ``higher_is_better`` and ``fmt`` are required."""
        missing = [k for k in ("stage", "label", "higher_is_better", "fmt") if k not in metadata]
        if missing:
            raise ValueError(f"metric {name!r} is registered without {', '.join(missing)}")
        if metadata["stage"] not in STAGES:
            raise ValueError(f"metric {name!r}: stage must be one of {STAGES}")
        metadata.setdefault("scale", "raw")
        metadata.setdefault("description", "")
        super().register(name, target, **metadata)
        self._ordered, self._by_stage = None, {}

    def unregister(self, name: str) -> RegistryEntry:
        """Remove metric ``name`` and return its entry (see :meth:`Registry.unregister`)."""
        entry = super().unregister(name)
        self._ordered, self._by_stage = None, {}
        return entry

    def entry(self, name: str) -> RegistryEntry:
        """Return the entry of ``name`` (see :meth:`Registry.entry`)."""
        self._load_builtins()
        return super().entry(name)

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        self._load_builtins()
        return super().names()

    def entries(self) -> list[RegistryEntry]:
        """Return every metric in display order: by stage, then the built-ins in the order of
        :data:`BUILTIN_MODULES`, then the others in registration order."""
        self._load_builtins()
        if self._ordered is None:
            self._ordered = self._display_order(super().entries())
        return list(self._ordered)

    @staticmethod
    def _display_order(registered: list[RegistryEntry]) -> list[RegistryEntry]:
        def position(item: tuple[int, RegistryEntry]) -> tuple[int, int, int]:
            index, entry = item
            module = getattr(entry.target, "__module__", None)
            builtin = (
                BUILTIN_MODULES.index(module) if module in BUILTIN_MODULES else len(BUILTIN_MODULES)
            )
            return (STAGES.index(entry.metadata["stage"]), builtin, index)

        return [entry for _, entry in sorted(enumerate(registered), key=position)]

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return super().__contains__(name)

    def is_builtin(self, name: str) -> bool:
        """Whether ``name`` is one of ChatGenBench's own metrics (not one registered by a user)."""
        return getattr(self.entry(name).target, "__module__", None) in BUILTIN_MODULES

    def names_of(self, stage: str) -> tuple[str, ...]:
        """Return the names of one stage's metrics, in display order."""
        if stage not in self._by_stage:
            names = tuple(e.name for e in self.entries() if e.metadata["stage"] == stage)
            self._by_stage[stage] = names
        return self._by_stage[stage]

    def image_metrics(self) -> list[type[ImageMetric]]:
        """Return the image-metric classes, in display order."""
        return [self.get(name) for name in self.names_of("image")]


#: Every metric of ChatGenBench, in display order.
METRICS = MetricRegistry()


def register_image_metric(cls: type[ImageMetric]) -> type[ImageMetric]:
    """Register an :class:`ImageMetric` subclass under its ``name`` (usable as a decorator).

    Its metadata is read from the class. Raises ValueError for a name already registered or a
    class without the attributes of the contract.
    """
    for attribute in ("name", "label", "higher_is_better", "description"):
        if not isinstance(getattr(cls, attribute, None), (str, bool)):
            raise ValueError(f"{cls.__name__} must set the class attribute {attribute!r}")
    METRICS.register(
        cls.name,
        cls,
        stage="image",
        label=cls.label,
        higher_is_better=cls.higher_is_better,
        fmt=cls.fmt,
        scale=f"x{cls.scale:g}",
        description=cls.description,
    )
    return cls
