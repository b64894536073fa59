"""The Numba event-driven engine against the plain-Python reference (tests/naive_engine.py).

Hand cases (with their makespans worked out in comments) and hypothesis-generated task sets
must give the same start, end, core, how and layer times as the reference. Durations are
dyadic rationals (multiples of 1/4), so every sum is exact and comparisons are exact too.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import naive_engine
from aimclib.engine import (KIND_DIGITAL, KIND_LOOSE, KIND_TIGHT, RAN_ANALOG, RAN_DIGITAL,
                            RAN_STOLEN_DIGITAL, VICTIM_MOST_LOADED, VICTIM_RANDOM,
                            simulate_barrier_kernel, simulate_kernel)

D, T, L = KIND_DIGITAL, KIND_TIGHT, KIND_LOOSE


def task(kind=D, core=0, core_s=1.0, tile=-1, tile_s=0.0, bus_s=0.0, alt_s=0.0):
    return (kind, core, tile, core_s, tile_s, bus_s, alt_s)


def arrays(layers, preds=None):
    """Kernel inputs from ``layers`` (lists of :func:`task` tuples) and ``preds`` (per layer,
    its predecessor layers; default: a chain, each layer after the previous one)."""
    if preds is None:
        preds = [[lay - 1] if lay else [] for lay in range(len(layers))]
    rows = [t for tasks in layers for t in tasks]
    cols = list(zip(*rows)) if rows else [()] * 7
    ints = [np.array(c, np.int64) for c in cols[:3]]
    floats = [np.array(c, np.float64) for c in cols[3:]]
    ptr = np.concatenate([[0], np.cumsum([len(x) for x in layers])]).astype(np.int64)
    pred_ptr = np.concatenate([[0], np.cumsum([len(p) for p in preds])]).astype(np.int64)
    pred = np.array([p for ps in preds for p in ps], np.int64)
    layer_of = np.repeat(np.arange(len(layers)), [len(x) for x in layers]).astype(np.int64)
    return (layer_of, *ints, *floats, ptr, pred_ptr, pred)


def run(layers, preds=None, cores=1, tiles=1, steal=False, steal_s=0.0,
        victim=VICTIM_MOST_LOADED, seed=0, barrier=False):
    """Run the kernel and the reference; assert they agree and return the kernel's result as
    ``(start, end, core, how, release, layer_end)``."""
    args = (*arrays(layers, preds), cores, tiles, steal, steal_s, victim, seed, barrier)
    got = simulate_kernel(*args)
    assert_same(got, naive_engine.simulate(*args))
    if preds is None:  # a chain: each layer alone through the barrier kernel agrees too
        assert_same_barrier(args[:9], cores, tiles, steal, steal_s, victim,
                            np.arange(len(layers), dtype=np.int64) + seed)
    return got[:4] + got[5:]  # the tile start times are compared above, not returned


def assert_same_barrier(task_arrays, cores, tiles, steal, steal_s, victim, seeds):
    """:func:`simulate_barrier_kernel` equals the reference, exactly (rounding included)."""
    args = (*task_arrays, cores, tiles, steal, steal_s, victim, seeds)
    names = ("start", "end", "core", "how", "tile_start", "makespan")
    for name, g, w in zip(names, simulate_barrier_kernel(*args),
                          naive_engine.simulate_barrier(*args)):
        np.testing.assert_array_equal(g, w, err_msg=name)


def assert_same(got, want):
    names = ("start", "end", "core", "how", "tile_start", "release", "layer_end")
    for name, g, w in zip(names, got, want):
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)


# ------------------------------------------------------------------------------ hand cases
def test_single_digital_task():
    start, end, core, how, release, layer_end = run([[task(core_s=3.0)]])
    assert (start.tolist(), end.tolist(), core.tolist(), how.tolist()) == (
        [0.0], [3.0], [0], [RAN_DIGITAL])
    assert (release.tolist(), layer_end.tolist()) == ([0.0], [3.0])


def test_two_cores_five_equal_tasks_stealing():
    # All five unit tasks start in core 0's deque; stealing costs 0.5.
    # t=0:   core 0 pops T0 (0-1); core 1 steals the back task T4, runs 0.5-1.5.
    # t=1:   core 0 pops T1 (1-2).   t=1.5: core 1 steals T3, runs 2-3.
    # t=2:   core 0 pops T2 (2-3).   Makespan 3 (5 without stealing).
    layers = [[task(core=0) for _ in range(5)]]
    start, end, core, how, _, layer_end = run(layers, cores=2, steal=True, steal_s=0.5)
    assert start.tolist() == [0.0, 1.0, 2.0, 2.0, 0.5]
    assert end.tolist() == [1.0, 2.0, 3.0, 3.0, 1.5]
    assert core.tolist() == [0, 0, 0, 1, 1]
    assert layer_end.tolist() == [3.0]
    *_, no_steal = run(layers, cores=2)
    assert no_steal.tolist() == [5.0]


def test_two_cores_five_equal_tasks_dealt():
    # Dealt 3 + 2 without stealing: core 0 ends at 3, core 1 at 2.
    layers = [[task(core=c) for c in (0, 0, 0, 1, 1)]]
    start, end, core, _, _, layer_end = run(layers, cores=2)
    assert start.tolist() == [0.0, 1.0, 2.0, 0.0, 1.0]
    assert core.tolist() == [0, 0, 0, 1, 1]
    assert layer_end.tolist() == [3.0]


def test_tight_thief_converts_digitally():
    # Core 0 owns three tight tasks (2 s on its tile, 3 s digitally); core 1 has no work.
    # t=0: core 0 starts A (0-2), queue B, C = 4 s. Core 1 looks at C: 0 + 3 < 2 + 4 = 6, so it
    # computes C digitally (0-3). t=2: core 0 runs B (2-4). Makespan 4 instead of 6.
    layers = [[task(T, 0, 2.0, tile=0, alt_s=3.0) for _ in range(3)]]
    start, end, core, how, _, layer_end = run(layers, cores=2, steal=True)
    assert start.tolist() == [0.0, 2.0, 0.0]
    assert end.tolist() == [2.0, 4.0, 3.0]
    assert core.tolist() == [0, 0, 1]
    assert how.tolist() == [RAN_ANALOG, RAN_ANALOG, RAN_STOLEN_DIGITAL]
    assert layer_end.tolist() == [4.0]


@pytest.mark.parametrize("alt_s", [6.0, 9.0])
def test_tight_thief_must_not_take(alt_s):
    # Same, digital alternative 6 s: at t=0, 0 + 6 < 2 + 4 fails (strict); at t=2, 2 + 6 < 4 + 2
    # fails. The owner runs all three on its tile: makespan 6, core 1 never works.
    layers = [[task(T, 0, 2.0, tile=0, alt_s=alt_s) for _ in range(3)]]
    start, end, core, how, _, layer_end = run(layers, cores=2, steal=True)
    assert start.tolist() == [0.0, 2.0, 4.0]
    assert core.tolist() == [0, 0, 0]
    assert how.tolist() == [RAN_ANALOG] * 3
    assert layer_end.tolist() == [6.0]


def test_tight_rule_counts_steal_latency():
    # alt 3 s would win (3 < 6) but stealing costs 3 s too: 0 + 3 + 3 < 6 fails.
    layers = [[task(T, 0, 2.0, tile=0, alt_s=3.0) for _ in range(3)]]
    *_, how, _, layer_end = run(layers, cores=2, steal=True, steal_s=3.0)
    assert how.tolist() == [RAN_ANALOG] * 3
    assert layer_end.tolist() == [6.0]


def test_loose_tasks_contend_for_one_tile():
    # Two loose tasks on tile 0, one per core: core part 1 s, tile 4 s, bus 1 s.
    # A: core 0-1, tile 0-4, bus 0-1 -> ends 4. B: core 0-1, bus 1-2, tile waits for A and
    # runs 4-8 -> ends 8. The cores are free at 1; the layer ends at 8.
    layers = [[task(L, 0, 1.0, tile=0, tile_s=4.0, bus_s=1.0),
               task(L, 1, 1.0, tile=0, tile_s=4.0, bus_s=1.0)]]
    start, end, core, how, _, layer_end = run(layers, cores=2)
    assert start.tolist() == [0.0, 0.0]
    assert end.tolist() == [4.0, 8.0]
    assert how.tolist() == [RAN_ANALOG, RAN_ANALOG]
    assert layer_end.tolist() == [8.0]


def test_loose_tasks_contend_for_the_bus():
    # Two tiles, tile 1 s, bus 3 s, both issued at 0: A holds the bus 0-3 (ends 3); B's tile
    # runs 0-1 but its transfers wait for the bus, 3-6, so B ends at 6.
    layers = [[task(L, 0, 1.0, tile=0, tile_s=1.0, bus_s=3.0),
               task(L, 1, 1.0, tile=1, tile_s=1.0, bus_s=3.0)]]
    _, end, *_, layer_end = run(layers, cores=2, tiles=2)
    assert end.tolist() == [3.0, 6.0]
    assert layer_end.tolist() == [6.0]


def test_loose_tile_is_free_after_its_mvms():
    # Two loose tasks on tile 0, one per core: core part 0.5 s, tile 1 s; A's transfers take
    # 3 s, B's 0.5 s. A: tile 0-1, bus 0-3 -> ends 3. B: its tile part can run 1-2 (the tile is
    # busy tile_s from max(start, tile free)), bus 3-3.5 -> ends 3.5. The kernel holds the tile
    # for A until A's transfers end (3), so B's tile runs 3-4 and B ends at 4.
    layers = [[task(L, 0, 0.5, tile=0, tile_s=1.0, bus_s=3.0),
               task(L, 1, 0.5, tile=0, tile_s=1.0, bus_s=0.5)]]
    _, end, *_ = run(layers, cores=2)
    assert end.tolist() == [3.0, 3.5]


def test_loose_core_is_free_after_its_part():
    # One core, two loose tasks on two tiles: the core part is 1 s, the tile 5 s, so the
    # second task starts at 1 while the first tile is still busy; layer ends at 6.
    layers = [[task(L, 0, 1.0, tile=0, tile_s=5.0), task(L, 0, 1.0, tile=1, tile_s=5.0)]]
    start, end, *_, layer_end = run(layers, tiles=2)
    assert start.tolist() == [0.0, 1.0]
    assert end.tolist() == [5.0, 6.0]
    assert layer_end.tolist() == [6.0]


def test_stolen_loose_task_runs_analog():
    # A loose task can be run by any core: the thief keeps it analog, starting after steal_s.
    layers = [[task(L, 0, 1.0, tile=0, tile_s=2.0), task(L, 0, 1.0, tile=1, tile_s=2.0)]]
    start, end, core, how, _, _ = run(layers, cores=2, tiles=2, steal=True, steal_s=0.25)
    assert core.tolist() == [0, 1]
    assert how.tolist() == [RAN_ANALOG, RAN_ANALOG]
    assert start.tolist() == [0.0, 0.25]
    assert end.tolist() == [2.0, 2.25]


def test_dag_diamond():
    # A -> (B, C) -> D on 2 cores; B on core 0 (2 s), C on core 1 (3 s). B and C start when A
    # ends (1); D starts when both have ended (4) and ends at 5.
    layers = [[task(core=0)], [task(core=0, core_s=2.0)], [task(core=1, core_s=3.0)],
              [task(core=0)]]
    start, end, _, _, release, layer_end = run(layers, [[], [0], [0], [1, 2]], cores=2)
    assert release.tolist() == [0.0, 1.0, 1.0, 4.0]
    assert layer_end.tolist() == [1.0, 3.0, 4.0, 5.0]
    assert start.tolist() == [0.0, 1.0, 1.0, 4.0]


def test_dag_simultaneous_release_in_layer_order():
    # A -> (B, C) -> D on one core. B and C are released together at 1; in layer (execution)
    # order B runs 1-3, then C 3-6, D 6-7. The kernel runs C first (1-4), then B (4-6).
    layers = [[task()], [task(core_s=2.0)], [task(core_s=3.0)], [task()]]
    run(layers, [[], [0], [0], [1, 2]])


def test_zero_task_layers():
    # Layers 0 and 2 have no tasks: they finish at their release. Layer 1 runs 0-2, layer 3
    # 2-3, and the empty last layer ends at 3.
    layers = [[], [task(core_s=2.0)], [], [task()], []]
    start, _, _, _, release, layer_end = run(layers)
    assert release.tolist() == [0.0, 0.0, 2.0, 2.0, 3.0]
    assert layer_end.tolist() == [0.0, 2.0, 2.0, 3.0, 3.0]
    assert start.tolist() == [0.0, 2.0]


def test_only_empty_layers():
    *_, release, layer_end = run([[], []], cores=3)
    assert release.tolist() == [0.0, 0.0]
    assert layer_end.tolist() == [0.0, 0.0]


def test_most_loaded_ties_go_to_lowest_index():
    # Cores 1 and 2 both hold three 0.1 s tasks behind a long first one (5 s, 2 s). At t=1 the
    # idle core 0 steals; the queues are equal, so the victim should be core 1 (task 4 moves
    # first). The kernel's running sums are (5+.1+.1+.1)-5 = 0.29999999999999893 and
    # (2+.1+.1+.1)-2 = 0.30000000000000027, so it robs core 2 (task 8) first.
    layers = [[task(core=0, core_s=1.0), task(core=1, core_s=5.0),
               *[task(core=1, core_s=0.1)] * 3, task(core=2, core_s=2.0),
               *[task(core=2, core_s=0.1)] * 3]]
    start, *_ = run(layers, cores=3, steal=True)
    assert start[4] == 1.0


# --------------------------------------------------------------------- random victim draws
@numba.njit(cache=True)
def _numba_draws(seed, counts):
    np.random.seed(seed)
    out = np.empty(counts.shape[0], np.int64)
    for k in range(counts.shape[0]):
        out[k] = np.random.randint(0, counts[k])
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.lists(st.integers(1, 9), min_size=1, max_size=40))
def test_numba_and_numpy_random_streams_match(seed, counts):
    """The reference's premise: Numba's np.random.seed/randint in the kernel draw the same
    numbers as numpy's legacy generator (including randint(0, 1))."""
    rng = np.random.RandomState(seed)
    want = [rng.randint(0, c) for c in counts]
    assert _numba_draws(seed, np.array(counts, np.int64)).tolist() == want


