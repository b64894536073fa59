"""Fit the digital cycle model (:mod:`aimclib.cpu`) to this machine: ``aimc calibrate``.

Three small Numba kernels run single-threaded on a set of shapes, each timed as the best of
several repeats (``time.perf_counter``; a call repeats its work ``iters`` times so that it lasts
long enough to time and Python's call overhead vanishes):

* an int8 GEMM ``C[m, n] = A[m, k] @ B[k, n]`` with int32 accumulation, loops ordered ``m, k, n``
  so LLVM vectorises the innermost loop over the outputs ``n``;
* a depthwise 3x3 conv on a channels-last int8 image, vectorised over the channels;
* ``relu6`` on a float32 array (the element-wise work of the network model).

Measured cycles (seconds x clock) are fitted to the model's equations with gather and
requantisation left out (the kernels do neither). With ``L = simd_bits / mac_lane_bits`` lanes
and one SIMD MAC instruction per cycle (``P = L``)::

    gemm:       cycles / (m*k*n_v / P) = a (1 + k_half/k) (1 + n_half/n_v)  ->  e = 1/a
    depthwise:  cycles / (m*9*L*ceil(c/L) / P) = a            ->  e_dw = 1/a
    eltwise:    cycles / ops = a                              ->  eltwise_ops_per_cycle = 1/a

with ``n_v = L*ceil(n/L)`` the outputs the vectors compute (least squares on the ratios, i.e.
on relative error). The GEMM model is separable, a product of a term in ``k`` and a term in
``n``; it is fitted by alternating least squares: with ``n_half`` held, the ratio is linear in
``(a, a*k_half)``, with ``k_half`` held linear in ``(a, a*n_half)``; each step is an exact
(``half >= 0``-constrained) least-squares solve, so the residual never grows, and the
alternation stops when neither half moves. The same fit with ``n_half = 0`` (the model before
the ``n`` term) is reported beside it as the "before" quality. A linear fit on
``[1, 1/k, 1/n, 1/(k n)]`` would have a free cross term the model does not have; dropping it
afterwards fits worse than the separable fit (on a Xeon host: R^2 0.979 against 0.986).

A GEMM efficiency above 1 means the core issues more than one SIMD MAC per cycle:
``simd_issue_per_cycle`` becomes ``ceil(1/a)`` and ``gemm_efficiency = 1 / (a * issue)``, which
leaves ``P * e`` unchanged. Values outside a parameter's range are clipped and the clip is
reported.

The clock comes from ``/proc/cpuinfo`` ("cpu MHz"), else from cpufreq's maximum, else from a
dependent add/xor chain assumed to retire one step per 2 cycles. The SIMD width comes from the
CPU flags (x86: avx512f -> 512, avx2 -> 256, else 128; aarch64 -> 128); the int32-accumulating
GEMM has 32-bit MAC lanes. LLVM may use narrower vectors than the hardware has (on AVX-512 x86
it prefers 256-bit ones); the fitted efficiencies then absorb the difference.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import platform
import time
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from .errors import AimcError
from .layers import ELTWISE_OPS_PER_OUTPUT
from .system import (CpuConfig, PlausibilityWarning, PresetError, load_system, preset_names,
                     preset_path, user_preset_dir)
from .validation import check_path_writable


class CalibrationError(AimcError, RuntimeError):
    """Measurements that cannot be fitted (missing kernels, too few shapes, nonsense times)."""


MAC_LANE_BITS = 32
"""Accumulator lane width of the calibration GEMM (int8 products summed in int32)."""

RELU6_OPS = ELTWISE_OPS_PER_OUTPUT["relu6"]
"""Scalar ops the network model counts per relu6 output (min and max)."""

# Shapes (see default_shapes). GEMM fan-ins k of 3x3x1, 3x3x3, 1x1x64, 7x7x3, 3x3x64, 3x3x128 convs.
GEMM_M, GEMM_K, GEMM_N = (64, 256, 1024), (9, 27, 64, 147, 576, 1152), (16, 64, 256)
QUICK_GEMM_M, QUICK_GEMM_K, QUICK_GEMM_N = (64, 256), (9, 64, 576), (16, 64)
DW_HW, DW_C = (7, 14, 28, 56), (16, 32, 64, 128, 256)
QUICK_DW_HW, QUICK_DW_C = (14, 28), (16, 64)
# Element-wise arrays whose input and output fit a 32 kB L1 together: the model counts their
# compute here and their memory traffic separately (roofline).
ELT_SIZES, QUICK_ELT_SIZES = (1024, 2048, 4096), (1024, 4096)

COLUMNS = ["kernel", "shape", "m", "k", "n", "g", "ops", "seconds"]
"""Columns of :func:`measure`'s table: the model's GEMM view ``m, k, n, g`` (0 for eltwise),
``ops`` (MACs, or scalar ops for eltwise) and the best time of one run (s)."""

FITTED = ("clock_hz", "simd_bits", "mac_lane_bits", "mac_instruction_fraction",
          "simd_issue_per_cycle", "gemm_efficiency", "gemm_k_half", "gemm_n_half", "depthwise_efficiency", "eltwise_ops_per_cycle")
"""The ``[cpu]`` parameters a calibration sets; the rest come from the base preset."""


# ------------------------------------------------------------------------------ kernels
@numba.njit(cache=True)
def _gemm_int8(a, b, c, iters):
    """``c = a @ b`` (int8 x int8 -> int32), ``iters`` times; inner loop over outputs.

    Each row accumulates in a scratch array and is then copied out: the copy stands in for
    the per-output store (and requantisation) of a real kernel.
    """
    m, k = a.shape
    n = b.shape[1]
    acc = np.empty(n, np.int32)
    for _ in range(iters):
        for i in range(m):
            acc[:] = 0
            for kk in range(k):
                x = np.int32(a[i, kk])
                row = b[kk]
                for j in range(n):
                    acc[j] += x * np.int32(row[j])
            for j in range(n):
                c[i, j] = acc[j]


@numba.njit(cache=True)
def _depthwise3x3_int8(x, w, out, iters):
    """Depthwise 3x3 stride-1 conv of a padded channels-last image ``x`` (H+2, W+2, C) with
    ``w`` (3, 3, C) into ``out`` (H, W, C) int32, ``iters`` times; inner loop over channels."""
    h, wd, ch = out.shape
    for _ in range(iters):
        for oy in range(h):
            for ox in range(wd):
                acc = out[oy, ox]
                for c in range(ch):
                    acc[c] = 0
                for ky in range(3):
                    for kx in range(3):
                        xr = x[oy + ky, ox + kx]
                        wr = w[ky, kx]
                        for c in range(ch):
                            acc[c] += np.int32(xr[c]) * np.int32(wr[c])


@numba.njit(cache=True)
def _relu6_f32(x, y, iters):
    """``y = min(max(x, 0), 6)`` element-wise (float32), ``iters`` times."""
    for _ in range(iters):
        for i in range(x.shape[0]):
            v = x[i]
            if v < 0.0:
                v = np.float32(0.0)
            elif v > 6.0:
                v = np.float32(6.0)
            y[i] = v


@numba.njit(cache=True)
def _dependent_chain(steps, s):
    """``steps`` iterations of a chain where each step needs the previous one: an add and an
    xor in sequence (the shift runs beside the add), 2 cycles per step on 1-cycle ALUs."""
    x = s
    for _ in range(steps):
        x = (x + s) ^ (x >> 1)
    return x


# ------------------------------------------------------------------------------ the machine
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _cpuinfo_values(text: str, key: str) -> list[str]:
    """Values of every ``key : value`` line of /proc/cpuinfo text."""
    out = []
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() == key:
            out.append(value.strip())
    return out


CHAIN_CLOCK = "dependent add/xor chain, assumed 2 cycles per step"
"""How :func:`host_clock_hz` says it fell back to :func:`chain_clock_hz`."""


def chain_clock_hz(steps: int = 20_000_000) -> float:
    """Clock estimate (Hz) from the dependent add/xor chain: 2 cycles per step, best of 3."""
    _dependent_chain(10, 3)
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        _dependent_chain(steps, 3)
        best = min(best, time.perf_counter() - t0)
    return 2 * steps / best


def host_clock_hz(cpuinfo: str | None = None) -> tuple[float, str]:
    """This machine's core clock (Hz) and where it came from.

    ``/proc/cpuinfo`` "cpu MHz" (the highest over cores), else cpufreq's
    ``cpuinfo_max_freq``, else :func:`chain_clock_hz`.
    """
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    mhz = [float(v) for v in _cpuinfo_values(text, "cpu MHz")]
    if mhz and max(mhz) > 0:
        return max(mhz) * 1e6, "/proc/cpuinfo 'cpu MHz'"
    with contextlib.suppress(OSError, ValueError):  # no cpufreq here: time a chain instead
        khz = float(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
        if khz > 0:
            return khz * 1e3, "cpufreq cpuinfo_max_freq"
    return chain_clock_hz(), CHAIN_CLOCK


def simd_bits_for(machine: str, flags: Sequence[str]) -> tuple[int, str]:
    """SIMD register width (bit) from the architecture and CPU flags, with the reason."""
    arch = machine.lower()
    if arch in ("x86_64", "amd64", "i386", "i686"):
        for flag, bits in (("avx512f", 512), ("avx2", 256)):
            if flag in flags:
                return bits, f"CPU flag {flag}"
        return 128, "x86 without avx2/avx512f flags: SSE"
    if arch in ("aarch64", "arm64"):
        return 128, "aarch64: NEON"
    return 128, f"unknown architecture {machine!r}: 128-bit SIMD assumed"


def host_simd_bits(cpuinfo: str | None = None) -> tuple[int, str]:
    """This machine's SIMD width (bit) and the reason (:func:`simd_bits_for`)."""
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    flags = _cpuinfo_values(text, "flags")
    return simd_bits_for(platform.machine(), flags[0].split() if flags else [])


