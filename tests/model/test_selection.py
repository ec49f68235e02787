"""Which lines a selector picks: tags (tier, life-saving, enabler, cluster, location kind)
and parent locations, on the tiny fixture plan, counted by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.funding import FundingScenario, Selector
from reachplan.model.plan import Plan
from reachplan.model.selection import line_tags, with_descendants
from reachplan.solver.model import floor_lines, objective_weight, selector_mask
from tests.conftest import tiny_tables

# cells, sorted: MDA/WASH/2024, MDA/WASH/2025, POL/HEALTH/2024, POL/WASH/2024
# POL/HEALTH is half SO1, half SO2 (USD 50 + 50)


def _costs(sector_tier=None, regional=False) -> CostModel:
    tables = tiny_tables()
    tables["objectives"]["tier"] = [1, 2]
    if sector_tier:
        tables["sectors"]["tier"] = [sector_tier.get(s) for s in tables["sectors"]["sector_code"]]
    if regional:
        tables["locations"] = pd.concat([tables["locations"], pd.DataFrame(
            {"location_code": ["XRS"], "location_name": ["Regional"], "region": ["hosts"],
             "kind": ["regional"]})], ignore_index=True)
        tables["requirements"] = pd.concat([tables["requirements"], pd.DataFrame(
            {"location_code": ["XRS"], "sector_code": ["WASH"], "year": [2024],
             "objective": ["SO2"], "requirements_usd": [30.0], "origin": ["source"],
             "note": [""]})], ignore_index=True)
    return CostModel.from_plan(Plan.from_tables(tables, source="tiny"))


@pytest.fixture(scope="module")
def costs() -> CostModel:
    return _costs()


@pytest.mark.parametrize(("selector", "mask", "share"), [
    (Selector(life_saving=True), [1, 1, 1, 1], [1, 1, 0.5, 1]),
    (Selector(life_saving=False), [0, 0, 1, 0], [0, 0, 0.5, 0]),
    (Selector(tiers=(2,)), [0, 0, 1, 0], [0, 0, 0.5, 0]),
    (Selector(tiers=(1, 2)), [1, 1, 1, 1], [1, 1, 1, 1]),
    (Selector(tiers=(3,)), [0, 0, 0, 0], [0, 0, 0, 0]),
    (Selector(clusters=("HEA",)), [0, 0, 1, 0], [1, 1, 1, 1]),
    (Selector(clusters=("WSH",), years=(2024,)), [1, 0, 0, 1], [1, 1, 1, 1]),
    (Selector(location_kinds=("country",)), [1, 1, 1, 1], [1, 1, 1, 1]),
    (Selector(location_kinds=("admin1",)), [0, 0, 0, 0], [1, 1, 1, 1]),
    (Selector(enabler=False), [1, 1, 1, 1], [1, 1, 1, 1]),
    (Selector(enabler=True), [0, 0, 0, 0], [1, 1, 1, 1]),
    (Selector(objectives=("SO2",), life_saving=True), [0, 0, 0, 0], [0, 0, 0, 0]),
    (Selector(objectives=("SO1",), tiers=(1,)), [1, 1, 1, 1], [1, 1, 0.5, 1]),
])
def test_tags_select_the_cells_and_money_shares_counted_by_hand(costs, selector, mask, share):
    assert selector_mask(costs, selector).tolist() == [bool(m) for m in mask]
    np.testing.assert_allclose(objective_weight(costs, selector), share, rtol=0, atol=1e-12)


def test_a_sector_tier_wins_over_the_objective_tier():
    costs = _costs(sector_tier={"HEALTH": 1})
    assert selector_mask(costs, Selector(life_saving=False)).tolist() == [False] * 4
    np.testing.assert_allclose(objective_weight(costs, Selector(objectives=("SO2",), tiers=(1,))),
                               [0, 0, 0.5, 0], atol=1e-12)
    np.testing.assert_allclose(objective_weight(costs, Selector(tiers=(2,))), [0, 0, 0, 0])


def test_enabler_and_regional_kind_and_floor_lines():
    costs = _costs(regional=True)
    # cells: MDA/WASH/24, MDA/WASH/25, POL/HEALTH/24, POL/WASH/24, XRS/WASH/24
    assert selector_mask(costs, Selector(enabler=True)).tolist() == [0, 0, 0, 0, 1]
    assert selector_mask(costs, Selector(location_kinds=("regional",))).tolist() == [
        0, 0, 0, 0, 1]
    # a floor holds the regional enabler only when the selector names it
    assert floor_lines(costs, Selector(life_saving=False)).tolist() == [1, 1, 1, 1, 0]
    assert floor_lines(costs, Selector(enabler=True)).tolist() == [1] * 5
    assert floor_lines(costs, Selector(clusters=("WSH",))).tolist() == [1] * 5
    assert floor_lines(costs, Selector(clusters=("HEA",))).tolist() == [1, 1, 1, 1, 0]


def test_whole_line_rules_use_the_lines_with_selected_money(costs):
    from reachplan.model.funding import Envelope, parse_amount
    from reachplan.solver.model import excluded_cells

    scenario = FundingScenario(Envelope(parse_amount("60%")),
                               exclusions=(Selector(life_saving=False),))
    assert excluded_cells(costs, scenario).tolist() == [False, False, True, False]


def test_a_parent_location_selects_the_locations_under_it():
    tables = {
        "locations": pd.DataFrame({
            "location_code": ["UKR", "UA14", "UA1402", "UA32", "MDA"],
            "kind": ["country", "admin1", "admin2", "admin1", "country"],
            "parent_code": ["", "UKR", "UA14", "UKR", None]}),
        "sectors": pd.DataFrame({"sector_code": ["WASH"], "iasc_cluster": ["wsh"]}),
    }
    locs = np.asarray(["UA1402", "UA14", "UA32", "MDA"], dtype=object)
    tags = line_tags(tables, locs, np.asarray(["WASH"] * 4, dtype=object))
    assert tags.parents == {"UA14": "UKR", "UA1402": "UA14", "UA32": "UKR"}
    assert tags.cluster.tolist() == ["WSH"] * 4
    assert tags.location_kind.tolist() == ["admin2", "admin1", "admin1", "country"]
    assert with_descendants(("UKR",), tags.parents) == {"UKR", "UA14", "UA1402", "UA32"}
    assert with_descendants(("UA14",), tags.parents) == {"UA14", "UA1402"}
    assert with_descendants(("MDA",), tags.parents) == {"MDA"}
    # no parent_code column: no parents
    del tables["locations"]["parent_code"]
    assert line_tags(tables, locs, np.asarray(["WASH"] * 4, dtype=object)).parents == {}


def test_the_lp_selects_children_by_their_parent(costs):
    import dataclasses

    tags = dataclasses.replace(costs.tags, parents={"POL": "EUR", "MDA": "EUR2"})
    c = dataclasses.replace(costs, tags=tags)
    assert selector_mask(c, Selector(location_codes=("EUR",))).tolist() == [0, 0, 1, 1]
    assert selector_mask(c, Selector(location_codes=("EUR", "MDA"))).tolist() == [1] * 4
