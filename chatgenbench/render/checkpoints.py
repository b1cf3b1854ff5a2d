"""Where each catalogue model's weights come from, whether they are here, and how to get them.

A catalogue entry names its weights in the ``weights`` field (kept in
:attr:`chatgenbench.benchmark.catalog.CatalogEntry.extra`)::

    {"name": "devlishphotorealism_v40", "architecture": "sd15", "kind": "checkpoint",
     "weights": {"type": "single_file", "path": "/models/devlishphotorealism_v40.safetensors",
                 "sha256": "...", "config": "/models/configs/sd15"}}

``type`` is one of:

- ``single_file``: a local original-layout (A1111/Civitai) ``.safetensors`` file, ``path``. ``config``
  is a local diffusers folder holding the architecture's configs and tokenizers (no weights needed):
  ``from_single_file`` needs it to work offline.
- ``diffusers``: a local diffusers folder (``model_index.json``), ``path``.
- ``hub``: a Hugging Face repo, ``repo_id`` (optionally ``revision``; ``filename`` for one
  single-file checkpoint or LoRA file inside the repo), looked up in the local hub cache.
- ``civitai``: a Civitai model-version id, ``version_id``, fetched by ``chatgenbench models fetch``
  with the token in ``$CIVITAI_TOKEN`` into ``$CHATGENBENCH_HOME/weights/civitai``.

``sha256`` (optional, any type that is a file) is trusted as the file's identity when the render is
planned, so planning reads no weights, and checked when the file is loaded, from the same read that
loads it (:mod:`chatgenbench.render.weight_checks`; ``--verify first-load`` remembers it by size and
mtime, so each file is read for its check once per machine). ``blake3`` (64 hex digits) and
``autov2`` (Civitai's 10) may stand beside it or instead of it, as Civitai lists them: the check uses
the fastest strong one given (BLAKE3, then SHA-256, then AutoV2). The identity stays
``sha256:...`` when a SHA-256 is given (cache keys do not change); an entry with only a BLAKE3 is
named ``blake3:...``; a file with neither (AutoV2 alone, or no digest) is hashed with SHA-256 when
planned (remembered), and an AutoV2 is checked against that hash there. A LoRA entry may name its
``base`` checkpoint (a catalogue name; default: :data:`DEFAULT_LORA_BASES` by architecture) and its
``lora_scale`` (default 1.0). Only safetensors are loaded from a catalogue; nothing runs remote code.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatgenbench.benchmark.catalog import CatalogEntry, CatalogError, ModelCatalog
from chatgenbench.core.errors import WeightsError
from chatgenbench.core.storage import weights_root
from chatgenbench.render.weight_checks import DIGEST_LENGTHS, DIGEST_PREFERENCE, chosen_digest

WEIGHT_TYPES: tuple[str, ...] = ("single_file", "diffusers", "hub", "civitai")
#: The base checkpoint a LoRA goes onto when its entry names none.
DEFAULT_LORA_BASES: dict[str, str] = {"sd15": "v1-5-pruned-emaonly", "sdxl": "sd_xl_base_1.0"}
CIVITAI_TOKEN_ENV = "CIVITAI_TOKEN"
CIVITAI_URL_ENV = "CHATGENBENCH_CIVITAI_URL"
CIVITAI_URL = "https://civitai.com/api/download/models/{version_id}"
_INDEX_NAME = "weights_index.json"
#: What a diffusers repo on the hub needs: configs, tokenizers and the safetensors of each component
#: (not the single-file checkpoints some repos also hold at their root).
HUB_FOLDER_PATTERNS = ["model_index.json", "*/*.json", "*/*.txt", "*/*.safetensors"]


@dataclass(frozen=True)
class CheckpointWeights:
    """The ``weights`` field of a catalogue entry, checked."""

    type: str
    path: str | None = None
    config: str | None = None
    repo_id: str | None = None
    revision: str | None = None
    filename: str | None = None
    version_id: str | None = None
    sha256: str | None = None
    blake3: str | None = None
    autov2: str | None = None

    @classmethod
    def from_entry(cls, entry: CatalogEntry) -> CheckpointWeights | None:
        """Return the entry's weight spec, None when it has none; raise CatalogError when malformed."""
        raw = entry.extra.get("weights")
        if raw is None:
            return None
        where = f"catalogue model {entry.name!r}: field 'weights'"
        if isinstance(raw, str):  # shorthand: a path
            raw = {"type": "diffusers" if not raw.endswith(".safetensors") else "single_file",
                   "path": raw}  # fmt: skip
        if not isinstance(raw, dict):
            raise CatalogError(f"{where}: expected an object, got {type(raw).__name__}")
        kind = raw.get("type")
        if kind not in WEIGHT_TYPES:
            raise CatalogError(f"{where}: 'type' must be one of {WEIGHT_TYPES}, got {kind!r}")
        required = {
            "single_file": "path",
            "diffusers": "path",
            "hub": "repo_id",
            "civitai": "version_id",
        }[kind]
        if raw.get(required) in (None, ""):
            raise CatalogError(f"{where}: type {kind!r} needs {required!r}")
        unknown = set(raw) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")
        values = {k: (str(v) if v is not None else None) for k, v in raw.items() if k != "type"}
        version = values.get("version_id") or ""
        if kind == "civitai" and not (version.isascii() and version.isdigit()):
            raise CatalogError(
                f"{where}: 'version_id' must be a Civitai model version number, got "
                f"{version[:40]!r} (it names the downloaded file)"
            )
        for algorithm, length in DIGEST_LENGTHS.items():
            given = values.get(algorithm)
            if not given:
                values[algorithm] = None
                continue
            if len(given) != length or not all(c in "0123456789abcdefABCDEF" for c in given):
                raise CatalogError(
                    f"{where}: {algorithm!r} must be {length} hexadecimal digits, got "
                    f"{given[:80]!r}"
                )
            values[algorithm] = given.upper() if algorithm == "autov2" else given.lower()
        return cls(type=kind, **values)

    def digests(self) -> tuple[tuple[str, str], ...]:
        """Return the catalogue's digests of the file, ``(algorithm, hex)``, in check preference."""
        return tuple((a, getattr(self, a)) for a in DIGEST_PREFERENCE if getattr(self, a))


