"""Analytic cycle model of one core running the digital kernels: GEMM, depthwise, element-wise.

Equations (symbols in ``docs/model.md``; parameters of :class:`~aimclib.system.CpuConfig`):

* lanes ``L = simd_bits / mac_lane_bits``, peak ``P = L * simd_issue_per_cycle`` MACs/cycle.
* GEMM (conv via im2col, linear; ``g`` groups of ``m x k x n``)::

      mac_cycles    = m * g * k * L * ceil(n / L) / (P * e_gemm * k / (k + k_half))
      gather_cycles = m * g * k / gather_bytes_per_cycle      (im2col, only when kh*kw > 1)

  ``ceil(n / L)`` charges the idle lanes of the last vector; ``k / (k + k_half)`` the loop and
  accumulator overhead per output, amortised over the fan-in.
* Depthwise (``g > 1``, ``n == 1``), vectorised over channels: ``m * k * L * ceil(g / L) /
  (P * e_dw)``.
* Outputs: ``m * g * n * dequant_ops_per_output / eltwise_ops_per_cycle`` (requantisation).
* Element-wise work: ``ops / eltwise_ops_per_cycle``.
* Memory (roofline): a piece of work takes ``max(compute, dram_bytes / (B_dram / active_cores)
  + l2_bytes / (l2_bytes_per_cycle * f))``. Weights stream from DRAM once per inference;
  activations come from the shared L2 when a layer's input plus output fit in it, else DRAM.

The kernels take arrays (one entry per layer or piece) and a parameter matrix (one row per
configuration) so that many layers x configurations are evaluated in one compiled call.
"""

from __future__ import annotations

import numba
import numpy as np

from .system import CpuConfig, HostWorkConfig

# Columns of the parameter matrix the kernels take (one row per configuration).
P_LANES, P_PEAK, P_EFF, P_KHALF, P_DW_EFF, P_ELT, P_GATHER, P_DEQ = range(8)
N_PARAMS = 8


def cpu_params(cpu: CpuConfig, host: HostWorkConfig) -> np.ndarray:
    """The kernel parameter row of one configuration."""
    row = np.empty(N_PARAMS)
    row[P_LANES] = cpu.lanes
    row[P_PEAK] = cpu.macs_per_cycle
    row[P_EFF] = cpu.gemm_efficiency
    row[P_KHALF] = cpu.gemm_k_half
    row[P_DW_EFF] = cpu.depthwise_efficiency
    row[P_ELT] = cpu.eltwise_ops_per_cycle
    row[P_GATHER] = cpu.gather_bytes_per_cycle
    row[P_DEQ] = host.dequant_ops_per_output
    return row


@numba.njit(cache=True)
def _gemm_cycles_one(m, k, n, g, gather, p):
    """Cycles of one GEMM piece on one core (see the module docstring)."""
    if m == 0 or n == 0 or g == 0:
        return 0.0
    lanes = p[P_LANES]
    if g > 1 and n == 1:
        mac = m * k * lanes * np.ceil(g / lanes) / (p[P_PEAK] * p[P_DW_EFF])
        gather_c = 0.0
    else:
        eff = p[P_EFF] * k / (k + p[P_KHALF])
        mac = m * g * k * lanes * np.ceil(n / lanes) / (p[P_PEAK] * eff)
        gather_c = m * g * k / p[P_GATHER] if gather else 0.0
    out = m * g * n * p[P_DEQ] / p[P_ELT]
    return mac + gather_c + out


@numba.njit(cache=True)
def gemm_cycles_kernel(m, k, n, g, gather, params):
    """Cycles of GEMM pieces (1-D arrays) for each configuration row of ``params``.

    Returns an array ``(configs, pieces)``.
    """
    out = np.empty((params.shape[0], m.shape[0]))
    for c in range(params.shape[0]):
        for i in range(m.shape[0]):
            out[c, i] = _gemm_cycles_one(m[i], k[i], n[i], g[i], gather[i], params[c])
    return out


def gemm_cycles(cpu: CpuConfig, host: HostWorkConfig, m, k, n, g, gather) -> np.ndarray:
    """Core cycles of GEMM pieces ``m x k x n`` x ``g`` groups (arrays or scalars, one config).

    ``gather`` marks pieces that need an im2col copy of their input (conv with kh*kw > 1).
    """
    arrs = [np.asarray(a, dtype=np.float64) for a in (m, k, n, g)]
    gat = np.asarray(gather, dtype=np.bool_)
    shape = np.broadcast_shapes(*(a.shape for a in arrs), gat.shape)
    arrs = [np.ascontiguousarray(np.broadcast_to(a, shape)).ravel() for a in arrs]
    gat = np.ascontiguousarray(np.broadcast_to(gat, shape)).ravel()
    out = gemm_cycles_kernel(*arrs, gat, cpu_params(cpu, host)[None, :])[0]
    return out.reshape(shape)


def eltwise_cycles(cpu: CpuConfig, ops) -> np.ndarray:
    """Core cycles of ``ops`` element-wise scalar operations."""
    return np.asarray(ops, dtype=np.float64) / cpu.eltwise_ops_per_cycle


def memory_seconds(cpu: CpuConfig, dram_bytes, l2_bytes, active_cores: int) -> np.ndarray:
    """Time to move ``dram_bytes`` from DRAM (bandwidth shared by ``active_cores``) and
    ``l2_bytes`` from the L2, on one core (s)."""
    per_core = cpu.dram_bandwidth_bps / max(1, active_cores)
    return (np.asarray(dram_bytes, dtype=np.float64) / per_core
            + np.asarray(l2_bytes, dtype=np.float64) / (cpu.l2_bytes_per_cycle * cpu.clock_hz))


def activation_in_dram(cpu: CpuConfig, in_bytes: float, out_bytes: float) -> bool:
    """True when a layer's input and output tensors do not fit the shared L2 together."""
    return in_bytes + out_bytes > cpu.l2_bytes
