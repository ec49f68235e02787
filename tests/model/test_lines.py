"""What each line is (model.lines): outputs, tier shares, severity weights, cost index."""

import pandas as pd
import pytest

from reachplan.model.lines import (
    cell_outputs,
    cost_index,
    coverage_offset,
    severity_phase_weights,
    severity_weights,
    tier_shares,
    tier_weights,
)
from reachplan.model.plan import Plan, PlanError
from tests.conftest import tiny_tables


def _plan(**changes):
    t = tiny_tables()
    t.update(changes)
    return Plan.from_tables(t)


def _cells(plan):
    req = plan.cell_requirements().sort_index()
    return pd.MultiIndex.from_tuples(list(req.index), names=req.index.names)


def test_a_cell_mixing_so1_and_so2_money_is_part_tier_1_part_tier_2():
    t = tiny_tables()
    plan = _plan(objectives=t["objectives"].assign(tier=[1, 2]))
    cells = _cells(plan)
    shares = tier_shares(plan, cells)
    # POL HEALTH 2024: SO1 50 + SO2 50 -> half tier 1, half tier 2
    assert shares.loc[("POL", "HEALTH", 2024)].tolist() == [0.5, 0.5, 0.0]
    assert shares.loc[("POL", "WASH", 2024)].tolist() == [1.0, 0.0, 0.0]
    assert (shares.sum(axis=1) == 1.0).all()


def test_a_sector_tier_overrides_the_objectives_and_blank_tiers_are_2():
    t = tiny_tables()
    plan = _plan(sectors=t["sectors"].assign(tier=[3, None]))  # WASH tier 3, HEALTH blank
    shares = tier_shares(plan, _cells(plan))
    assert shares.loc[("MDA", "WASH", 2025)].tolist() == [0.0, 0.0, 1.0]
    assert shares.loc[("POL", "HEALTH", 2024)].tolist() == [0.0, 1.0, 0.0]  # no objective tier


def test_regional_locations_are_enablers_and_entities_only_where_targeted():
    t = tiny_tables()
    locations = t["locations"].assign(kind=["country", "regional"])  # MDA made regional
    sectors = t["sectors"].assign(output=["people", "entities"])  # HEALTH: entities
    plan = _plan(locations=locations, sectors=sectors)
    cells = _cells(plan)
    out = dict(zip(cells, cell_outputs(plan, cells), strict=True))
    assert out[("MDA", "WASH", 2024)] == "enabler" and out[("MDA", "WASH", 2025)] == "enabler"
    assert out[("POL", "WASH", 2024)] == "people"
    assert out[("POL", "HEALTH", 2024)] == "people"  # POL targets no entities
    pops = pd.concat([t["populations"], pd.DataFrame(
        {"location_code": ["POL"], "year": [2024], "population_status": ["entities_targeted"],
         "population": [5.0], "origin": ["source"], "note": [""]})], ignore_index=True)
    plan = _plan(locations=locations, sectors=sectors.assign(output=["enabler", "entities"]),
                 populations=pops)
    out = dict(zip(cells, cell_outputs(plan, cells), strict=True))
    assert out[("POL", "HEALTH", 2024)] == "entities"
    assert out[("POL", "WASH", 2024)] == "enabler"


def test_severity_weights_are_population_weighted_per_location_and_year():
    severity = pd.DataFrame({
        "location_code": ["POL", "POL", "MDA", "MDA"],
        "population_group": ["refugees", "host", "refugees", "host"],
        "year": [2024, 2024, 2024, 2024],
        "severity": [3, 4, 5, 1],
        "population": [10.0, 30.0, None, 50.0],
    })
    plan = _plan(severity=severity)
    w = severity_weights(plan)
    # POL: (10 x 1 + 30 x 1.5) / 40 = 1.375; MDA: a group without population -> simple mean
    # of 2 and 0.25 = 1.125
    assert w[("POL", 2024)] == pytest.approx(1.375, rel=1e-15)
    assert w[("MDA", 2024)] == pytest.approx(1.125, rel=1e-15)
    settings = pd.DataFrame({"key": ["name", "severity_weights"], "value": ["T", "4:3"]})
    w = severity_weights(_plan(severity=severity, settings=settings))
    assert w[("POL", 2024)] == pytest.approx((10 * 1 + 30 * 3) / 40, rel=1e-15)
    assert severity_weights(_plan()).empty


def test_weights_offset_and_cost_index_defaults_and_settings():
    plan = _plan()
    assert tier_weights(plan) == {1: 2.0, 2: 1.0, 3: 0.5}
    assert severity_phase_weights(plan) == {1: 0.25, 2: 0.5, 3: 1.0, 4: 1.5, 5: 2.0}
    assert coverage_offset(plan) == 0.1
    assert cost_index(plan) == {"WASH": 1.0, "HEALTH": 1.0}
    index = pd.DataFrame({"sector_code": ["HEALTH"], "cost_index": [2.5]})
    assert cost_index(_plan(sector_cost_index=index)) == {"WASH": 1.0, "HEALTH": 2.5}
    settings = pd.DataFrame({"key": ["tier_weights", "coverage_offset"], "value": ["3:0", "50"]})
    plan = _plan(settings=settings)
    assert tier_weights(plan) == {1: 2.0, 2: 1.0, 3: 0.0}
    with pytest.raises(PlanError, match="coverage_offset: '50' must be a number between 0.01"):
        coverage_offset(plan)