def test_random_victim_depends_on_seed():
    # Four cores, all work in core 0's deque: the cores that steal first pick among victims
    # at random only once there are two; check that some seed changes the schedule.
    layers = [[task(core=c % 2) for c in range(16)]]
    cores = {tuple(run(layers, cores=4, steal=True, victim=VICTIM_RANDOM, seed=s)[2])
             for s in range(8)}
    assert len(cores) > 1


# ------------------------------------------------------------------ random task sets
QUARTERS = st.integers(0, 16).map(lambda k: k / 4)


@st.composite
def task_sets(draw, dag, shared_tiles=False):
    """Random layers of random tasks. Without ``shared_tiles`` every analog task has a tile of
    its own (as every tile of the real simulator holds one block), so no two loose tasks
    contend for a tile; they still share the bus."""
    cores = draw(st.integers(1, 4))
    tiles = draw(st.integers(1, 3)) if shared_tiles else 0
    n_layers = draw(st.integers(1, 4))
    layers = []
    for _ in range(n_layers):
        tasks = []
        for _ in range(draw(st.integers(0, 6))):
            kind = draw(st.sampled_from((D, T, L)))
            if kind == D:
                tile = -1
            elif shared_tiles:
                tile = draw(st.integers(0, tiles - 1))
            else:
                tile, tiles = tiles, tiles + 1
            tasks.append(task(kind, draw(st.integers(0, cores - 1)), draw(QUARTERS), tile,
                              draw(QUARTERS), draw(QUARTERS), draw(QUARTERS)))
        layers.append(tasks)
    if dag:
        preds = [sorted(draw(st.sets(st.integers(0, lay - 1), max_size=lay))) if lay else []
                 for lay in range(n_layers)]
    else:
        preds = None
    opts = dict(cores=cores, tiles=max(tiles, 1), steal=draw(st.booleans()),
                steal_s=draw(st.sampled_from((0.0, 0.25, 1.0))),
                victim=draw(st.sampled_from((VICTIM_RANDOM, VICTIM_MOST_LOADED))),
                seed=draw(st.integers(0, 10_000)), barrier=draw(st.booleans()))
    return layers, preds, opts


