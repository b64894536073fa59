"""Tight and loose tile interfaces: per-MVM costs and chunk times, computed by hand.

alpine-tight / alpine-loose: 2 GHz; cmqueue/cmdequeue move 4 B in 2 cycles (1 ns); cmprocess
200 cycles (100 ns); host work per MVM: gather rows / 8 B per cycle, then
(2 * rows + (2 + 1 if a later row block, or if the first block of a layer with bias) * cols)
ops at 4 ops per cycle. Loose: 4 register
writes x 10 ns + (100 driver + 2000 completion) cycles per job of 16 vectors; 4 GB/s link.
"""

import numpy as np
import pytest

from aimclib.interface import (INTERFACES, LooseInterface, MvmCost, TightInterface,
                               interface_for)
from aimclib.system import load_system

TIGHT = load_system("alpine-tight")
LOOSE = load_system("alpine-loose")
NS = 1e-9


def approx(x):
    return pytest.approx(x, rel=1e-12)


def test_interface_registry():
    assert isinstance(interface_for(TIGHT), TightInterface)
    assert isinstance(interface_for(LOOSE), LooseInterface)
    assert set(INTERFACES) == {"tight", "loose"}
    assert not TightInterface.shared and LooseInterface.shared


def test_tight_full_mvm_matches_alpine():
    c = TightInterface().mvm_cost(TIGHT, np.array([256]), np.array([256]), np.array([0]))
    # 64 cmqueue x 2 cycles + 64 cmdequeue x 2 cycles = 256 cycles = 128 ns
    assert c.iface_s[0] == approx(128 * NS)
    # cmprocess: max(200 cycles / 2 GHz, 100 ns) = 100 ns; ALPINE: 64 + 64 + 100 = 228 ns
    assert c.stall_s[0] == approx(100 * NS)
    assert c.tile_s[0] == approx(228 * NS)
    # host: gather 256/8 = 32 cycles; ops 2*256 + 2*256 = 1024 / 4 = 256 cycles -> 288 = 144 ns
    assert c.host_s[0] == approx(144 * NS)
    assert c.core_s[0] == approx(372 * NS)
    assert c.bus_bytes[0] == 0.0
    # 1.024 nJ + 256 * 12 pJ + 256 * 24 pJ = 10.24 nJ = 2 * 256 * 256 / 12.8e12
    assert c.energy_j[0] == approx(2 * 256 * 256 / 12.8e12)
    assert c.job_s == 0.0 and c.vectors_per_job == 1


def test_tight_partial_rows_and_cols():
    iface = TightInterface()
    c = iface.mvm_cost(TIGHT, np.array([27, 27, 192, 1]), np.array([64, 64, 256, 1]),
                       np.array([0, 1, 2, 0]))
    # 27 rows -> ceil(27/4) = 7 queues, 64 cols -> 16 dequeues: (7 + 16) * 2 = 46 cycles = 23 ns
    # 192 x 256: (48 + 64) * 2 = 224 cycles = 112 ns;  1 x 1: (1 + 1) * 2 = 4 cycles = 2 ns
    assert c.iface_s.tolist() == pytest.approx([23 * NS, 23 * NS, 112 * NS, 2 * NS], rel=1e-12)
    assert c.stall_s.tolist() == pytest.approx([100 * NS] * 4, rel=1e-12)
    # 27 x 64, first block: 27/8 = 3.375 + (54 + 128)/4 = 45.5 -> 48.875 cycles = 24.4375 ns
    # 27 x 64, later block: + 64 psum adds / 4 = 16 cycles -> 64.875 cycles = 32.4375 ns
    # 192 x 256, later block: 24 + (384 + 3*256)/4 = 24 + 288 = 312 cycles = 156 ns
    # 1 x 1: 0.125 + (2 + 2)/4 = 1.125 cycles = 0.5625 ns
    assert c.host_s.tolist() == pytest.approx(
        [24.4375 * NS, 32.4375 * NS, 156 * NS, 0.5625 * NS], rel=1e-12)
    # energy: 1.024 nJ + rows * 12 pJ + cols * 24 pJ
    #   27 x 64: 1.024 + 0.324 + 1.536 = 2.884 nJ; 192 x 256: 1.024 + 2.304 + 6.144 = 9.472 nJ
    #   1 x 1: 1.024 + 0.012 + 0.024 = 1.06 nJ
    assert c.energy_j.tolist() == pytest.approx(
        [2.884e-9, 2.884e-9, 9.472e-9, 1.06e-9], rel=1e-12)
    assert iface.host_seconds(TIGHT, 27, 64, 1) == approx(32.4375 * NS)


def test_tight_stall_is_the_longer_of_cmprocess_and_the_tile():
    slow_tile = load_system(tile__mvm_latency_s=300e-9)
    c = TightInterface().mvm_cost(slow_tile, np.array([256]), np.array([256]), np.array([0]))
    assert c.stall_s[0] == approx(300 * NS)
    slow_instr = load_system(tight__process_cycles=1000)  # 1000 cycles / 2 GHz = 500 ns
    c = TightInterface().mvm_cost(slow_instr, np.array([256]), np.array([256]), np.array([0]))
    assert c.stall_s[0] == approx(500 * NS)
    # 8-byte transfers halve the instruction count: (32 + 32) * 2 cycles = 64 ns
    wide = load_system(tight__transfer_bytes=8)
    c = TightInterface().mvm_cost(wide, np.array([256]), np.array([256]), np.array([0]))
    assert c.iface_s[0] == approx(64 * NS)


