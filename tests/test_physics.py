"""The physics fixed by issue 8, each against a hand-computed case.

alpine-tight defaults used below (aimclib/presets/alpine-tight.toml): 2 GHz; cmqueue/cmdequeue
4 B in 2 cycles, cmprocess 200 cycles (100 ns); host work at 4 ops/cycle: 2 dequantise ops per
output (+1 on a later row block), 2 quantise ops per input only when the digital code's
activations are wider than the tile's 8-bit inputs, an im2col gather at 8 B/cycle only for a
convolution with a kernel larger than 1x1. So a 256 x 256 dense MVM costs the core
128 (queue/dequeue) + 100 (cmprocess) + 64 (host: 512 ops / 4 = 128 cycles) = 292 ns.
Partial sums: a tile on another core than its unit's first row block moves 2 x cols x 1 B
through the L2 at 16 B/cycle x 2 GHz = 32 GB/s per MVM and pays one 400-cycle (200 ns)
hand-over per task. Energy: tile figures at 14 nm scaled to the cores' 28 nm by
(28 / 14)^1 = 2; static 1 mW per powered tile; DRAM 120 pJ/B.
"""

import warnings

import numpy as np
import pytest

from aimclib import NetworkBuilder, layer_cost, simulate
from aimclib.interface import LooseInterface, TightInterface
from aimclib.kernels import DEFAULT_KERNEL, KERNEL_CLASSES
from aimclib.layers import Layer, layer_info
from aimclib.system import PlausibilityWarning, PresetError, describe, load_system
from aimclib.workload import layer_work

TIGHT = load_system("alpine-tight")
LOOSE = load_system("alpine-loose")
NS = 1e-9


def approx(x):
    return pytest.approx(x, rel=1e-12)


def linear(fin, fout, bias=False):
    return layer_info(Layer("fc", "linear", ("x",), out_channels=fout, bias=bias),
                      [(fin, 1, 1)])


def conv(cin, cout, k, hw, padding=0, stride=1):
    return layer_info(Layer("c", "conv", ("x",), out_channels=cout, kernel=k,
                            padding=padding, stride=stride), [(cin, hw, hw)])


# --------------------------------------------------------------------------- 1. quantise
def test_no_quantise_cost_on_int8_inputs():
    # int8-intrinsics: activation_bits 8 = tile.input_bits 8: nothing to quantise. Dense
    # 256 x 256 (no gather): host = 2 x 256 dequantise ops / 4 = 128 cycles = 64 ns
    assert TIGHT.cpu.activation_bits == 8 == TIGHT.tile.input_bits
    w = layer_work(0, linear(256, 256), TIGHT)
    assert w.mvm.host_s.tolist() == pytest.approx([64 * NS], rel=1e-12)
    c = layer_cost(linear(256, 256), TIGHT, cores=1, tiles=1)
    assert c.cost.breakdown["host"]["seconds"] == approx(64 * NS)
    assert c.latency_s == approx(292 * NS)


def test_quantise_is_charged_for_float32_activations():
    # fp32-neon keeps float32 activations (activation_bits 32 > 8): the core quantises the 256
    # inputs, 2 ops each: + 512 / 4 = 128 cycles = 64 ns -> host 128 ns, latency 356 ns
    fp32 = load_system(cpu__baseline_kernel="fp32-neon")
    assert fp32.cpu.activation_bits == 32
    w = layer_work(0, linear(256, 256), fp32)
    assert w.mvm.host_s.tolist() == pytest.approx([128 * NS], rel=1e-12)
    c = layer_cost(linear(256, 256), fp32, cores=1, tiles=1)
    assert c.cost.breakdown["host"]["seconds"] == approx(128 * NS)
    assert c.latency_s == approx(356 * NS)
    # the rule is "wider than the DACs": int8 activations into 4-bit DACs are quantised too
    # (2 x 256 + 2 x 256 ops / 4 = 256 cycles = 128 ns)
    narrow = TightInterface().host_seconds(load_system(tile__input_bits=4), 256, 256, 0,
                                           gather=False)
    assert float(narrow) == approx(128 * NS)


