"""Scheduling: every layer cut into tasks by a balancer and run on the engine.

Barrier mode (the default) runs layer after layer and simulates every layer alone, so each
layer's schedule is cached (:class:`WorkloadCache`) and reused by any configuration that maps
it the same way: a sweep over tile budgets re-simulates only the layers whose mapping changed.
``dag=True`` lets independent branches (Inception, DenseNet, residual shortcuts) overlap and
simulates the whole network at once.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import NamedTuple

import numpy as np

from .accounting import layer_totals
from .balancing import (BALANCERS, CostArrays, EvenCut, TaskSet, cost_arrays, even_tasks,
                        layer_tasks)
from .engine import (VICTIM_MOST_LOADED, VICTIM_RANDOM, simulate_barrier_kernel,
                     simulate_kernel)
from .network import Network
from .system import SystemConfig
from .validation import (MAX_TASKS_PER_CORE, check_choice, check_float, check_int,
                         check_memory, stream_seed, stream_seeds)
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
class ScheduleBatch:
    """Tasks simulated together (several layers, one after the other) and when, where and how
    each ran: the engine's output, which :class:`LayerSchedule` views."""

    tasks: TaskSet
    start: np.ndarray
    end: np.ndarray
    ran_on: np.ndarray
    how: np.ndarray
    tile_start: np.ndarray


class LayerSchedule:
    """One layer's tasks and when, where and how each ran (times from the layer's start in
    barrier mode, absolute in DAG mode): views of tasks ``a:b`` of a :class:`ScheduleBatch`,
    with the layer's ``makespan`` (s) and its totals ``vec`` in :data:`PARTS` order."""

    def __init__(self, batch: ScheduleBatch, a: int, b: int, makespan: float, vec: np.ndarray):
        self.batch, self.a, self.b = batch, a, b
        self.makespan = makespan
        self.vec = vec

    @cached_property
    def tasks(self) -> TaskSet:
        return self.batch.tasks.slice(self.a, self.b)

    start = property(lambda self: self.batch.start[self.a:self.b], doc="start times (s)")
    end = property(lambda self: self.batch.end[self.a:self.b], doc="end times (s)")
    ran_on = property(lambda self: self.batch.ran_on[self.a:self.b], doc="core that ran it")
    how = property(lambda self: self.batch.how[self.a:self.b], doc="engine's RAN_* code")
    tile_start = property(lambda self: self.batch.tile_start[self.a:self.b],
                          doc="when its MVMs began on the tile (s; NaN off a tile)")


class LayerSchedules(Sequence):
    """The :class:`LayerSchedule` of every layer simulated in one :class:`ScheduleBatch`
    (tasks ``ptr[j]:ptr[j + 1]`` are layer ``j``'s), with all their ``makespans`` (s) and
    ``vecs`` (:data:`PARTS` totals, one row per layer) as arrays. The per-layer views are
    made on first access: a sweep that reads only a result's scalars never needs them."""

    def __init__(self, batch: ScheduleBatch, ptr: np.ndarray, makespans: np.ndarray,
                 vecs: np.ndarray):
        self.batch, self.ptr, self.makespans, self.vecs = batch, ptr, makespans, vecs

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def __getitem__(self, j):
        return self._views[j]

    def __iter__(self):
        return iter(self._views)

    @cached_property
    def _views(self) -> list[LayerSchedule]:
        bounds, spans = self.ptr.tolist(), np.asarray(self.makespans, np.float64).tolist()
        return [LayerSchedule(self.batch, bounds[j], bounds[j + 1], spans[j], self.vecs[j])
                for j in range(len(spans))]


