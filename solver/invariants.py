"""The allocation invariants, as checks that return violations, and a runner for a planner's plan.

The same functions back the property tests of the suite (on small generated plans) and
``reachplan check`` (on the planner's own plan, perturbing envelopes, unit costs and
people in need with hypothesis, which shrinks any failure to a minimal example).

Invariants
    * allocations are non-negative and within caps; envelopes hold to the dollar;
      floors, locks and exclusions hold; people reached never exceed people in need;
    * more money never reaches fewer people (headcount objective) and never lowers the
      priority value (priority objective: it trades people for tiers and fairness, so
      people reached may dip where money moves to dearer life-saving lines);
    * scaling every amount of money by k scales the allocation by k and leaves people
      reached unchanged;
    * reordering the plan's rows changes nothing;
    * zero money reaches zero people;
    * the optimised allocation is at least as good as pro-rata whenever pro-rata itself
      obeys the scenario's rules: more people (headcount), a higher priority value
      (priority; pro-rata's value computed independently from its money by
      :func:`solver.model.priority_value`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from reachplan.model.costs import CostModel
from reachplan.model.funding import Amount, Envelope, FundingScenario
from reachplan.model.plan import Plan
from reachplan.solver.allocate import allocate_costs
from reachplan.solver.baseline import pro_rata_allocation
from reachplan.solver.model import (
    TIE_BREAK,
    cap_factors,
    floor_lines,
    objective_weight,
    priority_value,
    resolve_envelope,
    selector_mask,
)
from reachplan.solver.result import Allocation, InfeasibleScenarioError

USD_TOL = 1.0
"""Envelopes, caps, floors and locks must hold to the dollar."""
RELATIVE_TOL = 1e-6
PEOPLE_TOL = 0.01
"""Absolute allowance in people: HiGHS's feasibility tolerance (1e-7 of an LP unit) is worth
up to a few thousandths of a person, and the LP's units follow the data, so a plan and
the same plan with every dollar scaled are solved at slightly different precisions."""
"""Relative tolerance for solver round-off in comparisons of people and money."""


@dataclass(frozen=True)
class Violation:
    """One invariant that does not hold, in words."""

    invariant: str
    message: str


def tie_break_bound(costs: CostModel, money_usd: float) -> float:
    """Most people the tie-break can cost an allocation of ``money_usd`` (people)."""
    reach = costs.reaches_people
    if not reach.any():
        return 0.0
    value = float(np.mean(costs.weight[reach] / costs.unit_cost_usd[reach]))
    value /= costs.curve.factors[0] * costs.overlap_factor
    return TIE_BREAK * value * money_usd


def people_tolerance(costs: CostModel, people: float, money_usd: float) -> float:
    """Slack allowed when comparing people reached of two solves (people)."""
    return RELATIVE_TOL * abs(people) + 2 * tie_break_bound(costs, money_usd) + PEOPLE_TOL


def rule_violations(costs: CostModel, scenario: FundingScenario, x: np.ndarray) -> list[Violation]:
    """Every rule of the scenario that money ``x`` (USD per cell, shape (n,)) breaks."""
    out: list[Violation] = []
    req = costs.requirement_usd
    if (x < -USD_TOL).any():
        out.append(Violation("non-negative", f"{int((x < 0).sum())} lines get negative money"))
    over = x - cap_factors(costs, scenario) * req
    if (over > USD_TOL).any():
        i = int(np.argmax(over))
        out.append(Violation("caps", f"{costs.cells[i]} exceeds its cap by ${over[i]:,.2f}"))
    total, per_year = resolve_envelope(costs, scenario)
    if total is not None and x.sum() > total + USD_TOL:
        out.append(Violation("envelopes", f"allocated ${x.sum():,.2f} > envelope ${total:,.2f}"))
    if per_year is not None:
        carried = spent = 0.0
        for y in sorted(per_year):
            in_year = float(x[costs.years == y].sum())
            carried, spent = carried + per_year[y], spent + in_year
            budget, used = (carried, spent) if scenario.envelope.carry_over else (per_year[y],
                                                                                 in_year)
            if used > budget + USD_TOL:
                out.append(Violation("envelopes", f"{y}: ${used:,.2f} > ${budget:,.2f}"))
    for floor in scenario.floors:
        mask = selector_mask(costs, floor.selector) & floor_lines(costs, floor.selector)
        s = objective_weight(costs, floor.selector)
        keys = {"cell": [costs.locations, costs.sectors], "location": [costs.locations],
                "sector": [costs.sectors], "all": []}[floor.per]
        frame = pd.DataFrame({"got": s * x, "need": s * req * floor.share, "year": costs.years,
                              **{f"k{j}": k for j, k in enumerate(keys)}})[mask]
        sums = frame.groupby([c for c in frame.columns if c.startswith("k")] + ["year"])[
            ["got", "need"]].sum()
        short = sums["need"] - sums["got"]
        if (short > USD_TOL).any():
            out.append(Violation("floors", f"floor {floor.name} short by ${short.max():,.2f} "
                                           f"at {short.idxmax()}"))
    for lock in scenario.locks:
        mask = selector_mask(costs, lock.selector)
        s = objective_weight(costs, lock.selector)
        want = lock.amount.usd(float((s * req)[mask].sum()))
        got = float((s * x)[mask].sum())
        if abs(got - want) > USD_TOL:
            out.append(Violation("locks", f"lock {lock.name}: ${got:,.2f} instead of ${want:,.2f}"))
    for sel in scenario.exclusions:
        got = float(x[selector_mask(costs, sel)].sum())
        if got > USD_TOL:
            out.append(Violation("exclusions", f"excluded {sel.describe()} gets ${got:,.2f}"))
    return out


def check_allocation(costs: CostModel, scenario: FundingScenario,
                     alloc: Allocation) -> list[Violation]:
    """Rules of the scenario and people in need, for one allocation."""
    x = alloc.cells["allocated_usd"].to_numpy()
    out = rule_violations(costs, scenario, x)
    by_loc = alloc.by("location_code", "year")["people_reached"]
    for (loc, yr), people in by_loc.items():
        pin = costs.people_in_need_of(str(loc), int(yr))
        if people > pin * (1 + RELATIVE_TOL) + 1e-6:
            out.append(Violation("people in need", f"{loc} {yr}: {people:,.1f} reached > "
                                                   f"{pin:,.1f} in need"))
    return out


def check_pro_rata(costs: CostModel, scenario: FundingScenario,
                   alloc: Allocation) -> list[Violation]:
    """Optimised reaches at least pro-rata, when pro-rata obeys the scenario's rules."""
    pro_rata = pro_rata_allocation(costs, scenario)
    if rule_violations(costs, scenario, pro_rata):
        return []
    tol = people_tolerance(costs, alloc.people_reached, alloc.funding_usd)
    if scenario.objective == "priority":
        # the LP's value (less its tie-break) against pro-rata's, computed from its money
        mine = alloc.objective + tie_break_bound(costs, alloc.allocated_usd)
        theirs = _value(costs, scenario, pro_rata)
        if mine < theirs - tol - RELATIVE_TOL * abs(theirs):
            return [Violation("optimised >= pro-rata",
                              f"priority value {mine:,.3f} < pro-rata's {theirs:,.3f}")]
        return []
    if alloc.people_reached < alloc.pro_rata_people_reached - tol:
        return [Violation("optimised >= pro-rata",
                          f"optimised {alloc.people_reached:,.1f} < pro-rata "
                          f"{alloc.pro_rata_people_reached:,.1f}")]
    return []


