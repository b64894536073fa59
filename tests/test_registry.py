"""Strategy registries: a balancer or an allocation strategy is added by registering one entry
(no other file changes), and the compiled helpers of the fast paths are exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from aimclib import figstyle, simulate
from aimclib.accounting import pairwise_sum
from aimclib.allocation import ALLOCATIONS, Allocation
from aimclib.balancing import BALANCERS, TASK_FIELDS, Balancer, _Builder, even_tasks
from aimclib.errors import ParameterError, UnknownNameError
from aimclib.registry import Registry
from aimclib.placement import place_tiles
from aimclib.scheduling import arrays_of, workload_for
from aimclib.system import load_system
from aimclib.validation import MAX_SEED, stream_seed, stream_seeds
from aimclib.zoo import get_network

NET = "resnet18"


def _all_on_core_zero(b, tight, chunks):
    """A toy balancer: the whole layer digitally on core 0 (tiles unused)."""
    b.digital(0, b.w.pixels)


def _smallest_first(budget, unit_tiles, weights, reuse, cost, prepared):
    """A toy allocation: one unit of every layer, fewest weights first, while it fits."""
    units = np.zeros(len(unit_tiles), np.int64)
    for lay in sorted(range(len(unit_tiles)), key=lambda i: (weights[i], i)):
        if len(unit_tiles[lay]) and unit_tiles[lay][0] <= budget:
            budget -= int(unit_tiles[lay][0])
            units[lay] = 1
    return units


@pytest.fixture
def toy_balancer():
    BALANCERS.register(Balancer("core-zero", _all_on_core_zero, line=":", hatch="xx"))
    yield "core-zero"
    BALANCERS.unregister("core-zero")


@pytest.fixture
def toy_allocation():
    ALLOCATIONS.register(Allocation("smallest-first", _smallest_first, color="#117733",
                                    marker="x"))
    yield "smallest-first"
    ALLOCATIONS.unregister("smallest-first")


def test_a_registered_balancer_runs_and_is_drawn(toy_balancer):
    r = simulate(NET, cores=4, tiles=16, balancer=toy_balancer)
    even = simulate(NET, cores=4, tiles=16, balancer="static-even")
    # everything on one core: the latency is the whole network's digital work, so slower
    assert r.latency_s > even.latency_s
    assert all(set(s.ran_on.tolist()) <= {0} for s in r.schedules)
    assert (r.cores.busy_s[1:] == 0).all()
    assert figstyle.balancer_lines()[toy_balancer] == ":"
    assert figstyle.balancer_hatches()[toy_balancer] == "xx"


def test_a_registered_allocation_runs_and_is_drawn(toy_allocation):
    r = simulate(NET, cores=4, tiles=30, allocation=toy_allocation)
    assert set(r.units.tolist()) <= {0, 1}
    assert 0 < r.tiles_used <= 30
    assert figstyle.allocation_colors()[toy_allocation] == "#117733"
    assert figstyle.allocation_markers()[toy_allocation] == "x"


def test_registry_names_and_errors():
    reg = Registry("widget", [Allocation("a", _smallest_first), Allocation("b", _smallest_first)])
    assert list(reg) == ["a", "b"] and reg[1] == "b" and "a" in reg and len(reg) == 2
    with pytest.raises(ParameterError, match="widget 'a' is already registered"):
        reg.register(Allocation("a", _smallest_first))
    with pytest.raises(UnknownNameError, match="unknown widget 'c'; known: a, b"):
        reg.entry("c")
    reg.unregister("a")
    assert list(reg) == ["b"]


def test_unregistered_strategies_are_refused():
    with pytest.raises(ParameterError, match="balancer must be one of"):
        simulate(NET, balancer="core-zero")


def _bits(x) -> bytes:
    """The float's bytes: equal sums must be equal to the sign of a zero."""
    return np.float64(x).tobytes()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-1e12, 1e12, allow_nan=False), max_size=700))
