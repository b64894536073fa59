"""The functional AIMC tile (aimclib.functional) against the plain-numpy references (naive.py).

Integer results must match bit for bit; the float comparison is bounded by the stated
quantization and ADC rounding error.
"""

from __future__ import annotations

import zlib

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from aimclib import functional as F
from aimclib.errors import DTypeError, LayerSpecError, ParameterError, ShapeError


def _rand_int8(rng, shape, amp=128):
    """Uniform ints in [-amp, amp) as int8."""
    return rng.integers(-amp, amp, size=shape).astype(np.int8)


# ----------------------------------------------------------------------- mapping rule
@pytest.mark.parametrize("size, tile, expect", [
    (600, 256, [200, 200, 200]),
    (256, 256, [256]),
    (257, 256, [129, 128]),
    (513, 256, [171, 171, 171]),
    (10, 4, [4, 3, 3]),
    (1, 256, [1]),
    (1000, 256, [250, 250, 250, 250]),
    (1001, 256, [251, 250, 250, 250]),
])
def test_split_sizes(size, tile, expect):
    got = F.split_sizes(size, tile)
    assert got.tolist() == expect
    assert got.dtype == np.int64


def test_split_sizes_rejects_zero():
    with pytest.raises(ParameterError, match="size"):
        F.split_sizes(0, 256)
    with pytest.raises(ParameterError, match="tile"):
        F.split_sizes(10, 0)


def test_block_grid_resnet_3x3():
    # ResNet 3x3 conv 64->64: K = 64*3*3 = 576 -> three row blocks of 192, one column block.
    grid = F.block_grid(576, 64)
    assert grid.row_sizes.tolist() == [192, 192, 192]
    assert grid.col_sizes.tolist() == [64]
    assert grid.row_offsets.tolist() == [0, 192, 384, 576]
    assert grid.col_offsets.tolist() == [0, 64]
    assert (grid.n_row_blocks, grid.n_col_blocks, grid.n_blocks) == (3, 1, 3)


def test_block_grid_dense():
    grid = F.block_grid(512, 1000)  # ResNet-18 fc
    assert grid.row_sizes.tolist() == [256, 256]
    assert grid.col_sizes.tolist() == [250] * 4
    assert grid.n_blocks == 8


def test_groups_per_tile_depthwise():
    assert F.groups_per_tile(9, 1, 256, 256) == 28  # min(256 // 9, 256 // 1)
    assert F.groups_per_tile(9, 2, 256, 256) == 28
    assert F.groups_per_tile(16, 32, 256, 256) == 8  # min(16, 8)
    assert F.groups_per_tile(257, 1, 256, 256) == 0
    assert F.groups_per_tile(9, 1, 8, 8) == 0


def test_tile_mapping_counts():
    m = F.tile_mapping(9, 1, groups=28)
    assert (m.groups_per_tile, m.n_tiles, m.n_row_blocks) == (28, 1, 1)
    assert m.utilisation == pytest.approx(28 * 9 / 65536, rel=1e-12)
    m = F.tile_mapping(9, 1, groups=64)  # 28 + 28 + 8 groups
    assert m.n_tiles == 3
    assert m.utilisation == pytest.approx(64 * 9 / (3 * 65536), rel=1e-12)
    m = F.tile_mapping(576, 64)
    assert (m.n_tiles, m.n_row_blocks, m.n_col_blocks) == (3, 3, 1)
    assert m.utilisation == pytest.approx(576 * 64 / (3 * 65536), rel=1e-12)
    m = F.tile_mapping(2304, 512)  # 3x3 256->512: 9 x 2 blocks
    assert (m.n_tiles, m.n_row_blocks, m.n_col_blocks) == (18, 9, 2)
    m = F.tile_mapping(300, 10, groups=4)  # groups too tall for one tile: each split alone
    assert (m.groups_per_tile, m.n_tiles, m.n_row_blocks) == (0, 8, 2)
    assert m.used_weights == 4 * 300 * 10


