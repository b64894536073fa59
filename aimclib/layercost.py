"""Cost of one layer on a system: latency and energy with breakdowns, against all-digital.

A conv/linear layer given ``T`` tiles maps up to as many of its units (column blocks with all
their row blocks, or packed groups; :mod:`aimclib.mapping`) as fit, as many as make it fastest;
its *coverage* is what the tiles then hold. The layer is then scheduled on ``p`` cores exactly as the full-network simulator
schedules one layer (:mod:`aimclib.scheduling`, barrier mode, ``static-balanced`` by default):
every mapped tile runs one MVM per output position, the rest of the outputs are a digital GEMM
divisible among the cores, and over-full tight tiles may hand output positions to idle cores
to compute digitally. Lower bounds the schedule meets or exceeds (divisible work):

* **tight**: the water-filling level ``L*`` at which every core's own analog work above
  ``L*`` is converted to digital work and all digital work fits under ``L*``; without
  conversion it would be ``max(max_c A_c, (sum_c A_c + D) / p)`` with ``A_c`` the analog core
  work of core ``c``'s tiles and ``D`` the digital work;
* **loose**: ``max((A + D) / p, max_t m * tile_t, m * bus_bytes / B_bus)`` (a DMA job's
  set-up and completion overlap the tile's work in the engine).

Energy: busy core-seconds x active power + idle core-seconds x idle power + tile MVM energy +
static power of the powered tiles x latency (``system.power_gating``: all ``T`` tiles, or
only those the layer uses) + DRAM bytes x energy/byte + bus bytes x energy/byte.
Every result carries a breakdown ``component -> {"seconds", "joules"}`` whose joules add up to
the total; core components are in core-seconds (their sum with ``idle`` is ``p x latency``).
The baseline is the same layer on the same cores with no tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accounting import energy_breakdown, gain, powered_tile_seconds
from .balancing import BALANCERS
from .layers import LayerInfo
from .placement import place_tiles
from .replication import copy_owners, expand_unit_tiles, max_units, tiles_used
from .scheduling import BalancerOptions, barrier_schedules
from .system import SystemConfig
from .validation import (MAX_CORES, MAX_TILES, check_bool, check_choice, check_finite,
                         check_int, check_seed)
from .workload import Workload, layer_work

CORE_COMPONENTS = ("digital", "interface", "tile_wait", "host", "steal", "idle")
"""Breakdown components measured in core-seconds."""
DEVICE_COMPONENTS = ("tile_mvm", "tile_static", "dram", "bus")
"""Breakdown components measured in device-seconds (tile, DRAM or bus busy time)."""


@dataclass(frozen=True)
class Cost:
    """Latency (s), energy (J) and the breakdown ``component -> {"seconds", "joules"}``."""

    latency_s: float
    energy_j: float
    breakdown: dict


@dataclass(frozen=True)
class LayerCost:
    """One layer's cost on a system against the all-digital baseline on the same cores."""

    layer: str
    kind: str
    cores: int
    tiles: int
    coupling: str
    tiles_used: int
    tiles_needed: int
    coverage: float
    utilisation: float
    cost: Cost
    baseline: Cost

    @property
    def latency_s(self) -> float:
        return self.cost.latency_s

    @property
    def energy_j(self) -> float:
        return self.cost.energy_j

    @property
    def speedup(self) -> float:
        return gain(self.baseline.latency_s, self.cost.latency_s)

    @property
    def energy_gain(self) -> float:
        return gain(self.baseline.energy_j, self.cost.energy_j)

    def to_dict(self) -> dict:
        """JSON-friendly record (the ``aimc layer --json`` contract)."""
        return {
            "layer": self.layer, "kind": self.kind, "coupling": self.coupling,
            "cores": self.cores, "tiles": self.tiles, "tiles_used": self.tiles_used,
            "tiles_needed": self.tiles_needed, "coverage": self.coverage,
            "utilisation": self.utilisation,
            "latency_s": self.latency_s, "energy_j": self.energy_j,
            "baseline_latency_s": self.baseline.latency_s,
            "baseline_energy_j": self.baseline.energy_j,
            "speedup": self.speedup, "energy_gain": self.energy_gain,
            "breakdown": self.cost.breakdown, "baseline_breakdown": self.baseline.breakdown,
        }


def _schedule(wl: Workload, hw: SystemConfig, units: int, balancer: str,
              opts: BalancerOptions, seed: int):
    """The lone layer's barrier schedule with ``units`` unit-copies and its tile count."""
    w = wl.layers[0]
    n_tiles = tiles_used(w.mapping, units) if w.mapping is not None else 0
    owners = place_tiles(hw, [n_tiles])
    if w.mapping is not None and units > w.n_units:  # copies on different cores
        owners = [copy_owners(owners[0], w.mapping.tiles_full)]
    return barrier_schedules(wl, hw, np.array([units]), owners, balancer, opts, seed)[0], n_tiles


