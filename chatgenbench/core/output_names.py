"""Output names derived from input paths, distinct whenever the inputs are.

Every submission in the store is named ``predictions.jsonl``: a command that names its outputs
after ``Path(input).stem`` writes ``a/predictions.jsonl`` and ``b/predictions.jsonl`` to the same
file and keeps only the second. :func:`distinct_names` gives each input a name for its outputs and
labels: its stem when the stems are distinct, else its path relative to the inputs' common folder,
and a short digest of the full path where even that would collide (e.g. on a case-insensitive
file system). The same file given twice is refused (:class:`chatgenbench.core.errors.UsageError`).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
DIGEST_CHARS = 8


def _safe(text: str) -> str:
    name = _UNSAFE.sub("_", text).strip("._") or "input"
    return name[:120]


def _stem(path: Path) -> str:
    return path.name.rsplit(".", 1)[0] if "." in path.name[1:] else path.name


def _collide(names: list[str]) -> bool:
    folded = [name.casefold() for name in names]
    return len(set(folded)) != len(folded)


def distinct_names(paths: list[str | os.PathLike]) -> list[str]:
    """Return one file-name-safe name per input path, distinct (also case-insensitively).

    The stems (``predictions`` for ``a/predictions.jsonl``) when they are distinct; else each
    path relative to the common folder of all, without its suffix, folders joined by ``--``
    (``a--predictions``, ``b--predictions``); else that plus ``-`` and 8 hex digits of the
    resolved path's SHA-256. Raises :class:`chatgenbench.core.errors.UsageError` when two
    paths are the same file.
    """
    from chatgenbench.core.errors import UsageError

    resolved = [Path(path).resolve() for path in paths]
    seen: dict[Path, str] = {}
    for given, full in zip(paths, resolved):
        if full in seen:
            raise UsageError(
                f"{seen[full]} and {given} are the same file: its outputs would overwrite each other",
                how_to_fix="give each input once",
            )
        seen[full] = str(given)
    names = [_safe(_stem(full)) for full in resolved]
    if not _collide(names):
        return names
    common = Path(os.path.commonpath([str(full.parent) for full in resolved]))
    names = [
        _safe("--".join([*full.parent.relative_to(common).parts, _stem(full)])) for full in resolved
    ]
    if not _collide(names):
        return names
    names = [
        f"{name}-{hashlib.sha256(str(full).encode()).hexdigest()[:DIGEST_CHARS]}"
        for name, full in zip(names, resolved)
    ]
    if _collide(names):  # 8 hex digits of two different paths agree: say so, never overwrite
        raise UsageError(f"no distinct output names for {', '.join(map(str, paths))}")
    return names


def check_outputs_apart(
    inputs: dict[str, str | os.PathLike | None], outputs: dict[str, str | os.PathLike | None]
) -> None:
    """Refuse, before any work, an output path that is an input or another output.

    ``inputs`` and ``outputs`` map what a path is (``--out``, ``the prediction file``) to it;
    None entries are skipped. Raises :class:`chatgenbench.core.errors.UsageError` naming both.
    """
    from chatgenbench.core.errors import UsageError

    seen: dict[Path, str] = {
        Path(path).resolve(): what for what, path in inputs.items() if path is not None
    }
    for what, path in outputs.items():
        if path is None:
            continue
        full = Path(path).resolve()
        if full in seen:
            raise UsageError(
                f"{what} {path} is also {seen[full]}: one would overwrite the other",
                how_to_fix=f"give {what} a path of its own",
            )
        seen[full] = what