# --------------------------------------------------------------------------- 2. gather
@pytest.mark.parametrize("info, rows, host_ns", [
    # dense 256 -> 256: the input vector is contiguous: 64 ns (dequantise only)
    (linear(256, 256), 256, 64),
    # 1x1 conv 256 -> 256 on 4x4: each position's 256 channels are contiguous (NHWC): 64 ns
    (conv(256, 256, 1, 4), 256, 64),
    # 3x3 conv 16 -> 256 on 8x8, pad 1: K = 144 rows gathered by im2col:
    # 144 / 8 = 18 cycles + 128 cycles = 146 cycles = 73 ns
    (conv(16, 256, 3, 8, padding=1), 144, 73),
])
def test_gather_only_for_convolutions_larger_than_1x1(info, rows, host_ns):
    w = layer_work(0, info, TIGHT)
    assert w.mapping.tile_rows.tolist() == [rows]
    assert w.mvm.host_s.tolist() == pytest.approx([host_ns * NS], rel=1e-12)
    # the same for the loose interface (the host work is shared)
    lw = layer_work(0, info, LOOSE)
    assert lw.mvm.host_s.tolist() == pytest.approx([host_ns * NS], rel=1e-12)


def test_gather_flag_of_host_seconds():
    # 147 rows (ResNet conv1's 7x7x3 patch), 64 columns: gather 147 / 8 = 18.375 cycles,
    # dequantise 128 / 4 = 32 cycles
    iface = LooseInterface()
    assert float(iface.host_seconds(TIGHT, 147, 64, 0, gather=True)) == approx(25.1875 * NS)
    assert float(iface.host_seconds(TIGHT, 147, 64, 0, gather=False)) == approx(16 * NS)


# --------------------------------------------------------------------------- 3. partial sums
# conv 1x1, 512 -> 256 on 4x4: m = 16, K = 512 = 2 row blocks of 256, N = 256: one unit of two
# 256 x 256 tiles. Per MVM: block 0 128 + 100 + 64 = 292 ns, block 1 (+ 256 psum adds / 4 =
# 32 ns) 324 ns. No gather (1x1).
PSUM = conv(512, 256, 1, 4)


def psum_ns(cols=256, l2_bytes_per_cycle=16.0, clock_hz=2e9, output_bits=8):
    """The hand formula: 2 x cols x output bytes at the L2 rate (ns per MVM)."""
    return 2 * cols * output_bits / 8 / (l2_bytes_per_cycle * clock_hz) / NS


def test_partial_sums_cost_nothing_on_one_core():
    c = layer_cost(PSUM, TIGHT, cores=1, tiles=2)
    assert c.tiles_used == 2
    # both tiles on core 0: 16 x (292 + 324) = 9,856 ns; host 16 x (64 + 96) = 2,560 ns
    assert c.latency_s == approx(16 * 616 * NS)
    assert c.cost.breakdown["host"]["seconds"] == approx(16 * 160 * NS)


def test_partial_sums_move_through_the_l2_across_cores():
    assert psum_ns() == approx(16.0)  # 512 B / 32 GB/s
    c = layer_cost(PSUM, TIGHT, cores=2, tiles=2)
    # block 0 on core 0, block 1 on core 1: core 1 pays 16 x (324 + 16) + 200 = 5,640 ns,
    # core 0 16 x 292 = 4,672 ns (converting a position digitally costs a whole 256 x 256
    # block, about 28 us: nothing moves)
    assert c.latency_s == approx((16 * (324 + psum_ns()) + 200) * NS)
    # host: 16 x 64 + 16 x (96 + 16) + 200 = 3,016 ns
    assert c.cost.breakdown["host"]["seconds"] == approx((16 * 64 + 16 * 112 + 200) * NS)


def test_partial_sum_cost_follows_its_parameters():
    # half the L2 rate doubles the transfer (32 ns); a 1000-cycle hand-over is 500 ns
    sys = load_system(cpu__l2_bytes_per_cycle=8.0, host__psum_sync_cycles=1000.0)
    assert psum_ns(l2_bytes_per_cycle=8.0) == approx(32.0)
    c = layer_cost(PSUM, sys, cores=2, tiles=2)
    assert c.latency_s == approx((16 * (324 + 32) + 500) * NS)
    assert c.cost.breakdown["host"]["seconds"] == approx((16 * 64 + 16 * 128 + 500) * NS)


def test_loose_units_keep_their_partial_sums_on_one_core():
    # loose, 2 cores: 16 positions cut into 2 chunks of 8; each chunk drives both tiles of
    # the unit on one core, so nothing moves between cores: host 16 x (64 + 96) = 2,560 ns
    c = layer_cost(PSUM, LOOSE, cores=2, tiles=2)
    assert c.cost.breakdown["host"]["seconds"] == approx(16 * 160 * NS)


