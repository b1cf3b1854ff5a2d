"""What ``chatgenbench compare`` accepts as a results file, and why it refuses the rest.

A results file is untrusted: it may have been edited, truncated or written by another tool. A
comparison is only as honest as its inputs, so before any difference is computed both files are
checked, and any of the following is refused (:class:`chatgenbench.core.errors.ComparisonError`,
exit 2 from the command line) with the file, the field and the sample id:

- a file that is not JSON, is not an object at the top, or is nested too deep to read;
- a block of the wrong type (``settings`` not an object, ``per_sample`` not a list, a record that
  is not an object, an id that is not a string);
- a per-sample score or a reported metric value that is not a finite number (NaN, infinity, a
  string, a bool where a number is expected; ``selection_correct`` is a bool or a number);
- a sample id that appears twice, or in one file and not the other;
- a slice whose reported metric value is not the mean of its per-sample scores (within
  :data:`AGGREGATE_TOLERANCE`).
"""

from __future__ import annotations

import json
import math
import os
import reprlib
from typing import Any

from chatgenbench.core.errors import ComparisonError
from chatgenbench.metrics.registry import METRICS
from chatgenbench.scoring.result_schema import metric_block
from chatgenbench.scoring.results import Slice, slices_of
from chatgenbench.scoring.uncertainty import STEPWISE_SAMPLE_KEYS

AGGREGATE_TOLERANCE = (
    1e-6  # relative (absolute below 1): float sums of the same scores agree far closer
)
MAX_PROBLEMS_SHOWN = 8
READ_FIX = "pass the results JSON 'chatgenbench evaluate --out' wrote, unedited"
BOOL_SCORES = {"selection_correct"}  # a sample's model is right or wrong: stored as a bool

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlevel = 60, 60, 2


