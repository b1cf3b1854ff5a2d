"""Plain-text tables of a results dict, for the terminal."""

from __future__ import annotations

from typing import Any

from chatgenbench.result_schema import IMAGE_METRICS, metric_value
from chatgenbench.schema import INPUT_TYPES, SETTING_TITLES

_COLUMNS = (
    ("BERTScore", "stepwise", "prompt_bertscore", "{:.3f}"),
    ("Sel. acc", "stepwise", "selection_accuracy", "{:.3f}"),
    ("Config acc", "stepwise", "config_accuracy", "{:.3f}"),
    ("FID", "image", "fid", "{:.1f}"),
    ("CLIP", "image", "clip_score", "{:.1f}"),
    ("HPS v2", "image", "hps_v2", "{:.1f}"),
    ("ImageReward", "image", "image_reward", "{:.1f}"),
)


def _cell(block: dict[str, Any], group: str, name: str, fmt: str) -> str:
    value = metric_value(block.get(group, {}).get(name))
    return "-" if value is None else fmt.format(value)


def results_table(results: dict[str, Any]) -> str:
    """Return a table with one line per setting and input type, plus the overall line."""
    header = ["setting", "input", "n", "missing", *(c[0] for c in _COLUMNS), "Unified"]
    lines: list[list[str]] = []

    def add(title: str, input_type: str, block: dict[str, Any]) -> None:
        unified = metric_value(block.get("unified"))
        lines.append(
            [
                title,
                input_type,
                str(block["n_samples"]),
                str(block["n_missing"]),
                *(_cell(block, group, name, fmt) for _, group, name, fmt in _COLUMNS),
                "-" if unified is None else f"{unified:.1f}",
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
        if metric["status"] != "computed":
            notes.append(f"{name}: not computed: {metric.get('reason')}")
    image_reasons = {
        block["image"][m].get("reason")
        for m in IMAGE_METRICS
        if block["image"][m]["status"] != "computed"
    }
    for reason in sorted(r for r in image_reasons if r):
        notes.append(f"image metrics: not computed: {reason}")
    if results.get("synthetic"):
        notes.append("SYNTHETIC benchmark: these numbers are for testing only")
    return "\n".join(text + [""] + notes)
