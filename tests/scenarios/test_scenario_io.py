"""Scenario files: the shipped suite, extends, and strict keys."""

import dataclasses

import pytest

from model.scenario import ScenarioError
from scenarios.scenario_io import SUITE, load_scenario, suite_paths


def test_every_shipped_scenario_loads_with_its_own_name():
    names = [load_scenario(p).name for p in suite_paths()]
    assert names == list(SUITE)


def test_extends_changes_only_what_it_names():
    base = load_scenario("full_funding")
    tp = load_scenario("tp_ends_2025")
    assert tp.funding.envelope.total is not None and tp.funding.envelope.total.value == 0.6
    assert tp.funding.floors == base.funding.floors
    assert tp.simulation.temporary_protection.scenario == "ended"
    assert base.simulation.temporary_protection.scenario == "extended"
    assert tp.simulation.rates == base.simulation.rates
    assert [f.rsplit("/", 1)[-1] for f in tp.files] == [
        "tp_ends_2025.toml",
        "shortfall_60.toml",
        "full_funding.toml",
    ]


def test_per_year_envelope_replaces_the_total():
    front = load_scenario("front_loaded")
    assert front.funding.envelope.total is None
    assert dict(front.funding.envelope.per_year)[2024].value == 0.8
    assert front.funding.envelope.carry_over


def test_command_line_overrides_and_replace():
    s = load_scenario("shortfall_50", draws=7, seed=3)
    assert (s.draws, s.seed) == (7, 3)
    assert dataclasses.replace(s, draws=9).draws == 9


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ('name = "x"\ndraw = 5\n[funding]\nfunding = "60%"\n', "draw", "did you mean 'draws'"),
        ('name = "x"\n[funding]\nfundng = "60%"\n', "funding.fundng", "did you mean 'funding'"),
        (
            'name = "x"\n[funding]\nfunding = "60%"\n[simulation.rates]\nidp_retrun = 0.1\n',
            "simulation.rates.idp_retrun",
            "idp_return",
        ),
        ('name = "x"\ndraws = -1\n[funding]\nfunding = "60%"\n', "draws", "at least 1"),
        ('name = "x"\n', "funding", "missing [funding]"),
        ('name = "x"\n[funding]\nfunding = "sixty"\n', "funding.funding", "not an amount"),
    ],
)
def test_bad_keys_are_named_with_the_file(tmp_path, text, key, fragment):
    path = _write(tmp_path, "s.toml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.file == str(path)
    assert info.value.key == key
    assert fragment in str(info.value)


def test_extends_cycle_and_missing_parent(tmp_path):
    _write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    _write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="circle"):
        load_scenario(tmp_path / "a.toml")
    _write(tmp_path, "c.toml", 'extends = "nope.toml"\n[funding]\nfunding = "1"\n')
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "c.toml")


def test_invalid_toml(tmp_path):
    path = _write(tmp_path, "bad.toml", "name = \n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(path)
