"""Sensitivity of the headline results to the model's assumed parameters (issue 8).

The *headline* is the seed study's published configuration: 8 cores, tiles for 41 % of a
network's MVM weights, the ``optimal`` (latency-minimising) allocation and the
``static-balanced`` balancer, for the six CNNs with tight and with loose coupling; the
published outcome is 5.9x speedup and 5.6x energy gain (:data:`HEADLINE`).

The tile budget is fixed per (network, preset): it is the budget whose optimal allocation
covers nearest 41 % under the preset's *default* parameters
(:func:`aimclib.simulate.tiles_for_coverage`). When a parameter varies, that budget stays and
the allocation is re-optimised under the varied value, so the coverage may move a little.

Two studies:

* :func:`tornado`: every parameter of :func:`varied_parameters` (read from
  :func:`aimclib.system.describe`, never from a hand-kept list) moved to each end of its
  plausible range, or to each alternative choice, one at a time; speedup, energy gain and
  coverage against the default.
* :func:`published_region`: the reverse question. Over a grid of baseline sustained MACs per
  cycle (``cpu.gemm_efficiency`` x peak) and tile static power, where do both published values
  lie within +-10 %? Static power changes neither latency nor the latency-optimal allocation,
  so one simulation per MACs/cycle value serves every static power
  (:func:`energy_at_static_power`).

Both run their simulations in-process or on a spawn-based process pool; each point is an
independent deterministic simulation, so the tables are identical whatever the executor.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import math
import multiprocessing
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .allocation import ALLOCATIONS
from .balancing import BALANCERS
from .errors import ParameterError
from .kernels import KERNEL_CLASSES
from .loading import load_network
from .simulate import simulate, tiles_for_coverage
from .system import SECTIONS, PlausibilityWarning, SystemConfig, describe, load_system
from .validation import check_choice, check_float, check_int
from .zoo import STUDY_NETWORKS

PRESETS = ("alpine-tight", "alpine-loose")
"""The two couplings the study compares (presets)."""

VARIED_STATUSES = ("assumed", "derived")
"""Statuses of the parameters the study varies (those with a non-degenerate range)."""

EXECUTORS = ("inprocess", "processes")


@dataclass(frozen=True)
class Headline:
    """The published configuration and outcome the study is about.

    Attributes:
        cores: cores in the system (count).
        coverage: share of the network's MVM weights the tile budget is chosen for (0..1).
        allocation: tile allocation (:data:`aimclib.allocation.ALLOCATIONS`); re-optimised
            under every varied value.
        balancer: load balancer (:data:`aimclib.balancing.BALANCERS`).
        speedup: published speedup over the same cores without tiles (x).
        energy_gain: published energy gain (x).
        tolerance: relative band around the published values that counts as reaching them (1).
    """

    cores: int = 8
    coverage: float = 0.41
    allocation: str = "optimal"
    balancer: str = "static-balanced"
    speedup: float = 5.9
    energy_gain: float = 5.6
    tolerance: float = 0.10

    def __post_init__(self):
        where = "Headline"
        check_int(self.cores, "cores", low=1, where=where)
        check_float(self.coverage, "coverage", low=0.0, high=1.0, where=where)
        check_choice(self.allocation, "allocation", ALLOCATIONS, where=where)
        check_choice(self.balancer, "balancer", BALANCERS, where=where)
        check_float(self.speedup, "speedup", low=0.0, low_open=True, unit="x", where=where)
        check_float(self.energy_gain, "energy_gain", low=0.0, low_open=True, unit="x",
                    where=where)
        check_float(self.tolerance, "tolerance", low=0.0, high=1.0, high_open=True,
                    where=where)

    def reaches(self, value, target: float):
        """Whether ``value`` (scalar or array, x) lies within ``tolerance`` of ``target``."""
        return np.abs(np.asarray(value) / target - 1.0) <= self.tolerance + 1e-12


HEADLINE = Headline()
"""The seed study's published point: 8 cores, 41 % coverage, 5.9x / 5.6x."""


