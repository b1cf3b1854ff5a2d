"""The leaderboard's ranking: scored submissions and the paper's reported rows, per view.

A view is a setting (``supervised``, ``few_shot`` or ``overall``) and an input type (``all``,
``single``, ``multimodal``, ``history``). Rows are split into **comparability groups**: the
benchmark they were scored on plus :func:`chatgenbench.scoring.result_schema.comparability_key` (schema
version and BERTScore encoder settings). Two rows share a column only inside one group, so a
MiniLM BERTScore is never ranked against the paper's roberta-large one. Results from a synthetic
benchmark never appear. The paper's Table 4 rows (:func:`reported_table`) are marked
``reported``; they were computed with the official setting on the official benchmark.

Ranks are **rank bands** (:mod:`leaderboard.rank_bands`): 1 + the number of rows significantly
better on the sorted metric (95% intervals, else paired tests), shared by rows that cannot be told
apart, and a band ``1–3`` where rows above could not be tested. The default sort names its metric
and its tie-breakers in each group's notes. A group made with random demo weights says so
(:func:`chatgenbench.core.random_weights.demo_weights_warning`). :class:`MetricColumn` is the one
table of metric display (label, scale, digits) that every page uses
(:mod:`leaderboard.metric_display`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from chatgenbench.analysis.rank_bands import band_text
from chatgenbench.core.random_weights import COMPARABILITY_LABEL, demo_weights_warning
from chatgenbench.metrics.bertscore import OFFICIAL_ENCODER
from chatgenbench.metrics.registry import METRICS
from chatgenbench.metrics.unified import unified_formula
from chatgenbench.scoring.result_schema import (
    SCHEMA_VERSION,
    STATUS_COMPUTED,
    comparability_key,
    metric_block,
)
from leaderboard.ablations import ablation_rows
from leaderboard.efficiency import Efficiency, reported_efficiency, submission_efficiency
from leaderboard.rank_bands import (
    DEFAULT_SORT_ORDER,
    PAIRWISE_ROWS,
    assign_bands,
    default_sort_keys,
    order_note,
)
from leaderboard.significance import (
    INDISTINCT_NOTE,
    mark_indistinct,
    metric_interval,
    vs_above_cell,
)
from leaderboard.submissions import Submission

VIEW_SETTINGS: tuple[str, ...] = ("supervised", "few_shot", "overall")
VIEW_INPUT_TYPES: tuple[str, ...] = ("all", "single", "multimodal", "history")
VIEW_TITLES = {
    "supervised": "Supervised",
    "few_shot": "Few-shot",
    "overall": "Overall",
    "all": "All input types",
    "single": "Single",
    "multimodal": "Multimodal",
    "history": "History",
}
REPORTED = "reported"
SUBMISSION = "submission"


@dataclass(frozen=True)
class MetricColumn:
    """One ranking column: the results key, its label, direction and display format, and the
    scale of its values (100: the results hold a per-sample score's mean ×100, as the paper prints
    image scores). Every page shows a metric through it (:mod:`leaderboard.metric_display`)."""

    key: str
    label: str
    higher_is_better: bool
    fmt: str
    scale: float = 1.0

    @property
    def header(self) -> str:
        """The column header with its direction arrow, e.g. ``FID ↓``."""
        return f"{self.label} {'↑' if self.higher_is_better else '↓'}"

    def format(self, value: float | None) -> str:
        """Return a value as the column shows it: its format, ``-`` when absent."""
        return "-" if value is None else self.fmt.format(value)

    def format_sample(self, raw: float | None) -> str:
        """Return one sample's raw score on the column's scale and format (a per-sample CLIP
        score of 0.016 reads ``1.6`` beside a mean of ``1.6``), ``-`` when absent."""
        return "-" if raw is None else self.fmt.format(self.scale * raw)


def metric_columns() -> tuple[MetricColumn, ...]:
    """Return one column per registered metric, in display order (label, direction and format
    from :data:`chatgenbench.metrics.registry.METRICS`)."""
    return tuple(
        MetricColumn(
            entry.name,
            entry.metadata["label"],
            entry.metadata["higher_is_better"],
            entry.metadata["fmt"],
            _scale_factor(entry.name, entry.metadata.get("scale")),
        )
        for entry in METRICS.entries()
    )


def _scale_factor(name: str, scale: Any) -> float:
    # The registry's "raw", "x1" or "x100" (chatgenbench.metrics.registry) as a factor; any other
    # value would put a page's numbers on an unknown scale, so it is refused.
    text = str(scale or "raw")
    if text == "raw":
        return 1.0
    try:
        factor = float(text[1:]) if text.startswith("x") else None
    except ValueError:
        factor = None
    if factor is None or not math.isfinite(factor) or factor <= 0:
        raise ValueError(
            f"metric {name!r} registers scale {scale!r}; expected 'raw' or 'x<positive number>'"
        )
    return factor


def columns_by_key() -> dict[str, MetricColumn]:
    """Return :func:`metric_columns` by results key."""
    return {column.key: column for column in metric_columns()}


@dataclass
class RankingRow:
    """One line of the ranking: a submission or a reported paper row, in one view."""

    name: str
    method: str
    kind: str  # "reported" | "submission"
    group: tuple
    values: dict[str, float | None]
    reasons: dict[str, str] = field(default_factory=dict)
    model_size: str = "-"
    date: str = ""
    authors: str = ""
    n_samples: int | None = None
    rank: int | None = None  # 1 + rows significantly better (leaderboard.rank_bands)
    rank_upper: int | None = None  # rank + rows above by value that could not be tested
    rank_basis: str = ""  # why the rank is what it is, in words
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    efficiency: Any = None  # leaderboard.efficiency.Efficiency
    vs_above: dict[str, Any] | None = None  # leaderboard.significance.compare_rows
    view_of: tuple | None = field(default=None, repr=False)  # (results, setting, input_type)
    _scores: dict[str, Any] = field(default_factory=dict, repr=False)

    def scores_of(self, key: str) -> dict[str, float] | None:
        """Return this row's per-sample scores of metric ``key`` in its view (None: none)."""
        if self.view_of is None:
            return None
        if key not in self._scores:
            from leaderboard.significance import view_scores

            self._scores[key] = view_scores(*self.view_of, key)
        return self._scores[key]


