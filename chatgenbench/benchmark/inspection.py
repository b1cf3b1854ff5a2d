"""What a raw benchmark folder holds, said before anything is converted (``prepare --inspect``).

:func:`inspect_raw_folder` lists the raw files with their record counts, the raw field names with an
example value each, the archives' member counts and extensions (and what they refuse), which raw
field each key-map entry matched (and in how many records), the model list's column mapping, and
the command that converts the folder. A file whose records cannot be data (not JSON, nested too
deeply, a lone surrogate) is listed with the reason; image fields of the wrong type are counted
per file (``image_field_problems``), with examples naming the record and the field. :func:`format_inspection` prints it;
:func:`conversion_summary` prints the match rates of a folder already converted.
"""

from __future__ import annotations

import json
import os
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

from chatgenbench.benchmark.archive_images import ArchiveImages
from chatgenbench.benchmark.archives import ArchiveLimits
from chatgenbench.benchmark.model_list import find_model_list, read_model_list
from chatgenbench.benchmark.official import (
    _MISSING,
    RAW_SUFFIXES,
    _lookup,
    _read_raw_file,
    _setting_from_path,
    arguments_source,
    image_type_problem,
    is_hub_id,
    load_key_map,
    raw_data_files,
)
from chatgenbench.core.errors import ChatGenBenchError, KeyMapError
from chatgenbench.core.yaml_files import bounded_repr

#: Records per file whose fields are sampled (counting reads every record).
SAMPLED_RECORDS = 200
_EXAMPLES = 10


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _fields(records: list[Any]) -> dict[str, str]:
    """Return raw field (dotted one level into objects) -> a short example value."""
    examples: dict[str, str] = {}
    for record in records:
        if not isinstance(record, dict):
            continue
        for key, value in record.items():
            inner = value.items() if isinstance(value, dict) else ()
            for name, example in [(str(key), value), *((f"{key}.{k}", v) for k, v in inner)]:
                if name not in examples and example not in (None, "", [], {}):
                    examples[name] = _short(example)
                examples.setdefault(name, _short(example))
    return examples


def _matches(records: list[Any], key_map: dict[str, Any]) -> tuple[dict, dict[str, int]]:
    """Return, per field of ours, which candidate matched how many of ``records``; and, per
    required field, in how many records it would be missing (as the converter decides)."""
    result: dict[str, dict[str, Any]] = {}
    problems: list[str] = []  # field JSON text that cannot be read (the converter stops there)
    dicts = [record for record in records if isinstance(record, dict)]
    hits: list[set[str]] = [set() for _ in dicts]
    sections = [("fields", key_map["fields"]), ("arguments", key_map["arguments"])]
    for section, table in sections:
        for field, candidates in table.items():
            used: Counter = Counter()
            for number, record in enumerate(dicts):
                source = record
                if section == "arguments":
                    arguments = _first_value(record, key_map["fields"]["arguments"])
                    try:
                        source = arguments_source(record, arguments)
                    except KeyMapError as error:
                        problems.append(f"record {number + 1}: {error}")
                        continue
                for candidate in candidates:
                    value = _lookup_noting(source, candidate, f"record {number + 1}", problems)
                    if value is not _MISSING and value is not None:
                        used[candidate] += 1
                        hits[number].add(field if section == "fields" else "arguments.")
                        break
            name = field if section == "fields" else f"arguments.{field}"
            result[name] = {
                "matched": dict(used.most_common()),
                "records": sum(used.values()),
                "of": len(dicts),
                "tried": list(candidates),
            }
    missing: Counter = Counter()
    for found in hits:
        if "freestyle_input" not in found and "history" not in found:
            missing["freestyle_input (or history)"] += 1
        for field in key_map["required"]:
            # arguments count as present when any argument key maps (as in the converter)
            if (field + "." if field == "arguments" else field) not in found:
                missing[field] += 1
    if problems:
        unique = list(dict.fromkeys(problems))
        result["_json_text_problems"] = {"count": len(unique), "examples": unique[:_EXAMPLES]}
    return result, dict(missing)


