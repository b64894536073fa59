"""simulate_many: every row equals simulate(...).summary() of the same configuration, bit for
bit (it is the same model computed for many budgets at once)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimclib import load_system, simulate
from aimclib.batch import SUMMARY_COLUMNS, mapping_rows, simulate_many
from aimclib.errors import AimcError
from aimclib.placement import place_tiles

BUDGETS = [0, 3, 16, 40, 16, 200, 7]


def _check_rows(table, net, preset, **kw):
    assert list(table["tiles"]) == BUDGETS
    for _, row in table.iterrows():
        s = simulate(net, preset, tiles=int(row["tiles"]), **kw).summary()
        for col in SUMMARY_COLUMNS[1:]:
            assert row[col] == s[col], (row["tiles"], col)
        for comp, v in s["breakdown"].items():
            assert row[f"{comp}_j"] == v["joules"], (row["tiles"], comp)


@pytest.mark.parametrize("preset", ["alpine-tight", "alpine-loose"])
@pytest.mark.parametrize("allocation,balancer", [
    ("optimal", "static-balanced"), ("greedy-benefit", "static-even"),
    ("layer-order", "work-stealing"), ("optimal", "work-stealing")])
def test_rows_equal_single_simulations(preset, allocation, balancer):
    kw = dict(allocation=allocation, balancer=balancer, seed=3, cores=4)
    _check_rows(simulate_many("resnet18", preset, tiles=BUDGETS, **kw), "resnet18", preset,
                **kw)


@pytest.mark.slow
@pytest.mark.parametrize("net", ["mobilenet_v2", "inception_v3"])
def test_rows_equal_single_simulations_energy_objective(net):
    kw = dict(allocation="optimal", objective="energy", cores=8)
    _check_rows(simulate_many(net, "alpine-tight", tiles=BUDGETS, **kw), net, "alpine-tight",
                **kw)


def test_first_placement_and_uneven_budgets():
    kw = dict(allocation="greedy-benefit", cores=3)
    sys_first = load_system("alpine-tight", tile_placement="first")
    table = simulate_many("resnet18", sys_first, tiles=BUDGETS, **kw)
    _check_rows(table, "resnet18", sys_first, **kw)


def test_bad_budgets_are_refused():
    with pytest.raises(AimcError, match="tiles must be an integer >= 0"):
        simulate_many("resnet18", tiles=[4, -1])
    with pytest.raises(AimcError, match="balancer must be one of"):
        simulate_many("resnet18", tiles=[4], balancer="magic")


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 16), st.integers(0, 300), st.sampled_from(["even", "first"]),
       st.sampled_from(["tight", "loose"]), st.lists(st.integers(0, 24), min_size=1,
                                                     max_size=12))
def test_mapping_rows_give_the_placement(cores, budget, placement, coupling, layer_tiles):
    hw = load_system("alpine-tight", cores=cores, tile_placement=placement, coupling=coupling)
    budget = max(budget, sum(layer_tiles))
    expected = place_tiles(hw.with_tiles(budget), layer_tiles)
    tiles = np.array([layer_tiles], np.int64)
    cfg, lay = np.nonzero(tiles)
    rows, owners = mapping_rows(hw, [budget], tiles, cfg, lay, tiles)
    for row, k in zip(rows, lay):
        assert owners(row, int(tiles[0, k])).tolist() == expected[k].tolist()
