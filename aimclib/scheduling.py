"""Scheduling: every layer cut into tasks by a balancer and run on the engine.

Barrier mode (the default) runs layer after layer and simulates every layer alone, so each
layer's schedule is cached (:class:`WorkloadCache`) and reused by any configuration that maps
it the same way: a sweep over tile budgets re-simulates only the layers whose mapping changed.
``dag=True`` lets independent branches (Inception, DenseNet, residual shortcuts) overlap and
simulates the whole network at once.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .accounting import layer_totals
from .balancing import BALANCERS, TaskSet, layer_tasks
from .engine import (VICTIM_MOST_LOADED, VICTIM_RANDOM, simulate_barrier_kernel,
                     simulate_kernel)
from .network import Network
from .system import SystemConfig
from .validation import (MAX_TASKS_PER_CORE, check_choice, check_float, check_int,
                         check_memory, stream_seed)
from .workload import Workload, build_workload

VICTIMS = {"random": VICTIM_RANDOM, "most-loaded": VICTIM_MOST_LOADED}
"""Work stealing's victim choices by name (engine codes)."""

STEAL_LATENCY_S = 2e-7
"""Default time a thief needs to take a task from a victim's deque (s). Assumed: an atomic
compare-and-swap on the victim's deque plus the task descriptor's cache lines through the
shared L2, about 400 cycles at 2 GHz."""

TASKS_PER_CORE = 4
"""Default number of chunks per core a layer is cut into for work stealing (assumed)."""


@dataclass(frozen=True)
class BalancerOptions:
    """Knobs of the balancers: victim choice, steal latency (s), chunks per core."""

    victim: str = "random"
    steal_latency_s: float = STEAL_LATENCY_S
    tasks_per_core: int = TASKS_PER_CORE

    def __post_init__(self):
        check_choice(self.victim, "victim", tuple(VICTIMS))
        object.__setattr__(self, "steal_latency_s", check_float(
            self.steal_latency_s, "steal_latency_s", low=0.0, high=1.0, unit="s"))
        object.__setattr__(self, "tasks_per_core", check_int(
            self.tasks_per_core, "tasks_per_core", low=1, high=MAX_TASKS_PER_CORE,
            limit="MAX_TASKS_PER_CORE"))


@dataclass
class LayerSchedule:
    """One layer's tasks and when, where and how each ran (times from the layer's start in
    barrier mode, absolute in DAG mode), with its totals ``vec`` in :data:`PARTS` order."""

    tasks: TaskSet
    start: np.ndarray
    end: np.ndarray
    ran_on: np.ndarray
    how: np.ndarray
    tile_start: np.ndarray
    makespan: float
    vec: np.ndarray


# ------------------------------------------------------------------------------- caching
@lru_cache(maxsize=32)
def _workload(net: Network, sys_key: SystemConfig) -> Workload:
    return build_workload(net, sys_key)


class LayerKey(NamedTuple):
    """How one layer is mapped: its index, the units mapped and the owning core of each of
    its mapped tiles (``int64`` bytes)."""

    layer: int
    units: int
    owners: bytes


class RunKey(NamedTuple):
    """What a layer's schedule depends on besides its mapping: the cores, the balancer knobs
    and the seed (None for balancers that draw no random numbers)."""

    cores: int
    options: BalancerOptions
    seed: int | None


@dataclass
class WorkloadCache:
    """What is cached for one workload (a network on a system, any tile count).

    ``runs[run][(layer key, split)]``: a layer's schedule with one split; ``chosen[(run,
    balancer)][layer key]``: the split a balancer keeps; ``cost_tables[table key]``: latency
    and energy tables of the allocation; ``prepared[(table key, objective, tiles or None,
    allocation)]``: what an allocation strategy derives from a cost table;
    ``coverage[(allocation, objective, tiles)]``: coverage of an allocation;
    ``baselines[(cores, options, dag)]``: the all-digital latency, energy and breakdown.
    """

    runs: dict = field(default_factory=dict)
    chosen: dict = field(default_factory=dict)
    cost_tables: dict = field(default_factory=dict)
    prepared: dict = field(default_factory=dict)
    coverage: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def workload_for(net: Network, hw: SystemConfig) -> Workload:
    """The (cached) per-layer costs of ``net`` on ``hw``; they do not depend on the tile count."""
    return _workload(net, hw.replace(tiles=0))


