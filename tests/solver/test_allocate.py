from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from scipy.optimize import linprog

from reachplan.model.costs import CostModel
from reachplan.model.funding import (
    Amount,
    Envelope,
    Floor,
    FundingScenario,
    Selector,
    parse_funding,
)
from reachplan.solver.allocate import allocate, allocate_costs, solve_lp
from reachplan.solver.matrix import to_matrices
from reachplan.solver.model import build_model
from reachplan.solver.result import SolveStatus
from tests.solver.conftest import (
    HAND_CELLS,
    HAND_COSTS,
    HAND_NEED,
    make_plan,
    plans_and_scenarios,
    usd,
)


def alloc_of(result, loc, sec, year=2024):
    return result.cells.loc[(loc, sec, year), "allocated_usd"]


def test_hand_solved_optimum(hand_plan):
    r = allocate(hand_plan, usd(5e6))
    assert r.status is SolveStatus.OPTIMAL
    assert alloc_of(r, "MDA", "HEALTH") == pytest.approx(2e6, abs=1)
    assert alloc_of(r, "UKR", "HEALTH") == pytest.approx(3e6, abs=1)
    assert alloc_of(r, "UKR", "WASH") == pytest.approx(0, abs=1)
    assert r.people_reached == pytest.approx(70_000, rel=1e-6)
    assert r.pro_rata_people_reached == pytest.approx(16_666.667 + 16_666.667 + 12_500, rel=1e-6)
    env = {s.constraint: s.value for s in r.shadow_prices}["envelope_total"]
    assert env == pytest.approx(10_000, rel=1e-3)


def test_diminishing_returns_hand_solved():
    plan = make_plan([("UKR", "HEALTH", 2024, "SO1", 4e6)], {("UKR", "HEALTH"): 100.0},
                     {("UKR", 2024): 1e6}, curve=((0.5, 1.0), (0.5, 2.0)))
    r = allocate(plan, usd(3e6))
    # $2M at $100 (20,000) + $1M at $200 (5,000)
    assert r.people_reached == pytest.approx(25_000, rel=1e-6)


def test_people_in_need_bound_hand_solved():
    plan = make_plan(HAND_CELLS, HAND_COSTS, {("MDA", 2024): 30_000, ("UKR", 2024): 1e6})
    r = allocate(plan, usd(5e6))
    # MDA saturates at $1.5M (30,000 in need); the rest to UKR HEALTH: 35,000
    assert alloc_of(r, "MDA", "HEALTH") == pytest.approx(1.5e6, abs=1)
    assert r.people_reached == pytest.approx(65_000, rel=1e-6)
    assert r.by("location_code")["people_reached"]["MDA"] == pytest.approx(30_000, rel=1e-9)


def test_floor_and_its_shadow_price_hand_solved(hand_plan):
    sc = FundingScenario(Envelope(total=Amount("usd", 4.5e6)),
                         floors=(Floor("wash", 0.5, Selector(sector_codes=("WASH",))),),
                         objective="headcount")
    r = allocate(hand_plan, sc)
    assert alloc_of(r, "UKR", "WASH") == pytest.approx(3e6, abs=1)
    assert alloc_of(r, "MDA", "HEALTH") == pytest.approx(1.5e6, abs=1)
    assert r.people_reached == pytest.approx(45_000, rel=1e-6)
    prices = {s.kind: s.value for s in r.shadow_prices if s.kind in ("floor", "envelope")}
    assert prices["envelope"] == pytest.approx(20_000, rel=1e-3)
    assert prices["floor"] == pytest.approx(-15_000, rel=1e-3)


def test_overlap_factor_halves_people_not_beneficiaries():
    plan = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED, overlap=2.0)
    r = allocate(plan, usd(5e6))
    assert r.sector_beneficiaries == pytest.approx(70_000, rel=1e-6)
    assert r.people_reached == pytest.approx(35_000, rel=1e-6)


def test_unfunded_line_threshold_is_where_it_starts_to_get_money(hand_plan):
    r = allocate(hand_plan, usd(5e6))
    threshold = r.unfunded.loc[("UKR", "WASH", 2024), "threshold_unit_cost_usd"]
    assert threshold == pytest.approx(100.0, rel=1e-3)  # must match UKR HEALTH's value
    cheaper = make_plan(HAND_CELLS, {**HAND_COSTS, ("UKR", "WASH"): threshold * 0.95},
                        HAND_NEED)
    assert alloc_of(allocate(cheaper, usd(5e6)), "UKR", "WASH") > 1e5
    dearer = make_plan(HAND_CELLS, {**HAND_COSTS, ("UKR", "WASH"): threshold * 1.05}, HAND_NEED)
    assert alloc_of(allocate(dearer, usd(5e6)), "UKR", "WASH") == 0


