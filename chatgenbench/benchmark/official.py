"""Converting the official ChatGenBench release into our schema, through a documented key map.

No machine of ours reaches the hub, so the official files' field names are not known here. The
converter therefore reads every raw field through :data:`DEFAULT_KEY_MAP`: for each of our fields a
list of candidate raw keys (dotted paths reach into nested objects), tried in order. A user whose
files differ passes a YAML or JSON file with only the entries to change, e.g.::

    fields:
      freestyle_input: [conversation.0.value]
      prompt: [answer.prompt]
    settings_from_path:
      few_shot: [fewshot, few_shot]

When a required field cannot be mapped, conversion stops with :class:`KeyMapError`, which names the
fields it found in the raw record and the candidates it tried.

An image file on disk that a record names gets the archive members' checks
(:func:`~chatgenbench.benchmark.archive_images.image_problem`: a regular file inside the raw folder,
under the member size bound, a readable image under the pixel limit); one that fails stops the
conversion with the file, the record and the field named.

Images may lie in archives under the raw folder (the release ships ``few_test.tar.gz``), and a
webdataset archive may carry the records too: see :mod:`chatgenbench.benchmark.archive_images` (matching) and
:mod:`chatgenbench.benchmark.archives` (safe reading). The model list goes through
:mod:`chatgenbench.benchmark.model_list`; :mod:`chatgenbench.benchmark.inspection` describes a raw folder first.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from pathlib import Path
from typing import Any

from chatgenbench.benchmark.archive_images import (
    MAX_IMAGE_PIXELS,
    ArchiveImages,
    ArchiveRecord,
    MemberRef,
    image_problem,
)
from chatgenbench.benchmark.archives import ArchiveLimits
from chatgenbench.benchmark.catalog import CatalogEntry, ModelCatalog
from chatgenbench.benchmark.folder import MANIFEST_FILENAME, BenchmarkInfo, write_benchmark_folder
from chatgenbench.benchmark.model_list import alias_value as _value_map
from chatgenbench.benchmark.model_list import catalog_entry, find_model_list, read_model_list
from chatgenbench.benchmark.records import RecordError, parse_json_text, record_problem, to_row
from chatgenbench.core.errors import BenchmarkError, KeyMapError
from chatgenbench.core.normalize import has_lone_surrogate, normalize_model_name, printable_text
from chatgenbench.core.storage import chatgenbench_home
from chatgenbench.core.yaml_files import bounded_repr, read_yaml_file

#: The official ChatGenBench release on the Hugging Face hub.
OFFICIAL_HUB_ID = "ChengyouJia/ChatGenBench"

DEFAULT_KEY_MAP: dict[str, Any] = {
    "fields": {
        "id": ["id", "idx", "sample_id", "uid", "index"],
        "freestyle_input": [
            "freestyle_input",
            "freestyle",
            "input",
            "query",
            "instruction",
            "question",
            "user_input",
            "chat",
        ],
        "history": ["history", "turns", "conversations", "dialogue", "messages"],
        "reference_images": ["reference_images", "input_images", "ref_images", "images"],
        "input_type": ["input_type", "type", "category", "task_type"],
        "prompt": [
            "prompt",
            "output.prompt",
            "answer.prompt",
            "target.prompt",
            "gt.prompt",
            "conversations.-1.value.prompt",  # ShareGPT: the answer turn, JSON text
        ],
        "negative_prompt": [
            "negative_prompt",
            "negativePrompt",
            "output.negativePrompt",
            "output.negative_prompt",
            "answer.negativePrompt",
            "conversations.-1.value.negative_prompt",
            "conversations.-1.value.negativePrompt",
        ],
        "model": [
            "model",
            "model_name",
            "modelName",
            "output.model",
            "answer.model",
            "checkpoint",
            "conversations.-1.value.model",
        ],
        "model_description": ["model_description", "model_desc", "description"],
        "arguments": [
            "arguments",
            "parameters",
            "params",
            "args",
            "output.parameters",
            "output.arguments",
            "answer.parameters",
            "conversations.-1.value.arguments",
            "conversations.-1.value.parameters",
        ],
        "image": ["image", "gt_image", "target_image", "output_image", "image_path"],
        "setting": ["setting"],
        "source": ["source"],
    },
    "arguments": {
        "sampler": ["sampler", "sampler_name", "samplerName", "Sampler"],
        "steps": ["steps", "num_inference_steps", "Steps"],
        "cfg_scale": ["cfg_scale", "cfgScale", "cfg", "guidance_scale", "CFG scale"],
        "width": ["width", "Width", "w"],
        "height": ["height", "Height", "h"],
    },
    "input_types": {
        "single": ["single", "text", "freestyle", "single-turn"],
        "multimodal": ["multimodal", "multi-modal", "image", "mm"],
        "history": ["history", "multi-turn", "multiturn", "dialog", "dialogue"],
    },
    "settings_from_path": {
        "few_shot": ["few_shot", "few-shot", "fewshot", "few_test"],
        "train": ["train"],
        "supervised": ["supervised", "sup", "test"],
    },
    "catalog_files": ["6807_models_Info.csv", "models_info.csv", "catalog.jsonl", "models.jsonl"],
    "catalog_fields": {  # columns of the model list; case, spaces, '_' and '-' are ignored
        "name": ["model_name", "name", "model", "Model", "title", "model_file"],
        "description": ["description", "model_description", "desc", "Description", "model_info"],
        "architecture": ["architecture", "base_model", "baseModel", "base", "Base Model"],
        "kind": ["kind", "type", "model_type", "Type"],
        "base": ["base_checkpoint", "base_model_name", "recommended_base"],
        "version_id": ["version_id", "versionId", "modelVersionId", "model_version_id"],
        "download": ["download_url", "downloadUrl", "download", "url", "link"],
        "blake3": ["blake3", "hashes.BLAKE3"],
        "autov2": ["autov2", "hashes.AutoV2"],
        "hash": ["sha256", "hash", "hashes.SHA256", "file_hash", "AutoV2"],
    },
    "architecture_values": {
        "sd15": ["sd15", "sd 1.5", "sd1.5", "sd_1.5", "sd 1.4", "sd1"],
        "sdxl": ["sdxl", "sdxl 1.0", "sdxl1.0", "sd_xl", "pony", "sdxl 0.9"],
    },
    "kind_values": {
        "checkpoint": ["checkpoint", "ckpt", "model"],
        "lora": ["lora", "locon", "lycoris", "loha"],
    },
    "required": ["prompt", "model", "arguments"],
    # Images inside archives (.tar, .tar.gz, .zip): a record's image field is looked up on disk and
    # then among the archives' members (by path, file name or stem). When a field is still empty,
    # the record fields listed here (our names or raw dotted paths) are tried as member names.
    "archive_match": {"image": ["id"], "reference_images": []},
    # A webdataset archive carries its records itself: KEY.json beside KEY.png. 'records' names the
    # member extensions that hold records; the others say which member of a key fills which field.
    "webdataset": {
        "records": ["json", "jsonl"],
        "image": ["png", "jpg", "jpeg", "webp"],
        "reference_images": ["ref.png", "ref.jpg", "ref.jpeg", "input.png", "input.jpg"],
    },
}

RAW_SUFFIXES = (".jsonl", ".json", ".parquet")
#: The largest key-map file read (a key map is a few dozen lines).
KEY_MAP_MAX_BYTES = 256 * 1024


def load_key_map(override: str | os.PathLike | dict | None = None) -> dict[str, Any]:
    """Return :data:`DEFAULT_KEY_MAP` updated (section by section) with ``override``.

    ``override`` is a dict or a YAML/JSON file path; each section's entries replace the default's.
    """
    key_map = copy.deepcopy(DEFAULT_KEY_MAP)
    if override is None:
        return key_map
    if not isinstance(override, dict):
        path = Path(override)
        override = read_yaml_file(path, max_bytes=KEY_MAP_MAX_BYTES, error=KeyMapError) or {}
        if not isinstance(override, dict):
            raise KeyMapError(
                f"key map file {path} must hold a mapping, not a {type(override).__name__}"
            )
    for section, value in override.items():
        if section not in key_map:
            raise KeyMapError(
                f"unknown key-map section {bounded_repr(section)}; known: {sorted(key_map)}"
            )
        if isinstance(key_map[section], dict) and isinstance(value, dict):
            for key, candidates in value.items():
                key_map[section][key] = [candidates] if isinstance(candidates, str) else candidates
        else:
            key_map[section] = value
    return key_map


_MISSING = object()


#: The longest JSON text that a key-map path parses on its way into a field (a release's answer
#: JSON inside ``conversations[1].value`` is a few kilobytes).
MAX_FIELD_JSON_CHARS = 1 << 20


def _lookup(record: Any, path: str) -> Any:
    """The value at a dotted ``path`` of ``record``, or ``_MISSING``.

    A part is a key of an object or an index of an array (``-1``: the last item). A string met
    before the path ends is read as JSON text when it holds an object or an array
    (``conversations.1.value.prompt`` where ``value`` is ``'{"prompt": ...}'``): text that is not
    JSON leaves the path unmatched; text longer than :data:`MAX_FIELD_JSON_CHARS`, nested too
    deeply or holding a lone surrogate raises :class:`KeyMapError` naming the field.
    """
    value = record
    parts = path.split(".")
    for number, part in enumerate(parts):
        if isinstance(value, str):
            value = json_text_value(value, ".".join(parts[:number]))
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and _list_index(part, len(value)) is not None:
            value = value[_list_index(part, len(value))]
        else:
            return _MISSING
    return value


def _list_index(part: str, length: int) -> int | None:
    """The index ``part`` names in a list of ``length`` items (``-1`` the last), or None."""
    digits = part[1:] if part.startswith("-") else part
    if not digits.isdigit():
        return None
    index = int(part)
    return index if -length <= index < length else None


def json_text_value(text: str, field: str) -> Any:
    """Return the object or array a field's JSON text holds, or ``_MISSING`` when the text is not
    a JSON object or array. Raises :class:`KeyMapError` naming ``field`` for text longer than
    :data:`MAX_FIELD_JSON_CHARS` (it is not parsed) and for a value that cannot be data (nested
    too deeply, a lone surrogate)."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return _MISSING
    if len(stripped) > MAX_FIELD_JSON_CHARS:
        raise KeyMapError(
            f"field {field}: JSON text of {len(stripped):,} characters, more than "
            f"{MAX_FIELD_JSON_CHARS:,}; not parsed"
        )
    try:
        value = parse_json_text(stripped, f"field {field}")
    except KeyMapError as error:
        if "nested too deeply" in str(error):
            raise
        return _MISSING  # text that only looks like JSON: the path does not match
    problem = record_problem(value)
    if problem is not None:
        raise KeyMapError(f"field {field} (JSON text): {problem}")
    return value


