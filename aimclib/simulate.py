"""Full-network simulation: allocation under a tile budget, then multi-core load balancing.

``simulate(net, hw, allocation=..., balancer=..., seed=...)`` chooses how many mapping units of
each layer go on the system's tiles (:mod:`aimclib.allocation`), places those tiles on cores
(tight coupling), cuts every layer into tasks (:mod:`aimclib.balancing`) and runs them on the
event-driven engine (:mod:`aimclib.engine`). The baseline is the same cores with no tiles and
the static-balanced digital split.

Barrier mode (the default) runs layer after layer and simulates every layer alone, so each
layer's schedule is cached and reused by any configuration that maps it the same way: a sweep
over tile budgets re-simulates only the layers whose mapping changed. ``dag=True`` lets
independent branches (Inception, DenseNet, residual shortcuts) overlap and simulates the whole
network at once.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from .allocation import ALLOCATIONS, allocate, knapsack_options
from .balancing import BALANCERS, TaskSet, layer_tasks
from .engine import (RAN_ANALOG, RAN_STOLEN_DIGITAL, VICTIM_MOST_LOADED, VICTIM_RANDOM,
                     simulate_barrier_kernel, simulate_kernel)
from .errors import ParameterError
from .loading import load_network
from .network import Network
from .system import SystemConfig, load_system
from .validation import (MAX_TASKS_PER_CORE, check_bool, check_choice, check_finite,
                         check_float, check_int, check_memory, check_seed, out_of_memory,
                         stream_seed)
from .workload import Workload, build_workload

VICTIMS = {"random": VICTIM_RANDOM, "most-loaded": VICTIM_MOST_LOADED}
OBJECTIVES = ("latency", "energy")

STEAL_LATENCY_S = 2e-7
"""Default time a thief needs to take a task from a victim's deque (s). Assumed: an atomic
compare-and-swap on the victim's deque plus the task descriptor's cache lines through the
shared L2, about 400 cycles at 2 GHz."""

TASKS_PER_CORE = 4
"""Default number of chunks per core a layer is cut into for work stealing (assumed)."""

CORE_PARTS = ("digital", "interface", "tile_wait", "host", "steal")
"""Busy core-second components (plus ``idle``)."""


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


PARTS = CORE_PARTS + ("steals", "mvms", "tile_busy_s", "tile_j", "bus_bytes", "dram_bytes")
"""What :func:`_parts` totals per layer: core-seconds by component (s), tasks moved by
stealing, MVMs, tile busy time (s), tile MVM energy (J), bus and DRAM bytes (B)."""


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


_SCHEDULES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def workload_for(net: Network, hw: SystemConfig) -> Workload:
    """The (cached) per-layer costs of ``net`` on ``hw``; they do not depend on the tile count."""
    return _workload(net, hw.replace(tiles=0))


def _schedule_cache(wl: Workload) -> dict:
    return _SCHEDULES.setdefault(wl, {})


def clear_caches() -> None:
    """Forget cached workloads and layer schedules (e.g. to measure cold start)."""
    _workload.cache_clear()
    _SCHEDULES.clear()


# ------------------------------------------------------------------------------ placement
def _spread(hw: SystemConfig, n_tiles: int) -> np.ndarray:
    """Ideal owners of ``n_tiles`` tiles of one layer: round-robin over tile-owning cores."""
    if hw.coupling == "loose":
        return np.full(n_tiles, -1, np.int64)
    owning = [c for c, k in enumerate(hw.tiles_per_core()) if k > 0]
    return np.array([owning[i % len(owning)] for i in range(n_tiles)], np.int64)


@lru_cache(maxsize=64)
def _no_owner(n: int) -> np.ndarray:
    """``n`` tiles owned by no core (loose coupling): read-only, shared between results."""
    out = np.full(n, -1, np.int64)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=256)
def _owner_sequence(caps: tuple[int, ...], n: int) -> np.ndarray:
    """The first ``n`` cores in the order a round-robin pointer hands out their tiles,
    skipping full cores: round ``r`` (0, 1, ...) gives, in core order, every core that owns
    more than ``r`` tiles. Rounds with the same cores are generated together, so the work
    grows with ``n`` and the cores, not with the system's tile count. Read-only (shared)."""
    caps_arr = np.asarray(caps, np.int64)
    parts, got, done_rounds = [], 0, 0
    for level in np.unique(caps_arr[caps_arr > 0]).tolist():
        if got >= n:
            break
        active = np.flatnonzero(caps_arr >= level)  # the cores of rounds done_rounds..level-1
        rounds = min(level - done_rounds, -(-(n - got) // len(active)))
        parts.append(np.tile(active, rounds))
        got += rounds * len(active)
        done_rounds = level
    seq = np.concatenate(parts)[:n] if parts else np.zeros(0, np.int64)
    seq.flags.writeable = False
    return seq


def place_tiles(hw: SystemConfig, tiles_per_layer: list[int]) -> list[np.ndarray]:
    """Owning core of every tile each layer maps (tight); -1 everywhere for loose coupling.

    Layers take tiles in execution order; a pointer walks round-robin over the cores that still
    own a free tile (their number per core follows ``system.tile_placement``), so each layer's
    tiles spread over as many cores as possible. Only the mapped tiles are placed.
    """
    if hw.coupling == "loose":
        none = _no_owner(max(tiles_per_layer, default=0))
        return [none[:n] for n in tiles_per_layer]
    used = sum(tiles_per_layer)
    if used > hw.tiles:
        raise ParameterError(f"the allocation uses {used} tiles but the system has {hw.tiles}")
    seq = _owner_sequence(tuple(hw.tiles_per_core()), used)
    out, pos = [], 0
    for n in tiles_per_layer:
        out.append(seq[pos:pos + n])
        pos += n
    return out


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
    chunks = opts.tasks_per_core if split == "work-stealing" else 1
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
    steal = any(r[3] == "work-stealing" for r in requests)
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
                                 tile_start[sl], float(mk[j]), _parts(wl, i, u, sets[j], ran_on[sl], how[sl],
                                        opts.steal_latency_s)))
    return out


