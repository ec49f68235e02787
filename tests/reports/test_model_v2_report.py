"""What allocation model v2 adds to the suite report, checked against independent sums.

Coverage, unmet need per year and entities over the futures are recomputed from the
runs' arrays (``need``, ``reached``, ``entities_reached``); the figures at the plan's
figures from the allocation's cells and the plan's people in need; the sector cost
index sensitivity from its two allocations, cell by cell.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from types import SimpleNamespace

import numpy as np
import openpyxl
import pandas as pd
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.funding import Amount, Envelope, FundingScenario
from reachplan.model.plan import Plan
from reachplan.model.unit_costs import with_flat_cost_index
from reachplan.reports.excel import SHEETS, render_workbook, sheet_names
from reachplan.reports.html import render_html
from reachplan.reports.report_data import build_report_data, moved_share
from reachplan.reports.scenario_report import render_comparison, render_run_text
from reachplan.reports.tables import render_report_json
from reachplan.workflow.report_inputs import (
    PLANNING_CASE,
    cost_index_sensitivity,
    planning_case,
)
from tests.conftest import tiny_tables
from tests.reports.report_fixture import small_report


def _scenario_row(name: str) -> pd.Series:
    sc = small_report().data.scenarios
    return sc[sc["scenario"] == name].iloc[0]


# ---- over the simulated futures ------------------------------------------------------------


def test_coverage_entities_and_unmet_need_equal_the_runs_arrays():
    for run in small_report().runs:
        row = _scenario_row(run.scenario.name)
        need, reached = run.need.sum(axis=1), run.reached.sum(axis=1)
        assert (need > 0).all()
        assert row["coverage_mean"] == pytest.approx(float(np.mean(reached / need)), rel=1e-12)
        assert 0 < row["coverage_mean"] < 1
        assert row["entities_reached_mean"] == pytest.approx(
            float(np.mean(run.entities_reached)), rel=1e-12)
        assert row["entities_reached_mean"] > 0
        # unmet need in an average year: per location the mean over its years, then summed
        gap = (run.need - run.reached).mean(axis=0)
        per_loc: dict[str, list[float]] = {}
        for (loc, _), value in zip(run.need_rows, gap, strict=True):
            per_loc.setdefault(loc, []).append(float(value))
        avg_year = sum(np.mean(v) for v in per_loc.values())
        assert row["unmet_need_mean"] == pytest.approx(avg_year, rel=1e-12)


def test_unmet_need_per_year_is_per_year_and_never_summed():
    data = small_report().data
    for run in small_report().runs:
        by = data.by_year[data.by_year["scenario"] == run.scenario.name].set_index("year")
        gap = (run.need - run.reached).mean(axis=0)
        years = sorted({y for _, y in run.need_rows})
        assert list(by.index) == years and len(years) >= 2
        for year in years:
            expected = sum(float(g) for (_, y), g in zip(run.need_rows, gap, strict=True)
                           if y == year)
            assert by.loc[year, "unmet_need_mean"] == pytest.approx(expected, rel=1e-12)
        # the average year is the mean of the years, not their sum
        row = _scenario_row(run.scenario.name)
        assert row["unmet_need_mean"] == pytest.approx(by["unmet_need_mean"].mean(), rel=1e-9)
        assert row["unmet_need_mean"] < 0.5 * by["unmet_need_mean"].sum()


# ---- at the plan's figures -----------------------------------------------------------------


def test_coverage_table_equals_the_allocation_cells_and_the_plans_need():
    report = small_report()
    costs = CostModel.from_plan(report.inputs.plan)
    for run in report.runs:
        name = run.scenario.name
        alloc = report.inputs.allocations[name]
        cov = report.data.coverage[report.data.coverage["scenario"] == name]
        reached = alloc.cells["people_reached"].groupby(level=["location_code", "year"]).sum()
        assert len(cov) >= 12
        for r in cov.itertuples(index=False):
            need = costs.people_in_need_of(r.location_code, r.year)
            assert r.people_in_need == pytest.approx(need, rel=1e-12)
            assert r.people_reached == pytest.approx(
                float(reached.loc[(r.location_code, r.year)]), rel=1e-9, abs=1e-6)
            assert r.coverage == pytest.approx(r.people_reached / need, rel=1e-9)
            assert r.unmet_need == pytest.approx(need - r.people_reached, rel=1e-9)
            assert r.location_name  # every location of the default plan has a name
        row = _scenario_row(name)
        assert row["plan_coverage"] == pytest.approx(
            cov["people_reached"].sum() / cov["people_in_need"].sum(), rel=1e-9)


def test_unique_people_and_entities_per_year_recomputed_from_the_cells():
    report = small_report()
    costs = CostModel.from_plan(report.inputs.plan)
    for run in report.runs:
        name = run.scenario.name
        alloc = report.inputs.allocations[name]
        by = report.data.by_year[report.data.by_year["scenario"] == name].set_index("year")
        cells = alloc.cells
        people = cells[cells["output"] == "people"]
        benef = people["sector_beneficiaries"]
        largest = benef.groupby(level=["location_code", "year"]).max()
        total = benef.groupby(level=["location_code", "year"]).sum()
        high = pd.Series([min(v, costs.people_in_need_of(loc, yr))
                          for (loc, yr), v in total.items()], index=total.index)
        entities = cells["entities_reached"].groupby(level="year").sum()
        reached = cells["people_reached"].groupby(level="year").sum()
        for year in by.index:
            low_y = float(largest.xs(year, level="year").sum())
            high_y = float(high.xs(year, level="year").sum())
            assert by.loc[year, "unique_people_low"] == pytest.approx(low_y, rel=1e-9)
            assert by.loc[year, "unique_people_high"] == pytest.approx(high_y, rel=1e-9)
            assert by.loc[year, "entities_reached"] == pytest.approx(float(entities[year]),
                                                                      rel=1e-12)
            assert by.loc[year, "people_reached"] == pytest.approx(float(reached[year]),
                                                                    rel=1e-12)
        row = _scenario_row(name)
        assert row["plan_unique_people_low"] == pytest.approx(by["unique_people_low"].max())
        assert row["plan_unique_people_high"] == pytest.approx(by["unique_people_high"].sum())
        assert row["plan_unique_people_low"] < row["plan_people_reached"]
        assert row["plan_entities_reached"] == pytest.approx(float(entities.sum()), rel=1e-12)
        assert row["objective"] == alloc.scenario.objective == "priority"
        programme = cells["output"] != "enabler"
        assert row["gain_over_pro_rata_programme"] == pytest.approx(
            float(cells.loc[programme, "people_reached"].sum())
            - alloc.pro_rata_programme_people_reached, rel=1e-9)
        assert row["gain_over_pro_rata"] == pytest.approx(
            float(cells["people_reached"].sum() - cells["pro_rata_people_reached"].sum()),
            rel=1e-9)


def test_shadow_prices_carry_every_binding_row_with_its_range():
    report = small_report()
    sp = report.data.shadow_prices
    for run in report.runs:
        name = run.scenario.name
        alloc = report.inputs.allocations[name]
        mine = sp[sp["scenario"] == name].set_index("constraint")
        binding = {s.constraint: s for s in alloc.shadow_prices if s.binding}
        assert set(mine.index) == set(binding)
        envelope = [s for s in binding.values() if s.kind == "envelope"]
        assert envelope, "the envelope binds in a shortfall"
        for cname, s in binding.items():
            r = mine.loc[cname]
            assert r["shadow_price"] == s.value
            assert r["one_sided"] == s.one_sided
            if s.one_sided:
                assert r["shadow_price_down"] == s.value_down
            else:
                assert math.isnan(r["shadow_price_down"])
            for col, value in (("valid_from", s.valid_from), ("valid_to", s.valid_to)):
                assert (math.isnan(r[col]) if value is None else r[col] == value)
            assert r["range_unit"] == ("people in need" if s.kind == "need" else "USD")
        env = mine.loc[envelope[0].constraint]
        assert env["valid_from"] <= alloc.funding_usd <= env["valid_to"]


# ---- the sector cost index sensitivity ---------------------------------------------------


def test_cost_index_moved_share_recomputed_cell_by_cell():
    report = small_report()
    sens = report.inputs.cost_index
    assert sens is not None and sens.flat is not None
    # no scenario is called shortfall_60 here: the first below the appeal is taken
    assert sens.scenario == report.runs[0].scenario.name
    a = sens.indexed.cells["allocated_usd"].to_dict()
    b = sens.flat.cells["allocated_usd"].to_dict()
    moved = sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b)) / 2
    share = moved / sens.indexed.funding_usd
    summary = report.data.cost_index_summary.iloc[0]
    assert summary["moved_usd"] == pytest.approx(moved, rel=1e-9)
    assert summary["moved_share"] == pytest.approx(share, rel=1e-9)
    assert 0.01 < share < 1
    assert summary["people_reached_indexed"] == pytest.approx(
        float(sens.indexed.cells["people_reached"].sum()), rel=1e-12)
    # the flat allocation's people are those of the flattened plan's own costs
    flat_costs = CostModel.from_plan(with_flat_cost_index(report.inputs.plan))
    money = sens.flat.cells["allocated_usd"].reindex(flat_costs.cells).to_numpy()
    assert summary["people_reached_flat"] == pytest.approx(
        float(flat_costs.people_reached_cells(money).sum()), rel=1e-9)
    # money per sector and per location under each
    ci = report.data.cost_index
    for dimension, level in (("sector", "sector_code"), ("location", "location_code")):
        part = ci[ci["dimension"] == dimension].set_index("code")
        want_a = sens.indexed.cells["allocated_usd"].groupby(level=level).sum()
        want_b = sens.flat.cells["allocated_usd"].groupby(level=level).sum()
        assert set(part.index) == set(want_a.index) | set(want_b.index)
        for code in part.index:
            assert part.loc[code, "indexed_usd"] == pytest.approx(want_a.get(code, 0.0))
            assert part.loc[code, "flat_usd"] == pytest.approx(want_b.get(code, 0.0))
            assert part.loc[code, "difference_usd"] == pytest.approx(
                want_b.get(code, 0.0) - want_a.get(code, 0.0), abs=1e-6)
        # a move between sectors and locations adds up to zero within the envelope
        assert part["difference_usd"].sum() == pytest.approx(0.0, abs=1e-3 * moved)
    assert moved_share(sens.indexed, sens.flat) == pytest.approx((moved, share), rel=1e-9)


def _run(name: str, funding_usd: float, funding: FundingScenario | None = None):
    return SimpleNamespace(scenario=SimpleNamespace(name=name, funding=funding),
                           funding_usd=funding_usd)


def test_planning_case_prefers_shortfall_60_then_a_shortfall_then_the_first():
    full, part = _run("full", 100.0), _run("part", 60.0)
    named = _run(PLANNING_CASE, 100.0)
    assert planning_case([full, part, named], 100.0) is named
    assert planning_case([full, part], 100.0) is part
    assert planning_case([full, _run("more", 120.0)], 100.0) is full
    assert planning_case([], 100.0) is None


def _tiny_plan(index: dict[str, float] | None) -> Plan:
    tables = tiny_tables()
    if index is not None:
        tables["sector_cost_index"] = pd.DataFrame({
            "sector_code": list(index), "cost_index": list(index.values()),
            "origin": "assumption", "source": "test", "note": "",
        })
    return Plan.from_tables(tables, source="tiny")


def test_cost_index_sensitivity_on_a_tiny_plan_and_skipped_without_an_index():
    funding = FundingScenario(Envelope(total=Amount("usd", 220.0)))
    runs = [_run("full", 550.0, FundingScenario(Envelope(total=Amount("usd", 550.0)))),
            _run("shortfall", 220.0, funding)]
    assert cost_index_sensitivity(runs, _tiny_plan(None), {}) is None
    plan = _tiny_plan({"WASH": 1.0, "HEALTH": 4.0})
    sens = cost_index_sensitivity(runs, plan, {})
    assert sens is not None and sens.flat is not None and sens.scenario == "shortfall"
    assert sens.indexed.funding_usd == pytest.approx(220.0)
    flat_costs = CostModel.from_plan(with_flat_cost_index(plan))
    money = sens.flat.cells["allocated_usd"].reindex(flat_costs.cells).to_numpy()
    assert sens.flat.people_reached == pytest.approx(
        float(flat_costs.people_reached_cells(money).sum()), rel=1e-9)
    assert sens.flat.allocated_usd == pytest.approx(220.0, rel=1e-9)


# ---- rendering ---------------------------------------------------------------------------


def test_page_labels_person_years_per_year_and_average_year():
    report = small_report()
    text = render_html(report.data)
    for label in ("person-years (summed over years)", "unmet need per year",
                  "unmet need in an average year", "coverage of people in need",
                  "programme lines only (without enablers)", "unique people reached, whole "
                  "period (range)", "entities reached per year", "Shadow prices and their "
                  "ranges", "holds while the rule&#x27;s limit is between",
                  "Sector cost index sensitivity",
                  "counted with the flattened plan's own unit costs"):
        assert label in text, label
    assert "summed over years)</div>" in text  # the headline card
    summary = report.data.cost_index_summary.iloc[0]
    assert f"{summary['moved_share']:.1%} of the envelope" in text
    for run in report.runs:
        row = _scenario_row(run.scenario.name)
        assert f"{row['coverage_mean']:.1%}" in text
        for year, value in run.unmet_need_by_year.items():
            assert f"{value:,.0f}" in text, year
        alloc = report.inputs.allocations[run.scenario.name]
        low, high = alloc.unique_people_reached["low"], alloc.unique_people_reached["high"]
        assert f"{low:,.0f} – {high:,.0f}" in text
        assert f"{alloc.gain_over_pro_rata_programme:+,.0f}" in text
        env = next(s for s in alloc.shadow_prices if s.kind == "envelope" and s.binding)
        assert f"${env.valid_from:,.0f} to ${env.valid_to:,.0f}" in text


def test_without_a_cost_index_the_section_tables_and_sheets_are_left_out():
    report = small_report()
    data = build_report_data(dataclasses.replace(report.inputs, cost_index=None))
    assert not data.has_cost_index
    assert "cost_index" not in data.tables() and "cost_index_summary" not in data.tables()
    text = render_html(data)
    assert "Sector cost index sensitivity" not in text and 'id="cost-index"' not in text
    book = openpyxl.load_workbook(io.BytesIO(render_workbook(data)), read_only=True)
    assert book.sheetnames == sheet_names(data)
    assert "cost_index" not in book.sheetnames and "shadow_prices" in book.sheetnames


def test_workbook_has_the_new_sheets_with_the_reports_numbers():
    data = small_report().data
    book = openpyxl.load_workbook(io.BytesIO(render_workbook(data)), read_only=True)
    # the default plan has no sub-national lines
    assert book.sheetnames == [s for s in SHEETS if s != "allocation_by_subnational"]
    for name in ("by_year", "coverage", "shadow_prices", "cost_index_summary", "cost_index"):
        rows = list(book[name].iter_rows(values_only=True))
        frame = data.tables()[name]
        assert list(rows[0]) == list(frame.columns), name
        assert len(rows) - 1 == len(frame), name
    rows = list(book["coverage"].iter_rows(values_only=True))
    col = rows[0].index("coverage")
    got = [r[col] for r in rows[1:]]
    assert got == pytest.approx(list(data.coverage["coverage"]), rel=1e-14)
    summary = list(book["cost_index_summary"].iter_rows(values_only=True))
    assert summary[1][summary[0].index("moved_share")] == pytest.approx(
        float(data.cost_index_summary["moved_share"].iloc[0]), rel=1e-14)


def _strict(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} in JSON")
    return json.loads(text, parse_constant=refuse)


def test_report_json_has_null_for_unbounded_ranges_and_no_nan():
    report = small_report()
    doc = _strict(render_report_json(report.data))
    tables = doc["tables"]
    for name in ("by_year", "coverage", "shadow_prices", "cost_index_summary", "cost_index"):
        assert len(tables[name]) == len(report.data.tables()[name]), name
    sp = report.data.shadow_prices
    unbounded = sp.index[~np.isfinite(sp["valid_from"].to_numpy(dtype=float))]
    assert len(unbounded) > 0  # the continuity rules have no lower limit
    for i in unbounded:
        assert tables["shadow_prices"][i]["valid_from"] is None
    assert all(r["shadow_price_down"] is None for r, one in
               zip(tables["shadow_prices"], sp["one_sided"], strict=True) if not one)
    assert set(doc["hxl"]) >= {"coverage", "unmet_need", "valid_from", "moved_share"}


def test_console_says_person_years_and_per_year():
    report = small_report()
    run = report.runs[0]
    text = render_run_text(run)
    assert "person-years (summed over years)" in text
    assert f"coverage of people in need: mean {run.coverage_mean:.1%}" in text
    assert "unmet need in an average year" in text
    assert "not reached, summed over years" not in text
    for year, value in run.unmet_need_by_year.items():
        assert f"{year} {value:,.0f}" in text
    comparison = render_comparison(report.runs)
    assert "unmet need per year" in comparison and "person-years" in comparison
    # model rows are counted, never listed as the planner's binding rules
    assert "coverage of tier-" not in text
