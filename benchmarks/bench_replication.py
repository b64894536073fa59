"""What weight replication costs to plan and what it buys (issue 11): ResNet-50 on 8 cores,
``optimal`` allocation, at the tile budget of 41 % coverage and at larger budgets.

For each coupling and budget: the first ``simulate(..., replicate=True)`` from empty caches
(workload, cost table of every unit-copy, knapsack, schedules; ``cold``) and the same call
again (``warm``), CPU seconds of this process (``time.process_time``, the machine is shared),
with the cost table's entries; then latency, speedup against all-digital, tiles used and
coverage with replication off and on. JIT compilation is done before timing.

    .venv/bin/python benchmarks/bench_replication.py [--network resnet50] [--cores 8]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # the simulator is single-threaded anyway

from aimclib.scheduling import cache_of, clear_caches  # noqa: E402
from aimclib.simulate import simulate, tiles_for_coverage  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="resnet50")
    ap.add_argument("--cores", type=int, default=8)
    ap.add_argument("--coverage", type=float, default=0.41)
    ap.add_argument("--scales", default="1,2.4,4.8",
                    help="budgets as multiples of the coverage target's budget")
    args = ap.parse_args()
    simulate("resnet18", cores=2, tiles=8, replicate=True)  # compile before timing
    for preset in ("alpine-tight", "alpine-loose"):
        base = tiles_for_coverage(args.network, preset, args.coverage)
        for scale in (float(s) for s in args.scales.split(",")):
            tiles = round(base * scale)
            clear_caches()
            t0 = time.process_time()
            on = simulate(args.network, preset, cores=args.cores, tiles=tiles, replicate=True)
            cold = time.process_time() - t0
            t0 = time.process_time()
            simulate(args.network, preset, cores=args.cores, tiles=tiles, replicate=True)
            warm = time.process_time() - t0
            entries = {k[-1] == "copies": sum(map(len, v[0]))
                       for k, v in cache_of(on.workload).cost_tables.items()}
            off = simulate(args.network, preset, cores=args.cores, tiles=tiles)
            print(f"{args.network} {preset} {args.cores} cores {tiles} tiles: "
                  f"cold {cold:.2f} s, warm {warm * 1e3:.1f} ms, cost table "
                  f"{entries.get(True, 0)} entries with copies; "
                  f"off {1e3 * off.latency_s:.2f} ms ({off.speedup:.2f}x, {off.tiles_used} "
                  f"tiles, coverage {off.coverage:.1%}) -> on {1e3 * on.latency_s:.2f} ms "
                  f"({on.speedup:.2f}x, {on.tiles_used} tiles, coverage {on.coverage:.1%}): "
                  f"{off.latency_s / on.latency_s:.2f}x", flush=True)


if __name__ == "__main__":
    main()
