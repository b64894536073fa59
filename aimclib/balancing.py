"""Balancers: how a layer's work is cut into tasks and dealt to the cores' deques.

A layer's work is its digital part (the unmapped outputs, or the whole of a non-MVM layer),
divisible by output position and output channel, and one analog stream per mapped tile (one
MVM per output position). The balancers:

* ``static-even``: output positions split evenly over the cores, no regard for cost. Tight:
  each tile's MVMs run on the tile's owner (no other core can reach it) and the digital part
  is split evenly. Loose: each core takes ``M / p`` output positions and drives every mapped
  tile for them (when ``M < p``, as in a linear layer, the tiles' MVMs are dealt round-robin).
* ``static-balanced``: a cost-aware offline split minimising the layer's makespan. Tight: the
  makespan ``L`` is found by bisection such that the owners' analog work fits under ``L`` once
  some output positions of over-full tiles are computed digitally instead, and all digital
  work (remainder plus converted positions) fits the other cores' room under ``L``
  (water-filling); a tile no faster than a core on its own block is left unused. Loose:
  analog chunks dealt by longest-processing-time first, then the digital work water-filled.
  In both, the static-even split is also scored and the better one kept, so static-balanced
  is never slower than static-even.
* ``work-stealing``: the static-even split cut into ``tasks_per_core`` chunks per core (a
  tight tile's stream into ``tasks_per_core x p`` chunks), then idle cores steal
  (:mod:`aimclib.engine`).

Tasks are returned as :class:`TaskSet` arrays, tiles numbered locally within the layer.

Balancers live in the registry :data:`BALANCERS`: a new one is one :class:`Balancer`
registered there (how it cuts a layer, which splits it scores, whether it steals and takes
a seed, how figures draw it).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from .cpu import memory_seconds
from .engine import KIND_DIGITAL, KIND_LOOSE, KIND_TIGHT
from .interface import MvmCost
from .mapping import split_sizes
from .registry import Registry
from .system import SystemConfig
from .workload import LayerWork


TASK_FIELDS = {"kind": np.int64, "core": np.int64, "tile": np.int64, "pixels": np.float64,
               "core_s": np.float64, "tile_s": np.float64, "bus_s": np.float64,
               "alt_s": np.float64, "iface_s": np.float64, "stall_s": np.float64,
               "host_s": np.float64, "mvms": np.int64, "dram_bytes": np.float64,
               "bus_bytes": np.float64, "energy_j": np.float64}
"""The fields of a task and their dtypes (:class:`TaskSet` holds one array per field)."""


@dataclass(frozen=True)
class TaskSet:
    """Tasks of one layer (arrays of equal length; times in s, bytes in B).

    ``tile`` is local to the layer (-1 for digital tasks); ``core`` is the deque the task
    starts in; ``pixels`` the output positions it covers (fractional for digital tasks);
    ``iface_s``, ``stall_s``, ``host_s``, ``jobs_s`` split ``core_s`` of analog tasks by
    component; ``mvms`` counts the MVMs; ``dram_bytes``/``bus_bytes`` the traffic.
    """

    kind: np.ndarray
    core: np.ndarray
    tile: np.ndarray
    pixels: np.ndarray
    core_s: np.ndarray
    tile_s: np.ndarray
    bus_s: np.ndarray
    alt_s: np.ndarray
    iface_s: np.ndarray
    stall_s: np.ndarray
    host_s: np.ndarray
    mvms: np.ndarray
    dram_bytes: np.ndarray
    bus_bytes: np.ndarray
    energy_j: np.ndarray

    def __len__(self) -> int:
        return len(self.kind)

    def slice(self, a: int, b: int) -> TaskSet:
        """Tasks ``a:b`` (views)."""
        return TaskSet(**{f: getattr(self, f)[a:b] for f in TASK_FIELDS})

    @staticmethod
    def concat(sets: list[TaskSet]) -> TaskSet:
        """The tasks of ``sets`` one after the other."""
        return TaskSet(**{f: np.concatenate([getattr(s, f) for s in sets]).astype(dt, copy=False)
                          for f, dt in TASK_FIELDS.items()})


class _Builder:
    """Accumulates tasks of one layer."""

    def __init__(self, work: LayerWork, units: int, owners: np.ndarray, p: int,
                 sys: SystemConfig):
        self.w = work
        self.p = p
        self.owners = owners
        self.columns: dict[str, list] = {f: [] for f in TASK_FIELDS}
        u = units
        # output positions each mapped unit processes (None: every unit all ``pixels``);
        # set for a layer with copies (:mod:`aimclib.replication`), whose copies split them
        self.unit_px: np.ndarray | None = None
        self.d_px = float(work.digital_px_s[u])
        self.eff_px = _effective_px(work, u, sys, p)
        self.dram_px = float(work.digital_dram_bytes[u]) / work.pixels
        self.bus_bps = sys.loose.bus_bandwidth_bps
        if work.mapping is not None:
            n_t = work.mapping.tiles_for(u)
            mc = work.mvm
            self.n_tiles = n_t
            self.mc = mc
            self.remote, self.xfer_px = _psum_transfer(work, owners[:n_t], sys)
            self.sync_s = sys.host.psum_sync_cycles / sys.cpu.clock_hz
            # per-pixel core time of each mapped tile's MVM, partial-sum transfer included
            self.a_px = np.asarray(mc.core_s[:n_t], dtype=np.float64) + self.xfer_px
        else:
            self.n_tiles = 0

    def task(self, **fields) -> None:
        """Append one task; fields not given are 0 (``tile``: -1, digital)."""
        fields.setdefault("tile", -1)
        for name, column in self.columns.items():
            column.append(fields.get(name, 0))

    def digital(self, core: int, pixels: float) -> None:
        if pixels <= 0 or self.eff_px <= 0:
            return
        self.task(kind=KIND_DIGITAL, core=core, pixels=pixels, core_s=pixels * self.eff_px,
                  dram_bytes=pixels * self.dram_px)

    def converted(self, core: int, tile: int, pixels: float) -> None:
        """Output positions of a tile's block computed digitally instead (static-balanced)."""
        if pixels <= 0:
            return
        self.task(kind=KIND_DIGITAL, core=core, pixels=pixels,
                  core_s=pixels * float(self.w.alt_px_s[tile]))

    def analog(self, core: int, tile: int, pixels: int, kind: int) -> None:
        if pixels <= 0:
            return
        mc, t = self.mc, tile
        iface = pixels * float(mc.iface_s[t]) + float(mc.jobs(pixels, t)) * mc.job_s
        stall = pixels * float(mc.stall_s[t])
        host = pixels * float(mc.host_s[t])
        if self.remote[t]:  # partial sums to the unit's first core, one hand-over per task
            host += pixels * float(self.xfer_px[t]) + self.sync_s
        bus_b = pixels * float(mc.bus_bytes[t])
        self.task(kind=kind, core=core, tile=t, pixels=float(pixels),
                  core_s=iface + stall + host, tile_s=pixels * float(mc.tile_s[t]),
                  bus_s=bus_b / self.bus_bps, alt_s=pixels * float(self.w.alt_px_s[t]),
                  iface_s=iface, stall_s=stall, host_s=host, mvms=pixels, bus_bytes=bus_b,
                  energy_j=pixels * float(mc.energy_j[t]))

    def analog_many(self, cores, tiles, pixels, kind: int) -> None:
        """:meth:`analog` for each (core, tile, pixels) in order, priced in one vectorised
        pass (the same operations element by element, so the same values)."""
        px = np.asarray(pixels, np.int64)
        keep = px > 0
        core, t, px = np.asarray(cores, np.int64)[keep], np.asarray(tiles, np.int64)[keep], \
            px[keep]
        mc = self.mc
        iface = px * mc.iface_s[t] + mc.jobs(px, t).astype(np.float64) * mc.job_s
        stall = px * mc.stall_s[t]
        host = px * mc.host_s[t]
        remote = self.remote[t]
        host = np.where(remote, host + (px * self.xfer_px[t] + self.sync_s), host)
        bus_b = px * mc.bus_bytes[t]
        n = len(px)
        cols = {"kind": np.full(n, kind), "core": core, "tile": t,
                "pixels": px.astype(np.float64), "core_s": iface + stall + host,
                "tile_s": px * mc.tile_s[t], "bus_s": bus_b / self.bus_bps,
                "alt_s": px * self.w.alt_px_s[t], "iface_s": iface, "stall_s": stall,
                "host_s": host, "mvms": px, "dram_bytes": np.zeros(n), "bus_bytes": bus_b,
                "energy_j": px * mc.energy_j[t]}
        for name, column in self.columns.items():
            column.extend(cols[name].tolist())

    def tile_px(self) -> np.ndarray:
        """Output positions each mapped tile processes (``pixels`` unless copies split them)."""
        if self.unit_px is None:
            return np.full(self.n_tiles, self.w.pixels, np.int64)
        return self.unit_px[self.w.mapping.tile_unit[:self.n_tiles]]

    def build(self) -> TaskSet:
        return TaskSet(**{f: np.array(self.columns[f], dtype=dt)
                          for f, dt in TASK_FIELDS.items()})


