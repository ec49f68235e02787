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
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reachplan.model.costs import CostModel
from reachplan.model.plan import Plan
from reachplan.reports.scenario_report import MODEL_ROW_KINDS, run_json
from reachplan.reports.views import country_of, location_kinds, roll_up
from reachplan.solver.marginal import EXTRA_USD, LineMarginals
from reachplan.solver.result import Allocation, Frontier, ScenarioRun

__all__ = [
    "EXTRA_USD",
    "MODEL_ROW_KINDS",
    "PERCENTILES",
    "CostIndexSensitivity",
    "REPORT_PACKAGES",
    "Ladder",
    "ReportData",
    "ReportInputs",
    "SimulationBands",
    "build_report_data",
    "moved_share",
    "reproduce_command",
]

REPORT_PACKAGES = (
    "reachplan", "pulp", "highspy", "numpy", "pandas", "scipy",
    "plotly", "matplotlib", "xlsxwriter",
)
"""Packages whose versions travel with every report."""

PERCENTILES = ("p05", "p10", "p50", "p90", "p95")

BY_YEAR_COLUMNS = (
    "scenario", "year", "unmet_need_mean", "people_in_need", "people_reached", "coverage",
    "unmet_need", "unique_people_low", "unique_people_high", "entities_reached",
)
COVERAGE_COLUMNS = (
    "scenario", "location_code", "location_name", "year", "people_in_need", "planned_reach",
    "people_reached", "coverage", "coverage_of_planned", "unmet_need",
)
SHADOW_COLUMNS = (
    "scenario", "constraint", "kind", "description", "shadow_price", "shadow_price_down",
    "one_sided", "objective_dual", "valid_from", "valid_to", "range_unit", "unit",
)
COST_INDEX_SUMMARY_COLUMNS = (
    "scenario", "funding_usd", "moved_usd", "moved_share", "people_reached_indexed",
    "people_reached_flat", "coverage_indexed", "coverage_flat", "note",
)
COST_INDEX_COLUMNS = (
    "scenario", "dimension", "code", "name", "indexed_usd", "flat_usd", "difference_usd",
)
_MONEY = ("requirements_usd", "mean_allocated_usd", "share_of_requirement")
BY_COUNTRY_COLUMNS = ("scenario", "location_code", "location_name", "year", *_MONEY)
BY_SECTOR_COLUMNS = ("scenario", "sector_code", "sector_name", "year", *_MONEY)
BY_SUBNATIONAL_COLUMNS = ("scenario", "country_code", "location_code", "location_name",
                          "location_kind", "year", *_MONEY)


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


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
class CostIndexSensitivity:
    """One scenario's allocation with the plan's sector cost index and with it flattened.

    The plan's ``sector_cost_index`` sets the relative cost per person between sectors
    (mostly stated assumptions); flattening it (every sector 1, unit costs recalibrated
    so that full funding still reaches each location's targets:
    :func:`model.unit_costs.with_flat_cost_index`) shows how far the answer rests on it.

    Attributes
    ----------
    scenario
        Name of the run whose envelope is the planning case
        (:func:`workflow.report_inputs.planning_case`).
    indexed
        Its allocation at the plan's figures, with the plan's own unit costs.
    flat
        The allocation under the same rules on the flattened plan. Its people reached
        are counted with the flattened plan's own unit costs. ``None`` when it could not
        be made (:attr:`reason` says why).
    reason
        Why :attr:`flat` is missing; empty otherwise.
    """

    scenario: str
    indexed: Allocation
    flat: Allocation | None
    reason: str = ""


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
        ``people_reached_p90`` (person-years: people reached in each year, summed over the
        plan's years), ``unmet_need_mean`` (people in need not reached in an average plan
        year: the mean over years, summed over locations), ``coverage_mean`` (people
        reached / people in need over every location and year, mean over futures) and
        ``entities_reached_mean`` (summed over years), all over the simulated futures;
        then at the plan's figures ``objective`` (``priority`` or ``headcount``),
        ``plan_people_reached`` (person-years), ``pro_rata_people_reached``,
        ``gain_over_pro_rata`` (enablers included in both allocations),
        ``gain_over_pro_rata_programme`` (programme lines only, no enablers),
        ``plan_coverage``, ``plan_unique_people_low`` and ``plan_unique_people_high``
        (unique people over the whole period, a range), ``plan_entities_reached``
        (summed over years), ``envelope_people_per_1m`` (people reached by one more
        unearmarked $1M: the allocation re-solved with it,
        :attr:`solver.result.Allocation.one_more_million`, as on the console and the what-if
        page) and ``envelope_per_1m_year`` (with per-year envelopes, the year of arrival
        where it reaches the most; blank otherwise).
    by_year
        One row per scenario and plan year: ``unmet_need_mean`` (over the simulated
        futures, that year only; :attr:`solver.result.ScenarioRun.unmet_need_by_year`),
        then at the plan's figures ``people_in_need``, ``people_reached``,
        ``coverage``, ``unmet_need`` (over the locations with people in need),
        ``unique_people_low``, ``unique_people_high`` and ``entities_reached``.
    coverage
        At the plan's figures, one row per scenario, location and year
        (:attr:`solver.result.Allocation.coverage_by_location_year`): ``people_in_need``,
        ``planned_reach`` (people full funding reaches), ``people_reached``,
        ``coverage`` (of people in need), ``coverage_of_planned`` and ``unmet_need``.
    shadow_prices
        At the plan's figures, every binding row (caps included):
        ``shadow_price`` (people per extra $1M, or per extra person in need for
        ``need`` rows, for an increase), ``shadow_price_down`` (for a decrease, where
        it differs: ``one_sided``), ``objective_dual`` (the LP dual in objective units),
        ``valid_from`` and ``valid_to`` (the range of the rule's limit over which the
        price holds, in ``range_unit``; infinite when unbounded, blank when not
        computed), ``unit``; largest effect first within a scenario.
    cost_index_summary
        The sector cost index sensitivity (empty when the plan has no
        ``sector_cost_index`` table): ``scenario``, ``funding_usd``, ``moved_usd``
        (sum over cells of abs(money indexed - money flat) / 2), ``moved_share`` (of the
        envelope), ``people_reached_indexed``, ``people_reached_flat`` (counted with the
        flattened plan's own unit costs), ``coverage_indexed``, ``coverage_flat``,
        ``note``.
    cost_index
        Money per ``dimension`` (``sector`` or ``location``) under each: ``code``,
        ``name``, ``indexed_usd``, ``flat_usd``, ``difference_usd`` (flat - indexed),
        largest move first.
    allocation
        One row per scenario and cell: ``scenario``, ``location_code``,
        ``location_name``, ``sector_code``, ``sector_name``, ``year``,
        ``requirements_usd``, ``mean_allocated_usd`` (mean over draws),
        ``share_of_requirement``.
    allocation_by_country
        ``allocation`` summed per scenario, country and year: sub-national lines
        (admin1/admin2) are summed to the country at the top of their parents
        (:func:`reports.views.country_of`); countries and regional lines are their own.
        ``requirements_usd``, ``mean_allocated_usd``, ``share_of_requirement``.
    allocation_by_sector
        ``allocation`` summed per scenario, sector and year (same money columns).
    allocation_by_subnational
        The sub-national detail: per scenario, sub-national location and year, with
        ``country_code`` and ``location_kind``; empty (and left out of :meth:`tables`)
        when the plan has no sub-national lines.
    reproduce
        The command that makes this report again, as printed (paths absolute, quoted for
        a POSIX shell): ``reachplan report`` with each scenario's own file, ``--plan``,
        ``--draws`` (when every scenario has the same number), ``--ladder-step`` and
        ``--out``. Runs are seeded by their scenario files, so the same files, plan and
        package versions give the same figures.
    has_entities
        Whether any allocation reaches entities (the entities figures are shown only
        then).
    unmet_need
        ``scenario``, ``location_code``, ``location_name``, ``unmet_need_mean``
        (people in need not reached in an average plan year: the mean over the plan's
        years, never their sum; mean over draws).
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
    by_year: pd.DataFrame = field(default_factory=lambda: _empty(BY_YEAR_COLUMNS))
    coverage: pd.DataFrame = field(default_factory=lambda: _empty(COVERAGE_COLUMNS))
    shadow_prices: pd.DataFrame = field(default_factory=lambda: _empty(SHADOW_COLUMNS))
    cost_index_summary: pd.DataFrame = field(
        default_factory=lambda: _empty(COST_INDEX_SUMMARY_COLUMNS))
    cost_index: pd.DataFrame = field(default_factory=lambda: _empty(COST_INDEX_COLUMNS))
    notes: tuple[str, ...] = field(default=())
    allocation_by_country: pd.DataFrame = field(
        default_factory=lambda: _empty(BY_COUNTRY_COLUMNS))
    allocation_by_sector: pd.DataFrame = field(
        default_factory=lambda: _empty(BY_SECTOR_COLUMNS))
    allocation_by_subnational: pd.DataFrame = field(
        default_factory=lambda: _empty(BY_SUBNATIONAL_COLUMNS))
    reproduce: str = ""
    has_entities: bool = True

    @property
    def scenario_names(self) -> list[str]:
        """Scenario names in report order."""
        return [str(s) for s in self.scenarios["scenario"]]

    @property
    def has_cost_index(self) -> bool:
        """Whether the report carries the sector cost index sensitivity."""
        return not self.cost_index_summary.empty

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by its file name (without extension), in report order.

        The cost index tables are left out when the plan has no sector cost index, the
        sub-national table when the plan has no sub-national lines.
        """
        cost_index = ({"cost_index_summary": self.cost_index_summary,
                       "cost_index": self.cost_index} if self.has_cost_index else {})
        subnational = ({"allocation_by_subnational": self.allocation_by_subnational}
                       if not self.allocation_by_subnational.empty else {})
        return {
            "scenarios": self.scenarios,
            "by_year": self.by_year,
            "coverage": self.coverage,
            "allocation": self.allocation,
            "allocation_by_country": self.allocation_by_country,
            "allocation_by_sector": self.allocation_by_sector,
            **subnational,
            "unmet_need": self.unmet_need,
            "people_reached_draws": self.people_reached_draws,
            "extra_1m": self.extra_1m,
            "binding_constraints": self.binding_constraints,
            "shadow_prices": self.shadow_prices,
            **cost_index,
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
    cost_index
        The planning case's allocation with the plan's sector cost index and with it
        flattened; ``None`` (the section is left out) when the plan has no
        ``sector_cost_index`` table.
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
    cost_index: CostIndexSensitivity | None = None


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
    coverage_frames: list[pd.DataFrame] = []
    year_frames: list[pd.DataFrame] = []
    shadow_frames: list[pd.DataFrame] = []
    costs = CostModel.from_plan(plan)
    for run, summary in zip(runs, summaries, strict=True):
        name = run.scenario.name
        alloc = allocations[name]
        # one more non-earmarked $1M: the same figure as the console and the what-if page
        # (the allocation re-solved with it, Allocation.one_more_million)
        extra = alloc.one_more_million
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
            "coverage_mean": float(summary["coverage_mean"]),
            "entities_reached_mean": float(summary["entities_reached_mean"]),
            "objective": str(alloc.scenario.objective),
            "plan_people_reached": alloc.people_reached,
            "pro_rata_people_reached": alloc.pro_rata_people_reached,
            "gain_over_pro_rata": alloc.gain_over_pro_rata,
            "gain_over_pro_rata_programme": alloc.gain_over_pro_rata_programme,
            "plan_coverage": alloc.coverage,
            "plan_unique_people_low": alloc.unique_people_reached["low"],
            "plan_unique_people_high": alloc.unique_people_reached["high"],
            "plan_entities_reached": alloc.entities_reached,
            "envelope_people_per_1m": extra.people if extra is not None else np.nan,
            "envelope_per_1m_year": (extra.year if extra is not None and extra.year is not None
                                     else np.nan),
        })
        coverage_frames.append(_coverage_frame(name, alloc, loc_names))
        year_frames.append(_by_year_frame(name, summary, alloc))
        shadow_frames.append(_shadow_frame(name, alloc))
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

    ci_summary, ci_money = _cost_index_frames(inputs.cost_index, loc_names, sec_names)
    ladder = _ladder_frame(inputs.ladders)
    disp, disp_totals = _displacement_frames(inputs.simulations)
    allocation = pd.concat(alloc_frames, ignore_index=True)
    by_country, by_sector, by_sub = _rollups(allocation, plan, names)
    reproduce = reproduce_command(plan, runs, inputs.ladders)
    provenance = _provenance(plan, runs, inputs.plan_files_sha256, inputs.versions, created)
    provenance = pd.concat([provenance, pd.DataFrame(
        [("report", "reproduce", reproduce)], columns=["section", "item", "value"])],
        ignore_index=True)
    entities = any(float(a.entities_reached) > 0 for a in allocations.values()) or any(
        float(s["entities_reached_mean"]) > 0 for s in summaries)
    return ReportData(
        title=plan.name,
        created=created or _now(),
        appeal_usd=appeal,
        runs_json=summaries,
        scenarios=scenarios,
        allocation=allocation,
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
        by_year=_concat(year_frames, BY_YEAR_COLUMNS),
        coverage=_concat(coverage_frames, COVERAGE_COLUMNS),
        shadow_prices=_concat(shadow_frames, SHADOW_COLUMNS),
        cost_index_summary=ci_summary,
        cost_index=ci_money,
        notes=_notes(plan, entities),
        allocation_by_country=by_country,
        allocation_by_sector=by_sector,
        allocation_by_subnational=by_sub,
        reproduce=reproduce,
        has_entities=entities,
    )


def _rollups(
    allocation: pd.DataFrame, plan: Plan, names: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The allocation by country, by sector and the sub-national detail (see ReportData)."""
    loc_names, sec_names = _names(plan)
    countries = country_of(plan)
    kinds = location_kinds(plan)
    order = {n: i for i, n in enumerate(names)}
    money = ["requirements_usd", "mean_allocated_usd"]

    def finish(frame: pd.DataFrame, keys: list[str], columns: Sequence[str]) -> pd.DataFrame:
        frame = frame.assign(_o=frame["scenario"].map(order)).sort_values(
            ["_o", *keys], kind="stable").drop(columns="_o").reset_index(drop=True)
        req = frame["requirements_usd"].to_numpy(dtype=float)
        frame["share_of_requirement"] = np.divide(
            frame["mean_allocated_usd"].to_numpy(dtype=float), req,
            out=np.full(len(frame), np.nan), where=req > 0)
        return frame[list(columns)]

    by_country = roll_up(allocation, countries, ["scenario", "location_code", "year"], money)
    by_country["location_name"] = by_country["location_code"].map(loc_names).fillna("")
    by_sector = allocation.groupby(["scenario", "sector_code", "year"], sort=True)[
        money].sum().reset_index()
    by_sector["sector_name"] = by_sector["sector_code"].map(sec_names).fillna("")
    codes = allocation["location_code"].astype(str)
    top = codes.map(countries).fillna(codes)
    sub = allocation[(top != codes).to_numpy()]
    if sub.empty:
        by_sub = _empty(BY_SUBNATIONAL_COLUMNS)
    else:
        by_sub = sub.groupby(["scenario", "location_code", "year"], sort=True)[
            money].sum().reset_index()
        by_sub["country_code"] = by_sub["location_code"].map(countries)
        by_sub["location_name"] = by_sub["location_code"].map(loc_names).fillna("")
        by_sub["location_kind"] = by_sub["location_code"].map(kinds).fillna("")
        by_sub = finish(by_sub, ["country_code", "location_code", "year"],
                        BY_SUBNATIONAL_COLUMNS)
    return (finish(by_country, ["location_code", "year"], BY_COUNTRY_COLUMNS),
            finish(by_sector, ["sector_code", "year"], BY_SECTOR_COLUMNS), by_sub)


REPORT_OUT = "reproduced-report"
"""The ``--out`` directory of the printed reproduce command (relative: where it is run)."""


def reproduce_command(plan: Plan, runs: Sequence[ScenarioRun],
                      ladders: Sequence[Ladder] = ()) -> str:
    """The ``reachplan report`` command that makes the same report again, shell-quoted.

    Each scenario by its own file (``Scenario.files[0]``, made absolute; its name when it
    has no file), ``--plan`` the plan's source (absolute), ``--draws`` when every run has
    the same number of draws (else each scenario file's own), ``--ladder-step`` the step
    of the funding ladder (its second level: levels are 0, step, 2 step ...), and
    ``--out`` :data:`REPORT_OUT`. The seed is each scenario file's own: a run made with
    ``reachplan run --seed`` is reproduced by writing that seed into the file.
    """
    args = ["reachplan", "report"]
    for run in runs:
        files = run.scenario.files
        args.append(os.path.abspath(files[0]) if files else run.scenario.name)
    if plan.source:
        args += ["--plan", os.path.abspath(plan.source)]
    draws = sorted({int(run.draws) for run in runs})
    if len(draws) == 1:
        args += ["--draws", str(draws[0])]
    for ladder in ladders:
        shares = ladder.frontier.levels["share"].to_numpy(dtype=float)
        if len(shares) > 1:
            args += ["--ladder-step", f"{shares[1] - shares[0]:.12g}"]
            break
    args += ["--out", REPORT_OUT]
    return shlex.join(args)


def _concat(frames: Sequence[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _empty(columns)
    return pd.concat(frames, ignore_index=True)[list(columns)]


def _coverage_frame(name: str, alloc: Allocation, loc_names: Mapping[str, str]) -> pd.DataFrame:
    """The allocation's coverage per location and year, as the allocation gives it."""
    table = alloc.coverage_by_location_year
    if table is None or table.empty:
        return _empty(COVERAGE_COLUMNS)
    out = table.reset_index(drop=True).copy()
    out["location_code"] = out["location_code"].astype(str)
    out["year"] = out["year"].astype(int)
    out.insert(0, "scenario", name)
    out["location_name"] = out["location_code"].map(loc_names).fillna("")
    for col in COVERAGE_COLUMNS[4:]:
        out[col] = out[col].astype(float)
    return out[list(COVERAGE_COLUMNS)]


def _by_year_frame(name: str, summary: Mapping[str, Any], alloc: Allocation) -> pd.DataFrame:
    """Per plan year: unmet need over the futures, then the allocation's figures.

    Unmet need over the futures is copied from the run's JSON; the rest is at the plan's
    people in need. Nothing is summed across years.
    """
    futures = {int(k): float(v) for k, v in summary["unmet_need_by_year"].items()}
    cells_by_year = alloc.cells["people_reached"].groupby(level="year").sum()
    entities = alloc.entities_reached_by_year
    cover = alloc.coverage_by_location_year
    if cover is not None and not cover.empty:
        known = cover[np.isfinite(cover["people_in_need"].to_numpy(dtype=float))]
        need_by_year = known.groupby("year")[["people_in_need", "people_reached",
                                              "unmet_need"]].sum()
    else:
        need_by_year = pd.DataFrame(columns=["people_in_need", "people_reached", "unmet_need"])
    unique = alloc.unique_people_by_year
    unique = (unique.set_index("year") if unique is not None and not unique.empty
              else pd.DataFrame(columns=["low", "high"]))
    years = sorted({*futures, *(int(y) for y in cells_by_year.index)})
    rows = []
    for year in years:
        need_row = need_by_year.loc[year] if year in need_by_year.index else None
        need = float(need_row["people_in_need"]) if need_row is not None else np.nan
        reached_known = float(need_row["people_reached"]) if need_row is not None else np.nan
        rows.append({
            "scenario": name,
            "year": year,
            "unmet_need_mean": futures.get(year, np.nan),
            "people_in_need": need,
            "people_reached": float(cells_by_year.get(year, 0.0)),
            "coverage": reached_known / need if need > 0 else np.nan,
            "unmet_need": float(need_row["unmet_need"]) if need_row is not None else np.nan,
            "unique_people_low": float(unique["low"].get(year, np.nan)),
            "unique_people_high": float(unique["high"].get(year, np.nan)),
            "entities_reached": float(entities.get(year, 0.0)),
        })
    return pd.DataFrame(rows, columns=list(BY_YEAR_COLUMNS))


def _number(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _shadow_frame(name: str, alloc: Allocation) -> pd.DataFrame:
    """Every binding row's shadow price with its range, largest effect first."""
    rows = []
    for s in alloc.shadow_prices:
        if not s.binding:
            continue
        rows.append({
            "scenario": name,
            "constraint": s.constraint,
            "kind": s.kind,
            "description": s.description,
            "shadow_price": float(s.value),
            "shadow_price_down": _number(s.value_down) if s.one_sided else np.nan,
            "one_sided": bool(s.one_sided),
            "objective_dual": _number(s.objective_value),
            "valid_from": _number(s.valid_from),
            "valid_to": _number(s.valid_to),
            "range_unit": "people in need" if s.kind == "need" else "USD",
            "unit": s.unit,
        })
    frame = pd.DataFrame(rows, columns=list(SHADOW_COLUMNS))
    if frame.empty:
        return frame
    effect = np.maximum(frame["shadow_price"].abs(), frame["shadow_price_down"].abs().fillna(0))
    return (frame.assign(_e=-effect).sort_values(["_e", "constraint"], kind="stable")
            .drop(columns="_e").reset_index(drop=True))


def moved_share(indexed: Allocation, flat: Allocation) -> tuple[float, float]:
    """Money that moves between two allocations of the same envelope, in USD and as a share.

    ``sum over cells |x_indexed - x_flat| / 2``: every dollar moved leaves one cell and
    arrives in another, so the sum of absolute differences counts it twice. The share is
    of ``indexed``'s envelope (NaN for an envelope of zero).
    """
    a, b = indexed.cells["allocated_usd"].align(flat.cells["allocated_usd"], fill_value=0.0)
    moved = float((a - b).abs().sum()) / 2.0
    envelope = float(indexed.funding_usd)
    return moved, (moved / envelope if envelope > 0 else np.nan)


def _cost_index_frames(
    sens: CostIndexSensitivity | None, loc_names: Mapping[str, str],
    sec_names: Mapping[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if sens is None:
        return _empty(COST_INDEX_SUMMARY_COLUMNS), _empty(COST_INDEX_COLUMNS)
    indexed, flat = sens.indexed, sens.flat
    if flat is None:
        summary = pd.DataFrame([{
            "scenario": sens.scenario, "funding_usd": float(indexed.funding_usd),
            "moved_usd": np.nan, "moved_share": np.nan,
            "people_reached_indexed": indexed.people_reached, "people_reached_flat": np.nan,
            "coverage_indexed": indexed.coverage, "coverage_flat": np.nan,
            "note": sens.reason or "the flattened plan could not be allocated",
        }], columns=list(COST_INDEX_SUMMARY_COLUMNS))
        return summary, _empty(COST_INDEX_COLUMNS)
    moved, share = moved_share(indexed, flat)
    summary = pd.DataFrame([{
        "scenario": sens.scenario, "funding_usd": float(indexed.funding_usd),
        "moved_usd": moved, "moved_share": share,
        "people_reached_indexed": indexed.people_reached,
        "people_reached_flat": flat.people_reached,
        "coverage_indexed": indexed.coverage, "coverage_flat": flat.coverage,
        "note": "people reached under the flat index are counted with the flattened "
                "plan's own unit costs",
    }], columns=list(COST_INDEX_SUMMARY_COLUMNS))
    frames = []
    for dimension, level, names in (("sector", "sector_code", sec_names),
                                    ("location", "location_code", loc_names)):
        a = indexed.cells["allocated_usd"].groupby(level=level).sum()
        b = flat.cells["allocated_usd"].groupby(level=level).sum()
        a, b = a.align(b, fill_value=0.0)
        frame = pd.DataFrame({
            "scenario": sens.scenario, "dimension": dimension,
            "code": [str(c) for c in a.index],
            "name": [names.get(str(c), "") for c in a.index],
            "indexed_usd": a.to_numpy(dtype=float), "flat_usd": b.to_numpy(dtype=float),
            "difference_usd": (b - a).to_numpy(dtype=float),
        })
        order = np.lexsort((frame["code"].to_numpy(), -frame["difference_usd"].abs().to_numpy()))
        frames.append(frame.iloc[order])
    return summary, pd.concat(frames, ignore_index=True)[list(COST_INDEX_COLUMNS)]


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


def _notes(plan: Plan, entities: bool = True) -> tuple[str, ...]:
    """How to read the figures; the entities note only when some allocation reaches any."""
    notes = (
        "People reached: persons reached at least once in a location and year, summed over "
        "locations and years: person-years (summed over years; someone reached in 2024 and "
        "in 2025 counts twice, as plan targets do). A person served by several sectors "
        "counts once (see the plan's overlap factor).",
        "Unique people reached (at the plan's figures) is a range: at least the largest "
        "sector's beneficiaries in each location and year, at most the sum over sectors "
        "(no one served twice); over the whole period, from the largest year's low figure "
        "(the same people every year) to the sum of the years' high figures.",
        "Coverage: people reached / people in need (per location and year, or over every "
        "location and year). Unmet need: people in need not reached, per year or in an "
        "average plan year (the mean over the plan's years), never summed across years.",
        "Entities reached: authorities, collective centres and organisations supported by "
        "the systems lines (border and migration management, policy support ...), counted "
        "in entities, never as people; summed over years unless shown per year.",
        "Gain over pro-rata is shown with enablers (regional support, coordination: "
        "overheads of the programme money they serve, funded in both allocations) and on "
        "programme lines only (without enablers).",
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
        "everything else re-optimised; negative for a floor that costs people. It holds "
        "over a range of the rule's limit (HiGHS ranging); at a kink (one-sided) one more "
        "dollar and one dollar less buy different amounts, and both are shown.",
        f"Money is in US dollars, as in the plan ({plan.settings.get('currency', 'USD')}).",
    )
    return tuple(n for n in notes if entities or not n.startswith("Entities reached"))


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
