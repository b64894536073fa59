"""The pipelined schedule and the throughput mode on ResNet-50 (issue 11), and how long they take.

ResNet-50 on 8 cores at the tile budget whose optimal allocation covers about 41 % of the
weights (:func:`aimclib.simulate.tiles_for_coverage`), tight and loose, for each balancer:

* batch-1 latency of the barrier, DAG and pipelined schedules and their speedups over the
  barrier schedule;
* a batch of ``--batch`` images (``throughput="batch"`` and ``"pipelined"``):
  inferences per second and energy per inference;
* the CPU time of one ``simulate`` call of each (median of ``--repeats``; a first call fills
  the caches and compiles, as in any sweep).

    .venv/bin/python benchmarks/bench_pipelining.py [--batch 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from aimclib import simulate
from aimclib.simulate import tiles_for_coverage


def timed(repeats: int, **kw):
    """The result of ``simulate(**kw)`` and its median CPU time (s) over ``repeats`` calls
    after a first, untimed one."""
    r = simulate(**kw)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        simulate(**kw)
        times.append(time.process_time() - t0)
    return r, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="resnet50")
    ap.add_argument("--coverage", type=float, default=0.41)
    ap.add_argument("--cores", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--balancers", default="optimal:static-balanced,optimal:static-even,"
                    "optimal:work-stealing")
    args = ap.parse_args()
    pairs = [tuple(p.split(":")) for p in args.balancers.split(",")]
    print(f"{args.network}, {args.cores} cores, ~{args.coverage:.0%} coverage")
    for preset in ("alpine-tight", "alpine-loose"):
        tiles = tiles_for_coverage(args.network, preset, args.coverage)
        base = {"net": args.network, "hw": preset, "tiles": tiles, "cores": args.cores}
        for allocation, balancer in pairs:
            kw = {**base, "allocation": allocation, "balancer": balancer}
            lat = {}
            for schedule in ("barrier", "dag", "pipelined"):
                r, cpu = timed(args.repeats, schedule=schedule, **kw)
                lat[schedule] = r.latency_s
                print(f"{preset:12s} {tiles:4d} tiles ({r.coverage:.1%}) {balancer:15s} "
                      f"{schedule:9s} latency {r.latency_s * 1e3:8.3f} ms  speedup vs "
                      f"digital {r.speedup:5.2f}x  vs barrier "
                      f"{lat['barrier'] / r.latency_s:5.3f}x  energy {r.energy_j * 1e3:7.3f} mJ"
                      f"  simulate {cpu * 1e3:7.1f} ms CPU")
            for schedule in ("barrier", "dag", "pipelined"):
                for mode in ("batch", "pipelined"):
                    r, cpu = timed(args.repeats, schedule=schedule, batch=args.batch,
                                   throughput=mode, **kw)
                    print(f"{preset:12s} {balancer:15s} {schedule:9s} batch {args.batch} "
                          f"{mode:9s} {r.inferences_per_s:7.2f} inferences/s "
                          f"(batch 1: {1 / r.latency_s:6.2f})  "
                          f"{r.energy_per_inference_j * 1e3:7.3f} mJ/inference "
                          f"(batch 1: {r.energy_j * 1e3:7.3f})  simulate {cpu * 1e3:7.1f} ms CPU")


if __name__ == "__main__":
    main()
