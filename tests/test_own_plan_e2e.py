"""Your own plan, any crisis: from an empty template to a report, through the command line.

The acceptance tests of issue 12 ("Done when"). Every command runs in a subprocess, as a
planner would type it, on plans built from ``reachplan template --empty`` by writing rows
into the workbook's sheets (openpyxl) and nothing else: no unit cost is typed by hand.

Two plans, both in ``tests/fixtures/own_plans/`` as one CSV per sheet (figures illustrative,
and labelled so in each plan's settings notes):

- ``haiti_clusters``: one country (HTI), eight clusters with IASC cluster codes (tier 1 for
  the life-saving ones), no strategic objectives (empty ``objectives`` sheet, blank
  ``objective`` column), 2024 only, people in need and targeted for the whole country and per
  cluster (``populations.sector_code``), no unit costs. Its ``overlap_factor`` (2.5) is the
  sum of the cluster targets over the country's people targeted, so that full funding reaches
  both the cluster targets (sector beneficiaries) and the country target (people reached).
- ``ukraine_admin1``: five oblasts (OCHA P-codes UA14, UA63, UA65, UA48, UA23, kind
  ``admin1``, parent UKR) under the country line UKR (no requirements), four clusters, 2025,
  people in need and targeted per oblast, no unit costs.

Choices where the contracts leave a name open (listed so they can be reconciled):

- ``reachplan plan calibrate PLAN --out DIR`` writes ``DIR/unit_costs.csv`` (a plan table).
- The run JSON carries ``needs_source`` in each entry of ``scenarios``; the report's HTML
  shows the same sentence.
- A roll-up to country appears in ``allocate --json`` as records (in any top-level list)
  with ``country_code`` or ``location_code`` equal to ``UKR`` and a ``people_reached``
  field; in the report as a figure for ``UKR`` in ``tables/*.csv`` equal to the sum over the
  oblasts of the same column.
- The draws of a needs file are numbered like the run's draws (0 .. draws-1), as in
  ``tables/people_reached_draws.csv``.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import openpyxl
import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "own_plans"
HAITI = FIXTURES / "haiti_clusters"
UKRAINE = FIXTURES / "ukraine_admin1"
OBLASTS = ("UA14", "UA63", "UA65", "UA48", "UA23")
DRAWS = 20


# ---- how a planner works: commands, the workbook, the scenario file ------------------------


def reachplan(*args: object, cwd: Path | None = None, expect: int = 0):
    """Run ``python -m reachplan.cli ARGS`` and check its exit code (stdout piped)."""
    proc = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )
    assert proc.returncode == expect, (
        f"reachplan {' '.join(map(str, args))}: exit {proc.returncode}, expected {expect}\n"
        f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def reachplan_json(*args: object, cwd: Path | None = None) -> dict:
    """Run a ``--json`` command: exit 0 and stdout is one strict JSON document."""
    proc = reachplan(*args, "--json", cwd=cwd)
    return json.loads(proc.stdout)


def read_fixture(fixture: Path) -> dict[str, list[dict[str, str]]]:
    """The rows a planner types, per sheet (one CSV per sheet in the fixture folder)."""
    out = {}
    for path in sorted(fixture.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            out[path.stem] = list(csv.DictReader(handle))
    return out


def _cell_value(text: str) -> object:
    """What a planner types in a cell: numbers as numbers, codes and words as text."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d*", text):
        return float(text)
    return text


def fill_workbook(xlsx: Path, fixture: Path) -> None:
    """Write the fixture's rows under the headers of the template's sheets.

    A column the sheet does not have yet (an optional one) is added at the right of the
    header row, as a planner would; blank cells are left empty.
    """
    book = openpyxl.load_workbook(xlsx)
    for sheet, rows in read_fixture(fixture).items():
        assert sheet in book.sheetnames, f"the template has no sheet {sheet!r}"
        ws = book[sheet]
        headers = [c.value for c in ws[1] if c.value is not None]
        assert headers, f"sheet {sheet!r} of the template has no header row"
        assert ws.max_row == 1, f"sheet {sheet!r} of an --empty template has rows"
        for key in rows[0] if rows else ():
            if key not in headers:
                headers.append(key)
                ws.cell(row=1, column=len(headers), value=key)
        for r, row in enumerate(rows, start=2):
            for key, text in row.items():
                if text != "":
                    ws.cell(row=r, column=headers.index(key) + 1, value=_cell_value(text))
    book.save(xlsx)


