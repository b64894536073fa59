"""Functional (bit-accurate) model of an AIMC tile and of conv/linear layers run on tiles.

One tile
--------
A tile is a crossbar of ``rows x cols`` int8 weights (default 256 x 256, ALPINE's size). One
MVM takes an int8 input vector ``x`` (the DACs) of length ``k <= rows`` and a weight block
``W`` of shape ``(k, n)``, ``n <= cols``, and returns one int8 per used column::

    dot[j] = sum_i x[i] * W[i, j]                         exact integer (int32 here)
    y[j]   = clip(rint(scale[j] * dot[j] + noise[j]), -128, 127)

* ``scale[j]`` is the column's ADC gain (a float, default 1.0). It multiplies the exact integer
  dot product (in float64) *before* the noise and the rounding.
* ``noise[j] = noise_std * z[j]`` with ``z`` standard normal: read noise whose standard
  deviation ``noise_std`` is in units of the output LSB (after the gain).
* ``rint`` rounds to the nearest integer, ties to even (``np.rint``; Numba calls the same C
  ``rint``). ``scale * dot`` and ``+ noise`` are two separately rounded float64 operations (no
  fused multiply-add) in the Numba kernels and in numpy, so both give identical bits.
* The clip is the ADC saturation to int8.

With ``scale = 1`` and no noise this is exactly ALPINE's ``AIMCCluster::aimcProcess``
(github.com/gem5-X/ALPINE, ``gem5-X-ALPINE/src/dev/arm/aimc_cluster.cc``): an exact integer
dot product saturated to [-128, 127].

Layers on tiles ("tile blocks")
-------------------------------
A conv or linear layer with ``G`` groups has, per group, a ``K x N`` weight matrix with
``K = cin/G * kh * kw`` (fan-in in ``(c, kh, kw)`` order, PyTorch's
``weight.reshape(cout, -1).T`` and the patch order of ALPINE's ``aimcConv2d``) and
``N = cout/G``. :func:`block_grid` splits ``K`` into
``ceil(K / rows)`` and ``N`` into ``ceil(N / cols)`` balanced blocks (:func:`split_sizes`, the
rule of IBM aihwkit's tile splitting). Every (row block, column block) pair is one tile block;
it issues one MVM per output pixel. When ``K <= rows`` and ``N <= cols``, several groups share
one tile block-diagonally (:func:`groups_per_tile`, :func:`pack_groups`); each group's outputs
then depend only on its own inputs, so the values are the same as one tile per group.

Digital semantics of the partial sums (as in ALPINE's layer code, which dequeues a tile's int8
outputs and adds the rest of the dot product on the core). For output channel ``o`` and output
pixel ``p``::

    acc[o, p] = sum over row blocks r of  y_r[o, p]          (int32, on the core)

where ``y_r`` is the saturated int8 tile output of row block ``r``, so *each row block
saturates on its own* and the core never sees the wide partial sums. :func:`conv2d_tiles` and
:func:`linear_tiles` return ``acc``; :func:`dequantize` then gives the real-valued output
``acc * input_scale * weight_scale / scale[o] + bias[o]`` that the core computes next. The
column split does not change any value (each ADC column is independent); it only sets how many
MVMs are issued.

Noise and determinism
---------------------
Noise is drawn in numpy from ``np.random.default_rng(seed)`` *before* the parallel kernel runs
and passed in as an array, one value per (group, row block, output pixel, column), so results
do not depend on the number of threads or their scheduling. The exact layout of the draw is
documented in each public function (the test references reproduce it). ``noise_std > 0``
requires a ``seed`` (an int or a ``np.random.Generator``).

Implementation: small serial ``@numba.njit(cache=True)`` workers, ``parallel=True`` drivers
with ``prange`` over independent outputs, and plain-Python public functions that validate their
input and prepare contiguous arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .errors import DTypeError, LayerSpecError, ParameterError, ShapeError
from .mapping import groups_per_tile, split_sizes
from .validation import MAX_TILE_ROWS, check_float, check_int

DEFAULT_ROWS = 256
"""Crossbar rows (inputs) of a tile: 256, ALPINE / IBM 14 nm PCM core (see system facts)."""
DEFAULT_COLS = 256
"""Crossbar columns (outputs) of a tile: 256, ALPINE / IBM 14 nm PCM core."""
ADC_MIN = -128
"""Lowest int8 value an ADC column can report (saturation)."""
ADC_MAX = 127
"""Highest int8 value an ADC column can report (saturation)."""
MAX_ADC_BITS = 24
"""Widest ADC accepted: a 24-bit ADC never saturates on a 256-row tile at gain 1
(|dot| <= 128 * 128 * 256 = 2**22), so it serves as the ideal ADC of exact tiles."""
MAX_ROWS = MAX_TILE_ROWS
"""Largest tile height accepted (131,071): |dot| <= 128 * 128 * rows must fit the int32
accumulator, i.e. stay <= 2**31 - 1 (at 2**17 rows of -128 x -128 it would be 2**31)."""


# ------------------------------------------------------------------------------ Numba kernels
@numba.njit(cache=True)
def _mvm_acc(x, w, k0, k1, n0, n1, scales, noise, dots, out, lo, hi):
    """One tile MVM, accumulated: ``out[j] += ADC(scales[j] * x[k0:k1] . w[k0:k1, j] + noise[j])``.

    ``x`` int8 (K,), ``w`` int8 (K, N), the block is rows ``k0:k1`` and columns ``n0:n1``;
    ``scales`` float64 (N,); ``noise`` float64 (N,) in output LSB, or empty for none;
    ``dots`` int32 scratch of length >= n1 - n0; ``out`` int32 (N,); ``lo``, ``hi`` the
    ADC's saturation levels (floats).
    """
    nb = n1 - n0
    # The inner loop runs along a weight row, over the block's columns, so LLVM vectorizes it
    # without horizontal sums (about 1.6x faster than one dot product per column). Every loop
    # indexes slices from 0: a variable start would keep Numba's negative-index check inside.
    for jj in range(nb):
        dots[jj] = 0
    xs = x[k0:k1]
    for i in range(xs.size):
        xi = np.int32(xs[i])
        wrow = w[k0 + i, n0:n1]
        for jj in range(nb):
            # |dot| <= 128 * 128 * MAX_ROWS < 2**31: the int32 sum is exact.
            dots[jj] += xi * np.int32(wrow[jj])
    with_noise = noise.size > 0
    for jj in range(nb):
        j = n0 + jj
        v = scales[j] * dots[jj]
        if with_noise:
            v = v + noise[j]
        # Branch-free saturation: whether a column saturates is data-dependent and would
        # mispredict often.
        out[j] += np.int32(min(max(np.rint(v), lo), hi))


@numba.njit(cache=True, parallel=True)
def _mvm_batch_kernel(xs, w, scales, noise):
    """Tile MVMs of many input vectors with one weight block, in parallel over the vectors.

    ``xs`` int8 (B, k), ``w`` int8 (k, n), ``scales`` float64 (n,), ``noise`` float64 (B, n)
    or (0, 0) for none. Returns the int8 outputs (B, n).
    """
    b_count, k = xs.shape
    n = w.shape[1]
    out = np.zeros((b_count, n), np.int32)
    no_noise = np.empty(0, np.float64)
    for b in numba.prange(b_count):
        dots = np.empty(n, np.int32)
        row_noise = noise[b] if noise.shape[0] > 0 else no_noise
        _mvm_acc(xs[b], w, 0, k, 0, n, scales, row_noise, dots, out[b], float(ADC_MIN),
                 float(ADC_MAX))
    return out.astype(np.int8)


@numba.njit(cache=True)
def _gather_patch(xhwc, c0, cg, kh, kw, r0, c_0, dh, dw, patch):
    """im2col of one output pixel: ``patch`` <- the (c, kh, kw)-ordered window of ``xhwc``.

    ``xhwc`` is the zero-padded input in channels-last layout (Hp, Wp, C), so that the inner
    loop reads contiguous channels (about 10x faster than gathering from (C, H, W)); the
    channels ``c0 .. c0+cg-1`` are written to ``patch[(c - c0) * kh * kw + i * kw + j]``. The
    window origin is (``r0``, ``c_0``), the dilation (``dh``, ``dw``).
    """
    khw = kh * kw
    for i in range(kh):
        for j in range(kw):
            pixel = xhwc[r0 + i * dh, c_0 + j * dw, c0:c0 + cg]
            for c in range(cg):
                patch[c * khw + i * kw + j] = pixel[c]


@numba.njit(cache=True, parallel=True)
def _conv_tiles_kernel(xhwc, wk, kh, kw, sh, sw, dh, dw, ho, wo, row_off, col_off, scales,
                       noise, lo, hi):
    """Conv layer on tile blocks: one MVM per output pixel per (row block, column block).

    ``xhwc`` int8 (Hp, Wp, C): the zero-padded input, channels last; ``wk`` int8 (G, Kg, Ng);
    ``row_off`` and ``col_off`` int64 block boundaries of Kg and Ng; ``scales`` float64
    (G, Ng); ``noise`` float64 (G, R, ho*wo, Ng) in output LSB, or shape (0, 0, 0, 0) for
    none; ``lo``, ``hi`` the ADC saturation levels (floats). Returns the int32 sums of the
    row blocks' ADC outputs, (G, ho*wo, Ng).

    The parallel loop runs over (group, output row, column block) triples; each writes a
    disjoint slice of the result, and the noise is an input, so the result does not depend on
    the thread count.
    """
    g_count, kg, ng = wk.shape
    cg = xhwc.shape[2] // g_count
    n_row_blocks = row_off.size - 1
    n_col_blocks = col_off.size - 1
    acc = np.zeros((g_count, ho * wo, ng), np.int32)
    with_noise = noise.shape[0] > 0
    no_noise = np.empty(0, np.float64)
    for task in numba.prange(g_count * ho * n_col_blocks):
        g = task // (ho * n_col_blocks)
        oh = (task // n_col_blocks) % ho
        q = task % n_col_blocks
        patch = np.empty(kg, np.int8)
        dots = np.empty(ng, np.int32)
        wk_g = wk[g]
        for ow in range(wo):
            _gather_patch(xhwc, g * cg, cg, kh, kw, oh * sh, ow * sw, dh, dw, patch)
            p = oh * wo + ow
            for r in range(n_row_blocks):
                pix_noise = noise[g, r, p] if with_noise else no_noise
                _mvm_acc(patch, wk_g, row_off[r], row_off[r + 1], col_off[q], col_off[q + 1],
                         scales[g], pix_noise, dots, acc[g, p], lo, hi)
    return acc


# ---------------------------------------------------------------------- mapping rule (pure)
def _tile_size(rows, cols) -> tuple[int, int]:
    # above MAX_ROWS the int32 accumulation of 128*128*rows would overflow
    rows = check_int(rows, "rows (tile crossbar height)", low=1, high=MAX_ROWS,
                     limit="MAX_ROWS")
    return rows, check_int(cols, "cols (tile crossbar width)", low=1)


@dataclass(frozen=True, eq=False)
class BlockGrid:
    """The tile blocks of one group's ``K x N`` weight matrix.

    Attributes:
        row_sizes: fan-in rows per row block (int64, sums to K).
        col_sizes: output columns per column block (int64, sums to N).
    """

    row_sizes: np.ndarray
    col_sizes: np.ndarray

    @property
    def n_row_blocks(self) -> int:
        """Row blocks: the number of int8 partial outputs the core adds per output."""
        return int(self.row_sizes.size)

    @property
    def n_col_blocks(self) -> int:
        """Column blocks."""
        return int(self.col_sizes.size)

    @property
    def n_blocks(self) -> int:
        """Tile blocks of one group (row blocks x column blocks)."""
        return self.n_row_blocks * self.n_col_blocks

    @property
    def row_offsets(self) -> np.ndarray:
        """Block boundaries along K, ``[0, ..., K]`` (length n_row_blocks + 1)."""
        return np.concatenate(([0], np.cumsum(self.row_sizes))).astype(np.int64)

    @property
    def col_offsets(self) -> np.ndarray:
        """Block boundaries along N, ``[0, ..., N]`` (length n_col_blocks + 1)."""
        return np.concatenate(([0], np.cumsum(self.col_sizes))).astype(np.int64)


def block_grid(k: int, n: int, rows: int = DEFAULT_ROWS, cols: int = DEFAULT_COLS) -> BlockGrid:
    """Split a ``k x n`` weight matrix into balanced tile blocks of at most ``rows x cols``."""
    rows, cols = _tile_size(rows, cols)
    return BlockGrid(split_sizes(k, rows), split_sizes(n, cols))


@dataclass(frozen=True)
class TileMapping:
    """How a layer (``groups`` x a ``k x n`` matrix) occupies tiles of ``rows x cols``.

    Attributes:
        k, n, groups, rows, cols: the layer's GEMM shape per group and the tile size.
        groups_per_tile: groups packed block-diagonally in one tile (0 if a group needs its own
            tile blocks, see :func:`groups_per_tile`).
        n_row_blocks: int8 partial outputs the core adds per output value.
        n_col_blocks: column blocks per group.
        n_tiles: tile blocks of the layer, i.e. MVMs per output pixel.
    """

    k: int
    n: int
    groups: int
    rows: int
    cols: int
    groups_per_tile: int
    n_row_blocks: int
    n_col_blocks: int
    n_tiles: int

    @property
    def used_weights(self) -> int:
        """Weights of the layer that sit on tiles: ``groups * k * n``."""
        return self.groups * self.k * self.n

    @property
    def utilisation(self) -> float:
        """Share of the crossbar cells of the layer's tiles that hold a weight, in [0, 1]."""
        return self.used_weights / (self.n_tiles * self.rows * self.cols)


