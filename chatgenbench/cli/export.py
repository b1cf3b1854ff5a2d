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
    register_recipe(sub)


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


def register_recipe(sub) -> None:
    """Add ``recipe``."""
    p = sub.add_parser(
        "recipe",
        help="write what reruns one rendered sample elsewhere (diffusers script or A1111 text)",
    )
    p.add_argument("source", metavar="RESULTS_OR_RENDER_DIR",
                   help="a results JSON that scored images, or a render folder")  # fmt: skip
    p.add_argument("--id", required=True, dest="sample_id", help="the sample id")
    p.add_argument("--format", choices=("diffusers", "a1111"), default="diffusers",
                   help="a standalone diffusers script (default) or A1111's parameters text")  # fmt: skip
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    p.add_argument("--catalog", default=None, metavar="FILE",
                   help="the catalogue overlay the render used (its weights)")  # fmt: skip
    p.add_argument("--benchmark", default=None, help="the benchmark source (default: recorded)")
    p.set_defaults(handler=recipe_command)


def recipe_command(args: argparse.Namespace) -> int:
    """Write one sample's recipe."""
    from pathlib import Path

    from chatgenbench.core.storage import atomic_write_text
    from chatgenbench.render.recipes import a1111_text, build_recipe, diffusers_script

    render_dir = Path(args.source)
    if render_dir.is_file():
        from chatgenbench.analysis.details import check_render_folder, read_results_file

        results = read_results_file(render_dir)
        recorded = (results.get("images") or {}).get("render_dir")
        if not isinstance(recorded, str):
            from chatgenbench.render.recipes import RecipeError

            raise RecipeError(f"{args.source}: these results scored no render folder")
        check_render_folder(results, recorded, str(args.source))
        render_dir = Path(recorded)
    recipe = build_recipe(
        render_dir, args.sample_id, catalog=args.catalog, benchmark=args.benchmark
    )
    text = diffusers_script(recipe) if args.format == "diffusers" else a1111_text(recipe)
    atomic_write_text(args.out, text)
    what = "diffusers script" if args.format == "diffusers" else "A1111 parameters text"
    print(f"{what} for sample {args.sample_id[:200]!r} written to {args.out}")
    if args.format == "diffusers":
        print(f"run it with: python {args.out} OUT.png")
    return 0
