"""The shape of the code: no import cycles, and the layers import only downwards."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("chatgenbench", "baselines", "leaderboard")


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


def test_no_import_cycles():
    assert _cycles(_imports()) == []


def test_the_layers_import_downwards():
    graph = _imports()
    for module, targets in graph.items():
        if module.startswith("chatgenbench.") and not module.startswith("chatgenbench.cli"):
            assert not {t for t in targets if t.startswith("leaderboard")}, module
        if not module.startswith(("chatgenbench.testing", "chatgenbench.cli")):
            assert not {t for t in targets if t.startswith("chatgenbench.testing")}, module
        if module.startswith("baselines.") and module.split(".")[1] in ADAPTER_MODULES:
            adapters = {t for t in targets if t.split(".")[-1] in ADAPTER_MODULES}
            assert not adapters - {module}, f"{module} imports another adapter: {adapters}"


ADAPTER_MODULES = {"no_finetune", "retrieval", "chatgen_base", "chatgen_evo"}


def test_the_checks_see_the_imports():
    graph = _imports()
    assert "chatgenbench.benchmark" in graph["chatgenbench.evaluation"]
    assert "chatgenbench.metrics.base" in graph["chatgenbench.metrics.fid"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
