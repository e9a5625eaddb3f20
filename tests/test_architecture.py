"""The package's folders are the pipeline's stages, and imports only go down them.

Every import in ``forecast/`` (at module level or inside a function: both run) is read
with ``ast``. A module may import its own stage and the stages below it, never one above;
no import cycle exists between modules; and each stage's ``__init__`` says what it owns
and which stages it may import (checked against :data:`STAGES`).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "forecast"

#: The stages, lowest first: a module may import from its own stage and those before it.
STAGES = ("core", "evidence", "inputs", "fit", "simulate", "buffer", "explain", "checks", "report")
#: Modules above the stages: the library facade, the command line on it, ``python -m``.
TOP = ("api", "cli", "__main__")
LEVELS = {name: i for i, name in enumerate(STAGES + TOP)}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """Every forecast module ``name`` imports, anywhere in its code."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m.split(".")[0] == "forecast" and m != name}


GRAPH = {name: imports(name) for name in MODULES}


def level(name: str) -> int | None:
    """The module's stage (index in STAGES + TOP); None for ``forecast`` itself."""
    parts = name.split(".")
    return LEVELS[parts[1]] if len(parts) > 1 else None


def test_every_module_is_in_a_stage():
    assert {name.split(".")[1] for name in MODULES if "." in name} == set(LEVELS)


def test_no_import_goes_up_the_stages():
    upward = [
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in sorted(targets)
        if level(target) is not None and level(target) > level(name)
    ]
    assert not upward, "imports from a higher stage:\n" + "\n".join(upward)


def test_no_import_cycles():
    """Tarjan's strongly connected components: any component of two or more modules (or a
    module importing itself) is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(GRAPH[v] & MODULES.keys()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(MODULES):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_each_stage_says_what_it_owns_and_may_import():
    for i, stage in enumerate(STAGES):
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
        assert doc and doc.startswith(f"{stage}: "), stage
        may = doc.split("May import:")[-1].strip().rstrip(".")
        expected = ", ".join(STAGES[:i]) or "nothing else from forecast"
        assert "May import:" in doc and may == expected, (stage, may, expected)
    assert ast.get_docstring(ast.parse((PACKAGE / "cli" / "__init__.py").read_text()))


def test_stage_packages_import_nothing():
    """A stage's ``__init__`` holds its docstring only, so importing one module of a stage
    never loads the rest."""
    for stage in (*STAGES, "cli"):
        assert not GRAPH[f"forecast.{stage}"], stage