def _first(record: dict, candidates: list[str]) -> Any:
    for path in candidates:
        value = _lookup(record, path)
        if value is not _MISSING and value is not None:
            return value
    return _MISSING


def _describe_fields(record: dict) -> list[str]:
    found = []
    for key, value in record.items():
        found.append(key)
        if isinstance(value, dict):
            found.extend(f"{key}.{inner}" for inner in value)
    return found


def _image(
    value: Any,
    base: Path,
    root: Path,
    archives: ArchiveImages | None = None,
    field: str = "image",
) -> Any:
    """Return a record's image value as ``{bytes, path}`` (read and checked), a
    :class:`MemberRef` (an archive member, read later) or None (an archive image not found).

    Raises :class:`RecordError` naming the field and the problem: a value of the wrong type, a path
    that escapes the raw folder, is missing or is not a regular file, or a file that is not a
    readable image under the pixel limit (the same :func:`image_problem` as archive members).
    """
    if isinstance(value, str) and not value.strip():
        return None  # an empty reference: no image
    if isinstance(value, str):
        path = (base / value).resolve()
        if not path.is_relative_to(root.resolve()):
            raise RecordError(f"{field}: image path {value!r} escapes the raw folder")
        if path.exists() and not path.is_file():
            raise RecordError(f"{field}: image path {value!r} is not a regular file ({path})")
        if not path.is_file():
            if archives is not None and archives.image_members:
                ref = archives.lookup(value)
                if ref is None:
                    archives.note_not_found(value)
                return ref
            raise RecordError(f"{field}: image file {value!r} not found under {base}")
        return {"bytes": _read_image_file(path, value, field, archives), "path": None}
    problem = image_type_problem(value)
    if problem is not None:
        raise RecordError(f"{field}: {problem}")
    data, inner = value.get("bytes"), value.get("path")
    if data is None:
        return _image(inner, base, root, archives, field) if inner else None
    _check_image_bytes(bytes(data), f"{field}: the image's bytes", len(data))
    return {"bytes": bytes(data), "path": None}


