"""The model against the published outcome: 5.9x speedup and 5.6x energy gain on 8 cores at
41% coverage of the network's parameters (the seed study, IEEE TPDS 35(10), 2024).

For each of the study's six CNNs, both couplings and each balancer, prints the speedup and
energy gain at the tile budget whose optimal allocation covers nearest 41% of the MVM weights,
the digital baseline's average MACs per cycle per core on that network, and whether the
static-balanced result lies within +-10% of both published values.

    .venv/bin/python benchmarks/bench_published.py [--coverage 0.41] [--cores 8]
        [--set cpu.baseline_kernel=int8-asm ...]
"""

from __future__ import annotations

import argparse

from aimclib.simulate import simulate, tiles_for_coverage
from aimclib.system import load_system
from aimclib.zoo import STUDY_NETWORKS

BALANCERS = ("static-even", "static-balanced", "work-stealing")
PUBLISHED = (5.9, 5.6)
"""Published speedup and energy gain (8 cores, 41 % coverage)."""
TOLERANCE = 0.10


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coverage", type=float, default=0.41)
    parser.add_argument("--cores", type=int, default=8)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a preset parameter, e.g. cpu.baseline_kernel=int8-asm")
    args = parser.parse_args()
    overrides = dict(kv.split("=", 1) for kv in args.set)
    overrides = {k: _value(v) for k, v in overrides.items()}
    hw0 = load_system("alpine-tight", **overrides)
    print(f"target coverage {args.coverage:.0%}, {args.cores} cores, allocation optimal; "
          f"baseline kernel {hw0.cpu.baseline_kernel} ({hw0.cpu.sustained_macs_per_cycle:.2f} "
          f"MAC/cycle sustained); published: {PUBLISHED[0]}x speedup, {PUBLISHED[1]}x energy "
          f"gain")
    head = f"{'network':16s}{'preset':14s}{'tiles':>6s}{'coverage':>9s}{'MACs on':>9s}"
    head += f"{'MAC/cyc':>8s}" + "".join(f"{b:>22s}" for b in BALANCERS) + "  within 10%"
    print(head)
    print(f"{'':62s}" + "".join(f"{'speedup  energy gain':>22s}" for _ in BALANCERS))
    for net in STUDY_NETWORKS:
        for preset in ("alpine-tight", "alpine-loose"):
            hw = load_system(preset, cores=args.cores, **overrides)
            tiles = tiles_for_coverage(net, hw, args.coverage)
            row = f"{net:16s}{preset:14s}{tiles:6d}"
            cells, hit = [], ""
            for bal in BALANCERS:
                r = simulate(net, hw, tiles=tiles, balancer=bal)
                cells.append(f"{r.speedup:13.2f}x {r.energy_gain:6.2f}x")
                if bal == "static-balanced":
                    rate = r.network.macs / (r.baseline_latency_s * hw.cores * hw.cpu.clock_hz)
                    ok = all(abs(v / p - 1) <= TOLERANCE
                             for v, p in zip((r.speedup, r.energy_gain), PUBLISHED))
                    hit = "  yes" if ok else "  no"
            print(row + f"{r.coverage:9.1%}{r.mac_coverage:9.1%}{rate:8.2f}"
                  + "".join(f"{c:>22s}" for c in cells) + hit)


if __name__ == "__main__":
    main()