# --------------------------------------------------------------------------- 4. power gating
def test_power_gating_of_one_layer():
    # dense 256 -> 256 on one core with 4 tiles: one tile holds the weights; 292 ns
    static = 1e-3 * 2  # 1 mW x (28 / 14)
    for gating, powered in (("none", 4), ("unused", 1), ("idle", 1)):
        c = layer_cost(linear(256, 256), load_system(system__power_gating=gating),
                       cores=1, tiles=4)
        assert c.latency_s == approx(292 * NS)
        bd = c.cost.breakdown["tile_static"]
        assert bd["seconds"] == approx(powered * 292 * NS)
        assert bd["joules"] == approx(powered * 292 * NS * static)


def _two_dense():
    b = NetworkBuilder("two-dense", (256, 1, 1))
    x = b.linear(b.input, 256, bias=False, name="fc1")
    b.linear(x, 256, bias=False, name="fc2")
    return b.build()


def test_power_gating_in_simulate():
    # two dense 256 -> 256 layers, one tile each of the 8, each layer 292 ns (barrier):
    # latency 584 ns whatever the gating
    net = _two_dense()
    res = {g: simulate(net, load_system(system__power_gating=g), allocation="layer-order")
           for g in ("none", "unused", "idle")}
    static = 1e-3 * 2
    for g, r in res.items():
        assert r.latency_s == approx(584 * NS), g
        assert [len(o) for o in r.owners] == [1, 1]
    # none: 8 tiles x 584 ns; unused: the 2 mapped tiles x 584 ns; idle: each tile for its
    # layer's 292 ns
    expect = {"none": 8 * 584, "unused": 2 * 584, "idle": 2 * 292}
    for g, r in res.items():
        assert r.breakdown["tile_static"]["seconds"] == approx(expect[g] * NS), g
        assert r.breakdown["tile_static"]["joules"] == approx(expect[g] * NS * static), g
    # idle, from the result's own schedule: sum over layers of its tiles x its duration
    r = res["idle"]
    on = sum(len(o) * (e - s) for o, s, e in zip(r.owners, r.layer_start, r.layer_end))
    assert r.breakdown["tile_static"]["seconds"] == approx(on)
    # the per-tile table charges each tile its own powered time
    tiles = r.tiles
    assert tiles["energy_j"].sum() == approx(r.breakdown["tile_mvm"]["joules"]
                                             + r.breakdown["tile_static"]["joules"])
    # nothing else moves: the energies differ by the static energy only
    for g in ("unused", "idle"):
        assert res["none"].energy_j - res[g].energy_j == approx(
            (expect["none"] - expect[g]) * NS * static)


# --------------------------------------------------------------------------- 5. plausible ranges
@pytest.mark.parametrize("name", ["alpine-tight", "alpine-loose"])
def test_every_assumed_value_has_a_range_and_a_reason(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)  # defaults lie inside
        cfg = load_system(name)
    rows = describe(cfg)
    assumed = [r for r in rows if r["status"] == "assumed"]
    assert len(assumed) >= 25
    for r in assumed:
        assert r["range"] is not None, f"{r['parameter']} has no plausible range"
        assert r["range_reason"].strip(), f"{r['parameter']} has no range reason"
        rng = cfg.ranges[r["parameter"]]
        assert rng.contains(r["value"]), r["parameter"]
        if not rng.choices:
            assert rng.low <= rng.high


def test_out_of_range_override_warns_and_is_kept():
    with pytest.warns(PlausibilityWarning, match=r"tile\.static_power_w = 0\.05.*0\.0001"):
        cfg = load_system(tile__static_power_w=0.05)
    assert cfg.tile.static_power_w == 0.05  # a warning, not an error
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        assert load_system(tile__static_power_w=0.01).tile.static_power_w == 0.01  # the edge


def _preset(tmp_path, entry: str, name="r.toml") -> str:
    path = tmp_path / name
    path.write_text(f'name = "r"\nbase = "alpine-tight"\n[cpu]\ngemm_k_half = {entry}\n')
    return str(path)