@dataclass(frozen=True)
class WeightRef:
    """Loadable weights: a local single file or diffusers folder, with a content identity.

    ``identity`` (``sha256:...``) names the bytes, so renders are shared wherever the same weights
    sit; it is part of every cache key.
    """

    name: str
    form: str  # "single_file" | "diffusers"
    path: str
    identity: str
    config: str | None = None
    size_bytes: int = 0
    #: The catalogue's sha256, still to be checked against the file when it is first loaded.
    verify_sha256: str | None = None
    #: Every digest the catalogue gives for the file, ``(algorithm, hex)``, in check preference
    #: (:data:`chatgenbench.render.weight_checks.DIGEST_PREFERENCE`); what ``--verify`` checks.
    digests: tuple[tuple[str, str], ...] = ()

    def check_digest(self) -> tuple[str, str] | None:
        """Return the ``(algorithm, hex)`` a load checks the file against, or None."""
        found = chosen_digest(self.digests)
        if found is None and self.verify_sha256:
            return "sha256", self.verify_sha256
        return found


@dataclass
class WeightStatus:
    """Whether one catalogue model's weights are usable here, and how to get them if not."""

    name: str
    type: str | None
    present: bool
    ref: WeightRef | None = None
    reason: str = ""
    how_to_get: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (for ``models status --json``)."""
        return {
            "name": self.name,
            "type": self.type,
            "present": self.present,
            "path": self.ref.path if self.ref else self.details.get("path"),
            "size_bytes": self.ref.size_bytes if self.ref else None,
            "identity": self.ref.identity if self.ref else None,
            "reason": self.reason,
            "how_to_get": self.how_to_get,
        }


class WeightLocator:
    """Finds catalogue weights on this machine and fingerprints them (memoised by size and mtime).

    ``cache_dir`` holds the fingerprint index; ``fetch_dir`` the Civitai downloads.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, fetch_dir=None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.fetch_dir = Path(fetch_dir) if fetch_dir else weights_root()
        self._index: dict[str, dict[str, Any]] | None = None
        self._status: dict[str, WeightStatus] = {}

    # -- fingerprints ---------------------------------------------------------------------------
    def _load_index(self) -> dict[str, dict[str, Any]]:
        if self._index is None:
            self._index = {}
            if self.cache_dir and (self.cache_dir / _INDEX_NAME).is_file():
                try:
                    self._index = json.loads((self.cache_dir / _INDEX_NAME).read_text("utf-8"))
                except (OSError, json.JSONDecodeError):
                    self._index = {}
        return self._index

    def known_sha256(self, path: Path) -> str | None:
        """Return a file's remembered sha256 (same path, size and mtime), or None; reads no bytes."""
        return self.known_digest(path, "sha256")

    def known_digest(self, path: Path, algorithm: str) -> str | None:
        """Return a file's remembered ``sha256``, ``blake3`` or ``autov2`` (cut from the sha256),
        when its path, size and mtime are those remembered; else None. Reads no bytes."""
        index = self._load_index()
        if not index:
            return None
        stat = Path(path).stat()
        known = index.get(str(Path(path).resolve()))
        if not (
            known
            and known.get("size") == stat.st_size
            and known.get("mtime_ns") == stat.st_mtime_ns
        ):
            return None
        if algorithm == "autov2":
            return known["sha256"][:10].upper() if known.get("sha256") else None
        return known.get(algorithm)

    def remember_digest(self, path: Path, algorithm: str, hexdigest: str) -> None:
        """Remember a file's digest (``sha256`` or ``blake3``) by its path, size and mtime."""
        from chatgenbench.core.storage import atomic_write_json

        stat = Path(path).stat()
        index = self._load_index()
        key = str(Path(path).resolve())
        entry = index.get(key) or {}
        if entry.get("size") != stat.st_size or entry.get("mtime_ns") != stat.st_mtime_ns:
            entry = {}
        index[key] = {**entry, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                      algorithm: hexdigest}  # fmt: skip
        if self.cache_dir:
            atomic_write_json(self.cache_dir / _INDEX_NAME, index)

    def file_sha256(self, path: Path) -> str:
        """Return a file's sha256, memoised by (path, size, mtime) in the cache folder's index."""
        from chatgenbench.core.storage import sha256_file

        known = self.known_sha256(path)
        if known is not None:
            return known
        digest = sha256_file(path)
        self.remember_digest(path, "sha256", digest)
        return digest

    def folder_identity(self, folder: Path) -> tuple[str, int]:
        """Return ``sha256:...`` over a diffusers folder's files (names and bytes) and its size."""
        import hashlib

        digest = hashlib.sha256()
        size = 0
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if any(part.startswith(".") for part in path.relative_to(folder).parts):
                continue
            digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
            digest.update(self.file_sha256(path).encode("ascii"))
            size += path.stat().st_size
        return f"sha256:{digest.hexdigest()}", size

    # -- lookup ---------------------------------------------------------------------------------
    def status(self, entry: CatalogEntry) -> WeightStatus:
        """Return (and memoise) whether ``entry``'s weights are present and loadable."""
        if entry.name not in self._status:
            self._status[entry.name] = self._status_uncached(entry)
        return self._status[entry.name]

    def _status_uncached(self, entry: CatalogEntry) -> WeightStatus:
        try:
            spec = CheckpointWeights.from_entry(entry)
        except CatalogError as error:
            return WeightStatus(entry.name, None, False, reason=str(error),
                                how_to_get="fix the catalogue entry (see the README: Model weights)")  # fmt: skip
        if spec is None:
            return WeightStatus(
                entry.name,
                None,
                False,
                reason="the catalogue names no weights for this model",
                how_to_get="add a 'weights' field to its catalogue entry, e.g. "
                '{"type": "single_file", "path": "/models/NAME.safetensors", '
                '"config": "/models/configs/ARCH"} (see the README: Model weights)',
            )
        if spec.type in ("single_file", "diffusers"):
            return self._local(entry, spec, Path(spec.path).expanduser(), spec.type)
        if spec.type == "civitai":
            path = self.fetch_dir / "civitai" / f"{spec.version_id}.safetensors"
            status = self._local(entry, spec, path, "single_file")
            if not status.present and not path.exists():
                status.reason = f"Civitai model version {spec.version_id} is not downloaded"
                status.how_to_get = (
                    f"export {CIVITAI_TOKEN_ENV}=...; chatgenbench models fetch {entry.name} "
                    "--catalog CATALOG"
                )
            return status
        return self._hub(entry, spec)

    def _local(
        self,
        entry: CatalogEntry,
        spec: CheckpointWeights,
        path: Path,
        form: str,
        identity: str | None = None,
    ) -> WeightStatus:
        details = {"path": str(path)}
        missing = WeightStatus(entry.name, spec.type, False, details=details)
        if form == "single_file":
            if path.suffix.lower() != ".safetensors":
                missing.reason = f"{path} is not a .safetensors file (only safetensors are loaded)"
                missing.how_to_get = "convert the checkpoint to .safetensors and point 'path' at it"
                return missing
            if not path.is_file():
                missing.reason = f"weights file not found: {path}"
                missing.how_to_get = (
                    f"put the checkpoint at {path} (for a Civitai model: its .safetensors "
                    "download), or change 'weights' in the catalogue"
                )
                return missing
            verify = None
            name = identity
            if spec.sha256:  # trusted now, checked at first load (unless already known here)
                digest = self.known_sha256(path)
                if digest is None:
                    digest, verify = spec.sha256, spec.sha256
                name = f"sha256:{digest}"
            elif spec.blake3:  # the same, named by its BLAKE3
                digest = spec.blake3
                name = f"blake3:{spec.blake3}"
            elif identity is None:  # no strong digest: the file's own sha256 names it
                digest = self.file_sha256(path)
                name = f"sha256:{digest}"
            wrong = self._known_mismatch(path, spec)
            if wrong:
                missing.reason = wrong
                missing.how_to_get = (
                    "download the file again, or correct the digest in the catalogue"
                )
                return missing
            config = spec.config
            if config and not (Path(config) / "model_index.json").is_file():
                missing.reason = f"config folder {config} has no model_index.json"
                missing.how_to_get = (
                    "save a diffusers folder of this architecture there (configs and tokenizers "
                    "suffice: pipeline.save_pretrained, then delete the weight files)"
                )
                return missing
            ref = WeightRef(entry.name, "single_file", str(path), name, config,
                            path.stat().st_size, verify, spec.digests())  # fmt: skip
            return WeightStatus(entry.name, spec.type, True, ref=ref, details=details)
        if not (path / "model_index.json").is_file():
            missing.reason = f"diffusers folder not found (no model_index.json): {path}"
            missing.how_to_get = f"save the pipeline with save_pretrained({str(path)!r})"
            return missing
        if identity is None:
            identity, size = self.folder_identity(path)
        else:
            size = sum(  # what from_pretrained reads: components and the index, not root files
                p.stat().st_size
                for p in path.rglob("*")
                if p.is_file() and (p.parent != path or p.name == "model_index.json")
            )
        ref = WeightRef(entry.name, "diffusers", str(path), identity, None, size)
        return WeightStatus(entry.name, spec.type, True, ref=ref, details=details)

    def _known_mismatch(self, path: Path, spec: CheckpointWeights) -> str | None:
        """Return why ``path`` is not the catalogue's file when a remembered digest (or, for an
        AutoV2 alone, the sha256 hashed now) already says so; else None. Reads no bytes
        unless the entry's only digest is an AutoV2."""
        for algorithm, expected in spec.digests():
            known = self.known_digest(path, algorithm)
            if known is None and algorithm == "autov2" and not (spec.sha256 or spec.blake3):
                known = self.file_sha256(path)[:10].upper()
            if known is not None and known.lower() != expected.lower():
                return f"{algorithm} of {path} is {known}, the catalogue expects {expected}"
        return None

    def _hub(self, entry: CatalogEntry, spec: CheckpointWeights) -> WeightStatus:
        from huggingface_hub import hf_hub_download, snapshot_download

        try:
            if spec.filename:
                path = Path(
                    hf_hub_download(
                        spec.repo_id, spec.filename, revision=spec.revision, local_files_only=True
                    )  # fmt: skip
                )
            else:
                path = Path(
                    snapshot_download(
                        spec.repo_id,
                        revision=spec.revision,
                        local_files_only=True,
                        allow_patterns=HUB_FOLDER_PATTERNS,
                    )  # fmt: skip
                )
        except Exception:  # the hub client raises several types for "not in the local cache"
            where = f"{spec.repo_id}" + (f"/{spec.filename}" if spec.filename else "")
            return WeightStatus(
                entry.name,
                spec.type,
                False,
                reason=f"hub weights {where} are not in the local hub cache",
                how_to_get=f"chatgenbench models fetch {entry.name} --catalog CATALOG "
                f"(or: huggingface-cli download {spec.repo_id})",
                details={"repo_id": spec.repo_id},
            )
        form = "single_file" if spec.filename else "diffusers"
        parts = path.parts
        commit = parts[parts.index("snapshots") + 1] if "snapshots" in parts else None
        identity = None
        if commit:  # a hub commit names its bytes: no need to hash gigabytes
            identity = f"hub:{spec.repo_id}@{commit}" + (
                f"/{spec.filename}" if spec.filename else ""
            )
        return self._local(entry, spec, path, form, identity=identity)


