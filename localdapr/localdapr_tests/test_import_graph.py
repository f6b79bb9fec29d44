"""localdapr's own modules import one another in one direction only: no import cycle.

Every module of `localdapr/src/localdapr` is parsed with `ast` (nothing is imported).
Imports anywhere in a module count, at module level, in functions or under
`TYPE_CHECKING`: a cycle hidden in a late import is still a cycle. `from . import x`
and `from localdapr import x` both point at the module `x` when it is one, else at the
package; a package's `__init__` is a node of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import localdapr

SOURCE = Path(localdapr.__file__).parent
PACKAGE = "localdapr"


def module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(SOURCE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SOURCE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The localdapr modules that module `name` (at `path`) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                # `from pkg import x` imports the module pkg.x if there is one, else a name of pkg.
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in known else source)
    return {m for m in found if m in known and m != name} | ({name} & found)


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def tangles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module, or of a module importing
    itself (Tarjan's algorithm): each module of one imports every other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(components, key=min)


def shortest_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module, breadth-first inside it."""
    start = min(component)
    paths = {w: [start, w] for w in sorted(graph[start]) if w in component}
    queue = list(paths)
    while start not in paths:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w in component and w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return paths[start]


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle for each tangle."""
    return [shortest_cycle(graph, component) for component in tangles(graph)]


def test_the_graph_sees_every_module_and_import() -> None:
    """A check of the checker: it finds localdapr's modules and a known import."""
    graph = import_graph()
    assert {"localdapr", "localdapr.cli", "localdapr.state", "localdapr.state.store"} <= set(graph)
    assert "localdapr.cli" in graph["localdapr.__main__"]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}) == [["a", "b", "c", "a"], ["d", "d"]]


def test_localdapr_has_no_import_cycle() -> None:
    graph = import_graph()
    report = []
    for component in tangles(graph):
        report.append(f"{len(component)} modules import each other: {', '.join(sorted(component))}")
        report.append("  for instance: " + " -> ".join(shortest_cycle(graph, component)))
    print("\n".join(report))
    assert not report, "import cycles:\n" + "\n".join(report)
