"""Loading the benchmark as a ``datasets.Dataset``, and writing benchmark folders.

Sources (the ``source=`` argument everywhere, ``--benchmark`` on the command line):

- ``"sample"``: the 12 complete records printed in the ChatGen paper, embedded in the package
  (setting ``supervised``, ids ``sample-0001`` ... ``sample-0012``).
- a folder written by ``chatgenbench prepare`` or ``chatgenbench synth``: Parquet files per config
  plus a dataset card whose YAML declares the configs, so ``datasets.load_dataset(folder,
  "supervised")`` works on it directly; ``catalog.jsonl`` and ``chatgenbench.json`` lie beside them.
- the hub id ``ChengyouJia/ChatGenBench`` (or another ``owner/name``): converted once through the
  key map of :mod:`chatgenbench.benchmark.official` into a folder under ``$CHATGENBENCH_HOME/benchmarks``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from chatgenbench.benchmark.catalog import ModelCatalog
from chatgenbench.benchmark.folder import (
    MANIFEST_FILENAME,
    BenchmarkInfo,
    folder_info,
    write_benchmark_folder,
)
from chatgenbench.benchmark.official import OFFICIAL_HUB_ID, is_hub_id, prepare_from_hub
from chatgenbench.benchmark.records import to_row
from chatgenbench.benchmark.schema import SETTINGS, TRAIN_CONFIG
from chatgenbench.core.errors import BenchmarkError

SAMPLE_SOURCE = "sample"
__all__ = [
    "MANIFEST_FILENAME",
    "OFFICIAL_HUB_ID",
    "SAMPLE_SOURCE",
    "BenchmarkInfo",
    "LoadedBenchmark",
    "load_benchmark",
    "load_benchmark_catalog",
    "open_benchmark",
    "prepare",
    "resolve_source",
    "sample_records",
    "write_benchmark_folder",
]


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

    from chatgenbench.benchmark.schema import benchmark_features

    rows = [to_row(record, setting="supervised") for record in sample_records()]
    return Dataset.from_list(rows, features=benchmark_features())


def resolve_source(source: str | os.PathLike, *, revision: str | None = None) -> BenchmarkInfo:
    """Describe a benchmark source without loading its rows; convert a hub dataset on first use.

    Raises :class:`BenchmarkError` for a path that is not a benchmark folder.
    """
    source = str(source)
    if source == SAMPLE_SOURCE:
        from chatgenbench.core.storage import sha256_file
        from chatgenbench.core.version import __version__

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
    if is_hub_id(source):
        folder = prepare_from_hub(source, revision=revision)
        info = folder_info(folder)
        info.source, info.kind = source, "hub"
        return info
    return folder_info(Path(source))


def load_benchmark(
    setting: str = "supervised",
    source: str | os.PathLike = SAMPLE_SOURCE,
    *,
    revision: str | None = None,
):
    """Return one setting of the benchmark as a ``datasets.Dataset`` (schema: :mod:`chatgenbench.benchmark.schema`).

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

    from chatgenbench.benchmark.schema import benchmark_features

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


def load_benchmark_catalog(
    source: str | os.PathLike = SAMPLE_SOURCE,
    overlay: str | os.PathLike | ModelCatalog | None = None,
) -> ModelCatalog:
    """Return the model catalogue of a benchmark source, with an optional overlay laid over it.

    ``overlay`` is None, a :class:`ModelCatalog` (returned as it is) or a catalogue file whose lines
    add or replace fields of the benchmark's entries (typically ``weights``; see
    :func:`chatgenbench.benchmark.catalog.overlay_catalog`). Relative weight paths of a benchmark folder's
    own catalogue are taken relative to that folder. Raises :class:`CatalogError` for a bad file.
    """
    from chatgenbench.benchmark.catalog import (
        CatalogEntry,
        absolute_weight_paths,
        load_catalog,
        overlay_catalog,
    )

    if isinstance(overlay, ModelCatalog):
        return overlay
    info = resolve_source(source)
    base = load_catalog("sample" if info.kind == "sample" else info.path)
    if info.path:
        folder = Path(info.path)
        base = ModelCatalog(
            [CatalogEntry.from_record(absolute_weight_paths(e.to_record(), folder)) for e in base],
            synthetic=base.synthetic,
        )
    return overlay_catalog(base, overlay) if overlay is not None else base


