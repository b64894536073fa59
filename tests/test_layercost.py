"""Single-layer latency and energy: ``layer_cost`` schedules the layer with the simulator
(barrier mode, static-balanced: the better of its own split and static-even); the expected
schedules are worked out by hand from aimclib/engine.py's rules and aimclib/balancing.py's
splits, and checked against the ideal bounds of aimclib/layercost.py's docstring.

Per-MVM costs (alpine presets, 2 GHz; see tests/test_interface.py for their derivation):
256 x 256 tile: tight core time 128 (queue/dequeue) + 100 (cmprocess) + 144 (host) = 372 ns,
a later row block adds 256 psum adds / 4 = 32 ns; loose host 144 ns, tile 228 ns, 1090 ns per
job of 16 MVMs. A tile is busy (``tile_mvm`` seconds) for its transfers and the MVM: 228 ns
for 256 x 256, tight or loose. Power: core 0.2 W busy, 0.02 W idle; tile 1 mW static (the
all-digital baseline has no tiles); DRAM 1.875 pJ/B; bus 4 pJ/B.
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
from aimclib.layercost import CORE_COMPONENTS, DEVICE_COMPONENTS
from aimclib.layers import Layer, layer_info
from aimclib.mapping import map_layer
from aimclib.simulate import place_tiles
from aimclib.system import load_system
from aimclib.workload import layer_work

TIGHT = load_system("alpine-tight")
LOOSE = load_system("alpine-loose")
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
    # m = 1: 228 ns of interface (64 + 64 transfers + 100 ns) + 144 ns host work = 372 ns
    assert c.latency_s == approx(372 * NS)
    s = seconds(c.cost)
    assert s["digital"] == 0.0 and s["steal"] == 0.0
    assert s["interface"] == approx(128 * NS) and s["tile_wait"] == approx(100 * NS)
    assert s["host"] == approx(144 * NS) and s["idle"] == 0.0
    assert s["tile_mvm"] == approx(228 * NS)  # the tile is busy for the transfers and the MVM
    assert s["tile_static"] == approx(372 * NS)  # 1 tile x latency
    # input 256 B + output 256 B fit the L2 and no weight is digital: no DRAM traffic
    assert s["dram"] == 0.0 and s["bus"] == 0.0
    j = joules(c.cost)
    assert j["interface"] == approx(128 * NS * 0.2)  # 25.6 nJ
    assert j["tile_wait"] == approx(100 * NS * 0.2)  # 20 nJ: the stalled core burns power
    assert j["host"] == approx(144 * NS * 0.2)  # 28.8 nJ
    assert j["tile_mvm"] == approx(10.24e-9)  # 1.024 + 3.072 + 6.144 nJ
    assert j["tile_static"] == approx(372e-9 * 1e-3)  # 372 ns x 1 mW = 0.372 nJ
    assert j["digital"] == j["idle"] == j["dram"] == j["bus"] == j["steal"] == 0.0
    # 25.6 + 20 + 28.8 + 10.24 + 0.372 = 85.012 nJ
    assert c.energy_j == approx(85.012e-9)
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
    assert b.breakdown["dram"]["joules"] == approx(65536 * 1.875e-12)  # 122.88 nJ
    assert b.breakdown["digital"]["joules"] == approx(9.04 * US * 0.2)  # 1.808 uJ
    for k in ("interface", "tile_wait", "host", "steal", "idle", "tile_mvm", "bus"):
        assert b.breakdown[k]["joules"] == 0.0
    # speedup 9.04 us / 372 ns = 24.30
    assert c.speedup == approx(9040 / 372)


def test_baseline_energy_has_no_tiles():
    # The published baseline is "multi-threaded NEON code on the same cores, no AIMC": its
    # energy is 1.808 uJ (cores) + 122.88 nJ (DRAM) = 1.93088 uJ whatever tiles the system has.
    for tiles in (0, 1, 8):
        base = layer_cost(linear(256, 256), TIGHT, cores=1, tiles=tiles).baseline
        assert base.energy_j == approx(1.808e-6 + 1.2288e-7)
        assert base.breakdown["tile_static"] == {"seconds": 0.0, "joules": 0.0}


def test_dense_256_loose_one_core_one_tile():
    c = layer_cost(linear(256, 256), LOOSE, cores=1, tiles=1)
    # One loose task: the core is busy 144 ns host + 1 job x 1090 ns = 1234 ns; the tile
    # 228 ns from t = 0 and the bus 512 B / 8 GB/s = 64 ns. The engine ends the task at
    # max(0 + 1234, 0 + 228, 64) = 1234 ns (the job's set-up and completion overlap the tile's
    # work; see test_loose_schedule_meets_the_docstring_chain_bound).
    assert c.latency_s == approx(1234 * NS)
    s, j = seconds(c.cost), joules(c.cost)
    assert s["interface"] == approx(1090 * NS) and s["host"] == approx(144 * NS)
    assert s["tile_wait"] == 0.0 and s["idle"] == pytest.approx(0.0, abs=1e-18)
    assert s["bus"] == approx(64 * NS) and s["tile_mvm"] == approx(228 * NS)
    # 218 nJ (job) + 28.8 nJ (host) + 10.24 nJ (MVM) + 1234 ns x 1 mW = 1.234 nJ
    # + 512 B x 4 pJ = 2.048 nJ = 260.322 nJ
    assert j["interface"] == approx(218e-9) and j["host"] == approx(28.8e-9)
    assert j["tile_static"] == approx(1.234e-9) and j["bus"] == approx(2.048e-9)
    assert c.energy_j == approx(260.322e-9)


def test_loose_schedule_meets_the_docstring_bound():
    # linear 256 -> 256, one loose tile, 1 or 8 cores: docstring bound
    #   max((A + D) / p, max_t m * tile_t, m * bus_bytes / B_bus) = max(1234 / p, 228, 64)
    # and the engine overlaps the job's set-up and completion (1090 ns) with the tile's work:
    # the lone MVM's core part, 1090 + 144 = 1234 ns, is the latency on any core count.
    for cores in (1, 8):
        c = layer_cost(linear(256, 256), LOOSE, cores=cores, tiles=1)
        assert c.latency_s >= max(1234 / cores, 228, 64) * NS * (1 - 1e-12)
        assert c.latency_s == approx(1234 * NS)


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
#   host first block 24 + (384 + 512)/4 = 248 cycles = 124 ns, later blocks 24 + (384 + 768)/4
#   = 312 cycles = 156 ns -> 336 ns (block 0) and 368 ns (blocks 1, 2); a unit: 1072 ns.
#   Tile busy per MVM: tight 112 + 100 = 212 ns; loose (192 + 256) B / 4 GB/s + 100 ns = 212 ns.
#   loose: host 124 / 156 / 156 ns, ceil(784 / 16) = 49 jobs per tile of 1090 ns = 53.41 us.
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
A_TIGHT_UNIT_NS = 784 * 1072  # 840,448 ns
A_LOOSE_UNIT_NS = 784 * (124 + 156 + 156) + 3 * 49 * 1090  # 341,824 + 160,230 = 502,054 ns


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
    # tight, 1 core: the core runs its 3 tiles' MVMs and D: 840,448 + 15,394,624
    #   = 16,235,072 ns = the bound max(A_0, (A + D) / 1)
    (TIGHT, 1, A_TIGHT_UNIT_NS + D_NS, tight_bound([A_TIGHT_UNIT_NS], D_NS, 1)),
    # tight, 8 cores: the 3 tiles sit on cores 0, 1, 2 (784 x 336 / 368 ns = 263 / 289 us);
    #   static-balanced water-fills D around them: every core ends at
    #   (A + D) / 8 = 16,235,072 / 8 = 2,029,384 ns = the bound (no tile is over-full)
    (TIGHT, 8, (A_TIGHT_UNIT_NS + D_NS) / 8,
     tight_bound([784 * 336, 784 * 368, 784 * 368] + [0] * 5, D_NS, 8)),
    # loose, 1 core: one task per tile of all 784 positions (49 jobs each), then D:
    #   502,054 + 15,394,624 = 15,896,678 ns = the bound (chain 784 x 212 + 1090 = 167.3 us,
    #   bus 784 x 3 x 448 B / 8 GB/s = 131.7 us)
    (LOOSE, 1, A_LOOSE_UNIT_NS + D_NS,
     loose_bound(A_LOOSE_UNIT_NS, D_NS, 1, 784 * 212 + 1090, 784 * 3 * 448 / 8)),
    # loose, 8 cores: positions in 8 chunks of 98, one task per (tile, chunk) dealt longest
    #   first: every core gets one chunk of each tile, ceil(98/16) = 7 jobs per chunk:
    #   98 x (124 + 156 + 156) + 3 x 7 x 1090 = 42,728 + 22,890 = 65,618 ns; D water-fills:
    #   65,618 + 15,394,624 / 8 = 65,618 + 1,924,328 = 1,989,946 ns. Above the bound
    #   (A + D) / 8 = 15,896,678 / 8 = 1,987,084.75 ns by the 21 extra jobs of chunking.
    (LOOSE, 8, 65_618 + D_NS / 8,
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
    assert bd["dram"]["joules"] == approx(147456 * 1.875e-12)
    assert bd["tile_mvm"]["seconds"] == approx(784 * 3 * 212 * NS)  # 498,624 ns


def test_conv_half_mapped_tight_8_cores_breakdown():
    c = layer_cost(CONV, TIGHT, cores=8, tiles=3)
    s, j = seconds(c.cost), joules(c.cost)
    assert s["interface"] == approx(784 * 3 * 112 * NS)  # 263,424 ns
    assert s["tile_wait"] == approx(784 * 3 * 100 * NS)  # 235,200 ns
    assert s["host"] == approx(784 * 436 * NS)  # 341,824 ns
    assert s["idle"] == pytest.approx(0.0, abs=1e-15)  # latency is (A + D) / 8 exactly
    # tile energy: 784 x 3 x (1.024 + 192 x 0.012 + 256 x 0.024 = 9.472 nJ) = 22.278144 uJ
    assert j["tile_mvm"] == approx(784 * 3 * 9.472e-9)
    assert j["tile_static"] == approx(3 * 2_029_384 * NS * 1e-3)
    busy_ns = D_NS + 263_424 + 235_200 + 341_824  # = 16,235,072 = 8 x latency
    expect = (busy_ns * NS * 0.2 + 784 * 3 * 9.472e-9 + 3 * 2_029_384 * NS * 1e-3
              + 147456 * 1.875e-12)
    assert c.energy_j == approx(expect)


@pytest.mark.parametrize("sys, cores, expect_ns, bound_ns", [
    # tight, 1 core: 784 x 2 x 1072 ns = 1,680,896 ns
    (TIGHT, 1, 784 * 2144, tight_bound([784 * 2144], 0, 1)),
    # tight, 2 cores: tiles round-robin [0,1,0,1,0,1]: core 0 gets blocks (u0 b0, u0 b2,
    # u1 b1) = 336 + 368 + 368, core 1 (u0 b1, u1 b0, u1 b2) = 368 + 336 + 368: 784 x 1072
    (TIGHT, 2, 784 * 1072, tight_bound([784 * 1072] * 2, 0, 2)),
    # tight, 8 cores: one tile per core, slowest a later block: 784 x 368 = 288,512 ns
    # (A / 8 = 210,112 ns). Static-balanced would hand ~22 positions of each later-block tile
    # to the two tile-less cores, but each costs 6.94 us digitally (192 x 256 block: 13,880
    # cycles) and the rounding to whole positions ends later (294.9 us): the static-even split
    # (no conversion) is kept.
    (TIGHT, 8, 784 * 368, tight_bound([784 * 336, 784 * 368, 784 * 368] * 2 + [0, 0], 0, 8)),
    # loose, 8 cores: 8 chunks of 98 positions per tile; every core walks the 6 tiles in the
    # same order (per-chunk core time 98 x 124 or 156 ns + 7 x 1090 ns), so tile t starts
    # when the cores reach it: tile 5 at 19,782 + 22,918 + 22,918 + 19,782 + 22,918 =
    # 108,318 ns, then runs its 8 chunks back to back (98 x 212 = 20,776 ns each):
    # 108,318 + 8 x 20,776 = 274,526 ns. The FIFO bus (each chunk's 98 x 448 B = 43,904 B
    # hold it 5,488 ns, 263,424 ns in all, issued from t = 0 on) is done before that.
    # Bound: A / 8 = (784 x 872 + 6 x 49 x 1090) / 8 = 1,004,108 / 8 = 125,513.5 ns;
    # tile 784 x 212 = 166,208 ns; bus 784 x 6 x 448 B / 8 GB/s = 263,424 ns.
    (LOOSE, 8, 274_526, loose_bound(784 * 872 + 6 * 49 * 1090, 0, 8, 784 * 212,
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
    lat = 288_512 * NS
    busy = 784 * 2144 * NS  # 1,680,896 ns of core time
    idle = 8 * lat - busy  # 2,308,096 - 1,680,896 = 627,200 ns
    assert c.cost.breakdown["idle"]["seconds"] == approx(627_200 * NS)
    assert c.cost.breakdown["tile_mvm"]["seconds"] == approx(784 * 6 * 212 * NS)
    expect = (busy * 0.2 + idle * 0.02 + 784 * 6 * 9.472e-9 + 6 * lat * 1e-3)
    assert c.energy_j == approx(expect)  # no DRAM: no digital weights, activations in L2
    # baseline: 30,296,896 ns of core time split evenly over 8 cores = 3,787,112 ns
    assert c.baseline.latency_s == approx(BASE_NS / 8 * NS)
    assert c.speedup == approx(3_787_112 / 288_512)


@pytest.mark.parametrize("placement, tiles, expect_ns", [
    # linear 512 -> 512: 2 units of 2 tiles (u0 b0, u0 b1, u1 b0, u1 b1); per MVM 372 ns for
    # a first block, 404 ns for a later one. 4 cores:
    ("even", 5, 404),  # caps [2,1,1,1]: one tile per core -> max 404 ns (A / 4 = 388 ns)
    ("first", 4, 404),  # caps [1,1,1,1]
    # caps [2,2,1,0]: tiles on cores [0,1,2,0]: core 0 = 372 + 404 ns. Converting the one
    # output position of a tile costs its whole 256 x 256 block digitally (9 us): static-even
    # (no conversion) is kept.
    ("first", 5, 776),
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
    assert c.cost.breakdown["dram"]["joules"] == approx(dram_bytes * 1.875e-12)
    assert c.cost.breakdown["dram"]["seconds"] == approx(dram_bytes / 19.2e9)
    # fully mapped, the activations still stream from DRAM (weights no longer do)
    full = layer_cost(info, TIGHT, cores=8, tiles=3)
    assert full.cost.breakdown["dram"]["joules"] == approx(2 * 3_211_264 * 1.875e-12)


def test_elementwise_layer():
    # relu on 64 x 56 x 56 = 200,704 outputs: 1 op each / 4 per cycle = 50,176 cycles
    # = 25.088 us of core time (L2 time 401,408 B / 32 GB/s = 12.544 us is less); 8 cores
    info = layer_info(Layer("r", "relu", ("x",)), [(64, 56, 56)])
    c = layer_cost(info, TIGHT, cores=8, tiles=8)
    assert c.latency_s == approx(25.088 * US / 8)
    assert c.speedup == 1.0 and c.tiles_used == 0
    assert c.cost.breakdown["digital"]["seconds"] == approx(25.088 * US)
    # the 8 unused tiles leak 8 x 3.136 us x 1 mW = 25.088 nJ; the baseline has no tiles:
    # 25.088 us x 0.2 W = 5.0176 uJ -> energy gain 5.0176 / (5.0176 + 0.025088) < 1
    assert c.cost.breakdown["tile_static"]["joules"] == approx(8 * 3.136e-6 * 1e-3)
    assert c.baseline.energy_j == approx(5.0176e-6)
    assert c.energy_gain == approx(5.0176 / (5.0176 + 0.025088))


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
    # more host work than the 372 ns MVM without bias
    mapped = layer_cost(info, TIGHT, cores=1, tiles=1)
    assert mapped.latency_s == approx(404 * NS)
    assert mapped.cost.breakdown["host"]["seconds"] == approx(176 * NS)


# conv1 7x7/2, 3 -> 64 on 224x224: m = 112 x 112 = 12,544, K = 147, N = 64: one tile.
# Digital per position: e = 0.5 * 147/163 * 64/72, mac 147*64 / (8 * e) = 163 * 18 = 2,934;
#   im2col 147/8 = 18.375; out 64*2/4 = 32 -> alt = 2,984.375 cycles = 1,492.1875 ns;
#   x 12,544 = 18,718,000 ns, / 8 cores = 2,339,750 ns (memory: 9,408 B of weights and
#   953,344 B of activations in L2, 33.7 us in all: compute-bound).
# Tight, one tile on core 0: per MVM (37 + 16) x 2 = 106 cycles = 53 ns + 100 ns
#   + host 147/8 + (294 + 128)/4 = 123.875 cycles = 61.9375 ns -> a = 214.9375 ns;
#   A = 12,544 x a = 2,696,176 ns.
# Static-balanced: core 0 keeps L of analog work and the other 7 cores compute the rest of its
#   positions digitally (ratio r = alt / a = 6.9424) by L: 7 L = r (A - L), so
#   L* = A r / (7 + r) = 18,718,000 / 13.942425 = 1,342,521.106 ns. Converted positions round
#   up: ceil(12,544 x 7 / (7 + r)) = ceil(6,297.9) = 6,298, leaving 6,246 MVMs on core 0
#   (1,342,499.625 ns). The converted work 6,298 x 1,492.1875 = 9,397,796.875 ns overfills
#   the room under L* (7 L* + L* - 1,342,499.625) by 6,298 x alt + 6,246 x a - 8 L*
#   = 127.65 ns, which goes to one core: latency = 9,397,796.875 + 1,342,499.625 - 7 L*
#   = 1,342,648.757 ns.
CONV1 = conv(3, 64, 7, 224, padding=3, stride=2)
CONV1_L_STAR_NS = 18_718_000 / (7 + 2984.375 / 429.875)


def test_a_tile_never_slows_resnet_conv1_on_8_tight_cores():
    none = layer_cost(CONV1, TIGHT, cores=8, tiles=0)
    one = layer_cost(CONV1, TIGHT, cores=8, tiles=1)
    assert none.latency_s == approx(2_339_750 * NS)
    expect_ns = 9_397_796.875 + 1_342_499.625 - 7 * CONV1_L_STAR_NS
    assert one.latency_s == approx(expect_ns * NS)
    assert one.latency_s >= CONV1_L_STAR_NS * NS  # the fractional optimum of the split
    assert one.cost.breakdown["tile_wait"]["seconds"] == approx(6_246 * 100 * NS)
    assert one.cost.breakdown["digital"]["seconds"] == approx(9_397_796.875 * NS)
    assert one.latency_s <= none.latency_s


def test_balancer_choice_changes_the_schedule():
    # conv1 with one tight tile on 8 cores: static-even leaves the tile's 12,544 MVMs on
    # core 0 (A = 2,696,176 ns) while the other cores idle; static-balanced converts
    # positions to them (1,342,648.757 ns, above).
    even = layer_cost(CONV1, TIGHT, cores=8, tiles=1, balancer="static-even", map_all=True)
    assert even.latency_s == approx(2_696_176 * NS)
    assert layer_cost(CONV1, TIGHT, cores=8, tiles=1).latency_s < even.latency_s


def test_tight_schedule_meets_the_water_filling_bound():
    # ResNet conv1 with one tight tile on 8 cores: the docstring's bound is the level L* at
    # which the owner's analog work above L* moves to the other cores; without moving work it
    # would be max_c A_c = 2,696,176 ns, which the converted schedule beats.
    one = layer_cost(CONV1, TIGHT, cores=8, tiles=1)
    assert CONV1_L_STAR_NS * NS <= one.latency_s < 2_696_176 * NS


def test_tiles_never_slow_a_depthwise_conv():
    # depthwise 3x3, 32 channels, 112x112 (m = 12,544): digital per position
    #   9*8*ceil(32/8) / (8*0.25) = 144 + out 32*2/4 = 16 -> 160 cycles; x 12,544
    #   = 2,007,040 cycles = 1,003,520 ns (no n_half term: depthwise).
    # 1 tile of 16 channels (144 x 16): per MVM (36 + 4) x 2 = 80 cycles = 40 ns + 100 ns
    #   + host 144/8 + (288 + 32)/4 = 98 cycles = 49 ns -> 189 ns, against 40 ns to compute
    #   its 16 channels digitally (9*8*2/2 = 72 + 16*2/4 = 8 -> 80 cycles): static-balanced
    #   leaves such a tile unused, so the layer costs exactly its all-digital time.
    info = conv(32, 32, 3, 112, padding=1, groups=32)
    none = [layer_cost(info, TIGHT, cores=p, tiles=0).latency_s for p in (1, 8)]
    one = [layer_cost(info, TIGHT, cores=p, tiles=1).latency_s for p in (1, 8)]
    assert none == [approx(1_003_520 * NS), approx(125_440 * NS)]
    assert one == [approx(1_003_520 * NS), approx(125_440 * NS)]
    # static-even, which must use the tile, is 2.86x slower on one core
    even = layer_cost(info, TIGHT, cores=1, tiles=1, balancer="static-even", map_all=True)
    assert even.latency_s == approx((2_370_816 + 501_760) * NS)
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
                      tile_placement=draw(st.sampled_from(["even", "first"])))
    if draw(st.booleans()):  # small tiles exercise row blocks and packing on small layers
        sys = sys.replace(**{"tile.rows": draw(st.sampled_from([16, 64])),
                             "tile.cols": draw(st.sampled_from([8, 64]))})
    return info, sys, draw(st.integers(1, 8)), draw(st.integers(0, 12))


@given(cases())
@settings(max_examples=120, deadline=None)
def test_cost_invariants(case):
    info, sys, cores, tiles = case
    c = layer_cost(info, sys, cores=cores, tiles=tiles)
    for cost, static_tiles in ((c.cost, tiles), (c.baseline, 0)):
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
            analog = m * float(mc.core_s[:n_t].sum()) + float(mc.jobs(m)) * n_t * mc.job_s
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
    # the 5 extra tiles only leak: 5 x latency x 1 mW
    assert b.energy_j - a.energy_j == pytest.approx(
        5 * a.latency_s * sys.tile.static_power_w, rel=1e-9, abs=1e-21)


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
    # Loose, one tile: a single task (m = 1) on one core: 144 + 1090 = 1234 ns (the tile's
    # 228 ns and the bus's 64 ns overlap it); tight, one tile: 372 ns
    info = linear(256, 256)
    assert layer_cost(info, LOOSE, cores=8, tiles=0).latency_s == approx(
        (65536 / 2.4 + 16) / 8 * NS)
    assert layer_cost(info, LOOSE, cores=8, tiles=1).latency_s == approx(1234 * NS)
    assert layer_cost(info, TIGHT, cores=8, tiles=1).latency_s == approx(372 * NS)
