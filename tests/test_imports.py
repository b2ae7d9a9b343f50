"""The import graph of keras_profiler: no circle, and sweeps never import the CLI.

Only module-level imports count (those run when a module is imported); an
import inside a function runs later and cannot make a circle at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where each package's files are (setup.cfg's package_dir).
PACKAGE_DIRS = {
    "keras_profiler": ROOT / "keras_profiler",
    "keras_profiler.models": ROOT / "models",
    "keras_profiler.datasets": ROOT / "datasets",
}


def modules() -> dict[str, Path]:
    """Every module of keras_profiler, by dotted name."""
    found = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def module_level_imports(tree: ast.Module):
    """Import statements run at import time: not inside a function or class."""
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            pending.extend(ast.iter_child_nodes(node))
        elif hasattr(ast, "TryStar") and isinstance(node, ast.TryStar):
            pending.extend(ast.iter_child_nodes(node))
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The keras_profiler modules that module ``name`` imports at module level."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    result = set()
    for node in module_level_imports(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # "from package import name": name is a submodule or an attribute.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        result.update(t for t in targets if t in known and t != name)
    return result


def import_graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imported(name, path, set(found)) for name, path in found.items()}


def a_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, as the modules along it, or None."""
    state: dict[str, str] = {}  # "open" while on the path, "done" after
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state:
                circle = visit(target)
                if circle:
                    return circle
        state[name] = "done"
        path.pop()
        return None

    for name in sorted(graph):
        if name not in state:
            circle = visit(name)
            if circle:
                return circle
    return None


def test_the_graph_is_read_from_the_sources():
    graph = import_graph()
    # Known edges: if these fail, the parser of imports is wrong, not the code.
    assert "keras_profiler.config" in graph["keras_profiler.cli"]
    assert "keras_profiler.options" in graph["keras_profiler.config"]
    assert "keras_profiler.datasets" in graph["keras_profiler.datasets.synthetic"]  # relative
    assert "keras_profiler.sweep.cli" in graph["keras_profiler.cli"]


def test_a_circle_is_found_where_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert a_circle(graph) == ["a", "b", "c", "a"]
    assert a_circle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_in_keras_profiler():
    assert a_circle(import_graph()) is None


def test_sweeps_do_not_import_the_command_line():
    graph = import_graph()
    sweep = [name for name in graph if name.startswith("keras_profiler.sweep")]
    assert len(sweep) >= 5
    offenders = [name for name in sweep if "keras_profiler.cli" in graph[name]]
    assert offenders == []
