"""The default plan's tiers, outputs, sector cost index, severity and settings."""

import pytest

from reachplan.model.lines import coverage_offset, severity_weights, tier_weights
from reachplan.model.tables import OUTPUTS
from reachplan.scenarios.build_plan.calibrate_costs import calibrated_tables
from reachplan.scenarios.plan_io import load_plan

ENTITY_SECTORS = {"IBM", "POLICY_TA", "EVIDENCE", "SUPPORT_SERVICES", "DRR"}


@pytest.fixture(scope="module")
def loaded():
    result = load_plan()
    assert result.plan is not None
    return result


def test_the_default_plan_validates_with_the_new_tables(loaded):
    assert loaded.validation.errors == ()
    assert {"sector_cost_index", "severity"} <= set(loaded.plan.tables)


def test_so1_is_the_life_saving_tier(loaded):
    tiers = loaded.plan.objectives["tier"].to_dict()
    assert tiers == {"SO1": 1, "SO2": 2, "SO3": 2}
    assert loaded.plan.sectors["tier"].isna().all()  # the objectives decide


def test_sectors_delivering_to_institutions_are_entity_lines_with_a_reason(loaded):
    sectors = loaded.plan.sectors
    assert set(sectors["output"]) <= set(OUTPUTS)
    assert set(sectors.index[sectors["output"] == "entities"]) == ENTITY_SECTORS
    for code in ENTITY_SECTORS:
        assert sectors.loc[code, "note"].startswith("entities: "), code


def test_every_sector_has_a_stated_cost_index(loaded):
    index = loaded.plan.tables["sector_cost_index"].set_index("sector_code")
    assert set(index.index) == set(loaded.plan.sectors_index)
    assert set(index["origin"]) == {"assumption"}
    assert (index["source"].str.len() > 20).all()
    assert index.loc["MPCA", "cost_index"] == 1.0 and index.loc["POLICY_TA", "cost_index"] == 1.0
    assert index.loc["HOUSING", "cost_index"] == 4.0 and index.loc["IBM", "cost_index"] == 3.0


def test_severity_is_neutral_for_every_country_and_year(loaded):
    plan = loaded.plan
    sev = plan.tables["severity"]
    countries = set(plan.locations.index[plan.locations["kind"] == "country"])
    assert set(sev["location_code"]) == countries
    assert len(sev) == len(countries) * len(plan.years)
    assert set(sev["severity"]) == {3} and set(sev["population_group"]) == {"all"}
    assert set(sev["origin"]) == {"assumption"}
    assert set(severity_weights(plan)) == {1.0}  # tilts nothing


def test_settings_of_the_priority_objective(loaded):
    plan = loaded.plan
    assert coverage_offset(plan) == 0.1
    assert tier_weights(plan) == {1: 2.0, 2: 1.0, 3: 0.5}
    notes = dict(zip(plan.tables["settings"]["key"], plan.tables["settings"]["note"],
                     strict=True))
    assert "python -m reachplan.scenarios.build_plan" in notes["overlap_factor"]
    for key in ("coverage_offset", "tier_weights", "severity_weights"):
        assert notes[key].startswith("Planning assumption"), key


def test_the_cost_build_writes_exactly_the_shipped_tables(loaded):
    tables = calibrated_tables(loaded.plan)
    shipped = loaded.plan.tables["unit_costs"]
    fresh = tables["unit_costs"]
    assert list(zip(fresh["location_code"], fresh["sector_code"], strict=True)) == list(
        zip(shipped["location_code"], shipped["sector_code"], strict=True))
    assert fresh["unit_cost_usd"].tolist() == shipped["unit_cost_usd"].tolist()
