"""solver/ modules import each other at module level only, and without cycles."""

import ast
from pathlib import Path

SOLVER = Path(__file__).resolve().parents[2] / "solver"


def _solver_imports() -> dict[str, list[tuple[str, bool]]]:
    """Module -> (imported solver module, at module level?) for every solver module."""
    out = {}
    for path in sorted(SOLVER.glob("*.py")):
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        found = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("solver"):
                found.append((node.module, id(node) in top))
            elif isinstance(node, ast.Import):
                found += [(a.name, id(node) in top) for a in node.names
                          if a.name.startswith("solver")]
        out[f"solver.{path.stem}"] = found
    return out


def test_no_function_level_imports_of_solver_modules():
    inner = [(m, dep) for m, deps in _solver_imports().items() for dep, top in deps if not top]
    assert inner == []


def test_no_import_cycles_in_solver():
    graph = {m: {dep for dep, _ in deps} for m, deps in _solver_imports().items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for dep in sorted(graph.get(m, ())):
            if state.get(dep) == 1:
                cycles.append([*path, dep])
            elif dep in graph and state.get(dep) is None:
                visit(dep, [*path, dep])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    assert cycles == []
