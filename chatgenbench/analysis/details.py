"""The per-sample details dataset: a results JSON, its benchmark, its predictions and its images
as one ``datasets`` folder that anyone can load, share and push to the hub.

:func:`export_details` writes::

    DIR/README.md                       the dataset card (YAML header: the data files; then the
                                        benchmark, metric settings, provenance, random weights)
    DIR/data/test-00000.parquet, ...    the rows, in shards of at most ``rows_per_shard`` rows

``datasets.load_dataset(DIR)`` reads it (split ``test``). One row per benchmark sample of the
results, in :data:`DETAIL_COLUMNS` order: the chat input (turns, reference images), the
reference prompt, model and arguments, the predicted ones, each field's match, every per-sample
score of the results, the render status and the rendered ``image`` (an ``Image`` feature, the
PNG bytes) beside the benchmark's ``reference_image`` when it has one.

Memory stays bounded: rows are written ``batch_rows`` at a time with a pyarrow ``ParquetWriter``
per shard; only text (the results JSON, the predictions, the render manifest) is held whole.

Everything read is untrusted, and what cannot be shown to belong to these results is refused
(:class:`ExportError`, exit 2 from the command line) or left out and counted in the card:

- the benchmark must be the one the results were scored on (its revision);
- the predictions file must be the one scored (its sha256); without one the predicted columns
  are null and the card says so;
- the render folder must be the one scored (its ``render_summary.json`` equals the one recorded
  in the results); an image is exported only when it is a regular file inside the folder (the
  manifest refuses ``..`` and links), at most :data:`MAX_IMAGE_BYTES`, and names the manifest's
  cache key for its sample in its own PNG key chunk; otherwise ``image`` is null and
  ``image_problem`` says why;
- a sample's per-field matches are given only when they reproduce the results' ``config_score``
  for it (otherwise null, counted in the card);
- text is bounded (:data:`MAX_TEXT_CHARS`) and a lone surrogate, which Parquet cannot store,
  becomes U+FFFD.

:func:`push_details` uploads such a folder with ``huggingface_hub`` (``create_repo`` then
``upload_folder``).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatgenbench.core.errors import ChatGenBenchError
from chatgenbench.core.normalize import ARGUMENT_KEYS

DETAILS_FORMAT = 1
DATA_DIR = "data"
CARD_NAME = "README.md"
SPLIT = "test"
MAX_RESULTS_BYTES = 256 << 20
MAX_IMAGE_BYTES = 32 << 20
MAX_TEXT_CHARS = 20_000
DEFAULT_ROWS_PER_SHARD = 2_000
DEFAULT_BATCH_ROWS = 64
#: The columns of every export, in order; ``score_<metric>`` columns for each image metric of the
#: results follow ``config_score``.
DETAIL_COLUMNS: dict[str, str] = {
    "id": "the benchmark sample id",
    "setting": "supervised | few_shot",
    "input_type": "single | multimodal | history",
    "freestyle_input": "the user's freestyle request (for history: the last user turn)",
    "history": "the earlier turns: a list of {role, content}",
    "reference_images": "the pictures of a multimodal input (Image list)",
    "reference_prompt": "the reference prompt",
    "reference_negative_prompt": "the reference negative prompt",
    "reference_model": "the reference model's catalogue name",
    "reference_arguments": "the reference {sampler, steps, cfg_scale, width, height}",
    "predicted_prompt": "the submitted prompt (null: no prediction, or predictions not included)",
    "predicted_negative_prompt": "the submitted negative prompt",
    "predicted_model": "the submitted model name",
    "predicted_arguments": "the submitted arguments, as JSON text (untrusted: any types)",
    "has_prediction": "whether the sample had a usable prediction row (from the results)",
    "prompt_bertscore": "the prompt's BERTScore F1 (null: not computed or an oracle step)",
    "selection_correct": "whether the predicted model is the reference model",
    "config_score": "the mean of the per-key argument matches",
    "match_sampler": "per-key match (null: the reference lacks the key, or see the card)",
    "match_steps": "per-key match",
    "match_cfg_scale": "per-key match",
    "match_width": "per-key match",
    "match_height": "per-key match",
    "render_status": "rendered, cached, weights_missing, ... (null: images not scored)",
    "render_error": "why the sample has no image, when known",
    "render_model": "the model the image was rendered with (render manifest)",
    "render_seed": "the seed the image was rendered with",
    "render_cache_key": "the render cache key (also in the PNG's key chunk)",
    "image": "the rendered PNG (Image; null when not exported, see image_problem)",
    "image_problem": "why a sample with a rendered image has none here",
    "reference_image": "the benchmark's human-validated reference image (Image), or null",
}

_SURROGATE = re.compile("[\ud800-\udfff]")


class ExportError(ChatGenBenchError, ValueError):
    """An export that cannot be made: inputs that do not belong together or cannot be read."""


@dataclass
class ExportReport:
    """What :func:`export_details` wrote: the folder, rows, shards and what was left out."""

    out_dir: Path
    rows: int = 0
    shards: list[str] = field(default_factory=list)
    images: int = 0
    image_problems: dict[str, int] = field(default_factory=dict)
    matches_withheld: int = 0
    predictions_included: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return {
            "out_dir": str(self.out_dir),
            "rows": self.rows,
            "shards": list(self.shards),
            "images": self.images,
            "image_problems": dict(self.image_problems),
            "matches_withheld": self.matches_withheld,
            "predictions_included": self.predictions_included,
            "seconds": round(self.seconds, 3),
        }


def detail_features(image_metrics: list[str]):
    """Return the ``datasets.Features`` of a details row with ``score_<m>`` per image metric."""
    from datasets import Features, Image, List, Value

    from chatgenbench.benchmark.schema import benchmark_features

    reference_arguments = benchmark_features()["arguments"]
    spec: dict[str, Any] = {
        "id": Value("string"),
        "setting": Value("string"),
        "input_type": Value("string"),
        "freestyle_input": Value("string"),
        "history": List({"role": Value("string"), "content": Value("string")}),
        "reference_images": List(Image()),
        "reference_prompt": Value("string"),
        "reference_negative_prompt": Value("string"),
        "reference_model": Value("string"),
        "reference_arguments": reference_arguments,
        "predicted_prompt": Value("string"),
        "predicted_negative_prompt": Value("string"),
        "predicted_model": Value("string"),
        "predicted_arguments": Value("string"),
        "has_prediction": Value("bool"),
        "prompt_bertscore": Value("float64"),
        "selection_correct": Value("bool"),
        "config_score": Value("float64"),
    }
    spec.update({f"match_{key}": Value("bool") for key in ARGUMENT_KEYS})
    spec.update({f"score_{name}": Value("float64") for name in image_metrics})
    spec.update(
        {
            "render_status": Value("string"),
            "render_error": Value("string"),
            "render_model": Value("string"),
            "render_seed": Value("int64"),
            "render_cache_key": Value("string"),
            "image": Image(),
            "image_problem": Value("string"),
            "reference_image": Image(),
        }
    )
    return Features(spec)


def text(value: Any, limit: int = MAX_TEXT_CHARS) -> str | None:
    """Return ``value`` as text Parquet can store: None stays None, a non-string is its JSON,
    at most ``limit`` characters, each lone surrogate replaced by U+FFFD."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = json.dumps(value, sort_keys=True, default=repr, ensure_ascii=False)
    return _SURROGATE.sub("\ufffd", value[:limit])


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    return None


