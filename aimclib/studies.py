"""Data assembly for the study notebooks: tidy tables made from sweeps and simulation results.

Everything here is pandas/numpy on results that already exist (sweep tables, :class:`SimResult`
objects), except :func:`sweep_layer_tiles`, which runs one layer sweep per layer and core count
so that each is swept over its own tile points. Plotting lives in :mod:`aimclib.plotting`.

Conventions: times in seconds (columns ``*_s``), energies in joules (``*_j``), coverage and
utilisation as shares in [0, 1] unless a column name ends in ``_pct``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ParameterError
from .mapping import map_layer
from .provenance import save_table
from .replication import copy_cap
from .sweep import layer_spec, sweep
from .system import SystemConfig, load_system
from .validation import check_choice, check_int
from .workload import layer_work

CORE_SHARES = ("digital", "analog", "steal", "idle")
"""Per-core time components of :func:`utilisation_table`, in stacking order."""


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`ParameterError` naming the columns ``what`` needs that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ParameterError(f"{what}: the table has no column(s) {', '.join(missing)}; "
                             f"its columns are {', '.join(map(str, df.columns))}")


def save_study_table(df: pd.DataFrame, path, notebook: str, source: pd.DataFrame | None = None,
                     **config) -> Path:
    """Write a study table as CSV with its provenance (:func:`aimclib.provenance.save_table`).

    The provenance config names the ``notebook`` and holds ``config``; when the table (or
    ``source``, the sweep it was derived from) carries a sweep's provenance
    (``attrs["provenance"]``, set by :func:`aimclib.sweep.sweep`), its config (grid, study,
    presets with their parameters) is recorded under ``"sweep"``.
    """
    record = (source if source is not None else df).attrs.get("provenance")
    full = {"notebook": notebook, **config}
    if isinstance(record, dict) and "config" in record:
        full["sweep"] = record["config"]
    return save_table(df, path, full)


# ------------------------------------------------------------------------ single layers
def unit_budgets(spec: str, system: SystemConfig | str = "alpine-tight") -> list[int]:
    """Tile budgets at which the layer ``spec`` maps one more whole unit: 0, then the tiles of
    its first 1, 2, ... n units (the last is the tiles that map the whole layer).

    ``spec`` is a layer spec of :func:`aimclib.sweep.layer_spec` (e.g. ``"dense:256:256"``);
    the tile size comes from ``system``. Budgets between two of these leave tiles unused, so
    they are the points where a layer's coverage changes.
    """
    hw = system if isinstance(system, SystemConfig) else load_system(system)
    mapping = map_layer(layer_spec(spec).info[0], hw.tile.rows, hw.tile.cols)
    return [0] + np.cumsum(mapping.unit_tiles).astype(int).tolist()


JOB_BUFFER = "set:loose.job_buffer_bytes"
"""The sweep column of the loose interface's DMA input buffer (B)."""


def _largest_input_vector(spec: str, system: SystemConfig | str) -> int:
    """Bytes of one input vector of the largest tile of layer ``spec`` (B)."""
    hw = system if isinstance(system, SystemConfig) else load_system(system)
    mapping = map_layer(layer_spec(spec).info[0], hw.tile.rows, hw.tile.cols)
    return int(np.ceil(mapping.tile_rows.max() * hw.tile.input_bits / 8))


def job_buffers(spec: str, vectors: Sequence[int], system: SystemConfig | str = "alpine-loose"
                ) -> list[int]:
    """DMA input buffer sizes (B) at which every tile of layer ``spec`` takes exactly
    ``vectors`` input vectors per job: ``vectors x`` the largest tile's input bytes (the
    loose interface moves ``max(1, job_buffer_bytes // input bytes)`` vectors per job)."""
    per_vector = _largest_input_vector(spec, system)
    return [int(v) * per_vector for v in vectors]


