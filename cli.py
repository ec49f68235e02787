"""Command line for reachplan: thin layer of load -> compute -> write.

Every command exits 0 on success, 1 on invalid input or an infeasible
scenario (one-line reason naming the file, row and field), 2 on usage errors.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from scenarios.plan_io import LoadedPlan, PlanReadError, load_plan

__all__ = ["main"]

PLAN_ARG = click.argument(
    "plan_path",
    metavar="[PLAN]",
    required=False,
    type=click.Path(path_type=Path),
)


def fail(message: str) -> NoReturn:
    """Print a one-line reason to stderr and exit 1 (invalid input, infeasible scenario)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def read_plan(plan_path: Path | None) -> LoadedPlan:
    """Load and validate a plan; exit 1 with every error listed when it is unusable."""
    try:
        loaded = load_plan(plan_path)
    except PlanReadError as exc:
        fail(str(exc))
    if not loaded.validation.ok:
        for problem in loaded.validation.errors:
            click.echo(f"error: {problem}", err=True)
        fail(
            f"{loaded.path}: the plan has {len(loaded.validation.errors)} error(s); "
            "run `reachplan validate` for the full list"
        )
    return loaded


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reachplan")
def main() -> None:
    """Reachplan: allocate constrained humanitarian funding to reach the most people.

    Runs on the shipped default plan (IOM Strategic Response Plan for Ukraine
    and Neighbouring Countries 2024-2026) when no plan is given.
    """


@main.command()
@PLAN_ARG
@click.option("--json", "as_json", is_flag=True, help="Machine-readable problems.")
def validate(plan_path: Path | None, as_json: bool) -> None:
    """Check a plan and list every problem (file, row, column).

    PLAN is a folder of CSV tables or an .xlsx workbook; default: the shipped plan.
    Exits 0 when the plan is usable (warnings listed), 1 when it is not.

    \b
    Example:
      reachplan validate my_plan.xlsx
    """
    from reports.plan_report import render_validation, validation_json

    try:
        loaded = load_plan(plan_path)
    except PlanReadError as exc:
        fail(str(exc))
    label = str(loaded.path)
    render = validation_json if as_json else render_validation
    click.echo(render(loaded.validation, label), nl=False)
    sys.exit(0 if loaded.validation.ok else 1)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Plan to start from (default: the shipped plan).",
)
@click.option("--empty", is_flag=True, help="Headers only, no rows.")
@click.option("--force", is_flag=True, help="Overwrite plan files already in DIRECTORY.")
def template(directory: Path, plan_path: Path | None, empty: bool, force: bool) -> None:
    """Write an editable plan: one CSV per table and plan.xlsx with instructions.

    \b
    Example:
      reachplan template my_plan && reachplan validate my_plan/plan.xlsx
    """
    from model.tables import TABLES
    from reports.template import empty_tables, write_template

    existing = [p for p in (directory / f"{t.name}.csv" for t in TABLES) if p.exists()]
    existing += [p for p in [directory / "plan.xlsx"] if p.exists()]
    if existing and not force:
        fail(f"{existing[0]} already exists; use --force to overwrite, or another directory")
    tables = empty_tables() if empty else dict(read_plan(plan_path).plan.tables)  # type: ignore[union-attr]
    try:
        written = write_template(tables, directory)
    except OSError as exc:
        fail(f"{directory}: cannot write ({exc.strerror})")
    click.echo(f"wrote {len(written)} files to {directory}/ (CSV tables and plan.xlsx)")


@main.group()
def plan() -> None:
    """Look at a plan: totals and exports."""


@plan.command("show")
@PLAN_ARG
def plan_show(plan_path: Path | None) -> None:
    """Totals by objective, region, year and country, laid out like the plan document.

    \b
    Example:
      reachplan plan show
    """
    from reports.plan_report import render_plan_summary

    loaded = read_plan(plan_path)
    assert loaded.plan is not None
    click.echo(render_plan_summary(loaded.plan, loaded.validation.warnings), nl=False)


@plan.command("export")
@PLAN_ARG
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "--table",
    default="requirements",
    show_default=True,
    type=click.Choice(
        ["requirements", "populations", "locations", "sectors", "objectives", "stated_totals"]
    ),
    help="Which table to print.",
)
@click.option("--hxl", is_flag=True, help="Add an HXL hashtag row under the CSV header.")
def plan_export(plan_path: Path | None, fmt: str, table: str, hxl: bool) -> None:
    """Print a plan table, one row per cell, so any margin can be recomputed.

    The requirements table has the columns location_code, sector_code, year,
    objective, requirements_usd, origin (source or derived), region, note.

    \b
    Example:
      reachplan plan export --format csv > requirements.csv
    """
    from reports.plan_report import render_export

    loaded = read_plan(plan_path)
    assert loaded.plan is not None
    click.echo(render_export(loaded.plan, fmt=fmt, table=table, hxl=hxl), nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