def check_schedule(layers, preds, opts, result):
    """What any correct schedule satisfies: each task once, after its layer's release, on a
    valid core; layers released after their predecessors and ending with their last task;
    a core's own intervals never overlap."""
    start, end, core, how, release, layer_end = result
    n = len(start)
    assert np.isfinite(start).all() and np.isfinite(end).all()
    assert ((core >= 0) & (core < opts["cores"])).all() and (how >= 0).all()
    chain = [[lay - 1] if lay else [] for lay in range(len(layers))]
    k = 0
    for lay, (tasks, ps) in enumerate(zip(layers, preds or chain)):
        assert release[lay] >= max((layer_end[p] for p in ps), default=0.0)
        idx = list(range(k, k + len(tasks)))
        k += len(tasks)
        assert all(start[i] >= release[lay] and end[i] >= start[i] for i in idx)
        assert layer_end[lay] == max((end[i] for i in idx), default=release[lay])
    assert k == n
    rows = [t for tasks in layers for t in tasks]
    for c in range(opts["cores"]):
        busy = []
        for i in np.flatnonzero(core == c):
            kind, _, _, core_s, _, _, alt_s = rows[i]
            steal_s = opts["steal_s"] if rows[i][1] != c else 0.0
            dur = alt_s if how[i] == RAN_STOLEN_DIGITAL else core_s
            busy.append((start[i] - steal_s, start[i] + dur))
        busy.sort()
        assert all(a[1] <= b[0] for a, b in zip(busy, busy[1:]))


