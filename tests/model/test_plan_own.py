"""Plans as planners write them: no strategic objectives, cluster figures, admin areas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from reachplan.model.funding import Amount, Envelope, FundingScenario
from reachplan.model.plan import Plan
from reachplan.model.tables import NO_OBJECTIVE, TABLES
from reachplan.model.validation import RawTable, parse_table
from reachplan.reports.plan_files import write_plan_tables
from reachplan.scenarios.plan_io import load_plan
from reachplan.solver.allocate import allocate

FILES = {
    "settings.csv": "key,value,note\nname,Flood response 2024,\ncurrency,USD,\n",
    "locations.csv": (
        "location_code,location_name,region,kind,parent_code\n"
        "MOZ,Mozambique,mz,country,\n"
        "MZ01,Cabo Delgado,north,admin1,MOZ\n"
        "MZ02,Nampula,north,admin1,MOZ\n"
        "MZ0101,Pemba,north,admin2,MZ01\n"
    ),
    "sectors.csv": (
        'sector_code,sector_name,iasc_cluster,tier\nWASH,"Water, sanitation",WSH,1\n'
        "SHELTER,Shelter,SHL,\n"
    ),
    "requirements.csv": (
        "location_code,sector_code,year,requirements_usd\n"
        "MZ01,WASH,2024,1000000\n"
        "MZ01,SHELTER,2024,2000000\n"
        "MZ02,WASH,2024,500000\n"
        "MZ0101,WASH,2024,100000\n"
    ),
    "populations.csv": (
        "location_code,sector_code,year,population_status,population\n"
        "MZ01,,2024,in_need,100000\n"
        "MZ01,WASH,2024,in_need,80000\n"
        "MZ01,WASH,2024,targeted,40000\n"
        "MZ01,SHELTER,2024,in_need,50000\n"
        "MZ01,SHELTER,2024,targeted,20000\n"
        "MZ02,,2024,in_need,30000\n"
        "MZ02,,2024,targeted,10000\n"
        "MZ0101,,2024,in_need,8000\n"
        "MZ0101,,2024,targeted,4000\n"
    ),
    "unit_costs.csv": (
        "location_code,sector_code,unit_cost_usd\n"
        "MZ01,WASH,25\nMZ01,SHELTER,100\nMZ02,WASH,50\nMZ0101,WASH,25\n"
    ),
}


def _folder(tmp_path: Path, **changes: str | None) -> Path:
    folder = tmp_path / "plan"
    folder.mkdir(exist_ok=True)
    for name, text in {**FILES, **changes}.items():
        if text is not None:
            (folder / name).write_text(text)
        elif (folder / name).exists():
            (folder / name).unlink()
    return folder


def _errors(folder: Path) -> list[str]:
    return [str(p) for p in load_plan(folder).validation.errors]


# ---- strategic objectives optional ----------------------------------------------------------


def test_a_plan_without_objectives_holds_one_implicit_objective(tmp_path):
    loaded = load_plan(_folder(tmp_path))
    assert loaded.validation.errors == ()
    plan = loaded.plan
    assert plan.has_objectives is False
    assert list(plan.objectives_index) == [NO_OBJECTIVE] == ["ALL"]
    assert plan.objectives.loc["ALL", "objective_name"] == "All requirements"
    assert pd.isna(plan.objectives.loc["ALL", "tier"])
    shares = plan.objective_shares()
    assert list(shares.columns) == ["ALL"]
    assert len(shares) == 4 and (shares["ALL"] == 1.0).all()
    assert set(plan.tables["requirements"]["objective"]) == {"ALL"}


def test_a_plan_with_objectives_has_them(tiny):
    assert Plan.from_tables(tiny).has_objectives is True


def test_a_blank_objective_column_and_no_table_is_the_implicit_objective(tmp_path):
    req = FILES["requirements.csv"].replace(
        "year,requirements_usd", "year,objective,requirements_usd"
    )
    req = req.replace(",2024,", ",2024,,")
    plan = load_plan(_folder(tmp_path, **{"requirements.csv": req})).plan
    assert plan is not None and list(plan.objectives_index) == ["ALL"]


def test_some_rows_with_an_objective_and_others_blank_is_an_error(tmp_path):
    req = (
        "location_code,sector_code,year,objective,requirements_usd\n"
        "MZ01,WASH,2024,SO1,1000000\nMZ01,SHELTER,2024,,2000000\nMZ02,WASH,2024,SO1,500000\n"
        "MZ0101,WASH,2024,SO1,100000\n"
    )
    obj = "objective_code,objective_name\nSO1,Lives\n"
    folder = _folder(tmp_path, **{"requirements.csv": req, "objectives.csv": obj})
    assert _errors(folder) == [
        f"{folder / 'requirements.csv'}, row 3, column objective: no objective here, while other "
        "rows name one (SO1): give every row an objective, or leave the objective blank in every "
        "row (a plan without strategic objectives)"
    ]
    (folder / "objectives.csv").unlink()
    errors = _errors(folder)
    assert errors[-1].startswith(
        f"{folder / 'objectives.csv'}: requirements name strategic objectives (SO1) but the plan "
        "lists none: add the objectives table"
    )


def test_an_unused_objectives_table_is_a_warning(tmp_path):
    folder = _folder(tmp_path, **{"objectives.csv": "objective_code,objective_name\nSO1,Lives\n"})
    loaded = load_plan(folder)
    assert loaded.plan is not None and list(loaded.plan.objectives_index) == ["ALL"]
    assert any(
        str(w).startswith(f"{folder / 'objectives.csv'}: no requirement row names a strategic")
        for w in loaded.validation.warnings
    )


def test_a_plan_without_objectives_is_written_without_them(tmp_path):
    plan = load_plan(_folder(tmp_path)).plan
    out = tmp_path / "out"
    out.mkdir()
    write_plan_tables(plan.tables, out)
    assert not (out / "objectives.csv").exists()
    assert "objective" not in (out / "requirements.csv").read_text().splitlines()[0]
    assert "sector_code" in (out / "populations.csv").read_text().splitlines()[0]
    again = load_plan(out).plan
    assert again.fingerprint == plan.fingerprint


# ---- populations per sector ------------------------------------------------------------------


def test_sector_population_and_location_population(tmp_path):
    loaded = load_plan(_folder(tmp_path))
    plan = loaded.plan
    targeted = plan.sector_population("targeted")
    assert targeted.index.names == ["location_code", "sector_code", "year"]
    assert targeted.to_dict() == {
        ("MZ01", "SHELTER", 2024): 20000.0, ("MZ01", "WASH", 2024): 40000.0
    }
    assert plan.sector_population("in_need").to_dict() == {
        ("MZ01", "SHELTER", 2024): 50000.0, ("MZ01", "WASH", 2024): 80000.0
    }
    assert plan.sector_population("reached").empty
    # location-level rows only; MZ01's targeted is derived from its largest cluster
    assert plan.population("in_need").to_dict() == {
        ("MZ0101", 2024): 8000.0, ("MZ01", 2024): 100000.0, ("MZ02", 2024): 30000.0
    }
    assert plan.population("targeted").to_dict() == {
        ("MZ0101", 2024): 4000.0, ("MZ01", 2024): 40000.0, ("MZ02", 2024): 10000.0
    }
    src = tmp_path / "plan" / "populations.csv"
    assert [str(w) for w in loaded.validation.warnings] == [
        f"{src}, row 4, column population: MZ01 2024: no people targeted for the whole location, "
        "only per sector; the largest sector figure (40,000) is used, a lower bound of the unique "
        "people (add a row with a blank sector_code to give the plan's own figure)"
    ]
    pops = plan.tables["populations"]
    derived = pops[(pops["location_code"] == "MZ01") & (pops["population_status"] == "targeted")
                   & (pops["sector_code"] == "")]
    assert derived["origin"].tolist() == ["derived"]


def test_a_plan_without_sector_rows_has_an_empty_sector_population(tiny):
    plan = Plan.from_tables(tiny)
    assert plan.sector_population("in_need").empty
    assert list(plan.tables["populations"]["sector_code"]) == [""] * 4
    assert plan.population("in_need").to_dict() == {("MDA", 2024): 500.0, ("POL", 2024): 1000.0}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("MZ01,WASH,2024,in_need,120000", "MZ01 2024: people in need of WASH (120,000) exceed the "
         "location's people in need (100,000); a location's people in need are the unique "
         "people across sectors, at least as many as any sector's"),
        ("MZ01,HEALTH,2024,in_need,1000", "unknown sector code 'HEALTH'"),
        ("MZ01,WASH,2024,idps,1000", "idps are a stock of the whole location, not of a sector: "
         "leave sector_code blank (per sector: in_need, targeted, reached, entities_targeted)"),
    ],
)
def test_sector_rows_that_cannot_be_are_errors_naming_the_row(tmp_path, row, message):
    pops = FILES["populations.csv"].replace("MZ01,WASH,2024,in_need,80000\n", "") + row + "\n"
    folder = _folder(tmp_path, **{"populations.csv": pops})
    errors = _errors(folder)
    assert errors[0].startswith(f"{folder / 'populations.csv'}, row 10, column ")
    assert errors[0].endswith(message)


def test_nesting_is_checked_per_sector(tmp_path):
    pops = FILES["populations.csv"].replace("MZ01,SHELTER,2024,targeted,20000",
                                            "MZ01,SHELTER,2024,targeted,60000")
    folder = _folder(tmp_path, **{"populations.csv": pops})
    assert _errors(folder) == [
        f"{folder / 'populations.csv'}, row 6, column population: MZ01 SHELTER 2024: people "
        "targeted (60,000) exceed people in need (50,000)"
    ]


# ---- sub-national locations ------------------------------------------------------------------


def test_country_of_rolls_admin_areas_up_to_the_country(tmp_path, tiny):
    plan = load_plan(_folder(tmp_path)).plan
    assert plan.country_of.to_dict() == {
        "MOZ": "MOZ", "MZ01": "MOZ", "MZ02": "MOZ", "MZ0101": "MOZ"
    }
    assert Plan.from_tables(tiny).country_of.to_dict() == {"POL": "POL", "MDA": "MDA"}


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("UA14,Odesa,south,admin1,MOZ", "location_code", "'UA14' is not an OCHA P-code of MOZ: "
         "the P-code of an admin1 area starts with the country's ISO 3166 alpha-2 code 'MZ' "
         "followed by letters or digits (e.g. MZ14)"),
        ("MZ05,Sofala,centre,admin1,", "parent_code",
         "an admin1 area names its parent (country) in parent_code"),
        ("MZ05,Sofala,centre,admin2,MOZ", "parent_code", "the parent of an admin2 area must be "
         "a location of kind 'admin1'; 'MOZ' is 'country'"),
        ("MZ05,Sofala,centre,admin1,ZZZ", "parent_code",
         "parent 'ZZZ' is not a location of this table (add it with kind 'country')"),
        ("MWI,Malawi,mw,country,MOZ", "parent_code",
         "a country location has no parent: leave parent_code blank (not 'MOZ')"),
        ("MZ05,Sofala,centre,province,MOZ", "kind", "kind must be 'country', 'regional', "
         "'admin1' or 'admin2' (blank = country), not 'province'"),
        ("MZ05,Sofala,centre,,", "location_code", "'MZ05' is not an ISO 3166 alpha-3 country "
         "code (a sub-national area needs kind 'admin1' or 'admin2' and a parent_code)"),
    ],
)
def test_bad_admin_areas_are_errors_naming_row_and_field(tmp_path, line, column, message):
    folder = _folder(tmp_path, **{"locations.csv": FILES["locations.csv"] + line + "\n"})
    assert _errors(folder) == [f"{folder / 'locations.csv'}, row 6, column {column}: {message}"]


def test_a_parent_without_requirements_allocates(tmp_path):
    plan = load_plan(_folder(tmp_path)).plan
    total = 3_600_000.0
    scenario = FundingScenario(Envelope(total=Amount("usd", total)), objective="headcount")
    result = allocate(plan, scenario)
    cells = result.cells["allocated_usd"]
    assert "MOZ" not in set(cells.index.get_level_values("location_code"))
    assert cells.sum() == pytest.approx(total, abs=1)
    assert cells[("MZ01", "SHELTER", 2024)] == pytest.approx(2_000_000, abs=1)


# ---- ragged rows -----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", TABLES, ids=[t.name for t in TABLES])
def test_a_row_with_an_unquoted_comma_is_an_error_in_every_table(tmp_path, spec):
    header = ",".join(c for c, _ in spec.example)
    values = [v for _, v in spec.example]
    row = ",".join(v.replace(",", ";") for v in values[:-1]) + ",12,5"  # one field too many
    raw = RawTable(spec.name, "x.csv", tuple(header.split(",")), None,
                   (tuple(row.split(",")),), (2,), (len(row.split(",")),),
                   len(spec.example), len(spec.example))
    _, problems = parse_table(raw, spec)
    assert [str(p) for p in problems] == [
        f"x.csv, row 2: this row has {len(spec.example) + 1} fields but the header has "
        f"{len(spec.example)}: a value that contains a comma must be in double quotes "
        '("22,952.42"), and decimals use a point'
    ]


def test_the_issue_case_a_csv_row_with_four_fields_under_three_headers(tmp_path):
    folder = _folder(tmp_path, **{
        "settings.csv": "key,value,note\nname,Flood response, Mozambique,2024\ncurrency,USD,\n"
    })
    assert _errors(folder) == [
        f"{folder / 'settings.csv'}, row 2: this row has 4 fields but the header has 3: a value "
        'that contains a comma must be in double quotes ("22,952.42"), and decimals use a point'
    ]


def test_a_value_under_no_header_in_a_worksheet_is_an_error(tmp_path):
    plan = load_plan(_folder(tmp_path)).plan
    book = tmp_path / "plan.xlsx"
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, frame in plan.tables.items():
        ws = wb.create_sheet(name)
        ws.append(list(frame.columns))
        for rec in frame.itertuples(index=False):
            ws.append([None if pd.isna(v) else v for v in rec])
    ws = wb["settings"]
    ws["D2"] = " Mozambique"  # 'Flood response, Mozambique' split into columns at its comma
    wb.save(book)
    assert _errors(book) == [
        "plan.xlsx [sheet settings], row 2: a value ('Mozambique') in column D, which has no "
        "header (the header has 3 columns): a value split at a comma belongs in one cell; give "
        "the column a header or remove the value"
    ]


# ---- examples and the command line -------------------------------------------------------------


@pytest.mark.parametrize("spec", TABLES, ids=[t.name for t in TABLES])
def test_every_table_has_an_example_row_that_parses(spec):
    assert spec.example, spec.name
    header, values = spec.example_csv().split("\n")
    import csv

    cells = next(csv.reader([values]))
    raw = RawTable(spec.name, "x.csv", tuple(header.split(",")), None, (tuple(cells),), (2,))
    frame, problems = parse_table(raw, spec)
    assert problems == [] and len(frame) == 1


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reachplan.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_validate_names_file_and_row_of_a_missing_objective(tmp_path):
    req = (
        "location_code,sector_code,year,objective,requirements_usd\n"
        "MZ01,WASH,2024,SO1,1000000\nMZ01,SHELTER,2024,,2000000\n"
    )
    obj = "objective_code,objective_name\nSO1,Lives\n"
    folder = _folder(tmp_path, **{"requirements.csv": req, "objectives.csv": obj})
    out = _cli("validate", str(folder))
    assert out.returncode == 1
    text = out.stdout + out.stderr
    assert "Traceback" not in text
    assert f"{folder / 'requirements.csv'}, row 3, column objective: no objective here" in text


def test_validate_names_file_and_row_of_a_bad_p_code(tmp_path):
    folder = _folder(tmp_path, **{
        "locations.csv": FILES["locations.csv"] + "UA14,Odesa,south,admin1,MOZ\n"
    })
    out = _cli("validate", str(folder))
    assert out.returncode == 1
    text = out.stdout + out.stderr
    assert "Traceback" not in text
    assert f"{folder / 'locations.csv'}, row 6, column location_code: 'UA14' is not an OCHA" in text


def test_validate_accepts_a_plan_without_objectives_with_admin_areas(tmp_path):
    out = _cli("validate", str(_folder(tmp_path)))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "valid (1 warning(s))" in out.stdout