def image_type_problem(value: Any) -> str | None:
    """Return why a record's image value has the wrong type, or None for a text path, an object
    with ``bytes`` (binary) or ``path`` (text), or None (no image)."""
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, dict) and ("bytes" in value or "path" in value):
        data, inner = value.get("bytes"), value.get("path")
        if isinstance(data, (bytes, bytearray)) or (data is None and inner in (None, "")):
            return None
        if data is None and isinstance(inner, str):
            return None
        got = f"bytes of type {type(data).__name__}" if data is not None else f"path {inner!r}"
        return f"expected an image as {{bytes: <binary>}} or {{path: <text>}}, got {got}"
    return (
        "expected an image path (text) or an object with 'path' or 'bytes', got "
        f"{type(value).__name__} {_bounded_repr(value)}"
    )


def _read_image_file(path: Path, value: str, field: str, archives: ArchiveImages | None) -> bytes:
    """Read an image file of the raw folder, bounded by the archive member bound, and check it."""
    limit = (archives.limits if archives is not None else ArchiveLimits()).max_member_bytes
    size = path.stat().st_size
    if size > limit:
        raise RecordError(f"{field}: image file {value!r} is {size} bytes, over {limit}")
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    _check_image_bytes(data, f"{field}: image file {value!r}", size)
    return data


