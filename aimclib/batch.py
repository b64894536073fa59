"""Many configurations in one call: :func:`simulate_many` over tile budgets.

A design-space sweep visits thousands of tile budgets of one network on one system. Per budget
:func:`aimclib.simulate` allocates, places the tiles and looks every layer's schedule up;
here the budgets are done together: allocation strategies that can choose for many budgets
at once do (the optimal knapsack fills one table for the largest budget), the tiles of every
budget and layer are placed with array operations, and identical layer mappings are found by
hashing them, so Python works once per distinct layer mapping rather than once per budget and
layer. Every row equals ``simulate(...).summary()`` of the same configuration bit for bit
(``tests/test_batch.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .accounting import PARTS, energy_breakdown, gain, powered_tile_seconds
from .balancing import BALANCERS
from .errors import ParameterError
from .network import Network
from .placement import _owner_sequence
from .scheduling import (STEAL_LATENCY_S, TASKS_PER_CORE, LayerKey, RunKey, arrays_of,
                         barrier_schedules, cache_of, chosen_schedules, workload_for)
from .simulate import _inputs, _memory_guard, allocate_units_many, baseline, simulate
from .system import SystemConfig
from .throughput import THROUGHPUTS
from .validation import (MAX_TILES, REPLICATE_OFF, check_finite, check_int, check_replicate,
                         check_schedule)
from .workload import Workload

SUMMARY_COLUMNS = ("tiles", "latency_s", "energy_j", "baseline_latency_s", "baseline_energy_j",
                   "speedup", "energy_gain", "coverage", "mac_coverage", "tiles_used")
"""The scalar columns of :func:`simulate_many` (then one ``<component>_j`` column per energy
breakdown component)."""


def simulate_many(net: Network | str, hw: SystemConfig | str = "alpine-tight", *,
                  tiles: Sequence[int], allocation: str = "optimal",
                  balancer: str = "static-balanced", seed: int = 0,
                  objective: str = "latency", victim: str = "random",
                  steal_latency_s: float = STEAL_LATENCY_S,
                  tasks_per_core: int = TASKS_PER_CORE, cores: int | None = None,
                  schedule: str | None = None, batch: int = 1, throughput: str = "batch",
                  replicate=False) -> pd.DataFrame:
    """:func:`aimclib.simulate` (barrier mode) for every tile budget of ``tiles``: one row per
    budget with the scalars of :meth:`~aimclib.results.SimResult.summary` (latency in s,
    energy in J, speedup and energy gain against the all-digital baseline, coverage, tiles
    used) and the energy breakdown in J (``<component>_j``). Arguments as for
    :func:`aimclib.simulate`; ``seed`` is the same for every budget. Only the barrier
    schedule at batch 1 is batched here: ``schedule`` other than ``"barrier"`` or ``batch``
    above 1 is refused (call :func:`aimclib.simulate` per budget for those). With
    ``replicate`` on (:mod:`aimclib.replication`) each budget is simulated by
    :func:`aimclib.simulate` in turn (the batched path maps every layer at most once)."""
    schedule, batch, _ = check_schedule(schedule, False, batch, throughput,
                                        where="simulate_many", throughputs=THROUGHPUTS)
    if schedule != "barrier" or batch != 1:
        what = f"schedule={schedule!r}" if schedule != "barrier" else f"batch={batch}"
        raise ParameterError(f"simulate_many runs the barrier schedule at batch 1 only, got "
                             f"{what}; call aimclib.simulate(...) for each budget instead")
    net, hw, opts, seed = _inputs("simulate_many", net, hw, allocation, balancer, objective,
                                  seed, victim, steal_latency_s, tasks_per_core, cores, None)
    budgets = [check_int(t, "tiles", low=0, high=MAX_TILES, where="simulate_many",
                         limit="MAX_TILES") for t in tiles]
    replicate = check_replicate(replicate, where="simulate_many")
    if replicate != REPLICATE_OFF:
        return _one_by_one(net, hw, budgets, dict(
            allocation=allocation, balancer=balancer, seed=seed, objective=objective,
            victim=victim, steal_latency_s=steal_latency_s, tasks_per_core=tasks_per_core,
            replicate=replicate))
    with _memory_guard(net, hw):
        wl = workload_for(net, hw)
        units = allocate_units_many(wl, hw, budgets, allocation, objective, opts)
        makespans, vecs, tiles_per_layer = _layer_results(wl, hw, budgets, units, balancer,
                                                          opts, seed)
        b_lat, b_energy, _ = baseline(wl, hw, opts, seed, False)
    end = np.cumsum(makespans, axis=1)  # as each configuration's own running sum
    durations = end - (end - makespans)
    totals = vecs[:, 0].copy()  # layer after layer, as NumPy sums a list of vectors
    for lay in range(1, vecs.shape[1]):
        totals += vecs[:, lay]
    rows, components = [], []
    for k, t in enumerate(budgets):
        latency = float(end[k, -1])
        tile_on = powered_tile_seconds(hw, latency, tiles_per_layer[k].tolist(), durations[k],
                                       budget=t)
        # the tile count enters the breakdown only through tile_on
        energy, bd = energy_breakdown(hw, latency, totals[k], tile_on)
        if not (math.isfinite(latency) and math.isfinite(energy)):
            check_finite({"latency_s": latency, "energy_j": energy},
                         f"simulate_many {net.name} on {hw.name} with {t} tiles")
        rows.append((t, latency, energy, b_lat, b_energy, gain(b_lat, latency),
                     gain(b_energy, energy)) + tuple(v["joules"] for v in bd.values()))
        components = [f"{c}_j" for c in bd]
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS[:7]) + components)
    coverage, mac_coverage, used = _coverage(wl, units)
    table.insert(7, "coverage", coverage)
    table.insert(8, "mac_coverage", mac_coverage)
    table.insert(9, "tiles_used", used)
    return table


def _one_by_one(net: Network, hw: SystemConfig, budgets: list[int], kw: dict) -> pd.DataFrame:
    """:func:`simulate_many`'s table from one :func:`aimclib.simulate` per budget."""
    rows = []
    for t in budgets:
        s = simulate(net, hw, tiles=t, **kw).summary()
        rows.append(tuple(s[c] for c in SUMMARY_COLUMNS)
                    + tuple(v["joules"] for v in s["breakdown"].values()))
        components = [f"{c}_j" for c in s["breakdown"]]
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS) + components)


