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

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from .cpu import memory_seconds
from .engine import KIND_DIGITAL, KIND_LOOSE, KIND_TIGHT
from .mapping import split_sizes
from .registry import Registry
from .system import SystemConfig
from .workload import LayerWork


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


class _Builder:
    """Accumulates tasks of one layer."""

    def __init__(self, work: LayerWork, units: int, owners: np.ndarray, p: int,
                 sys: SystemConfig):
        self.w = work
        self.p = p
        self.owners = owners
        self.rows: list[tuple] = []
        u = units
        self.d_px = float(work.digital_px_s[u])
        m = work.pixels
        mem_px = float(memory_seconds(sys.cpu, work.digital_dram_bytes[u], work.act_l2_bytes,
                                      p)) / m
        # per-pixel digital time including the memory roofline (0 when nothing is digital)
        self.eff_px = max(self.d_px, mem_px) if self.d_px > 0 else 0.0
        self.dram_px = float(work.digital_dram_bytes[u]) / m
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

    def digital(self, core: int, pixels: float) -> None:
        if pixels <= 0 or self.eff_px <= 0:
            return
        self.rows.append((KIND_DIGITAL, core, -1, pixels, pixels * self.eff_px, 0.0, 0.0, 0.0,
                          0.0, 0.0, 0.0, 0, pixels * self.dram_px, 0.0, 0.0))

    def converted(self, core: int, tile: int, pixels: float) -> None:
        """Output positions of a tile's block computed digitally instead (static-balanced)."""
        if pixels <= 0:
            return
        dur = pixels * float(self.w.alt_px_s[tile])
        self.rows.append((KIND_DIGITAL, core, -1, pixels, dur, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                          0, 0.0, 0.0, 0.0))

    def analog(self, core: int, tile: int, pixels: int, kind: int) -> None:
        if pixels <= 0:
            return
        mc, t = self.mc, tile
        iface = pixels * float(mc.iface_s[t]) + float(mc.jobs(pixels, t)) * mc.job_s
        stall = pixels * float(mc.stall_s[t])
        host = pixels * float(mc.host_s[t])
        if self.remote[t]:  # partial sums to the unit's first core, one hand-over per task
            host += pixels * float(self.xfer_px[t]) + self.sync_s
        core_s = iface + stall + host
        bus_b = pixels * float(mc.bus_bytes[t])
        self.rows.append((kind, core, t, float(pixels), core_s, pixels * float(mc.tile_s[t]),
                          bus_b / self.bus_bps, pixels * float(self.w.alt_px_s[t]), iface, stall,
                          host, pixels, 0.0, bus_b, pixels * float(mc.energy_j[t])))

    def build(self) -> TaskSet:
        cols = list(zip(*self.rows)) if self.rows else [()] * 15
        ints = (0, 1, 2, 11)
        arrays = [np.array(c, dtype=np.int64 if i in ints else np.float64)
                  for i, c in enumerate(cols)]
        return TaskSet(*arrays)


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