_IMAGE_PROBLEMS = {
    "not_an_image": "is not an image any reader recognises",
    "too_many_pixels": f"declares more than {MAX_IMAGE_PIXELS} pixels",
    "damaged_image": "has an image header but its data does not read back (truncated or damaged)",
}


def _check_image_bytes(data: bytes, what: str, size: int) -> None:
    problem = image_problem(data)
    if problem is not None:
        raise RecordError(
            f"{what} ({size} bytes) {_IMAGE_PROBLEMS.get(problem, problem)} ({problem})"
        )


def _bounded_repr(value: Any, width: int = 60) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else f"with {len(value)} items"
    return text if len(text) <= width else text[: width - 3] + "..."


def _match_archive_images(
    record: dict[str, Any],
    raw: dict[str, Any],
    key_map: dict[str, Any],
    archives: ArchiveImages,
    member: ArchiveRecord | None,
) -> None:
    """Fill a record's empty image fields from its webdataset group or the archive_match fields."""
    for field in ("image", "reference_images"):
        if record.get(field):
            continue
        ref = archives.group_image(member, field) if member is not None else None
        if ref is None:
            for name in key_map["archive_match"].get(field, []):
                value = record[name] if name in record else _lookup(raw, name)
                ref = archives.lookup(value) if value is not _MISSING else None
                if ref is not None:
                    break
        if ref is not None:
            record[field] = ref if field == "image" else [ref]


def map_record(
    raw: dict[str, Any],
    key_map: dict[str, Any],
    *,
    where: str,
    base: Path,
    root: Path,
    archives: ArchiveImages | None = None,
    member: ArchiveRecord | None = None,
) -> dict[str, Any]:
    """Return a loose record (the input of :func:`chatgenbench.benchmark.records.to_row`) for one raw record.

    With ``archives``, an image that is not on disk is looked up among the archive members, and
    matched members stay :class:`~chatgenbench.benchmark.archive_images.MemberRef` until they are read;
    ``member`` is the webdataset record the raw record came from. Raises :class:`KeyMapError`
    naming the fields found when a required field is missing.
    """
    if not isinstance(raw, dict):
        raise KeyMapError(f"{where}: expected an object, got {type(raw).__name__}")
    fields = key_map["fields"]
    record: dict[str, Any] = {}
    mapped_arguments = {}
    try:
        for field, candidates in fields.items():
            value = _first(raw, candidates)
            if value is not _MISSING:
                record[field] = value
        source_of_arguments = arguments_source(raw, record.get("arguments"))
        for key, candidates in key_map["arguments"].items():
            value = _first(source_of_arguments, candidates)
            if value is not _MISSING:
                mapped_arguments[key] = value
    except KeyMapError as error:  # a field's JSON text that cannot be read: name the record too
        raise KeyMapError(f"{where}: {error}", how_to_fix=error.how_to_fix) from None
    if mapped_arguments:
        record["arguments"] = mapped_arguments
    else:
        record.pop("arguments", None)

    missing = [name for name in key_map["required"] if name not in record]
    if "freestyle_input" not in record and "history" not in record:
        missing.insert(0, "freestyle_input (or history)")
    if missing:
        tried = {name.split(" ")[0]: fields.get(name.split(" ")[0], []) for name in missing}
        raise KeyMapError(
            f"{where}: cannot map required field(s) {missing}. Raw fields found: "
            f"{bounded_repr(_describe_fields(raw), 300)}. Candidates tried: "
            f"{bounded_repr(tried, 300)}. Pass a key map (--key-map FILE) "
            "naming the raw key for each, e.g. 'fields: {prompt: [your_key]}'."
        )
    if "input_type" in record:
        mapped = _value_map(key_map["input_types"], record["input_type"])
        if mapped is None:
            raise KeyMapError(
                f"{where}: input type {bounded_repr(record['input_type'])} matches none of "
                f"{bounded_repr(key_map['input_types'], 300)}; extend the key map's "
                "'input_types' section"
            )
        record["input_type"] = mapped
    images = record.get("reference_images")
    if images is not None:
        images = images if isinstance(images, list) else [images]
        images = [
            _image(image, base, root, archives, f"reference_images[{number}]")
            for number, image in enumerate(images)
        ]
        record["reference_images"] = [image for image in images if image is not None]
    if record.get("image") is not None:
        record["image"] = _image(record["image"], base, root, archives)
    if archives is not None and archives.image_members:
        _match_archive_images(record, raw, key_map, archives, member)
    return record


