"""The submissions store: one folder per submission, metadata checks and upload checks.

Layout of a store (``--store``, ``$CHATGENBENCH_SUBMISSIONS``, default
``$CHATGENBENCH_HOME/submissions``: :mod:`leaderboard.store_location` resolves it)::

    submissions/
      <name>/predictions.jsonl   (or .csv / .parquet: the file as uploaded, byte for byte)
      <name>/meta.yaml           method, authors, url, model_size, date, setting, benchmark, notes
                                 (model_size: the one size field; see leaderboard.model_size)
      <name>/results.json        written by the scoring worker (``chatgenbench evaluate``)
      <name>/samples.jsonl       the worker's per-sample scores (what the gallery shows)
      <name>/render/             the submission's render folder (manifest, summary, images/<id>.png;
                                 see :mod:`chatgenbench.render.manifest`), written by a worker
                                 that renders; images are looked up by sample id, never by a path
                                 the submitter wrote
      .queue.sqlite3             the scoring queue (:mod:`leaderboard.scoring_queue`)
      .votes.sqlite3             the pairwise votes (:mod:`leaderboard.votes`)
      .index.sqlite3             the index of the store (:mod:`leaderboard.store_index`)
      .incoming/                 uploads being written (renamed into place when complete)

Uploads are untrusted. :meth:`SubmissionStore.check_upload` enforces a size limit, accepts only
JSONL/CSV/Parquet (parsed as data by :mod:`chatgenbench.predictions.reading`, nothing executed), sanitises
the submission name so that no path escapes the store, length-limits every metadata field and
validates every prediction row against the benchmark before anything is stored or queued.

Reading never fails for one bad folder: :meth:`SubmissionStore.submissions` lists a folder it
cannot read (a name that is not a submission name, a ``meta.yaml`` with an impossible date or not
a mapping, a ``results.json`` nested too deep, not JSON or of the wrong types, a file that is a
FIFO or a link out of the store) as a :class:`Submission` whose ``problems`` say why; the others
are served. The pages and ``chatgenbench votes summary`` show such submissions with their reasons.
Files are read only when they are regular files inside the submission folder
(:func:`chatgenbench.core.storage.open_regular_file`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from chatgenbench.core.errors import PredictionFileError, SubmissionError
from chatgenbench.core.storage import read_regular_bytes
from chatgenbench.render.manifest import MANIFEST_NAME, image_path, read_manifest
from chatgenbench.scoring.result_schema import check_results
from leaderboard.model_size import merge_model_size
from leaderboard.store_location import STORE_ENV, resolve_store  # noqa: F401 (STORE_ENV: re-exported)

BENCHMARKS_ENV = "CHATGENBENCH_LEADERBOARD_BENCHMARKS"
UPLOAD_LIMIT_ENV = "CHATGENBENCH_UPLOAD_MAX_BYTES"
DEFAULT_BENCHMARKS: tuple[str, ...] = ("sample",)
DEFAULT_UPLOAD_MAX_BYTES = 50 * 1024 * 1024
META_FILENAME = "meta.yaml"
RESULTS_FILENAME = "results.json"
SAMPLES_FILENAME = "samples.jsonl"
RENDER_DIRNAME = "render"
PREDICTIONS_STEM = "predictions"
INCOMING_DIR = ".incoming"
#: The prediction file formats a submission may have, with the name it is stored under.
PREDICTION_FILENAMES: dict[str, str] = {
    "jsonl": "predictions.jsonl",
    "csv": "predictions.csv",
    "parquet": "predictions.parquet",
}
UPLOAD_EXTENSIONS: dict[str, str] = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
NAME_MAX_CHARS = 64
META_MAX_BYTES = 64 * 1024
RESULTS_MAX_BYTES = 32 * 1024 * 1024
SUBMISSION_SETTINGS: tuple[str, ...] = ("supervised", "few_shot", "all")
#: The files whose state signs a submission in the store's index (with the folder itself):
#: what :meth:`SubmissionStore.load` reads, and the run record the ranking's efficiency reads.
INDEX_SIGNED_FILES: tuple[str, ...] = (META_FILENAME, RESULTS_FILENAME, "predictions.run.json")


@dataclass(frozen=True)
class MetaField:
    """One metadata field: its length limit, whether it is required, and what it means."""

    max_chars: int
    required: bool
    description: str


META_FIELDS: dict[str, MetaField] = {
    "method": MetaField(120, True, "name of the method, as it should appear in the ranking"),
    "authors": MetaField(300, True, "who made the submission"),
    "url": MetaField(300, False, "paper or code link (http:// or https://)"),
    "model_size": MetaField(
        64,
        False,
        "the method's parameter count, e.g. 2.21B, optionally with a note: 22M (text encoder); "
        "'-' when not applicable",
    ),
    "date": MetaField(10, False, "submission date, YYYY-MM-DD (default: today)"),
    "setting": MetaField(16, True, "supervised, few_shot or all"),
    "benchmark": MetaField(200, False, "benchmark source to score against (default: sample)"),
    "notes": MetaField(2000, False, "free text: how the predictions were made"),
    "seconds_per_sample": MetaField(
        32, False, "inference seconds per sample, e.g. 1.9 (when not from an adapter run)"
    ),
    "device": MetaField(80, False, "device the predictions were made on, e.g. 1x A100 80GB"),
    "oracle": MetaField(
        40,
        False,
        "an ablation run: steps whose reference values are given (prompt, model, arguments; "
        "empty: a full run)",
    ),
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAME_CHARS = re.compile(r"[^a-z0-9._-]+")
_RESERVED_NAMES = {"", ".", "..", INCOMING_DIR.lstrip("."), "con", "nul", "prn", "aux"}


def default_store_root() -> Path:
    """Return the store folder: ``$CHATGENBENCH_SUBMISSIONS`` or ``$CHATGENBENCH_HOME/submissions``
    (:func:`leaderboard.store_location.resolve_store`)."""
    return resolve_store().root


def default_allowed_benchmarks() -> tuple[str, ...]:
    """Return the benchmark sources uploads may be scored against.

    ``$CHATGENBENCH_LEADERBOARD_BENCHMARKS`` (comma-separated) or ``sample``. Submitters pick one
    of these; they never name a path on the server.
    """
    raw = os.environ.get(BENCHMARKS_ENV, "")
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    return names or DEFAULT_BENCHMARKS


def default_upload_limit() -> int:
    """Return the upload size limit in bytes: ``$CHATGENBENCH_UPLOAD_MAX_BYTES`` or 50 MiB."""
    raw = os.environ.get(UPLOAD_LIMIT_ENV)
    if not raw:
        return DEFAULT_UPLOAD_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise SubmissionError(f"${UPLOAD_LIMIT_ENV}={raw!r} is not a number of bytes") from None
    if value <= 0:
        raise SubmissionError(f"${UPLOAD_LIMIT_ENV} must be positive, got {value}")
    return value


def sanitize_name(text: str) -> str:
    """Return a safe folder name for a submission: ``[a-z0-9._-]``, at most 64 characters.

    Accents are folded (``é`` -> ``e``), every other run of characters becomes ``-``, and leading
    or trailing ``.``, ``-`` and ``_`` are stripped, so the result never contains a path separator
    and never starts with a dot. Raises :class:`SubmissionError` when nothing usable is left.
    """
    if not isinstance(text, str):
        raise SubmissionError(f"a submission name must be text, got {type(text).__name__}")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    name = _NAME_CHARS.sub("-", folded.lower())
    name = re.sub(r"-{2,}", "-", name).strip(".-_")[:NAME_MAX_CHARS].strip(".-_")
    if name in _RESERVED_NAMES:
        raise SubmissionError(
            f"submission name {text[:80]!r} has no usable characters (allowed: a-z, 0-9, '.', "
            "'-', '_')"
        )
    return name


@dataclass
class SubmissionMeta:
    """The metadata of a submission (``meta.yaml``); every field is plain, length-limited text."""

    method: str
    authors: str
    setting: str
    url: str = ""
    model_size: str = "-"
    date: str = ""
    benchmark: str = "sample"
    notes: str = ""
    seconds_per_sample: str = ""
    device: str = ""
    oracle: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the metadata as a dict of strings, in :data:`META_FIELDS` order."""
        values = asdict(self)
        return {name: values[name] for name in META_FIELDS}