def tile_mapping(k: int, n: int, groups: int = 1, rows: int = DEFAULT_ROWS,
              cols: int = DEFAULT_COLS) -> TileMapping:
    """The tile mapping of a layer with ``groups`` groups of ``k x n`` weights.

    If a group fits one tile (``k <= rows`` and ``n <= cols``) the layer uses
    ``ceil(groups / groups_per_tile)`` tiles; otherwise every group is split into
    :func:`block_grid` blocks, ``groups * n_row_blocks * n_col_blocks`` tiles in total. Each tile
    issues one MVM per output pixel.
    """
    groups = check_int(groups, "groups", low=1)
    rows, cols = _tile_size(rows, cols)
    gpt = groups_per_tile(k, n, rows, cols)
    grid = block_grid(k, n, rows, cols)
    if gpt >= 1:
        n_tiles = -(-groups // gpt)
    else:
        n_tiles = groups * grid.n_blocks
    return TileMapping(int(k), int(n), groups, int(rows), int(cols), gpt, grid.n_row_blocks,
                       grid.n_col_blocks, n_tiles)


def pack_groups(wmats: np.ndarray, rows: int = DEFAULT_ROWS,
                cols: int = DEFAULT_COLS) -> tuple[np.ndarray, np.ndarray]:
    """Place ``G`` small weight matrices block-diagonally onto as few tiles as possible.

    ``wmats`` int8 (G, K, N) with ``K <= rows``, ``N <= cols``. The groups are spread over
    ``ceil(G / gpt)`` tiles in balanced, consecutive runs (:func:`split_sizes` ``(G, gpt)``, the
    rule of ``aimclib.mapping``), ``gpt`` from :func:`groups_per_tile`. The group in slot ``s``
    of a tile sits at rows ``s*K : (s+1)*K`` and columns ``s*N : (s+1)*N``; all other cells
    are 0.

    Returns:
        ``tiles`` int8 (n_tiles, rows, cols), the crossbar contents, and ``placement`` int64
        (G, 2), the (tile, slot) of every group.
    """
    wmats = _int8(wmats, "wmats")
    if wmats.ndim != 3:
        raise ShapeError(f"wmats must have shape (G, K, N), got shape {wmats.shape}")
    g_count, k, n = wmats.shape
    rows, cols = _tile_size(rows, cols)
    gpt = groups_per_tile(k, n, rows, cols)
    if gpt == 0:
        raise ShapeError(
            f"wmats of shape {wmats.shape}: a group of {k}x{n} weights does not fit one "
            f"{rows}x{cols} tile, so groups cannot be packed (use block_grid)"
        )
    per_tile = split_sizes(g_count, gpt)
    tiles = np.zeros((per_tile.size, rows, cols), dtype=np.int8)
    placement = np.zeros((g_count, 2), dtype=np.int64)
    g = 0
    for t, count in enumerate(per_tile):
        for s in range(count):
            tiles[t, s * k:(s + 1) * k, s * n:(s + 1) * n] = wmats[g]
            placement[g] = (t, s)
            g += 1
    return tiles, placement


# ----------------------------------------------------------------------- input validation
def _int8(a, name: str) -> np.ndarray:
    """``a`` as a C-contiguous int8 array; :class:`DTypeError` for anything that is not int8."""
    if not isinstance(a, np.ndarray):
        raise DTypeError(
            f"{name} must be a numpy array of dtype int8, got {type(a).__name__}"
        )
    if a.dtype != np.int8:
        raise DTypeError(
            f"{name} must have dtype int8, got {a.dtype}; quantize real values first "
            f"(aimclib.functional.quantize)"
        )
    return np.ascontiguousarray(a)


def _pair(value, what: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise LayerSpecError(f"{what} must be an int or a pair of ints, got {value!r}")
    return (check_int(value[0], what, low=1, error=LayerSpecError),
            check_int(value[1], what, low=1, error=LayerSpecError))


def _padding(value) -> tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right) from an int, an (h, w) pair or a 4-tuple."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,) * 4
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = (value[0], value[1], value[0], value[1])
    if not isinstance(value, (tuple, list)) or len(value) != 4 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0
            for v in value):
        raise LayerSpecError(
            f"padding must be an int >= 0, (h, w) or (top, left, bottom, right), got {value!r}"
        )
    return tuple(int(v) for v in value)  # type: ignore[return-value]