def _chunks(total: int, n: int) -> np.ndarray:
    """Integer split of ``total`` into at most ``n`` balanced positive parts."""
    return split_sizes(total, -(-total // n)) if total > 0 else np.zeros(0, np.int64)


def _even(b: _Builder, tight: bool, chunks: int) -> None:
    """Output positions split evenly; analog tasks go first in each deque (tight: they are
    bound to their owner, so the digital chunks stay at the back where thieves take them)."""
    p, m = b.p, b.w.pixels
    if b.n_tiles and tight:
        # a tile's stream is cut finer (chunks per core x cores) when stealing, so a thief
        # can take a small piece of an over-full owner's stream to compute digitally
        pieces = chunks * p if chunks > 1 else 1
        for t in range(b.n_tiles):
            for part in _chunks(m, pieces):
                b.analog(int(b.owners[t]), t, int(part), KIND_TIGHT)
    elif b.n_tiles and m >= p:
        for c, rng in enumerate(split_sizes(m, -(-m // p))):
            for t in range(b.n_tiles):
                for part in _chunks(int(rng), chunks):
                    b.analog(c, t, int(part), KIND_LOOSE)
    elif b.n_tiles:
        for t in range(b.n_tiles):
            b.analog(t % p, t, m, KIND_LOOSE)
    for c in range(p):
        for _ in range(chunks):
            b.digital(c, m / p / chunks)


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
    say) is not used at all."""
    p, m, n_t = b.p, b.w.pixels, b.n_tiles
    owners = b.owners[:n_t]
    a_px = b.a_px
    alt_px = np.asarray(b.w.alt_px_s[:n_t], dtype=np.float64)
    ratio = alt_px / a_px
    useless = ratio <= 1.0  # the tile is no faster than any core computing its block
    # per core, its tiles by increasing ratio, padded into (cores, width) arrays
    width = int(np.bincount(owners, minlength=p).max())
    cap = np.zeros((p, width))
    conv_ratio = np.zeros((p, width))
    slot = np.full((p, width), -1, np.int64)
    for c in range(p):
        mine = np.flatnonzero((owners == c) & ~useless)
        mine = mine[np.argsort(ratio[mine], kind="stable")]
        cap[c, :len(mine)] = m * a_px[mine]
        conv_ratio[c, :len(mine)] = ratio[mine]
        slot[c, :len(mine)] = mine
    load = cap.sum(axis=1)
    cum = np.cumsum(cap, axis=1)
    before = cum - cap
    digital_total = m * b.eff_px

    hi = _makespan_level(load, cap, before, conv_ratio,
                         digital_total + m * float(alt_px[useless].sum()))
    conv = np.clip(np.maximum(0.0, load - hi)[:, None] - before, 0.0, cap)
    keep = np.full(n_t, m, dtype=np.int64)
    valid = slot >= 0
    drop = np.ceil(conv[valid] / (m * a_px[slot[valid]]) * m - 1e-9).astype(np.int64)
    keep[slot[valid]] = m - np.minimum(drop, m)
    keep[useless] = 0
    for t in range(n_t):
        b.analog(int(owners[t]), t, int(keep[t]), KIND_TIGHT)
    # deal converted tile work, then the digital remainder, into the cores' room under L
    analog_load = np.bincount(owners, weights=keep * a_px, minlength=p)
    room = np.maximum(0.0, hi - analog_load)
    work = [(t, (m - keep[t]) * float(alt_px[t])) for t in range(n_t) if keep[t] < m]
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


def _balanced_loose(b: _Builder) -> None:
    """Longest-processing-time first over the analog chunks (each unit's positions cut into
    one chunk per core; a chunk drives all the unit's row-block tiles, so its partial sums
    stay on one core), then the digital remainder water-filled over the cores."""
    p, m = b.p, b.w.pixels
    load = np.zeros(p)
    items = []  # (duration, unit's tiles, pixels)
    if b.n_tiles:
        parts = split_sizes(m, -(-m // p)) if m >= p else np.array([m])
        unit_of = b.w.mapping.tile_unit[:b.n_tiles]
        for u in range(int(unit_of[-1]) + 1):
            tiles = np.flatnonzero(unit_of == u)
            for part in parts:
                items.append((float(b.mc.chunk_core_s(int(part))[tiles].sum()), tiles,
                              int(part)))
    order = sorted(range(len(items)), key=lambda i: (-items[i][0], i))
    for i in order:
        c = int(np.argmin(load))
        _, tiles, part = items[i]
        for t in tiles:
            b.analog(c, int(t), part, KIND_LOOSE)
        load[c] += items[i][0]
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
    else:
        _even(b, tight, 1)


@dataclass(frozen=True)
class Balancer:
    """A balancer.

    ``cut(builder, tight, chunks)`` cuts one layer into tasks (``chunks``: the options'
    tasks per core). ``also_scores``: other registered balancers whose split of each layer is
    scored too, the fastest kept (this one's own on ties). ``steals``: idle cores steal
    tasks in the engine; ``seeded``: its schedules depend on the seed (the victim choice).
    ``line`` and ``hatch`` draw it in figures.
    """

    name: str
    cut: Callable[[_Builder, bool, int], None]
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
    Balancer("static-even", lambda b, tight, chunks: _even(b, tight, 1),
             line=(0, (4, 1.5)), hatch="////"),
    Balancer("work-stealing", _even, steals=True, seeded=True, line=(0, (3, 1, 1, 1)),
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
    b = _Builder(work, units, owners, sys.cores, sys)
    BALANCERS.entry(balancer).cut(b, sys.coupling == "tight", tasks_per_core)
    return b.build()
