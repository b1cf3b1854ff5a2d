"""The ``chatgenbench`` command: one module per command family, each registering its commands.

=================================  ===========================================================
``chatgenbench.cli.scoring``       ``evaluate``, ``validate``, ``schema``
``chatgenbench.cli.data``          ``prepare``, ``synth``, ``catalog``
``chatgenbench.cli.baselines``     ``baseline list|run|train-modeltokens``
``chatgenbench.cli.rendering``     ``render``
``chatgenbench.cli.weight_files``  ``weights status|download`` (``models``: the same family for
                                   the catalogue's checkpoints)
``chatgenbench.cli.leaderboard``   ``leaderboard``, ``queue work|list|add|retry``
``chatgenbench.cli.analysis``      ``compare``, ``ablate``
``chatgenbench.cli.votes``         ``votes summary|export`` (the pairwise user study)
``chatgenbench.cli.export``        ``export`` (per-sample details dataset), ``recipe``
``chatgenbench.cli.audit``         ``audit`` (the leaderboard's audit log: who did what, when)
=================================  ===========================================================

A family module has ``register(subparsers)``, which adds its parsers and sets each one's
``handler`` (a function of the parsed arguments that returns the exit code). Handlers import what
they need only when they run, so ``chatgenbench --help`` stays fast.

Exit codes, the same for every command:

- 0: the command did its work and found nothing wrong;
- 1: it did its work and found problems in the input (``validate`` found errors, a weight file
  could not be fetched, ``render`` or ``evaluate --render`` produced no image of the samples it
  had to render, ...), listed in its output;
- 2: it could not run: bad usage (an unknown option or command, a missing action), or an input
  that cannot be used at all (any :class:`chatgenbench.core.errors.ChatGenBenchError`, an unreadable
  file, a missing extra: :func:`chatgenbench.core.extras.missing_extra`): the message, and how to
  fix it where known, go to standard error;
- 130: interrupted (Ctrl-C).

Library output: the libraries' progress bars and INFO lines (transformers' ``Loading weights``,
open_clip's INFO lines) are off unless ``--verbose`` is given, before or after the command
(:mod:`chatgenbench.core.library_output`, the one place that sets them); ChatGenBench's own
progress bars show either way (``--no-progress`` hides them).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from chatgenbench.cli.options import add_verbose_everywhere

#: The command-family modules, in the order ``--help`` lists their commands.
FAMILIES: tuple[str, ...] = (
    "chatgenbench.cli.scoring",
    "chatgenbench.cli.data",
    "chatgenbench.cli.baselines",
    "chatgenbench.cli.rendering",
    "chatgenbench.cli.weight_files",
    "chatgenbench.cli.leaderboard",
    "chatgenbench.cli.analysis",
    "chatgenbench.cli.votes",
    "chatgenbench.cli.export",
    "chatgenbench.cli.audit",
)
EXIT_OK, EXIT_PROBLEMS, EXIT_UNUSABLE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``chatgenbench`` command, every family registered."""
    from chatgenbench.core.version import __version__

    parser = argparse.ArgumentParser(
        prog="chatgenbench",
        description="ChatGenBench: evaluate automatic text-to-image generation from freestyle chat.",
        epilog="Exit codes: 0 done; 1 problems found in the input; 2 bad usage or unusable "
        "input; 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"chatgenbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for family in FAMILIES:
        importlib.import_module(family).register(sub)
    add_verbose_everywhere(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see this module's docstring)."""
    from chatgenbench.core.errors import ChatGenBenchError
    from chatgenbench.core.library_output import configure_library_output

    parser = build_parser()
    args = parser.parse_args(argv)
    configure_library_output(getattr(args, "verbose", False))
    if not args.command:
        parser.print_help()
        return EXIT_UNUSABLE
    try:
        code = args.handler(args)
        sys.stdout.flush()  # inside the try: a closed pipe is answered below, not at exit
        return code
    except ChatGenBenchError as error:
        print(f"chatgenbench {args.command}: error: {error}", file=sys.stderr)
        if error.how_to_fix:
            print(f"how to fix: {error.how_to_fix}", file=sys.stderr)
        return EXIT_UNUSABLE
    except BrokenPipeError:  # the reader went away (`chatgenbench schema | head`): end quietly
        _silence_stdout()
        return EXIT_OK
    except ModuleNotFoundError as error:  # an extra not installed: say which, and how to install it
        from chatgenbench.core.extras import extra_of_missing_module, missing_extra

        extra = extra_of_missing_module(error)
        if extra is None:
            raise
        print(
            f"chatgenbench {args.command}: error: "
            + missing_extra(f"'chatgenbench {args.command}'", extra, error),
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    except OSError as error:  # an input file that cannot be read (missing, a folder, no access)
        print(f"chatgenbench {args.command}: error: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout already closed or not a real file: nothing to flush
        pass