def read_results_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results JSON (bounded, a regular file) and check it against the results schema.

    Raises :class:`ExportError` naming the file for what cannot be read or does not conform.
    """
    from chatgenbench.core.storage import read_regular_bytes
    from chatgenbench.scoring.result_schema import check_results

    try:
        data = read_regular_bytes(path, max_bytes=MAX_RESULTS_BYTES)
        results = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # unreadable, not UTF-8, not JSON
        raise ExportError(
            f"{path}: not a readable results JSON ({type(error).__name__}: {str(error)[:200]})",
            how_to_fix="pass the results JSON that 'chatgenbench evaluate --out' wrote",
        ) from error
    problems = check_results(results)
    if problems:
        raise ExportError(
            f"{path}: does not match the results schema: " + "; ".join(problems[:5]),
            how_to_fix="pass the results JSON that 'chatgenbench evaluate --out' wrote, unedited",
        )
    if not isinstance(results.get("per_sample"), list):
        raise ExportError(f"{path}: per_sample: expected a list of records")
    return results


def _per_sample(results: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for index, record in enumerate(results["per_sample"]):
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise ExportError(f"{where}: per_sample[{index}]: expected an object with a string id")
        if record["id"] in found:
            raise ExportError(f"{where}: per_sample: sample {record['id'][:200]!r} appears twice")
        found[record["id"]] = record
    return found


def _image_metrics(per_sample: dict[str, dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for record in per_sample.values():
        scores = record.get("image_scores")
        if isinstance(scores, dict):
            names.update({str(name): None for name in scores})
    unsafe = [name for name in names if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name)]
    if unsafe:
        raise ExportError(f"per_sample image_scores: metric name {unsafe[0][:80]!r} is not a name")
    return sorted(names)


def _benchmark_rows(results: dict[str, Any], where: str, benchmark: str | None):
    """Yield the benchmark's rows (images as bytes) after checking it is the one scored."""
    from datasets import Image

    from chatgenbench.benchmark.loading import load_benchmark, resolve_source

    recorded = results.get("benchmark") or {}
    source = benchmark or recorded.get("source")
    if not isinstance(source, str):
        raise ExportError(f"{where}: benchmark.source: expected the benchmark's source")
    try:
        info = resolve_source(source)
    except ChatGenBenchError as error:  # moved, deleted, not a benchmark folder
        raise ExportError(
            f"{where}: the benchmark it was scored on, {source[:200]!r}, cannot be read here "
            f"({error})",
            how_to_fix="pass --benchmark with the folder the results were scored on",
        ) from error
    if info.revision != recorded.get("revision"):
        raise ExportError(
            f"{where}: scored on benchmark revision {str(recorded.get('revision'))[:80]!r}, but "
            f"{source[:200]!r} is revision {str(info.revision)[:80]!r}; the references would not "
            "be those the scores were computed against",
            how_to_fix="pass --benchmark with the folder the results were scored on",
        )
    for setting in recorded.get("settings") or info.settings:
        dataset = load_benchmark(setting, source)
        dataset = dataset.cast_column("image", Image(decode=False))
        dataset = dataset.cast_column("reference_images", [Image(decode=False)])
        for batch in dataset.iter(batch_size=DEFAULT_BATCH_ROWS):  # columns: faster than rows
            names = list(batch)
            for index in range(len(batch["id"])):
                yield {name: batch[name][index] for name in names}