def cache_of(wl: Workload) -> WorkloadCache:
    """The cache of ``wl`` (created empty; dropped with the workload)."""
    cache = _CACHES.get(wl)
    if cache is None:
        cache = _CACHES[wl] = WorkloadCache()
    return cache


def clear_caches() -> None:
    """Forget cached workloads and layer schedules (e.g. to measure cold start)."""
    _workload.cache_clear()
    _CACHES.clear()


# ------------------------------------------------------------------------------ schedules
def _tasks(wl: Workload, hw: SystemConfig, i: int, units: int, owners: np.ndarray, split: str,
           opts: BalancerOptions) -> TaskSet:
    return layer_tasks(wl.layers[i], units, owners, split, hw, opts.tasks_per_core)


def _concat(sets: list[TaskSet]) -> tuple[dict, np.ndarray, int]:
    ptr = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64)
    cat = {f: np.concatenate([getattr(s, f) for s in sets]) for f in
           ("kind", "core", "tile", "core_s", "tile_s", "bus_s", "alt_s")}
    n_tiles = max([int(s.tile.max(initial=-1)) + 1 for s in sets] + [1])
    return cat, ptr, n_tiles


_TASK_BYTES = 200
"""Bytes of one task across the task-set and schedule arrays (about 25 float64 / int64)."""


def _check_tasks_memory(hw: SystemConfig, opts: BalancerOptions, tiles: int, split: str
                        ) -> None:
    """Refuse, before building it, a layer whose tasks could not fit
    :data:`~aimclib.validation.MEMORY_LIMIT_BYTES`: with ``tiles`` mapped tiles it has at
    most ``(tiles + 1) x cores x chunks`` tasks, each costing its arrays and a slot in every
    core's deque."""
    chunks = opts.tasks_per_core if BALANCERS.entry(split).steals else 1
    _check_schedule_memory(hw, (tiles + 1) * hw.cores * chunks,
                           f"a layer with {tiles:,} tiles ({split}, {chunks} task(s) per core)")


def _check_schedule_memory(hw: SystemConfig, tasks: int, what: str) -> None:
    """Refuse ``tasks`` tasks whose arrays and per-core deques exceed the memory limit."""
    check_memory(tasks * (_TASK_BYTES + 8 * hw.cores), f"scheduling {what} on {hw.cores} cores",
                 "the cores, tasks_per_core or the tile budget")


def _stream_seeds(seed: int, layers) -> np.ndarray:
    """The generator seed of each layer's victim choice: its own stream of ``seed``."""
    return np.array([stream_seed(seed, int(i)) for i in layers], np.int64)


def _run_alone(wl: Workload, hw: SystemConfig, requests: list[tuple], opts: BalancerOptions,
               seed: int) -> list[LayerSchedule]:
    """Barrier-mode schedules of ``(layer index, units, owners, split)`` requests."""
    if not requests:
        return []
    sets = []
    for i, u, own, sp in requests:
        _check_tasks_memory(hw, opts, len(own), sp)
        sets.append(_tasks(wl, hw, i, u, np.array(own, np.int64), sp, opts))
    _check_schedule_memory(hw, sum(map(len, sets)), f"{len(sets)} layer(s)")
    cat, ptr, n_tiles = _concat(sets)
    steal = any(BALANCERS.entry(r[3]).steals for r in requests)
    # only a stealing layer draws random numbers: the others need no stream
    seeds = (_stream_seeds(seed, [r[0] for r in requests]) if steal
             else np.zeros(len(requests), np.int64))
    start, end, ran_on, how, tile_start, mk = simulate_barrier_kernel(
        np.zeros(len(cat["kind"]), np.int64), cat["kind"], cat["core"], cat["tile"],
        cat["core_s"], cat["tile_s"], cat["bus_s"], cat["alt_s"], ptr, hw.cores, n_tiles,
        steal, opts.steal_latency_s, VICTIMS[opts.victim], seeds)
    out = []
    for j, (i, u, _, _) in enumerate(requests):
        sl = slice(ptr[j], ptr[j + 1])
        out.append(LayerSchedule(sets[j], start[sl], end[sl], ran_on[sl], how[sl],
                                 tile_start[sl], float(mk[j]), layer_totals(wl, i, u, sets[j], ran_on[sl], how[sl],
                                        opts.steal_latency_s)))
    return out


