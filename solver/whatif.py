"""Answering one what-if after another, fast, on one plan (the ``reachplan serve`` page).

:class:`WhatIf` holds a plan's cost model and answers ``solve(funding)`` with the same
:class:`~reachplan.solver.result.Allocation` as :func:`reachplan.solver.allocate.allocate`
(the binding rules' shadow prices ranged, as ``allocate_costs(..., ranged=RANGED)``, and
what one more $1M reaches), so the page shows what ``reachplan allocate`` gives for the
same settings.

How it is fast. Most changes in a prioritisation meeting move an amount: the total, a
year's envelope, an earmark's amount, a floor's share. Two scenarios that differ only in
those amounts give the same model but for the right-hand sides of a few rows
(:func:`reachplan.solver.model.amount_rhs` and
:func:`reachplan.solver.model.floor_rows`, the one place those right-hand sides are
computed, for the builder too). So the model is built once per *structure* (the scenario
with its amounts set aside, :func:`structure_of`) and held in HiGHS; another amount
changes those right-hand sides and solves again, and the result is read by the same
functions as a fresh solve (:func:`~reachplan.solver.allocate.read_solution`, the
``Allocation`` of :func:`~reachplan.solver.allocate.allocate_costs`). Building the model
is most of a fresh answer's time; the solve itself is a small part. Any other change (a
new floor, a cap, a lock, an exclusion, a weight, the objective) is a new structure: one
fresh build, kept for the next change of amount. Answers are also kept by scenario, so
toggling back is immediate.

Why the held model is solved from scratch rather than warm-started from the last
basis: the LP can have several optima where lines are exactly tied (two years of the
same line, two sectors at the same unit cost in one location; the tie-break of
:mod:`reachplan.solver.model` evens them out only to within a slice). A warm start can
land on another of those optima than ``reachplan allocate`` does: the same people
reached, but money moved between the tied lines. Solving from scratch (HiGHS cleared of
every earlier solve) on the very same numbers lands where a fresh build lands, so the
page and ``allocate`` give the same allocation line by line; the tests check it.

A re-solve that is not optimal (the rules cannot all hold) goes to the fresh path,
whose diagnosis names the conflicting rules.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import highspy
import numpy as np

from reachplan.model.costs import CostModel
from reachplan.model.funding import Amount, Envelope, FundingScenario
from reachplan.solver.allocate import (
    LARGEST_COEFFICIENT,
    LPSolution,
    _bounds_force_nothing,
    _check_objective_bounds,
    _result,
    allocate_costs,
    check_ranges,
    load_highs,
    one_more_million,
    read_solution,
)
from reachplan.solver.model import (
    AllocationLP,
    Row,
    amount_rhs,
    build_model,
    floor_rows,
    funding_usd,
    resolve_envelope,
)
from reachplan.solver.result import Allocation, SolveStatus

RANGED = "binding"
"""Shadow prices ranged (people per $1M, one-sided, as ``reachplan allocate`` gives them):
the envelope's, each earmark's, the flexible money's and every binding rule's
(:data:`~reachplan.solver.allocate.RULE_KINDS`), the rows the page reads; the others
carry the LP's dual, as in :func:`~reachplan.solver.allocate.shadow_prices` with
``ranged="none"``."""

CACHED_RESULTS = 64
"""Answers kept by scenario (a planner toggling back to a setting gets it at once)."""

CACHED_MODELS = 8
"""Built models kept by structure (each holds a HiGHS instance: a few MB)."""

_UNIT = Amount("share", 1.0)


def structure_of(funding: FundingScenario) -> FundingScenario:
    """The scenario with its amounts set aside: two scenarios share a model iff equal here.

    The envelope keeps its form (a total or not, which years, carry-over), each earmark
    its name and selector, each floor its name, selector and grouping; the amounts and
    the floors' shares become placeholders.
    """
    env = funding.envelope
    return replace(
        funding,
        name="",
        envelope=Envelope(
            None if env.total is None else _UNIT,
            tuple((y, _UNIT) for y, _ in env.per_year),
            env.carry_over,
        ),
        earmarks=tuple(replace(e, amount=_UNIT) for e in funding.earmarks),
        floors=tuple(replace(f, share=1.0) for f in funding.floors),
    )


@dataclass(eq=False)
class _Held:
    """A model built for one structure, held in HiGHS, with its current row bounds."""

    lp: AllocationLP
    highs: highspy.Highs
    rows: dict[str, int]
    row_lower: np.ndarray = field(default_factory=lambda: np.zeros(0))
    row_upper: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class WhatIfStats:
    """How the answers so far were found (for the benchmark and the page's footer)."""

    cached: int = 0
    held: int = 0
    built: int = 0
    fallback: int = 0


class WhatIf:
    """One plan's allocation, re-solved per change; safe to call from several threads.

    Parameters
    ----------
    costs
        The plan's cost model.
    provenance
        Plan fingerprint, source and name, as :func:`reachplan.solver.allocate.allocate`
        records them.
    """

    def __init__(self, costs: CostModel, provenance: Mapping[str, str]) -> None:
        self.costs = costs
        self.provenance = dict(provenance)
        self.stats = WhatIfStats()
        self._lock = threading.Lock()
        self._results: OrderedDict[FundingScenario, Allocation] = OrderedDict()
        self._models: OrderedDict[FundingScenario, _Held] = OrderedDict()

    def solve(self, funding: FundingScenario) -> Allocation:
        """The allocation under ``funding``, as :func:`allocate` with ``ranged="binding"``.

        Raises
        ------
        InfeasibleScenarioError
            When the rules cannot all hold; the message is ``allocate``'s diagnosis.
        FundingError
            When a rule names a code the plan does not have.
        """
        key = replace(funding, name="")
        with self._lock:
            hit = self._results.get(key)
            if hit is not None:
                self._results.move_to_end(key)
                self.stats.cached += 1
                return replace(hit, scenario=funding)
            result = self._solve(key)
            self._results[key] = result
            if len(self._results) > CACHED_RESULTS:
                self._results.popitem(last=False)
            return replace(result, scenario=funding)

    def _solve(self, funding: FundingScenario) -> Allocation:
        _check_objective_bounds(funding)
        shape = structure_of(funding)
        held = self._models.get(shape)
        if held is None:
            return self._build(funding, shape)
        self._models.move_to_end(shape)
        result = self._resolve(held, funding)
        if result is None:
            self.stats.fallback += 1
            return allocate_costs(self.costs, funding, self.provenance, ranged=RANGED)
        self.stats.held += 1
        return result

    def _build(self, funding: FundingScenario, shape: FundingScenario) -> Allocation:
        """A fresh build and solve (``allocate_costs``' path), then held for the next amounts."""
        self.stats.built += 1
        lp = build_model(self.costs, funding)
        check_ranges(lp)
        h = load_highs(lp.arrays)
        h.run()
        sol = read_solution(lp, h)
        if sol.status is not SolveStatus.OPTIMAL:
            # the fresh path's errors and diagnosis, word for word
            return allocate_costs(self.costs, funding, self.provenance, ranged=RANGED)
        held = _Held(lp, h, {name: i for i, name in enumerate(lp.arrays.row_names)},
                     lp.arrays.row_lower.copy(), lp.arrays.row_upper.copy())
        self._models[shape] = held
        if len(self._models) > CACHED_MODELS:
            self._models.popitem(last=False)
        return self._finish(lp, sol, funding, h)

    def _resolve(self, held: _Held, funding: FundingScenario) -> Allocation | None:
        """Re-solve the held model with this scenario's amounts; ``None`` if not optimal."""
        costs, template = self.costs, held.lp
        units = template.units
        rhs = amount_rhs(costs, funding, units)  # <= rows: the amount is the upper bound
        floors = {f.row.name: f.row  # >= rows: the share's need is the lower bound
                  for floor in funding.floors
                  for f in floor_rows(costs, floor, costs.requirement_usd / units.usd)}
        names = [*rhs, *floors]
        idx = np.array([held.rows[name] for name in names], dtype=np.int32)
        values = np.array([*rhs.values(), *(row.rhs for row in floors.values())], dtype=float)
        if not np.all(np.isfinite(values) & (np.abs(values) <= LARGEST_COEFFICIENT)):
            return None  # the fresh path names the amount out of range
        upper = np.arange(len(names)) < len(rhs)
        held.row_upper[idx[upper]] = values[upper]
        held.row_lower[idx[~upper]] = values[~upper]
        held.highs.changeRowsBounds(len(idx), idx, held.row_lower[idx], held.row_upper[idx])
        # from scratch, as a fresh build is solved: see the module's notes
        held.highs.clearSolver()
        held.highs.run()
        _, per_year = resolve_envelope(costs, funding)
        lp = _with_amounts(template, funding, rhs, floors, funding_usd(costs, funding),
                           per_year, held.row_lower, held.row_upper)
        sol = read_solution(lp, held.highs, write_back=False)
        if sol.status is not SolveStatus.OPTIMAL:
            return None
        return self._finish(lp, sol, funding, held.highs)

    def _finish(self, lp: AllocationLP, sol: LPSolution, funding: FundingScenario,
                highs: highspy.Highs) -> Allocation:
        # the ranging starts from this optimal basis instead of solving again; the one-sided
        # people per $1M do not depend on the basis they start from
        result = _result(lp, sol, dict(self.provenance), RANGED, highs.getBasis())
        if funding.objective_bounds and result.allocated_usd <= 0 < result.funding_usd:
            _bounds_force_nothing(self.costs, funding)
        # what one more $1M reaches, as allocate_costs computes it (the held bounds are
        # put back after)
        return replace(result, one_more_million=one_more_million(
            lp, highs, result.people_reached, result.entities_reached))


def _with_amounts(
    template: AllocationLP,
    funding: FundingScenario,
    rhs: Mapping[str, float],
    records: Mapping[str, Row],
    available: float,
    per_year: dict[int, float] | None,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
) -> AllocationLP:
    """The template model read as if built for ``funding``.

    Its rows' records (``rhs`` new right-hand sides, ``records`` whole new records), bounds
    and envelope carry the new amounts; its PuLP problem
    (never solved on this path) is shared.
    """
    rows = dict(template.rows)
    for name, value in rhs.items():
        rows[name] = replace(rows[name], rhs=value)
    rows.update(records)
    lp = replace(template, scenario=funding, rows=rows, funding_usd=available,
                 envelope_by_year=per_year)
    arrays = replace(template.arrays, row_lower=row_lower.copy(), row_upper=row_upper.copy())
    # the cached readings of the template stay valid (same columns, same rows)
    lp.__dict__["variables"] = template.variables
    lp.__dict__["arrays"] = arrays
    lp.__dict__["tranche_columns"] = template.tranche_columns
    lp.__dict__["first_tranche_columns"] = template.first_tranche_columns
    return lp
