"""Static PNG charts of the scenario report, for slides.

Drawn with matplotlib's Agg canvas on :class:`matplotlib.figure.Figure` objects
(no pyplot, no global state, no display needed). :func:`render_pngs` returns the
images by file name:

- ``people_reached.png``: people reached across simulated futures, per scenario;
- ``funding_ladder.png``: people reached by funding level, optimised and pro-rata;
- ``allocation_<scenario>.png``: mean allocation, sector by location, per scenario;
- ``cost_index.png``: the planning case's money per sector with the plan's sector cost
  index and with it flattened (only when the report carries that comparison);
- ``displacement_<n>.png``: fan charts of IDPs, refugees and returnees, one per set
  of displacement assumptions.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from reachplan.model.formatting import MILLION, format_people
from reachplan.reports.report_data import ReportData
from reachplan.reports.tables import allocation_grid

__all__ = ["png_names", "render_pngs"]

DPI = 150
_THOUSANDS = FuncFormatter(lambda v, _: format_people(v))
_MILLIONS = FuncFormatter(lambda v, _: f"{v / MILLION:,.1f}M")  # axis "funding (USD)"


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
    return slug[:60] or "scenario"


def png_names(data: ReportData) -> list[str]:
    """File names :func:`render_pngs` produces for ``data``, in order (distinct)."""
    names = ["people_reached.png", "funding_ladder.png"]
    seen: set[str] = set(names)
    for i, scenario in enumerate(data.scenario_names, start=1):
        name = f"allocation_{_slug(scenario)}.png"
        if name in seen:
            name = f"allocation_{i:02d}_{_slug(scenario)}.png"
        seen.add(name)
        names.append(name)
    if data.has_cost_index and _cost_index_rows(data) is not None:
        names.append("cost_index.png")
    groups = list(dict.fromkeys(data.displacement_totals["simulation"]))
    names += [f"displacement_{k:02d}.png" for k in range(1, len(groups) + 1)]
    return names


def _cost_index_rows(data: ReportData) -> pd.DataFrame | None:
    """The cost index comparison's rows per sector, or ``None`` when there are none."""
    ci = data.cost_index
    part = ci[ci["dimension"] == "sector"]
    return None if part.empty else part


def _cost_index(data: ReportData) -> bytes:
    part = _cost_index_rows(data)
    assert part is not None
    part = part.sort_values("indexed_usd")
    labels = [str(n or c) for n, c in zip(part["name"], part["code"], strict=True)]
    y = np.arange(len(part))
    fig = Figure(figsize=(10, 0.3 * len(part) + 2.0))
    ax = fig.add_subplot()
    ax.barh(y - 0.2, part["indexed_usd"] / MILLION, height=0.4, label="with the plan's index")
    ax.barh(y + 0.2, part["flat_usd"] / MILLION, height=0.4, label="flat index")
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel("USD millions")
    summary = data.cost_index_summary.iloc[0]
    ax.set_title(f"{summary['scenario']}: money per sector; flattening the sector cost index "
                 f"moves {summary['moved_share']:.1%} of the envelope", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _people_reached(data: ReportData) -> bytes:
    fig = Figure(figsize=(10, 5))
    ax = fig.add_subplot()
    draws = data.people_reached_draws
    names = data.scenario_names
    values = [draws.loc[draws["scenario"] == n, "people_reached"].to_numpy() for n in names]
    ax.boxplot(values, showmeans=True, whis=(5, 95), showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right")
    ax.yaxis.set_major_formatter(_THOUSANDS)
    ax.set_ylabel("people reached")
    ax.set_title("People reached across simulated futures (box p25-p75, whiskers p5-p95, "
                 "triangle: mean)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _ladder(data: ReportData) -> bytes:
    fig = Figure(figsize=(9, 5))
    ax = fig.add_subplot()
    for rules, group in data.funding_ladder.groupby("rules", sort=False):
        line = ax.plot(group["funding_usd"], group["people_reached"], marker="o",
                       label=f"optimised: {rules}")[0]
        ax.plot(group["funding_usd"], group["pro_rata_people_reached"], linestyle=":",
                color=line.get_color(), label=f"pro-rata cuts: {rules}")
    sc = data.scenarios
    ax.scatter(sc["funding_usd"], sc["plan_people_reached"], marker="D", color="black",
               zorder=3, label="scenarios")
    for r in sc.itertuples(index=False):
        ax.annotate(str(r.scenario), (r.funding_usd, r.plan_people_reached), fontsize=7,
                    xytext=(-4, 6), textcoords="offset points", ha="right")
    ax.xaxis.set_major_formatter(_MILLIONS)
    ax.yaxis.set_major_formatter(_THOUSANDS)
    ax.set_xlabel("funding (USD)")
    ax.set_ylabel("people reached")
    ax.set_title("Funding ladder, at the plan's figures", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def _allocation(data: ReportData, scenario: str) -> bytes:
    money, _ = allocation_grid(data, scenario)
    locs, secs = list(money.columns), list(money.index)
    z = np.ma.masked_invalid((money / MILLION).to_numpy(dtype=float))
    fig = Figure(figsize=(11, 0.28 * len(secs) + 2.5))
    ax = fig.add_subplot()
    image = ax.imshow(z, aspect="auto", cmap="Blues")
    ax.set_xticks(range(len(locs)), locs, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(secs)), secs, fontsize=7)
    fig.colorbar(image, ax=ax, label="USD millions")
    ax.set_title(f"Mean allocation, all years: {scenario} (blank: not planned)", fontsize=10)
    return _png(fig)


def _fan(data: ReportData, label: str) -> bytes:
    tot = data.displacement_totals
    tot = tot[tot["simulation"] == label]
    fig = Figure(figsize=(13, 4))
    titles = {"idps": "IDPs in Ukraine", "refugees": "Refugees in Europe",
              "returnees": "Returnees in Ukraine"}
    for k, series in enumerate(("idps", "refugees", "returnees")):
        ax = fig.add_subplot(1, 3, k + 1)
        g = tot[tot["series"] == series]
        x = np.arange(len(g))
        ax.fill_between(x, g["p05"], g["p95"], alpha=0.15, color="#1f5fa8", label="5-95%")
        ax.fill_between(x, g["p10"], g["p90"], alpha=0.3, color="#1f5fa8", label="10-90%")
        ax.plot(x, g["p50"], color="#1f5fa8", label="median")
        months = list(g["month"])
        step = max(1, len(months) // 6)
        ax.set_xticks(x[::step], months[::step], rotation=30, fontsize=7)
        ax.yaxis.set_major_formatter(_THOUSANDS)
        ax.set_title(titles[series], fontsize=10)
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=7)
    fig.suptitle(f"Displacement futures: {label}", fontsize=10)
    return _png(fig)


def render_pngs(data: ReportData) -> dict[str, bytes]:
    """Every static chart as PNG bytes, by file name (:func:`png_names`)."""
    names = png_names(data)
    images = [_people_reached(data), _ladder(data)]
    images += [_allocation(data, s) for s in data.scenario_names]
    if "cost_index.png" in names:
        images.append(_cost_index(data))
    images += [_fan(data, str(g)) for g in dict.fromkeys(data.displacement_totals["simulation"])]
    return dict(zip(names, images, strict=True))