# ------------------------------------------------------------------ bit-exact layer cases
# (name, C, H, W, Cout, kh, kw, stride, padding, dilation, groups, rows, cols, amp)
CASES = [
    ("single_block", 4, 6, 6, 8, 3, 3, 1, 1, 1, 1, 256, 256, 8),
    ("k_n_not_multiple", 5, 5, 7, 11, 3, 3, 1, 0, 1, 1, 16, 4, 8),
    ("stride2", 3, 9, 9, 4, 3, 3, 2, 1, 1, 1, 256, 256, 16),
    ("asym_padding", 3, 6, 5, 4, 3, 3, 1, (0, 1, 2, 1), 1, 1, 7, 3, 16),
    ("dilation", 2, 9, 8, 3, 3, 3, 1, 2, 2, 1, 256, 256, 16),
    ("groups2", 6, 5, 5, 4, 3, 3, 1, 1, 1, 2, 10, 256, 16),
    ("depthwise", 8, 7, 7, 8, 3, 3, 1, 1, 1, 8, 256, 256, 32),
    ("depthwise_mult2_stride2", 4, 8, 8, 8, 3, 3, 2, 1, 1, 4, 256, 256, 32),
    ("pointwise_1x1", 16, 4, 4, 8, 1, 1, 1, 0, 1, 1, 256, 256, 8),
    ("rect_kernel", 3, 5, 9, 5, 1, 3, (1, 2), (0, 1), 1, 1, 4, 2, 32),
    ("k576_three_row_blocks", 64, 5, 5, 16, 3, 3, 1, 1, 1, 1, 256, 256, 2),
    ("tiny_tile_8x8", 6, 5, 5, 10, 3, 3, 1, 1, 1, 1, 8, 8, 16),
    ("full_range_saturating", 4, 5, 5, 6, 3, 3, 1, 1, 1, 1, 256, 256, 128),
]