def _splits(balancer: str) -> tuple[str, ...]:
    """Candidate splits scored for ``balancer`` (static-balanced also scores static-even)."""
    return ("static-balanced", "static-even") if balancer == "static-balanced" else (balancer,)


def _chosen(wl: Workload, hw: SystemConfig, keys: list[tuple], balancer: str,
            opts: BalancerOptions, seed: int) -> list[LayerSchedule]:
    """Schedules of layers alone for ``(layer, units, owners bytes)`` keys (cached; the
    missing ones simulated in one batch). Static-balanced keeps the faster of its own split
    and static-even (its own on ties)."""
    ctx = (hw.cores, opts, seed if balancer == "work-stealing" else None)
    memo = _schedule_cache(wl)
    raw = memo.setdefault(("layers",) + ctx, {})  # (layer, units, owners, split) -> schedule
    best = memo.setdefault(("best", balancer) + ctx, {})  # (layer, units, owners) -> chosen
    out = [best.get(k) for k in keys]
    missing = list(dict.fromkeys(k for k, s in zip(keys, out) if s is None))
    if missing:
        splits = _splits(balancer)
        todo = [k + (sp,) for k in missing for sp in splits if k + (sp,) not in raw]
        requests = [(i, u, np.frombuffer(own, np.int64), sp) for i, u, own, sp in todo]
        for k, sched in zip(todo, _run_alone(wl, hw, requests, opts, seed)):
            raw[k] = sched
        for k in missing:
            best[k] = min((raw[k + (sp,)] for sp in splits), key=lambda s: s.makespan)
        out = [best[k] for k in keys]
    return out