@pytest.mark.parametrize("m, core_ns", [(1, 372), (16, 16 * 372), (17, 17 * 372)])
def test_tight_chunks(m, core_ns):
    c = TightInterface().mvm_cost(TIGHT, np.array([256]), np.array([256]), np.array([0]))
    assert c.jobs(m) == m  # one "job" per MVM: no batching
    assert c.chunk_core_s(m)[0] == approx(core_ns * NS)


def test_loose_full_mvm():
    iface = LooseInterface()
    # job: 4 writes x 10 ns + (100 + 2000) cycles / 2 GHz = 40 + 1050 = 1090 ns
    assert iface.job_core_seconds(LOOSE) == approx(1090 * NS)
    c = iface.mvm_cost(LOOSE, np.array([256]), np.array([256]), np.array([0]))
    assert c.iface_s[0] == 0.0 and c.stall_s[0] == 0.0
    assert c.host_s[0] == approx(144 * NS)  # same host work as tight
    # (256 + 256) B / 4 GB/s = 128 ns of transfers + 100 ns MVM
    assert c.tile_s[0] == approx(228 * NS)
    assert c.bus_bytes[0] == 512
    assert c.energy_j[0] == approx(10.24e-9)
    assert c.job_s == approx(1090 * NS) and c.vectors_per_job == 16


@pytest.mark.parametrize("m, jobs, core_ns", [
    # core: m * 144 ns + jobs * 1090 ns
    (0, 0, 0),
    (1, 1, 144 + 1090),  # 1234
    (16, 1, 16 * 144 + 1090),  # 3394
    (17, 2, 17 * 144 + 2 * 1090),  # 4628
])
def test_loose_chunks(m, jobs, core_ns):
    c = LooseInterface().mvm_cost(LOOSE, np.array([256]), np.array([256]), np.array([0]))
    assert int(c.jobs(m)) == jobs
    assert c.chunk_core_s(m)[0] == approx(core_ns * NS)


def test_loose_partial_rows_and_bits():
    c = LooseInterface().mvm_cost(LOOSE, np.array([144, 192]), np.array([16, 256]),
                                  np.array([0, 1]))
    # 144 x 16 (a packed depthwise tile): (144 + 16) / 4e9 = 40 ns + 100 ns = 140 ns
    # 192 x 256: 448 B / 4e9 = 112 ns + 100 ns = 212 ns
    assert c.tile_s.tolist() == pytest.approx([140 * NS, 212 * NS], rel=1e-12)
    assert c.bus_bytes.tolist() == [160, 448]
    # host 144 x 16: 18 + (288 + 32)/4 = 98 cycles = 49 ns; 192 x 256 later block: 156 ns
    assert c.host_s.tolist() == pytest.approx([49 * NS, 156 * NS], rel=1e-12)
    # 4-bit inputs halve the input bytes: 144 * 4/8 + 16 = 88 B -> 22 ns + 100 ns
    c4 = LooseInterface().mvm_cost(load_system("alpine-loose", tile__input_bits=4),
                                   np.array([144]), np.array([16]), np.array([0]))
    assert c4.bus_bytes[0] == 88 and c4.tile_s[0] == approx(122 * NS)


def test_mvm_cost_core_s_sums_its_parts():
    c = MvmCost(iface_s=np.array([1.0]), stall_s=np.array([2.0]), host_s=np.array([4.0]),
                tile_s=np.array([3.0]), bus_bytes=np.array([0.0]), energy_j=np.array([0.0]),
                job_s=10.0, vectors_per_job=4)
    assert c.core_s[0] == 7.0
    # m = 5: core 5 * 7 + ceil(5/4) * 10 = 55
    assert c.chunk_core_s(5)[0] == 55.0 and c.chunk_core_s(0)[0] == 0.0


@pytest.mark.parametrize("preset", [TIGHT, LOOSE], ids=["tight", "loose"])
def test_bias_is_added_on_the_first_row_block(preset):
    iface = interface_for(preset)
    rows, cols, rb = np.array([27, 27, 256]), np.array([64, 64, 256]), np.array([0, 1, 0])
    c = iface.mvm_cost(preset, rows, cols, rb, bias=True)
    # 27 x 64, first block with bias: 27/8 = 3.375 + (54 + (2 + 1) * 64)/4 = 61.5
    #   -> 64.875 cycles = 32.4375 ns (one bias add per output, as much as a partial-sum add)
    # 27 x 64, later block: the bias was added on the first block, so the same 64.875 cycles
    # 256 x 256, first block with bias: 32 + (512 + 3 * 256)/4 = 32 + 320 = 352 cycles = 176 ns
    assert c.host_s.tolist() == pytest.approx([32.4375 * NS, 32.4375 * NS, 176 * NS],
                                              rel=1e-12)
    plain = iface.mvm_cost(preset, rows, cols, rb)
    # without a bias: 48.875 cycles = 24.4375 ns, 32.4375 ns, 288 cycles = 144 ns
    assert plain.host_s.tolist() == pytest.approx([24.4375 * NS, 32.4375 * NS, 144 * NS],
                                                  rel=1e-12)
    # only the host work changes
    for name in ("iface_s", "stall_s", "tile_s", "bus_bytes", "energy_j"):
        assert getattr(c, name).tolist() == getattr(plain, name).tolist(), name
    assert iface.host_seconds(preset, 256, 256, 0, True) == approx(176 * NS)
    assert iface.host_seconds(preset, 256, 256, 1, True) == approx(176 * NS)  # psum, no bias