def shown(value: Any) -> str:
    """Return a short, bounded repr of an untrusted value for an error message."""
    return _REPR.repr(value)


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results JSON for a comparison; raise :class:`ComparisonError` naming ``path`` when it
    is not JSON, nested too deep, or not an object with an ``overall`` block."""
    try:
        with open(path, encoding="utf-8") as handle:
            results = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ComparisonError(
            f"{path}: not a results JSON ({error})", how_to_fix=READ_FIX
        ) from error
    except RecursionError as error:
        raise ComparisonError(
            f"{path}: not a results JSON (nested too deep to read)", how_to_fix=READ_FIX
        ) from error
    if not isinstance(results, dict) or "overall" not in results:
        found = type(results).__name__ if not isinstance(results, dict) else "no 'overall' block"
        raise ComparisonError(
            f"{path}: not a results JSON (expected an object with an 'overall' block, got {found})",
            how_to_fix=READ_FIX,
        )
    return results


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number_problem(value: Any, *, allow_bool: bool = False) -> str | None:
    """Return what is wrong with a score (None: a finite number, or None meaning absent)."""
    if value is None or (allow_bool and isinstance(value, bool)):
        return None
    if not _is_number(value):
        return f"{shown(value)} ({type(value).__name__}), expected a number"
    if not math.isfinite(value):
        return f"{value}, expected a finite number"
    return None


def _record_problems(index: int, record: Any, seen: set[str]) -> list[str]:
    where = f"per_sample[{index}]"
    if not isinstance(record, dict):
        return [f"{where}: {shown(record)} ({type(record).__name__}), expected an object"]
    sample_id = record.get("id")
    if not isinstance(sample_id, str) or not sample_id:
        return [f"{where}.id: {shown(sample_id)}, expected a non-empty string"]
    where = f"{where} (id {sample_id!r})"
    problems = []
    if sample_id in seen:
        problems.append(f"{where}: the id appears more than once")
    seen.add(sample_id)
    for field in ("setting", "input_type"):
        if not isinstance(record.get(field), (str, type(None))):
            problems.append(f"{where}.{field}: {shown(record.get(field))}, expected a string")
    for key in STEPWISE_SAMPLE_KEYS.values():
        problem = _number_problem(record.get(key), allow_bool=key in BOOL_SCORES)
        if problem:
            problems.append(f"{where}.{key}: {problem}")
    image_scores = record.get("image_scores")
    if image_scores is not None and not isinstance(image_scores, dict):
        problems.append(f"{where}.image_scores: {shown(image_scores)}, expected an object")
    for metric, value in (image_scores or {}).items() if isinstance(image_scores, dict) else ():
        problem = _number_problem(value)
        if problem:
            problems.append(f"{where}.image_scores.{shown(metric)}: {problem}")
    return problems


def _structure_problems(results: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("benchmark", "metric_settings", "oracle", "predictions", "settings", "overall"):
        if key in results and not isinstance(results[key], (dict, type(None))):
            problems.append(f"{key}: {shown(results[key])}, expected an object")
    settings = results.get("metric_settings")
    if isinstance(settings, dict):  # the blocks comparability_key reads
        for key in ("bertscore", "image"):
            if not isinstance(settings.get(key), (dict, type(None))):
                problems.append(
                    f"metric_settings.{key}: {shown(settings[key])}, expected an object"
                )
        image = settings.get("image")
        # Only each image metric's own block is an object: the block also holds run-wide
        # scalars (batch_size, device, dtype, text, missing_image_policy) and the bootstrap.
        metrics = set(METRICS.names_of("image"))
        for metric, value in image.items() if isinstance(image, dict) else ():
            if metric in metrics and not isinstance(value, (dict, type(None))):
                problems.append(
                    f"metric_settings.image.{shown(metric)}: {shown(value)}, expected an object"
                )
    steps = (
        (results.get("oracle") or {}).get("steps")
        if isinstance(results.get("oracle"), dict)
        else None
    )
    if steps is not None and not isinstance(steps, list):
        problems.append(f"oracle.steps: {shown(steps)}, expected a list")
    if "per_sample" in results and not isinstance(results["per_sample"], list):
        problems.append(f"per_sample: {shown(results['per_sample'])}, expected a list of records")
    return problems


def slice_block(results: dict[str, Any], piece: Slice) -> Any:
    """Return the block of one slice (``overall``, a setting, an input type), as stored: not
    necessarily an object; None when absent."""
    if piece.setting is None:
        block = results.get("overall")
    else:
        block = (results.get("settings") or {}).get(piece.setting)
    if isinstance(block, dict) and piece.input_type is not None:
        block = (block.get("by_input_type") or {}).get(piece.input_type)
    return block


def _sample_score(record: dict[str, Any], metric: str) -> float | None:
    """One record's score of ``metric`` on the scale the results report (None: absent)."""
    stage = METRICS.entry(metric).metadata["stage"]
    if stage == "stepwise":
        key = STEPWISE_SAMPLE_KEYS.get(metric)
        raw = record.get(key) if key else None
        return None if raw is None else float(raw)
    raw = (record.get("image_scores") or {}).get(metric)
    return None if raw is None else float(raw) * METRICS.get(metric).scale


