"""The what-if page in process: pure helpers of its callbacks and the export routes."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from reachplan.model.funding import Selector

QUERY_60 = "?funding=60%25"


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


def test_new_rule_messages() -> None:
    from reachplan.web.app import ControlError, new_rule

    rule = new_rule("earmark", "Shelter", "USD 50m", ["SHELTER_NFI"], ["UKR"], [2025], None,
                    "all", 0)
    assert rule.selector == Selector(location_codes=("UKR",), sector_codes=("SHELTER_NFI",),
                                     years=(2025,))
    with pytest.raises(ControlError) as info:
        new_rule("earmark", "x", "fifty", None, None, None, None, "all", 0)
    assert "not an amount" in info.value.message
    with pytest.raises(ControlError):
        new_rule("exclude", "x", "", None, None, None, None, "all", 0)
    with pytest.raises(ControlError):
        new_rule("floor", "x", "USD 5m", None, None, None, None, "all", 0)


def test_line_lock_exclude_release() -> None:
    from reachplan.web.app import apply_line_action, rules_from_data

    line = {"location": "UKR", "sector": "HEALTH", "year": 2025, "allocated_usd": 1234.567}
    locked = apply_line_action([], "lock", line)
    (rule,) = rules_from_data(locked)
    assert (rule.kind, rule.value) == ("lock", "USD 1234.57")
    assert rule.selector == Selector(("UKR",), ("HEALTH",), years=(2025,))
    excluded = apply_line_action(locked, "exclude", line)
    assert [r.kind for r in rules_from_data(excluded)] == ["exclude"]
    assert apply_line_action(excluded, "release", line) == []


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
    query = ("?funding=60%25&carry=1&year=2025~USD+400m"
             "&rule=earmark~Housing~USD+50m~sector:HOUSING,location:UKR~all")
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


@pytest.mark.parametrize("query", ["?funding=sixty", "?funding=60%25&year=2025~lots",
                                   "?funding=60%25&rule=earmark~x~USD+1m~nowhere:X~all",
                                   "?path=/etc/passwd"])
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
    out = views_for(context, "?funding=sixty", None)
    assert out[0] is dash.no_update
    assert out[-4] == "/export/scenario.toml?funding=sixty"


def test_views_for_infeasible_rules_shows_the_diagnosis(page: tuple) -> None:
    from reachplan.web.app import views_for

    context, _ = page
    out = views_for(context, "?funding=10%25&rule=floor~All+half~50%25~~all", None)
    assert out[18].startswith("These rules cannot all hold.")
    assert "floor" in out[18].lower()


def test_layout_has_the_controls_and_exports(page: tuple) -> None:
    _, app = page
    response = app.server.test_client().get("/_dash-layout")
    assert response.status_code == 200
    assert b"funding-slider" in response.data and b"export-scenario" in response.data
