"""The report's data: extra-$1M values against the cost model, the fans' draws, provenance."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.simulation import needs_per_draw, people_in_need
from reachplan.scenarios.plan_io import load_plan
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.scenarios.simulation_io import load_initial_state
from reachplan.solver.allocate import allocate
from reachplan.solver.marginal import LineStatus, line_marginals
from reachplan.workflow.report_inputs import simulate_run_draws
from tests.reports.report_fixture import small_report


def test_extra_1m_equals_a_direct_evaluation_of_the_cost_model():
    plan = load_plan().plan
    scenario = load_scenario("shortfall_50")
    alloc = allocate(plan, scenario.funding)
    costs = CostModel.from_plan(plan)
    allocated = alloc.cells["allocated_usd"].to_numpy()
    marginals = line_marginals(costs, scenario.funding, allocated)
    gain, notes = marginals.people, marginals.notes
    base = costs.people_reached_cells(allocated).sum()
    limit = costs.requirement_usd  # the default plan's absorption limit is 1.0
    checked = 0
    for i in np.flatnonzero(costs.reaches_people)[::7]:
        bumped = allocated.copy()
        bumped[i] = min(allocated[i] + 1e6, limit[i])
        direct = costs.people_reached_cells(bumped).sum() - base
        assert gain[i] == pytest.approx(direct, rel=1e-9, abs=1e-6), costs.cells[i]
        checked += 1
    assert checked > 20
    full = np.flatnonzero(costs.reaches_people & (allocated >= limit - 1e-6))
    assert all(gain[i] == 0 for i in full)
    assert all(marginals.status[i] is LineStatus.AT_LIMIT for i in full)
    assert all(notes[i].startswith("at its absorption limit") for i in full)
    assert gain.max() > 0


def test_fans_use_the_draws_the_run_was_solved_in():
    report = small_report()
    run = report.runs[1]
    result = simulate_run_draws(run.scenario, load_initial_state())
    assert result.draws == run.draws
    table = needs_per_draw(result)
    start = people_in_need(result)[0, 0, :]
    costs = CostModel.from_plan(load_plan().plan)
    locs = list(table.locations)
    years = [int(y) for y in table.years]
    compared = 0
    for r, (loc, year) in enumerate(run.need_rows):
        if loc in locs and year in years:
            i, j = locs.index(loc), years.index(year)
            expected = costs.people_in_need_of(loc, year) * table.values[:, i, j] / start[i]
            np.testing.assert_allclose(run.need[:, r], expected, rtol=1e-12)
            compared += 1
    assert compared >= 12


def test_bands_are_ordered_and_match_the_runs():
    data = small_report().data
    q = data.displacement_totals[["p05", "p10", "p50", "p90", "p95"]].to_numpy()
    assert (np.diff(q, axis=1) >= -1e-6).all()
    assert set(data.displacement_totals["simulation"]) == set(data.scenario_names)


def test_provenance_names_every_file_hash_seed_and_version():
    report = small_report()
    prov = report.data.provenance
    values = set(prov["value"])
    for run in report.runs:
        assert run.scenario.sha256 in values
        assert "; ".join(run.scenario.files) in values
    assert report.runs[0].provenance["plan_fingerprint"] in values
    assert set(prov.loc[prov["section"] == "packages", "item"]) >= {
        "reachplan", "numpy", "pulp", "highspy", "plotly", "matplotlib", "xlsxwriter"}
    assert len(report.data.warnings) == len(load_plan().validation.warnings)


def test_gain_over_pro_rata_and_ladder_are_those_of_the_solver():
    data = small_report().data
    plan = load_plan().plan
    for run in small_report().runs:
        alloc = allocate(plan, run.scenario.funding)
        row = data.scenarios[data.scenarios["scenario"] == run.scenario.name].iloc[0]
        assert row["gain_over_pro_rata"] == pytest.approx(alloc.gain_over_pro_rata, rel=1e-9)
        assert row["plan_people_reached"] == pytest.approx(alloc.people_reached, rel=1e-9)
    ladder = data.funding_ladder
    ok = ladder[ladder["status"] == "optimal"]
    assert (np.diff(ok["people_reached"].to_numpy()) >= -1e-6).all()


def test_scenarios_with_the_same_assumptions_share_bands():
    from reachplan.workflow.report_inputs import simulation_key as _simulation_key

    a, b = load_scenario("shortfall_50", draws=10), load_scenario("shortfall_60", draws=10)
    assert _simulation_key(a) == _simulation_key(b)
    assert _simulation_key(a) != _simulation_key(load_scenario("tp_ends_2025", draws=10))
    assert _simulation_key(a) != _simulation_key(load_scenario("shortfall_50", draws=11))


def test_a_line_at_its_limit_has_that_status_and_reaches_nobody_more():
    plan = load_plan().plan
    scenario = load_scenario("shortfall_50")
    costs = CostModel.from_plan(plan)
    allocated = allocate(plan, scenario.funding).cells["allocated_usd"].to_numpy().copy()
    lines = np.flatnonzero(costs.reaches_people & (costs.requirement_usd > 0))[:5]
    allocated[lines] = costs.requirement_usd[lines]  # the default plan's cap is 1.0
    marginals = line_marginals(costs, scenario.funding, allocated)
    for i in lines:
        assert marginals.status[i] is LineStatus.AT_LIMIT
        assert marginals.people[i] == 0
        assert marginals.notes[i] == "at its absorption limit (100% of requirement)"
    assert {marginals.status[i] for i in range(costs.n_cells) if marginals.notes[i] == ""} <= {
        LineStatus.OPEN}


def test_extra_1m_table_carries_each_line_status_and_the_page_counts_by_it():
    from reachplan.reports.html import render_html

    data = small_report().data
    extra = data.extra_1m
    assert set(extra["status"]) <= {s.value for s in LineStatus}
    assert (extra["status"] == "open").sum() > 0
    for status, prefix in (("at_limit", "at its absorption limit"),
                           ("need_met", "every person in need")):
        assert all(n.startswith(prefix) for n in extra.loc[extra["status"] == status, "note"])
    # the page counts lines by status, whatever their notes say
    name = data.scenario_names[0]
    mine = extra.index[extra["scenario"] == name]
    status = extra["status"].copy()
    status[mine[:3]] = "at_limit"
    status[mine[3:5]] = "need_met"
    changed = extra.assign(status=status, note="reworded")
    html = render_html(dataclasses.replace(data, extra_1m=changed))
    at_limit = int(((changed["scenario"] == name) & (status == "at_limit")).sum())
    need_met = int(((changed["scenario"] == name) & (status == "need_met")).sum())
    assert at_limit >= 3 and need_met >= 2
    assert f"{at_limit} lines are at their absorption limit and {need_met} are in" in html
