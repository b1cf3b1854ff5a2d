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
"""

from __future__ import annotations

import copy
import csv
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from chatgenbench.benchmark_folder import MANIFEST_FILENAME, BenchmarkInfo, write_benchmark_folder
from chatgenbench.catalog import CatalogEntry, ModelCatalog
from chatgenbench.errors import BenchmarkError, KeyMapError
from chatgenbench.records import RecordError, to_row
from chatgenbench.storage import chatgenbench_home

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
        "prompt": ["prompt", "output.prompt", "answer.prompt", "target.prompt", "gt.prompt"],
        "negative_prompt": [
            "negative_prompt",
            "negativePrompt",
            "output.negativePrompt",
            "output.negative_prompt",
            "answer.negativePrompt",
        ],
        "model": ["model", "model_name", "modelName", "output.model", "answer.model", "checkpoint"],
        "model_description": ["model_description", "model_desc", "description"],
        "arguments": [
            "arguments",
            "parameters",
            "params",
            "args",
            "output.parameters",
            "output.arguments",
            "answer.parameters",
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
        "few_shot": ["few_shot", "few-shot", "fewshot"],
        "train": ["train"],
        "supervised": ["supervised", "sup", "test"],
    },
    "catalog_files": ["6807_models_Info.csv", "models_info.csv", "catalog.jsonl", "models.jsonl"],
    "catalog_fields": {
        "name": ["model_name", "name", "model", "Model"],
        "description": ["description", "model_description", "desc", "Description"],
        "architecture": ["architecture", "base_model", "baseModel", "base", "Base Model"],
        "kind": ["kind", "type", "model_type", "Type"],
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
}

RAW_SUFFIXES = (".jsonl", ".json", ".parquet")


def load_key_map(override: str | os.PathLike | dict | None = None) -> dict[str, Any]:
    """Return :data:`DEFAULT_KEY_MAP` updated (section by section) with ``override``.

    ``override`` is a dict or a YAML/JSON file path; each section's entries replace the default's.
    """
    key_map = copy.deepcopy(DEFAULT_KEY_MAP)
    if override is None:
        return key_map
    if not isinstance(override, dict):
        import yaml

        text = Path(override).read_text("utf-8")
        override = yaml.safe_load(text) or {}
        if not isinstance(override, dict):
            raise KeyMapError(f"key map file {override!r} must hold a mapping")
    for section, value in override.items():
        if section not in key_map:
            raise KeyMapError(f"unknown key-map section {section!r}; known: {sorted(key_map)}")
        if isinstance(key_map[section], dict) and isinstance(value, dict):
            for key, candidates in value.items():
                key_map[section][key] = [candidates] if isinstance(candidates, str) else candidates
        else:
            key_map[section] = value
    return key_map


_MISSING = object()


def _lookup(record: Any, path: str) -> Any:
    value = record
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
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


def _value_map(table: dict[str, list[str]], value: Any) -> str | None:
    text = str(value).strip().casefold()
    for target, aliases in table.items():
        if text == target or text in (alias.casefold() for alias in aliases):
            return target
    for target, aliases in table.items():
        if any(alias.casefold() in text for alias in aliases if len(alias) > 2):
            return target
    return None


def _image(value: Any, base: Path, root: Path) -> Any:
    if isinstance(value, str):
        path = (base / value).resolve()
        if not path.is_relative_to(root.resolve()):
            raise RecordError(f"image path {value!r} escapes the raw folder")
        if not path.is_file():
            raise RecordError(f"image file {value!r} not found under {base}")
        return {"bytes": path.read_bytes(), "path": None}
    if isinstance(value, dict) and ("bytes" in value or "path" in value):
        if value.get("bytes") is None and value.get("path"):
            return _image(value["path"], base, root)
        return {"bytes": value.get("bytes"), "path": None}
    return value


def map_record(
    raw: dict[str, Any], key_map: dict[str, Any], *, where: str, base: Path, root: Path
) -> dict[str, Any]:
    """Return a loose record (the input of :func:`chatgenbench.records.to_row`) for one raw record.

    Raises :class:`KeyMapError` naming the fields found when a required field is missing.
    """
    if not isinstance(raw, dict):
        raise KeyMapError(f"{where}: expected an object, got {type(raw).__name__}")
    fields = key_map["fields"]
    record: dict[str, Any] = {}
    for field, candidates in fields.items():
        value = _first(raw, candidates)
        if value is not _MISSING:
            record[field] = value
    arguments = record.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            arguments = None
    source_of_arguments = arguments if isinstance(arguments, dict) else raw
    mapped_arguments = {}
    for key, candidates in key_map["arguments"].items():
        value = _first(source_of_arguments, candidates)
        if value is not _MISSING:
            mapped_arguments[key] = value
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
            f"{_describe_fields(raw)}. Candidates tried: {tried}. Pass a key map (--key-map FILE) "
            "naming the raw key for each, e.g. 'fields: {prompt: [your_key]}'."
        )
    if "input_type" in record:
        mapped = _value_map(key_map["input_types"], record["input_type"])
        if mapped is None:
            raise KeyMapError(
                f"{where}: input type {record['input_type']!r} matches none of "
                f"{key_map['input_types']}; extend the key map's 'input_types' section"
            )
        record["input_type"] = mapped
    images = record.get("reference_images")
    if images is not None:
        images = images if isinstance(images, list) else [images]
        record["reference_images"] = [_image(image, base, root) for image in images]
    if record.get("image") is not None:
        record["image"] = _image(record["image"], base, root)
    return record


def _setting_from_path(path: Path, key_map: dict[str, Any]) -> str:
    text = str(path).casefold()
    for setting, patterns in key_map["settings_from_path"].items():
        if any(pattern.casefold() in text for pattern in patterns):
            return setting
    return "supervised"


def _read_raw_file(path: Path) -> list[Any]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    text = path.read_text("utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, list):
                return value
        return [data]
    return data


def _catalog_from(
    raw_folder: Path, key_map: dict[str, Any], rows_by_config: dict
) -> tuple[ModelCatalog, dict[str, Any]]:
    entries: dict[str, CatalogEntry] = {}
    report: dict[str, Any] = {"catalog_file": None, "inferred_architecture": 0, "inferred_kind": 0}
    for name in key_map["catalog_files"]:
        found = sorted(raw_folder.rglob(name))
        if not found:
            continue
        path = found[0]
        report["catalog_file"] = str(path.relative_to(raw_folder))
        if path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as handle:
                records = list(csv.DictReader(handle))
        else:
            records = _read_raw_file(path)
        for number, raw in enumerate(records, 1):
            mapped = {k: _first(raw, c) for k, c in key_map["catalog_fields"].items()}
            if mapped["name"] is _MISSING:
                raise KeyMapError(
                    f"{path}: row {number}: no model name among {key_map['catalog_fields']['name']}"
                    f"; fields found: {_describe_fields(raw)}"
                )
            entries[str(mapped["name"]).strip()] = _catalog_entry(
                mapped, key_map, report, path.name
            )
        break
    for rows in rows_by_config.values():
        for row in rows:
            if row["model"] and row["model"] not in entries:
                mapped = {
                    "name": row["model"],
                    "description": row["model_description"],
                    "architecture": _MISSING,
                    "kind": _MISSING,
                }
                entries[row["model"]] = _catalog_entry(mapped, key_map, report, "benchmark rows")
    return ModelCatalog(entries.values()), report


def _catalog_entry(mapped: dict, key_map: dict, report: dict, where: str) -> CatalogEntry:
    name = str(mapped["name"]).strip()
    architecture = None
    if mapped["architecture"] is not _MISSING:
        architecture = _value_map(key_map["architecture_values"], mapped["architecture"])
    notes = []
    if architecture is None:
        architecture = "sdxl" if "xl" in name.casefold() else "sd15"
        report["inferred_architecture"] += 1
        notes.append("architecture inferred from the name")
    kind = None
    if mapped["kind"] is not _MISSING:
        kind = _value_map(key_map["kind_values"], mapped["kind"])
    if kind is None:
        kind = "lora" if "lora" in str(mapped.get("description", "")).casefold() else "checkpoint"
        report["inferred_kind"] += 1
        notes.append("kind inferred from the description")
    description = mapped["description"] if mapped["description"] is not _MISSING else ""
    source = where + (f" ({'; '.join(notes)})" if notes else "")
    return CatalogEntry(
        name=name,
        architecture=architecture,
        kind=kind,
        description=str(description or ""),
        source=source,
    )


def convert_raw_folder(
    raw_folder: str | os.PathLike, *, key_map: str | os.PathLike | dict | None = None
) -> tuple[dict[str, list[dict[str, Any]]], ModelCatalog, dict[str, Any]]:
    """Convert every raw data file under ``raw_folder`` into benchmark rows.

    Returns ``(rows_by_config, catalog, report)``; the report counts rows per file, casts and
    inferred catalogue fields, and is stored in the folder's manifest. Raises :class:`KeyMapError`.
    """
    root = Path(raw_folder)
    if not root.is_dir():
        raise KeyMapError(f"raw benchmark folder not found: {root}")
    key_map = load_key_map(key_map)
    catalog_names = {name.casefold() for name in key_map["catalog_files"]}
    files = [
        path
        for path in sorted(root.rglob("*"))
        if path.suffix in RAW_SUFFIXES
        and path.is_file()
        and path.name.casefold() not in catalog_names
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    ]
    if not files:
        raise KeyMapError(f"no raw data files ({', '.join(RAW_SUFFIXES)}) under {root}")
    rows_by_config: dict[str, list[dict[str, Any]]] = {}
    normalised: Counter = Counter()
    report: dict[str, Any] = {"files": {}}
    seen_ids: set[str] = set()
    for path in files:
        relative = path.relative_to(root)
        default_setting = _setting_from_path(relative, key_map)
        raw_records = _read_raw_file(path)
        for index, raw in enumerate(raw_records):
            where = f"{relative}: record {index + 1}"
            try:
                record = map_record(raw, key_map, where=where, base=path.parent, root=root)
            except RecordError as error:
                raise KeyMapError(f"{where}: {error}") from None
            setting = record.pop("setting", None) or default_setting
            setting = {"few-shot": "few_shot", "fewshot": "few_shot"}.get(setting, setting)
            record.setdefault("id", f"{relative.with_suffix('').as_posix()}-{index:06d}")
            record.setdefault("source", f"{relative}")
            try:
                row = to_row(record, setting=setting, normalised=normalised)
            except RecordError as error:
                raise KeyMapError(f"{where}: {error}") from None
            if row["id"] in seen_ids:
                raise KeyMapError(f"{where}: duplicate id {row['id']!r}")
            seen_ids.add(row["id"])
            rows_by_config.setdefault(setting, []).append(row)
        report["files"][str(relative)] = {"setting": default_setting, "rows": len(raw_records)}
    catalog, catalog_report = _catalog_from(root, key_map, rows_by_config)
    report.update(catalog_report)
    report["normalised"] = dict(normalised)
    return rows_by_config, catalog, report


def is_hub_id(source: str) -> bool:
    """Whether ``source`` names a hub dataset (``owner/name``, and no such local path)."""
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not Path(source).exists()


def download_raw(repo_id: str, *, revision: str | None = None) -> Path:
    """Download the raw files of a hub dataset (honours ``HF_HUB_OFFLINE`` and the HF cache).

    Raises :class:`chatgenbench.errors.BenchmarkError` with what to do when the hub is unreachable.
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
) -> BenchmarkInfo:
    """Convert a hub dataset (``owner/name``) or a folder of raw files into a benchmark folder.

    Returns the folder's :class:`~chatgenbench.benchmark_folder.BenchmarkInfo`. Raises
    :class:`KeyMapError` naming the fields found when a required field cannot be mapped, and
    :class:`chatgenbench.errors.BenchmarkError` when the hub cannot be reached.
    """
    source = str(source)
    raw_folder = download_raw(source, revision=revision) if is_hub_id(source) else Path(source)
    rows_by_config, catalog, report = convert_raw_folder(raw_folder, key_map=key_map)
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
