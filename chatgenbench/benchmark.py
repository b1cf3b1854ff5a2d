"""Loading the benchmark as a ``datasets.Dataset``, and writing benchmark folders.

Sources (the ``source=`` argument everywhere, ``--benchmark`` on the command line):

- ``"sample"``: the 12 complete records printed in the ChatGen paper, embedded in the package
  (setting ``supervised``, ids ``sample-0001`` ... ``sample-0012``).
- a folder written by ``chatgenbench prepare`` or ``chatgenbench synth``: Parquet files per config
  plus a dataset card whose YAML declares the configs, so ``datasets.load_dataset(folder,
  "supervised")`` works on it directly; ``catalog.jsonl`` and ``chatgenbench.json`` lie beside them.
- the hub id ``ChengyouJia/ChatGenBench`` (or another ``owner/name``): converted once through the
  key map of :mod:`chatgenbench.official` into a folder under ``$CHATGENBENCH_HOME/benchmarks``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from chatgenbench.catalog import CATALOG_FILENAME, ModelCatalog
from chatgenbench.errors import BenchmarkError
from chatgenbench.records import to_row
from chatgenbench.schema import SETTING_TITLES, SETTINGS, TEST_SPLIT, TRAIN_CONFIG

MANIFEST_FILENAME = "chatgenbench.json"
OFFICIAL_HUB_ID = "ChengyouJia/ChatGenBench"
SAMPLE_SOURCE = "sample"


@dataclass
class BenchmarkInfo:
    """Where a benchmark comes from: recorded in every result's provenance."""

    source: str
    kind: str  # "sample" | "folder" | "hub"
    revision: str
    synthetic: bool
    settings: list[str]
    path: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the info as a JSON-ready dict."""
        return asdict(self)


def sample_records() -> list[dict[str, Any]]:
    """Return the embedded paper records, verbatim as the paper prints them, with their ids."""
    text = resources.files("chatgenbench.data").joinpath("paper_examples.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def demo_inputs() -> list[dict[str, Any]]:
    """Return the paper's 5 inputs without a published answer (demo inputs, not scorable)."""
    resource = resources.files("chatgenbench.data").joinpath("paper_inputs_without_truth.jsonl")
    return [json.loads(line) for line in resource.read_text("utf-8").splitlines() if line.strip()]


def _sample_dataset():
    from datasets import Dataset

    from chatgenbench.schema import benchmark_features

    rows = [to_row(record, setting="supervised") for record in sample_records()]
    return Dataset.from_list(rows, features=benchmark_features())


def _is_hub_id(source: str) -> bool:
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not Path(source).exists()


def resolve_source(source: str | os.PathLike, *, revision: str | None = None) -> BenchmarkInfo:
    """Describe a benchmark source without loading its rows; convert a hub dataset on first use.

    Raises :class:`BenchmarkError` for a path that is not a benchmark folder.
    """
    source = str(source)
    if source == SAMPLE_SOURCE:
        from chatgenbench import __version__
        from chatgenbench.storage import sha256_file

        path = resources.files("chatgenbench.data").joinpath("paper_examples.jsonl")
        with resources.as_file(path) as real_path:
            digest = sha256_file(real_path)
        return BenchmarkInfo(
            source=SAMPLE_SOURCE,
            kind="sample",
            revision=f"chatgenbench-{__version__}+sha256:{digest[:16]}",
            synthetic=False,
            settings=["supervised"],
            counts={"supervised": len(sample_records())},
        )
    if _is_hub_id(source):
        from chatgenbench.official import prepare_from_hub

        folder = prepare_from_hub(source, revision=revision)
        info = _folder_info(folder)
        info.source, info.kind = source, "hub"
        return info
    return _folder_info(Path(source))


