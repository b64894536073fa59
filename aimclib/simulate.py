"""Full-network simulation: allocation under a tile budget, then multi-core load balancing.

``simulate(net, hw, allocation=..., balancer=..., seed=...)`` chooses how many mapping units of
each layer go on the system's tiles (:mod:`aimclib.allocation`), places those tiles on cores
(:mod:`aimclib.placement`), cuts every layer into tasks and runs them on the event-driven
engine (:mod:`aimclib.scheduling`), totals the energy (:mod:`aimclib.accounting`) and returns
a :class:`~aimclib.results.SimResult`. The baseline is the same cores with no tiles and the
static-balanced digital split, under the same schedule. ``schedule=`` picks the barrier, DAG
or pipelined schedule (:mod:`aimclib.pipelining`); ``batch=`` adds a throughput run
(:mod:`aimclib.throughput`).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .accounting import energy_breakdown, powered_tile_seconds
from .allocation import ALLOCATIONS, allocate
from .balancing import BALANCERS
from .loading import load_network
from .network import Network
from .pipelining import band_graph, best_run, layer_view
from .placement import place_tiles, spread
from .replication import (ReplicateRule, apply_rule, copy_cap, copy_owners, expand_unit_tiles,
                          max_units, parse_replicate, place_copies, replicated, rule_of)
from .replication import tiles_per_layer as copy_tiles_per_layer
from .replication import tiles_used as copy_tiles_used
from .results import SimResult
from .scheduling import (STEAL_LATENCY_S, TASKS_PER_CORE, BalancerOptions, LayerKey,
                         arrays_of, barrier_schedules, cache_of, chosen_schedules,
                         dag_schedules, layer_arrays, workload_for)
from .system import SystemConfig, load_system
from .throughput import THROUGHPUTS, Throughput, batch_workload, image_run
from .validation import (REPLICATE_OFF, REPLICATE_ON, check_choice, check_finite, check_float,
                         check_schedule, check_seed, out_of_memory)
from .workload import Workload

OBJECTIVES = ("latency", "energy")


def _table_key(hw: SystemConfig, opts: BalancerOptions, tiles: int | None = None) -> tuple:
    """What a cost table depends on besides the workload: cores, tile-owning cores (with
    ``tiles`` tiles instead of the system's, when given), knobs."""
    owning = tuple(c for c, k in enumerate(hw.tiles_per_core(tiles)) if k > 0) \
        if hw.coupling == "tight" else ()
    return ("cost-table", hw.cores, owning, opts)


def cost_table(wl: Workload, hw: SystemConfig, opts: BalancerOptions, objective: str,
               copies: bool = False) -> list[np.ndarray]:
    """Per MVM layer, its barrier-mode cost for every number of mapped units (0..n_units;
    with ``copies``, every number of unit-copies up to
    :func:`~aimclib.replication.max_units`): latency (s) or energy (J) of the layer alone,
    static-balanced, tiles spread evenly (copies re-dealt by
    :func:`~aimclib.replication.copy_owners`).

    Tables are cached; they depend on the tile count only through which cores own tiles
    (tight coupling) and, for energy, through the tiles' static power (with
    ``power_gating="idle"`` a layer's own tiles for its time; otherwise the whole budget).
    """
    tables = cache_of(wl).cost_tables
    key = _table_key(hw, opts) + (("copies",) if copies else ())
    if key not in tables:
        tables[key] = _cost_tables(wl, hw, opts, copies)
    latency, energy_no_static = tables[key]
    if objective == "latency":
        return latency
    static_w = hw.tile.static_power_w * hw.tile_energy_scale
    if hw.system.power_gating == "idle":  # separable: a layer's tiles burn only while it runs
        return [e + static_w * np.array([copy_tiles_used(w.mapping, u)
                                         for u in range(len(lat))]) * lat
                for e, lat, w in zip(energy_no_static, latency,
                                     (w for w in wl.layers if w.mapping is not None))]
    # none / unused: every tile of the budget is charged for each layer's time (for unused an
    # upper bound: the tiles the allocation leaves empty are charged too)
    return [e + hw.tiles * static_w * lat for e, lat in zip(energy_no_static, latency)]


def _cost_tables(wl: Workload, hw: SystemConfig, opts: BalancerOptions, copies: bool = False
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Latency (s) and energy without tile static power (J) tables of :func:`cost_table`."""
    mvm = [w for w in wl.layers if w.mapping is not None]
    latency, energy = [], []
    no_static = hw.replace(tiles=0)
    top = [max_units(w, hw) if copies else w.n_units for w in mvm]
    keys = [LayerKey(w.index, u, _spread_owners(hw, w, u).tobytes())
            for w, t in zip(mvm, top) for u in range(t + 1)]
    scheds = iter(chosen_schedules(wl, hw, keys, "static-balanced", opts, 0))
    for w, t in zip(mvm, top):
        done = [next(scheds) for _ in range(t + 1)]
        latency.append(np.array([s.makespan for s in done]))
        energy.append(np.array([energy_breakdown(no_static, s.makespan, s.vec)[0]
                                for s in done]))
    return latency, energy


def _spread_owners(hw: SystemConfig, w, u: int) -> np.ndarray:
    """The cost table's owners of ``u`` unit-copies of layer ``w``: spread evenly over the
    tile-owning cores (copies re-dealt so that copies of a tile sit on different cores)."""
    if u <= w.n_units:
        return spread(hw, w.mapping.tiles_for(u))
    return copy_owners(spread(hw, copy_tiles_used(w.mapping, u)), w.mapping.tiles_full)


def _placed(wl: Workload, hw: SystemConfig, units: np.ndarray
            ) -> tuple[list[int], list[np.ndarray]]:
    """Tiles each layer maps (every copy counted) and their owning cores."""
    if replicated(wl, units).any():  # copies: every copy's tiles placed and counted
        tiles_per_layer = copy_tiles_per_layer(wl, units)
        return tiles_per_layer, place_copies(wl, units, place_tiles(hw, tiles_per_layer))
    arrays = arrays_of(wl)
    tiles_per_layer = arrays.tiles_for[arrays.unit_ptr[:-1] + units].tolist()
    return tiles_per_layer, place_tiles(hw, tiles_per_layer)


def _run(wl: Workload, hw: SystemConfig, units: np.ndarray, balancer: str,
         opts: BalancerOptions, seed: int, schedule: str):
    """Place the tiles and run ``schedule``: owners, layer schedules, layer release and end
    times (s), latency (s), energy (J), breakdown and the band run (pipelined, else None)."""
    tiles_per_layer, owners = _placed(wl, hw, units)
    bands = None
    if schedule == "pipelined":
        bands = best_run(wl, hw, units, owners, balancer, opts, seed, band_graph(wl.network))
        scheds, release, end = layer_view(bands, len(wl.layers))
        vecs = scheds.vecs
        latency = bands.makespan
    elif schedule == "dag":
        scheds, release, end = dag_schedules(wl, hw, units, owners, balancer, opts, seed)
        vecs = layer_arrays(scheds)[1]
        latency = float(end.max())
    else:
        scheds = barrier_schedules(wl, hw, units, owners, balancer, opts, seed)
        mk, vecs = layer_arrays(scheds)
        end = np.cumsum(mk)
        release = end - mk
        latency = float(end[-1])
    tile_on = powered_tile_seconds(hw, latency, tiles_per_layer, end - release)
    energy, bd = energy_breakdown(hw, latency, np.sum(vecs, axis=0), tile_on)
    return owners, scheds, release, end, latency, energy, bd, bands


def _allocation_inputs(wl: Workload, hw: SystemConfig, allocation: str, objective: str,
                       opts: BalancerOptions, copies: bool = False):
    """The MVM layers and what strategy ``allocation`` reads: unit tiles, and the cost table
    and its prepared form (cached) when it needs them; with ``copies``, the unit-copies'
    tiles and costs (:mod:`aimclib.replication`)."""
    mvm = [w for w in wl.layers if w.mapping is not None]
    unit_tiles = [w.mapping.unit_tiles for w in mvm]
    if copies:
        unit_tiles = [expand_unit_tiles(ut, copy_cap(w, hw)) for ut, w in zip(unit_tiles, mvm)]
    entry = ALLOCATIONS.entry(allocation)
    cost = prepared = None
    if entry.needs_cost and mvm:
        cost = cost_table(wl, hw, opts, objective, copies)
        if entry.prepare is not None:  # kept with the table: every budget reuses it
            memo = cache_of(wl).prepared
            key = (_table_key(hw, opts), objective,
                   hw.tiles if objective == "energy" else None, allocation) \
                + (("copies",) if copies else ())
            if key not in memo:
                memo[key] = entry.prepare(unit_tiles, cost)
            prepared = memo[key]
    return mvm, (unit_tiles, [w.info.weights for w in mvm], [w.info.m for w in mvm], cost,
                 prepared)


def allocate_units(wl: Workload, hw: SystemConfig, allocation: str, objective: str = "latency",
                   opts: BalancerOptions | None = None, replicate: str = REPLICATE_OFF
                   ) -> np.ndarray:
    """Units mapped per layer (0 for non-MVM layers) under ``hw.tiles`` tiles (unit-copies
    beyond a layer's units when ``replicate`` adds copies)."""
    return allocate_units_many(wl, hw, [hw.tiles], allocation, objective, opts, replicate)[0]


def allocate_units_many(wl: Workload, hw: SystemConfig, budgets, allocation: str,
                        objective: str = "latency", opts: BalancerOptions | None = None,
                        replicate: str = REPLICATE_OFF) -> np.ndarray:
    """Units mapped per layer (columns) for every tile budget of ``budgets`` (rows) on ``hw``
    with its tile count replaced by the budget; strategies that choose for many budgets at
    once do. ``replicate`` (canonical text, :func:`~aimclib.replication.parse_replicate`):
    ``on`` lets the cost-table strategies choose copies and gives the others the default
    :class:`~aimclib.replication.ReplicateRule`; ``reuse>=X`` applies that rule after any
    strategy."""
    opts = opts or BalancerOptions()
    replicate = parse_replicate(replicate, "allocate_units")
    units = np.zeros((len(budgets), len(wl.layers)), np.int64)
    entry = ALLOCATIONS.entry(allocation)
    copies = replicate == REPLICATE_ON and entry.needs_cost  # the strategy chooses copies
    rule = rule_of(replicate) if replicate != REPLICATE_ON else (
        None if copies else ReplicateRule())
    groups: dict[tuple, list[int]] = {}  # budgets sharing one cost table
    for k, t in enumerate(budgets):
        if t > 0:
            key = _table_key(hw, opts, t) + ((t,) if objective == "energy" else ())
            groups.setdefault(key, []).append(k)
    for rows in groups.values():
        t = budgets[rows[0]]
        hw_t = hw if t == hw.tiles else hw.with_tiles(t)
        mvm, args = _allocation_inputs(wl, hw_t, allocation, objective, opts, copies)
        if not mvm:
            continue
        cols = [w.index for w in mvm]
        if entry.choose_many is not None and len(rows) > 1:
            units[np.ix_(rows, cols)] = entry.choose_many([budgets[k] for k in rows], *args)
        else:
            for k in rows:
                units[k, cols] = allocate(allocation, budgets[k], *args)
        if rule is not None:  # copies from the tiles the strategy left
            for k in rows:
                units[k, cols] = apply_rule(rule, units[k, cols], mvm, hw_t, budgets[k])
    return units


def coverage_of(wl: Workload, units: np.ndarray) -> float:
    """Share of the network's MVM weights that ``units`` put on tiles (copies counted once)."""
    total = sum(w.info.weights for w in wl.layers)
    covered = sum(w.mapping.partial(min(int(units[w.index]), w.n_units)).weights_covered
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

    memo = cache_of(wl).coverage  # per network and system: sweeps ask the same budgets again

    def cov(t: int) -> float:
        key = (allocation, objective, t)
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


def _inputs(where: str, net, hw, allocation: str, balancer: str, objective: str, seed,
            victim: str, steal_latency_s: float, tasks_per_core: int, cores, tiles):
    """Validated inputs of :func:`simulate` and its batched form: network, system (with the
    ``cores`` and ``tiles`` overrides), balancer options and seed."""
    check_choice(allocation, "allocation", ALLOCATIONS, where=where)
    check_choice(balancer, "balancer", BALANCERS, where=where)
    check_choice(objective, "objective", OBJECTIVES, where=where)
    seed = check_seed(seed, where=where)
    net = load_network(net)
    hw = hw if isinstance(hw, SystemConfig) else load_system(hw)
    if cores is not None:
        hw = hw.replace(cores=cores)
    if tiles is not None:
        hw = hw.with_tiles(tiles)
    return net, hw, BalancerOptions(victim, steal_latency_s, tasks_per_core), seed


@contextmanager
def _memory_guard(net: Network, hw: SystemConfig):
    """Turn running out of memory while simulating into a clear error."""
    try:
        yield
    except MemoryError:
        raise out_of_memory(f"simulating {net.name} on {hw.cores} cores",
                            "the cores, tasks_per_core or the network's size") from None


def baseline(wl: Workload, hw: SystemConfig, opts: BalancerOptions, seed: int,
             schedule: bool | str) -> tuple[float, float, dict]:
    """Latency (s), energy (J) and breakdown of the all-digital baseline: the same cores, no
    tiles, static-balanced, the same schedule (``schedule``: one of
    :data:`~aimclib.validation.SCHEDULES`, or a bool: ``dag``) (cached)."""
    if isinstance(schedule, (bool, np.bool_)):
        schedule = "dag" if schedule else "barrier"
    memo = cache_of(wl).baselines
    key = (hw.cores, opts, schedule)
    if key not in memo:
        memo[key] = _run(wl, hw.with_tiles(0), np.zeros(len(wl.layers), np.int64),
                         "static-balanced", opts, seed, schedule)[4:7]
    return memo[key]


def _throughput(wl: Workload, hw: SystemConfig, units: np.ndarray, owners: list,
                balancer: str, opts: BalancerOptions, seed: int, schedule: str, batch: int,
                mode: str, batch1: tuple[float, float, dict]) -> Throughput:
    """The batch of ``batch`` images run as ``mode`` says (:mod:`aimclib.throughput`);
    ``batch1``: the batch-1 latency, energy and breakdown (a batch of one)."""
    if batch == 1:
        return Throughput(1, mode, *batch1)
    if mode == "batch":
        latency, energy, bd = _run(batch_workload(wl, batch), hw, units, balancer, opts, seed,
                                   schedule)[4:7]
        return Throughput(batch, mode, latency, energy, bd)
    tiles_per_layer = _placed(wl, hw, units)[0]
    return image_run(wl, hw, units, owners, balancer, opts, seed, schedule, batch,
                     tiles_per_layer)


def simulate(net: Network | str, hw: SystemConfig | str = "alpine-tight", *,
             allocation: str = "optimal", balancer: str = "static-balanced", seed: int = 0,
             dag: bool = False, objective: str = "latency", victim: str = "random",
             steal_latency_s: float = STEAL_LATENCY_S, tasks_per_core: int = TASKS_PER_CORE,
             cores: int | None = None, tiles: int | None = None, schedule: str | None = None,
             batch: int = 1, throughput: str = "batch", replicate=False) -> SimResult:
    """Simulate ``net`` on ``hw`` with the tiles allocated by ``allocation`` and the cores
    balanced by ``balancer``.

    Args:
        net: a :class:`Network`, a zoo name or a path to an .onnx / .csv file.
        hw: a :class:`SystemConfig` or a preset name / .toml path.
        allocation: one of :data:`aimclib.allocation.ALLOCATIONS`.
        balancer: one of :data:`aimclib.balancing.BALANCERS`.
        seed: seed of the work-stealing victim choice (results are identical for a seed).
        dag: let independent branches overlap instead of a barrier after every layer (an
            alias of ``schedule="dag"``).
        objective: what ``optimal`` and ``greedy-benefit`` minimise: ``latency`` or ``energy``.
        victim: work stealing's victim choice, ``random`` or ``most-loaded``.
        steal_latency_s: time to steal one task (s).
        tasks_per_core: chunks per core of each layer for work stealing.
        cores, tiles: override the system's core and tile counts.
        schedule: ``"barrier"`` (a barrier after every layer), ``"dag"`` (independent
            branches overlap) or ``"pipelined"`` (layers cut into row bands that start as
            soon as the rows they read are made, :mod:`aimclib.pipelining`); None: ``dag``
            decides.
        batch: images of the throughput run (1: latency only); the result's
            ``throughput`` reports inferences/s and energy per inference.
        throughput: how a batch runs, ``"batch"`` (each layer takes all images' positions
            together) or ``"pipelined"`` (the images flow through as a DAG), see
            :mod:`aimclib.throughput`.
        replicate: weight replication (:mod:`aimclib.replication`): False / ``"off"`` (the
            default), True / ``"on"`` (``optimal`` and ``greedy-benefit`` choose copies from
            their cost table; other strategies copy every reused layer), or a
            :class:`~aimclib.replication.ReplicateRule` / ``"reuse>=X"``.
    """
    net, hw, opts, seed = _inputs("simulate", net, hw, allocation, balancer, objective, seed,
                                  victim, steal_latency_s, tasks_per_core, cores, tiles)
    schedule, batch, throughput = check_schedule(schedule, dag, batch, throughput,
                                                 where="simulate", throughputs=THROUGHPUTS)
    replicate = parse_replicate(replicate, where="simulate")
    with _memory_guard(net, hw):
        wl = workload_for(net, hw)
        units = allocate_units(wl, hw, allocation, objective, opts, replicate)
        owners, scheds, release, end, latency, energy, bd, bands = _run(
            wl, hw, units, balancer, opts, seed, schedule)
        b_lat, b_energy, b_bd = baseline(wl, hw, opts, seed, schedule)
        tput = _throughput(wl, hw, units, owners, balancer, opts, seed, schedule, batch,
                           throughput, (latency, energy, bd))
    check_finite({"latency_s": latency, "energy_j": energy, "baseline_latency_s": b_lat,
                  "baseline_energy_j": b_energy, "batch_latency_s": tput.latency_s,
                  "batch_energy_j": tput.energy_j}, f"simulate {net.name} on {hw.name}")
    return SimResult(net, hw, allocation, balancer, int(seed), schedule == "dag", opts, wl,
                     units, owners, scheds, release, end, latency, energy, bd, b_lat, b_energy,
                     b_bd, schedule=schedule, bands=bands, throughput=tput, replicate=replicate)
