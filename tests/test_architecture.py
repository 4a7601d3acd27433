"""The layers keep to themselves: no import cycles, storage without Qt, the GUI without SQL.

Imports are read with ``ast`` from the source (nothing is imported); imports under
``if TYPE_CHECKING:`` are for type checkers only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "sandbox_admin"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST):
    """Import nodes that run (anything but the body of ``if TYPE_CHECKING:``)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _runtime_imports_of(child))
            continue
        yield from _runtime_imports_of(node)


def _runtime_imports_of(node: ast.AST):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    elif not (isinstance(node, ast.If) and _is_type_checking(node)):
        yield from _runtime_imports(node)


def imports_of(name: str) -> tuple[set[str], set[str]]:
    """(modules of this package it imports, top-level names of outside packages)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    inside: set[str] = set()
    outside: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (inside if alias.name.startswith(PACKAGE) else outside).add(
                    alias.name if alias.name.startswith(PACKAGE) else alias.name.split(".")[0])
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if not target.startswith(PACKAGE):
            outside.add(target.split(".")[0])
            continue
        ancestor = name.startswith(target + ".")
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            if sub in MODULES:
                inside.add(sub)  # a submodule: the edge goes to it
            elif target in MODULES:
                inside.add(target)  # a name defined in that module
        if target in MODULES and not ancestor:
            inside.add(target)  # importing from a package runs its __init__
    inside.discard(name)
    return inside, outside


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v][0]:
            if w not in GRAPH:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle():
    assert cycles() == []


def test_the_cycle_finder_finds_a_cycle():
    GRAPH["sandbox_admin.storage.errors"][0].add("sandbox_admin.storage.store")
    try:
        assert any("sandbox_admin.storage.errors" in c for c in cycles())
    finally:
        GRAPH["sandbox_admin.storage.errors"][0].discard("sandbox_admin.storage.store")


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith(f"{PACKAGE}.storage")))
def test_storage_imports_no_qt_cli_or_gui(name):
    inside, outside = GRAPH[name]
    assert not outside & {"PySide6", "pyqtgraph", "superqt", "shiboken6"}
    assert not {m for m in inside if m.startswith((f"{PACKAGE}.gui", f"{PACKAGE}.cli",
                                                    f"{PACKAGE}.paths", f"{PACKAGE}.demo"))}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith(f"{PACKAGE}.gui")))
def test_the_gui_runs_no_sql_of_its_own(name):
    """Queries belong to storage; the job runner may hold a connection to interrupt it."""
    _, outside = GRAPH[name]
    allowed = {"sqlite3"} if name == f"{PACKAGE}.gui.jobs" else set()
    assert not (outside & {"peewee", "playhouse", "sqlite3"}) - allowed


def test_nothing_outside_storage_imports_a_private_storage_name():
    offenders = []
    for name, path in MODULES.items():
        if name.startswith(f"{PACKAGE}.storage"):
            continue
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and "storage" in (node.module or ""):
                offenders += [f"{name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert offenders == []


def test_no_storage_module_is_over_600_lines():
    long = {name: n for name, path in MODULES.items() if name.startswith(f"{PACKAGE}.storage")
            and (n := len(path.read_text().splitlines())) > 600}
    assert long == {}
