"""Weight replication: several copies of a layer's mapping units on tiles.

One integer per layer stays an allocation's currency. ``units[layer] = u`` with
``u <= n`` (``n``: the layer's mapping units) maps the first ``u`` units once, as without
replication; ``u > n`` maps every unit once and then takes *unit-copies* in order: a second
copy of unit 0, of unit 1, ..., then a third copy, and so on, up to ``n * max_copies``. Unit
``j`` has ``c_j = u // n + (j < u % n)`` copies. So:

* **coverage** counts unique weights only (``min(u, n)`` units);
* **tiles used** count every copy: ``(u // n) * tiles_full + tiles_for(u % n)``;
* **work split**: the copies of a unit split the layer's output positions (each copy computes
  its outputs for a share of the positions; all row-block tiles of one copy process the same
  positions and add their partial sums on that copy's first tile);
* **placement** (tight coupling): the layer's tiles take the cores the round-robin pointer
  hands out (:mod:`aimclib.placement`, so the per-core tile counts do not change), grouped by
  core (:func:`copy_owners`), so that copies of one tile, ``tiles_full`` apart in the layer's
  tile order, sit on different cores whenever no core holds more than ``tiles_full`` of the
  layer's tiles (true when the copies do not exceed the tile-owning cores and the pointer
  still finds them free);
* **cap**: a layer has at most :func:`copy_cap` copies: the cores that can drive them (tight:
  the tile-owning cores, one driver per copy; loose: the cores), and never more than its
  output positions (a linear layer, one position, has no copies). More copies could not run
  at once, and would only add tiles and static power.

A copy costs its tiles (the tile budget) and their static power; programming the copies'
weights is done once before inference and is not modelled (nor is it for the first copy).

Strategies that read the cost table (``optimal``, ``greedy-benefit``) choose copies
themselves when replication is on; any strategy takes a :class:`ReplicateRule`, applied after
its own allocation. ``docs/model.md`` ("Replication") has the model and a worked example.
"""

from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass

import numpy as np

from .balancing import BALANCERS, KIND_LOOSE, KIND_TIGHT, EvenCut, TaskSet, _Builder
from .interface import MvmCost
from .mapping import LayerMapping
from .system import SystemConfig
from .validation import REPLICATE_OFF, REPLICATE_ON, check_replicate
from .workload import LayerWork, Workload

DEFAULT_MIN_REUSE = 1
"""Reuse (output positions per MVM layer) a layer needs for ``replicate="on"`` under a
strategy without a cost table: every layer (the copy cap keeps layers with one position
unreplicated). Assumed: without a cost model, every reused weight is worth a copy."""


@dataclass(frozen=True)
class ReplicateRule:
    """"After the base allocation, spend the leftover tiles on copies of the layers whose
    reuse (output positions ``M``: MVMs per tile) is at least ``min_reuse``, highest reuse
    first (lowest index on ties), each up to :func:`copy_cap` copies" (text form
    ``reuse>=X``). Only fully mapped layers take copies; a layer's unit-copies are added in
    order while the next one fits the leftover tiles."""

    min_reuse: int = DEFAULT_MIN_REUSE

    def __post_init__(self):
        check_replicate(self, where="ReplicateRule")


def parse_replicate(value, where: str = "") -> str:
    """The canonical text of a replicate setting: ``"off"``, ``"on"`` or ``"reuse>=X"``.

    Accepts False/True, those texts (also ``"false"``/``"true"``, any case) and a
    :class:`ReplicateRule`."""
    return check_replicate(value, where=where)


def rule_of(text: str) -> ReplicateRule | None:
    """The :class:`ReplicateRule` of a canonical ``reuse>=X`` text (None for on/off)."""
    if text in (REPLICATE_OFF, REPLICATE_ON):
        return None
    return ReplicateRule(int(text.split(">=")[1]))