def layer_arrays(schedules: Sequence[LayerSchedule]) -> tuple[np.ndarray, np.ndarray]:
    """The layers' makespans (s) and :data:`PARTS` totals (one row per layer) of
    ``schedules``: a :class:`LayerSchedules`' own arrays, or gathered from the views."""
    if isinstance(schedules, LayerSchedules):
        return schedules.makespans, schedules.vecs
    return (np.array([s.makespan for s in schedules]),
            np.array([s.vec for s in schedules]))


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
    ``baselines[(cores, options, dag)]``: the all-digital latency, energy and breakdown;
    ``networks[(run, balancer, units, owners)]``: a seeded balancer's schedules of every layer
    (:func:`barrier_schedules`), the :data:`SEEDED_RUNS_KEPT` latest;
    ``arrays``: the workload's :class:`~aimclib.balancing.CostArrays`; ``digital_keys``: each
    layer's :class:`LayerKey` with nothing mapped; ``mapping_tables``: weights on tiles and
    tiles used per layer and units (:mod:`aimclib.batch`).
    """

    runs: dict = field(default_factory=dict)
    chosen: dict = field(default_factory=dict)
    cost_tables: dict = field(default_factory=dict)
    prepared: dict = field(default_factory=dict)
    coverage: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)
    networks: dict = field(default_factory=dict)
    arrays: CostArrays | None = None
    digital_keys: list = field(default_factory=list)
    mapping_tables: tuple | None = None

    def run_tables(self, run: RunKey, balancer: str) -> tuple[dict, dict]:
        """``runs[run]`` and ``chosen[(run, balancer)]`` (created empty). Only the
        :data:`SEEDED_RUNS_KEPT` latest seeds of seeded balancers are kept: a sweep over seeds
        never meets a seed twice, and each holds every layer's tasks."""
        if run.seed is not None and run not in self.runs:
            seeded = [r for r in self.runs if r.seed is not None]
            for old in seeded[:max(0, len(seeded) - SEEDED_RUNS_KEPT + 1)]:
                del self.runs[old]
                for key in [k for k in self.chosen if k[0] == old]:
                    del self.chosen[key]
        return self.runs.setdefault(run, {}), self.chosen.setdefault((run, balancer), {})


SEEDED_RUNS_KEPT = 4
"""Seeds of seeded balancers whose layer schedules a workload's cache keeps (the latest), and
whole-network runs of seeded balancers it keeps (the latest)."""


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def workload_for(net: Network, hw: SystemConfig) -> Workload:
    """The (cached) per-layer costs of ``net`` on ``hw``; they do not depend on the tile count."""
    return _workload(net, hw.with_tiles(0))


def cache_of(wl: Workload) -> WorkloadCache:
    """The cache of ``wl`` (created empty; dropped with the workload)."""
    cache = _CACHES.get(wl)
    if cache is None:
        cache = _CACHES[wl] = WorkloadCache()
    return cache


def arrays_of(wl: Workload) -> CostArrays:
    """The workload's cost arrays (built once)."""
    cache = cache_of(wl)
    if cache.arrays is None:
        cache.arrays = cost_arrays(wl.layers, wl.system)
    return cache.arrays


def clear_caches() -> None:
    """Forget cached workloads and layer schedules (e.g. to measure cold start)."""
    _workload.cache_clear()
    _CACHES.clear()


# ------------------------------------------------------------------------------ schedules
def _build_tasks(wl: Workload, hw: SystemConfig, requests: list[tuple],
                 opts: BalancerOptions) -> tuple[TaskSet, np.ndarray]:
    """The tasks of ``(layer index, units, owners, split)`` requests one after the other, and
    the CSR pointer over the requests: even cuts in one compiled call per split, other cuts
    layer by layer."""
    groups: dict[str, list[int]] = {}
    for j, r in enumerate(requests):
        groups.setdefault(r[3], []).append(j)
    tight = hw.coupling == "tight"
    parts: list = [None] * len(requests)
    for split, idx in groups.items():
        cut = BALANCERS.entry(split).cut
        if isinstance(cut, EvenCut):
            tasks, ptr = even_tasks(arrays_of(wl), [requests[j][0] for j in idx],
                                    [requests[j][1] for j in idx],
                                    [requests[j][2] for j in idx], hw.cores, tight,
                                    cut.chunks(opts.tasks_per_core))
            if len(groups) == 1:
                return tasks, ptr
            for k, j in enumerate(idx):
                parts[j] = tasks.slice(ptr[k], ptr[k + 1])
        else:
            for j in idx:
                i, u, own, _ = requests[j]
                parts[j] = layer_tasks(wl.layers[i], u, own, split, hw, opts.tasks_per_core)
    ptr = np.zeros(len(parts) + 1, np.int64)
    np.cumsum([len(t) for t in parts], out=ptr[1:])
    return TaskSet.concat(parts), ptr


_TASK_BYTES = 200
"""Bytes of one task across the task-set and schedule arrays (about 25 float64 / int64)."""


def _check_tasks_memory(hw: SystemConfig, opts: BalancerOptions, tiles: int, splits
                        ) -> None:
    """Refuse, before building them, layers cut by ``splits`` of which a layer's tasks could
    not fit :data:`~aimclib.validation.MEMORY_LIMIT_BYTES`: with ``tiles`` mapped tiles (the
    most any layer maps) a layer has at most ``(tiles + 1) x cores x chunks`` tasks, each
    costing its arrays and a slot in every core's deque (checked for the most chunks)."""
    split = max(dict.fromkeys(splits), key=lambda sp: BALANCERS.entry(sp).steals)
    chunks = opts.tasks_per_core if BALANCERS.entry(split).steals else 1
    _check_schedule_memory(hw, (tiles + 1) * hw.cores * chunks,
                           f"a layer with {tiles:,} tiles ({split}, {chunks} task(s) per core)")


