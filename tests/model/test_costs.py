import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reachplan.model.costs import CostCurve, CostModel
from reachplan.model.plan import PlanError
from reachplan.model.unit_costs import calibrate_unit_costs
from tests.solver.conftest import HAND_CELLS, HAND_COSTS, make_plan

CURVE = CostCurve((0.5, 0.3, 0.2), (1.0, 1.25, 2.0))


def test_curve_hand_values():
    req = np.array([1e6])
    u = np.array([100.0])
    # $0.6M: $0.5M at $100 (5,000) + $0.1M at $125 (800)
    assert CURVE.beneficiaries(np.array([6e5]), req, u) == pytest.approx([5800])
    # full: 5,000 + 2,400 + 1,000
    assert CURVE.beneficiaries(req, req, u) == pytest.approx([8400])
    # beyond the requirement: last tranche's cost ($200)
    assert CURVE.beneficiaries(np.array([1.1e6]), req, u) == pytest.approx([8900])
    assert CURVE.mean_inverse_factor == pytest.approx(0.84)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 2e6), st.floats(0, 2e6))
def test_curve_is_concave_and_non_decreasing(a, b):
    req, u = np.array([1e6]), np.array([100.0])
    lo, hi = min(a, b), max(a, b)
    f = lambda x: CURVE.beneficiaries(np.array([x]), req, u)[0]  # noqa: E731
    assert f(hi) >= f(lo) - 1e-9
    assert f((lo + hi) / 2) >= (f(lo) + f(hi)) / 2 - 1e-6


def test_curve_rejects_rising_returns():
    with pytest.raises(PlanError):
        CostCurve((0.5, 0.5), (1.5, 1.0))
    with pytest.raises(PlanError):
        CostCurve((0.5, 0.4), (1.0, 1.0))


def test_people_capped_by_need_and_divided_by_overlap():
    plan = make_plan(HAND_CELLS, HAND_COSTS, {("UKR", 2024): 10_000, ("MDA", 2024): 1e6},
                     overlap=2.0)
    costs = CostModel.from_plan(plan)
    # full funding: MDA 40,000; UKR 40,000 + 30,000 beneficiaries, each sector's capped at
    # the 10,000 people in need (a sector serves no more people than are in need)
    x = costs.requirement_usd
    assert costs.sector_beneficiaries(x).sum() == pytest.approx(60_000)
    by_loc = costs.people_reached_by_location(x)
    assert by_loc[("MDA", 2024)] == pytest.approx(20_000)
    assert by_loc[("UKR", 2024)] == pytest.approx(10_000)  # 35,000 capped at 10,000 in need


def test_overlap_below_one_is_rejected():
    with pytest.raises(PlanError, match="overlap_factor"):
        CostModel.from_plan(make_plan(HAND_CELLS, HAND_COSTS, overlap=0.5))


def test_cells_without_unit_cost_reach_nobody():
    plan = make_plan(HAND_CELLS, {("UKR", "HEALTH"): 100.0})
    costs = CostModel.from_plan(plan)
    people = costs.sector_beneficiaries(costs.requirement_usd)
    assert people.tolist() == [0.0, 40_000.0, 0.0]


def test_calibration_reaches_targets_at_full_funding():
    from reachplan.scenarios.plan_io import load_plan

    plan = load_plan().plan
    table = calibrate_unit_costs(plan, CURVE, overlap_factor=1.6)
    assert "XRS" not in set(table["location_code"])
    tables = {**plan.tables, "unit_costs": table,
              "cost_curve": make_plan(HAND_CELLS, HAND_COSTS,
                                      curve=tuple(zip(CURVE.shares, CURVE.factors,
                                                      strict=True))).tables["cost_curve"],
              "settings": plan.tables["settings"]}
    from reachplan.model.plan import Plan

    calibrated = Plan.from_tables(tables)
    costs = CostModel.from_plan(calibrated)
    costs = CostModel(costs.cells, costs.requirement_usd, costs.unit_cost_usd, costs.weight,
                      costs.objective_shares, costs.people_in_need, costs.curve, 1.6)
    reached = costs.people_reached_by_location(costs.requirement_usd).xs(2024, level="year")
    targeted = plan.population("targeted").xs(2024, level="year")
    ratio = reached.reindex(targeted.index) / targeted
    assert np.all(np.abs(ratio - 1) < 0.01)


def test_shipped_default_plan_is_valid_with_cost_tables():
    from reachplan.scenarios.plan_io import load_plan

    loaded = load_plan()
    assert loaded.validation.errors == ()
    assert {"unit_costs", "cost_curve"} <= set(loaded.plan.tables)


@pytest.mark.parametrize(
    ("text", "message"),
    [("abc", "not a number: 'abc'"), ("1,5", "ambiguous number '1,5'"), ("inf", "not a finite")],
)
def test_overlap_setting_is_read_as_validation_reads_it(text, message):
    with pytest.raises(PlanError, match=f"setting overlap_factor: {message}"):
        CostModel.from_plan(make_plan(HAND_CELLS, HAND_COSTS, overlap=text))
    grouped = CostModel.from_plan(make_plan(HAND_CELLS, HAND_COSTS, overlap="1.5"))
    assert grouped.overlap_factor == 1.5