def _scales(scales, n_out: int, other: str, other_shape: tuple[int, ...]) -> np.ndarray:
    """Per-output-column ADC gains as float64 (n_out,); a scalar applies to every column.

    ``other`` and ``other_shape`` name the array that fixes ``n_out`` in error messages.
    """
    if scales is None:
        return np.ones(n_out, dtype=np.float64)
    arr = np.asarray(scales, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n_out, float(arr), dtype=np.float64)
    if arr.shape != (n_out,):
        raise ShapeError(
            f"scales has shape {arr.shape} but {other} has shape {other_shape}: need one scale per "
            f"output column, shape ({n_out},), or a scalar"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        bad = int(np.flatnonzero(~np.isfinite(arr) | (arr <= 0))[0])
        raise ParameterError(
            f"scales must be finite and > 0; column {bad} has {arr[bad]!r}"
        )
    return np.ascontiguousarray(arr)


def _noise(noise_std, seed, shape: tuple[int, ...]) -> np.ndarray:
    """Pre-drawn read noise ``noise_std * default_rng(seed).standard_normal(shape)``.

    Returns an array with a zero first axis (and ``len(shape)`` dimensions) when
    ``noise_std == 0``, which the kernels read as "no noise".
    """
    std = check_float(noise_std, "noise_std", low=0.0, unit="output LSB")
    if std == 0:
        return np.zeros((0,) * len(shape), dtype=np.float64)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer, np.random.Generator)):
        raise ParameterError(
            f"noise_std={std} needs seed=an int or a np.random.Generator (so runs are "
            f"reproducible), got seed={seed!r}"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(int(seed))
    return std * rng.standard_normal(shape)


def _adc_levels(adc_bits, n_row_blocks: int) -> tuple[float, float]:
    """Saturation levels ``(-2**(b-1), 2**(b-1) - 1)`` of a ``b``-bit ADC, as floats.

    The core adds ``n_row_blocks`` ADC outputs in int32, so ``b`` is limited to what cannot
    overflow it (and to :data:`MAX_ADC_BITS`).
    """
    bits = check_int(adc_bits, "adc_bits (ADC resolution)", low=1, high=MAX_ADC_BITS,
                     limit="MAX_ADC_BITS")
    if n_row_blocks * 2 ** (bits - 1) > 2 ** 31 - 1:
        raise ParameterError(
            f"adc_bits={bits} with {n_row_blocks} row blocks: the int32 sum of the row blocks' "
            f"outputs could overflow; use fewer bits or taller tiles"
        )
    return -float(2 ** (bits - 1)), float(2 ** (bits - 1) - 1)


def _with_pre_adc(noise: np.ndarray, pre_adc, shape: tuple[int, ...]) -> np.ndarray:
    """The kernels' additive pre-ADC term: the read noise plus ``pre_adc`` (if given)."""
    if pre_adc is None:
        return noise
    arr = np.asarray(pre_adc, dtype=np.float64)
    if arr.shape != shape:
        raise ShapeError(f"pre_adc has shape {arr.shape}; this layer needs {shape} "
                         f"(groups, row blocks, output pixels, outputs per group)")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"pre_adc holds {int((~np.isfinite(arr)).sum())} non-finite "
                             f"value(s)")
    return np.ascontiguousarray(arr + noise if noise.size else arr)