def with_vectors_per_job(df: pd.DataFrame, spec: str,
                         system: SystemConfig | str = "alpine-loose") -> pd.DataFrame:
    """``df`` (with a :data:`JOB_BUFFER` column) plus ``vectors_per_job``: the input vectors
    one DMA job moves to the largest tile of layer ``spec`` (count)."""
    require_columns(df, [JOB_BUFFER], "vectors per job")
    per_vector = _largest_input_vector(spec, system)
    return df.assign(vectors_per_job=np.maximum(1, df[JOB_BUFFER].astype(np.int64)
                                                // per_vector))


SATURATION_LEVEL = 0.95
"""A curve *saturates* at the fewest tiles that reach this share of its best value
(:func:`saturation`): past it, more tiles buy at most 5 % (a stated choice)."""

UNIT_POINTS = 16
"""Tile points within one copy of a layer (:func:`tile_points`): every unit up to this many
units, a log-spaced subset of this many above."""


def tile_points(spec: str, system: SystemConfig | str = "alpine-tight", cores: int = 1,
                unit_points: int = UNIT_POINTS) -> list[int]:
    """Tile budgets for layer ``spec`` on ``cores`` cores from one unit to the copy cap: the
    tiles of its first ``u`` units for every ``u`` up to one copy (a log-spaced subset of
    about ``unit_points`` when it has more units), then ``c`` whole copies for every ``c`` up
    to :func:`aimclib.replication.copy_cap` (the driving cores, at most the output
    positions). Increasing, distinct."""
    hw = system if isinstance(system, SystemConfig) else load_system(system)
    cores = check_int(cores, "cores", low=1, where="tile_points")
    unit_points = check_int(unit_points, "unit_points", low=2, where="tile_points")
    info = layer_spec(spec).info[0]
    mapping = map_layer(info, hw.tile.rows, hw.tile.cols)
    n, full = mapping.n_units, mapping.tiles_full
    units = (np.arange(1, n + 1) if n <= unit_points
             else np.unique(np.geomspace(1, n, unit_points).round().astype(int)))
    cum = np.cumsum(mapping.unit_tiles)
    # the cap with every core owning tiles (tight drivers need that many tiles)
    hw_c = hw.replace(cores=cores, tiles=max(cores, full * cores))
    cap = copy_cap(layer_work(0, info, hw_c), hw_c)
    points = cum[units - 1].astype(int).tolist() + [c * full for c in range(2, cap + 1)]
    return sorted(set(points))


def sweep_layer_tiles(layers: Sequence[str], grid: Mapping[str, list] | None = None,
                      unit_points: int = UNIT_POINTS, **sweep_options) -> pd.DataFrame:
    """Single-layer sweep with replication on (grid key ``replicate="on"``) of every layer in
    ``layers`` and core count of ``grid["cores"]`` over its :func:`tile_points`.

    ``grid`` holds the other layer-study keys (``preset``, ``cores``, ``balancer``, ...);
    ``sweep_options`` go to :func:`aimclib.sweep.sweep`. Adds ``copies``: tiles used over the
    tiles of one whole mapping (below 1: a partial copy). Layers in the order given; the
    first sweep's provenance (``attrs["provenance"]``) with every layer's tile points.
    """
    grid = dict(grid or {})
    for key in ("layer", "tiles", "replicate"):
        if key in grid:
            raise ParameterError(f"sweep_layer_tiles: {key!r} comes from the layers argument "
                                 f"and each layer's tile points; remove it from grid")
    if not layers:
        raise ParameterError("sweep_layer_tiles: give at least one layer spec")
    preset = grid.get("preset", ["alpine-tight"])[0]
    frames, points = [], {}
    for spec in layers:
        for c in grid.get("cores", [1]):
            tiles = tile_points(spec, preset, c, unit_points)
            points[f"{spec}@{c}"] = tiles
            frames.append(sweep({**grid, "layer": [spec], "cores": [c], "tiles": tiles,
                                 "replicate": ["on"]}, study="layer", **sweep_options))
    out = pd.concat(frames, ignore_index=True)
    out["copies"] = out["tiles_used"] / out["tiles_needed"]
    record = frames[0].attrs.get("provenance")
    if isinstance(record, dict) and "config" in record:
        config = dict(record["config"])
        config["grid"] = {**config.get("grid", {}), "layer": list(layers),
                          "cores": list(grid.get("cores", [1])), "tiles": points}
        out.attrs["provenance"] = {**record, "config": config}
    return out


def saturation(df: pd.DataFrame, by: Sequence[str] = ("layer", "coupling", "cores"),
               value: str = "speedup", level: float = SATURATION_LEVEL,
               tiles: str = "tiles") -> pd.DataFrame:
    """Where each curve saturates: per group of ``by``, the row with the fewest ``tiles``
    whose ``value`` reaches ``level`` x the group's best (``level`` in (0, 1]).

    Returns those rows (every column of ``df``) with ``best`` (the group's highest
    ``value``) and ``last_tiles`` (the group's most ``tiles``)."""
    by = list(by)
    require_columns(df, by + [value, tiles], "saturation")
    if not 0.0 < level <= 1.0:
        raise ParameterError(f"saturation: level must be in (0, 1], got {level!r}")
    best = df.groupby(by, sort=False)[value].transform("max")
    last = df.groupby(by, sort=False)[tiles].transform("max")
    hit = df.assign(best=best, last_tiles=last)[df[value] >= level * best]
    first = hit.sort_values(tiles, kind="stable").groupby(by, sort=False).head(1)
    return first.sort_index().reset_index(drop=True)


def copy_threshold(sat: pd.DataFrame, positions: str = "gemm_m", copies: str = "copies"
                   ) -> dict:
    """The reuse threshold ``X`` a :class:`~aimclib.replication.ReplicateRule` should use,
    from saturation points (:func:`saturation` rows with ``positions``, the layer's output
    positions, and ``copies``, the copies used there).

    A row *needs copies* when it saturates beyond one whole copy (``copies > 1``). ``X`` is
    the threshold on ``positions`` that separates the rows needing copies (at or above
    ``X``) from the others with the fewest misclassified rows, the smallest such ``X`` on
    ties (copies are never slower under the cost model, so erring towards copying costs
    only tiles). Returns ``{"min_reuse", "errors", "need", "no_need"}`` (the last two: the
    positions of the rows on each side, sorted)."""
    require_columns(sat, [positions, copies], "copy_threshold")
    if sat.empty:
        raise ParameterError("copy_threshold: no saturation points given")
    m = sat[positions].to_numpy(np.int64)
    need = sat[copies].to_numpy(float) > 1.0 + 1e-9
    if not need.any():
        raise ParameterError("copy_threshold: no curve needs copies to saturate; no "
                             "threshold to derive")
    best = None
    for x in sorted(set(m.tolist())):
        errors = int(np.sum(need & (m < x)) + np.sum(~need & (m >= x)))
        if best is None or errors < best[1]:
            best = (x, errors)
    return {"min_reuse": int(best[0]), "errors": best[1], "need": sorted(set(m[need].tolist())),
            "no_need": sorted(set(m[~need].tolist()))}


def coupling_ratio(df: pd.DataFrame, index: Sequence[str], value: str = "speedup"
                   ) -> pd.DataFrame:
    """``value`` of loose against tight coupling for each combination of ``index`` columns.

    Returns one row per combination with columns ``tight``, ``loose`` and
    ``ratio = loose / tight`` (above 1: loose coupling is better for that configuration).
    """
    index = list(index)
    require_columns(df, index + ["coupling", value], "coupling_ratio")
    wide = df.pivot_table(index=index, columns="coupling", values=value, aggfunc="first")
    missing = [c for c in ("tight", "loose") if c not in wide.columns]
    if missing:
        raise ParameterError(f"coupling_ratio: the table has no {' or '.join(missing)} rows; "
                             f"it needs both couplings (sweep both presets)")
    out = wide[["tight", "loose"]].reset_index()
    out.columns.name = None
    out["ratio"] = out["loose"] / out["tight"]
    return out


# ------------------------------------------------------------------------ whole networks
def budget_grid(max_tiles: int, points: int, min_tiles: int = 1,
                include_zero: bool = True) -> list[int]:
    """About ``points`` tile budgets spaced geometrically from ``min_tiles`` to ``max_tiles``
    (distinct integers, so fewer where the spacing is below one tile), with 0 first when
    ``include_zero``: even resolution on a log axis."""
    min_tiles = check_int(min_tiles, "min_tiles", low=1, where="budget_grid")
    max_tiles = check_int(max_tiles, "max_tiles", low=min_tiles, where="budget_grid")
    points = check_int(points, "points", low=2, where="budget_grid")
    grid = np.unique(np.geomspace(min_tiles, max_tiles, points).round().astype(int)).tolist()
    return ([0] if include_zero else []) + grid


def relative_to(df: pd.DataFrame, column: str, reference, on: Sequence[str],
                value: str = "speedup") -> pd.DataFrame:
    """``df`` with ``<value>_vs_<reference>``: each row's ``value`` divided by that of the
    row with ``column == reference`` and the same ``on`` columns (e.g. every allocation's
    speedup against the optimal allocation's at the same network, coupling and budget)."""
    on = list(on)
    if not on:
        raise ParameterError("relative_to: give at least one column in 'on' to match rows by")
    require_columns(df, on + [column, value], "relative_to")
    ref = df[df[column] == reference]
    if ref.empty:
        raise ParameterError(f"relative_to: no row has {column} == {reference!r}; values are "
                             f"{', '.join(map(str, df[column].unique()))}")
    if ref.duplicated(on).any():
        raise ParameterError(f"relative_to: several {reference!r} rows share the same {on}; "
                             f"add the columns that tell them apart to 'on'")
    base = ref.set_index(on)[value].rename("_ref")
    out = df.join(base, on=on)
    out[f"{value}_vs_{reference}"] = out[value] / out.pop("_ref")
    return out


def achieved_coverage(df: pd.DataFrame) -> str:
    """The column of a network sweep holding the achieved share of MVM weights on tiles:
    ``achieved_coverage`` when the sweep had a ``coverage`` target key, else ``coverage``."""
    col = "achieved_coverage" if "achieved_coverage" in df.columns else "coverage"
    require_columns(df, [col], "achieved_coverage")
    return col


def nearest_coverage(df: pd.DataFrame, target: float, by: Sequence[str]) -> pd.DataFrame:
    """Per group of ``by`` columns, the row whose achieved coverage (:func:`achieved_coverage`)
    is nearest ``target`` (0..1; the smaller tile budget on ties)."""
    by = list(by)
    require_columns(df, by + ["tiles"], "nearest_coverage")
    if not 0.0 <= target <= 1.0:
        raise ParameterError(f"nearest_coverage: target must be a share in [0, 1], "
                             f"got {target!r}")
    dist = (df[achieved_coverage(df)] - target).abs()
    ranked = df.assign(_dist=dist).sort_values(["_dist", "tiles"], kind="stable")
    # back to the table's row order, so groups keep the order they have in df
    best = ranked.groupby(by, sort=False).head(1).sort_index()
    return best.drop(columns="_dist").reset_index(drop=True)


def published_comparison(df: pd.DataFrame, coverage: float, speedup: float,
                         energy_gain: float, by: Sequence[str]) -> pd.DataFrame:
    """The model's values at the budget nearest ``coverage`` beside a published point.

    Returns per group of ``by``: the achieved coverage, tiles, the model's ``speedup`` and
    ``energy_gain``, the published values and the model-to-published ratios.
    """
    near = nearest_coverage(df, coverage, by)
    out = near[list(by) + ["tiles"]].copy()
    out["coverage"] = near[achieved_coverage(near)]
    out[["speedup", "energy_gain"]] = near[["speedup", "energy_gain"]]
    out["published_coverage"] = coverage
    out["published_speedup"] = speedup
    out["published_energy_gain"] = energy_gain
    out["speedup_ratio"] = out["speedup"] / speedup
    out["energy_gain_ratio"] = out["energy_gain"] / energy_gain
    return out


def pareto_mask(df: pd.DataFrame, minimize: Sequence[str] = (),
                maximize: Sequence[str] = ()) -> pd.Series:
    """True for rows no other row dominates: at least as good in every objective and strictly
    better in one (``minimize`` columns lower, ``maximize`` columns higher). Equal rows do not
    dominate each other, so duplicates of a front point are all on the front."""
    cols = list(minimize) + list(maximize)
    if not cols:
        raise ParameterError("pareto_mask: give at least one column to minimize or maximize")
    require_columns(df, cols, "pareto_mask")
    # every objective turned into "lower is better"
    x = np.column_stack([df[c].to_numpy(float) for c in minimize]
                        + [-df[c].to_numpy(float) for c in maximize])
    if np.isnan(x).any():
        raise ParameterError(f"pareto_mask: columns {', '.join(cols)} hold NaN values")
    no_worse = (x[:, None, :] <= x[None, :, :]).all(axis=2)   # [j, i]: j no worse than i
    better = (x[:, None, :] < x[None, :, :]).any(axis=2)      # [j, i]: j better somewhere
    dominated = (no_worse & better).any(axis=0)
    return pd.Series(~dominated, index=df.index, name="pareto")


def pareto_front(df: pd.DataFrame, by: Sequence[str] = ("network",),
                 minimize: Sequence[str] = ("tiles_used",),
                 maximize: Sequence[str] = ("speedup", "energy_gain")) -> pd.DataFrame:
    """``df`` with a boolean column ``pareto``: non-dominated within each group of ``by``
    (default: fewest tiles used, highest speedup, highest energy gain, per network)."""
    by = list(by)
    require_columns(df, by, "pareto_front")
    out = df.copy()
    out["pareto"] = False
    for _, part in df.groupby(by, sort=False):
        out.loc[part.index, "pareto"] = pareto_mask(part, minimize, maximize)
    return out


def fewest_tiles(df: pd.DataFrame, targets: Sequence[float], by: Sequence[str] = ("network",),
                 value: str = "speedup", tiles: str = "tiles_used") -> pd.DataFrame:
    """Per group of ``by`` and target, the fewest ``tiles`` among the rows whose ``value``
    reaches the target (>=).

    Columns: ``by``, ``target``, ``reached`` (False when no row of the group reaches it; then
    ``tiles`` is NaN), ``tiles``, the ``value`` of that row, its achieved ``coverage`` and
    ``best`` (the group's highest ``value``). The answer is only as fine as the swept budgets.
    """
    by = list(by)
    require_columns(df, by + [value, tiles], "fewest_tiles")
    cov = achieved_coverage(df)
    if not len(targets):
        raise ParameterError("fewest_tiles: give at least one target value")
    rows = []
    for key, part in df.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for target in targets:
            hit = part[part[value] >= target]
            row = dict(zip(by, key), target=float(target), reached=not hit.empty,
                       tiles=np.nan, **{value: np.nan}, coverage=np.nan,
                       best=float(part[value].max()))
            if not hit.empty:
                first = hit.sort_values([tiles, value], ascending=[True, False]).iloc[0]
                row.update(tiles=float(first[tiles]), coverage=float(first[cov]),
                           **{value: float(first[value])})
            rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------ schedules
def layer_window(layers: pd.DataFrame, first: str, last: str | None = None
                 ) -> tuple[float, float]:
    """The time window (s) from the start of layer ``first`` to the end of layer ``last``
    (default: ``first``) in a :attr:`SimResult.layers` table."""
    require_columns(layers, ["layer", "start_s", "end_s"], "layer_window")
    last = first if last is None else last
    names = layers["layer"].tolist()
    for name in (first, last):
        if name not in names:
            raise ParameterError(f"layer_window: no layer {name!r} in the schedule; its first "
                                 f"layers are {', '.join(names[:8])}, ...")
    t0 = float(layers.loc[layers["layer"] == first, "start_s"].iloc[0])
    t1 = float(layers.loc[layers["layer"] == last, "end_s"].iloc[0])
    if t1 <= t0:
        raise ParameterError(f"layer_window: layer {last!r} ends ({t1:g} s) before {first!r} "
                             f"starts ({t0:g} s); give them in execution order")
    return t0, t1


def gantt_intervals(trace: pd.DataFrame, window: tuple[float, float] | None = None,
                    tile_rows: str = "bins", tile_bins: int = 8,
                    tiles: pd.DataFrame | None = None, relative: bool = False
                    ) -> pd.DataFrame:
    """Busy intervals of a :attr:`SimResult.trace` laid out as Gantt rows.

    Rows: one per core (``core c``), then tile rows: ``tile_rows="each"`` gives every tile busy
    in the window its own row (labelled with its owner core, ``tile 3 (core 0)``, or
    ``tile 3 (shared)`` for a loose tile any core uses, when ``tiles``, the
    :attr:`SimResult.tiles` table, is given); ``"bins"`` groups
    consecutive tile ids (a layer's tiles are consecutive) into at most ``tile_bins`` rows;
    ``"none"`` drops tiles. Intervals are clipped to ``window`` (s) when given, and with
    ``relative=True`` their times count from the window's start (so schedules of different
    lengths line up).

    Columns: ``row`` (label), ``row_pos`` (0 = top), ``resource``, ``kind``, ``layer``,
    ``start_s``, ``end_s``.
    """
    require_columns(trace, ["resource", "id", "layer", "kind", "start_s", "end_s"],
                  "gantt_intervals")
    check_choice(tile_rows, "tile_rows", ("each", "bins", "none"), where="gantt_intervals")
    tile_bins = check_int(tile_bins, "tile_bins", low=1, where="gantt_intervals")
    t = trace
    if window is not None:
        t0, t1 = window
        if not t1 > t0:
            raise ParameterError(f"gantt_intervals: window must be (start, end) with end > "
                                 f"start, got {window!r}")
        t = t[(t["end_s"] > t0) & (t["start_s"] < t1)].copy()
        t["start_s"] = t["start_s"].clip(lower=t0)
        t["end_s"] = t["end_s"].clip(upper=t1)
    cores = t[t["resource"] == "core"].copy()
    n_cores = int(trace.loc[trace["resource"] == "core", "id"].max()) + 1 \
        if (trace["resource"] == "core").any() else 0
    cores["row_pos"] = cores["id"].astype(int)
    cores["row"] = "core " + cores["id"].astype(int).astype(str)
    parts = [cores]
    tl = t[t["resource"] == "tile"].copy()
    if tile_rows != "none" and not tl.empty:
        ids = np.sort(tl["id"].unique())
        if tile_rows == "each":
            pos = {tid: i for i, tid in enumerate(ids)}
            owner = {}
            if tiles is not None and not tiles.empty:
                owner = dict(zip(tiles["tile"], tiles["owner_core"]))
            tl["row_pos"] = n_cores + tl["id"].map(pos)
            tl["row"] = [f"tile {tid}" + ("" if tid not in owner else f" (core {owner[tid]})"
                                          if owner[tid] >= 0 else " (shared)")
                         for tid in tl["id"]]
        else:
            lo, hi = int(ids[0]), int(ids[-1])
            edges = np.unique(np.linspace(lo, hi + 1, min(tile_bins, hi - lo + 1) + 1)
                              .round().astype(int))
            b = np.searchsorted(edges, tl["id"].to_numpy(), side="right") - 1
            tl["row_pos"] = n_cores + b
            tl["row"] = [f"tiles {edges[i]}-{edges[i + 1] - 1}" for i in b]
        parts.append(tl)
    out = pd.concat(parts, ignore_index=True)
    if window is not None and relative:
        out["start_s"] -= window[0]
        out["end_s"] -= window[0]
    cols = ["row", "row_pos", "resource", "kind", "layer", "start_s", "end_s"]
    return out[cols].sort_values(["row_pos", "start_s"], kind="stable").reset_index(drop=True)


def _check_results(results: Mapping, names: Sequence[str]) -> list[tuple]:
    keys = []
    for key in results:
        key = key if isinstance(key, tuple) else (key,)
        if len(key) != len(names):
            raise ParameterError(f"results key {key!r} has {len(key)} parts but names "
                                 f"{tuple(names)!r} has {len(names)}")
        keys.append(key)
    return keys


def utilisation_table(results: Mapping, names: Sequence[str] = ("coupling", "balancer")
                      ) -> pd.DataFrame:
    """Per configuration and core, how the inference time splits into digital work, analog
    work (interface, stall, host work around MVMs), stealing and idle time.

    ``results`` maps a configuration key (a tuple named by ``names``) to a :class:`SimResult`.
    Columns: ``names``, ``core``, ``component`` (:data:`CORE_SHARES`), ``seconds``,
    ``share_pct`` (of the configuration's latency; a core's four shares add up to 100).
    """
    keys = _check_results(results, names)
    frames = []
    for key, res in zip(keys, results.values()):
        c = res.cores
        long = c.melt(id_vars=["core"], value_vars=[f"{k}_s" for k in CORE_SHARES],
                      var_name="component", value_name="seconds")
        long["component"] = long["component"].str.removesuffix("_s")
        long["share_pct"] = 100.0 * long["seconds"] / res.latency_s
        for name, value in zip(names, key):
            long[name] = value
        frames.append(long)
    out = pd.concat(frames, ignore_index=True)
    out["component"] = pd.Categorical(out["component"], CORE_SHARES, ordered=True)
    out = out.sort_values(list(names) + ["core", "component"], kind="stable")
    out["component"] = out["component"].astype(str)
    return out[list(names) + ["core", "component", "seconds", "share_pct"]].reset_index(
        drop=True)


def config_summary(results: Mapping, names: Sequence[str] = ("coupling", "balancer")
                   ) -> pd.DataFrame:
    """One row per configuration: tiles, coverage, latency (ms), speedup, energy gain, the
    mean, lowest and highest core utilisation (%) and the tasks moved by stealing."""
    keys = _check_results(results, names)
    rows = []
    for key, res in zip(keys, results.values()):
        util = 100.0 * res.cores["utilisation"]
        rows.append({**dict(zip(names, key)), "tiles": res.system.tiles,
                     "coverage_pct": 100.0 * res.coverage, "latency_ms": 1e3 * res.latency_s,
                     "speedup": res.speedup, "energy_gain": res.energy_gain,
                     "mean_utilisation_pct": float(util.mean()),
                     "min_utilisation_pct": float(util.min()),
                     "max_utilisation_pct": float(util.max()),
                     "steals": int(res.cores["steals"].sum())})
    return pd.DataFrame(rows)


def layer_label(spec: str) -> str:
    """A short human label of a layer spec: ``"conv:64:64:3:56:1:1"`` -> ``"conv 64→64 3x3
    @56"``, ``"dense:256:256"`` -> ``"dense 256→256"``, ``"depthwise:256:3:14"`` ->
    ``"depthwise 256ch 3x3 @14"`` (stride and groups appended when not 1)."""
    kind, *fields = spec.split(":")
    try:
        nums = [int(f) for f in fields]
    except ValueError:
        raise ParameterError(f"layer spec {spec!r}: fields after the kind must be integers")
    shapes = {"dense": (2, 2), "conv": (4, 7), "depthwise": (3, 5)}
    if kind not in shapes or not shapes[kind][0] <= len(nums) <= shapes[kind][1]:
        raise ParameterError(f"layer spec {spec!r}: expected dense:IN:OUT, "
                             f"conv:CIN:COUT:K:HW[:STRIDE[:PAD[:GROUPS]]] or "
                             f"depthwise:C:K:HW[:STRIDE[:PAD]]")
    if kind == "dense":
        return f"dense {nums[0]}→{nums[1]}"
    if kind == "conv":
        cin, cout, k, hw = nums[:4]
        label = f"conv {cin}→{cout} {k}x{k} @{hw}"
        groups = nums[6] if len(nums) > 6 else 1
    else:
        c, k, hw = nums[:3]
        label = f"depthwise {c}ch {k}x{k} @{hw}"
        groups = 1
    stride_at = 4 if kind == "conv" else 3
    if len(nums) > stride_at and nums[stride_at] != 1:
        label += f" /{nums[stride_at]}"
    return label + (f" g={groups}" if groups != 1 else "")


# ------------------------------------------------------------ replication, schedules, batch
REFERENCE_CHOICE = {"replicate": "off", "schedule": "barrier"}
"""The choice every other one is measured against: no copies, a barrier after every layer
(the defaults, and the published point's configuration in notebooks 02 and 03)."""


def _reference_rows(df: pd.DataFrame, by: list[str], what: str) -> pd.DataFrame:
    """Per group of ``by``, the one row of the :data:`REFERENCE_CHOICE`."""
    ref = df[(df["replicate"] == REFERENCE_CHOICE["replicate"])
             & (df["schedule"] == REFERENCE_CHOICE["schedule"])]
    if ref.duplicated(by).any():
        raise ParameterError(f"{what}: several replicate='off', schedule='barrier' rows per "
                             f"group of {by}; give one row per group and choice")
    missing = df[by].drop_duplicates().merge(ref[by], how="left", indicator=True)
    if (missing["_merge"] != "both").any():
        first = missing[missing["_merge"] != "both"].iloc[0][by].to_dict()
        raise ParameterError(f"{what}: the group {first} has no replicate='off', "
                             f"schedule='barrier' row to compare with; include both in the "
                             f"sweep's grid")
    return ref.set_index(by)


def choices_table(df: pd.DataFrame, by: Sequence[str] = ("network", "coupling", "cores")
                  ) -> pd.DataFrame:
    """Replication and schedule choices of a batch-1 network sweep set side by side.

    ``df`` has one row per group of ``by`` (plus ``tiles`` or a coverage target, when the
    groups include it) and per ``replicate`` x ``schedule``, with the sweep's ``latency_s``,
    ``energy_j``, ``baseline_latency_s`` and ``baseline_energy_j``; every group holds the
    :data:`REFERENCE_CHOICE` (``"off"``, ``"barrier"``). Returns per row, beside ``by``, the
    choice and the tiles and coverage:

    * ``latency_ms``, ``energy_mj``: the configuration's batch-1 latency and energy;
    * ``speedup``, ``energy_gain`` (x): against the all-digital baseline on the same cores
      under the **barrier** schedule (the reference row's baseline; the sweep's own
      ``speedup`` divides by a baseline run under the row's schedule, so a pipelined
      digital baseline would hide what pipelining gains);
    * ``latency_gain``, ``energy_ratio`` (x): the reference choice's latency and energy over
      this one's (above 1: faster, less energy).
    """
    by = list(by)
    require_columns(df, by + ["replicate", "schedule", "tiles", "tiles_used",
                              achieved_coverage(df), "latency_s", "energy_j",
                              "baseline_latency_s", "baseline_energy_j"], "choices_table")
    if df.duplicated(by + ["replicate", "schedule"]).any():
        raise ParameterError(f"choices_table: several rows per {by + ['replicate', 'schedule']}"
                             f"; give one row per group and choice")
    ref = _reference_rows(df, by, "choices_table")
    r = ref.reindex(pd.MultiIndex.from_frame(df[by]) if len(by) > 1 else df[by[0]])
    out = df[by + ["replicate", "schedule", "tiles", "tiles_used"]].reset_index(drop=True)
    out["coverage"] = df[achieved_coverage(df)].to_numpy()
    lat, energy = df["latency_s"].to_numpy(), df["energy_j"].to_numpy()
    out["latency_ms"] = 1e3 * lat
    out["energy_mj"] = 1e3 * energy
    out["speedup"] = r["baseline_latency_s"].to_numpy() / lat
    out["energy_gain"] = r["baseline_energy_j"].to_numpy() / energy
    out["latency_gain"] = r["latency_s"].to_numpy() / lat
    out["energy_ratio"] = r["energy_j"].to_numpy() / energy
    return out


def throughput_table(df: pd.DataFrame, by: Sequence[str] = ("network", "coupling", "cores",
                                                            "replicate")) -> pd.DataFrame:
    """Throughput runs of a network sweep beside batch 1.

    ``df``: rows of a sweep with ``batch`` > 1 (one per group of ``by`` and ``throughput``),
    each carrying the batch's ``inferences_per_s`` and ``energy_per_inference_j`` and the
    batch-1 ``latency_s`` and ``energy_j`` of the same configuration. Returns per row
    ``by``, ``batch``, ``throughput``, ``inferences_per_s`` (1/s), ``energy_per_inference_mj``,
    the batch-1 ``batch1_inferences_per_s`` (1 / latency) and ``batch1_energy_mj``, and the
    ratios ``throughput_gain`` (inferences/s over batch 1's, x) and ``energy_per_inference_ratio``
    (energy per inference over batch 1's, x; below 1: each image costs less).
    """
    by = list(by)
    require_columns(df, by + ["batch", "throughput", "inferences_per_s",
                              "energy_per_inference_j", "latency_s", "energy_j"],
                    "throughput_table")
    if (df["batch"] < 2).any():
        raise ParameterError("throughput_table: every row needs batch >= 2 (batch 1 is read "
                             "from each row's latency_s and energy_j)")
    out = df[by + ["batch", "throughput"]].reset_index(drop=True)
    out["inferences_per_s"] = df["inferences_per_s"].to_numpy()
    out["energy_per_inference_mj"] = 1e3 * df["energy_per_inference_j"].to_numpy()
    out["batch1_inferences_per_s"] = 1.0 / df["latency_s"].to_numpy()
    out["batch1_energy_mj"] = 1e3 * df["energy_j"].to_numpy()
    out["throughput_gain"] = out["inferences_per_s"] / out["batch1_inferences_per_s"]
    out["energy_per_inference_ratio"] = out["energy_per_inference_mj"] / out["batch1_energy_mj"]
    return out