def _aggregate_problems(results: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """Check every slice's reported metric value: a finite number, the mean of its samples."""
    problems = []
    settings = results.get("settings") or {}
    totals = _score_totals(records)
    for piece in slices_of([name for name in settings if isinstance(name, str)]):
        block = slice_block(results, piece)
        label = piece.setting or "overall"
        label = label if piece.input_type is None else f"{label}/{piece.input_type}"
        if block is None:
            continue
        if not isinstance(block, dict):
            problems.append(f"slice {label}: {shown(block)}, expected an object")
            continue
        for entry in METRICS.entries():
            try:
                metric = metric_block(block, entry.name)
            except AttributeError:  # a stage block that is not an object: reported as such
                problems.append(f"slice {label}.{entry.metadata['stage']}: expected an object")
                break
            if not isinstance(metric, dict) or metric.get("status") != "computed":
                continue
            value = metric.get("value")
            problem = _number_problem(value)
            if problem or value is None:
                problems.append(f"slice {label}.{entry.name}.value: {problem or 'null'}")
                continue
            if entry.metadata["stage"] == "final":
                continue
            groups = [
                found
                for (setting, input_type), found in totals[entry.name].items()
                if piece.selects({"setting": setting, "input_type": input_type})
            ]
            count = sum(n for _, n in groups)
            if not count:
                continue
            mean = math.fsum(total for total, _ in groups) / count
            if not math.isclose(
                mean, value, rel_tol=AGGREGATE_TOLERANCE, abs_tol=AGGREGATE_TOLERANCE
            ):
                problems.append(
                    f"slice {label}.{entry.name}: reported {value!r} but the mean of its "
                    f"{count} per-sample scores is {mean!r}"
                )
    return problems


def _score_totals(records: list[dict[str, Any]]) -> dict[str, dict[tuple, tuple[float, int]]]:
    """Return ``metric -> (setting, input_type) -> (sum, count)`` of the per-sample scores."""
    totals: dict[str, dict[tuple, list]] = {}
    for entry in METRICS.entries():
        if entry.metadata["stage"] == "final":
            continue
        groups: dict[tuple, list] = {}
        for record in records:
            score = _sample_score(record, entry.name)
            if score is not None:
                group = groups.setdefault((record.get("setting"), record.get("input_type")), [])
                group.append(score)
        totals[entry.name] = {key: (math.fsum(found), len(found)) for key, found in groups.items()}
    return totals


def results_problems(results: Any) -> list[str]:
    """Return why ``results`` cannot be trusted for a comparison (empty: it can), each naming the
    field and, for a sample, its id (see the module docstring for what is checked)."""
    if not isinstance(results, dict):
        return [f"expected a results object, got {type(results).__name__}"]
    problems = _structure_problems(results)
    if problems:
        return problems
    records = results.get("per_sample")
    if records is None:
        return []  # no per-sample scores: comparability_problems says so
    seen: set[str] = set()
    for index, record in enumerate(records):
        problems.extend(_record_problems(index, record, seen))
    if problems:
        return problems
    return _aggregate_problems(results, records)


def id_problems(
    a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] = ("A", "B")
) -> list[str]:
    """Return how the sample ids of two (checked) results differ (empty: the same ids)."""
    ids_a = {record["id"] for record in a.get("per_sample") or ()}
    ids_b = {record["id"] for record in b.get("per_sample") or ()}
    problems = []
    for label, only in ((names[0], sorted(ids_a - ids_b)), (names[1], sorted(ids_b - ids_a))):
        if only:
            listed = ", ".join(repr(i) for i in only[:5]) + (", ..." if len(only) > 5 else "")
            problems.append(f"{len(only)} sample id(s) only in {label}: {listed}")
    return problems


def check_inputs(a: Any, b: Any, names: tuple[str, str] = ("A", "B")) -> None:
    """Raise :class:`ComparisonError` naming the file (``names``), field and id when either
    result cannot be trusted (:func:`results_problems`)."""
    for name, results in zip(names, (a, b)):
        problems = results_problems(results)
        if problems:
            more = len(problems) - MAX_PROBLEMS_SHOWN
            listed = "; ".join(problems[:MAX_PROBLEMS_SHOWN]) + (
                f"; and {more} more" if more > 0 else ""
            )
            raise ComparisonError(
                f"{name}: cannot be compared honestly: {listed}", how_to_fix=READ_FIX
            )


def check_same_samples(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> None:
    """Raise :class:`ComparisonError` when two checked results do not list the same sample ids."""
    if isinstance(a.get("per_sample"), list) and isinstance(b.get("per_sample"), list):
        problems = id_problems(a, b, names)
        if problems:
            raise ComparisonError(
                f"{names[0]} and {names[1]} do not cover the same samples: " + "; ".join(problems),
                how_to_fix="score both prediction files on the same benchmark and settings",
            )
