"""Plain-text tables of a results dict, for the terminal."""

from __future__ import annotations

from typing import Any

from chatgenbench.benchmark.schema import INPUT_TYPES, SETTING_TITLES
from chatgenbench.core.random_weights import random_weights_of
from chatgenbench.metrics.registry import METRICS
from chatgenbench.scoring.result_schema import STATUS_ORACLE, metric_block, metric_value


def _cell(block: dict[str, Any], name: str, fmt: str) -> str:
    metric = metric_block(block, name)
    if isinstance(metric, dict) and metric.get("status") == STATUS_ORACLE:
        return "oracle"
    value = metric_value(metric)
    return "-" if value is None else fmt.format(value)


def metric_status_notes(block: dict[str, Any]) -> list[str]:
    """Return what became of each metric of a results slice, naming every metric, for each stage
    (step-wise, image) that has one not computed and for the Unified Metric when it is not.

    One reason for all: ``image metrics: FID, CLIP, HPS v2, ImageReward not computed: REASON``;
    otherwise ``image metrics: CLIP, HPS v2, ImageReward computed; not computed:`` and one
    indented line per reason, ``FID: REASON``. A reason is followed by its ``how to fix`` where
    the results carry one that the reason does not already say.
    """
    notes = []
    for stage, title in (("stepwise", "step-wise metrics"), ("image", "image metrics")):
        entries = [e for e in METRICS.entries() if e.metadata["stage"] == stage]
        groups: dict[str, list[str]] = {}
        for entry in entries:
            groups.setdefault(_status_text(metric_block(block, entry.name)), []).append(
                entry.metadata["label"]
            )
        failed = {key: labels for key, labels in groups.items() if key.startswith("not computed")}
        if not failed:
            continue
        if len(groups) == 1:
            notes.append(f"{title}: {', '.join(groups.popitem()[1])} {next(iter(failed))}")
            continue
        done = [f"{', '.join(labels)} {key}" for key, labels in groups.items() if key not in failed]
        notes.append(f"{title}: " + "; ".join([*done, "not computed:"]))
        for key, labels in failed.items():
            notes.append(f"  {', '.join(labels)}: {key.removeprefix('not computed: ')}")
    for entry in METRICS.entries():
        metric = metric_block(block, entry.name)
        if entry.metadata["stage"] == "final" and metric and metric_value(metric) is None:
            notes.append(f"{entry.metadata['label']}: {_status_text(metric)}")
    return notes


def _status_text(metric: dict[str, Any] | None) -> str:
    """``computed``, ``oracle (the reference was given)`` or ``not computed: REASON (how to fix:
    FIX)``."""
    if metric_value(metric) is not None:
        return "computed"
    if (metric or {}).get("status") == STATUS_ORACLE:
        return "oracle (the reference was given)"
    reason = str((metric or {}).get("reason") or "absent from the results")
    fix = (metric or {}).get("how_to_fix")
    return f"not computed: {reason}" + (
        f" (how to fix: {fix})" if fix and fix not in reason else ""
    )


def results_table(results: dict[str, Any]) -> str:
    """Return a table with one line per setting and input type, plus the overall line: one column
    per registered metric (:data:`chatgenbench.metrics.registry.METRICS`)."""
    columns = [(e.name, e.metadata["label"], e.metadata["fmt"]) for e in METRICS.entries()]
    header = ["setting", "input", "n", "missing", *(label for _, label, _ in columns)]
    lines: list[list[str]] = []

    def add(title: str, input_type: str, block: dict[str, Any]) -> None:
        lines.append(
            [
                title,
                input_type,
                str(block["n_samples"]),
                str(block["n_missing"]),
                *(_cell(block, name, fmt) for name, _, fmt in columns),
            ]
        )

    for setting, block in results["settings"].items():
        title = SETTING_TITLES.get(setting, setting)
        add(title, "all", block)
        for input_type in INPUT_TYPES:
            inner = block["by_input_type"][input_type]
            if inner["n_samples"]:
                add(title, input_type, inner)
    if len(results["settings"]) > 1:
        add("Overall", "all", results["overall"])
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in [header, *lines]
    ]
    text.insert(1, "  ".join("-" * width for width in widths))
    bert = results["metric_settings"]["bertscore"]
    notes = [
        f"BERTScore encoder: {bert['encoder']} (layer {bert['num_layers']}, "
        f"{'rescaled' if bert['rescale_with_baseline'] else 'not rescaled'})"
    ]
    notes += metric_status_notes(results["overall"])
    steps = (results.get("oracle") or {}).get("steps")
    if steps:
        notes.append(
            f"oracle steps (the reference was given): {', '.join(steps)}; their step-wise "
            "metrics are not the method's"
        )
    if results.get("synthetic"):
        notes.append("SYNTHETIC benchmark: these numbers are for testing only")
    demo = random_weights_of(results)
    if demo.get("used"):
        notes.append("RANDOM DEMO WEIGHTS: " + str(demo.get("note", "")))
    return "\n".join(text + [""] + notes)