@dataclass
class RankingGroup:
    """Rows that may share columns: one benchmark and one metric setting."""

    key: tuple
    label: str
    notes: list[str]
    rows: list[RankingRow]

    @property
    def has_reported(self) -> bool:
        """Whether the paper's reported rows are in this group."""
        return any(row.kind == REPORTED for row in self.rows)


@dataclass
class Ranking:
    """The groups of one view, and the submissions left out of it with the reason."""

    setting: str
    input_type: str
    sort_by: str
    groups: list[RankingGroup]
    excluded: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)
    ablations: list = field(default_factory=list)  # leaderboard.ablations.AblationRow


@lru_cache(maxsize=1)
def reported_table() -> dict[str, Any]:
    """Return the paper's reported rows (``leaderboard/data/paper_table4.json``) with source."""
    text = resources.files("leaderboard.data").joinpath("paper_table4.json").read_text("utf-8")
    return json.loads(text)


def reported_notes() -> list[str]:
    """Return what a reader of the reported rows needs, one line each, for the page's footer.

    Where the rows come from, the scale and BERTScore setting of their values, what the step-wise
    columns measure, and how the Unified Metric is computed (:func:`unified_formula`).
    """
    table = reported_table()
    columns = columns_by_key()
    settings = table["metric_settings"]
    bertscore = settings["bertscore"]
    rescaled = (
        "rescaled with its baseline" if bertscore["rescale_with_baseline"] else "not rescaled"
    )
    return [
        f"Reported rows: {table['source']}.",
        f"Their values: {settings['image_scale']}; BERTScore with {bertscore['encoder']} "
        f"(layer {bertscore['num_layers']}, {rescaled}).",
        f"Step-wise columns: {columns['prompt_bertscore'].label}, F1 of the predicted "
        f"prompt against the reference prompt; {columns['selection_accuracy'].label}, the "
        "share of samples whose predicted model is the reference model (after normalising case, "
        f"spaces, a trailing '.' and a file extension); {columns['config_accuracy'].label}, "
        "per sample the share of the reference's arguments predicted exactly (after type "
        "normalisation; a missing value is wrong), averaged over samples.",
        f"{unified_formula()}, on those values: each term takes one final metric from its range "
        "to 0-1 (1 is best), and the four weigh equally.",
    ]


def _reported_group_key() -> tuple:
    # The paper's metric settings are declared in the data file, in the results' own layout, so
    # that comparability_key() reads them exactly as it reads a result's.
    table = reported_table()
    as_results = {"schema_version": SCHEMA_VERSION, "metric_settings": table["metric_settings"]}
    return (table["benchmark"], *comparability_key(as_results))


