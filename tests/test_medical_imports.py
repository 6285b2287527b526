"""i2i/medical imports one way: nothing from the packages above it (inference, evaluation,
engine, workflow, cli), and no cycle among its own modules, counting imports made inside
functions. Before: medical.dicom -> dicom_series -> io -> dicom through function-level
imports. ``medical/formats.py`` (the predict formats, which build on the Format class of
i2i.inference) is the one exception until that class moves below."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

MEDICAL = ROOT / "i2i" / "medical"
ABOVE = ("i2i.inference", "i2i.evaluation", "i2i.engine", "i2i.workflow", "i2i.cli", "i2i.api")


def imported(path) -> set[str]:
    """Every i2i module ``path`` imports, at any depth (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("i2i.")}


def test_medical_imports_nothing_above_it():
    for path in sorted(MEDICAL.glob("*.py")):
        if path.name == "formats.py":
            continue
        upward = sorted(name for name in imported(path) if name.startswith(ABOVE))
        assert not upward, f"i2i/medical/{path.name} imports {upward}"


def test_medical_modules_import_each_other_without_a_cycle():
    modules = {p.stem for p in MEDICAL.glob("*.py")} - {"__init__"}
    graph = {m: {name.split(".")[2] for name in imported(MEDICAL / f"{m}.py")
                 if name.startswith("i2i.medical.") and name.split(".")[2] in modules} - {m} for m in modules}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for other in sorted(graph[module]):
            assert state.get(other) != "open", f"import cycle: {' -> '.join([*path, other])}"
            if other not in state:
                visit(other, [*path, other])
        state[module] = "done"

    for module in sorted(modules):
        if module not in state:
            visit(module, [module])
