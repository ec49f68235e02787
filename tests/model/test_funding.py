import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reachplan.model.funding import (
    Amount,
    FundingError,
    FundingScenario,
    Selector,
    parse_amount,
    parse_funding,
)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [("60%", "share", 0.6), ("0.6", "share", 0.6), ("110%", "share", 1.1),
     ("USD 300m", "usd", 3e8), ("usd300M", "usd", 3e8), ("$1.2bn", "usd", 1.2e9),
     ("300,000 USD", "usd", 3e5), ("USD 250k", "usd", 2.5e5)],
)
def test_parse_amount(text, kind, value):
    a = parse_amount(text)
    assert a.kind == kind and a.value == pytest.approx(value)


@pytest.mark.parametrize("text", ["1.5", "sixty", "USD 3x", "", "-5%", "300000000"])
def test_parse_amount_rejects(text):
    with pytest.raises(FundingError):
        parse_funding(text) if not text else parse_amount(text)


def test_parse_per_year_and_total():
    env = parse_funding("2025=60%, 2024=USD 300m,total=USD 900m", carry_over=True)
    assert env.per_year == ((2024, Amount("usd", 3e8)), (2025, Amount("share", 0.6)))
    assert env.total == Amount("usd", 9e8) and env.carry_over
    with pytest.raises(FundingError, match="not a year"):
        parse_funding("y2024=50%")
    with pytest.raises(FundingError, match="twice"):
        parse_funding("2024=50%,2024=60%")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 200))
def test_percent_and_fraction_agree(pct):
    assert parse_amount(f"{pct}%").value == pytest.approx(pct / 100)
    if pct <= 100:
        assert parse_amount(f"{pct / 100}").value == pytest.approx(pct / 100)


def test_from_mapping_builds_every_rule():
    sc = FundingScenario.from_mapping(
        {
            "name": "donor cut",
            "funding": {"total": "USD 900m", "years": {"2024": "50%"}, "carry_over": True},
            "earmarks": [{"name": "ECHO", "amount": "USD 50m", "location": "UKR",
                          "objective": "SO1"}],
            "floors": [{"name": "protection", "share": 0.3, "sector": "PROTECTION",
                        "per": "location"}],
            "caps": [{"factor": 1.2, "sector": ["WASH"]}],
            "objective_bounds": [{"objective": "SO3", "max_share": 0.2}],
            "max_year_fall": 0.25,
            "locks": [{"name": "XRS", "amount": "USD 5m", "location": "XRS", "year": 2024}],
            "exclusions": [{"location": "blr"}],
            "weights": [{"weight": 2.0, "location": "UKR"}],
        },
        "s.toml",
    )
    assert sc.envelope.carry_over and sc.envelope.total == Amount("usd", 9e8)
    assert sc.earmarks[0].selector == Selector(("UKR",), (), ("SO1",), ())
    assert sc.floors[0].per == "location" and sc.caps[0].factor == 1.2
    assert sc.locks[0].selector.years == (2024,)
    assert sc.exclusions[0].location_codes == ("BLR",)
    assert sc.max_year_fall == 0.25 and sc.weights[0].weight == 2.0


@pytest.mark.parametrize(
    ("mapping", "needle"),
    [({"funding": "60%", "florrs": []}, "unknown key 'florrs'"),
     ({"funding": "60%", "floors": [{"share": 0.3, "sectr": "X"}]}, "unknown key 'sectr'"),
     ({}, "missing key 'funding'"),
     ({"funding": "60%", "floors": [{"share": 1.5}]}, "between 0 and 1"),
     ({"funding": {"totl": "60%"}}, "unknown key 'totl'")],
)
def test_from_mapping_names_the_problem(mapping, needle):
    with pytest.raises(FundingError, match=needle) as err:
        FundingScenario.from_mapping(mapping, "s.toml")
    assert "s.toml" in str(err.value)


def test_scaled_multiplies_dollars_only():
    sc = FundingScenario.from_mapping(
        {"funding": "2024=USD 10m,2025=50%",
         "locks": [{"name": "a", "amount": "USD 1m", "location": "UKR"}]}, "s")
    k = sc.scaled(3.0)
    assert dict(k.envelope.per_year)[2024] == Amount("usd", 3e7)
    assert dict(k.envelope.per_year)[2025] == Amount("share", 0.5)
    assert k.locks[0].amount == Amount("usd", 3e6)
    assert dataclasses.replace(k, name="x").name == "x"


