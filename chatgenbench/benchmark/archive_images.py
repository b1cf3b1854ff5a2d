"""The images (and webdataset records) that a raw benchmark folder holds inside archives.

:class:`ArchiveImages` is the converter's view of every archive under a raw folder (see
:mod:`chatgenbench.benchmark.archives` for how one is read safely). It works in two passes over each archive:

1. :meth:`ArchiveImages.scan` lists the members (no image bytes are kept), indexes the image members
   by the names they answer to (:func:`chatgenbench.benchmark.archives.member_keys`) and reads the record
   members of a webdataset archive (``KEY.json`` beside ``KEY.png``).
2. After the records have been matched to members (:meth:`lookup`, :meth:`group_image`),
   :meth:`load` reads only the members that were matched, stopping as soon as it has them all.
   Each member is checked as it is read (:func:`image_problem`: an image, readable, under
   :data:`MAX_IMAGE_PIXELS`) and a refused one is released at once, so a release of large
   non-images never sits in memory together.

A matched member is a :class:`MemberRef` in the record until :meth:`resolve` turns it into image
bytes (or None, with the refusal counted). :meth:`report` gives the match rate: records
with an image, records without, members used and unused, and everything refused.
"""

from __future__ import annotations

import io
import os
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatgenbench.benchmark.archives import (
    IMAGE_EXTENSIONS,
    ArchiveLimits,
    ArchiveReport,
    archive_suffix,
    member_extension,
    member_keys,
    read_archive,
    webdataset_key,
)
from chatgenbench.benchmark.records import parse_json_text, record_problem
from chatgenbench.core.errors import KeyMapError

#: Images with more pixels than this are refused (a small PNG can decode to gigabytes).
MAX_IMAGE_PIXELS = 64_000_000
_EXAMPLES = 10


@dataclass(frozen=True)
class MemberRef:
    """One archive member that a record refers to: the archive (relative to the raw folder) and name."""

    archive: str
    name: str


@dataclass
class ArchiveRecord:
    """A record an archive carries itself: a webdataset sample (``KEY.json``, with its key's
    images) or one record of an annotation member (``key`` is then ``KEY-000000``, ...)."""

    archive: str
    name: str
    key: str
    raw: Any
    group: dict[str, MemberRef]


def find_archives(root: Path) -> list[Path]:
    """Return the archive files under ``root`` (hidden folders skipped), sorted."""
    return [
        path
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and archive_suffix(path) is not None
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    ]


