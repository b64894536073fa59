"""Results of a network simulation: :class:`SimResult` with its scalars and tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from .accounting import PARTS, gain
from .engine import RAN_ANALOG, RAN_STOLEN_DIGITAL
from .network import Network
from .pipelining import GraphRun, row_buffers, task_bands
from .replication import copies, tiles_used, unique_units
from .scheduling import BalancerOptions
from .system import SystemConfig
from .throughput import Throughput
from .workload import Workload


@dataclass
class SimResult:
    """The outcome of :func:`simulate` (times in s, energies in J).

    Scalars: ``latency_s``, ``energy_j``, ``baseline_latency_s``, ``baseline_energy_j``,
    ``speedup``, ``energy_gain``, ``coverage`` (share of the network's MVM weights on tiles,
    each weight counted once), ``tiles_used`` (every copy counted); the throughput run
    (:class:`~aimclib.throughput.Throughput`): ``inferences_per_s``,
    ``energy_per_inference_j``. Tables (pandas): ``layers``, ``cores``, ``tiles``, ``trace``;
    the pipelined schedule's ``row_buffers``.

    ``schedule`` is ``"barrier"``, ``"dag"`` (``dag`` is True) or ``"pipelined"`` (``bands``
    holds its band run: every layer's tasks are its bands' tasks, times absolute).
    ``replicate``: the weight-replication setting (canonical text,
    :mod:`aimclib.replication`); ``units`` may then exceed a layer's units (unit-copies).
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
    schedules: Sequence
    layer_start: np.ndarray
    layer_end: np.ndarray
    latency_s: float
    energy_j: float
    breakdown: dict
    baseline_latency_s: float
    baseline_energy_j: float
    baseline_breakdown: dict
    schedule: str = "barrier"
    bands: GraphRun | None = None
    throughput: Throughput | None = None
    replicate: str = "off"

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
                part = w.mapping.partial(unique_units(w.mapping, u))
                out.append((u, w.n_units, tiles_used(w.mapping, u), part.weights_covered))
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

    @property
    def inferences_per_s(self) -> float:
        """Images per second of the throughput run (1/s; batch 1: ``1 / latency_s``)."""
        return self.throughput.inferences_per_s

    @property
    def energy_per_inference_j(self) -> float:
        """Energy per image of the throughput run (J; batch 1: ``energy_j``)."""
        return self.throughput.energy_per_inference_j

    @cached_property
    def _row_buffers(self) -> tuple[pd.DataFrame, float] | None:
        if self.bands is None:
            return None
        return row_buffers(self.network, self.bands, self.system)

    @property
    def row_buffers(self) -> pd.DataFrame | None:
        """Pipelined schedule: the rows each layer's output holds at most (``peak_rows``,
        ``peak_bytes``, B) against its whole tensor (``tensor_bytes``), one row per layer
        (:func:`aimclib.pipelining.row_buffers`); None for the other schedules."""
        return None if self._row_buffers is None else self._row_buffers[0]

    @property
    def row_buffer_peak_bytes(self) -> float | None:
        """Pipelined schedule: the most bytes of rows all layers hold at once (B)."""
        return None if self._row_buffers is None else self._row_buffers[1]

    def summary(self) -> dict:
        """The scalar results as a JSON-friendly dict (the ``aimc simulate --json`` contract).

        Besides the batch-1 scalars: ``schedule``; the throughput run's ``batch``,
        ``throughput`` (how it ran), ``batch_latency_s``, ``batch_energy_j``,
        ``inferences_per_s`` (1/s) and ``energy_per_inference_j`` (J); for the pipelined
        schedule ``row_buffer_peak_bytes`` (B) and ``row_buffers_fit_l2`` (else None)."""
        peak = self.row_buffer_peak_bytes
        tp = self.throughput
        return {
            "network": self.network.name, "preset": self.system.name,
            "coupling": self.system.coupling, "cores": self.system.cores,
            "tiles": self.system.tiles, "allocation": self.allocation,
            "balancer": self.balancer, "seed": self.seed, "dag": self.dag,
            "replicate": self.replicate, "latency_s": self.latency_s, "energy_j": self.energy_j,
            "baseline_latency_s": self.baseline_latency_s,
            "baseline_energy_j": self.baseline_energy_j, "speedup": self.speedup,
            "energy_gain": self.energy_gain, "coverage": self.coverage,
            "mac_coverage": self.mac_coverage, "tiles_used": self.tiles_used,
            "breakdown": self.breakdown, "schedule": self.schedule, "batch": tp.batch,
            "throughput": tp.mode, "batch_latency_s": tp.latency_s,
            "batch_energy_j": tp.energy_j, "inferences_per_s": tp.inferences_per_s,
            "energy_per_inference_j": tp.energy_per_inference_j,
            "row_buffer_peak_bytes": peak,
            "row_buffers_fit_l2": None if peak is None else bool(
                peak <= self.system.cpu.l2_bytes),
        }

    @cached_property
    def layers(self) -> pd.DataFrame:
        """One row per layer: mapping, timing and work. ``units_mapped`` counts unit-copies
        (it exceeds ``units_total`` when the layer has copies); ``copies`` is the most copies
        of any of its units (0: nothing mapped); ``tiles_used`` counts every copy."""
        rows = []
        for w, s, (u, nu, tu, wc), t0, t1 in zip(
                self.workload.layers, self.schedules, self._mapped, self.layer_start,
                self.layer_end):
            info = w.info
            parts = dict(zip(PARTS, s.vec.tolist()))
            rows.append({
                "layer": info.name, "kind": info.kind, "units_mapped": u, "units_total": nu,
                "copies": copies(u, nu), "tiles_used": tu, "weights": info.weights,
                "weights_on_tiles": wc,
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
        tasks, on its tile (``resource='tile'``); absolute times in s. ``band``: the task's
        row band within its layer (pipelined schedule; 0 otherwise)."""
        frames = []
        tile_base = np.concatenate([[0], np.cumsum([len(o) for o in self.owners])])
        bands = None if self.bands is None else task_bands(self.bands)
        for i, (s, t0) in enumerate(zip(self.schedules, self.layer_start)):
            if len(s.tasks) == 0:
                continue
            off = float(t0) if self.schedule == "barrier" else 0.0
            band = np.zeros(len(s.tasks), np.int64) if bands is None else bands[s.a:s.b]
            t = s.tasks
            what = np.where(s.how == RAN_ANALOG, "analog",
                            np.where(s.how == RAN_STOLEN_DIGITAL, "stolen-digital", "digital"))
            core_end = np.where(s.how == RAN_STOLEN_DIGITAL, s.start + t.alt_s,
                                np.where(s.how == RAN_ANALOG, s.start + t.core_s, s.end))
            frames.append(pd.DataFrame({
                "resource": "core", "id": s.ran_on, "layer": self.network.layers[i].name,
                "task": np.arange(len(t)), "kind": what, "start_s": s.start + off,
                "end_s": core_end + off, "band": band}))
            an = s.how == RAN_ANALOG
            if an.any():
                tile_ids = t.tile[an] + tile_base[i]
                frames.append(pd.DataFrame({
                    "resource": "tile", "id": tile_ids, "layer": self.network.layers[i].name,
                    "task": np.flatnonzero(an), "kind": "mvm",
                    "start_s": s.tile_start[an] + off,
                    "end_s": s.tile_start[an] + t.tile_s[an] + off, "band": band[an]}))
        cols = ["resource", "id", "layer", "task", "kind", "start_s", "end_s", "band"]
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
                b = j % mp.tiles_full  # a copy's tile holds its original's block
                rows.append({
                    "tile": gid, "layer": w.info.name, "owner_core": int(owners[j]),
                    "rows_used": int(mp.tile_rows[b]), "cols_used": int(mp.tile_cols[b]),
                    "utilisation": mp.tile_rows[b] * mp.tile_cols[b] / (mp.rows * mp.cols),
                    "mvms": int(t.mvms[mine].sum()), "busy_s": float(t.tile_s[mine].sum()),
                    "energy_j": float(t.energy_j[mine].sum()) + static_w * on_s})
                gid += 1
        cols = ["tile", "layer", "owner_core", "rows_used", "cols_used", "utilisation", "mvms",
                "busy_s", "energy_j"]
        return pd.DataFrame(rows, columns=cols)