def with_envelope_factor(scenario: FundingScenario, factor: float) -> FundingScenario:
    """The scenario with its envelope (total and every year) multiplied by ``factor``."""
    env = scenario.envelope

    def times(a: Amount) -> Amount:
        return Amount(a.kind, a.value * factor)

    return replace(scenario, envelope=Envelope(
        None if env.total is None else times(env.total),
        tuple((y, times(a)) for y, a in env.per_year), env.carry_over))


def check_more_money(costs: CostModel, scenario: FundingScenario, extra: float) -> list[Violation]:
    """Multiplying the envelope by ``1 + extra`` never reaches fewer people."""
    try:
        base = allocate_costs(costs, scenario, diagnose=False, ranged="none")
    except InfeasibleScenarioError:
        return []
    more = allocate_costs(costs, with_envelope_factor(scenario, 1.0 + extra), diagnose=False,
                          ranged="none")
    tol = people_tolerance(costs, base.people_reached, more.funding_usd)
    if scenario.objective == "priority":
        before, after = base.objective, more.objective
        if after < before - tol - RELATIVE_TOL * abs(before):
            return [Violation("more money never lowers the priority value",
                              f"x{1 + extra:g} the money: value {after:,.3f} < {before:,.3f}")]
        return []
    if more.people_reached < base.people_reached - tol:
        return [Violation("more money never reaches fewer people",
                          f"x{1 + extra:g} the money reaches {more.people_reached:,.1f} "
                          f"< {base.people_reached:,.1f}")]
    return []