class ArchiveImages:
    """Every archive under a raw folder: its image index, its webdataset records, what was used."""

    def __init__(
        self,
        root: str | os.PathLike,
        key_map: dict[str, Any],
        *,
        limits: ArchiveLimits | None = None,
        archives: list[Path] | None = None,
    ) -> None:
        self.root = Path(root)
        self.key_map = key_map
        self.limits = limits or ArchiveLimits()
        self.paths = find_archives(self.root) if archives is None else archives
        self.reports: dict[str, ArchiveReport] = {}
        self.records: list[ArchiveRecord] = []
        self._index: dict[str, set[MemberRef]] = defaultdict(set)
        self._image_members: dict[str, int] = Counter()
        self._wanted: dict[str, set[str]] = defaultdict(set)
        self._data: dict[MemberRef, bytes] = {}
        self._problems: dict[MemberRef, str] = {}
        self.not_found: Counter = Counter()
        self.ambiguous: Counter = Counter()
        self.refused_images: Counter = Counter()
        self.refused_image_examples: list[dict[str, str]] = []
        self.tried_values: list[str] = []
        self.hidden_members = 0

    @property
    def image_members(self) -> int:
        """How many image members the archives hold (after refusals)."""
        return sum(self._image_members.values())

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def scan(self) -> ArchiveImages:
        """First pass: index image members and read webdataset record members. Returns self."""
        settings = self.key_map.get("webdataset", {})
        record_extensions = {ext.casefold().lstrip(".") for ext in settings.get("records", [])}
        for path in self.paths:
            archive = self._relative(path)
            report = ArchiveReport(archive)
            groups: dict[str, dict[str, MemberRef]] = defaultdict(dict)
            records: list[tuple[str, str, list[Any], bool]] = []
            members = read_archive(
                path,
                want=lambda name: member_extension(name).lstrip(".") in record_extensions,
                limits=self.limits,
                report=report,
            )
            for name, data in members:
                key, extension = webdataset_key(name)
                ref = MemberRef(archive, name)
                if _hidden(name):  # macOS resource forks (__MACOSX/, ._x.png), dot files
                    self.hidden_members += 1
                elif member_extension(name) in IMAGE_EXTENSIONS:
                    self._image_members[archive] += 1
                    groups[key][extension] = ref
                    for member_key in member_keys(name):
                        self._index[member_key].add(ref)
                elif data is not None:  # parsed now, so that its bytes are not kept
                    records.append((name, key, *_parse_records(archive, name, data)))
                    del data
            for name, key, parsed, single in records:
                for number, raw in enumerate(parsed):
                    if single:  # a webdataset sample: its key's images are its own
                        self.records.append(
                            ArchiveRecord(archive, name, key, raw, dict(groups.get(key, {})))
                        )
                    else:
                        self.records.append(
                            ArchiveRecord(archive, name, f"{key}-{number:06d}", raw, {})
                        )
            self.reports[archive] = report
        return self

    def lookup(self, value: Any) -> MemberRef | None:
        """Return the one image member that ``value`` (a path, file name, stem or id) names, or None.

        The most specific name wins (full path, then without extension, file name, stem); a name
        that two members answer to is ambiguous and counted, never guessed.
        """
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            return None
        text = str(value)
        if len(self.tried_values) < _EXAMPLES and text not in self.tried_values:
            self.tried_values.append(text)
        for key in member_keys(text):
            refs = self._index.get(key)
            if not refs:
                continue
            if len(refs) > 1:
                self.ambiguous[text] += 1
                return None
            return self._want(next(iter(refs)))
        return None

    def group_image(self, record: ArchiveRecord, field: str) -> MemberRef | None:
        """Return the webdataset group's member for ``field`` (``image``/``reference_images``)."""
        extensions = self.key_map.get("webdataset", {}).get(field, [])
        for extension in extensions:
            ref = record.group.get(extension.casefold().lstrip("."))
            if ref is not None:
                return self._want(ref)
        return None

    def note_not_found(self, value: str) -> None:
        """Count a record's image reference found neither on disk nor in an archive."""
        self.not_found[value] += 1

    def _want(self, ref: MemberRef) -> MemberRef:
        self._wanted[ref.archive].add(ref.name)
        return ref

    def members_used(self) -> int:
        """How many distinct members the records matched."""
        return sum(len(names) for names in self._wanted.values())

    def check_matches(self, records: int) -> None:
        """Stop with the names seen when the archives hold images and no record matched one."""
        if self.image_members == 0 or self.members_used() > 0:
            return
        examples = []
        for archive in self.reports:
            examples += [ref.name for ref in self._refs_of(archive)][:_EXAMPLES]
        raise KeyMapError(
            f"no record matched any of the {self.image_members} images in the archives "
            f"({', '.join(self.reports)}). Member names seen: {examples[:_EXAMPLES]}. Record keys "
            f"tried ({records} records): {self.tried_values}.",
            how_to_fix="say which record field names an image member in the key map, e.g. "
            "'archive_match: {image: [your_field]}' (the member's file name, stem or path must "
            "equal the field's value), and check the names with 'chatgenbench prepare --inspect'",
        )

    def _refs_of(self, archive: str) -> list[MemberRef]:
        refs = {ref for group in self._index.values() for ref in group if ref.archive == archive}
        return sorted(refs, key=lambda ref: ref.name)

    def load(self) -> None:
        """Second pass: read the matched members, stopping at each archive once all are read."""
        for path in self.paths:
            archive = self._relative(path)
            wanted = self._wanted.get(archive)
            if not wanted:
                continue
            missing = set(wanted)
            for name, data in read_archive(path, want=missing.__contains__, limits=self.limits):
                if data is not None and name in missing:
                    # one member at a time: checked as it is read, and a refused one released
                    # at once rather than held with the others until the records are built
                    ref = MemberRef(archive, name)
                    problem = image_problem(data)
                    if problem is None:
                        self._data[ref] = data
                    else:
                        self._problems[ref] = problem
                    del data
                    missing.discard(name)
                    if not missing:
                        break

    def resolve(self, ref: MemberRef) -> dict[str, Any] | None:
        """Return the member as an image value (``{bytes, path}``), or None when it was refused."""
        data = self._data.pop(ref, None)  # handed over: the record holds it from here
        reason = self._problems.get(ref) or ("not_read" if data is None else None)
        if reason is not None:
            self.refused_images[reason] += 1
            if len(self.refused_image_examples) < _EXAMPLES:
                self.refused_image_examples.append(
                    {"archive": ref.archive, "name": ref.name, "reason": reason}
                )
            return None
        return {"bytes": data, "path": None}

    def report(self) -> dict[str, Any]:
        """Return the archives' part of the conversion report (JSON-ready)."""
        archives = {}
        for archive, report in self.reports.items():
            entry = report.to_dict()
            entry["image_members"] = self._image_members.get(archive, 0)
            entry["records"] = sum(1 for record in self.records if record.archive == archive)
            entry["members_used"] = len(self._wanted.get(archive, ()))
            archives[archive] = entry
        unused = [
            ref.name
            for archive in self.reports
            for ref in self._refs_of(archive)
            if ref.name not in self._wanted.get(archive, set())
        ]
        return {
            "archives": archives,
            "image_members": self.image_members,
            "members_used": self.members_used(),
            "members_unused": len(unused),
            "unused_examples": unused[:_EXAMPLES],
            "hidden_members_skipped": self.hidden_members,
            "not_found": sum(self.not_found.values()),
            "not_found_examples": list(self.not_found)[:_EXAMPLES],
            "ambiguous": sum(self.ambiguous.values()),
            "ambiguous_examples": list(self.ambiguous)[:_EXAMPLES],
            "refused_images": dict(self.refused_images),
            "refused_image_examples": list(self.refused_image_examples),
        }


