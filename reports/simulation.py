"""Reports of the displacement simulation and its calibration.

``render_*`` functions are pure (result in, text out); :func:`write_needs`
writes files atomically with :func:`reports.plan_files.write_text_atomic` (temporary
file, fsync, :func:`os.replace`), so a reader never sees a half-written table.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from reachplan.model.calibration import CalibrationResult, FittedRate
from reachplan.model.simulation import (
    NeedsTable,
    SimulationResult,
    percentile_table,
    total_population,
)
from reachplan.model.versions import package_versions
from reachplan.reports.plan_files import escape_frame, write_text_atomic

__all__ = [
    "NEEDS_FILE",
    "PROVENANCE_FILE",
    "provenance",
    "render_calibration",
    "render_needs_csv",
    "render_percentiles_csv",
    "render_rates_toml",
    "render_summary",
    "summary_json",
    "write_needs",
]

NEEDS_FILE = "needs_per_draw.csv"
PROVENANCE_FILE = "simulation_provenance.json"


def provenance(result: SimulationResult) -> dict[str, object]:
    """Collect what a figure is traceable to: scenario file and hash, seed, draws, versions."""
    return {
        "scenario": result.assumptions.source,
        "scenario_sha256": result.assumptions.source_sha256,
        "seed": result.seed,
        "draws": result.draws,
        "start": str(result.months[0]),
        "end": str(result.months[-1]),
        "initial_state_month": str(result.initial.month),
        "versions": package_versions(("reachplan", "numpy", "pandas", "scipy")),
    }


def _millions(value: float) -> str:
    return f"{value / 1e6:6.2f}M"


def _band(values: np.ndarray) -> str:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return f"{_millions(p50)}  ({_millions(p10)} - {_millions(p90)})"


def render_summary(result: SimulationResult, needs: NeedsTable) -> str:
    """Plain-text summary: stocks at start and end, people in need per year, levers.

    Figures are medians across draws with the 80% interval (10th-90th percentile).
    """
    a = result.assumptions
    first, last = result.months[0], result.months[-1]
    hosts = result.refugees[:, :, : len(result.initial.geography.hosts)].sum(axis=2)
    rest = result.refugees[:, :, -1]
    drift = float(np.max(np.abs(total_population(result) - result.initial.total)))
    lines = [
        f"Displacement simulation {first} to {last}: {result.draws:,} draws, seed {result.seed}",
        f"Scenario: {a.source} (sha256 {a.source_sha256[:12] or 'n/a'})",
        "Median (10th - 90th percentile), persons:",
        f"  {'':28}{str(first):>28}{str(last):>28}",
    ]
    for label, values in (
        ("IDPs in Ukraine", result.idps),
        ("Returnees in Ukraine", result.returnees),
        ("Refugees, 11 host countries", hosts),
        ("Refugees, rest of Europe", rest),
    ):
        lines.append(f"  {label:28}{_band(values[:, 0]):>28}{_band(values[:, -1]):>28}")
    lines.append("People in need (yearly " + a.needs.aggregate + " of month-ends):")
    ukraine = needs.values[:, 0, :]
    neighbouring = needs.values[:, 1:, :].sum(axis=1)
    for j, year in enumerate(needs.years):
        lines.append(
            f"  {year}  Ukraine {_band(ukraine[:, j])}   neighbouring {_band(neighbouring[:, j])}"
        )
    if "surge" in result.flows:
        share = float(np.mean(result.flows["surge"].sum(axis=1) > 0))
        lines.append(f"Draws with at least one catastrophic surge: {share:.0%}")
    levers = [
        ("surges", a.surges.enabled),
        ("occupied areas / Baltic push", a.occupied_areas.enabled),
        ("pendular movement", a.pendular.enabled),
        ("coupled refugee returns", a.coupling.enabled),
        ("facilitated returns", a.facilitated_returns.enabled),
    ]
    on = ", ".join(name for name, enabled in levers if enabled) or "none"
    off = ", ".join(name for name, enabled in levers if not enabled) or "none"
    tp = a.temporary_protection
    tp_text = (
        "extended"
        if tp.scenario == "extended"
        else f"ends {tp.end_month} (probability {tp.probability:.0%})"
    )
    lines += [
        f"Levers on: {on}; off: {off}; temporary protection {tp_text}",
        f"People conserved: largest drift {drift:.3g} persons",
    ]
    return "\n".join(lines) + "\n"


def _bands(values: np.ndarray) -> dict[str, float]:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90), "mean": float(values.mean())}


def summary_json(result: SimulationResult, needs: NeedsTable) -> dict[str, object]:
    """The simulation as one JSON object (``reachplan simulate --json``).

    Keys: ``provenance`` (as :func:`provenance`); ``stocks``: per series (``idps``,
    ``returnees``, ``refugees_hosts``, ``refugees_rest``) the 10th/50th/90th
    percentiles and mean across draws at the first and last month reported;
    ``people_in_need``: one record per location and year (``location_code``,
    ``year``, ``p10``, ``p50``, ``p90``, ``mean``); ``percentiles``: the long table of
    :func:`render_percentiles_csv` as records (series, location_code, month, p05, p10,
    p50, p90, p95, mean). Persons throughout; non-finite numbers become ``null``.
    """
    hosts = result.refugees[:, :, : len(result.initial.geography.hosts)].sum(axis=2)
    rest = result.refugees[:, :, -1]
    stocks = {}
    for label, values in (
        ("idps", result.idps),
        ("returnees", result.returnees),
        ("refugees_hosts", hosts),
        ("refugees_rest", rest),
    ):
        stocks[label] = {"start": _bands(values[:, 0]), "end": _bands(values[:, -1])}
    pin = [
        {"location_code": str(loc), "year": int(year), **_bands(needs.values[:, i, j])}
        for i, loc in enumerate(needs.locations)
        for j, year in enumerate(needs.years)
    ]
    table = percentile_table(result)
    return {
        "provenance": provenance(result),
        "stocks": stocks,
        "people_in_need": pin,
        "percentiles": table.to_dict(orient="records"),
    }


def render_percentiles_csv(result: SimulationResult) -> str:
    """Render the long percentile table as CSV (persons, rounded to whole people)."""
    table = percentile_table(result)
    numeric = ["p05", "p10", "p50", "p90", "p95", "mean"]
    table[numeric] = table[numeric].round(0)
    return str(escape_frame(table).to_csv(index=False, float_format="%.0f", lineterminator="\n"))


def render_needs_csv(needs: NeedsTable) -> str:
    """Render the per-draw needs table as CSV (``draw, location_code, year, people_in_need``)."""
    frame = escape_frame(needs.to_frame())
    return str(frame.to_csv(index=False, float_format="%.0f", lineterminator="\n"))


def write_needs(directory: str | Path, result: SimulationResult, needs: NeedsTable) -> list[Path]:
    """Write the per-draw needs table and its provenance into ``directory``, atomically.

    Returns
    -------
    list of pathlib.Path
        ``needs_per_draw.csv`` and ``simulation_provenance.json``.

    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    needs_path = directory / NEEDS_FILE
    provenance_path = directory / PROVENANCE_FILE
    write_text_atomic(needs_path, render_needs_csv(needs))
    write_text_atomic(provenance_path, json.dumps(provenance(result), indent=2) + "\n")
    return [needs_path, provenance_path]