# --------------------------------------------------------------------------- public functions
def tile_mvm(x: np.ndarray, w_block: np.ndarray, scales=None, noise_std: float = 0.0,
             seed=None, rows: int = DEFAULT_ROWS, cols: int = DEFAULT_COLS) -> np.ndarray:
    """One tile MVM (or a batch of them) with the ADC of the module docstring.

    Args:
        x: int8 input vector (k,), or a batch (B, k), with ``k <= rows``.
        w_block: int8 weights on the crossbar, (k, n) with ``n <= cols``.
        scales: ADC gain per column: None (1.0), a scalar, or float (n,); finite and > 0.
        noise_std: read-noise standard deviation in output LSB; 0 for none.
        seed: int or ``np.random.Generator``, required when ``noise_std > 0``. The noise is
            ``noise_std * default_rng(seed).standard_normal(shape of the output)``.
        rows, cols: crossbar size, only used to check that the block fits.

    Returns:
        int8 outputs, (n,) or (B, n).
    """
    x = _int8(x, "x")
    w_block = _int8(w_block, "w_block")
    rows, cols = _tile_size(rows, cols)
    if w_block.ndim != 2 or x.ndim not in (1, 2) or x.shape[-1] != w_block.shape[0]:
        raise ShapeError(
            f"x has shape {x.shape} and w_block has shape {w_block.shape}: need x (k,) or "
            f"(B, k) and w_block (k, n) with the same k"
        )
    k, n = w_block.shape
    if k > rows or n > cols:
        raise ShapeError(
            f"w_block has shape {w_block.shape} but the tile has {rows} rows x {cols} columns"
        )
    scale_arr = _scales(scales, n, "w_block", w_block.shape)
    xs = x.reshape(-1, k)
    noise = _noise(noise_std, seed, x.shape[:-1] + (n,)).reshape(-1, n)
    out = _mvm_batch_kernel(xs, w_block, scale_arr, noise)
    return out.reshape(x.shape[:-1] + (n,))


