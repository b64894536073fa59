"""Energy accounting: a layer's totals by component and the network's energy breakdown.

:data:`PARTS` are what every layer schedule totals (core-seconds by component, steals, MVMs,
tile busy time and energy, bus and DRAM bytes); :func:`energy_breakdown` turns their sum into
joules per component; :func:`powered_tile_seconds` is the tiles' static-power time under the
system's power gating.
"""

from __future__ import annotations

import math

import numpy as np

from .balancing import TaskSet
from .engine import RAN_ANALOG, RAN_STOLEN_DIGITAL
from .system import SystemConfig
from .workload import Workload

CORE_PARTS = ("digital", "interface", "tile_wait", "host", "steal")
"""Busy core-second components (plus ``idle``)."""


PARTS = CORE_PARTS + ("steals", "mvms", "tile_busy_s", "tile_j", "bus_bytes", "dram_bytes")
"""What :func:`layer_totals` totals per layer: core-seconds by component (s), tasks moved by
stealing, MVMs, tile busy time (s), tile MVM energy (J), bus and DRAM bytes (B)."""


def layer_totals(wl: Workload, i: int, units: int, tasks: TaskSet, ran_on: np.ndarray,
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


def gain(baseline: float, value: float) -> float:
    """``baseline / value``: a speedup or energy gain; 1.0 when both are 0 (a network or
    layer without work, e.g. a lone concat, costs nothing either way)."""
    if value == 0.0:
        return 1.0 if baseline == 0.0 else math.inf
    return baseline / value
