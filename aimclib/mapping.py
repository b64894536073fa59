"""Mapping a conv/linear layer's weights onto AIMC crossbar tiles.

Rules (``docs/model.md`` explains them with examples):

* **Blocks.** A layer's weight matrix per group is ``K x N`` (fan-in x outputs). It is split
  into ``ceil(K / rows)`` row blocks and ``ceil(N / cols)`` column blocks of balanced sizes (the
  first ``K mod n`` blocks one larger, as IBM aihwkit splits its tiles), one block per tile.
  Row blocks produce partial sums that the cores add digitally.
* **Packing.** When a group fits one tile (``K <= rows`` and ``N <= cols``) and there is more
  than one group (grouped and depthwise convolutions), ``gpt = min(rows // K, cols // N)``
  groups share one tile block-diagonally; the ``G`` groups are split into ``ceil(G / gpt)``
  balanced tiles. Utilisation is ``used weights / (rows * cols)``; a depthwise 3x3 layer puts
  28 groups of 9 weights on a 256x256 tile: 252 of 65,536 cells (0.38 %).
* **Units.** What can be mapped or left digital independently is a *unit*: one column block
  with all its row blocks (it produces finished outputs), or one packed tile of groups. A layer
  is partly mapped by choosing a number of units; the rest of its outputs are computed digitally.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .errors import ParameterError
from .layers import LayerInfo
from .validation import check_int


def _positive(value, what: str) -> int:
    return check_int(value, what, low=1)


def split_sizes(size: int, tile: int) -> np.ndarray:
    """Balanced split of ``size`` into ``ceil(size / tile)`` chunks of at most ``tile``.

    The first ``size % n`` chunks are one larger (IBM aihwkit's tile splitting):
    ``split_sizes(600, 256) -> [200, 200, 200]``, ``split_sizes(10, 4) -> [4, 3, 3]``.
    Returns an int64 array that sums to ``size``.
    """
    size, tile = _positive(size, "size"), _positive(tile, "tile")
    n = -(-size // tile)
    base, extra = divmod(size, n)
    sizes = np.full(n, base, dtype=np.int64)
    sizes[:extra] += 1
    return sizes


def groups_per_tile(k: int, n: int, rows: int, cols: int) -> int:
    """Groups of a ``k x n`` weight matrix that fit one ``rows x cols`` tile block-diagonally:
    ``min(rows // k, cols // n)``, 0 when one group does not fit a tile. A depthwise 3x3 conv
    (k=9, n=1) on a 256x256 tile packs 28 groups."""
    k, n = _positive(k, "k (fan-in per group)"), _positive(n, "n (outputs per group)")
    rows, cols = _positive(rows, "rows"), _positive(cols, "cols")
    return min(rows // k, cols // n)


@dataclass(frozen=True)
class LayerMapping:
    """Every tile a layer would need, grouped into mappable units (arrays in unit order).

    Attributes:
        name: layer name.
        m, k, n, g: the layer's GEMM view per group (output positions, fan-in, outputs, groups).
        rows, cols: tile size the mapping was made for.
        packed: True when several groups share each tile.
        unit_tiles: tiles each unit needs.
        unit_weights: weights each unit holds.
        unit_outputs: output channels each unit produces.
        tile_unit: for every tile (unit order), the unit it belongs to.
        tile_rows, tile_cols: rows and columns each tile uses in one MVM.
        tile_row_block: row-block index of each tile (0 for the first; later ones add partials).
    """

    name: str
    m: int
    k: int
    n: int
    g: int
    rows: int
    cols: int
    packed: bool
    unit_tiles: np.ndarray
    unit_weights: np.ndarray
    unit_outputs: np.ndarray
    tile_unit: np.ndarray
    tile_rows: np.ndarray
    tile_cols: np.ndarray
    tile_row_block: np.ndarray

    @property
    def n_units(self) -> int:
        return len(self.unit_tiles)

    @property
    def tiles_full(self) -> int:
        """Tiles needed to map the whole layer."""
        return int(self.unit_tiles.sum())

    @property
    def weights(self) -> int:
        return self.g * self.k * self.n

    @cached_property
    def cum_tiles(self) -> list[int]:
        """Tiles needed by the first ``u`` units, for ``u = 0 .. n_units``."""
        return [0] + np.cumsum(self.unit_tiles).tolist()

    def tiles_for(self, units: int) -> int:
        """Tiles needed by the first ``units`` units."""
        return self.cum_tiles[units]

    def partial(self, units: int) -> PartialMapping:
        """The layer with its first ``units`` units on tiles and the rest digital."""
        if not 0 <= units <= self.n_units:
            raise ParameterError(f"layer {self.name!r}: units must be in [0, {self.n_units}], "
                                 f"got {units}")
        return PartialMapping(self, units)

    def units_within(self, tiles: int) -> int:
        """Most units (in order) that fit ``tiles`` tiles."""
        return bisect.bisect_right(self.cum_tiles, tiles) - 1


@dataclass(frozen=True)
class PartialMapping:
    """A layer with its first ``units`` mapping units on tiles and the rest computed digitally."""

    mapping: LayerMapping
    units: int

    @property
    def tile_mask(self) -> np.ndarray:
        """Boolean mask over the layer's tiles: which are mapped."""
        return self.mapping.tile_unit < self.units

    @property
    def tiles_used(self) -> int:
        return self.mapping.tiles_for(self.units)

    @property
    def weights_covered(self) -> int:
        return int(self.mapping.unit_weights[: self.units].sum())

    @property
    def coverage(self) -> float:
        """Share of the layer's weights on tiles (0..1)."""
        return self.weights_covered / self.mapping.weights

    @property
    def utilisation(self) -> float:
        """Share of the used tiles' cells holding weights (0..1; 0 when no tile is used)."""
        used = self.tiles_used
        return self.weights_covered / (used * self.mapping.rows * self.mapping.cols) if used else 0.0

    @property
    def digital_outputs(self) -> int:
        """Output channels left to the digital GEMM."""
        return int(self.mapping.unit_outputs[self.units:].sum())

    def digital_pieces(self) -> list[tuple[int, int]]:
        """The digital remainder as GEMM pieces ``(n, g)``, each ``g`` groups of ``m x k x n``.

        Packed layers leave whole groups: one piece ``(n, groups left)``. Otherwise each group
        with unmapped column blocks leaves one piece ``(its unmapped outputs, 1)``.
        """
        mp = self.mapping
        if self.digital_outputs == 0:
            return []
        if mp.packed:
            return [(mp.n, self.digital_outputs // mp.n)]
        per_group = len(mp.unit_tiles) // mp.g
        left = np.zeros(mp.g, np.int64)
        np.add.at(left, np.arange(self.units, mp.n_units) // per_group,
                  mp.unit_outputs[self.units:])
        return [(int(n), 1) for n in left if n > 0]


def map_layer(info: LayerInfo, rows: int, cols: int) -> LayerMapping:
    """All tiles a conv/linear layer needs on ``rows x cols`` tiles, as mappable units."""
    if not info.layer.is_mvm:
        raise ParameterError(f"layer {info.name!r} ({info.kind}) has no weights to map; "
                             f"only conv and linear layers map onto tiles")
    m, k, n, g = info.m, info.k, info.n, info.g
    gpt = groups_per_tile(k, n, rows, cols) if g > 1 else 0
    if gpt:
        groups = split_sizes(g, gpt)  # groups on each packed tile
        unit_tiles = np.ones(len(groups), dtype=np.int64)
        unit_weights = groups * k * n
        unit_outputs = groups * n
        tile_unit = np.arange(len(groups), dtype=np.int64)
        tile_rows, tile_cols = groups * k, groups * n
        tile_rb = np.zeros(len(groups), dtype=np.int64)
    else:
        rsz, csz = split_sizes(k, rows), split_sizes(n, cols)
        n_r, n_c = len(rsz), len(csz)
        units = g * n_c
        unit_tiles = np.full(units, n_r, dtype=np.int64)
        unit_outputs = np.tile(csz, g)
        unit_weights = unit_outputs * k
        tile_unit = np.repeat(np.arange(units, dtype=np.int64), n_r)
        tile_rows = np.tile(rsz, units)
        tile_cols = np.repeat(unit_outputs, n_r)
        tile_rb = np.tile(np.arange(n_r, dtype=np.int64), units)
    return LayerMapping(info.name, m, k, n, g, rows, cols, bool(gpt), unit_tiles,
                        unit_weights, unit_outputs, tile_unit, tile_rows, tile_cols, tile_rb)
