"""Single-layer latency and energy: ``layer_cost`` schedules the layer with the simulator
(barrier mode, static-balanced: the better of its own split and static-even); the expected
schedules are worked out by hand from aimclib/engine.py's rules and aimclib/balancing.py's
splits, and checked against the ideal bounds of aimclib/layercost.py's docstring.

The systems (TIGHT, LOOSE below): alpine-tight / alpine-loose with the parameters the worked
cases use stated explicitly, so that a change of a shipped default does not move them. The
digital side is a fixed 8 MAC/cycle peak (every SIMD instruction a MAC) at gemm_efficiency
0.5, i.e. 4 MAC/cycle sustained: above the plausible range of the default int8-intrinsics
class (1.1-1.5 MAC/cycle), and kept because the schedules below are worked out with it (this
module tests the scheduling equations, not the default baseline; tests/test_cpu.py checks the
kernel classes' peaks).

Per-MVM costs (2 GHz; see tests/test_interface.py for their derivation). Host work: an im2col
gather rows / 8 B per cycle only for convolutions with a kernel larger than 1x1, no quantise
(int8 activations feed the int8 DACs as they are), 2 dequantise ops per output (+1 partial-sum
add on a later row block, or a bias add on the first) at 4 ops/cycle.
Dense 256 x 256 tile: tight core time 128 (queue/dequeue) + 100 (cmprocess) + 64 (host) =
292 ns, a later row block adds 256 psum adds / 4 = 32 ns; loose host 64 ns, tile 228 ns,
1090 ns per job of 4096 B // 256 B = 16 MVMs. A tile is busy (``tile_mvm`` seconds) for its
transfers and the MVM: 228 ns for 256 x 256, tight or loose. Tight partial sums: a tile on
another core than its unit's first row block moves 2 x 256 B through the L2 per MVM
(512 B / (16 B/cycle x 2 GHz) = 16 ns) and pays one 400-cycle (200 ns) hand-over per task.
Power: core 0.2 W busy, 0.02 W idle; tile 1 mW static x (28 / 14)^1 = 2 at the cores' node,
for the tiles that hold weights (power gating "unused"; the all-digital baseline has no
tiles); MVM energy x 2 likewise (a full 256 x 256 MVM: 2 x 10.24 = 20.48 nJ); DRAM 120 pJ/B;
bus 40 pJ/B.
Digital GEMM (tests/test_cpu.py): n_v = 8 * ceil(n / 8), e = 0.5 * k/(k + 16) * n_v/(n_v + 8),
mac = m * k * n_v / (8 * e), + im2col m * k / 8 when kh*kw > 1, + m * n * 2 / 4 requantisation.
A digital task runs at ``max(compute, memory)`` per output position, the memory time being its
share of the DRAM bytes at 19.2 GB/s / cores plus its share of the L2 bytes at 32 GB/s.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimclib import layer_cost
from aimclib.balancing import layer_tasks
from aimclib.engine import KIND_DIGITAL
from aimclib.errors import AimcError
from aimclib.layercost import CORE_COMPONENTS, DEVICE_COMPONENTS, chosen_units, layer_terms
from aimclib.layers import Layer, layer_info
from aimclib.mapping import map_layer
from aimclib.placement import place_tiles
from aimclib.sweep import layer_spec
from aimclib.system import PlausibilityWarning, load_system
from aimclib.workload import layer_work

STATED = {
    # digital side: 128 / 16 = 8 lanes x 1 issue x 1 = 8 MAC/cycle peak, e_gemm = 0.5
    "cpu.mac_lane_bits": 16, "cpu.simd_issue_per_cycle": 1.0,
    "cpu.mac_instruction_fraction": 1.0, "cpu.gemm_efficiency": 0.5, "cpu.activation_bits": 8,
    "cpu.gemm_k_half": 16.0, "cpu.gemm_n_half": 8.0, "cpu.depthwise_efficiency": 0.25,
    "cpu.eltwise_ops_per_cycle": 4.0, "cpu.gather_bytes_per_cycle": 8.0,
    # energy
    "cpu.active_power_w": 0.2, "cpu.idle_power_w": 0.02, "cpu.dram_energy_j_per_byte": 120e-12,
    "tile.static_power_w": 1e-3, "tile.energy_node_exponent": 1.0,
    "loose.bus_energy_j_per_byte": 40e-12, "system.power_gating": "unused",
    # analog host work and loose jobs
    "host.quantize_ops_per_input": 2.0, "host.dequant_ops_per_output": 2.0,
    "host.psum_ops_per_output": 1.0, "host.psum_sync_cycles": 400.0,
    "loose.job_buffer_bytes": 4096,
}
with pytest.warns(PlausibilityWarning, match="cpu.gemm_efficiency = 0.5"):
    TIGHT = load_system("alpine-tight", **STATED)
with pytest.warns(PlausibilityWarning, match="cpu.gemm_efficiency = 0.5"):
    LOOSE = load_system("alpine-loose", **STATED)
NS, US = 1e-9, 1e-6


def approx(x):
    return pytest.approx(x, rel=1e-12)


def linear(fin, fout, bias=False):
    return layer_info(Layer("fc", "linear", ("x",), out_channels=fout, bias=bias),
                      [(fin, 1, 1)])


def conv(cin, cout, k, hw, groups=1, padding=0, stride=1, name="c", bias=False):
    return layer_info(Layer(name, "conv", ("x",), out_channels=cout, kernel=k, groups=groups,
                            padding=padding, stride=stride, bias=bias), [(cin, hw, hw)])


def joules(cost):
    return {k: v["joules"] for k, v in cost.breakdown.items()}


def seconds(cost):
    return {k: v["seconds"] for k, v in cost.breakdown.items()}


# --------------------------------------------------------------------------- dense 256 x 256
def test_dense_256_tight_one_core_one_tile():
    c = layer_cost(linear(256, 256), TIGHT, cores=1, tiles=1)
    assert (c.tiles_used, c.tiles_needed, c.coverage, c.utilisation) == (1, 1, 1.0, 1.0)
    # m = 1: 228 ns of interface (64 + 64 transfers + 100 ns) + 64 ns host work = 292 ns
    # (a dense layer: no gather; 256 x 2 dequantise ops / 4 = 128 cycles)
    assert c.latency_s == approx(292 * NS)
    s = seconds(c.cost)
    assert s["digital"] == 0.0 and s["steal"] == 0.0
    assert s["interface"] == approx(128 * NS) and s["tile_wait"] == approx(100 * NS)
    assert s["host"] == approx(64 * NS) and s["idle"] == 0.0
    assert s["tile_mvm"] == approx(228 * NS)  # the tile is busy for the transfers and the MVM
    assert s["tile_static"] == approx(292 * NS)  # 1 tile x latency
    # input 256 B + output 256 B fit the L2 and no weight is digital: no DRAM traffic
    assert s["dram"] == 0.0 and s["bus"] == 0.0
    j = joules(c.cost)
    assert j["interface"] == approx(128 * NS * 0.2)  # 25.6 nJ
    assert j["tile_wait"] == approx(100 * NS * 0.2)  # 20 nJ: the stalled core burns power
    assert j["host"] == approx(64 * NS * 0.2)  # 12.8 nJ
    assert j["tile_mvm"] == approx(20.48e-9)  # 2 x (1.024 + 3.072 + 6.144 nJ)
    assert j["tile_static"] == approx(292e-9 * 1e-3 * 2)  # 292 ns x 1 mW x 2 = 0.584 nJ
    assert j["digital"] == j["idle"] == j["dram"] == j["bus"] == j["steal"] == 0.0
    # 25.6 + 20 + 12.8 + 20.48 + 0.584 = 79.464 nJ
    assert c.energy_j == approx(79.464e-9)
    assert math.isclose(sum(j.values()), c.energy_j, rel_tol=1e-12)


def test_dense_256_baseline_from_the_cpu_model():
    c = layer_cost(linear(256, 256), TIGHT, cores=1, tiles=1)
    # GEMM m=1, k=256, n=256: e = 0.5 * 256/272 * 256/264, mac 256*256 / (8 * e)
    #   = 272 * 264 / 4 = 17,952; out 256*2/4 = 128 -> 18,080 cycles = 9.04 us.
    # Memory: 65,536 int8 weights / 19.2 GB/s = 3.4133 us + 512 B of L2 / 32 GB/s = 16 ns
    #   = 3.4293 us < 9.04 us: compute-bound
    b = c.baseline
    assert b.latency_s == approx(9.04 * US)
    assert b.breakdown["digital"]["seconds"] == approx(9.04 * US)
    assert b.breakdown["dram"]["seconds"] == approx(65536 / 19.2e9)
    assert b.breakdown["dram"]["joules"] == approx(65536 * 120e-12)  # 7.86432 uJ
    assert b.breakdown["digital"]["joules"] == approx(9.04 * US * 0.2)  # 1.808 uJ
    for k in ("interface", "tile_wait", "host", "steal", "idle", "tile_mvm", "bus"):
        assert b.breakdown[k]["joules"] == 0.0
    # speedup 9.04 us / 292 ns = 30.96
    assert c.speedup == approx(9040 / 292)


def test_baseline_energy_has_no_tiles():
    # The published baseline is "multi-threaded NEON code on the same cores, no AIMC": its
    # energy is 1.808 uJ (cores) + 65,536 B x 120 pJ = 7.86432 uJ (DRAM) = 9.67232 uJ whatever
    # tiles the system has.
    for tiles in (0, 1, 8):
        base = layer_cost(linear(256, 256), TIGHT, cores=1, tiles=tiles).baseline
        assert base.energy_j == approx(1.808e-6 + 7.86432e-6)
        assert base.breakdown["tile_static"] == {"seconds": 0.0, "joules": 0.0}


def test_dense_256_loose_one_core_one_tile():
    c = layer_cost(linear(256, 256), LOOSE, cores=1, tiles=1)
    # One loose task: the core is busy 64 ns host + 1 job x 1090 ns = 1154 ns; the tile
    # 228 ns from t = 0 and the bus 512 B / 8 GB/s = 64 ns. The engine ends the task at
    # max(0 + 1154, 0 + 228, 64) = 1154 ns (the job's set-up and completion overlap the tile's
    # work; see test_loose_schedule_meets_the_docstring_chain_bound).
    assert c.latency_s == approx(1154 * NS)
    s, j = seconds(c.cost), joules(c.cost)
    assert s["interface"] == approx(1090 * NS) and s["host"] == approx(64 * NS)
    assert s["tile_wait"] == 0.0 and s["idle"] == pytest.approx(0.0, abs=1e-18)
    assert s["bus"] == approx(64 * NS) and s["tile_mvm"] == approx(228 * NS)
    # 218 nJ (job) + 12.8 nJ (host) + 20.48 nJ (MVM) + 1154 ns x 1 mW x 2 = 2.308 nJ
    # + 512 B x 40 pJ = 20.48 nJ = 274.068 nJ
    assert j["interface"] == approx(218e-9) and j["host"] == approx(12.8e-9)
    assert j["tile_static"] == approx(2.308e-9) and j["bus"] == approx(20.48e-9)
    assert c.energy_j == approx(274.068e-9)


def test_loose_schedule_meets_the_docstring_bound():
    # linear 256 -> 256, one loose tile, 1 or 8 cores: docstring bound
    #   max((A + D) / p, max_t m * tile_t, m * bus_bytes / B_bus) = max(1154 / p, 228, 64)
    # and the engine overlaps the job's set-up and completion (1090 ns) with the tile's work:
    # the lone MVM's core part, 1090 + 64 = 1154 ns, is the latency on any core count.
    for cores in (1, 8):
        c = layer_cost(linear(256, 256), LOOSE, cores=cores, tiles=1)
        assert c.latency_s >= max(1154 / cores, 228, 64) * NS * (1 - 1e-12)
        assert c.latency_s == approx(1154 * NS)


def test_zero_tiles_is_the_baseline():
    for sys in (TIGHT, LOOSE):
        for info in (linear(256, 256), conv(64, 128, 3, 28, padding=1)):
            c = layer_cost(info, sys, cores=4, tiles=0)
            assert c.speedup == 1.0 and c.energy_gain == 1.0
            assert c.tiles_used == 0 and c.coverage == 0.0 and c.utilisation == 0.0
            assert c.cost == c.baseline


# --------------------------------------------------------------------------- a partly-mapped conv
# 3x3 conv 64 -> 512, pad 1, on 28x28: m = 784, K = 576 -> 3 row blocks of 192, N = 512 ->
# 2 column blocks of 256: 2 units of 3 tiles. Tiles are 192 x 256:
#   tight core time per MVM: queue/dequeue (48 + 64) x 2 = 224 cycles = 112 ns, 100 ns stall,
#   host (3x3 conv: gather) first block 24 + 512/4 = 152 cycles = 76 ns, later blocks
#   24 + 768/4 = 216 cycles = 108 ns -> 288 ns (block 0) and 320 ns (blocks 1, 2); a unit:
#   928 ns. A later block on another core than its unit's block 0 adds 16 ns per MVM (its
#   256 partial outputs through the L2) and 200 ns per task (the hand-over): 336 ns.
#   Tile busy per MVM: tight 112 + 100 = 212 ns; loose (192 + 256) B / 4 GB/s + 100 ns = 212 ns.
#   loose: host 76 / 108 / 108 ns; a job moves 4096 // 192 = 21 vectors: ceil(784 / 21) = 38
#   jobs per tile of 1090 ns = 41.42 us.
# Digital remainder with one unit mapped: GEMM 784 x 576 x 256 with im2col:
#   e = 0.5 * 576/592 * 256/264, mac 784*576*256 / (8 * e) = 784 * 592 * 264 / 4
#   = 30,632,448; gather 784*576/8 = 56,448; out 784*256*2/4 = 100,352
#   -> 30,789,248 cycles = 15,394,624 ns (D).
#   DRAM: 576*256 = 147,456 weight bytes = 7.68 us; activations 50,176 + 401,408 B in L2
#   (L2 time 451,584 / 32 GB/s = 14.112 us); even on 8 cores (weights at 2.4 GB/s: 61.44 us)
#   far below D / 8: compute-bound.
# All-digital: 784 x 576 x 512: mac 784 * 592 * 520 / 4 = 60,336,640 + 56,448 + 200,704
#   = 60,593,792 cycles = 30,296,896 ns of core time.
CONV = conv(64, 512, 3, 28, padding=1)
D_NS = 15_394_624
BASE_NS = 30_296_896
A_TIGHT_UNIT_NS = 784 * 928  # 727,552 ns, the unit's tiles on one core
A_LOOSE_UNIT_NS = 784 * (76 + 108 + 108) + 3 * 38 * 1090  # 228,928 + 124,260 = 353,188 ns
SYNC_NS = 200  # one partial-sum hand-over per task of a tile away from its unit's block 0


def tight_bound(per_core_analog_ns, digital_ns, cores):
    """layercost's ideal tight bound max(max_c A_c, (sum_c A_c + D) / p) (ns)."""
    return max(max(per_core_analog_ns), (sum(per_core_analog_ns) + digital_ns) / cores)


