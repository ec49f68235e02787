"""Robust plans measured fairly: the same recourse for every plan, paired intervals, replicates.

A three-year, two-location plan small enough to reason about: MDA HEALTH reaches a person
for $50, UKR HEALTH for $100, $2M of requirements per line and year, 30,000 people in need
per location and year, $5M for the three years together. The cheaper MDA line is worth
funding only up to its people in need ($1.5M a year at multiplier 1), so how the money is
split across years and locations depends on the needs the planner expects.
"""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from reachplan.model.funding import Amount, Envelope, FundingScenario
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.scenarios.simulation_io import load_initial_state
from reachplan.solver.batch import prepared_model
from reachplan.solver.result import RobustPlan
from reachplan.solver.robust import (
    FORECAST_RULE,
    compare_plans,
    evaluate_fixed,
    evaluate_with_recourse,
    forecast_multipliers,
    paired_interval,
    plan_for_mean_needs,
    plan_over_draws,
    plan_statistics,
    planning_seeds,
    recourse_allocation,
)
from tests.solver.conftest import make_plan

YEARS = (2024, 2025, 2026)


@pytest.fixture(scope="module")
def setting():
    cells = [(loc, "HEALTH", y, "SO1", 2e6) for loc in ("MDA", "UKR") for y in YEARS]
    need = {(loc, y): 30000.0 for loc in ("MDA", "UKR") for y in YEARS}
    plan = make_plan(cells, {("MDA", "HEALTH"): 50.0, ("UKR", "HEALTH"): 100.0}, need)
    scenario = dataclasses.replace(
        load_scenario("catastrophic_surge", draws=2, seed=3),
        # hand-solved in people per dollar: the headcount objective
        funding=FundingScenario(Envelope(total=Amount("usd", 5e6)), objective="headcount"),
    )
    prep = prepared_model(plan, scenario)
    assert prep.need_rows == [(loc, y) for loc in ("MDA", "UKR") for y in YEARS]
    return plan, scenario


def row(loc: str, year: int) -> int:
    return ("MDA", "UKR").index(loc) * 3 + YEARS.index(year)


# ---- the forecast -----------------------------------------------------------------------------


def test_forecast_scales_the_planning_mean_by_the_last_observed_ratio():
    rows = [("A", 2024), ("A", 2025), ("A", 2026), ("B", 2025), ("B", 2026)]
    mean = np.array([1.0, 2.0, 4.0, 1.0, 3.0])
    known = np.array([1.5, 1.0, np.nan, 2.0, np.nan])  # 2026 not known at the start of 2026
    got = forecast_multipliers(known, mean, rows, 2026)
    # A: last observed 2025, ratio 1.0 / 2.0; B: last observed 2025, ratio 2.0 / 1.0
    np.testing.assert_array_equal(got, [1.5, 1.0, 4.0 * 0.5, 2.0, 3.0 * 2.0])
    # at the start of 2025 only 2024 is known: B has no observed year and keeps its mean
    got = forecast_multipliers(np.array([1.5, np.nan, np.nan, np.nan, np.nan]), mean, rows, 2025)
    np.testing.assert_array_equal(got, [1.5, 2.0 * 1.5, 4.0 * 1.5, 1.0, 3.0])
    assert "planning" in FORECAST_RULE and "last observed year" in FORECAST_RULE


# ---- the recourse never sees later years ------------------------------------------------------


def test_recourse_decisions_do_not_see_later_years(setting):
    plan, scenario = setting
    mean = np.ones(6)
    first = plan_for_mean_needs(plan, scenario, mean[None, :]).allocation_usd
    a = np.ones(6)
    later = a.copy()
    later[row("MDA", 2026)] = 0.5  # differs only in the last year
    middle = a.copy()
    middle[row("MDA", 2025)] = 0.5  # differs from 2025 on
    early = a.copy()
    early[row("MDA", 2024)] = 0.5  # seen at the start of 2025
    pa, pl, pm, pe = (
        recourse_allocation(plan, scenario, first, f, mean) for f in (a, later, middle, early)
    )
    # every decision is made before 2026's needs are seen: all identical, only the score moves
    np.testing.assert_array_equal(pa.allocation_usd, pl.allocation_usd)
    np.testing.assert_array_equal(pa.stage_plans_usd, pl.stage_plans_usd)
    assert pl.people < pa.people - 1000
    # a future that differs from 2025: 2024 and 2025 money identical, 2026 may move
    years = np.array([y for _ in ("MDA", "UKR") for y in YEARS])
    upto_2025 = years <= 2025
    np.testing.assert_array_equal(pa.allocation_usd[upto_2025], pm.allocation_usd[upto_2025])
    np.testing.assert_array_equal(pa.stage_plans_usd[0], pm.stage_plans_usd[0])
    assert not np.allclose(pa.allocation_usd[years == 2026], pm.allocation_usd[years == 2026])
    # what was seen in 2024 moves the 2025 decision (the recourse does use what is known)
    in_2024 = years == 2024
    np.testing.assert_array_equal(pa.allocation_usd[in_2024], pe.allocation_usd[in_2024])
    assert not np.allclose(pa.allocation_usd[years == 2025], pe.allocation_usd[years == 2025])
    # MDA 2024 at half its need: MDA's later need is forecast at half, money moves to UKR
    assert pe.allocation_usd[row("MDA", 2025)] == pytest.approx(750_000.0, abs=2.0)


