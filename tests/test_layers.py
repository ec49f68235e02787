"""The layer rule of ``docs/architecture.md``, checked on the import statements of the tree.

Every ``import`` and ``from ... import`` of every project module is read with :mod:`ast`,
wherever it stands: at the top, inside a function, under ``if TYPE_CHECKING:`` or in a
``try``. Nothing is imported or run. The rules:

- ``model`` imports nothing of the project outside ``model``;
- ``solver`` imports only ``model`` and ``solver``;
- ``scenarios`` (reading inputs) imports only ``model`` and ``scenarios``;
- ``reports`` renders only: it imports no module of :data:`REPORTS_FORBIDDEN_MODULES`
  (the modules that solve an LP or compute allocations; ``solver.result``, the typed
  results, is what ``reports`` may use), no name of :data:`REPORTS_FORBIDDEN_NAMES` (the
  functions that simulate), and nothing of ``scenarios``, ``workflow`` or ``cli``: reading
  inputs and running scenarios is the workflow's work;
- ``workflow`` imports anything but ``cli``; ``cli`` anything;
- the build code of the shipped plan (:data:`BUILD_TOOLS`) may import anything, and no
  runtime module imports it;
- there is no import cycle between modules (functions' own imports included).

Module names are read with or without a leading ``reachplan.`` so the test holds before
and after the package is installed under one import name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROJECT = ("model", "solver", "scenarios", "reports", "workflow", "cli")
"""Top-level names of the project (folders, and ``cli.py``)."""

ALLOWED: dict[str, frozenset[str]] = {
    "model": frozenset({"model"}),
    "solver": frozenset({"model", "solver"}),
    "scenarios": frozenset({"model", "scenarios"}),
    "reports": frozenset({"model", "solver", "reports"}),
    "workflow": frozenset({"model", "solver", "scenarios", "reports", "workflow"}),
    "cli": frozenset(PROJECT),
}
"""Top-level layers each layer may import (itself included)."""

REPORTS_FORBIDDEN_MODULES = frozenset({
    "solver",  # the package re-exports allocate
    "solver.allocate",
    "solver.baseline",
    "solver.batch",
    "solver.diagnose",
    "solver.fast",
    "solver.frontier",
    "solver.highs",
    "solver.invariants",
    "solver.matrix",
    "solver.model",
    "solver.robust",
    "solver.sensitivity",
    "model.simulation.kernel",
    "model.simulation.sampling",
})
"""Modules ``reports`` may not import at all (matched exactly): they solve an LP, build
one, compute an allocation, or run the simulation kernel or its sampling."""

SIMULATION_MODULES = ("model.displacement", "model.simulation")
REPORTS_FORBIDDEN_NAMES = frozenset({"simulate", "sample_draws"})
"""Names ``reports`` may not import from :data:`SIMULATION_MODULES` (or any module below
them): the functions that simulate displacement futures."""

BUILD_TOOLS = ("scenarios.build_plan",)
"""The build code of the shipped plan (and the two former names of its scripts)."""


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``importer`` imports ``target`` (``names`` from it)."""

    importer: str
    target: str
    names: tuple[str, ...]
    line: int

    def __str__(self) -> str:
        what = f" ({', '.join(self.names)})" if self.names else ""
        return f"{self.importer}:{self.line} imports {self.target}{what}"


def _strip(name: str) -> str:
    return name.removeprefix("reachplan.")