@pytest.mark.parametrize(
    ("mapping", "key", "needle"),
    [
        ({"funding": "60%", "floors": [{"share": float("nan")}]}, "floors[0].share", "finite"),
        ({"funding": "60%", "caps": [{"factor": 1e9}]}, "caps[0].factor", "cannot be real"),
        ({"funding": "60%", "weights": [{"weight": float("inf")}]}, "weights[0].weight",
         "finite"),
        ({"funding": "60%", "earmarks": [{"amount": -5}]}, "earmarks[0].amount",
         "non-negative"),
        ({"funding": "60%", "earmarks": [{"amount": 1e300}]}, "earmarks[0].amount",
         "cannot be real"),
        ({"funding": {"years": {"2024": "USD 1,5m"}}}, "funding.years.2024", "comma"),
        ({"funding": "60%", "exclusions": [{"sectors": []}]}, "exclusions[0].sectors",
         "empty list"),
        ({"funding": "60%", "exclusions": [{}]}, "exclusions[0]", "exclude every line"),
        ({"funding": "60%", "floors": [{"share": 0.2, "year": 20245}]}, "floors[0].year",
         "year"),
        ({"funding": "60%", "floors": [{"share": 0.2, "name": "a b"},
                                       {"share": 0.3, "name": "a-b"}]}, "floors[1].name",
         "same name"),
        ({"funding": "60%", "objective_bounds": [
            {"objective": "SO1", "min_share": 0.7}, {"objective": "SO2", "min_share": 0.5}]},
         "objective_bounds", "add up to 120%"),
        ({"funding": "60%", "objective_bounds": [
            {"objective": "SO1", "min_share": 0.7}, {"objective": "SO1", "max_share": 0.5}]},
         "objective_bounds[1].objective", "two bounds"),
        ({"funding": "60%", "objective_bounds": [
            {"objective": "SO1", "min_share": 0.7, "max_share": 0.5}]},
         "objective_bounds[0]", "min_share <= max_share"),
        ({"funding": "60%", "floors": [{"share": 1.5}]}, "floors[0]", "between 0 and 1"),
        ({"funding": "60%", "max_year_fall": -0.1}, "max_year_fall", "between 0 and 1"),
        ({"funding": "60%", "max_year_fall": True}, "max_year_fall", "or false"),
    ],
)
def test_contradictions_and_unreal_numbers_name_the_key(mapping, key, needle):
    with pytest.raises(FundingError) as err:
        FundingScenario.from_mapping(mapping, "s.toml")
    assert err.value.key == key and err.value.source == "s.toml"
    assert needle in str(err.value)
    assert str(err.value).startswith(f"s.toml: {key}: ")


@pytest.mark.parametrize(("text", "needle"), [("USD 1e308", "not an amount"),
                                              ("USD 99999999999999bn", "cannot be real"),
                                              ("9" * 400 + "%", "too large"),
                                              ("5000%", "cannot be real")])
def test_amounts_that_cannot_be_real(text, needle):
    with pytest.raises(FundingError, match=needle):
        parse_amount(text)


def test_a_plain_number_is_an_envelope_too():
    sc = FundingScenario.from_mapping({"funding": 0.6}, "s.toml")
    assert sc.envelope.total == Amount("share", 0.6)


# ---- selectors by tag --------------------------------------------------------------------


def _floor(**keys):
    from reachplan.model.funding import FundingScenario
    return FundingScenario.from_mapping(
        {"funding": "60%", "floors": [{"share": 0.5, **keys}]}, "s.toml").floors[0].selector


def test_tag_keys_parse_into_the_selector():
    from reachplan.model.funding import Selector
    assert _floor(tier=1) == Selector(tiers=(1,))
    assert _floor(tiers=[2, 3], life_saving=False) == Selector(tiers=(2, 3), life_saving=False)
    assert _floor(enabler=True, cluster="pro") == Selector(enabler=True, clusters=("PRO",))
    assert _floor(location_kinds=["Admin1"]) == Selector(location_kinds=("admin1",))
    assert _floor(cluster="PRO").key_for("cluster") == "cluster"
    assert _floor(clusters=["PRO"]).key_for("cluster") == "clusters"


@pytest.mark.parametrize(("keys", "where", "fragment"), [
    ({"tier": 4}, "floors[0].tier", "1, 2 or 3"),
    ({"tiers": [1, True]}, "floors[0].tiers", "1, 2 or 3"),
    ({"life_saving": "yes"}, "floors[0].life_saving", "true or false"),
    ({"enabler": 1}, "floors[0].enabler", "true or false"),
    ({"location_kind": "province"}, "floors[0].location_kind", "country, regional"),
    ({"cluster": "PRO", "clusters": ["PRO"]}, "floors[0]", "not both"),
    ({"clusters": []}, "floors[0].clusters", "empty list"),
])
def test_bad_tag_values_name_the_key(keys, where, fragment):
    from reachplan.model.funding import FundingError, FundingScenario
    with pytest.raises(FundingError) as info:
        FundingScenario.from_mapping({"funding": "60%", "floors": [{"share": 0.5, **keys}]},
                                     "s.toml")
    assert info.value.key == where and fragment in str(info.value)


def test_describe_says_tags_in_planner_words():
    from reachplan.model.funding import Selector
    assert Selector(life_saving=True).describe() == "life-saving (tier 1) lines"
    assert Selector(clusters=("PRO",), location_codes=("UKR",), years=(2025,)).describe() == (
        "cluster PRO in UKR, 2025")
    assert Selector(enabler=True, location_kinds=("regional",)).describe() == (
        "enabler lines in regional locations")
    assert Selector(tiers=(2, 3), sector_codes=("WASH",)).describe() == "tier 2/3 WASH"


def test_max_year_fall_false_means_no_continuity_rule():
    sc = FundingScenario.from_mapping({"funding": "60%", "max_year_fall": False}, "s.toml")
    assert sc.max_year_fall is None


def test_max_year_fall_false_overrides_a_parents_rule(tmp_path):
    from reachplan.scenarios.scenario_io import load_scenario

    assert load_scenario("shortfall_60").funding.max_year_fall == 0.5  # from full_funding
    path = tmp_path / "no_fall.toml"
    path.write_text('extends = "shortfall_60"\nname = "no_fall"\n'
                    '[funding]\nmax_year_fall = false\n', encoding="utf-8")
    assert load_scenario(path).funding.max_year_fall is None
