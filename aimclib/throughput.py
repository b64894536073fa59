"""Throughput mode: a batch of ``B`` images through the network.

Two ways to run the batch (``throughput=``):

* ``"batch"``: every layer processes the B images' output positions together
  (:func:`batch_workload`: B times the positions, the digital weights read from DRAM once per
  batch, the activations of all B images in the L2 when they fit together, else in DRAM),
  then the chosen schedule (barrier, DAG or pipelined) runs once.
* ``"pipelined"``: the images flow through as one DAG (:func:`image_run`, the graph of
  :func:`image_graph` copied per image by :func:`aimclib.pipelining.replicate`): image ``i``'s
  layer (or band) waits for image ``i``'s predecessors only (the barrier schedule's chain,
  the DAG's real predecessors or the pipelined schedule's bands); the engine interleaves the
  images on the shared cores, tiles and bus (earlier images first on ties).

The batch's makespan gives ``inferences_per_s = B / makespan`` and its energy
``energy_per_inference_j = energy / B`` (:class:`Throughput`).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, replace

import numpy as np

from .accounting import energy_breakdown, powered_tile_seconds
from .pipelining import GraphRun, band_graph, best_run, layer_graph
from .system import CpuConfig, SystemConfig
from .workload import LayerWork, Workload

THROUGHPUTS = ("batch", "pipelined")
"""How a batch of images runs: all images' positions per layer, or images flowing as a DAG."""


@dataclass(frozen=True)
class Throughput:
    """A batch of ``batch`` images run as ``mode`` says: its makespan ``latency_s`` (s),
    ``energy_j`` (J) and energy ``breakdown`` (as :attr:`SimResult.breakdown`)."""

    batch: int
    mode: str
    latency_s: float
    energy_j: float
    breakdown: dict

    @property
    def inferences_per_s(self) -> float:
        """Images per second (1/s; infinite for a network without work)."""
        return self.batch / self.latency_s if self.latency_s > 0 else math.inf

    @property
    def energy_per_inference_j(self) -> float:
        """Energy per image (J)."""
        return self.energy_j / self.batch


def batch_work(work: LayerWork, cpu: CpuConfig, batch: int) -> LayerWork:
    """``work`` for ``batch`` images processed together: ``batch`` times the output positions
    (per-position costs unchanged), the digital weights streamed from DRAM once, and the
    ``batch`` images' input and output activations in the L2 if they fit it together (else in
    DRAM, as :func:`aimclib.cpu.activation_in_dram` decides for one image)."""
    if batch == 1:
        return work
    act = batch * (work.act_dram_bytes + work.act_l2_bytes)
    act_dram, act_l2 = (act, 0.0) if act > cpu.l2_bytes else (0.0, act)
    weights = work.digital_dram_bytes - work.act_dram_bytes
    return replace(work, pixels=work.pixels * batch, digital_dram_bytes=weights + act_dram,
                   act_dram_bytes=act_dram, act_l2_bytes=act_l2)


_BATCHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def batch_workload(wl: Workload, batch: int) -> Workload:
    """``wl`` with every layer's :func:`batch_work` (cached per workload, so a sweep reuses
    its cost arrays and schedules)."""
    if batch == 1:
        return wl
    memo = _BATCHED.setdefault(wl, {})
    if batch not in memo:
        memo[batch] = Workload(wl.network, wl.system,
                               tuple(batch_work(w, wl.system.cpu, batch) for w in wl.layers))
    return memo[batch]


def image_graph(wl: Workload, schedule: str):
    """The nodes of one image under ``schedule``: the layers chained (barrier), the layers
    with their real predecessors (dag) or the row bands (pipelined)."""
    net = wl.network
    return band_graph(net) if schedule == "pipelined" else layer_graph(net, schedule == "barrier")


def run_energy(hw: SystemConfig, run: GraphRun, tiles_per_layer, n_layers: int
               ) -> tuple[float, dict]:
    """Energy (J) and breakdown of a graph run; a layer's tiles are powered (under
    ``power_gating="idle"``) from its first node's release to its last node's end."""
    g = run.graph
    lo = np.full(n_layers, np.inf)
    hi = np.full(n_layers, -np.inf)
    np.minimum.at(lo, g.layer, run.release)
    np.maximum.at(hi, g.layer, run.node_end)
    latency = run.makespan
    tile_on = powered_tile_seconds(hw, latency, tiles_per_layer, hi - lo)
    return energy_breakdown(hw, latency, np.sum(run.vecs, axis=0), tile_on)


def image_run(wl: Workload, hw: SystemConfig, units: np.ndarray, owners: list, balancer: str,
              opts, seed: int, schedule: str, batch: int, tiles_per_layer) -> Throughput:
    """``throughput="pipelined"``: ``batch`` images through the network as one DAG."""
    run = best_run(wl, hw, units, owners, balancer, opts, seed, image_graph(wl, schedule),
                   batch)
    energy, bd = run_energy(hw, run, tiles_per_layer, len(wl.layers))
    return Throughput(batch, "pipelined", run.makespan, energy, bd)
