"""The allocation optimiser: LP formulation, solving, baseline, diagnosis and checks.

Names are re-exported lazily, so that importing one module of the package (the result
types) does not import the LP and its solver. ``allocate`` itself is imported from its
module, ``from reachplan.solver.allocate import allocate`` (the package's attribute of that
name is the module once it is imported).
"""

import importlib
from typing import Any

_LAZY = {
    "Allocation": "reachplan.solver.result",
    "Conflict": "reachplan.solver.result",
    "InfeasibleScenarioError": "reachplan.solver.result",
    "ShadowPrice": "reachplan.solver.result",
    "SolveStatus": "reachplan.solver.result",
    "allocate_costs": "reachplan.solver.allocate",
}
"""Where each name lives: imported on first use (a command pays only for what it uses)."""


def __getattr__(name: str) -> Any:
    """The re-exported name, imported from its module on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Allocation",
    "Conflict",
    "InfeasibleScenarioError",
    "ShadowPrice",
    "SolveStatus",
    "allocate_costs",
]