def _coverage(wl: Workload, units: np.ndarray) -> tuple[list, list, list]:
    """Per configuration (row of ``units``): share of the MVM weights and of the MACs on
    tiles, and tiles used (integer sums, so exact in any order)."""
    covered, tiles_used = _mapping_tables(wl)
    A = arrays_of(wl)
    idx = A.unit_ptr[:-1] + units
    on = covered[idx]
    macs = np.array([w.info.m for w in wl.layers], np.int64)
    weights, total_macs = wl.network.mvm_weights, wl.network.macs
    return ([int(r.sum()) / weights if weights else 0.0 for r in on],
            [int((r * macs).sum()) / total_macs if total_macs else 0.0 for r in on],
            tiles_used[idx].sum(axis=1).tolist())


def _mapping_tables(wl: Workload) -> tuple[np.ndarray, np.ndarray]:
    """Per layer and units mapped (the cost arrays' ``unit_ptr`` layout): weights on tiles
    and tiles used (cached with the workload)."""
    cache = cache_of(wl)
    if cache.mapping_tables is None:
        parts = [(w.mapping.partial(u).weights_covered, w.mapping.partial(u).tiles_used)
                 if w.mapping is not None else (0, 0)
                 for w in wl.layers for u in range(w.n_units + 1)]
        cache.mapping_tables = (np.array([p[0] for p in parts], np.int64),
                                np.array([p[1] for p in parts], np.int64))
    return cache.mapping_tables


