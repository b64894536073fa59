"""Tight and loose tile interfaces: per-MVM costs and chunk times, computed by hand.

alpine-tight / alpine-loose: 2 GHz; cmqueue/cmdequeue move 4 B in 2 cycles (1 ns); cmprocess
200 cycles (100 ns); host work per MVM: gather rows / 8 B per cycle (``gather``, the default
here: a convolution with a kernel larger than 1x1), no quantise (the int8 digital code's
activations already match the tile's 8-bit inputs), then
(2 + 1 if a later row block, or if the first block of a layer with bias) * cols ops at 4 ops
per cycle. Loose: 4 register writes x 10 ns + (100 driver + 2000 completion) cycles per job;
a job moves as many input vectors as the 4096 B job buffer holds (16 of 256 B); 4 GB/s link.
MVM energy: the 14 nm tile figures x (28 / 14)^1 = 2 at the cores' 28 nm node.
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
    # host: gather 256/8 = 32 cycles; dequantise 2*256 = 512 ops / 4 = 128 cycles
    # -> 160 cycles = 80 ns
    assert c.host_s[0] == approx(80 * NS)
    assert c.core_s[0] == approx(308 * NS)
    assert c.bus_bytes[0] == 0.0
    # 1.024 nJ + 256 * 12 pJ + 256 * 24 pJ = 10.24 nJ = 2 * 256 * 256 / 12.8e12 at 14 nm,
    # x 2 at 28 nm = 20.48 nJ
    assert c.energy_j[0] == approx(2 * 2 * 256 * 256 / 12.8e12)
    assert c.job_s == 0.0 and c.vectors_per_job == 1


def test_tight_partial_rows_and_cols():
    iface = TightInterface()
    c = iface.mvm_cost(TIGHT, np.array([27, 27, 192, 1]), np.array([64, 64, 256, 1]),
                       np.array([0, 1, 2, 0]))
    # 27 rows -> ceil(27/4) = 7 queues, 64 cols -> 16 dequeues: (7 + 16) * 2 = 46 cycles = 23 ns
    # 192 x 256: (48 + 64) * 2 = 224 cycles = 112 ns;  1 x 1: (1 + 1) * 2 = 4 cycles = 2 ns
    assert c.iface_s.tolist() == pytest.approx([23 * NS, 23 * NS, 112 * NS, 2 * NS], rel=1e-12)
    assert c.stall_s.tolist() == pytest.approx([100 * NS] * 4, rel=1e-12)
    # 27 x 64, first block: 27/8 = 3.375 + 128/4 = 32 -> 35.375 cycles = 17.6875 ns
    # 27 x 64, later block: + 64 psum adds / 4 = 16 cycles -> 51.375 cycles = 25.6875 ns
    # 192 x 256, later block: 24 + 3*256/4 = 24 + 192 = 216 cycles = 108 ns
    # 1 x 1: 0.125 + 2/4 = 0.625 cycles = 0.3125 ns
    assert c.host_s.tolist() == pytest.approx(
        [17.6875 * NS, 25.6875 * NS, 108 * NS, 0.3125 * NS], rel=1e-12)
    # energy: 2 x (1.024 nJ + rows * 12 pJ + cols * 24 pJ)
    #   27 x 64: 2 x (1.024 + 0.324 + 1.536 = 2.884) = 5.768 nJ;
    #   192 x 256: 2 x (1.024 + 2.304 + 6.144 = 9.472) = 18.944 nJ;
    #   1 x 1: 2 x (1.024 + 0.012 + 0.024 = 1.06) = 2.12 nJ
    assert c.energy_j.tolist() == pytest.approx(
        [5.768e-9, 5.768e-9, 18.944e-9, 2.12e-9], rel=1e-12)
    assert iface.host_seconds(TIGHT, 27, 64, 1) == approx(25.6875 * NS)


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


@pytest.mark.parametrize("m, core_ns", [(1, 308), (16, 16 * 308), (17, 17 * 308)])
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
    assert c.host_s[0] == approx(80 * NS)  # same host work as tight
    # (256 + 256) B / 4 GB/s = 128 ns of transfers + 100 ns MVM
    assert c.tile_s[0] == approx(228 * NS)
    assert c.bus_bytes[0] == 512
    assert c.energy_j[0] == approx(20.48e-9)  # 2 x 10.24 nJ
    # a 4096 B job buffer holds 4096 // 256 = 16 input vectors of 256 B
    assert c.job_s == approx(1090 * NS) and c.vectors_per_job.tolist() == [16]


@pytest.mark.parametrize("m, jobs, core_ns", [
    # core: m * 80 ns + jobs * 1090 ns, jobs = ceil(m / 16)
    (0, 0, 0),
    (1, 1, 80 + 1090),  # 1170
    (16, 1, 16 * 80 + 1090),  # 2370
    (17, 2, 17 * 80 + 2 * 1090),  # 3540
])
def test_loose_chunks(m, jobs, core_ns):
    c = LooseInterface().mvm_cost(LOOSE, np.array([256]), np.array([256]), np.array([0]))
    assert int(c.jobs(m, 0)) == jobs and c.jobs(m).tolist() == [jobs]
    assert c.chunk_core_s(m)[0] == approx(core_ns * NS)


def test_loose_partial_rows_and_bits():
    c = LooseInterface().mvm_cost(LOOSE, np.array([144, 192]), np.array([16, 256]),
                                  np.array([0, 1]))
    # 144 x 16 (a packed depthwise tile): (144 + 16) / 4e9 = 40 ns + 100 ns = 140 ns
    # 192 x 256: 448 B / 4e9 = 112 ns + 100 ns = 212 ns
    assert c.tile_s.tolist() == pytest.approx([140 * NS, 212 * NS], rel=1e-12)
    assert c.bus_bytes.tolist() == [160, 448]
    # host 144 x 16: 144/8 = 18 + 16*2/4 = 8 -> 26 cycles = 13 ns; 192 x 256 later block:
    # 24 + 3*256/4 = 216 cycles = 108 ns
    assert c.host_s.tolist() == pytest.approx([13 * NS, 108 * NS], rel=1e-12)
    # jobs: 4096 B // 144 B = 28 vectors, 4096 // 192 = 21 vectors (21.33 rounded down)
    assert c.vectors_per_job.tolist() == [28, 21]
    # 4-bit inputs halve the input bytes: 144 * 4/8 + 16 = 88 B -> 22 ns + 100 ns; a job
    # holds 4096 // 72 = 56 vectors. The int8 activations are now wider than the 4-bit DACs:
    # the host quantises them, 2 ops per input: 18 + (2*144 + 2*16)/4 = 98 cycles = 49 ns
    c4 = LooseInterface().mvm_cost(load_system("alpine-loose", tile__input_bits=4),
                                   np.array([144]), np.array([16]), np.array([0]))
    assert c4.bus_bytes[0] == 88 and c4.tile_s[0] == approx(122 * NS)
    assert c4.vectors_per_job.tolist() == [56] and c4.host_s[0] == approx(49 * NS)


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
    # 27 x 64, first block with bias: 27/8 = 3.375 + (2 + 1) * 64/4 = 48
    #   -> 51.375 cycles = 25.6875 ns (one bias add per output, as much as a partial-sum add)
    # 27 x 64, later block: the bias was added on the first block, so the same 51.375 cycles
    # 256 x 256, first block with bias: 32 + 3 * 256/4 = 32 + 192 = 224 cycles = 112 ns
    assert c.host_s.tolist() == pytest.approx([25.6875 * NS, 25.6875 * NS, 112 * NS],
                                              rel=1e-12)
    plain = iface.mvm_cost(preset, rows, cols, rb)
    # without a bias: 35.375 cycles = 17.6875 ns, 25.6875 ns, 160 cycles = 80 ns
    assert plain.host_s.tolist() == pytest.approx([17.6875 * NS, 25.6875 * NS, 80 * NS],
                                                  rel=1e-12)
    # only the host work changes
    for name in ("iface_s", "stall_s", "tile_s", "bus_bytes", "energy_j"):
        assert getattr(c, name).tolist() == getattr(plain, name).tolist(), name
    assert iface.host_seconds(preset, 256, 256, 0, True) == approx(112 * NS)
    assert iface.host_seconds(preset, 256, 256, 1, True) == approx(112 * NS)  # psum, no bias