def _value(costs: CostModel, scenario: FundingScenario, money: np.ndarray) -> float:
    """Priority value of an allocation, from its money (people credited per cell)."""
    credited = costs.people_reached_cells(money) + costs.entities_reached_cells(money)
    return priority_value(costs, scenario, credited)


def check_scaling(costs: CostModel, scenario: FundingScenario, k: float) -> list[Violation]:
    """Every dollar times ``k``: allocation times ``k``, people reached unchanged.

    When the original has several optimal allocations (exact ties), the scaled
    allocation divided by ``k`` must be one of them.
    """
    try:
        base = allocate_costs(costs, scenario, diagnose=False, ranged="none")
    except InfeasibleScenarioError:
        return []
    scaled = allocate_costs(costs.scaled_money(k), scenario.scaled(k), diagnose=False,
                            ranged="none")
    out = []
    tol = RELATIVE_TOL * max(base.people_reached, 1.0) * 10 + PEOPLE_TOL
    if abs(scaled.people_reached - base.people_reached) > tol:
        out.append(Violation("scaling", f"x{k:g} money: people {scaled.people_reached:,.3f} "
                                        f"instead of {base.people_reached:,.3f}"))
    back = scaled.cells["allocated_usd"].to_numpy() / k
    diff = np.abs(back - base.cells["allocated_usd"].to_numpy())
    # where two allocations reach exactly as many people (a tie the tie-break cannot
    # separate), the scaled one, divided by k, must itself be optimal for the original
    alternative_optimum = not rule_violations(costs, scenario, back) and abs(
        float(costs.people_reached_cells(back).sum()) - base.people_reached) <= tol
    if diff.max(initial=0.0) > 1e-5 * max(base.funding_usd, 1.0) + USD_TOL \
            and not alternative_optimum:
        i = int(np.argmax(diff))
        out.append(Violation("scaling", f"x{k:g} money: {costs.cells[i]} differs by "
                                        f"${diff[i]:,.2f} after dividing by {k:g}"))
    return out


def check_zero_money(costs: CostModel, scenario: FundingScenario) -> list[Violation]:
    """No money reaches nobody (skipped when the rules demand money, e.g. floors)."""
    try:
        alloc = allocate_costs(costs, with_envelope_factor(scenario, 0.0), diagnose=False,
                               ranged="none")
    except InfeasibleScenarioError:
        return []
    if alloc.allocated_usd > USD_TOL or alloc.people_reached > 1e-6:
        return [Violation("zero money", f"no money allocates ${alloc.allocated_usd:,.2f} and "
                                        f"reaches {alloc.people_reached:,.3f} people")]
    return []


def shuffled_plan(plan: Plan, seed: int) -> Plan:
    """The same plan with the rows of every table in another order."""
    rng = np.random.default_rng(seed)
    tables = {name: frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
              for name, frame in plan.tables.items()}
    return Plan.from_tables(tables, source=plan.source)


def check_reorder(plan: Plan, costs: CostModel, scenario: FundingScenario,
                  seed: int) -> list[Violation]:
    """Reordering the plan's rows gives the same allocation to the cent."""
    try:
        base = allocate_costs(costs, scenario, diagnose=False, ranged="none")
    except InfeasibleScenarioError:
        return []
    other_costs = CostModel.from_plan(shuffled_plan(plan, seed))
    other_costs = replace(other_costs, unit_cost_usd=costs.unit_cost_usd,
                          people_in_need=costs.people_in_need)
    other = allocate_costs(other_costs, scenario, diagnose=False, ranged="none")
    diff = (other.cells["allocated_usd"] - base.cells["allocated_usd"]).abs()
    if diff.max() > 0.01:
        return [Violation("row order", f"{diff.idxmax()} changes by ${diff.max():,.2f}")]
    return []


@dataclass(frozen=True)
class CheckOutcome:
    """Result of one invariant on a plan: examples run and the minimal failing example."""

    invariant: str
    examples: int
    violation: Violation | None
    example: str