def loose_bound(analog_ns, digital_ns, cores, chain_ns, bus_ns):
    """layercost's loose lower bound max((A + D) / p, max_t m tile_t, bus) (ns)."""
    return max((analog_ns + digital_ns) / cores, chain_ns, bus_ns)


def test_conv_unit_structure():
    mp = map_layer(CONV, 256, 256)
    assert (mp.m, mp.k, mp.n) == (784, 576, 512)
    assert mp.unit_tiles.tolist() == [3, 3]
    c = layer_cost(CONV, TIGHT, cores=1, tiles=5)  # 5 tiles: only one unit fits
    assert (c.tiles_used, c.tiles_needed, c.coverage) == (3, 6, 0.5)
    # utilisation: 576 * 256 / (3 * 65536) = 0.75
    assert c.utilisation == 0.75


@pytest.mark.parametrize("sys, cores, expect_ns, bound_ns", [
    # tight, 1 core: the core runs its 3 tiles' MVMs (one core: no partial-sum transfer) and
    #   D: 727,552 + 15,394,624 = 16,122,176 ns = the bound max(A_0, (A + D) / 1)
    (TIGHT, 1, A_TIGHT_UNIT_NS + D_NS, tight_bound([A_TIGHT_UNIT_NS], D_NS, 1)),
    # tight, 8 cores: the 3 tiles sit on cores 0, 1, 2; blocks 1 and 2 are away from block 0:
    #   784 x 288 ns on core 0, 784 x 336 ns (+ 200 ns hand-over) on cores 1 and 2.
    #   Static-balanced water-fills D around the per-MVM times (no tile is over-full): level
    #   (784 x (288 + 336 + 336) + D) / 8 = (752,640 + 15,394,624) / 8 = 2,018,408 ns; the
    #   per-task hand-overs are not in that level, so cores 1 and 2 end 200 ns above it:
    #   2,018,608 ns.
    (TIGHT, 8, (784 * 960 + D_NS) / 8 + SYNC_NS,
     tight_bound([784 * 288, 784 * 336 + SYNC_NS, 784 * 336 + SYNC_NS] + [0] * 5, D_NS, 8)),
    # loose, 1 core: one task per tile of all 784 positions (38 jobs each), then D:
    #   353,188 + 15,394,624 = 15,747,812 ns = the bound (chain 784 x 212 + 1090 = 167.3 us,
    #   bus 784 x 3 x 448 B / 8 GB/s = 131.7 us)
    (LOOSE, 1, A_LOOSE_UNIT_NS + D_NS,
     loose_bound(A_LOOSE_UNIT_NS, D_NS, 1, 784 * 212 + 1090, 784 * 3 * 448 / 8)),
    # loose, 8 cores: positions in 8 chunks of 98; a chunk drives all 3 tiles of the unit (its
    #   partial sums stay on one core), one such item per core, ceil(98/21) = 5 jobs per tile:
    #   98 x (76 + 108 + 108) + 3 x 5 x 1090 = 28,616 + 16,350 = 44,966 ns; D water-fills:
    #   44,966 + 15,394,624 / 8 = 44,966 + 1,924,328 = 1,969,294 ns. Above the bound
    #   (A + D) / 8 = 15,747,812 / 8 = 1,968,476.5 ns by the 6 extra jobs of chunking
    #   (120 instead of 114: 6 x 1090 / 8 = 817.5 ns).
    (LOOSE, 8, 44_966 + D_NS / 8,
     loose_bound(A_LOOSE_UNIT_NS, D_NS, 8, 784 * 212 + 1090, 784 * 3 * 448 / 8)),
])
def test_conv_half_mapped_latency(sys, cores, expect_ns, bound_ns):
    c = layer_cost(CONV, sys, cores=cores, tiles=3)
    assert c.tiles_used == 3 and c.coverage == 0.5
    assert c.latency_s == approx(expect_ns * NS)
    assert c.latency_s >= bound_ns * NS * (1 - 1e-12)
    bd = c.cost.breakdown
    assert bd["digital"]["seconds"] == approx(D_NS * NS)
    assert bd["dram"]["seconds"] == approx(147456 / 19.2e9)
    assert bd["dram"]["joules"] == approx(147456 * 120e-12)
    assert bd["tile_mvm"]["seconds"] == approx(784 * 3 * 212 * NS)  # 498,624 ns