# ------------------------------------------------------------------------------ parameters
@dataclass(frozen=True)
class VariedParameter:
    """One parameter the study moves, with the values it takes.

    Attributes:
        parameter: ``section.field`` key of the preset.
        unit: the parameter's unit (``-`` for a choice).
        status: ``assumed`` or ``derived`` (from the preset).
        default: the preset's value.
        ends: ``(label, value)`` pairs: ``("low", low), ("high", high)`` for a number (an end
            equal to the default is kept: it moves nothing), or ``(choice, choice)`` for each
            alternative of a choice other than the default.
        reason: the preset's ``range_reason``.
    """

    parameter: str
    unit: str
    status: str
    default: Any
    ends: tuple[tuple[str, Any], ...]
    reason: str

    @property
    def is_choice(self) -> bool:
        return isinstance(self.default, str)

    def label(self) -> str:
        """Short text for a figure: the key and what it spans (``low .. high unit`` or the
        alternatives)."""
        if self.is_choice:
            return f"{self.parameter} [{self.default} -> {' | '.join(v for _, v in self.ends)}]"
        lo, hi = (v for _, v in self.ends)
        unit = "" if self.unit in ("1", "-") else f" {self.unit}"
        return f"{self.parameter} [{lo:.3g} .. {hi:.3g}{unit}]"


def _system(preset: str | SystemConfig) -> SystemConfig:
    return preset if isinstance(preset, SystemConfig) else load_system(preset)


def varied_parameters(preset: str | SystemConfig = "alpine-tight",
                      statuses: Sequence[str] = VARIED_STATUSES) -> list[VariedParameter]:
    """The parameters of ``preset`` the sensitivity study varies, in :func:`describe` order.

    A parameter is varied when its status is in ``statuses`` and :func:`describe` gives it a
    non-degenerate range: a number with ``low < high``, or a choice with at least one plausible
    alternative besides its value. A range added to a preset joins the study with no change
    here. A parameter that moves only other schedules than the barrier schedule the study
    runs (``host.band_sync_cycles``: the pipelined schedule's) is left out: it moves nothing.
    """
    out = []
    for row in describe(_system(preset)):
        rng = row["range"]
        if (row["status"] not in statuses or rng is None
                or not _moves_barrier(row["parameter"])):
            continue
        value = row["value"]
        if isinstance(value, str):
            alternatives = [c for c in rng if c != value]
            if not alternatives:
                continue
            ends = tuple((c, c) for c in alternatives)
        else:
            low, high = rng
            if not low < high:
                continue
            ends = (("low", low), ("high", high))
        out.append(VariedParameter(row["parameter"], row["unit"], row["status"], value, ends,
                                   row["range_reason"]))
    return out


def _moves_barrier(key: str) -> bool:
    """Whether preset parameter ``key`` (``section.field``) can move the barrier schedule."""
    section, name = key.split(".", 1)
    meta = next(f.metadata for f in dataclasses.fields(SECTIONS[section]) if f.name == name)
    return "barrier" in meta.get("schedules", ("barrier",))


# ------------------------------------------------------------------------------ one point
@lru_cache(maxsize=16)
def _network(name: str):
    return load_network(name)


def _load(preset: str, cores: int, tiles: int, overrides: dict, quiet: bool) -> SystemConfig:
    """``preset`` with ``cores``, ``tiles`` and ``section.field`` overrides; ``quiet`` hides
    :class:`PlausibilityWarning` (grid points outside the ranges on purpose)."""
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", PlausibilityWarning)
        return load_system(preset, **{"cpu.cores": cores, "system.tiles": tiles, **overrides})