def verify_weights(ref: WeightRef, locator: WeightLocator) -> float:
    """Check ``ref``'s file against the catalogue's digest (:meth:`WeightRef.check_digest`), in
    the foreground: the reference the engine's background check is measured against.

    Returns the seconds spent hashing (0.0 when the file's digest is remembered, or when there is
    nothing to check). Raises :class:`WeightsError` when the file's bytes are not the catalogue's.
    """
    import time

    from chatgenbench.core.storage import open_regular_file
    from chatgenbench.render.weight_checks import new_hasher

    check = ref.check_digest()
    if check is None:
        return 0.0
    algorithm, expected = check
    path = Path(ref.path)
    digest, seconds = locator.known_digest(path, algorithm), 0.0
    if digest is None:
        start = time.perf_counter()
        hasher = new_hasher(algorithm)
        with open_regular_file(path) as handle:
            while chunk := handle.read(8 << 20):
                hasher.update(chunk)
        full = hasher.hexdigest()
        locator.remember_digest(path, "sha256" if algorithm == "autov2" else algorithm, full)
        digest = full[:10].upper() if algorithm == "autov2" else full
        seconds = time.perf_counter() - start
    if digest.lower() != expected.lower():
        raise WeightsError(
            f"{algorithm} of {path} is {digest}, the catalogue expects {expected}; the "
            "file was not loaded",
            how_to_fix=f"download the file again, or correct {algorithm!r} in the catalogue",
        )
    return seconds


