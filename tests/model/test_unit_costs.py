"""Calibration of unit costs per location and sector (model.unit_costs)."""

import math

import numpy as np
import pandas as pd
import pytest

from reachplan.model.costs import CostCurve
from reachplan.model.plan import Plan, PlanError
from reachplan.model.unit_costs import calibrate_unit_costs, with_flat_cost_index
from tests.conftest import tiny_tables

CURVE = pd.DataFrame({"tranche": [1, 2], "share_of_requirement": [0.5, 0.5],
                      "cost_factor": [1.0, 2.0]})
"""m = 0.5 / 1 + 0.5 / 2 = 0.75."""


def _hand_plan(entities=False, overlap="1.5"):
    """Tiny plan: POL WASH 100 + HEALTH 100 (2024), T = 400; MDA WASH 200 (2024), 150 (2025),
    T = 300. Cost index WASH 1, HEALTH 3; one regional line XRS (no unit cost)."""
    t = tiny_tables()
    del t["unit_costs"]
    t["settings"] = pd.DataFrame({"key": ["name", "overlap_factor"], "value": ["Hand", overlap]})
    t["cost_curve"] = CURVE
    t["sector_cost_index"] = pd.DataFrame({"sector_code": ["WASH", "HEALTH"],
                                           "cost_index": [1.0, 3.0]})
    t["locations"] = pd.concat([t["locations"], pd.DataFrame(
        {"location_code": ["XRS"], "location_name": ["Regional"], "region": ["hosts"],
         "kind": ["regional"]})], ignore_index=True)
    t["requirements"] = pd.concat([t["requirements"], pd.DataFrame(
        {"location_code": ["XRS"], "sector_code": ["WASH"], "year": [2024], "objective": ["SO1"],
         "requirements_usd": [70.0], "origin": ["source"], "note": [""]})], ignore_index=True)
    if entities:
        t["sectors"] = t["sectors"].assign(output=["people", "entities"])
        t["populations"] = pd.concat([t["populations"], pd.DataFrame(
            {"location_code": ["POL"], "year": [2024], "population_status": ["entities_targeted"],
             "population": [10.0], "origin": ["source"], "note": [""]})], ignore_index=True)
    return Plan.from_tables(t)


def _costs(table):
    return {(r.location_code, r.sector_code): r.unit_cost_usd for r in table.itertuples()}


def test_two_sectors_with_index_1_and_3_by_hand():
    table = calibrate_unit_costs(_hand_plan())
    # POL: kappa = 0.75 * (100 / 1 + 100 / 3) / (1.5 * 400) = 1/6; HEALTH = 3 kappa
    # MDA: kappa = 0.75 * 200 / (1.5 * 300) = 1/3; XRS (regional) has none
    costs = _costs(table)
    assert set(costs) == {("MDA", "WASH"), ("POL", "HEALTH"), ("POL", "WASH")}
    assert costs[("POL", "WASH")] == pytest.approx(1 / 6, rel=1e-15)
    assert costs[("POL", "HEALTH")] == pytest.approx(0.5, rel=1e-15)
    assert costs[("MDA", "WASH")] == pytest.approx(1 / 3, rel=1e-15)
    assert list(table.columns) == ["location_code", "sector_code", "unit_cost_usd", "weight",
                                   "origin", "note"]
    assert set(table["weight"]) == {1.0} and set(table["origin"]) == {"derived"}
    # by hand, full funding of POL 2024: WASH 50/(1/6) + 50/(2/6) = 450, HEALTH 50/.5 + 50/1
    # = 150; (450 + 150) / 1.5 = 400 = people targeted
    note = table.set_index(["location_code", "sector_code"]).loc[("POL", "HEALTH"), "note"]
    assert "400 people targeted x overlap 1.5" in note and "x cost index 3 (HEALTH)" in note