def host_description(cpuinfo: str | None = None) -> str:
    """Architecture and processor name, e.g. ``x86_64 Intel(R) Xeon(R) Processor``."""
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    names = _cpuinfo_values(text, "model name") or _cpuinfo_values(text, "Hardware")
    name = names[0] if names else (platform.processor() or "unknown processor")
    return f"{platform.machine()} {name}"


# ------------------------------------------------------------------------------ measuring
def default_shapes(quick: bool = False) -> list[tuple]:
    """The shapes ``aimc calibrate`` measures: ``("gemm", m, k, n)``, ``("depthwise", hw, c)``
    (3x3, stride 1, padding 1 on ``hw x hw x c``) and ``("eltwise", elements)``."""
    ms, ks, ns = (QUICK_GEMM_M, QUICK_GEMM_K, QUICK_GEMM_N) if quick else (GEMM_M, GEMM_K,
                                                                         GEMM_N)
    hws, cs = (QUICK_DW_HW, QUICK_DW_C) if quick else (DW_HW, DW_C)
    return ([("gemm", m, k, n) for m in ms for k in ks for n in ns]
            + [("depthwise", hw, c) for hw in hws for c in cs]
            + [("eltwise", size) for size in (QUICK_ELT_SIZES if quick else ELT_SIZES)])


