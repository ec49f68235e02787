"""Scenario files: the shipped suite, extends, and strict keys."""

import dataclasses

import pytest

from reachplan.model.scenario import ScenarioError
from reachplan.scenarios.scenario_io import SUITE, load_scenario, suite_paths


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


# ---- reading: encodings, sizes, paths ------------------------------------------------------

GOOD = 'name = "x"\n[funding]\nfunding = "60%"\n'


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ('name = "Łódź"\n[funding]\nfunding = "60%"\n'.encode("latin-1", "replace")
         .replace(b"?", b"\xa3"), "not UTF-8 text (byte 0xa3 on line 1)"),
        (GOOD.encode("utf-16"), "saved as UTF-16"),
        (GOOD.encode("utf-16-be").join([b"\xfe\xff", b""]), "saved as UTF-16"),
        (bytes(range(256)) * 4, "not UTF-8 text"),
        (b'name = "x"\x00\n', "not valid TOML"),
        (GOOD.encode()[:14], "not valid TOML"),
        (b"a = " + b"[" * 5000 + b"]" * 5000, "not valid TOML"),
        (b"#" * 1_000_001, "larger than"),
    ],
)
def test_unreadable_files_are_one_scenario_error_naming_the_file(tmp_path, data, fragment):
    path = tmp_path / "s.toml"
    path.write_bytes(data)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.file == str(path)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(b"\xef\xbb\xbf" + 'name = "łódź"\n[funding]\nfunding = "60%"\n'.encode())
    assert load_scenario(path).name == "łódź"


def test_a_folder_is_not_a_scenario(tmp_path):
    with pytest.raises(ScenarioError, match="is a folder"):
        load_scenario(tmp_path)


@pytest.mark.parametrize(
    "name",
    ["/srv/x", "../../x", "a/b", "a\\\\b", "..", ".hidden", "-rf", "", "a\\u0000b", "a\\nb",
     "tab\\there", "with space", "CON", "nul.txt", "x" * 65],
)
def test_path_like_names_are_refused(tmp_path, name):
    path = tmp_path / "s.toml"
    path.write_text(f'name = "{name}"\n[funding]\nfunding = "60%"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (info.value.file, info.value.key) == (str(path), "name")
    assert "\n" not in str(info.value) and "\x00" not in str(info.value)


@pytest.mark.parametrize("name", ["shortfall_60", "tp-ends.2025", "сценарій_1", "A"])
def test_safe_names_load(tmp_path, name):
    path = tmp_path / "s.toml"
    path.write_text(f'name = "{name}"\n[funding]\nfunding = "60%"\n', encoding="utf-8")
    assert load_scenario(path).name == name


def test_name_is_the_files_own_not_inherited(tmp_path):
    parent = tmp_path / "base.toml"
    parent.write_text(GOOD)
    child = tmp_path / "child_2.toml"
    child.write_text('extends = "base.toml"\n')
    assert load_scenario(child).name == "child_2"
    odd = tmp_path / "my scenario.toml"
    odd.write_text('extends = "base.toml"\n')
    with pytest.raises(ScenarioError, match="no 'name' given") as info:
        load_scenario(odd)
    assert info.value.key == "name"


@pytest.mark.parametrize(
    ("line", "key", "fragment"),
    [
        ('extends = "a\\u0000b.toml"', "extends", "control character"),
        ('extends = ""', "extends", "must not be empty"),
        ("extends = 5", "extends", "must be a file or folder path"),
        ('plan = "a\\u0000b"', "plan", "control character"),
        ('plan = "nope"', "plan", "no plan folder or workbook"),
        ("plan = []", "plan", "must be a file or folder path"),
    ],
)
def test_extends_and_plan_paths_are_checked(tmp_path, line, key, fragment):
    path = tmp_path / "s.toml"
    path.write_text(f'{line}\nname = "x"\n[funding]\nfunding = "60%"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (info.value.file, info.value.key) == (str(path), key)
    assert fragment in str(info.value)


def test_plan_is_resolved_against_the_file_that_states_it(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "my_plan").mkdir()
    (tmp_path / "base" / "b.toml").write_text('plan = "my_plan"\n' + GOOD)
    child = tmp_path / "c.toml"
    child.write_text('extends = "base/b.toml"\nname = "c"\n')
    assert load_scenario(child).plan == str((tmp_path / "base" / "my_plan").resolve())


def test_funding_errors_carry_the_dotted_key(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(GOOD + '[[funding.floors]]\nshare = 0.3\nsector = "WASH"\n'
                    '[[funding.floors]]\nshare = nan\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == "funding.floors[1].share"
    assert "finite" in str(info.value)
