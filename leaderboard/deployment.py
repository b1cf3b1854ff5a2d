"""The scoring worker's deployment file: one YAML file for everything a rendering worker needs.

``chatgenbench queue work --config deployment.yaml`` reads it (through
:func:`chatgenbench.core.yaml_files.read_yaml_file`: at most 64 KiB, no nested-alias "billion
laughs", no deep nesting or huge values; every key checked; a message shows at most 80 characters
of a value). Relative paths are taken relative to the file's folder. Keys (all optional)::

    render: true                 # render and image-score each job (default false: step-wise only)
    catalog: weights.jsonl       # catalogue overlay giving models their weights (null: benchmark's)
    device: cuda                 # render and metric device (null: cuda when visible, else cpu)
    dtype: float16               # render dtype (null: fp16 on CUDA, fp32 on CPU)
    render_backend: local        # a render backend name (local, ray, or one of a plugin)
    ray_address: auto            # a backend's own options, one key per field of its Options:
    ray_actors: 8                #   here the ray backend's (Ray cluster; Ray actors)
    render_cache: /data/cache    # the shared content-addressed image cache (null: the default)
    render_workers: null         # local workers (null: one per GPU, else one)
    render_threads: null         # torch CPU threads per worker
    render_batch_size: 4         # requests per pipeline call
    encoder: minilm              # BERTScore encoder (minilm, roberta-large)
    metrics:                     # image metrics: ImageMetricSettings keyword arguments
      names: [clip_score, hps_v2, image_reward, fid]   # which (default: all registered)
      batch_size: 16
      clip_model: /weights/clip-vit-large-patch14      # metric weights (null: the weights cache)
      hps_checkpoint: /weights/HPS_v2_compressed.pt
      image_reward_model: /weights/ImageReward
      fid_cache_dir: /data/fid-cache
    access:                      # the leaderboard page: OpenID Connect sign-in, roles, quotas
      sign_in: true              #   (see leaderboard/roles.py; ``chatgenbench leaderboard
      secrets: secrets.toml      #   --config`` reads it; docs/sign-in.md)
      maintainers: [ana@example.org]

``chatgenbench weights demo OUT`` writes one that uses random demo weights on a CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from chatgenbench.core.errors import DeploymentError
from chatgenbench.core.yaml_files import bounded_repr, bounded_text, read_yaml_file
from chatgenbench.metrics.bertscore import DEFAULT_ENCODER, ENCODER_NAMES

DEPLOYMENT_MAX_BYTES = 64 * 1024
_PATH_KEYS = ("catalog", "render_cache")


@dataclass
class Deployment:
    """What a scoring worker renders and scores with (see the module docstring for each key)."""

    render: bool = False
    catalog: str | None = None
    device: str | None = None
    dtype: str | None = None
    render_backend: str = "local"
    #: The render backends' own options given (keys: the fields of their ``Options``, e.g.
    #: ``ray_address``); each is also read as an attribute (``deployment.ray_address``).
    backend_options: dict[str, Any] = field(default_factory=dict)
    render_cache: str | None = None
    render_workers: int | None = None
    render_threads: int | None = None
    render_batch_size: int | None = None
    encoder: str = DEFAULT_ENCODER
    metrics: dict[str, Any] = field(default_factory=dict)
    #: The leaderboard page's sign-in, roles and quotas (:func:`leaderboard.roles.access_policy_from_dict`).
    access: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # the file it was read from

    def __getattr__(self, name: str) -> Any:
        if name != "backend_options" and not name.startswith("__") and name in _backend_keys():
            return self.__dict__.get("backend_options", {}).get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def render_options(self) -> dict[str, Any]:
        """Return the keyword options of :func:`chatgenbench.render.render_predictions`."""
        options: dict[str, Any] = {
            "device": self.device,
            "dtype": self.dtype,
            "backend": self.render_backend,
            "cache_dir": self.render_cache,
        }
        extra = {
            **self.backend_options,
            "workers": self.render_workers,
            "threads": self.render_threads,
            "batch_size": self.render_batch_size,
        }
        options.update({key: value for key, value in extra.items() if value is not None})
        return options

    def image_settings(self):
        """Return the :class:`chatgenbench.scoring.images.ImageMetricSettings` of ``metrics``."""
        from chatgenbench.scoring.images import ImageMetricSettings

        values = dict(self.metrics)
        names = values.pop("names", None)
        try:
            return ImageMetricSettings(
                device=self.device,
                metrics=tuple(names) if names is not None else None,
                **values,
            )
        except (TypeError, ValueError, KeyError) as error:
            raise DeploymentError(
                f"{self.source or 'deployment'}: metrics: {bounded_text(str(error), 200)}",
                how_to_fix="use the keyword options of ImageMetricSettings (see the README)",
            ) from None

    def access_policy(self):
        """Return the :class:`leaderboard.roles.AccessPolicy` of ``access`` (sign-in off when
        the file has none)."""
        from leaderboard.roles import access_policy_from_dict

        return access_policy_from_dict(self.access or None, source=self.source or "deployment")

    def describe(self) -> dict[str, Any]:
        """Return the deployment as a JSON-ready dict of its keys (recorded with each rendered
        job); every render backend's options are keys of their own, None when not given."""
        described: dict[str, Any] = {}
        for key in (f.name for f in fields(self)):
            if key == "access":  # the page's sign-in, not how a job was scored: not recorded
                continue
            if key == "backend_options":
                described.update({name: self.backend_options.get(name) for name in _backend_keys()})
            else:
                described[key] = getattr(self, key)
        return described