def test_conv_half_mapped_tight_8_cores_breakdown():
    c = layer_cost(CONV, TIGHT, cores=8, tiles=3)
    s, j = seconds(c.cost), joules(c.cost)
    lat_ns = 2_018_608  # (784 x 960 + D) / 8 + 200, above
    assert c.latency_s == approx(lat_ns * NS)
    assert s["interface"] == approx(784 * 3 * 112 * NS)  # 263,424 ns
    assert s["tile_wait"] == approx(784 * 3 * 100 * NS)  # 235,200 ns
    # host: 784 x (76 + 108 + 108) = 228,928 ns + the partial sums of blocks 1 and 2 through
    # the L2, 2 x 784 x 16 = 25,088 ns, + 2 hand-overs of 200 ns = 254,416 ns
    assert s["host"] == approx((784 * 292 + 2 * 784 * 16 + 2 * SYNC_NS) * NS)
    # cores 1 and 2 end at the latency, the other six 200 ns before it
    assert s["idle"] == approx(6 * SYNC_NS * NS)
    # tile energy: 784 x 3 x 2 x (1.024 + 192 x 0.012 + 256 x 0.024 = 9.472 nJ) = 44.556 uJ
    assert j["tile_mvm"] == approx(784 * 3 * 18.944e-9)
    assert j["tile_static"] == approx(3 * lat_ns * NS * 1e-3 * 2)
    busy_ns = D_NS + 263_424 + 235_200 + 254_416  # = 16,147,664 = 8 x latency - 1,200
    expect = (busy_ns * NS * 0.2 + 6 * SYNC_NS * NS * 0.02 + 784 * 3 * 18.944e-9
              + 3 * lat_ns * NS * 1e-3 * 2 + 147456 * 120e-12)
    assert c.energy_j == approx(expect)


