"""Named classes of digital baseline kernels: how fast the cores run a GEMM without tiles.

The seed study compares against "multi-threaded NEON code on the same cores"; the precision and
the kernel class of that code are not public, and they decide how fast the digital baseline is
(and so every speedup). A :class:`KernelClass` names one class of GEMM code and fixes the CPU
parameters that follow from it (``mac_lane_bits``, ``mac_instruction_fraction``,
``gemm_efficiency``, ``activation_bits``); a preset picks one with ``cpu.baseline_kernel``.
Each class gives its sustained MACs per cycle (large, in-cache GEMM on one in-order
Cortex-A53-class core with 128-bit NEON) with a plausible range and its sources, and the
efficiency is derived from it: ``gemm_efficiency = sustained / peak``, with the peak
``lanes x simd_issue_per_cycle x mac_instruction_fraction`` at one SIMD instruction per cycle.

A new class is one new entry in :data:`KERNEL_CLASSES`.
"""

from __future__ import annotations

from dataclasses import dataclass

SIMD_BITS = 128
"""NEON register width the classes' peaks are computed for (bit; ALPINE's cores, stated)."""


@dataclass(frozen=True)
class KernelClass:
    """One class of digital GEMM code.

    Attributes:
        name: registry key (``cpu.baseline_kernel``).
        description: what code this is.
        mac_lane_bits: accumulator lane width of the multiply-accumulate (bit): 16 for int8
            widening MACs (SMULL/SMLAL, 8 per 128-bit instruction), 32 for float32 FMLA.
        mac_instruction_fraction: share of the inner loop's SIMD instructions that are
            multiply-accumulates (1): int8 with 32-bit accumulators pairs SMULL + SMLAL with one
            SADALP per 16 MACs, 2 of 3; float32 FMLA accumulates in place, 1.
        activation_bits: width of weights and activations in memory for this code (bit): 8 for
            int8 kernels; 32 for float32, whose activations the tiles' DACs must quantise.
        sustained_macs_per_cycle: default sustained MACs per cycle of one core (MAC/cycle).
        sustained_range: plausible (low, high) of the sustained rate (MAC/cycle).
        source: where the numbers come from.
    """

    name: str
    description: str
    mac_lane_bits: int
    mac_instruction_fraction: float
    activation_bits: int
    sustained_macs_per_cycle: float
    sustained_range: tuple[float, float]
    source: str

    @property
    def peak_macs_per_cycle(self) -> float:
        """Peak MACs per cycle at one SIMD instruction per cycle (MAC/cycle)."""
        return SIMD_BITS / self.mac_lane_bits * self.mac_instruction_fraction

    @property
    def gemm_efficiency(self) -> float:
        """Sustained over peak (1): the value the class gives ``cpu.gemm_efficiency``."""
        return self.sustained_macs_per_cycle / self.peak_macs_per_cycle

    @property
    def efficiency_range(self) -> tuple[float, float]:
        """Plausible range of ``cpu.gemm_efficiency`` (1), from ``sustained_range``."""
        lo, hi = self.sustained_range
        return lo / self.peak_macs_per_cycle, hi / self.peak_macs_per_cycle

    def values(self) -> dict:
        """The ``cpu`` parameters this class sets, ``{field: value}``."""
        return {"mac_lane_bits": self.mac_lane_bits,
                "mac_instruction_fraction": self.mac_instruction_fraction,
                "gemm_efficiency": self.gemm_efficiency,
                "activation_bits": self.activation_bits}


_SURVEY = ("survey of in-order Cortex-A53-class GEMM throughput in issue #8 (gemmlowp "
           "standalone/neon-gemm-kernel-benchmark.cc kernels, ruy and XNNPACK benchmark notes); "
           "not re-measured here")

KERNEL_CLASSES: dict[str, KernelClass] = {k.name: k for k in (
    KernelClass(
        "int8-asm", "hand-written int8 assembly GEMM micro-kernels (gemmlowp/ruy class), "
        "operands packed to stay in cache", 16, 2 / 3, 8, 3.0, (2.5, 3.5),
        "gemmlowp's NEON_64bit_GEMM_Int8Operands_AccumTwoWithin16Bits (SMULL + SMLAL + SADALP: "
        "peak 5.33 MAC/cycle) sustains about 3 MAC/cycle in cache; " + _SURVEY),
    KernelClass(
        "int8-intrinsics", "int8 GEMM written in C with NEON intrinsics and compiled "
        "(register-blocked, no hand scheduling)", 16, 2 / 3, 8, 1.3, (1.1, 1.5),
        "compiler-scheduled NEON intrinsics reach about 1.1-1.5 MAC/cycle on an in-order core "
        "(no software pipelining of loads against MACs); " + _SURVEY),
    KernelClass(
        "fp32-neon", "float32 GEMM with NEON FMLA (Eigen / BLAS class)", 32, 1.0, 32, 1.5,
        (1.2, 1.8),
        "Eigen-class float32 GEMM sustains about 1.5 MAC/cycle of its 4 MAC/cycle FMLA peak "
        "on an in-order core; " + _SURVEY),
)}
"""Digital kernel classes by name."""

DEFAULT_KERNEL = "int8-intrinsics"
"""The default class, and why: the seed's baseline precision and kernel code are not public.
The tiles compute in int8, so an int8 baseline is the like-for-like comparison; a research
flow that compiles its CNN code for a full-system simulator writes C with NEON intrinsics
rather than a hand-scheduled assembly library. ``int8-asm`` (the fastest credible baseline)
and ``fp32-neon`` bound it in the sensitivity study."""