def _case_data(case):
    """Reproducible int8 input and weights of a CASES entry, and its generator."""
    name, c, h, w, cout, kh, kw, _, _, _, groups, _, _, amp = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = _rand_int8(rng, (c, h, w), amp)
    wt = _rand_int8(rng, (cout, c // groups, kh, kw), amp)
    return x, wt, rng


@pytest.mark.parametrize("with_scales", [False, True], ids=["scale1", "scales"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv2d_tiles_matches_reference(case, with_scales):
    _, c, h, w, cout, kh, kw, stride, pad, dil, groups, rows, cols, amp = case
    x, wt, rng = _case_data(case)
    scales = rng.uniform(0.05, 1.5, cout) if with_scales else None
    kwargs = dict(stride=stride, padding=pad, dilation=dil, groups=groups, rows=rows,
                  cols=cols, scales=scales)
    got = F.conv2d_tiles(x, wt, **kwargs)
    ref = naive.conv2d_tiles_ref(x, wt, **kwargs)
    assert got.dtype == np.int32
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


def test_cases_exercise_rounding_and_saturation():
    """The case list must contain saturated and unsaturated tile outputs, else it proves less."""
    saturated = unsaturated = 0
    for case in CASES:
        stride, pad, dil, groups, rows = case[7:12]
        x, wt, _ = _case_data(case)
        for part in naive.block_partials(x, wt, stride, pad, dil, groups, rows):
            saturated += int(np.sum(np.abs(part) > 127))
            unsaturated += int(np.sum(np.abs(part) <= 127))
    assert saturated > 100 and unsaturated > 100


def test_conv_exact_against_integer_conv_without_saturation():
    """Small values, one row block, gain 1: the tile sum is the exact integer convolution."""
    rng = np.random.default_rng(1)
    x = _rand_int8(rng, (3, 6, 6), 3)
    w = _rand_int8(rng, (5, 3, 3, 3), 3)  # |dot| <= 27 * 9 < 127
    got = F.conv2d_tiles(x, w, padding=1)
    exact = naive.conv2d_float(x, w, padding=1)
    np.testing.assert_array_equal(got, exact.astype(np.int32))


# --------------------------------------------------------------------------- linear, tile_mvm
@pytest.mark.parametrize("k, n, rows, cols", [
    (10, 6, 256, 256), (600, 30, 256, 256), (70, 300, 32, 128), (513, 1000, 256, 256),
])
def test_linear_tiles_matches_reference(k, n, rows, cols):
    rng = np.random.default_rng(k * n)
    x = _rand_int8(rng, (k,), 16)
    w = _rand_int8(rng, (n, k), 16)
    scales = rng.uniform(0.01, 0.5, n)
    got = F.linear_tiles(x, w, rows=rows, cols=cols, scales=scales)
    np.testing.assert_array_equal(got, naive.linear_tiles_ref(x, w, rows, cols, scales))
    noisy = F.linear_tiles(x, w, rows=rows, cols=cols, scales=scales, noise_std=0.7, seed=5)
    ref = naive.linear_tiles_ref(x, w, rows, cols, scales, noise_std=0.7, seed=5)
    np.testing.assert_array_equal(noisy, ref)


def test_linear_equals_1x1_conv():
    rng = np.random.default_rng(2)
    x = _rand_int8(rng, (300,), 20)
    w = _rand_int8(rng, (40, 300), 20)
    lin = F.linear_tiles(x, w, rows=64, cols=16)
    conv = F.conv2d_tiles(x.reshape(300, 1, 1), w.reshape(40, 300, 1, 1), rows=64, cols=16)
    np.testing.assert_array_equal(lin, conv.reshape(40))


def test_tile_mvm_matches_reference_single_and_batch():
    rng = np.random.default_rng(3)
    w = _rand_int8(rng, (200, 50), 16)
    xs = _rand_int8(rng, (7, 200), 16)
    scales = rng.uniform(0.005, 0.2, 50)
    got = F.tile_mvm(xs, w, scales)
    assert got.dtype == np.int8 and got.shape == (7, 50)
    np.testing.assert_array_equal(got, naive.tile_mvm_ref(xs, w, scales))
    np.testing.assert_array_equal(F.tile_mvm(xs[2], w, scales), got[2])
    noisy = F.tile_mvm(xs, w, scales, noise_std=2.0, seed=9)
    np.testing.assert_array_equal(noisy, naive.tile_mvm_ref(xs, w, scales, 2.0, 9))


def test_rounding_ties_to_even():
    x = np.array([1], dtype=np.int8)
    w = np.array([[1, 3, 5, -1, -5, 7]], dtype=np.int8)
    # gain 0.5 gives 0.5, 1.5, 2.5, -0.5, -2.5, 3.5 -> ties to even
    np.testing.assert_array_equal(F.tile_mvm(x, w, 0.5), [0, 2, 2, 0, -2, 4])


def test_saturation_exact_limits():
    x = np.full(16, 127, dtype=np.int8)
    w = np.zeros((16, 4), dtype=np.int8)
    w[:, 0], w[:, 1], w[:, 2], w[:, 3] = 127, -128, 1, -1
    np.testing.assert_array_equal(F.tile_mvm(x, w), [127, -128, 127, -128])
    # The gain is applied before the saturation: 16 * 127 * 0.05 = 101.6 -> 102.
    np.testing.assert_array_equal(F.tile_mvm(x, w, 0.05), [127, -128, 102, -102])
    # Two row blocks of 8: each block saturates on its own, the core adds the int8 outputs.
    acc = F.linear_tiles(x, np.ascontiguousarray(w.T), rows=8)
    np.testing.assert_array_equal(acc, [254, -256, 254, -256])


def test_packed_depthwise_tiles_equal_per_group_results():
    """Block-diagonal tiles (30 depthwise 3x3 groups, 28 per tile) give each group's outputs."""
    rng = np.random.default_rng(4)
    c = 30
    x = _rand_int8(rng, (c, 6, 6), 40)
    w = _rand_int8(rng, (c, 1, 3, 3), 40)
    scales = rng.uniform(0.02, 0.1, c)
    layer = F.conv2d_tiles(x, w, padding=1, groups=c, scales=scales).reshape(c, -1)
    tiles, placement = F.pack_groups(w.reshape(c, 1, 9).transpose(0, 2, 1))  # (G, K=9, N=1)
    assert tiles.shape == (2, 256, 256)
    assert placement[:, 0].tolist() == [0] * 15 + [1] * 15  # balanced: split_sizes(30, 28)
    assert np.count_nonzero(tiles[0][9 * 15:]) == 0 and np.count_nonzero(tiles[0][:, 15:]) == 0
    assert np.count_nonzero(tiles) == np.count_nonzero(w)
    patches, _ = naive.im2col(x, 3, 3, 1, 1, 1, c)  # (G, M, 9)
    xin = np.zeros((2, patches.shape[1], 256), dtype=np.int8)
    tile_scales = np.ones((2, 256))
    for g, (t, s) in enumerate(placement):
        xin[t, :, 9 * s:9 * (s + 1)] = patches[g]
        tile_scales[t, s] = scales[g]
    outs = [F.tile_mvm(xin[t], tiles[t], tile_scales[t]) for t in range(2)]  # (M, 256) each
    for g, (t, s) in enumerate(placement):
        np.testing.assert_array_equal(outs[t][:, s], layer[g])


def test_mapping_rule_agrees_with_cost_model_mapping():
    """functional's tile count equals aimclib.mapping's (the cost model's) for real layers."""
    from aimclib import mapping
    from aimclib.layers import Layer, layer_info

    for cin, cout, k, groups, hw in [(64, 64, 3, 1, 8), (256, 512, 3, 1, 4), (96, 96, 3, 96, 8),
                                     (32, 64, 3, 2, 8), (1024, 1000, 1, 1, 1), (8, 8, 5, 4, 9)]:
        info = layer_info(Layer("c", "conv", ("x",), out_channels=cout, kernel=k, groups=groups),
                          [(cin, hw, hw)])
        ours = F.tile_mapping(info.k, info.n, info.g)
        assert ours.n_tiles == mapping.map_layer(info, 256, 256).tiles_full


def test_pack_groups_rejects_too_large_group():
    with pytest.raises(ShapeError, match="does not fit"):
        F.pack_groups(np.zeros((2, 300, 1), np.int8))


# -------------------------------------------------------------------------------- noise
def _noise_case():
    rng = np.random.default_rng(6)
    x = _rand_int8(rng, (10, 12, 12), 4)
    w = _rand_int8(rng, (8, 10, 3, 3), 4)  # K=90, |dot| <= 1440: a gain keeps it unsaturated
    return x, w, dict(padding=1, rows=64, scales=0.05)


def test_noise_is_seeded_and_matches_reference():
    x, w, kw = _noise_case()
    a = F.conv2d_tiles(x, w, noise_std=1.5, seed=11, **kw)
    b = F.conv2d_tiles(x, w, noise_std=1.5, seed=11, **kw)
    c = F.conv2d_tiles(x, w, noise_std=1.5, seed=12, **kw)
    g = F.conv2d_tiles(x, w, noise_std=1.5, seed=np.random.default_rng(11), **kw)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, g)
    assert np.mean(a != c) > 0.3
    np.testing.assert_array_equal(a, naive.conv2d_tiles_ref(x, w, noise_std=1.5, seed=11, **kw))


def test_zero_noise_is_exact():
    x, w, kw = _noise_case()
    clean = F.conv2d_tiles(x, w, **kw)
    np.testing.assert_array_equal(F.conv2d_tiles(x, w, noise_std=0.0, seed=3, **kw), clean)
    np.testing.assert_array_equal(clean, naive.conv2d_tiles_ref(x, w, **kw))


def test_noise_units_are_output_lsb():
    """Gain 1, one row block, no saturation: y - dot = rint(sigma * z), std ~ sqrt(s^2 + 1/12)."""
    rng = np.random.default_rng(7)
    x = _rand_int8(rng, (4, 20, 20), 3)
    w = _rand_int8(rng, (16, 4, 1, 1), 3)  # |dot| <= 36
    sigma = 3.0
    diff = (F.conv2d_tiles(x, w, noise_std=sigma, seed=1)
            - F.conv2d_tiles(x, w)).astype(np.float64)  # 6400 samples
    assert abs(diff.mean()) < 4 * sigma / np.sqrt(diff.size)
    assert diff.std() == pytest.approx(np.sqrt(sigma**2 + 1 / 12), rel=0.05)


def test_result_independent_of_thread_count():
    x, w, kw = _noise_case()
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = F.conv2d_tiles(x, w, noise_std=1.0, seed=4, **kw)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = F.conv2d_tiles(x, w, noise_std=1.0, seed=4, **kw)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


# --------------------------------------------------------------------- property test
@st.composite
def conv_shapes(draw):
    groups = draw(st.integers(1, 3))
    cg = draw(st.integers(1, 4))
    ng = draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = draw(st.integers(dh * (kh - 1) + 1, 7))
    w = draw(st.integers(dw * (kw - 1) + 1, 7))
    rows, cols = draw(st.integers(1, 40)), draw(st.integers(1, 8))
    amp = draw(st.sampled_from([2, 16, 128]))
    noise = draw(st.sampled_from([0.0, 0.8]))
    seed = draw(st.integers(0, 2**32 - 1))
    return dict(c=groups * cg, h=h, w=w, cout=groups * ng, kh=kh, kw=kw, stride=(sh, sw),
                padding=pads, dilation=(dh, dw), groups=groups, rows=rows, cols=cols, amp=amp,
                noise=noise, seed=seed)


@settings(max_examples=30, deadline=None)
@given(conv_shapes())
def test_conv2d_tiles_property(p):
    rng = np.random.default_rng(p["seed"])
    x = _rand_int8(rng, (p["c"], p["h"], p["w"]), p["amp"])
    w = _rand_int8(rng, (p["cout"], p["c"] // p["groups"], p["kh"], p["kw"]), p["amp"])
    scales = rng.uniform(0.1, 2.0, p["cout"])
    kwargs = dict(stride=p["stride"], padding=p["padding"], dilation=p["dilation"],
                  groups=p["groups"], rows=p["rows"], cols=p["cols"], scales=scales,
                  noise_std=p["noise"], seed=p["seed"])
    np.testing.assert_array_equal(F.conv2d_tiles(x, w, **kwargs),
                                  naive.conv2d_tiles_ref(x, w, **kwargs))


# ------------------------------------------------------------------ float reference bound
def _gains_without_saturation(xq, wq, rows, **conv):
    """Per-channel ADC gains mapping each channel's largest row-block |dot| to 120 LSB."""
    parts = naive.block_partials(xq, wq, rows=rows, **conv)
    peak = np.max([np.abs(p).max(axis=1) for p in parts], axis=0).astype(np.float64)
    return 120.0 / np.maximum(peak, 1.0)


FLOAT_CASES = [
    # (C, H, W, Cout, k, padding, groups, rows): R = ceil(C/groups * k*k / rows) row blocks
    (64, 6, 6, 12, 3, 1, 1, 256),   # K = 576, R = 3
    (10, 7, 7, 6, 3, 1, 2, 16),     # K = 45, R = 3
    (6, 5, 5, 6, 3, 0, 6, 256),     # depthwise, R = 1
]


@pytest.mark.parametrize("case", FLOAT_CASES)
def test_float_reference_on_exact_grid(case):
    """Inputs and weights exactly on the int8 grid: the only error is the ADC rounding.

    Bound: |tile - float| <= R * 0.5 * LSB_out[o], with R the row blocks and
    LSB_out[o] = s_x * s_w / gain[o] the real value of one output LSB of channel o.
    """
    c, h, w, cout, k, pad, groups, rows = case
    rng = np.random.default_rng(c * h)
    sx, sw = 0.02, 0.003
    xq = _rand_int8(rng, (c, h, w), 128)
    wq = _rand_int8(rng, (cout, c // groups, k, k), 128)
    gains = _gains_without_saturation(xq, wq, rows, padding=pad, groups=groups)
    acc = F.conv2d_tiles(xq, wq, padding=pad, groups=groups, rows=rows, scales=gains)
    bias = rng.normal(size=cout)
    got = F.dequantize(acc, sx, sw, gains, bias)
    want = naive.conv2d_float(xq * sx, wq * sw, padding=pad, groups=groups, bias=bias)
    n_row_blocks = F.block_grid((c // groups) * k * k, cout // groups, rows).n_row_blocks
    lsb = (sx * sw / gains)[:, None, None]
    err = np.abs(got - want)
    assert np.all(err <= n_row_blocks * 0.5 * lsb * (1 + 1e-9))
    assert err.max() > 0.05 * lsb.min()  # rounding did happen: the bound is not vacuous


@pytest.mark.parametrize("case", FLOAT_CASES)
def test_float_reference_within_quantization_bound(case):
    """Real-valued x, w quantized per tensor (s = max|v| / 127, so no clipping).

    With e_x = x - s_x x_q, |e_x| <= s_x/2 (same for w), each output obeys
    |tile - float| <= R * 0.5 * LSB_out + sum over the window of
    (s_x/2 |w| + s_w/2 |x| + s_x s_w / 4), the sum taken over non-padding taps only.
    """
    c, h, w, cout, k, pad, groups, rows = case
    rng = np.random.default_rng(c * w + 1)
    xf = np.maximum(rng.normal(size=(c, h, w)), 0.0)  # post-ReLU activations
    wf = rng.normal(scale=0.1, size=(cout, c // groups, k, k))
    sx, sw = np.abs(xf).max() / 127, np.abs(wf).max() / 127
    xq, wq = F.quantize(xf, sx), F.quantize(wf, sw)
    gains = _gains_without_saturation(xq, wq, rows, padding=pad, groups=groups)
    acc = F.conv2d_tiles(xq, wq, padding=pad, groups=groups, rows=rows, scales=gains)
    got = F.dequantize(acc, sx, sw, gains)
    want = naive.conv2d_float(xf, wf, padding=pad, groups=groups)
    conv = dict(padding=pad, groups=groups)
    ones_x, ones_w = np.ones_like(xf), np.ones_like(wf)
    quant_bound = (sx / 2 * naive.conv2d_float(ones_x, np.abs(wf), **conv)
                   + sw / 2 * naive.conv2d_float(np.abs(xf), ones_w, **conv)
                   + sx * sw / 4 * naive.conv2d_float(ones_x, ones_w, **conv))
    n_row_blocks = F.block_grid((c // groups) * k * k, cout // groups, rows).n_row_blocks
    adc_bound = n_row_blocks * 0.5 * (sx * sw / gains)[:, None, None]
    err = np.abs(got - want)
    assert np.all(err <= adc_bound + quant_bound)
    # The bound is worst case; the typical error is far smaller than the outputs themselves.
    assert np.median(err) < 0.05 * np.median(np.abs(want))


def test_dequantize_per_channel_and_bias():
    acc = np.array([[4, -2], [10, 0]], dtype=np.int32)  # (Cout=2, 2 pixels)
    out = F.dequantize(acc, 0.5, np.array([1.0, 2.0]), np.array([2.0, 4.0]), [1.0, -1.0])
    np.testing.assert_allclose(out, [[2.0, 0.5], [1.5, -1.0]])


# ------------------------------------------------------------------------------- errors
def test_float_inputs_are_type_errors_naming_the_argument():
    x = np.zeros((2, 4, 4), np.int8)
    w = np.zeros((3, 2, 1, 1), np.int8)
    with pytest.raises(DTypeError, match=r"\bx must have dtype int8, got float64"):
        F.conv2d_tiles(x.astype(np.float64), w)
    with pytest.raises(TypeError, match=r"\bw must have dtype int8, got float32"):
        F.conv2d_tiles(x, w.astype(np.float32))
    with pytest.raises(DTypeError, match="x must be a numpy array"):
        F.linear_tiles([1, 2], np.zeros((1, 2), np.int8))
    with pytest.raises(DTypeError, match="w_block must have dtype int8, got int16"):
        F.tile_mvm(np.zeros(2, np.int8), np.zeros((2, 2), np.int16))


def test_shape_mismatches_name_both_shapes():
    x = np.zeros((3, 4, 4), np.int8)
    with pytest.raises(ShapeError, match=r"\(3, 4, 4\).*\(2, 2, 1, 1\)"):
        F.conv2d_tiles(x, np.zeros((2, 2, 1, 1), np.int8))
    with pytest.raises(ValueError, match=r"\(3, 4, 4\).*\(4, 1, 1, 1\).*groups=3"):
        F.conv2d_tiles(x, np.zeros((4, 1, 1, 1), np.int8), groups=3)
    with pytest.raises(ShapeError, match=r"\(5,\).*\(3, 4\)"):
        F.linear_tiles(np.zeros(5, np.int8), np.zeros((3, 4), np.int8))
    with pytest.raises(ShapeError, match=r"scales has shape \(2,\) but w has shape"):
        F.linear_tiles(np.zeros(4, np.int8), np.zeros((3, 4), np.int8), scales=[1.0, 1.0])
    with pytest.raises(ShapeError, match=r"\(300, 2\).*256 rows"):
        F.tile_mvm(np.zeros(300, np.int8), np.zeros((300, 2), np.int8))
    with pytest.raises(ShapeError, match="empty output"):
        F.conv2d_tiles(np.zeros((1, 2, 2), np.int8), np.zeros((1, 1, 3, 3), np.int8))


def test_bad_parameters():
    x = np.zeros((2, 4, 4), np.int8)
    w = np.zeros((2, 2, 3, 3), np.int8)
    with pytest.raises(ParameterError, match="needs seed"):
        F.conv2d_tiles(x, w, noise_std=1.0)
    with pytest.raises(ParameterError, match="noise_std"):
        F.conv2d_tiles(x, w, noise_std=-1.0, seed=1)
    with pytest.raises(ParameterError, match="rows"):
        F.conv2d_tiles(x, w, rows=0)
    with pytest.raises(ParameterError, match="column 1"):
        F.conv2d_tiles(x, w, scales=[1.0, 0.0])
    with pytest.raises(LayerSpecError, match="padding"):
        F.conv2d_tiles(x, w, padding=-1)
    with pytest.raises(LayerSpecError, match="stride"):
        F.conv2d_tiles(x, w, stride=0)
