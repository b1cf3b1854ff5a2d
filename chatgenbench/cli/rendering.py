"""``chatgenbench render``: predictions to PNG images, a render folder."""

from __future__ import annotations

import argparse
import shlex

from chatgenbench.cli.options import (
    add_benchmark,
    add_catalog,
    add_dataclass_flags,
    add_no_progress,
    add_render_backend_flags,
    add_render_dtype,
    add_setting,
    render_backend_values,
)


def register(sub) -> None:
    """Add the ``render`` command; its ``--backend`` choices are the registered render backends,
    its render flags the fields of :class:`chatgenbench.render.engine.RenderOptions` and of each
    backend's ``Options``."""
    from chatgenbench.render.backends import backend_names, option_fields
    from chatgenbench.render.engine import RenderOptions

    p = sub.add_parser("render", help="render predictions into PNG images (a render folder)")
    p.add_argument("predictions", help="prediction file (.jsonl, .csv or .parquet)")
    add_benchmark(p)
    add_catalog(p, "weights, bases")
    p.add_argument("--out", required=True, help="render folder to write")
    add_setting(p, "render")
    p.add_argument(
        "--backend",
        default="local",
        choices=backend_names(),
        help="where to render: " + ", ".join(backend_names()) + " (default local)",
    )
    p.add_argument("--shard", help="render only shard I of N (0-based I/N, whole groups)")
    p.add_argument(
        "--merge-shards",
        action="store_true",
        help="assemble OUT from OUT/shards/*-of-N (no rendering; no weights needed)",
    )
    p.add_argument("--device", help="torch device (default: cuda when visible, else cpu)")
    add_render_dtype(p)
    add_dataclass_flags(p, RenderOptions, option_fields(RenderOptions, flags_only=True))
    p.add_argument(
        "--lora-base",
        action="append",
        default=[],
        metavar="ARCH=NAME",
        help="base checkpoint for LoRAs of an architecture, e.g. sd15=v1-5-pruned-emaonly",
    )
    p.add_argument("--cache-dir", help="image cache (default: $CHATGENBENCH_HOME/render-cache)")
    add_render_backend_flags(p.add_argument_group("render backends' own options"))
    add_no_progress(p)
    p.set_defaults(handler=render_command)


def _command_line(args: argparse.Namespace) -> str:
    """Return the render command line that these arguments stand for (recorded in the summary)."""
    words = ["chatgenbench", "render", args.predictions]
    for key, value in sorted(vars(args).items()):
        if key in ("command", "predictions", "handler") or value in (None, False, []):
            continue
        flag = "--" + key.replace("_", "-")
        for item in value if isinstance(value, list) else [value]:
            words += [flag] if item is True else [flag, str(item)]
    return shlex.join(words)


def render_command(args: argparse.Namespace) -> int:
    """Render (or merge shards) and print what became of the samples."""
    from chatgenbench.core.errors import UsageError

    lora_bases = {}
    for item in args.lora_base:
        arch, _, name = item.partition("=")
        if not name:
            raise UsageError(f"--lora-base wants ARCH=NAME, got {item!r}")
        lora_bases[arch] = name
    if args.merge_shards:
        from chatgenbench.render.shards import merge_shards

        report = merge_shards(args.out)
        counts = ", ".join(f"{k} {v}" for k, v in report.summary["counts"].items() if v)
        print(
            f"merged {report.summary['shard']['merged']} shards into {report.out_dir}: "
            f"{report.summary['n_samples']} samples: {counts}"
        )
        return _exit_code_of(report)
    from chatgenbench.render import render_predictions
    from chatgenbench.render.backends import option_fields
    from chatgenbench.render.engine import RenderOptions

    options = {f.name: getattr(args, f.name) for f in option_fields(RenderOptions, flags_only=True)}
    options.update(lora_bases=lora_bases, command=_command_line(args))
    options.update(render_backend_values(args))
    report = render_predictions(
        args.predictions,
        args.benchmark,
        catalog=args.catalog,
        out_dir=args.out,
        setting=args.setting,
        device=args.device,
        dtype=args.dtype,
        backend=args.backend,
        shard=args.shard,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
        **options,
    )
    _print_summary(report, args)
    return _exit_code_of(report, args)


def _exit_code_of(report, args: argparse.Namespace | None = None) -> int:
    """1 (with the reason on stderr) when samples were to be rendered but none has an image."""
    import sys

    errors = [r.error for r in report.records if getattr(r, "error", None)]
    message = no_image_message(
        "render", report.summary, errors[0] if errors else None, _status_args(args)
    )
    if message is None:
        return 0
    print(message, file=sys.stderr)
    return 1


def _status_args(args: argparse.Namespace | None) -> dict[str, str | None] | None:
    """The inputs of :func:`models_status_command` that these arguments name (None: unknown)."""
    if args is None or not getattr(args, "predictions", None):
        return None
    return {
        "benchmark": args.benchmark,
        "predictions": args.predictions,
        "catalog": getattr(args, "catalog", None),
    }


def models_status_command(
    benchmark: str, predictions: str | None = None, catalog: str | None = None
) -> str:
    """Return the command that lists which of the catalogue's models have weights, and how to get
    the others: ``chatgenbench weights status --kind models --benchmark B --predictions P``."""
    words = ["chatgenbench", "weights", "status", "--kind", "models", "--benchmark", benchmark]
    if predictions:
        words += ["--predictions", predictions]
    if catalog:
        words += ["--catalog", catalog]
    return shlex.join(words)


def no_image_message(
    command: str,
    summary: dict,
    first_error: str | None = None,
    status_args: dict[str, str | None] | None = None,
) -> str | None:
    """Return why a render that had samples to render produced no image, and what to run (None
    when there were no samples or some image exists). ``summary`` is a render folder's
    ``render_summary.json``; ``status_args`` (benchmark, predictions, catalog) make the
    ``weights status`` command to run when models lacked weights."""
    if not summary or summary.get("n_samples", 0) == 0 or summary.get("n_images", 0) > 0:
        return None
    counts = ", ".join(f"{k} {v}" for k, v in (summary.get("counts") or {}).items() if v)
    text = f"chatgenbench {command}: no image was produced ({counts})"
    if first_error:
        text += f"; first reason: {first_error}"
    if (summary.get("counts") or {}).get("weights_missing"):
        how = (
            models_status_command(**status_args)
            if status_args
            else ("chatgenbench weights status --kind models")
        )
        text += f"\nmodels lack weights: run '{how}' to see which, and how to get them"
    return text


def _print_summary(report, args: argparse.Namespace) -> None:
    summary = report.summary
    counts = ", ".join(f"{k} {v}" for k, v in summary["counts"].items() if v)
    performance = summary["performance"]
    print(f"{summary['n_samples']} samples: {counts}")
    print(
        f"{performance['images_rendered']} images rendered in {performance['render_wall_seconds']} s "
        f"({performance['checkpoint_loads']} checkpoint loads, {performance['lora_loads']} LoRA "
        f"loads); {summary['cache']['hits']} cache hits"
    )
    from chatgenbench.render.summary import checks_report

    for line in checks_report(summary):
        print(line)
    if summary["weights_missing_models"]:
        print(
            f"{len(summary['weights_missing_models'])} models lack weights: run "
            f"'{models_status_command(args.benchmark, args.predictions, args.catalog)}'"
        )
    print(f"render folder written to {report.out_dir}")
