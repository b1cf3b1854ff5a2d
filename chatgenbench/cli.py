"""The ``chatgenbench`` command. Each subcommand imports what it needs only when it runs.

Exit codes: 0 success; 1 the input has errors (e.g. ``validate`` found some); 2 the command could
not run (bad arguments, unreadable benchmark or file).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Handler] = {}


def _command(name: str):
    def wrap(handler: Handler) -> Handler:
        _COMMANDS[name] = handler
        return handler

    return wrap


def _add_benchmark(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--benchmark",
        default="sample",
        help="'sample' (embedded), a benchmark folder, or a hub id (default: sample)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``chatgenbench`` command."""
    from chatgenbench import __version__

    parser = argparse.ArgumentParser(
        prog="chatgenbench",
        description="ChatGenBench: evaluate automatic text-to-image generation from freestyle chat.",
    )
    parser.add_argument("--version", action="version", version=f"chatgenbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("evaluate", help="score a prediction file against a benchmark")
    p.add_argument("predictions", help="prediction file (.jsonl, .csv or .parquet)")
    _add_benchmark(p)
    p.add_argument("--setting", default="all", choices=["supervised", "few_shot", "all"])
    p.add_argument(
        "--encoder",
        default="minilm",
        choices=["minilm", "roberta-large"],
        help="BERTScore encoder (default minilm, offline; roberta-large is official)",
    )
    p.add_argument("--out", help="write the results JSON here")
    p.add_argument("--per-sample", help="write one JSON line of scores per sample here")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default=None, help="torch device for the encoder (default: auto)")
    p.add_argument("--json", action="store_true", help="print the results JSON, not a table")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("validate", help="check a prediction file and list every problem")
    p.add_argument("predictions")
    _add_benchmark(p)
    p.add_argument("--setting", default="all", choices=["supervised", "few_shot", "all"])
    p.add_argument("--catalog", help="model catalogue file (default: the benchmark's)")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="a benchmark id without a prediction is a warning, not an error",
    )
    p.add_argument("--all", action="store_true", help="list every problem (default: first 50)")
    p.add_argument("--json", action="store_true", help="print the problems as JSON")

    p = sub.add_parser(
        "prepare", help="write a benchmark folder from the sample, raw files or the hub"
    )
    p.add_argument(
        "--source",
        required=True,
        help="'sample', a folder of raw official files, or a hub id such as "
        "ChengyouJia/ChatGenBench",
    )
    p.add_argument("--out", required=True, help="benchmark folder to write")
    p.add_argument("--key-map", help="YAML/JSON file overriding the raw-field key map")
    p.add_argument("--revision", help="hub revision (commit or tag)")

    p = sub.add_parser("synth", help="write a SYNTHETIC benchmark at the real scale")
    p.add_argument("--rows", type=int, default=14564, help="test rows (default 14,564)")
    p.add_argument("--train-rows", type=int, default=256606, help="train rows (default 256,606)")
    p.add_argument("--models", type=int, default=6807, help="catalogue size (default 6,807)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--images", action="store_true", help="add small reference images")
    p.add_argument("--out", required=True)

    p = sub.add_parser("schema", help="print the documented keys of the results JSON")

    p = sub.add_parser("catalog", help="list a benchmark's model catalogue")
    _add_benchmark(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("baseline", help="list or run the baselines")
    baseline = p.add_subparsers(dest="baseline_command", metavar="ACTION")
    baseline.add_parser("list", help="list the registered baselines")
    run = baseline.add_parser("run", help="run a baseline and write its predictions")
    run.add_argument("name")
    _add_benchmark(run)
    run.add_argument("--setting", default="all", choices=["supervised", "few_shot", "all"])
    run.add_argument("--out", required=True, help="prediction file to write (.jsonl)")
    run.add_argument("--batch-size", type=int, default=32)
    run.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an adapter option, repeatable (e.g. -o k=10 -o arguments.steps=25); values are YAML",
    )
    run.add_argument("--options", metavar="FILE", help="YAML/JSON file of adapter options")
    run.add_argument("--no-resume", action="store_true", help="ignore a partial earlier run")
    run.add_argument("--no-progress", action="store_true")
    _add_train_modeltokens(baseline)
    return parser


def _add_train_modeltokens(baseline) -> None:
    train = baseline.add_parser(
        "train-modeltokens",
        help="train ChatGen-Evo's ModelTokens (one embedding per catalogue model; base frozen)",
    )
    _add_benchmark(train)
    train.add_argument("--base", required=True, help="local causal LM folder (the frozen base)")
    train.add_argument("--out", required=True, help="folder to write the trained ModelTokens")
    train.add_argument("--epochs", type=int, default=3)
    train.add_argument("--lr", type=float, default=1e-2)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--max-rows", type=int, help="use at most this many train rows (seeded)")
    train.add_argument("--max-length", type=int, default=256, help="max input tokens")
    train.add_argument("--device", default=None)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the named --base to run its own code (only for a checkpoint you trust)",
    )
    train.add_argument("--no-progress", action="store_true")