def validate_meta(
    data: Any, *, allowed_benchmarks: tuple[str, ...] | None = None
) -> tuple[SubmissionMeta | None, list[str]]:
    """Check submission metadata; return ``(meta, problems)``.

    ``meta`` is None when there is any problem. Each problem names the field, what was given and
    what was expected. Unknown fields are problems too (nothing unexpected is stored). With
    ``allowed_benchmarks``, ``benchmark`` must be one of them.
    """
    if not isinstance(data, dict):
        return None, [f"metadata: expected a mapping of fields, got {type(data).__name__}"]
    data, _, merge_problem = merge_model_size(data)  # the old 'parameters': one size field
    problems: list[str] = [merge_problem] if merge_problem else []
    values: dict[str, str] = {}
    for key in data:
        if key not in META_FIELDS:
            problems.append(
                f"metadata field {str(key)[:40]!r}: unknown; expected only {', '.join(META_FIELDS)}"
            )
    for name, spec in META_FIELDS.items():
        raw = data.get(name)
        if isinstance(raw, date):  # YAML turns an unquoted 2026-11-26 into a date
            raw = raw.isoformat()
        if isinstance(raw, bool) or (raw is not None and not isinstance(raw, str | int | float)):
            problems.append(f"metadata field {name!r}: expected text, got {type(raw).__name__}")
            continue
        text = "" if raw is None else str(raw).strip()
        if spec.required and not text:
            problems.append(f"metadata field {name!r}: missing; expected {spec.description}")
            continue
        if len(text) > spec.max_chars:
            problems.append(
                f"metadata field {name!r}: {len(text)} characters; at most {spec.max_chars}"
            )
            continue
        if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
            problems.append(f"metadata field {name!r}: contains control characters")
            continue
        values[name] = text
    if "setting" in values and values["setting"] not in SUBMISSION_SETTINGS:
        problems.append(
            f"metadata field 'setting': got {values['setting'][:40]!r}; expected one of "
            f"{', '.join(SUBMISSION_SETTINGS)}"
        )
    url = values.get("url", "")
    if url and not re.match(r"^https?://[^\s<>\"']+$", url):
        problems.append(
            f"metadata field 'url': got {url[:80]!r}; expected an http:// or https:// link"
        )
    when = values.get("date") or date.today().isoformat()
    if "date" in data and "date" not in values:
        pass  # already reported above
    elif not _DATE.match(when):
        problems.append(f"metadata field 'date': got {when!r}; expected YYYY-MM-DD")
    else:
        try:
            date.fromisoformat(when)
        except ValueError:
            problems.append(f"metadata field 'date': {when!r} is not a calendar date")
    benchmark = values.get("benchmark") or DEFAULT_BENCHMARKS[0]
    if "benchmark" in data and "benchmark" not in values:
        pass  # already reported above
    elif allowed_benchmarks is not None and benchmark not in allowed_benchmarks:
        problems.append(
            f"metadata field 'benchmark': got {benchmark[:80]!r}; this leaderboard scores against "
            f"{', '.join(allowed_benchmarks)}"
        )
    problems.extend(_efficiency_problems(values))
    if problems:
        return None, problems
    return (
        SubmissionMeta(
            method=values["method"],
            authors=values["authors"],
            setting=values["setting"],
            url=url,
            model_size=values.get("model_size") or "-",
            date=when,
            benchmark=benchmark,
            notes=values.get("notes", ""),
            seconds_per_sample=values.get("seconds_per_sample", ""),
            device=values.get("device", ""),
            oracle=values.get("oracle", ""),
        ),
        [],
    )


