"""Options that several command families share, each with its help text."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from typing import Any, NoReturn

SETTING_CHOICES = ("supervised", "few_shot", "all")


def add_benchmark(parser: argparse.ArgumentParser) -> None:
    """Add ``--benchmark SOURCE`` (default ``sample``)."""
    parser.add_argument(
        "--benchmark",
        default="sample",
        help="'sample' (embedded), a benchmark folder, or a hub id (default: sample)",
    )


def add_setting(parser: argparse.ArgumentParser, what: str = "score") -> None:
    """Add ``--setting supervised|few_shot|all`` (default ``all``)."""
    parser.add_argument(
        "--setting",
        default="all",
        choices=SETTING_CHOICES,
        help=f"which setting to {what} (default: all of the benchmark's)",
    )


def add_catalog(parser: argparse.ArgumentParser, what: str = "adds models or weights") -> None:
    """Add ``--catalog FILE``: a catalogue file laid over the benchmark's."""
    parser.add_argument(
        "--catalog", metavar="FILE", help=f"catalogue file laid over the benchmark's ({what})"
    )


def add_encoder(parser: argparse.ArgumentParser) -> None:
    """Add ``--encoder``: the BERTScore encoder, one of
    :data:`chatgenbench.metrics.bertscore.ENCODER_NAMES`."""
    from chatgenbench.metrics.bertscore import DEFAULT_ENCODER, ENCODER_NAMES, OFFICIAL_ENCODER

    parser.add_argument(
        "--encoder",
        default=DEFAULT_ENCODER,
        choices=list(ENCODER_NAMES),
        help=f"BERTScore encoder (default {DEFAULT_ENCODER}, offline; {OFFICIAL_ENCODER} is "
        "official)",
    )


def add_json(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    """Add ``--json``."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-progress``."""
    parser.add_argument(
        "--no-progress",
        "--quiet",
        dest="no_progress",
        action="store_true",
        help="show no progress bars (nor the model loaders' bars and prints)",
    )


VERBOSE_HELP = (
    "let the libraries (transformers, diffusers, huggingface_hub, open_clip, ...) print their "
    "progress bars and INFO lines (default: errors only; our own progress bars show either way)"
)


def add_verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """Add ``--verbose`` to ``parser`` and to every command and action under it, so that it may
    stand before or after the command (``chatgenbench --verbose evaluate`` or ``chatgenbench
    evaluate --verbose``)."""
    if "--verbose" not in parser._option_string_actions:  # a plugin's own --verbose stays its own
        parser.add_argument(
            "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                add_verbose_everywhere(child)


def add_store(parser: argparse.ArgumentParser) -> None:
    """Add ``--store DIR`` and ``--queue-db FILE`` of the leaderboard."""
    parser.add_argument(
        "--store",
        default=None,
        help="submissions folder (default: $CHATGENBENCH_SUBMISSIONS, else "
        "$CHATGENBENCH_HOME/submissions; see docs/store.md)",
    )
    parser.add_argument(
        "--queue-db",
        default=None,
        help="queue database (default: $CHATGENBENCH_QUEUE_DB or STORE/.queue.sqlite3)",
    )


def add_actions(parser: argparse.ArgumentParser, dest: str):
    """Return the subparsers of a command family's actions; an action is required (else exit 2)."""
    actions = parser.add_subparsers(dest=dest, metavar="ACTION", required=True)
    return actions


def parse_error(command: str, message: str) -> NoReturn:
    """Stop parsing as argparse does for bad usage: print ``chatgenbench COMMAND: error: MESSAGE``
    and raise SystemExit with exit code 2 (the SystemExit's text is the message)."""
    text = f"chatgenbench {command}: error: {message}"
    print(text, file=sys.stderr)
    error = SystemExit(text)
    error.code = 2
    raise error


def add_dataclass_flags(
    parser: Any, options: type, option_fields: list[dataclasses.Field], owner: str = ""
) -> list[str]:
    """Add one flag per field of an options dataclass (``ray_actors`` -> ``--ray-actors``), with
    the field's default, its ``help`` metadata and, for an ``int`` or ``float`` field, that type.

    ``parser`` is a parser or an argument group; ``owner`` (e.g. ``ray backend``) is added to the
    help text. A field whose flag is already taken is skipped with a warning (a plugin must not
    take the command line down). Returns the names of the fields added.
    """
    from chatgenbench.render.backends import option_value_type

    added = []
    for option in option_fields:
        kind = option_value_type(options, option)
        default = None if option.default is dataclasses.MISSING else option.default
        text = option.metadata.get("help", option.name.replace("_", " "))
        how: dict[str, Any] = {"type": kind} if kind in (int, float) else {}
        if kind is bool:
            how = {"action": argparse.BooleanOptionalAction}
        try:
            parser.add_argument(
                "--" + option.name.replace("_", "-"),
                dest=option.name,
                default=default,
                help=f"{text} [{owner}]" if owner else text,
                **how,
            )
        except argparse.ArgumentError as error:
            warnings.warn(
                f"{owner or 'option'} {option.name!r} is not offered: {error}", stacklevel=2
            )
            continue
        added.append(option.name)
    return added


def add_render_backend_flags(parser: Any) -> None:
    """Add each registered render backend's own options as flags (``--ray-address``, ...)."""
    from chatgenbench.render.backends import backend_options

    for backend, options, option in backend_options(flags_only=True).values():
        add_dataclass_flags(parser, options, [option], f"{backend} backend")


DTYPE_HELP = "render dtype: fp16, bf16 or fp32 (default: fp16 on CUDA, fp32 on CPU)"


def add_render_dtype(parser: Any) -> None:
    """Add ``--dtype``: the dtype the checkpoints render in (``render``, ``evaluate``, ``ablate``)."""
    parser.add_argument("--dtype", help=DTYPE_HELP)


def add_render_run_flags(parser: Any) -> None:
    """Add the render flags of the commands that render on the way (``evaluate --render``,
    ``ablate``), the same definitions as ``render``'s: ``--dtype``, ``--threads`` and the render
    batch size, ``--render-batch-size`` (``--batch-size`` of ``evaluate`` is BERTScore's)."""
    from chatgenbench.render.backends import option_fields
    from chatgenbench.render.engine import RenderOptions

    shared = {f.name: f for f in option_fields(RenderOptions, flags_only=True)}
    add_render_dtype(parser)
    add_dataclass_flags(parser, RenderOptions, [shared["threads"]])
    batch = shared["batch_size"]
    parser.add_argument(
        "--render-batch-size",
        type=int,
        default=batch.default,
        help=f"render: {batch.metadata['help']} ('render --batch-size')",
    )


def render_run_values(args: argparse.Namespace) -> dict[str, Any]:
    """Return the render options of :func:`add_render_run_flags` (and ``--device``) given on the
    command line, as :func:`chatgenbench.render.render_predictions` takes them."""
    values = {
        "dtype": getattr(args, "dtype", None),
        "threads": getattr(args, "threads", None),
        "batch_size": getattr(args, "render_batch_size", None),
        "device": getattr(args, "device", None),
    }
    return {name: value for name, value in values.items() if value is not None}


def render_backend_values(args: argparse.Namespace) -> dict[str, Any]:
    """Return the render backends' options given on the command line (those not None)."""
    from chatgenbench.render.backends import backend_options

    values = {name: getattr(args, name, None) for name in backend_options(flags_only=True)}
    return {name: value for name, value in values.items() if value is not None}
