"""``chatgenbench baseline list|run|train-modeltokens``: the registered baseline adapters.

``run`` refuses (exit 2, before any work) an ``--out`` whose file or sidecars (``PRED.notes.jsonl``,
``PRED.run.json``) would overwrite its ``--options`` file.
"""

from __future__ import annotations

import argparse

from chatgenbench.cli.options import add_actions, add_benchmark, add_no_progress, add_setting


def register(sub) -> None:
    """Add the ``baseline`` family."""
    p = sub.add_parser("baseline", help="list or run the baselines")
    actions = add_actions(p, "baseline_command")
    actions.add_parser("list", help="list the registered baselines").set_defaults(
        handler=list_command
    )
    run = actions.add_parser("run", help="run a baseline and write its predictions")
    run.add_argument("name", help="the baseline's name (see 'chatgenbench baseline list')")
    add_benchmark(run)
    add_setting(run, "predict")
    run.add_argument("--out", required=True, help="prediction file to write (.jsonl)")
    run.add_argument("--batch-size", type=int, default=32, help="rows per batch (default 32)")
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
    add_no_progress(run)
    run.set_defaults(handler=run_command)

    train = actions.add_parser(
        "train-modeltokens",
        help="train ChatGen-Evo's ModelTokens (one embedding per catalogue model; base frozen)",
    )
    add_benchmark(train)
    train.add_argument("--base", required=True, help="local causal LM folder (the frozen base)")
    train.add_argument("--out", required=True, help="folder to write the trained ModelTokens")
    train.add_argument("--epochs", type=int, default=3, help="passes over the train rows (3)")
    train.add_argument("--lr", type=float, default=1e-2, help="learning rate (default 1e-2)")
    train.add_argument("--batch-size", type=int, default=64, help="rows per step (default 64)")
    train.add_argument("--max-rows", type=int, help="use at most this many train rows (seeded)")
    train.add_argument("--max-length", type=int, default=256, help="max input tokens (256)")
    train.add_argument("--device", default=None, help="torch device (default: auto)")
    train.add_argument("--seed", type=int, default=0, help="seed of the row sample and init (0)")
    train.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the named --base to run its own code (only for a checkpoint you trust)",
    )
    add_no_progress(train)
    train.set_defaults(handler=train_modeltokens_command)


def list_command(args: argparse.Namespace) -> int:
    """Print every registered baseline (those of other installed packages too) with what it is."""
    from baselines.registry import BASELINES, baseline_description

    for name in BASELINES.names():
        print(f"{name}\t{baseline_description(name)}")
    return 0


def run_command(args: argparse.Namespace) -> int:
    """Run the named baseline and write its predictions (resuming a partial run)."""
    from baselines.registry import build_adapter
    from chatgenbench.core.output_names import check_outputs_apart
    from chatgenbench.predictions.adapters import (
        parse_option_assignments,
        run_adapter,
        sidecar_paths,
    )

    sidecars = sidecar_paths(args.out)
    check_outputs_apart(
        {"--options": args.options},
        {"--out": args.out, "its notes": sidecars["notes"], "its run record": sidecars["run"]},
    )
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


def train_modeltokens_command(args: argparse.Namespace) -> int:
    """Train ChatGen-Evo's ModelTokens (see :mod:`baselines.model_tokens`)."""
    from baselines.model_tokens import train_model_tokens_cli

    return train_model_tokens_cli(args)
