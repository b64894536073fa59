"""Coverage allocation strategies (aimclib.allocation): hand cases, the knapsack DP against
brute-force enumeration, monotonicity in the budget, and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimclib.allocation import ALLOCATIONS, allocate, greedy, optimal
from aimclib.errors import AimcError

# three layers: 3 units of 2 tiles, 2 units of 1 tile, 1 unit of 3 tiles (need 11 tiles)
UNIT_TILES = [np.array([2, 2, 2]), np.array([1, 1]), np.array([3])]
WEIGHTS = [10, 5, 20]
REUSE = [1.0, 2.0, 3.0]
# latency per layer for 0..n units mapped, strictly decreasing
COST = [np.array([9.0, 7.0, 5.0, 4.0]), np.array([6.0, 3.0, 2.5]), np.array([8.0, 2.0])]


def tiles_of(units, unit_tiles=UNIT_TILES):
    return sum(int(t[:u].sum()) for t, u in zip(unit_tiles, units))


def total(units, cost=COST):
    """The network's cost: per-layer costs added in layer order (as the DP adds them)."""
    return sum(float(c[u]) for c, u in zip(cost, units))


def alloc(strategy, budget, cost=COST):
    return allocate(strategy, budget, UNIT_TILES, WEIGHTS, REUSE, cost).tolist()


# --------------------------------------------------------------------------- hand cases
def test_layer_order_fills_in_execution_order_with_partial_layers():
    # budget 5: layer 0 takes 2 of its 3 units (4 tiles), layer 1 one unit (1 tile), layer 2
    # (3 tiles) does not fit.
    assert alloc("layer-order", 5) == [2, 1, 0]
    # budget 7: layer 0 full (6), layer 1 one unit (1); a partial last layer
    assert alloc("layer-order", 7) == [3, 1, 0]


def test_layer_order_skips_a_layer_that_does_not_fit_and_goes_on():
    # budget 9: layer 0 (6), layer 1 (2), 1 tile left: layer 2's unit needs 3
    assert alloc("layer-order", 9) == [3, 2, 0]
    # a later layer can use what an earlier one could not: [3 tiles], [1, 1]
    assert allocate("layer-order", 2, [np.array([3]), np.array([1, 1])], [1, 1],
                    [1, 1]).tolist() == [0, 2]


def test_largest_first_orders_by_weights():
    # order 2 (20), 0 (10), 1 (5): layer 2 takes 3 tiles, layer 0 one unit (2), nothing left
    assert alloc("largest-first", 5) == [1, 0, 1]
    assert alloc("largest-first", 3) == [0, 0, 1]
    assert alloc("largest-first", 2) == [1, 0, 0]


def test_reuse_first_orders_by_macs_per_weight():
    # order 2 (3.0), 1 (2.0), 0 (1.0): layer 2 takes 3, layer 1 both its units (2)
    assert alloc("reuse-first", 5) == [0, 2, 1]
    assert alloc("reuse-first", 8) == [1, 2, 1]


def test_simple_strategies_break_ties_by_layer_order():
    unit_tiles = [np.array([1]), np.array([1]), np.array([1])]
    assert allocate("largest-first", 2, unit_tiles, [5, 7, 7], [1, 1, 1]).tolist() == [0, 1, 1]
    assert allocate("reuse-first", 1, unit_tiles, [1, 1, 1], [4, 4, 4]).tolist() == [1, 0, 0]


def test_greedy_benefit_takes_best_saving_per_tile():
    # savings per tile of the next unit: layer 0: 2/2 = 1, layer 1: 3/1 = 3, layer 2: 6/3 = 2.
    # budget 4: layer 1 (3/tile, 1 tile), then layer 2 (2/tile, 3 tiles): [0, 1, 1], cost 17.
    assert alloc("greedy-benefit", 4) == [0, 1, 1]
    # budget 5 continues with layer 1's second unit (0.5/tile) as layer 0's needs 2 tiles
    assert alloc("greedy-benefit", 5) == [0, 2, 1]


def test_greedy_stops_when_nothing_helps():
    flat = [np.array([5.0, 5.0, 5.0, 5.0]), np.array([1.0, 2.0, 3.0]), np.array([8.0, 8.0])]
    assert alloc("greedy-benefit", 11, flat) == [0, 0, 0]


def test_optimal_hand_case():
    # budget 4: options (units -> tiles, cost): best is layer 2 full (3 tiles, 8 -> 2) plus
    # layer 1 one unit (1 tile, 6 -> 3): total 9 + 3 + 2 = 14. Layer 0 two units instead
    # (4 tiles) gives 5 + 6 + 8 = 19.
    assert alloc("optimal", 4) == [0, 1, 1]
    assert total(alloc("optimal", 4)) == 14.0
    # budget 6: [1, 1, 1] (2 + 1 + 3 tiles): 7 + 3 + 2 = 12; the runner-up [0, 2, 1] (5 tiles)
    # gives 9 + 2.5 + 2 = 13.5, and without layer 2, [2, 2, 0] gives 5 + 2.5 + 8 = 15.5
    assert alloc("optimal", 6) == [1, 1, 1]
    assert total(alloc("optimal", 6)) == 12.0


