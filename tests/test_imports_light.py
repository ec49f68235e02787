"""Start-up stays light: importing the command line and asking for help loads no heavy library.

``reachplan --help`` and every ``reachplan COMMAND --help`` must answer without loading
the numerical stack (pandas, numpy, scipy), the LP libraries (PuLP, HiGHS) or the chart
and workbook libraries: those belong to the commands that use them. These tests check
module names in ``sys.modules`` of a fresh interpreter, never a time, so they fail only
when a heavy import comes back into the start-up path.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "pandas",
    "numpy",
    "scipy",
    "plotly",
    "matplotlib",
    "pulp",
    "highspy",
    "xlsxwriter",
    "openpyxl",
)
"""Top-level packages that no ``--help`` may load."""

_PROBE = r"""
import contextlib, json, sys
HEAVY = {heavy!r}

def loaded():
    return sorted({{name.split(".")[0] for name in sys.modules}} & set(HEAVY))

import click
import reachplan.cli as cli

report = {{"import": loaded(), "help": {{}}}}

def commands(group, path):
    for name, command in sorted(group.commands.items()):
        yield path + [name]
        if isinstance(command, click.Group):
            yield from commands(command, path + [name])

for args in [[]] + list(commands(cli.main, [])):
    with contextlib.suppress(SystemExit):  # --help exits once the page is printed
        cli.main.main(args + ["--help"], prog_name="reachplan", standalone_mode=False)
    report["help"][" ".join(args) or "(main)"] = loaded()
print(json.dumps(report))
"""


def _probe() -> dict:
    code = _PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def probe() -> dict:
    return _probe()


def test_importing_the_cli_loads_no_heavy_library(probe):
    assert probe["import"] == []


def test_every_help_page_loads_no_heavy_library(probe):
    pages = probe["help"]
    # the probe walked the whole command tree, groups and their sub-commands included
    for command in ("(main)", "allocate", "run", "report", "simulate", "plan", "plan show"):
        assert command in pages
    assert {name: mods for name, mods in pages.items() if mods} == {}


def test_the_probe_detects_a_heavy_import():
    """The check can fail: a page that loads numpy is reported under its command."""
    code = _PROBE.format(heavy=HEAVY).replace(
        "import reachplan.cli as cli", "import reachplan.cli as cli\nimport numpy"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["import"] == ["numpy"]


def test_help_as_a_command_prints_the_commands():
    """``python -m reachplan.cli --help`` lists the commands and loads nothing heavy."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['reachplan', '--help']\n"
        "try:\n"
        "    runpy.run_module('reachplan.cli', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        f"heavy = sorted({{n.split('.')[0] for n in sys.modules}} & set({HEAVY!r}))\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "allocate" in done.stdout and "report" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "HEAVY="


def test_a_plan_with_errors_still_lists_every_error_then_one_line(tmp_path):
    """The error path of the light CLI: a plan with errors lists them, then the one line.

    (The command line no longer imports the workflow to recognise such an error.)
    """
    from reachplan.reports.template import write_template
    from tests.conftest import tiny_tables

    tables = tiny_tables()
    tables["requirements"].loc[0, "requirements_usd"] = -5.0
    tables["requirements"].loc[1, "year"] = 1850
    directory = tmp_path / "broken"
    write_template(tables, directory)
    (directory / "plan.xlsx").unlink()
    done = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", "allocate", str(directory), "--funding", "60%"],
        capture_output=True, text=True,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert all(line.startswith("error: ") for line in lines)
    assert len(lines) >= 3  # two errors listed, then the summary line
    assert lines[-1].startswith(f"error: {directory}: the plan has {len(lines) - 1} error")
    assert any("requirements_usd" in line for line in lines[:-1])
    assert any("1850" in line for line in lines[:-1])