def test_pairwise_sum_is_numpy_sum(values):
    a = np.array(values, np.float64)
    assert _bits(pairwise_sum(a, len(a))) == _bits(np.sum(a))


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 255, 1000, 5003])
def test_pairwise_sum_is_numpy_sum_at_block_edges(n):
    a = np.random.default_rng(n).random(n) * 10.0 ** np.random.default_rng(1).integers(
        -9, 3, n)
    assert _bits(pairwise_sum(a, n)) == _bits(np.sum(a))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, MAX_SEED), st.lists(st.integers(0, 2**32 - 1), max_size=5))
def test_stream_seeds_are_seedsequence_streams(seed, streams):
    assert stream_seeds(seed, streams).tolist() == [stream_seed(seed, s) for s in streams]


@pytest.mark.parametrize("preset", ["alpine-tight", "alpine-loose"])
@pytest.mark.parametrize("net, cores, tiles", [("resnet18", 8, 60), ("mobilenet_v2", 3, 37),
                                               ("googlenet", 5, 300)])
def test_even_cut_is_the_plain_python_split(preset, net, cores, tiles):
    """The compiled even cut of every layer, with 1, 3 and 4 chunks per core, equals the
    plain-Python split priced task by task by balancing._Builder, bit for bit (layers with
    every unit mapped, with some, and with none; linear layers with fewer positions than
    cores)."""
    network = get_network(net)
    hw = load_system(preset, cores=cores).with_tiles(tiles)
    wl = workload_for(network, hw)
    for fill in (1.0, 0.5, 0.0):
        units = np.array([int(w.n_units * fill) if w.mapping is not None else 0
                          for w in wl.layers], np.int64)
        per_layer = [w.mapping.tiles_for(int(u)) if w.mapping is not None else 0
                     for w, u in zip(wl.layers, units)]
        owners = place_tiles(hw.with_tiles(sum(per_layer)), per_layer)
        for chunks in (1, 3, 4):
            tasks, ptr = even_tasks(arrays_of(wl), np.arange(len(units)), units, owners,
                                    cores, preset == "alpine-tight", chunks)
            for i, w in enumerate(wl.layers):
                b = _Builder(w, int(units[i]), owners[i], cores, hw)
                naive.even_split(b, preset == "alpine-tight", chunks)
                want = b.build()
                got = tasks.slice(ptr[i], ptr[i + 1])
                for f in TASK_FIELDS:
                    assert getattr(got, f).tobytes() == getattr(want, f).tobytes(), (i, f)


@pytest.mark.parametrize("net, cores, tiles", [("resnet18", 8, 400), ("mobilenet_v2", 3, 500),
                                               ("googlenet", 5, 300)])
def test_loose_chunk_deal_is_the_plain_python_deal(net, cores, tiles):
    """static-balanced's loose deal of analog chunks, priced for all chunks at once, equals
    the chunk-by-chunk reference bit for bit (tasks and loads), for layers with every unit
    mapped, some, and with copies (aimclib.replication's unit-copies, each with its share of
    the positions)."""
    from aimclib.balancing import _deal_loose_chunks
    from aimclib.replication import copy_cap, expanded_work, unit_positions

    hw = load_system("alpine-loose", cores=cores).with_tiles(tiles)
    wl = workload_for(get_network(net), hw)
    for w in wl.mvm_layers:
        n = w.n_units
        for u in sorted({max(1, n // 2), n, n * copy_cap(w, hw), n + max(1, n // 3)}):
            if u > n * copy_cap(w, hw):
                continue
            work = expanded_work(w, u) if u > n else w
            got_b, want_b = (_Builder(work, u, np.full(10 ** 5, -1), cores, hw)
                             for _ in range(2))
            if u > n:
                got_b.unit_px = want_b.unit_px = unit_positions(w.pixels, u, n)
            got_load = _deal_loose_chunks(got_b)
            want_load = naive.loose_chunks(want_b)
            assert got_load.tobytes() == want_load.tobytes(), (w.info.name, u)
            got, want = got_b.build(), want_b.build()
            for f in TASK_FIELDS:
                assert getattr(got, f).tobytes() == getattr(want, f).tobytes(), (w.info.name, u, f)