def read_deployment(path: str | os.PathLike) -> Deployment:
    """Read and check a deployment file; raise :class:`DeploymentError` naming the key at fault."""
    path = Path(path)
    if not path.is_file():
        raise DeploymentError(
            f"deployment file not found: {path}",
            how_to_fix="pass an existing YAML file (chatgenbench weights demo OUT writes one)",
        )
    raw = read_yaml_file(path, max_bytes=DEPLOYMENT_MAX_BYTES, error=DeploymentError)
    return deployment_from_dict(raw or {}, source=str(path), base_dir=path.parent)


def deployment_from_dict(
    raw: Any, *, source: str = "deployment", base_dir: str | os.PathLike | None = None
) -> Deployment:
    """Return the :class:`Deployment` of a parsed mapping; relative paths against ``base_dir``."""
    if not isinstance(raw, dict):
        raise DeploymentError(f"{source}: expected a mapping of keys, got {type(raw).__name__}")
    backend_keys = _backend_keys()
    known = [f.name for f in fields(Deployment) if f.name not in ("source", "backend_options")]
    known += list(backend_keys)
    unknown = sorted(map(str, set(raw) - set(known)))
    if unknown:
        raise DeploymentError(
            f"{source}: unknown key(s) {', '.join(bounded_text(key) for key in unknown[:5])}"
            + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""),
            how_to_fix=f"use only: {', '.join(known)}",
        )
    base = Path(base_dir) if base_dir is not None else None

    def resolved(value: Any) -> Any:
        if isinstance(value, str) and base is not None and not Path(value).is_absolute():
            return str((base / value).resolve())
        return value

    values: dict[str, Any] = {}
    for key, value in raw.items():
        values[key] = _checked(source, key, value)
    for key in _PATH_KEYS:
        if values.get(key):
            values[key] = resolved(values[key])
    metrics = dict(values.get("metrics") or {})
    for key in metric_path_options():
        if metrics.get(key):
            metrics[key] = resolved(metrics[key])
    values["metrics"] = metrics
    access = dict(values.get("access") or {})
    if access.get("secrets") and isinstance(access["secrets"], str):
        access["secrets"] = resolved(access["secrets"])
    values["access"] = access
    given = {key: values.pop(key) for key in backend_keys if key in values}
    values["backend_options"] = {key: value for key, value in given.items() if value is not None}
    deployment = Deployment(**values, source=source)
    from chatgenbench.render.backends import RENDER_BACKENDS

    if deployment.render_backend not in RENDER_BACKENDS.names():
        raise DeploymentError(
            f"{source}: render_backend: {bounded_repr(deployment.render_backend)} is not a "
            "render backend",
            how_to_fix=f"use one of: {', '.join(RENDER_BACKENDS.names())}",
        )
    if deployment.encoder not in ENCODER_NAMES:
        raise DeploymentError(
            f"{source}: encoder: {bounded_repr(deployment.encoder)}; "
            f"expected {' or '.join(ENCODER_NAMES)}"
        )
    if deployment.catalog and not _is_file(deployment.catalog):
        raise DeploymentError(
            f"{source}: catalog: no such file {bounded_repr(deployment.catalog, 300)}"
        )
    secrets = deployment.access_policy().secrets  # a bad access section: an error now
    if secrets and not _is_file(secrets):
        raise DeploymentError(
            f"{source}: access.secrets: no such file {bounded_repr(secrets, 300)}",
            how_to_fix="name the Streamlit secrets file holding the [auth] section",
        )
    deployment.image_settings()  # an unknown metric option is an error now, not at the first job
    return deployment


def _is_file(path: str) -> bool:
    try:
        return Path(path).is_file()
    except (OSError, ValueError):  # a name too long for the file system, or holding a NUL byte
        return False


def metric_path_options() -> tuple[str, ...]:
    """Return the image-metric options that are paths: the ``Options`` fields every registered
    image metric marks with ``metadata["path"]`` (:meth:`ImageMetric.path_options`)."""
    from chatgenbench.metrics.registry import METRICS

    return tuple(key for metric in METRICS.image_metrics() for key in metric.path_options())


def _backend_keys() -> dict[str, tuple[type, ...]]:
    """Return the keys the render backends' own options add (each field of their ``Options`` that
    is offered as a flag, and is not a key already) and the types each accepts."""
    from chatgenbench.render.backends import backend_options, option_value_type

    taken = {f.name for f in fields(Deployment)}
    return {
        name: _accepted(option_value_type(options, option))
        for name, (_, options, option) in backend_options(flags_only=True).items()
        if name not in taken
    }


def _accepted(kind: type | None) -> tuple[type, ...]:
    """Return the YAML value types a key of type ``kind`` accepts (a float key takes an int)."""
    if kind is float:
        return (float, int)
    return (kind or str,)


_TYPES: dict[str, tuple[type, ...]] = {
    "render": (bool,),
    "render_workers": (int,),
    "render_threads": (int,),
    "render_batch_size": (int,),
    "metrics": (dict,),
    "access": (dict,),
}


def _checked(source: str, key: str, value: Any) -> Any:
    expected = _TYPES.get(key) or _backend_keys().get(key, (str,))
    if value is None:
        if key in ("render", "render_backend", "encoder"):
            raise DeploymentError(f"{source}: {key}: must not be empty")
        return {} if key in ("metrics", "access") else None
    ok = isinstance(value, expected) and not (expected == (int,) and isinstance(value, bool))
    if not ok:
        names = " or ".join(t.__name__ for t in expected)
        raise DeploymentError(
            f"{source}: {key}: {bounded_repr(value)} is a {type(value).__name__}; expected {names}"
        )
    if key == "metrics":
        unknown_common = [k for k in value if not isinstance(k, str)]
        if unknown_common:
            raise DeploymentError(
                f"{source}: metrics: keys must be names, got {bounded_repr(unknown_common)}"
            )
    return value