def _hidden(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return any(part.startswith(".") and part not in (".", "") for part in parts) or (
        "__MACOSX" in parts
    )


def _parse_records(archive: str, name: str, data: bytes) -> tuple[list[Any], bool]:
    """Return the records of one record member and whether it is a single webdataset sample: a
    JSON object is one record, a JSON list or a JSONL member holds many (an annotation file packed
    beside the images). Raises :class:`KeyMapError` naming the archive, the member and the line or
    record for text that is not UTF-8 or JSON, or a record :func:`record_problem` refuses."""
    where = f"{archive}: member {name!r}"
    how_to_fix = (
        "set the key map's 'webdataset: {records: []}' if the archive's JSON members are not "
        "benchmark records"
    )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise KeyMapError(f"{where}: not UTF-8 text ({error})", how_to_fix=how_to_fix) from None
    try:
        if name.casefold().endswith(".jsonl"):
            lines = enumerate(text.splitlines(), 1)
            parsed = [
                parse_json_text(line, f"{where}: line {number}")
                for number, line in lines
                if line.strip()
            ]
            single = False
        else:
            value = parse_json_text(text, where)
            parsed, single = (value, False) if isinstance(value, list) else ([value], True)
    except KeyMapError as error:
        raise KeyMapError(str(error), how_to_fix=how_to_fix) from None
    for number, raw in enumerate(parsed, 1):
        problem = record_problem(raw)
        if problem is not None:
            record = "" if single else f": record {number}"
            raise KeyMapError(f"{where}{record}: {problem}")
    return parsed, single


def image_problem(data: bytes) -> str | None:
    """Return why ``data`` is not a usable image, or None: the one check for every image a release
    brings, archive member or file on disk.

    ``not_an_image`` (no image format recognises it: text, an empty file), ``too_many_pixels``
    (more than :data:`MAX_IMAGE_PIXELS` declared, checked before any pixel is decoded) or
    ``damaged_image`` (the header opens but the data does not read back: a truncated file). A PNG's
    chunks are verified without decoding; other formats are decoded (a JPEG at 1/8 scale).
    """
    from PIL import Image

    stage = "not_an_image"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS or width <= 0 or height <= 0:
                    return "too_many_pixels" if width * height else "not_an_image"
                stage = "damaged_image"
                if image.format == "PNG":
                    image.verify()
                else:
                    image.draft(image.mode, (max(width // 8, 1), max(height // 8, 1)))
                    image.load()
    except Image.DecompressionBombError:
        return "too_many_pixels"
    except Exception:  # PIL raises many types for bytes it cannot read; the stage says which
        return stage
    return None
