"""The digital cycle model of one core, checked by hand against aimclib/cpu.py's equations.

SYS: alpine-tight with the ``int8-asm`` kernel class and the other kernel parameters stated
here: lanes L = 128 / 16 = 8, peak P = 8 x 1 issue x 2/3 (SMULL + SMLAL + SADALP: two of
three instructions are MACs) = 16/3 MAC/cycle, e_gemm = 3 / (16/3) = 0.5625 (3 MAC/cycle
sustained, so P * e_gemm = 3), k_half = 16, n_half = 8, e_dw = 0.25, 4 element-wise
ops/cycle, gather 8 B/cycle, dequant 2 ops/output.
GEMM: n_v = L * ceil(n / L), e = e_gemm * k / (k + k_half) * n_v / (n_v + n_half),
mac = m * g * k * n_v / (P * e) = m * g * (k + k_half) * (n_v + n_half) / (P * e_gemm).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimclib.cpu import (N_PARAMS, activation_in_dram, cpu_params, eltwise_cycles,
                         gemm_cycles, gemm_cycles_kernel, memory_seconds)
from aimclib.system import PlausibilityWarning, load_system

SYS = load_system("alpine-tight", **{
    "cpu.baseline_kernel": "int8-asm", "cpu.gemm_k_half": 16.0, "cpu.gemm_n_half": 8.0,
    "cpu.depthwise_efficiency": 0.25, "cpu.eltwise_ops_per_cycle": 4.0,
    "cpu.gather_bytes_per_cycle": 8.0, "host.dequant_ops_per_output": 2.0})
CPU, HOST = SYS.cpu, SYS.host
# A second configuration that moves every kernel parameter: 256-bit SIMD with 8-bit lanes
# (L = 32) where every SIMD instruction is a MAC (an sdot-style machine), 2 issues (P = 64),
# other efficiencies and rates. Several lie outside alpine-tight's plausible ranges (a
# different machine), which load_system warns about.
with pytest.warns(PlausibilityWarning):
    SYS2 = load_system(cpu__simd_bits=256, cpu__mac_lane_bits=8, cpu__simd_issue_per_cycle=2,
                       cpu__mac_instruction_fraction=1.0,
                       cpu__gemm_efficiency=0.8, cpu__gemm_k_half=4, cpu__gemm_n_half=16,
                       cpu__depthwise_efficiency=0.5, cpu__eltwise_ops_per_cycle=16,
                       cpu__gather_bytes_per_cycle=32, host__dequant_ops_per_output=3)


def cycles(m, k, n, g, gather, sys=SYS, depthwise=False):
    return float(gemm_cycles(sys.cpu, sys.host, m, k, n, g, gather, depthwise))


def test_params_row():
    row = cpu_params(CPU, HOST)
    assert row.shape == (N_PARAMS,)
    assert row.tolist() == pytest.approx([8, 16 / 3, 0.5625, 16, 8, 0.25, 4, 8, 2], rel=1e-12)
    assert cpu_params(SYS2.cpu, SYS2.host).tolist() == [32, 64, 0.8, 4, 16, 0.5, 16, 32, 3]


def test_dense_gemm_256x256():
    # m=10, k=256, n=256: n_v = 256, e = 0.5625 * 256/272 * 256/264
    # mac = 10*256*256 / (16/3 * e) = 10*272*264/3 = 239360
    # out = 10*256*2/4 = 1280 -> 240640; im2col adds 10*256/8 = 320 -> 240960
    assert cycles(10, 256, 256, 1, False) == pytest.approx(240640, rel=1e-12)
    assert cycles(10, 256, 256, 1, True) == pytest.approx(240960, rel=1e-12)


def test_dense_gemm_partial_vector():
    # m=1, k=64, n=10: n_v = 8*ceil(10/8) = 16, e = 0.5625 * 64/80 * 16/24 = 0.3
    # mac = 64*16 / (16/3 * 0.3) = 1024 / 1.6 = 640 (= 80 * 24 / 3); out = 10*2/4 = 5 -> 645
    # (the idle 6 lanes of the 2nd vector are charged)
    assert cycles(1, 64, 10, 1, False) == pytest.approx(645, rel=1e-12)
    # n = 16 costs the same MAC time as n = 10 (same two vectors, same per-(row, k) overhead),
    # only the outputs differ: 640 + 16*2/4 = 648
    assert cycles(1, 64, 16, 1, False) == pytest.approx(648, rel=1e-12)


def test_n_half_halves_the_efficiency_at_n_half_outputs():
    # m=1, k=16, n=8 = n_half: e = 0.5625 * 16/32 * 8/16 = 0.140625,
    # mac = 16*8 / (16/3 * 0.140625) = 128 / 0.75 = 512/3, out = 8*2/4 = 4 -> 524/3.
    # Without the n term e = 0.28125: mac = 128 / 1.5 = 256/3 (half), out 4 -> 268/3.
    assert cycles(1, 16, 8, 1, False) == pytest.approx(524 / 3, rel=1e-12)
    with pytest.warns(PlausibilityWarning, match="gemm_n_half"):  # below its range [2, 32]
        no_n = SYS.replace(**{"cpu.gemm_n_half": 0})
    assert cycles(1, 16, 8, 1, False, no_n) == pytest.approx(268 / 3, rel=1e-12)


def test_grouped_gemm():
    # m=4, k=16, n=8, g=4: n_v = 8, e = 0.5625 * 16/32 * 8/16 = 0.140625
    # mac = 4*4*16*8 / (16/3 * 0.140625) = 2048 / 0.75 = 8192/3; gather = 4*4*16/8 = 32;
    # out = 4*4*8*2/4 = 64
    assert cycles(4, 16, 8, 4, True) == pytest.approx(8192 / 3 + 96, rel=1e-12)
    assert cycles(4, 16, 8, 4, False) == pytest.approx(8192 / 3 + 64, rel=1e-12)


def test_depthwise():
    # g=32 > 1, n=1: m*k*L*ceil(g/L) / (P*e_dw) = 100*9*8*4 / (16/3 * 0.25) = 28800 * 3/4
    # = 21600; out = 100*32*1*2/4 = 1600 -> 23200; no im2col charge either way
    assert cycles(100, 9, 1, 32, True) == pytest.approx(23200, rel=1e-12)
    assert cycles(100, 9, 1, 32, False) == pytest.approx(23200, rel=1e-12)
    # g=33: ceil(33/8) = 5 vectors: 100*9*8*5 * 3/4 = 27000; out 100*33*2/4 = 1650 -> 28650
    assert cycles(100, 9, 1, 33, False) == pytest.approx(28650, rel=1e-12)


def test_second_config_by_hand():
    # SYS2: L=32, P=32*2*1=64, e=0.8, k_half=4, n_half=16, e_dw=0.5, 16 ops/cycle, 32 B/cycle,
    # 3 ops/output. Dense m=2, k=12, n=40: n_v = 32*2 = 64, e = 0.8 * 12/16 * 64/80 = 0.48
    # mac = 2*12*64 / (64 * 0.48) = 1536 / 30.72 = 50; gather 2*12/32 = 0.75; out 2*40*3/16 = 15
    assert cycles(2, 12, 40, 1, True, SYS2) == pytest.approx(65.75, rel=1e-12)
    # depthwise m=3, k=9, g=40: 3*9*32*2 / (64*0.5) = 1728 / 32 = 54; out 3*40*3/16 = 22.5
    assert cycles(3, 9, 1, 40, True, SYS2) == pytest.approx(76.5, rel=1e-12)


def test_empty_work_is_free():
    assert cycles(0, 256, 256, 1, True) == 0.0
    assert cycles(10, 256, 0, 1, True) == 0.0
    assert cycles(10, 256, 256, 0, True) == 0.0


def test_vectorised_call_equals_scalar_calls():
    m = np.array([[1, 10], [49, 3136]])
    k = np.array([[256, 9], [576, 27]])
    n = np.array([[256, 1], [64, 64]])
    g = np.array([[1, 32], [1, 1]])
    gather = np.array([[False, True], [True, True]])
    dw = np.array([[False, True], [False, True]])
    out = gemm_cycles(CPU, HOST, m, k, n, g, gather, dw)
    assert out.shape == (2, 2)
    for idx in np.ndindex(2, 2):
        assert out[idx] == cycles(m[idx], k[idx], n[idx], g[idx], gather[idx],
                                  depthwise=dw[idx])
    # the depthwise flag only matters for one output per group: 3136x27x64 is a GEMM either way
    assert out[1, 1] == cycles(3136, 27, 64, 1, True)
    # broadcasting a scalar against an array: m=1, k=n=256 is 239360/10 = 23936 MAC cycles
    # + 256*2/4 = 128 output cycles = 24064, times m
    row = gemm_cycles(CPU, HOST, [1, 2, 4], 256, 256, 1, False)
    assert row.tolist() == pytest.approx([24064, 48128, 96256], rel=1e-12)


def _reference(m, k, n, g, gather, dw, sys):
    """Plain-Python transcription of the cpu module docstring."""
    cpu, host = sys.cpu, sys.host
    lanes = cpu.simd_bits / cpu.mac_lane_bits
    peak = lanes * cpu.simd_issue_per_cycle * cpu.mac_instruction_fraction
    if m == 0 or n == 0 or g == 0:
        return 0.0
    if n == 1 and (g > 1 or dw):
        mac = m * k * lanes * math.ceil(g / lanes) / (peak * cpu.depthwise_efficiency)
        gat = 0.0
    else:
        n_v = lanes * math.ceil(n / lanes)
        eff = (cpu.gemm_efficiency * k / (k + cpu.gemm_k_half)
               * n_v / (n_v + cpu.gemm_n_half))
        mac = m * g * k * n_v / (peak * eff)
        gat = m * g * k / cpu.gather_bytes_per_cycle if gather else 0.0
    out = m * g * n * host.dequant_ops_per_output / cpu.eltwise_ops_per_cycle
    return mac + gat + out


shapes = st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 5000), st.integers(0, 2000),
                            st.integers(0, 64), st.booleans(), st.booleans()),
                  min_size=1, max_size=20)


@given(shapes)
@settings(max_examples=60, deadline=None)
def test_kernel_matches_reference(batch):
    m, k, n, g, gat, dw = (np.array(c) for c in zip(*batch))
    params = np.stack([cpu_params(SYS.cpu, SYS.host), cpu_params(SYS2.cpu, SYS2.host)])
    out = gemm_cycles_kernel(m.astype(float), k.astype(float), n.astype(float),
                             g.astype(float), gat.astype(bool), dw.astype(bool), params)
    assert out.shape == (2, len(batch))
    for c, sys in enumerate((SYS, SYS2)):
        for i, shape in enumerate(batch):
            assert out[c, i] == pytest.approx(_reference(*shape, sys), rel=1e-12, abs=1e-9)


def test_depthwise_cost_is_monotone_in_channels():
    # A packed depthwise remainder can be one channel: (m, 9, n=1, g=1) with the depthwise flag.
    # g=1: depthwise formula 1*9*8*ceil(1/8)/(16/3*0.25) = 72 * 3/4 = 54, out 1*1*2/4 = 0.5
    # -> 54.5 cycles; g=2: 54 + out 1*2*2/4 = 1 -> 55 cycles
    one, two = gemm_cycles(CPU, HOST, 1, 9, 1, [1, 2], True, True)
    assert one == pytest.approx(54.5, rel=1e-12) and two == pytest.approx(55, rel=1e-12)
    # without the flag one channel is a 1-output GEMM: n_v = 8, mac = (9 + 16) * (8 + 8) / 3
    # = 400/3 = 133.33, im2col 9/8, out 0.5 -> 400/3 + 1.625 = 134.96 (what the flag avoids)
    assert cycles(1, 9, 1, 1, True) == pytest.approx(400 / 3 + 1.625, rel=1e-12)
    # monotone over every channel count, both configurations
    for sys in (SYS, SYS2):
        c = gemm_cycles(sys.cpu, sys.host, 49, 9, 1, np.arange(1, 130), True, True)
        assert (np.diff(c) > 0).all()


@pytest.mark.parametrize("sys", [SYS, SYS2], ids=["alpine-tight", "second"])
@pytest.mark.parametrize("gather", [False, True])
def test_gemm_cost_is_monotone_in_outputs(sys, gather):
    """More outputs never cost fewer cycles: n_half acts on whole vectors (n_v), so the
    per-(row, k) overhead of a part-filled last vector is the same as of a full one."""
    for k in (1, 9, 27, 576):
        c = gemm_cycles(sys.cpu, sys.host, 7, k, np.arange(1, 300), 1, gather)
        assert (np.diff(c) > 0).all(), k


def test_eltwise_cycles():
    assert eltwise_cycles(CPU, 100) == 25.0  # 100 ops / 4 ops per cycle
    assert eltwise_cycles(CPU, [0, 4, 6]).tolist() == [0.0, 1.0, 1.5]


def test_memory_seconds():
    # 19.2e6 B of DRAM at 19.2 GB/s = 1 ms on one active core, 4 ms when 4 cores share it
    assert float(memory_seconds(CPU, 19.2e6, 0, 1)) == pytest.approx(1e-3, rel=1e-12)
    assert float(memory_seconds(CPU, 19.2e6, 0, 4)) == pytest.approx(4e-3, rel=1e-12)
    assert float(memory_seconds(CPU, 19.2e6, 0, 0)) == pytest.approx(1e-3, rel=1e-12)
    # 32000 B of L2 at 16 B/cycle x 2 GHz = 32 GB/s -> 1 us; the two add
    assert float(memory_seconds(CPU, 0, 32000, 8)) == pytest.approx(1e-6, rel=1e-12)
    both = memory_seconds(CPU, [19.2e6, 0], [32000, 32000], 1)
    assert both.tolist() == pytest.approx([1.001e-3, 1e-6], rel=1e-12)


def test_activation_in_dram():
    # shared L2 = 1 MiB = 1048576 B: input + output must fit together
    assert not activation_in_dram(CPU, 524288, 524288)
    assert activation_in_dram(CPU, 524288, 524289)
    # ResNet-50 conv1: input 3*224*224 = 150528 B, output 64*112*112 = 802816 B -> fits
    assert not activation_in_dram(CPU, 150528, 802816)
    # VGG16 conv1_2: 64*224*224 = 3211264 B in and out -> DRAM
    assert activation_in_dram(CPU, 3211264, 3211264)