def _outcome(network: str, hw: SystemConfig, headline: Headline) -> dict:
    """One headline simulation of ``network`` on ``hw`` (its tile budget) as a flat dict."""
    net = _network(network)
    r = simulate(net, hw, allocation=headline.allocation, balancer=headline.balancer)
    static = r.breakdown["tile_static"]
    return {
        "tiles": hw.tiles, "speedup": float(r.speedup), "energy_gain": float(r.energy_gain),
        "coverage": float(r.coverage), "tiles_used": int(r.tiles_used),
        "latency_s": float(r.latency_s), "energy_j": float(r.energy_j),
        "baseline_latency_s": float(r.baseline_latency_s),
        "baseline_energy_j": float(r.baseline_energy_j),
        "tile_static_s": float(static["seconds"]), "tile_static_j": float(static["joules"]),
        "tile_energy_scale": float(hw.tile_energy_scale),
        "baseline_macs_per_cycle": float(hw.cpu.sustained_macs_per_cycle),
        # the whole network's int8 MACs per cycle per core on the all-digital baseline
        "baseline_avg_macs_per_cycle": float(
            net.macs / (r.baseline_latency_s * hw.cpu.clock_hz * hw.cores)),
    }


def _default_point(network: str, preset: str, headline: Headline) -> dict:
    """The headline budget of (network, preset) under default parameters, and its outcome."""
    hw = load_system(preset, cores=headline.cores)
    tiles = tiles_for_coverage(_network(network), hw, headline.coverage, headline.allocation)
    return _outcome(network, hw.replace(tiles=tiles), headline)


def _varied_point(network: str, preset: str, tiles: int, overrides: dict, headline: Headline,
                  quiet: bool = False) -> dict:
    """The outcome of (network, preset) on ``tiles`` tiles with ``overrides`` applied."""
    hw = _load(preset, headline.cores, tiles, overrides, quiet)
    return _outcome(network, hw, headline)


# ------------------------------------------------------------------------------ execution
def _execute(fn: Callable, tasks: list[dict], executor: str, workers: int | None,
             progress: bool, desc: str) -> list[dict]:
    """``[fn(**t) for t in tasks]``, in-process or on a spawn-based process pool of
    ``workers`` processes (default: every core), with a tqdm bar; results in task order."""
    check_choice(executor, "executor", EXECUTORS, where=desc)
    if workers is not None:
        check_int(workers, "workers", low=1, where=desc)
    results: list = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc=desc, unit="sim", disable=not progress)
    try:
        n = min(workers or os.cpu_count() or 1, len(tasks))
        if executor == "inprocess" or n <= 1:
            for i, t in enumerate(tasks):
                results[i] = fn(**t)
                bar.update()
            return results
        # spawn, as aimclib.sweep does: a forked child would inherit Numba's threading state
        pool = cf.ProcessPoolExecutor(max_workers=n,
                                      mp_context=multiprocessing.get_context("spawn"))
        try:
            futures = {pool.submit(fn, **t): i for i, t in enumerate(tasks)}
            for f in cf.as_completed(futures):
                results[futures[f]] = f.result()
                bar.update()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return results
    finally:
        bar.close()


def _check_names(networks, presets) -> tuple[list[str], list[str]]:
    networks, presets = list(networks), list(presets)
    if not networks or not presets:
        raise ParameterError("give at least one network and one preset")
    for n in networks:
        _network(n)  # an unknown name fails here, with the known ones listed
    for p in presets:
        load_system(p)
    return networks, presets


def headline_defaults(networks: Sequence[str] = STUDY_NETWORKS,
                      presets: Sequence[str] = PRESETS, headline: Headline = HEADLINE,
                      executor: str = "processes", workers: int | None = None,
                      progress: bool = True) -> pd.DataFrame:
    """The headline under every preset's default parameters, one row per (network, preset).

    ``tiles`` is the budget whose ``headline.allocation`` covers nearest ``headline.coverage``
    of the network's MVM weights under the default parameters; the other studies keep it.
    Columns: ``network``, ``preset``, ``coupling``, ``cores``, ``tiles``, ``speedup``,
    ``energy_gain`` (x), ``coverage`` (0..1), ``tiles_used``, ``latency_s``, ``energy_j``,
    ``baseline_latency_s``, ``baseline_energy_j``, ``tile_static_s`` (powered tile-seconds),
    ``tile_static_j`` (J), ``tile_energy_scale`` (1), ``baseline_macs_per_cycle`` (sustained
    large-GEMM MACs/cycle of one core) and ``baseline_avg_macs_per_cycle`` (the baseline's
    average over the network, per core).
    """
    networks, presets = _check_names(networks, presets)
    tasks = [{"network": n, "preset": p, "headline": headline} for n in networks
             for p in presets]
    out = _execute(_default_point, tasks, executor, workers, progress, "headline budgets")
    rows = [{"network": t["network"], "preset": t["preset"],
             "coupling": load_system(t["preset"]).coupling, "cores": headline.cores, **r}
            for t, r in zip(tasks, out)]
    return pd.DataFrame(rows)


