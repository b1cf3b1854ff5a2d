"""MkDocs hook: the pages that are generated from the code at build time, so that they cannot drift.

- ``cli.md``: the help of every ``chatgenbench`` command and sub-command, from the argparse parser
  that the command itself uses (:func:`chatgenbench.cli.build_parser`);
- ``results-schema.md``: every documented key of the results JSON, from its single source
  (:func:`chatgenbench.scoring.result_schema.documented_keys`, which includes every registered
  metric);
- ``api/<stage>.md``: one API-reference page per stage folder (and ``baselines/``,
  ``leaderboard/``), listing every module whose name does not start with ``_``; mkdocstrings
  renders them from the docstrings.

The hook imports the checkout it lives in (not whatever ``chatgenbench`` is installed), so a build
documents the code next to it. Nothing is written into ``docs/``: the pages exist only in the build.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: API-reference pages: the page's file name, its title and the package it documents.
API_PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("index", "chatgenbench: the Python entry points", "chatgenbench"),
    ("core", "core: shared ground", "chatgenbench.core"),
    ("benchmark", "benchmark: loading and preparing the data", "chatgenbench.benchmark"),
    ("predictions", "predictions: reading and validation", "chatgenbench.predictions"),
    ("render", "render: the rendering engine", "chatgenbench.render"),
    ("metrics", "metrics: step-wise and image metrics", "chatgenbench.metrics"),
    ("scoring", "scoring: evaluate() and the results", "chatgenbench.scoring"),
    ("analysis", "analysis: compare, ablate, pairwise", "chatgenbench.analysis"),
    ("testing", "testing: random-weight builders", "chatgenbench.testing"),
    ("cli", "cli: the command line", "chatgenbench.cli"),
    ("baselines", "baselines: the adapters", "baselines"),
    ("leaderboard", "leaderboard: the web app and its store", "leaderboard"),
)

#: Width the CLI help is wrapped to, whatever the terminal of the build.
HELP_COLUMNS = "100"


def _import_checkout() -> None:
    """Put this checkout first on ``sys.path``, so its code (not an installed copy) is documented."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def package_modules(package: str) -> list[str]:
    """Return ``package`` and its public modules (no leading ``_``), sorted, as dotted names."""
    if package == "chatgenbench":  # the top package alone: its stages have their own pages
        return [package]
    folder = ROOT.joinpath(*package.split("."))
    names = [package]
    for path in sorted(folder.glob("*.py")):
        if not path.stem.startswith("_"):
            names.append(f"{package}.{path.stem}")
    return names


def api_page(title: str, package: str) -> str:
    """Return the Markdown of one API-reference page: a mkdocstrings block per module."""
    lines = [f"# {title}", ""]
    for module in package_modules(package):
        lines += [f"::: {module}", "    options:", "      heading_level: 2", ""]
    return "\n".join(lines)


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """Return ``(name, parser)`` of each sub-command of ``parser``, in the order ``--help`` shows."""
    found = []
    for action in parser._actions:  # argparse keeps sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:  # an alias maps to the same parser: list it once
                    seen.add(id(sub))
                    found.append((name, sub))
    return found


def _walk(parser: argparse.ArgumentParser, path: list[str], out: list[str]) -> None:
    """Append the help of ``parser`` and, depth first, of each of its sub-commands to ``out``."""
    if path:
        level = "#" * min(len(path) + 1, 4)
        out += [f"{level} `chatgenbench {' '.join(path)}`", ""]
    out += ["```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in _subcommands(parser):
        _walk(sub, [*path, name], out)


def cli_reference() -> str:
    """Return the CLI reference page: the help of every command, from the command's own parser."""
    _import_checkout()
    from chatgenbench.cli import build_parser

    with _environment(COLUMNS=HELP_COLUMNS):
        parser = build_parser()
        out = [
            "# CLI reference",
            "",
            "Generated from the command's own argument parser "
            "(`chatgenbench.cli.build_parser`) when this site is built: it is the `--help` of "
            "every command, exactly as the installed command prints it.",
            "",
        ]
        _walk(parser, [], out)
    return "\n".join(out)


def schema_reference() -> str:
    """Return the results-schema page: every documented key and its meaning, from the schema."""
    _import_checkout()
    from chatgenbench.scoring.result_schema import SCHEMA_VERSION, documented_keys

    out = [
        "# Results schema",
        "",
        f"Schema version **{SCHEMA_VERSION}**. Generated when this site is built from "
        "`chatgenbench/scoring/result_schema.py`, the single description of the results JSON "
        "(`chatgenbench schema` prints the same keys). `<setting>` stands for any setting "
        "(`supervised`, `few_shot`) and `<type>` for any input type (`single`, `multimodal`, "
        "`history`); every key under `settings.<setting>` is also present under `overall` and "
        "under `settings.<setting>.by_input_type.<type>`. The metric keys come from the metric "
        "registry, so a metric you register appears here too.",
        "",
        "Every metric is an object with a `status`:",
        "",
        "- `computed`: `value` holds the number (step-wise metrics in [0, 1] or rescaled "
        "BERTScore; image metrics on the paper's ×100 scale), `n` the number of samples it "
        "averages over;",
        "- `not_computed`: `value` is null; `reason` says why and, where it applies, "
        "`how_to_fix` the command that makes it computable. A metric is never estimated or "
        "filled in;",
        "- `oracle`: a step-wise metric of a step whose reference values were given "
        "(`evaluate --oracle`): `value` is null, `reason` says which step.",
        "",
        "| key | meaning |",
        "|---|---|",
    ]
    for key, meaning in documented_keys().items():
        out.append(f"| `{key}` | {_table_cell(meaning)} |")
    out.append("")
    return "\n".join(out)


def _table_cell(text: str) -> str:
    """Escape what would break a Markdown table cell or be read as markup."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")


@contextlib.contextmanager
def _environment(**values: str):
    """Set environment variables for the duration of the block, then restore them."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def generated_pages() -> dict[str, str]:
    """Return every generated page, as ``{path under docs/: Markdown}``."""
    pages = {"cli.md": cli_reference(), "results-schema.md": schema_reference()}
    for page, title, package in API_PACKAGES:
        pages[f"api/{page}.md"] = api_page(title, package)
    return pages


def on_files(files, config):
    """MkDocs event: add the generated pages to the site's files (before the navigation is built)."""
    from mkdocs.structure.files import File

    for path, content in generated_pages().items():
        existing = files.get_file_from_path(path)
        if existing is not None:  # a stale hand-written copy must not shadow the generated page
            files.remove(existing)
        files.append(File.generated(config, path, content=content))
    return files
