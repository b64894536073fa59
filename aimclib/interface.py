"""Tile interfaces: what one MVM costs the core, the tile and the bus.

An interface turns "tile ``t`` runs one MVM using ``r`` rows and ``c`` columns" into times and
bytes (:class:`MvmCost`). Both models share the cores' own work around an MVM (gather the
input patch of a convolution with a kernel larger than 1x1, quantise the inputs when the
digital code's activations are wider than the tile's int8 DACs, dequantise the outputs, add
partial sums of later row blocks); they differ in how data reaches the tile:

* :class:`TightInterface` (ALPINE's ISA extension): the owning core pushes the inputs with
  ``cmqueue`` (``transfer_bytes`` per instruction), stalls in ``cmprocess`` for the MVM, pops the
  outputs with ``cmdequeue``. Only the owning core can use the tile.
* :class:`LooseInterface` (tiles on the shared bus): a DMA job moves as many input vectors as
  the tile's ``job_buffer_bytes`` hold to the tile and the outputs back; the core pays the job set-up (register writes and
  driver code) and the completion interrupt once per job, and is free while the transfers and
  MVMs run. The tile is busy for the transfers at the link bandwidth
  and the MVMs; all transfers share the bus. Any core can use any tile.

A new interface (say, a cluster sharing an L1) is one new subclass registered in
:data:`INTERFACES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .system import SystemConfig


@dataclass(frozen=True)
class MvmCost:
    """Per-MVM costs, one entry per tile (arrays aligned with the tiles given).

    Attributes:
        iface_s: core time per MVM spent in the interface instructions (s): queue/dequeue.
        stall_s: core time stalled while the tile computes (s); tight coupling only.
        host_s: core time for gather, quantise, dequantise and partial sums (s).
        tile_s: time the tile is occupied by one MVM, transfers included (s).
        bus_bytes: bytes the MVM moves over the shared bus (B).
        energy_j: the tile's energy for one MVM (J), at the cores' technology node.
        job_s: core time per job of up to ``vectors_per_job`` MVMs on one tile (s): DMA
            set-up and completion (0 for interfaces without jobs).
        vectors_per_job: MVMs one job carries, per tile (1 for interfaces without jobs).
    """

    iface_s: np.ndarray
    stall_s: np.ndarray
    host_s: np.ndarray
    tile_s: np.ndarray
    bus_bytes: np.ndarray
    energy_j: np.ndarray
    job_s: float = 0.0
    vectors_per_job: np.ndarray | int = 1

    @property
    def core_s(self) -> np.ndarray:
        """Core time per MVM, jobs excluded (s)."""
        return self.iface_s + self.stall_s + self.host_s

    def jobs(self, m, tile=None):
        """Jobs needed to run ``m`` MVMs on each tile (or on tile ``tile``)."""
        vpj = self.vectors_per_job if tile is None or np.ndim(self.vectors_per_job) == 0 \
            else self.vectors_per_job[tile]
        return -(-np.asarray(m) // vpj)

    def chunk_core_s(self, m) -> np.ndarray:
        """Core time to run ``m`` MVMs on each tile (s): per-MVM work plus whole jobs."""
        return m * self.core_s + self.jobs(m) * self.job_s


class Interface(ABC):
    """How cores reach AIMC tiles. Subclasses set ``name`` and ``shared`` and price one MVM."""

    name: ClassVar[str]
    shared: ClassVar[bool]
    """True when any core can use any tile (one pool); False when tiles are private."""

    def host_seconds(self, sys: SystemConfig, rows, cols, row_block, bias: bool = False,
                     gather: bool = True) -> np.ndarray:
        """The core's own work around one MVM (s): gather ``rows`` input bytes when the layer
        needs an im2col patch (``gather``: a convolution with a kernel larger than 1x1; the
        input vector of a dense layer or a 1x1 convolution is contiguous in NHWC memory),
        quantise them when the digital activations are wider than the tile's inputs, dequantise
        ``cols`` outputs and, for row blocks after the first, add partial sums; the first row
        block also adds the bias when the layer has one."""
        cpu, host = sys.cpu, sys.host
        rows = np.asarray(rows, dtype=np.float64)
        cols = np.asarray(cols, dtype=np.float64)
        later = (np.asarray(row_block) > 0).astype(np.float64)
        per_col = (host.dequant_ops_per_output + host.psum_ops_per_output * later
                   + (1.0 - later) * float(bias))
        quantise = host.quantize_ops_per_input if cpu.activation_bits > sys.tile.input_bits \
            else 0.0
        ops = quantise * rows + per_col * cols
        copy = rows / cpu.gather_bytes_per_cycle if gather else 0.0 * rows
        return (copy + ops / cpu.eltwise_ops_per_cycle) / cpu.clock_hz

    @staticmethod
    def energy_j(sys: SystemConfig, rows, cols) -> np.ndarray:
        """The tile's energy of one MVM at the cores' node (J)."""
        return sys.tile.mvm_energy_j(rows, cols) * sys.tile_energy_scale

    @abstractmethod
    def mvm_cost(self, sys: SystemConfig, rows, cols, row_block, bias: bool = False,
                 gather: bool = True) -> MvmCost:
        """Costs of one MVM on each tile using ``rows`` x ``cols`` cells (arrays); ``gather``
        as in :meth:`host_seconds`."""


class TightInterface(Interface):
    """ALPINE's ISA extension: cmqueue / cmprocess / cmdequeue, core stalls in cmprocess."""

    name = "tight"
    shared = False

    def mvm_cost(self, sys: SystemConfig, rows, cols, row_block, bias: bool = False,
                 gather: bool = True) -> MvmCost:
        t, f = sys.tight, sys.cpu.clock_hz
        rows = np.asarray(rows, dtype=np.float64)
        cols = np.asarray(cols, dtype=np.float64)
        iface = (np.ceil(rows / t.transfer_bytes) * t.queue_cycles
                 + np.ceil(cols / t.transfer_bytes) * t.dequeue_cycles) / f
        # cmprocess blocks the in-order core; the stated 200 cycles equal the tile's latency.
        stall = np.full_like(rows, max(t.process_cycles / f, sys.tile.mvm_latency_s))
        host = self.host_seconds(sys, rows, cols, row_block, bias, gather)
        return MvmCost(iface_s=iface, stall_s=stall, host_s=host,
                       tile_s=iface + stall, bus_bytes=np.zeros_like(rows),
                       energy_j=self.energy_j(sys, rows, cols))