def test_entity_lines_are_calibrated_on_entities_without_overlap():
    costs = _costs(calibrate_unit_costs(_hand_plan(entities=True)))
    # POL people lines: WASH only: 0.75 * 100 / (1.5 * 400) = 0.125
    # POL entity lines: HEALTH: 0.75 * (100 / 3) / 10 = 2.5 per index point, x 3 = 7.5
    assert costs[("POL", "WASH")] == pytest.approx(0.125, rel=1e-15)
    assert costs[("POL", "HEALTH")] == pytest.approx(7.5, rel=1e-15)
    # by hand: 50 / 7.5 + 50 / 15 = 10 entities at full funding


def test_arguments_override_the_plans_curve_overlap_and_year():
    plan = _hand_plan()
    costs = _costs(calibrate_unit_costs(plan, CostCurve(), overlap_factor=1.0, year=2025))
    # 2025: only MDA has money (150) and no people targeted in 2025: nothing to calibrate on
    assert costs == {}
    costs = _costs(calibrate_unit_costs(plan, CostCurve(), overlap_factor=1.0))
    assert costs[("MDA", "WASH")] == pytest.approx(200 / 300, rel=1e-15)  # m = 1, omega = 1
    with pytest.raises(PlanError, match="calibration year 2030 has no requirement"):
        calibrate_unit_costs(plan, year=2030)
    with pytest.raises(PlanError, match="overlap_factor must be a number >= 1"):
        calibrate_unit_costs(_hand_plan(overlap="0.5"))


def test_locations_without_people_targeted_get_no_unit_cost():
    t = dict(_hand_plan().tables)
    pops = t["populations"]
    t["populations"] = pops[~((pops["location_code"] == "MDA")
                              & (pops["population_status"] == "targeted"))]
    costs = _costs(calibrate_unit_costs(Plan.from_tables(t)))
    assert set(costs) == {("POL", "HEALTH"), ("POL", "WASH")}


def test_unit_costs_keep_15_significant_digits_and_survive_a_workbook():
    costs = _costs(calibrate_unit_costs(_hand_plan()))
    u = costs[("POL", "WASH")]
    assert u != round(u, 10) and abs(u - 1 / 6) <= 5e-15 / 6
    assert float(f"{u:.16G}") == u  # what the xlsx writer stores reads back the same


def test_flat_cost_index_gives_one_cost_per_location_and_keeps_weights():
    plan = _hand_plan()
    t = dict(plan.tables)
    t["unit_costs"] = pd.DataFrame({"location_code": ["POL"], "sector_code": ["HEALTH"],
                                    "unit_cost_usd": [9.0], "weight": [2.0]})
    flat = with_flat_cost_index(Plan.from_tables(t))
    assert set(flat.tables["sector_cost_index"]["cost_index"]) == {1.0}
    costs = _costs(flat.tables["unit_costs"])
    # POL: 0.75 * 200 / (1.5 * 400) = 0.25 for both sectors
    assert costs[("POL", "WASH")] == pytest.approx(0.25, rel=1e-15)
    assert costs[("POL", "HEALTH")] == pytest.approx(0.25, rel=1e-15)
    weights = flat.tables["unit_costs"].set_index(["location_code", "sector_code"])["weight"]
    assert weights[("POL", "HEALTH")] == 2.0 and weights[("POL", "WASH")] == 1.0
    assert plan.tables["sector_cost_index"]["cost_index"].tolist() != [1.0, 1.0]  # untouched


# ---- the default plan ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_plan():
    from reachplan.scenarios.plan_io import load_plan

    loaded = load_plan()
    assert loaded.plan is not None
    return loaded.plan