def _iterations(kernel, args: tuple, min_time_s: float) -> int:
    """Passes one timed call of ``kernel(*args, iters)`` needs to last ``min_time_s``."""
    kernel(*args, 1)  # compile (or load from the cache) and warm the caches
    t0 = time.perf_counter()
    kernel(*args, 1)
    once = time.perf_counter() - t0
    return max(1, math.ceil(min_time_s / max(once, 1e-9)))


def _check_dims(shape: tuple, count: int) -> tuple[int, ...]:
    dims = shape[1:]
    if len(dims) != count or not all(isinstance(d, (int, np.integer)) and d >= 1 for d in dims):
        raise CalibrationError(f"shape {shape!r}: {shape[0]} takes {count} whole numbers >= 1")
    return tuple(int(d) for d in dims)


def _job(shape: tuple, rng: np.random.Generator) -> tuple:
    """``(kernel, args, row)`` of one shape: the kernel, its inputs and its table row."""
    kind = shape[0] if shape else None
    if kind == "gemm":
        m, k, n = _check_dims(shape, 3)
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        return (_gemm_int8, (a, b, np.empty((m, n), np.int32)),
                ["gemm", f"{m}x{k}x{n}", m, k, n, 1, m * k * n])
    if kind == "depthwise":
        hw, c = _check_dims(shape, 2)
        x = rng.integers(-128, 128, (hw + 2, hw + 2, c), dtype=np.int8)
        w = rng.integers(-128, 128, (3, 3, c), dtype=np.int8)
        return (_depthwise3x3_int8, (x, w, np.empty((hw, hw, c), np.int32)),
                ["depthwise", f"{hw}x{hw}x{c}", hw * hw, 9, 1, c, hw * hw * 9 * c])
    if kind == "eltwise":
        (size,) = _check_dims(shape, 1)
        x = rng.uniform(-3.0, 9.0, size).astype(np.float32)
        return (_relu6_f32, (x, np.empty_like(x)),
                ["eltwise", f"{size}", 0, 0, 0, 0, size * RELU6_OPS])
    raise CalibrationError(f"unknown calibration shape {shape!r}; use ('gemm', m, k, n), "
                           f"('depthwise', hw, c) or ('eltwise', elements)")


