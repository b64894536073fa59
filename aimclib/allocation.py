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

Strategies live in the registry :data:`ALLOCATIONS`: a new one is one :class:`Allocation`
registered there (its choice function, whether it needs the cost table, its plot colour and
marker).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba
import numpy as np

from .errors import ParameterError
from .registry import Registry
from .validation import check_choice, check_int


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
    """Next unit with the largest cost saving per tile, until nothing more fits or helps.

    A heap holds each layer's next unit keyed by (-saving per tile, layer index); a unit that
    no longer fits never will (the budget only shrinks), so its layer drops out.
    """
    units = np.zeros(len(unit_tiles), dtype=np.int64)
    left = budget

    def entry(lay: int):
        u = units[lay]
        tiles = unit_tiles[lay]
        if u >= len(tiles):
            return None
        gain = (cost[lay][u] - cost[lay][u + 1]) / tiles[u]
        return (-gain, lay) if gain > 0 else None

    heap = [e for e in (entry(lay) for lay in range(len(unit_tiles))) if e is not None]
    heapq.heapify(heap)
    while heap:
        _, lay = heapq.heappop(heap)
        need = int(unit_tiles[lay][units[lay]])
        if need > left:
            continue
        left -= need
        units[lay] += 1
        nxt = entry(lay)
        if nxt is not None:
            heapq.heappush(heap, nxt)
    return units


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


def knapsack_options(unit_tiles: Sequence[np.ndarray], cost: Sequence[np.ndarray]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The knapsack's option arrays ``(ptr, tiles, cost)``: per layer one option per number
    of mapped units, its tiles and its cost. Reusable across budgets."""
    ptr = np.concatenate([[0], np.cumsum([len(ut) + 1 for ut in unit_tiles])]).astype(np.int64)
    tiles = np.concatenate([np.concatenate([[0], np.cumsum(ut)]) for ut in unit_tiles])
    vals = np.concatenate([np.asarray(c, dtype=np.float64) for c in cost])
    return ptr, tiles.astype(np.int64), vals


def optimal(unit_tiles: Sequence[np.ndarray], cost: Sequence[np.ndarray], budget: int,
            options: tuple | None = None) -> np.ndarray:
    """Exact minimum of ``sum_l cost[l][u_l]`` subject to ``sum_l tiles_l(u_l) <= budget``.

    ``options`` may pass :func:`knapsack_options` precomputed for these tables.
    """
    ptr, tiles, vals = options if options is not None else knapsack_options(unit_tiles, cost)
    need = int(tiles[ptr[1:] - 1].sum())  # every layer fully mapped
    return knapsack_kernel(ptr, tiles, vals, int(min(budget, need)))


@dataclass(frozen=True)
class Allocation:
    """An allocation strategy.

    ``choose(budget, unit_tiles, weights, reuse, cost, prepared)`` returns the units mapped per
    MVM layer (arguments as in :func:`allocate`). ``needs_cost``: it reads the per-layer cost
    table; ``prepare(unit_tiles, cost)``, when given, derives from that table what every budget
    reuses (kept with the table by the caller). ``color`` and ``marker`` draw it in figures.
    """

    name: str
    choose: Callable[..., np.ndarray]
    needs_cost: bool = False
    prepare: Callable | None = None
    color: str = "#444444"
    marker: str = "o"


def _ordered_by(key: str) -> Callable[..., np.ndarray]:
    """A choice function filling layers in the order of ``weights`` or ``reuse``, most first."""
    def choose(budget, unit_tiles, weights, reuse, cost, prepared):
        by = weights if key == "weights" else reuse
        return _fill(sorted(range(len(unit_tiles)), key=lambda i: (-by[i], i)), unit_tiles,
                     budget)
    return choose


ALLOCATIONS: Registry[Allocation] = Registry("allocation", [
    # in the order figures list them; black is the optimum the others are measured against
    Allocation("optimal", lambda budget, ut, w, r, cost, prepared: optimal(
        ut, cost, budget, prepared), needs_cost=True, prepare=knapsack_options,
        color="#000000", marker=""),
    Allocation("greedy-benefit", lambda budget, ut, w, r, cost, prepared: greedy(
        ut, cost, budget), needs_cost=True, color="#44AA99", marker="o"),
    Allocation("reuse-first", _ordered_by("reuse"), color="#AA4499", marker="v"),
    Allocation("layer-order", lambda budget, ut, w, r, cost, prepared: _fill(
        range(len(ut)), ut, budget), color="#CC6677", marker="^"),
    Allocation("largest-first", _ordered_by("weights"), color="#999933", marker="s"),
])
"""The allocation strategies by name (a sequence of names; ``ALLOCATIONS.entry(name)``)."""


def allocate(strategy: str, budget: int, unit_tiles: Sequence[np.ndarray],
             weights: Sequence[int], reuse: Sequence[float],
             cost: Sequence[np.ndarray] | None = None, prepared=None) -> np.ndarray:
    """Units mapped per MVM layer for ``strategy`` under ``budget`` tiles.

    ``weights`` and ``reuse`` (MACs per weight) order the simple strategies; ``cost`` (one
    array per layer, indexed by units mapped) drives the strategies that need it
    (``prepared``: the strategy's ``prepare(unit_tiles, cost)``, when the caller keeps it).
    """
    check_choice(strategy, "allocation", ALLOCATIONS, where="allocate")
    budget = check_int(budget, "budget (tiles)", low=0, where="allocate")
    entry = ALLOCATIONS.entry(strategy)
    if entry.needs_cost and cost is None:
        raise ParameterError(f"allocate: allocation {strategy!r} needs the per-layer cost "
                             f"table (cost=)")
    if entry.prepare is not None and prepared is None:
        prepared = entry.prepare(unit_tiles, cost)
    return entry.choose(budget, unit_tiles, weights, reuse, cost, prepared)