def _predictions(results: dict[str, Any], path: str | os.PathLike | None, where: str):
    """Return the prediction rows by id, after checking the file is the one scored."""
    from chatgenbench.core.storage import sha256_file
    from chatgenbench.predictions.reading import read_prediction_rows

    if path is None:
        return None
    expected = (results.get("predictions") or {}).get("sha256")
    try:
        digest = sha256_file(path)
    except OSError as error:
        raise ExportError(f"{path}: cannot read the predictions ({error})") from error
    if digest != expected:
        raise ExportError(
            f"{path}: sha256 {digest[:16]}... is not that of the scored predictions "
            f"({str(expected)[:16]}..., recorded in {where}); its rows would not be those scored",
            how_to_fix="pass the prediction file these results were computed from",
        )
    rows: dict[str, dict[str, Any]] = {}
    for _, row in read_prediction_rows(path):
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            rows.setdefault(row["id"], row)
    return rows


@dataclass
class _RenderFolder:
    root: Path
    records: dict[str, Any]


def check_render_folder(results: dict[str, Any], images: str | os.PathLike | None, where: str):
    """Return the render folder's records by id (None without ``images``); raise
    :class:`ExportError` unless it is the folder the results scored (its summary)."""
    from chatgenbench.core.storage import read_regular_bytes
    from chatgenbench.render.manifest import SUMMARY_NAME, load_manifest

    if images is None:
        return None
    root = Path(images)
    recorded = (results.get("images") or {}).get("render_summary")
    if not isinstance(recorded, dict):
        raise ExportError(
            f"{where}: these results scored no render folder, so no images can be shown to be "
            "theirs",
            how_to_fix="leave out --images, or export results of 'evaluate --render/--images'",
        )
    try:
        summary = json.loads(
            read_regular_bytes(root / SUMMARY_NAME, within=root, max_bytes=64 << 20)
        )
        manifest = load_manifest(root)
    except (OSError, ValueError) as error:  # missing, a link out, not JSON, two ids on one file
        raise ExportError(f"{root}: not a readable render folder ({error})") from error
    if summary != recorded:
        raise ExportError(
            f"{root}: its {SUMMARY_NAME} is not the one recorded in {where}; these are not the "
            "images that were scored",
            how_to_fix="pass the render folder the results were scored on",
        )
    return _RenderFolder(root, {record.id: record for record in manifest.records})


