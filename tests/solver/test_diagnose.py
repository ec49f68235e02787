import pytest

from reachplan.model.funding import Amount, Envelope, Floor, FundingScenario, Lock, Selector
from reachplan.solver.allocate import allocate
from reachplan.solver.result import InfeasibleScenarioError


def test_floors_exceeding_the_envelope_are_named_with_the_gap(hand_plan):
    # WASH floor 100% = $6M and HEALTH floor 50% = $3M against a $8M envelope: $1M short
    sc = FundingScenario(
        Envelope(total=Amount("usd", 8e6)),
        floors=(Floor("WASH", 1.0, Selector(sector_codes=("WASH",))),
                Floor("Health", 0.5, Selector(sector_codes=("HEALTH",)))),
    )
    with pytest.raises(InfeasibleScenarioError) as err:
        allocate(hand_plan, sc)
    message = str(err.value)
    assert "the WASH floor" in message and "the Health floor" in message
    assert "exceed the total envelope by $1.00M" in message
    assert err.value.conflicts[0].shortfall_usd == pytest.approx(1e6, rel=1e-6)


def test_lock_against_exclusion_is_named(hand_plan):
    sel = Selector(location_codes=("MDA",))
    sc = FundingScenario(Envelope(total=Amount("share", 1.0)),
                         locks=(Lock("MDA health", Amount("usd", 1e6), sel),), exclusions=(sel,))
    with pytest.raises(InfeasibleScenarioError) as err:
        allocate(hand_plan, sc)
    rows = [c.row for c in err.value.conflicts]
    assert all(row is not None for row in rows)
    assert {(r.kind, r.location) for r in rows if r.kind == "exclusion"} == {("exclusion", "MDA")}
    assert [r.rule_name for r in rows if r.kind == "lock"] == ["MDA health"]


def test_without_diagnosis_a_short_error(hand_plan):
    sc = FundingScenario(Envelope(total=Amount("usd", 1e6)),
                         floors=(Floor("all", 1.0),))
    with pytest.raises(InfeasibleScenarioError) as err:
        allocate(hand_plan, sc, diagnose=False)
    assert err.value.conflicts == ()


def test_elastic_ladder_gives_the_fresh_diagnosis_at_each_envelope(hand_plan):
    from reachplan.model.costs import CostModel
    from reachplan.solver.diagnose import ElasticLadder, diagnose_infeasibility

    costs = CostModel.from_plan(hand_plan)
    floors = (Floor("WASH", 1.0, Selector(sector_codes=("WASH",))),
              Floor("Health", 0.5, Selector(sector_codes=("HEALTH",))))
    ladder = ElasticLadder(costs, FundingScenario(Envelope(total=Amount("usd", 8e6)),
                                                  floors=floors))
    usd = ladder.lp.units.usd
    for total in (8e6, 2e6, 0.0, 5e6):
        fresh = diagnose_infeasibility(
            costs, FundingScenario(Envelope(total=Amount("usd", total)), floors=floors))
        got = ladder.diagnose({"envelope_total": total / usd})
        assert str(got) == str(fresh)
        assert [c.constraint for c in got.conflicts] == [c.constraint for c in fresh.conflicts]
        assert [c.shortfall_usd for c in got.conflicts] == pytest.approx(
            [c.shortfall_usd for c in fresh.conflicts], rel=1e-9, abs=1e-6)
    # $9M of floors against $5M: the envelope gives $4M
    assert got.conflicts[0].shortfall_usd == pytest.approx(4e6, rel=1e-6)
