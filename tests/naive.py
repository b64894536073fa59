"""Plain-numpy references for aimclib.functional and the even cut (no Numba): slow, short,
obviously right.

The integer references follow the semantics of the ``aimclib.functional`` docstring, written
out directly: im2col by explicit loops, one int64 matmul per row block, then
``clip(rint(scale * dot + noise), -128, 127)`` per block and an int64 sum over row blocks. The
float reference is a float64 convolution with no quantization at all.
"""

from __future__ import annotations

import numpy as np


def balanced_split(size: int, tile: int) -> list[int]:
    """``ceil(size / tile)`` block sizes, as equal as possible, larger ones first."""
    n = -(-size // tile)
    return [size // n + (1 if i < size % n else 0) for i in range(n)]


def even_split(b, tight: bool, chunks: int) -> None:
    """Reference of the compiled even cut (:func:`aimclib.balancing.even_tasks`), written from
    ``aimclib.balancing``'s docstring onto a :class:`aimclib.balancing._Builder` ``b`` (which
    prices each task): output positions split evenly over the ``p`` cores, analog tasks first
    in each deque, then ``chunks`` digital chunks per core. Tight: each tile's stream on its
    owner, in ``chunks x p`` balanced parts (one when ``chunks`` is 1). Loose with ``m >= p``:
    core ``c`` takes its balanced share of the positions and drives every tile for it, in
    ``chunks`` parts per tile. Loose with ``m < p``: tile ``t`` whole on core ``t % p``."""
    from aimclib.engine import KIND_LOOSE, KIND_TIGHT
    p, m = b.p, b.w.pixels
    if b.n_tiles and tight:
        for t in range(b.n_tiles):
            for part in balanced_split(m, -(-m // (chunks * p if chunks > 1 else 1))):
                b.analog(int(b.owners[t]), t, part, KIND_TIGHT)
    elif b.n_tiles and m >= p:
        for c, share in enumerate(balanced_split(m, -(-m // p))):
            for t in range(b.n_tiles):
                for part in balanced_split(share, -(-share // chunks)):
                    b.analog(c, t, part, KIND_LOOSE)
    elif b.n_tiles:
        for t in range(b.n_tiles):
            b.analog(t % p, t, m, KIND_LOOSE)
    for c in range(p):
        for _ in range(chunks):
            b.digital(c, m / p / chunks)


def loose_chunks(b) -> np.ndarray:
    """Reference of :func:`aimclib.balancing._deal_loose_chunks`, chunk by chunk on a
    :class:`aimclib.balancing._Builder` ``b`` (which prices each task): each unit's (or
    unit-copy's) positions in one balanced chunk per core, the chunks priced as
    ``chunk_core_s(part)[unit's tiles].sum()``, dealt longest first (earlier chunk on ties) to
    the least-loaded core (lowest index on ties), every tile of the unit for the chunk's
    positions; returns the cores' analog load (s)."""
    from aimclib.engine import KIND_LOOSE
    p = b.p
    load = np.zeros(p)
    items = []
    unit_of = b.w.mapping.tile_unit[:b.n_tiles]
    for u in range(int(unit_of[-1]) + 1):
        tiles = np.flatnonzero(unit_of == u)
        mu = b.w.pixels if b.unit_px is None else int(b.unit_px[u])
        for part in (balanced_split(mu, -(-mu // p)) if mu >= p else [mu]):
            items.append((float(b.mc.chunk_core_s(part)[tiles].sum()), tiles, part))
    for i in sorted(range(len(items)), key=lambda i: (-items[i][0], i)):
        c = int(np.argmin(load))
        for t in items[i][1]:
            b.analog(c, int(t), items[i][2], KIND_LOOSE)
        load[c] += items[i][0]
    return load


def pads4(padding) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from an int, an (h, w) pair or a 4-tuple."""
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[1], padding[0], padding[1])
    return tuple(padding)


def pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def im2col(x, kh, kw, stride, padding, dilation, groups):
    """Patches of a (C, H, W) input: array (groups, Ho*Wo, C/groups*kh*kw), (c, kh, kw) order.

    Returns the patches and (Ho, Wo). Works for any dtype (padding with zeros).
    """
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    pt, pl, pb, pr = pads4(padding)
    c, h, w = x.shape
    xp = np.zeros((c, h + pt + pb, w + pl + pr), dtype=x.dtype)
    xp[:, pt:pt + h, pl:pl + w] = x
    ho = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    wo = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    cg = c // groups
    cols = np.zeros((groups, ho * wo, cg * kh * kw), dtype=x.dtype)
    for g in range(groups):
        for oh in range(ho):
            for ow in range(wo):
                k = 0
                for ci in range(g * cg, (g + 1) * cg):
                    for i in range(kh):
                        for j in range(kw):
                            cols[g, oh * wo + ow, k] = xp[ci, oh * sh + i * dh, ow * sw + j * dw]
                            k += 1
    return cols, (ho, wo)


def adc(dot, scales, noise=None):
    """int8 ADC of integer dot products (..., N) with per-column gains (N,): rint then clip."""
    v = scales * dot.astype(np.float64)
    if noise is not None:
        v = v + noise
    return np.clip(np.rint(v), -128, 127).astype(np.int64)


def block_partials(x, w, stride=1, padding=0, dilation=1, groups=1, rows=256):
    """The exact integer partial dot products of every row block, before any ADC.

    Returns a list over row blocks of int64 arrays (Cout, Ho*Wo).
    """
    cout, cg, kh, kw = w.shape
    cols, _ = im2col(x, kh, kw, stride, padding, dilation, groups)
    ng, kg = cout // groups, cg * kh * kw
    wm = w.reshape(groups, ng, kg).astype(np.int64)
    out, k0 = [], 0
    for kr in balanced_split(kg, rows):
        part = np.einsum("gmk,gnk->gnm", cols[:, :, k0:k0 + kr].astype(np.int64),
                         wm[:, :, k0:k0 + kr])
        out.append(part.reshape(cout, -1))
        k0 += kr
    return out


def conv2d_tiles_ref(x, w, stride=1, padding=0, dilation=1, groups=1, rows=256, cols=256,
                     scales=None, noise_std=0.0, seed=None):
    """Integer reference of ``aimclib.functional.conv2d_tiles`` (same noise draw layout).

    The column split is not applied: each column's ADC is independent of the others, so the
    column blocks cannot change any value.
    """
    cout, cg, kh, kw = w.shape
    patches, (ho, wo) = im2col(x, kh, kw, stride, padding, dilation, groups)
    ng, kg = cout // groups, cg * kh * kw
    s = np.ones(cout) if scales is None else np.broadcast_to(np.asarray(scales, float), (cout,))
    splits = balanced_split(kg, rows)
    noise = None
    if noise_std > 0:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        noise = noise_std * rng.standard_normal((groups, len(splits), ho * wo, ng))
    acc = np.zeros((cout, ho * wo), dtype=np.int64)
    for g in range(groups):
        wg = w[g * ng:(g + 1) * ng].reshape(ng, kg).astype(np.int64)
        k0 = 0
        for r, kr in enumerate(splits):
            dot = patches[g, :, k0:k0 + kr].astype(np.int64) @ wg[:, k0:k0 + kr].T  # (M, ng)
            blk_noise = None if noise is None else noise[g, r]
            acc[g * ng:(g + 1) * ng] += adc(dot, s[g * ng:(g + 1) * ng], blk_noise).T
            k0 += kr
    return acc.reshape(cout, ho, wo).astype(np.int32)


def linear_tiles_ref(x, w, rows=256, cols=256, scales=None, noise_std=0.0, seed=None):
    """Integer reference of ``aimclib.functional.linear_tiles``: noise drawn as (R, N)."""
    n, k = w.shape
    s = np.ones(n) if scales is None else np.broadcast_to(np.asarray(scales, float), (n,))
    splits = balanced_split(k, rows)
    noise = None
    if noise_std > 0:
        noise = noise_std * np.random.default_rng(seed).standard_normal((len(splits), n))
    acc = np.zeros(n, dtype=np.int64)
    k0 = 0
    for r, kr in enumerate(splits):
        dot = w[:, k0:k0 + kr].astype(np.int64) @ x[k0:k0 + kr].astype(np.int64)
        acc += adc(dot, s, None if noise is None else noise[r])
        k0 += kr
    return acc.astype(np.int32)


def tile_mvm_ref(x, w_block, scales=None, noise_std=0.0, seed=None):
    """Integer reference of ``aimclib.functional.tile_mvm`` for x (k,) or (B, k)."""
    n = w_block.shape[1]
    s = np.ones(n) if scales is None else np.broadcast_to(np.asarray(scales, float), (n,))
    dot = x.astype(np.int64) @ w_block.astype(np.int64)
    noise = None
    if noise_std > 0:
        noise = noise_std * np.random.default_rng(seed).standard_normal(dot.shape)
    return adc(dot, s, noise).astype(np.int8)


def conv2d_float(x, w, stride=1, padding=0, dilation=1, groups=1, bias=None):
    """Float64 convolution (C, H, W) * (Cout, C/groups, kh, kw) -> (Cout, Ho, Wo)."""
    cout, cg, kh, kw = w.shape
    patches, (ho, wo) = im2col(np.asarray(x, np.float64), kh, kw, stride, padding, dilation,
                               groups)
    ng = cout // groups
    wm = np.asarray(w, np.float64).reshape(groups, ng, -1)
    out = np.einsum("gmk,gnk->gnm", patches, wm).reshape(cout, ho, wo)
    if bias is not None:
        out = out + np.asarray(bias, np.float64)[:, None, None]
    return out