def run_checks(
    plan: Plan,
    scenario: FundingScenario,
    max_examples: int = 8,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[CheckOutcome]:
    """Run every invariant on perturbations of a plan, shrinking any failure.

    Perturbations: the envelope multiplied by a factor in [0, 1.5], each location's
    unit costs multiplied by a factor in [0.5, 2], people in need multiplied by a
    factor in [0.05, 2].

    Parameters
    ----------
    plan, scenario
        The planner's plan and scenario.
    max_examples
        Generated examples per invariant.
    seed
        Makes the run reproducible.
    progress
        Called with the name of each invariant as it starts.
    """
    from hypothesis import strategies as st

    costs0 = CostModel.from_plan(plan)
    locations = sorted(set(costs0.locations))
    loc_index = np.searchsorted(locations, costs0.locations)

    perturb = st.fixed_dictionaries({
        "envelope": st.floats(0.0, 1.5),
        "unit_cost": st.lists(st.floats(0.5, 2.0), min_size=len(locations),
                              max_size=len(locations)),
        "need": st.floats(0.05, 2.0),
    })

    def perturbed(p: dict[str, object]) -> tuple[CostModel, FundingScenario]:
        factors = np.asarray(p["unit_cost"], dtype=float)[loc_index]
        costs = costs0.with_unit_costs(factors).with_people_in_need(float(p["need"]))  # type: ignore[arg-type]
        return costs, with_envelope_factor(scenario, float(p["envelope"]))  # type: ignore[arg-type]

    outcomes = []
    for name, extra, check in _invariants(plan):
        if progress is not None:
            progress(name)
        outcomes.append(_run_property(name, perturb, extra, check, perturbed, max_examples, seed))
    return outcomes


def _single(costs: CostModel, scenario: FundingScenario) -> list[Violation]:
    """Rules, people in need and pro-rata for one allocation (none if infeasible)."""
    try:
        alloc = allocate_costs(costs, scenario, diagnose=False, ranged="none")
    except InfeasibleScenarioError:
        return []
    return check_allocation(costs, scenario, alloc) + check_pro_rata(costs, scenario, alloc)


def _invariants(plan: Plan) -> list[tuple[str, Any, Callable[..., list[Violation]]]]:
    """(name, strategy of the extra parameter, check) of every invariant :func:`run_checks` runs."""
    from hypothesis import strategies as st

    return [
        ("bounds, envelopes, floors, people in need, >= pro-rata", st.just(None),
         lambda c, s, _: _single(c, s)),
        ("more money never reaches fewer people", st.floats(0.0, 1.0),
         lambda c, s, e: check_more_money(c, s, e)),
        ("scaling money by k", st.sampled_from([1e-3, 0.1, 0.5, 2.0, 10.0, 1e3]),
         lambda c, s, k: check_scaling(c, s, k)),
        ("zero money reaches zero people", st.just(None), lambda c, s, _: check_zero_money(c, s)),
        ("row order changes nothing", st.integers(0, 2**31 - 1),
         lambda c, s, r: check_reorder(plan, c, s, r)),
    ]


def _run_property(
    name: str,
    perturb: Any,
    extra: Any,
    check: Callable[..., list[Violation]],
    perturbed: Callable[[dict[str, object]], tuple[CostModel, FundingScenario]],
    max_examples: int,
    seed: int,
) -> CheckOutcome:
    """Run one invariant as a hypothesis property; a failure is shrunk to a minimal example."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    failures: list[tuple[Violation, str]] = []
    count = [0]
    prop = settings(max_examples=max_examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.generate, Phase.shrink], print_blob=False)(
        hseed(seed)(given(p=perturb, e=extra)(_property(check, perturbed, failures, count))))
    # a failing property raises after shrinking; the violation and its minimal
    # example are recorded in ``failures`` and reported below
    with contextlib.suppress(AssertionError):
        prop()
    if failures:
        violation, example = failures[-1]
        return CheckOutcome(name, count[0], violation, example)
    return CheckOutcome(name, count[0], None, "")


def _property(
    check: Callable[..., list[Violation]],
    perturbed: Callable[[dict[str, object]], tuple[CostModel, FundingScenario]],
    failures: list[tuple[Violation, str]],
    count: list[int],
) -> Callable[[dict[str, object], object], None]:
    """The body of one property: run ``check`` on a perturbed plan, record any failure."""

    def body(p: dict[str, object], e: object) -> None:
        count[0] += 1
        costs, sc = perturbed(p)
        found = check(costs, sc, e)
        if found:
            failures.append((found[0], _describe(p, e)))
            raise AssertionError(found[0].message)

    return body


def _describe(p: dict[str, object], extra: object) -> str:
    unit = ", ".join(f"{v:.3g}" for v in p["unit_cost"])  # type: ignore[attr-defined]
    text = (f"envelope x{p['envelope']:.6g}, unit costs per location x[{unit}], "
            f"people in need x{p['need']:.6g}")
    return text + ("" if extra is None else f", parameter {extra}")
