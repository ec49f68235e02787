"""Everything a scenario report shows, gathered once into one typed :class:`ReportData`.

The HTML page, the workbook, the CSV/JSON tables and the PNG charts are all rendered
from the same :class:`ReportData`, so they cannot disagree. Its tables are long
(tidy) frames with HDX HAPI-style column names (``location_code``, ``sector_code``,
``requirements_usd`` ...); the figures that ``reachplan run --json`` prints (people
reached and its percentiles, mean allocation per cell, unmet need) are copied from
:func:`reports.scenario_report.run_json`, never recomputed.

Two kinds of figures appear, and the report says which is which:

- *over the simulated futures*: every draw of the displacement simulation moves
  people in need; the allocation is re-solved per draw (:mod:`solver.batch`) and the
  report shows means and percentiles across draws;
- *at the plan's figures*: one allocation with the plan's own people in need
  (:func:`solver.allocate.allocate`), which carries the pro-rata comparison, the
  shadow prices and the extra-$1M values, and the funding ladder
  (:func:`solver.frontier.funding_frontier`).

:func:`build_report_data` only assembles already computed results (no solving, no
simulating, no files) from one :class:`ReportInputs`; :func:`workflow.build_report_inputs`
computes what the runs do not carry (the allocations at the plan's figures, the
extra-$1M values, the ladders, the displacement percentiles of the same draws the runs
used).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reachplan.model.costs import CostModel
from reachplan.model.plan import Plan
from reachplan.reports.scenario_report import run_json
from reachplan.solver.marginal import EXTRA_USD, LineMarginals
from reachplan.solver.result import Allocation, Frontier, ScenarioRun

__all__ = [
    "EXTRA_USD",
    "PERCENTILES",
    "REPORT_PACKAGES",
    "Ladder",
    "ReportData",
    "ReportInputs",
    "SimulationBands",
    "build_report_data",
]

REPORT_PACKAGES = (
    "reachplan", "pulp", "highspy", "numpy", "pandas", "scipy",
    "plotly", "matplotlib", "xlsxwriter",
)
"""Packages whose versions travel with every report."""

PERCENTILES = ("p05", "p10", "p50", "p90", "p95")


@dataclass(frozen=True, eq=False)
class Ladder:
    """The funding ladder of one set of scenario rules.

    Attributes
    ----------
    label
        Planner words for the rules (the scenarios that share them).
    scenarios
        Names of the scenarios whose rules (everything but the envelope) these are.
    frontier
        People reached from 0% to 100% of the appeal at the plan's figures.
    """

    label: str
    scenarios: tuple[str, ...]
    frontier: Frontier


@dataclass(frozen=True, eq=False)
class SimulationBands:
    """Displacement percentiles of the draws one or more runs used.

    Attributes
    ----------
    label
        Planner words (the scenarios sharing these assumptions, seed and draws).
    scenarios
        Names of those scenarios.
    draws
        Number of draws.
    percentiles
        :func:`model.simulation.percentile_table` of the draws: per series,
        location and month, persons.
    totals
        Same columns for the three national totals: ``idps`` and ``returnees`` in
        Ukraine, ``refugees`` summed over every host country and the rest of Europe
        (``location_code`` ``ALL``); percentiles of the per-draw totals.
    """

    label: str
    scenarios: tuple[str, ...]
    draws: int
    percentiles: pd.DataFrame
    totals: pd.DataFrame


@dataclass(frozen=True, eq=False)
class ReportData:
    """One report: every table a planner reads, with where each figure came from.

    Attributes
    ----------
    title
        Report title (the plan's name).
    created
        When the report was made (UTC, ISO 8601).
    appeal_usd
        Sum of the plan's requirements (USD).
    runs_json
        :func:`reports.scenario_report.run_json` of each run, in scenario order: the
        numbers of ``reachplan run --json``.
    scenarios
        One row per scenario: ``scenario``, ``description``, ``draws``, ``seed``,
        ``funding_usd``, ``share_of_appeal``, ``allocated_usd_mean``,
        ``people_reached_mean``, ``people_reached_p10``, ``people_reached_p50``,
        ``people_reached_p90``, ``unmet_need_mean`` (over the simulated futures), then
        at the plan's figures ``plan_people_reached``, ``pro_rata_people_reached``,
        ``gain_over_pro_rata`` and ``envelope_people_per_1m`` (people reached by one more
        unearmarked $1M).
    allocation
        One row per scenario and cell: ``scenario``, ``location_code``,
        ``location_name``, ``sector_code``, ``sector_name``, ``year``,
        ``requirements_usd``, ``mean_allocated_usd`` (mean over draws),
        ``share_of_requirement``.
    unmet_need
        ``scenario``, ``location_code``, ``location_name``, ``unmet_need_mean``
        (people in need not reached, mean over draws, summed over years).
    people_reached_draws
        ``scenario``, ``draw``, ``people_reached``: one row per simulated future.
    extra_1m
        What one more $1M in a line reaches, at the plan's figures: ``scenario``,
        location and sector codes and names, ``year``, ``requirements_usd``,
        ``allocated_usd`` (at the plan's figures), ``people_per_extra_1m``, ``status``
        (a :class:`solver.marginal.LineStatus` value, e.g. ``at_limit``), ``note`` (the
        status in planner words); lines that reach people only, best first within a
        scenario.
    binding_constraints
        ``scenario``, ``constraint``, ``kind``, ``description``,
        ``share_of_draws_binding`` (over the simulated futures),
        ``binding_at_plan_figures``, ``shadow_price`` and ``unit`` (at the plan's
        figures); most often binding first.
    funding_ladder
        ``rules``, ``scenarios``, ``share_of_appeal``, ``funding_usd``,
        ``allocated_usd``, ``people_reached``, ``pro_rata_people_reached``,
        ``people_per_extra_1m``, ``status``.
    displacement
        ``simulation``, ``scenarios``, then the columns of
        :func:`model.simulation.percentile_table`.
    displacement_totals
        Same columns as ``displacement`` for the national totals (fan charts).
    provenance
        ``section``, ``item``, ``value``: plan name, source, file hash and content
        fingerprint; per scenario its files, their hash, seed, draws and run key;
        package versions.
    warnings
        ``source``, ``row``, ``column``, ``message``: the plan's validation warnings
        (contradictions within the plan document).
    """

    title: str
    created: str
    appeal_usd: float
    runs_json: tuple[dict[str, Any], ...]
    scenarios: pd.DataFrame
    allocation: pd.DataFrame
    unmet_need: pd.DataFrame
    people_reached_draws: pd.DataFrame
    extra_1m: pd.DataFrame
    binding_constraints: pd.DataFrame
    funding_ladder: pd.DataFrame
    displacement: pd.DataFrame
    displacement_totals: pd.DataFrame
    provenance: pd.DataFrame
    warnings: pd.DataFrame
    notes: tuple[str, ...] = field(default=())

    @property
    def scenario_names(self) -> list[str]:
        """Scenario names in report order."""
        return [str(s) for s in self.scenarios["scenario"]]

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by its file name (without extension), in report order."""
        return {
            "scenarios": self.scenarios,
            "allocation": self.allocation,
            "unmet_need": self.unmet_need,
            "people_reached_draws": self.people_reached_draws,
            "extra_1m": self.extra_1m,
            "binding_constraints": self.binding_constraints,
            "funding_ladder": self.funding_ladder,
            "displacement": self.displacement,
            "displacement_totals": self.displacement_totals,
            "provenance": self.provenance,
            "warnings": self.warnings,
        }


# ---- the displacement draws a run used ---------------------------------------------------


# ---- assembling -------------------------------------------------------------------------


def _names(plan: Plan) -> tuple[dict[str, str], dict[str, str]]:
    locs = plan.tables["locations"]
    secs = plan.tables["sectors"]
    return (
        {str(k): str(v) for k, v in zip(locs["location_code"], locs["location_name"],
                                        strict=True)},
        {str(k): str(v) for k, v in zip(secs["sector_code"], secs["sector_name"], strict=True)},
    )


def _problem_rows(warnings: Sequence[Any]) -> pd.DataFrame:
    rows = []
    for w in warnings:
        if isinstance(w, str):
            rows.append(("", "", "", w))
        else:
            row = getattr(w, "row", None)
            rows.append((str(getattr(w, "source", "") or ""), "" if row is None else str(row),
                         str(getattr(w, "column", "") or ""), str(getattr(w, "message", w))))
    return pd.DataFrame(rows, columns=["source", "row", "column", "message"])


@dataclass(frozen=True, eq=False)
class ReportInputs:
    """Everything a report is assembled from, computed before any rendering.

    Built by :func:`workflow.build_report_inputs` (which solves and simulates);
    :func:`build_report_data` only arranges it into tables.

    Attributes
    ----------
    runs
        One run per scenario, in report order (names must be distinct).
    plan
        The plan the runs solved.
    allocations
        Scenario name -> allocation at the plan's figures under that scenario's rules.
    marginals
        Scenario name -> what one more $1M reaches in each line of that allocation.
    ladders
        Funding ladders (each covering one or more of the scenarios).
    simulations
        Displacement percentiles of the runs' draws.
    versions
        Package versions (name -> version) that travel with the report.
    warnings
        The plan's validation warnings (objects with ``source``, ``row``, ``column`` and
        ``message``, or plain strings).
    plan_files_sha256
        SHA-256 of the plan's files as read, when known.
    created
        Time stamp (UTC, ISO 8601; ``None``: when the report is assembled).
    """

    runs: tuple[ScenarioRun, ...]
    plan: Plan
    allocations: Mapping[str, Allocation]
    marginals: Mapping[str, LineMarginals]
    ladders: tuple[Ladder, ...]
    simulations: tuple[SimulationBands, ...]
    versions: Mapping[str, str]
    warnings: tuple[Any, ...] = ()
    plan_files_sha256: str | None = None
    created: str | None = None


def build_report_data(inputs: ReportInputs) -> ReportData:
    """Assemble a report from finished runs and the results computed alongside them.

    Parameters
    ----------
    inputs
        The runs, the allocations, extra-$1M values, ladders and displacement bands
        computed for them, and provenance.

    Raises
    ------
    ValueError
        When two runs share a name, or a run has no allocation or no extra-$1M values.
    """
    runs, plan, allocations = inputs.runs, inputs.plan, inputs.allocations
    created = inputs.created
    names = [r.scenario.name for r in runs]
    if len(set(names)) != len(names):
        raise ValueError("two scenarios share a name; give each scenario its own 'name'")
    missing = [n for n in names if n not in allocations or n not in inputs.marginals]
    if missing:
        raise ValueError(f"no allocation at the plan's figures for {', '.join(missing)}")
    loc_names, sec_names = _names(plan)
    appeal = float(plan.tables["requirements"]["requirements_usd"].sum())
    summaries = tuple(run_json(r) for r in runs)

    scen_rows = []
    alloc_frames = []
    unmet_rows = []
    draw_frames = []
    extra_frames = []
    binding_rows = []
    costs = CostModel.from_plan(plan)
    for run, summary in zip(runs, summaries, strict=True):
        name = run.scenario.name
        alloc = allocations[name]
        env = [s.value for s in alloc.shadow_prices if s.kind == "envelope" and s.binding]
        scen_rows.append({
            "scenario": name,
            "description": summary["description"],
            "draws": int(summary["draws"]),
            "seed": int(summary["seed"]),
            "funding_usd": summary["funding_usd"],
            "share_of_appeal": summary["funding_usd"] / appeal if appeal > 0 else np.nan,
            "allocated_usd_mean": summary["allocated_usd_mean"],
            "people_reached_mean": summary["people_reached_mean"],
            "people_reached_p10": summary["people_reached_p10"],
            "people_reached_p50": summary["people_reached_p50"],
            "people_reached_p90": summary["people_reached_p90"],
            "unmet_need_mean": float(sum(summary["unmet_need_by_location"].values())),
            "plan_people_reached": alloc.people_reached,
            "pro_rata_people_reached": alloc.pro_rata_people_reached,
            "gain_over_pro_rata": alloc.gain_over_pro_rata,
            "envelope_people_per_1m": float(sum(env)) if env else np.nan,
        })
        cells = pd.DataFrame(summary["cells"])
        req = alloc.cells["requirement_usd"]
        cells["requirements_usd"] = [
            float(req.loc[(c.location_code, c.sector_code, c.year)])
            for c in cells.itertuples(index=False)
        ]
        cells["share_of_requirement"] = np.divide(
            cells["mean_allocated_usd"].to_numpy(), cells["requirements_usd"].to_numpy(),
            out=np.full(len(cells), np.nan), where=cells["requirements_usd"].to_numpy() > 0,
        )
        cells.insert(0, "scenario", name)
        cells.insert(2, "location_name", cells["location_code"].map(loc_names).fillna(""))
        cells.insert(4, "sector_name", cells["sector_code"].map(sec_names).fillna(""))
        alloc_frames.append(cells[["scenario", "location_code", "location_name", "sector_code",
                                   "sector_name", "year", "requirements_usd",
                                   "mean_allocated_usd", "share_of_requirement"]])
        for loc, value in summary["unmet_need_by_location"].items():
            unmet_rows.append((name, loc, loc_names.get(loc, ""), value))
        draw_frames.append(pd.DataFrame({
            "scenario": name, "draw": np.arange(run.draws),
            "people_reached": run.people_reached,
        }))
        extra_frames.append(_extra_frame(name, costs, alloc, inputs.marginals[name],
                                         loc_names, sec_names))
        prices = {s.constraint: s for s in alloc.shadow_prices}
        binding_names = set(run.binding_share) | {
            s.constraint for s in alloc.shadow_prices if s.binding and abs(s.value) > 1e-6
        }
        for cname in binding_names:
            price = prices.get(cname)
            record = run.rows.get(cname)
            kind = (price.kind if price is not None
                    else record.kind if record is not None else "other")
            binding_rows.append({
                "scenario": name,
                "constraint": cname,
                "kind": kind,
                "description": run.row_descriptions.get(
                    cname, price.description if price is not None else cname),
                "share_of_draws_binding": float(run.binding_share.get(cname, 0.0)),
                "binding_at_plan_figures": bool(price is not None and price.binding),
                "shadow_price": float(price.value) if price is not None else np.nan,
                "unit": price.unit if price is not None else "",
            })
    scenarios = pd.DataFrame(scen_rows)
    binding = pd.DataFrame(binding_rows, columns=[
        "scenario", "constraint", "kind", "description", "share_of_draws_binding",
        "binding_at_plan_figures", "shadow_price", "unit"])
    if not binding.empty:
        order = {n: i for i, n in enumerate(names)}
        binding = binding.assign(
            _o=binding["scenario"].map(order), _a=-binding["shadow_price"].abs().fillna(0.0),
        ).sort_values(["_o", "share_of_draws_binding", "_a", "constraint"],
                      ascending=[True, False, True, True], kind="stable")
        binding = binding.drop(columns=["_o", "_a"]).reset_index(drop=True)

    ladder = _ladder_frame(inputs.ladders)
    disp, disp_totals = _displacement_frames(inputs.simulations)
    provenance = _provenance(plan, runs, inputs.plan_files_sha256, inputs.versions, created)
    return ReportData(
        title=plan.name,
        created=created or _now(),
        appeal_usd=appeal,
        runs_json=summaries,
        scenarios=scenarios,
        allocation=pd.concat(alloc_frames, ignore_index=True),
        unmet_need=pd.DataFrame(unmet_rows, columns=["scenario", "location_code",
                                                     "location_name", "unmet_need_mean"]),
        people_reached_draws=pd.concat(draw_frames, ignore_index=True),
        extra_1m=pd.concat(extra_frames, ignore_index=True),
        binding_constraints=binding,
        funding_ladder=ladder,
        displacement=disp,
        displacement_totals=disp_totals,
        provenance=provenance,
        warnings=_problem_rows(inputs.warnings),
        notes=_notes(plan),
    )


def _extra_frame(
    name: str, costs: CostModel, alloc: Allocation, marginals: LineMarginals,
    loc_names: Mapping[str, str], sec_names: Mapping[str, str],
) -> pd.DataFrame:
    frame = pd.DataFrame({
        "scenario": name,
        "location_code": costs.locations.astype(str),
        "location_name": [loc_names.get(str(c), "") for c in costs.locations],
        "sector_code": costs.sectors.astype(str),
        "sector_name": [sec_names.get(str(c), "") for c in costs.sectors],
        "year": costs.years.astype(int),
        "requirements_usd": costs.requirement_usd,
        "allocated_usd": alloc.cells["allocated_usd"].to_numpy(),
        "people_per_extra_1m": marginals.people,
        "status": [str(status) for status in marginals.status],
        "note": list(marginals.notes),
    })
    frame = frame[costs.reaches_people]
    return frame.sort_values(["people_per_extra_1m", "location_code", "sector_code", "year"],
                             ascending=[False, True, True, True], kind="stable")


def _ladder_frame(ladders: Sequence[Ladder]) -> pd.DataFrame:
    frames = []
    for ladder in ladders:
        lv = ladder.frontier.levels
        frames.append(pd.DataFrame({
            "rules": ladder.label,
            "scenarios": ";".join(ladder.scenarios),
            "share_of_appeal": lv["share"].to_numpy(dtype=float),
            "funding_usd": lv["funding_usd"].to_numpy(dtype=float),
            "allocated_usd": lv["allocated_usd"].to_numpy(dtype=float),
            "people_reached": lv["people_reached"].to_numpy(dtype=float),
            "pro_rata_people_reached": lv["pro_rata_people_reached"].to_numpy(dtype=float),
            "people_per_extra_1m": lv["marginal_people_per_1m"].to_numpy(dtype=float),
            "status": lv["status"].astype(str).to_numpy(),
        }))
    if not frames:
        return pd.DataFrame(columns=["rules", "scenarios", "share_of_appeal", "funding_usd",
                                     "allocated_usd", "people_reached",
                                     "pro_rata_people_reached", "people_per_extra_1m",
                                     "status"])
    return pd.concat(frames, ignore_index=True)


def _displacement_frames(sims: Sequence[SimulationBands]) -> tuple[pd.DataFrame, pd.DataFrame]:
    detail: list[pd.DataFrame] = []
    totals: list[pd.DataFrame] = []
    for sim in sims:
        for source, out in ((sim.percentiles, detail), (sim.totals, totals)):
            frame = source.copy()
            frame.insert(0, "scenarios", ";".join(sim.scenarios))
            frame.insert(0, "simulation", sim.label)
            out.append(frame)
    cols = ["simulation", "scenarios", "series", "location_code", "month", *PERCENTILES, "mean"]
    return (
        pd.concat(detail, ignore_index=True) if detail else pd.DataFrame(columns=cols),
        pd.concat(totals, ignore_index=True) if totals else pd.DataFrame(columns=cols),
    )


def _provenance(
    plan: Plan, runs: Sequence[ScenarioRun], plan_files_sha256: str | None,
    versions: Mapping[str, str], created: str | None,
) -> pd.DataFrame:
    rows: list[tuple[str, str, str]] = [
        ("report", "created (UTC)", created or _now()),
        ("plan", "name", plan.name),
        ("plan", "source", plan.source),
        ("plan", "files SHA-256", plan_files_sha256 or "not recorded"),
        ("plan", "content fingerprint (SHA-256 of the canonical tables)", plan.fingerprint),
    ]
    for key, value in plan.settings.items():
        if key.startswith("source") or key in ("currency", "document", "published"):
            rows.append(("plan", f"setting: {key}", str(value)))
    for run in runs:
        s = run.scenario
        section = f"scenario {s.name}"
        rows += [
            (section, "description", s.description),
            (section, "files", "; ".join(s.files)),
            (section, "files SHA-256", s.sha256),
            (section, "seed", str(s.seed)),
            (section, "draws", str(run.draws)),
            (section, "funding rules", s.funding.describe()),
            (section, "draws per chunk (one seed stream each)",
             run.provenance.get("chunk_draws", "")),
            (section, "run key", run.provenance.get("run_key", "")),
        ]
    rows += [("packages", name, version) for name, version in versions.items()]
    return pd.DataFrame(rows, columns=["section", "item", "value"])


def _notes(plan: Plan) -> tuple[str, ...]:
    return (
        "People reached: persons reached at least once in a location and year, summed over "
        "locations and years (a person served by several sectors counts once; see the plan's "
        "overlap factor).",
        "Over the simulated futures: each draw of the displacement simulation moves the "
        "people in need per location and year; the allocation is re-solved in every draw. "
        "Means and percentiles (p10, p50, p90) are across draws.",
        "At the plan's figures: one allocation with the plan's own people in need. The "
        "pro-rata comparison, the shadow prices, the extra-$1M values and the funding "
        "ladder are computed there.",
        "Pro-rata: every line cut by the same percentage of its requirement.",
        "+$1M to a line: people reached by one more million dollars in that line on top of "
        "the allocation (for example a donor earmarking it), up to the line's absorption "
        "limit and never beyond the people in need of its location and year.",
        "Shadow price of a rule: people reached per extra $1M of its right-hand side, with "
        "everything else re-optimised; negative for a floor that costs people.",
        f"Money is in US dollars, as in the plan ({plan.settings.get('currency', 'USD')}).",
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
