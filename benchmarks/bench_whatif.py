"""How fast the what-if page answers a change, on the default plan.

A scripted prioritisation meeting (the same script every run): the total moved about
between 30% and 100% of the appeal, the per-year envelopes edited, an earmark added and
its amount changed, a floor switched on, its share changed and the floor off again, the
objective switched, and settings toggled back. Each change is answered twice,
interleaved, in this one process:

- ``fresh``: :func:`reachplan.solver.allocate.allocate_costs` (a new build and solve per
  change, what ``reachplan allocate`` does): the reference;
- ``whatif``: :class:`reachplan.solver.whatif.WhatIf` (the page's solver: the model held
  per structure, answers cached).

Both must give the same people reached (1e-9 relative) at every step, else the benchmark
stops. Printed: per kind of change and overall, the median, 95th percentile and maximum
in milliseconds, and the ratio fresh/whatif; the last line is
``whatif_p95_ms: N (goal <= 300)``. With ``--page``, the same script also goes through the
page's redraw (:func:`reachplan.web.app.views_for`: the state read from the URL's query,
the re-solve and every view built), and its times are printed beside.

Speed is checked here, never in tests: the machine may be shared, so read ratios.

Usage::

    python benchmarks/bench_whatif.py
    python benchmarks/bench_whatif.py --repeat 3 --page
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import replace

import numpy as np

from reachplan.model.costs import CostModel
from reachplan.model.funding import (
    Amount,
    Earmark,
    Floor,
    FundingScenario,
    Selector,
    parse_funding,
)
from reachplan.solver.allocate import allocate_costs
from reachplan.solver.whatif import WhatIf
from reachplan.workflow.suite import load_usable_plan


def meeting() -> list[tuple[str, FundingScenario]]:
    """The scripted meeting: (kind of change, funding after it)."""
    steps: list[tuple[str, FundingScenario]] = []
    now = FundingScenario(parse_funding("100%"))
    steps.append(("start", now))
    for share in (90, 80, 70, 60, 65, 62, 60, 55, 50, 45, 50, 58, 60):
        now = replace(now, envelope=parse_funding(f"{share}%"))
        steps.append(("total", now))
    shelter = Earmark("Shelter", Amount("usd", 50e6), Selector(sector_codes=("SHELTER_NFI",)))
    now = replace(now, earmarks=(shelter,))
    steps.append(("add earmark", now))
    for usd in (80e6, 120e6, 100e6, 60e6):
        now = replace(now, earmarks=(replace(shelter, amount=Amount("usd", usd)),))
        steps.append(("earmark amount", now))
    for share in (55, 50, 60, 70, 60):
        now = replace(now, envelope=parse_funding(f"{share}%"))
        steps.append(("total", now))
    floor = Floor("life-saving", 0.5, Selector(life_saving=True), "location")
    with_floor = replace(now, floors=(floor,))
    steps.append(("add floor", with_floor))
    for share in (58, 62, 60):
        with_floor = replace(with_floor, envelope=parse_funding(f"{share}%"))
        steps.append(("total", with_floor))
    for floor_share in (0.4, 0.6, 0.3):
        with_floor = replace(with_floor, floors=(replace(floor, share=floor_share),))
        steps.append(("floor share", with_floor))
    steps.append(("remove floor", now))
    for text in ("2024=60%,2025=60%,2026=60%", "2024=70%,2025=50%,2026=60%",
                 "2024=70%,2025=40%,2026=70%", "2024=50%,2025=60%,2026=70%"):
        now = replace(now, envelope=parse_funding(text))
        steps.append(("per year", now))
    headcount = replace(now, objective="headcount")
    steps.append(("objective", headcount))
    steps.append(("objective", now))
    for share in (60, 55, 50, 60):
        now = replace(now, envelope=parse_funding(f"{share}%"))
        steps.append(("total", now))
    return steps


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    arr = np.asarray(values) * 1000
    return float(np.median(arr)), float(np.percentile(arr, 95)), float(arr.max())


def main() -> int:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="times the script is run")
    parser.add_argument("--page", action="store_true", help="also time the page's callback")
    args = parser.parse_args()

    plan = load_usable_plan(None).plan
    costs = CostModel.from_plan(plan)
    steps = meeting()
    fresh_t: dict[str, list[float]] = defaultdict(list)
    what_t: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.repeat):
        solver = WhatIf(costs, {})  # a page opened anew: nothing held yet
        for kind, funding in steps:
            t0 = time.perf_counter()
            ref = allocate_costs(costs, funding, ranged="envelope")
            t1 = time.perf_counter()
            got = solver.solve(funding)
            t2 = time.perf_counter()
            if abs(got.people_reached - ref.people_reached) > 1e-9 * max(1.0, ref.people_reached):
                print(f"MISMATCH at {kind}: {got.people_reached} vs {ref.people_reached}")
                return 1
            fresh_t[kind].append(t1 - t0)
            what_t[kind].append(t2 - t1)
        print(f"# answers: {solver.stats}", file=sys.stderr)

    print(f"{'change':<16}{'n':>4}  {'fresh p50/p95 ms':>18}  {'whatif p50/p95 ms':>18}  "
          f"{'ratio p95':>9}")
    for kind in fresh_t:
        f50, f95, _ = _percentiles(fresh_t[kind])
        w50, w95, _ = _percentiles(what_t[kind])
        print(f"{kind:<16}{len(fresh_t[kind]):>4}  {f50:>8.0f} / {f95:<7.0f}  "
              f"{w50:>8.0f} / {w95:<7.0f}  {f95 / w95:>8.1f}x")
    all_f = [v for vs in fresh_t.values() for v in vs]
    all_w = [v for vs in what_t.values() for v in vs]
    f50, f95, fmax = _percentiles(all_f)
    w50, w95, wmax = _percentiles(all_w)
    print(f"{'all':<16}{len(all_f):>4}  {f50:>8.0f} / {f95:<7.0f}  {w50:>8.0f} / {w95:<7.0f}  "
          f"{f95 / w95:>8.1f}x   (max fresh {fmax:.0f} ms, whatif {wmax:.0f} ms)")
    if args.page:
        page = _page_times(plan, steps, args.repeat)
        p50, p95, pmax = _percentiles(page)
        print(f"{'page redraw':<16}{len(page):>4}  {'':>18}  {p50:>8.0f} / {p95:<7.0f}  "
              f"(max {pmax:.0f} ms)")
    print(f"whatif_p95_ms: {w95:.0f} (goal <= 300; fresh build p95 {f95:.0f} in this run)")
    return 0


def _page_times(plan: object, steps: list[tuple[str, FundingScenario]],
                repeat: int) -> list[float]:
    """Time the page's redraw for each step: the state read from the URL, the re-solve and
    every view (numbers, heatmap, table, binding rules), as the page's callback does."""
    from reachplan.web.app import views_for
    from reachplan.web.context import make_context
    from reachplan.web.state import state_from_funding, state_to_query

    times = []
    for _ in range(repeat):
        context = make_context(plan, None, None)  # type: ignore[arg-type]
        for _, funding in steps:
            search = state_to_query(state_from_funding(funding))
            t0 = time.perf_counter()
            views_for(context, search, None)
            times.append(time.perf_counter() - t0)
    return times


if __name__ == "__main__":
    raise SystemExit(main())