def _folder_info(folder: Path) -> BenchmarkInfo:
    manifest_path = folder / MANIFEST_FILENAME
    if not folder.is_dir():
        raise BenchmarkError(
            f"benchmark source {str(folder)!r} is neither 'sample', a hub id (owner/name) nor a "
            "folder"
        )
    if not manifest_path.is_file():
        raise BenchmarkError(
            f"{folder} is not a benchmark folder: it has no {MANIFEST_FILENAME}. Make one with "
            "'chatgenbench prepare' or 'chatgenbench synth'."
        )
    manifest = json.loads(manifest_path.read_text("utf-8"))
    from chatgenbench.storage import sha256_files

    files = sorted(folder.glob("*/*.parquet"))
    if (folder / CATALOG_FILENAME).is_file():
        files.append(folder / CATALOG_FILENAME)
    return BenchmarkInfo(
        source=str(folder),
        kind="folder",
        revision=manifest.get("revision") or f"sha256:{sha256_files(files, folder)[:16]}",
        synthetic=bool(manifest.get("synthetic", False)),
        settings=[s for s in SETTINGS if s in manifest.get("counts", {})],
        path=str(folder.resolve()),
        counts=dict(manifest.get("counts", {})),
    )


def load_benchmark(
    setting: str = "supervised",
    source: str | os.PathLike = SAMPLE_SOURCE,
    *,
    revision: str | None = None,
):
    """Return one setting of the benchmark as a ``datasets.Dataset`` (schema: :mod:`chatgenbench.schema`).

    ``setting`` is ``supervised``, ``few_shot``, ``train`` (a folder's train split, where one
    exists) or ``all`` (the test settings concatenated). ``source`` is described in this module's
    docstring. Raises :class:`BenchmarkError` for an unknown setting or one the source lacks.
    """
    source = str(source)
    if setting not in (*SETTINGS, TRAIN_CONFIG, "all"):
        raise BenchmarkError(
            f"unknown setting {setting!r}; expected one of {(*SETTINGS, TRAIN_CONFIG, 'all')}"
        )
    info = resolve_source(source, revision=revision)
    if setting == "all":
        from datasets import concatenate_datasets

        parts = [load_benchmark(name, source, revision=revision) for name in info.settings]
        return concatenate_datasets(parts)
    if info.kind == "sample":
        if setting != "supervised":
            raise BenchmarkError(
                f"the embedded sample has only the 'supervised' setting, not {setting!r}"
            )
        return _sample_dataset()
    if setting not in info.counts:
        have = ", ".join(info.counts) or "none"
        raise BenchmarkError(f"benchmark {source!r} has no {setting!r} config (it has: {have})")
    return _read_config(Path(info.path), setting, expected_rows=info.counts[setting])