def plan_from_template(directory: Path, fixture: Path) -> Path:
    """``reachplan template --empty DIR``, then fill DIR/plan.xlsx: the plan's workbook."""
    reachplan("template", "--empty", directory)
    xlsx = directory / "plan.xlsx"
    assert xlsx.is_file()
    fill_workbook(xlsx, fixture)
    return xlsx


def write_scenario(path: Path, plan: Path, body: str, name: str) -> Path:
    """A scenario TOML naming its plan (``plan =``), with few draws."""
    path.write_text(
        f'name = "{name}"\nplan = "{plan.as_posix()}"\ndraws = {DRAWS}\nseed = 7\n\n{body}',
        encoding="utf-8",
    )
    return path


FLOORS_BY_TAG = """
[funding]
funding = "60%"

[[funding.floors]]
name = "life-saving"
share = 0.5
life_saving = true
per = "location"

[[funding.floors]]
name = "protection"
share = 0.4
cluster = "PRO"
per = "location"
"""


# ---- what the plan says (read from the fixture, not from the tool) -------------------------


def requirements(fixture: Path) -> dict[tuple[str, str], float]:
    """(location, sector) -> USD required (one year per fixture)."""
    return {
        (r["location_code"], r["sector_code"]): float(r["requirements_usd"])
        for r in read_fixture(fixture)["requirements"]
    }


def populations(fixture: Path, status: str) -> dict[tuple[str, str], float]:
    """(location, sector or '') -> people of ``status``."""
    return {
        (r["location_code"], r.get("sector_code", "")): float(r["population"])
        for r in read_fixture(fixture)["populations"]
        if r["population_status"] == status
    }


def sector_tiers(fixture: Path) -> dict[str, int]:
    return {r["sector_code"]: int(r["tier"]) for r in read_fixture(fixture)["sectors"]}


def sector_clusters(fixture: Path) -> dict[str, str]:
    return {r["sector_code"]: r["iasc_cluster"] for r in read_fixture(fixture)["sectors"]}


# ---- checks shared by the flows ------------------------------------------------------------


def scenario_entry(run_payload: dict, name: str) -> dict:
    """The entry of ``run --json`` for scenario ``name``."""
    entries = [s for s in run_payload["scenarios"] if s["name"] == name]
    assert len(entries) == 1, [s.get("name") for s in run_payload["scenarios"]]
    return entries[0]


def check_floors(payload: dict, fixture: Path) -> None:
    """In every location: tier-1 lines at least 50% funded, PRO lines at least 40%."""
    tiers, clusters = sector_tiers(fixture), sector_clusters(fixture)
    need: dict[tuple[str, str], float] = defaultdict(float)
    got: dict[tuple[str, str], float] = defaultdict(float)
    for cell in payload["cells"]:
        sector, loc = cell["sector_code"], cell["location_code"]
        for group, member in (("life", tiers[sector] == 1), ("pro", clusters[sector] == "PRO")):
            if member:
                need[loc, group] += cell["requirement_usd"]
                got[loc, group] += cell["allocated_usd"]
    assert need, "no cell of the plan in the allocation"
    for (loc, group), required in need.items():
        share = 0.5 if group == "life" else 0.4
        assert got[loc, group] >= share * required * (1 - 1e-6), (loc, group, got[loc, group])


def check_report_files(out: Path) -> str:
    """report.html and report.xlsx written; the HTML as text a reader sees."""
    assert (out / "report.html").is_file()
    assert (out / "report.xlsx").is_file()
    openpyxl.load_workbook(out / "report.xlsx")  # a workbook that opens
    return html.unescape((out / "report.html").read_text(encoding="utf-8"))


def check_needs_fixed_at_plan(entry: dict, page: str, plan_in_need: float) -> None:
    """Model "none": the run and its report say the needs are the plan's, fixed."""
    source = entry["needs_source"]
    assert isinstance(source, str) and source.strip()
    assert "plan" in source.lower() and "fixed" in source.lower(), source
    assert source in page, "the report does not say which needs it used"
    # fixed needs: every draw the same, and unmet + reached = the plan's people in need
    assert entry["people_reached_p10"] == pytest.approx(entry["people_reached_p90"], rel=1e-9)
    year = next(iter(entry["unmet_need_by_year"]))
    assert entry["unmet_need_by_year"][year] + entry["people_reached_mean"] == pytest.approx(
        plan_in_need, rel=1e-6
    )


