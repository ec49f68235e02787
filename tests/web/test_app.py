"""The what-if page in process: pure helpers of its callbacks and the export routes."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from reachplan.model.funding import Selector
from reachplan.web.state import RuleSetting, WhatIfState, state_to_query

QUERY_60 = state_to_query(WhatIfState(funding="60%"))
HOUSING_UKR = Selector(location_codes=("UKR",), sector_codes=("HOUSING",))


@pytest.fixture(scope="module")
def page() -> tuple:
    from reachplan.web.app import create_app
    from reachplan.web.context import make_context
    from reachplan.workflow.suite import load_usable_plan

    plan = load_usable_plan(None).plan
    context = make_context(plan, None, None)
    return context, create_app(context)


def test_format_money_and_people() -> None:
    from reachplan.web.app import format_people, format_usd

    assert format_usd(1_234_567.891) == "$1.2M"
    assert format_usd(45_600.4) == "$45,600"
    assert format_usd(2.5e9) == "$2.50B"
    assert format_people(1234567.5) == "1,234,568"


def test_new_rule_is_checked_as_the_state_checks_it(page: tuple) -> None:
    from reachplan.web.app import ControlError, check_new_rule, new_rule

    context, _ = page
    rule = new_rule("earmark", " Shelter ", "USD 50m", ["SHELTER_NFI"], ["UKR"], [2025], None,
                    "cell")
    assert rule == RuleSetting("earmark", "Shelter", "USD 50m", Selector(
        location_codes=("UKR",), sector_codes=("SHELTER_NFI",), years=(2025,)), "all")
    at_60 = WhatIfState(funding="60%")
    held = WhatIfState(funding="", rules=(rule,))
    check_new_rule(context, at_60, WhatIfState(funding=""), rule)  # fine
    bad = [
        (new_rule("earmark", "x", "fifty", None, None, None, None, "all"), "not an amount"),
        (new_rule("exclude", "x", "", None, None, None, None, "all"), "choose the lines"),
        (new_rule("floor", "x", "USD 5m", None, None, None, None, "all"), "not dollars"),
        (new_rule("earmark", "x", "USD 5m", ["NOPE"], None, None, None, "all"), "NOPE"),
    ]
    for candidate, needle in bad:
        with pytest.raises(ControlError) as info:
            check_new_rule(context, at_60, held, candidate)
        assert info.value.control == "rule-value"
        assert needle in info.value.message, info.value.message
    # a problem elsewhere on the page is not the new rule's
    check_new_rule(context, WhatIfState(funding="sixty"), held, rule)
    with pytest.raises(ControlError):
        new_rule("bonus", "x", "1", None, None, None, None, "all")


def test_line_lock_exclude_release() -> None:
    from reachplan.web.app import apply_line_action, rules_query, rules_state

    earmark = RuleSetting("earmark", "Shelter", "USD 50m", HOUSING_UKR)
    data = rules_query(WhatIfState(funding="", rules=(earmark,)))
    line = {"location": "UKR", "sector": "HEALTH", "year": 2025, "allocated_usd": 1234.57}
    locked = rules_state(apply_line_action(data, "lock", line))
    assert locked.locked == ("UKR|HEALTH|2025=USD 1,234.57",) and locked.excluded == ()
    assert locked.rules == (earmark,)  # the editor's rules stay
    excluded = rules_state(apply_line_action(rules_query(locked), "exclude", line))
    assert excluded.locked == () and excluded.excluded == ("UKR|HEALTH|2025",)
    released = rules_state(apply_line_action(rules_query(excluded), "release", line))
    assert released == WhatIfState(funding="", rules=(earmark,))


def test_a_locked_line_is_kept_at_the_amount_shown(page: tuple) -> None:
    from reachplan.web.app import apply_line_action, line_rows, rules_state, solve_query

    context, _ = page
    result = solve_query(context, QUERY_60)
    row = next(r for r in line_rows(result, WhatIfState()) if r["allocated_usd"] > 1e6)
    held = rules_state(apply_line_action(None, "exclude", row))
    excluded = solve_query(context, state_to_query(WhatIfState(
        funding="60%", excluded=held.excluded)))
    key = (row["location"], row["sector"], row["year"])
    assert excluded.cells.loc[key, "allocated_usd"] == 0
    assert {r["rule"] for r in line_rows(excluded, rules_state(
        apply_line_action(None, "exclude", row))) if (r["location"], r["sector"],
                                                       r["year"]) == key} == {"excluded"}
    # locked at half the amount shown: the solver must give exactly that
    halved = dict(row, allocated_usd=round(row["allocated_usd"] / 2, 2))
    held = rules_state(apply_line_action(None, "lock", halved))
    locked = solve_query(context, state_to_query(WhatIfState(funding="60%",
                                                             locked=held.locked)))
    assert locked.cells.loc[key, "allocated_usd"] == pytest.approx(halved["allocated_usd"],
                                                                   abs=0.01)


def test_the_token_is_not_page_state(page: tuple) -> None:
    from reachplan.web.app import page_query, state_for_query

    query = state_to_query(WhatIfState(funding="60%", carry_over=True))
    assert page_query("?token=abc&" + query[1:]) == query
    assert page_query(query + "&token=abc") == query
    assert page_query("?token=abc") == ""
    assert state_for_query("?token=abc&" + query[1:]) == WhatIfState(funding="60%",
                                                                    carry_over=True)


def test_control_errors_go_next_to_their_control(page: tuple) -> None:
    from reachplan.web.app import _years, control_errors

    context, _ = page
    years = _years(context)
    rule = RuleSetting("earmark", "x", "USD 1m", HOUSING_UKR)
    cases = [
        (WhatIfState(funding="sixty"), "funding-amount"),
        (WhatIfState(funding="", years=((2025, "lots"),)), "year-amount-2025"),
        (WhatIfState(rules=(rule, RuleSetting("floor", "f", "USD 5m", Selector()))), "rule-1"),
        (WhatIfState(rules=(RuleSetting("earmark", "x", "USD 1m", Selector(
            sector_codes=("NOPE",))),)), "rule-0"),
        (WhatIfState(locked=("UKR|HEALTH=USD 1m",)), "line-table"),
        (WhatIfState(objective="fastest"), "objective"),
    ]
    for state, where in cases:
        errors = control_errors(context, state, years)
        assert list(errors) == [where], (state, errors)
        assert errors[where] and "Traceback" not in errors[where]
    assert control_errors(context, WhatIfState(funding="60%", rules=(rule,)), years) == {}


def test_page_numbers_against_the_cells(page: tuple) -> None:
    from reachplan.web.app import page_numbers, solve_query

    context, _ = page
    result = solve_query(context, QUERY_60)
    nums = page_numbers(result)
    cells = result.cells
    assert nums.people_reached == pytest.approx(float(cells["people_reached"].sum()))
    assert nums.pro_rata_people == pytest.approx(float(cells["pro_rata_people_reached"].sum()))
    table = result.coverage_by_location_year
    need = table["people_in_need"].sum()
    by_loc = cells.groupby(level=["location_code", "year"])["people_reached"].sum()
    merged = table.set_index(["location_code", "year"])["people_in_need"]
    unmet = (merged - by_loc.reindex(merged.index).fillna(0).clip(upper=merged)).sum()
    assert nums.unmet_need == pytest.approx(float(unmet), rel=1e-9)
    assert 0 < nums.coverage < 1 and nums.coverage == pytest.approx(
        1 - nums.unmet_need / need, rel=1e-9)


def test_scenario_export_allocates_to_the_page_numbers(page: tuple, tmp_path: Path) -> None:
    from reachplan.scenarios.scenario_io import load_scenario
    from reachplan.solver.allocate import allocate
    from reachplan.web.app import solve_query

    context, app = page
    query = state_to_query(WhatIfState(
        funding="60%", years=((2025, "USD 400m"),), carry_over=True,
        rules=(RuleSetting("earmark", "Housing", "USD 50m", HOUSING_UKR),)))
    response = app.server.test_client().get("/export/scenario.toml" + query)
    assert response.status_code == 200
    path = tmp_path / "whatif.toml"
    path.write_bytes(response.data)
    scenario = load_scenario(path)
    assert scenario.funding.envelope.carry_over is True
    independent = allocate(context.plan, scenario.funding)
    assert independent.people_reached == pytest.approx(
        solve_query(context, query).people_reached, rel=1e-9)


def test_csv_and_xlsx_exports(page: tuple) -> None:
    from reachplan.web.app import solve_query

    context, app = page
    client = app.server.test_client()
    csv = client.get("/export/allocation.csv" + QUERY_60)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    frame = pd.read_csv(io.StringIO(csv.data.decode()))
    result = solve_query(context, QUERY_60)
    assert len(frame) == len(result.cells)
    assert frame["allocated_usd"].sum() == pytest.approx(result.allocated_usd, abs=1.0)
    xlsx = client.get("/export/allocation.xlsx" + QUERY_60)
    assert xlsx.status_code == 200
    sheets = pd.read_excel(io.BytesIO(xlsx.data), sheet_name=None)
    assert {"cells", "sectors", "shadow_prices"} <= set(sheets)
    assert sheets["cells"]["people_reached"].sum() == pytest.approx(result.people_reached,
                                                                   rel=1e-6)
    report = client.get("/export/report.html" + QUERY_60)
    assert report.status_code == 200 and b"People reached" in report.data


@pytest.mark.parametrize("query", [
    state_to_query(WhatIfState(funding="sixty")),
    state_to_query(WhatIfState(funding="60%", years=((2025, "lots"),))),
    state_to_query(WhatIfState(funding="60%", rules=(
        RuleSetting("earmark", "x", "USD 1m", Selector(sector_codes=("NOWHERE",))),))),
    "?funding=60%25&rule=earmark~x~USD+1m~nowhere:X",  # a selector key no rule has
    "?path=/etc/passwd",
])
def test_malformed_input_gives_a_message_not_a_500(page: tuple, query: str) -> None:
    _, app = page
    for route in ("scenario.toml", "allocation.csv", "allocation.xlsx", "report.html"):
        response = app.server.test_client().get(f"/export/{route}{query}")
        assert response.status_code == 400
        assert response.data.startswith(b"cannot export: ")
        assert b"Traceback" not in response.data


def test_views_for_malformed_amount_keeps_views(page: tuple) -> None:
    import dash

    from reachplan.web.app import views_for

    context, _ = page
    query = state_to_query(WhatIfState(funding="sixty"))
    out = views_for(context, query, None)
    assert out[0] is dash.no_update
    assert out[-4] == "/export/scenario.toml" + query


def test_views_for_infeasible_rules_shows_the_diagnosis(page: tuple) -> None:
    from reachplan.web.app import views_for

    context, _ = page
    query = state_to_query(WhatIfState(funding="10%", rules=(
        RuleSetting("floor", "All half", "50%", Selector()),)))
    out = views_for(context, query, None)
    assert out[18].startswith("These rules cannot all hold: The All half floor")
    assert "floor" in out[18].lower()
    # no numbers of an earlier allocation stay beside the diagnosis; the pinned one does
    assert out[0] == "-" and out[1] == "" and out[17] == [] and out[20] == []
    pinned = views_for(context, query, {"people_reached": 1234.0, "unmet_need": 1.0,
                                        "label": "60%"})
    assert pinned[9:12] == ("1,234", "1234.0", "60%")


def test_layout_has_the_controls_and_exports(page: tuple) -> None:
    _, app = page
    response = app.server.test_client().get("/_dash-layout")
    assert response.status_code == 200
    assert b"funding-slider" in response.data and b"export-scenario" in response.data


def _allocate_json(scenario_file: Path) -> dict:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", "allocate", "--scenario", str(scenario_file),
         "--json"], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("continuity", ["inherited", "dropped"])
def test_export_extends_the_starting_scenario_and_allocates_the_same(
        tmp_path: Path, continuity: str) -> None:
    import tomllib

    from reachplan.scenarios.scenario_io import load_scenario
    from reachplan.web.app import create_app, solve_query
    from reachplan.web.context import make_context
    from reachplan.workflow.suite import load_usable_plan

    if continuity == "inherited":
        ref = "shortfall_60"  # max_year_fall = 0.5, from full_funding
    else:  # a starting file that drops the parent's continuity rule
        start = tmp_path / "no_fall.toml"
        start.write_text('extends = "shortfall_60"\nname = "no_fall"\n'
                         "[funding]\nmax_year_fall = false\n", encoding="utf-8")
        ref = str(start)
    scenario = load_scenario(ref)
    assert scenario.funding.max_year_fall == (0.5 if continuity == "inherited" else None)
    context = make_context(load_usable_plan(None).plan, None, scenario, ref)
    app = create_app(context)
    query = state_to_query(WhatIfState(
        funding="55%", rules=(RuleSetting("earmark", "Housing", "USD 50m", HOUSING_UKR),)))
    response = app.server.test_client().get("/export/scenario.toml" + query)
    assert response.status_code == 200, response.data
    doc = tomllib.loads(response.data.decode())
    assert doc["extends"] == (ref if continuity == "inherited" else str(start.resolve()))
    assert doc["funding"]["max_year_fall"] == (0.5 if continuity == "inherited" else False)
    exported = tmp_path / "exported" / "whatif.toml"  # saved elsewhere than the start file
    exported.parent.mkdir()
    exported.write_bytes(response.data)
    loaded = load_scenario(exported)
    assert loaded.funding.max_year_fall == scenario.funding.max_year_fall
    assert (loaded.draws, loaded.seed) == (scenario.draws, scenario.seed)
    cli = _allocate_json(exported)
    page = solve_query(context, query)
    assert page.people_reached == pytest.approx(cli["people_reached"], rel=1e-9)
    assert page.pro_rata_people_reached == pytest.approx(cli["pro_rata_people_reached"],
                                                         rel=1e-9)


def test_futures_run_the_draws_and_band_the_people_reached(page: tuple) -> None:
    import time

    import numpy as np

    from reachplan.model.scenario import Scenario
    from reachplan.scenarios.simulation_io import load_simulation
    from reachplan.solver.batch import run_scenario
    from reachplan.solver.model import funding_usd
    from reachplan.web.app import FUTURES_DRAWS, Futures, funding_for_query
    from reachplan.workflow.suite import load_initial_state

    context, app = page
    funding = funding_for_query(context, QUERY_60)
    futures = app.server.extensions["reachplan_futures"]
    assert isinstance(futures, Futures)
    job = futures.start(funding)
    seen = []
    deadline = time.monotonic() + 600
    while True:
        status = futures.status(job)
        assert status is not None and status["error"] is None, status
        seen.append(status["done"])
        if status["band"] is not None:
            break
        assert time.monotonic() < deadline, "the futures did not finish"
        time.sleep(0.05)
    assert status["done"] == status["total"] == FUTURES_DRAWS == 100
    assert seen == sorted(seen) and seen[0] < FUTURES_DRAWS  # progress, not one jump
    low, mid, high = status["band"]
    assert low <= mid <= high
    # the same draws, run and banded independently of the page
    scenario = Scenario(name="check", description="", funding=funding,
                        simulation=load_simulation(None), draws=FUTURES_DRAWS,
                        seed=status["seed"])
    run = run_scenario(context.plan, scenario, load_initial_state())
    assert len(run.people_reached) == FUTURES_DRAWS
    assert (low, mid, high) == tuple(np.percentile(run.people_reached, [5, 50, 95]))
    # then the full report of those draws, as `reachplan run` writes it
    while futures.status(job)["report"] != "ready":
        assert futures.status(job)["error"] is None, futures.status(job)
        assert time.monotonic() < deadline, "the full report was not written"
        time.sleep(0.1)
    report = futures.report_file(job)
    assert report is not None and report.read_text().startswith("<!DOCTYPE html>")
    (row,) = json.loads((report.parent / "report.json").read_text())["tables"]["scenarios"]
    assert row["draws"] == FUTURES_DRAWS and row["seed"] == status["seed"]
    assert row["people_reached_mean"] == pytest.approx(float(np.mean(run.people_reached)),
                                                       rel=1e-12)
    assert row["funding_usd"] == pytest.approx(funding_usd(context.costs, funding), rel=1e-12)
    # served by the page by its run's id only
    client = app.server.test_client()
    assert client.get(f"/export/full-report/{job}").data == report.read_bytes()
    for bad in ("0" * 32, job.upper(), job[:-1]):
        answer = client.get(f"/export/full-report/{bad}")
        assert answer.status_code == 404 and b"Traceback" not in answer.data
    # a path in its place reads no file (Dash answers unknown paths with the page itself)
    answer = client.get("/export/full-report/..%2F..%2F..%2Fetc%2Fpasswd")
    assert b"root:" not in answer.data and answer.data != report.read_bytes()


# ---- the rule list: edit a value in place, switch a rule off and on ---------------------


def test_rule_list_edits_a_value_and_switches_a_rule() -> None:
    from reachplan.web.app import (
        change_rules,
        edit_rule_value,
        rules_query,
        rules_state,
        switch_rule,
    )

    earmark = RuleSetting("earmark", "Shelter", "USD 50m", HOUSING_UKR)
    floor = RuleSetting("floor", "", "40%", Selector(tiers=(1,)), "location")
    exclude = RuleSetting("exclude", "", "", Selector(years=(2026,)))
    data = rules_query(WhatIfState(funding="", rules=(earmark, floor, exclude),
                                   excluded=("UKR|HEALTH|2025",)))
    edited = rules_state(edit_rule_value(data, 0, " USD 80m "))
    assert edited == WhatIfState(funding="", rules=(
        RuleSetting("earmark", "Shelter", "USD 80m", HOUSING_UKR), floor, exclude),
        excluded=("UKR|HEALTH|2025",))
    # the same value, an exclusion (no value) or a rule no longer there: no change
    assert edit_rule_value(data, 0, "USD 50m") is None
    assert edit_rule_value(data, 2, "5%") is None
    assert edit_rule_value(data, 3, "5%") is None
    # kept as typed, even when it is not an amount (its message shows next to it)
    assert rules_state(edit_rule_value(data, 1, "lots")).rules[1].value == "lots"

    off = rules_state(switch_rule(data, 1, False))
    assert off.rules == (earmark, RuleSetting("floor", "", "40%", Selector(tiers=(1,)),
                                              "location", on=False), exclude)
    assert "~location~off" in rules_query(off)
    assert switch_rule(data, 1, True) is None
    assert rules_state(switch_rule(rules_query(off), 1, True)).rules == (earmark, floor,
                                                                       exclude)

    # what the list's controls fire: a tick, a typed value; a redrawn list fires every
    # control with what the store holds, and its remove buttons unclicked: no change
    redrawn = [("rule-remove", 0, 0), ("rule-remove", 1, 0), ("rule-edit", 0, "USD 50m"),
               ("rule-edit", 1, "40%"), ("rule-on", 0, ["on"]), ("rule-on", 1, ["on"]),
               ("rule-on", 2, ["on"])]
    assert change_rules(data, redrawn) is None
    assert rules_state(change_rules(data, [("rule-on", 1, [])])) == off
    assert rules_state(change_rules(data, [("rule-edit", 0, "USD 80m")])) == edited
    removed = rules_state(change_rules(data, [*redrawn[:1], ("rule-remove", 1, 1)]))
    assert removed.rules == (earmark, exclude) and removed.excluded == ("UKR|HEALTH|2025",)


def test_rule_list_shows_each_value_in_its_box(page: tuple) -> None:
    from reachplan.web.app import rules_list

    state = WhatIfState(rules=(
        RuleSetting("earmark", "Shelter", "USD 50m", HOUSING_UKR),
        RuleSetting("cap", "", "1.2", Selector(), on=False),
        RuleSetting("exclude", "", "", Selector(years=(2026,)))))
    items = rules_list(state, {"rule-1": "not a factor"}).children[0].children
    found = [(i, c.id, getattr(c, "value", None)) for i, item in enumerate(items)
             for c in _walk(item) if isinstance(getattr(c, "id", None), dict)]
    assert found == [
        (0, {"type": "rule-on", "index": 0}, ["on"]),
        (0, {"type": "rule-edit", "index": 0}, "USD 50m"),
        (0, {"type": "rule-remove", "index": 0}, None),
        (1, {"type": "rule-on", "index": 1}, []),
        (1, {"type": "rule-edit", "index": 1}, "1.2"),
        (1, {"type": "rule-remove", "index": 1}, None),
        (2, {"type": "rule-on", "index": 2}, ["on"]),  # an exclusion has no value box
        (2, {"type": "rule-remove", "index": 2}, None),
    ]
    assert all(c.debounce for item in items for c in _walk(item)
               if isinstance(getattr(c, "id", None), dict) and c.id["type"] == "rule-edit")
    assert [item.className for item in items] == ["rule", "rule rule-off", "rule"]
    errors = {c.id: c.children for item in items for c in _walk(item)
              if isinstance(getattr(c, "id", None), str)}
    assert errors == {"rule-error-0": "", "rule-error-1": "not a factor", "rule-error-2": ""}


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "_namespace"):
            yield from _walk(child)


def test_an_edited_earmark_amount_re_solves_the_held_model(page: tuple) -> None:
    from reachplan.model.funding import Amount, Earmark, Envelope, FundingScenario
    from reachplan.solver.allocate import allocate
    from reachplan.web.app import edit_rule_value, rules_query, rules_state, solve_query

    context, _ = page
    data = rules_query(WhatIfState(funding="", rules=(
        RuleSetting("earmark", "Housing", "USD 40m", HOUSING_UKR),)))
    first = solve_query(context, state_to_query(WhatIfState(
        funding="55%", rules=rules_state(data).rules)))
    stats = context.solver.stats
    built, held = stats.built, stats.held
    rules = rules_state(edit_rule_value(data, 0, "USD 90m")).rules
    query = state_to_query(WhatIfState(funding="55%", rules=rules))
    again = solve_query(context, query)
    assert (stats.built, stats.held) == (built, held + 1)  # the fast path
    assert again.people_reached != first.people_reached
    independent = allocate(context.plan, FundingScenario(
        Envelope(Amount("share", 0.55)),
        earmarks=(Earmark("Housing", Amount("usd", 90e6), HOUSING_UKR),)))
    assert again.people_reached == pytest.approx(independent.people_reached, rel=1e-9)
    housing = again.cells.loc[("UKR", "HOUSING"), "allocated_usd"].sum()
    assert housing >= 90e6 - 1.0


def test_a_bad_edited_value_is_named_under_its_rule_and_nothing_re_solves(page: tuple) -> None:
    import dash

    from reachplan.web.app import (
        _years,
        control_errors,
        edit_rule_value,
        rules_query,
        rules_state,
        views_for,
    )

    context, _ = page
    data = rules_query(WhatIfState(funding="", rules=(
        RuleSetting("cap", "", "1.2", Selector()),
        RuleSetting("floor", "Tier 1", "30%", Selector(tiers=(1,))))))
    for bad, says in (("lots", "not an amount"), ("130%", "at most 100%"),
                      ("USD 5m", "not dollars")):
        state = WhatIfState(funding="60%", rules=rules_state(
            edit_rule_value(data, 1, bad)).rules)
        errors = control_errors(context, state, _years(context))
        assert list(errors) == ["rule-1"] and says in errors["rule-1"], errors
        out = views_for(context, state_to_query(state), None)
        assert out[0] is dash.no_update and out[18] is dash.no_update  # no diagnosis
    # a rule switched off is still read: its bad value is named, on or off
    off = WhatIfState(funding="60%", rules=(RuleSetting("cap", "", "big", Selector(),
                                                        on=False),))
    assert list(control_errors(context, off, _years(context))) == ["rule-0"]


def test_a_rule_switched_off_is_neither_applied_nor_exported(page: tuple,
                                                             tmp_path: Path) -> None:
    from reachplan.model.funding import Amount, Envelope, FundingScenario
    from reachplan.scenarios.scenario_io import load_scenario
    from reachplan.solver.allocate import allocate
    from reachplan.web.app import solve_query

    context, app = page
    floor = RuleSetting("floor", "Tier 1 half", "50%", Selector(tiers=(1,)), "location")
    on = solve_query(context, state_to_query(WhatIfState(funding="45%", rules=(floor,))))
    off_query = state_to_query(WhatIfState(funding="45%", rules=(replace(floor, on=False),)))
    off = solve_query(context, off_query)
    without = allocate(context.plan, FundingScenario(Envelope(Amount("share", 0.45))))
    assert off.people_reached == pytest.approx(without.people_reached, rel=1e-9)
    assert on.people_reached != pytest.approx(off.people_reached, rel=1e-6)  # it binds
    response = app.server.test_client().get("/export/scenario.toml" + off_query)
    assert response.status_code == 200
    assert b"Tier 1 half" not in response.data and b"floors" in response.data
    path = tmp_path / "off.toml"
    path.write_bytes(response.data)
    assert load_scenario(path).funding.floors == ()


def test_binding_rules_flag_a_knife_edge() -> None:
    from reachplan.solver.result import ShadowPrice
    from reachplan.web.app import _range_note

    narrow = ShadowPrice("floor_x", "floor", "the x floor", -46_836.2, True,
                         valid_from=329_799.39, valid_to=331_451.15)
    wide = ShadowPrice("floor_y", "floor", "the y floor", -900.0, True,
                       valid_from=0.0, valid_to=5e6)
    unranged = ShadowPrice("floor_z", "floor", "the z floor", -900.0, True)
    assert _range_note(narrow) == " (a knife edge: this rate holds over $1,652 only)"
    assert _range_note(wide) == "" and _range_note(unranged) == ""