def _budgets(defaults: pd.DataFrame | None, networks, presets, headline, executor, workers,
             progress) -> pd.DataFrame:
    if defaults is None:
        return headline_defaults(networks, presets, headline, executor, workers, progress)
    have = set(zip(defaults["network"], defaults["preset"]))
    missing = [(n, p) for n in networks for p in presets if (n, p) not in have]
    if missing:
        raise ParameterError(f"defaults has no row for (network, preset) {missing}; pass the "
                             f"table headline_defaults() made for these networks and presets")
    return defaults


# ------------------------------------------------------------------------------ tornado
TORNADO_RESULTS = ("speedup", "energy_gain", "coverage")
"""Results the tornado table reports, each with its default and its relative change."""


def tornado(networks: Sequence[str] = STUDY_NETWORKS, presets: Sequence[str] = PRESETS,
            headline: Headline = HEADLINE, parameters: Sequence[str] | None = None,
            defaults: pd.DataFrame | None = None, executor: str = "processes",
            workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """One-at-a-time sensitivity of the headline to every varied parameter.

    For each network x preset x parameter of :func:`varied_parameters` (of that preset) x end
    (``low``/``high``, or each alternative choice), the parameter is set to that value, the
    tile budget stays at the default's (``defaults``, from :func:`headline_defaults`, computed
    when None) and the allocation is re-optimised. Setting ``cpu.baseline_kernel`` also sets
    the parameters that kernel class fixes (its ``gemm_efficiency`` among them);
    ``cpu.gemm_efficiency`` alone spans the default kernel class's range. ``parameters``
    restricts the study to some keys.

    Returns one row per point: ``network``, ``preset``, ``coupling``, ``cores``, ``tiles``,
    ``parameter``, ``unit``, ``status``, ``end``, ``value``, ``default_value``, then
    ``speedup``, ``energy_gain`` (x), ``coverage`` (0..1), each with ``default_<r>`` and
    ``<r>_change`` (relative to the default: ``value / default - 1``), ``tiles_used`` and
    ``baseline_macs_per_cycle``. An end equal to the default reuses the default's simulation.
    """
    networks, presets = _check_names(networks, presets)
    defaults = _budgets(defaults, networks, presets, headline, executor, workers, progress)
    base = {(r["network"], r["preset"]): r for r in defaults.to_dict("records")}
    plan, tasks = [], []
    for p in presets:
        varied = varied_parameters(p)
        if parameters is not None:
            known = {v.parameter for v in varied}
            unknown = [k for k in parameters if k not in known]
            if unknown:
                raise ParameterError(f"parameters {unknown} are not varied for preset {p!r}; "
                                     f"varied: {', '.join(sorted(known))}")
            varied = [v for v in varied if v.parameter in parameters]
        for n in networks:
            for v in varied:
                for end, value in v.ends:
                    task = None
                    if value != v.default:
                        task = len(tasks)
                        tasks.append({"network": n, "preset": p,
                                      "tiles": int(base[n, p]["tiles"]),
                                      "overrides": {v.parameter: value}, "headline": headline})
                    plan.append((n, p, v, end, value, task))
    out = _execute(_varied_point, tasks, executor, workers, progress, "tornado")
    rows = []
    for n, p, v, end, value, task in plan:
        d = base[n, p]
        r = d if task is None else out[task]
        row = {"network": n, "preset": p, "coupling": d["coupling"], "cores": headline.cores,
               "tiles": int(d["tiles"]), "parameter": v.parameter, "unit": v.unit,
               "status": v.status, "end": end, "value": value, "default_value": v.default}
        for k in TORNADO_RESULTS:
            row[k] = r[k]
            row[f"default_{k}"] = d[k]
            row[f"{k}_change"] = r[k] / d[k] - 1.0 if d[k] else math.nan
        row["tiles_used"] = r["tiles_used"]
        row["baseline_macs_per_cycle"] = r["baseline_macs_per_cycle"]
        rows.append(row)
    return pd.DataFrame(rows)


def parameter_effects(table: pd.DataFrame, metric: str = "speedup") -> pd.Series:
    """Each parameter's largest relative change of ``metric`` (``speedup`` or
    ``energy_gain``) over every network, coupling and end of a :func:`tornado` table
    (absolute value, 1 = 100 %), sorted largest first."""
    col = f"{metric}_change"
    if col not in table.columns:
        raise ParameterError(f"metric must be one of {', '.join(TORNADO_RESULTS[:2])}: the "
                             f"table has no column {col!r}")
    return (table.assign(_abs=table[col].abs()).groupby("parameter", sort=False)["_abs"].max()
            .sort_values(ascending=False, kind="stable").rename(f"max_abs_{col}"))


def effect_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: the largest absolute relative change of speedup and of energy gain
    (share, 1 = 100 %) and where each happens (network, coupling, end), sorted by the larger
    of the two."""
    out = []
    for param, g in table.groupby("parameter", sort=False):
        row = {"parameter": param, "unit": g["unit"].iloc[0], "status": g["status"].iloc[0],
               "default_value": g["default_value"].iloc[0]}
        for m in ("speedup", "energy_gain"):
            i = g[f"{m}_change"].abs().idxmax()
            row[f"max_abs_{m}_change"] = abs(float(g.at[i, f"{m}_change"]))
            row[f"{m}_where"] = f"{g.at[i, 'network']}, {g.at[i, 'coupling']}, {g.at[i, 'end']}"
        out.append(row)
    df = pd.DataFrame(out)
    key = df[["max_abs_speedup_change", "max_abs_energy_gain_change"]].max(axis=1)
    return df.iloc[np.argsort(-key.to_numpy(), kind="stable")].reset_index(drop=True)


# ------------------------------------------------------------------------------ reverse question
def energy_at_static_power(outcome: dict | pd.Series, static_power_w) -> np.ndarray:
    """Energy of a simulated point (J) had each tile drawn ``static_power_w`` (W, scalar or
    array) instead: the point's energy minus its tile static energy plus the powered
    tile-seconds x ``static_power_w`` x the tile's node scaling. Exact because static power
    changes neither latency nor the latency-optimal allocation (nor the powered
    tile-seconds)."""
    p = np.asarray(static_power_w, dtype=np.float64)
    return (outcome["energy_j"] - outcome["tile_static_j"]
            + outcome["tile_static_s"] * p * outcome["tile_energy_scale"])


def _same_peak_classes(hw: SystemConfig) -> list[str]:
    """Kernel classes that differ from ``hw``'s only in efficiency (same lanes, MAC share and
    precision): the MACs/cycle axis at ``hw``'s peak passes through their ranges too."""
    own = KERNEL_CLASSES[hw.cpu.baseline_kernel].values()
    return [name for name, k in KERNEL_CLASSES.items()
            if all(k.values()[f] == own[f] for f in own if f != "gemm_efficiency")]