def _setting_from_path(path: Path, key_map: dict[str, Any]) -> str:
    text = str(path).casefold()
    for setting, patterns in key_map["settings_from_path"].items():
        if any(pattern.casefold() in text for pattern in patterns):
            return setting
    return "supervised"


def _read_raw_file(path: Path, where: str | None = None) -> list[Any]:
    """Return the records of a raw JSON, JSONL or Parquet file, each checked by
    :func:`~chatgenbench.benchmark.records.record_problem`.

    Raises :class:`KeyMapError` naming the file (``where``, else its path) and the line or record
    for text that is not UTF-8 or not JSON, JSON nested too deeply for the parser, a record holding
    a lone surrogate or nested past the bound, and a Parquet file that cannot be read.
    """
    where = where or str(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            records = pq.read_table(path).to_pylist()
        except Exception as error:  # pyarrow raises several types for a damaged file
            raise KeyMapError(f"{where}: not a readable Parquet file ({error})") from None
    else:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise KeyMapError(f"{where}: not UTF-8 text ({error})") from None
        if path.suffix == ".jsonl":
            records = [
                parse_json_text(line, f"{where}: line {number}")
                for number, line in enumerate(text.splitlines(), 1)
                if line.strip()
            ]
        else:
            data = parse_json_text(text, where)
            records = data
            if isinstance(data, dict):
                records = next((v for v in data.values() if isinstance(v, list)), [data])
            elif not isinstance(data, list):
                records = [data]
    for index, raw in enumerate(records):
        problem = record_problem(raw)
        if problem is not None:
            raise KeyMapError(f"{where}: record {index + 1}: {problem}")
    return records


def arguments_source(raw: dict[str, Any], arguments: Any) -> dict[str, Any]:
    """Return where a record's argument fields are: its arguments value when that is an object
    (or a JSON text of one), else the record itself (arguments as top-level fields)."""
    if isinstance(arguments, str):
        arguments = json_text_value(arguments, "arguments")
    return arguments if isinstance(arguments, dict) else raw


def _catalog_from(
    raw_folder: Path, key_map: dict[str, Any], rows_by_config: dict, *, models=None
) -> tuple[ModelCatalog, dict[str, Any]]:
    """Return the catalogue: the model list (``models``, else one found in the folder) plus every
    model the rows name that the list lacks (architecture and kind inferred, and counted)."""
    entries: dict[str, CatalogEntry] = {}
    report: dict[str, Any] = {"catalog_file": None, "inferred_architecture": 0, "inferred_kind": 0}
    path = find_model_list(raw_folder, key_map, models)
    if path is not None:
        inside = path.resolve().is_relative_to(raw_folder.resolve())
        report["catalog_file"] = (
            path.resolve().relative_to(raw_folder.resolve()).as_posix() if inside else str(path)
        )
        listed, list_report = read_model_list(path, key_map, where=path.name)
        report["model_list"] = list_report
        report["inferred_architecture"] = list_report.get("inferred_architecture", 0)
        report["inferred_kind"] = list_report.get("inferred_kind", 0)
        entries = {normalize_model_name(entry.name): entry for entry in listed}
    missing: list[str] = []
    for rows in rows_by_config.values():
        for row in rows:
            key = normalize_model_name(row["model"])
            if key is not None and key not in entries:
                mapped = {"name": row["model"], "description": row["model_description"]}
                entries[key] = catalog_entry(mapped, key_map, report, "benchmark rows")
                missing.append(row["model"])
    if path is not None:
        report["models_not_in_list"] = len(missing)
        report["models_not_in_list_examples"] = missing[:10]
    return ModelCatalog(entries.values()), report


def convert_raw_folder(
    raw_folder: str | os.PathLike,
    *,
    key_map: str | os.PathLike | dict | None = None,
    models: str | os.PathLike | None = None,
    archive_limits: ArchiveLimits | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], ModelCatalog, dict[str, Any]]:
    """Convert every raw data file (and archive) under ``raw_folder`` into benchmark rows.

    Records come from JSON/JSONL/Parquet files and from webdataset archives (``KEY.json`` beside
    ``KEY.png``); their images from files or from archive members (see
    :mod:`chatgenbench.benchmark.archive_images`). ``models`` is a model-list file (CSV/JSON/JSONL) to use as
    the catalogue instead of one found in the folder. Returns ``(rows_by_config, catalog, report)``;
    the report counts rows per file, casts, the image match rate, refused archive members and the
    model list's mapping, and is stored in the folder's manifest. Raises :class:`KeyMapError`.
    """
    root = Path(raw_folder)
    if not root.is_dir():
        raise KeyMapError(f"raw benchmark folder not found: {root}")
    key_map = load_key_map(key_map)
    files = raw_data_files(root, key_map)
    archives = ArchiveImages(root, key_map, limits=archive_limits)
    for path in [*files, *archives.paths]:
        if has_lone_surrogate(str(path.relative_to(root))):
            raise KeyMapError(
                f"{printable_text(str(path.relative_to(root)))}: the file's name is not UTF-8 "
                "text, so it cannot be recorded in the benchmark folder",
                how_to_fix="rename the file (e.g. 'convmv -f latin1 -t utf8')",
            )
    archives.scan()
    if not files and not archives.records:
        raise KeyMapError(
            f"no raw data files ({', '.join(RAW_SUFFIXES)}) and no webdataset records under {root}"
        )
    normalised: Counter = Counter()
    report: dict[str, Any] = {"files": {}}
    pending: list[tuple[dict[str, Any], str, str]] = []
    for path in files:
        relative = path.relative_to(root)
        default_setting = _setting_from_path(relative, key_map)
        raw_records = _read_raw_file(path, str(relative))
        for index, raw in enumerate(raw_records):
            where = f"{relative}: record {index + 1}"
            try:
                record = map_record(
                    raw, key_map, where=where, base=path.parent, root=root, archives=archives
                )
            except RecordError as error:
                raise KeyMapError(f"{where}: {error}") from None
            record.setdefault("id", f"{relative.with_suffix('').as_posix()}-{index:06d}")
            record.setdefault("source", f"{relative}")
            pending.append((record, default_setting, where))
        report["files"][str(relative)] = {"setting": default_setting, "rows": len(raw_records)}
    for member in archives.records:
        where = f"{member.archive}: member {member.name}"
        default_setting = _setting_from_path(Path(member.archive) / member.name, key_map)
        try:
            record = map_record(
                member.raw, key_map, where=where, base=root, root=root, archives=archives,
                member=member,
            )  # fmt: skip
        except RecordError as error:
            raise KeyMapError(f"{where}: {error}") from None
        record.setdefault("id", member.key)
        record.setdefault("source", f"{member.archive}:{member.name}")
        pending.append((record, default_setting, where))
        entry = report["files"].setdefault(member.archive, {"setting": default_setting, "rows": 0})
        entry["rows"] += 1
    archives.check_matches(len(pending))
    archives.load()

    rows_by_config: dict[str, list[dict[str, Any]]] = {}
    seen_ids: set[str] = set()
    images = Counter()
    for record, default_setting, where in pending:
        _read_member_images(record, archives, images)
        setting = record.pop("setting", None) or default_setting
        setting = {"few-shot": "few_shot", "fewshot": "few_shot"}.get(setting, setting)
        try:
            row = to_row(record, setting=setting, normalised=normalised)
        except RecordError as error:
            raise KeyMapError(f"{where}: {error}") from None
        if row["id"] in seen_ids:
            raise KeyMapError(f"{where}: duplicate id {row['id']!r}")
        seen_ids.add(row["id"])
        images["records_with_image" if row["image"] else "records_without_image"] += 1
        rows_by_config.setdefault(setting, []).append(row)
    image_report = {
        "records": len(pending),
        "records_with_image": images["records_with_image"],
        "records_without_image": images["records_without_image"],
        "images_from_archives": images["image_from_archive"],
        "reference_images_from_archives": images["reference_from_archive"],
        "match_rate": round(images["records_with_image"] / len(pending), 4) if pending else 0.0,
    }
    image_report.update(archives.report())
    report["images"] = image_report
    catalog, catalog_report = _catalog_from(root, key_map, rows_by_config, models=models)
    report.update(catalog_report)
    report["normalised"] = dict(normalised)
    return rows_by_config, catalog, report


