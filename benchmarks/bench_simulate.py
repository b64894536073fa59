"""Configurations per second of the full-network simulator (ResNet-50, 8 cores).

A configuration is one ``aimclib.simulate`` call: a tile budget, an allocation and a balancer
on one preset. The sweep visits every budget in ``--tiles`` for each allocation; the first pass
starts from empty caches (every layer schedule simulated), the second repeats it (layer
schedules and cost tables reused). JIT compilation is done before timing.

    .venv/bin/python benchmarks/bench_simulate.py [--network resnet50] [--cores 8]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # the simulator is single-threaded anyway

from aimclib.scheduling import clear_caches  # noqa: E402
from aimclib.simulate import simulate  # noqa: E402
from aimclib.system import load_system  # noqa: E402
from aimclib.zoo import get_network  # noqa: E402

BALANCERS = ("static-even", "static-balanced", "work-stealing")


def sweep(net, hw, balancer, budgets, allocations, seed=0) -> int:
    n = 0
    for alloc in allocations:
        for t in budgets:
            simulate(net, hw, tiles=t, allocation=alloc, balancer=balancer, seed=seed)
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="resnet50")
    parser.add_argument("--cores", type=int, default=8)
    parser.add_argument("--max-tiles", type=int, default=440,
                        help="budgets 0, 4, 8, ... up to this many tiles")
    parser.add_argument("--step", type=int, default=4)
    args = parser.parse_args()
    net = get_network(args.network)
    budgets = range(0, args.max_tiles + 1, args.step)
    allocations = ("optimal", "greedy-benefit", "layer-order")
    print(f"{args.network}, {args.cores} cores, {len(budgets)} budgets x "
          f"{len(allocations)} allocations per preset and balancer")
    t0 = time.perf_counter()
    simulate(net, load_system("alpine-tight", cores=args.cores), tiles=16,
             balancer="work-stealing")
    simulate(net, load_system("alpine-loose", cores=args.cores), tiles=16,
             balancer="static-balanced")
    print(f"warm-up (JIT compile or cache load): {time.perf_counter() - t0:.2f} s\n")
    print(f"{'preset':14s}{'balancer':18s}{'cold configs/s':>16s}{'warm configs/s':>16s}")
    for preset in ("alpine-tight", "alpine-loose"):
        hw = load_system(preset, cores=args.cores)
        for bal in BALANCERS:
            clear_caches()
            t = time.perf_counter()
            n = sweep(net, hw, bal, budgets, allocations)
            cold = n / (time.perf_counter() - t)
            t = time.perf_counter()
            n = sweep(net, hw, bal, budgets, allocations)
            warm = n / (time.perf_counter() - t)
            print(f"{preset:14s}{bal:18s}{cold:16.0f}{warm:16.0f}")


if __name__ == "__main__":
    main()