# ---- the template itself -------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``reachplan template --empty`` folder, copied by the tests that need a plan."""
    directory = tmp_path_factory.mktemp("template") / "empty"
    reachplan("template", "--empty", directory)
    return directory


def plan_copy(empty_template: Path, tmp_path: Path, fixture: Path) -> Path:
    """A filled copy of the empty template (for tests that are not about the template)."""
    directory = tmp_path / fixture.name
    shutil.copytree(empty_template, directory)
    fill_workbook(directory / "plan.xlsx", fixture)
    return directory / "plan.xlsx"


def test_empty_template_has_the_optional_columns_of_own_plans(empty_template: Path) -> None:
    """The template offers populations.sector_code and locations.parent_code to fill."""
    book = openpyxl.load_workbook(empty_template / "plan.xlsx")
    headers = {ws.title: [c.value for c in ws[1]] for ws in book.worksheets}
    assert "sector_code" in headers["populations"]
    assert "parent_code" in headers["locations"]
    assert "iasc_cluster" in headers["sectors"]
    assert "unit_costs" in headers and "cost_curve" in headers
    instructions = " ".join(
        str(c.value) for row in book["instructions"].iter_rows() for c in row if c.value
    )
    for table in ("unit_costs", "cost_curve", "populations", "locations"):
        assert table in instructions, f"the instructions sheet does not mention {table}"


# ---- Done when 1: a one-country cluster plan, template to report ---------------------------


def test_cluster_plan_from_empty_template_to_report(tmp_path: Path) -> None:
    """HTI by cluster, no objectives, no unit costs: every step exits 0; full funding
    reaches each cluster's target and the country's target within 1%; a 60% scenario with
    floors by tag (life-saving, cluster PRO) and fixed needs runs and is reported."""
    plan = plan_from_template(tmp_path / "haiti", HAITI)

    checked = reachplan("validate", plan)
    assert "calibrat" in (checked.stdout + checked.stderr).lower(), (
        "validate does not say the plan's unit costs are calibrated from its targets"
    )
    problems = reachplan_json("validate", plan)
    assert problems["valid"] is True

    reachplan("plan", "calibrate", plan)
    reachplan("plan", "calibrate", plan, "--out", tmp_path / "calibrated")
    with (tmp_path / "calibrated" / "unit_costs.csv").open(newline="") as handle:
        costs = {(r["location_code"], r["sector_code"]): float(r["unit_cost_usd"])
                 for r in csv.DictReader(handle) if not r["location_code"].startswith("#")}
    assert set(costs) == set(requirements(HAITI))
    assert all(c > 0 for c in costs.values())

    # full funding reaches the plan's targets: per cluster, and for the country
    full = reachplan_json("allocate", plan, "--funding", "100%")
    required = requirements(HAITI)
    targeted = populations(HAITI, "targeted")
    assert full["allocated_usd"] == pytest.approx(sum(required.values()), rel=1e-6)
    by_cluster: dict[str, float] = defaultdict(float)
    for cell in full["cells"]:
        assert cell["location_code"] == "HTI"
        by_cluster[cell["sector_code"]] += cell["sector_beneficiaries"]
    for sector in sector_tiers(HAITI):
        assert by_cluster[sector] == pytest.approx(targeted["HTI", sector], rel=0.01), sector
    assert full["people_reached"] == pytest.approx(targeted["HTI", ""], rel=0.01)

    # a scenario with floors by tag and fixed needs; allocate honours its `plan =`
    scenario = write_scenario(
        tmp_path / "haiti_60.toml", plan,
        FLOORS_BY_TAG + '\n[simulation]\nmodel = "none"\n', "haiti_60",
    )
    sixty = reachplan_json("allocate", "--scenario", scenario)
    assert {c["location_code"] for c in sixty["cells"]} == {"HTI"}
    assert sixty["allocated_usd"] == pytest.approx(0.6 * sum(required.values()), rel=1e-6)
    check_floors(sixty, HAITI)

    out = tmp_path / "out"
    entry = scenario_entry(
        reachplan_json("run", scenario, "--out", out, "--no-report"), "haiti_60"
    )
    assert entry["allocated_usd_mean"] == pytest.approx(0.6 * sum(required.values()), rel=1e-6)
    protection = entry["allocation_by_sector_usd"]["PROTECTION"]
    assert protection >= 0.4 * required["HTI", "PROTECTION"] * (1 - 1e-6)
    reachplan("report", scenario, "--out", out)
    page = check_report_files(out)
    check_needs_fixed_at_plan(entry, page, populations(HAITI, "in_need")["HTI", ""])
    # no displacement charts of another crisis (outside the bundled chart library's code)
    text = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S | re.I)
    for european_host in ("Poland", "Moldova", "POL", "MDA"):
        assert european_host not in text
    assert "Displacement futures" not in page
    totals = out / "tables" / "displacement_totals.csv"
    assert not totals.exists() or not [  # header and HXL row only
        line for line in totals.read_text().splitlines()[1:] if not line.startswith("#")]