@settings(max_examples=50, deadline=None)
@given(task_sets(dag=False))
def test_chain_matches_reference(case):
    layers, preds, opts = case
    result = run(layers, preds, **opts)
    check_schedule(layers, preds, opts, result)


@settings(max_examples=50, deadline=None)
@given(task_sets(dag=True))
def test_dag_matches_reference(case):
    """Exact agreement with the reference, and the schedule invariants."""
    layers, preds, opts = case
    args = (*arrays(layers, preds), opts["cores"], opts["tiles"], opts["steal"],
            opts["steal_s"], opts["victim"], opts["seed"], opts["barrier"])
    got = simulate_kernel(*args)
    assert_same(got, naive_engine.simulate(*args))
    check_schedule(layers, preds, opts, got[:4] + got[5:])


@settings(max_examples=30, deadline=None)
@given(task_sets(dag=False))
def test_barrier_kernel_matches_reference(case):
    layers, _, opts = case
    layer_of, kind, core, tile, core_s, tile_s, bus_s, alt_s, ptr, _, _ = arrays(layers)
    seeds = np.arange(len(layers), dtype=np.int64) + opts["seed"]
    args = (layer_of, kind, core, tile, core_s, tile_s, bus_s, alt_s, ptr, opts["cores"],
            opts["tiles"], opts["steal"], opts["steal_s"], opts["victim"], seeds)
    got = simulate_barrier_kernel(*args)
    want = naive_engine.simulate_barrier(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=0)
    # each layer alone from t = 0 equals the full kernel run on that layer by itself
    for lay, tasks in enumerate(layers):
        alone = run([tasks], **{**opts, "seed": int(seeds[lay]), "barrier": True})
        assert got[5][lay] == alone[5][0]


