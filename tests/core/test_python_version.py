"""One Python version, declared once and true: what ``setup.cfg`` requires is what ruff targets,
what the classifiers name, and what the code needs (no newer syntax, no newer standard-library
names).

The code uses ``datetime.UTC`` (3.11), so 3.10 cannot be the minimum; CI runs the minimum.
"""

from __future__ import annotations

import ast
import configparser
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("chatgenbench", "baselines", "leaderboard", "benchmarks", "tests")

#: Standard-library names added after 3.10, by the version that added them. Not every one (a
#: method such as ``Path.walk`` cannot be told from its name), but the ones a hand reaches for.
NEWER_NAMES: dict[tuple[int, int], set[str]] = {
    (3, 11): {
        "datetime.UTC",
        "tomllib",
        "typing.Self",
        "typing.LiteralString",
        "typing.Never",
        "typing.assert_never",
        "typing.NotRequired",
        "typing.Required",
        "enum.StrEnum",
        "hashlib.file_digest",
        "contextlib.chdir",
        "asyncio.TaskGroup",
    },
    (3, 12): {
        "itertools.batched",
        "typing.override",
        "typing.TypeAliasType",
        "collections.abc.Buffer",
        "math.sumprod",
        "os.path.splitroot",
        "calendar.Month",
        "calendar.Day",
        "sys.monitoring",
    },
    (3, 13): {
        "warnings.deprecated",
        "typing.TypeIs",
        "typing.ReadOnly",
        "typing.get_protocol_members",
        "typing.is_protocol",
        "copy.replace",
        "math.fma",
        "os.process_cpu_count",
        "queue.ShutDown",
        "base64.z85encode",
    },
    (3, 14): {"annotationlib", "compression.zstd", "string.templatelib"},
}


def _declared_minimum() -> tuple[int, int]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    found = re.fullmatch(r">=\s*3\.(\d+)", config["options"]["python_requires"].strip())
    assert found, "python_requires should read '>=3.N'"
    return 3, int(found.group(1))


def _sources() -> list[Path]:
    return sorted(path for folder in FOLDERS for path in (ROOT / folder).rglob("*.py"))


def test_the_declared_minimum_is_what_ruff_targets():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    major, minor = _declared_minimum()
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{major}{minor}"


def test_the_classifiers_name_the_minimum_and_nothing_older():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    classifiers = config["metadata"]["classifiers"].split("\n")
    versions = [
        tuple(int(part) for part in line.rsplit("::", 1)[1].strip().split("."))
        for line in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", line.strip())
    ]
    assert versions and min(versions) == _declared_minimum()


def test_the_interpreter_running_the_tests_is_not_older_than_the_minimum():
    import sys

    assert sys.version_info[:2] >= _declared_minimum()


def test_no_module_uses_syntax_newer_than_the_minimum():
    refused = {}
    for path in _sources():
        try:
            ast.parse(path.read_text("utf-8"), str(path), feature_version=_declared_minimum())
        except SyntaxError as error:
            refused[str(path.relative_to(ROOT))] = f"line {error.lineno}: {error.msg}"
    assert not refused, refused


def _dotted_names(tree: ast.AST) -> set[str]:
    """Return ``module.name`` for every import and every ``name.attribute`` of an imported module."""
    names: set[str] = set()
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.add(alias.name)
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in aliases:
                names.add(f"{aliases[node.value.id]}.{node.attr}")
    return names


def test_no_module_uses_standard_library_names_newer_than_the_minimum():
    minimum = _declared_minimum()
    newer = {name for version, found in NEWER_NAMES.items() if version > minimum for name in found}
    used = {}
    for path in _sources():
        for name in _dotted_names(ast.parse(path.read_text("utf-8"))) & newer:
            used.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert not used, f"newer than Python {minimum[0]}.{minimum[1]}: {used}"


def test_the_scan_finds_newer_names_however_they_are_imported():
    code = "import itertools as it\nfrom typing import override\nit.batched([1, 2], 1)\n"
    assert {"itertools.batched", "typing.override"} <= _dotted_names(ast.parse(code))