# ---- Done when 2: an admin1 plan that rolls up to country ----------------------------------


def _ukr_rollups(payload: dict) -> list[tuple[str, float]]:
    """(list key, people reached) of every UKR record in a top-level list of the JSON."""
    found = []
    for key, value in payload.items():
        if not isinstance(value, list):
            continue
        total, hit = 0.0, False
        for record in value:
            if not isinstance(record, dict) or "people_reached" not in record:
                continue
            code = record.get("country_code", record.get("location_code"))
            if code == "UKR":
                hit, total = True, total + float(record["people_reached"])
        if hit:
            found.append((key, total))
    return found


def _report_rollup_matches(tables: Path) -> list[str]:
    """Columns of the report's tables where UKR's figure equals the sum over its oblasts.

    The country's rows and the oblasts' may sit in one table or in two (a country table and
    a sub-national one) with the same column; rows are compared within the same scenario,
    sector and year (when the tables have them).
    """
    figures: dict[tuple[str, str], dict[str, dict[tuple, float]]] = {}
    for path in sorted(tables.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle)
                    if not any(str(v).startswith("#") for v in r.values())]
        if not rows:
            continue
        for code_column in ("country_code", "location_code"):
            if code_column not in rows[0]:
                continue
            group_by = [c for c in ("scenario", "sector_code", "year") if c in rows[0]]
            for column in rows[0]:
                try:
                    values = [(r[code_column], tuple(r[g] for g in group_by), float(r[column]))
                              for r in rows]
                except (TypeError, ValueError):
                    continue
                by_code = figures.setdefault((path.name, column), {})
                for code, key, v in values:
                    by_code.setdefault(code, {})[(tuple(group_by), key)] = v
    matches = []
    for (country_table, column), codes in figures.items():
        ukr = codes.get("UKR")
        if not ukr:
            continue
        for (oblast_table, other), oblast_codes in figures.items():
            if other != column or not any(o in oblast_codes for o in OBLASTS):
                continue
            sums: dict[tuple, float] = defaultdict(float)
            for o in OBLASTS:
                for key, v in oblast_codes.get(o, {}).items():
                    sums[key] += v
            if all(key in sums and v > 0 and abs(v - sums[key]) <= 1e-6 * v
                   for key, v in ukr.items()):
                matches.append(f"{country_table}:{column} = sum of {oblast_table}:{column}")
    return matches


def test_admin1_plan_from_empty_template_rolls_up_to_country(tmp_path: Path) -> None:
    """Oblasts by P-code under UKR: valid, calibrated, full funding reaches each oblast's
    target; allocate (console and JSON) and the report give UKR = the sum of its oblasts."""
    plan = plan_from_template(tmp_path / "ukraine", UKRAINE)
    reachplan("validate", plan)
    reachplan("plan", "calibrate", plan)

    full = reachplan_json("allocate", plan, "--funding", "100%")
    targeted = populations(UKRAINE, "targeted")
    reached: dict[str, float] = defaultdict(float)
    for row in full["people_reached_by_location_year"]:
        reached[row["location_code"]] += row["people_reached"]
    for oblast in OBLASTS:
        assert reached[oblast] == pytest.approx(targeted[oblast, ""], rel=0.01), oblast
    cells_total = sum(c["people_reached"] for c in full["cells"]
                      if c["location_code"] in OBLASTS)
    assert cells_total == pytest.approx(sum(targeted.values()), rel=0.01)
    rollups = _ukr_rollups(full)
    assert rollups, "allocate --json has no record for the country UKR"
    for key, total in rollups:
        assert total == pytest.approx(cells_total, rel=1e-6), key

    console = reachplan("allocate", plan, "--funding", "100%").stdout
    ukr_lines = [line for line in console.splitlines() if re.search(r"\bUKR\b", line)]
    assert ukr_lines, "allocate's console has no row for the country UKR"
    for oblast in OBLASTS:
        assert oblast in console

    scenario = write_scenario(
        tmp_path / "oblasts_60.toml", plan,
        FLOORS_BY_TAG + '\n[simulation]\nmodel = "none"\n', "oblasts_60",
    )
    out = tmp_path / "out"
    entry = scenario_entry(
        reachplan_json("run", scenario, "--out", out, "--no-report"), "oblasts_60"
    )
    required = requirements(UKRAINE)
    assert entry["allocated_usd_mean"] == pytest.approx(0.6 * sum(required.values()), rel=1e-6)
    check_floors(reachplan_json("allocate", "--scenario", scenario), UKRAINE)
    reachplan("report", scenario, "--out", out)
    check_report_files(out)
    assert _report_rollup_matches(out / "tables"), (
        "no table of the report gives UKR as the sum of its oblasts"
    )
    book = openpyxl.load_workbook(out / "report.xlsx")
    assert any(c.value == "UKR" for ws in book.worksheets for row in ws.iter_rows()
               for c in row), "report.xlsx has no UKR line"