def reported_rows(setting: str, input_type: str) -> list[RankingRow]:
    """Return the paper's rows for a view (none for ``overall``: the paper reports none)."""
    table = reported_table()
    rows = []
    for entry in table["rows"]:
        if entry["setting"] != setting or entry["input_type"] != input_type:
            continue
        values = dict(zip(table["columns"], entry["values"]))
        rows.append(
            RankingRow(
                name=f"paper: {entry['method']}",
                method=entry["method"],
                kind=REPORTED,
                group=_reported_group_key(),
                values=values,
                reasons={
                    key: table["not_reported_reason"]
                    for key, value in values.items()
                    if value is None
                },
                model_size=entry.get("model_size", "-"),
                authors="Jia et al. (paper)",
                efficiency=reported_efficiency(entry["method"]),
            )
        )
    return rows


def benchmark_identity(results: dict[str, Any]) -> str:
    """Return what identifies the benchmark a result was scored on.

    A hub dataset by its id; the embedded sample by its content hash; a folder by its revision.
    """
    benchmark = results.get("benchmark") or {}
    kind, source = benchmark.get("kind"), benchmark.get("source")
    revision = str(benchmark.get("revision") or "")
    if kind == "hub":
        return str(source)
    if kind == "sample":
        return "sample " + revision.rpartition("+")[2]
    return f"folder {revision}"


def group_key(results: dict[str, Any]) -> tuple:
    """Return the comparability group of a result: benchmark identity + comparability key."""
    return (benchmark_identity(results), *comparability_key(results))


def describe_group(key: tuple) -> tuple[str, list[str]]:
    """Return a heading and notes describing a comparability group key."""
    benchmark, schema, encoder, layers, rescaled = (tuple(key) + (None,) * 5)[:5]
    heading = (
        f"Benchmark {benchmark} · BERTScore {encoder} (layer {layers}, "
        f"{'rescaled' if rescaled else 'not rescaled'}) · results schema {schema}"
    )
    extra = [str(part) for part in tuple(key)[5:]]
    if extra:  # further settings that comparability_key() compares (image metric settings...)
        heading += " · " + ", ".join(extra)
    notes = []
    if key == _reported_group_key():
        notes.append(
            "The paper's setting: rows marked 'reported' are Table 4 of the paper, not re-run here."
        )
    elif encoder != OFFICIAL_ENCODER:
        notes.append(
            f"BERTScore with {encoder} is not comparable with the paper's {OFFICIAL_ENCODER} values: "
            "these rows are ranked only among themselves."
        )
    if COMPARABILITY_LABEL in tuple(key):
        notes.append(demo_weights_warning() + " These rows are ranked only among themselves.")
    if str(benchmark).startswith("sample"):
        notes.append(
            "Scored on the 12-record embedded sample: a smoke test, not the full benchmark."
        )
    return heading, notes


def _view_block(results: dict[str, Any], setting: str, input_type: str) -> dict | None:
    block = (
        results.get("overall") if setting == "overall" else results.get("settings", {}).get(setting)
    )
    if not isinstance(block, dict):
        return None
    if input_type != "all":
        block = (block.get("by_input_type") or {}).get(input_type)
    return block if isinstance(block, dict) else None


def submission_row(
    submission: Submission,
    setting: str,
    input_type: str,
    columns: tuple[MetricColumn, ...] | None = None,
) -> RankingRow | None:
    """Return a submission's row in a view, or None when its results lack that view.

    ``columns`` defaults to :func:`metric_columns` (a caller building many rows passes them once).
    """
    if not submission.rankable:
        return None
    results = submission.results or {}
    block = _view_block(results, setting, input_type)
    if block is None or not block.get("n_samples"):
        return None
    values: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    intervals: dict[str, tuple[float, float]] = {}
    for column in columns or metric_columns():
        metric = metric_block(block, column.key)
        if isinstance(metric, dict) and metric.get("status") == STATUS_COMPUTED:
            values[column.key] = float(metric["value"])
            interval = metric_interval(metric)
            if interval is not None:
                intervals[column.key] = interval
        else:
            values[column.key] = None
            reasons[column.key] = (
                str(metric.get("reason") or "not computed")
                if isinstance(metric, dict)
                else "missing from the results"
            )
    meta = submission.meta
    assert meta is not None
    return RankingRow(
        name=submission.name,
        method=meta.method,
        kind=SUBMISSION,
        group=group_key(results),
        values=values,
        reasons=reasons,
        model_size=meta.model_size,
        date=meta.date,
        authors=meta.authors,
        n_samples=int(block["n_samples"]),
        intervals=intervals,
        efficiency=submission_efficiency(submission),
        view_of=(results, setting, input_type),
    )


