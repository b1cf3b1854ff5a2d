"""The contract of an image metric: :class:`ImageMetric`, and :class:`PerImageMetric` for those
that score each image against its text.

**An image metric** is a subclass of :class:`ImageMetric` (per-image scores: of
:class:`PerImageMetric`, which only needs :meth:`PerImageMetric.score_batch`) registered with
:func:`register_image_metric`. Nothing else needs editing: a registered metric is loaded, scored
per slice, written into the results, documented in ``chatgenbench schema``, offered as CLI flags
(one per field of its :attr:`ImageMetric.Options` dataclass), shown as a leaderboard column, its
path options (``metadata["path"]``) resolved by a deployment file and its random weights
(:meth:`ImageMetric.write_random_weights`) written by ``chatgenbench weights demo``::

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

The registry (:data:`chatgenbench.metrics.registry.METRICS`) imports the built-in metric modules
the first time it is read. Heavy libraries are imported only when a metric loads its model.
Beside the contract: :mod:`~chatgenbench.metrics.values` (:class:`MetricValue`),
:mod:`~chatgenbench.metrics.weight_sets` (:class:`WeightSet`),
:mod:`~chatgenbench.metrics.bootstrap` (:class:`Bootstrap`) and
:mod:`~chatgenbench.metrics.images` (:func:`to_rgb`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from chatgenbench.benchmark.schema import ReferenceImage
from chatgenbench.core.errors import MetricNotComputed
from chatgenbench.metrics.bootstrap import Bootstrap, bootstrap_ci
from chatgenbench.metrics.values import MetricValue
from chatgenbench.metrics.weight_sets import WeightSet


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
      field's ``metadata["help"]`` (and ``metadata["choices"]``); ``metadata["path"]: True``
      marks a file or folder, which a deployment file gives relative to its own folder
      (:meth:`path_options`);
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
    (what is recorded in ``metric_settings.image``), :meth:`notes` (run notes for the results'
    ``images`` section) and :meth:`write_random_weights` (tiny random weights of its own layout,
    for tests and ``chatgenbench weights demo``).
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
    def path_options(cls) -> tuple[str, ...]:
        """Return the names of the :attr:`Options` fields that are paths (``metadata["path"]``)."""
        return tuple(f.name for f in fields(cls.Options) if f.metadata.get("path"))

    @classmethod
    def write_random_weights(cls, folder: Path, seed: int = 0) -> dict[str, Any]:
        """Write tiny seeded RANDOM weights in the on-disk layout the real ones have into
        ``folder`` (kept when an earlier call wrote them) and return the option values that load
        them (``{"clip_model": "<folder>"}``); the real loader reads them as it reads real weights.

        Default: ``{}``, the metric has no weights of its own to stand in for (FID's Inception
        ships in a package). Heavy libraries are imported inside the method. The folder lies
        under ``chatgenbench weights demo``'s marked folder, so what is scored with the weights is
        labelled random (:mod:`chatgenbench.core.random_weights`).
        """
        return {}

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