@pytest.mark.parametrize("sys, cores, expect_ns, bound_ns", [
    # tight, 1 core: 784 x 2 x 928 ns = 1,455,104 ns (one core: no partial-sum transfer)
    (TIGHT, 1, 784 * 1856, tight_bound([784 * 1856], 0, 1)),
    # tight, 2 cores: tiles round-robin [0,1,0,1,0,1]: unit 0 (tiles 0-2) leads on core 0,
    # unit 1 (tiles 3-5) on core 1. Core 0 gets (u0 b0, u0 b2, u1 b1 away from core 1)
    # = 288 + 320 + (320 + 16) ns, core 1 (u0 b1 away from core 0, u1 b0, u1 b2)
    # = (320 + 16) + 288 + 320 ns: 784 x 944 ns + one 200 ns hand-over each = 740,296 ns
    (TIGHT, 2, 784 * 944 + SYNC_NS, tight_bound([784 * 944 + SYNC_NS] * 2, 0, 2)),
    # tight, 8 cores: one tile per core; the later blocks sit away from their block 0: slowest
    # 784 x 336 + 200 = 263,624 ns (A / 8 = 784 x (2 x 288 + 4 x 336) / 8 = 188,160 ns).
    # Static-balanced would hand 21 positions of each later-block tile to the two tile-less
    # cores (level 256.47 us), but each costs 6.94 us digitally (192 x 256 block: 13,880
    # cycles) and the rounding to whole positions (4 x 21 x 6.94 = 582.96 us into 574.73 us
    # of room) ends later (about 264.7 us): the static-even split (no conversion) is kept.
    (TIGHT, 8, 784 * 336 + SYNC_NS,
     tight_bound([784 * 288, 784 * 336, 784 * 336] * 2 + [0, 0], 0, 8)),
    # loose, 8 cores: 8 chunks of 98 positions per unit, 16 items (unit, chunk) of equal core
    # time 98 x (76 + 108 + 108) + 3 x 5 x 1090 = 44,966 ns dealt two per core; the tiles
    # (98 x 212 = 20,776 ns per chunk, at most 8 chunks queued on one: 166,208 ns) finish by
    # about 240 us. The FIFO bus binds: 48 chunks of 98 x 448 B = 43,904 B, 5,488 ns each,
    # all issued by 73,898 ns, end at 48 x 5,488 = 263,424 ns = the bus bound
    # 784 x 6 x 448 B / 8 GB/s. (A / 8 = (784 x 584 + 6 x 38 x 1090) / 8 = 88,297 ns;
    # tile 784 x 212 = 166,208 ns.)
    (LOOSE, 8, 263_424, loose_bound(784 * 584 + 6 * 38 * 1090, 0, 8, 784 * 212,
                                     784 * 6 * 448 / 8)),
])
def test_conv_fully_mapped_latency(sys, cores, expect_ns, bound_ns):
    c = layer_cost(CONV, sys, cores=cores, tiles=6)
    assert c.tiles_used == 6 and c.coverage == 1.0
    assert c.cost.breakdown["digital"]["seconds"] == 0.0
    assert c.latency_s == approx(expect_ns * NS)
    assert c.latency_s >= bound_ns * NS * (1 - 1e-12)


def test_conv_fully_mapped_tight_8_cores_energy():
    c = layer_cost(CONV, TIGHT, cores=8, tiles=6)
    lat = 263_624 * NS
    # core time: 784 x (2 x 288 + 4 x 336) = 1,505,280 ns + 4 hand-overs = 1,506,080 ns
    busy = (784 * 1920 + 4 * SYNC_NS) * NS
    idle = 8 * lat - busy  # 2,108,992 - 1,506,080 = 602,912 ns
    assert c.cost.breakdown["idle"]["seconds"] == approx(602_912 * NS)
    assert c.cost.breakdown["tile_mvm"]["seconds"] == approx(784 * 6 * 212 * NS)
    expect = (busy * 0.2 + idle * 0.02 + 784 * 6 * 18.944e-9 + 6 * lat * 1e-3 * 2)
    assert c.energy_j == approx(expect)  # no DRAM: no digital weights, activations in L2
    # baseline: 30,296,896 ns of core time split evenly over 8 cores = 3,787,112 ns
    assert c.baseline.latency_s == approx(BASE_NS / 8 * NS)
    assert c.speedup == approx(3_787_112 / 263_624)