@pytest.mark.parametrize("kind", ["envelope", "floor"])
def test_shadow_prices_match_finite_differences(kind):
    plan = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED, curve=((0.5, 1.0), (0.5, 1.7)))
    costs = CostModel.from_plan(plan)

    def scenario(envelope, floor):
        return FundingScenario(Envelope(total=Amount("usd", envelope)),
                               floors=(Floor("wash", floor, Selector(sector_codes=("WASH",))),),
                               objective="headcount")

    base = allocate_costs(costs, scenario(7e6, 0.3))
    price = next(s.value for s in base.shadow_prices if s.kind == kind)
    h = 1e4  # $10,000
    if kind == "envelope":
        up = allocate_costs(costs, scenario(7e6 + h, 0.3))
    else:
        up = allocate_costs(costs, scenario(7e6, 0.3 + h / 6e6))  # floor rhs + $10,000
    fd = (up.objective - base.objective) / (h / 1e6)
    assert price == pytest.approx(fd, rel=1e-3)
    # headcount: people per $1M and the dual are the same thing
    people_fd = (up.people_reached - base.people_reached) / (h / 1e6)
    assert price == pytest.approx(people_fd, rel=1e-3)
    assert (price < 0) == (kind == "floor")


def _scipy_objective(lp):
    m = to_matrices(lp.problem)
    res = linprog(m.c, A_ub=m.a_ub if m.a_ub.shape[0] else None,
                  b_ub=m.b_ub if m.a_ub.shape[0] else None,
                  A_eq=m.a_eq if m.a_eq.shape[0] else None,
                  b_eq=m.b_eq if m.a_eq.shape[0] else None,
                  bounds=[(lo, hi) for lo, hi in m.bounds], method="highs")
    assert res.status == 0
    return m.sign * res.fun


@settings(max_examples=200, deadline=None)
@given(plans_and_scenarios())
def test_objective_agrees_with_scipy_highs(case):
    plan, scenario = case
    lp = build_model(CostModel.from_plan(plan), scenario)
    sol = solve_lp(lp)
    assert sol.status is SolveStatus.OPTIMAL
    ref = _scipy_objective(lp)
    assert sol.objective == pytest.approx(ref, rel=1e-6, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(plans_and_scenarios())
def test_envelope_shadow_price_matches_finite_difference(case):
    plan, scenario = case
    costs = CostModel.from_plan(plan)
    floors = tuple(replace(f, share=min(f.share, 0.4)) for f in scenario.floors)
    scenario = FundingScenario(Envelope(total=Amount("share", 0.5)), floors=floors)
    # the envelope's dual is all this test reads: the other rows are not ranged
    base = allocate_costs(costs, scenario, ranged="envelope")
    price = next(s for s in base.shadow_prices if s.constraint == "envelope_total")
    h = 1e-7 * costs.requirement_usd.sum()
    for step in (h, -h):
        other = FundingScenario(Envelope(total=Amount("usd", base.funding_usd + step)),
                                floors=scenario.floors)
        fd = ((allocate_costs(costs, other, ranged="none").objective - base.objective)
              / (step / 1e6))
        if step > 0:
            right = fd
        else:
            left = fd
    # at a breakpoint the dual (priority value per $1M) lies between the one-sided derivatives
    tol = 1e-3 * max(abs(left), abs(right), 1.0)
    assert min(left, right) - tol <= price.objective_value <= max(left, right) + tol


def test_default_plan_full_funding_reaches_people_targeted():
    from reachplan.scenarios.plan_io import load_plan

    plan = load_plan().plan
    r = allocate(plan, FundingScenario(parse_funding("100%")))
    reached = r.by("location_code", "year")["people_reached"].xs(2024, level="year")
    targeted = plan.population("targeted").xs(2024, level="year")
    ratio = (reached.reindex(targeted.index) / targeted).to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.01)
    # regional support reaches nobody itself: it is funded as an overhead of the
    # neighbouring countries' programme money, in full at full funding
    xrs = r.by("location_code").loc["XRS"]
    assert xrs["allocated_usd"] == pytest.approx(xrs["requirement_usd"], rel=1e-9)
    assert xrs["people_reached"] == 0


def test_default_plan_60_percent_beats_pro_rata_within_rules():
    from reachplan.scenarios.plan_io import load_plan

    plan = load_plan().plan
    r = allocate(plan, FundingScenario(parse_funding("60%")))
    assert r.allocated_usd == pytest.approx(0.6 * plan.requirement_by()["total"], abs=1)
    assert r.people_reached > r.pro_rata_people_reached * 1.01
    assert r.provenance["plan_fingerprint"] == plan.fingerprint


def test_cap_shadow_price_matches_finite_difference():
    from reachplan.model.funding import Cap

    plan = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED, curve=((0.5, 1.0), (0.5, 1.7)))
    costs = CostModel.from_plan(plan)
    mda = Selector(location_codes=("MDA",), sector_codes=("HEALTH",))

    def scenario(factor):
        return FundingScenario(Envelope(total=Amount("usd", 8e6)), caps=(Cap(factor, mda),),
                               objective=objective)

    h = 1e4  # $10,000 more absorption for the capped line (2e6 requirement)
    for objective in ("headcount", "priority"):
        base = allocate_costs(costs, scenario(0.8))
        price = next(s for s in base.shadow_prices if s.kind == "cap")
        up = allocate_costs(costs, scenario(0.8 + h / 2e6))
        people = (up.people_reached - base.people_reached) / (h / 1e6)
        value = (up.objective - base.objective) / (h / 1e6)
        assert price.value > 0
        assert price.value == pytest.approx(people, rel=1e-3), objective
        assert price.objective_value == pytest.approx(value, rel=1e-3), objective
