"""The what-if page's settings: to funding rules (with the control at fault), and the URL."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reachplan.model.errors import ReachplanError
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
from reachplan.model.plan import Plan
from reachplan.web.state import (
    RULE_KINDS,
    ControlError,
    RuleSetting,
    WhatIfState,
    describe_rule,
    exclude_line,
    line_key,
    line_status,
    lock_line,
    release_line,
    rule_sentence,
    state_from_funding,
    state_from_query,
    state_to_funding,
    state_to_query,
)
from tests.conftest import tiny_tables


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan.from_tables(tiny_tables(), source="tiny")


# ---- the URL -----------------------------------------------------------------------------

# every character a planner might type, and those the link uses itself
_TEXT = st.text(alphabet="aZ9 é%&=+#?~\\,:|/()'\"<>\u00a0\u4e2d", max_size=8)
_CODE = st.text(alphabet="AZ_9 é~\\,:%&+", min_size=1, max_size=6).filter(str.strip)


@st.composite
def any_selectors(draw):
    def tup(elements):
        return tuple(draw(st.lists(elements, max_size=2)))

    return Selector(
        location_codes=tup(_CODE), sector_codes=tup(_CODE), objectives=tup(_CODE),
        years=tup(st.integers(1900, 2200)), tiers=tup(st.integers(1, 3)),
        life_saving=draw(st.sampled_from([None, True, False])),
        enabler=draw(st.sampled_from([None, True, False])),
        clusters=tup(_CODE), location_kinds=tup(st.sampled_from(LOCATION_KINDS)),
    )


states = st.builds(
    WhatIfState,
    funding=_TEXT,
    years=st.lists(st.tuples(st.integers(1000, 9999), _TEXT), max_size=3).map(tuple),
    carry_over=st.booleans(),
    rules=st.lists(st.builds(RuleSetting, st.sampled_from(RULE_KINDS), _TEXT, _TEXT,
                             any_selectors(), st.sampled_from(["all", "location", "cell"])
                             | _TEXT, st.booleans()),
                   max_size=3).map(tuple),
    objective=st.sampled_from(["priority", "headcount"]) | _TEXT,
    locked=st.lists(_TEXT, max_size=2).map(tuple),
    excluded=st.lists(_TEXT, max_size=2).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(states)
def test_query_round_trip_is_exact(state):
    query = state_to_query(state)
    assert query.startswith("?")
    assert state_from_query(query) == state
    assert state_from_query(query[1:]) == state


def test_query_is_readable():
    state = WhatIfState(
        "60%", carry_over=True,
        rules=(RuleSetting("earmark", "Shelter", "USD 50m",
                           Selector(location_codes=("UKR",), sector_codes=("SHELTER_NFI",))),
               RuleSetting("floor", "protection", "40%", Selector(clusters=("PRO",)),
                           "location")),
        excluded=("UKR|HEALTH|2026",),
    )
    assert state_to_query(state) == (
        "?funding=60%25&carry=1"
        "&rule=earmark~Shelter~USD+50m~location:UKR,sector:SHELTER_NFI"
        "&rule=floor~protection~40%25~cluster:PRO~location"
        "&exclude=UKR|HEALTH|2026"
    )
    # the form of the contract, keys in any order
    read = state_from_query(
        "?funding=60%25&carry=1&rule=earmark~Shelter~USD+50m~sector:SHELTER_NFI,location:UKR")
    assert read == WhatIfState("60%", carry_over=True, rules=state.rules[:1])
    assert state_from_query("") == WhatIfState() == state_from_query("?")


def test_a_rule_switched_off_is_marked_in_the_link():
    floor = RuleSetting("floor", "protection", "40%", Selector(clusters=("PRO",)))
    state = WhatIfState("60%", rules=(replace(floor, on=False),
                                      RuleSetting("cap", "", "1.2", Selector(), "cell", False),
                                      replace(floor, name="kept")))
    assert state_to_query(state) == (
        "?funding=60%25"
        "&rule=floor~protection~40%25~cluster:PRO~all~off"
        "&rule=cap~~1.2~~cell~off"
        "&rule=floor~kept~40%25~cluster:PRO"
    )
    assert state_from_query(state_to_query(state)) == state
    # a per that reads 'off' is a per (the marker comes only after one)
    assert state_from_query("?rule=floor~f~5%25~~off").rules == (
        RuleSetting("floor", "f", "5%", Selector(), "off"),)
    assert state_from_query("?rule=floor~f~5%25~~off~off").rules == (
        RuleSetting("floor", "f", "5%", Selector(), "off", on=False),)


def test_an_old_link_reads_its_rules_as_on():
    # a link written before rules could be switched off
    state = state_from_query(
        "?funding=60%25&rule=earmark~Shelter~USD+50m~sector:SHELTER_NFI,location:UKR"
        "&rule=floor~protection~40%25~cluster:PRO~location")
    assert [r.on for r in state.rules] == [True, True]
    assert state.rules[1].per == "location"


@pytest.mark.parametrize("query, says", [
    ("?funding=60%25&funding=50%25", "twice"),
    ("?budget=60%25", "budget"),
    ("?rule=grant~x~USD+5m~", "grant"),
    ("?rule=earmark~x~USD+5m", "kind~name~value~selector"),
    ("?rule=earmark~x~USD+5m~country:UKR", "country"),
    ("?rule=floor~x~50%25~tier:4", "tier"),
    ("?rule=floor~x~50%25~tier:12", "tier"),
    ("?rule=floor~x~50%25~life_saving:yes", "life_saving"),
    ("?rule=floor~x~50%25~sector", "key:value"),
    ("?rule=floor~x~50%25~~all~on", "'on'"),
    ("?rule=floor~x~50%25~~all~off~off", "kind~name~value~selector"),
    ("?rule=floor~x~50%25~sector:A\\", "'\\'"),
    ("?carry=yes", "carry"),
    ("?year=25~50%25", "YEAR~AMOUNT"),
    ("?funding=%FF", "cannot be read"),
    ("?funding", "cannot be read"),
    pytest.param("?" + "&".join(["rule=exclude~~~sector:A"] * 600), "more than", id="many"),
    pytest.param("?funding=" + "9" * 30_000, "longer", id="long"),
])
def test_malformed_query_names_the_url(query, says):
    with pytest.raises(ControlError) as info:
        state_from_query(query)
    assert info.value.control == "url"
    assert says in info.value.message


# ---- funding rules <-> state -------------------------------------------------------------

_TINY_SELECTORS = [
    Selector(), Selector(sector_codes=("WASH",)), Selector(location_codes=("POL",)),
    Selector(location_codes=("POL",), sector_codes=("HEALTH",)), Selector(years=(2024,)),
    Selector(objectives=("SO1",)), Selector(clusters=("WSH",)), Selector(tiers=(2,)),
    Selector(location_codes=("MDA",), years=(2025,)), Selector(life_saving=False),
    Selector(location_kinds=("country",), enabler=False),
]
_USD_OR_SHARE = st.one_of(
    st.builds(Amount, st.just("share"), st.floats(0.0, 0.25)),
    st.builds(Amount, st.just("usd"), st.floats(0.0, 60.0)),  # the tiny appeal is USD 550
)


@st.composite
def tiny_fundings(draw):
    sel = st.sampled_from(_TINY_SELECTORS)
    years = draw(st.sampled_from([(), (2024,), (2024, 2025)]))
    envelope = Envelope(
        draw(st.builds(Amount, st.just("share"), st.floats(0.6, 1.0)) | st.builds(
            Amount, st.just("usd"), st.floats(330.0, 1e6))),
        # a share above 100% is typed as a percentage (every one a planner can type)
        tuple((y, parse_amount(f"{draw(st.integers(60, 200))}.{draw(st.integers(0, 999))}%"))
              for y in years),
        draw(st.booleans()),
    )
    n = st.integers(0, 2)
    return FundingScenario(
        envelope=envelope,
        earmarks=tuple(Earmark(f"earmark {i}", draw(_USD_OR_SHARE), draw(sel))
                       for i in range(draw(n))),
        floors=tuple(Floor(f"floor {i}", draw(st.floats(0.0, 1.0)), draw(sel),
                           draw(st.sampled_from(["all", "cell", "location", "sector"])))
                     for i in range(draw(n))),
        caps=tuple(Cap(draw(st.floats(0.0, 100.0)), draw(sel)) for _ in range(draw(n))),
        locks=tuple(Lock(f"lock {i}", draw(_USD_OR_SHARE), draw(sel)) for i in range(draw(n))),
        exclusions=tuple(draw(st.sampled_from(_TINY_SELECTORS[1:])) for _ in range(draw(n))),
        objective=draw(st.sampled_from(["priority", "headcount"])),
        weights=(Weight(2.0, Selector(sector_codes=("WASH",))),),
        objective_bounds=(ObjectiveBound("SO1", 0.1, 0.9),),
        max_year_fall=0.5, default_cap=1.5, name="base",
    )


@settings(max_examples=40, deadline=None)
@given(tiny_fundings())
def test_untouched_page_runs_exactly_the_starting_rules(plan, funding):
    state = state_from_funding(funding)
    assert state_to_funding(state, funding, plan) == funding
    assert state_from_query(state_to_query(state)) == state


def test_settings_become_the_rules_a_planner_means(plan):
    base = FundingScenario(Envelope(Amount("share", 1.0)), max_year_fall=0.25,
                           weights=(Weight(3.0, Selector(location_codes=("MDA",))),),
                           default_cap=1.1, name="start")
    state = WhatIfState(
        funding="60%", years=((2024, "USD 200"), (2025, "")), carry_over=True,
        rules=(
            RuleSetting("earmark", "wash", "USD 50", Selector(sector_codes=("WASH",))),
            RuleSetting("floor", "", "0.5", Selector(location_codes=("POL",)), "location"),
            RuleSetting("cap", "", "120%", Selector(years=(2025,))),
            RuleSetting("lock", "health", "100%", Selector(sector_codes=("HEALTH",))),
            RuleSetting("exclude", "", "", Selector(objectives=("SO2",))),
        ),
        objective="headcount",
        locked=("MDA|WASH|2025=USD 12.5",),
        excluded=("POL|WASH|2024",),
    )
    assert state_to_funding(state, base, plan) == FundingScenario(
        envelope=Envelope(Amount("share", 0.6), ((2024, Amount("usd", 200.0)),), True),
        earmarks=(Earmark("wash", Amount("usd", 50.0), Selector(sector_codes=("WASH",))),),
        floors=(Floor("floor 1", 0.5, Selector(location_codes=("POL",)), "location"),),
        caps=(Cap(1.2, Selector(years=(2025,))),),
        default_cap=1.1,
        max_year_fall=0.25,
        locks=(Lock("health", Amount("share", 1.0), Selector(sector_codes=("HEALTH",))),
               Lock("line MDA WASH 2025", Amount("usd", 12.5),
                    Selector(location_codes=("MDA",), sector_codes=("WASH",), years=(2025,)))),
        exclusions=(Selector(objectives=("SO2",)),
                    Selector(location_codes=("POL",), sector_codes=("WASH",), years=(2024,))),
        weights=(Weight(3.0, Selector(location_codes=("MDA",))),),
        objective="headcount",
        name="start",
    )


def test_a_rule_switched_off_is_not_applied(plan):
    base = FundingScenario(Envelope(Amount("share", 1.0)), name="start")
    on = (RuleSetting("earmark", "", "USD 10", Selector(sector_codes=("WASH",))),
          RuleSetting("floor", "f", "50%", Selector(location_codes=("POL",))),
          RuleSetting("earmark", "", "USD 20", Selector(sector_codes=("HEALTH",))),
          RuleSetting("exclude", "", "", Selector(years=(2025,))))
    off = tuple(replace(r, on=i % 2 == 1) for i, r in enumerate(on))
    assert state_to_funding(WhatIfState("60%", rules=off), base, plan) == FundingScenario(
        envelope=Envelope(Amount("share", 0.6)),
        floors=(Floor("f", 0.5, Selector(location_codes=("POL",))),),
        exclusions=(Selector(years=(2025,)),),
        name="start",
    )
    # the unnamed earmark after one switched off is the first earmark
    second_only = (replace(on[0], on=False), on[2])
    assert state_to_funding(WhatIfState("60%", rules=second_only), base, plan).earmarks == (
        Earmark("earmark 1", Amount("usd", 20.0), Selector(sector_codes=("HEALTH",))),)
    # all off: the page's envelope alone
    assert state_to_funding(WhatIfState("60%", rules=tuple(replace(r, on=False) for r in on)),
                            base, plan) == FundingScenario(Envelope(Amount("share", 0.6)),
                                                           name="start")
    # switched off, a rule the plan or the money could not hold is not in the way
    unfit = (RuleSetting("earmark", "big", "USD 10000", Selector(), on=False),
             RuleSetting("floor", "x", "50%", Selector(sector_codes=("NOPE",)), on=False))
    assert state_to_funding(WhatIfState("60%", rules=unfit), base, plan) == FundingScenario(
        Envelope(Amount("share", 0.6)), name="start")
    # but a value that is not one is named next to it, on or off
    with pytest.raises(ControlError) as info:
        state_to_funding(WhatIfState("60%", rules=(on[0], RuleSetting(
            "floor", "f", "lots", Selector(), on=False))), base, plan)
    assert info.value.control == "rule-value-1"
    # the starting rules are all on
    assert all(r.on for r in state_from_funding(FundingScenario(
        Envelope(Amount("share", 1.0)), earmarks=(Earmark("e", Amount("usd", 5.0),
                                                          Selector()),),
        floors=(Floor("f", 0.5, Selector()),))).rules)


def _state(*rules: RuleSetting, **kw) -> WhatIfState:
    return WhatIfState(rules=rules, **kw)


_WASH = Selector(sector_codes=("WASH",))


@pytest.mark.parametrize("state, control, says", [
    (WhatIfState(funding="lots"), "funding-amount", "not an amount"),
    (WhatIfState(funding="5000%0"), "funding-amount", "not an amount"),
    (WhatIfState(funding=""), "funding-amount", "2024, 2025"),
    (WhatIfState(funding="", years=((2024, " "),)), "funding-amount", "at least one"),
    (WhatIfState(years=((2030, "50%"),)), "year-amount-2030", "its years: 2024, 2025"),
    (WhatIfState(years=((2025, "half"),)), "year-amount-2025", "not an amount"),
    (WhatIfState(objective="most"), "objective", "priority, headcount"),
    (_state(RuleSetting("earmark", "e", "lots", _WASH)), "rule-value-0", "not an amount"),
    (_state(RuleSetting("cap", "", "1.2", _WASH), RuleSetting("floor", "f", "USD 5m", _WASH)),
     "rule-value-1", "not dollars"),
    (_state(RuleSetting("floor", "f", "150%", _WASH)), "rule-value-0", "at most 100%"),
    (_state(RuleSetting("floor", "f", "", _WASH)), "rule-value-0", "'50%'"),
    (_state(RuleSetting("cap", "", "big", _WASH)), "rule-value-0", "absorption factor"),
    (_state(RuleSetting("cap", "", "1000", _WASH)), "rule-value-0", "cannot be real"),
    (_state(RuleSetting("lock", "l", "", _WASH)), "rule-value-0", "write the amount"),
    (_state(RuleSetting("floor", "f", "50%", _WASH, per="country")), "rule-per-0", "per"),
    (_state(RuleSetting("floor", "a b", "50%", _WASH), RuleSetting("floor", "a-b", "5%", _WASH)),
     "rule-name-1", "same name"),
    (_state(RuleSetting("lock", "a\nb", "5%", _WASH)), "rule-name-0", "one line"),
    (_state(RuleSetting("grant", "g", "5%", _WASH)), "rule-kind-0", "earmark, floor"),
    (_state(RuleSetting("exclude", "", "", Selector())), "rule-selector-0", "every line"),
    (_state(RuleSetting("earmark", "e", "USD 5", Selector(sector_codes=("WASHH",)))),
     "rule-selector-0", "did you mean 'WASH'?"),
    (_state(RuleSetting("cap", "", "1", _WASH),
            RuleSetting("floor", "f", "5%", Selector(location_codes=("MDA",),
                                                    sector_codes=("HEALTH",)))),
     "rule-selector-1", "selects no requirement line"),
    (_state(RuleSetting("earmark", "a", "USD 200", _WASH), RuleSetting("cap", "", "1", _WASH),
            RuleSetting("earmark", "b", "USD 200", _WASH), funding="USD 300"),
     "rule-value-2", "more than the USD 300 available"),
    (WhatIfState(excluded=("XXX|WASH|2024",)), "line-table", "no location 'XXX'"),
    (WhatIfState(excluded=("POL|WASH",)), "line-table", "not a line"),
    (WhatIfState(locked=("POL|WASH|2024=lots",)), "line-table", "not an amount"),
])
def test_bad_setting_names_its_control(plan, state, control, says):
    base = FundingScenario(Envelope(Amount("share", 1.0)))
    with pytest.raises(ControlError) as info:
        state_to_funding(state, base, plan)
    assert (info.value.control, says in info.value.message) == (control, True), info.value.message
    assert isinstance(info.value, ReachplanError)
    assert str(info.value) == info.value.message
    assert "[[funding." not in info.value.message  # no file keys on the page


def test_unknown_code_message_names_the_plan_codes_not_the_file(plan):
    state = _state(RuleSetting("earmark", "e", "USD 5", Selector(location_codes=("UKR",))))
    with pytest.raises(ControlError) as info:
        state_to_funding(state, FundingScenario(Envelope(Amount("share", 1.0))), plan)
    assert info.value.message == "the plan has no location 'UKR' (its locations: MDA, POL)"


# ---- lines clicked in the table ----------------------------------------------------------


def test_lock_exclude_release_a_line(plan):
    key = line_key("MDA", "WASH", 2025)
    assert key == "MDA|WASH|2025"
    start = WhatIfState()
    locked = lock_line(start, key, 123.25)
    assert line_status(locked, key) == "locked"
    funding = state_to_funding(locked, FundingScenario(Envelope(Amount("share", 1.0))), plan)
    assert funding.locks == (Lock("line MDA WASH 2025", Amount("usd", 123.25), Selector(
        location_codes=("MDA",), sector_codes=("WASH",), years=(2025,))),)
    excluded = exclude_line(locked, key)
    assert line_status(excluded, key) == "excluded" and excluded.locked == ()
    assert release_line(excluded, key) == start
    assert line_status(start, key) is None
    # amounts shown to the cent or beyond are kept exactly
    odd = lock_line(start, key, 1 / 3)
    back = state_to_funding(state_from_query(state_to_query(odd)),
                            FundingScenario(Envelope(Amount("share", 1.0))), plan)
    assert back.locks[0].amount == Amount("usd", 1 / 3)


def test_describe_rule_in_planner_words():
    ukr_shelter = Selector(location_codes=("UKR",), sector_codes=("SHELTER_NFI",))
    assert describe_rule(RuleSetting("earmark", "Shelter", "USD 50m", ukr_shelter)) == (
        "earmark 'Shelter': USD 50m for SHELTER_NFI in UKR")
    assert describe_rule(RuleSetting("floor", "protection", "40%", Selector(clusters=("PRO",)),
                                     "location")) == (
        "floor 'protection': at least 40% of cluster PRO funded, in every location, each year")
    assert describe_rule(RuleSetting("cap", "", "1.2", Selector())) == (
        "cap: all lines receive at most 1.2 x their requirement")
    assert describe_rule(RuleSetting("exclude", "", "", Selector(years=(2025,)))) == (
        "excluded: all lines, 2025 receive nothing")
    assert describe_rule(RuleSetting("lock", "kept", "USD 1.5m", ukr_shelter)) == (
        "lock 'kept': SHELTER_NFI in UKR kept at USD 1.5m")
    assert describe_rule(RuleSetting("cap", "", "1.2", Selector(), on=False)) == (
        "cap: all lines receive at most 1.2 x their requirement (off)")
    for rule in (RuleSetting("earmark", "Shelter", "USD 50m", ukr_shelter),
                 RuleSetting("floor", "", "40%", Selector(tiers=(1,)), "sector"),
                 RuleSetting("lock", "kept", "USD 1.5m", ukr_shelter)):
        before, after = rule_sentence(rule)
        assert before + rule.value + after == describe_rule(rule)
    assert rule_sentence(RuleSetting("exclude", "", "", Selector(years=(2025,)))) == (
        "excluded: all lines, 2025 receive nothing", "")