def _image_of(folder: _RenderFolder | None, record, status: Any) -> tuple[dict | None, str | None]:
    """Return the rendered image as an Image value, or None and why (``status``: the sample's
    render status in the results)."""
    from chatgenbench.core.storage import read_regular_bytes
    from chatgenbench.render.cache import png_key
    from chatgenbench.render.manifest import IMAGE_STATUSES

    if folder is None:
        return None, None
    if record is None:
        if status in IMAGE_STATUSES:  # scored with an image, but its manifest line was skipped
            return None, "unusable manifest record (a path out of the folder, a link, bad JSON)"
        return None, None
    if not record.has_image:
        return None, None
    try:
        png = read_regular_bytes(
            folder.root / record.image, within=folder.root, max_bytes=MAX_IMAGE_BYTES
        )
    except OSError as error:  # missing, a link out of the folder, over the limit, not a file
        return None, f"unreadable: {type(error).__name__}: {str(error)[:160]}"
    if record.cache_key is None or png_key(png) != record.cache_key:
        return None, "the PNG does not name the manifest's cache key for this sample"
    return {"bytes": png, "path": None}, None


def _matches(
    included: bool,
    predicted: dict[str, Any] | None,
    reference: dict[str, Any],
    scored: dict[str, Any],
) -> tuple[dict[str, bool | None], bool]:
    """Return each argument key's match and whether they reproduce the results' config_score
    (all None, and True, when the predictions were not included)."""
    from chatgenbench.benchmark.schema import reference_arguments
    from chatgenbench.metrics.stepwise import config_matches, sample_config_score

    empty = {key: None for key in ARGUMENT_KEYS}
    if not included:
        return empty, True
    arguments = predicted.get("arguments") if predicted and scored.get("has_prediction") else None
    matches = config_matches(arguments, reference_arguments(reference))
    score = _number(scored.get("config_score"))
    if score is None or abs(sample_config_score(matches) - score) > 1e-9:
        return empty, False
    return {key: matches.get(key) for key in ARGUMENT_KEYS}, True


def _row(
    reference: dict[str, Any],
    scored: dict[str, Any],
    predicted: dict[str, Any] | None,
    record: Any,
    image: tuple[dict | None, str | None],
    image_metrics: list[str],
    matches: dict[str, bool | None],
) -> dict[str, Any]:
    scores = scored.get("image_scores") if isinstance(scored.get("image_scores"), dict) else {}
    row: dict[str, Any] = {
        "id": text(reference["id"]),
        "setting": text(reference["setting"]),
        "input_type": text(reference["input_type"]),
        "freestyle_input": text(reference.get("freestyle_input")),
        "history": [
            {"role": text(turn.get("role")), "content": text(turn.get("content"))}
            for turn in reference.get("history") or []
        ],
        "reference_images": list(reference.get("reference_images") or []),
        "reference_prompt": text(reference.get("prompt")),
        "reference_negative_prompt": text(reference.get("negative_prompt")),
        "reference_model": text(reference.get("model")),
        "reference_arguments": reference.get("arguments"),
        "predicted_prompt": text(predicted.get("prompt")) if predicted else None,
        "predicted_negative_prompt": text(predicted.get("negative_prompt")) if predicted else None,
        "predicted_model": text(predicted.get("model")) if predicted else None,
        "predicted_arguments": text(predicted.get("arguments")) if predicted else None,
        "has_prediction": _flag(scored.get("has_prediction")),
        "prompt_bertscore": _number(scored.get("prompt_bertscore")),
        "selection_correct": _flag(scored.get("selection_correct")),
        "config_score": _number(scored.get("config_score")),
        **{f"match_{key}": value for key, value in matches.items()},
        **{f"score_{name}": _number(scores.get(name)) for name in image_metrics},
        "render_status": text(scored.get("render_status")),
        "render_error": text(scored.get("render_error")),
        "render_model": text(record.model) if record is not None else None,
        "render_seed": record.seed if record is not None else None,
        "render_cache_key": text(record.cache_key) if record is not None else None,
        "image": image[0],
        "image_problem": image[1],
        "reference_image": reference.get("image"),
    }
    return row


