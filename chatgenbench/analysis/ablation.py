"""The paper's Table 6: each step of a method measured alone, the other steps given.

:data:`ABLATIONS` lists the three runs: prompt writing (the reference model and arguments given),
model selection (the reference prompt and arguments given) and argument setting (the reference
prompt and model given). :func:`run_ablations` scores each for one or more prediction files as
:func:`chatgenbench.scoring.evaluation.evaluate` ``oracle=...`` does, opening the benchmark, the
BERTScore encoder and the image metrics once and reading each prediction file once (the oracle
steps are applied to what was read: :meth:`chatgenbench.scoring.stages.OpenedRun.with_oracle`).
Renders go through the content-addressed render cache, so a rerun (or an ablation whose requests
another run already rendered) renders nothing new.
:func:`ablation_table` prints the outcome in Table 6's layout: one line per prediction file, per
step its own step-wise metric, FID, ImageReward and the Unified Metric. Files that share a name
(every submission is ``predictions.jsonl``) get distinct output names and table labels, from their
paths (:func:`chatgenbench.core.output_names.distinct_names`); the same file twice is refused.
When random demo weights made a run's images or scores, the table opens with
:func:`chatgenbench.core.random_weights.demo_weights_warning` naming those files (``ablate
--json`` says it on stderr).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from chatgenbench.core.random_weights import demo_weights_warning, uses_random_weights
from chatgenbench.metrics.bertscore import DEFAULT_ENCODER
from chatgenbench.scoring.oracle import ORACLE_STEPS, STEP_METRICS, STEP_TITLES
from chatgenbench.scoring.result_schema import metric_block, metric_value

#: measured step -> the steps given (their reference values), in Table 6's order.
ABLATIONS: dict[str, tuple[str, ...]] = {
    step: tuple(other for other in ORACLE_STEPS if other != step) for step in ORACLE_STEPS
}
#: The columns Table 6 prints beside each step's own metric.
TABLE6_METRICS: tuple[str, ...] = ("fid", "image_reward", "unified")


def run_ablations(
    predictions: list[str | os.PathLike],
    benchmark: str | os.PathLike = "sample",
    *,
    out_dir: str | os.PathLike,
    setting: str = "supervised",
    render: bool = True,
    render_root: str | os.PathLike | None = None,
    steps: tuple[str, ...] = ORACLE_STEPS,
    encoder: str = DEFAULT_ENCODER,
    bertscore=None,
    image_settings=None,
    image_suite=None,
    progress: bool = True,
    catalog=None,
    **evaluate_options: Any,
) -> dict[str, Any]:
    """Run the ablations of ``steps`` for every prediction file; write and return them.

    For each file and measured step, ``out_dir/<name>.<step>.json`` is the results of
    ``evaluate(..., oracle=ABLATIONS[step])``; renders go to ``render_root/<name>.<step>``
    (default: ``evaluate``'s own default folder). ``<name>`` is the file's stem, or, when two
    files share one (every submission is ``predictions.jsonl``), its path from the files' common
    folder (:func:`chatgenbench.core.output_names.distinct_names`): no run overwrites another.
    The same file given twice is refused before any work
    (:class:`chatgenbench.core.errors.UsageError`). ``catalog`` is laid over the benchmark's
    catalogue; ``evaluate_options`` are further options of
    :func:`chatgenbench.scoring.evaluation.evaluate_run` (``device``, ``bootstrap``, ...).
    Returns ``{"runs": [{predictions, step, given, results_path, seconds, renders: {rendered,
    cached}}], "results": {(file, step): results}}``.
    """
    from chatgenbench.benchmark.loading import open_benchmark
    from chatgenbench.core.output_names import check_outputs_apart, distinct_names
    from chatgenbench.metrics.bertscore import PromptBERTScore
    from chatgenbench.scoring.evaluation import evaluate_run
    from chatgenbench.scoring.stages import open_run

    names = distinct_names(predictions)  # before any work: refuses a file given twice
    check_outputs_apart(
        {f"prediction file {path}": path for path in predictions},
        {f"results of {n}.{s}": Path(out_dir) / f"{n}.{s}.json" for n in names for s in steps},
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scorer = bertscore or PromptBERTScore(encoder)
    suite = image_suite
    if render and suite is None:
        from chatgenbench.scoring.images import ImageMetricSettings, ImageMetricSuite

        suite = ImageMetricSuite(image_settings or ImageMetricSettings())
    bench = open_benchmark(benchmark, setting, catalog=catalog)
    runs, results = [], {}
    for path, stem in zip(predictions, names):
        read = open_run(path, bench, setting)
        for step in steps:
            started = time.perf_counter()
            target = out / f"{stem}.{step}.json"
            result = evaluate_run(
                read.with_oracle(ABLATIONS[step]),
                scorer,
                render=render,
                render_out=Path(render_root) / f"{stem}.{step}" if render_root else None,
                image_settings=image_settings,
                image_suite=suite,
                progress=progress,
                out=target,
                **evaluate_options,
            )
            counts = ((result.get("images") or {}).get("render_summary") or {}).get("counts") or {}
            runs.append(
                {
                    "predictions": str(path),
                    "step": step,
                    "given": list(ABLATIONS[step]),
                    "results_path": str(target),
                    "seconds": round(time.perf_counter() - started, 3),
                    "renders": {
                        "rendered": int(counts.get("rendered", 0)),
                        "cached": int(counts.get("cached", 0)),
                    },
                }
            )
            results[(str(path), step)] = result
    return {"runs": runs, "results": results}


def _cell(results: dict[str, Any], setting: str, name: str) -> str:
    from chatgenbench.metrics.registry import METRICS

    block = results["overall"] if setting == "all" else results["settings"].get(setting)
    if block is None:
        return "-"
    value = metric_value(metric_block(block, name))
    return "-" if value is None else METRICS.entry(name).metadata["fmt"].format(value)


def ablation_table(
    results: dict[tuple[str, str], dict[str, Any]], *, setting: str = "supervised"
) -> str:
    """Return Table 6's layout: a header of step groups, one line per prediction file.

    ``results`` maps ``(prediction file, measured step)`` to that ablation's results. Each group
    is the measured step's own metric (BERTScore, Sel. acc or Config acc), FID, ImageReward and
    Unified, on ``setting`` (``all``: the overall block). ``-`` marks a metric not computed.
    """
    from chatgenbench.metrics.registry import METRICS

    files = list(dict.fromkeys(key[0] for key in results))
    steps = [s for s in ORACLE_STEPS if any(key[1] == s for key in results)]
    label = {e.name: e.metadata["label"] for e in METRICS.entries()}
    top = ["", *(f"{STEP_TITLES[s]} (given: {', '.join(ABLATIONS[s])})" for s in steps)]
    header = ["method"]
    rows = []
    for step in steps:
        header += [label[STEP_METRICS[step]], *(label[n] for n in TABLE6_METRICS)]
    from chatgenbench.core.output_names import distinct_names

    for path, name in zip(files, distinct_names(files)):
        # the file's name when its stem sets it apart, else the distinct name from its path
        row = [Path(path).name if Path(path).name.startswith(f"{name}.") else name]
        for step in steps:
            found = results.get((path, step))
            names = (STEP_METRICS[step], *TABLE6_METRICS)
            row += [_cell(found, setting, n) if found else "-" for n in names]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    group = 1 + len(TABLE6_METRICS)
    first = [top[0].ljust(widths[0])]
    for index, title in enumerate(top[1:]):
        last = (index + 1) * group  # the group's last column: widened until the title fits
        span = sum(widths[1 + index * group : 1 + last]) + 2 * (group - 1)
        widths[last] += max(0, len(title) - span)
        first.append(title.ljust(max(span, len(title))))
    lines = ["  ".join(first)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [header, *rows]]
    lines.insert(2, "  ".join("-" * w for w in widths))
    demo = [path for (path, _), found in results.items() if uses_random_weights(found)]
    if demo:  # said before the table: its image columns mean nothing
        named = [Path(path).name for path in dict.fromkeys(demo)]
        lines.insert(0, demo_weights_warning(named))
    return "\n".join(lines)
