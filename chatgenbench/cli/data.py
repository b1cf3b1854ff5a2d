"""``chatgenbench prepare``, ``synth`` and ``catalog``: benchmark folders and their catalogues.

``prepare`` writes folders and files with the permissions the umask gives (a team can share them),
atomically. Its key map reaches into fields that hold JSON text (bounded; see
``docs/prepare-key-map.md``); the answer turn of a ``conversations`` is never chat history.
``prepare --inspect`` prints the command to convert only when nothing it found would stop it;
otherwise it lists what would (``would_stop`` in ``--json``).
"""

from __future__ import annotations

import argparse
import json

from chatgenbench.cli.options import add_benchmark, add_json


def register(sub) -> None:
    """Add the ``prepare``, ``synth`` and ``catalog`` commands."""
    p = sub.add_parser(
        "prepare", help="write a benchmark folder from the sample, raw files or the hub"
    )
    p.add_argument(
        "--source",
        help="'sample', a folder of raw official files, or a hub id such as "
        "ChengyouJia/ChatGenBench (required unless --inspect)",
    )
    p.add_argument("--out", help="benchmark folder to write (required unless --inspect)")
    p.add_argument(
        "--inspect",
        metavar="RAW",
        help="describe the raw folder (or hub id) RAW (files, record counts, fields with an "
        "example, archive "
        "members, key-map matches, the model list) and print the command to convert; converts "
        "nothing",
    )
    add_json(p, "the --inspect report")
    p.add_argument("--key-map", help="YAML/JSON file overriding the raw-field key map")
    p.add_argument("--revision", help="hub revision (commit or tag)")
    p.add_argument(
        "--models",
        metavar="FILE",
        help="model list (CSV/JSON/JSONL, e.g. 6807_models_Info.csv) for the catalogue, its "
        "columns mapped through the key map's catalog_fields",
    )
    p.set_defaults(handler=prepare_command)

    p = sub.add_parser("synth", help="write a SYNTHETIC benchmark at the real scale")
    p.add_argument("--rows", type=int, default=14564, help="test rows (default 14,564)")
    p.add_argument(
        "--train-rows",
        type=int,
        help="train rows (default: the paper's ratio to --rows, 256,606 at 14,564 rows)",
    )
    p.add_argument(
        "--models",
        type=int,
        help="catalogue size (default: the paper's ratio to --rows, 6,807 at 14,564 rows)",
    )
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--images", action="store_true", help="add small reference images")
    p.add_argument("--out", required=True, help="benchmark folder to write")
    p.set_defaults(handler=synth_command)

    p = sub.add_parser("catalog", help="list a benchmark's model catalogue")
    add_benchmark(p)
    add_json(p, "one catalogue record a line")
    p.set_defaults(handler=catalog_command)


def prepare_command(args: argparse.Namespace) -> int:
    """Write the benchmark folder and say what it holds."""
    from chatgenbench.benchmark.loading import prepare
    from chatgenbench.core.errors import BenchmarkError

    if args.inspect:
        return _inspect(args)
    if not args.source or not args.out:
        raise BenchmarkError(
            "prepare needs --source and --out",
            how_to_fix="chatgenbench prepare --source RAW --out DIR (or --inspect RAW to look first)",
        )
    info = prepare(
        args.source, args.out, key_map=args.key_map, revision=args.revision, models=args.models
    )
    print(f"wrote {args.out}: {info.counts} (revision {info.revision})")
    _print_conversion_summary(args.out)
    return 0


def _print_conversion_summary(out: str) -> None:
    """Print the image match rate, refused members and the model list's mapping, if any."""
    from chatgenbench.benchmark.inspection import conversion_summary

    for line in conversion_summary(out):
        print(line)


def _inspect(args: argparse.Namespace) -> int:
    """Print what the raw folder holds, and the command that converts it."""
    from chatgenbench.benchmark.inspection import format_inspection, inspect_raw_folder
    from chatgenbench.core.normalize import printable_text

    report = inspect_raw_folder(
        args.inspect, key_map=args.key_map, models=args.models, revision=args.revision
    )
    text = (
        json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_inspection(report)
    )
    # a release's text (a file name not in UTF-8, a value) may hold a lone surrogate, which stdout
    # cannot encode: written as its \udXXX escape (valid JSON inside a string)
    print(printable_text(text))
    return 0


def synth_command(args: argparse.Namespace) -> int:
    """Write a synthetic benchmark folder and say so."""
    from chatgenbench.benchmark.synth import write_synthetic

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


def catalog_command(args: argparse.Namespace) -> int:
    """Print the catalogue, a model a line."""
    from chatgenbench.benchmark.loading import load_benchmark_catalog

    for entry in load_benchmark_catalog(args.benchmark):
        if args.json:
            print(json.dumps(entry.to_record(), ensure_ascii=False))
        else:
            print(f"{entry.name}\t{entry.architecture}\t{entry.kind}\t{entry.description[:60]}")
    return 0