@settings(max_examples=50, deadline=None, derandomize=True,
          phases=(Phase.explicit, Phase.generate))
@given(task_sets(dag=False, shared_tiles=True))
def test_shared_tiles_match_reference(case):
    """Loose tasks contending for tiles (see test_loose_tile_is_free_after_its_mvms)."""
    layers, preds, opts = case
    run(layers, preds, **opts)


# ------------------------------------------------ barrier mode's lone-layer loop, any floats
def _alone_both(tasks, cores, steal_s, victim, seed):
    """A layer through simulate_barrier_kernel (engine._layer_alone) and through the DAG
    engine in barrier mode; both compiled with the same floating-point operations, so they
    must agree bit for bit whatever the durations."""
    layer_of, kind, core, tile, core_s, tile_s, bus_s, alt_s, ptr, pred_ptr, pred = \
        arrays([tasks])
    n_tiles = max(1, int(tile.max(initial=-1)) + 1)
    got = simulate_barrier_kernel(layer_of, kind, core, tile, core_s, tile_s, bus_s, alt_s, ptr,
                                  cores, n_tiles, True, steal_s, victim,
                                  np.array([seed], np.int64))
    want = simulate_kernel(layer_of, kind, core, tile, core_s, tile_s, bus_s, alt_s, ptr,
                           pred_ptr, pred, cores, n_tiles, True, steal_s, victim, seed, True)
    for g, w in zip(got[:5], want[:5]):
        assert g.tobytes() == w.tobytes()
    assert got[5][0] == want[6][0] - want[5][0]
    return got