def _score(value: float, percent: bool = False) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.0%}" if percent else f"{value:.3f}"


def render_rates_toml(rates: tuple[FittedRate, ...]) -> str:
    """Fitted rates as lines for the ``[simulation.rates]`` table of a scenario file."""
    return "".join(
        f'{r.name} = {{ dist = "lognormal", median = {r.median:.3g}, sigma = {r.sigma:.2f} }}\n'
        for r in rates
    )


def render_calibration(result: CalibrationResult) -> str:
    """Plain-text report of a calibration: scores, fitted rates, holdout, breaks."""
    s = result.scores
    lines = [
        f"Calibration: fitted {result.fit_from} to {result.holdout_from - 1}, "
        f"holdout {result.holdout_from} to {result.end}; {result.draws:,} draws, "
        f"seed {result.seed}",
        f"Holdout scores ({s.n_scored} observations scored):",
        f"  averaged relative difference (Flee)    {_score(s.averaged_relative_difference)}",
        f"  MASE vs no-change forecast             {_score(s.mase)}",
        f"  MAE ratio to no-change forecast        {_score(s.relative_mae_no_change)}",
        f"  coverage of 80% intervals              {_score(s.coverage_80, percent=True)}",
        f"  coverage of 95% intervals              {_score(s.coverage_95, percent=True)}",
        "Rates fitted before the holdout (median per month, log-scale sigma):",
    ]
    lines += [f"  {r.name:28}{r.median:10.5f}{r.sigma:8.2f}" for r in result.rates]
    lines.append("Rates refitted on every month (paste into [simulation.rates]):")
    lines += ["  " + line for line in render_rates_toml(result.final_rates).splitlines()]
    lines.append("Holdout observations:")
    for row in result.holdout.itertuples(index=False):
        if row.scored:
            detail = (
                f"median {row.p50:12,.0f}  80% {row.p10:,.0f}-{row.p90:,.0f}"
            )
        else:
            detail = f"not scored: {row.reason}"
        lines.append(
            f"  {row.series:24}{row.location_code:4} {row.date}  observed {row.observed:12,.0f}  "
            + detail
        )
    lines.append("Breaks handled (levels before and after are not compared):")
    lines += [f"  {b.date} {b.kind}: {', '.join(b.series)}" for b in result.breaks]
    lines.append(f"History rows not used: {len(result.skipped)} (series kept apart or outside)")
    return "\n".join(lines) + "\n"