def _full_funding_2024(plan, unit_costs):
    """People and entities reached per location when every 2024 cell gets its requirement.

    Computed here from the documented formula b = sum_k fill_k / (u f_k), with fill_k =
    sigma_k R at full funding, and the output of each line read from the tables directly.
    """
    curve = plan.tables["cost_curve"].sort_values("tranche")
    shares = curve["share_of_requirement"].to_numpy(float)
    factors = curve["cost_factor"].to_numpy(float)
    overlap = float(plan.settings["overlap_factor"])
    output = dict(zip(plan.tables["sectors"]["sector_code"], plan.tables["sectors"]["output"],
                      strict=True))
    ent = plan.tables["populations"]
    with_entities = set(ent.loc[(ent["population_status"] == "entities_targeted")
                                & (ent["population"] > 0), "location_code"])
    cost = unit_costs.set_index(["location_code", "sector_code"])["unit_cost_usd"]
    req = plan.tables["requirements"]
    req = req[req["year"] == 2024].groupby(["location_code", "sector_code"])[
        "requirements_usd"].sum()
    people: dict[str, float] = {}
    entities: dict[str, float] = {}
    for (loc, sector), r in req.items():
        if (loc, sector) not in cost.index:
            continue
        u = float(cost[(loc, sector)])
        b = sum(s * r / (u * f) for s, f in zip(shares, factors, strict=True))
        if output[sector] == "entities" and loc in with_entities:
            entities[loc] = entities.get(loc, 0.0) + b
        else:
            people[loc] = people.get(loc, 0.0) + b / overlap
    return people, entities


def test_default_plan_full_funding_reaches_the_2024_targets(default_plan):
    people, entities = _full_funding_2024(default_plan, calibrate_unit_costs(default_plan))
    targeted = default_plan.population("targeted").xs(2024, level="year")
    assert set(people) == set(targeted.index)  # every country; regional support reaches none
    for loc, t in targeted.items():
        assert people[loc] == pytest.approx(t, rel=0.01), loc
    ent = default_plan.population("entities_targeted").xs(2024, level="year")
    for loc, e in ent[ent > 0].items():
        assert entities[loc] == pytest.approx(e, rel=0.01), loc
    assert math.fsum(entities.values()) == pytest.approx(2_615, rel=0.01)
    assert "BLR" not in entities  # no entities targeted: its entity sectors count people


def test_default_plan_flat_index_also_reaches_the_targets(default_plan):
    flat = with_flat_cost_index(default_plan)
    people, entities = _full_funding_2024(flat, flat.tables["unit_costs"])
    targeted = default_plan.population("targeted").xs(2024, level="year")
    for loc, t in targeted.items():
        assert people[loc] == pytest.approx(t, rel=0.01), loc
    assert math.fsum(entities.values()) == pytest.approx(2_615, rel=0.01)
    # one cost per location and output when every index is 1
    costs = flat.tables["unit_costs"]
    assert costs[costs["location_code"] == "UKR"]["unit_cost_usd"].nunique() == 2


def test_no_ties_between_sectors_of_different_cost_index(default_plan):
    costs = calibrate_unit_costs(default_plan)
    index = default_plan.tables["sector_cost_index"].set_index("sector_code")["cost_index"]
    costs["index"] = costs["sector_code"].map(index)
    costs["kind"] = costs["note"].str.contains("entities lines")
    for _, group in costs.groupby(["location_code", "kind"]):
        assert group["unit_cost_usd"].nunique() == group["index"].nunique()
        ratio = group["unit_cost_usd"] / group["index"]
        assert ratio.max() / ratio.min() - 1 < 1e-14


def test_shipped_unit_costs_equal_a_fresh_calibration_exactly(default_plan):
    shipped = default_plan.tables["unit_costs"].set_index(["location_code", "sector_code"])
    fresh = calibrate_unit_costs(default_plan).set_index(["location_code", "sector_code"])
    assert list(shipped.index) == list(fresh.index)
    assert np.array_equal(shipped["unit_cost_usd"].to_numpy(), fresh["unit_cost_usd"].to_numpy())
    assert list(shipped["note"]) == list(fresh["note"])
    assert "XRS" not in set(fresh.index.get_level_values(0))


# ---- calibrate_plan: cluster targets, the default curve, full funding reaches the targets ----

from types import MappingProxyType  # noqa: E402

