"""lamina's modules import one another without a cycle, imports inside functions included.

The graph is read from the source with ``ast`` (every ``import`` and ``from ... import`` at any
depth), so an import hidden in a function body to dodge a circle counts as much as one at
the top of a module. Importing ``lamina.a.b`` runs ``lamina/a/__init__.py`` first, so that
package counts too (except for its own modules, and except the root facade ``lamina``).
Only the modules that need an optional heavy dependency may be imported inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lamina

ROOT = Path(lamina.__file__).parent


def _module_name(path: Path) -> str:
    parts = ("lamina",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (never executed)."""
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING"
            for child in node.body for n in ast.walk(child)}
    return (node for node in ast.walk(tree) if id(node) not in skip)


#: lamina modules that need matplotlib (``lamina.viz``) or start the demo: the ones that may
#: be imported inside a function, so that ``import lamina`` does not pull them in.
OPTIONAL = ("lamina.viz", "lamina.demo")


def _function_imports(tree: ast.AST) -> set[int]:
    """Ids of the import nodes inside a function body."""
    return {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}


def import_graph(lazy: list | None = None) -> dict[str, set[str]]:
    """Module -> the lamina modules it imports (a package import counts as its ``__init__``,
    and so do the packages above the imported module). ``lazy`` collects
    ``(module, target)`` for imports inside functions."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        in_functions = _function_imports(tree)
        for node in _runtime_nodes(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, path.name == "__init__.py", node)
                # ``from pkg import mod`` imports pkg.mod when that is a module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            for target in targets:
                while target and target not in files:  # lamina.x.y.attr -> lamina.x.y
                    target = target.rpartition(".")[0]
                if not target.startswith("lamina") or target == name:
                    continue
                if id(node) in in_functions and lazy is not None:
                    lazy.append((name, target))
                if id(node) in in_functions and target.startswith(OPTIONAL):
                    continue  # an optional dependency, loaded when used
                graph[name].add(target)
                parts = target.split(".")
                for i in range(2, len(parts)):  # the packages run on the way
                    package = ".".join(parts[:i])
                    if package in files and not (name == package
                                                 or name.startswith(package + ".")):
                        graph[name].add(package)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_imports_inside_functions_are_only_for_optional_dependencies():
    lazy: list = []
    import_graph(lazy)
    hidden = [(m, t) for m, t in lazy if not t.startswith(OPTIONAL)]
    assert not hidden, f"lamina modules imported inside functions: {hidden}"


def test_lamina_has_no_import_cycle():
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles among lamina's modules:\n" + "\n".join(
        " <-> ".join(c) for c in cycles)