@pytest.mark.parametrize("placement, tiles, expect_ns", [
    # linear 512 -> 512: 2 units of 2 tiles (u0 b0, u0 b1, u1 b0, u1 b1); per MVM 292 ns for
    # a first block, 324 ns for a later one, + 16 ns partial sums through the L2 and a 200 ns
    # hand-over when it sits on another core than its block 0. 4 cores:
    ("even", 5, 540),  # caps [2,1,1,1]: one tile per core -> max 324 + 16 + 200 = 540 ns
    ("first", 4, 540),  # caps [1,1,1,1]
    # caps [2,2,1,0]: tiles on cores [0,1,2,0]: core 0 = 292 + (324 + 16 + 200) = 832 ns
    # (u1 b1 is away from u1 b0 on core 2). Converting the one output position of a tile costs
    # its whole 256 x 256 block digitally (9 us): static-even (no conversion) is kept.
    ("first", 5, 832),
])
def test_tight_tile_placement(placement, tiles, expect_ns):
    sys = TIGHT.replace(tile_placement=placement)
    c = layer_cost(linear(512, 512), sys, cores=4, tiles=tiles)
    assert c.tiles_used == 4
    assert c.latency_s == approx(expect_ns * NS)


# --------------------------------------------------------------------------- memory and others
def test_dram_bound_linear():
    # linear 4096 -> 4096 on 8 cores, m = 1: each core takes 1/8 of the output position.
    # Compute: e = 0.5 * 4096/4112 * 4096/4104, mac 4112 * 4104 / 4 = 4,218,912 + out 2048
    #   = 4,220,960 cycles = 2,110,480 ns; memory: 16,777,216 weight bytes at
    #   19.2 GB/s / 8 = 6,990,506.67 ns + 8192 activation bytes at 32 GB/s = 256 ns
    #   = 6,990,762.67 ns per position: memory-bound, 873,845.33 ns per core.
    c = layer_cost(linear(4096, 4096), TIGHT, cores=8, tiles=0)
    per_position_ns = 4096 * 4096 / 2.4 + 256
    assert c.latency_s == approx(per_position_ns / 8 * NS)
    assert c.latency_s >= 4096 * 4096 / 19.2e9  # never faster than the DRAM streams
    # the cores wait for memory inside their digital tasks: no idle core-time
    assert c.cost.breakdown["digital"]["seconds"] == approx(per_position_ns * NS)
    assert c.cost.breakdown["idle"]["seconds"] == pytest.approx(0.0, abs=1e-15)
    assert c.cost.breakdown["dram"]["seconds"] == approx(4096 * 4096 / 19.2e9)


def test_activations_beyond_the_l2_go_to_dram():
    # 3x3 conv 64 -> 64, pad 1 on 224x224: in + out = 2 x 3,211,264 B > 1 MiB L2
    info = conv(64, 64, 3, 224, padding=1)
    c = layer_cost(info, TIGHT, cores=8, tiles=0)
    dram_bytes = 36_864 + 2 * 3_211_264  # weights + activations
    assert c.cost.breakdown["dram"]["joules"] == approx(dram_bytes * 120e-12)
    assert c.cost.breakdown["dram"]["seconds"] == approx(dram_bytes / 19.2e9)
    # fully mapped, the activations still stream from DRAM (weights no longer do)
    full = layer_cost(info, TIGHT, cores=8, tiles=3)
    assert full.cost.breakdown["dram"]["joules"] == approx(2 * 3_211_264 * 120e-12)


def test_elementwise_layer():
    # relu on 64 x 56 x 56 = 200,704 outputs: 1 op each / 4 per cycle = 50,176 cycles
    # = 25.088 us of core time (L2 time 401,408 B / 32 GB/s = 12.544 us is less); 8 cores
    info = layer_info(Layer("r", "relu", ("x",)), [(64, 56, 56)])
    c = layer_cost(info, TIGHT, cores=8, tiles=8)
    assert c.latency_s == approx(25.088 * US / 8)
    assert c.speedup == 1.0 and c.tiles_used == 0
    assert c.cost.breakdown["digital"]["seconds"] == approx(25.088 * US)
    # the baseline has no tiles: 25.088 us x 0.2 W = 5.0176 uJ. Power gating "unused": the 8
    # tiles hold no weights of this layer and are off, so the energy is the baseline's
    assert c.cost.breakdown["tile_static"] == {"seconds": 0.0, "joules": 0.0}
    assert c.baseline.energy_j == approx(5.0176e-6)
    assert c.energy_gain == 1.0
    # without gating ("none") the 8 idle tiles leak 8 x 3.136 us x 1 mW x 2 = 50.176 nJ
    # -> energy gain 5.0176 / (5.0176 + 0.050176) < 1
    on = layer_cost(info, TIGHT.replace(**{"system.power_gating": "none"}), cores=8, tiles=8)
    assert on.cost.breakdown["tile_static"]["joules"] == approx(8 * 3.136e-6 * 1e-3 * 2)
    assert on.energy_gain == approx(5.0176 / (5.0176 + 0.050176))


def test_defaults_errors_and_record():
    c = layer_cost(linear(256, 256), TIGHT)  # alpine-tight: 8 cores, 8 tiles
    assert (c.cores, c.tiles, c.coupling) == (8, 8, "tight")
    rec = c.to_dict()
    assert rec["latency_s"] == c.latency_s and rec["speedup"] == c.speedup
    assert set(rec["breakdown"]) == set(CORE_COMPONENTS) | set(DEVICE_COMPONENTS)
    for bad, what in (({"cores": 0}, "cores"), ({"tiles": -1}, "tiles"),
                      ({"cores": 2.0}, "cores"), ({"tiles": True}, "tiles")):
        with pytest.raises(AimcError, match=f"{what} must be an integer"):
            layer_cost(linear(256, 256), TIGHT, **bad)
    with pytest.raises(AimcError, match="balancer must be one of .*static-balanced.*got 'lifo'"):
        layer_cost(linear(256, 256), TIGHT, balancer="lifo")