def barrier_schedules(wl: Workload, hw: SystemConfig, units: np.ndarray,
                      owners: list[np.ndarray], balancer: str, opts: BalancerOptions,
                      seed: int) -> list[LayerSchedule]:
    """Every layer's schedule, each simulated alone from t = 0 (cached)."""
    keys = [(i, u, own.tobytes()) for i, (u, own) in enumerate(zip(units.tolist(), owners))]
    return _chosen(wl, hw, keys, balancer, opts, seed)


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
        split == "work-stealing", opts.steal_latency_s, VICTIMS[opts.victim],
        stream_seed(seed), False)
    out = []
    for j in range(len(sets)):
        sl = slice(ptr[j], ptr[j + 1])
        out.append(LayerSchedule(sets[j], start[sl], end[sl], ran_on[sl], how[sl],
                                 tile_start[sl], float(layer_end[j] - release[j]),
                                 _parts(wl, j, int(units[j]), sets[j], ran_on[sl], how[sl],
                                        opts.steal_latency_s)))
    return out, release, layer_end


def dag_schedules(wl: Workload, hw: SystemConfig, units: np.ndarray, owners: list[np.ndarray],
                  balancer: str, opts: BalancerOptions, seed: int):
    """The whole network at once: a layer starts when its predecessors have finished.

    Static-balanced runs the network with its own split and with static-even and keeps the
    one that finishes first (its own on ties), so it is never slower than static-even.
    Returns the layer schedules (absolute times), release and end times per layer.
    """
    runs = [_dag_run(wl, hw, units, owners, sp, opts, seed) for sp in _splits(balancer)]
    return min(runs, key=lambda r: float(r[2].max(initial=0.0)))


# ------------------------------------------------------------------------------ accounting
def _parts(wl: Workload, i: int, units: int, tasks: TaskSet, ran_on: np.ndarray,
           how: np.ndarray, steal_s: float) -> np.ndarray:
    """One layer's totals in :data:`PARTS` order."""
    t, w = tasks, wl.layers[i]
    analog = how == RAN_ANALOG
    stolen = how == RAN_STOLEN_DIGITAL
    digital_s = np.where(stolen, t.alt_s, t.core_s)[~analog].sum()
    moved = int(np.count_nonzero(ran_on != t.core))
    stolen_tiles = np.unique(t.tile[stolen])
    stolen_weights = 0.0
    if stolen_tiles.size:  # a thief reads the stolen block's weights from DRAM
        stolen_weights = float((w.mapping.tile_rows[stolen_tiles]
                                * w.mapping.tile_cols[stolen_tiles]).sum()
                               ) * wl.system.cpu.activation_bytes
    return np.array([
        digital_s, t.iface_s[analog].sum(), t.stall_s[analog].sum(), t.host_s[analog].sum(),
        moved * steal_s, moved, t.mvms[analog].sum(), t.tile_s[analog].sum(),
        t.energy_j[analog].sum(), t.bus_bytes[analog].sum(),
        float(w.digital_dram_bytes[units]) + stolen_weights], dtype=np.float64)


def powered_tile_seconds(hw: SystemConfig, latency: float, tiles_per_layer, durations
                         ) -> float:
    """Tile-seconds of static power under ``system.power_gating`` (tile-s): ``none``, all
    ``hw.tiles`` tiles for ``latency``; ``unused``, the tiles holding weights for ``latency``;
    ``idle``, each layer's tiles for that layer's duration (``durations``, s)."""
    gating = hw.system.power_gating
    if gating == "none":
        return hw.tiles * latency
    tiles = np.asarray(tiles_per_layer, dtype=np.float64)
    if gating == "unused":
        return float(tiles.sum()) * latency
    return float(np.dot(tiles, np.asarray(durations, dtype=np.float64)))


