"""``chatgenbench weights``: every weight file the harness loads, in one command family.

Two kinds of weight files live under ``$CHATGENBENCH_HOME/weights``:

- ``metrics``: the image metrics' weight sets (:mod:`chatgenbench.metrics.weights`, one per registered
  metric's ``weights``);
- ``models``: the checkpoints and LoRAs of the model catalogue that rendering loads
  (:mod:`chatgenbench.render.checkpoints`).

``chatgenbench weights status|download`` works on the metrics' weights by default (``--kind``
chooses); ``chatgenbench models status|fetch`` is the same family with ``--kind models`` as its
default, for the catalogue's checkpoints. ``download`` and ``fetch`` are one action.
"""

from __future__ import annotations

import argparse
import json
import sys

from chatgenbench.cli.options import (
    add_actions,
    add_benchmark,
    add_catalog,
    add_json,
    add_no_progress,
    add_setting,
)

KINDS = ("metrics", "models", "all")


def register(sub) -> None:
    """Add the ``weights`` family and its ``models`` spelling."""
    weights_actions = _add_family(
        sub,
        "weights",
        "metrics",
        "weight files: the image metrics' (default) and the catalogue's checkpoints",
    )
    _add_demo(weights_actions)
    _add_family(
        sub, "models", "models", "the catalogue's checkpoint weights ('weights --kind models')"
    )


def _add_family(sub, name: str, kind: str, text: str):
    p = sub.add_parser(name, help=text, description=text)
    actions = add_actions(p, "weights_command")
    status = actions.add_parser("status", help="which weight files are here, and how to get them")
    fetch = actions.add_parser(
        "download",
        aliases=["fetch"],
        help="fetch weights: metric weight sets from the hub, catalogue checkpoints from their "
        "source",
    )
    fetch.add_argument(
        "names",
        nargs="*",
        help="weight sets or catalogue models (default for metrics: every missing weight set)",
    )
    fetch.add_argument("--revision", help="hub revision of a metric weight set (commit or tag)")
    for parser in (status, fetch):
        parser.add_argument(
            "--kind",
            default=kind,
            choices=KINDS,
            help=f"metrics (the image metrics' weights), models (catalogue checkpoints) or all "
            f"(default {kind})",
        )
        add_benchmark(parser)
        add_catalog(parser, "weights, bases")
    add_setting(status, "list the models of")
    status.add_argument("--predictions", help="check the models this prediction file names")
    status.add_argument("--all", action="store_true", help="check the whole catalogue")
    add_json(status, "the rows")
    status.set_defaults(handler=status_command)
    fetch.set_defaults(handler=fetch_command)
    return actions


def _add_demo(actions) -> None:
    demo = actions.add_parser(
        "demo",
        help="write RANDOM demo weights (tiny SD 1.5/SDXL checkpoints and LoRAs for every model "
        "of a catalogue, a catalogue overlay, tiny metric models, a worker deployment file)",
    )
    demo.add_argument("out", help="the folder to write them into")
    add_benchmark(demo)
    demo.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    add_no_progress(demo)
    add_json(demo, "what was written")
    demo.set_defaults(handler=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    """Write random demo weights into OUT and say how to use them."""
    from chatgenbench.testing.demo_weights import write_demo_weights

    manifest = write_demo_weights(
        args.out, args.benchmark, seed=args.seed, progress=not args.no_progress
    )
    if args.json:
        print(json.dumps(manifest, indent=2))
        return 0
    print(f"RANDOM demo weights for {len(manifest['models'])} models in {args.out}")
    print("(their images are noise and their scores mean nothing; results say so)")
    print(f"catalogue overlay: {manifest['catalog_overlay']}")
    print(f"worker deployment: {manifest['deployment']}")
    print(f"render and image-score the benchmark on this CPU: {manifest['evaluate_command']}")
    return 0


def status_command(args: argparse.Namespace) -> int:
    """Print the status of the chosen kind(s) of weight files."""
    if args.kind in ("metrics", "all"):
        _metric_status(args)
    if args.kind in ("models", "all"):
        _model_status(args)
    return 0


def _metric_status(args: argparse.Namespace) -> None:
    from chatgenbench.metrics import weights

    rows = weights.status()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"weights folder: {weights.weights_root()}")
    for row in rows:
        state = "present" if row["present"] else "MISSING"
        print(f"{row['name']:<24} {row['metric']:<13} {state:<8} {row['folder']}")
        if not row["present"]:
            print(f"{'':<24} fetch: {row['fetch_command']}")


def _model_status(args: argparse.Namespace) -> None:
    from chatgenbench.benchmark.loading import load_benchmark_catalog
    from chatgenbench.render.status import format_status_table, models_status

    catalog = load_benchmark_catalog(args.benchmark, args.catalog)
    statuses = models_status(
        args.benchmark,
        catalog,
        setting=args.setting,
        predictions=args.predictions,
        everything=args.all,
    )
    if args.json:
        print(json.dumps([s.to_dict() for s in statuses], indent=2))
    else:
        print(format_status_table(statuses))


def fetch_command(args: argparse.Namespace) -> int:
    """Fetch each named weight file (a metric weight set first, else a catalogue model).

    Exits 1 when one could not be fetched, 2 for an unknown metric weight set (``--kind
    metrics``) or when no model is named (``--kind models``).
    """
    from chatgenbench.core.errors import UsageError
    from chatgenbench.metrics import weights

    metric_sets = weights.metric_weight_sets()
    names = list(args.names)
    if not names:
        if args.kind == "models":
            raise UsageError("name the catalogue models to fetch")
        names = [row["name"] for row in weights.status() if not row["present"]]
        if not names:
            print("every weight set is present")
            return 0
    failed = 0
    catalog = None
    for name in names:
        if args.kind == "metrics" or (args.kind == "all" and name in metric_sets):
            failed += _fetch_metric_weights(name, args.revision)
            continue
        if catalog is None:
            from chatgenbench.benchmark.loading import load_benchmark_catalog

            catalog = load_benchmark_catalog(args.benchmark, args.catalog)
        failed += _fetch_model_weights(name, catalog)
    return 1 if failed else 0


def _fetch_metric_weights(name: str, revision: str | None) -> int:
    from chatgenbench.metrics import weights

    try:
        path = weights.download(name, revision=revision)
    except (RuntimeError, weights.WeightsMissing) as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 1
    print(f"{name}: {path}")
    return 0


def _fetch_model_weights(name: str, catalog) -> int:
    from chatgenbench.render.checkpoints import WeightLocator, WeightsError, fetch_weights

    entry = catalog.get(name)
    if entry is None:
        hint = ", ".join(catalog.suggest(name))
        print(f"{name}: not in the catalogue" + (f" (did you mean: {hint}?)" if hint else ""))
        return 1
    try:
        status = fetch_weights(entry, WeightLocator())
    except WeightsError as error:
        print(f"{name}: {error}")
        return 1
    print(f"{name}: " + ("present at " + status.ref.path if status.present else status.reason))
    return 0 if status.present else 1
