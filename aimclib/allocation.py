"""Coverage allocation: which mapping units of which layers go on a budget of T tiles.

Each conv/linear layer offers its mapping units (:mod:`aimclib.mapping`): mapping ``u`` of them
costs ``tiles_for(u)`` tiles and leaves the rest of the layer digital. Units within a layer are
interchangeable (balanced blocks differ by at most one row or column), so an allocation is one
number per layer: how many of its units are mapped. Strategies:

* ``layer-order``: layers in execution order, each mapped as fully as the budget allows.
* ``largest-first``: layers by MVM weights, most first.
* ``reuse-first``: layers by MACs per weight (output positions), most first.
* ``greedy-benefit``: repeatedly the next unit with the most latency saved per tile, from the
  per-layer cost table (skipping units that no longer fit).
* ``optimal``: exact multiple-choice knapsack by dynamic programming over tiles: per layer one
  option per ``u``, weight ``tiles_for(u)``, value the layer's cost; minimises the sum of the
  layers' costs, which is the network's latency (or energy) in barrier mode.

The cost table (``cost[l][u]``) comes from the simulator: the layer alone, static-balanced, with
its tiles spread over the tile-owning cores (:func:`aimclib.simulate.cost_table`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from .errors import AimcError

ALLOCATIONS = ("layer-order", "largest-first", "reuse-first", "greedy-benefit", "optimal")


def _fill(order: Sequence[int], unit_tiles: Sequence[np.ndarray], budget: int) -> np.ndarray:
    """Map layers in ``order`` as fully as the remaining budget allows (partial layers too)."""
    units = np.zeros(len(unit_tiles), dtype=np.int64)
    left = budget
    for lay in order:
        cum = np.cumsum(unit_tiles[lay])
        u = int(np.searchsorted(cum, left, side="right"))
        units[lay] = u
        left -= int(cum[u - 1]) if u else 0
    return units


def greedy(unit_tiles: Sequence[np.ndarray], cost: Sequence[np.ndarray], budget: int
           ) -> np.ndarray:
    """Next unit with the largest cost saving per tile, until nothing more fits or helps."""
    units = np.zeros(len(unit_tiles), dtype=np.int64)
    left = budget
    while True:
        best, best_gain = -1, 0.0
        for lay, tiles in enumerate(unit_tiles):
            u = units[lay]
            if u >= len(tiles) or tiles[u] > left:
                continue
            gain = (cost[lay][u] - cost[lay][u + 1]) / tiles[u]
            if gain > best_gain:
                best, best_gain = lay, gain
        if best < 0:
            return units
        left -= int(unit_tiles[best][units[best]])
        units[best] += 1


@numba.njit(cache=True)
def knapsack_kernel(opt_ptr, opt_tiles, opt_cost, budget):
    """Multiple-choice knapsack: one option per group, total tiles <= budget, minimum cost.

    Options of group ``l`` are ``opt_ptr[l]:opt_ptr[l+1]`` (option 0 of each group must cost 0
    tiles). Returns the chosen option index within each group.
    """
    n_groups = opt_ptr.shape[0] - 1
    inf = np.inf
    best = np.zeros(budget + 1)
    choice = np.zeros((n_groups, budget + 1), np.int64)
    for g in range(n_groups):
        new = np.full(budget + 1, inf)
        for b in range(budget + 1):
            for j in range(opt_ptr[g], opt_ptr[g + 1]):
                w = opt_tiles[j]
                if w > b:
                    continue
                v = best[b - w] + opt_cost[j]
                # options run from 0 units up: strict improvement keeps fewer units on ties
                if v < new[b]:
                    new[b] = v
                    choice[g, b] = j - opt_ptr[g]
        best = new
    picked = np.zeros(n_groups, np.int64)
    b = budget
    for g in range(n_groups - 1, -1, -1):
        j = choice[g, b]
        picked[g] = j
        b -= opt_tiles[opt_ptr[g] + j]
    return picked


def optimal(unit_tiles: Sequence[np.ndarray], cost: Sequence[np.ndarray], budget: int
            ) -> np.ndarray:
    """Exact minimum of ``sum_l cost[l][u_l]`` subject to ``sum_l tiles_l(u_l) <= budget``."""
    need = int(sum(int(t.sum()) for t in unit_tiles))
    budget = min(budget, need)
    ptr = [0]
    tiles, vals = [], []
    for lay, ut in enumerate(unit_tiles):
        tiles.append(np.concatenate([[0], np.cumsum(ut)]))
        vals.append(np.asarray(cost[lay], dtype=np.float64))
        ptr.append(ptr[-1] + len(ut) + 1)
    return knapsack_kernel(np.array(ptr, np.int64), np.concatenate(tiles).astype(np.int64),
                           np.concatenate(vals), int(budget))


def allocate(strategy: str, budget: int, unit_tiles: Sequence[np.ndarray],
             weights: Sequence[int], reuse: Sequence[float],
             cost: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Units mapped per MVM layer for ``strategy`` under ``budget`` tiles.

    ``weights`` and ``reuse`` (MACs per weight) order the simple strategies; ``cost`` (one
    array per layer, indexed by units mapped) drives ``greedy-benefit`` and ``optimal``.
    """
    if strategy not in ALLOCATIONS:
        raise AimcError(f"unknown allocation {strategy!r}; choose one of {', '.join(ALLOCATIONS)}")
    if budget < 0:
        raise AimcError(f"the tile budget must be >= 0, got {budget}")
    n = len(unit_tiles)
    if strategy == "layer-order":
        return _fill(range(n), unit_tiles, budget)
    if strategy == "largest-first":
        return _fill(sorted(range(n), key=lambda i: (-weights[i], i)), unit_tiles, budget)
    if strategy == "reuse-first":
        return _fill(sorted(range(n), key=lambda i: (-reuse[i], i)), unit_tiles, budget)
    if cost is None:
        raise AimcError(f"allocation {strategy!r} needs the per-layer cost table")
    if strategy == "greedy-benefit":
        return greedy(unit_tiles, cost, budget)
    return optimal(unit_tiles, cost, budget)
