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
    block = results["overall"]
    for name in ("prompt_bertscore",):
        metric = block["stepwise"][name]
        if metric["status"] not in ("computed", STATUS_ORACLE):
            notes.append(f"{name}: not computed: {metric.get('reason')}")
    image_reasons = {
        metric.get("reason")
        for metric in (block.get("image") or {}).values()
        if metric.get("status") != "computed"
    }
    for reason in sorted(r for r in image_reasons if r):
        notes.append(f"image metrics: not computed: {reason}")
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
