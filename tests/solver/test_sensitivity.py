"""Sensitivity: one-sided derivatives, ranging and unit-cost ranges against independent solves.

Every expected number is either worked out by hand below or comes from fresh PuLP + HiGHS
solves of a rebuilt problem (finite differences), never from the module under test.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pulp
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.funding import Amount, Envelope, FundingScenario
from reachplan.model.plan import Plan
from reachplan.solver.allocate import solve_lp
from reachplan.solver.highs import pulp_solver
from reachplan.solver.matrix import lp_arrays
from reachplan.solver.model import build_model
from reachplan.solver.result import SolveStatus
from reachplan.solver.sensitivity import (
    RowSensitivity,
    row_sensitivities,
    unit_cost_ranges,
)
from tests.conftest import tiny_tables

# ---- a hand-solved LP -------------------------------------------------------------------------
#
# Cell A has two tranches: x1 in [0, 5] reaching 2 people per $, x2 >= 0 reaching 1 per $.
# Cell B: y reaching 1.5 people per $, weight 2 (3 value per $). Objective: pA + 2 pB.
#   envelope   x1 + x2 + y <= E   (E = 10)
#   floor      x1 + x2 >= F       (F = 5, exactly on A's tranche boundary), or == F
#   ycap       y <= 20            (slack at the optimum)
# Optimum: x1 = 5, y = 5: value 10 + 15 = 25, people 10 + 7.5 = 17.5.
# Envelope: each extra $ goes to y (value 3, people 1.5) until y = 20 (E = 25); each $ less
# comes out of y until y = 0 (E = 5): dual 3, valid on [5, 25].
# Floor up (F = 5 + h): x2 = h, y = 5 - h: value -2 per $, people 1 - 1.5 = -0.5 per $.
# Floor down (F = 5 - h): x1 = 5 - h, y = 5 + h: value +1 per $ (so d/dF = -1), people
# -2 + 1.5 = -0.5 per $ (so d/dF = +0.5). The floor is a kink: -2 on the right, -1 on the left.


def hand_problem(envelope: float = 10.0, floor: float = 5.0, sense: str = ">="):
    prob = pulp.LpProblem("hand", pulp.LpMaximize)
    x1 = prob.add_variable("x1", lowBound=0, upBound=5)
    x2 = prob.add_variable("x2", lowBound=0)
    y = prob.add_variable("y", lowBound=0)
    pa = prob.add_variable("p_A", lowBound=0)
    pb = prob.add_variable("p_B", lowBound=0)
    prob += pa + 2 * pb
    prob += pa - 2 * x1 - x2 <= 0, "reach_A"
    prob += pb - 1.5 * y <= 0, "reach_B"
    prob += x1 + x2 + y <= envelope, "envelope"
    if sense == ">=":
        prob += x1 + x2 >= floor, "floor"
    else:
        prob += x1 + x2 == floor, "floor"
    prob += y <= 20, "ycap"
    return prob, (pa, pb)


def fresh_hand(envelope: float = 10.0, floor: float = 5.0, sense: str = ">="):
    """Objective and people of a fresh PuLP + HiGHS solve of the hand LP."""
    prob, (pa, pb) = hand_problem(envelope, floor, sense)
    prob.solve(pulp_solver())
    assert pulp.LpStatus[prob.status] == "Optimal"
    return float(pulp.value(prob.objective)), float(pa.varValue + pb.varValue)


def hand_sensitivities(sense: str = ">=") -> dict[str, RowSensitivity]:
    prob, _ = hand_problem(sense=sense)
    arrays = lp_arrays(prob)
    people = np.array([n.startswith("p_") for n in arrays.variable_names], dtype=float)
    result = row_sensitivities(arrays, people, range(len(arrays.row_names)))
    return {r.row: r for r in result}


def one_sided_fd(solve, base: float, h: float) -> tuple[float, float, float, float]:
    """(value up, value down, people up, people down) by fresh re-solves at base +- h."""
    v0, p0 = solve(base)
    vu, pu = solve(base + h)
    vd, pd = solve(base - h)
    return (vu - v0) / h, (v0 - vd) / h, (pu - p0) / h, (p0 - pd) / h


def test_hand_envelope_dual_people_and_range():
    s = hand_sensitivities()["envelope"]
    assert s.rhs == 10.0
    assert s.dual == pytest.approx(3.0, abs=1e-9)
    assert (s.value_up, s.value_down) == pytest.approx((3.0, 3.0), abs=1e-9)
    # the people derivative is not the dual: 1.5 people per $ against 3 value per $
    assert (s.people_up, s.people_down) == pytest.approx((1.5, 1.5), abs=1e-9)
    assert (s.valid_from, s.valid_to) == pytest.approx((5.0, 25.0), abs=1e-9)
    assert not s.one_sided
    fd = one_sided_fd(lambda e: fresh_hand(envelope=e), 10.0, 1e-3)
    assert fd == pytest.approx((3.0, 3.0, 1.5, 1.5), abs=1e-6)
    # just inside the range the slope is the dual; just outside (above 25) it is 1
    inside = (fresh_hand(envelope=24.9)[0] - fresh_hand(envelope=24.8)[0]) / 0.1
    outside = (fresh_hand(envelope=25.2)[0] - fresh_hand(envelope=25.1)[0]) / 0.1
    assert inside == pytest.approx(3.0, abs=1e-6)
    assert outside == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("sense", [">=", "=="])
def test_hand_floor_on_tranche_boundary_is_one_sided(sense):
    s = hand_sensitivities(sense)["floor"]
    assert s.rhs == 5.0
    assert s.one_sided
    assert (s.value_up, s.value_down) == pytest.approx((-2.0, -1.0), abs=1e-7)
    assert (s.people_up, s.people_down) == pytest.approx((-0.5, 0.5), abs=1e-7)
    fd = one_sided_fd(lambda f: fresh_hand(floor=f, sense=sense), 5.0, 1e-3)
    assert fd == pytest.approx((s.value_up, s.value_down, s.people_up, s.people_down), abs=1e-6)
    # the reported dual is a subgradient, and its range is that of the basis it comes from
    assert -2.0 - 1e-7 <= s.dual <= -1.0 + 1e-7
    if s.dual == pytest.approx(-1.0):
        assert (s.valid_from, s.valid_to) == pytest.approx((0.0, 5.0), abs=1e-9)
    elif s.dual == pytest.approx(-2.0):
        assert (s.valid_from, s.valid_to) == pytest.approx((5.0, 10.0), abs=1e-9)
    else:
        assert (s.valid_from, s.valid_to) == pytest.approx((5.0, 5.0), abs=1e-9)


def test_hand_slack_row_has_zero_dual_from_its_activity():
    s = hand_sensitivities()["ycap"]
    assert (s.dual, s.value_up, s.value_down, s.people_up, s.people_down) == (0, 0, 0, 0, 0)
    assert s.valid_from == pytest.approx(5.0, abs=1e-9)  # y = 5
    assert s.valid_to == np.inf
    assert not s.one_sided


def test_row_without_a_right_hand_side_is_nan():
    prob, _ = hand_problem()
    arrays = lp_arrays(prob)
    r = arrays.row_names.index("ycap")
    lower, upper = arrays.row_lower.copy(), arrays.row_upper.copy()
    lower[r], upper[r] = -np.inf, np.inf
    free = replace(arrays, row_lower=lower, row_upper=upper)
    people = np.array([n.startswith("p_") for n in arrays.variable_names], dtype=float)
    (s,) = row_sensitivities(free, people, [r])
    assert s.row == "ycap"
    assert np.isnan(s.dual) and np.isnan(s.people_up) and np.isnan(s.valid_to)


# ---- the tiny fixture plan --------------------------------------------------------------------
#
# tiny_tables() with Moldova's weight at 1.5 instead of 2 (no ties between lines): value per $
# is POL WASH 4, POL HEALTH 2, MDA WASH 1.5 (both years); people per $ 4, 2 and 1. One
# tranche, split into 4 tie-break slices of a quarter of each requirement. LP units: $100 and
# 100 people, so people per $ read directly as LP people units per money unit.


def tiny_costs() -> CostModel:
    tables = tiny_tables()
    unit = tables["unit_costs"]
    unit.loc[unit["location_code"] == "MDA", "weight"] = 1.5
    return CostModel.from_plan(Plan.from_tables(tables, source="tiny"))


def tiny_lp(costs: CostModel, envelope_usd: float):
    # the hand-worked figures below are people per $: the headcount objective
    return build_model(costs, FundingScenario(Envelope(total=Amount("usd", envelope_usd)),
                                              objective="headcount"))


def fresh_tiny(costs: CostModel, envelope_usd: float) -> tuple[float, float]:
    """Objective and people (LP units) of a fresh build and PuLP solve."""
    lp = tiny_lp(costs, envelope_usd)
    sol = solve_lp(lp)
    assert sol.status is SolveStatus.OPTIMAL
    people = sum(p.varValue for p in lp.people_vars if p is not None)
    return sol.objective, float(people)


def tiny_envelope_sensitivity(costs: CostModel, envelope_usd: float) -> RowSensitivity:
    lp = tiny_lp(costs, envelope_usd)
    arrays = lp_arrays(lp.problem)
    people = np.array([n.startswith("p_") for n in arrays.variable_names], dtype=float)
    (s,) = row_sensitivities(arrays, people, [arrays.row_names.index("envelope_total")])
    assert lp.units.usd == 100.0 and lp.units.people == 100.0
    return s


@pytest.mark.parametrize("envelope_usd", [100.0, 190.0])
def test_tiny_plan_envelope_one_sided_against_fresh_solves(envelope_usd):
    costs = tiny_costs()
    s = tiny_envelope_sensitivity(costs, envelope_usd)
    h_usd = 1.0
    v0, p0 = fresh_tiny(costs, envelope_usd)
    vu, pu = fresh_tiny(costs, envelope_usd + h_usd)
    vd, pd = fresh_tiny(costs, envelope_usd - h_usd)
    h = h_usd / 100.0  # money units
    assert s.value_up == pytest.approx((vu - v0) / h, rel=1e-6)
    assert s.value_down == pytest.approx((v0 - vd) / h, rel=1e-6)
    assert s.people_up == pytest.approx((pu - p0) / h, rel=1e-6)
    assert s.people_down == pytest.approx((p0 - pd) / h, rel=1e-6)
    if envelope_usd == 100.0:
        # POL WASH ($100) is full: the next $ reaches 2 people (POL HEALTH), the last one 4
        assert s.one_sided
        assert (s.people_up, s.people_down) == pytest.approx((2.0, 4.0), rel=1e-9)
    else:
        assert not s.one_sided
        assert (s.people_up, s.people_down) == pytest.approx((2.0, 2.0), rel=1e-9)


def test_tiny_plan_envelope_range_inside_and_outside():
    costs = tiny_costs()
    s = tiny_envelope_sensitivity(costs, 190.0)
    # POL HEALTH's last tie-break slice spans $180-$200 of the envelope
    assert (s.valid_from, s.valid_to) == pytest.approx((1.8, 2.0), abs=1e-9)
    d = 0.5  # USD

    def slope(a_usd: float, b_usd: float) -> float:
        return (fresh_tiny(costs, b_usd)[0] - fresh_tiny(costs, a_usd)[0]) / ((b_usd - a_usd) / 100)

    top, bottom = s.valid_to * 100, s.valid_from * 100
    # inside, at both ends, the slope is the dual; across the whole range the value is linear
    assert slope(top - 2 * d, top - d) == pytest.approx(s.dual, rel=1e-9)
    assert slope(bottom + d, bottom + 2 * d) == pytest.approx(s.dual, rel=1e-9)
    assert slope(bottom, top) == pytest.approx(s.dual, rel=1e-9)
    # outside: above $200 the money goes to Moldova (1.5 per $); below $180 to an earlier
    # tie-break slice of POL HEALTH, worth slightly more
    assert slope(top + d, top + 2 * d) == pytest.approx(1.5, rel=1e-3)
    below = slope(bottom - 2 * d, bottom - d)
    assert below - s.dual > 1e-7 * abs(s.dual)


# ---- unit cost ranges -------------------------------------------------------------------------


def tiny_groups(costs: CostModel) -> dict[str, np.ndarray]:
    groups = {f"location {loc}": costs.locations == loc for loc in np.unique(costs.locations)}
    groups |= {f"sector {sec}": costs.sectors == sec for sec in np.unique(costs.sectors)}
    return groups


def test_unit_cost_ranges_against_fresh_builds():
    costs = tiny_costs()
    envelope = 330.0
    lp = tiny_lp(costs, envelope)
    sol = solve_lp(lp)
    groups = tiny_groups(costs)
    table = unit_cost_ranges(lp, groups, sol.money, tolerance=0.10, lo=0.1, hi=10.0, steps=8)
    assert set(table.index) == set(groups)

    def money(mask: np.ndarray, f: float) -> float:
        scaled = costs.with_unit_costs(np.where(mask, f, 1.0))
        other = solve_lp(tiny_lp(scaled, envelope))
        assert other.status is SolveStatus.OPTIMAL
        return float(other.money[mask].sum()) * lp.units.usd

    checked = 0
    for name, mask in groups.items():
        row = table.loc[name]
        base = float(sol.money[mask].sum()) * lp.units.usd
        assert row["money_base_usd"] == pytest.approx(base, rel=1e-9)
        assert row["factor_low"] <= 1.0 <= row["factor_high"]

        def within(m: float, base: float = base) -> bool:
            return abs(m - base) <= 0.10 * base + 1e-6

        if row["factor_high"] < 10.0:
            assert not row["high_at_limit"]
            assert within(money(mask, row["factor_high"] * 0.99))
            assert not within(money(mask, row["factor_high"] * 1.05))
            checked += 1
        else:
            assert row["high_at_limit"] and within(money(mask, 10.0))
        if row["factor_low"] > 0.1:
            assert not row["low_at_limit"]
            assert within(money(mask, row["factor_low"] * 1.01))
            assert not within(money(mask, row["factor_low"] / 1.05))
            checked += 1
        else:
            assert row["low_at_limit"] and within(money(mask, 0.1))
        # the money reported at each end is that of a fresh build there
        assert row["money_high_usd"] == pytest.approx(money(mask, row["factor_high"]), rel=1e-6,
                                                      abs=1e-6)
        assert row["money_low_usd"] == pytest.approx(money(mask, row["factor_low"]), rel=1e-6,
                                                     abs=1e-6)
    # Poland loses POL HEALTH to Moldova once 2/f < 1.5 (f > 4/3); Moldova takes it once
    # 1.5/f > 2 (f < 3/4): the table must find those edges (less the tie-break slices)
    assert checked >= 4
    assert table.loc["location POL", "factor_high"] == pytest.approx(4 / 3, rel=0.02)
    assert table.loc["location MDA", "factor_low"] == pytest.approx(3 / 4, rel=0.02)
    assert table.loc["location MDA", "factor_high"] == 10.0


def test_unit_cost_ranges_refuses_limits_not_around_one():
    costs = tiny_costs()
    lp = tiny_lp(costs, 330.0)
    with pytest.raises(ValueError):
        unit_cost_ranges(lp, {}, solve_lp(lp).money, lo=1.2, hi=10.0)


# ---- the shipped plan: sides where the base optimum and the re-solves stand a tolerance apart --
#
# With continuity rows on the regional lines (XRS), funded as overheads of their region's
# programme money (the model put them there until continuity left overhead-funded enablers
# alone, docs/allocation.md), the enabler and continuity rows of those lines are degenerate
# on one side at the shipped planning case, and the objective and people of the base
# optimum differ from those of every re-solve near it by about 1e-6 (HiGHS's tolerances):
# the secant from the base point never meets the new basis's derivative, whatever the
# step. The test adds those continuity rows back to the shipped LP, as the model wrote
# them. The derivative reported must still be one: the optimal value is concave in a
# right-hand side, so the right derivative is at least every secant to the right, the
# left one at most every secant to the left (checked against solves of a separate HiGHS
# instance).


def _with_regional_continuity(lp, costs, kept: float = 0.5) -> int:
    """Add ``X_{XRS,s,y} >= kept X_{XRS,s,y-1}`` for every regional line; return how many."""
    import pulp

    cells = {(loc, sec, int(yr)): i for i, (loc, sec, yr) in enumerate(zip(
        costs.locations.tolist(), costs.sectors.tolist(), costs.years.tolist(), strict=True))}
    added = 0
    for (loc, sec, yr), i in sorted(cells.items()):
        prev = cells.get((loc, sec, yr - 1))
        if loc != "XRS" or prev is None:
            continue
        lp.problem += (pulp.lpSum(lp.tranche_vars[i])
                       - kept * pulp.lpSum(lp.tranche_vars[prev]) >= 0,
                       f"continuity_XRS_{sec}_{yr}")
        added += 1
    return added


@pytest.mark.slow
def test_shipped_plan_regional_overhead_rows_keep_concavity_bounds(monkeypatch):
    import highspy

    import reachplan.solver.sensitivity as sensitivity
    from reachplan.scenarios.plan_io import load_plan
    from reachplan.scenarios.scenario_io import load_scenario
    from reachplan.solver.matrix import highs_from_arrays

    plan = load_plan().plan
    costs = CostModel.from_plan(plan)
    lp = build_model(costs, load_scenario("shortfall_60").funding)
    assert not [n for n in lp.rows if n.startswith("continuity_XRS_")]
    assert _with_regional_continuity(lp, costs) >= 20
    arrays = lp_arrays(lp.problem)
    people = np.array([n.startswith("p_") for n in arrays.variable_names], dtype=float)
    rows = [i for i, n in enumerate(arrays.row_names)
            if n.startswith(("enabler_XRS_", "continuity_XRS_"))]
    assert len(rows) >= 10
    held: list[bool] = []
    holds_at = sensitivity._holds_at

    def counted(*args):
        held.append(holds_at(*args))
        return held[-1]

    monkeypatch.setattr(sensitivity, "_holds_at", counted)
    found = row_sensitivities(arrays, people, rows)
    assert sum(held) >= 5  # sides decided within a tolerance: the case this test is about

    # a separate HiGHS instance, each moved LP solved from the base optimum's basis
    h = highs_from_arrays(arrays.cost, arrays.maximise, arrays.col_lower, arrays.col_upper,
                          arrays.matrix, arrays.row_lower, arrays.row_upper)
    h.run()
    f0 = float(h.getInfo().objective_function_value)
    basis = h.getBasis()

    def moved(r: int, rhs: float) -> float:
        lo, up = arrays.row_lower[r], arrays.row_upper[r]
        h.setBasis(basis)
        h.changeRowBounds(r, rhs if lo == up or not np.isfinite(up) else lo,
                          rhs if np.isfinite(up) else up)
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        value = float(h.getInfo().objective_function_value)
        h.changeRowBounds(r, lo, up)
        return value

    step = 1e-3
    one_sided = 0
    for r, s in zip(rows, found, strict=True):
        slack = 1e-7 * max(1.0, abs(f0)) / step  # the solver's tolerance over the step
        right = (moved(r, s.rhs + step) - f0) / step
        left = (f0 - moved(r, s.rhs - step)) / step
        assert np.isfinite([s.value_up, s.value_down, s.people_up, s.people_down]).all(), s
        assert s.value_up >= right - slack, (s.row, s.value_up, right)
        assert s.value_down <= left + slack, (s.row, s.value_down, left)
        assert s.value_up <= s.value_down + slack, s
        one_sided += s.one_sided
    assert one_sided >= 5  # the degenerate sides this test is about are there


def test_a_side_no_step_settles_reports_the_last_basis_not_a_secant(monkeypatch):
    # one step only, and far too long: the hand LP's floor moved from 5 to -5 has slack, so
    # the step crosses the floor's kink at 5 and the secant (-0.5 value, +0.25 people per
    # $) is no derivative of the LP anywhere; the basis found at -5 gives 0 and 0
    import reachplan.solver.sensitivity as sensitivity

    monkeypatch.setattr(sensitivity, "FIRST_STEP", 2.0)
    monkeypatch.setattr(sensitivity, "SMALLEST_STEP", 2.0)
    prob, _ = hand_problem()
    arrays = lp_arrays(prob)
    people = np.array([n.startswith("p_") for n in arrays.variable_names], dtype=float)
    s = sensitivity._Solver(arrays, people)
    assert s.solve()
    base_obj, base_people = s.objective(), s.people_now()
    assert (base_obj, base_people) == pytest.approx((25.0, 17.5))
    r = arrays.row_names.index("floor")
    value, moved_people = sensitivity._one_side(s, r, 5.0, -1.0, base_obj, base_people, 5.0)
    assert (value, moved_people) == pytest.approx((0.0, 0.0), abs=1e-9)
    # and the row is back at its rhs
    assert (s.h.getLp().row_lower_[r], s.h.getLp().row_upper_[r]) == (5.0, arrays.row_upper[r])