def macs_grid(preset: str | SystemConfig = "alpine-tight", low: float = 0.5,
              high: float | None = None, points: int = 12) -> list[float]:
    """``points`` baseline sustained MACs/cycle values spaced geometrically from ``low`` to
    ``high`` (MAC/cycle; default: the peak of ``preset``'s kernel class, the fastest a core
    can be)."""
    peak = _system(preset).cpu.macs_per_cycle
    high = peak if high is None else check_float(high, "high", unit="MAC/cycle",
                                                 where="macs_grid")
    low = check_float(low, "low", unit="MAC/cycle", where="macs_grid")
    points = check_int(points, "points", low=1, where="macs_grid")
    if not 0 < low <= high <= peak:
        raise ParameterError(f"need 0 < low <= high <= {peak:g} (the peak MACs/cycle of "
                             f"{_system(preset).name}), got low={low!r}, high={high!r}")
    # the last value is the peak itself, not a rounding error above it
    return [min(float(v), high) for v in np.geomspace(low, high, points)]


def static_power_grid(high_w: float = 10e-3, low_w: float = 0.05e-3, points: int = 24
                      ) -> list[float]:
    """Tile static powers (W): 0, then ``points`` values spaced geometrically from ``low_w`` to
    ``high_w`` (cheap: they need no simulation of their own)."""
    points = check_int(points, "points", low=1, where="static_power_grid")
    if not 0 < low_w <= high_w:
        raise ParameterError(f"need 0 < low_w <= high_w (W), got {low_w!r}, {high_w!r}")
    return [0.0] + [float(v) for v in np.geomspace(low_w, high_w, points)]


