"""The optional parts of the installation (setup.cfg's extras) and the one message that says one is
missing.

Every error about a missing optional dependency goes through :func:`missing_extra`, so that each
names the install that works from the package index (``pip install 'chatgenbench[leaderboard]'``)
and the one that works from a clone of the repository (``pip install -e '.[leaderboard]'``).
"""

from __future__ import annotations

#: The extras of setup.cfg, by name: what each brings.
EXTRAS: dict[str, str] = {
    "render": "rendering with diffusers (render, evaluate --render, ablate)",
    "metrics": "the image metrics (FID, CLIP score, HPS v2, ImageReward)",
    "leaderboard": "the leaderboard web app (streamlit, altair, sign-in with Authlib)",
    "ray": "the Ray render backend",
    "baselines": "training and running the baselines",
    "dev": "the tests and the linter",
    "docs": "the documentation site (mkdocs-material, mkdocstrings)",
    "all": "every extra above",
}


#: The import name of each package an extra brings -> that extra (setup.cfg's distribution names
#: differ: ``open-clip-torch`` is imported as ``open_clip``).
EXTRA_OF_MODULE: dict[str, str] = {
    "diffusers": "render",
    "accelerate": "render",
    "peft": "render",
    "safetensors": "render",
    "torchsde": "render",
    "torchvision": "metrics",
    "torchmetrics": "metrics",
    "torch_fidelity": "metrics",
    "open_clip": "metrics",
    "timm": "metrics",
    "scipy": "metrics",
    "streamlit": "leaderboard",
    "altair": "leaderboard",
    "selenium": "leaderboard",
    "ray": "ray",
    "sentencepiece": "baselines",
}


def extra_of_missing_module(error: ImportError) -> str | None:
    """Return the extra that brings the module an ImportError could not find (None: not one of
    an extra's packages)."""
    name = getattr(error, "name", None) or ""
    return EXTRA_OF_MODULE.get(name.split(".")[0])


def install_commands(extra: str) -> str:
    """Return how to install ``extra``: ``pip install 'chatgenbench[EXTRA]'`` (from a clone:
    ``pip install -e '.[EXTRA]'``). Raises ValueError for a name that is not an extra."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; the extras are {', '.join(EXTRAS)}")
    return f"pip install 'chatgenbench[{extra}]' (from a clone of the repository: pip install -e '.[{extra}]')"


def missing_extra(needs: str, extra: str, error: BaseException | str | None = None) -> str:
    """Return the message for a missing optional dependency: ``NEEDS needs the 'EXTRA' extra
    (ERROR); install it with: pip install 'chatgenbench[EXTRA]' (from a clone ...)``."""
    cause = f" ({error})" if error else ""
    return f"{needs} needs the '{extra}' extra{cause}; install it with: {install_commands(extra)}"
