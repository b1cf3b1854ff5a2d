"""The shape of the code: one folder per stage of the flow, and a stage imports only the ones below.

Read bottom-up, the stages are the flow of a run: the shared ground, the benchmark, the
predictions, rendering, the metrics, scoring, the analyses over results; then the baselines (which
make predictions), the test builders, the leaderboard and the command line on top.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("chatgenbench", "baselines", "leaderboard")

#: The stages, bottom up. A module may import its own stage and any stage on a lower level, never
#: one on its own level (peers stay apart) or above.
STAGES: tuple[tuple[str, ...], ...] = (
    ("chatgenbench.core",),
    ("chatgenbench.benchmark",),
    ("chatgenbench.predictions",),
    ("chatgenbench.render",),
    ("chatgenbench.metrics",),
    ("chatgenbench.scoring",),
    ("chatgenbench.analysis", "baselines"),
    ("chatgenbench.testing",),
    ("leaderboard",),
    ("chatgenbench.cli",),
    ("chatgenbench", "chatgenbench.__main__"),  # the package's face and ``python -m``
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Return module -> the project modules it imports anywhere in its text (not TYPE_CHECKING)."""
    modules = {
        _module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []  # imports for type checkers only
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if target in modules and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def _stage(module: str) -> str:
    """Return the stage a module belongs to: the longest stage name that is it or contains it."""
    names = [name for level in STAGES for name in level]
    found = [n for n in names if module == n or module.startswith(n + ".")]
    assert found, f"{module} belongs to no stage"
    return max(found, key=len)


def _level(stage: str) -> int:
    return next(i for i, level in enumerate(STAGES) if stage in level)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def _stage_arrows(graph: dict[str, set[str]]) -> set[tuple[str, str, str, str]]:
    """Return (from stage, to stage, module, imported module) for every import between stages."""
    return {
        (_stage(module), _stage(target), module, target)
        for module, targets in graph.items()
        for target in targets
        if _stage(module) != _stage(target)
    }


def test_no_import_cycles():
    assert _cycles(_imports()) == []


def test_every_module_sits_in_a_stage_folder():
    flat = sorted(
        path.name
        for path in (ROOT / "chatgenbench").glob("*.py")
        if path.name not in {"__init__.py", "__main__.py"}
    )
    assert flat == [], "modules outside the stage folders"
    for path in (ROOT / "chatgenbench").rglob("*.py"):
        _stage(_module_name(path))  # raises for a folder that is no stage


def test_a_lower_stage_never_imports_a_higher_one():
    upward = sorted(
        f"{module} ({stage}) imports {target} ({to})"
        for stage, to, module, target in _stage_arrows(_imports())
        if _level(to) >= _level(stage)
    )
    assert upward == []


def test_adapters_import_support_modules_never_each_other():
    for module, targets in _imports().items():
        if module.startswith("baselines.") and module.split(".")[1] in ADAPTER_MODULES:
            adapters = {t for t in targets if t.split(".")[-1] in ADAPTER_MODULES}
            assert not adapters - {module}, f"{module} imports another adapter: {adapters}"


ADAPTER_MODULES = {"no_finetune", "retrieval", "chatgen_base", "chatgen_evo"}


def test_tests_mirror_the_stage_folders():
    stages = {name.split(".")[-1] for level in STAGES for name in level}
    folders = {
        p.parent.name for p in (ROOT / "tests").rglob("test_*.py") if p.parent.name != "tests"
    }
    assert folders <= stages, folders - stages
    # only the checks of the whole repository sit at the top: its layout and its documentation
    assert sorted(p.name for p in (ROOT / "tests").glob("test_*.py")) == [
        "test_docs.py",
        "test_layout.py",
    ]


def test_the_checks_see_the_imports():
    graph = _imports()
    assert "chatgenbench.benchmark.loading" in graph["chatgenbench.scoring.stages"]
    assert "chatgenbench.metrics.base" in graph["chatgenbench.metrics.fid"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _stage("chatgenbench.render.engine") == "chatgenbench.render"
    assert _stage("chatgenbench") == "chatgenbench"
    # an import from a lower stage to a higher one is seen
    arrows = _stage_arrows({"chatgenbench.core.storage": {"chatgenbench.scoring.results"}})
    assert {(s, t) for s, t, _, _ in arrows} == {("chatgenbench.core", "chatgenbench.scoring")}


#: No function longer than a screenful or two, tests included: a long one is split into named
#: steps (``validate_predictions``: one function checks a row's id, one a record's fields).
MAX_FUNCTION_LINES = 120


def test_no_function_is_longer_than_the_limit():
    too_long = {}
    for folder in (*PACKAGES, "benchmarks", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    name = f"{path.relative_to(ROOT).as_posix()}:{node.name}"
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        too_long[name] = lines
    assert not too_long, f"over {MAX_FUNCTION_LINES} lines (split into named steps): {too_long}"
