"""The leaderboard's ablation table (the paper's Table 6): results scored with oracle steps.

A submission whose results were scored with ``evaluate --oracle`` (``results["oracle"]["steps"]``)
is an ablation: it never enters the ranking of full runs (:func:`leaderboard.ranking.build_ranking`
lists it as excluded, with the reason) and appears here instead, labelled with the steps that were
given. The paper's Table 6 rows (``leaderboard/data/paper_table6.json``) are shown beside them,
marked reported. Each row shows the measured step's own metric, FID, ImageReward and Unified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from chatgenbench.scoring.oracle import ORACLE_STEPS, STEP_METRICS, STEP_TITLES, ablation_label
from chatgenbench.scoring.result_schema import metric_block, metric_value

TABLE_METRICS: tuple[str, ...] = ("fid", "image_reward", "unified")
REPORTED = "reported"
SUBMISSION = "submission"
ABLATION_NOTE = (
    "Ablations: each row was scored with the benchmark's reference values given for the steps "
    "named in 'Given' (evaluate --oracle), so only the other step is the method's own. They are "
    "never ranked against full runs."
)


@dataclass
class AblationRow:
    """One line of the ablation table."""

    name: str
    method: str
    kind: str  # "reported" | "submission"
    given: tuple[str, ...]
    values: dict[str, float | None]  # step-wise metrics by name, then TABLE_METRICS
    n_samples: int | None = None

    @property
    def measured(self) -> str | None:
        """The one step that is the method's own, or None when not exactly one is left."""
        left = [step for step in ORACLE_STEPS if step not in self.given]
        return left[0] if len(left) == 1 else None


@lru_cache(maxsize=1)
def reported_ablation_table() -> dict[str, Any]:
    """Return the paper's Table 6 (``leaderboard/data/paper_table6.json``)."""
    text = resources.files("leaderboard.data").joinpath("paper_table6.json").read_text("utf-8")
    return json.loads(text)


def reported_ablation_rows(setting: str) -> list[AblationRow]:
    """Return Table 6's rows for ``setting`` (the paper reports Supervised only)."""
    table = reported_ablation_table()
    if setting != table["setting"]:
        return []
    rows = []
    for entry in table["rows"]:
        values = dict(zip(table["columns"], entry["values"]))
        step_value = values.pop("step_metric")
        rows.append(
            AblationRow(
                name=f"paper: {entry['method']}",
                method=entry["method"],
                kind=REPORTED,
                given=tuple(s for s in ORACLE_STEPS if s != entry["step"]),
                values={STEP_METRICS[entry["step"]]: step_value, **values},
            )
        )
    return rows


def _view_block(results: dict[str, Any], setting: str, input_type: str) -> dict | None:
    block = results.get("overall") if setting == "overall" else results["settings"].get(setting)
    if isinstance(block, dict) and input_type != "all":
        block = (block.get("by_input_type") or {}).get(input_type)
    return block if isinstance(block, dict) else None


def submission_ablation_row(submission, setting: str, input_type: str = "all"):
    """Return a submission's ablation row in a view (None: not an ablation, or no such view)."""
    results = submission.results or {}
    given = tuple(((results.get("oracle") or {}).get("steps")) or ())
    if not given or not submission.rankable:
        return None
    block = _view_block(results, setting, input_type)
    if block is None or not block.get("n_samples"):
        return None
    names = [*STEP_METRICS.values(), *TABLE_METRICS]
    return AblationRow(
        name=submission.name,
        method=submission.meta.method,
        kind=SUBMISSION,
        given=given,
        values={name: metric_value(metric_block(block, name)) for name in names},
        n_samples=int(block["n_samples"]),
    )


def ablation_rows(submissions, setting: str, input_type: str = "all", *, include_reported=True):
    """Return the ablation table's rows of a view: reported first, then submissions by step."""
    rows = reported_ablation_rows(setting) if include_reported and input_type == "all" else []
    for submission in submissions:
        row = submission_ablation_row(submission, setting, input_type)
        if row is not None:
            rows.append(row)
    order = {step: index for index, step in enumerate(ORACLE_STEPS)}
    return sorted(
        rows,
        key=lambda r: (order.get(r.measured or "", len(order)), r.kind != REPORTED, r.method),
    )


def ablation_frame(rows: list[AblationRow]):
    """Return the table as a ``pandas.DataFrame`` of display text (``-``: not computed)."""
    import pandas as pd

    from chatgenbench.metrics.registry import METRICS

    def show(name: str, value: float | None) -> str:
        return "-" if value is None else METRICS.entry(name).metadata["fmt"].format(value)

    records = []
    for row in rows:
        step = row.measured
        own = STEP_METRICS.get(step or "")
        record: dict[str, Any] = {
            "Measured step": STEP_TITLES.get(step or "", "-"),
            "Given": ablation_label(row.given),
            "Method": row.method,
            "Kind": row.kind,
            "Submission": row.name,
            "Step metric": METRICS.entry(own).metadata["label"] if own else "-",
            "Step value": show(own, row.values.get(own)) if own else "-",
        }
        for name in TABLE_METRICS:
            record[METRICS.entry(name).metadata["label"]] = show(name, row.values.get(name))
        record["n"] = "-" if row.n_samples is None else str(row.n_samples)
        records.append(record)
    return pd.DataFrame.from_records(records)