def energy_breakdown(hw: SystemConfig, latency: float, vec: np.ndarray,
                     tile_on_s: float | None = None) -> tuple[float, dict]:
    """Total energy (J) and the breakdown ``component -> {seconds, joules}`` from summed
    :data:`PARTS` totals; ``tile_on_s`` is the powered tile-seconds
    (:func:`powered_tile_seconds`; default: every tile for ``latency``)."""
    cpu = hw.cpu
    tot = dict(zip(PARTS, (float(v) for v in vec)))
    busy = math.fsum(tot[k] for k in CORE_PARTS)
    idle = max(0.0, hw.cores * latency - busy)
    bd = {k: {"seconds": tot[k], "joules": tot[k] * cpu.active_power_w} for k in CORE_PARTS}
    bd["idle"] = {"seconds": idle, "joules": idle * cpu.idle_power_w}
    bd["tile_mvm"] = {"seconds": tot["tile_busy_s"], "joules": tot["tile_j"]}
    static = hw.tiles * latency if tile_on_s is None else tile_on_s
    bd["tile_static"] = {"seconds": static,
                         "joules": static * hw.tile.static_power_w * hw.tile_energy_scale}
    bd["dram"] = {"seconds": tot["dram_bytes"] / cpu.dram_bandwidth_bps,
                  "joules": tot["dram_bytes"] * cpu.dram_energy_j_per_byte}
    bd["bus"] = {"seconds": tot["bus_bytes"] / hw.loose.bus_bandwidth_bps,
                 "joules": tot["bus_bytes"] * hw.loose.bus_energy_j_per_byte}
    return math.fsum(v["joules"] for v in bd.values()), bd


def _table_key(hw: SystemConfig, opts: BalancerOptions) -> tuple:
    """What a cost table depends on besides the workload: cores, tile-owning cores, knobs."""
    owning = tuple(c for c, k in enumerate(hw.tiles_per_core()) if k > 0) \
        if hw.coupling == "tight" else ()
    return ("cost-table", hw.cores, owning, opts)


def cost_table(wl: Workload, hw: SystemConfig, opts: BalancerOptions, objective: str
               ) -> list[np.ndarray]:
    """Per MVM layer, its barrier-mode cost for every number of mapped units (0..n_units):
    latency (s) or energy (J) of the layer alone, static-balanced, tiles spread evenly.

    Tables are cached; they depend on the tile count only through which cores own tiles
    (tight coupling) and, for energy, through the tiles' static power (with
    ``power_gating="idle"`` a layer's own tiles for its time; otherwise the whole budget).
    """
    memo = _schedule_cache(wl)
    key = _table_key(hw, opts)
    if key not in memo:
        memo[key] = _cost_tables(wl, hw, opts)
    latency, energy_no_static = memo[key]
    if objective == "latency":
        return latency
    static_w = hw.tile.static_power_w * hw.tile_energy_scale
    if hw.system.power_gating == "idle":  # separable: a layer's tiles burn only while it runs
        return [e + static_w * np.array([w.mapping.tiles_for(u) for u in range(len(lat))]) * lat
                for e, lat, w in zip(energy_no_static, latency,
                                     (w for w in wl.layers if w.mapping is not None))]
    # none / unused: every tile of the budget is charged for each layer's time (for unused an
    # upper bound: the tiles the allocation leaves empty are charged too)
    return [e + hw.tiles * static_w * lat for e, lat in zip(energy_no_static, latency)]