# --------------------------------------------------------------------------- baseline, bias, slow tiles
def test_baseline_does_not_depend_on_tile_size():
    # 3x3 conv 60 -> 8, groups 2, pad 1 on 8x8: m = 64, K = 30 * 9 = 270, N = 4, G = 2.
    # Per group: n_v = 8, e = 0.5 * 270/286 * 8/16, mac 64*270*8 / (8 * e) = 64 * 286 * 4
    #   = 73,216; two groups 146,432; im2col 64*2*270/8 = 4,320; out 64*2*4*2/4 = 256
    #   -> 151,008 cycles = 75.504 us. 512-row tiles pack both groups (one piece of g = 2);
    #   on 256-row tiles K > rows and each group is its own piece: the same cycles.
    info = conv(60, 8, 3, 8, groups=2, padding=1)
    big = layer_cost(info, TIGHT.replace(**{"tile.rows": 512}), cores=1, tiles=0)
    assert big.baseline.latency_s == approx(151_008 / 2e9)
    small = layer_cost(info, TIGHT, cores=1, tiles=0)
    assert small.baseline.latency_s == approx(151_008 / 2e9)


def test_bias_add_is_charged():
    # linear 256 -> 256 with bias: 256 adds / 4 ops per cycle = 64 cycles = 32 ns more than
    # the 18,080 cycles (9.04 us) of the GEMM -> 9.072 us
    info = linear(256, 256, bias=True)
    assert info.eltwise_ops == 256
    c = layer_cost(info, TIGHT, cores=1, tiles=0)
    assert c.baseline.latency_s == approx(9.072 * US)
    # mapped: the host adds the bias on the (only) row block: 256 / 4 = 64 cycles = 32 ns
    # more host work than the 292 ns MVM without bias (host 64 + 32 = 96 ns)
    mapped = layer_cost(info, TIGHT, cores=1, tiles=1)
    assert mapped.latency_s == approx(324 * NS)
    assert mapped.cost.breakdown["host"]["seconds"] == approx(96 * NS)


# conv1 7x7/2, 3 -> 64 on 224x224: m = 112 x 112 = 12,544, K = 147, N = 64: one tile.
# Digital per position: e = 0.5 * 147/163 * 64/72, mac 147*64 / (8 * e) = 163 * 18 = 2,934;
#   im2col 147/8 = 18.375; out 64*2/4 = 32 -> alt = 2,984.375 cycles = 1,492.1875 ns;
#   x 12,544 = 18,718,000 ns, / 8 cores = 2,339,750 ns (memory: 9,408 B of weights and
#   953,344 B of activations in L2, 33.7 us in all: compute-bound).
# Tight, one tile on core 0: per MVM (37 + 16) x 2 = 106 cycles = 53 ns + 100 ns
#   + host (gather, no quantise) 147/8 + 128/4 = 50.375 cycles = 25.1875 ns
#   -> a = 178.1875 ns; A = 12,544 x a = 2,235,184 ns. (One tile: no partial sums.)
# Static-balanced: core 0 keeps L of analog work and the other 7 cores compute the rest of its
#   positions digitally (ratio r = alt / a = 8.374255) by L: 7 L = r (A - L), so
#   L* = A r / (7 + r) = 18,718,000 / 15.374255 = 1,217,489.916 ns. Converted positions round
#   up: ceil(12,544 x 7 / (7 + r)) = ceil(5,711.37) = 5,712, leaving 6,832 MVMs on core 0
#   (1,217,377 ns). The converted work 5,712 x 1,492.1875 = 8,523,375 ns overfills
#   the room under L* (7 L* + L* - 1,217,377) by 5,712 x alt + 6,832 x a - 8 L*
#   = 832.67 ns, which goes to one core: latency = 8,523,375 + 1,217,377 - 7 L*
#   = 1,218,322.588 ns.
CONV1 = conv(3, 64, 7, 224, padding=3, stride=2)
CONV1_L_STAR_NS = 18_718_000 / (7 + 2984.375 / 356.375)


def test_a_tile_never_slows_resnet_conv1_on_8_tight_cores():
    none = layer_cost(CONV1, TIGHT, cores=8, tiles=0)
    one = layer_cost(CONV1, TIGHT, cores=8, tiles=1)
    assert none.latency_s == approx(2_339_750 * NS)
    expect_ns = 8_523_375 + 1_217_377 - 7 * CONV1_L_STAR_NS
    assert one.latency_s == approx(expect_ns * NS)
    assert one.latency_s >= CONV1_L_STAR_NS * NS  # the fractional optimum of the split
    assert one.cost.breakdown["tile_wait"]["seconds"] == approx(6_832 * 100 * NS)
    assert one.cost.breakdown["digital"]["seconds"] == approx(8_523_375 * NS)
    assert one.latency_s <= none.latency_s


def test_balancer_choice_changes_the_schedule():
    # conv1 with one tight tile on 8 cores: static-even leaves the tile's 12,544 MVMs on
    # core 0 (A = 2,235,184 ns) while the other cores idle; static-balanced converts
    # positions to them (1,218,322.588 ns, above).
    even = layer_cost(CONV1, TIGHT, cores=8, tiles=1, balancer="static-even", map_all=True)
    assert even.latency_s == approx(2_235_184 * NS)
    assert layer_cost(CONV1, TIGHT, cores=8, tiles=1).latency_s < even.latency_s


def test_tight_schedule_meets_the_water_filling_bound():
    # ResNet conv1 with one tight tile on 8 cores: the docstring's bound is the level L* at
    # which the owner's analog work above L* moves to the other cores; without moving work it
    # would be max_c A_c = 2,235,184 ns, which the converted schedule beats.
    one = layer_cost(CONV1, TIGHT, cores=8, tiles=1)
    assert CONV1_L_STAR_NS * NS <= one.latency_s < 2_235_184 * NS