def published_region(networks: Sequence[str] = STUDY_NETWORKS,
                     presets: Sequence[str] = PRESETS,
                     macs_per_cycle: Sequence[float] | None = None,
                     static_power_w: Sequence[float] | None = None,
                     headline: Headline = HEADLINE, defaults: pd.DataFrame | None = None,
                     executor: str = "processes", workers: int | None = None,
                     progress: bool = True) -> pd.DataFrame:
    """Where both published values are reached, over baseline speed x tile static power.

    ``macs_per_cycle`` are baseline sustained MACs per cycle of one core on a large GEMM
    (MAC/cycle; default :func:`macs_grid` of the first preset): ``cpu.gemm_efficiency`` is
    set to each over the default kernel class's peak (``hw.cpu.macs_per_cycle``), everything
    else at its default. ``static_power_w`` are tile static powers (W; default
    :func:`static_power_grid`). The tile budget is the default's (:func:`headline_defaults`);
    the allocation is re-optimised per MACs/cycle value. One simulation per (network, preset,
    MACs/cycle); the energies at each static power follow from it
    (:func:`energy_at_static_power`). Points outside the plausible ranges are wanted here, so
    their :class:`PlausibilityWarning` is suppressed and recorded per row instead.

    Returns one row per network x preset x MACs/cycle x static power: ``network``, ``preset``,
    ``coupling``, ``cores``, ``tiles``, ``baseline_macs_per_cycle``, ``gemm_efficiency``,
    ``static_power_w``, ``speedup``, ``energy_gain`` (x), ``coverage``,
    ``baseline_avg_macs_per_cycle``, ``speedup_ok``, ``energy_gain_ok`` and ``both_ok``
    (within ``headline.tolerance`` of the published values), ``efficiency_plausible``,
    ``static_power_plausible``, ``plausible`` (both inside the preset's ranges),
    ``kernel_classes`` (classes of the default's precision whose sustained range holds the
    MACs/cycle value, ``/``-separated), and the reference values the figure draws:
    ``same_peak_classes`` (the kernel classes this axis passes through, ``/``-separated),
    ``default_macs_per_cycle``, ``default_static_power_w``, ``plausible_macs_low``/``_high``
    (MAC/cycle), ``plausible_static_power_low_w``/``_high_w``.
    """
    networks, presets = _check_names(networks, presets)
    if macs_per_cycle is None:
        macs_per_cycle = macs_grid(presets[0])
    macs = [float(m) for m in macs_per_cycle]
    if static_power_w is None:
        static_power_w = static_power_grid()
    power = np.array([float(p) for p in static_power_w])
    if not macs or not power.size:
        raise ParameterError("give at least one macs_per_cycle and one static_power_w value")
    if (power < 0).any():
        raise ParameterError(f"static_power_w must be >= 0 (W), got {power.min()!r}")
    defaults = _budgets(defaults, networks, presets, headline, executor, workers, progress)
    base = {(r["network"], r["preset"]): r for r in defaults.to_dict("records")}
    tasks, refs = [], {}
    for p in presets:
        hw = load_system(p)
        peak = hw.cpu.macs_per_cycle
        bad = [m for m in macs if not 0 < m <= peak]
        if bad:
            raise ParameterError(f"macs_per_cycle {bad} are outside (0, {peak:g}]: the peak "
                                 f"MACs/cycle of preset {p!r}'s kernel class "
                                 f"{hw.cpu.baseline_kernel!r}")
        eff_rng, pow_rng = hw.ranges["cpu.gemm_efficiency"], hw.ranges["tile.static_power_w"]
        classes = _same_peak_classes(hw)
        refs[p] = {"peak": peak, "eff": eff_rng, "pow": pow_rng, "classes": classes,
                   "same_peak_classes": "/".join(classes),
                   "default_macs_per_cycle": hw.cpu.sustained_macs_per_cycle,
                   "default_static_power_w": hw.tile.static_power_w,
                   "plausible_macs_low": eff_rng.low * peak,
                   "plausible_macs_high": eff_rng.high * peak,
                   "plausible_static_power_low_w": pow_rng.low,
                   "plausible_static_power_high_w": pow_rng.high}
        for n in networks:
            for m in macs:
                tasks.append({"network": n, "preset": p, "tiles": int(base[n, p]["tiles"]),
                              "overrides": {"cpu.gemm_efficiency": m / peak},
                              "headline": headline, "quiet": True})
    out = _execute(_varied_point, tasks, executor, workers, progress, "published region")
    frames = []
    for t, r in zip(tasks, out):
        ref = refs[t["preset"]]
        m = r["baseline_macs_per_cycle"]
        eff = t["overrides"]["cpu.gemm_efficiency"]
        gain = r["baseline_energy_j"] / energy_at_static_power(r, power)
        speed_ok = bool(headline.reaches(r["speedup"], headline.speedup))
        energy_ok = headline.reaches(gain, headline.energy_gain)
        eff_ok = ref["eff"].contains(eff)
        pow_ok = np.array([ref["pow"].contains(x) for x in power])
        holds = "/".join(c for c in ref["classes"]
                         if KERNEL_CLASSES[c].sustained_range[0] <= m
                         <= KERNEL_CLASSES[c].sustained_range[1])
        frames.append(pd.DataFrame({
            "network": t["network"], "preset": t["preset"],
            "coupling": base[t["network"], t["preset"]]["coupling"], "cores": headline.cores,
            "tiles": t["tiles"], "baseline_macs_per_cycle": m, "gemm_efficiency": eff,
            "static_power_w": power, "speedup": r["speedup"], "energy_gain": gain,
            "coverage": r["coverage"],
            "baseline_avg_macs_per_cycle": r["baseline_avg_macs_per_cycle"],
            "speedup_ok": speed_ok, "energy_gain_ok": energy_ok,
            "both_ok": speed_ok & energy_ok, "efficiency_plausible": eff_ok,
            "static_power_plausible": pow_ok, "plausible": eff_ok & pow_ok,
            "kernel_classes": holds,
            **{k: v for k, v in ref.items()
               if k.startswith(("default_", "plausible_", "same_peak"))}}))
    return pd.concat(frames, ignore_index=True)


def region_summary(region: pd.DataFrame) -> pd.DataFrame:
    """Per network and coupling of a :func:`published_region` table: grid points where both
    published values are reached, how many of them are plausible, and the range of baseline
    MACs/cycle and static power (mW) they span (NaN where none)."""
    out = []
    for (n, c), g in region.groupby(["network", "coupling"], sort=False):
        ok = g[g["both_ok"]]
        ok_p = ok[ok["plausible"]]
        out.append({"network": n, "coupling": c, "points": len(g), "reached": len(ok),
                    "reached_plausible": len(ok_p),
                    "macs_per_cycle_min": ok["baseline_macs_per_cycle"].min(),
                    "macs_per_cycle_max": ok["baseline_macs_per_cycle"].max(),
                    "static_power_mw_min": 1e3 * ok["static_power_w"].min(),
                    "static_power_mw_max": 1e3 * ok["static_power_w"].max(),
                    "kernel_classes": "/".join(sorted(set("/".join(
                        ok["kernel_classes"]).split("/")) - {""}))})
    return pd.DataFrame(out)