def _check_schedule_memory(hw: SystemConfig, tasks: int, what: str) -> None:
    """Refuse ``tasks`` tasks whose arrays and per-core deques exceed the memory limit."""
    check_memory(tasks * (_TASK_BYTES + 8 * hw.cores), f"scheduling {what} on {hw.cores} cores",
                 "the cores, tasks_per_core or the tile budget")


def _schedules(wl: Workload, layers, units, opts: BalancerOptions, tasks: TaskSet,
               ptr: np.ndarray, out: tuple, makespans) -> LayerSchedules:
    """The schedules of layers ``layers`` with ``units`` mapped (tasks ``ptr[j]:ptr[j + 1]``
    are the ``j``-th's) from the engine's per-task ``out`` and the makespans (s)."""
    batch = ScheduleBatch(tasks, *out)
    vecs = layer_totals(tasks, ptr, layers, units, batch.ran_on, batch.how,
                        opts.steal_latency_s, arrays_of(wl))
    return LayerSchedules(batch, ptr, makespans, vecs)


def _simulate_alone(wl: Workload, hw: SystemConfig, layers, units, tasks: TaskSet,
                    ptr: np.ndarray, steal: bool, opts: BalancerOptions, seed: int
                    ) -> LayerSchedules:
    """Barrier-mode schedules of layers ``layers`` with ``units`` mapped, cut into ``tasks``
    (CSR ``ptr`` over the layers); ``steal``: whether any of them steals."""
    # only a stealing layer draws random numbers: the others need no stream
    seeds = stream_seeds(seed, layers) if steal else np.zeros(len(layers), np.int64)
    *out, mk = simulate_barrier_kernel(
        np.zeros(len(tasks), np.int64), tasks.kind, tasks.core, tasks.tile, tasks.core_s,
        tasks.tile_s, tasks.bus_s, tasks.alt_s, ptr, hw.cores,
        max(1, int(tasks.tile.max(initial=-1)) + 1), steal, opts.steal_latency_s,
        VICTIMS[opts.victim], seeds)
    return _schedules(wl, layers, units, opts, tasks, ptr, out, mk)


def _run_alone(wl: Workload, hw: SystemConfig, requests: list[tuple], opts: BalancerOptions,
               seed: int) -> Sequence[LayerSchedule]:
    """Barrier-mode schedules of ``(layer index, units, owners, split)`` requests."""
    if not requests:
        return []
    _check_tasks_memory(hw, opts, max(map(len, (r[2] for r in requests))),
                        [r[3] for r in requests])
    tasks, ptr = _build_tasks(wl, hw, requests, opts)
    _check_schedule_memory(hw, len(tasks), f"{len(requests)} layer(s)")
    steal = any(BALANCERS.entry(r[3]).steals for r in requests)
    return _simulate_alone(wl, hw, [r[0] for r in requests], [r[1] for r in requests], tasks,
                           ptr, steal, opts, seed)


_NO_TILES = np.zeros(0, np.int64)
_NO_TILES.flags.writeable = False
"""The owners of a layer that maps no tile (shared, read-only)."""


def chosen_schedules(wl: Workload, hw: SystemConfig, keys: list[LayerKey], balancer: str,
                     opts: BalancerOptions, seed: int) -> list[LayerSchedule]:
    """Schedules of layers alone for their :class:`LayerKey` (cached; the missing ones
    simulated in one batch). A balancer that scores several splits keeps the fastest (its own
    on ties)."""
    entry = BALANCERS.entry(balancer)
    run = RunKey(hw.cores, opts, seed if entry.seeded else None)
    # raw: (layer key, split) -> schedule; best: layer key -> the schedule kept
    raw, best = cache_of(wl).run_tables(run, balancer)
    # a new seed finds nothing cached: skip the look-ups (a sweep over seeds is all misses)
    out = [best.get(k) for k in keys] if best else [None] * len(keys)
    missing = list(dict.fromkeys(k for k, s in zip(keys, out) if s is None))
    if missing:
        splits = entry.splits
        todo = ([(k, sp) for k in missing for sp in splits if (k, sp) not in raw] if raw
                else [(k, sp) for k in missing for sp in splits])
        requests = [(k.layer, k.units,
                     np.frombuffer(k.owners, np.int64) if k.owners else _NO_TILES, sp)
                    for k, sp in todo]
        raw.update(zip(todo, _run_alone(wl, hw, requests, opts, seed)))
        if len(splits) == 1:
            best.update((k, raw[(k, splits[0])]) for k in missing)
        else:
            for k in missing:
                best[k] = min((raw[(k, sp)] for sp in splits), key=lambda s: s.makespan)
        out = [best[k] for k in keys]
    return out