DURATIONS = st.floats(0.0, 10.0, allow_nan=False, allow_subnormal=False)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5), st.lists(st.tuples(st.sampled_from((D, T, L)), st.integers(0, 4),
                                             DURATIONS, DURATIONS), min_size=1, max_size=30),
       st.sampled_from((0.0, 1e-3, 0.3)), st.sampled_from((VICTIM_RANDOM, VICTIM_MOST_LOADED)),
       st.integers(0, 2**32 - 1))
def test_lone_layer_equals_dag_engine_for_any_floats(cores, rows, steal_s, victim, seed):
    """Real durations are not dyadic: the lone-layer loop's shortcuts (victims counted as
    deques change, a tight task refused on an upper bound of the owner's queue) must take
    every decision the plain loop takes, with rounding."""
    tasks = [task(kind, c % cores, core_s, tile=i if kind != D else -1, tile_s=core_s / 3,
                  bus_s=core_s / 7, alt_s=alt_s)
             for i, (kind, c, core_s, alt_s) in enumerate(rows)]
    _alone_both(tasks, cores, steal_s, victim, seed)


@pytest.mark.parametrize("ulps", [-2, -1, 0, 1, 2])
@pytest.mark.parametrize("core_s, n", [(0.1, 7), (1 / 3, 40), (2e-7, 300)])
def test_tight_rule_at_the_rounding_edge(core_s, n, ulps):
    """A thief that would finish within a few ulps of the owner's queue (summed front to
    back, rounding included): the decision follows the exact sum, never the bound."""
    queue = 0.0
    for _ in range(n - 1):
        queue += core_s  # tasks 1..n-1 left once the owner started task 0 at t = 0
    owner_done = core_s + queue
    alt_s = owner_done
    for _ in range(abs(ulps)):
        alt_s = np.nextafter(alt_s, np.inf if ulps > 0 else -np.inf)
    tasks = [task(T, 0, core_s, tile=0, alt_s=float(alt_s)) for _ in range(n)]
    got = _alone_both(tasks, 2, 0.0, VICTIM_RANDOM, 1)
    stolen_at_once = got[3][-1] == RAN_STOLEN_DIGITAL and got[0][-1] == 0.0
    assert stolen_at_once == (alt_s < owner_done)


@pytest.mark.parametrize("layout", range(6))
def test_lone_layer_equals_dag_engine_many_seeds(layout):
    """Wider layers than hypothesis draws (6 cores, 60 tasks, all kinds), each under 40 seeds:
    victims drawn among several busy cores after others have emptied out of index order."""
    rng = np.random.default_rng(layout)
    kinds = rng.choice([D, T, L], 60, p=[0.4, 0.4, 0.2])
    tasks = [task(int(k), int(rng.integers(0, 4)), float(rng.exponential(1.0)),
                  tile=i if k != D else -1, tile_s=float(rng.exponential(0.5)),
                  bus_s=float(rng.exponential(0.1)), alt_s=float(rng.exponential(3.0)))
             for i, k in enumerate(kinds)]
    for seed in range(40):
        _alone_both(tasks, 6, 0.05, VICTIM_RANDOM, seed)