class _ShardWriter:
    """Parquet shards of at most ``rows_per_shard`` rows, written a batch at a time."""

    def __init__(self, folder: Path, features, rows_per_shard: int) -> None:
        self.folder, self.schema = folder, features.arrow_schema
        self.rows_per_shard = rows_per_shard
        self.writer = None
        self.in_shard = 0
        self.names: list[str] = []

    def write(self, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        while rows:
            if self.writer is None:
                name = f"{DATA_DIR}/{SPLIT}-{len(self.names):05d}.parquet"
                self.writer = pq.ParquetWriter(self.folder / name, self.schema)
                self.names.append(name)
                self.in_shard = 0
            room = self.rows_per_shard - self.in_shard
            part, rows = rows[:room], rows[room:]
            self.writer.write_table(pa.Table.from_pylist(part, schema=self.schema))
            self.in_shard += len(part)
            if self.in_shard >= self.rows_per_shard:
                self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def export_details(
    results_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    images: str | os.PathLike | None = None,
    predictions: str | os.PathLike | None = None,
    benchmark: str | None = None,
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> ExportReport:
    """Write the details dataset of a results JSON into ``out_dir`` and return the report.

    ``images``: the render folder the results scored (its images are exported); ``predictions``:
    the prediction file scored (its rows fill the predicted columns); ``benchmark``: where the
    benchmark now is, when not at the source the results record. ``out_dir`` must not exist or be
    empty. Raises :class:`ExportError` for inputs that do not belong together (see the module
    docstring), and for an ``out_dir`` that holds files.
    """
    started = time.perf_counter()
    where = str(results_path)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out}: exists and is not an empty folder; nothing is overwritten")
    if rows_per_shard < 1 or batch_rows < 1:
        raise ExportError("rows_per_shard and batch_rows must be at least 1")
    results = read_results_file(results_path)
    per_sample = _per_sample(results, where)
    image_metrics = _image_metrics(per_sample)
    prediction_rows = _predictions(results, predictions, where)
    folder = check_render_folder(results, images, where)
    features = detail_features(image_metrics)
    created = not out.exists()
    (out / DATA_DIR).mkdir(parents=True, exist_ok=True)
    try:
        return _write_export(
            results, where, out, features, image_metrics, per_sample, prediction_rows, folder,
            benchmark, rows_per_shard, batch_rows, started, images is not None,
        )  # fmt: skip
    except BaseException:
        _remove_partial(out, created)  # a half-written export must not look like a whole one
        raise


def _remove_partial(out: Path, created: bool) -> None:
    import shutil

    if created:
        shutil.rmtree(out, ignore_errors=True)
    else:  # it was an empty folder: leave it empty
        shutil.rmtree(out / DATA_DIR, ignore_errors=True)
        (out / CARD_NAME).unlink(missing_ok=True)


def _write_export(
    results: dict[str, Any],
    where: str,
    out: Path,
    features,
    image_metrics: list[str],
    per_sample: dict[str, dict[str, Any]],
    prediction_rows: dict[str, dict[str, Any]] | None,
    folder: _RenderFolder | None,
    benchmark: str | None,
    rows_per_shard: int,
    batch_rows: int,
    started: float,
    with_images: bool,
) -> ExportReport:
    """Stream the rows into shards, then write the card (see :func:`export_details`)."""
    report = ExportReport(out, predictions_included=prediction_rows is not None)
    problems: Counter[str] = Counter()
    writer = _ShardWriter(out, features, rows_per_shard)
    batch: list[dict[str, Any]] = []
    try:
        for reference in _benchmark_rows(results, where, benchmark):
            scored = per_sample.get(reference["id"])
            if scored is None:
                continue  # a sample the results did not score (another setting)
            predicted = (
                prediction_rows.get(reference["id"]) if prediction_rows is not None else None
            )
            record = folder.records.get(reference["id"]) if folder else None
            image = _image_of(folder, record, scored.get("render_status"))
            if image[1]:
                problems[image[1].split(":")[0]] += 1
            matches, agreed = _matches(prediction_rows is not None, predicted, reference, scored)
            report.matches_withheld += not agreed
            batch.append(_row(reference, scored, predicted, record, image, image_metrics, matches))
            report.rows += 1
            report.images += image[0] is not None
            if len(batch) >= batch_rows:
                writer.write(batch)
                batch = []
        writer.write(batch)
    finally:
        writer.close()
    if report.rows != len(per_sample):
        raise ExportError(
            f"{where}: {len(per_sample)} samples scored, {report.rows} found in the benchmark; "
            "the results and the benchmark do not belong together"
        )
    report.shards = writer.names
    report.image_problems = dict(problems)
    report.seconds = time.perf_counter() - started
    write_card(out, results, report, image_metrics, with_images)
    return report


def write_card(
    out: Path,
    results: dict[str, Any],
    report: ExportReport,
    image_metrics: list[str],
    with_images: bool,
) -> Path:
    """Write the dataset card ``README.md`` (YAML header and the run's description)."""
    from chatgenbench.core.storage import atomic_write_text

    random_weights = results.get("random_weights") or {}
    benchmark = results.get("benchmark") or {}
    header = {
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": SPLIT, "path": f"{DATA_DIR}/{SPLIT}-*.parquet"}],
            }
        ],
        "tags": ["chatgenbench", "text-to-image", "evaluation"],
        "chatgenbench_details_format": DETAILS_FORMAT,
    }
    lines = ["---", json.dumps(header, indent=1, sort_keys=True), "---", ""]
    lines += ["# ChatGenBench per-sample details", ""]
    if random_weights.get("used"):
        lines += [
            "> **RANDOM DEMO WEIGHTS** made these images: they are noise and the image scores "
            "mean nothing. " + (text(random_weights.get("note"), 2000) or ""),
            "",
        ]
    if results.get("synthetic"):
        lines += ["> **SYNTHETIC benchmark**: these results never go on a leaderboard.", ""]
    lines += [
        f"- rows: {report.rows} (one per scored sample), shards: {len(report.shards)}",
        f"- images: {report.images} exported"
        + ("" if with_images else " (no render folder was given: `--images`)"),
        f"- images left out: {json.dumps(report.image_problems, sort_keys=True)}",
        "- predicted columns: "
        + ("from the scored prediction file (sha256 checked)" if report.predictions_included
           else "null: the prediction file was not given (`--predictions`)"),
        f"- per-key matches withheld (they did not reproduce config_score): "
        f"{report.matches_withheld}",
        f"- image metrics: {', '.join(image_metrics) or 'none'}",
        "",
    ]  # fmt: skip
    sections = {
        "Benchmark": benchmark,
        "Predictions": results.get("predictions"),
        "Random weights": random_weights,
        "Metric settings": results.get("metric_settings"),
        "Provenance": results.get("provenance"),
    }
    for title, block in sections.items():
        body = json.dumps(block, indent=1, sort_keys=True, default=repr, ensure_ascii=True)
        lines += [f"## {title}", "", "```json", text(body, 200_000), "```", ""]
    lines += ["## Columns", ""]
    lines += [f"- `{name}`: {meaning}" for name, meaning in DETAIL_COLUMNS.items()]
    lines += [f"- `score_{name}`: the raw per-image {name} score" for name in image_metrics]
    return atomic_write_text(out / CARD_NAME, "\n".join(lines) + "\n")


_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


def push_details(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    api: Any = None,
) -> str:
    """Upload a details folder to the hub as a dataset repository; return the commit's URL.

    ``api`` defaults to ``huggingface_hub.HfApi(token=token)`` (tests pass a fake). Raises
    :class:`ExportError` for a repository id that is not ``owner/name`` or a folder that is not
    a details export (no card).
    """
    folder = Path(folder)
    if not _REPO_ID.fullmatch(repo_id or "") or ".." in repo_id:
        raise ExportError(
            f"--push-to-hub: {repo_id[:100]!r} is not a repository id", how_to_fix="use OWNER/NAME"
        )
    if not (folder / CARD_NAME).is_file():
        raise ExportError(f"{folder}: no {CARD_NAME}; not a details export")
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="dataset",
        commit_message="ChatGenBench per-sample details",
    )
    return str(getattr(commit, "commit_url", commit))
