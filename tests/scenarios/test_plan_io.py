"""Reading plans: CSV folders, workbooks, HXL rows, HAPI headers, and the template round trip."""

import shutil

import openpyxl
import pandas as pd
import pytest

from reachplan.model.plan import Plan, plans_equal
from reachplan.reports.plan_files import write_plan_tables
from reachplan.reports.template import write_template
from reachplan.scenarios.plan_io import DEFAULT_PLAN_DIR, PlanReadError, load_plan


def with_unit_costs(tables):
    """The tiny plan plus the unit costs a usable plan needs."""
    out = dict(tables)
    out["unit_costs"] = pd.DataFrame(
        {
            "location_code": ["POL", "POL", "MDA"],
            "sector_code": ["WASH", "HEALTH", "WASH"],
            "unit_cost_usd": [1.0, 0.5, 2.0],
            "weight": [1.0, 1.0, 1.0],
        }
    )
    return out


@pytest.fixture(scope="module")
def default_plan():
    loaded = load_plan()
    assert loaded.plan is not None
    return loaded.plan


def test_default_plan_round_trips_through_the_template(default_plan, tmp_path):
    write_template(default_plan.tables, tmp_path)
    from_csv = load_plan(tmp_path)
    from_xlsx = load_plan(tmp_path / "plan.xlsx")
    assert from_csv.plan is not None and from_xlsx.plan is not None
    assert plans_equal(from_csv.plan, default_plan)
    assert plans_equal(from_xlsx.plan, default_plan)
    for name, frame in default_plan.tables.items():
        pd.testing.assert_frame_equal(from_xlsx.plan.tables[name], frame)


def test_formula_looking_text_stays_text(tiny, tmp_path):
    tiny["locations"].loc[0, "location_name"] = '=HYPERLINK("http://x")'
    plan = Plan.from_tables(with_unit_costs(tiny))
    write_template(plan.tables, tmp_path)
    wb = openpyxl.load_workbook(tmp_path / "plan.xlsx")
    ws = wb["locations"]
    cells = [c for row in ws.iter_rows() for c in row if c.value and str(c.value).startswith("=")]
    assert cells and all(c.data_type == "s" for c in cells)
    loaded = load_plan(tmp_path / "plan.xlsx")
    assert loaded.plan is not None
    assert "=HYPERLINK" in loaded.plan.locations.loc["POL", "location_name"]
    assert "instructions" in wb.sheetnames


def test_hxl_hashtag_row_and_hapi_headers(tiny, tmp_path):
    plan = Plan.from_tables(with_unit_costs(tiny))
    write_plan_tables(plan.tables, tmp_path)
    req = plan.tables["requirements"]
    with open(tmp_path / "requirements.csv", "w") as fh:
        fh.write("Country,Cluster,Period,Objective,Amount\n")
        fh.write(
            "#country+code,#sector+code,#date+year,#indicator+objective,"
            "#value+funding+required+usd\n"
        )
        for r in req.itertuples():
            fh.write(
                f"{r.location_code},{r.sector_code},{r.year},{r.objective},{r.requirements_usd}\n"
            )
    with open(tmp_path / "populations.csv", "w") as fh:
        fh.write("location_code,reference_period,In need,Targeted\n")
        fh.write("#country+code,#date+year,#inneed,#targeted\n")
        fh.write("POL,2024,1000,400\nMDA,2024,500,300\n")
    loaded = load_plan(tmp_path)
    assert loaded.validation.ok, [str(p) for p in loaded.validation.problems]
    assert loaded.plan is not None
    assert loaded.plan.cell_requirements().equals(plan.cell_requirements())
    assert loaded.plan.population("targeted").equals(plan.population("targeted"))


def test_missing_path_and_wrong_file_kind(tmp_path):
    with pytest.raises(PlanReadError, match="no such file"):
        load_plan(tmp_path / "nope")
    (tmp_path / "plan.txt").write_text("x")
    with pytest.raises(PlanReadError, match="directory of CSV files or an .xlsx"):
        load_plan(tmp_path / "plan.txt")
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(PlanReadError, match="broken.xlsx"):
        load_plan(tmp_path / "broken.xlsx")


def test_errors_name_file_row_and_column(tmp_path):
    shutil.copytree(DEFAULT_PLAN_DIR, tmp_path / "p", ignore=shutil.ignore_patterns("source"))
    path = tmp_path / "p" / "requirements.csv"
    lines = path.read_text().splitlines()
    cells = lines[6].split(",")
    cells[4] = "-12"
    lines[6] = ",".join(cells)
    cells = lines[9].split(",")
    cells[0] = "ZZZ"
    lines[9] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    loaded = load_plan(tmp_path / "p")
    messages = [str(p) for p in loaded.validation.errors]
    assert f"{path}, row 7, column requirements_usd: negative value -12" in messages
    assert f"{path}, row 10, column location_code: unknown location code 'ZZZ'" in messages
    assert loaded.plan is None


