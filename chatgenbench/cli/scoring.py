"""``chatgenbench evaluate``, ``validate`` and ``schema``: scoring a prediction file.

``evaluate`` refuses (exit 2, before any work) an ``--out`` or ``--per-sample`` that is the
prediction file, the catalogue or the other output (:mod:`chatgenbench.core.output_names`).

``evaluate`` always writes its results JSON and says where (``results written to PATH``; on
standard error with ``--json``): to ``--out``, or else to a new file under
``$CHATGENBENCH_HOME/results`` named after the prediction file and the UTC time. Under the
table, each metric that was not computed is named with its reason (``image metrics: CLIP, HPS v2,
ImageReward computed; not computed:`` then ``FID: REASON``). ``evaluate --render`` that had
samples to render and produced no image exits 1, with the reason and the command to run
(``chatgenbench weights status --kind models ...``) on standard error, as ``render`` does; it
takes ``render``'s ``--dtype`` and ``--threads``, and ``--render-batch-size`` (its
``--batch-size`` is BERTScore's); ``--device`` reaches the render too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from chatgenbench.cli.options import (
    add_benchmark,
    add_catalog,
    add_encoder,
    add_json,
    add_no_progress,
    add_render_run_flags,
    add_setting,
    parse_error,
    render_run_values,
)


def register(sub) -> None:
    """Add the ``evaluate``, ``validate`` and ``schema`` commands."""
    p = sub.add_parser("evaluate", help="score a prediction file against a benchmark")
    p.add_argument("predictions", help="prediction file (.jsonl, .csv or .parquet)")
    add_benchmark(p)
    add_setting(p)
    add_encoder(p)
    p.add_argument(
        "--out",
        help="write the results JSON here (default: a new file under $CHATGENBENCH_HOME/results, "
        "named after the prediction file and the time; the command says where)",
    )
    p.add_argument("--per-sample", help="write one JSON line of scores per sample here")
    p.add_argument("--batch-size", type=int, default=64, help="BERTScore batch size (default 64)")
    p.add_argument("--device", default=None, help="torch device for the models (default: auto)")
    add_oracle(p)
    p.add_argument(
        "--no-reference-cache",
        action="store_true",
        help="encode the reference prompts again instead of reusing their BERTScore embeddings "
        "from $CHATGENBENCH_HOME/bertscore-references (same scores; slower)",
    )
    add_json(p, "the results JSON, not a table,")
    add_no_progress(p)
    add_image_metric_options(p)
    p.set_defaults(handler=evaluate_command)

    p = sub.add_parser("validate", help="check a prediction file and list every problem")
    p.add_argument("predictions", help="prediction file (.jsonl, .csv or .parquet)")
    add_benchmark(p)
    add_setting(p, "check against")
    add_catalog(p)
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="a benchmark id without a prediction is a warning, not an error",
    )
    p.add_argument("--all", action="store_true", help="list every problem (default: first 50)")
    add_json(p, "the problems")
    p.set_defaults(handler=validate_command)

    p = sub.add_parser("schema", help="print the documented keys of the results JSON")
    p.set_defaults(handler=schema_command)


def add_oracle(p: argparse.ArgumentParser) -> None:
    """Add ``--oracle STEPS``: give the method the reference values of those steps."""
    p.add_argument(
        "--oracle",
        metavar="STEPS",
        default=None,
        help="comma-separated steps (prompt, model, arguments) whose reference values replace "
        "the predicted ones before scoring and rendering; their step-wise metrics are reported "
        "as oracle (the paper's Table 6 ablations)",
    )


def add_image_metric_options(p: argparse.ArgumentParser) -> None:
    """Add the image-metric options: common ones, then each registered metric's own options
    (one flag per field of its ``Options`` dataclass, e.g. ``clip_model`` -> ``--clip-model``)."""
    from chatgenbench.metrics.registry import METRICS

    group = p.add_argument_group("image metrics")
    group.add_argument("--images", metavar="DIR", help="score an existing render folder")
    group.add_argument(
        "--render", action="store_true", help="render the predictions, then score the images"
    )
    group.add_argument(
        "--render-out",
        metavar="DIR",
        help="render folder for --render (default: under $CHATGENBENCH_HOME/renders)",
    )
    add_catalog(group, "weights, bases")
    add_render_run_flags(group)
    names = METRICS.names_of("image")
    group.add_argument(
        "--image-metrics",
        default=names,
        action=ImageMetricList,
        help=f"comma-separated subset of the image metrics to compute (default: {','.join(names)})",
    )
    group.add_argument(
        "--metric-dtype",
        default="float32",
        choices=["float32", "float16", "bfloat16"],
        help="dtype of the image-metric models (default float32; FID always runs float32)",
    )
    group.add_argument(
        "--metric-batch-size", type=int, default=16, help="images per metric batch (default 16)"
    )
    group.add_argument(
        "--bootstrap-seed",
        type=int,
        default=0,
        help="seed of the confidence intervals, step-wise and image (default 0)",
    )
    group.add_argument(
        "--bootstrap-resamples",
        type=int,
        default=1000,
        help="bootstrap resamples of the confidence intervals (default 1000)",
    )
    for metric in METRICS.image_metrics():
        option_fields = dataclasses.fields(metric.Options)
        if not option_fields:
            continue
        own = p.add_argument_group(f"{metric.label} ({metric.name})")
        for field in option_fields:
            flag = "--" + field.name.replace("_", "-")
            default = None if field.default is dataclasses.MISSING else field.default
            choices = field.metadata.get("choices")
            own.add_argument(
                flag,
                dest=field.name,
                default=default,
                choices=list(choices) if choices else None,
                type=type(default) if type(default) in (int, float) else None,
                help=field.metadata.get("help", f"{metric.name} option {field.name}"),
            )


class ImageMetricList(argparse.Action):
    """``--image-metrics a,b``: registered image-metric names; another name stops the parse."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from chatgenbench.metrics.registry import METRICS

        metrics = tuple(m.strip() for m in str(values).split(",") if m.strip())
        known = METRICS.names_of("image")
        unknown = [m for m in metrics if m not in known]
        if unknown:
            parse_error(
                parser.prog.split()[-1],
                f"unknown image metric(s) {', '.join(unknown)}; expected some of {', '.join(known)}",
            )
        setattr(namespace, self.dest, metrics)