def _lookup_noting(record: Any, candidate: str, where: str, problems: list[str]) -> Any:
    """``_lookup``, with a field's JSON text that cannot be read noted in ``problems`` (and read
    as no match) instead of stopping the inspection."""
    try:
        return _lookup(record, candidate)
    except KeyMapError as error:
        problems.append(f"{where}: {error}")
        return _MISSING


def _first_value(record: dict, candidates: list[str]) -> Any:
    for candidate in candidates:
        value = _lookup_noting(record, candidate, "", [])  # _matches reports these
        if value is not _MISSING and value is not None:
            return value
    return None


def would_stop(report: dict[str, Any]) -> list[str]:
    """Return why converting the inspected folder would stop (empty when nothing found would):
    a file that cannot be read, no data, a broken archive or model list, image fields of the wrong
    type, field JSON text that cannot be read, required fields missing."""
    reasons = [f"{e['path']}: cannot be read" for e in report["files"] if "error" in e]
    if not report["files"] and not any(e.get("records") for e in report["archives"].values()):
        reasons.append("no raw data files and no webdataset records")
    if report.get("archives_error"):
        reasons.append(f"archives: {report['archives_error']}")
    for name, entry in [*((e["path"], e) for e in report["files"]), *report["archives"].items()]:
        if entry.get("image_field_problems"):
            reasons.append(f"{name}: image fields of the wrong type")
    json_problems = report["key_map"].get("_json_text_problems")
    if json_problems:
        reasons.append(f"field JSON text that cannot be read in {json_problems['count']} records")
    if report["required_missing"]:
        reasons.append("required fields missing: " + ", ".join(report["required_missing"]))
    model_list = report.get("model_list") or {}
    if "error" in model_list:
        reasons.append(f"model list {model_list['file']}: cannot be read")
    return reasons


def inspect_raw_folder(
    raw_folder: str | os.PathLike,
    *,
    key_map: str | os.PathLike | dict | None = None,
    models: str | os.PathLike | None = None,
    archive_limits: ArchiveLimits | None = None,
    revision: str | None = None,
) -> dict[str, Any]:
    """Describe a raw folder (or a hub dataset, downloaded first) without converting it (see the
    module docstring); JSON-ready.

    A file that cannot be read is listed with its error rather than stopping the inspection.
    Raises :class:`KeyMapError` when the folder does not exist, and
    :class:`chatgenbench.core.errors.BenchmarkError` when a hub dataset cannot be reached.
    """
    source = str(raw_folder)
    if is_hub_id(source):
        from chatgenbench.benchmark import official

        raw_folder = official.download_raw(source, revision=revision)
    root = Path(raw_folder)
    if not root.is_dir():
        raise KeyMapError(f"raw benchmark folder not found: {root}")
    key_map_dict = load_key_map(key_map)
    report: dict[str, Any] = {"folder": str(root), "files": [], "archives": {}}
    sampled: list[Any] = []
    for path in raw_data_files(root, key_map_dict):
        relative = path.relative_to(root).as_posix()
        entry: dict[str, Any] = {
            "path": relative,
            "setting": _setting_from_path(Path(relative), key_map_dict),
        }
        try:
            records = _read_raw_file(path, relative)
        except (ValueError, OSError, ImportError) as error:  # bad JSON, unreadable Parquet, ...
            entry["error"] = f"{type(error).__name__}: {error}"
            report["files"].append(entry)
            continue
        entry["records"] = len(records)
        entry["fields"] = _fields(records[:SAMPLED_RECORDS])
        _note_image_problems(entry, records, key_map_dict)
        sampled += records[:SAMPLED_RECORDS]
        report["files"].append(entry)
    try:
        archives = ArchiveImages(root, key_map_dict, limits=archive_limits).scan()
    except ChatGenBenchError as error:
        report["archives_error"] = str(error)
        archives = None
    if archives is not None:
        for name, archive_report in archives.reports.items():
            entry = archive_report.to_dict()
            members = [record.raw for record in archives.records if record.archive == name]
            entry["records"] = len(members)
            entry["setting"] = _setting_from_path(Path(name), key_map_dict)
            if members:
                entry["fields"] = _fields(members[:SAMPLED_RECORDS])
                _note_image_problems(entry, members, key_map_dict)
                sampled += members[:SAMPLED_RECORDS]
            report["archives"][name] = entry
        report["image_members"] = archives.image_members
        report["image_matches"] = _image_matches(sampled, archives, key_map_dict)
    report["key_map"], report["required_missing"] = _matches(sampled, key_map_dict)
    report["records_sampled"] = len(sampled)
    report["model_list"] = _model_list(root, key_map_dict, models)
    command = ["chatgenbench", "prepare", "--source", source, "--out", "BENCHMARK_DIR"]
    if revision is not None and is_hub_id(source):
        command += ["--revision", revision]
    if key_map is not None and not isinstance(key_map, dict):
        command += ["--key-map", str(key_map)]
    if models is not None:
        command += ["--models", str(models)]
    report["would_stop"] = would_stop(report)
    # a command is offered only when nothing found would stop it
    report["command"] = None if report["would_stop"] else shlex.join(command)
    return report


