"""The sample gallery and the side-by-side view: what a method produced, sample by sample.

:class:`Gallery` joins, per submission, the benchmark rows (chat input, reference answer), the
stored prediction file (parsed as data by :mod:`chatgenbench.predictions.reading`), the
worker's per-sample scores (``samples.jsonl``: BERTScore, model right or wrong, config score and
matches, image scores) and the render folder. The joined index is built once per submission and
kept while its files are unchanged, so filtering and paging a 14,564-sample submission is cheap.

Images are served only from the store's render folders, looked up by submission name and sample
id through :meth:`leaderboard.submissions.SubmissionStore.rendered_images` (never a path that a
submitter wrote), as PNG. Thumbnails are made once and cached in
``<render folder>/thumbnails/<size>/``; a thumbnail, its folder or the render folder that is a
symbolic link is neither served nor written through (a placeholder says why), and an image that
is truncated, not an image or a decompression bomb gets a placeholder with the reason
(:func:`chatgenbench.metrics.images.read_image_file`). Manifest lines that are not records are
skipped and counted (``GalleryIndex.manifest_skipped``). The reference image of a sample (the human-validated one,
when the benchmark has it) comes from the benchmark itself.

This module is the gallery's backend: it decides what a page holds (the join, the filter, the
paging, the thumbnails, the render summary) and imports no ``streamlit``;
:mod:`leaderboard.gallery_tab` lays it out in the leaderboard app and only reads. It is plain
Python, used by tests and ``benchmarks/``.
"""

from __future__ import annotations

import io
import json
import os
import stat
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatgenbench.core.storage import UnsafeFileError, check_no_links
from chatgenbench.metrics.images import UnreadableImage, decode_image, read_image_file
from chatgenbench.render.manifest import MANIFEST_NAME, image_filename, load_manifest, read_manifest
from leaderboard.submissions import SAMPLES_FILENAME, SubmissionStore

THUMBNAILS_DIR = "thumbnails"
THUMBNAIL_SIZE = 256
SIDE_BY_SIDE_SIZE = 384
PAGE_SIZE = 12
MODEL_FILTERS: tuple[str, ...] = ("any", "right", "wrong")
MAX_COMPARED = 4
_REFERENCE_CACHE = 256


@dataclass
class SampleView:
    """One sample of a submission as the gallery shows it."""

    id: str
    setting: str
    input_type: str
    freestyle_input: str
    history: list[dict[str, str]]
    n_reference_images: int
    reference: dict[str, Any]
    predicted: dict[str, Any] | None
    model_correct: bool | None = None
    config_score: float | None = None
    config_matches: dict[str, bool] = field(default_factory=dict)
    bertscore: float | None = None
    image_scores: dict[str, float] = field(default_factory=dict)
    render_status: str | None = None
    render_error: str | None = None
    has_image: bool = False
    search_text: str = ""

    def field_marks(self) -> list[dict[str, str]]:
        """Return one row per field (model, each argument): reference, predicted, match mark."""
        predicted = self.predicted or {}
        rows = [
            {
                "Answer field": "model",
                "Reference": str(self.reference.get("model")),
                "Predicted": as_text(predicted.get("model")),
                "Match": match_mark(self.model_correct),
            }
        ]
        arguments = predicted.get("arguments") or {}
        for key, value in (self.reference.get("arguments") or {}).items():
            if value is None:
                continue
            rows.append(
                {
                    "Answer field": key,
                    "Reference": str(value),
                    "Predicted": as_text(arguments.get(key)),
                    "Match": match_mark(self.config_matches.get(key)),
                }
            )
        return rows


def match_mark(value: bool | None) -> str:
    """Return the mark of a field's match: ``✓`` right, ``✗`` wrong, ``-`` not scored."""
    return "-" if value is None else ("✓" if value else "✗")


def as_text(value: Any) -> str:
    """Return a predicted value as shown: its text, or nothing when it is missing."""
    return "" if value is None else str(value)


@dataclass
class GalleryIndex:
    """A submission's samples, joined; ``benchmark`` and ``setting`` as scored."""

    name: str
    benchmark: str
    setting: str
    samples: list[SampleView]
    by_id: dict[str, SampleView]
    weights_missing: dict[str, int]
    manifest_skipped: list[str] = field(default_factory=list)  # "line N: why", not records

    def filter_choices(self) -> dict[str, list[str]]:
        """Return what each :class:`GalleryFilter` field may be set to for these samples."""
        return {
            "setting": ["all", *sorted({s.setting for s in self.samples})],
            "input_type": ["all", *sorted({s.input_type for s in self.samples})],
            "model": list(MODEL_FILTERS),
        }


