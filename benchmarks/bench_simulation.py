"""Throughput and peak memory of the displacement simulation.

Runs 10,000 draws over 36 months (the CLI path: no flows recorded), then a
reference in the same process: a plain Python loop over a few draws of the
same recursion (scaled to 10,000 draws), and the ratio.

    python benchmarks/bench_simulation.py
"""

from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np

from reachplan.model.simulation import REFUGEE_LOCATIONS, simulate
from reachplan.scenarios.simulation_io import load_initial_state, load_simulation

DRAWS = 10_000
MONTHS = 36
LOCATIONS = len(REFUGEE_LOCATIONS) + 1  # refugee locations and Ukraine
REFERENCE_DRAWS = 20


def python_loop(draws: int) -> float:
    """The core recursion (hazard split, 12 locations) draw by draw in pure Python."""
    a = load_simulation()
    s = load_initial_state()
    rng = np.random.default_rng(0)
    rates = [float(d.median()) for d in (a.rates.internal_displacement,
                                         a.rates.cross_border_displacement,
                                         a.rates.idp_return, a.rates.refugee_return,
                                         a.rates.returnee_lapse, a.rates.onward_beyond_europe)]
    shares = list(s.destination_shares())
    start = time.perf_counter()
    for _ in range(draws):
        nd, idp, ret = s.non_displaced, s.idps, s.returnees
        ref = list(s.refugees)
        noise = rng.standard_normal(MONTHS).tolist()
        for m in range(MONTHS):
            f = math.exp(0.2 * noise[m] - 0.02)
            h_int, h_x = rates[0] * f, rates[1] * f
            leave = nd * (1 - math.exp(-(h_int + h_x)))
            to_idp, to_abroad = leave * h_int / (h_int + h_x), leave * h_x / (h_int + h_x)
            idp_ret = idp * (1 - math.exp(-rates[2] * f))
            lapse = ret * (1 - math.exp(-rates[4]))
            returns = 0.0
            for j in range(len(ref)):
                h = rates[3] + rates[5]
                out = ref[j] * (1 - math.exp(-h))
                returns += out * rates[3] / h
                ref[j] += to_abroad * shares[j] - out
            nd += lapse - to_idp - to_abroad
            idp += to_idp - idp_ret
            ret += idp_ret + returns - lapse
    return time.perf_counter() - start


def _run(record_flows: bool) -> tuple[float, int]:
    """Seconds (untraced run) and peak traced bytes (separate traced run)."""
    assumptions, initial = load_simulation(), load_initial_state()
    start = time.perf_counter()
    simulate(assumptions, initial, draws=DRAWS, seed=1, months=MONTHS, record_flows=record_flows)
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    simulate(assumptions, initial, draws=DRAWS, seed=1, months=MONTHS, record_flows=record_flows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak


def main() -> None:
    simulate(load_simulation(), load_initial_state(), draws=300, seed=0, months=MONTHS)
    cells = DRAWS * MONTHS * LOCATIONS
    print(f"vectorised, {DRAWS:,} draws x {MONTHS} months x {LOCATIONS} locations")
    timings = {}
    for label, flows in (("no flows", False), ("with flows", True)):
        elapsed, peak = _run(flows)
        timings[label] = elapsed
        print(f"  {label:11} {elapsed:6.3f} s  {cells / elapsed:14,.0f} location-months/s  "
              f"peak {peak / 2**20:7.1f} MiB")
    reference = python_loop(REFERENCE_DRAWS) * DRAWS / REFERENCE_DRAWS
    print(f"reference, pure Python loop over {REFERENCE_DRAWS} draws scaled to {DRAWS:,} "
          "(a reduced recursion: fewer flows, no levers)")
    print(f"  {'':11} {reference:6.3f} s  {cells / reference:14,.0f} location-months/s")
    print(f"speed-up (no flows) vs reference: {reference / timings['no flows']:,.1f}x")


if __name__ == "__main__":
    main()
