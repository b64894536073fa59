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


def greedy(unit_tiles: Sequence[np.ndarray], cost: Sequence[np.ndarray], budget: int,
           prepared: tuple | None = None) -> np.ndarray:
    """Next unit with the largest cost saving per tile, until nothing more fits or helps.

    Each layer offers its next unit, keyed by (-saving per tile, layer index); the smallest
    key is taken; a unit that no longer fits never will (the budget only shrinks), so its
    layer drops out. ``prepared``: :func:`greedy_arrays` of these tables, when the caller
    keeps them.
    """
    ptr, tiles, vals = prepared if prepared is not None else greedy_arrays(unit_tiles, cost)
    return _greedy_kernel(ptr, tiles, vals, int(budget))


def greedy_arrays(unit_tiles: Sequence[np.ndarray], cost: Sequence[np.ndarray]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tables of :func:`greedy` as flat arrays ``(ptr, tiles, cost)``: layer ``l``'s
    units are ``ptr[l]:ptr[l+1]`` of ``tiles``, its costs ``ptr[l] + l`` onwards of ``cost``
    (one more entry than units: 0..n units mapped)."""
    ptr = np.zeros(len(unit_tiles) + 1, np.int64)
    np.cumsum([len(ut) for ut in unit_tiles], out=ptr[1:])
    tiles = (np.concatenate([np.asarray(ut, np.int64) for ut in unit_tiles])
             if unit_tiles else np.zeros(0, np.int64))
    vals = (np.concatenate([np.asarray(c, np.float64) for c in cost])
            if cost else np.zeros(0))
    return ptr, tiles, vals


@numba.njit(cache=True)
def _greedy_kernel(ptr, tiles, vals, budget):
    """:func:`greedy` on flat tables: every layer's saving per tile of its next unit is kept,
    and the largest is taken (the lowest layer on ties), as a heap of (-saving, layer) pops."""
    n = ptr.shape[0] - 1
    units = np.zeros(n, np.int64)
    gain = np.zeros(n)
    active = np.zeros(n, np.bool_)
    for lay in range(n):
        active[lay] = _next_gain(lay, 0, ptr, tiles, vals, gain)
    left = budget
    while True:
        best = -1
        for lay in range(n):
            if active[lay] and (best < 0 or gain[lay] > gain[best]):
                best = lay
        if best < 0:
            break
        need = tiles[ptr[best] + units[best]]
        if need > left:
            active[best] = False
            continue
        left -= need
        units[best] += 1
        active[best] = _next_gain(best, units[best], ptr, tiles, vals, gain)
    return units


@numba.njit(cache=True)
def _next_gain(lay, u, ptr, tiles, vals, gain):
    """Store layer ``lay``'s saving per tile of unit ``u`` in ``gain``; False when it has no
    such unit or the unit saves nothing."""
    if u >= ptr[lay + 1] - ptr[lay]:
        return False
    c = ptr[lay] + lay + u  # the cost table has one entry more per layer than units
    g = (vals[c] - vals[c + 1]) / tiles[ptr[lay] + u]
    gain[lay] = g
    return g > 0


@numba.njit(cache=True)
def knapsack_kernel(opt_ptr, opt_tiles, opt_cost, budget):
    """Multiple-choice knapsack: one option per group, total tiles <= budget, minimum cost.

    Options of group ``l`` are ``opt_ptr[l]:opt_ptr[l+1]`` (option 0 of each group must cost 0
    tiles). Returns the chosen option index within each group.
    """
    return _knapsack_pick(_knapsack_table(opt_ptr, opt_tiles, opt_cost, budget), opt_ptr,
                          opt_tiles, budget)


@numba.njit(cache=True)
def _knapsack_table(opt_ptr, opt_tiles, opt_cost, budget):
    """The knapsack's choice table ``choice[group, b]`` for every budget ``b <= budget``
    (a budget's entries do not depend on the larger ones)."""
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
    return choice


@numba.njit(cache=True)
def _knapsack_pick(choice, opt_ptr, opt_tiles, budget):
    """The option of each group for ``budget``, read back from the choice table."""
    n_groups = choice.shape[0]
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


def optimal_many(budgets: Sequence[int], unit_tiles: Sequence[np.ndarray],
                 cost: Sequence[np.ndarray], options: tuple | None = None) -> np.ndarray:
    """:func:`optimal` for every budget of ``budgets`` (one row each), from one table."""
    ptr, tiles, vals = options if options is not None else knapsack_options(unit_tiles, cost)
    need = int(tiles[ptr[1:] - 1].sum())
    caps = [int(min(b, need)) for b in budgets]
    choice = _knapsack_table(ptr, tiles, vals, max(caps, default=0))
    return np.array([_knapsack_pick(choice, ptr, tiles, b) for b in caps],
                    np.int64).reshape(len(caps), len(ptr) - 1)


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
    reuses (kept with the table by the caller). ``choose_many(budgets, unit_tiles, weights,
    reuse, cost, prepared)``, when given, chooses for many budgets at once (one row each, the
    same as ``choose`` for each). ``color`` and ``marker`` draw it in figures.
    """

    name: str
    choose: Callable[..., np.ndarray]
    needs_cost: bool = False
    prepare: Callable | None = None
    choose_many: Callable | None = None
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
        choose_many=lambda budgets, ut, w, r, cost, prepared: optimal_many(
            budgets, ut, cost, prepared), color="#000000", marker=""),
    Allocation("greedy-benefit", lambda budget, ut, w, r, cost, prepared: greedy(
        ut, cost, budget, prepared), needs_cost=True, prepare=greedy_arrays,
        color="#44AA99", marker="o"),
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