from reachplan.model.costs import CostModel  # noqa: E402
from reachplan.model.funding import Amount, Envelope, FundingScenario  # noqa: E402
from reachplan.model.unit_costs import (  # noqa: E402
    DEFAULT_COST_CURVE,
    RULE_CLUSTER,
    RULE_CLUSTER_COST,
    RULE_LOCATION,
    RULE_REMAINDER,
    calibrate_plan,
    has_targets,
    has_unit_costs,
)
from reachplan.solver.allocate import allocate  # noqa: E402

FULL = FundingScenario(Envelope(total=Amount("share", 1.0)))
"""The whole appeal, objective "priority" (the default)."""


def _with_sector_rows(tables):
    """A plan whose populations keep their sector_code column.

    Until the populations table's spec has a sector_code column, Plan.from_tables drops it:
    the rows are then put back as given (the private fallback reads them from there).
    """
    plan = Plan.from_tables(tables)
    if "sector_code" in plan.tables["populations"].columns:
        return plan
    pops = tables["populations"].copy()
    pops["sector_code"] = pops["sector_code"].fillna("").astype(str)
    pops["year"] = pops["year"].astype("int64")
    pops["population"] = pops["population"].astype(float)
    return Plan(MappingProxyType({**plan.tables, "populations": pops}), "", "with-sector-rows")


def _cluster_tables(pol_target=1000.0, health_pin=800.0):
    """POL: WASH 300, HEALTH 200, SHELTER 100 (2024); cluster targets WASH 600, HEALTH 400,
    none for SHELTER; POL targeted pol_target, in need 2000; cluster PIN WASH 1500, HEALTH
    health_pin. MDA: WASH 200, targeted 300, in need 500 (location only). Overlap 1.5,
    curve m = 0.75, cost index WASH 1, HEALTH 1, SHELTER 2. No objectives needed."""
    t = tiny_tables()
    del t["unit_costs"]
    t["settings"] = pd.DataFrame({"key": ["name", "overlap_factor"], "value": ["C", "1.5"]})
    t["cost_curve"] = CURVE
    t["sectors"] = pd.DataFrame({"sector_code": ["WASH", "HEALTH", "SHELTER"],
                                 "sector_name": ["WASH", "Health", "Shelter"],
                                 "iasc_cluster": ["WSH", "HEA", "SHL"]})
    t["sector_cost_index"] = pd.DataFrame({"sector_code": ["WASH", "HEALTH", "SHELTER"],
                                           "cost_index": [1.0, 1.0, 2.0]})
    t["requirements"] = pd.DataFrame({
        "location_code": ["POL", "POL", "POL", "MDA"],
        "sector_code": ["WASH", "HEALTH", "SHELTER", "WASH"],
        "year": [2024] * 4, "objective": ["SO1"] * 4,
        "requirements_usd": [300.0, 200.0, 100.0, 200.0],
        "origin": ["source"] * 4, "note": [""] * 4})
    rows = [
        ("POL", "", "in_need", 2000.0), ("POL", "", "targeted", pol_target),
        ("POL", "WASH", "in_need", 1500.0), ("POL", "WASH", "targeted", 600.0),
        ("POL", "HEALTH", "in_need", health_pin), ("POL", "HEALTH", "targeted", 400.0),
        ("MDA", "", "in_need", 500.0), ("MDA", "", "targeted", 300.0),
    ]
    t["populations"] = pd.DataFrame({
        "location_code": [r[0] for r in rows], "sector_code": [r[1] for r in rows],
        "year": [2024] * len(rows), "population_status": [r[2] for r in rows],
        "population": [r[3] for r in rows], "origin": ["source"] * len(rows),
        "note": [""] * len(rows)})
    return t


def _lines(cal):
    return {(ln.location_code, ln.sector_code): ln for ln in cal.lines}