def test_a_future_scored_alone_or_among_others_gives_the_same_numbers(setting):
    plan, scenario = setting
    mean = np.ones(6)
    robust = plan_for_mean_needs(plan, scenario, mean[None, :])
    futures = np.ones((3, 6))
    futures[0, row("UKR", 2024)] = 1.7
    futures[1, row("MDA", 2024)] = 0.4
    futures[2, row("MDA", 2025)] = 1.3
    together = evaluate_with_recourse(plan, scenario, robust, futures, mean)
    for d in range(3):
        alone = evaluate_with_recourse(plan, scenario, robust, futures[d : d + 1], mean)
        # same starting basis for every future: equal up to floating-point round-off
        assert alone[0][0] == pytest.approx(together[0][d], rel=1e-9)
        assert alone[1][0] == pytest.approx(together[1][d], rel=1e-9)


def test_plans_with_the_same_first_year_get_the_same_recourse(setting):
    plan, scenario = setting
    mean = np.ones(6)
    base = plan_for_mean_needs(plan, scenario, mean[None, :])
    years = np.array([y for _ in ("MDA", "UKR") for y in YEARS])
    other_later = np.where(years == 2024, base.allocation_usd, 0.0)  # later years emptied
    other = RobustPlan("saa", other_later, np.ones(6, dtype=bool), np.zeros(1))
    futures = np.array([np.ones(6), np.linspace(0.6, 1.5, 6)])
    np.testing.assert_array_equal(
        evaluate_with_recourse(plan, scenario, base, futures, mean)[0],
        evaluate_with_recourse(plan, scenario, other, futures, mean)[0],
    )
    # without recourse the emptied later years reach only the first year's people
    assert (evaluate_fixed(plan, scenario, other, futures)[0]
            < evaluate_fixed(plan, scenario, base, futures)[0] - 1000).all()


def test_recourse_on_the_forecast_future_keeps_the_deterministic_optimum(setting):
    # principle of optimality: when each year comes out exactly as forecast, re-deciding
    # later years changes nothing and the plan reaches what its own LP promised
    plan, scenario = setting
    mean = np.array([1.2, 0.9, 1.1, 0.8, 1.3, 1.0])
    robust = plan_for_mean_needs(plan, scenario, mean[None, :])
    path = recourse_allocation(plan, scenario, robust.allocation_usd, mean, mean)
    assert path.people == pytest.approx(robust.in_sample_people[0], rel=1e-7)
    # hand solution at these needs: MDA reaches all its need (36,000 + 27,000 + 33,000
    # people for $4.8M), the remaining $0.2M reach 2,000 people in UKR
    assert path.people == pytest.approx(96_000 + 2_000, rel=1e-7)


def test_two_stage_in_sample_hindsight_is_not_what_the_comparison_reports(setting):
    # the two-stage LP re-decides later years knowing each planning future in full; with the
    # comparison's recourse on the same futures it cannot do better than that hindsight
    plan, scenario = setting
    train = np.array([np.linspace(0.7, 1.4, 6), np.linspace(1.3, 0.8, 6)])
    two = plan_over_draws(plan, scenario, train, "two_stage")
    fair = evaluate_with_recourse(plan, scenario, two, train, train.mean(axis=0))[0]
    assert (fair <= two.in_sample_people + 1e-6 * two.in_sample_people).all()
    assert fair.sum() < two.in_sample_people.sum() - 100


# ---- paired intervals -------------------------------------------------------------------------


