"""Per-layer work of a network on a system: what every task of the simulator costs.

For each layer this precomputes, once per (network, system), the costs the balancers cut into
tasks: per output position (a *pixel*: one row of the layer's GEMM) the digital time of the
layer's remainder for every number of mapped units, and per tile the costs of one MVM
(:class:`~aimclib.interface.MvmCost`) and of computing that tile's block digitally instead.
Non-MVM layers are digital work split by output position as well.

Memory: a digital task takes ``max(compute, its share of the layer's DRAM bytes at the
per-core bandwidth + its share of L2 bytes at the L2 rate)`` (roofline per task); analog tasks
are taken as compute-bound (interface and MVM time dominate), though their DRAM bytes count
for energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cpu import activation_in_dram, eltwise_cycles, gemm_cycles
from .interface import MvmCost, interface_for
from .layers import LayerInfo
from .mapping import LayerMapping, map_layer
from .network import Network
from .system import SystemConfig


@dataclass(frozen=True)
class LayerWork:
    """The costs of one layer's work (all times in seconds, bytes in B).

    Attributes:
        index: position of the layer in the network's execution order.
        info: the layer.
        pixels: output positions the work is split by (conv: hout*wout; linear: 1;
            other layers: hout*wout of their output).
        mapping: tile mapping (MVM layers) or None.
        digital_px_s: per-pixel digital compute time, indexed by units mapped (0..n_units);
            a length-1 array for non-MVM layers.
        digital_dram_bytes: DRAM bytes of the digital part, indexed like ``digital_px_s``.
        act_dram_bytes / act_l2_bytes: the layer's activation traffic (in DRAM or in L2).
        mvm: per-MVM costs of every tile of the full mapping (unit order), or None.
        alt_px_s: per tile, the per-pixel digital time of that tile's block (what a thief
            pays to compute a tight analog task digitally).
    """

    index: int
    info: LayerInfo
    pixels: int
    mapping: LayerMapping | None
    digital_px_s: np.ndarray
    digital_dram_bytes: np.ndarray
    act_dram_bytes: float
    act_l2_bytes: float
    mvm: MvmCost | None
    alt_px_s: np.ndarray | None

    @property
    def n_units(self) -> int:
        return self.mapping.n_units if self.mapping is not None else 0


@dataclass(frozen=True, eq=False)
class Workload:
    """Every layer's :class:`LayerWork` for one network on one system (any tile count).

    ``network`` is None for a lone layer (:func:`aimclib.layercost.layer_cost`)."""

    network: Network | None
    system: SystemConfig
    layers: tuple[LayerWork, ...]

    @property
    def mvm_layers(self) -> tuple[LayerWork, ...]:
        return tuple(w for w in self.layers if w.mapping is not None)


def layer_work(index: int, info: LayerInfo, sys: SystemConfig) -> LayerWork:
    """The :class:`LayerWork` of one layer (``index``: its position in the network)."""
    cpu, f = sys.cpu, sys.cpu.clock_hz
    bits = cpu.activation_bits  # the digital code's activations and weights in memory
    in_b, out_b = info.in_bytes(bits), info.out_bytes(bits)
    act = in_b + out_b
    in_dram = activation_in_dram(cpu, in_b, out_b)
    act_dram, act_l2 = (act, 0.0) if in_dram else (0.0, act)
    if not info.layer.is_mvm:
        pixels = info.out_shape[1] * info.out_shape[2]
        px = float(eltwise_cycles(cpu, info.eltwise_ops)) / f / pixels
        return LayerWork(index, info, pixels, None, np.array([px]), np.array([act_dram]),
                         act_dram, act_l2, None, None)
    mp = map_layer(info, sys.tile.rows, sys.tile.cols)
    gather = info.layer.kind == "conv" and info.layer.kernel != (1, 1)
    dw = mp.n == 1 and mp.g > 1  # a depthwise layer stays depthwise in every piece
    bias = info.layer.bias
    px = np.empty(mp.n_units + 1)
    dram = np.empty(mp.n_units + 1)
    for u in range(mp.n_units + 1):
        part = mp.partial(u)
        pieces = part.digital_pieces()
        n = np.array([pc[0] for pc in pieces], np.float64)
        g = np.array([pc[1] for pc in pieces], np.float64)
        cycles = float(gemm_cycles(cpu, sys.host, 1, mp.k, n, g, gather, dw).sum())
        # the bias add of every digital output (batch-norm layers are costed on their own)
        cycles += float(eltwise_cycles(cpu, part.digital_outputs * bias))
        px[u] = cycles / f
        # weights left digital stream from DRAM in the digital code's format
        dram[u] = float(mp.k * part.digital_outputs) * cpu.activation_bytes + act_dram
    mvm = interface_for(sys).mvm_cost(sys, mp.tile_rows, mp.tile_cols, mp.tile_row_block, bias,
                                      gather)
    # digital alternative of each tile's block: its rows x cols (or its packed groups)
    if mp.packed:
        alt = gemm_cycles(cpu, sys.host, 1, mp.k, mp.n, mp.tile_cols // mp.n, gather, dw) / f
    else:
        alt = gemm_cycles(cpu, sys.host, 1, mp.tile_rows, mp.tile_cols, 1, gather, dw) / f
    alt = alt + eltwise_cycles(cpu, mp.tile_cols * bias * (mp.tile_row_block == 0)) / f
    return LayerWork(index, info, mp.m, mp, px, dram, act_dram, act_l2, mvm,
                     np.asarray(alt, dtype=np.float64))


def build_workload(net: Network, sys: SystemConfig) -> Workload:
    """Precompute every layer's costs for ``net`` on ``sys`` (tile count not used)."""
    return Workload(net, sys, tuple(layer_work(i, info, sys) for i, info in enumerate(net)))