def _tiny_folder(tiny, tmp_path):
    write_plan_tables(Plan.from_tables(with_unit_costs(tiny)).tables, tmp_path)
    assert load_plan(tmp_path).plan is not None
    return tmp_path


def test_ragged_csv_rows_name_file_and_row(tiny, tmp_path):
    folder = _tiny_folder(tiny, tmp_path)
    path = folder / "requirements.csv"
    lines = path.read_text().splitlines()
    assert lines[2].startswith("MDA,WASH,2025,SO1,150")
    lines[2] = lines[2].replace(",150,", ",1,50,")  # an unquoted thousands comma
    lines[3] = lines[3].rsplit(",", 2)[0]  # cut short
    path.write_text("\n".join(lines) + "\n")
    errors = [str(p) for p in load_plan(folder).validation.errors]
    assert errors[0] == (
        f"{path}, row 3: this row has 8 fields but the header has 7: a value that contains a "
        'comma must be in double quotes ("22,952.42"), and decimals use a point'
    )
    assert errors[1].startswith(f"{path}, row 4: this row has 5 fields but the header has 7")


def test_a_quoted_thousands_comma_is_read(tiny, tmp_path):
    folder = _tiny_folder(tiny, tmp_path)
    path = folder / "requirements.csv"
    path.write_text(path.read_text().replace(",150,", ',"1,150",'))
    loaded = load_plan(folder)
    assert loaded.plan is not None
    assert loaded.plan.requirement_by().iloc[0] == 550 + 1000


@pytest.mark.parametrize(
    ("encode", "message"),
    [
        (lambda t: t.encode("utf-16"), "UTF-16 text; save it as 'CSV UTF-8'"),
        (lambda t: t.replace("Poland", "Pôland").encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_other_encodings_name_the_file(tiny, tmp_path, encode, message):
    folder = _tiny_folder(tiny, tmp_path)
    path = folder / "locations.csv"
    path.write_bytes(encode(path.read_text()))
    with pytest.raises(PlanReadError, match=message) as info:
        load_plan(folder)
    assert str(info.value).startswith(f"{path}: ")


def test_an_unclosed_quote_is_malformed_csv(tiny, tmp_path):
    folder = _tiny_folder(tiny, tmp_path)
    path = folder / "sectors.csv"
    path.write_text(path.read_text().replace("Health", '"Health'))
    with pytest.raises(PlanReadError, match=r"sectors.csv, row \d+: malformed CSV"):
        load_plan(folder)


def test_two_files_for_one_table(tiny, tmp_path):
    folder = _tiny_folder(tiny, tmp_path)
    shutil.copy(folder / "sectors.csv", folder / "Sectors.csv")
    with pytest.raises(PlanReadError, match="holds the table 'sectors'"):
        load_plan(folder)


@pytest.mark.parametrize("cut", [100, 1000, 3000, -200])
def test_damaged_workbook_bytes_are_one_plan_read_error(tiny, tmp_path, cut):
    write_template(Plan.from_tables(with_unit_costs(tiny)).tables, tmp_path)
    path = tmp_path / "plan.xlsx"
    data = bytearray(path.read_bytes())
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(bytes(data[:cut]) if cut > 0 else bytes(data[:cut]) + b"\0" * 200)
    with pytest.raises(PlanReadError, match="damaged.xlsx"):
        load_plan(damaged)


def test_a_missing_table_is_named_where_it_belongs(tiny, tmp_path):
    folder = _tiny_folder(tiny, tmp_path)
    (folder / "sectors.csv").unlink()
    (folder / "unit_costs.csv").unlink()
    errors = [str(p) for p in load_plan(folder).validation.errors]
    assert errors[0].startswith(f"{folder / 'sectors.csv'}: missing table 'sectors'")
    tables = dict(Plan.from_tables(with_unit_costs(tiny)).tables)
    del tables["unit_costs"]
    pops = tables["populations"]
    tables["populations"] = pops[pops["population_status"] != "targeted"]
    write_template(tables, tmp_path / "wb")
    errors = [str(p) for p in load_plan(tmp_path / "wb" / "plan.xlsx").validation.errors]
    assert errors == [
        "plan.xlsx [sheet unit_costs]: no unit costs and no people targeted, so no money can "
        "reach anyone: either add "
        "unit_costs.csv to the plan folder (or a unit_costs sheet to the workbook) with columns "
        "location_code, sector_code, unit_cost_usd and optionally weight: the US dollars per "
        "person reached by the first tranche of each line's requirement, e.g. the row "
        "'MDA,WASH,25.00,1'; a line that reaches nobody directly (regional support) has no "
        "row; or add people targeted to plan.xlsx [sheet populations], rows with "
        "population_status 'targeted' (e.g. 'MDA,2024,targeted,350000' under location_code, "
        "year, population_status, population), from which 'reachplan plan calibrate PLAN' "
        "calibrates the unit costs"
    ]