def _sort_rows(rows: list[RankingRow], sort_by: str | None) -> tuple[list[RankingRow], str]:
    # Rank bands from significance (leaderboard.rank_bands); returns the rows and the sentence
    # that says how they were sorted and ranked.
    columns = columns_by_key()
    keys = default_sort_keys(rows) if sort_by is None else (sort_by,)
    directions = {key: column.higher_is_better for key, column in columns.items()}
    labels = {key: column.header for key, column in columns.items()}
    ordered = assign_bands(rows, keys, directions, labels)
    mark_indistinct(ordered, keys[0], higher_is_better=directions[keys[0]])
    skipped = DEFAULT_SORT_ORDER[: DEFAULT_SORT_ORDER.index(keys[0])] if sort_by is None else ()
    note = order_note(keys, labels, default=sort_by is None, skipped=skipped)
    if sum(row.rank is not None for row in ordered) > PAIRWISE_ROWS:
        note += (
            f" This group has more than {PAIRWISE_ROWS} ranked rows: ranks come from the 95% "
            f"intervals of {labels[keys[0]]} alone."
        )
    return ordered, note


def default_sort_key(rows: list[RankingRow]) -> str:
    """Return the first of Unified, Config acc, Sel. acc, BERTScore that some row has
    (:data:`leaderboard.rank_bands.DEFAULT_SORT_ORDER`; the ones after it break ties)."""
    return default_sort_keys(rows)[0]


def build_ranking(
    submissions: list[Submission],
    setting: str = "supervised",
    input_type: str = "all",
    *,
    sort_by: str | None = None,
    include_reported: bool = True,
) -> Ranking:
    """Return the ranking of one view: comparability groups, each sorted by ``sort_by``.

    ``sort_by`` is a :func:`metric_columns` key; rows without that metric come last, unranked.
    By default each group sorts by :func:`default_sort_key` of its rows. The group with the
    reported rows comes first, then the others by heading. Raises ValueError for an unknown view
    or sort key.
    """
    if setting not in VIEW_SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; expected one of {VIEW_SETTINGS}")
    if input_type not in VIEW_INPUT_TYPES:
        raise ValueError(f"unknown input type {input_type!r}; expected one of {VIEW_INPUT_TYPES}")
    all_columns = metric_columns()
    keys = [column.key for column in all_columns]
    if sort_by is not None and sort_by not in keys:
        raise ValueError(f"unknown metric {sort_by!r}; expected one of {keys}")
    excluded: list[tuple[str, str]] = []
    rows: list[RankingRow] = reported_rows(setting, input_type) if include_reported else []
    for submission in submissions:
        if submission.meta is None:
            excluded.append((submission.name, "invalid meta.yaml"))
        elif submission.results is None:
            excluded.append((submission.name, "not scored yet"))
        elif submission.results_problems:
            excluded.append((submission.name, "results.json does not match the results schema"))
        elif submission.synthetic:
            excluded.append((submission.name, "scored on a synthetic benchmark"))
        elif oracle_steps(submission.results):
            steps = ", ".join(oracle_steps(submission.results))
            excluded.append(
                (
                    submission.name,
                    f"an ablation (given: {steps}): shown in the ablation table, never ranked "
                    "against full runs",
                )
            )
        else:
            row = submission_row(submission, setting, input_type, all_columns)
            if row is None:
                excluded.append(
                    (submission.name, f"no {VIEW_TITLES[setting]} / {input_type} samples scored")
                )
            else:
                rows.append(row)
    by_key: dict[tuple, list[RankingRow]] = {}
    for row in rows:
        by_key.setdefault(row.group, []).append(row)
    groups = []
    for key, members in by_key.items():
        heading, notes = describe_group(key)
        ordered, order = _sort_rows(members, sort_by)
        notes = [*notes, order]
        if any(row.vs_above for row in ordered):
            notes = [*notes, INDISTINCT_NOTE]
        groups.append(RankingGroup(key=key, label=heading, notes=notes, rows=ordered))
    groups.sort(key=lambda group: (not group.has_reported, group.label))
    notes = []
    if include_reported and not any(group.has_reported for group in groups):
        if setting == "overall":
            notes.append(
                "The paper reports no overall (Supervised and Few-shot together) figures: choose "
                "Supervised or Few-shot to see its rows."
            )
        else:
            notes.append(
                "The paper reports per-input-type figures only for ChatGen-Evo (2B), Supervised."
            )
    return Ranking(
        setting=setting,
        input_type=input_type,
        sort_by=sort_by or "default",
        groups=groups,
        excluded=excluded,
        notes=notes,
        ablations=ablation_rows(
            submissions, setting, input_type, include_reported=include_reported
        ),
    )


def format_value(key: str, value: float | None) -> str:
    """Return a metric value as the ranking shows it: its column's format, ``-`` when absent."""
    return columns_by_key()[key].format(value)