def _effective_px(work: LayerWork, units: int, sys: SystemConfig, p: int) -> float:
    """Per-pixel digital time of the layer's digital part with ``units`` mapped, the memory
    roofline included (s; 0 when nothing is digital)."""
    d_px = float(work.digital_px_s[units])
    mem_px = float(memory_seconds(sys.cpu, work.digital_dram_bytes[units], work.act_l2_bytes,
                                  p)) / work.pixels
    return max(d_px, mem_px) if d_px > 0 else 0.0


def _psum_transfer(work: LayerWork, owners: np.ndarray, sys: SystemConfig
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Tight coupling: which mapped tiles sit on another core than their unit's first row
    block (``remote``), and the per-MVM core time to move such a tile's partial outputs to
    that core through the shared L2 (s): the producer stores its ``cols`` int8 partials and
    the accumulating core loads them, ``2 * cols * output bytes`` at the L2 rate. Loose
    tiles and tiles on the unit's own core move nothing."""
    mp, n_t = work.mapping, len(owners)
    if n_t == 0 or sys.coupling != "tight":
        return np.zeros(n_t, np.bool_), np.zeros(n_t)
    first = np.flatnonzero(mp.tile_row_block == 0)  # first tile of each unit, unit order
    lead = owners[first[mp.tile_unit[:n_t]]]
    remote = owners != lead
    moved = 2.0 * mp.tile_cols[:n_t] * sys.tile.output_bits / 8
    per_px = moved / (sys.cpu.l2_bytes_per_cycle * sys.cpu.clock_hz)
    return remote, np.where(remote, per_px, 0.0)


@dataclass(frozen=True)
class CostArrays:
    """What the compiled even cut reads, for every layer of a workload (built once per network
    and system; times in s, bytes in B).

    Per layer: ``pixels``, ``job_s`` (core time per DMA job). Per layer and number of units
    mapped (CSR ``unit_ptr``): ``tiles_for`` (tiles the units need), ``eff_px`` (per-pixel
    digital time, memory roofline included), ``dram_bytes`` (the digital part's DRAM bytes)
    and ``dram_px`` (those per pixel). Per tile of each layer's full mapping (CSR
    ``tile_ptr``, tiles numbered within the layer): the per-MVM costs ``mvm`` (an
    :class:`~aimclib.interface.MvmCost` of every layer's tiles one after the other, with
    ``vectors_per_job`` per tile; the jobs' core time is ``job_s`` per layer), ``alt_px_s``,
    ``xfer_px`` (per-MVM partial-sum hand-over when the tile sits on another core than its
    unit's first tile), ``lead`` (that first tile) and ``cells`` (rows x columns it uses). Scalars: ``sync_s`` (one hand-over's synchronisation), ``bus_bps``,
    ``weight_bytes`` (bytes of one weight a thief reads from DRAM).
    """

    pixels: np.ndarray
    job_s: np.ndarray
    unit_ptr: np.ndarray
    tiles_for: np.ndarray
    eff_px: np.ndarray
    dram_bytes: np.ndarray
    dram_px: np.ndarray
    tile_ptr: np.ndarray
    mvm: MvmCost
    alt_px_s: np.ndarray
    xfer_px: np.ndarray
    lead: np.ndarray
    cells: np.ndarray
    sync_s: float
    bus_bps: float
    weight_bytes: float


def cost_arrays(works: tuple[LayerWork, ...], sys: SystemConfig) -> CostArrays:
    """The :class:`CostArrays` of ``works`` on ``sys`` (``sys.cores`` cores)."""
    p = sys.cores
    eff, dram, tiles = [], [], []
    for w in works:
        eff.append([_effective_px(w, u, sys, p) for u in range(w.n_units + 1)])
        dram.append([float(w.digital_dram_bytes[u]) / w.pixels for u in range(w.n_units + 1)])
        tiles.append(w.mapping.tiles_full if w.mapping is not None else 0)
    mvm = [w for w in works if w.mapping is not None]

    def per_tile(get, dtype=np.float64) -> np.ndarray:
        parts = [np.broadcast_to(np.asarray(get(w), dtype), w.mapping.tiles_full) for w in mvm]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    def ptr(counts) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def lead(w: LayerWork) -> np.ndarray:
        first = np.flatnonzero(w.mapping.tile_row_block == 0)
        return first[w.mapping.tile_unit]

    # the hand-over of _psum_transfer, per MVM, for every tile (used where it is remote)
    l2_rate = sys.cpu.l2_bytes_per_cycle * sys.cpu.clock_hz
    return CostArrays(
        pixels=np.array([w.pixels for w in works], np.int64),
        job_s=np.array([w.mvm.job_s if w.mvm is not None else 0.0 for w in works]),
        unit_ptr=ptr([len(e) for e in eff]), eff_px=np.array(sum(eff, []), np.float64),
        tiles_for=np.array([w.mapping.tiles_for(u) if w.mapping is not None else 0
                            for w in works for u in range(w.n_units + 1)], np.int64),
        dram_bytes=np.concatenate([w.digital_dram_bytes for w in works]).astype(np.float64),
        dram_px=np.array(sum(dram, []), np.float64), tile_ptr=ptr(tiles),
        mvm=MvmCost(**{f: per_tile(lambda w: getattr(w.mvm, f)) for f in
                       ("iface_s", "stall_s", "host_s", "tile_s", "bus_bytes", "energy_j")},
                    vectors_per_job=per_tile(lambda w: w.mvm.vectors_per_job, np.int64)),
        alt_px_s=per_tile(lambda w: w.alt_px_s),
        xfer_px=per_tile(lambda w: 2.0 * w.mapping.tile_cols * sys.tile.output_bits / 8
                         / l2_rate),
        lead=per_tile(lead, np.int64),
        cells=per_tile(lambda w: w.mapping.tile_rows * w.mapping.tile_cols, np.int64),
        sync_s=sys.host.psum_sync_cycles / sys.cpu.clock_hz,
        bus_bps=float(sys.loose.bus_bandwidth_bps),
        weight_bytes=float(sys.cpu.activation_bytes))


_F_PIXELS, _F_CORE_S, _F_TILE_S, _F_BUS_S, _F_ALT_S, _F_IFACE_S, _F_STALL_S, _F_HOST_S, \
    _F_DRAM, _F_BUS_B, _F_ENERGY = range(11)
_I_KIND, _I_CORE, _I_TILE, _I_MVMS = range(4)
_FLOAT_FIELDS = ("pixels", "core_s", "tile_s", "bus_s", "alt_s", "iface_s", "stall_s", "host_s",
                 "dram_bytes", "bus_bytes", "energy_j")
_INT_FIELDS = ("kind", "core", "tile", "mvms")
"""Rows of the compiled cut's float and integer blocks (the :data:`TASK_FIELDS` by name)."""


@numba.njit(cache=True)
def _parts_of(total, n):
    """``split_sizes(total, ceil(total / n))``, at most ``n`` balanced positive parts, as
    (count, base size, number of parts one larger)."""
    if total <= 0:
        return 0, 0, 0
    size = -(-total // n)
    count = -(-total // size)
    return count, total // count, total % count


@numba.njit(cache=True)
def _even_layer(fl, it, n, write, own, p, tight, chunks, m, eff_px, dram_px, job_s, tile0,
                n_tiles, lead, a):
    """Append one layer's even split from task ``n`` (``write`` False: only count); returns
    the next task index. ``own``: owners of its ``n_tiles`` mapped tiles (global tile
    ``tile0 + t``); ``a``: the cost arrays' tile fields and scalars. Analog tasks go first in
    each deque (tight: they are bound to their owner, so the digital chunks stay at the back
    where thieves take them). Analog tasks are priced as :meth:`_Builder.analog` prices them,
    in one loop (no call per task: passing arrays costs reference counting)."""
    iface_s, stall_s, host_s, tile_s, bus_bytes, energy_j, alt_px_s, vpj, xfer_px, sync_s, \
        bus_bps = a
    n_analog = 0
    if n_tiles > 0:
        if tight:
            n_analog = n_tiles * _parts_of(m, chunks * p if chunks > 1 else 1)[0]
        elif m < p:
            n_analog = n_tiles
        else:
            cnt_c, base_c, extra_c = _parts_of(m, p)
            for c in range(cnt_c):
                n_analog += n_tiles * _parts_of(base_c + (1 if c < extra_c else 0), chunks)[0]
    if write and n_analog > 0:
        # In deque order. Tight: each tile's stream cut into chunks x p parts when stealing
        # (so a thief can take a small piece of an over-full owner's stream), else one, on its
        # owner. Loose with m >= p: each core's share of the output positions (the shares
        # differ by one position), every tile, in `chunks` parts. Loose with m < p (a linear
        # layer, say): tile t whole on core t % p. A tile's parts have `base + 1` positions
        # (the first `extra`) or `base`: each size is priced once.
        kind = KIND_TIGHT if tight else KIND_LOOSE
        k = n
        shares = 1
        if not tight and m >= p:
            shares, base_c, extra_c = _parts_of(m, p)
        for c in range(shares):
            if tight:
                cnt, base, extra = _parts_of(m, chunks * p if chunks > 1 else 1)
            elif m < p:
                cnt, base, extra = 1, m, 0
            else:
                cnt, base, extra = _parts_of(base_c + (1 if c < extra_c else 0), chunks)
            for t in range(n_tiles):
                g = tile0 + t
                core = own[t] if tight else (t % p if m < p else c)
                # tight, on another core than its unit's first tile: partial sums handed over
                remote = tight and own[t] != own[lead[g]]
                for big in (True, False):
                    px = base + 1 if big else base
                    reps = extra if big else cnt - extra
                    if reps == 0:
                        continue
                    iface = px * iface_s[g] + float(-(-px // vpj[g])) * job_s
                    stall = px * stall_s[g]
                    host = px * host_s[g]
                    if remote:  # one hand-over per task
                        host += px * xfer_px[g] + sync_s
                    bus_b = px * bus_bytes[g]
                    core_s = iface + stall + host
                    tile_s_k = px * tile_s[g]
                    bus_s_k = bus_b / bus_bps
                    alt_s = px * alt_px_s[g]
                    energy = px * energy_j[g]
                    for _ in range(reps):
                        fl[_F_PIXELS, k] = float(px)
                        fl[_F_CORE_S, k] = core_s
                        fl[_F_TILE_S, k] = tile_s_k
                        fl[_F_BUS_S, k] = bus_s_k
                        fl[_F_ALT_S, k] = alt_s
                        fl[_F_IFACE_S, k] = iface
                        fl[_F_STALL_S, k] = stall
                        fl[_F_HOST_S, k] = host
                        fl[_F_BUS_B, k] = bus_b
                        fl[_F_ENERGY, k] = energy
                        it[_I_KIND, k] = kind
                        it[_I_CORE, k] = core
                        it[_I_TILE, k] = t
                        it[_I_MVMS, k] = px
                        k += 1
    n += n_analog
    px = m / p / chunks
    if eff_px > 0 and px > 0:
        for c in range(p):
            for _ in range(chunks):
                if write:
                    fl[_F_PIXELS, n] = px
                    fl[_F_CORE_S, n] = px * eff_px
                    fl[_F_DRAM, n] = px * dram_px
                    it[_I_KIND, n] = KIND_DIGITAL
                    it[_I_CORE, n] = c
                    it[_I_TILE, n] = -1
                n += 1
    return n


@numba.njit(cache=True)
def _even_kernel(layers, units, own_ptr, owners, p, tight, chunks, pix, job_s, unit_ptr,
                 eff_px, dram_px, tile_ptr, lead, a):
    """Float and integer task blocks and the CSR pointer of the requested layers' even
    splits (two passes: count, then fill)."""
    n_req = layers.shape[0]
    ptr = np.zeros(n_req + 1, np.int64)
    fl = np.zeros((11, 0))
    it = np.zeros((4, 0), np.int64)
    for write in (False, True):
        if write:
            fl = np.zeros((11, ptr[n_req]))
            it = np.zeros((4, ptr[n_req]), np.int64)
        for r in range(n_req):
            lay, k = layers[r], unit_ptr[layers[r]] + units[r]
            end = _even_layer(fl, it, ptr[r], write, owners[own_ptr[r]:own_ptr[r + 1]], p,
                              tight, chunks, pix[lay], eff_px[k], dram_px[k], job_s[lay],
                              tile_ptr[lay], own_ptr[r + 1] - own_ptr[r], lead, a)
            if not write:
                ptr[r + 1] = end
    return fl, it, ptr


def even_tasks(arrays: CostArrays, layers, units, owners: list[np.ndarray], p: int,
               tight: bool, chunks: int) -> tuple[TaskSet, np.ndarray]:
    """The even split (``chunks`` tasks per core) of every requested layer (``layers``,
    ``units`` mapped, ``owners`` of its mapped tiles) in one compiled call: all their tasks
    one layer after the other, and the CSR pointer over the requests."""
    own_ptr = np.zeros(len(owners) + 1, np.int64)
    np.cumsum([len(o) for o in owners], out=own_ptr[1:])
    flat = np.concatenate(owners).astype(np.int64) if owners else np.zeros(0, np.int64)
    A, mc = arrays, arrays.mvm
    a = (mc.iface_s, mc.stall_s, mc.host_s, mc.tile_s, mc.bus_bytes, mc.energy_j, A.alt_px_s,
         mc.vectors_per_job, A.xfer_px, A.sync_s, A.bus_bps)
    fl, it, ptr = _even_kernel(
        np.asarray(layers, np.int64), np.asarray(units, np.int64), own_ptr, flat, p, tight,
        chunks, A.pixels, A.job_s, A.unit_ptr, A.eff_px, A.dram_px, A.tile_ptr, A.lead, a)
    fields = dict(zip(_FLOAT_FIELDS, fl)) | dict(zip(_INT_FIELDS, it))
    return TaskSet(**fields), ptr


@numba.njit(cache=True)
def _makespan_level(load, cap, before, conv_ratio, digital_total):
    """Smallest makespan ``L`` (bisection, 64 halvings) such that, with every owner's analog
    work above ``L`` converted to digital (slot by slot, in the given order), all digital work
    fits the cores' room below ``L``. ``cap[c, j]``: analog seconds of core c's j-th tile;
    ``before``: the analog seconds of the slots ahead of it; ``conv_ratio``: digital seconds
    per converted analog second."""
    lo, hi = 0.0, digital_total
    for c in range(load.shape[0]):
        hi = max(hi, load[c] + digital_total)
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        conv = 0.0
        room = 0.0
        for c in range(load.shape[0]):
            need = load[c] - mid
            if need > 0.0:
                for j in range(cap.shape[1]):
                    part = min(max(need - before[c, j], 0.0), cap[c, j])
                    conv += part * conv_ratio[c, j]
            else:
                room -= need
        if room >= conv + digital_total:
            hi = mid
        else:
            lo = mid
    return hi


def _balanced_tight(b: _Builder) -> None:
    """Bisection on the makespan ``L``: every owner keeps at most ``L`` of analog work, the
    excess of an over-full owner is converted to digital work (tiles whose digital cost is
    lowest relative to their analog cost first), and all digital work (remainder plus
    converted) must fit the cores' room under ``L`` (water-filling). A tile whose block is
    computed digitally no slower than through the tile (a sparsely filled depthwise tile,
    say), or a copy with no positions, is not used at all."""
    p, m, n_t = b.p, b.w.pixels, b.n_tiles
    mt = b.tile_px()  # each tile's output positions (m unless copies split them)
    owners = b.owners[:n_t]
    a_px = b.a_px
    alt_px = np.asarray(b.w.alt_px_s[:n_t], dtype=np.float64)
    ratio = alt_px / a_px
    # a tile no faster than any core computing its block is not used, nor is a copy left
    # without positions (a row band narrower than the layer's copies, aimclib.pipelining)
    useless = (ratio <= 1.0) | (mt == 0)
    # per core, its tiles by increasing ratio, padded into (cores, width) arrays
    width = int(np.bincount(owners, minlength=p).max())
    cap = np.zeros((p, width))
    conv_ratio = np.zeros((p, width))
    slot = np.full((p, width), -1, np.int64)
    for c in range(p):
        mine = np.flatnonzero((owners == c) & ~useless)
        mine = mine[np.argsort(ratio[mine], kind="stable")]
        cap[c, :len(mine)] = mt[mine] * a_px[mine]
        conv_ratio[c, :len(mine)] = ratio[mine]
        slot[c, :len(mine)] = mine
    load = cap.sum(axis=1)
    cum = np.cumsum(cap, axis=1)
    before = cum - cap
    digital_total = m * b.eff_px
    # the unused tiles' blocks, computed digitally (without copies in the original order of
    # operations, so results without copies stay bit-identical)
    unused_s = (m * float(alt_px[useless].sum()) if b.unit_px is None
                else float((mt[useless] * alt_px[useless]).sum()))

    hi = _makespan_level(load, cap, before, conv_ratio, digital_total + unused_s)
    conv = np.clip(np.maximum(0.0, load - hi)[:, None] - before, 0.0, cap)
    keep = mt.copy()
    valid = slot >= 0
    ms = mt[slot[valid]]
    drop = np.ceil(conv[valid] / (ms * a_px[slot[valid]]) * ms - 1e-9).astype(np.int64)
    keep[slot[valid]] = ms - np.minimum(drop, ms)
    keep[useless] = 0
    for t in range(n_t):
        b.analog(int(owners[t]), t, int(keep[t]), KIND_TIGHT)
    # deal converted tile work, then the digital remainder, into the cores' room under L
    analog_load = np.bincount(owners, weights=keep * a_px, minlength=p)
    room = np.maximum(0.0, hi - analog_load)
    work = [(t, (mt[t] - keep[t]) * float(alt_px[t])) for t in range(n_t) if keep[t] < mt[t]]
    work.append((-1, digital_total))
    c = 0
    for t, left in work:
        per_s = float(alt_px[t]) if t >= 0 else b.eff_px
        while left > 1e-15 * max(1.0, hi):
            if c >= p:  # rounding left-over goes to the least-loaded core
                c_min = int(np.argmax(room))
                room[c_min] = 0.0
                take, tgt = left, c_min
            else:
                take, tgt = min(left, room[c]), c
            if take > 0:
                if t >= 0:
                    b.converted(tgt, t, take / per_s)
                else:
                    b.digital(tgt, take / per_s)
                room[tgt] -= take
                left -= take
            if c < p and room[c] <= 1e-15 * max(1.0, hi):
                c += 1


def _deal_loose_chunks(b: _Builder) -> np.ndarray:
    """The analog part of :func:`_balanced_loose`, priced for all chunks at once: returns the
    cores' analog load (s). Chunks (unit by unit, a unit's parts in order) are dealt longest
    first (earlier chunk on ties), each to the least-loaded core (lowest index on ties)."""
    p = b.p
    unit_of = b.w.mapping.tile_unit[:b.n_tiles]
    first = np.flatnonzero(np.r_[True, unit_of[1:] != unit_of[:-1]])  # units are contiguous
    count = np.diff(np.r_[first, b.n_tiles])
    unit_m = [b.w.pixels] * len(first) if b.unit_px is None else b.unit_px.tolist()
    splits: dict[int, list[int]] = {}  # positions -> one chunk per core
    for mu in set(unit_m):
        splits[mu] = (split_sizes(mu, -(-mu // p)) if mu >= p else np.array([mu])).tolist()
    parts = [splits[mu] for mu in unit_m]
    item_unit = np.repeat(np.arange(len(first)), [len(q) for q in parts])
    item_part = np.array([size for q in parts for size in q], np.int64)
    sizes, part_k = np.unique(item_part, return_inverse=True)
    cost = b.mc.chunk_core_s(sizes[:, None])  # a chunk's core time on every tile
    dur = np.empty(len(item_unit))
    for n_t in np.unique(count).tolist():  # a unit's tiles summed as a 1-D sum sums them
        rows = np.flatnonzero(count[item_unit] == n_t)
        idx = first[item_unit[rows]][:, None] + np.arange(n_t)
        dur[rows] = cost[part_k[rows][:, None], idx].sum(axis=1)
    order = np.lexsort((np.arange(len(dur)), -dur))
    heap = [(0.0, c) for c in range(p)]  # (load, core): the least loaded, lowest index
    core_of = np.empty(len(dur), np.int64)
    dur_l = dur.tolist()
    for i in order.tolist():
        done, c = heap[0]
        core_of[i] = c
        heapq.heapreplace(heap, (done + dur_l[i], c))
    units = item_unit[order]
    n_tiles = count[units]
    offset = np.arange(int(n_tiles.sum())) - np.repeat(np.cumsum(n_tiles) - n_tiles, n_tiles)
    b.analog_many(np.repeat(core_of[order], n_tiles), np.repeat(first[units], n_tiles) + offset,
                  np.repeat(item_part[order], n_tiles), KIND_LOOSE)
    load = np.zeros(p)
    for done, c in heap:
        load[c] = done
    return load


def _balanced_loose(b: _Builder) -> None:
    """Longest-processing-time first over the analog chunks (each unit's positions cut into
    one chunk per core; a chunk drives all the unit's row-block tiles, so its partial sums
    stay on one core), then the digital remainder water-filled over the cores. A copy of a
    unit (:mod:`aimclib.replication`) is cut the same way from its share of the positions."""
    p, m = b.p, b.w.pixels
    load = np.zeros(p)
    if b.n_tiles:
        load = _deal_loose_chunks(b)
    # digital remainder: water-fill the cores
    total = m * b.eff_px
    if total > 0:
        srt = np.sort(load)
        level = srt[-1]
        for k in range(1, p + 1):
            cand = (srt[:k].sum() + total) / k
            if k == p or cand <= srt[k]:
                level = cand
                break
        for c in range(p):
            share = max(0.0, level - load[c])
            if share > 0:
                b.digital(c, share / b.eff_px)


def _cut_balanced(b: _Builder, tight: bool, chunks: int) -> None:
    if tight and b.n_tiles:
        _balanced_tight(b)
    elif b.n_tiles:
        _balanced_loose(b)
    else:  # all digital: the even split
        for c in range(b.p):
            b.digital(c, b.w.pixels / b.p)


@dataclass(frozen=True)
class EvenCut:
    """The even split, cut in compiled code (:func:`even_tasks`): output positions split
    evenly over the cores, ``tasks_per_core`` chunks per core when ``chunked`` (else one)."""

    chunked: bool

    def chunks(self, tasks_per_core: int) -> int:
        return tasks_per_core if self.chunked else 1


@dataclass(frozen=True)
class Balancer:
    """A balancer.

    ``cut``: an :class:`EvenCut`, or ``cut(builder, tight, chunks)`` that cuts one layer
    into tasks on a :class:`_Builder` (``chunks``: the options' tasks per core; a layer with
    copies gives each tile ``builder.tile_px()`` output positions, not all of them).
    ``also_scores``: other registered balancers whose split of each layer is scored too, the
    fastest kept (this one's own on ties). ``steals``: idle cores steal tasks in the engine;
    ``seeded``: its schedules depend on the seed (the victim choice). ``line`` and ``hatch``
    draw it in figures.
    """

    name: str
    cut: EvenCut | Callable[[_Builder, bool, int], None]
    also_scores: tuple[str, ...] = ()
    steals: bool = False
    seeded: bool = False
    line: object = "-"
    hatch: str = ""

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits scored for a layer: this balancer's own first."""
        return (self.name,) + self.also_scores


BALANCERS: Registry[Balancer] = Registry("balancer", [
    # in the order figures list them; dotted lines are not used (reference lines are solid)
    Balancer("static-balanced", _cut_balanced, also_scores=("static-even",), line="-"),
    Balancer("static-even", EvenCut(chunked=False), line=(0, (4, 1.5)), hatch="////"),
    Balancer("work-stealing", EvenCut(chunked=True), steals=True, seeded=True,
             line=(0, (3, 1, 1, 1)),
             hatch="...."),
])
"""The balancers by name (a sequence of names; ``BALANCERS.entry(name)``)."""


def layer_tasks(work: LayerWork, units: int, owners: np.ndarray, balancer: str,
                sys: SystemConfig, tasks_per_core: int) -> TaskSet:
    """The tasks of one layer for ``balancer`` with ``units`` units mapped, on ``sys.cores``
    cores.

    ``owners`` gives the owning core of each of the layer's mapped tiles (tight coupling).
    For static-balanced the caller scores this split against static-even (see
    :func:`aimclib.scheduling.barrier_schedules`).
    """
    cut, tight = BALANCERS.entry(balancer).cut, sys.coupling == "tight"
    if isinstance(cut, EvenCut):
        n_t = work.mapping.tiles_for(units) if work.mapping is not None else 0
        return even_tasks(cost_arrays((work,), sys), [0], [units], [owners[:n_t]], sys.cores,
                          tight, cut.chunks(tasks_per_core))[0]
    b = _Builder(work, units, owners, sys.cores, sys)
    cut(b, tight, tasks_per_core)
    return b.build()