def test_tiles_never_slow_a_depthwise_conv():
    # depthwise 3x3, 32 channels, 112x112 (m = 12,544): digital per position
    #   9*8*ceil(32/8) / (8*0.25) = 144 + out 32*2/4 = 16 -> 160 cycles; x 12,544
    #   = 2,007,040 cycles = 1,003,520 ns (no n_half term: depthwise).
    # 1 tile of 16 channels (144 x 16): per MVM (36 + 4) x 2 = 80 cycles = 40 ns + 100 ns
    #   + host 144/8 + 32/4 = 26 cycles = 13 ns -> 153 ns, against 40 ns to compute
    #   its 16 channels digitally (9*8*2/2 = 72 + 16*2/4 = 8 -> 80 cycles): static-balanced
    #   leaves such a tile unused, so the layer costs exactly its all-digital time.
    info = conv(32, 32, 3, 112, padding=1, groups=32)
    none = [layer_cost(info, TIGHT, cores=p, tiles=0).latency_s for p in (1, 8)]
    one = [layer_cost(info, TIGHT, cores=p, tiles=1).latency_s for p in (1, 8)]
    assert none == [approx(1_003_520 * NS), approx(125_440 * NS)]
    assert one == [approx(1_003_520 * NS), approx(125_440 * NS)]
    # static-even, which must use the tile, is 2.41x slower on one core: 12,544 x 153 ns
    # = 1,919,232 ns on the tile + 12,544 x 40 ns = 501,760 ns for the other 16 channels
    even = layer_cost(info, TIGHT, cores=1, tiles=1, balancer="static-even", map_all=True)
    assert even.latency_s == approx((1_919_232 + 501_760) * NS)
    # without map_all, static-even leaves the tile unused rather than slow the layer down
    plain = layer_cost(info, TIGHT, cores=1, tiles=1, balancer="static-even")
    assert plain.tiles_used == 0 and plain.latency_s == approx(1_003_520 * NS)


# --------------------------------------------------------------------------- properties
@st.composite
def cases(draw):
    kind = draw(st.sampled_from(["conv", "conv", "linear"]))
    bias = draw(st.booleans())
    if kind == "linear":
        info = linear(draw(st.integers(1, 700)), draw(st.integers(1, 700)), bias=bias)
    else:
        g = draw(st.sampled_from([1, 1, 2, 4]))
        cin = g * draw(st.integers(1, 48))
        cout = g * draw(st.integers(1, 96))
        if draw(st.booleans()):  # depthwise
            g, cin = cin, cin
            cout = cin
        k = draw(st.sampled_from([1, 3, 5]))
        hw = draw(st.integers(k, 20))
        info = conv(cin, cout, k, hw, groups=g, stride=draw(st.sampled_from([1, 2])),
                    bias=bias)
    sys = load_system(draw(st.sampled_from(["alpine-tight", "alpine-loose"])),
                      tile_placement=draw(st.sampled_from(["even", "first"])),
                      system__power_gating=draw(st.sampled_from(["none", "unused", "idle"])))
    if draw(st.booleans()):  # small tiles exercise row blocks and packing on small layers
        sys = sys.replace(**{"tile.rows": draw(st.sampled_from([16, 64])),
                             "tile.cols": draw(st.sampled_from([8, 64]))})
    return info, sys, draw(st.integers(1, 8)), draw(st.integers(0, 12))


@given(cases())
@settings(max_examples=120, deadline=None)
def test_cost_invariants(case):
    info, sys, cores, tiles = case
    c = layer_cost(info, sys, cores=cores, tiles=tiles)
    # powered tiles: all of them without gating; else those holding weights (a layer alone
    # runs for the whole latency, so "idle" charges them as "unused" does)
    powered = tiles if sys.system.power_gating == "none" else c.tiles_used
    for cost, static_tiles in ((c.cost, powered), (c.baseline, 0)):
        bd = cost.breakdown
        assert set(bd) == set(CORE_COMPONENTS) | set(DEVICE_COMPONENTS)
        assert all(v["seconds"] >= 0 and v["joules"] >= 0 for v in bd.values())
        # the energy breakdown adds up
        assert math.isclose(math.fsum(v["joules"] for v in bd.values()), cost.energy_j,
                            rel_tol=1e-12)
        # core-seconds: busy components + idle = cores x latency (idle never clamped)
        core = math.fsum(bd[k]["seconds"] for k in CORE_COMPONENTS)
        assert math.isclose(core, cores * cost.latency_s, rel_tol=1e-9)
        # latency bounds: digital work over the cores, the bus
        assert cost.latency_s >= bd["digital"]["seconds"] / cores * (1 - 1e-12)
        assert cost.latency_s >= bd["bus"]["seconds"] * (1 - 1e-12)
        assert bd["tile_static"]["seconds"] == approx(static_tiles * cost.latency_s)
    # digital tasks cover every output position at no less than the DRAM rate
    assert c.baseline.latency_s >= c.baseline.breakdown["dram"]["seconds"] * (1 - 1e-12)
    w = layer_work(0, info, sys.replace(cores=cores, tiles=tiles))
    if c.coverage < 1.0:
        assert c.latency_s >= c.cost.breakdown["dram"]["seconds"] * (1 - 1e-12)
    if c.tiles_used:
        m, mc, n_t = info.m, w.mvm, c.tiles_used
        units = w.mapping.units_within(tiles)
        digital = m * float(w.digital_px_s[units])
        tile_s = m * float(mc.tile_s[:n_t].sum())
        if sys.coupling == "loose":
            # loose splits never convert: every position's MVM runs on its tile, one at a time
            assert c.cost.breakdown["tile_mvm"]["seconds"] == approx(tile_s)
            assert c.latency_s >= m * sys.tile.mvm_latency_s * (1 - 1e-12)
            # docstring bound (A + D) / p, A with the fewest jobs (chunking only adds jobs)
            analog = (m * float(mc.core_s[:n_t].sum())
                      + float(mc.jobs(m)[:n_t].sum()) * mc.job_s)
            assert c.latency_s >= (analog + digital) / cores * (1 - 1e-12)
        else:
            # a position of a tile runs on it or is converted: at least min(a, alt) each
            assert c.cost.breakdown["tile_mvm"]["seconds"] <= tile_s * (1 + 1e-12)
            least = m * np.minimum(mc.core_s[:n_t], w.alt_px_s[:n_t]).sum()
            assert c.latency_s >= (least + digital) / cores * (1 - 1e-12)
    assert c.tiles_used <= tiles and 0.0 <= c.coverage <= 1.0 and 0.0 <= c.utilisation <= 1.0
    assert c.baseline.breakdown["tile_mvm"]["joules"] == 0.0


