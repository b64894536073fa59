"""Cost of one layer on a system: latency and energy with breakdowns, against all-digital.

A conv/linear layer with ``T`` tiles available maps as many of its units (column blocks with
all their row blocks, or packed groups; :mod:`aimclib.mapping`) as fit; every mapped tile runs
one MVM per output position, the rest of the outputs are a digital GEMM. With ``p`` cores:

* digital work ``D`` is divisible among the cores (split by output positions); memory-bound
  work is stretched to its DRAM time (roofline, :mod:`aimclib.cpu`);
* **tight**: core ``c`` drives its own tiles, ``A_c = m * sum(core time per MVM)``; the
  latency is ``max(max_c A_c, (sum_c A_c + D) / p)`` (digital work fills the cores around
  the analog work: the optimum for divisible work);
* **loose**: any core drives any tile, so analog core work (per-MVM work plus one set-up and
  completion per DMA job) is divisible too, but each tile runs one MVM at a time and the bus is
  shared: ``max((A + D) / p, max_t (m * tile_t + job), m * bus_bytes / B_bus)``;
* the latency is never below the layer's DRAM time.

Energy: busy core-seconds x active power + idle core-seconds x idle power + tile MVM energy +
tile static power x tiles x latency + DRAM bytes x energy/byte + bus bytes x energy/byte. Every
result carries a breakdown ``component -> (seconds, joules)`` whose joules add up to the total;
core components are in core-seconds (their sum with ``idle`` is ``p x latency``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .cpu import activation_in_dram, eltwise_cycles, gemm_cycles
from .errors import AimcError
from .interface import interface_for
from .layers import LayerInfo
from .mapping import map_layer
from .system import SystemConfig

CORE_COMPONENTS = ("digital", "interface", "tile_wait", "host", "idle")
"""Breakdown components measured in core-seconds."""
DEVICE_COMPONENTS = ("tile_mvm", "tile_static", "dram", "bus")
"""Breakdown components measured in device-seconds (tile, DRAM or bus busy time)."""


@dataclass(frozen=True)
class Cost:
    """Latency (s), energy (J) and the breakdown ``component -> {"seconds", "joules"}``."""

    latency_s: float
    energy_j: float
    breakdown: dict = field(default_factory=dict)


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
        return self.baseline.latency_s / self.cost.latency_s

    @property
    def energy_gain(self) -> float:
        return self.baseline.energy_j / self.cost.energy_j

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


def _core_assignment(sys: SystemConfig, n_tiles: int) -> np.ndarray:
    """Tight coupling: owning core of each of the first ``n_tiles`` tiles of the system.

    Tiles are handed out round-robin over the cores that still own unused tiles, so a layer
    that needs fewer tiles than the system has spreads them over as many cores as it can.
    """
    caps = sys.tiles_per_core()
    order = [c for j in range(max(caps, default=0)) for c in range(sys.cores) if caps[c] > j]
    return np.array(order[:n_tiles], dtype=np.int64)


def _weight_bytes(n_weights: int) -> float:
    """Digital weights are int8 (the digital baseline runs int8 NEON kernels)."""
    return float(n_weights)


def layer_cost(info: LayerInfo, sys: SystemConfig, cores: int | None = None,
               tiles: int | None = None) -> LayerCost:
    """Cost of one layer with ``cores`` cores and ``tiles`` tiles (defaults: the system's).

    Non-MVM layers run digitally whatever the tiles (their speedup is 1).
    """
    p = sys.cores if cores is None else int(cores)
    t = sys.tiles if tiles is None else int(tiles)
    if p < 1 or t < 0:
        raise AimcError(f"layer_cost needs cores >= 1 and tiles >= 0, got cores={cores}, "
                        f"tiles={tiles}")
    if info.layer.is_mvm:
        mapping = map_layer(info, sys.tile.rows, sys.tile.cols)
        part = mapping.partial(mapping.units_within(t))
        cost = _mvm_cost(info, sys, p, t, part)
        base = _mvm_cost(info, sys, p, t, mapping.partial(0))
        return LayerCost(info.name, info.kind, p, t, sys.coupling, part.tiles_used,
                         mapping.tiles_full, part.coverage, part.utilisation, cost, base)
    cost = _eltwise_cost(info, sys, p, t)
    return LayerCost(info.name, info.kind, p, t, sys.coupling, 0, 0, 0.0, 0.0, cost, cost)


def _activation_bytes(info: LayerInfo, sys: SystemConfig) -> tuple[float, float]:
    """(DRAM bytes, L2 bytes) of a layer's input and output tensors (int8 activations)."""
    act = info.in_bytes(8) + info.out_bytes(8)
    return (act, 0.0) if activation_in_dram(sys.cpu, info.in_bytes(8), info.out_bytes(8)) \
        else (0.0, act)


def _finish(sys: SystemConfig, p: int, t: int, latency: float, core_s: dict, device: dict
            ) -> Cost:
    """Assemble latency, idle time and the energy breakdown."""
    cpu = sys.cpu
    busy = sum(core_s.values())
    idle = max(0.0, p * latency - busy)
    bd = {k: {"seconds": v, "joules": v * cpu.active_power_w} for k, v in core_s.items()}
    bd["idle"] = {"seconds": idle, "joules": idle * cpu.idle_power_w}
    bd["tile_mvm"] = {"seconds": device["tile_s"], "joules": device["tile_j"]}
    bd["tile_static"] = {"seconds": t * latency, "joules": t * latency * sys.tile.static_power_w}
    bd["dram"] = {"seconds": device["dram_s"],
                  "joules": device["dram_bytes"] * cpu.dram_energy_j_per_byte}
    bd["bus"] = {"seconds": device["bus_s"],
                 "joules": device["bus_bytes"] * sys.loose.bus_energy_j_per_byte}
    energy = math.fsum(v["joules"] for v in bd.values())
    return Cost(latency, energy, bd)


def _mvm_cost(info: LayerInfo, sys: SystemConfig, p: int, t: int, part) -> Cost:
    cpu, f = sys.cpu, sys.cpu.clock_hz
    mp = part.mapping
    m = mp.m
    gather = info.layer.kind == "conv" and info.layer.kernel != (1, 1)
    # digital remainder
    dm, dk, dn, dg = part.digital_gemm()
    comp = float(gemm_cycles(cpu, sys.host, dm, dk, dn, dg, gather)) / f
    act_dram, act_l2 = _activation_bytes(info, sys)
    dram_bytes = _weight_bytes(dk * dn * dg) + act_dram
    dram_s = dram_bytes / cpu.dram_bandwidth_bps
    l2_s = act_l2 / (cpu.l2_bytes_per_cycle * f)
    digital = max(comp, l2_s) if comp > 0 else 0.0
    # analog part: every mapped tile runs one MVM per output position
    mask = part.tile_mask
    iface = interface_for(sys)
    mc = iface.mvm_cost(sys, mp.tile_rows[mask], mp.tile_cols[mask], mp.tile_row_block[mask])
    per_tile_core = mc.chunk_core_s(m)
    analog_core = float(per_tile_core.sum())
    chain = float(mc.chunk_chain_s(m).max(initial=0.0))
    if iface.shared:
        bus_s = m * float(mc.bus_bytes.sum()) / sys.loose.bus_bandwidth_bps
        latency = max((analog_core + digital) / p, chain, bus_s)
    else:
        owner = _core_assignment(sys.replace(cores=p, tiles=t), int(mask.sum()))
        per_core = np.bincount(owner, weights=per_tile_core, minlength=p)
        latency = max(float(per_core.max(initial=0.0)), (analog_core + digital) / p)
    latency = max(latency, dram_s)
    n_jobs = float(mc.jobs(m).sum()) if mask.any() else 0.0
    core_s = {"digital": digital,
              "interface": m * float(mc.iface_s.sum()) + n_jobs * mc.job_s,
              "tile_wait": m * float(mc.stall_s.sum()), "host": m * float(mc.host_s.sum())}
    bus_bytes = m * float(mc.bus_bytes.sum())
    device = {"tile_s": float(m * mask.sum() * sys.tile.mvm_latency_s),
              "tile_j": m * float(mc.energy_j.sum()),
              "dram_s": dram_s, "dram_bytes": dram_bytes,
              "bus_s": bus_bytes / sys.loose.bus_bandwidth_bps, "bus_bytes": bus_bytes}
    return _finish(sys, p, t, latency, core_s, device)


def _eltwise_cost(info: LayerInfo, sys: SystemConfig, p: int, t: int) -> Cost:
    cpu = sys.cpu
    comp = float(eltwise_cycles(cpu, info.eltwise_ops)) / cpu.clock_hz
    act_dram, act_l2 = _activation_bytes(info, sys)
    dram_s = act_dram / cpu.dram_bandwidth_bps
    digital = max(comp, act_l2 / (cpu.l2_bytes_per_cycle * cpu.clock_hz)) if comp else 0.0
    latency = max(digital / p, dram_s)
    device = {"tile_s": 0.0, "tile_j": 0.0, "dram_s": dram_s, "dram_bytes": act_dram,
              "bus_s": 0.0, "bus_bytes": 0.0}
    return _finish(sys, p, t, latency, {"digital": digital, "interface": 0.0,
                                        "tile_wait": 0.0, "host": 0.0}, device)