#: The columns that scoring and rendering read from every benchmark row.
SCORED_COLUMNS: tuple[str, ...] = ("id", "setting", "input_type", "prompt", "model", "arguments")


@dataclass
class LoadedBenchmark:
    """A benchmark loaded once for a run: its source, the settings chosen, their rows, its catalogue.

    Built by :func:`open_benchmark`; every stage of a run (validation, step-wise scoring, rendering,
    image scoring) reads from this one object, so the benchmark is loaded once. ``datasets`` keeps
    each setting's ``datasets.Dataset`` (memory-mapped), from which the reference images are read
    only when an image metric needs them.
    """

    info: BenchmarkInfo
    settings: list[str]
    datasets: dict[str, Any]
    catalog: ModelCatalog
    rows: list[dict[str, Any]]

    @property
    def source(self) -> str:
        """The benchmark source as given (``sample``, a folder, a hub id)."""
        return self.info.source

    @property
    def ids(self) -> list[str]:
        """The benchmark ids of the chosen settings, in order."""
        return [row["id"] for row in self.rows]

    def reference_images(self):
        """Return a :class:`chatgenbench.benchmark.schema.ReferenceImage` for every row that has one."""
        from datasets import Image as ImageFeature

        from chatgenbench.benchmark.schema import ReferenceImage

        found = []
        for dataset in self.datasets.values():
            column = dataset.select_columns(["id", "image"]).cast_column(
                "image", ImageFeature(decode=False)
            )
            for row in column:
                image = row["image"] or {}
                data = image.get("bytes")
                if data is None and image.get("path"):
                    data = Path(image["path"]).read_bytes()
                if data:
                    found.append(ReferenceImage(row["id"], data))
        return found


def open_benchmark(
    source: str | os.PathLike = SAMPLE_SOURCE,
    setting: str = "all",
    *,
    catalog: str | os.PathLike | ModelCatalog | None = None,
    revision: str | None = None,
) -> LoadedBenchmark:
    """Load a benchmark once for a run: the rows of ``setting`` (or ``all`` its settings) and the
    catalogue, with ``catalog`` laid over it (see :func:`load_benchmark_catalog`).

    Raises :class:`BenchmarkError` for a source that cannot be loaded or a setting it lacks.
    """
    info = resolve_source(source, revision=revision)
    settings = info.settings if setting == "all" else [setting]
    for name in settings:
        if name not in info.settings:
            raise BenchmarkError(
                f"benchmark {info.source!r} has no {name!r} setting "
                f"(it has: {', '.join(info.settings)})"
            )
    datasets = {name: load_benchmark(name, source, revision=revision) for name in settings}
    rows = []
    for dataset in datasets.values():
        rows.extend(dataset.select_columns(list(SCORED_COLUMNS)).to_list())
    return LoadedBenchmark(
        info=info,
        settings=settings,
        datasets=datasets,
        catalog=load_benchmark_catalog(source, catalog),
        rows=rows,
    )


def prepare(
    source: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    key_map: str | os.PathLike | dict | None = None,
    revision: str | None = None,
    models: str | os.PathLike | None = None,
) -> BenchmarkInfo:
    """Write the benchmark folder for ``source``: ``sample``, a hub id or a folder of raw files.

    Raw files (the official release's JSON/JSONL/Parquet, image archives) go through the key map
    of :mod:`chatgenbench.benchmark.official`; ``models`` is a model-list file for the catalogue. Raises
    :class:`chatgenbench.core.errors.KeyMapError` naming the fields it found when a required field
    cannot be mapped.
    """
    source = str(source)
    if source == SAMPLE_SOURCE and models is not None:
        raise BenchmarkError(
            "a model list (--models) applies to raw files, not to the embedded sample",
            how_to_fix="drop --models, or pass --source RAW_FOLDER",
        )
    if source == SAMPLE_SOURCE:
        from chatgenbench.benchmark.catalog import sample_catalog

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
    from chatgenbench.benchmark.official import prepare_official

    return prepare_official(source, out_dir, key_map=key_map, revision=revision, models=models)
