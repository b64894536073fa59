"""Configurations per second of a design-space sweep, written as a user writes it (issue 9):
ResNet-50 on 8 cores of ``alpine-tight``, ``greedy-benefit`` allocation.

* ``loop static``: ``load_system`` then ``simulate`` per configuration, static-balanced, a
  different tile budget each time (4, 8, ... 440 tiles; a first pass fills the caches, as in
  any sweep that visits the budgets again for another knob);
* ``loop steal, new seed``: work stealing at 160 tiles, a new seed every configuration;
* ``loop steal, same seed``: the same configuration again (its schedules cached);
* ``batched static``: ``simulate_many`` over budgets 0..1,999 in one call (a version without
  it runs the loop over those budgets instead).

Rates are configurations per CPU-second of this process (``time.process_time``), the median
of ``--repeats`` runs: the machine is shared, and CPU time is what one core spends.
``--baseline REV`` also runs the cases on git revision ``REV`` (exported to a temporary
folder, run in a subprocess) and prints the ratios. JIT compilation is done before timing.

    .venv/bin/python benchmarks/bench_configs.py [--baseline 120490c] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # the simulator is single-threaded anyway

ROOT = Path(__file__).resolve().parents[1]
CASES = ("loop static", "loop steal, new seed", "loop steal, same seed", "batched static")
GOALS = {"loop static": 5_000, "loop steal, new seed": 1_000, "batched static": 20_000}
"""Issue 9's goals (configurations/s on one core)."""


def measure(repeats: int) -> dict[str, list[float]]:
    """Every case's rates (configurations per CPU-second), one per repeat."""
    import aimclib as ac
    from aimclib.zoo import get_network

    net = get_network("resnet50")
    batched = getattr(ac, "simulate_many", None)
    seed = [10_000]

    def loop_static(budgets):
        for t in budgets:
            hw = ac.load_system("alpine-tight", cores=8)
            ac.simulate(net, hw, allocation="greedy-benefit", balancer="static-balanced",
                        tiles=t)
        return len(budgets)

    def loop_steal(n, new_seed):
        for _ in range(n):
            if new_seed:
                seed[0] += 1
            hw = ac.load_system("alpine-tight", cores=8)
            ac.simulate(net, hw, allocation="greedy-benefit", balancer="work-stealing",
                        tiles=160, seed=seed[0])
        return n

    def many(budgets):
        hw = ac.load_system("alpine-tight", cores=8)
        if batched is None:  # the previous version: one simulate per budget
            return loop_static(budgets)
        batched(net, hw, tiles=budgets, allocation="greedy-benefit")
        return len(budgets)

    static_budgets = list(range(4, 441, 4))
    many_budgets = list(range(2000)) if batched is not None else list(range(0, 2000, 7))
    steal_n = 200 if batched is not None else 20
    runs = {"loop static": lambda: loop_static(static_budgets),
            "loop steal, new seed": lambda: loop_steal(steal_n, True),
            "loop steal, same seed": lambda: loop_steal(steal_n, False),
            "batched static": lambda: many(many_budgets)}
    out = {}
    for case in CASES:
        runs[case]()  # compile, fill the caches a sweep would have filled
        rates = []
        for _ in range(repeats):
            t = time.process_time()
            n = runs[case]()
            rates.append(n / (time.process_time() - t))
        out[case] = rates
    return out


def baseline(rev: str, repeats: int) -> dict[str, list[float]]:
    """:func:`measure` on git revision ``rev`` of this repository, in a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = dict(os.environ, PYTHONPATH=tmp)
        done = subprocess.run([sys.executable, __file__, "--json", "--repeats", str(repeats)],
                              env=env, cwd=tmp, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", metavar="REV", help="git revision to compare against")
    parser.add_argument("--json", action="store_true", help="print the rates as JSON only")
    args = parser.parse_args()
    now = measure(args.repeats)
    if args.json:
        print(json.dumps(now))
        return
    old = baseline(args.baseline, args.repeats) if args.baseline else None
    print(f"configurations per CPU-second, median of {args.repeats} (ResNet-50, 8 cores, "
          f"alpine-tight, greedy-benefit)")
    head = f"{'case':24s}{'this version':>14s}{'goal':>9s}"
    if old:
        head += f"{args.baseline:>14s}{'ratio':>9s}"
    print(head)
    for case in CASES:
        med = statistics.median(now[case])
        goal = GOALS.get(case)
        line = f"{case:24s}{med:14,.0f}{(f'{goal:,}' if goal else '-'):>9s}"
        if old:
            before = statistics.median(old[case])
            line += f"{before:14,.0f}{med / before:8.1f}x"
        print(line)


if __name__ == "__main__":
    main()