def _efficiency_problems(values: dict[str, str]) -> list[str]:
    from chatgenbench.predictions.efficiency import parse_seconds

    problems = []
    try:
        parse_seconds(values.get("seconds_per_sample"))
    except ValueError as error:
        problems.append(f"metadata field 'seconds_per_sample': {error}")

    from chatgenbench.core.errors import UsageError
    from chatgenbench.scoring.oracle import parse_oracle_steps

    try:
        parse_oracle_steps(values.get("oracle"))
    except UsageError as error:
        problems.append(f"metadata field 'oracle': {error}")
    return problems


def read_meta(path: str | os.PathLike, *, within: str | os.PathLike | None = None) -> Any:
    """Parse a ``meta.yaml`` with :func:`chatgenbench.core.yaml_files.parse_yaml` (the safe
    subset, no object construction; size, alias expansion, nesting and value lengths bounded).

    Only a regular file is read (with ``within``: only one inside that folder). Raises
    :class:`SubmissionError` for a file that is too large, not a regular file, not UTF-8, not
    YAML, past a limit, or holding a value YAML cannot build (an impossible date).
    """
    from chatgenbench.core.yaml_files import parse_yaml

    path = Path(path)
    try:
        data = read_regular_bytes(path, within=within, max_bytes=META_MAX_BYTES)
    except OSError as error:
        raise SubmissionError(f"{path}: not read ({error})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{path}: not UTF-8 text (byte {error.start})") from None
    return parse_yaml(text, source=str(path), error=SubmissionError)