def image_settings(args: argparse.Namespace):
    """Return the :class:`chatgenbench.scoring.images.ImageMetricSettings` of parsed arguments."""
    from chatgenbench.metrics.registry import METRICS
    from chatgenbench.scoring.images import ImageMetricSettings

    options = {
        field.name: getattr(args, field.name)
        for metric in METRICS.image_metrics()
        for field in dataclasses.fields(metric.Options)
    }
    return ImageMetricSettings(
        device=args.device,
        dtype=args.metric_dtype,
        batch_size=args.metric_batch_size,
        bootstrap_seed=args.bootstrap_seed,
        bootstrap_resamples=args.bootstrap_resamples,
        metrics=tuple(args.image_metrics),
        **options,
    )


def evaluate_command(args: argparse.Namespace) -> int:
    """Score the prediction file; print a table (or the JSON) and where the results were written;
    exit 0, or 1 when ``--render`` produced no image of samples it had to render."""
    from chatgenbench.core.output_names import check_outputs_apart
    from chatgenbench.scoring.evaluation import evaluate
    from chatgenbench.scoring.report import results_table

    if not args.out:
        args.out = str(default_results_path(args.predictions))
    check_outputs_apart(
        {"the prediction file": args.predictions, "--catalog": args.catalog},
        {"--out": args.out, "--per-sample": args.per_sample},
    )
    results = evaluate(
        args.predictions,
        args.benchmark,
        setting=args.setting,
        encoder=args.encoder,
        out=args.out,
        per_sample_out=args.per_sample,
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.no_progress,
        catalog=args.catalog,
        reference_cache=False if args.no_reference_cache else None,
        images=args.images,
        render=args.render,
        render_out=args.render_out,
        image_settings=image_settings(args),
        oracle=args.oracle,
        render_options=render_run_values(args) if args.render else None,
    )
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
        print(f"results written to {args.out}", file=sys.stderr)  # stdout stays pure JSON
        return _no_image_exit(results, args)
    print(results_table(results))
    images_line = image_coverage_line(results, rendered=args.render)
    if images_line:
        print(images_line)
    validation = results["validation"]
    if validation["n_errors"] or validation["n_warnings"]:
        # evaluate reads missing predictions as warnings (they score zero): so does the command
        # it points at, so that both count the same problems
        print(
            f"{validation['n_errors']} validation errors (scored as zero or wrong) and "
            f"{validation['n_warnings']} warnings; run 'chatgenbench validate {args.predictions} "
            f"--benchmark {args.benchmark} --setting {args.setting} --allow-missing' to list them"
        )
    print(f"results written to {args.out}")
    return _no_image_exit(results, args)