# ---- Done when 3: outside the simulation's geography ---------------------------------------


def test_plan_outside_simulation_runs_with_fixed_needs(
    empty_template: Path, tmp_path: Path
) -> None:
    """``model = "none"``: the plan's people in need in every draw, and the run says so."""
    plan = plan_copy(empty_template, tmp_path, HAITI)
    scenario = write_scenario(
        tmp_path / "fixed.toml", plan,
        '[funding]\nfunding = "60%"\n\n[simulation]\nmodel = "none"\n', "fixed",
    )
    out = tmp_path / "out"
    entry = scenario_entry(reachplan_json("run", scenario, "--out", out), "fixed")
    page = check_report_files(out)
    check_needs_fixed_at_plan(entry, page, populations(HAITI, "in_need")["HTI", ""])


def test_plan_outside_simulation_runs_with_a_needs_file(
    empty_template: Path, tmp_path: Path
) -> None:
    """``needs_file``: each draw's people in need are the file's, and the run says so."""
    plan = plan_copy(empty_template, tmp_path, HAITI)
    need = {d: 5_500_000.0 + 100_000.0 * d for d in range(DRAWS)}  # plan: 5,500,000
    with (tmp_path / "needs.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["draw", "location_code", "year", "people_in_need"])
        writer.writerows([d, "HTI", 2024, int(v)] for d, v in need.items())
    scenario = write_scenario(
        tmp_path / "from_file.toml", plan,
        '[funding]\nfunding = "60%"\n\n[simulation]\nneeds_file = "needs.csv"\n', "from_file",
    )
    out = tmp_path / "out"
    entry = scenario_entry(reachplan_json("run", scenario, "--out", out), "from_file")
    page = check_report_files(out)
    source = entry["needs_source"]
    assert "needs.csv" in source, source
    assert "fixed" not in source.lower(), source
    assert source in page

    with (out / "tables" / "people_reached_draws.csv").open(newline="") as handle:
        reached = {int(r["draw"]): float(r["people_reached"]) for r in csv.DictReader(handle)
                   if r["scenario"] == "from_file"}
    assert sorted(reached) == list(range(DRAWS))
    mean_need = sum(need.values()) / DRAWS
    mean_reached = sum(reached.values()) / DRAWS
    assert entry["unmet_need_by_year"]["2024"] == pytest.approx(mean_need - mean_reached,
                                                                rel=1e-6)
    coverage = sum(reached[d] / need[d] for d in need) / DRAWS
    assert entry["coverage_mean"] == pytest.approx(coverage, rel=1e-6)


def test_plan_outside_simulation_with_displacement_model_says_so(
    empty_template: Path, tmp_path: Path
) -> None:
    """The default model does not cover HTI: the command names the location, never quietly
    gives p10 = p90 = mean; with exit 0 the run says which needs it used."""
    plan = plan_copy(empty_template, tmp_path, HAITI)
    scenario = write_scenario(tmp_path / "default_model.toml", plan,
                              '[funding]\nfunding = "60%"\n', "default_model")
    proc = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", "run", scenario, "--out", tmp_path / "out",
         "--json", "--no-report"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    said = [line for line in proc.stderr.splitlines()
            if "HTI" in line and re.search(r"simulat|displacement", line, re.IGNORECASE)]
    assert said, f"nothing says the simulation does not cover HTI:\n{proc.stderr}"
    if proc.returncode == 0:
        entry = scenario_entry(json.loads(proc.stdout), "default_model")
        assert entry["needs_source"].strip()
    else:
        assert proc.stderr.strip().splitlines()[-1].startswith("error: ")


# ---- scenarios that do not fit the plan ----------------------------------------------------


def test_shipped_scenario_naming_other_codes_is_an_error(
    empty_template: Path, tmp_path: Path
) -> None:
    """heavily_earmarked names UKR, POL, MDA...: on the HTI plan, one line naming the file,
    the rule and the key; exit 1; nothing written to --out."""
    plan = plan_copy(empty_template, tmp_path, HAITI)
    out = tmp_path / "out"
    proc = reachplan("run", "heavily_earmarked", "--plan", plan, "--out", out,
                     "--draws", "5", expect=1)
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ")
    assert "heavily_earmarked.toml" in message
    assert re.search(r"funding\.(earmarks|floors)\[\d+\]\.\w+", message), message
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))


