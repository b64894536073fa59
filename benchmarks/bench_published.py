"""The model against the published outcome: 5.9x speedup and 5.6x energy gain on 8 cores at
41% coverage of the network's parameters (the seed study, IEEE TPDS 35(10), 2024).

For each of the study's six CNNs, both couplings and each balancer, prints the speedup and
energy gain at the tile budget whose optimal allocation covers nearest 41% of the MVM weights.

    .venv/bin/python benchmarks/bench_published.py [--coverage 0.41] [--cores 8]
"""

from __future__ import annotations

import argparse

from aimclib.simulate import simulate, tiles_for_coverage
from aimclib.system import load_system
from aimclib.zoo import STUDY_NETWORKS

BALANCERS = ("static-even", "static-balanced", "work-stealing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coverage", type=float, default=0.41)
    parser.add_argument("--cores", type=int, default=8)
    args = parser.parse_args()
    print(f"target coverage {args.coverage:.0%}, {args.cores} cores, allocation optimal; "
          f"published: 5.9x speedup, 5.6x energy gain")
    head = f"{'network':16s}{'preset':14s}{'tiles':>6s}{'coverage':>9s}{'MACs on':>9s}"
    head += "".join(f"{b:>22s}" for b in BALANCERS)
    print(head)
    print(f"{'':54s}" + "".join(f"{'speedup  energy gain':>22s}" for _ in BALANCERS))
    for net in STUDY_NETWORKS:
        for preset in ("alpine-tight", "alpine-loose"):
            hw = load_system(preset, cores=args.cores)
            tiles = tiles_for_coverage(net, hw, args.coverage)
            row = f"{net:16s}{preset:14s}{tiles:6d}"
            cells = []
            for bal in BALANCERS:
                r = simulate(net, hw, tiles=tiles, balancer=bal)
                cov, mac = r.coverage, r.mac_coverage
                cells.append(f"{r.speedup:13.2f}x {r.energy_gain:6.2f}x")
            print(row + f"{cov:9.1%}{mac:9.1%}" + "".join(f"{c:>22s}" for c in cells))


if __name__ == "__main__":
    main()
