"""The package's layout: imports go downward only, so the import graph of gitxp has no cycle, counting imports
inside functions and type-only imports too (issue 10, item 5)."""

from __future__ import annotations

import ast
from pathlib import Path

import gitxp

ROOT = Path(gitxp.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{parent}.{base}" if base else parent
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                found = owner(target) if target.startswith("gitxp") else None
                if found and found != name and not name.startswith(found + "."):
                    graph[name].add(found)  # (a module's own packages are imported with it: not an edge)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_cycle() -> None:
    modules = _modules()
    assert "gitxp.store.writer" in modules and "gitxp.run" in modules
    graph = _graph(modules)
    assert "gitxp.store.area" in graph["gitxp.store.writer"]  # the graph is read, not empty
    assert _cycles(graph) == []


def test_a_cycle_is_found() -> None:  # the check itself can fail
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


MAX_LINES = 410  # modules of ~400 lines at most (docs/design.md, Layers): a little slack, no more


def test_no_module_is_over_the_line_limit() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert sizes["gitxp.query"] > 100  # the sizes are read, not empty
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


# ---------------------------------------------------------------------- the map (docs/design.md, "The map")

DESIGN = ROOT.parent / "docs" / "design.md"
ABOVE_THE_MAP = {"gitxp", "gitxp.__main__"}  # the lazy facade and ``python -m gitxp``


def _the_map() -> list[tuple[str, set[str]]]:
    """The rows of docs/design.md's map, top to bottom: (unit, the units it may import)."""
    text = DESIGN.read_text()
    table = text[text.index("## The map") :].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")] if line.startswith("| `") else []
        if cells:
            unit = cells[0].strip("`").removesuffix("/").removesuffix(".py")
            rows.append((unit, {name.strip() for name in cells[-1].split(",") if name.strip()}))
    return rows


def _unit(module: str) -> str:
    """``gitxp.run.core`` -> ``run``; ``gitxp.errors`` -> ``errors``; the facade is itself."""
    return module if module in ABOVE_THE_MAP else module.split(".")[1]


def test_the_map_names_every_package_and_only_goes_down() -> None:
    rows = _the_map()
    units = [unit for unit, _ in rows]
    assert len(units) > 10 and "run" in units and len(set(units)) == len(units)
    on_disk = {_unit(name) for name in _modules() if name not in ABOVE_THE_MAP}
    assert on_disk == set(units), "every package and top-level module has a row in docs/design.md's map"
    for place, (unit, allowed) in enumerate(rows):
        below = set(units[place + 1 :])
        assert allowed <= below, f"{unit} may import only rows below it: {sorted(allowed - below)} are not"


def _upward(graph: dict[str, set[str]], allowed: dict[str, set[str]]) -> list[str]:
    """The imports of ``graph`` from one unit to another that its row of the map does not allow."""
    return sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        if name not in ABOVE_THE_MAP
        for target in targets
        if _unit(target) != _unit(name) and _unit(target) not in allowed[_unit(name)] | {"errors"}
    )


def test_imports_only_go_down_along_the_map() -> None:
    graph = _graph(_modules())
    assert "gitxp.store" in graph["gitxp.run.core"]  # the graph is read
    assert _upward(graph, dict(_the_map())) == []


def test_an_upward_import_is_found() -> None:  # the check itself can fail
    allowed = dict(_the_map())
    graph = {"gitxp.store.core": {"gitxp.git.repo", "gitxp.errors", "gitxp.cli.output"}, "gitxp.cli": set()}
    assert _upward(graph, allowed) == ["gitxp.store.core imports gitxp.cli.output"]


# ---------------------------------------------------------------------- no reaching into another module's privates

_ACCESSORS = ("getattr", "setattr", "hasattr", "delattr")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _on_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _owned(tree: ast.Module) -> set[str]:
    """The private names a module defines: its defs and classes (methods and nested ones too), its module-level
    and class-level names, and the attributes it sets (or declares) on ``self`` / ``cls``."""
    names: set[str] = set()

    def top_level(body: list[ast.stmt]) -> None:  # the names a module or class body assigns (in if/try too)
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
            for field in ("body", "orelse", "finalbody", "handlers"):
                top_level(getattr(stmt, field, []))

    top_level(tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _on_self(node.value):
            names.add(node.attr)
    return {name for name in names if _private(name)}


def _reaches(sources: dict[str, str]) -> list[str]:
    """Where a module of ``sources`` (module name -> code) imports another gitxp module's private name, or reads or
    sets (``obj._name``, ``getattr(obj, "_name")``) an attribute private to another module: one defined there and
    not in the module itself. Third-party privates (``sys._getframe``) are not gitxp's names: not counted here."""
    trees = {name: ast.parse(code) for name, code in sources.items()}
    owned = {name: _owned(tree) for name, tree in trees.items()}
    out = []
    for name, tree in trees.items():
        others = set().union(*(names for other, names in owned.items() if other != name))
        theirs = others - owned[name]
        for node in ast.walk(tree):
            found = None
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("gitxp")):
                hits = [a.name for a in node.names if _private(a.name)]
                found = f"from {node.module} import {', '.join(hits)}" if hits else None
            elif isinstance(node, ast.Import):
                hits = [
                    a.name
                    for a in node.names
                    if a.name.startswith("gitxp") and any(_private(part) for part in a.name.split("."))
                ]
                found = f"import {', '.join(hits)}" if hits else None
            elif isinstance(node, ast.Attribute) and node.attr in theirs and not _on_self(node.value):
                found = ast.unparse(node)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in _ACCESSORS
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in theirs
                and not _on_self(node.args[0])
            ):
                found = ast.unparse(node)
            if found:
                out.append(f"{name}:{node.lineno}: {found}")
    return sorted(set(out))


def test_no_module_reaches_into_another_modules_privates() -> None:
    sources = {name: path.read_text() for name, path in _modules().items()}
    assert "_flush" in _owned(ast.parse(sources["gitxp.run.curves"]))  # the names are read
    assert _reaches(sources) == []


def test_reaching_into_privates_is_found() -> None:  # the check itself can fail
    sources = {
        "gitxp.a": "_TABLE = {}\nclass A:\n    def __init__(self):\n        self._state = 1\n"
        "    def _step(self):\n        return self._state\n",
        "gitxp.b": "from gitxp.a import _TABLE, A\nimport sys\n\ndef f(a):\n    a._state = 2\n"
        "    getattr(a, '_step')()\n    return a.__dict__, sys._getframe(), a._unknown\n",
        "gitxp.c": "class C:\n    _state: int\n    def g(self, other):\n        return other._state\n",
    }
    assert _reaches(sources) == [
        "gitxp.b:1: from gitxp.a import _TABLE",
        "gitxp.b:5: a._state",
        "gitxp.b:6: getattr(a, '_step')",
    ]
