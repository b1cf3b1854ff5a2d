"""Comparing two results sample by sample: ``chatgenbench compare A.json B.json``.

Two results of the same benchmark, scored with the same settings, are paired by sample id through
their ``per_sample`` records (:mod:`chatgenbench.scoring.uncertainty`). For every metric with per-sample
scores (the step-wise metrics, and the per-image metrics CLIP score, HPS v2, ImageReward on the
samples both rendered) and every slice, :func:`compare_results` gives the paired difference of the
means (A - B), a seeded percentile bootstrap interval of it (the one
:func:`chatgenbench.metrics.bootstrap.bootstrap_ci`) and a two-sided p-value from a paired sign-flip
permutation test, and says whether the difference is significant at ``alpha``. FID and the Unified
Metric are statistics of a whole image set, with no per-sample score to pair: only their values
and difference are shown, marked not tested.

Results that were scored on different benchmarks, with other metric settings (BERTScore encoder,
image-metric settings, schema version), over other settings (supervised / few-shot) or with other
oracle steps are refused with the reason (:class:`chatgenbench.core.errors.ComparisonError`), and so
are results that cannot be trusted (:mod:`chatgenbench.analysis.comparison_inputs`): a score that is
NaN, infinite or not a number, a sample id repeated or present on one side only, a reported mean
that is not the mean of its per-sample scores, a block of the wrong type. No verdict is built on them.

Each side's identity says whether random demo weights made it (``a.random_weights``,
``b.random_weights``); when one did, :func:`comparison_table` opens with
:func:`chatgenbench.core.random_weights.demo_weights_warning` naming the side(s).
"""

from __future__ import annotations

import math
from typing import Any

from chatgenbench.analysis.comparison_inputs import check_inputs, check_same_samples, slice_block
from chatgenbench.core.errors import ComparisonError
from chatgenbench.core.random_weights import demo_weights_warning, uses_random_weights
from chatgenbench.metrics.bootstrap import bootstrap_ci
from chatgenbench.metrics.registry import METRICS
from chatgenbench.scoring.result_schema import comparability_key, metric_block, metric_value
from chatgenbench.scoring.results import Slice, slices_of
from chatgenbench.scoring.uncertainty import STEPWISE_SAMPLE_KEYS

DEFAULT_ALPHA = 0.05
TEST_NAME = "paired sign-flip permutation test of the mean difference (two-sided)"
RESCORE_FIX = "score both prediction files again with the same 'chatgenbench evaluate' options"


def slice_name(piece: Slice) -> str:
    """Return ``overall``, ``supervised`` or ``supervised/single`` for a :class:`Slice`."""
    top = piece.setting or "overall"
    return top if piece.input_type is None else f"{top}/{piece.input_type}"


def _benchmark_identity(results: dict[str, Any]) -> tuple:
    benchmark = results.get("benchmark") or {}
    return (benchmark.get("kind"), benchmark.get("source"), benchmark.get("revision"))


