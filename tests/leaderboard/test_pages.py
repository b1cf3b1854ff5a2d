"""Backend and page apart: only the leaderboard's pages import ``streamlit``.

The model is ``votes.py`` (the store and the statistics: the backend decides) beside
``vote_tab.py`` (the page: it reads); ``gallery.py`` and ``gallery_tab.py`` are the same pair. A
backend module is what tests and ``benchmarks/`` import without a user interface, so it never
imports ``streamlit`` or ``altair``, not even inside a function.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEADERBOARD = ROOT / "leaderboard"
#: The modules that lay a page out: the app and one module per tab.
PAGES = {"app"} | {path.stem for path in LEADERBOARD.glob("*_tab.py")}
UI_PACKAGES = ("streamlit", "altair")


def _imported_packages(path: Path) -> set[str]:
    """Return the top-level packages a module imports anywhere in its text."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_pages_are_the_app_and_one_module_per_tab():
    assert {"app", "vote_tab", "gallery_tab"} <= PAGES


@pytest.mark.parametrize(
    "module", sorted(p.stem for p in LEADERBOARD.glob("*.py") if p.stem not in PAGES)
)
def test_a_backend_module_imports_no_user_interface(module):
    used = _imported_packages(LEADERBOARD / f"{module}.py") & set(UI_PACKAGES)
    assert not used, f"leaderboard/{module}.py imports {sorted(used)}: move that code to a page"


def test_the_gallery_and_votes_backends_load_without_streamlit():
    """What they import, all the way down, brings no user interface in either."""
    code = (
        "import sys, leaderboard.gallery, leaderboard.votes\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {UI_PACKAGES!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
