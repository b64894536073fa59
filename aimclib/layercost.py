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


def _schedule_cost(wl: Workload, hw: SystemConfig, units: int, balancer: str,
                   opts: BalancerOptions, seed: int) -> Cost:
    w = wl.layers[0]
    n_tiles = tiles_used(w.mapping, units) if w.mapping is not None else 0
    owners = place_tiles(hw, [n_tiles])
    if w.mapping is not None and units > w.n_units:  # copies on different cores
        owners = [copy_owners(owners[0], w.mapping.tiles_full)]
    sched = barrier_schedules(wl, hw, np.array([units]), owners, balancer, opts, seed)[0]
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