def barrier_schedules(wl: Workload, hw: SystemConfig, units: np.ndarray,
                      owners: list[np.ndarray], balancer: str, opts: BalancerOptions,
                      seed: int) -> Sequence[LayerSchedule]:
    """Every layer's schedule, each simulated alone from t = 0 (cached)."""
    entry = BALANCERS.entry(balancer)
    if entry.seeded and isinstance(entry.cut, EvenCut) and len(entry.splits) == 1:
        return _seeded_schedules(wl, hw, units, owners, balancer, opts, seed)
    digital = cache_of(wl).digital_keys
    if not digital:  # a layer with nothing mapped has one key
        digital.extend(LayerKey(i, 0, b"") for i in range(len(wl.layers)))
    keys = list(digital)
    for i in np.flatnonzero(units).tolist():
        keys[i] = LayerKey(i, int(units[i]), owners[i].tobytes())
    return chosen_schedules(wl, hw, keys, balancer, opts, seed)


def _seeded_schedules(wl: Workload, hw: SystemConfig, units: np.ndarray,
                      owners: list[np.ndarray], balancer: str, opts: BalancerOptions,
                      seed: int) -> LayerSchedules:
    """:func:`barrier_schedules` of a seeded balancer with an even cut and no other split:
    every layer in one batch, cached whole (the :data:`SEEDED_RUNS_KEPT` latest). A sweep over
    seeds meets every seed once, so per-layer cache keys and views would be made for
    nothing; each layer's schedule is still its own (its own stream, simulated alone), the
    same as :func:`chosen_schedules` gives."""
    flat = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    key = (RunKey(hw.cores, opts, seed), balancer, units.tobytes(), flat.tobytes())
    runs = cache_of(wl).networks
    if key not in runs:
        cut = BALANCERS.entry(balancer).cut
        _check_tasks_memory(hw, opts, max(map(len, owners), default=0), (balancer,))
        layers = np.arange(len(units), dtype=np.int64)
        tasks, ptr = even_tasks(arrays_of(wl), layers, units, owners, hw.cores,
                                hw.coupling == "tight", cut.chunks(opts.tasks_per_core))
        _check_schedule_memory(hw, len(tasks), f"{len(units)} layer(s)")
        if len(runs) >= SEEDED_RUNS_KEPT:
            del runs[next(iter(runs))]  # the oldest
        runs[key] = _simulate_alone(wl, hw, layers, units, tasks, ptr,
                                    BALANCERS.entry(balancer).steals, opts, seed)
    return runs[key]


def _dag_run(wl: Workload, hw: SystemConfig, units: np.ndarray, owners: list[np.ndarray],
             split: str, opts: BalancerOptions, seed: int):
    requests = [(i, int(units[i]), owners[i], split) for i in range(len(wl.layers))]
    _check_tasks_memory(hw, opts, max(map(len, owners)), (split,))
    tasks, ptr = _build_tasks(wl, hw, requests, opts)
    # the kernel sees tiles numbered globally, so that layers running at once never share one;
    # the task sets keep each layer's own numbering
    offsets = np.concatenate([[0], np.cumsum([len(o) for o in owners])]).astype(np.int64)
    layer_ids = np.repeat(np.arange(len(requests)), np.diff(ptr)).astype(np.int64)
    tiles = np.where(tasks.tile >= 0, tasks.tile + offsets[layer_ids], -1)
    net = wl.network
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    preds = [[index[p] for p in net.predecessors(layer.name)] for layer in net.layers]
    pred_ptr = np.concatenate([[0], np.cumsum([len(p) for p in preds])]).astype(np.int64)
    pred = np.array([p for ps in preds for p in ps], np.int64)
    *out, release, layer_end = simulate_kernel(
        layer_ids, tasks.kind, tasks.core, tiles, tasks.core_s, tasks.tile_s, tasks.bus_s,
        tasks.alt_s, ptr, pred_ptr, pred, hw.cores, max(1, int(offsets[-1])),
        BALANCERS.entry(split).steals, opts.steal_latency_s, VICTIMS[opts.victim],
        stream_seed(seed), False)
    return (_schedules(wl, [r[0] for r in requests], [r[1] for r in requests], opts, tasks,
                       ptr, out, layer_end - release), release, layer_end)


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