def _read_config(folder: Path, config: str, *, expected_rows: int):
    """Read one config's Parquet files into an in-memory ``datasets.Dataset``.

    ``datasets.load_dataset(folder, config)`` gives the same rows, but its Arrow cache is keyed by
    the folder's base name, so two folders of the same name could serve each other's rows; reading
    the files directly cannot. The row count is checked against the manifest.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset

    from chatgenbench.schema import benchmark_features

    files = sorted((folder / config).glob("*.parquet"))
    if not files:
        raise BenchmarkError(f"{folder}: config {config!r} has no Parquet files")
    table = pa.concat_tables([pq.read_table(path) for path in files])
    if table.num_rows != expected_rows:
        raise BenchmarkError(
            f"{folder}: config {config!r} has {table.num_rows} rows but its manifest says "
            f"{expected_rows}; the folder was changed after it was written"
        )
    dataset = Dataset(table)  # features come from the schema metadata that to_parquet wrote
    return (
        dataset if dataset.features == benchmark_features() else dataset.cast(benchmark_features())
    )


def load_benchmark_catalog(source: str | os.PathLike = SAMPLE_SOURCE) -> ModelCatalog:
    """Return the model catalogue that ships with a benchmark source."""
    from chatgenbench.catalog import load_catalog

    info = resolve_source(source)
    return load_catalog("sample" if info.kind == "sample" else info.path)


def dataset_card(configs: dict[str, int], *, synthetic: bool, source: str, revision: str) -> str:
    """Return a dataset card (README.md) whose YAML declares one config per setting."""
    lines = ["---", "license: apache-2.0", "configs:"]
    for config in configs:
        split = "train" if config == TRAIN_CONFIG else TEST_SPLIT
        lines += [
            f"- config_name: {config}",
            "  data_files:",
            f"  - split: {split}",
            f"    path: {config}/*.parquet",
        ]
    if synthetic:
        lines.append("tags:\n- synthetic")
    lines.append("---")
    title = "SYNTHETIC ChatGenBench-shaped data" if synthetic else "ChatGenBench"
    lines += ["", f"# {title}", ""]
    if synthetic:
        lines += [
            "**This benchmark is synthetic.** It was generated by `chatgenbench synth` for scale "
            "tests and speed measurements. Its texts, models and images are not real and its "
            "results never belong on the leaderboard.",
            "",
        ]
    lines += [
        f"Source: `{source}`; revision: `{revision}`.",
        "",
        "| config | split | rows |",
        "|---|---|---|",
    ]
    for config, count in configs.items():
        split = "train" if config == TRAIN_CONFIG else TEST_SPLIT
        lines.append(f"| {SETTING_TITLES.get(config, config)} (`{config}`) | {split} | {count} |")
    lines += [
        "",
        "Schema: see `chatgenbench.schema` (one row per sample). The model catalogue is "
        "`catalog.jsonl`.",
        "",
    ]
    return "\n".join(lines)


def write_benchmark_folder(
    out_dir: str | os.PathLike,
    rows_by_config: dict[str, list[dict[str, Any]]],
    catalog: ModelCatalog,
    *,
    source: str,
    synthetic: bool,
    revision: str | None = None,
    extra_manifest: dict[str, Any] | None = None,
) -> BenchmarkInfo:
    """Write a benchmark folder that ``load_benchmark`` and ``datasets.load_dataset`` read.

    ``rows_by_config`` maps ``supervised``/``few_shot``/``train`` to rows of the schema. Files are
    written to a temporary folder first and moved into place, so a crash leaves no half folder.
    Returns the folder's :class:`BenchmarkInfo`.
    """
    import shutil
    import tempfile

    from datasets import Dataset

    from chatgenbench import __version__
    from chatgenbench.schema import benchmark_features
    from chatgenbench.storage import atomic_write_json, atomic_write_text, sha256_files

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        counts: dict[str, int] = {}
        for config, rows in rows_by_config.items():
            if not rows:
                continue
            split = "train" if config == TRAIN_CONFIG else TEST_SPLIT
            dataset = Dataset.from_list(rows, features=benchmark_features())
            (tmp / config).mkdir()
            dataset.to_parquet(str(tmp / config / f"{split}-00000-of-00001.parquet"))
            counts[config] = len(rows)
        catalog.to_jsonl(tmp / CATALOG_FILENAME)
        files = sorted(tmp.glob("*/*.parquet")) + [tmp / CATALOG_FILENAME]
        revision = revision or f"sha256:{sha256_files(files, tmp)[:16]}"
        manifest = {
            "format": 1,
            "synthetic": synthetic,
            "source": source,
            "revision": revision,
            "counts": counts,
            "input_types": {
                config: dict(Counter(row["input_type"] for row in rows))
                for config, rows in rows_by_config.items()
                if rows
            },
            "catalog_models": len(catalog),
            "chatgenbench_version": __version__,
        }
        manifest.update(extra_manifest or {})
        atomic_write_json(tmp / MANIFEST_FILENAME, manifest)
        atomic_write_text(
            tmp / "README.md",
            dataset_card(counts, synthetic=synthetic, source=source, revision=revision),
        )
        if out.exists():
            if not (out / MANIFEST_FILENAME).is_file():
                raise BenchmarkError(
                    f"{out} exists and is not a benchmark folder; not replacing it"
                )
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _folder_info(out)


def prepare(
    source: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    key_map: str | os.PathLike | dict | None = None,
    revision: str | None = None,
) -> BenchmarkInfo:
    """Write the benchmark folder for ``source``: ``sample``, a hub id or a folder of raw files.

    Raw files (the official release's JSON/JSONL/Parquet) go through the key map of
    :mod:`chatgenbench.official`. Raises :class:`chatgenbench.official.KeyMapError` naming the fields
    it found when a required field cannot be mapped.
    """
    source = str(source)
    if source == SAMPLE_SOURCE:
        from chatgenbench.catalog import sample_catalog

        rows = [to_row(record, setting="supervised") for record in sample_records()]
        info = resolve_source(SAMPLE_SOURCE)
        return write_benchmark_folder(
            out_dir,
            {"supervised": rows},
            sample_catalog(),
            source="sample (ChatGen paper figures 6 and 7)",
            synthetic=False,
            revision=info.revision,
        )
    from chatgenbench.official import convert_raw_folder, download_raw

    raw_folder = download_raw(source, revision=revision) if _is_hub_id(source) else Path(source)
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