def _note_image_problems(entry: dict[str, Any], records: list[Any], key_map: dict) -> None:
    """Add ``image_field_problems`` to a file's entry: records whose image or reference image
    value has a type the converter refuses (a number, a boolean, an object without ``path`` or
    ``bytes``), as ``record N: field: problem`` (the first few, and how many in all)."""
    problems: list[str] = []
    count = 0
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict):
            continue
        image = _first_value(record, key_map["fields"]["image"])
        references = _first_value(record, key_map["fields"]["reference_images"])
        values = [("image", image)]
        if references is not None:
            references = references if isinstance(references, list) else [references]
            values += [(f"reference_images[{i}]", value) for i, value in enumerate(references)]
        for field, value in values:
            problem = image_type_problem(value)
            if problem is not None:
                count += 1
                if len(problems) < _EXAMPLES:
                    problems.append(f"record {number}: {field}: {problem}")
    if count:
        entry["image_field_problems"] = {"count": count, "examples": problems}


def _image_matches(records: list[Any], archives: ArchiveImages, key_map: dict) -> dict[str, int]:
    """Count how many sampled records name an archive image through the key map (a preview)."""
    matched = 0
    for record in records:
        if not isinstance(record, dict):
            continue
        names = [*key_map["fields"]["image"], *key_map["archive_match"].get("image", [])]
        id_candidates = key_map["fields"]["id"]
        values = [_first_value(record, [name]) for name in names]
        if "id" in key_map["archive_match"].get("image", []):
            values.append(_first_value(record, id_candidates))
        if any(archives.lookup(value) is not None for value in values if value is not None):
            matched += 1
    return {"records_sampled": len(records), "records_naming_an_archive_image": matched}


def _model_list(root: Path, key_map: dict, models) -> dict[str, Any] | None:
    path = find_model_list(root, key_map, models)
    if path is None:
        return None
    try:
        _, list_report = read_model_list(path, key_map, where=str(path))
    except ChatGenBenchError as error:
        return {"file": str(path), "error": str(error)}
    return list_report