def measure(shapes: Sequence[tuple], repeats: int = 5, min_time_s: float = 2e-3,
            seed: int = 0) -> pd.DataFrame:
    """Time the calibration kernels single-threaded on ``shapes`` (see :func:`default_shapes`).

    Every shape is timed once per round, for ``repeats`` rounds, each timed call lasting at
    least ``min_time_s``; the best time of one pass is kept. Rounds (rather than repeats of
    one shape in a row) keep a burst of other load on the machine from spoiling every repeat
    of the same shape. Returns one row per shape with :data:`COLUMNS`.
    """
    if repeats < 1:
        raise CalibrationError(f"repeats must be >= 1, got {repeats}")
    rng = np.random.default_rng(seed)
    jobs = [_job(shape, rng) for shape in shapes]
    iters = [_iterations(kernel, args, min_time_s) for kernel, args, _ in jobs]
    best = [math.inf] * len(jobs)
    for _ in range(repeats):
        for i, (kernel, args, _) in enumerate(jobs):
            t0 = time.perf_counter()
            kernel(*args, iters[i])
            best[i] = min(best[i], (time.perf_counter() - t0) / iters[i])
    return pd.DataFrame([[*row, t] for (_, _, row), t in zip(jobs, best)], columns=COLUMNS)


# ------------------------------------------------------------------------------ fitting
def _r2(y: np.ndarray, fitted: np.ndarray) -> float:
    """Coefficient of determination of ``fitted`` for ``y`` (nan when ``y`` is constant)."""
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - fitted) ** 2).sum()) / ss_tot if ss_tot > 0 else math.nan


ALS_MAX_STEPS = 1000
"""Most alternations of the separable GEMM fit (a well-spread grid converges in a few)."""

ALS_TOLERANCE = 1e-12
"""The alternation stops when neither half moves by more than this (relative)."""

HALF_NOISE = 1e-9
"""A half fitted below 0 by less than this (MACs or outputs) is rounding of an exact zero,
not a clip worth reporting."""