def raw_data_files(root: Path, key_map: dict[str, Any]) -> list[Path]:
    """Return the raw record files under ``root``: JSON/JSONL/Parquet, not model lists or hidden."""
    catalog_names = {name.casefold() for name in key_map["catalog_files"]}
    return [
        path
        for path in sorted(root.rglob("*"))
        if path.suffix in RAW_SUFFIXES
        and path.is_file()
        and path.name.casefold() not in catalog_names
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    ]


def _read_member_images(record: dict[str, Any], archives: ArchiveImages, counts: Counter) -> None:
    """Replace the record's :class:`MemberRef` values by the members' image bytes (or drop them)."""
    if isinstance(record.get("image"), MemberRef):
        record["image"] = archives.resolve(record["image"])
        if record["image"] is not None:
            counts["image_from_archive"] += 1
    references = record.get("reference_images")
    if isinstance(references, list) and any(isinstance(r, MemberRef) for r in references):
        resolved = [archives.resolve(r) if isinstance(r, MemberRef) else r for r in references]
        counts["reference_from_archive"] += sum(
            1 for r, value in zip(references, resolved) if isinstance(r, MemberRef) and value
        )
        record["reference_images"] = [value for value in resolved if value is not None]


def is_hub_id(source: str) -> bool:
    """Whether ``source`` names a hub dataset (``owner/name``, and no such local path)."""
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not Path(source).exists()