def _schedule_cost(wl: Workload, hw: SystemConfig, units: int, balancer: str,
                   opts: BalancerOptions, seed: int) -> Cost:
    sched, n_tiles = _schedule(wl, hw, units, balancer, opts, seed)
    tile_on = powered_tile_seconds(hw, sched.makespan, [n_tiles], [sched.makespan])
    energy, bd = energy_breakdown(hw, sched.makespan, sched.vec, tile_on)
    return Cost(sched.makespan, energy, bd)


def layer_cost(info: LayerInfo, sys: SystemConfig, cores: int | None = None,
               tiles: int | None = None, balancer: str = "static-balanced", seed: int = 0,
               options: BalancerOptions | None = None, map_all: bool = False,
               replicate: bool = False) -> LayerCost:
    """Cost of one layer with ``cores`` cores and ``tiles`` tiles (defaults: the system's).

    The layer maps the number of units, up to as many as the tiles hold, that gives the
    lowest latency (the most units on ties); ``map_all=True`` maps every unit that fits even
    when that is slower (a sparsely filled depthwise tile, say). Non-MVM layers run digitally
    whatever the tiles (their speedup is 1, their energy gain below 1 when tiles burn static
    power). ``replicate=True`` lets tiles beyond one full mapping hold copies of the units
    (:mod:`aimclib.replication`, at most :func:`~aimclib.replication.copy_cap` copies):
    ``tiles_used`` then counts every copy, ``coverage`` the unique weights and
    ``utilisation`` the cells of every used tile.
    """
    p = sys.cores if cores is None else cores
    t = sys.tiles if tiles is None else tiles
    where = "layer_cost"
    p = check_int(p, "cores", low=1, high=MAX_CORES, where=where, limit="MAX_CORES")
    t = check_int(t, "tiles", low=0, high=MAX_TILES, where=where, limit="MAX_TILES")
    check_choice(balancer, "balancer", BALANCERS, where=where)
    seed = check_seed(seed, where=where)
    replicate = check_bool(replicate, "replicate", where=where)
    opts = options or BalancerOptions()
    hw = sys.replace(cores=p, tiles=t)
    w = layer_work(0, info, hw)
    wl = Workload(None, hw, (w,))
    units = w.mapping.units_within(int(t)) if w.mapping is not None else 0
    if replicate and w.mapping is not None and units == w.n_units:
        # unit-copies in order while they fit the tiles, up to the cap
        cum = np.cumsum(expand_unit_tiles(w.mapping.unit_tiles, max_units(w, hw) // w.n_units))
        units = int(np.searchsorted(cum, int(t), side="right"))
    cost = _schedule_cost(wl, hw, units, balancer, opts, seed)
    if not map_all:  # fewer units when mapping them all would slow the layer down
        for fewer in range(units - 1, -1, -1):
            other = _schedule_cost(wl, hw, fewer, balancer, opts, seed)
            if other.latency_s < cost.latency_s:
                units, cost = fewer, other
    base_hw = hw.replace(tiles=0)
    base = _schedule_cost(Workload(None, base_hw, (w,)), base_hw, 0, balancer, opts, seed)
    check_finite({"latency_s": cost.latency_s, "energy_j": cost.energy_j,
                  "baseline_latency_s": base.latency_s, "baseline_energy_j": base.energy_j},
                 f"layer_cost of {info.name} on {sys.name}")
    if w.mapping is None:
        return LayerCost(info.name, info.kind, int(p), int(t), sys.coupling, 0, 0, 0.0, 0.0,
                         cost, base)
    part = w.mapping.partial(min(units, w.n_units))
    if units <= w.n_units:
        return LayerCost(info.name, info.kind, int(p), int(t), sys.coupling, part.tiles_used,
                         w.mapping.tiles_full, part.coverage, part.utilisation, cost, base)
    used = tiles_used(w.mapping, units)
    cells = float(np.tile(w.mapping.unit_weights, -(-units // w.n_units))[:units].sum())
    return LayerCost(info.name, info.kind, int(p), int(t), sys.coupling, used,
                     w.mapping.tiles_full, part.coverage,
                     cells / (used * w.mapping.rows * w.mapping.cols), cost, base)


# ------------------------------------------------------------------------ binding terms
TERMS = ("issue", "tile", "bus", "cores")
"""The bounds :func:`layer_terms` compares, in the order ties are broken."""

BUSY_SHARE = 0.95
"""When every core's work spread evenly (the ``cores`` term) is within this share of the
largest term, the core count binds: the cores are all busy, whatever else is also near its
limit (a stated choice: 5 % is below the spread of the balancers' makespans)."""


def chosen_units(cost: LayerCost, info: LayerInfo, sys: SystemConfig) -> int:
    """The unit-copies :func:`layer_cost` mapped to give ``cost`` (from its tiles used: the
    tiles of ``u`` unit-copies grow strictly with ``u``)."""
    hw = sys.replace(cores=cost.cores, tiles=cost.tiles)
    w = layer_work(0, info, hw)
    if w.mapping is None or cost.tiles_used == 0:
        return 0
    for u in range(1, max_units(w, hw) + 1):
        if tiles_used(w.mapping, u) == cost.tiles_used:
            return u
    raise AssertionError(f"{info.name}: no unit count uses {cost.tiles_used} tiles")


def layer_terms(info: LayerInfo, sys: SystemConfig, cores: int | None = None,
                tiles: int | None = None, balancer: str = "static-balanced", seed: int = 0,
                replicate: bool = False) -> dict:
    """What limits one layer's latency under :func:`layer_cost` (same arguments): each
    resource's demand in the layer's own schedule (the balancer's tasks), in seconds.

    * ``issue_s``: the busiest core's MVM work (interface instructions, stall, host work
      around each MVM and, loose, DMA job set-up): per-MVM core time x the positions the
      core drives. With ``d`` drivers sharing ``M`` positions evenly it is that time x
      ``M / d``.
    * ``tile_s``: the busiest tile's MVM time (positions x time per MVM, transfers included).
    * ``bus_s``: the shared bus's time for every MVM's bytes (0 for tight coupling).
    * ``cores_s``: all core work (MVM work and the digital remainder) spread over the
      ``p`` cores: the core-count bound.

    ``binding`` is the largest of :data:`TERMS` (``cores`` when it is within
    :data:`BUSY_SHARE` of the largest); ``bound_share`` the largest term over the latency
    (near 1: the term explains the latency). The breakdown of the core work, per core on
    average (s; they add up to ``cores_s``): ``interface_s``, ``stall_s``, ``host_s``
    (partial-sum hand-overs included), ``jobs_s`` (DMA job set-up and completion),
    ``digital_s`` (the digital remainder and positions converted to digital work). Also:
    ``latency_s``, ``units`` (unit-copies), ``copies`` (most copies of a unit), ``drivers``
    (cores that ran MVM work) and ``positions_per_copy`` (output positions over copies).
    """
    c = layer_cost(info, sys, cores, tiles, balancer, seed, replicate=replicate)
    hw = sys.replace(cores=c.cores, tiles=c.tiles)
    p = c.cores
    w = layer_work(0, info, hw)
    units = chosen_units(c, info, sys)
    sched, _ = _schedule(Workload(None, hw, (w,)), hw, units, balancer, BalancerOptions(),
                         check_seed(seed, where="layer_terms"))
    t = sched.tasks
    ran = np.asarray(sched.ran_on, np.int64)
    analog = t.tile >= 0
    mc = w.mvm
    if mc is not None and analog.any():
        base = t.tile[analog] % w.mapping.tiles_full  # copies repeat the full mapping's tiles
        vpj = np.asarray(mc.vectors_per_job)
        vpj = vpj[base] if vpj.ndim else vpj
        jobs = float(np.sum(-(-t.pixels[analog].astype(np.int64) // vpj)) * mc.job_s)
        issue = np.bincount(ran[analog], t.core_s[analog], minlength=p)
        tile_busy = np.bincount(t.tile[analog], t.tile_s[analog])
    else:
        jobs, issue, tile_busy = 0.0, np.zeros(p), np.zeros(1)
    terms = {"issue": float(issue.max()), "tile": float(tile_busy.max()),
             "bus": float(t.bus_s.sum()), "cores": float(t.core_s.sum()) / p}
    top = max(terms.values())
    binding = "cores" if terms["cores"] >= BUSY_SHARE * top else max(TERMS, key=terms.get)
    copies = -(-units // w.n_units) if units else 0
    return {"latency_s": c.latency_s, "units": units, "copies": copies,
            "drivers": int(len(np.unique(ran[analog]))),
            "positions_per_copy": w.pixels / copies if copies else float(w.pixels),
            **{f"{k}_s": v for k, v in terms.items()},
            "binding": binding, "bound_share": top / c.latency_s,
            "interface_s": max(0.0, float(t.iface_s[analog].sum()) - jobs) / p,
            "stall_s": float(t.stall_s[analog].sum()) / p,
            "host_s": float(t.host_s[analog].sum()) / p, "jobs_s": jobs / p,
            "digital_s": float(t.core_s[~analog].sum()) / p}