def _cost_tables(wl: Workload, hw: SystemConfig, opts: BalancerOptions
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Latency (s) and energy without tile static power (J) tables of :func:`cost_table`."""
    mvm = [w for w in wl.layers if w.mapping is not None]
    latency, energy = [], []
    no_static = hw.replace(tiles=0)
    keys = [(w.index, u, _spread(hw, w.mapping.tiles_for(u)).tobytes())
            for w in mvm for u in range(w.n_units + 1)]
    scheds = iter(_chosen(wl, hw, keys, "static-balanced", opts, 0))
    for w in mvm:
        done = [next(scheds) for _ in range(w.n_units + 1)]
        latency.append(np.array([s.makespan for s in done]))
        energy.append(np.array([energy_breakdown(no_static, s.makespan, s.vec)[0]
                                for s in done]))
    return latency, energy


# ------------------------------------------------------------------------------ results
def gain(baseline: float, value: float) -> float:
    """``baseline / value``: a speedup or energy gain; 1.0 when both are 0 (a network or
    layer without work, e.g. a lone concat, costs nothing either way)."""
    if value == 0.0:
        return 1.0 if baseline == 0.0 else math.inf
    return baseline / value


@dataclass
class SimResult:
    """The outcome of :func:`simulate` (times in s, energies in J).

    Scalars: ``latency_s``, ``energy_j``, ``baseline_latency_s``, ``baseline_energy_j``,
    ``speedup``, ``energy_gain``, ``coverage`` (share of the network's MVM weights on tiles),
    ``tiles_used``. Tables (pandas): ``layers``, ``cores``, ``tiles``, ``trace``.
    """

    network: Network
    system: SystemConfig
    allocation: str
    balancer: str
    seed: int
    dag: bool
    options: BalancerOptions
    workload: Workload
    units: np.ndarray
    owners: list
    schedules: list
    layer_start: np.ndarray
    layer_end: np.ndarray
    latency_s: float
    energy_j: float
    breakdown: dict
    baseline_latency_s: float
    baseline_energy_j: float
    baseline_breakdown: dict

    @property
    def speedup(self) -> float:
        return gain(self.baseline_latency_s, self.latency_s)

    @property
    def energy_gain(self) -> float:
        return gain(self.baseline_energy_j, self.energy_j)

    @cached_property
    def _mapped(self) -> list[tuple]:
        out = []
        for w in self.workload.layers:
            if w.mapping is None:
                out.append((0, 0, 0, 0))
            else:
                u = int(self.units[w.index])
                part = w.mapping.partial(u)
                out.append((u, w.n_units, part.tiles_used, part.weights_covered))
        return out

    @property
    def tiles_used(self) -> int:
        return int(sum(m[2] for m in self._mapped))

    @property
    def coverage(self) -> float:
        total = self.network.mvm_weights
        return sum(m[3] for m in self._mapped) / total if total else 0.0

    @property
    def mac_coverage(self) -> float:
        """Share of the network's conv/linear MACs whose MVMs run on tiles (0..1)."""
        total = self.network.macs
        on = sum(w.info.m * m[3] for w, m in zip(self.workload.layers, self._mapped))
        return on / total if total else 0.0

    def summary(self) -> dict:
        """The scalar results as a JSON-friendly dict (the ``aimc simulate --json`` contract)."""
        return {
            "network": self.network.name, "preset": self.system.name,
            "coupling": self.system.coupling, "cores": self.system.cores,
            "tiles": self.system.tiles, "allocation": self.allocation,
            "balancer": self.balancer, "seed": self.seed, "dag": self.dag,
            "latency_s": self.latency_s, "energy_j": self.energy_j,
            "baseline_latency_s": self.baseline_latency_s,
            "baseline_energy_j": self.baseline_energy_j, "speedup": self.speedup,
            "energy_gain": self.energy_gain, "coverage": self.coverage,
            "mac_coverage": self.mac_coverage, "tiles_used": self.tiles_used,
            "breakdown": self.breakdown,
        }

    @cached_property
    def layers(self) -> pd.DataFrame:
        """One row per layer: mapping, timing and work."""
        rows = []
        for w, s, (u, nu, tu, wc), t0, t1 in zip(
                self.workload.layers, self.schedules, self._mapped, self.layer_start,
                self.layer_end):
            info = w.info
            parts = dict(zip(PARTS, s.vec.tolist()))
            rows.append({
                "layer": info.name, "kind": info.kind, "units_mapped": u, "units_total": nu,
                "tiles_used": tu, "weights": info.weights, "weights_on_tiles": wc,
                "coverage": wc / info.weights if info.weights else 0.0, "macs": info.macs,
                "start_s": float(t0), "end_s": float(t1), "latency_s": float(t1 - t0),
                "digital_core_s": parts["digital"],
                "analog_core_s": parts["interface"] + parts["tile_wait"] + parts["host"],
                "mvms": int(parts["mvms"]), "steals": int(parts["steals"]),
                "tile_mvm_energy_j": parts["tile_j"], "dram_bytes": parts["dram_bytes"],
            })
        return pd.DataFrame(rows)

    @cached_property
    def trace(self) -> pd.DataFrame:
        """Busy intervals: one row per task on its core (``resource='core'``) and, for analog
        tasks, on its tile (``resource='tile'``); absolute times in s."""
        frames = []
        tile_base = np.concatenate([[0], np.cumsum([len(o) for o in self.owners])])
        for i, (s, t0) in enumerate(zip(self.schedules, self.layer_start)):
            if len(s.tasks) == 0:
                continue
            off = 0.0 if self.dag else float(t0)
            t = s.tasks
            what = np.where(s.how == RAN_ANALOG, "analog",
                            np.where(s.how == RAN_STOLEN_DIGITAL, "stolen-digital", "digital"))
            core_end = np.where(s.how == RAN_STOLEN_DIGITAL, s.start + t.alt_s,
                                np.where(s.how == RAN_ANALOG, s.start + t.core_s, s.end))
            frames.append(pd.DataFrame({
                "resource": "core", "id": s.ran_on, "layer": self.network.layers[i].name,
                "task": np.arange(len(t)), "kind": what, "start_s": s.start + off,
                "end_s": core_end + off}))
            an = s.how == RAN_ANALOG
            if an.any():
                tile_ids = t.tile[an] + tile_base[i]
                frames.append(pd.DataFrame({
                    "resource": "tile", "id": tile_ids, "layer": self.network.layers[i].name,
                    "task": np.flatnonzero(an), "kind": "mvm",
                    "start_s": s.tile_start[an] + off,
                    "end_s": s.tile_start[an] + t.tile_s[an] + off}))
        cols = ["resource", "id", "layer", "task", "kind", "start_s", "end_s"]
        if not frames:
            return pd.DataFrame(columns=cols)
        return pd.concat(frames, ignore_index=True)[cols]

    @cached_property
    def cores(self) -> pd.DataFrame:
        """One row per core: busy time by component, idle time, tasks run, steals, energy."""
        p = self.system.cores
        acc = {k: np.zeros(p) for k in ("digital", "analog", "steal")}
        tasks, steals = np.zeros(p, np.int64), np.zeros(p, np.int64)
        for s in self.schedules:
            t = s.tasks
            an = s.how == RAN_ANALOG
            dur = np.where(s.how == RAN_STOLEN_DIGITAL, t.alt_s, t.core_s)
            np.add.at(acc["digital"], s.ran_on[~an], dur[~an])
            np.add.at(acc["analog"], s.ran_on[an], t.core_s[an])
            moved = s.ran_on != t.core
            np.add.at(steals, s.ran_on[moved], 1)
            np.add.at(tasks, s.ran_on, 1)
        acc["steal"] = steals * self.options.steal_latency_s
        busy = acc["digital"] + acc["analog"] + acc["steal"]
        idle = np.maximum(0.0, self.latency_s - busy)
        cpu = self.system.cpu
        return pd.DataFrame({
            "core": np.arange(p), "busy_s": busy, "digital_s": acc["digital"],
            "analog_s": acc["analog"], "steal_s": acc["steal"], "idle_s": idle,
            "utilisation": busy / self.latency_s, "tasks": tasks, "steals": steals,
            "tiles_owned": self.system.tiles_per_core() if self.system.coupling == "tight"
            else np.zeros(p, np.int64),
            "energy_j": busy * cpu.active_power_w + idle * cpu.idle_power_w})

    @cached_property
    def tiles(self) -> pd.DataFrame:
        """One row per mapped tile: layer, owner core, cells used, MVMs run, busy time, energy."""
        rows = []
        gid = 0
        hw = self.system
        static_w = hw.tile.static_power_w * hw.tile_energy_scale
        for w, s, owners, t0, t1 in zip(self.workload.layers, self.schedules, self.owners,
                                        self.layer_start, self.layer_end):
            if w.mapping is None:
                continue
            on_s = float(t1 - t0) if hw.system.power_gating == "idle" else self.latency_s
            mp, t = w.mapping, s.tasks
            an = s.how == RAN_ANALOG
            for j in range(len(owners)):
                mine = an & (t.tile == j)
                rows.append({
                    "tile": gid, "layer": w.info.name, "owner_core": int(owners[j]),
                    "rows_used": int(mp.tile_rows[j]), "cols_used": int(mp.tile_cols[j]),
                    "utilisation": mp.tile_rows[j] * mp.tile_cols[j] / (mp.rows * mp.cols),
                    "mvms": int(t.mvms[mine].sum()), "busy_s": float(t.tile_s[mine].sum()),
                    "energy_j": float(t.energy_j[mine].sum()) + static_w * on_s})
                gid += 1
        cols = ["tile", "layer", "owner_core", "rows_used", "cols_used", "utilisation", "mvms",
                "busy_s", "energy_j"]
        return pd.DataFrame(rows, columns=cols)


# ------------------------------------------------------------------------------ entry point
def _run(wl: Workload, hw: SystemConfig, units: np.ndarray, balancer: str,
         opts: BalancerOptions, seed: int, dag: bool):
    tiles_per_layer = [w.mapping.tiles_for(int(units[w.index])) if w.mapping else 0
                       for w in wl.layers]
    owners = place_tiles(hw, tiles_per_layer)
    if dag:
        scheds, release, end = dag_schedules(wl, hw, units, owners, balancer, opts, seed)
        latency = float(end.max())
    else:
        scheds = barrier_schedules(wl, hw, units, owners, balancer, opts, seed)
        mk = np.array([s.makespan for s in scheds])
        end = np.cumsum(mk)
        release = end - mk
        latency = float(end[-1])
    tile_on = powered_tile_seconds(hw, latency, tiles_per_layer, end - release)
    energy, bd = energy_breakdown(hw, latency, np.sum([s.vec for s in scheds], axis=0),
                                  tile_on)
    return owners, scheds, release, end, latency, energy, bd


def allocate_units(wl: Workload, hw: SystemConfig, allocation: str, objective: str = "latency",
                   opts: BalancerOptions | None = None) -> np.ndarray:
    """Units mapped per layer (0 for non-MVM layers) under ``hw.tiles`` tiles."""
    opts = opts or BalancerOptions()
    mvm = [w for w in wl.layers if w.mapping is not None]
    units = np.zeros(len(wl.layers), np.int64)
    if hw.tiles == 0 or not mvm:
        return units
    unit_tiles = [w.mapping.unit_tiles for w in mvm]
    cost = options = None
    if allocation in ("greedy-benefit", "optimal"):
        cost = cost_table(wl, hw, opts, objective)
        if allocation == "optimal":  # the knapsack's option arrays are kept with the table
            memo = _schedule_cache(wl)
            key = ("knapsack", _table_key(hw, opts), objective,
                   hw.tiles if objective == "energy" else None)
            if key not in memo:
                memo[key] = knapsack_options(unit_tiles, cost)
            options = memo[key]
    chosen = allocate(allocation, hw.tiles, unit_tiles, [w.info.weights for w in mvm],
                      [w.info.m for w in mvm], cost, options)
    for w, u in zip(mvm, chosen):
        units[w.index] = u
    return units


def coverage_of(wl: Workload, units: np.ndarray) -> float:
    """Share of the network's MVM weights that ``units`` put on tiles."""
    total = sum(w.info.weights for w in wl.layers)
    covered = sum(w.mapping.partial(int(units[w.index])).weights_covered
                  for w in wl.layers if w.mapping is not None)
    return covered / total if total else 0.0


def tiles_for_coverage(net: Network | str, hw: SystemConfig | str, coverage: float,
                       allocation: str = "optimal", objective: str = "latency") -> int:
    """The tile budget whose allocation's coverage is nearest ``coverage`` (0..1).

    Coverage grows with the budget but not strictly (a latency-optimal allocation may leave
    tiles unused), so the search brackets the target by doubling, bisects, then checks the
    neighbours of the bracket and keeps the budget whose coverage is nearest (the smaller one
    on ties).
    """
    coverage = check_float(coverage, "coverage", low=0.0, high=1.0, where="tiles_for_coverage")
    check_choice(allocation, "allocation", ALLOCATIONS, where="tiles_for_coverage")
    net = load_network(net)
    hw = hw if isinstance(hw, SystemConfig) else load_system(hw)
    wl = workload_for(net, hw)
    need = sum(w.mapping.tiles_full for w in wl.layers if w.mapping is not None)

    memo = _schedule_cache(wl)  # per network and system: sweeps ask the same budgets again

    def cov(t: int) -> float:
        key = ("coverage", allocation, objective, t)
        if key not in memo:
            units = allocate_units(wl, hw.replace(tiles=t), allocation, objective)
            memo[key] = coverage_of(wl, units)
        return memo[key]

    lo, hi = 0, max(1, need)
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if cov(mid) < coverage:
            lo = mid
        else:
            hi = mid
    cands = sorted({max(0, lo - 1), lo, hi, min(need, hi + 1)})
    return min(cands, key=lambda t: (abs(cov(t) - coverage), t))


def simulate(net: Network | str, hw: SystemConfig | str = "alpine-tight", *,
             allocation: str = "optimal", balancer: str = "static-balanced", seed: int = 0,
             dag: bool = False, objective: str = "latency", victim: str = "random",
             steal_latency_s: float = STEAL_LATENCY_S, tasks_per_core: int = TASKS_PER_CORE,
             cores: int | None = None, tiles: int | None = None) -> SimResult:
    """Simulate ``net`` on ``hw`` with the tiles allocated by ``allocation`` and the cores
    balanced by ``balancer``.

    Args:
        net: a :class:`Network`, a zoo name or a path to an .onnx / .csv file.
        hw: a :class:`SystemConfig` or a preset name / .toml path.
        allocation: one of :data:`aimclib.allocation.ALLOCATIONS`.
        balancer: ``static-even``, ``static-balanced`` or ``work-stealing``.
        seed: seed of the work-stealing victim choice (results are identical for a seed).
        dag: let independent branches overlap instead of a barrier after every layer.
        objective: what ``optimal`` and ``greedy-benefit`` minimise: ``latency`` or ``energy``.
        victim: work stealing's victim choice, ``random`` or ``most-loaded``.
        steal_latency_s: time to steal one task (s).
        tasks_per_core: chunks per core of each layer for work stealing.
        cores, tiles: override the system's core and tile counts.
    """
    where = "simulate"
    check_choice(allocation, "allocation", ALLOCATIONS, where=where)
    check_choice(balancer, "balancer", BALANCERS, where=where)
    check_choice(objective, "objective", OBJECTIVES, where=where)
    seed = check_seed(seed, where=where)
    dag = check_bool(dag, "dag", where=where)
    net = load_network(net)
    hw = hw if isinstance(hw, SystemConfig) else load_system(hw)
    over = {k: v for k, v in (("cores", cores), ("tiles", tiles)) if v is not None}
    if over:
        hw = hw.replace(**over)
    opts = BalancerOptions(victim, steal_latency_s, tasks_per_core)
    try:
        wl = workload_for(net, hw)
        units = allocate_units(wl, hw, allocation, objective, opts)
        owners, scheds, release, end, latency, energy, bd = _run(
            wl, hw, units, balancer, opts, seed, dag)
        memo = _schedule_cache(wl)
        bkey = ("baseline", hw.cores, opts, dag)
        if bkey not in memo:
            memo[bkey] = _run(wl, hw.replace(tiles=0), np.zeros(len(wl.layers), np.int64),
                              "static-balanced", opts, seed, dag)[4:]
    except MemoryError:
        raise out_of_memory(f"simulating {net.name} on {hw.cores} cores",
                            "the cores, tasks_per_core or the network's size") from None
    b_lat, b_energy, b_bd = memo[bkey]
    check_finite({"latency_s": latency, "energy_j": energy, "baseline_latency_s": b_lat,
                  "baseline_energy_j": b_energy}, f"simulate {net.name} on {hw.name}")
    return SimResult(net, hw, allocation, balancer, int(seed), bool(dag), opts, wl, units,
                     owners, scheds, release, end, latency, energy, bd, b_lat, b_energy, b_bd)
