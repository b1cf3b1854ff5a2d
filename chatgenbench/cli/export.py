"""``chatgenbench export`` and ``chatgenbench recipe``: results people can take away.

- ``export RESULTS.json --out DIR [--images RENDER_DIR] [--predictions FILE]
  [--push-to-hub REPO_ID [--private]]`` writes the per-sample details dataset
  (:mod:`chatgenbench.analysis.details`): Parquet shards and a dataset card that
  ``datasets.load_dataset(DIR)`` reads; with ``--push-to-hub`` it then uploads the folder as a hub
  dataset repository (the token: ``HF_TOKEN`` or ``huggingface-cli login``). Inputs that do not
  belong to the results (another benchmark revision, another prediction file, another render
  folder) are refused with exit 2.
"""

from __future__ import annotations

import argparse

from chatgenbench.cli.options import add_json


def register(sub) -> None:
    """Add ``export`` (and ``recipe``)."""
    p = sub.add_parser(
        "export",
        help="write the per-sample details of a results JSON as a datasets folder (Parquet)",
    )
    p.add_argument("results", help="the results JSON ('chatgenbench evaluate --out')")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to write (new or empty)")
    p.add_argument(
        "--images", metavar="RENDER_DIR", default=None,
        help="the render folder the results scored: its PNGs become the 'image' column",
    )  # fmt: skip
    p.add_argument(
        "--predictions", metavar="FILE", default=None,
        help="the prediction file scored (sha256 checked): fills the predicted_* columns",
    )  # fmt: skip
    p.add_argument(
        "--benchmark", default=None,
        help="where the benchmark is now, when not at the source the results record "
        "(its revision must match)",
    )  # fmt: skip
    p.add_argument(
        "--rows-per-shard", type=int, default=None, help="rows per Parquet shard (default 2000)"
    )
    p.add_argument(
        "--push-to-hub", metavar="REPO_ID", default=None,
        help="then upload the folder as a hub dataset repository OWNER/NAME",
    )  # fmt: skip
    p.add_argument("--private", action="store_true", help="with --push-to-hub: a private repo")
    add_json(p, "what was written")
    p.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> int:
    """Write the details dataset; print what was written (and the hub URL)."""
    import json

    from chatgenbench.analysis.details import (
        DEFAULT_ROWS_PER_SHARD,
        ExportError,
        export_details,
        push_details,
    )

    if args.private and not args.push_to_hub:
        raise ExportError("--private needs --push-to-hub REPO_ID")
    report = export_details(
        args.results,
        args.out,
        images=args.images,
        predictions=args.predictions,
        benchmark=args.benchmark,
        rows_per_shard=args.rows_per_shard or DEFAULT_ROWS_PER_SHARD,
    )
    summary = report.to_dict()
    if args.push_to_hub:
        summary["hub"] = push_details(report.out_dir, args.push_to_hub, private=args.private)
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
        return 0
    print(
        f"details of {report.rows} samples written to {report.out_dir} "
        f"({len(report.shards)} Parquet shard(s), {report.images} images)"
    )
    if report.image_problems:
        print(f"images left out: {json.dumps(report.image_problems, sort_keys=True)}")
    if not report.predictions_included:
        print("predicted columns are null: pass --predictions FILE (the file that was scored)")
    if report.matches_withheld:
        print(f"per-key matches withheld for {report.matches_withheld} samples (see the card)")
    print(f"load it with: datasets.load_dataset({str(report.out_dir)!r})")
    if "hub" in summary:
        print(f"uploaded: {summary['hub']}")
    return 0