def download_raw(repo_id: str, *, revision: str | None = None) -> Path:
    """Download the raw files of a hub dataset (honours ``HF_HUB_OFFLINE`` and the HF cache).

    Raises :class:`chatgenbench.core.errors.BenchmarkError` with what to do when the hub is unreachable.
    """
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, repo_type="dataset", revision=revision))
    except Exception as error:  # network, auth, offline mode: all end the same way for the user
        raise BenchmarkError(
            f"could not get the hub dataset {repo_id!r} ({type(error).__name__}: {error}). "
            "Download its files on a machine with hub access and run "
            "'chatgenbench prepare --source <that folder> --out <benchmark folder>'."
        ) from error


def prepare_official(
    source: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    key_map: str | os.PathLike | dict | None = None,
    revision: str | None = None,
    models: str | os.PathLike | None = None,
) -> BenchmarkInfo:
    """Convert a hub dataset (``owner/name``) or a folder of raw files into a benchmark folder.

    ``models`` is a model-list file (CSV/JSON/JSONL) for the catalogue, instead of one found in
    the folder. Returns the folder's :class:`~chatgenbench.benchmark.folder.BenchmarkInfo`. Raises
    :class:`KeyMapError` naming the fields found when a required field cannot be mapped, and
    :class:`chatgenbench.core.errors.BenchmarkError` when the hub cannot be reached.
    """
    source = str(source)
    raw_folder = download_raw(source, revision=revision) if is_hub_id(source) else Path(source)
    rows_by_config, catalog, report = convert_raw_folder(raw_folder, key_map=key_map, models=models)
    return write_benchmark_folder(
        out_dir,
        rows_by_config,
        catalog,
        source=source,
        synthetic=False,
        revision=revision,
        extra_manifest={"conversion": report},
    )


def prepare_from_hub(repo_id: str, *, revision: str | None = None) -> Path:
    """Return the converted benchmark folder for a hub dataset, converting it on first use."""
    name = repo_id.replace("/", "--") + (f"@{revision}" if revision else "")
    folder = chatgenbench_home() / "benchmarks" / name
    if not (folder / MANIFEST_FILENAME).is_file():
        prepare_official(repo_id, folder, revision=revision)
    return folder
