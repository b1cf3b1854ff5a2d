"""Every missing-extra message names the install from the package index and from a clone, through
one helper; the extras it names exist in setup.cfg."""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

import pytest

from chatgenbench.cli import main
from chatgenbench.core.extras import EXTRA_OF_MODULE, EXTRAS, install_commands, missing_extra

ROOT = Path(__file__).resolve().parents[2]


def _setup_extras() -> dict[str, str]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg")
    return dict(config["options.extras_require"])


def test_the_extras_named_are_setup_cfg_s():
    declared = _setup_extras()
    assert set(EXTRAS) == set(declared)
    for module, extra in EXTRA_OF_MODULE.items():
        listed = re.findall(r"^\s*([A-Za-z0-9_.-]+)", declared[extra], re.M)
        names = {name.lower().replace("-", "_") for name in listed}
        assert module in names or {"open_clip": "open_clip_torch"}.get(module) in names, module


def test_a_missing_extra_names_both_installs():
    text = missing_extra("the leaderboard", "leaderboard", "streamlit is not installed")
    assert "pip install 'chatgenbench[leaderboard]'" in text
    assert "pip install -e '.[leaderboard]'" in text
    assert text.startswith("the leaderboard needs the 'leaderboard' extra (streamlit is not")
    with pytest.raises(ValueError, match="unknown extra"):
        install_commands("leaderbord")


def test_leaderboard_without_streamlit_names_the_package_install(monkeypatch, capsys, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "streamlit" else real(name, *a),
    )
    assert main(["leaderboard", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert (
        "pip install 'chatgenbench[leaderboard]'" in err
        and "pip install -e '.[leaderboard]'" in err
    )


def test_a_command_that_meets_a_missing_extra_package_says_which_extra(monkeypatch, capsys):
    import chatgenbench.scoring.result_schema as result_schema

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'open_clip'", name="open_clip")

    monkeypatch.setattr(result_schema, "documented_keys", missing)
    assert main(["schema"]) == 2
    err = capsys.readouterr().err
    assert "needs the 'metrics' extra" in err and "pip install 'chatgenbench[metrics]'" in err

    def unrelated(*args, **kwargs):  # not an extra's package: not blamed on one
        raise ModuleNotFoundError("No module named 'nothing_of_ours'", name="nothing_of_ours")

    monkeypatch.setattr(result_schema, "documented_keys", unrelated)
    with pytest.raises(ModuleNotFoundError):
        main(["schema"])


def test_no_hand_written_install_hint_for_an_extra_outside_the_helper():
    """A message string (not a docstring) naming ``pip install ...[extra]`` is written by
    :func:`missing_extra` only, so that none names one install and not the other."""
    pattern = re.compile(r"pip install[^'\"]*\[\w+\]|chatgenbench\[\w+\]|\.\[\w+\]")
    found = []
    for folder in ("chatgenbench", "leaderboard", "baselines"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "extras.py" and path.parent.name == "core":
                continue
            tree = ast.parse(path.read_text("utf-8"))
            docstrings = {
                id(node.body[0].value)
                for node in ast.walk(tree)
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and node.body and isinstance(node.body[0], ast.Expr)
                and isinstance(node.body[0].value, ast.Constant)
            }  # fmt: skip
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in docstrings
                    and pattern.search(node.value)
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:80]!r}")
    assert not found, found
