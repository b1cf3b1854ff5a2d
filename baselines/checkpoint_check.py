"""A fast check that a baseline's named checkpoint can load here, before transformers is imported.

Offline (``HF_HUB_OFFLINE=1``) or without a network, ``from_pretrained`` of a hub id that is not
cached retries for about a minute and ends in a long traceback. :func:`check_checkpoint` answers in
well under a second with one line naming the checkpoint and how to get it: a local folder must
exist and hold ``config.json``; a hub id must be in the local Hugging Face cache, or the hub must
be reachable (a 1.5 s connection test, skipped behind a proxy).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from chatgenbench.core.errors import WeightsMissing

#: ``owner/name`` as the hub spells a repository id.
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
CONNECT_TIMEOUT_S = 1.5
_TRUE = {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no hub access."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in (
        "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))  # fmt: skip


def _cached(repo_id: str, filename: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # no hub client: nothing can be cached either
        return False
    try:
        found = try_to_load_from_cache(repo_id, filename)
    except Exception:  # broad: an id the client refuses is simply not cached
        return False
    return isinstance(found, str)


def hub_reachable(timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub endpoint (``$HF_ENDPOINT``) opens within ``timeout``.

    Behind a proxy (``HTTPS_PROXY``/``https_proxy``) the answer is assumed yes: the proxy decides.
    """
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return True
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def check_checkpoint(checkpoint: str, *, role: str, how_to_get: str) -> None:
    """Raise :class:`WeightsMissing` (one line, with ``how_to_fix``) when ``checkpoint`` cannot load.

    ``checkpoint`` is a local folder or a hub id; ``role`` names it in the message (``chatgen-base
    checkpoint``, ``-o rewriter``); ``how_to_get`` says where it comes from.
    """
    text = str(checkpoint).strip()
    path = Path(text).expanduser()
    if path.exists():
        if path.is_dir() and not (path / "config.json").is_file():
            raise WeightsMissing(
                f"{role} {text}: the folder has no config.json, so it is not a transformers "
                "checkpoint (incomplete download?)",
                how_to_fix=how_to_get,
            )
        return
    looks_local = text.startswith((".", "/", "~")) or "\\" in text or text.count("/") != 1
    if looks_local or not HUB_ID.match(text):
        raise WeightsMissing(f"{role} {text}: no such folder", how_to_fix=how_to_get)
    if _cached(text, "config.json"):
        return
    fetch = f"download it where the hub is reachable ('huggingface-cli download {text}'), or {how_to_get}"
    if hub_offline():
        raise WeightsMissing(
            f"{role} {text} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set",
            how_to_fix=fetch,
        )
    if not hub_reachable():
        raise WeightsMissing(
            f"{role} {text} is not in the local Hugging Face cache and the hub is unreachable",
            how_to_fix=fetch + "; or set HF_HUB_OFFLINE=1 to work from the cache",
        )


def check_folder(folder: str, *, role: str, needs: str, how_to_get: str) -> None:
    """Raise :class:`WeightsMissing` when ``folder`` does not exist or lacks the file ``needs``."""
    path = Path(str(folder)).expanduser()
    if not path.is_dir():
        raise WeightsMissing(f"{role} {folder}: no such folder", how_to_fix=how_to_get)
    if not (path / needs).is_file():
        raise WeightsMissing(f"{role} {folder}: {needs} is missing", how_to_fix=how_to_get)
