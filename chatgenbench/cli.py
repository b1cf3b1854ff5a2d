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


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=None,
        help="submissions folder (default: $CHATGENBENCH_SUBMISSIONS or ./submissions)",
    )
    parser.add_argument(
        "--queue-db",
        default=None,
        help="queue database (default: $CHATGENBENCH_QUEUE_DB or STORE/.queue.sqlite3)",
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
    _add_image_metric_options(p)

    p = sub.add_parser("validate", help="check a prediction file and list every problem")
    p.add_argument("predictions")
    _add_benchmark(p)
    p.add_argument("--setting", default="all", choices=["supervised", "few_shot", "all"])
    p.add_argument(
        "--catalog", help="catalogue file laid over the benchmark's (adds models or weights)"
    )
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

    # -- rendering (chatgenbench.render) ----------------------------------------------------------
    p = sub.add_parser("render", help="render predictions into PNG images (a render folder)")
    p.add_argument("predictions", help="prediction file (.jsonl, .csv or .parquet)")
    _add_benchmark(p)
    p.add_argument("--catalog", help="catalogue file laid over the benchmark's (weights, bases)")
    p.add_argument("--out", required=True, help="render folder to write")
    p.add_argument("--setting", default="all", choices=["supervised", "few_shot", "all"])
    p.add_argument("--backend", default="local", choices=["local", "ray"])
    p.add_argument("--ray-address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--ray-actors", type=int, help="Ray actors (default: one per GPU, else 1)")
    p.add_argument("--shard", help="render only shard I of N (0-based I/N, whole groups)")
    p.add_argument(
        "--merge-shards",
        action="store_true",
        help="assemble OUT from OUT/shards/*-of-N (no rendering; no weights needed)",
    )
    p.add_argument("--device", help="torch device (default: cuda when visible, else cpu)")
    p.add_argument("--dtype", help="fp16, bf16 or fp32 (default: fp16 on CUDA, fp32 on CPU)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--pipelines-in-memory", type=int, default=2, help="LRU size per worker")
    p.add_argument("--workers", type=int, help="local workers (default: one per GPU, or 1)")
    p.add_argument("--threads", type=int, help="torch CPU threads per worker")
    p.add_argument(
        "--lora-base",
        action="append",
        default=[],
        metavar="ARCH=NAME",
        help="base checkpoint for LoRAs of an architecture, e.g. sd15=v1-5-pruned-emaonly",
    )
    p.add_argument("--cache-dir", help="image cache (default: $CHATGENBENCH_HOME/render-cache)")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("models", help="model weights: status and fetch")
    models = p.add_subparsers(dest="models_command", metavar="ACTION")
    status = models.add_parser("status", help="which needed models have their weights here")
    _add_benchmark(status)
    status.add_argument("--catalog", help="catalogue file laid over the benchmark's")
    status.add_argument("--setting", default="all", choices=["supervised", "few_shot", "all"])
    status.add_argument("--predictions", help="check the models this prediction file names")
    status.add_argument("--all", action="store_true", help="check the whole catalogue")
    status.add_argument("--json", action="store_true")
    fetch = models.add_parser("fetch", help="download hub or Civitai weights into the cache")
    fetch.add_argument("names", nargs="+", help="catalogue model names")
    _add_benchmark(fetch)
    fetch.add_argument("--catalog", help="catalogue file laid over the benchmark's")

    # -- leaderboard (issue 5): the Streamlit app and the scoring queue --------------------------
    p = sub.add_parser("leaderboard", help="start the leaderboard web app (streamlit run)")
    _add_store(p)
    p.add_argument("--port", type=int, default=None, help="port to serve on (default 8501)")
    p.add_argument("--address", default=None, help="address to bind (default: streamlit's)")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.add_argument(
        "streamlit_args", nargs=argparse.REMAINDER, help="further 'streamlit run' options after --"
    )
    p = sub.add_parser("queue", help="the scoring queue of the leaderboard")
    queue = p.add_subparsers(dest="queue_command", metavar="ACTION")
    work = queue.add_parser("work", help="score queued submissions")
    work.add_argument("--once", action="store_true", help="drain the queue, then exit")
    work.add_argument("--poll", type=float, default=5.0, help="seconds between polls (default 5)")
    work.add_argument(
        "--encoder",
        default="minilm",
        choices=["minilm", "roberta-large"],
        help="BERTScore encoder (default minilm, offline; roberta-large is official)",
    )
    work.add_argument("--lease", type=float, default=None, help="heartbeat lease in seconds")
    _add_store(work)
    _add_store(queue.add_parser("list", help="list the jobs and their states"))
    add = queue.add_parser("add", help="queue a stored submission for (re)scoring")
    add.add_argument("name")
    _add_store(add)
    retry = queue.add_parser("retry", help="put a failed job back in the queue")
    retry.add_argument("job", type=int)
    _add_store(retry)

    # -- image-metric weights (chatgenbench.weights) -------------------------------------------
    p = sub.add_parser("weights", help="show or fetch the weight files of the image metrics")
    weights = p.add_subparsers(dest="weights_command", metavar="ACTION")
    w = weights.add_parser(
        "status", help="list every weight set, where it is looked for, if present"
    )
    w.add_argument("--json", action="store_true")
    w = weights.add_parser("download", help="fetch weights into $CHATGENBENCH_HOME/weights")
    w.add_argument("names", nargs="*", help="weight sets to fetch (default: every missing one)")
    w.add_argument("--revision", help="hub revision (commit or tag)")
    return parser


# --- image metrics: evaluate options and the weights command ---------------------------------


def _add_image_metric_options(p: argparse.ArgumentParser) -> None:
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
    group.add_argument(
        "--catalog", help="catalogue file laid over the benchmark's (weights, bases)"
    )
    group.add_argument(
        "--clip-model", help="local CLIP folder (default: weights cache clip-vit-large-patch14)"
    )
    group.add_argument(
        "--clip-variant",
        default="clip_s",
        choices=["clip_s", "torchmetrics"],
        help="clip_s = 2.5*max(cos,0) (paper scale, default); torchmetrics = max(cos,0)",
    )
    group.add_argument("--hps-version", default="v2.0", choices=["v2.0", "v2.1"])
    group.add_argument("--hps-checkpoint", help="HPS checkpoint file (default: weights cache)")
    group.add_argument(
        "--hps-architecture",
        default="ViT-H-14",
        help="open_clip model of the HPS checkpoint (default ViT-H-14; a <name>.json open_clip "
        "config beside the checkpoint is registered first)",
    )
    group.add_argument(
        "--image-reward-model", help="folder with ImageReward.pt and med_config.json"
    )
    group.add_argument(
        "--image-metrics",
        default="fid,clip_score,hps_v2,image_reward",
        help="comma-separated subset of the image metrics to compute",
    )
    group.add_argument(
        "--metric-dtype", default="float32", choices=["float32", "float16", "bfloat16"]
    )
    group.add_argument("--metric-batch-size", type=int, default=16)
    group.add_argument("--bootstrap-seed", type=int, default=0)
    group.add_argument("--bootstrap-resamples", type=int, default=1000)


def _image_settings(args: argparse.Namespace):
    from chatgenbench.image_scoring import ImageMetricSettings
    from chatgenbench.result_schema import IMAGE_METRICS

    metrics = tuple(m.strip() for m in args.image_metrics.split(",") if m.strip())
    unknown = [m for m in metrics if m not in IMAGE_METRICS]
    if unknown:
        raise SystemExit(
            f"chatgenbench evaluate: error: unknown image metric(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(IMAGE_METRICS)}"
        )
    return ImageMetricSettings(
        clip_model=args.clip_model,
        clip_variant=args.clip_variant,
        hps_version=args.hps_version,
        hps_checkpoint=args.hps_checkpoint,
        hps_architecture=args.hps_architecture,
        image_reward_model=args.image_reward_model,
        device=args.device,
        dtype=args.metric_dtype,
        batch_size=args.metric_batch_size,
        bootstrap_seed=args.bootstrap_seed,
        bootstrap_resamples=args.bootstrap_resamples,
        metrics=metrics,
    )


@_command("weights")
def _weights(args: argparse.Namespace) -> int:
    from chatgenbench import weights

    if args.weights_command == "status":
        rows = weights.status()
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        print(f"weights folder: {weights.weights_root()}")
        for row in rows:
            state = "present" if row["present"] else "MISSING"
            print(f"{row['name']:<24} {row['metric']:<13} {state:<8} {row['folder']}")
            if not row["present"]:
                print(f"{'':<24} fetch: {row['fetch_command']}")
        return 0
    if args.weights_command == "download":
        names = args.names or [r["name"] for r in weights.status() if not r["present"]]
        failed = 0
        for name in names:
            try:
                path = weights.download(name, revision=args.revision)
            except (RuntimeError, weights.WeightsMissing) as error:
                print(f"{name}: {error}", file=sys.stderr)
                failed += 1
            else:
                print(f"{name}: {path}")
        if not names:
            print("every weight set is present")
        return 1 if failed else 0
    print("usage: chatgenbench weights {status,download} ...", file=sys.stderr)
    return 2


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
    from chatgenbench.evaluation import evaluate
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
        catalog=args.catalog,
        images=args.images,
        render=args.render,
        render_out=args.render_out,
        image_settings=_image_settings(args),
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
    from chatgenbench.benchmark import load_benchmark
    from chatgenbench.predictions import validate_predictions
    from chatgenbench.render.weights import render_catalog

    ids = load_benchmark(args.setting, args.benchmark)["id"]
    catalog = render_catalog(args.benchmark, args.catalog)
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


def _render_command(args: argparse.Namespace) -> str:
    import shlex

    words = ["chatgenbench", "render", args.predictions]
    for key, value in sorted(vars(args).items()):
        if key in ("command", "predictions") or value in (None, False, []):
            continue
        flag = "--" + key.replace("_", "-")
        for item in value if isinstance(value, list) else [value]:
            words += [flag] if item is True else [flag, str(item)]
    return shlex.join(words)


@_command("render")
def _render(args: argparse.Namespace) -> int:
    from chatgenbench.render.engine import RenderError, render_predictions
    from chatgenbench.render.weights import WeightsError

    lora_bases = {}
    for item in args.lora_base:
        arch, _, name = item.partition("=")
        if not name:
            print(f"chatgenbench render: error: --lora-base wants ARCH=NAME, got {item!r}",
                  file=sys.stderr)  # fmt: skip
            return 2
        lora_bases[arch] = name
    options = {
        "batch_size": args.batch_size,
        "pipelines_in_memory": args.pipelines_in_memory,
        "workers": args.workers,
        "threads": args.threads,
        "lora_bases": lora_bases,
        "command": _render_command(args),
    }
    if args.ray_address:
        options["ray_address"] = args.ray_address
    if args.ray_actors:
        options["ray_actors"] = args.ray_actors
    try:
        if args.merge_shards:
            from chatgenbench.render.engine import merge_shards

            report = merge_shards(args.out)
            counts = ", ".join(f"{k} {v}" for k, v in report.summary["counts"].items() if v)
            print(f"merged {report.summary['shard']['merged']} shards into {report.out_dir}: "
                  f"{report.summary['n_samples']} samples: {counts}")  # fmt: skip
            return 0
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
    except (RenderError, WeightsError) as error:
        print(f"chatgenbench render: error: {error}", file=sys.stderr)
        return 2
    summary = report.summary
    counts = ", ".join(f"{k} {v}" for k, v in summary["counts"].items() if v)
    performance = summary["performance"]
    print(f"{summary['n_samples']} samples: {counts}")
    print(
        f"{performance['images_rendered']} images rendered in {performance['render_wall_seconds']} s "
        f"({performance['checkpoint_loads']} checkpoint loads, {performance['lora_loads']} LoRA "
        f"loads); {summary['cache']['hits']} cache hits"
    )
    if summary["weights_missing_models"]:
        print(
            f"{len(summary['weights_missing_models'])} models lack weights: run 'chatgenbench "
            f"models status --benchmark {args.benchmark} --predictions {args.predictions}"
            + (f" --catalog {args.catalog}" if args.catalog else "")
            + "'"
        )
    print(f"render folder written to {report.out_dir}")
    return 0


@_command("models")
def _models(args: argparse.Namespace) -> int:
    from chatgenbench.render.weights import render_catalog

    catalog = render_catalog(args.benchmark, args.catalog)
    if args.models_command == "status":
        from chatgenbench.render.status import format_status_table, models_status

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
        return 0
    if args.models_command == "fetch":
        from chatgenbench.render.weights import WeightLocator, WeightsError, fetch_weights

        locator = WeightLocator()
        failed = 0
        for name in args.names:
            entry = catalog.get(name)
            if entry is None:
                hint = ", ".join(catalog.suggest(name))
                print(
                    f"{name}: not in the catalogue" + (f" (did you mean: {hint}?)" if hint else "")
                )
                failed += 1
                continue
            try:
                status = fetch_weights(entry, locator)
            except WeightsError as error:
                print(f"{name}: {error}")
                failed += 1
                continue
            print(
                f"{name}: " + ("present at " + status.ref.path if status.present else status.reason)
            )
            failed += not status.present
        return 1 if failed else 0
    print("usage: chatgenbench models {status,fetch} ...", file=sys.stderr)


@_command("leaderboard")
def _leaderboard(args: argparse.Namespace) -> int:
    import importlib.util
    import os
    import subprocess
    from pathlib import Path

    from leaderboard import app_path
    from leaderboard.scoring_queue import QUEUE_ENV
    from leaderboard.submissions import STORE_ENV, default_upload_limit

    if importlib.util.find_spec("streamlit") is None:
        print(
            "chatgenbench leaderboard: error: streamlit is not installed; install the "
            "leaderboard's dependencies with: pip install -e '.[leaderboard]'",
            file=sys.stderr,
        )
        return 2
    env = dict(os.environ)
    if args.store:
        env[STORE_ENV] = str(Path(args.store).resolve())
    if args.queue_db:
        env[QUEUE_ENV] = str(Path(args.queue_db).resolve())
    limit_mb = max(1, -(-default_upload_limit() // 2**20))
    command = [sys.executable, "-m", "streamlit", "run", str(app_path())]
    command += [f"--server.maxUploadSize={limit_mb}", "--browser.gatherUsageStats=false"]
    command.append("--client.toolbarMode=viewer")
    if args.port is not None:
        command.append(f"--server.port={args.port}")
    if args.address:
        command.append(f"--server.address={args.address}")
    if args.headless:
        command.append("--server.headless=true")
    command += [arg for arg in args.streamlit_args if arg != "--"]
    return subprocess.call(command, env=env)


@_command("queue")
def _queue(args: argparse.Namespace) -> int:
    import logging

    from leaderboard.scoring_queue import ScoringQueue, ScoringWorker, default_queue_path
    from leaderboard.submissions import SubmissionStore

    if not args.queue_command:
        print("usage: chatgenbench queue {work,list,add,retry} [--store DIR] ...", file=sys.stderr)
        return 2
    store = SubmissionStore(args.store)
    path = args.queue_db or default_queue_path(store.root)
    options = {"lease_seconds": args.lease} if getattr(args, "lease", None) else {}
    queue = ScoringQueue(path, **options)
    if args.queue_command == "work":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

        def report(job) -> None:
            reason = f": {job.error}" if job.error else ""
            print(f"job {job.id} ({job.submission}): {job.state}{reason}", flush=True)

        worker = ScoringWorker(store, queue, encoder=args.encoder)
        print(f"worker {worker.worker} on {queue.path} (store {store.root})", flush=True)
        try:
            count = worker.run(once=args.once, poll_seconds=args.poll, on_job=report)
        except KeyboardInterrupt:
            return 130
        print(f"scored {count} jobs; queue: {queue.counts()}")
        return 0
    if args.queue_command == "list":
        for job in queue.jobs():
            info = job.to_dict()
            reason = f"\t{info['error']}" if info["error"] else ""
            print(f"{job.id}\t{job.state}\t{job.submission}\t{info['created']}{reason}")
        return 0
    if args.queue_command == "add":
        if args.name not in store.names():
            print(
                f"chatgenbench queue add: error: no submission {args.name!r} in {store.root}",
                file=sys.stderr,
            )
            return 2
        job = queue.enqueue(args.name)
        print(f"job {job.id} ({job.submission}): {job.state}")
        return 0
    if args.queue_command == "retry":
        try:
            job = queue.retry(args.job)
        except ValueError as error:
            print(f"chatgenbench queue retry: error: {error}", file=sys.stderr)
            return 2
        print(f"job {job.id} ({job.submission}): {job.state}")
        return 0
    print("usage: chatgenbench queue [--store DIR] {work,list,add,retry} ...", file=sys.stderr)
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
    from chatgenbench.errors import SubmissionError
    from chatgenbench.image_scoring import ImageScoringError
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
        SubmissionError,
        FileNotFoundError,
        ImageScoringError,
    ) as error:
        print(f"chatgenbench {args.command}: error: {error}", file=sys.stderr)
        return 2