def _read_results(path: Path, folder: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """Return a ``results.json`` parsed, or None and why it cannot be used."""
    try:
        data = read_regular_bytes(path, within=folder, max_bytes=RESULTS_MAX_BYTES)
    except OSError as error:
        return None, [f"{RESULTS_FILENAME}: not read ({type(error).__name__}: {error})"]
    try:
        results = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return None, [f"{RESULTS_FILENAME}: not JSON ({error})"]
    except RecursionError:
        return None, [f"{RESULTS_FILENAME}: nested too deep to be a results file"]
    if not isinstance(results, dict):
        return None, [f"{RESULTS_FILENAME}: expected an object, got {type(results).__name__}"]
    return results, []


@dataclass
class Submission:
    """One submission folder as read from the store, with whatever is wrong with it."""

    name: str
    path: Path
    meta: SubmissionMeta | None
    meta_problems: list[str] = field(default_factory=list)
    results: dict[str, Any] | None = None
    results_problems: list[str] = field(default_factory=list)
    predictions_path: Path | None = None
    read_error: str | None = None  # the folder could not be read at all (then meta is None)

    @property
    def problems(self) -> list[str]:
        """Everything wrong with the submission: why it could not be read, its metadata's and
        its results' problems (empty for a sound submission, scored or not)."""
        found = [self.read_error] if self.read_error else []
        return found + self.meta_problems + self.results_problems

    def to_record(self) -> dict[str, Any]:
        """Return what the store's index keeps of the submission (JSON-ready)."""
        return {
            "meta": self.meta.to_dict() if self.meta is not None else None,
            "meta_problems": self.meta_problems,
            "results": self.results,
            "results_problems": self.results_problems,
            "predictions": self.predictions_path.name if self.predictions_path else None,
            "read_error": self.read_error,
        }

    @classmethod
    def from_record(cls, name: str, folder: Path, record: dict[str, Any]) -> Submission:
        """Make a submission of a record of :meth:`to_record`; ValueError or TypeError for one
        it cannot come from (the index then reads the folder again)."""
        predictions = record.get("predictions")
        if predictions is not None and predictions not in PREDICTION_FILENAMES.values():
            raise ValueError(f"indexed prediction file {str(predictions)[:40]!r} is not one")
        meta = record.get("meta")
        return cls(
            name=name,
            path=folder,
            meta=SubmissionMeta(**meta) if meta is not None else None,
            meta_problems=list(record.get("meta_problems") or []),
            results=record.get("results"),
            results_problems=list(record.get("results_problems") or []),
            predictions_path=folder / predictions if predictions else None,
            read_error=record.get("read_error"),
        )

    @property
    def broken(self) -> bool:
        """Whether something about the folder cannot be used (see :attr:`problems`)."""
        return bool(self.problems)

    @property
    def scored(self) -> bool:
        """Whether a results file exists and conforms to the results schema."""
        return self.results is not None and not self.results_problems

    @property
    def synthetic(self) -> bool:
        """Whether the results come from a synthetic benchmark (never ranked)."""
        return bool(self.results and self.results.get("synthetic"))

    @property
    def rankable(self) -> bool:
        """Whether the submission may appear in the ranking (scored, valid meta, not synthetic)."""
        return self.scored and self.meta is not None and not self.synthetic


@dataclass
class UploadCheck:
    """The outcome of :meth:`SubmissionStore.check_upload`; ``ok`` means it may be stored."""

    name: str | None
    filename: str
    n_bytes: int
    format: str | None = None
    meta: SubmissionMeta | None = None
    problems: list[str] = field(default_factory=list)
    report: Any = None  # a predictions.report.ValidationReport, when the rows were read

    @property
    def ok(self) -> bool:
        """True when nothing is wrong with the file, its rows or its metadata."""
        return (
            not self.problems
            and self.meta is not None
            and self.report is not None
            and self.report.ok
        )


class SubmissionStore:
    """A folder of submissions; see the module docstring for its layout.

    ``root`` defaults to :func:`default_store_root`, ``allowed_benchmarks`` to
    :func:`default_allowed_benchmarks` and ``max_upload_bytes`` to :func:`default_upload_limit`.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        allowed_benchmarks: tuple[str, ...] | None = None,
        max_upload_bytes: int | None = None,
    ) -> None:
        self.root = Path(root) if root is not None else default_store_root()
        self.allowed_benchmarks = tuple(allowed_benchmarks or default_allowed_benchmarks())
        self.max_upload_bytes = max_upload_bytes or default_upload_limit()
        self._benchmark_ids: dict[tuple[str, str], list[str]] = {}
        self._catalogs: dict[str, Any] = {}
        self._loaded: dict[str, tuple[tuple, Submission]] = {}
        self._images: dict[str, tuple[tuple, dict[str, Path]]] = {}
        self._index = None

    @property
    def index(self):
        """The store's index (:class:`leaderboard.store_index.StoreIndex`), made at first use."""
        if self._index is None:
            from leaderboard.store_index import StoreIndex

            self._index = StoreIndex(
                self,
                signed_files=INDEX_SIGNED_FILES,
                decode=Submission.from_record,
                encode=Submission.to_record,
            )
        return self._index

    # -- reading ---------------------------------------------------------------------------------

    def path_for(self, name: str) -> Path:
        """Return the folder of submission ``name``; raise if the name is not a safe name."""
        if sanitize_name(name) != name:
            raise SubmissionError(
                f"{name[:80]!r} is not a submission name (expected [a-z0-9._-], no leading dot)"
            )
        root = self.root.resolve()
        path = (root / name).resolve()
        if path.parent != root:
            raise SubmissionError(f"{name!r} escapes the store")
        return path

    def names(self) -> list[str]:
        """Return the names of the submission folders, sorted (hidden folders are skipped)."""
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if entry.is_dir() and not entry.name.startswith(".") and not entry.is_symlink()
        )

    def predictions_path(self, name: str) -> Path | None:
        """Return the stored prediction file of ``name`` (JSONL, CSV or Parquet), or None.

        Only a regular file that is no link is returned (a link could lead out of the store).
        """
        folder = self.path_for(name)
        for filename in PREDICTION_FILENAMES.values():
            path = folder / filename
            if path.is_file() and not path.is_symlink():
                return path
        return None

    def render_dir(self, name: str) -> Path:
        """Return the render folder of submission ``name`` (it may not exist yet)."""
        return self.path_for(name) / RENDER_DIRNAME

    def rendered_images(self, name: str) -> dict[str, Path]:
        """Return ``{sample id: PNG path}`` for every sample of ``name`` that has an image.

        Read from the render manifest (cached while it is unchanged); a path is kept only when it
        is a regular file that is, links resolved, inside the submission's folder, so neither a
        manifest nor a link (an image, the render folder) can lead anywhere else. A submission
        without a render folder, or with an unreadable manifest, has no images.
        """
        folder = self.render_dir(name)
        manifest = folder / MANIFEST_NAME
        try:
            stat = manifest.stat()
        except (FileNotFoundError, NotADirectoryError):
            return {}
        signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        cached = self._images.get(name)
        if cached is not None and cached[0] == signature:
            return cached[1]
        try:
            records = read_manifest(folder)
        except (OSError, ValueError):
            images: dict[str, Path] = {}
        else:
            root = self.path_for(name)  # resolved; a link to a submission folder is no name
            images = {}
            for record in records:
                path = image_path(folder, record)
                if path is None or path.is_symlink() or not path.is_file():
                    continue
                if path.resolve().is_relative_to(root):
                    images[record.id] = path
        self._images[name] = (signature, images)
        return images

    def _signature(self, folder: Path) -> tuple:
        parts = []
        for filename in (META_FILENAME, RESULTS_FILENAME, *PREDICTION_FILENAMES.values()):
            try:
                stat = (folder / filename).stat()
            except FileNotFoundError:
                parts.append(None)
            else:
                parts.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
        return tuple(parts)

    def load(self, name: str) -> Submission:
        """Read one submission folder; problems are recorded on the result, never raised.

        A folder whose files have not changed since the last call is not read again.
        """
        folder = self.path_for(name)
        signature = self._signature(folder)
        cached = self._loaded.get(name)
        if cached is not None and cached[0] == signature:
            return cached[1]
        submission = self._read(name, folder)
        self._loaded[name] = (signature, submission)
        return submission

    def _read(self, name: str, folder: Path) -> Submission:
        submission = Submission(name=name, path=folder, meta=None)
        submission.predictions_path = self.predictions_path(name)
        meta_path = folder / META_FILENAME
        if not os.path.lexists(meta_path):
            submission.meta_problems.append(f"{META_FILENAME} is missing")
        else:
            try:
                raw = read_meta(meta_path, within=folder)
            except SubmissionError as error:
                submission.meta_problems.append(str(error))
            else:
                submission.meta, submission.meta_problems = validate_meta(raw)
        results_path = folder / RESULTS_FILENAME
        if os.path.lexists(results_path):
            results, problems = _read_results(results_path, folder)
            if problems:
                submission.results_problems = problems
            else:
                submission.results = results
                submission.results_problems = check_results(results)
        return submission

    def submissions(self) -> list[Submission]:
        """Return every submission in the store (scored or not), sorted by name.

        A folder that cannot be read is listed too, with ``read_error`` saying why and no
        metadata (so no page ranks, pairs or shows it as a method); it never stops the others.
        Served by the store's index (:mod:`leaderboard.store_index`): only folders whose files
        changed since the last call are read again. The same list object comes back while
        nothing changed; do not modify it.
        """
        return self.index.submissions()

    def scan(self) -> list[Submission]:
        """Return what :meth:`submissions` returns, by reading every folder (no index): the
        reference the index is checked and timed against."""
        found = []
        for name in self.names():
            try:
                found.append(self.load(name))
            except SubmissionError as error:
                found.append(self._unreadable(name, str(error)))
            except Exception as error:  # broad: one bad folder must not take every page down
                reason = f"could not be read ({type(error).__name__}: {str(error)[:300]})"
                found.append(self._unreadable(name, reason))
        return found

    def _unreadable(self, name: str, reason: str) -> Submission:
        return Submission(name=name, path=self.root / name, meta=None, read_error=reason)

    # -- uploads ---------------------------------------------------------------------------------

    def benchmark_ids(self, benchmark: str, setting: str) -> list[str]:
        """Return the ids a submission for ``setting`` of ``benchmark`` must predict (cached)."""
        key = (benchmark, setting)
        if key not in self._benchmark_ids:
            from chatgenbench.benchmark.loading import load_benchmark

            self._benchmark_ids[key] = list(load_benchmark(setting, benchmark)["id"])
        return self._benchmark_ids[key]

    def catalog(self, benchmark: str):
        """Return the model catalogue of ``benchmark`` (cached)."""
        if benchmark not in self._catalogs:
            from chatgenbench.benchmark.loading import load_benchmark_catalog

            self._catalogs[benchmark] = load_benchmark_catalog(benchmark)
        return self._catalogs[benchmark]

    def check_upload(self, filename: str, data: bytes, meta: dict[str, Any]) -> UploadCheck:
        """Check an uploaded prediction file and its metadata without storing anything.

        ``meta`` may carry ``name`` (the submission's folder name, sanitised; default: derived
        from ``method``) besides the :data:`META_FIELDS`. Every row is validated against the ids
        and model catalogue of the chosen benchmark and setting; a missing id is an error.
        Returns an :class:`UploadCheck`; ``ok`` tells whether :meth:`add` may store it.
        """
        from chatgenbench.predictions.validation import validate_predictions

        meta = dict(meta)
        check = UploadCheck(name=None, filename=str(filename)[:200], n_bytes=len(data))
        if len(data) > self.max_upload_bytes:
            check.problems.append(
                f"file is {len(data)} bytes, over the upload limit of {self.max_upload_bytes} bytes"
            )
        if not data.strip():
            check.problems.append("file is empty")
        suffix = Path(str(filename)).suffix.lower()
        check.format = UPLOAD_EXTENSIONS.get(suffix)
        if check.format is None:
            check.problems.append(
                f"file name {str(filename)[:80]!r}: expected a .jsonl, .csv or .parquet file"
            )
        raw_name = meta.pop("name", None) or meta.get("method") or ""
        try:
            check.name = sanitize_name(str(raw_name))
        except SubmissionError as error:
            check.problems.append(str(error))
        else:
            if (self.root / check.name).exists():
                check.problems.append(
                    f"submission name {check.name!r} is taken; choose another name"
                )
        check.meta, meta_problems = validate_meta(meta, allowed_benchmarks=self.allowed_benchmarks)
        check.problems.extend(meta_problems)
        if check.problems:
            return check
        assert check.meta is not None and check.format is not None
        settings = (
            ["supervised", "few_shot"] if check.meta.setting == "all" else [check.meta.setting]
        )
        try:
            from chatgenbench.benchmark.loading import BenchmarkError, resolve_source

            available = resolve_source(check.meta.benchmark).settings
            ids: list[str] = []
            for setting in settings:
                if setting in available:
                    ids.extend(self.benchmark_ids(check.meta.benchmark, setting))
            if not ids:
                check.problems.append(
                    f"benchmark {check.meta.benchmark!r} has no {check.meta.setting!r} setting "
                    f"(it has: {', '.join(available)})"
                )
                return check
            catalog = self.catalog(check.meta.benchmark)
        except BenchmarkError as error:
            check.problems.append(f"benchmark {check.meta.benchmark!r}: {error}")
            return check
        with tempfile.TemporaryDirectory(prefix="chatgenbench-upload-") as tmp:
            path = Path(tmp) / PREDICTION_FILENAMES[check.format]
            path.write_bytes(data)
            try:
                check.report = validate_predictions(path, ids, catalog, fmt=check.format)
            except PredictionFileError as error:
                check.problems.append(
                    str(error).replace(str(path), PREDICTION_FILENAMES[check.format])
                )
            except Exception as error:  # broad: the page must list a problem, never a traceback
                check.problems.append(
                    f"the file could not be checked ({type(error).__name__}: "
                    f"{str(error)[:200]}); please report this with the file"
                )
            else:
                check.report.path = check.filename
        return check

    def add(self, check: UploadCheck, data: bytes) -> Path:
        """Store a checked upload as ``<root>/<name>/`` (prediction file and ``meta.yaml``).

        The folder is written under ``.incoming/`` and renamed into place, so a crash never leaves
        a half-written submission. Raises :class:`SubmissionError` when ``check`` is not ok or the
        name was taken meanwhile.
        """
        import yaml

        if not check.ok or check.name is None or check.meta is None or check.format is None:
            raise SubmissionError("only an upload whose check is ok can be stored")
        target = self.path_for(check.name)
        incoming = self.root / INCOMING_DIR
        incoming.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{check.name}.", dir=incoming))
        try:
            (tmp / PREDICTION_FILENAMES[check.format]).write_bytes(data)
            meta_text = yaml.safe_dump(
                check.meta.to_dict(), sort_keys=False, allow_unicode=True, width=100
            )
            (tmp / META_FILENAME).write_text(meta_text, "utf-8")
            for child in tmp.iterdir():
                with open(child, "rb") as handle:
                    os.fsync(handle.fileno())
            if target.exists():
                raise SubmissionError(f"submission name {check.name!r} is taken")
            os.rename(tmp, target)
            self.index.update(check.name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target