def fetch_weights(entry: CatalogEntry, locator: WeightLocator | None = None) -> WeightStatus:
    """Download ``entry``'s weights (``hub`` or ``civitai``) into the local cache; return the status.

    Civitai downloads use ``$CIVITAI_TOKEN`` (sent as a bearer token), are written through a
    temporary file and checked against the catalogue's sha256 before they are kept. Raises
    :class:`WeightsError` when a download fails or does not match.
    """
    locator = locator or WeightLocator()
    spec = CheckpointWeights.from_entry(entry)
    if spec is None or spec.type in ("single_file", "diffusers"):
        locator._status.pop(entry.name, None)
        return locator.status(entry)
    if spec.type == "hub":
        from huggingface_hub import hf_hub_download, snapshot_download

        if spec.filename:
            hf_hub_download(spec.repo_id, spec.filename, revision=spec.revision)
        else:
            snapshot_download(
                spec.repo_id, revision=spec.revision, allow_patterns=HUB_FOLDER_PATTERNS
            )
    else:
        _fetch_civitai(spec, locator.fetch_dir / "civitai" / f"{spec.version_id}.safetensors")
    locator._status.pop(entry.name, None)
    return locator.status(entry)


def _fetch_civitai(spec: CheckpointWeights, target: Path) -> Path:
    import hashlib

    url = os.environ.get(CIVITAI_URL_ENV, CIVITAI_URL).format(version_id=spec.version_id)
    request = urllib.request.Request(url, headers={"User-Agent": "chatgenbench"})
    token = os.environ.get(CIVITAI_TOKEN_ENV)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    from chatgenbench.core.storage import UnsafeFileError, check_no_links

    weights = target.parent.parent
    try:  # the download is written in the weights folder, never through a link out of it
        check_no_links(target, weights)
        target.parent.mkdir(parents=True, exist_ok=True)
        check_no_links(target, weights)
    except UnsafeFileError as error:
        raise WeightsError(f"Civitai version {spec.version_id} not downloaded: {error}") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=60) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if spec.sha256 and digest.hexdigest() != spec.sha256:
            raise WeightsError(
                f"Civitai version {spec.version_id}: sha256 {digest.hexdigest()} does not match "
                f"the catalogue's {spec.sha256}; the download was discarded"
            )
        os.replace(tmp, target)
    except WeightsError:
        Path(tmp).unlink(missing_ok=True)
        raise
    except Exception as error:
        Path(tmp).unlink(missing_ok=True)
        hint = "" if token else f" (is ${CIVITAI_TOKEN_ENV} set?)"
        raise WeightsError(
            f"downloading Civitai version {spec.version_id} failed: {error}{hint}"
        ) from error
    return target