def test_cluster_targets_give_their_lines_their_own_unit_cost_by_hand():
    cal = calibrate_plan(_with_sector_rows(_cluster_tables()))
    lines = _lines(cal)
    # WASH: 0.75 * 300 / 600 = 0.375; HEALTH: 0.75 * 200 / 400 = 0.375 (cluster rule)
    assert lines[("POL", "WASH")].unit_cost_usd == pytest.approx(0.375, rel=1e-15)
    assert lines[("POL", "HEALTH")].unit_cost_usd == pytest.approx(0.375, rel=1e-15)
    assert lines[("POL", "WASH")].rule == RULE_CLUSTER
    # SHELTER: 1.5 * 1000 - (600 + 400) = 500 sector beneficiaries left; kappa = 0.75 *
    # (100 / 2) / 500 = 0.075 per index point; x 2 = 0.15
    assert lines[("POL", "SHELTER")].unit_cost_usd == pytest.approx(0.15, rel=1e-15)
    assert lines[("POL", "SHELTER")].rule == RULE_REMAINDER
    # MDA (location only): 0.75 * 200 / (1.5 * 300) = 1/3
    assert lines[("MDA", "WASH")].unit_cost_usd == pytest.approx(1 / 3, rel=1e-15)
    assert lines[("MDA", "WASH")].rule == RULE_LOCATION
    assert not cal.curve_supplied and cal.tables().keys() == {"unit_costs"}
    checks = {c.location_code: c for c in cal.locations}
    assert checks["POL"].people_reached == pytest.approx(1000.0)
    assert checks["POL"].note == "" and checks["MDA"].people_reached == pytest.approx(300.0)


@pytest.mark.parametrize("cluster", [True, False])
def test_full_funding_reaches_the_targets_within_one_percent(cluster):
    if cluster:
        plan = _with_sector_rows(_cluster_tables())
        targets_loc = {"POL": 1000.0, "MDA": 300.0}
        targets_sector = {("POL", "WASH"): 600.0, ("POL", "HEALTH"): 400.0}
    else:
        t = tiny_tables()
        del t["unit_costs"]
        plan = Plan.from_tables(t)
        targets_loc = {"POL": 400.0, "MDA": 300.0}
        targets_sector = {}
    cal = calibrate_plan(plan)
    calibrated = cal.apply(plan)
    result = allocate(calibrated, FULL)
    cells = result.cells
    assert cells["allocated_usd"].sum() == pytest.approx(plan.cell_requirements().sum(),
                                                         rel=1e-6)
    # people reached per location, recomputed from the money with the cost curve by hand
    m = CostCurve.from_plan(calibrated).mean_inverse_factor
    unit = calibrated.tables["unit_costs"].set_index(["location_code", "sector_code"])
    omega = 1.5 if cluster else 1.0
    for loc, target in targets_loc.items():
        rows = cells.xs(2024, level="year").xs(loc, level="location_code")
        by_hand = sum(m * rows.loc[s, "allocated_usd"] / unit.loc[(loc, s), "unit_cost_usd"]
                      for s in rows.index) / omega
        assert by_hand == pytest.approx(target, rel=0.01)
        assert rows["people_reached"].sum() == pytest.approx(target, rel=0.01)
    for (loc, s), target in targets_sector.items():
        assert cells.loc[(loc, s, 2024), "sector_beneficiaries"] == pytest.approx(target,
                                                                                  rel=0.01)


def test_a_plan_without_a_cost_curve_gets_the_default_one_and_says_so():
    t = tiny_tables()
    del t["unit_costs"]
    plan = Plan.from_tables(t)
    cal = calibrate_plan(plan)
    assert cal.curve_supplied and set(cal.tables()) == {"unit_costs", "cost_curve"}
    assert all("planning assumption" in n for n in cal.cost_curve["note"])
    m = 0.4 + 0.3 / 1.25 + 0.2 / 1.6 + 0.1 / 2.2
    assert cal.mean_inverse_factor == pytest.approx(m, rel=1e-15)
    costs = _costs(cal.unit_costs)
    # POL: no cost index, overlap 1: m * (100 + 100) / 400; MDA: m * 200 / 300
    assert costs[("POL", "WASH")] == pytest.approx(m * 200 / 400, rel=1e-14)
    assert costs[("POL", "HEALTH")] == pytest.approx(m * 200 / 400, rel=1e-14)
    assert costs[("MDA", "WASH")] == pytest.approx(m * 200 / 300, rel=1e-14)
    applied = cal.apply(plan)
    assert has_unit_costs(applied) and not has_unit_costs(plan)
    assert CostCurve.from_plan(applied).factors == (1.0, 1.25, 1.6, 2.2)


