"""Tile mapping: balanced splits, packing of small groups, units and partial mappings.

Expected values are worked out by hand in the comments from the rules in aimclib/mapping.py's
module docstring, on 256 x 256 tiles unless a case says otherwise.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimclib.errors import AimcError, ParameterError
from aimclib.layers import Layer, layer_info
from aimclib.mapping import groups_per_tile, map_layer, split_sizes


def conv(cin, cout, k=1, hw=8, groups=1, padding=0, stride=1):
    return layer_info(Layer("c", "conv", ("x",), out_channels=cout, kernel=k, groups=groups,
                            padding=padding, stride=stride), [(cin, hw, hw)])


def linear(fin, fout):
    return layer_info(Layer("fc", "linear", ("x",), out_channels=fout), [(fin, 1, 1)])


# --------------------------------------------------------------------------- split_sizes
@pytest.mark.parametrize("size, tile, expect", [
    (600, 256, [200, 200, 200]),  # ceil(600/256) = 3 chunks, 600 / 3 = 200
    (256, 256, [256]),
    (257, 256, [129, 128]),  # 2 chunks, 257 = 2 * 128 + 1 -> first one larger
    (1, 256, [1]),
    (1000, 256, [250, 250, 250, 250]),
    (2048, 256, [256] * 8),
    (32, 28, [16, 16]),
    (29, 28, [15, 14]),
    (10, 3, [3, 3, 2, 2]),  # 4 chunks, 10 = 4 * 2 + 2 -> two of 3
])
def test_split_sizes(size, tile, expect):
    got = split_sizes(size, tile)
    assert got.tolist() == expect
    assert got.dtype == np.int64


@given(size=st.integers(1, 5000), tile=st.integers(1, 600))
@settings(max_examples=100, deadline=None)
def test_split_sizes_properties(size, tile):
    got = split_sizes(size, tile)
    assert got.sum() == size
    assert len(got) == -(-size // tile)
    assert got.max() <= tile and got.max() - got.min() <= 1
    assert list(got) == sorted(got, reverse=True)


def test_groups_per_tile():
    # depthwise 3x3: K = 9, N = 1 -> min(256 // 9, 256 // 1) = min(28, 256) = 28
    assert groups_per_tile(9, 1, 256, 256) == 28
    # ResNeXt-style group: K = 4 * 9 = 36, N = 4 -> min(7, 64) = 7
    assert groups_per_tile(36, 4, 256, 256) == 7
    assert groups_per_tile(257, 1, 256, 256) == 0
    assert groups_per_tile(1, 257, 256, 256) == 0
    assert groups_per_tile(256, 256, 256, 256) == 1


# --------------------------------------------------------------------------- dense layers
def test_conv3x3_64_to_64():
    info = conv(64, 64, k=3, padding=1, hw=56)
    mp = map_layer(info, 256, 256)
    # K = 64 * 9 = 576 -> split_sizes(576, 256) = 3 row blocks of 192; N = 64 -> 1 column block
    assert (mp.m, mp.k, mp.n, mp.g) == (56 * 56, 576, 64, 1)
    assert not mp.packed
    assert mp.n_units == 1 and mp.unit_tiles.tolist() == [3] and mp.tiles_full == 3
    assert mp.tile_rows.tolist() == [192, 192, 192]
    assert mp.tile_cols.tolist() == [64, 64, 64]
    assert mp.tile_row_block.tolist() == [0, 1, 2]
    assert mp.unit_weights.tolist() == [576 * 64] and mp.unit_outputs.tolist() == [64]
    full = mp.partial(1)
    # utilisation = 192 * 64 * 3 / (3 * 65536) = 36864 / 196608 = 0.1875
    assert full.utilisation == pytest.approx(0.1875, rel=1e-12)
    assert full.coverage == 1.0 and full.tiles_used == 3 and full.digital_outputs == 0
    assert full.digital_pieces() == []  # nothing left digital
    assert mp.partial(0).digital_pieces() == [(64, 1)]  # G = 1: one piece of all 64 outputs


def test_linear_2048_to_1000():
    mp = map_layer(linear(2048, 1000), 256, 256)
    # K = 2048 -> 8 row blocks of 256; N = 1000 -> 4 column blocks of 250
    assert (mp.m, mp.k, mp.n, mp.g) == (1, 2048, 1000, 1)
    assert mp.n_units == 4 and mp.unit_tiles.tolist() == [8, 8, 8, 8] and mp.tiles_full == 32
    assert mp.unit_outputs.tolist() == [250] * 4
    assert mp.unit_weights.tolist() == [250 * 2048] * 4
    assert mp.tile_rows.tolist() == [256] * 32
    assert mp.tile_cols.tolist() == [250] * 32
    assert mp.tile_unit.tolist() == [u for u in range(4) for _ in range(8)]
    assert mp.tile_row_block.tolist() == list(range(8)) * 4
    one = mp.partial(1)
    assert one.tiles_used == 8 and one.coverage == 0.25
    # utilisation = 250 * 2048 / (8 * 65536) = 512000 / 524288 = 0.9765625
    assert one.utilisation == 0.9765625
    assert one.digital_outputs == 750
    assert one.digital_pieces() == [(750, 1)]  # G = 1: the 3 unmapped blocks, 3 * 250
    assert one.tile_mask.tolist() == [True] * 8 + [False] * 24
    none = mp.partial(0)
    assert none.tiles_used == 0 and none.coverage == 0.0 and none.utilisation == 0.0
    assert none.digital_pieces() == [(1000, 1)]
    assert mp.partial(4).digital_pieces() == []
    assert not none.tile_mask.any()


def test_units_within():
    mp = map_layer(linear(2048, 1000), 256, 256)  # units of 8 tiles: cumsum 8, 16, 24, 32
    assert [mp.units_within(t) for t in (0, 7, 8, 15, 16, 31, 32, 100)] == [0, 0, 1, 1, 2, 3,
                                                                            4, 4]
    assert [mp.tiles_for(u) for u in range(5)] == [0, 8, 16, 24, 32]
    c = map_layer(conv(64, 64, k=3, padding=1), 256, 256)  # one unit of 3 tiles
    assert [c.units_within(t) for t in (0, 1, 2, 3, 4)] == [0, 0, 0, 1, 1]


def test_non_square_tiles():
    # linear 300 -> 100 on 128-row x 64-column tiles: K: split_sizes(300, 128) = [100]*3,
    # N: split_sizes(100, 64) = [50, 50] -> 2 units of 3 tiles
    mp = map_layer(linear(300, 100), 128, 64)
    assert mp.unit_tiles.tolist() == [3, 3]
    assert mp.tile_rows.tolist() == [100] * 6 and mp.tile_cols.tolist() == [50] * 6
    # utilisation of one unit: 100 * 50 * 3 / (3 * 128 * 64) = 15000 / 24576
    assert mp.partial(1).utilisation == pytest.approx(15000 / 24576, rel=1e-12)


# --------------------------------------------------------------------------- grouped layers
def test_depthwise_3x3_32_channels_packs_on_two_tiles():
    info = conv(32, 32, k=3, padding=1, groups=32, hw=112)
    mp = map_layer(info, 256, 256)
    # K = 9, N = 1, G = 32: 28 groups per tile -> split_sizes(32, 28) = [16, 16] groups
    assert (mp.k, mp.n, mp.g) == (9, 1, 32)
    assert mp.packed
    assert mp.unit_tiles.tolist() == [1, 1] and mp.tiles_full == 2
    assert mp.tile_rows.tolist() == [144, 144]  # 16 groups x 9 rows
    assert mp.tile_cols.tolist() == [16, 16]  # 16 groups x 1 column
    assert mp.tile_row_block.tolist() == [0, 0]
    assert mp.unit_weights.tolist() == [144, 144] and mp.unit_outputs.tolist() == [16, 16]
    half = mp.partial(1)
    assert half.coverage == 0.5 and half.tiles_used == 1
    # 144 weights on 65,536 cells
    assert half.utilisation == pytest.approx(144 / 65536, rel=1e-12)
    assert half.digital_outputs == 16
    # packed: 16 whole groups of 112*112 x 9 x 1 stay digital, as one piece (n=1, g=16)
    assert half.digital_pieces() == [(1, 16)]
    assert mp.partial(0).digital_pieces() == [(1, 32)]
    assert mp.partial(2).digital_pieces() == []


def test_depthwise_utilisation_of_the_docstring():
    # 56 channels: split_sizes(56, 28) = [28, 28]; 28 * 9 = 252 of 65,536 cells = 0.38 %
    mp = map_layer(conv(56, 56, k=3, padding=1, groups=56), 256, 256)
    assert mp.tile_rows.tolist() == [252, 252]
    assert mp.partial(2).utilisation == pytest.approx(252 / 65536, rel=1e-12)
    assert round(100 * mp.partial(2).utilisation, 2) == 0.38


def test_grouped_conv_whose_group_does_not_fit():
    # 1x1 conv 1024 -> 64, groups 2: K = 512 > 256 rows, N = 32 -> no packing;
    # per group 2 row blocks of 256, 1 column block of 32 -> 2 units (one per group) of 2 tiles
    mp = map_layer(conv(1024, 64, groups=2), 256, 256)
    assert (mp.k, mp.n, mp.g) == (512, 32, 2)
    assert not mp.packed
    assert mp.unit_tiles.tolist() == [2, 2]
    assert mp.tile_unit.tolist() == [0, 0, 1, 1]
    assert mp.tile_rows.tolist() == [256] * 4 and mp.tile_cols.tolist() == [32] * 4
    assert mp.tile_row_block.tolist() == [0, 1, 0, 1]
    assert mp.unit_weights.tolist() == [512 * 32] * 2 and mp.unit_outputs.tolist() == [32, 32]
    half = mp.partial(1)
    assert half.coverage == 0.5 and half.digital_outputs == 32
    # utilisation = 16384 / (2 * 65536) = 0.125
    assert half.utilisation == 0.125
    # grouped, not packed: one piece per group with unmapped outputs, never one GEMM of
    # 64 outputs over a 512 fan-in (the groups do not share inputs)
    assert half.digital_pieces() == [(32, 1)]  # group 1's 32 outputs
    assert mp.partial(0).digital_pieces() == [(32, 1), (32, 1)]


def test_grouped_conv_with_wide_groups():
    # 1x1 conv 64 -> 1024, groups 2: K = 32, N = 512 > 256 columns -> no packing;
    # per group 1 row block, 2 column blocks of 256 -> 4 units of 1 tile
    mp = map_layer(conv(64, 1024, groups=2), 256, 256)
    assert not mp.packed
    assert mp.unit_tiles.tolist() == [1, 1, 1, 1]
    assert mp.tile_rows.tolist() == [32] * 4 and mp.tile_cols.tolist() == [256] * 4
    assert mp.unit_outputs.tolist() == [256] * 4
    # units 0, 1 are group 0's column blocks, 2, 3 group 1's; pieces are per group
    assert mp.partial(0).digital_pieces() == [(512, 1), (512, 1)]
    assert mp.partial(1).digital_pieces() == [(256, 1), (512, 1)]  # group 0 keeps block 1
    assert mp.partial(2).digital_pieces() == [(512, 1)]  # group 0 done, group 1 all digital
    assert mp.partial(3).digital_pieces() == [(256, 1)]
    assert mp.partial(4).digital_pieces() == []


def test_resnext_group_conv_packs():
    # 3x3 conv 128 -> 128, groups 32: K = 4 * 9 = 36, N = 4; gpt = min(256 // 36, 256 // 4) = 7
    # split_sizes(32, 7) = 5 tiles: [7, 7, 6, 6, 6]
    mp = map_layer(conv(128, 128, k=3, padding=1, groups=32), 256, 256)
    assert mp.packed
    assert mp.unit_tiles.tolist() == [1] * 5
    assert mp.tile_rows.tolist() == [252, 252, 216, 216, 216]
    assert mp.tile_cols.tolist() == [28, 28, 24, 24, 24]
    assert mp.unit_weights.tolist() == [7 * 144, 7 * 144, 6 * 144, 6 * 144, 6 * 144]
    two = mp.partial(2)
    # 14 of 32 groups on tiles; 18 groups of 36 x 4 stay digital
    assert two.coverage == 14 / 32
    assert two.digital_pieces() == [(4, 18)]  # packed: 18 whole groups of 36 x 4


def test_single_group_that_fits_is_not_packed():
    mp = map_layer(conv(16, 16), 256, 256)  # g = 1: a plain 16 x 16 block
    assert not mp.packed and mp.unit_tiles.tolist() == [1]
    assert mp.tile_rows.tolist() == [16] and mp.tile_cols.tolist() == [16]


def test_partial_out_of_range_and_non_mvm_layer():
    mp = map_layer(linear(2048, 1000), 256, 256)
    for bad in (-1, 5):
        with pytest.raises(ValueError, match=r"units must be in \[0, 4\]"):
            mp.partial(bad)
    relu = layer_info(Layer("r", "relu", ("x",)), [(8, 4, 4)])
    with pytest.raises(ValueError, match="'r'"):
        map_layer(relu, 256, 256)
    with pytest.raises(ValueError):
        split_sizes(0, 256)


def test_mapping_errors_are_aimc_errors():
    mp = map_layer(linear(2048, 1000), 256, 256)
    for bad in (-1, 5):
        with pytest.raises(ParameterError, match=r"layer 'fc': units must be in \[0, 4\]"):
            mp.partial(bad)
    relu = layer_info(Layer("r", "relu", ("x",)), [(8, 4, 4)])
    with pytest.raises(ParameterError, match="'r' \\(relu\\) has no weights.*conv and linear"):
        map_layer(relu, 256, 256)
    with pytest.raises(AimcError, match="size must be an integer >= 1"):
        split_sizes(0, 256)


# --------------------------------------------------------------------------- properties
@st.composite
def grouped_layers(draw):
    g = draw(st.integers(1, 12))
    kc = draw(st.integers(1, 40))  # input channels per group
    n = draw(st.integers(1, 40))  # output channels per group
    k = draw(st.sampled_from([1, 3]))
    rows = draw(st.integers(1, 64))
    cols = draw(st.integers(1, 64))
    return conv(g * kc, g * n, k=k, hw=k + 1, groups=g), rows, cols


@given(grouped_layers())
@settings(max_examples=150, deadline=None)
def test_tiles_cover_every_weight_once(case):
    info, rows, cols = case
    mp = map_layer(info, rows, cols)
    k, n, g = mp.k, mp.n, mp.g
    assert mp.weights == info.weights == g * k * n
    assert (mp.tile_rows <= rows).all() and (mp.tile_cols <= cols).all()
    assert (mp.tile_rows >= 1).all() and (mp.tile_cols >= 1).all()
    assert len(mp.tile_rows) == mp.tiles_full == len(mp.tile_unit)
    assert np.bincount(mp.tile_unit).tolist() == mp.unit_tiles.tolist()
    assert mp.unit_weights.sum() == g * k * n and mp.unit_outputs.sum() == g * n
    if mp.packed:
        # block-diagonal: groups_on_tile * k rows and groups_on_tile * n columns
        groups_on = mp.tile_rows // k
        assert (groups_on * k == mp.tile_rows).all() and (groups_on * n == mp.tile_cols).all()
        assert groups_on.sum() == g
        assert (groups_on * k * n == mp.unit_weights).all()
        assert (mp.tile_row_block == 0).all()
    else:
        # dense blocks: every cell of the used rectangle holds one weight, no overlap
        assert int((mp.tile_rows * mp.tile_cols).sum()) == g * k * n
        for u in range(mp.n_units):
            sel = mp.tile_unit == u
            assert mp.tile_rows[sel].sum() == k  # the row blocks add up to the fan-in
            assert (mp.tile_cols[sel] == mp.unit_outputs[u]).all()
            assert mp.tile_row_block[sel].tolist() == list(range(sel.sum()))


@given(grouped_layers())
@settings(max_examples=100, deadline=None)
def test_partial_mappings_are_monotone_and_complementary(case):
    info, rows, cols = case
    mp = map_layer(info, rows, cols)
    prev_cov, prev_tiles = -1.0, -1
    for u in range(mp.n_units + 1):
        part = mp.partial(u)
        assert part.coverage >= prev_cov and part.tiles_used >= prev_tiles
        prev_cov, prev_tiles = part.coverage, part.tiles_used
        assert 0.0 <= part.utilisation <= 1.0
        assert int(part.tile_mask.sum()) == part.tiles_used
        assert mp.units_within(part.tiles_used) >= u
        # the digital remainder computes exactly the MACs and outputs the tiles do not
        pieces = part.digital_pieces()
        mapped_macs = mp.m * part.weights_covered
        assert sum(mp.m * mp.k * n * g for n, g in pieces) + mapped_macs == info.macs
        assert sum(n * g for n, g in pieces) == part.digital_outputs
        assert all(n >= 1 and g >= 1 for n, g in pieces)
        # packed layers leave whole groups in one piece; others at most one piece per group
        assert len(pieces) <= (1 if mp.packed else mp.g)
        if not mp.packed:
            assert all(g == 1 and n <= mp.n for n, g in pieces)
    assert mp.partial(0).coverage == 0.0 and mp.partial(mp.n_units).coverage == 1.0