def group_frame(group: RankingGroup, *, display: bool = False):
    """Return a ``pandas.DataFrame`` of a group: rank, method, kind, size, metrics, n.

    With ``display`` the metric cells are formatted text and ``-`` marks a metric that was not
    computed or not reported; otherwise they are floats (NaN when absent), for CSV and analysis.
    """
    import pandas as pd

    columns = metric_columns()
    records = []
    for row in group.rows:
        record: dict[str, Any] = {
            "Rank": row.rank,
            "Method": row.method,
            "Kind": row.kind,
            "Submission": row.name,
            "Size": row.model_size,
        }
        for column in columns:
            value = row.values.get(column.key)
            record[column.header] = column.format(value) if display else value
        record["n"] = row.n_samples
        record.update(_extra_cells(row, columns, display))
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    if display:
        frame["Rank"] = [band_text(row.rank, row.rank_upper) for row in group.rows]
        frame["n"] = ["-" if pd.isna(n) else str(int(n)) for n in frame["n"]]
        return frame
    for column in columns:
        if column.header in frame:
            frame[column.header] = frame[column.header].astype("float64")
    frame["Rank"] = frame["Rank"].astype("Int64")
    frame["Rank upper"] = frame["Rank upper"].astype("Int64")
    frame["n"] = frame["n"].astype("Int64")
    return frame


def oracle_steps(results: dict[str, Any] | None) -> list[str]:
    """Return the oracle steps a result was scored with (empty for a full run)."""
    return list(((results or {}).get("oracle") or {}).get("steps") or [])


def _extra_cells(row: RankingRow, columns, display: bool) -> dict[str, Any]:
    # After the metric columns and n, so the layout before them stays as it was: the mark of a
    # row that cannot be told apart from the row above, the intervals, the efficiency figures.
    cells: dict[str, Any] = {"vs above": vs_above_cell(row)}
    if not display:
        cells["Rank upper"] = row.rank_upper
    cells["Rank from"] = row.rank_basis
    for column in columns:
        interval = row.intervals.get(column.key)
        if display:
            cells[f"{column.label} 95% CI"] = (
                "-"
                if interval is None
                else f"[{column.fmt.format(interval[0])}, {column.fmt.format(interval[1])}]"
            )
        else:
            cells[f"{column.label} CI low"] = None if interval is None else interval[0]
            cells[f"{column.label} CI high"] = None if interval is None else interval[1]
    efficiency = row.efficiency or Efficiency()
    if display:
        cells.update(efficiency.cells())
    else:
        cells.update(
            {
                "Parameters": efficiency.parameters,
                "Seconds per sample": efficiency.seconds_per_sample,
                "Device": efficiency.device,
                "Efficiency from": efficiency.source if efficiency.known else None,
            }
        )
    return cells


def rank_by_header(group: RankingGroup, sort_by: str | None) -> str:
    """Return the header of the column a group is ranked by (``sort_by`` or its default)."""
    return columns_by_key()[sort_by or default_sort_key(group.rows)].header


def display_frame(group: RankingGroup, sort_by: str | None):
    """Return :func:`group_frame` for display, its rank-by column moved right after ``Method``.

    With ``Rank`` and ``Method`` it is the column a reader needs on a narrow page, so the app pins
    these three (:data:`PINNED_COLUMNS` plus :func:`rank_by_header`).
    """
    frame = group_frame(group, display=True)
    header = rank_by_header(group, sort_by)
    if header in frame:
        order = [c for c in frame.columns if c != header]
        order.insert(order.index("Method") + 1, header)
        frame = frame[order]
    return frame


#: Columns the ranking keeps in view when the table scrolls sideways (with the rank-by column).
PINNED_COLUMNS = ("Rank", "Method")
#: A text cell that starts with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Return a text cell that a spreadsheet would run as a formula with a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def ranking_csv(ranking: Ranking) -> str:
    """Return every group of a ranking as one CSV (a ``Group`` column tells them apart).

    Text cells that begin with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) are
    prefixed with ``'`` so that a spreadsheet shows them as text instead of running them; numbers
    (a negative ImageReward) are left as they are.
    """
    import pandas as pd

    frames = []
    for group in ranking.groups:
        frame = group_frame(group)
        frame.insert(0, "Group", group.label)
        frame.insert(1, "View", f"{ranking.setting}/{ranking.input_type}")
        frames.append(frame)
    if not frames:
        return ""
    table = pd.concat(frames, ignore_index=True)
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            table[column] = table[column].map(spreadsheet_safe)
    return table.to_csv(index=False)