def test_the_default_curve_is_the_shipped_plans():
    from reachplan.scenarios.build_plan.calibrate_costs import COST_CURVE

    cols = ["tranche", "share_of_requirement", "cost_factor"]
    assert COST_CURVE[cols].equals(DEFAULT_COST_CURVE[cols])


def test_cluster_targets_above_the_location_target_leave_the_rest_at_the_clusters_cost():
    cal = calibrate_plan(_with_sector_rows(_cluster_tables(pol_target=500.0)))
    lines = _lines(cal)
    # 1.5 * 500 = 750 < 600 + 400: SHELTER costs per index point what WASH and HEALTH cost:
    # 0.75 * (300 / 1 + 200 / 1) / 1000 = 0.375, x 2 = 0.75
    assert lines[("POL", "SHELTER")].rule == RULE_CLUSTER_COST
    assert lines[("POL", "SHELTER")].unit_cost_usd == pytest.approx(0.75, rel=1e-15)
    check = {c.location_code: c for c in cal.locations}["POL"]
    # (600 + 400 + 0.75 * 100 / 0.75) / 1.5 = 1100 / 1.5
    assert check.people_reached == pytest.approx(1100 / 1.5)
    assert "not the 500 targeted" in check.note and "cluster targets win" in check.note


def test_a_clusters_people_in_need_bound_its_lines():
    plan = _with_sector_rows(_cluster_tables(health_pin=300.0))
    plan = calibrate_plan(plan).apply(plan)
    costs = CostModel.from_plan(plan)
    pos = {(loc, s): i for i, (loc, s, _) in enumerate(costs.cells)}
    pin = costs.people_in_need_per_cell
    assert pin[pos[("POL", "HEALTH")]] == 300.0
    assert pin[pos[("POL", "WASH")]] == 1500.0
    assert pin[pos[("POL", "SHELTER")]] == 2000.0  # no cluster figure: the location's
    assert pin[pos[("MDA", "WASH")]] == 500.0
    full = costs.sector_beneficiaries(costs.requirement_usd)
    # HEALTH would reach 0.75 * 200 / 0.375 = 400, its cluster has 300 in need
    assert full[pos[("POL", "HEALTH")]] == pytest.approx(300.0)
    assert full[pos[("POL", "WASH")]] == pytest.approx(600.0)
    # the location bound stays the location's: (600 + 300 + 500) / 1.5
    people = costs.people_reached_by_location(costs.requirement_usd)
    assert people[("POL", 2024)] == pytest.approx(1400 / 1.5)
    # in a future with twice the need, the cluster's people in need double too
    doubled = costs.with_people_in_need(2.0).people_in_need_per_cell
    assert doubled[pos[("POL", "HEALTH")]] == 600.0


def test_calibrate_plan_refuses_a_plan_without_targets_or_money():
    t = tiny_tables()
    del t["unit_costs"]
    t["populations"] = t["populations"][t["populations"]["population_status"] == "in_need"]
    plan = Plan.from_tables(t)
    assert not has_targets(plan)
    with pytest.raises(PlanError, match="the plan has no targets: add people targeted"):
        calibrate_plan(plan)
    t = tiny_tables()
    t["requirements"] = t["requirements"].assign(requirements_usd=0.0)
    with pytest.raises(PlanError, match="the plan has no requirements"):
        calibrate_plan(Plan.from_tables(t))