def chosen_schedules(wl: Workload, hw: SystemConfig, keys: list[LayerKey], balancer: str,
                     opts: BalancerOptions, seed: int) -> list[LayerSchedule]:
    """Schedules of layers alone for their :class:`LayerKey` (cached; the missing ones
    simulated in one batch). A balancer that scores several splits keeps the fastest (its own
    on ties)."""
    entry = BALANCERS.entry(balancer)
    run = RunKey(hw.cores, opts, seed if entry.seeded else None)
    cache = cache_of(wl)
    raw = cache.runs.setdefault(run, {})  # (layer key, split) -> schedule
    best = cache.chosen.setdefault((run, balancer), {})  # layer key -> kept schedule
    out = [best.get(k) for k in keys]
    missing = list(dict.fromkeys(k for k, s in zip(keys, out) if s is None))
    if missing:
        splits = entry.splits
        todo = [(k, sp) for k in missing for sp in splits if (k, sp) not in raw]
        requests = [(k.layer, k.units, np.frombuffer(k.owners, np.int64), sp) for k, sp in todo]
        for k, sched in zip(todo, _run_alone(wl, hw, requests, opts, seed)):
            raw[k] = sched
        for k in missing:
            best[k] = min((raw[(k, sp)] for sp in splits), key=lambda s: s.makespan)
        out = [best[k] for k in keys]
    return out


def barrier_schedules(wl: Workload, hw: SystemConfig, units: np.ndarray,
                      owners: list[np.ndarray], balancer: str, opts: BalancerOptions,
                      seed: int) -> list[LayerSchedule]:
    """Every layer's schedule, each simulated alone from t = 0 (cached)."""
    keys = [LayerKey(i, u, own.tobytes())
            for i, (u, own) in enumerate(zip(units.tolist(), owners))]
    return chosen_schedules(wl, hw, keys, balancer, opts, seed)


def _dag_run(wl: Workload, hw: SystemConfig, units: np.ndarray, owners: list[np.ndarray],
             split: str, opts: BalancerOptions, seed: int):
    sets = []
    for i in range(len(wl.layers)):
        _check_tasks_memory(hw, opts, len(owners[i]), split)
        sets.append(_tasks(wl, hw, i, int(units[i]), owners[i], split, opts))
    cat, ptr, _ = _concat(sets)
    # the kernel sees tiles numbered globally, so that layers running at once never share one;
    # the task sets keep each layer's own numbering
    offsets = np.concatenate([[0], np.cumsum([len(o) for o in owners])]).astype(np.int64)
    layer_ids = np.repeat(np.arange(len(sets)), np.diff(ptr)).astype(np.int64)
    tiles = np.where(cat["tile"] >= 0, cat["tile"] + offsets[layer_ids], -1)
    net = wl.network
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    preds = [[index[p] for p in net.predecessors(layer.name)] for layer in net.layers]
    pred_ptr = np.concatenate([[0], np.cumsum([len(p) for p in preds])]).astype(np.int64)
    pred = np.array([p for ps in preds for p in ps], np.int64)
    start, end, ran_on, how, tile_start, release, layer_end = simulate_kernel(
        layer_ids, cat["kind"], cat["core"], tiles, cat["core_s"], cat["tile_s"],
        cat["bus_s"], cat["alt_s"], ptr, pred_ptr, pred, hw.cores, max(1, int(offsets[-1])),
        BALANCERS.entry(split).steals, opts.steal_latency_s, VICTIMS[opts.victim],
        stream_seed(seed), False)
    out = []
    for j in range(len(sets)):
        sl = slice(ptr[j], ptr[j + 1])
        out.append(LayerSchedule(sets[j], start[sl], end[sl], ran_on[sl], how[sl],
                                 tile_start[sl], float(layer_end[j] - release[j]),
                                 layer_totals(wl, j, int(units[j]), sets[j], ran_on[sl], how[sl],
                                        opts.steal_latency_s)))
    return out, release, layer_end


def dag_schedules(wl: Workload, hw: SystemConfig, units: np.ndarray, owners: list[np.ndarray],
                  balancer: str, opts: BalancerOptions, seed: int):
    """The whole network at once: a layer starts when its predecessors have finished.

    Static-balanced runs the network with its own split and with static-even and keeps the
    one that finishes first (its own on ties), so it is never slower than static-even.
    Returns the layer schedules (absolute times), release and end times per layer.
    """
    runs = [_dag_run(wl, hw, units, owners, sp, opts, seed)
            for sp in BALANCERS.entry(balancer).splits]
    return min(runs, key=lambda r: float(r[2].max(initial=0.0)))
