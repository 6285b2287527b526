"""The import layering of i2i, as CONTRIBUTING.md states it: every package or top-level
module of ``i2i`` sits in one layer, and a module imports only from its own package and
from lower layers. Imports inside functions and under ``TYPE_CHECKING`` count too. No two
packages import each other and no modules form a cycle."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRIBUTING = ROOT / "CONTRIBUTING.md"


def layers_from_contributing(text: str) -> list[list[str]]:
    """The layers (lowest first) from CONTRIBUTING.md's ``### Import layers`` table: each row
    ``| N | `unit`, `unit` | what |`` names packages (``data``) or modules (``errors.py``)."""
    section = text.split("### Import layers", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit():
            rows.append((int(cells[0]), [u.removesuffix(".py") for u in re.findall(r"`([^`]+)`", cells[1])]))
    return [units for _, units in sorted(rows)]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str:
    """The layer unit of an ``i2i`` module: ``i2i.engine.trainer`` -> ``engine``, ``i2i`` -> ``i2i``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "i2i"


def project_imports(path: Path, module: str, known: set[str]) -> list[tuple[str, int]]:
    """Every ``i2i`` module ``path`` imports (anywhere in the file), with its line."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names] + [target]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.append((name, node.lineno))
                break
    return found


def import_graph(root: Path = ROOT) -> dict[str, list[tuple[str, int]]]:
    files = {module_name(p): p for p in (root / "i2i").rglob("*.py")}
    return {m: project_imports(p, m, set(files)) for m, p in files.items()}


def violations(graph: dict[str, list[tuple[str, int]]], layers: list[list[str]]) -> list[str]:
    """Imports of a unit from a higher layer, or from another unit of the same layer."""
    rank = {unit: i for i, units in enumerate(layers) for unit in units}
    problems = []
    for module, imports in sorted(graph.items()):
        here = unit_of(module)
        if here not in rank:
            problems.append(f"{module}: its unit {here!r} is in no layer of CONTRIBUTING.md")
            continue
        for target, line in imports:
            there = unit_of(target)
            if there == here:
                continue
            if there not in rank or rank[there] >= rank[here]:
                problems.append(f"{module}:{line} imports {target} (layer {rank.get(there)} >= {rank[here]})")
    return problems


def cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w, _ in graph.get(v, []):
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


def mutual_packages(graph: dict[str, list[tuple[str, int]]]) -> set[tuple[str, str]]:
    edges = defaultdict(set)
    for module, imports in graph.items():
        for target, _ in imports:
            if unit_of(module) != unit_of(target):
                edges[unit_of(module)].add(unit_of(target))
    return {tuple(sorted((a, b))) for a in edges for b in edges[a] if a in edges.get(b, ())}


@pytest.fixture(scope="module")
def graph():
    return import_graph()


@pytest.fixture(scope="module")
def layers():
    return layers_from_contributing(CONTRIBUTING.read_text())


def test_every_unit_of_i2i_is_in_one_layer(layers):
    listed = [u for units in layers for u in units]
    assert len(listed) == len(set(listed)), "a unit is in two layers"
    units = {p.stem if p.is_file() else p.name for p in (ROOT / "i2i").iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())}
    assert units | {"i2i"} == set(listed)


def test_imports_go_down_the_layers(graph, layers):
    assert violations(graph, layers) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_no_two_packages_import_each_other(graph):
    assert mutual_packages(graph) == set()


def test_an_upward_import_is_caught(layers):
    """The checks can fail: the tree's graph plus ``nn`` importing the engine (upward), then
    the engine importing that module back (a cycle)."""
    graph = import_graph()
    graph["i2i.nn.layers"] = [*graph["i2i.nn.layers"], ("i2i.engine.trainer", 1)]
    assert f"i2i.nn.layers:1 imports i2i.engine.trainer (layer {_rank(layers, 'engine')} >= {_rank(layers, 'nn')})" \
        in violations(graph, layers)
    graph["i2i.engine.trainer"] = [*graph["i2i.engine.trainer"], ("i2i.nn.layers", 1)]
    assert ("engine", "nn") in mutual_packages(graph)
    assert any({"i2i.nn.layers", "i2i.engine.trainer"} <= set(component) for component in cycles(graph))


def _rank(layers: list[list[str]], unit: str) -> int:
    return next(i for i, units in enumerate(layers) if unit in units)