@dataclass
class GalleryFilter:
    """What the gallery shows: setting, input type, model right/wrong, config score, text."""

    setting: str = "all"
    input_type: str = "all"
    model: str = "any"
    min_config: float = 0.0
    max_config: float = 1.0
    text: str = ""
    only_with_image: bool = False

    def selects(self, sample: SampleView) -> bool:
        """True when ``sample`` passes every condition."""
        if self.setting != "all" and sample.setting != self.setting:
            return False
        if self.input_type != "all" and sample.input_type != self.input_type:
            return False
        if self.model == "right" and sample.model_correct is not True:
            return False
        if self.model == "wrong" and sample.model_correct is not False:
            return False
        score = sample.config_score
        if (self.min_config > 0.0 or self.max_config < 1.0) and (
            score is None or not self.min_config <= score <= self.max_config
        ):
            return False
        if self.only_with_image and not sample.has_image:
            return False
        text = self.text.strip().lower()
        return not text or text in sample.search_text


def page_count(n_selected: int, page_size: int = PAGE_SIZE) -> int:
    """Return how many pages ``n_selected`` samples fill, ``page_size`` a page (at least one)."""
    return max(1, -(-n_selected // page_size))


def render_status_counts(render_dir: str | os.PathLike) -> dict[str, int] | None:
    """Return ``{status: samples}`` of a render folder's manifest (None: no readable manifest)."""
    try:
        records = read_manifest(Path(render_dir))
    except (OSError, ValueError, TypeError):
        return None
    return dict(Counter(r.status for r in records))


def weights_missing_by_model(render_dir: str | os.PathLike) -> dict[str, int]:
    """Return ``{model: samples}`` of a render folder's ``weights_missing`` samples, most first."""
    try:
        records = read_manifest(Path(render_dir))
    except (OSError, ValueError, TypeError):
        return {}
    counts = Counter(r.model or "?" for r in records if r.status == "weights_missing")
    return dict(counts.most_common())


class Gallery:
    """The gallery's data for one store: joined indexes, thumbnails, reference images."""

    def __init__(self, store: SubmissionStore) -> None:
        self.store = store
        self._indexes: dict[str, tuple[tuple, GalleryIndex]] = {}
        self._datasets: dict[tuple[str, str], Any] = {}
        self._references: OrderedDict[tuple[str, str, int], bytes | None] = OrderedDict()

    # -- the joined index --------------------------------------------------------------------

    def _signature(self, name: str) -> tuple:
        folder = self.store.path_for(name)
        parts = []
        for path in (
            self.store.predictions_path(name),
            folder / SAMPLES_FILENAME,
            self.store.render_dir(name) / MANIFEST_NAME,
            folder / "meta.yaml",
        ):
            try:
                stat = path.stat() if path is not None else None
            except FileNotFoundError:
                stat = None
            parts.append(None if stat is None else (stat.st_mtime_ns, stat.st_size))
        return tuple(parts)

    def _dataset(self, benchmark: str, setting: str):
        key = (benchmark, setting)
        if key not in self._datasets:
            from chatgenbench.benchmark.loading import load_benchmark

            self._datasets[key] = load_benchmark(setting, benchmark)
        return self._datasets[key]

    def index(self, name: str) -> GalleryIndex | None:
        """Return the joined samples of submission ``name`` (None without valid metadata)."""
        signature = self._signature(name)
        cached = self._indexes.get(name)
        if cached is not None and cached[0] == signature:
            return cached[1]
        submission = self.store.load(name)
        if submission.meta is None:
            return None
        index = self._build(name, submission)
        self._indexes[name] = (signature, index)
        return index

    def _build(self, name: str, submission) -> GalleryIndex:
        meta = submission.meta
        dataset = self._dataset(meta.benchmark, meta.setting)
        columns = [
            "id",
            "setting",
            "input_type",
            "freestyle_input",
            "history",
            "prompt",
            "negative_prompt",
            "model",
            "arguments",
        ]
        rows = dataset.select_columns(columns).to_list()
        counts = _reference_image_counts(dataset)
        report = self._report(submission, meta, [r["id"] for r in rows])
        predictions = _prediction_fields(report)
        scores = _read_samples(submission.path / SAMPLES_FILENAME)
        if not scores and report is not None:
            # Scored before the worker kept per-sample scores: the exact-match scores are cheap
            # to recompute (no encoder); BERTScore and image scores stay unknown ("-").
            from chatgenbench.scoring.stepwise import score_samples

            computed, _ = score_samples(rows, report, bertscore=None)
            for record in computed:
                record["prompt_bertscore"] = None
            scores = {record["id"]: record for record in computed}
        render_dir = self.store.render_dir(name)
        try:
            manifest = load_manifest(render_dir)
        except (OSError, ValueError):
            records, skipped = {}, []
        else:
            records, skipped = {r.id: r for r in manifest.records}, manifest.skipped
        images = self.store.rendered_images(name)
        samples = []
        for position, row in enumerate(rows):
            prediction = predictions.get(row["id"])
            score = scores.get(row["id"]) or {}
            record = records.get(row["id"])
            history = [
                {"role": str(turn.get("role")), "content": str(turn.get("content"))}
                for turn in row.get("history") or []
            ]
            sample = SampleView(
                id=row["id"],
                setting=row["setting"],
                input_type=row["input_type"],
                freestyle_input=row["freestyle_input"] or "",
                history=history,
                n_reference_images=counts[position],
                reference={
                    "prompt": row["prompt"],
                    "negative_prompt": row["negative_prompt"],
                    "model": row["model"],
                    "arguments": row["arguments"] or {},
                },
                predicted=prediction,
                model_correct=score.get("selection_correct") if score else None,
                config_score=score.get("config_score") if score else None,
                config_matches=dict(score.get("config_matches") or {}),
                bertscore=score.get("prompt_bertscore") if score else None,
                image_scores=dict(score.get("image_scores") or {}),
                render_status=record.status if record is not None else None,
                render_error=record.error if record is not None else None,
                has_image=row["id"] in images,
            )
            parts = [sample.id, sample.freestyle_input, row["prompt"] or "", row["model"] or ""]
            parts += [turn["content"] for turn in history]
            if prediction:
                parts += [as_text(prediction.get("prompt")), as_text(prediction.get("model"))]
            sample.search_text = "\n".join(parts).lower()
            samples.append(sample)
        return GalleryIndex(
            name=name,
            benchmark=meta.benchmark,
            setting=meta.setting,
            samples=samples,
            by_id={s.id: s for s in samples},
            weights_missing=weights_missing_by_model(render_dir),
            manifest_skipped=skipped,
        )

    def _report(self, submission, meta, ids: list[str]):
        """Return the prediction file's validation report (parsed as data), or None."""
        if submission.predictions_path is None:
            return None
        from chatgenbench.predictions.validation import validate_predictions

        return validate_predictions(
            submission.predictions_path,
            ids,
            self.store.catalog(meta.benchmark),
            allow_missing=True,
        )

    # -- selecting ---------------------------------------------------------------------------

    def select(
        self, name: str, where: GalleryFilter | None = None
    ) -> tuple[GalleryIndex | None, list[SampleView]]:
        """Return the index of ``name`` and its samples that pass ``where``."""
        index = self.index(name)
        if index is None:
            return None, []
        where = where or GalleryFilter()
        return index, [s for s in index.samples if where.selects(s)]

    def page(
        self,
        name: str,
        where: GalleryFilter | None = None,
        page: int = 0,
        page_size: int = PAGE_SIZE,
        *,
        thumbnails: bool = True,
    ) -> dict[str, Any]:
        """Return one page: ``samples``, their ``thumbnails`` (id -> PNG path), why an image
        cannot be shown (``image_problems``: id -> reason), the counts.

        This is the whole work of showing a gallery page (the app only lays it out).
        """
        _, selected = self.select(name, where)
        pages = page_count(len(selected), page_size)
        page = min(max(0, page), pages - 1)
        shown = selected[page * page_size : (page + 1) * page_size]
        thumbs, problems = {}, {}
        if thumbnails:
            for sample in shown:
                path, problem = self.thumbnail_or_reason(name, sample.id)
                if path is not None:
                    thumbs[sample.id] = path
                elif problem is not None:
                    problems[sample.id] = problem
        return {
            "samples": shown,
            "thumbnails": thumbs,
            "image_problems": problems,
            "n_selected": len(selected),
            "page": page,
            "pages": pages,
        }

    # -- images ------------------------------------------------------------------------------

    def thumbnail(self, name: str, sample_id: str, size: int = THUMBNAIL_SIZE) -> Path | None:
        """Return the PNG thumbnail (at most ``size`` px) of a sample's image, made once; None
        when the sample has no image in the store's render folder or it cannot be shown
        (:meth:`thumbnail_or_reason` says why)."""
        return self.thumbnail_or_reason(name, sample_id, size)[0]

    def thumbnail_or_reason(
        self, name: str, sample_id: str, size: int = THUMBNAIL_SIZE
    ) -> tuple[Path | None, str | None]:
        """Return ``(thumbnail path, None)``, ``(None, why it cannot be shown)``, or
        ``(None, None)`` when the sample has no image.

        A thumbnail is served only when it is a regular file reached through no link, and
        written only through no link, all inside the submission's folder; the image is read with
        :func:`chatgenbench.metrics.images.read_image_file`.
        """
        source = self.store.rendered_images(name).get(sample_id)
        if source is None:
            return None, None
        submission = self.store.path_for(name)
        folder = self.store.render_dir(name) / THUMBNAILS_DIR / str(int(size))
        target = folder / image_filename(sample_id)
        try:
            check_no_links(target, submission)
        except UnsafeFileError as error:
            return None, f"thumbnail not served: {_relative(error, submission)}"
        try:
            cached = os.lstat(target)
            if stat.S_ISREG(cached.st_mode) and cached.st_mtime_ns >= source.stat().st_mtime_ns:
                return target, None
        except FileNotFoundError:
            pass
        from chatgenbench.core.storage import atomic_write_bytes

        try:
            small = read_image_file(source, within=submission)
        except UnreadableImage as error:
            return None, f"image unreadable: {_relative(error, submission)}"
        small.thumbnail((size, size))
        buffer = io.BytesIO()
        small.save(buffer, format="PNG")
        try:
            atomic_write_bytes(target, buffer.getvalue(), within=submission)
        except UnsafeFileError as error:
            return None, f"thumbnail not written: {_relative(error, submission)}"
        return target, None

    def reference_image(
        self, benchmark: str, setting: str, sample_id: str, size: int = SIDE_BY_SIDE_SIZE
    ) -> bytes | None:
        """Return the human-validated reference image of a sample as PNG bytes, or None."""
        return self._benchmark_image(benchmark, setting, sample_id, "image", size)

    def input_images(
        self, benchmark: str, setting: str, sample_id: str, size: int = THUMBNAIL_SIZE
    ) -> list[bytes]:
        """Return the reference images of a multimodal input (PNG bytes), in order."""
        index = self._row_index(benchmark, setting, sample_id)
        if index is None:
            return []
        raw = _raw_cell(self._dataset(benchmark, setting), "reference_images", index) or []
        return [png for png in (_png(item, size) for item in raw) if png]

    def _row_index(self, benchmark: str, setting: str, sample_id: str) -> int | None:
        key = ("ids", benchmark, setting)
        if key not in self._datasets:
            ids = self._dataset(benchmark, setting)["id"]
            self._datasets[key] = {value: i for i, value in enumerate(ids)}
        return self._datasets[key].get(sample_id)

    def _benchmark_image(
        self, benchmark: str, setting: str, sample_id: str, column: str, size: int
    ) -> bytes | None:
        key = (f"{benchmark}|{setting}", sample_id, size)
        if key in self._references:
            self._references.move_to_end(key)
            return self._references[key]
        index = self._row_index(benchmark, setting, sample_id)
        found = None
        if index is not None:
            found = _png(_raw_cell(self._dataset(benchmark, setting), column, index), size)
        self._references[key] = found
        if len(self._references) > _REFERENCE_CACHE:
            self._references.popitem(last=False)
        return found

    def side_by_side(self, names: list[str], sample_id: str) -> list[dict[str, Any]]:
        """Return one panel per submission (at most :data:`MAX_COMPARED`) for one input.

        Each panel: ``name``, ``method``, ``sample`` (its :class:`SampleView` or None),
        ``image`` (a thumbnail path or None) and ``status`` (render status, or why none).
        """
        panels = []
        for name in names[:MAX_COMPARED]:
            index = self.index(name)
            sample = index.by_id.get(sample_id) if index is not None else None
            image, problem = (
                self.thumbnail_or_reason(name, sample_id, SIDE_BY_SIDE_SIZE)
                if sample is not None
                else (None, None)
            )
            meta = self.store.load(name).meta
            panels.append(
                {
                    "name": name,
                    "method": meta.method if meta is not None else name,
                    "sample": sample,
                    "image": image,
                    "image_problem": problem,
                    "status": (sample.render_status or "not rendered")
                    if sample is not None
                    else "not in this submission",
                }
            )
        return panels


def _relative(error: Exception, folder: Path) -> str:
    """Return an error's text with the server's path of a submission folder left out."""
    return str(error).replace(f"{folder}/", "").replace(str(folder), ".")


def _prediction_fields(report) -> dict[str, dict[str, Any]]:
    """Return each predicted prompt, negative prompt, model and arguments by sample id."""
    if report is None:
        return {}
    return {
        sample_id: {
            "prompt": p.prompt,
            "negative_prompt": p.negative_prompt,
            "model": p.model,
            "arguments": dict(p.arguments or {}),
        }
        for sample_id, p in report.predictions.items()
    }


def _reference_image_counts(dataset) -> list[int]:
    """Return, per row, how many input reference images it has (without decoding them)."""
    import pyarrow.compute as pc

    lengths = pc.list_value_length(_arrow(dataset).column("reference_images")).to_pylist()
    return [n or 0 for n in lengths]


def _arrow(dataset):
    """Return the dataset's rows as an Arrow table, in the dataset's order (nothing decoded)."""
    table = dataset.data.table if hasattr(dataset.data, "table") else dataset.data
    if getattr(dataset, "_indices", None) is not None:
        table = table.take(dataset._indices.column(0))
    return table


def _raw_cell(dataset, column: str, index: int) -> Any:
    """Return one cell as stored (an image is ``{bytes, path}``), without decoding it."""
    return _arrow(dataset).slice(index, 1).column(column).to_pylist()[0]


def _png(raw: Any, size: int) -> bytes | None:
    """Return an image cell (``{bytes, path}``) as PNG bytes of at most ``size`` px, or None."""
    if not isinstance(raw, dict):
        return None
    data = raw.get("bytes")
    if data is None and raw.get("path"):
        from chatgenbench.core.storage import read_regular_bytes
        from chatgenbench.metrics.images import MAX_IMAGE_BYTES

        try:
            data = read_regular_bytes(raw["path"], max_bytes=MAX_IMAGE_BYTES)
        except OSError:
            return None
    if not data:
        return None
    try:
        small = decode_image(data)
    except UnreadableImage:
        return None
    small.thumbnail((size, size))
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return buffer.getvalue()


def _read_samples(path: Path) -> dict[str, dict[str, Any]]:
    """Return the worker's per-sample scores by id (empty when the file is absent)."""
    from chatgenbench.core.storage import read_regular_bytes

    found: dict[str, dict[str, Any]] = {}
    try:
        text = read_regular_bytes(path, within=path.parent, max_bytes=1 << 30).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return found
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            found[record["id"]] = _typed_scores(record)
    return found


def _typed_scores(record: dict[str, Any]) -> dict[str, Any]:
    """Return a per-sample score record with every value the gallery uses of the right type
    (a value of another type is dropped: shown as not scored, never a crash of the page)."""

    def number(value: Any) -> float | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else None

    def mapping(value: Any, check) -> dict[str, Any]:
        items = value.items() if isinstance(value, dict) else ()
        return {str(k): v for k, v in items if check(v)}

    correct = record.get("selection_correct")
    return {
        **record,
        "selection_correct": correct if isinstance(correct, bool) else None,
        "config_score": number(record.get("config_score")),
        "prompt_bertscore": number(record.get("prompt_bertscore")),
        "config_matches": mapping(record.get("config_matches"), lambda v: isinstance(v, bool)),
        "image_scores": {
            k: float(v)
            for k, v in mapping(record.get("image_scores"), lambda v: number(v) is not None).items()
        },
    }