# ------------------------------------------------------------------------ copy arithmetic
def copies_per_unit(units: int, n: int) -> np.ndarray:
    """Copies of each of the ``n`` units when ``units`` unit-copies are mapped (0 or 1 each
    for ``units <= n``)."""
    j = np.arange(n)
    if units <= n:
        return (j < units).astype(np.int64)
    return (units // n + (j < units % n)).astype(np.int64)


def copies(units: int, n: int) -> int:
    """Most copies of any unit: ``ceil(units / n)`` (0 when nothing is mapped)."""
    return -(-units // n) if n else 0


def tiles_used(mapping: LayerMapping, units: int) -> int:
    """Tiles ``units`` unit-copies use: every copy counts."""
    n = mapping.n_units
    if units <= n:
        return mapping.tiles_for(units)
    return (units // n) * mapping.tiles_full + mapping.tiles_for(units % n)


def unique_units(mapping: LayerMapping, units: int) -> int:
    """Distinct units on tiles (coverage counts each once)."""
    return min(units, mapping.n_units)


def drivers(hw: SystemConfig) -> int:
    """Cores that can drive a copy: tight, the tile-owning cores; loose, every core."""
    if hw.coupling == "loose":
        return hw.cores
    return sum(1 for k in hw.tiles_per_core() if k > 0)


def copy_cap(work: LayerWork, hw: SystemConfig) -> int:
    """Most copies of ``work``'s units on ``hw``: the driving cores, at most the layer's
    output positions, at least 1."""
    return max(1, min(drivers(hw), work.pixels))


def max_units(work: LayerWork, hw: SystemConfig) -> int:
    """Most unit-copies of an MVM layer: ``n_units * copy_cap``."""
    return work.n_units * copy_cap(work, hw)


def unit_positions(m: int, units: int, n: int) -> np.ndarray:
    """Output positions of each mapped unit-copy (unit-copy ``k * n + j`` is copy ``k`` of
    unit ``j``): copy ``k`` of a unit with ``c`` copies takes ``m // c + (k < m % c)``
    (balanced parts, the first ones one larger), so a unit's copies cover the ``m``
    positions once."""
    c = copies_per_unit(units, n)
    idx = np.arange(units)
    k, j = idx // n, idx % n
    return (m // c[j] + (k < m % c[j])).astype(np.int64)


_UNITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def units_per_layer(wl: Workload) -> np.ndarray:
    """Mapping units of every layer of ``wl`` (0 for non-MVM layers; cached, read-only)."""
    n = _UNITS.get(wl)
    if n is None:
        n = _UNITS[wl] = np.array([w.n_units for w in wl.layers], np.int64)
        n.flags.writeable = False
    return n


def replicated(wl: Workload, units) -> np.ndarray:
    """Which layers of ``wl`` have copies under ``units`` (bool per layer)."""
    return np.asarray(units, np.int64) > units_per_layer(wl)


def tiles_per_layer(wl: Workload, units) -> list[int]:
    """Tiles each layer uses under ``units`` (copies counted)."""
    return [tiles_used(w.mapping, int(u)) if w.mapping is not None else 0
            for w, u in zip(wl.layers, units)]


def copy_owners(owners: np.ndarray, full: int) -> np.ndarray:
    """Owners of a replicated layer's tiles: the cores handed out to it (``owners``) grouped
    by core, cores in the order they first appear, so copies ``full`` tiles apart land on
    different cores when no core holds more than ``full`` of them. (Grouping in order of
    appearance rather than by core number makes a rotated hand-out a relabelling of the
    cores, so the cost table's spread owners cost what the placed ones do.) Loose owners (-1)
    stay as they are."""
    if len(owners) == 0 or owners[0] < 0:
        return owners
    cores, first = np.unique(owners, return_index=True)
    rank = np.empty(int(cores.max()) + 1, np.int64)
    rank[cores] = np.argsort(np.argsort(first))
    return owners[np.argsort(rank[owners], kind="stable")]


def place_copies(wl: Workload, units, owners: list[np.ndarray]) -> list[np.ndarray]:
    """``owners`` (from :func:`aimclib.placement.place_tiles`) with every replicated layer's
    tiles re-dealt by :func:`copy_owners`."""
    out = list(owners)
    for i in np.flatnonzero(replicated(wl, units)).tolist():
        out[i] = copy_owners(owners[i], wl.layers[i].mapping.tiles_full)
    return out


# ---------------------------------------------------------------------------- allocation
def expand_unit_tiles(unit_tiles: np.ndarray, cap: int) -> np.ndarray:
    """Tiles of each unit-copy in order (the units' tiles repeated ``cap`` times)."""
    return np.tile(np.asarray(unit_tiles, np.int64), cap)


def apply_rule(rule: ReplicateRule, units: np.ndarray, mvm: list[LayerWork],
               hw: SystemConfig, budget: int) -> np.ndarray:
    """``units`` (per MVM layer, no copies) with :class:`ReplicateRule` ``rule``'s copies
    added from the tiles ``budget`` leaves."""
    units = np.array(units, np.int64)
    left = budget - sum(tiles_used(w.mapping, int(u)) for w, u in zip(mvm, units))
    order = sorted(range(len(mvm)), key=lambda i: (-mvm[i].pixels, i))
    for i in order:
        w = mvm[i]
        if w.pixels < rule.min_reuse or units[i] != w.n_units:
            continue
        top = max_units(w, hw)
        ut = w.mapping.unit_tiles
        while units[i] < top and ut[units[i] % w.n_units] <= left:
            left -= int(ut[units[i] % w.n_units])
            units[i] += 1
    return units


# ------------------------------------------------------------------------------- tasks
def expanded_work(work: LayerWork, units: int) -> LayerWork:
    """``work`` with its mapping, tile costs and digital tables repeated for every copy
    round, so that unit-copy ``k * n + j`` is a unit of its own (tiles in unit-copy order,
    its first row block its partial sums' lead tile)."""
    mp, mc = work.mapping, work.mvm
    n, rounds = mp.n_units, copies(units, mp.n_units)

    def rep(a):
        return np.tile(np.asarray(a), rounds)

    xmp = dataclasses.replace(
        mp, unit_tiles=rep(mp.unit_tiles), unit_weights=rep(mp.unit_weights),
        unit_outputs=rep(mp.unit_outputs),
        tile_unit=np.concatenate([mp.tile_unit + k * n for k in range(rounds)]),
        tile_rows=rep(mp.tile_rows), tile_cols=rep(mp.tile_cols),
        tile_row_block=rep(mp.tile_row_block))
    vpj = mc.vectors_per_job
    xmc = MvmCost(**{f: rep(getattr(mc, f)) for f in
                     ("iface_s", "stall_s", "host_s", "tile_s", "bus_bytes", "energy_j")},
                  job_s=mc.job_s, vectors_per_job=rep(vpj) if np.ndim(vpj) else vpj)
    # every unit is mapped: the digital part is the fully mapped layer's (no outputs left)
    base = np.minimum(np.arange(rounds * n + 1), n)
    return dataclasses.replace(work, mapping=xmp, digital_px_s=work.digital_px_s[base],
                               digital_dram_bytes=work.digital_dram_bytes[base], mvm=xmc,
                               alt_px_s=rep(work.alt_px_s))


def _even_copies(b: _Builder, tight: bool, chunks: int, units: int, n: int) -> None:
    """The even split with copies. Tight: each tile's stream (its copy's positions) on its
    owner, cut into ``chunks x p`` parts when stealing. Loose: each core takes ``M / p``
    positions (``chunks`` parts) and drives, for every unit, copy ``core mod c_j`` of it;
    with ``M < p`` each tile's positions whole on core ``tile mod p``."""
    p, m = b.p, b.w.pixels
    tile_px = b.tile_px()
    cores, tiles, pixels = [], [], []  # the tasks in deque order, priced at once
    if tight:
        for t in range(b.n_tiles):
            parts = _parts(int(tile_px[t]), chunks * p if chunks > 1 else 1)
            cores += [int(b.owners[t])] * len(parts)
            tiles += [t] * len(parts)
            pixels += parts
    elif m < p:
        cores, tiles, pixels = [t % p for t in range(b.n_tiles)], list(range(b.n_tiles)), \
            tile_px.tolist()
    else:
        c = copies_per_unit(units, n)
        # the tiles of unit-copy k are first[k]:first[k + 1] (tiles in unit-copy order)
        first = np.searchsorted(b.w.mapping.tile_unit[:b.n_tiles], np.arange(units + 1))
        for core, share in enumerate(_parts(m, p)):
            parts = _parts(share, chunks)
            for j in range(n):
                uc = (core % c[j]) * n + j  # the unit-copy this core drives
                for t in range(int(first[uc]), int(first[uc + 1])):
                    cores += [core] * len(parts)
                    tiles += [t] * len(parts)
                    pixels += parts
    if cores:
        b.analog_many(cores, tiles, pixels, KIND_TIGHT if tight else KIND_LOOSE)


def _parts(total: int, n: int) -> list[int]:
    """``total`` in at most ``n`` balanced positive parts (the compiled cut's ``_parts_of``)."""
    if total <= 0:
        return []
    size = -(-total // n)
    count = -(-total // size)
    base, extra = divmod(total, count)
    return [base + (1 if k < extra else 0) for k in range(count)]


def copy_tasks(work: LayerWork, units: int, owners: np.ndarray, split: str,
               sys: SystemConfig, tasks_per_core: int) -> TaskSet:
    """The tasks of a layer with copies (``units > n_units``) cut by ``split``: even cuts by
    :func:`_even_copies`, other balancers' cuts on a builder whose units are the unit-copies
    with their share of the positions."""
    n = work.n_units
    xw = expanded_work(work, units)
    b = _Builder(xw, units, owners, sys.cores, sys)
    b.unit_px = unit_positions(work.pixels, units, n)
    cut, tight = BALANCERS.entry(split).cut, sys.coupling == "tight"
    if isinstance(cut, EvenCut):
        _even_copies(b, tight, cut.chunks(tasks_per_core), units, n)
    else:
        cut(b, tight, tasks_per_core)
    return b.build()
