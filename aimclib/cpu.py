"""Analytic cycle model of one core running the digital kernels: GEMM, depthwise, element-wise.

Equations (symbols in ``docs/model.md``; parameters of :class:`~aimclib.system.CpuConfig`):

* lanes ``L = simd_bits / mac_lane_bits``, peak
  ``P = L * simd_issue_per_cycle * mac_instruction_fraction`` MACs/cycle.
* GEMM (conv via im2col, linear; ``g`` groups of ``m x k x n``)::

      n_v           = L * ceil(n / L)                         (outputs the vectors compute)
      e             = e_gemm * k / (k + k_half) * n_v / (n_v + n_half)
      mac_cycles    = m * g * k * n_v / (P * e)
      gather_cycles = m * g * k / gather_bytes_per_cycle      (im2col, only when kh*kw > 1)

  ``n_v`` charges the idle lanes of the last vector; ``k / (k + k_half)`` the loop and
  accumulator overhead per output, amortised over the fan-in; ``n_v / (n_v + n_half)`` the
  overhead per (row, k) step (loading and broadcasting one input, advancing the loop),
  amortised over the outputs. That step overhead is ``n_half`` lanes' MAC time whatever the
  last vector holds, hence ``n_v`` rather than ``n``: with ``n`` a GEMM of 10 outputs would
  cost more than one of 16 (same two vectors, larger overhead factor). For ``n`` a multiple
  of ``L`` the factor is ``n / (n + n_half)``.
* Depthwise (one output per group: ``n == 1`` and ``g > 1``, or any piece of a depthwise
  layer), vectorised over channels: ``m * k * L * ceil(g / L) / (P * e_dw)`` (no ``k_half``
  or ``n_half`` term: ``e_dw`` is measured on whole depthwise convs).
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
P_LANES, P_PEAK, P_EFF, P_KHALF, P_NHALF, P_DW_EFF, P_ELT, P_GATHER, P_DEQ = range(9)
N_PARAMS = 9


def cpu_params(cpu: CpuConfig, host: HostWorkConfig) -> np.ndarray:
    """The kernel parameter row of one configuration."""
    row = np.empty(N_PARAMS)
    row[P_LANES] = cpu.lanes
    row[P_PEAK] = cpu.macs_per_cycle
    row[P_EFF] = cpu.gemm_efficiency
    row[P_KHALF] = cpu.gemm_k_half
    row[P_NHALF] = cpu.gemm_n_half
    row[P_DW_EFF] = cpu.depthwise_efficiency
    row[P_ELT] = cpu.eltwise_ops_per_cycle
    row[P_GATHER] = cpu.gather_bytes_per_cycle
    row[P_DEQ] = host.dequant_ops_per_output
    return row


@numba.njit(cache=True)
def _gemm_cycles_one(m, k, n, g, gather, dw, p):
    """Cycles of one GEMM piece on one core (see the module docstring)."""
    if m == 0 or n == 0 or g == 0:
        return 0.0
    lanes = p[P_LANES]
    if n == 1 and (g > 1 or dw):
        mac = m * k * lanes * np.ceil(g / lanes) / (p[P_PEAK] * p[P_DW_EFF])
        gather_c = 0.0
    else:
        n_v = lanes * np.ceil(n / lanes)
        eff = p[P_EFF] * k / (k + p[P_KHALF]) * n_v / (n_v + p[P_NHALF])
        mac = m * g * k * n_v / (p[P_PEAK] * eff)
        gather_c = m * g * k / p[P_GATHER] if gather else 0.0
    out = m * g * n * p[P_DEQ] / p[P_ELT]
    return mac + gather_c + out


@numba.njit(cache=True)
def gemm_cycles_kernel(m, k, n, g, gather, dw, params):
    """Cycles of GEMM pieces (1-D arrays) for each configuration row of ``params``.

    Returns an array ``(configs, pieces)``.
    """
    out = np.empty((params.shape[0], m.shape[0]))
    for c in range(params.shape[0]):
        for i in range(m.shape[0]):
            out[c, i] = _gemm_cycles_one(m[i], k[i], n[i], g[i], gather[i], dw[i], params[c])
    return out


def gemm_cycles(cpu: CpuConfig, host: HostWorkConfig, m, k, n, g, gather, depthwise=False
                ) -> np.ndarray:
    """Core cycles of GEMM pieces ``m x k x n`` x ``g`` groups (arrays or scalars, one config).

    ``gather`` marks pieces that need an im2col copy of their input (conv with kh*kw > 1);
    ``depthwise`` marks pieces of a depthwise layer (costed as depthwise even with one group).
    """
    arrs = [np.asarray(a, dtype=np.float64) for a in (m, k, n, g)]
    flags = [np.asarray(a, dtype=np.bool_) for a in (gather, depthwise)]
    shape = np.broadcast_shapes(*(a.shape for a in arrs + flags))
    arrs = [np.ascontiguousarray(np.broadcast_to(a, shape)).ravel() for a in arrs + flags]
    out = gemm_cycles_kernel(*arrs, cpu_params(cpu, host)[None, :])[0]
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
