"""Energy accounting: a layer's totals by component and the network's energy breakdown.

:data:`PARTS` are what every layer schedule totals (core-seconds by component, steals, MVMs,
tile busy time and energy, bus and DRAM bytes); :func:`energy_breakdown` turns their sum into
joules per component; :func:`powered_tile_seconds` is the tiles' static-power time under the
system's power gating.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .balancing import CostArrays, TaskSet
from .engine import RAN_ANALOG, RAN_STOLEN_DIGITAL
from .system import SystemConfig

CORE_PARTS = ("digital", "interface", "tile_wait", "host", "steal")
"""Busy core-second components (plus ``idle``)."""


PARTS = CORE_PARTS + ("steals", "mvms", "tile_busy_s", "tile_j", "bus_bytes", "dram_bytes")
"""What :func:`layer_totals` totals per layer: core-seconds by component (s), tasks moved by
stealing, MVMs, tile busy time (s), tile MVM energy (J), bus and DRAM bytes (B)."""


@numba.njit(cache=True)
def pairwise_sum(a, n):
    """Sum of ``a[:n]`` exactly as NumPy's ``np.sum`` adds a contiguous float64 array
    (pairwise: blocks of up to 128 summed with eight accumulators, halves split at a multiple
    of 8; ``tests/test_registry.py`` checks it against ``np.sum``, signed zeros included), so
    compiled totals are bit-identical to NumPy's. NumPy's reduction starts from the identity
    +0.0, so a sum of negative zeros (or of nothing) is +0.0."""
    return 0.0 + _pairwise(a, n)


@numba.njit(cache=True)
def _pairwise(a, n):
    """NumPy's pairwise summation of ``a[:n]`` (without the identity :func:`pairwise_sum`
    adds)."""
    if n == 0:
        return 0.0
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        r = a[:8].copy()
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] += a[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(a, n2) + _pairwise(a[n2:], n - n2)


@numba.njit(cache=True)
def _totals_kernel(ptr, layers, units, tile0, kind_core, tile, core_s, alt_s, iface_s, stall_s,
                   host_s, mvms, tile_s, energy_j, bus_bytes, ran_on, how, steal_s, unit_ptr,
                   dram_bytes, cells, weight_bytes):
    """Per request ``r`` (tasks ``ptr[r]:ptr[r+1]`` of layer ``layers[r]`` with ``units[r]``
    mapped), the :data:`PARTS` totals, as NumPy sums of the selected tasks in task order."""
    n_req = layers.shape[0]
    out = np.zeros((n_req, len(PARTS)))
    # row 0: core time of the tasks not on a tile; rows 1-6: the analog tasks' fields, each
    # gathered in task order in one pass over a request's tasks (sized for the largest
    # request: a network-sized temporary would grow and shrink the heap on every call)
    widest = 1
    for r in range(n_req):
        widest = max(widest, ptr[r + 1] - ptr[r])
    buf = np.empty((7, widest))
    seen = np.zeros(cells.shape[0], np.bool_)
    for r in range(n_req):
        a, b = ptr[r], ptr[r + 1]
        n_dig = 0
        n_an = 0
        moved = 0
        mv = 0
        for i in range(a, b):
            if ran_on[i] != kind_core[i]:
                moved += 1
            if how[i] == RAN_ANALOG:
                mv += mvms[i]
                buf[1, n_an] = iface_s[i]
                buf[2, n_an] = stall_s[i]
                buf[3, n_an] = host_s[i]
                buf[4, n_an] = tile_s[i]
                buf[5, n_an] = energy_j[i]
                buf[6, n_an] = bus_bytes[i]
                n_an += 1
            else:  # digital, or stolen and computed digitally
                buf[0, n_dig] = alt_s[i] if how[i] == RAN_STOLEN_DIGITAL else core_s[i]
                n_dig += 1
        out[r, 0] = pairwise_sum(buf[0], n_dig)
        for col, k in ((1, 1), (2, 2), (3, 3), (7, 4), (8, 5), (9, 6)):
            out[r, col] = pairwise_sum(buf[k], n_an)
        out[r, 4] = moved * steal_s
        out[r, 5] = moved
        out[r, 6] = mv
        # a thief reads a stolen block's weights from DRAM (each stolen tile once)
        stolen_cells = 0
        for i in range(a, b):
            if how[i] == RAN_STOLEN_DIGITAL and not seen[tile0[r] + tile[i]]:
                seen[tile0[r] + tile[i]] = True
                stolen_cells += cells[tile0[r] + tile[i]]
        for i in range(a, b):
            if how[i] == RAN_STOLEN_DIGITAL:
                seen[tile0[r] + tile[i]] = False
        weights = stolen_cells * weight_bytes if stolen_cells > 0 else 0.0
        out[r, 10] = dram_bytes[unit_ptr[layers[r]] + units[r]] + weights
    return out


def layer_totals(tasks: TaskSet, ptr: np.ndarray, layers, units, ran_on: np.ndarray,
                 how: np.ndarray, steal_s: float, arrays: CostArrays) -> np.ndarray:
    """Each request's totals in :data:`PARTS` order (one row per request): requests are
    layers ``layers`` with ``units`` mapped whose tasks are ``tasks[ptr[r]:ptr[r+1]]``, run
    as ``ran_on`` and ``how`` say."""
    layers = np.asarray(layers, np.int64)
    t, A = tasks, arrays
    units, tile = np.asarray(units, np.int64), t.tile
    n_units = A.unit_ptr[layers + 1] - A.unit_ptr[layers] - 1
    if (units > n_units).any():
        # copies (aimclib.replication): the digital part is the fully mapped layer's, and a
        # copy tile's cells are its original's (tile numbers repeat every tiles_full)
        units = np.minimum(units, n_units)
        full = np.maximum(1, A.tile_ptr[layers + 1] - A.tile_ptr[layers])
        req = np.zeros(len(tile), np.int64)  # each task's request
        req[ptr[0]:ptr[-1]] = np.repeat(np.arange(len(layers)), np.diff(ptr))
        tile = np.where(tile >= 0, tile % full[req], tile)
    return _totals_kernel(ptr, layers, units, A.tile_ptr[layers], t.core,
                          tile, t.core_s, t.alt_s, t.iface_s, t.stall_s, t.host_s, t.mvms,
                          t.tile_s, t.energy_j, t.bus_bytes, ran_on, how, steal_s, A.unit_ptr,
                          A.dram_bytes, A.cells, A.weight_bytes)


def powered_tile_seconds(hw: SystemConfig, latency: float, tiles_per_layer, durations,
                         budget: int | None = None) -> float:
    """Tile-seconds of static power under ``system.power_gating`` (tile-s): ``none``, all
    ``hw.tiles`` tiles (or ``budget``, when given) for ``latency``; ``unused``, the tiles
    holding weights for ``latency``; ``idle``, each layer's tiles for that layer's duration
    (``durations``, s)."""
    gating = hw.system.power_gating
    if gating == "none":
        return (hw.tiles if budget is None else budget) * latency
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
