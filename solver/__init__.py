"""The allocation optimiser: LP formulation, solving, baseline, diagnosis and checks."""

from reachplan.solver.allocate import allocate, allocate_costs
from reachplan.solver.result import (
    Allocation,
    Conflict,
    InfeasibleScenarioError,
    ShadowPrice,
    SolveStatus,
)

__all__ = [
    "Allocation",
    "Conflict",
    "InfeasibleScenarioError",
    "ShadowPrice",
    "SolveStatus",
    "allocate",
    "allocate_costs",
]