def _layer_results(wl: Workload, hw: SystemConfig, budgets: list[int], units: np.ndarray,
                   balancer: str, opts, seed: int):
    """Every configuration's layer makespans (s) and :data:`PARTS` totals, and its tiles per
    layer: identical layer mappings across configurations are found by hashing, and each
    distinct one is looked up (or simulated) once."""
    A = arrays_of(wl)
    n_cfg, n_lay = units.shape
    tiles = A.tiles_for[A.unit_ptr[:-1] + units]  # (configurations, layers)
    makespans = np.zeros((n_cfg, n_lay))
    vecs = np.zeros((n_cfg, n_lay, len(PARTS)))
    # unmapped layers: one schedule each
    digital = barrier_schedules(wl, hw, np.zeros(n_lay, np.int64),
                                [np.zeros(0, np.int64)] * n_lay, balancer, opts, seed)
    makespans[:] = [s.makespan for s in digital]
    vecs[:] = np.array([s.vec for s in digital])
    cfg, lay = np.nonzero(units)
    if not len(cfg):
        return makespans, vecs, tiles
    rows, owners = mapping_rows(hw, budgets, tiles, cfg, lay, units)
    uniq, first, inverse = _distinct_rows(rows)
    keys = [LayerKey(int(r[0]), int(r[1]),
                     owners(r, int(tiles[cfg[i], lay[i]])).astype(np.int64).tobytes())
            for r, i in zip(uniq, first)]
    entry = BALANCERS.entry(balancer)
    _, best = cache_of(wl).run_tables(RunKey(hw.cores, opts, seed if entry.seeded else None),
                                      balancer)
    found = [best.get(k) for k in keys]
    missing = [k for k, s in zip(keys, found) if s is None]
    if missing:
        done = dict(zip(missing, chosen_schedules(wl, hw, missing, balancer, opts, seed)))
        found = [s if s is not None else done[k] for k, s in zip(keys, found)]
    makespans[cfg, lay] = np.array([s.makespan for s in found])[inverse]
    vecs[cfg, lay] = np.array([s.vec for s in found])[inverse]
    return makespans, vecs, tiles


def mapping_rows(hw: SystemConfig, budgets: Sequence[int], tiles: np.ndarray, cfg: np.ndarray,
                 lay: np.ndarray, units: np.ndarray):
    """Rows that identify the mapping of each (configuration ``cfg``, layer ``lay``) pair:
    layer, units and where its tiles sit, and a function giving a row's owners (the owning
    core of each of its ``n`` tiles, as :func:`aimclib.placement.place_tiles` places them).

    Loose tiles have no owner. Tight ``even`` placement in closed form: every core owns
    ``T // p`` tiles or one more, so the pointer deals rounds of all ``p`` cores, then one
    round of the first ``T % p``; a layer's owners follow from where its tiles start (the core
    of its first tile and how many tiles come before the last round). Other placements: the
    owners themselves, padded with -2."""
    head = [lay, units[cfg, lay]]
    n = tiles[cfg, lay]
    if hw.coupling == "loose":
        return np.column_stack(head), lambda row, n: np.full(n, -1, np.int64)
    pos0 = (np.cumsum(tiles, axis=1) - tiles)[cfg, lay]
    p = hw.cores
    if hw.system.tile_placement == "even":
        full = (np.asarray(budgets, np.int64) // p * p)[cfg]
        inside = pos0 < full
        # in the rounds of all cores: the first tile's core, and how many tiles stay there
        # (the rest start the last round); past them: the position in the last round
        first = np.where(inside, pos0 % p, -1)
        span = np.where(inside, np.minimum(full - pos0, n), pos0 - full)

        def owners(row, n):
            j = np.arange(n, dtype=np.int64)
            if row[2] < 0:
                return row[3] + j
            return np.where(j < row[3], (row[2] + j) % p, j - row[3])
        return np.column_stack(head + [first, span]), owners
    col = np.arange(int(tiles.max()))
    pos = pos0[:, None] + col[None, :]
    out = np.full(pos.shape, -2, np.int64)
    bounds = np.searchsorted(cfg, np.arange(len(budgets) + 1))  # cfg is sorted
    for k in range(len(budgets)):
        a, b = bounds[k], bounds[k + 1]
        if a < b:
            seq = _owner_sequence(tuple(hw.tiles_per_core(budgets[k])), int(tiles[k].sum()))
            out[a:b] = np.where(col[None, :] < n[a:b, None],
                                seq[np.minimum(pos[a:b], len(seq) - 1)], -2)
    return np.column_stack(head + [out]), lambda row, n: row[2:2 + n]


_HASH = np.random.default_rng(20240917).integers(1, 2**62, 512, dtype=np.int64) | 1
"""Fixed odd multipliers of the row hash of :func:`_distinct_rows` (any values work: equal
hashes are checked row by row)."""


def _distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of an int64 matrix, the index of each one's first occurrence, and for
    every row the index of its distinct row (rows hashed, then compared, so a hash collision
    only splits a group further)."""
    mult = np.resize(_HASH, rows.shape[1])
    with np.errstate(over="ignore"):
        h = (rows * mult).sum(axis=1)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    same = (rows == rows[first[inverse]]).all(axis=1)
    if not same.all():  # a collision: fall back to exact row comparison
        _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    return rows[first], first, inverse.reshape(-1)