@given(cases())
@settings(max_examples=60, deadline=None)
def test_tiles_beyond_the_need_change_nothing_but_static_energy(case):
    info, sys, cores, _ = case
    sys = sys.replace(tile_placement="even")
    need = map_layer(info, sys.tile.rows, sys.tile.cols).tiles_full
    a = layer_cost(info, sys, cores=cores, tiles=need)
    b = layer_cost(info, sys, cores=cores, tiles=need + 5)
    assert b.latency_s == approx(a.latency_s)
    assert b.tiles_used == a.tiles_used <= need  # fewer when mapping all would be slower
    # the 5 extra tiles hold no weights: without power gating they leak
    # 5 x latency x 1 mW x 2 (the tile's 14 nm static power at the cores' 28 nm node);
    # gated ("unused", "idle") they cost nothing
    extra = 5 * a.latency_s * sys.tile.static_power_w * sys.tile_energy_scale
    if sys.system.power_gating != "none":
        extra = 0.0
    assert b.energy_j - a.energy_j == pytest.approx(extra, rel=1e-9, abs=1e-21)


def test_speedups_for_a_grid_are_finite():
    # one vectorised-style sweep: every combination gives a positive, finite cost
    info = conv(64, 128, 3, 28, padding=1)
    lat = np.array([[layer_cost(info, sys, cores=p, tiles=t).latency_s
                     for t in (0, 3, 8)] for sys in (TIGHT, LOOSE) for p in (1, 2, 4, 8)])
    assert np.isfinite(lat).all() and (lat > 0).all()


@given(cin=st.sampled_from([256, 512]), cout=st.sampled_from([256, 512, 768]),
       hw=st.integers(1, 8), cores=st.integers(1, 8),
       coupling=st.sampled_from(["tight", "loose"]))
@settings(max_examples=60, deadline=None)
def test_full_tiles_never_increase_latency(cin, cout, hw, cores, coupling):
    # Where every mapped tile is full (K, N multiples of 256) a tile replaces 256 columns x
    # (256 + 16) ns of digital work per output position (and 64 kB of weight streaming) with
    # < 1.5 us of analog work, so each extra tile must help.
    info = conv(cin, cout, 1, hw)
    sys = TIGHT if coupling == "tight" else LOOSE
    need = (cin // 256) * (cout // 256)
    lat = [layer_cost(info, sys, cores=cores, tiles=t).latency_s for t in range(need + 1)]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(lat, lat[1:])), lat


def test_loose_gemv_on_8_cores():
    # linear 256 -> 256 on 8 cores, m = 1: each core takes 1/8 of the position, digital
    # 9.04 us / 8 = 1.13 us, but its memory time is (65,536 weight bytes at 2.4 GB/s
    # = 27,306.67 ns + 512 activation bytes at 32 GB/s = 16 ns) / 8 = 3,415.33 ns.
    # Loose, one tile: a single task (m = 1) on one core: 64 + 1090 = 1154 ns (the tile's
    # 228 ns and the bus's 64 ns overlap it); tight, one tile: 292 ns
    info = linear(256, 256)
    assert layer_cost(info, LOOSE, cores=8, tiles=0).latency_s == approx(
        (65536 / 2.4 + 16) / 8 * NS)
    assert layer_cost(info, LOOSE, cores=8, tiles=1).latency_s == approx(1154 * NS)
    assert layer_cost(info, TIGHT, cores=8, tiles=1).latency_s == approx(292 * NS)


# ------------------------------------------------------------------------ binding terms
def test_layer_terms_tight_copies_bind_on_the_cores():
    """A 1x1 convolution of one tile, 8 copies on 8 tight cores: each core drives 1/8 of the
    positions on its own copy, so the busiest core's MVM work is the per-MVM core time x
    M / 8, every core is busy and that is the latency."""
    info = layer_spec("conv:256:128:1:56:1:0").info[0]
    sys = load_system("alpine-tight")
    t = layer_terms(info, sys, cores=8, tiles=8, replicate=True)
    mc = layer_work(0, info, sys.replace(cores=8, tiles=8)).mvm
    assert (t["units"], t["copies"], t["drivers"]) == (8, 8, 8)
    assert t["positions_per_copy"] == 3136 / 8
    assert t["issue_s"] == pytest.approx(3136 / 8 * float(mc.core_s[0]), rel=1e-9)
    assert t["tile_s"] == pytest.approx(3136 / 8 * float(mc.tile_s[0]), rel=1e-9)
    assert t["bus_s"] == 0.0
    assert t["binding"] == "cores"
    assert t["bound_share"] == pytest.approx(1.0, rel=1e-6)
    parts = t["interface_s"] + t["stall_s"] + t["host_s"] + t["jobs_s"] + t["digital_s"]
    assert parts == pytest.approx(t["cores_s"], rel=1e-9)


def test_layer_terms_loose_copies_bind_on_the_bus():
    """The same layer loose: the tiles' transfers share the bus, so 8 copies cannot beat the
    bus's time for all M MVMs: the bus binds and is the latency."""
    info = layer_spec("conv:256:128:1:56:1:0").info[0]
    sys = load_system("alpine-loose")
    t = layer_terms(info, sys, cores=8, tiles=8, replicate=True)
    mc = layer_work(0, info, sys.replace(cores=8, tiles=8)).mvm
    bus = 3136 * float(mc.bus_bytes[0]) / sys.loose.bus_bandwidth_bps
    assert t["bus_s"] == pytest.approx(bus, rel=1e-9)
    assert t["binding"] == "bus"
    assert t["latency_s"] == pytest.approx(bus, rel=1e-6)
    assert t["cores_s"] < 0.5 * bus and t["tile_s"] < bus


def test_chosen_units_inverts_tiles_used():
    """dense 1024x1024: 4 units of 4 tiles; 8 tiles map 2 units. conv 64->64 3x3 @56 on 8
    tight cores: 3 tiles per copy, 12 tiles hold 4 copies (one unit each)."""
    sys = load_system("alpine-tight")
    dense = layer_spec("dense:1024:1024").info[0]
    c = layer_cost(dense, sys, cores=1, tiles=8)
    assert (c.tiles_used, chosen_units(c, dense, sys)) == (8, 2)
    conv = layer_spec("conv:64:64:3:56:1:1").info[0]
    c = layer_cost(conv, sys, cores=8, tiles=12, replicate=True)
    assert (c.tiles_used, chosen_units(c, conv, sys)) == (12, 4)
    none = layer_cost(conv, sys, cores=8, tiles=0)
    assert chosen_units(none, conv, sys) == 0
