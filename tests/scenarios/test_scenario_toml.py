"""Funding rules written as a scenario file read back as the same rules."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reachplan.model.funding import (
    LOCATION_KINDS,
    Amount,
    Cap,
    Earmark,
    Envelope,
    Floor,
    FundingScenario,
    Lock,
    ObjectiveBound,
    Selector,
    Weight,
    parse_amount,
)
from reachplan.model.scenario import ScenarioError
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.scenarios.scenario_toml import amount_text, funding_to_mapping, scenario_toml

# ---- strategies: every funding scenario a file can state ----------------------------------

_TEXT = st.text(alphabet="aZ9 é,'\"#~%[]=.-_/\\&<>+:|\u00a0\u4e2d", max_size=8)
names = _TEXT.map(lambda s: "r " + s)
codes = st.from_regex(r"[A-Z][A-Z0-9_]{0,7}", fullmatch=True)
free_codes = _TEXT.map(lambda s: "S" + s)  # sector and objective codes keep their case
percent_texts = st.builds(
    lambda whole, frac: f"{whole}.{frac}%" if frac else f"{whole}%",
    st.integers(0, 999), st.sampled_from(["", "5", "25", "125", "3333", "0001"]),
)
shares = st.one_of(
    st.floats(0.0, 1.0),
    percent_texts.map(lambda t: parse_amount(t).value),
)
amounts = st.one_of(
    st.builds(Amount, st.just("share"), shares),
    st.builds(Amount, st.just("usd"), st.floats(0.0, 1e13)),
    st.sampled_from(["USD 300m", "$1.2bn", "250k usd", "USD 1,234,567.5"]).map(parse_amount),
)


def _tuple(elements, min_size=0):
    return st.lists(elements, min_size=min_size, max_size=3).map(tuple)


@st.composite
def selectors(draw, need_one: bool = False):
    spelled = tuple(
        draw(st.sampled_from([w, w + "s"]))
        for w in ("location", "sector", "objective", "year", "tier", "cluster", "location_kind")
    )
    sel = Selector(
        location_codes=draw(_tuple(codes)),
        sector_codes=draw(_tuple(free_codes, min_size=1 if need_one else 0)),
        objectives=draw(_tuple(free_codes)),
        years=draw(_tuple(st.integers(1900, 2200))),
        tiers=draw(_tuple(st.integers(1, 3))),
        life_saving=draw(st.sampled_from([None, True, False])),
        enabler=draw(st.sampled_from([None, True, False])),
        clusters=draw(_tuple(codes)),
        location_kinds=draw(_tuple(st.sampled_from(LOCATION_KINDS))),
        spelled=spelled,
    )
    return sel


@st.composite
def envelopes(draw):
    years = draw(st.lists(st.integers(1000, 9999), unique=True, max_size=4).map(sorted))
    total = draw(amounts) if not years or draw(st.booleans()) else None
    return Envelope(total, tuple((y, draw(amounts)) for y in years), draw(st.booleans()))


@st.composite
def bounds(draw):
    objectives = draw(st.lists(free_codes, unique=True, max_size=3))
    out = []
    for o in objectives:
        low = draw(st.floats(0.0, 1.0 / 3))
        out.append(ObjectiveBound(o, low, draw(st.floats(low, 1.0))))
    return tuple(out)


FALLS = st.none() | st.floats(0.0, 1.0)


@st.composite
def fundings(draw, max_year_fall=FALLS):
    def rules(build):
        return tuple(build(i) for i in range(draw(st.integers(0, 2))))

    return FundingScenario(
        envelope=draw(envelopes()),
        earmarks=rules(lambda i: Earmark(f"{i}{draw(names)}", draw(amounts), draw(selectors()))),
        floors=rules(lambda i: Floor(f"f{i} {draw(names)}", draw(st.floats(0.0, 1.0)),
                                     draw(selectors()),
                                     draw(st.sampled_from(["cell", "location", "sector", "all"])))),
        caps=rules(lambda i: Cap(draw(st.floats(0.0, 100.0)), draw(selectors()))),
        default_cap=draw(st.floats(0.0, 100.0)),
        objective_bounds=draw(bounds()),
        max_year_fall=draw(max_year_fall),
        locks=rules(lambda i: Lock(draw(names), draw(amounts), draw(selectors()))),
        exclusions=rules(lambda i: draw(selectors(need_one=True))),
        weights=rules(lambda i: Weight(draw(st.floats(0.0, 1000.0)), draw(selectors()))),
        objective=draw(st.sampled_from(["priority", "headcount"])),
        name=draw(st.sampled_from(["", "what-if"])),
    )


# ---- round trips ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(fundings())
def test_from_mapping_reads_back_the_same_rules(funding):
    mapping = funding_to_mapping(funding)
    assert FundingScenario.from_mapping(mapping, "written") == funding
    # through TOML text too (what a file holds), with the keys spelled as given
    back = FundingScenario.from_mapping(
        tomllib.loads(scenario_toml(funding, name="x", description="", extends=None,
                                    plan=None))["funding"], "written")
    assert back == dataclasses.replace(funding, name="")
    for old, new in zip(funding.earmarks, back.earmarks, strict=True):
        assert set(new.selector.spelled) <= set(old.selector.spelled)


@settings(max_examples=300, deadline=None)
@given(amounts)
def test_amount_text_reads_back_exactly(amount):
    for commas in (True, False):
        text = amount_text(amount, commas=commas)
        assert parse_amount(text) == amount, text
        if not commas:
            assert "," not in text and "=" not in text


def test_amounts_are_written_as_a_planner_types_them():
    assert amount_text(Amount("share", 0.6)) == "60%"
    assert amount_text(Amount("share", 1.0)) == "100%"  # not "1"
    assert amount_text(Amount("share", 0.0)) == "0%"
    assert amount_text(Amount("share", 1.1)) == "110%"
    assert amount_text(Amount("share", 0.125)) == "12.5%"
    assert amount_text(Amount("usd", 4e8)) == "USD 400m"
    assert amount_text(Amount("usd", 1.5e9)) == "USD 1.5bn"
    assert amount_text(Amount("usd", 250_000.0)) == "USD 250k"
    assert amount_text(Amount("usd", 1_234_567.0)) == "USD 1,234,567"
    assert amount_text(Amount("usd", 1_234_567.0), commas=False) == "USD 1234567"
    assert amount_text(Amount("usd", 0.5)) == "USD 0.5"  # a bare 0.5 would be a share


def test_shipped_scenarios_round_trip():
    for name in ("full_funding", "back_loaded", "heavily_earmarked", "tp_ends_2025"):
        funding = load_scenario(name).funding
        assert FundingScenario.from_mapping(funding_to_mapping(funding), name) == funding


def test_file_layout_matches_the_shipped_files():
    funding = load_scenario("heavily_earmarked").funding
    text = scenario_toml(funding, name="mine", description="Mine.", extends="shortfall_60",
                         plan=None)
    doc = tomllib.loads(text)
    assert list(doc)[:3] == ["name", "description", "extends"]
    assert doc["funding"]["funding"] == "60%"
    assert doc["funding"]["earmarks"][0] == {
        "name": "Ukraine shelter, housing and cash", "amount": "USD 400m",
        "locations": "UKR", "sectors": ["SHELTER_NFI", "HOUSING", "MPCA"]}
    assert doc["funding"]["floors"][1]["cluster"] == "PRO"
    # every key, empty lists too: nothing of a parent's rules leaks in
    for key in ("earmarks", "floors", "caps", "locks", "exclusions", "weights",
                "objective_bounds", "default_cap", "objective", "max_year_fall"):
        assert key in doc["funding"], key
    assert "name" not in doc["funding"]


def _write(tmp: Path, text: str, stem: str = "written") -> Path:
    path = tmp / f"{stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fundings())
def test_extending_a_shipped_scenario_inherits_no_funding_rule(tmp_path, funding):
    parent = load_scenario("shortfall_60")  # a few milliseconds
    text = scenario_toml(funding, name="mine", description="", extends="shortfall_60",
                         plan=None, inherited=parent.funding)
    loaded = load_scenario(_write(tmp_path, text))
    assert loaded.funding == dataclasses.replace(funding, name="mine")
    assert loaded.draws == parent.draws and loaded.seed == parent.seed


def test_extending_keeps_the_parent_simulation_and_replaces_a_table_envelope(tmp_path):
    funding = FundingScenario(Envelope(Amount("share", 0.5)), max_year_fall=0.2)
    text = scenario_toml(funding, name="mine", description="", extends="back_loaded",
                         plan=None)
    loaded = load_scenario(_write(tmp_path, text))
    assert loaded.funding == dataclasses.replace(funding, name="mine")
    provenance = {"source": "", "source_sha256": ""}
    assert dataclasses.replace(loaded.simulation, **provenance) == dataclasses.replace(
        load_scenario("back_loaded").simulation, **provenance)


def test_no_continuity_rule_is_written_false_over_a_parent(tmp_path):
    parent = load_scenario("shortfall_60").funding  # max_year_fall = 0.5 (full_funding)
    assert parent.max_year_fall == 0.5
    no_fall = FundingScenario(Envelope(Amount("share", 0.6)))
    text = scenario_toml(no_fall, name="mine", description="", extends="shortfall_60",
                         plan=None, inherited=parent)
    assert tomllib.loads(text)["funding"]["max_year_fall"] is False
    assert load_scenario(_write(tmp_path, text)).funding.max_year_fall is None
    # without extends there is nothing to override: the key is left out
    alone = scenario_toml(no_fall, name="mine", description="", extends=None, plan=None,
                          inherited=parent)
    assert "max_year_fall" not in tomllib.loads(alone)["funding"]
    with pytest.raises(ScenarioError, match="name"):
        scenario_toml(no_fall, name="../x", description="", extends=None, plan=None)


def test_a_carry_over_envelope_that_would_take_a_parents_years_is_refused(tmp_path):
    parent = load_scenario("back_loaded").funding  # years 2024-2026 with carry-over
    one_year = FundingScenario(Envelope(None, ((2025, Amount("share", 0.5)),), True))
    with pytest.raises(ScenarioError, match="laid over back_loaded") as info:
        scenario_toml(one_year, name="mine", description="", extends="back_loaded",
                      plan=None, inherited=parent)
    assert info.value.key == "funding.funding"
    # written without the check, the file would indeed read as the parent's years too
    text = scenario_toml(one_year, name="mine", description="", extends="back_loaded",
                         plan=None)
    assert load_scenario(_write(tmp_path, text)).funding.envelope != one_year.envelope
    every_year = FundingScenario(Envelope(None, tuple(
        (y, Amount("share", 0.5)) for y in (2024, 2025, 2026)), True))
    text = scenario_toml(every_year, name="mine", description="", extends="back_loaded",
                         plan=None, inherited=parent)
    assert load_scenario(_write(tmp_path, text)).funding == dataclasses.replace(
        every_year, name="mine")


def test_written_file_loads_alone_and_names_the_rules(tmp_path):
    funding = FundingScenario(
        Envelope(None, ((2024, Amount("share", 0.5)), (2025, Amount("usd", 2e8))), True),
        earmarks=(Earmark("shelter", Amount("usd", 5e7), Selector(sector_codes=("WASH",))),),
    )
    text = scenario_toml(funding, name="per_year", description="Two years.", extends=None,
                         plan=None)
    loaded = load_scenario(_write(tmp_path, text))
    assert loaded.name == "per_year" and loaded.description == "Two years."
    assert loaded.funding == dataclasses.replace(funding, name="per_year")


# ---- the command line reads the file as the rules it was written from -------------------


@pytest.fixture(scope="module")
def default_plan():
    from reachplan.workflow.suite import load_usable_plan

    return load_usable_plan(None).plan


def test_cli_allocates_the_written_file_as_the_rules(tmp_path, default_plan):
    from reachplan.solver.allocate import allocate

    funding = FundingScenario(
        Envelope(Amount("share", 0.6)),
        earmarks=(Earmark("regular pathways", Amount("usd", 1e8), Selector(objectives=("SO3",))),),
        floors=(Floor("protection", 0.9, Selector(clusters=("PRO",)), per="location"),),
    )
    path = _write(tmp_path, scenario_toml(funding, name="whatif", description="",
                                          extends=None, plan=None))
    run = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", "allocate", "--scenario", str(path), "--json",
         "--quiet"], capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    expected = allocate(default_plan, dataclasses.replace(funding, name="whatif"))
    assert json.loads(run.stdout)["people_reached"] == expected.people_reached
    # and the rules mattered: without them the allocation reaches other people
    plain = allocate(default_plan, FundingScenario(Envelope(Amount("share", 0.6))))
    assert plain.people_reached != expected.people_reached