def test_paired_interval_matches_a_hand_computation():
    values = np.array([11.0, 14.0, 12.0, 15.0, 19.0])
    reference = np.array([10.0, 12.0, 9.0, 11.0, 13.0])
    got = paired_interval(values, reference, 0.95)
    d = [1.0, 2.0, 3.0, 4.0, 6.0]
    mean_d = sum(d) / 5  # 3.2
    sd = math.sqrt(sum((x - mean_d) ** 2 for x in d) / 4)
    q = stats.t.ppf(0.975, 4)
    assert got.n == 5
    assert got.mean_difference == pytest.approx(3.2, rel=1e-12)
    assert got.low == pytest.approx(3.2 - q * sd / math.sqrt(5), rel=1e-12)
    assert got.high == pytest.approx(3.2 + q * sd / math.sqrt(5), rel=1e-12)
    mean_b = 55.0 / 5
    g = mean_d / mean_b
    resid = [x - g * b for x, b in zip(d, [10.0, 12.0, 9.0, 11.0, 13.0], strict=True)]
    mr = sum(resid) / 5
    sr = math.sqrt(sum((r - mr) ** 2 for r in resid) / 4)
    assert got.relative_gain == pytest.approx(3.2 / 11.0, rel=1e-12)
    assert got.relative_low == pytest.approx(g - q * sr / (math.sqrt(5) * mean_b), rel=1e-12)
    assert got.relative_high == pytest.approx(g + q * sr / (math.sqrt(5) * mean_b), rel=1e-12)
    # scipy's own paired t test gives the same interval
    ci = stats.ttest_rel(values, reference).confidence_interval(0.95)
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_paired_interval_of_one_future_has_no_width():
    got = paired_interval(np.array([3.0]), np.array([2.0]))
    assert got.mean_difference == 1.0 and got.relative_gain == 0.5
    assert math.isnan(got.low) and math.isnan(got.high) and math.isnan(got.relative_low)


# ---- replicates and determinism ---------------------------------------------------------------


def test_planning_seeds_are_distinct_and_prefixes_of_each_other():
    five = planning_seeds(7, 5)
    assert planning_seeds(7, 3) == five[:3]
    assert len(set(five)) == 5 and planning_seeds(8, 3) != five[:3]
    with pytest.raises(ValueError):
        planning_seeds(7, 0)


def test_comparison_is_deterministic_and_replicates_do_not_depend_on_their_number(setting):
    plan, scenario = setting
    initial = load_initial_state()
    kw = {"planning_draws": 3, "evaluation_draws": 4}
    one = compare_plans(plan, scenario, initial, replicates=1, **kw)
    two = compare_plans(plan, scenario, initial, replicates=2, **kw)
    again = compare_plans(plan, scenario, initial, replicates=2, **kw)
    assert two.planning_seeds[:1] == one.planning_seeds
    for measure in ("people", "objective"):
        for recourse in (True, False):
            np.testing.assert_array_equal(
                two.outcomes(measure, recourse)[:1], one.outcomes(measure, recourse)
            )
            np.testing.assert_array_equal(
                two.outcomes(measure, recourse), again.outcomes(measure, recourse)
            )
    for p1, p2 in zip(one.plans, two.replicate_plans[0], strict=True):
        np.testing.assert_array_equal(p1.allocation_usd, p2.allocation_usd)
    # the two replicates plan on different futures
    assert not np.array_equal(two.outcomes()[0], two.outcomes()[1])
    assert two.people_by_replicate.shape == (2, 4, 4)
    np.testing.assert_array_equal(two.people, two.people_by_replicate.mean(axis=0))


def test_comparison_is_the_same_on_two_workers(setting):
    plan, scenario = setting
    initial = load_initial_state()
    kw = {"planning_draws": 2, "evaluation_draws": 30, "replicates": 2}  # 2 chunks of futures
    serial = compare_plans(plan, scenario, initial, workers=1, **kw)
    parallel = compare_plans(plan, scenario, initial, workers=2, **kw)
    for measure in ("people", "objective"):
        for recourse in (True, False):
            np.testing.assert_array_equal(
                serial.outcomes(measure, recourse), parallel.outcomes(measure, recourse)
            )


def test_statistics_are_the_paired_intervals_of_the_outcomes(setting):
    plan, scenario = setting
    comp = compare_plans(
        plan, scenario, load_initial_state(), planning_draws=3, evaluation_draws=5, replicates=2
    )
    people = comp.outcomes("people", True)
    fixed = comp.outcomes("objective", False)
    saa = comp.methods.index("saa")
    for measure, values in (("people", people), ("objective", fixed)):
        st = plan_statistics(comp, measure, recourse=measure == "people")[saa]
        assert st.method == "saa" and st.mean == pytest.approx(values[:, saa].mean(), rel=1e-12)
        d = (values[:, saa] - values[:, 0]).mean(axis=0)  # average over replicates per future
        q = stats.t.ppf(0.975, len(d) - 1)
        half = q * d.std(ddof=1) / np.sqrt(len(d))
        assert st.pooled.low == pytest.approx(d.mean() - half, rel=1e-9, abs=1e-9)
        for r in range(2):
            dr = values[r, saa] - values[r, 0]
            assert st.replicates[r].mean_difference == pytest.approx(dr.mean(), rel=1e-12)
        gains = [iv.relative_gain for iv in st.replicates]
        assert (st.spread_min, st.spread_max) == (min(gains), max(gains))
    base = plan_statistics(comp)[0]
    assert base.method == "mean_needs" and base.pooled.mean_difference == 0.0
    assert comp.value_of_planning() == pytest.approx(
        plan_statistics(comp)[saa].pooled.relative_gain, rel=1e-12
    )