def test_tag_selector_matching_nothing_is_an_error(empty_template: Path, tmp_path: Path) -> None:
    """A floor on cluster LOG, which the plan lacks: error naming file, rule and key."""
    plan = plan_copy(empty_template, tmp_path, HAITI)
    scenario = write_scenario(
        tmp_path / "logistics.toml", plan,
        '[funding]\nfunding = "60%"\n\n[[funding.floors]]\nname = "logistics"\nshare = 0.3\n'
        'cluster = "LOG"\n\n[simulation]\nmodel = "none"\n', "logistics",
    )
    out = tmp_path / "out"
    proc = reachplan("run", scenario, "--out", out, expect=1)
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ")
    assert "logistics.toml" in message
    assert "funding.floors[0].cluster" in message, message
    assert "LOG" in message
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))


# ---- the README's own-plan walk, as printed ----------------------------------------------


def _readme_scenario() -> str:
    """The scenario file of the README's "A plan of your own", exactly as printed."""
    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```toml\n(.*?)```", text, flags=re.S)
    assert match, "README has no scenario example"
    return match.group(1)


def test_readme_scenario_for_an_own_plan_runs_as_printed(
    empty_template: Path, tmp_path: Path
) -> None:
    """The README's scenario (extends the shipped shortfall_60 from another folder, names
    my_plan/plan.xlsx, a life-saving floor by tag, fixed needs) runs on a cluster plan and
    its floor holds in the allocation."""
    directory = tmp_path / "my_plan"
    shutil.copytree(empty_template, directory)
    fill_workbook(directory / "plan.xlsx", HAITI)
    reachplan("plan", "calibrate", directory / "plan.xlsx")
    scenario = tmp_path / "my_scenario.toml"
    scenario.write_text(_readme_scenario().replace("draws = 200", f"draws = {DRAWS}"))
    payload = reachplan_json("allocate", "--scenario", scenario, cwd=tmp_path)
    required = requirements(HAITI)
    assert payload["allocated_usd"] == pytest.approx(0.6 * sum(required.values()), rel=1e-6)
    tiers = sector_tiers(HAITI)
    life_saving = [s for (_, s) in required if tiers.get(s) == 1]
    funded = sum(c["allocated_usd"] for c in payload["cells"] if c["sector_code"] in life_saving)
    assert funded >= 0.5 * sum(required["HTI", s] for s in life_saving) * (1 - 1e-6)
    entry = scenario_entry(
        reachplan_json("run", scenario, "--out", tmp_path / "out", "--no-report", cwd=tmp_path),
        "my_60",
    )
    assert entry["allocated_usd_mean"] == pytest.approx(payload["allocated_usd"], rel=1e-6)


def test_shipped_suite_scenario_travels_to_a_cluster_plan(
    empty_template: Path, tmp_path: Path
) -> None:
    """shortfall_60 (floors by tag: life-saving, cluster PRO, presence) runs on the HTI plan
    when its simulation is switched off: the protection cluster keeps 40% of its money."""
    plan = plan_copy(empty_template, tmp_path, HAITI)
    scenario = tmp_path / "sixty.toml"
    scenario.write_text(
        f'extends = "shortfall_60"\nname = "sixty"\nplan = "{plan}"\ndraws = {DRAWS}\n\n'
        '[simulation]\nmodel = "none"\n'
    )
    payload = reachplan_json("allocate", "--scenario", scenario)
    required = requirements(HAITI)
    clusters = sector_clusters(HAITI)
    pro = [s for (_, s) in required if clusters.get(s) == "PRO"]
    assert pro
    funded = sum(c["allocated_usd"] for c in payload["cells"] if c["sector_code"] in pro)
    assert funded >= 0.4 * sum(required["HTI", s] for s in pro) * (1 - 1e-6)