def format_inspection(report: dict[str, Any]) -> str:
    """Return the inspection as text for a terminal."""
    lines = [f"raw folder: {report['folder']}", ""]
    if not report["files"] and not report["archives"]:
        lines.append(f"no raw data files ({', '.join(RAW_SUFFIXES)}) and no archives found")
    for entry in report["files"]:
        if "error" in entry:
            lines.append(f"{entry['path']}: cannot be read: {entry['error']}")
            continue
        lines.append(f"{entry['path']}: {entry['records']} records (setting {entry['setting']})")
        lines += [f"    {name} = {example}" for name, example in entry["fields"].items()]
        lines += _image_problem_lines(entry)
    for name, entry in report["archives"].items():
        extensions = ", ".join(f"{ext or '(none)'} {n}" for ext, n in entry["extensions"].items())
        lines.append(f"{name}: archive, {entry['members']} members ({extensions or 'none'})")
        if entry["refused"]:
            refused = ", ".join(f"{reason} {n}" for reason, n in entry["refused"].items())
            lines.append(f"    refused: {refused}")
        if entry["stopped"]:
            lines.append(f"    stopped: {entry['stopped']}")
        if entry["records"]:
            lines.append(f"    webdataset records: {entry['records']} (setting {entry['setting']})")
            lines += [f"    {field} = {example}" for field, example in entry["fields"].items()]
            lines += _image_problem_lines(entry)
    if report.get("archives_error"):
        lines.append(f"archives: {report['archives_error']}")
    if report.get("image_matches"):
        matches = report["image_matches"]
        lines.append(
            f"archive images named by records: {matches['records_naming_an_archive_image']} of "
            f"{matches['records_sampled']} sampled records ({report['image_members']} images)"
        )
    lines += ["", "key map (our field <- raw field: records matched):"]
    for field, match in report["key_map"].items():
        if field == "_json_text_problems":
            lines.append(f"    field JSON text that cannot be read: {match['count']} records")
            lines += [f"        {bounded_repr(example, 300)}" for example in match["examples"]]
            continue
        if match["records"]:
            found = ", ".join(f"{raw} ({n})" for raw, n in match["matched"].items())
            lines.append(f"    {field} <- {found} of {match['of']}")
        else:
            lines.append(f"    {field}: no match (tried {match['tried']})")
    if report["required_missing"]:
        missing = ", ".join(
            f"{field} in {n} of {report['records_sampled']} records"
            for field, n in report["required_missing"].items()
        )
        lines.append(
            f"required fields missing: {missing}: conversion would stop; name the raw fields in "
            "a key map (--key-map FILE)"
        )
    model_list = report.get("model_list")
    if model_list:
        lines.append("")
        if "error" in model_list:
            lines.append(f"model list {model_list['file']}: {model_list['error']}")
        else:
            columns = ", ".join(f"{f} <- {c!r}" for f, c in model_list["columns"].items())
            lines.append(
                f"model list {model_list['file']}: {model_list['rows']} rows, "
                f"{model_list['entries']} models, {model_list['duplicates']} duplicates, "
                f"{model_list['rows_without_name']} without a name"
            )
            lines.append(f"    columns: {columns}")
            lines.append(f"    not mapped: {model_list['unmapped_columns']}")
    if report.get("would_stop"):
        lines += ["", "not ready to convert: conversion would stop here:"]
        lines += [f"    {reason}" for reason in report["would_stop"]]
        lines.append(
            "fix these (name the raw fields in a key map: --key-map FILE; see "
            "docs/prepare-key-map.md), then inspect again for the command"
        )
    else:
        lines += ["", "to convert:", f"    {report['command']}"]
    return "\n".join(lines)


def _image_problem_lines(entry: dict[str, Any]) -> list[str]:
    problems = entry.get("image_field_problems")
    if not problems:
        return []
    lines = [f"    image fields of the wrong type: {problems['count']} (conversion would stop)"]
    return lines + [f"        {example}" for example in problems["examples"]]


def conversion_summary(folder: str | os.PathLike) -> list[str]:
    """Return lines on a converted folder's image match rate, refusals and model list (or none)."""
    manifest_path = Path(folder) / "chatgenbench.json"
    if not manifest_path.is_file():
        return []
    conversion = json.loads(manifest_path.read_text("utf-8")).get("conversion") or {}
    lines = []
    images = conversion.get("images")
    if images and images.get("records"):
        lines.append(
            f"images: {images['records_with_image']} of {images['records']} records have one "
            f"({images['images_from_archives']} from archives); "
            f"{images['records_without_image']} without; archive members used "
            f"{images['members_used']} of {images['image_members']}"
        )
        for name, archive in images.get("archives", {}).items():
            if archive["refused"] or archive["stopped"]:
                refused = ", ".join(f"{r} {n}" for r, n in archive["refused"].items())
                lines.append(
                    f"{name}: refused {refused}"
                    + (f"; {archive['stopped']}" if archive["stopped"] else "")
                )
        if images.get("refused_images"):
            lines.append(f"images refused: {images['refused_images']}")
    model_list = conversion.get("model_list")
    if model_list:
        lines.append(
            f"model list {model_list['file']}: {model_list['entries']} models from "
            f"{model_list['rows']} rows ({model_list['duplicates']} duplicates, "
            f"{model_list['rows_without_name']} without a name); not mapped: "
            f"{model_list['unmapped_columns']}; models only in the rows: "
            f"{conversion.get('models_not_in_list', 0)}"
        )
    return lines