def test_optimal_keeps_fewer_units_on_ties():
    flat = [np.array([4.0, 4.0, 4.0, 4.0]), np.array([1.0, 1.0, 1.0]), np.array([2.0, 2.0])]
    assert alloc("optimal", 11, flat) == [0, 0, 0]


@pytest.mark.parametrize("strategy", ALLOCATIONS)
def test_budget_zero_maps_nothing(strategy):
    assert alloc(strategy, 0) == [0, 0, 0]


@pytest.mark.parametrize("strategy", ALLOCATIONS)
@pytest.mark.parametrize("budget", [11, 12, 1000])
def test_enough_budget_maps_everything(strategy, budget):
    # COST decreases strictly with units, so the cost-driven strategies map everything too
    assert alloc(strategy, budget) == [3, 2, 1]


# ----------------------------------------------------------------------------- errors
def test_unknown_strategy():
    with pytest.raises(AimcError, match="allocation must be one of optimal.*largest-first, "
                       "got 'random'"):
        alloc("random", 4)


def test_negative_budget():
    with pytest.raises(AimcError, match=r"budget \(tiles\) must be an integer >= 0, got -1"):
        alloc("layer-order", -1)


@pytest.mark.parametrize("strategy", ["greedy-benefit", "optimal"])
def test_cost_driven_strategies_need_the_cost_table(strategy):
    with pytest.raises(AimcError, match=f"{strategy}.*cost table"):
        allocate(strategy, 4, UNIT_TILES, WEIGHTS, REUSE)


# ---------------------------------------------------------------- random small instances
@st.composite
def instances(draw):
    """2-4 layers of <= 4 units (1-3 tiles each, equal within a layer as real mappings are, or
    not), costs per units mapped, and a budget."""
    n_layers = draw(st.integers(2, 4))
    unit_tiles, cost = [], []
    for _ in range(n_layers):
        n = draw(st.integers(1, 4))
        if draw(st.booleans()):
            unit_tiles.append(np.full(n, draw(st.integers(1, 3)), np.int64))
        else:
            unit_tiles.append(np.array(draw(st.lists(st.integers(1, 3), min_size=n,
                                                     max_size=n)), np.int64))
        cost.append(np.array(draw(st.lists(st.floats(0.0, 100.0), min_size=n + 1,
                                            max_size=n + 1))))
    need = sum(int(t.sum()) for t in unit_tiles)
    budget = draw(st.integers(0, need + 2))
    return unit_tiles, cost, budget


def brute_force(unit_tiles, cost, budget):
    """Minimum in-order cost over every combination of units within the budget."""
    best = np.inf
    for units in itertools.product(*(range(len(t) + 1) for t in unit_tiles)):
        if tiles_of(units, unit_tiles) <= budget:
            best = min(best, total(units, cost))
    return best


@settings(max_examples=60, deadline=None)
@given(instances())
def test_optimal_equals_brute_force(inst):
    unit_tiles, cost, budget = inst
    units = optimal(unit_tiles, cost, budget)
    assert all(0 <= u <= len(t) for u, t in zip(units, unit_tiles))
    assert tiles_of(units, unit_tiles) <= budget
    assert total(units, cost) == brute_force(unit_tiles, cost, budget)


@settings(max_examples=40, deadline=None)
@given(instances())
def test_optimal_cost_is_non_increasing_in_budget(inst):
    unit_tiles, cost, _ = inst
    need = sum(int(t.sum()) for t in unit_tiles)
    costs = [total(optimal(unit_tiles, cost, b), cost) for b in range(need + 2)]
    assert all(b <= a for a, b in zip(costs, costs[1:]))


@settings(max_examples=60, deadline=None)
@given(instances())
def test_greedy_never_beats_optimal(inst):
    unit_tiles, cost, budget = inst
    g = greedy(unit_tiles, cost, budget)
    assert tiles_of(g, unit_tiles) <= budget
    assert total(g, cost) >= total(optimal(unit_tiles, cost, budget), cost)


@settings(max_examples=40, deadline=None)
@given(instances(), st.sampled_from(ALLOCATIONS))
def test_every_strategy_stays_within_budget(inst, strategy):
    unit_tiles, cost, budget = inst
    n = len(unit_tiles)
    units = allocate(strategy, budget, unit_tiles, list(range(n)), [1.0] * n, cost)
    assert units.shape == (n,)
    assert all(0 <= u <= len(t) for u, t in zip(units, unit_tiles))
    assert tiles_of(units, unit_tiles) <= budget


@settings(max_examples=40, deadline=None)
@given(instances())
def test_layer_order_maps_each_layer_as_fully_as_the_budget_left_allows(inst):
    unit_tiles, _, budget = inst
    units = allocate("layer-order", budget, unit_tiles, [0] * len(unit_tiles),
                     [0] * len(unit_tiles))
    left = budget
    for t, u in zip(unit_tiles, units):
        used = int(t[:u].sum())
        assert used <= left
        assert u == len(t) or int(t[u]) > left - used  # the next unit would not fit
        left -= used