@dataclass
class ResolvedModel:
    """A predicted model resolved to loadable weights: a checkpoint and, for a LoRA, the LoRA."""

    name: str
    architecture: str
    checkpoint: WeightRef
    lora: WeightRef | None = None
    lora_scale: float = 1.0
    base: str | None = None


def resolve_model(
    name: str,
    catalog: ModelCatalog,
    locator: WeightLocator,
    lora_bases: dict[str, str] | None = None,
) -> ResolvedModel | WeightStatus:
    """Resolve a catalogue model to weights; return the missing :class:`WeightStatus` otherwise.

    A LoRA resolves to its base checkpoint (its entry's ``base``, else ``lora_bases`` or
    :data:`DEFAULT_LORA_BASES` for its architecture) plus the LoRA file.
    Raises KeyError when ``name`` is not in the catalogue.
    """
    entry = catalog.get(name)
    if entry is None:
        raise KeyError(name)
    status = locator.status(entry)
    if not status.present:
        return status
    if entry.kind == "checkpoint":
        return ResolvedModel(entry.name, entry.architecture, status.ref)
    bases = {**DEFAULT_LORA_BASES, **(lora_bases or {})}
    base_name = entry.extra.get("base") or bases.get(entry.architecture)
    base_entry = catalog.get(base_name) if base_name else None
    if base_entry is None or base_entry.kind != "checkpoint":
        return WeightStatus(
            entry.name,
            status.type,
            False,
            reason=f"the LoRA's base checkpoint {base_name!r} is not a checkpoint of the catalogue",
            how_to_get="add the base checkpoint to the catalogue, or set this entry's 'base'",
        )
    if base_entry.architecture != entry.architecture:
        return WeightStatus(
            entry.name,
            status.type,
            False,
            reason=f"the LoRA is {entry.architecture} but its base {base_entry.name!r} is "
            f"{base_entry.architecture}",
            how_to_get="set this entry's 'base' to a checkpoint of the same architecture",
        )
    base_status = locator.status(base_entry)
    if not base_status.present:
        return WeightStatus(
            entry.name,
            status.type,
            False,
            reason=f"the LoRA's base checkpoint {base_entry.name!r} is missing: "
            f"{base_status.reason}",
            how_to_get=base_status.how_to_get,
        )
    scale = entry.extra.get("lora_scale", 1.0)
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        scale = 1.0
    return ResolvedModel(entry.name, entry.architecture, base_status.ref, status.ref, scale,
                         base_entry.name)  # fmt: skip
