"""``chatgenbench compare`` and ``ablate``: the paper's analyses beside its main table.

``ablate`` takes ``render``'s ``--dtype`` and ``--threads`` and ``--render-batch-size`` (the
definitions are shared: :func:`chatgenbench.cli.options.add_render_run_flags`); each render says
its estimated duration before it starts (:mod:`chatgenbench.render.estimate`).
"""

from __future__ import annotations

import argparse
import json
import sys

from chatgenbench.cli.options import (
    add_benchmark,
    add_encoder,
    add_json,
    add_no_progress,
    render_run_values,
)


def register(sub) -> None:
    """Add the ``compare`` and ``ablate`` commands."""
    from chatgenbench.cli.scoring import add_image_metric_options

    p = sub.add_parser(
        "compare",
        help="paired comparison of two results: differences, intervals, p-values",
        description="Pair two results of the same benchmark and settings sample by sample; per "
        "metric and slice, print the difference A - B with its bootstrap interval and the "
        "p-value of a paired sign-flip permutation test. Results of different benchmarks or "
        "settings, and results that cannot be trusted (a NaN or non-numeric score, a sample id "
        "repeated or on one side only, a reported mean that is not the mean of its per-sample "
        "scores, malformed JSON), are refused with the file, field and id (exit 2).",
    )
    p.add_argument("a", metavar="A.json", help="results JSON of 'chatgenbench evaluate --out'")
    p.add_argument("b", metavar="B.json", help="the other results JSON")
    p.add_argument("--resamples", type=int, default=1000, help="resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument(
        "--by-input-type", action="store_true", help="also print each input type's slice"
    )
    add_json(p, "the comparison")
    p.set_defaults(handler=compare_command)

    p = sub.add_parser(
        "ablate",
        help="the paper's Table 6: each step measured alone, the other steps given",
        description="For each prediction file, score three runs: prompt writing (reference "
        "model and arguments given), model selection (reference prompt and arguments given), "
        "argument setting (reference prompt and model given); renders come from the render "
        "cache where they exist. Prints Table 6's layout.",
    )
    p.add_argument("predictions", nargs="+", help="prediction files (one table line each)")
    add_benchmark(p)
    p.add_argument(
        "--setting",
        default="supervised",
        choices=["supervised", "few_shot", "all"],
        help="setting to score and show (default supervised, as Table 6)",
    )
    p.add_argument(
        "--steps",
        default="prompt,model,arguments",
        help="which steps to measure (default all three)",
    )
    p.add_argument("--out-dir", required=True, help="folder for the results JSON of each run")
    add_encoder(p)
    p.add_argument(
        "--no-images",
        action="store_true",
        help="score the step-wise metrics only (no rendering)",
    )
    p.add_argument("--device", default=None, help="torch device for the models (default: auto)")
    add_json(p, "the runs (paths, seconds, renders from the cache)")
    add_no_progress(p)
    add_image_metric_options(p)
    p.set_defaults(handler=ablate_command)


def compare_command(args: argparse.Namespace) -> int:
    """Print the paired comparison of two results; exit 0 (2 when they cannot be compared)."""
    from chatgenbench.analysis.comparison import compare_results, comparison_table
    from chatgenbench.analysis.comparison_inputs import read_results

    comparison = compare_results(
        read_results(args.a),
        read_results(args.b),
        resamples=args.resamples,
        seed=args.seed,
        level=args.level,
        alpha=args.alpha,
        names=(args.a, args.b),
    )
    comparison["a"]["path"], comparison["b"]["path"] = args.a, args.b
    if args.json:
        print(json.dumps(comparison, indent=2, sort_keys=True))
    else:
        slices = list(comparison["slices"]) if args.by_input_type else None
        print(comparison_table(comparison, slices=slices))
    return 0


def ablate_command(args: argparse.Namespace) -> int:
    """Run the Table 6 ablations; print the table (or the runs as JSON); exit 0."""
    from chatgenbench.analysis.ablation import ablation_table, run_ablations
    from chatgenbench.cli.scoring import image_settings
    from chatgenbench.scoring.oracle import parse_oracle_steps

    if args.images:
        from chatgenbench.core.errors import UsageError

        raise UsageError(
            "ablate renders each ablation itself: --images does not apply",
            how_to_fix="drop --images (use --render-out DIR to choose where renders go)",
        )
    outcome = run_ablations(
        args.predictions,
        args.benchmark,
        out_dir=args.out_dir,
        setting=args.setting,
        render=not args.no_images,
        render_root=args.render_out,
        steps=parse_oracle_steps(args.steps),
        encoder=args.encoder,
        image_settings=image_settings(args),
        progress=not args.no_progress,
        catalog=args.catalog,
        device=args.device,
        render_options=render_run_values(args),
    )
    if args.json:
        print(json.dumps(outcome["runs"], indent=2))
        _say_demo_weights(outcome["results"])
        return 0
    show = "all" if args.setting == "all" else args.setting
    print(ablation_table(outcome["results"], setting=show))
    rendered = sum(run["renders"]["rendered"] for run in outcome["runs"])
    cached = sum(run["renders"]["cached"] for run in outcome["runs"])
    print(f"\nrenders: {rendered} rendered, {cached} from the cache; results in {args.out_dir}")
    return 0


def _say_demo_weights(results: dict) -> None:
    """Print, on stderr, which ablation results random demo weights made (the JSON on stdout
    stays JSON); the text table says it itself (:func:`ablation_table`)."""
    from pathlib import Path

    from chatgenbench.core.random_weights import demo_weights_warning, uses_random_weights

    demo = dict.fromkeys(
        Path(p).name for (p, _), found in results.items() if uses_random_weights(found)
    )
    if demo:
        print(demo_weights_warning(demo), file=sys.stderr)