def conv_output_hw(h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int, int, int],
                   dilation: tuple[int, int]) -> tuple[int, int]:
    """Output (height, width) of a convolution (PyTorch's floor rule); may be <= 0."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    pt, pl, pb, pr = padding
    ho = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    wo = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    return ho, wo


def conv2d_tiles(x: np.ndarray, w: np.ndarray, stride=1, padding=0, dilation=1,
                 groups: int = 1, rows: int = DEFAULT_ROWS, cols: int = DEFAULT_COLS,
                 scales=None, noise_std: float = 0.0, seed=None, adc_bits: int = 8,
                 pre_adc=None) -> np.ndarray:
    """A conv layer executed on tile blocks; returns the core's int32 sums of tile outputs.

    Per group ``g``, output pixel ``p`` and row block ``r`` of :func:`block_grid` ``(K, N)``,
    the tile computes the int8 output ``y_r`` of the module docstring from the im2col patch
    (``(c, kh, kw)`` order); the result is ``acc[o, p] = sum_r y_r[o, p]`` (int32). Dequantize
    with :func:`dequantize`.

    Args:
        x: int8 input feature map (C, H, W).
        w: int8 weights (Cout, C/groups, kh, kw), PyTorch layout.
        stride, dilation: int or (h, w).
        padding: int, (h, w) or (top, left, bottom, right); zero padding.
        groups: conv groups (C and Cout divisible by it; C for depthwise).
        rows, cols: tile crossbar size.
        scales: ADC gain per output channel (None = 1.0, a scalar, or float (Cout,)); every
            row block of a channel uses the channel's gain.
        noise_std: read noise in output LSB (0 = none).
        seed: int or ``np.random.Generator``, required when ``noise_std > 0``. The noise of
            group ``g``, row block ``r``, output pixel ``p = oh * Wo + ow`` and column ``j`` of
            the group is ``noise_std * z[g, r, p, j]`` with
            ``z = default_rng(seed).standard_normal((groups, R, Ho * Wo, Cout // groups))``.
        adc_bits: ADC resolution: each row block's output saturates to
            ``[-2**(b-1), 2**(b-1) - 1]`` (8: the int8 tile of the module docstring).
        pre_adc: optional float64 array of that same noise layout, added before the ADC in
            output LSB (after the gain): e.g. the error ``gain * x . (W_analog - W)`` of
            non-ideal conductances (:mod:`aimclib.pcm`).

    Returns:
        int32 array (Cout, Ho, Wo).
    """
    x = _int8(x, "x")
    w = _int8(w, "w")
    if x.ndim != 3 or w.ndim != 4:
        raise ShapeError(
            f"x has shape {x.shape} and w has shape {w.shape}: need x (C, H, W) and "
            f"w (Cout, C/groups, kh, kw)"
        )
    groups = check_int(groups, "groups", low=1, error=LayerSpecError)
    c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    if cout % groups or cg * groups != c:
        raise ShapeError(
            f"x has shape {x.shape} and w has shape {w.shape} with groups={groups}: need "
            f"C = w.shape[1] * groups = {cg * groups} and Cout divisible by groups"
        )
    stride = _pair(stride, "stride")
    dilation = _pair(dilation, "dilation")
    pads = _padding(padding)
    rows, cols = _tile_size(rows, cols)
    ho, wo = conv_output_hw(h, wd, (kh, kw), stride, pads, dilation)
    if ho < 1 or wo < 1:
        raise ShapeError(
            f"x of shape {x.shape} with w of shape {w.shape}, stride={stride}, padding={pads}, "
            f"dilation={dilation} gives an empty output ({ho}, {wo})"
        )
    ng, kg = cout // groups, cg * kh * kw
    grid = block_grid(kg, ng, rows, cols)
    scale_arr = _scales(scales, cout, "w", w.shape).reshape(groups, ng)
    layout = (groups, grid.n_row_blocks, ho * wo, ng)
    noise = _with_pre_adc(_noise(noise_std, seed, layout), pre_adc, layout)
    lo, hi = _adc_levels(adc_bits, grid.n_row_blocks)
    pt, pl, pb, pr = pads
    xhwc = np.zeros((h + pt + pb, wd + pl + pr, c), dtype=np.int8)
    xhwc[pt:pt + h, pl:pl + wd] = x.transpose(1, 2, 0)
    # Per group the K x N matrix of the module docstring: weight.reshape(cout, -1).T.
    wk = np.ascontiguousarray(w.reshape(groups, ng, kg).transpose(0, 2, 1))
    acc = _conv_tiles_kernel(xhwc, wk, kh, kw, stride[0], stride[1],
                             dilation[0], dilation[1], ho, wo, grid.row_offsets,
                             grid.col_offsets, scale_arr, noise, lo, hi)
    return np.ascontiguousarray(acc.transpose(0, 2, 1)).reshape(cout, ho, wo)


def linear_tiles(x: np.ndarray, w: np.ndarray, rows: int = DEFAULT_ROWS,
                 cols: int = DEFAULT_COLS, scales=None, noise_std: float = 0.0,
                 seed=None, adc_bits: int = 8, pre_adc=None) -> np.ndarray:
    """A linear layer executed on tile blocks; returns the core's int32 sums of tile outputs.

    Same semantics as :func:`conv2d_tiles` with one output pixel.

    Args:
        x: int8 input vector (K,).
        w: int8 weights (N, K), PyTorch layout.
        rows, cols, scales: as in :func:`conv2d_tiles` (scales per output feature).
        noise_std, seed: read noise; the noise of row block ``r`` and output ``j`` is
            ``noise_std * z[r, j]`` with ``z = default_rng(seed).standard_normal((R, N))``.
        adc_bits: ADC resolution, as in :func:`conv2d_tiles`.
        pre_adc: optional float64 (R, N) added before the ADC, in output LSB.

    Returns:
        int32 array (N,).
    """
    x = _int8(x, "x")
    w = _int8(w, "w")
    if x.ndim != 1 or w.ndim != 2 or w.shape[1] != x.shape[0]:
        raise ShapeError(
            f"x has shape {x.shape} and w has shape {w.shape}: need x (K,) and w (N, K)"
        )
    n, k = w.shape
    rows, cols = _tile_size(rows, cols)
    grid = block_grid(k, n, rows, cols)
    scale_arr = _scales(scales, n, "w", w.shape).reshape(1, n)
    # The conv kernel's noise layout (G, R, pixels, N) with G = pixels = 1.
    noise = _with_pre_adc(_noise(noise_std, seed, (grid.n_row_blocks, n)), pre_adc,
                          (grid.n_row_blocks, n))
    noise = noise.reshape(1, grid.n_row_blocks, 1, n) if noise.size else np.zeros((0,) * 4)
    lo, hi = _adc_levels(adc_bits, grid.n_row_blocks)
    wk = np.ascontiguousarray(w.T).reshape(1, k, n)
    acc = _conv_tiles_kernel(x.reshape(1, 1, k), wk, 1, 1, 1, 1, 1, 1, 1, 1, grid.row_offsets,
                             grid.col_offsets, scale_arr, noise, lo, hi)
    return acc.reshape(n)


def quantize(values, scale: float) -> np.ndarray:
    """Symmetric per-tensor int8 quantization: ``clip(rint(values / scale), -128, 127)``."""
    scale = check_float(scale, "scale", low=0.0, low_open=True, where="quantize")
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ParameterError(f"quantize: values hold {int(np.isnan(values).sum())} NaN(s) "
                             f"(first at index {np.argwhere(np.isnan(values))[0].tolist()}); "
                             f"a NaN has no int8 value")
    q = np.rint(values / scale)
    return np.clip(q, ADC_MIN, ADC_MAX).astype(np.int8)


def dequantize(acc: np.ndarray, input_scale: float, weight_scale, scales=None,
               bias=None) -> np.ndarray:
    """Real-valued layer output from the int32 tile sums: what the core computes next.

    ``out[o, ...] = acc[o, ...] * input_scale * weight_scale[o] / scales[o] + bias[o]`` in
    float64, where ``acc`` is the result of :func:`conv2d_tiles` (Cout, Ho, Wo) or
    :func:`linear_tiles` (N,); ``input_scale`` is the real value of one input LSB,
    ``weight_scale`` that of one weight LSB (a scalar or per output channel), ``scales`` the
    ADC gains used for ``acc`` (None = 1.0) and ``bias`` an optional float (Cout,).
    """
    acc = np.asarray(acc)
    if acc.ndim == 0 or not np.issubdtype(acc.dtype, np.integer):
        raise DTypeError(f"acc must be an integer array (Cout, ...), got {acc.dtype} {acc.shape}")
    n_out = acc.shape[0]
    w_scale = np.asarray(weight_scale, dtype=np.float64)
    if w_scale.shape not in ((), (n_out,)):
        raise ShapeError(
            f"weight_scale has shape {w_scale.shape} but acc has shape {acc.shape}: need a "
            f"scalar or one value per output channel ({n_out},)"
        )
    per_channel = float(input_scale) * w_scale / _scales(scales, n_out, "acc", acc.shape)
    lead = (n_out,) + (1,) * (acc.ndim - 1)
    out = acc.astype(np.float64) * per_channel.reshape(lead)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        if bias.shape != (n_out,):
            raise ShapeError(f"bias has shape {bias.shape} but acc has shape {acc.shape}")
        out += bias.reshape(lead)
    return out