def default_results_path(predictions: str) -> Path:
    """Return where ``evaluate`` writes its results without ``--out``: a file that does not exist
    yet, ``$CHATGENBENCH_HOME/results/<prediction file's stem>-<UTC time>.json``."""
    import time

    from chatgenbench.core.storage import chatgenbench_home

    folder = chatgenbench_home() / "results"
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(predictions).stem)[:80]
    base = f"{stem or 'results'}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    path, number = folder / f"{base}.json", 1
    while path.exists():
        number += 1
        path = folder / f"{base}-{number}.json"
    return path


def _no_image_exit(results: dict, args: argparse.Namespace) -> int:
    """0, or 1 with the reason and what to run on stderr when ``--render`` had samples to render
    and produced no image (as ``render`` does)."""
    from chatgenbench.cli.rendering import no_image_message

    images = results.get("images") or {}
    if not args.render or not images:
        return 0
    message = no_image_message(
        "evaluate --render",
        images.get("render_summary") or {},
        _first_render_error(images.get("render_dir")),
        {"benchmark": args.benchmark, "predictions": args.predictions, "catalog": args.catalog},
    )
    if message is None:
        return 0
    print(message, file=sys.stderr)
    return 1


def _first_render_error(render_dir: str | None) -> str | None:
    """The error of the first sample of a render folder that has one (None when none can be read)."""
    from chatgenbench.render.manifest import read_manifest

    if not render_dir:
        return None
    try:
        records = read_manifest(render_dir)
    except (OSError, ValueError):  # the reason is a courtesy: the counts are already known
        return None
    return next((r.error for r in records if getattr(r, "error", None)), None)


def image_coverage_line(results: dict, *, rendered: bool) -> str | None:
    """Return "how many of the N samples have an image, and where" for a run with images."""
    images = results.get("images")
    if not images:
        return None
    overall = results.get("overall", {})
    n, found = overall.get("n_samples", 0), overall.get("n_images", 0)
    summary = images.get("render_summary") or {}
    counts = summary.get("counts") or {}
    if rendered:
        how = f"{counts.get('rendered', 0)} rendered, {counts.get('cached', 0)} from the cache"
        missing = ", ".join(
            f"{k} {v}" for k, v in counts.items() if v and k not in ("rendered", "cached")
        )
        verb = "rendered"
    else:
        how = "listed in its manifest"
        missing = ", ".join(
            f"{k} {v}"
            for k, v in sorted((overall.get("render_status") or {}).items())
            if v and k not in ("rendered", "cached")
        )
        verb = "found"
    text = f"images: {found} of {n} samples {verb} ({how}) in {images.get('render_dir')}"
    return text + (f"; without an image: {missing}" if missing else "")


def validate_command(args: argparse.Namespace) -> int:
    """List every problem of the prediction file; exit 1 when there are errors."""
    from chatgenbench.benchmark.loading import open_benchmark
    from chatgenbench.predictions.validation import validate_predictions

    bench = open_benchmark(args.benchmark, args.setting, catalog=args.catalog)
    report = validate_predictions(
        args.predictions, bench.ids, bench.catalog, allow_missing=args.allow_missing
    )
    if args.json:
        listing = {"summary": report.summary(), "problems": [p.to_dict() for p in report.problems]}
        print(json.dumps(listing, indent=2))
    else:
        print(report.format_text(limit=None if args.all else 50))
    return 0 if report.ok else 1


def schema_command(args: argparse.Namespace) -> int:
    """Print every documented key of the results JSON."""
    from chatgenbench.scoring.result_schema import SCHEMA_VERSION, documented_keys

    print(f"results schema {SCHEMA_VERSION}")
    for key, text in documented_keys().items():
        print(f"{key}\n    {text}")
    return 0