@_command("evaluate")
def _evaluate(args: argparse.Namespace) -> int:
    from chatgenbench.evaluate import evaluate
    from chatgenbench.report import results_table

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
    )
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        print(results_table(results))
        validation = results["validation"]
        if validation["n_errors"]:
            print(
                f"{validation['n_errors']} validation errors scored as zero or wrong; run "
                f"'chatgenbench validate {args.predictions} --benchmark {args.benchmark}' to list them"
            )
        if args.out:
            print(f"results written to {args.out}")
    return 0


@_command("validate")
def _validate(args: argparse.Namespace) -> int:
    from chatgenbench.benchmark import load_benchmark, load_benchmark_catalog
    from chatgenbench.catalog import load_catalog
    from chatgenbench.predictions import validate_predictions

    ids = load_benchmark(args.setting, args.benchmark)["id"]
    catalog = load_catalog(args.catalog) if args.catalog else load_benchmark_catalog(args.benchmark)
    report = validate_predictions(args.predictions, ids, catalog, allow_missing=args.allow_missing)
    if args.json:
        print(
            json.dumps(
                {"summary": report.summary(), "problems": [p.to_dict() for p in report.problems]},
                indent=2,
            )
        )
    else:
        print(report.format_text(limit=None if args.all else 50))
    return 0 if report.ok else 1


@_command("prepare")
def _prepare(args: argparse.Namespace) -> int:
    from chatgenbench.benchmark import prepare

    info = prepare(args.source, args.out, key_map=args.key_map, revision=args.revision)
    print(f"wrote {args.out}: {info.counts} (revision {info.revision})")
    return 0


@_command("synth")
def _synth(args: argparse.Namespace) -> int:
    from chatgenbench.synth import write_synthetic

    info = write_synthetic(
        args.out,
        args.rows,
        seed=args.seed,
        train_rows=args.train_rows,
        n_models=args.models,
        images=args.images,
    )
    print(f"wrote SYNTHETIC benchmark {args.out}: {info.counts} (revision {info.revision})")
    return 0


@_command("schema")
def _schema(args: argparse.Namespace) -> int:
    from chatgenbench.result_schema import DOCUMENTED_KEYS, SCHEMA_VERSION

    print(f"results schema {SCHEMA_VERSION}")
    for key, text in DOCUMENTED_KEYS.items():
        print(f"{key}\n    {text}")
    return 0


@_command("catalog")
def _catalog(args: argparse.Namespace) -> int:
    from chatgenbench.benchmark import load_benchmark_catalog

    catalog = load_benchmark_catalog(args.benchmark)
    for entry in catalog:
        if args.json:
            print(json.dumps(entry.to_record(), ensure_ascii=False))
        else:
            print(f"{entry.name}\t{entry.architecture}\t{entry.kind}\t{entry.description[:60]}")
    return 0


@_command("baseline")
def _baseline(args: argparse.Namespace) -> int:
    from chatgenbench.adapters import ADAPTERS, run_adapter

    if args.baseline_command == "list":
        for name in ADAPTERS.names():
            print(f"{name}\t{ADAPTERS.metadata(name).get('description', '')}")
        return 0
    if args.baseline_command == "run":
        from chatgenbench.adapters import build_adapter, parse_option_assignments

        options = parse_option_assignments(args.option)
        adapter = build_adapter(args.name, options, options_file=args.options)
        path = run_adapter(
            adapter,
            args.benchmark,
            args.out,
            setting=args.setting,
            batch_size=args.batch_size,
            progress=not args.no_progress,
            resume=not args.no_resume,
            options=options,
        )
        print(f"wrote {path}")
        return 0
    if args.baseline_command == "train-modeltokens":
        from baselines.model_tokens import train_model_tokens_cli

        return train_model_tokens_cli(args)
    print("usage: chatgenbench baseline {list,run,train-modeltokens} ...", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from chatgenbench.adapters import AdapterOptionError
    from chatgenbench.benchmark import BenchmarkError
    from chatgenbench.catalog import CatalogError
    from chatgenbench.official import KeyMapError
    from chatgenbench.predictions import PredictionFileError
    from chatgenbench.registry import UnknownNameError

    try:
        return _COMMANDS[args.command](args)
    except (
        AdapterOptionError,
        BenchmarkError,
        CatalogError,
        KeyMapError,
        PredictionFileError,
        UnknownNameError,
        FileNotFoundError,
    ) as error:
        print(f"chatgenbench {args.command}: error: {error}", file=sys.stderr)
        return 2