def comparability_problems(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Return why results ``a`` and ``b`` cannot be compared (empty when they can)."""
    problems = []
    if _benchmark_identity(a) != _benchmark_identity(b):
        problems.append(
            f"they were scored on different benchmarks: A on {_benchmark_identity(a)}, "
            f"B on {_benchmark_identity(b)} (kind, source, revision)"
        )
    if sorted(a.get("settings") or {}) != sorted(b.get("settings") or {}):
        problems.append(
            f"they cover different settings: A {sorted(a.get('settings') or {})}, "
            f"B {sorted(b.get('settings') or {})} (use the same --setting)"
        )
    if comparability_key(a) != comparability_key(b):
        problems.append(
            "their metric settings differ (schema version, BERTScore encoder, layer, rescaling, "
            f"image-metric settings): A {comparability_key(a)}, B {comparability_key(b)}"
        )
    steps_a = (a.get("oracle") or {}).get("steps") or []
    steps_b = (b.get("oracle") or {}).get("steps") or []
    if steps_a != steps_b:
        problems.append(
            f"they were given different oracle steps: A {steps_a or 'none'}, B {steps_b or 'none'}"
        )
    if bool(a.get("synthetic")) != bool(b.get("synthetic")):
        problems.append("one was scored on a synthetic benchmark and the other was not")
    for label, results in (("A", a), ("B", b)):
        if not isinstance(results.get("per_sample"), list):
            problems.append(
                f"{label} has no per-sample scores (written by an older chatgenbench): "
                "score it again to compare"
            )
    return problems


def _per_sample_values(results: dict[str, Any], metric: str) -> dict[str, dict[str, Any]]:
    """Return ``id -> (record, value)`` of one metric's per-sample score (value None: absent)."""
    stage = METRICS.entry(metric).metadata["stage"]
    out = {}
    for record in results.get("per_sample") or ():
        if stage == "stepwise":
            key = STEPWISE_SAMPLE_KEYS.get(metric)
            raw = record.get(key) if key else None
            value = None if raw is None else float(raw)
        else:
            raw = (record.get("image_scores") or {}).get(metric)
            value = None if raw is None else float(raw) * METRICS.get(metric).scale
        out[record["id"]] = {"record": record, "value": value}
    return out


def per_sample_scores(
    results: dict[str, Any], metric: str, piece: Slice | None = None
) -> dict[str, float]:
    """Return ``id -> score`` of one metric's per-sample scores in a slice (default: all).

    On the scale the results report (per-image scores times the metric's scale); samples without
    a score (no image, an oracle step) are left out.
    """
    return {
        key: found["value"]
        for key, found in _per_sample_values(results, metric).items()
        if found["value"] is not None and (piece is None or piece.selects(found["record"]))
    }


def sign_flip_p_value(differences, *, resamples: int = 1000, seed: int = 0) -> float:
    """Return the two-sided p-value of a paired sign-flip permutation test of mean difference 0.

    Each resample flips the sign of every paired difference at random (seeded); the p-value is
    ``(1 + #{|mean*| >= |mean|}) / (resamples + 1)``. 1.0 when every difference is 0.

    >>> sign_flip_p_value([0.0, 0.0, 0.0])
    1.0
    >>> sign_flip_p_value([1.0] * 30, resamples=200) < 0.01
    True
    """
    import numpy as np

    d = np.asarray(differences, dtype=np.float64)
    if d.size == 0 or not np.any(d):
        return 1.0
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    hits, done, chunk = 0, 0, max(1, 4_000_000 // d.size)
    while done < resamples:
        size = min(chunk, resamples - done)
        signs = rng.integers(0, 2, size=(size, d.size), dtype=np.int8).astype(np.float64) * 2 - 1
        means = np.abs(signs @ d) / d.size
        hits += int(np.count_nonzero(means >= observed - 1e-12 * max(1.0, observed)))
        done += size
    return (1 + hits) / (resamples + 1)


def paired_difference(
    values_a,
    values_b,
    *,
    higher_is_better: bool = True,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    alpha: float = DEFAULT_ALPHA,
) -> dict[str, Any]:
    """Return the paired comparison of two equal-length score lists (sample ``i`` in both).

    Keys: ``status`` (``compared``), ``n``, ``a``, ``b`` (the means), ``difference`` (mean of
    A - B), ``ci`` (bootstrap interval of it, null for fewer than two pairs), ``p_value``,
    ``significant`` (p < alpha), ``better`` (``A``, ``B`` or null when not significant), ``test``.
    """
    if len(values_a) != len(values_b):
        raise ValueError(f"{len(values_a)} scores in A but {len(values_b)} in B")
    if not all(math.isfinite(value) for value in (*values_a, *values_b)):
        raise ValueError("a score is NaN or infinite: no difference can be computed from it")
    n = len(values_a)
    differences = [x - y for x, y in zip(values_a, values_b)]
    difference = sum(differences) / n if n else 0.0
    ci = bootstrap_ci(differences, resamples=resamples, level=level, seed=seed)
    p_value = sign_flip_p_value(differences, resamples=resamples, seed=seed)
    significant = p_value < alpha
    better = None
    if significant and difference != 0:
        better = "A" if (difference > 0) == higher_is_better else "B"
    return {
        "status": "compared",
        "n": n,
        "a": sum(values_a) / n if n else None,
        "b": sum(values_b) / n if n else None,
        "difference": difference,
        "ci": ci.to_dict() if ci else None,
        "p_value": p_value,
        "alpha": alpha,
        "significant": significant,
        "better": better,
        "test": TEST_NAME,
    }


def _not_compared(reason: str, a: float | None = None, b: float | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"status": "not_compared", "reason": reason, "a": a, "b": b}
    if a is not None and b is not None:
        block["difference"] = a - b
    return block


def _slice_block(results: dict[str, Any], piece: Slice) -> dict[str, Any] | None:
    block = slice_block(results, piece)
    return block if isinstance(block, dict) else None


def _compare_metric(
    a: dict[str, Any],
    b: dict[str, Any],
    piece: Slice,
    name: str,
    values: tuple[dict, dict],
    options: dict[str, Any],
) -> dict[str, Any]:
    entry = METRICS.entry(name)
    block_a, block_b = _slice_block(a, piece), _slice_block(b, piece)
    metric_a = metric_block(block_a, name) if block_a else None
    metric_b = metric_block(block_b, name) if block_b else None
    value_a, value_b = metric_value(metric_a), metric_value(metric_b)
    for label, metric, value in (("A", metric_a, value_a), ("B", metric_b, value_b)):
        if value is None:
            status = (metric or {}).get("status", "missing")
            reason = (metric or {}).get("reason", "missing from the results")
            return _not_compared(f"{label}: {status}: {reason}", value_a, value_b)
    stage = entry.metadata["stage"]
    per_a, per_b = values
    if stage == "final":
        return _not_compared(
            "not tested: computed from whole-set metrics, with no per-sample score to pair",
            value_a,
            value_b,
        )
    ids = [
        key
        for key, found in per_a.items()
        if piece.selects(found["record"])
        and found["value"] is not None
        and key in per_b
        and per_b[key]["value"] is not None
    ]
    if not ids:
        reason = (
            "not tested: a statistic of the whole image set, with no per-sample score to pair"
            if stage == "image"
            else "no sample of this slice has a score in both"
        )
        return _not_compared(reason, value_a, value_b)
    result = paired_difference(
        [per_a[key]["value"] for key in ids],
        [per_b[key]["value"] for key in ids],
        higher_is_better=entry.metadata["higher_is_better"],
        **options,
    )
    result["value_a"], result["value_b"] = value_a, value_b
    return result


def compare_results(
    a: dict[str, Any],
    b: dict[str, Any],
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    alpha: float = DEFAULT_ALPHA,
    names: tuple[str, str] = ("A", "B"),
) -> dict[str, Any]:
    """Return the per-slice, per-metric paired comparison of results ``a`` and ``b``.

    ``{"a": ..., "b": ..., "settings": {resamples, level, seed, alpha, test}, "slices":
    {slice name: {metric: comparison}}}``, each comparison as :func:`paired_difference` returns
    (with ``value_a`` and ``value_b``, the metrics as the results report them) or ``not_compared``
    with the reason. Raises :class:`chatgenbench.core.errors.ComparisonError` when the two cannot be
    compared (:func:`comparability_problems`) or either cannot be trusted
    (:mod:`chatgenbench.analysis.comparison_inputs`; ``names`` name the two files in its
    message), or their sample ids differ.
    """
    check_inputs(a, b, names)
    problems = comparability_problems(a, b)
    if problems:
        raise ComparisonError(
            "these results cannot be compared: " + "; ".join(problems), how_to_fix=RESCORE_FIX
        )
    check_same_samples(a, b, names)
    options = {"resamples": resamples, "level": level, "seed": seed, "alpha": alpha}
    names = [e.name for e in METRICS.entries()]
    values = {name: (_per_sample_values(a, name), _per_sample_values(b, name)) for name in names}
    slices = {}
    for piece in slices_of(list(a.get("settings") or {})):
        slices[slice_name(piece)] = {
            name: _compare_metric(a, b, piece, name, values[name], options) for name in names
        }
    return {
        "a": _identity(a),
        "b": _identity(b),
        "settings": {
            **options,
            "test": TEST_NAME,
            "interval": "percentile bootstrap of the mean paired difference (A - B)",
        },
        "slices": slices,
    }


def _identity(results: dict[str, Any]) -> dict[str, Any]:
    predictions = results.get("predictions") or {}
    return {
        "predictions": predictions.get("name"),
        "sha256": predictions.get("sha256"),
        "random_weights": uses_random_weights(results),
    }


def comparison_table(comparison: dict[str, Any], *, slices: list[str] | None = None) -> str:
    """Return the comparison as text: one block per slice (default: each setting and overall,
    whole), one line per metric, and a plain verdict."""
    names = slices or [name for name in comparison["slices"] if "/" not in name]
    if len(names) == 2 and "overall" in names:  # one setting: its overall block is the same
        names = [name for name in names if name != "overall"]
    labels = {e.name: (e.metadata["label"], e.metadata["fmt"]) for e in METRICS.entries()}
    level = comparison["settings"]["level"]
    demo = [side.upper() for side in ("a", "b") if comparison[side].get("random_weights")]
    lines = [demo_weights_warning(demo)] if demo else []
    lines += [
        f"A: {comparison['a'].get('path') or comparison['a']['predictions']}   "
        f"B: {comparison['b'].get('path') or comparison['b']['predictions']}",
        f"difference A - B, {level:.0%} bootstrap interval, p from a {TEST_NAME}, "
        f"alpha {comparison['settings']['alpha']}",
    ]
    for slice_key in names:
        lines.append("")
        lines.append(f"[{slice_key}]")
        header = ["metric", "A", "B", "A - B", "interval", "p", "verdict"]
        rows = [header]
        for name, result in comparison["slices"][slice_key].items():
            label, fmt = labels[name]

            def show(value: float | None, fmt: str = fmt) -> str:
                return "-" if value is None else fmt.format(value)

            if result["status"] == "compared":
                ci = result["ci"]
                interval = (
                    "-" if ci is None else f"[{fmt.format(ci['low'])}, {fmt.format(ci['high'])}]"
                )
                if result["significant"]:
                    verdict = f"{result['better']} better (n={result['n']})"
                else:
                    verdict = f"not significant (n={result['n']})"
                rows.append([
                    label, show(result["value_a"]), show(result["value_b"]),
                    show(result["difference"]), interval, f"{result['p_value']:.3f}", verdict,
                ])  # fmt: skip
            else:
                rows.append([
                    label, show(result.get("a")), show(result.get("b")),
                    show(result.get("difference")), "-", "-", result["reason"],
                ])  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
        for row in rows:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return "\n".join(lines)
