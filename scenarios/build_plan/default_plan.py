"""Rebuild the default plan's tables from the transcribed document tables.

Run ``python -m reachplan.scenarios.build_plan`` after changing anything in
``scenarios/default_plan/source/`` (this step alone:
``python -m reachplan.scenarios.build_plan.default_plan``).
The derivation is deterministic: the test suite checks that the shipped tables are exactly
what this produces.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reachplan.reports.plan_files import write_plan_tables
from reachplan.scenarios.build_plan.derivation import DocumentTables, derive_plan

SOURCE_DIR = Path(__file__).resolve().parents[1] / "default_plan" / "source"


def read_document_tables(source: Path = SOURCE_DIR) -> DocumentTables:
    """Read the transcribed document tables (CSV, text kept as text)."""

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(
            source / f"{name}.csv",
            keep_default_na=False,
            na_values={
                "requirements_usd": [""],
                "entities_targeted": [""],
                "year": [""],
                "value": [""],
                "precision": [""],
                "people_targeted": [""],
            },
        )

    return DocumentTables(
        objectives=read("objectives"),
        sectors=read("sectors"),
        objective_region_year=read("objective_region_year"),
        sector_requirements=read("sector_requirements_2024"),
        country_requirements=read("country_requirements_2024"),
        targets=read("targets_2024"),
        key_figures=read("key_figures"),
        headline_figures=read("headline_figures"),
        refugee_stocks=read("refugee_stocks_2023"),
        settings=read("settings"),
        sector_cost_index=read("sector_cost_index")
        if (source / "sector_cost_index.csv").exists()
        else None,
    )


def build(source: Path = SOURCE_DIR) -> dict[str, pd.DataFrame]:
    """Derive every table of the default plan."""
    return derive_plan(read_document_tables(source))


def main() -> None:
    """Write the derived tables next to ``source/``."""
    for path in write_plan_tables(build(), SOURCE_DIR.parent):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