def _gemm_ratio(a: float, k_half: float, n_half: float, k: np.ndarray, n: np.ndarray
                ) -> np.ndarray:
    """The GEMM model's cycles per SIMD MAC instruction: ``a (1 + k_half/k)(1 + n_half/n)``
    (``n``: the outputs the vectors compute, ``n_v`` of :mod:`aimclib.cpu`)."""
    return a * (1.0 + k_half / k) * (1.0 + n_half / n)


def _fit_half(ratio: np.ndarray, held: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    """Least squares of ``ratio = held * a * (1 + half * x)`` with ``half >= 0``.

    Returns ``(a, half, unconstrained half)``; a negative unconstrained half is set to 0 and
    ``a`` refitted alone (the constrained optimum of this convex problem lies on the bound).
    """
    (a, b), *_ = np.linalg.lstsq(np.column_stack([held, held * x]), ratio, rcond=None)
    if a <= 0:
        raise CalibrationError(f"GEMM fit gives {a:.3g} cycles per SIMD MAC instruction: the "
                               f"times do not follow the model")
    if b >= 0:
        return float(a), float(b / a), float(b / a)
    return float(held @ ratio / (held @ held)), 0.0, float(b / a)


def _fit_gemm(ratio: np.ndarray, k: np.ndarray, n: np.ndarray, with_n: bool
              ) -> tuple[float, float, float, dict]:
    """Alternating least squares of ``ratio = a (1 + k_half/k)(1 + n_half/n)`` (``n``: the
    outputs the vectors compute), halves >= 0 (``n_half = 0`` unless ``with_n``).

    Returns ``(a, k_half, n_half, {half's name: its negative unconstrained value})``.
    """
    k_half = n_half = 0.0
    wanted = {}
    for _ in range(ALS_MAX_STEPS):
        a, new_k, wanted["gemm_k_half"] = _fit_half(ratio, 1.0 + n_half / n, 1.0 / k)
        new_n = 0.0
        if with_n:
            a, new_n, wanted["gemm_n_half"] = _fit_half(ratio, 1.0 + new_k / k, 1.0 / n)
        moved = max(abs(new_k - k_half) / (1.0 + k_half), abs(new_n - n_half) / (1.0 + n_half))
        k_half, n_half = new_k, new_n
        if moved <= ALS_TOLERANCE:
            break
    return a, k_half, n_half, {key: v for key, v in wanted.items() if v < -HALF_NOISE}


def fit(df: pd.DataFrame, clock_hz: float, simd_bits: int, lanes_bits: int = MAC_LANE_BITS
        ) -> dict:
    """Fit the digital model's efficiency parameters to measured times.

    Args:
        df: :func:`measure`'s table (GEMM rows with at least two fan-ins ``k`` and two output
            counts ``n``, at least one depthwise and one eltwise row).
        clock_hz: the clock the times are converted to cycles with (Hz).
        simd_bits: SIMD register width (bit).
        lanes_bits: accumulator lane width of the GEMM and depthwise kernels (bit).

    Returns:
        ``{"params": {cpu field: value} (the :data:`FITTED` ones), "quality": {"gemm_r2",
        "gemm_r2_k_only" (the same fit without the n term: ``n_half = 0``), "median_rel_err",
        "max_rel_err", and both per kernel as "<kernel>_median_rel_err" /
        "<kernel>_max_rel_err"}, "clipped": [messages], "shapes": df with model_s, rel_err
        (model / measured - 1) and rel_err_k_only (GEMM rows: rel_err of the fit without the
        n term; NaN elsewhere)}``.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise CalibrationError(f"calibration table lacks column(s) {missing}; has "
                               f"{list(df.columns)}")
    if not (clock_hz > 0 and simd_bits >= lanes_bits >= 1):
        raise CalibrationError(f"need clock_hz > 0 and simd_bits >= lanes_bits >= 1, got "
                               f"clock_hz={clock_hz}, simd_bits={simd_bits}, "
                               f"lanes_bits={lanes_bits}")
    if not (df["seconds"] > 0).all():
        bad = df.loc[~(df["seconds"] > 0), "shape"].tolist()
        raise CalibrationError(f"non-positive times for shape(s) {bad}")
    kernel = df["kernel"].to_numpy()
    gm, dw, el = (kernel == "gemm"), (kernel == "depthwise"), (kernel == "eltwise")
    if not (gm | dw | el).all():
        raise CalibrationError(f"unknown kernel(s) {sorted(set(kernel[~(gm | dw | el)]))}; "
                               f"known: gemm, depthwise, eltwise")
    if not dw.any() or not el.any():
        raise CalibrationError("the fit needs depthwise and eltwise measurements too")
    lanes = simd_bits // lanes_bits
    cycles = df["seconds"].to_numpy(float) * clock_hz
    m, k, n, g = (df[c].to_numpy(float) for c in ("m", "k", "n", "g"))
    clipped = []

    for name, values in (("fan-ins k", k[gm]), ("output counts n", n[gm])):
        if len(np.unique(values)) < 2:
            raise CalibrationError(f"the GEMM fit needs shapes with at least two {name}, got "
                                   f"{sorted(set(values.astype(int)))}")
    # Vector MAC instructions at one per cycle (P = L): the ratio is cycles per instruction.
    vec_gemm = m * k * np.ceil(n / lanes)
    ratio = cycles[gm] / vec_gemm[gm]
    n_v = lanes * np.ceil(n[gm] / lanes)
    a0, k_half0, _, _ = _fit_gemm(ratio, k[gm], n_v, with_n=False)
    a, k_half, n_half, negative = _fit_gemm(ratio, k[gm], n_v, with_n=True)
    clipped += [f"{key} fitted {value:.3g} < 0: set to 0 (the rest refitted without it)"
                for key, value in negative.items()]
    issue = max(1, math.ceil(1.0 / a))
    peak = lanes * issue
    params = {"clock_hz": float(clock_hz), "simd_bits": int(simd_bits),
              "mac_lane_bits": int(lanes_bits), "mac_instruction_fraction": 1.0,
              "simd_issue_per_cycle": float(issue),
              "gemm_efficiency": 1.0 / (a * issue), "gemm_k_half": k_half,
              "gemm_n_half": n_half}

    dw_base = m * k * lanes * np.ceil(g / lanes) / peak
    e_dw = 1.0 / float((cycles[dw] / dw_base[dw]).mean())
    if e_dw > 1.0:
        clipped.append(f"depthwise_efficiency fitted {e_dw:.3g} > 1 at {issue:g} SIMD "
                       f"instruction(s) per cycle: set to 1")
        e_dw = 1.0
    params["depthwise_efficiency"] = e_dw
    ops = df["ops"].to_numpy(float)
    params["eltwise_ops_per_cycle"] = 1.0 / float((cycles[el] / ops[el]).mean())

    model = np.empty_like(cycles)
    fitted = _gemm_ratio(a, k_half, n_half, k[gm], n_v)
    model[gm] = vec_gemm[gm] * fitted
    model[dw] = dw_base[dw] / e_dw
    model[el] = ops[el] / params["eltwise_ops_per_cycle"]
    rel = model / cycles - 1.0
    fitted0 = _gemm_ratio(a0, k_half0, 0.0, k[gm], n_v)
    rel0 = np.full_like(cycles, np.nan)
    rel0[gm] = fitted0 / ratio - 1.0
    quality = {"gemm_r2": _r2(ratio, fitted), "gemm_r2_k_only": _r2(ratio, fitted0),
               "median_rel_err": float(np.median(np.abs(rel))),
               "max_rel_err": float(np.abs(rel).max())}
    for name, mask in (("gemm", gm), ("depthwise", dw), ("eltwise", el)):
        quality[f"{name}_median_rel_err"] = float(np.median(np.abs(rel[mask])))
        quality[f"{name}_max_rel_err"] = float(np.abs(rel[mask]).max())
    shapes = df.assign(model_s=model / clock_hz, rel_err=rel, rel_err_k_only=rel0)
    return {"params": params, "quality": quality, "clipped": clipped, "shapes": shapes}


# ------------------------------------------------------------------------------ the preset
def _toml_value(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PresetError(f"cannot write {value!r} to a preset: numbers and strings only")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML
    return repr(value) if isinstance(value, int) else repr(float(value))


def check_target(path: str | Path, name: str = "host", base: str | None = None,
                 force: bool = False) -> Path:
    """``path`` as a Path once writing preset ``name`` (extending ``base``) there is safe.

    Refused: a name (or, inside the user preset directory, a file name) that would clash with
    a shipped preset; a path inside the aimclib package; a file that ``base`` is, or that
    ``base`` reaches by name (the preset would extend itself); an existing file unless
    ``force``; a location that cannot be written."""
    path = Path(path)
    shipped = preset_names(include_user=False)
    in_user_dir = path.parent.resolve() == user_preset_dir().resolve()
    if name in shipped or (path.stem in shipped and in_user_dir):
        raise PresetError(f"preset {name!r} at {path} would clash with the shipped preset of "
                          f"that name; shipped: {', '.join(shipped)}")
    if base is not None:
        base_file = Path(base) if (base.endswith(".toml") or "/" in base) else preset_path(base)
        if base == name or (base_file is not None and Path(str(base_file)).exists()
                            and Path(str(base_file)).resolve() == path.resolve()):
            raise PresetError(f"preset {name!r} at {path} would extend itself (base "
                              f"{base!r} is that preset); choose another --out or --base")
    return check_path_writable(path, "--out", force=force, create=True,
                               forbidden=Path(str(resources.files("aimclib"))))


def write_preset(params: dict, path: str | Path, base: str = "alpine-tight",
                 details: dict | None = None, name: str = "host",
                 origin: str | None = None, force: bool = False) -> Path:
    """Write a preset ``name`` extending ``base`` with the ``[cpu]`` values ``params``.

    Every value is written as ``{ value, status = "measured", source }`` where the source is
    ``origin`` (default: ``aimc calibrate on <processor>, <date>``) followed by
    ``details[field]`` when given. The values are validated against ``base`` first; a
    name (or, inside the user preset directory, a file name) equal to a shipped preset's is
    rejected so a user preset never hides a shipped one, and so are the other targets
    :func:`check_target` refuses (an existing file unless ``force``). Returns the path
    written.
    """
    path = check_target(path, name, base, force)
    known = {f.name for f in dataclasses.fields(CpuConfig)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise PresetError(f"unknown cpu parameter(s) {unknown}; known: {', '.join(sorted(known))}")
    with warnings.catch_warnings():  # measured values are not judged against assumed ranges
        warnings.simplefilter("ignore", PlausibilityWarning)
        load_system(base).replace(**{f"cpu.{key}": value for key, value in params.items()})
    origin = origin or (f"aimc calibrate on {host_description()}, "
                        f"{datetime.date.today().isoformat()}")
    details = details or {}
    lines = ["# Written by `aimc calibrate`: this machine's cores fitted to the digital model;",
             f"# everything else comes from {base!r}.",
             f"name = {_toml_value(name)}",
             f"description = {_toml_value(f'{base} with [cpu] fitted by {origin}')}",
             f"base = {_toml_value(base)}", "", "[cpu]"]
    for key, value in params.items():
        source = f"{origin}: {details[key]}" if key in details else origin
        lines.append(f"{key} = {{ value = {_toml_value(value)}, status = \"measured\", "
                     f"source = {_toml_value(source)} }}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