def test_out_of_range_value_in_a_file_warns(tmp_path):
    path = _preset(tmp_path, '{ value = 100.0, status = "assumed", source = "t", '
                             'range = [4.0, 64.0], range_reason = "why" }')
    with pytest.warns(PlausibilityWarning, match=r"cpu\.gemm_k_half = 100\.0.*why"):
        load_system(path)
    # a child's own range replaces the base's
    wide = _preset(tmp_path, '{ value = 100.0, status = "assumed", source = "t", '
                             'range = [4.0, 200.0], range_reason = "wider" }', "w.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        cfg = load_system(wide)
    assert (cfg.ranges["cpu.gemm_k_half"].high, cfg.ranges["cpu.gemm_k_half"].reason) == (
        200.0, "wider")


@pytest.mark.parametrize("rng, words", [
    ('"wide"', ["must be a list"]),
    ("[]", ["must be a list"]),
    ("[4.0]", ["[low, high]"]),
    ("[64.0, 4.0]", ["low <= high"]),
    ('[4.0, "a"]', ["[low, high]"]),
    ("[true, 64.0]", ["[low, high]"]),
    ("[1.0, 2.0, 3.0]", ["[low, high]"]),
])
def test_bad_ranges_are_clean_preset_errors(tmp_path, rng, words):
    path = _preset(tmp_path, f'{{ value = 16.0, status = "assumed", source = "t", '
                             f'range = {rng} }}')
    with pytest.raises(PresetError) as err:
        load_system(path)
    msg = str(err.value)
    for w in ["r.toml", "cpu.gemm_k_half.range", *words]:
        assert w in msg, (w, msg)


# --------------------------------------------------------------------------- 6. kernel classes
@pytest.mark.parametrize("name, peak, sustained, lane_bits, act_bits", [
    # int8 widening MACs: 128 / 16 = 8 lanes x 2/3 (SMULL + SMLAL + SADALP) = 16/3
    ("int8-asm", 16 / 3, 3.0, 16, 8),
    ("int8-intrinsics", 16 / 3, 1.3, 16, 8),
    # float32 FMLA: 128 / 32 = 4 lanes, every instruction a MAC
    ("fp32-neon", 4.0, 1.5, 32, 32),
])
def test_kernel_class_efficiency_is_sustained_over_peak(name, peak, sustained, lane_bits,
                                                        act_bits):
    k = KERNEL_CLASSES[name]
    assert k.peak_macs_per_cycle == approx(peak)
    assert k.gemm_efficiency == approx(sustained / peak)
    cfg = load_system(cpu__baseline_kernel=name)
    assert cfg.cpu.baseline_kernel == name
    assert (cfg.cpu.mac_lane_bits, cfg.cpu.activation_bits) == (lane_bits, act_bits)
    assert cfg.cpu.macs_per_cycle == approx(peak)
    assert cfg.cpu.gemm_efficiency == approx(sustained / peak)
    assert cfg.cpu.sustained_macs_per_cycle == approx(sustained)
    # the efficiency's range follows the class's sustained range
    lo, hi = k.sustained_range
    rng = cfg.ranges["cpu.gemm_efficiency"]
    assert (rng.low, rng.high) == (approx(lo / peak), approx(hi / peak))
    assert cfg.sources["cpu.mac_lane_bits"][0] == "derived"


def test_default_kernel_class():
    # int8-intrinsics: 1.3 / (16/3) = 0.24375
    assert DEFAULT_KERNEL == "int8-intrinsics" == TIGHT.cpu.baseline_kernel
    assert TIGHT.cpu.gemm_efficiency == approx(0.24375)


def test_switching_back_and_explicit_efficiency_wins():
    fp32 = load_system(cpu__baseline_kernel="fp32-neon")
    # a class given to a system built from another class re-applies its own values
    back = load_system(fp32, cpu__baseline_kernel="int8-asm")
    assert (back.cpu.mac_lane_bits, back.cpu.activation_bits) == (16, 8)
    assert back.cpu.gemm_efficiency == approx(3.0 / (16 / 3))  # 0.5625
    # an explicit gemm_efficiency beats the class's (0.375 for fp32-neon); the other derived
    # fields still follow the class
    with warnings.catch_warnings():  # see test_explicit_efficiency_keeps_its_class_range
        warnings.simplefilter("ignore", PlausibilityWarning)
        mine = load_system(cpu__baseline_kernel="fp32-neon", cpu__gemm_efficiency=0.4)
    assert mine.cpu.gemm_efficiency == 0.4 and mine.cpu.mac_lane_bits == 32
    assert mine.sources["cpu.gemm_efficiency"][0] == "override"
    with pytest.raises(PresetError, match="cpu.baseline_kernel"):
        load_system(cpu__baseline_kernel="int4-magic")


def test_explicit_efficiency_keeps_its_class_range():
    # fp32-neon's efficiency range is 1.2 / 4 .. 1.8 / 4 = 0.3 .. 0.45: 0.4 lies inside it and
    # must not be checked against int8-intrinsics' 0.206 .. 0.281
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        mine = load_system(cpu__baseline_kernel="fp32-neon", cpu__gemm_efficiency=0.4)
    rng = mine.ranges["cpu.gemm_efficiency"]
    assert (rng.low, rng.high) == (approx(0.3), approx(0.45))


def test_kernel_class_in_a_preset_file(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text('name = "k"\nbase = "alpine-tight"\n[cpu]\n'
                    'baseline_kernel = { value = "fp32-neon", status = "assumed", '
                    'source = "t" }\n'
                    'gemm_efficiency = { value = 0.4, status = "assumed", source = "t" }\n')
    cfg = load_system(str(path))
    # the file's explicit efficiency stays; lanes and activation width come from the class
    assert cfg.cpu.gemm_efficiency == 0.4
    assert (cfg.cpu.mac_lane_bits, cfg.cpu.activation_bits) == (32, 32)
    assert cfg.cpu.macs_per_cycle == approx(4.0)


# --------------------------------------------------------------------------- 7. energy terms
def test_dram_energy_per_byte():
    # all-digital dense 256 -> 256: 65,536 int8 weights stream from DRAM, 120 pJ each
    base = layer_cost(linear(256, 256), TIGHT, cores=1, tiles=0).baseline
    assert base.breakdown["dram"]["joules"] == approx(65536 * 120e-12)  # 7.864 uJ
    # float32 weights are 4 B each: 262,144 B
    fp32 = layer_cost(linear(256, 256), load_system(cpu__baseline_kernel="fp32-neon"),
                      cores=1, tiles=0).baseline
    assert fp32.breakdown["dram"]["joules"] == approx(4 * 65536 * 120e-12)
    # 64 pJ/B
    low = layer_cost(linear(256, 256), load_system(cpu__dram_energy_j_per_byte=64e-12),
                     cores=1, tiles=0).baseline
    assert low.breakdown["dram"]["joules"] == approx(65536 * 64e-12)


@pytest.mark.parametrize("exponent, scale", [(0.0, 1.0), (1.0, 2.0), (2.4, 2 ** 2.4)])
def test_tile_energy_scale_in_the_breakdown(exponent, scale):
    # one 256 x 256 MVM: 10.24 nJ at 14 nm; static 1 mW x 292 ns; both x (28/14)^exponent
    sys = load_system(tile__energy_node_exponent=exponent)
    assert sys.tile_energy_scale == approx(scale)
    c = layer_cost(linear(256, 256), sys, cores=1, tiles=1)
    bd = c.cost.breakdown
    assert bd["tile_mvm"]["joules"] == approx(10.24e-9 * scale)
    assert bd["tile_static"]["joules"] == approx(292 * NS * 1e-3 * scale)
    # the cores' energy does not scale: 0.2 W x 292 ns
    core = sum(bd[k]["joules"] for k in ("interface", "tile_wait", "host"))
    assert core == approx(292 * NS * 0.2)


# --------------------------------------------------------------------------- 8. DMA jobs
def test_vectors_per_job_from_the_job_buffer():
    lo = LOOSE.loose
    assert lo.job_buffer_bytes == 4096
    # 4096 // 256 = 16 full input vectors; 4096 // 147 = 27 (27.86 rounded down)
    assert lo.vectors_per_job(256) == 16 and lo.vectors_per_job(147) == 27
    assert lo.vectors_per_job(np.array([256, 147, 5000])).tolist() == [16, 27, 1]  # >= 1
    # ResNet-50 conv1 (7x7x3 = 147 rows, 64 columns) on a loose tile: 12,544 positions need
    # ceil(12,544 / 27) = 465 jobs
    w = layer_work(0, conv(3, 64, 7, 224, padding=3, stride=2), LOOSE)
    assert w.mvm.vectors_per_job.tolist() == [27]
    assert int(w.mvm.jobs(12544, 0)) == 465
    # a 256 B buffer moves one 256-row vector per job
    one = load_system("alpine-loose", loose__job_buffer_bytes=256)
    c = LooseInterface().mvm_cost(one, np.array([256]), np.array([256]), np.array([0]))
    assert c.vectors_per_job.tolist() == [1] and int(c.jobs(16, 0)) == 16