class LooseInterface(Interface):
    """Tiles on the shared I/O bus fed by DMA jobs, completion signalled by interrupt."""

    name = "loose"
    shared = True

    def job_core_seconds(self, sys: SystemConfig) -> float:
        """Core time to start one DMA job and take its completion interrupt (s)."""
        lo, f = sys.loose, sys.cpu.clock_hz
        return (lo.dma_register_writes * lo.dma_register_latency_s
                + (lo.dma_driver_cycles + lo.completion_cycles) / f)

    def mvm_cost(self, sys: SystemConfig, rows, cols, row_block, bias: bool = False,
                 gather: bool = True) -> MvmCost:
        lo = sys.loose
        rows = np.asarray(rows, dtype=np.float64)
        cols = np.asarray(cols, dtype=np.float64)
        in_bytes = rows * sys.tile.input_bits / 8
        out_bytes = cols * sys.tile.output_bits / 8
        # No double buffering is assumed: the tile moves a vector in, computes, moves it out.
        tile = (in_bytes + out_bytes) / lo.link_bandwidth_bps + sys.tile.mvm_latency_s
        host = self.host_seconds(sys, rows, cols, row_block, bias, gather)
        return MvmCost(iface_s=np.zeros_like(rows), stall_s=np.zeros_like(rows), host_s=host,
                       tile_s=tile, bus_bytes=in_bytes + out_bytes,
                       energy_j=self.energy_j(sys, rows, cols),
                       job_s=self.job_core_seconds(sys),
                       vectors_per_job=lo.vectors_per_job(np.ceil(in_bytes)))


INTERFACES: dict[str, Interface] = {"tight": TightInterface(), "loose": LooseInterface()}
"""Interface models by coupling name."""


def interface_for(sys: SystemConfig) -> Interface:
    """The interface model of ``sys``'s coupling."""
    return INTERFACES[sys.coupling]