def _top(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, modules: tuple[str, ...] | frozenset[str]) -> bool:
    return any(name == m or name.startswith(m + ".") for m in modules)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every project module by dotted name (a package by its own name)."""
    out: dict[str, Path] = {}
    for top in PROJECT:
        if (root / f"{top}.py").is_file():
            out[top] = root / f"{top}.py"
        folder = root / top
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports_of(module: str, source: str, is_package: bool, known: set[str]) -> list[Import]:
    """The project imports in ``source``, the text of ``module``.

    Parameters
    ----------
    module
        Dotted name of the module (relative imports are resolved against it).
    source
        Its Python source.
    is_package
        Whether it is a package's ``__init__``.
    known
        Names of the project's modules: ``from a import b`` is an import of ``a.b`` when
        ``a.b`` is a module, else of ``a``.
    """
    out = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _strip(alias.name)
                while target not in known and "." in target:
                    target = target.rpartition(".")[0]
                out.append(Import(module, target, (), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = _strip(node.module or "")
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:
                    out.append(Import(module, sub, (), node.lineno))
                else:
                    out.append(Import(module, target, (alias.name,), node.lineno))
    return [i for i in out if _top(i.target) in PROJECT]


def all_imports(root: Path = ROOT) -> list[Import]:
    """Every project import of every project module."""
    modules = project_modules(root)
    known = set(modules)
    out = []
    for name, path in modules.items():
        out += imports_of(name, path.read_text(encoding="utf-8"),
                          path.name == "__init__.py", known)
    return out


IMPORTS = all_imports()


def _runtime(i: Import) -> bool:
    return not _within(i.importer, BUILD_TOOLS)


def layer_violations(layer: str) -> list[str]:
    """Imports by ``layer`` of a layer it may not import."""
    return [str(i) for i in IMPORTS
            if _top(i.importer) == layer and _runtime(i) and _top(i.target) not in ALLOWED[layer]]


def reports_violations() -> list[str]:
    """Imports by ``reports`` of anything that solves, simulates, reads inputs or runs."""
    bad = []
    for i in IMPORTS:
        if _top(i.importer) != "reports":
            continue
        if (_top(i.target) not in ALLOWED["reports"]
                or i.target in REPORTS_FORBIDDEN_MODULES
                or (_within(i.target, SIMULATION_MODULES)
                    and REPORTS_FORBIDDEN_NAMES.intersection(i.names))):
            bad.append(str(i))
    return bad


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (depth-first search)."""
    graph: dict[str, set[str]] = {}
    for i in imports:
        if i.target != i.importer:
            graph.setdefault(i.importer, set()).add(i.target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


# ---- the parser itself ---------------------------------------------------------------------


def test_parser_finds_imports_in_functions_type_checking_and_relative_forms():
    source = """
from typing import TYPE_CHECKING
import numpy
from reachplan.model.plan import Plan
if TYPE_CHECKING:
    from reachplan.solver.batch import ScenarioRun
def f():
    import reachplan.model.costs
    from . import html
    from .tables import allocation_grid
    from reachplan.solver import allocate
"""
    known = {"model.plan", "model.costs", "solver", "solver.allocate", "solver.batch",
             "reports", "reports.html", "reports.tables", "reports.png"}
    found = {(i.target, i.names) for i in imports_of("reports.png", source, False, known)}
    assert found == {
        ("model.plan", ("Plan",)),
        ("solver.batch", ("ScenarioRun",)),
        ("model.costs", ()),
        ("reports.html", ()),
        ("reports.tables", ("allocation_grid",)),
        ("solver.allocate", ()),
    }


def test_cycle_search_finds_a_cycle_held_by_a_function_level_import():
    edges = [Import("a", "b", (), 1), Import("b", "c", (), 1), Import("c", "a", (), 9),
             Import("c", "d", (), 2)]
    assert import_cycles(edges) == [["a", "b", "c", "a"]]
    assert import_cycles(edges[:2] + edges[3:]) == []


def test_the_tree_is_read():
    modules = project_modules()
    assert {"model.plan", "solver.allocate", "reports.html", "scenarios.plan_io", "cli"} <= set(
        modules)
    assert any(i.importer == "cli" for i in IMPORTS)


# ---- the rules -----------------------------------------------------------------------------


def test_model_imports_nothing_of_the_project_outside_model():
    assert layer_violations("model") == []


def test_solver_imports_only_model_and_solver():
    assert layer_violations("solver") == []


def test_scenarios_import_only_model_and_scenarios():
    assert layer_violations("scenarios") == []


def test_workflow_does_not_import_the_command_line():
    assert layer_violations("workflow") == []


def test_no_runtime_module_imports_the_build_code():
    bad = [str(i) for i in IMPORTS if _runtime(i) and _within(i.target, BUILD_TOOLS)]
    assert bad == []


def test_reports_neither_solve_nor_simulate_nor_read_inputs():
    assert reports_violations() == []


def test_no_import_cycles():
    assert import_cycles(IMPORTS) == []
