"""Placement: which core owns each tile a layer maps (tight coupling).

Layers take tiles in execution order; a pointer walks round-robin over the cores that still
own a free tile, so each layer's tiles spread over as many cores as possible. Loose tiles
belong to no core (owner -1).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .errors import ParameterError
from .system import SystemConfig


def spread(hw: SystemConfig, n_tiles: int) -> np.ndarray:
    """Ideal owners of ``n_tiles`` tiles of one layer: round-robin over tile-owning cores."""
    if hw.coupling == "loose":
        return np.full(n_tiles, -1, np.int64)
    owning = [c for c, k in enumerate(hw.tiles_per_core()) if k > 0]
    return np.array([owning[i % len(owning)] for i in range(n_tiles)], np.int64)


@lru_cache(maxsize=64)
def _no_owner(n: int) -> np.ndarray:
    """``n`` tiles owned by no core (loose coupling): read-only, shared between results."""
    out = np.full(n, -1, np.int64)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=256)
def _owner_sequence(caps: tuple[int, ...], n: int) -> np.ndarray:
    """The first ``n`` cores in the order a round-robin pointer hands out their tiles,
    skipping full cores: round ``r`` (0, 1, ...) gives, in core order, every core that owns
    more than ``r`` tiles. Rounds with the same cores are generated together, so the work
    grows with ``n`` and the cores, not with the system's tile count. Read-only (shared)."""
    caps_arr = np.asarray(caps, np.int64)
    parts, got, done_rounds = [], 0, 0
    for level in np.unique(caps_arr[caps_arr > 0]).tolist():
        if got >= n:
            break
        active = np.flatnonzero(caps_arr >= level)  # the cores of rounds done_rounds..level-1
        rounds = min(level - done_rounds, -(-(n - got) // len(active)))
        parts.append(np.tile(active, rounds))
        got += rounds * len(active)
        done_rounds = level
    seq = np.concatenate(parts)[:n] if parts else np.zeros(0, np.int64)
    seq.flags.writeable = False
    return seq


def place_tiles(hw: SystemConfig, tiles_per_layer: list[int]) -> list[np.ndarray]:
    """Owning core of every tile each layer maps (tight); -1 everywhere for loose coupling.

    Layers take tiles in execution order; a pointer walks round-robin over the cores that still
    own a free tile (their number per core follows ``system.tile_placement``), so each layer's
    tiles spread over as many cores as possible. Only the mapped tiles are placed.
    """
    if hw.coupling == "loose":
        none = _no_owner(max(tiles_per_layer, default=0))
        return [none[:n] for n in tiles_per_layer]
    used = sum(tiles_per_layer)
    if used > hw.tiles:
        raise ParameterError(f"the allocation uses {used} tiles but the system has {hw.tiles}")
    seq = _owner_sequence(tuple(hw.tiles_per_core()), used)
    out, pos = [seq[:0]] * len(tiles_per_layer), 0  # most layers map nothing
    for i, n in enumerate(tiles_per_layer):
        if n:
            out[i] = seq[pos:pos + n]
            pos += n
    return out
