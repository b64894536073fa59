"""Parameter sweeps: one simulation per point of a grid, in-process, on local processes or on
a Dask cluster, with a resumable on-disk cache and a provenance record.

``sweep(grid)`` runs the cartesian product of ``grid`` (name -> list of values, in the given
key order) and returns one DataFrame row per point, in product order whatever the executor::

    from aimclib.sweep import sweep, save_sweep
    df = sweep({"network": "resnet50", "tiles": [0, 16, 64],
                "balancer": ["static-even", "work-stealing"]}, cache="data/cache")
    save_sweep(df, "data/tiles.csv")      # CSV + tiles.provenance.json

Two studies: ``"network"`` simulates whole networks (:func:`aimclib.simulate.simulate`);
``"layer"`` costs single layers given as spec strings (:func:`layer_spec`,
:func:`aimclib.layercost.layer_cost`). Points that share everything but the tile budget
(or coverage target) and the seed are sent to a worker together, so the simulator's
per-process caches (workloads, layer schedules, allocation cost tables) serve all of them.
The simulator is deterministic, so results are equal bit for bit whatever the executor,
the chunking and the cache.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import functools
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import signal
import sqlite3
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import __version__
from .allocation import ALLOCATIONS
from .balancing import BALANCERS
from .errors import AimcError, CacheError, LayerSpecError, ParameterError, RunError
from .layercost import CORE_COMPONENTS, DEVICE_COMPONENTS, layer_cost
from .loading import load_network
from .network import Network, NetworkBuilder
from .provenance import provenance, save_table
from .scheduling import STEAL_LATENCY_S, TASKS_PER_CORE, VICTIMS
from .simulate import OBJECTIVES, simulate, tiles_for_coverage
from .system import SystemConfig, load_system, override_key, preset_path
from .throughput import THROUGHPUTS
from .validation import (MAX_BATCH, MAX_CORES, MAX_TASKS_PER_CORE, MAX_TILES, REPLICATE_OFF,
                         SCHEDULES, check_bool, check_choice, check_float, check_int,
                         check_replicate, check_schedule, check_seed)
from .zoo import NETWORKS

STUDIES = ("network", "layer")
EXECUTORS = ("inprocess", "processes", "dask")
OVERRIDE = "set:"
"""Prefix of grid keys that override one preset parameter: ``"set:SECTION.FIELD"``."""

COMPONENTS = CORE_COMPONENTS + DEVICE_COMPONENTS
"""Breakdown components; each gives columns ``time_<c>_s`` and ``energy_<c>_j``."""

MAX_CHUNK = 16
"""Most points in one chunk: a finished chunk is written to the cache at once, so an
interrupted sweep loses at most this many points per worker."""

CACHE_FILE = "sweep-cache.sqlite"
"""Name of the SQLite file inside a sweep's cache directory."""

LAYER_FORMS = ("dense:IN:OUT", "conv:CIN:COUT:K:HW[:STRIDE[:PAD[:GROUPS]]]",
               "depthwise:C:K:HW[:STRIDE[:PAD]]")
"""The accepted forms of a layer spec (:func:`layer_spec`)."""


# ------------------------------------------------------------------------------ layer specs
# kind -> (field names, how many are required); fields after the required ones are optional
_SPEC_FIELDS = {"dense": (("IN", "OUT"), 2),
                "conv": (("CIN", "COUT", "K", "HW", "STRIDE", "PAD", "GROUPS"), 4),
                "depthwise": (("C", "K", "HW", "STRIDE", "PAD"), 3)}
_SPEC_DEFAULTS = {"STRIDE": 1, "PAD": 0, "GROUPS": 1}


def _parse_spec(text) -> tuple[str, dict[str, int]]:
    """``(kind, {field: value})`` of a layer spec, optional fields filled with defaults."""
    def bad(why: str) -> LayerSpecError:
        return LayerSpecError(f"bad layer spec {text!r}: {why}; accepted forms: "
                              f"{', '.join(LAYER_FORMS)}")

    if not isinstance(text, str):
        raise bad("a spec is a string")
    kind, *parts = text.strip().lower().split(":")
    if kind not in _SPEC_FIELDS:
        raise bad(f"unknown kind {kind!r}")
    names, required = _SPEC_FIELDS[kind]
    if not required <= len(parts) <= len(names):
        raise bad(f"{kind} takes {required} to {len(names)} numbers, got {len(parts)}")
    values = {}
    for name, part in zip(names, parts):
        try:
            value = int(part)
        except ValueError:
            raise bad(f"{name} = {part!r} is not an integer") from None
        low = 0 if name == "PAD" else 1
        if value < low:
            raise bad(f"{name} = {value} must be >= {low}")
        values[name] = value
    for name in names[len(parts):]:
        values[name] = _SPEC_DEFAULTS[name]
    return kind, values


def layer_spec(text: str) -> Network:
    """A one-layer network from a spec string (batch 1, no bias):

    * ``"dense:IN:OUT"``: a fully-connected layer, e.g. ``"dense:256:256"``;
    * ``"conv:CIN:COUT:K:HW[:STRIDE[:PAD[:GROUPS]]]"``: a K x K convolution on a CIN x HW x HW
      input (stride 1, padding 0, 1 group by default), e.g. ``"conv:64:64:3:56:1:1"``;
    * ``"depthwise:C:K:HW[:STRIDE[:PAD]]"``: a K x K depthwise convolution (C groups).

    The layer is named after its kind (``dense``, ``conv``, ``depthwise``). A malformed spec
    raises :class:`~aimclib.errors.LayerSpecError` naming the spec and the accepted forms.
    """
    kind, v = _parse_spec(text)
    try:
        if kind == "dense":
            b = NetworkBuilder(text, (v["IN"], 1, 1))
            b.linear(b.input, v["OUT"], bias=False, name=kind)
        else:
            cin, cout, groups = ((v["C"], v["C"], v["C"]) if kind == "depthwise"
                                 else (v["CIN"], v["COUT"], v["GROUPS"]))
            b = NetworkBuilder(text, (cin, v["HW"], v["HW"]))
            b.conv(b.input, cout, v["K"], stride=v["STRIDE"], padding=v["PAD"], groups=groups,
                   name=kind)
        return b.build()
    except AimcError as exc:
        raise LayerSpecError(f"bad layer spec {text!r}: {exc}; accepted forms: "
                             f"{', '.join(LAYER_FORMS)}") from None


# ------------------------------------------------------------------------------ grid values
def _native(value):
    """A numpy scalar as the Python scalar it holds (JSON and CSV friendly)."""
    return value.item() if isinstance(value, np.generic) else value


def _text(value) -> str:
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise TypeError


def _integer(low: int, high: int | None = None, optional: bool = False):
    def check(value):
        if value is None and optional:
            return None
        return check_int(value, "value", low=low, high=high)
    return check


def _number(low: float, high: float | None = None):
    return lambda value: check_float(value, "value", low=low, high=high)


def _choice(choices):
    return lambda value: check_choice(value, "value", choices)


def _flag(value):
    return check_bool(value, "value")


def _replicate(value):
    try:
        return check_replicate(value, "value")
    except AimcError:
        raise ValueError from None


def _coverage(value):
    return None if value is None else _number(0.0, 1.0)(value)


def _schedule(value):
    return None if value is None else check_choice(value, "value", SCHEDULES)


# key -> (default, converter, what is accepted)
_KEYS = {
    "network": (None, _text, "a zoo name or a path to an .onnx or .csv file"),
    "layer": (None, _text, f"a layer spec: {', '.join(LAYER_FORMS)}"),
    "preset": ("alpine-tight", _text, "a preset name or a .toml file"),
    "cores": (None, _integer(1, MAX_CORES, True),
              f"an integer from 1 to MAX_CORES = {MAX_CORES} (or None: the preset's)"),
    "tiles": (None, _integer(0, MAX_TILES, True),
              "an integer >= 0 and <= MAX_TILES = 2**40 (or None: the preset's)"),
    "coverage": (None, _coverage, "a share of the MVM weights in [0, 1]"),
    "allocation": ("optimal", _choice(ALLOCATIONS), f"one of {', '.join(ALLOCATIONS)}"),
    "balancer": ("static-balanced", _choice(BALANCERS), f"one of {', '.join(BALANCERS)}"),
    "seed": (0, check_seed, "an integer from 0 to 2**63 - 1"),
    "dag": (False, _flag, "True or False"),
    "replicate": (REPLICATE_OFF, _replicate, "off, on or reuse>=X (X an integer >= 1)"),
    "objective": ("latency", _choice(OBJECTIVES), f"one of {', '.join(OBJECTIVES)}"),
    "victim": ("random", _choice(tuple(VICTIMS)), f"one of {', '.join(VICTIMS)}"),
    "steal_latency_s": (STEAL_LATENCY_S, _number(0.0, 1.0), "a time from 0 to 1 s"),
    "tasks_per_core": (TASKS_PER_CORE, _integer(1, MAX_TASKS_PER_CORE),
                       f"an integer from 1 to MAX_TASKS_PER_CORE = {MAX_TASKS_PER_CORE}"),
    "schedule": (None, _schedule,
                 f"one of {', '.join(SCHEDULES)} (or None: the dag key decides)"),
    "batch": (1, _integer(1, MAX_BATCH), f"an integer from 1 to MAX_BATCH = {MAX_BATCH}"),
    "throughput": ("batch", _choice(THROUGHPUTS), f"one of {', '.join(THROUGHPUTS)}"),
}
STUDY_KEYS = {
    "network": ("network", "preset", "cores", "tiles", "coverage", "allocation", "balancer",
                "seed", "dag", "objective", "victim", "steal_latency_s", "tasks_per_core",
                "schedule", "batch", "throughput", "replicate"),
    "layer": ("layer", "preset", "cores", "tiles", "balancer", "seed", "replicate"),
}
"""Grid keys each study accepts (besides ``"set:SECTION.FIELD"`` overrides); the first one
is required."""

# What a point of either study computes, in column order (breakdown columns follow).
_NETWORK_COLUMNS = ("coupling", "cores", "tiles", "latency_s", "energy_j", "baseline_latency_s",
                    "baseline_energy_j", "speedup", "energy_gain", "coverage", "mac_coverage",
                    "tiles_used")
_LAYER_COLUMNS = ("layer", "kind", "gemm_m", "gemm_k", "gemm_n", "groups", "macs", "weights",
                  "tiles_needed", "tiles_used", "coverage", "utilisation", "latency_s",
                  "energy_j", "baseline_latency_s", "baseline_energy_j", "speedup",
                  "energy_gain", "coupling", "cores", "tiles")
_BREAKDOWN_COLUMNS = tuple(col for c in COMPONENTS for col in (f"time_{c}_s", f"energy_{c}_j"))
_THROUGHPUT_COLUMNS = ("inferences_per_s", "energy_per_inference_j")
"""Computed for every network point (cached); a table shows them when its grid has a
``schedule``, ``batch`` or ``throughput`` key (tables of other grids keep their columns)."""
_THROUGHPUT_KEYS = ("schedule", "batch", "throughput")


def _normalize_grid(grid, study: str) -> dict[str, list]:
    """``grid`` with every value a non-empty list of checked Python scalars."""
    if not isinstance(grid, Mapping):
        raise ParameterError(f"grid must be a mapping name -> list of values, got "
                             f"{type(grid).__name__}")
    accepted = STUDY_KEYS[study]
    out = {}
    for key, values in grid.items():
        if not isinstance(key, str) or not (key in accepted or (
                key.startswith(OVERRIDE) and len(key) > len(OVERRIDE))):
            raise ParameterError(
                f"unknown grid key {key!r} for study {study!r}; accepted: "
                f"{', '.join(accepted)} and '{OVERRIDE}SECTION.FIELD' preset overrides "
                f"(e.g. '{OVERRIDE}tile.mvm_latency_s')")
        if isinstance(values, (list, tuple, range, np.ndarray, pd.Series, pd.Index)):
            values = [_native(v) for v in values]
        else:
            values = [_native(values)]
        if not values:
            raise ParameterError(f"grid[{key!r}] is an empty list; give at least one value")
        if key in accepted:
            _, convert, what = _KEYS[key]
            checked = []
            for v in values:
                try:
                    checked.append(convert(v))
                except (TypeError, ValueError):
                    raise ParameterError(f"grid[{key!r}]: {v!r} is not {what}") from None
            values = checked
        out[key] = values
    if accepted[0] not in out:
        raise ParameterError(f"study {study!r} needs grid key {accepted[0]!r} "
                             f"({_KEYS[accepted[0]][2]})")
    _check_overrides(out)
    if "tiles" in out and "coverage" in out:
        raise ParameterError("grid has both 'tiles' and 'coverage': give a tile budget or a "
                             "coverage target (resolved to a budget per point), not both")
    return out


def _check_overrides(grid: dict) -> None:
    """Refuse two grid keys that set one parameter: ``set:cores`` and ``set:cpu.cores``, or
    ``set:cpu.cores`` beside the ``cores`` key."""
    seen = {override_key(k): k for k in ("cores", "tiles") if k in grid}
    for key in grid:
        if key.startswith(OVERRIDE):
            full = override_key(key[len(OVERRIDE):])
            if full in seen:
                raise ParameterError(f"grid keys {seen[full]!r} and {key!r} both set {full}; "
                                     f"give each parameter once")
            seen[full] = key


# ------------------------------------------------------------------------------ points
@dataclass
class _Point:
    """One point to compute: its cache key, the key of the points it shares a chunk with,
    and the keyword arguments of the point function."""

    key: str
    group: str
    task: dict


def _canonical(obj) -> str:
    """Canonical JSON: sorted keys, no spaces, floats as repr (so lossless)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=1)
def code_identity() -> str:
    """SHA-256 of aimclib's own source files (:func:`source_hash` of the package): part of
    every cache key, so a cached point is reused only when the code that computed it is
    byte-identical to the code running now."""
    return source_hash(Path(__file__).resolve().parent)


def source_hash(root: Path) -> str:
    """SHA-256 over every ``.py`` file under ``root``: relative path and content, in path
    order."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Resolver:
    """Turns grid points into :class:`_Point` s, loading each preset and network once."""

    def __init__(self, study: str):
        self.study = study
        self.presets: dict[str, SystemConfig] = {}
        self.networks: dict[str, tuple[dict, str | Network]] = {}
        self.layers: dict[str, dict] = {}
        self._systems: dict[tuple, tuple[SystemConfig, dict]] = {}

    def preset(self, name: str) -> SystemConfig:
        if name not in self.presets:
            try:
                self.presets[name] = load_system(name)
            except AimcError as exc:
                raise type(exc)(f"grid['preset'] = {name!r}: {exc}") from None
        return self.presets[name]

    def network(self, source: str) -> tuple[dict, str | Network]:
        """The network's identity for the cache key and what the worker receives: the zoo
        name, or the loaded network (so workers need not see the file)."""
        if source not in self.networks:
            try:
                net = load_network(source)
            except AimcError as exc:
                raise type(exc)(f"grid['network'] = {source!r}: {exc}") from None
            if source in NETWORKS:  # load_network reads a zoo name, never a file
                self.networks[source] = ({"zoo": source}, source)
            else:
                self.networks[source] = ({"path": source, "sha256": _sha256_file(source)},
                                         net)
        return self.networks[source]

    def layer(self, spec: str) -> dict:
        """The layer's identity for the cache key: its kind and every number, defaults
        filled in (building the layer here rejects impossible shapes before any work)."""
        if spec not in self.layers:
            layer_spec(spec)
            kind, fields = _parse_spec(spec)
            self.layers[spec] = {"kind": kind, **fields}
        return self.layers[spec]

    def system(self, index: int, point: dict, params: dict, tiles) -> tuple[SystemConfig, dict]:
        """The point's preset with its overrides, cores and tile count applied, and its
        parameters as a dict."""
        overrides = tuple((k[len(OVERRIDE):], v) for k, v in point.items()
                          if k.startswith(OVERRIDE))
        memo = (params["preset"], overrides, params["cores"], tiles)
        if memo not in self._systems:
            hw = self.preset(params["preset"])
            sized = {k: v for k, v in (("cores", params["cores"]), ("tiles", tiles))
                     if v is not None}
            try:
                hw = hw.replace(**dict(overrides))
                hw = hw.replace(**sized) if sized else hw
            except AimcError as exc:
                raise type(exc)(f"grid point {index} ({_describe(point)}): {exc}") from None
            self._systems[memo] = (hw, hw.to_dict())
        return self._systems[memo]

    def point(self, index: int, point: dict) -> _Point:
        keys = STUDY_KEYS[self.study]
        params = {k: point.get(k, _KEYS[k][0]) for k in keys}
        common = {"study": self.study, "aimclib": __version__, "code": code_identity()}
        if self.study == "network":
            try:
                check_schedule(params["schedule"], params["dag"], params["batch"],
                               params["throughput"], throughputs=THROUGHPUTS)
            except AimcError as exc:
                raise type(exc)(f"grid point {index} ({_describe(point)}): {exc}") from None
            ident, source = self.network(params["network"])
            # a coverage target is resolved to a budget later: the preset's count is unused
            tiles = 0 if params["coverage"] is not None else params["tiles"]
            hw, hw_dict = self.system(index, point, params, tiles)
            options = {k: params[k] for k in keys
                       if k not in ("network", "preset", "cores", "tiles")}
            key = {**common, "network": ident, "system": hw_dict, "options": options}
            shared = {k: v for k, v in options.items() if k not in ("seed", "coverage")}
            task = {"network": source, "system": hw, **options}
        else:
            layer = self.layer(params["layer"])
            hw, hw_dict = self.system(index, point, params, params["tiles"])
            options = {"balancer": params["balancer"], "seed": params["seed"],
                       "replicate": params["replicate"]}
            key = {**common, "layer": layer, "system": hw_dict, "options": options}
            shared = {"layer": layer, "balancer": params["balancer"],
                      "replicate": params["replicate"]}
            task = {"spec": params["layer"], "system": hw, **options}
        untiled = {s: v for s, v in hw_dict.items() if s != "system"}
        group = _canonical([key.get("network"), shared, untiled, hw.coupling,
                            hw.system.tile_placement])
        return _Point(hashlib.sha256(_canonical(key).encode()).hexdigest(), group, task)


def _describe(point: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in point.items())


# ------------------------------------------------------------------------------ workers
def _breakdown(bd: dict) -> dict:
    out = {}
    for c in COMPONENTS:
        out[f"time_{c}_s"] = float(bd[c]["seconds"])
        out[f"energy_{c}_j"] = float(bd[c]["joules"])
    return out


def _network_point(network, system: SystemConfig, allocation: str, balancer: str, seed: int,
                   dag: bool, objective: str, victim: str, steal_latency_s: float,
                   tasks_per_core: int, coverage: float | None, schedule: str | None = None,
                   batch: int = 1, throughput: str = "batch",
                   replicate: str = REPLICATE_OFF) -> dict:
    """One whole-network simulation; a coverage target first becomes the nearest budget (of
    the allocation without copies: with ``replicate`` the copies then share that budget)."""
    net = load_network(network)
    hw = system
    if coverage is not None:
        hw = hw.replace(tiles=tiles_for_coverage(net, hw, coverage, allocation, objective))
    r = simulate(net, hw, allocation=allocation, balancer=balancer, seed=seed, dag=dag,
                 objective=objective, victim=victim, steal_latency_s=steal_latency_s,
                 tasks_per_core=tasks_per_core, schedule=schedule, batch=batch,
                 throughput=throughput, replicate=replicate)
    return {"coupling": hw.coupling, "cores": hw.cores, "tiles": hw.tiles,
            "latency_s": float(r.latency_s), "energy_j": float(r.energy_j),
            "baseline_latency_s": float(r.baseline_latency_s),
            "baseline_energy_j": float(r.baseline_energy_j), "speedup": float(r.speedup),
            "energy_gain": float(r.energy_gain), "coverage": float(r.coverage),
            "mac_coverage": float(r.mac_coverage), "tiles_used": int(r.tiles_used),
            "inferences_per_s": float(r.inferences_per_s),
            "energy_per_inference_j": float(r.energy_per_inference_j),
            **_breakdown(r.breakdown)}


def _layer_point(spec: str, system: SystemConfig, balancer: str, seed: int,
                 replicate: str = REPLICATE_OFF) -> dict:
    """One layer's cost on ``system`` (its cores and tiles); the ``layer`` column comes
    from the grid, so equal layers spelled differently share a cache entry. With
    ``replicate`` "on" (or "reuse>=X" and at least X output positions) tiles beyond one full
    mapping hold copies."""
    info = layer_spec(spec).info[0]
    copies = replicate == "on" or (replicate.startswith("reuse>=")
                                   and info.m >= int(replicate.split(">=")[1]))
    c = layer_cost(info, system, balancer=balancer, seed=seed, replicate=copies)
    return {"kind": _parse_spec(spec)[0], "gemm_m": int(info.m),
            "gemm_k": int(info.k), "gemm_n": int(info.n), "groups": int(info.g),
            "macs": int(info.macs), "weights": int(info.weights),
            "tiles_needed": int(c.tiles_needed), "tiles_used": int(c.tiles_used),
            "coverage": float(c.coverage), "utilisation": float(c.utilisation),
            "latency_s": float(c.latency_s), "energy_j": float(c.energy_j),
            "baseline_latency_s": float(c.baseline.latency_s),
            "baseline_energy_j": float(c.baseline.energy_j), "speedup": float(c.speedup),
            "energy_gain": float(c.energy_gain), "coupling": c.coupling, "cores": c.cores,
            "tiles": c.tiles, **_breakdown(c.cost.breakdown)}


def _run_chunk(study: str, tasks: list[dict]) -> list[dict]:
    """Compute a chunk of points in order (module level, so spawned processes and Dask
    workers can import it)."""
    point = _network_point if study == "network" else _layer_point
    return [point(**task) for task in tasks]


# ------------------------------------------------------------------------------ cache
def _result_columns(study: str) -> frozenset[str]:
    """The keys of one computed point of ``study`` (what a cache row must hold)."""
    produced = (_NETWORK_COLUMNS + _THROUGHPUT_COLUMNS if study == "network"
                else _LAYER_COLUMNS[1:])
    return frozenset(produced + _BREAKDOWN_COLUMNS)


def _valid_row(text, columns: frozenset[str]) -> dict | None:
    """A cache row's result, or None if it is not one: not JSON, other keys, a number that is
    not a finite number, a text column that is not text."""
    try:
        row = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(row, dict) or set(row) != columns:
        return None
    for key, value in row.items():
        if key in _TEXT_COLUMNS:
            if not isinstance(value, str):
                return None
        elif (isinstance(value, bool) or not isinstance(value, (int, float))
              or not math.isfinite(value)):
            return None
    return row


_TEXT_COLUMNS = ("coupling", "kind")


class _Cache:
    """Finished points in ``<directory>/sweep-cache.sqlite``: cache key -> result as JSON
    (floats as repr, so a loaded row equals the computed one bit for bit).

    Opening it checks that it can be written, so a sweep fails before computing anything.
    A row that is not a valid result (hand-edited, truncated) is not used: its point is
    computed again and the row replaced; ``invalid`` counts them."""

    def __init__(self, directory, study: str):
        path = Path(directory)
        self.file, self.columns, self.invalid = path / CACHE_FILE, _result_columns(study), 0
        try:
            path.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.file, timeout=60)
            self.db.execute("CREATE TABLE IF NOT EXISTS points "
                            "(key TEXT PRIMARY KEY, study TEXT NOT NULL, result TEXT NOT NULL)")
            self.db.commit()
            # a write lock taken and released: a read-only file or directory fails here
            self.db.execute("BEGIN IMMEDIATE")
            self.db.rollback()
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(f"cannot use the sweep cache {self.file}: {exc}; give a writable "
                             f"cache directory (nothing has been computed)") from None

    def get(self, keys: list[str]) -> dict[str, dict]:
        found = {}
        step = 500  # below SQLite's limit on query parameters
        try:
            for i in range(0, len(keys), step):
                batch = keys[i:i + step]
                rows = self.db.execute(f"SELECT key, result FROM points WHERE key IN "
                                       f"({','.join('?' * len(batch))})", batch).fetchall()
                for key, text in rows:
                    row = _valid_row(text, self.columns)
                    if row is None:
                        self.invalid += 1
                    else:
                        found[key] = row
        except sqlite3.Error as exc:
            raise CacheError(f"cannot read the sweep cache {self.file}: {exc}; move the file "
                             f"away to start a new cache") from None
        return found

    def put(self, study: str, items: list[tuple[str, dict]]) -> None:
        try:
            self.db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?)",
                                [(k, study, json.dumps(r)) for k, r in items])
            self.db.commit()
        except sqlite3.Error as exc:
            raise CacheError(f"cannot write to the sweep cache {self.file}: {exc}") from None

    def close(self) -> None:
        self.db.close()


# ------------------------------------------------------------------------------ executors
def _chunks(pending: list[_Point], parallel: int, chunk_size: int | None) -> list[list[_Point]]:
    """Points cut into chunks of one group each; a group is split so that there are at
    least ``parallel`` chunks when it can be, and into at most ``chunk_size`` (default
    :data:`MAX_CHUNK`) points per chunk."""
    groups: dict[str, list[_Point]] = {}
    for p in pending:
        groups.setdefault(p.group, []).append(p)
    if not groups:
        return []
    split = math.ceil(parallel / len(groups))
    out = []
    for pts in groups.values():
        size = chunk_size or min(MAX_CHUNK, math.ceil(len(pts) / split))
        out.extend(pts[i:i + size] for i in range(0, len(pts), size))
    return out


def _drain(futures: dict, as_completed, finished: Callable, on_done: Callable,
           stop: Callable[[bool], None]) -> None:
    """Feed each future's result to ``on_done(index, result)`` as it completes. On an error
    or an interrupt, ``stop(interrupted)`` cancels what has not started, then every chunk
    that has finished is kept and the exception re-raised."""
    try:
        for f in as_completed(futures):
            on_done(futures[f], f.result())
    except BaseException as exc:
        stop(isinstance(exc, KeyboardInterrupt))
        for f, i in futures.items():
            if finished(f):
                on_done(i, f.result())
        raise


_PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: the signal a process receives when its parent dies."""


def _worker_init(parent: int) -> None:
    """Start-up of a process-pool worker: it dies with the sweep's process however that
    ends (``kill -9`` included) and leaves Ctrl-C to it.

    On Linux the kernel kills it (``prctl(PR_SET_PDEATHSIG, SIGKILL)``); everywhere a
    daemon thread checks once a second that its parent is still the sweep's process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the sweep's process handles Ctrl-C
    # without prctl (another OS, or a libc without it) the watching thread below still ends
    # the worker
    prctl = getattr(ctypes.CDLL(None), "prctl", None) if sys.platform.startswith("linux") \
        else None
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """End the pool's worker processes now (their running chunks are abandoned)."""
    # the executor has no public way to stop running work; its process table is stable
    # across CPython 3.8 - 3.13
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _run_processes(study: str, chunks: list, workers: int, on_done: Callable) -> None:
    # spawn: a forked child would inherit Numba's threading state; spawn is also what
    # macOS and Windows use, so the behaviour is the same everywhere
    pool = cf.ProcessPoolExecutor(max_workers=min(workers, len(chunks)),
                                  mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_worker_init, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(_run_chunk, study, c): i for i, c in enumerate(chunks)}
        # after an error let the running chunks finish (they are kept); after Ctrl-C or
        # SIGTERM stop the workers at once
        _drain(futures, cf.as_completed,
               lambda f: f.done() and not f.cancelled() and f.exception() is None, on_done,
               lambda interrupted: (_stop_workers(pool) if interrupted
                                    else pool.shutdown(wait=True, cancel_futures=True)))
    except BrokenProcessPool as exc:
        raise RunError("a sweep worker process died (killed, or out of memory); the chunks "
                        "that finished are kept if the sweep has a cache: run it again to "
                        "compute the rest") from exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _run_dask(study: str, chunks: list, address: str | None, workers: int | None,
              on_done: Callable) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise RunError("executor 'dask' needs dask.distributed: pip install "
                        "'dask[distributed]'") from None
    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    try:
        with Client(cluster if cluster is not None else address) as client:
            futures = {client.submit(_run_chunk, study, c, pure=False): i
                       for i, c in enumerate(chunks)}
            _drain(futures, as_completed, lambda f: f.status == "finished", on_done,
                   lambda _: client.cancel([f for f in futures if f.status == "pending"]))
    finally:
        if cluster is not None:
            cluster.close()


# ------------------------------------------------------------------------------ sweep
class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C or SIGTERM; the message says what was finished and kept.

    Attributes: ``computed`` (points finished in this run), ``cached`` (points read from the
    cache), ``total`` (distinct points of the grid) and ``cache`` (the cache file, or None:
    then the finished points are not kept)."""

    def __init__(self, computed: int, cached: int, total: int, cache: Path | None):
        self.computed, self.cached, self.total, self.cache = computed, cached, total, cache
        done = computed + cached
        if cache is None:
            kept = ("not kept: the sweep has no cache (give it one, --cache DIR, to resume "
                    "an interrupted sweep)")
        else:
            kept = (f"kept in {cache} with the {cached} read from it; run the sweep again "
                    f"to compute the other {total - done}")
        super().__init__(f"sweep interrupted: {done} of {total} points finished, "
                         f"{computed} computed in this run and {kept}")


def _check_run_options(executor, address, workers, chunk_size) -> None:
    check_choice(executor, "executor", EXECUTORS, where="sweep")
    if address is not None and executor != "dask":
        raise ParameterError(f"address={address!r} names a Dask scheduler: use it with "
                             f"executor='dask', not {executor!r}")
    for what, value in (("workers", workers), ("chunk_size", chunk_size)):
        if value is not None:
            check_int(value, what, low=1, where="sweep")


def _parallelism(executor: str, workers: int | None) -> int:
    """Worker processes the executor uses (a remote Dask cluster's own count is unknown
    here: the default 2 then only shapes the chunks)."""
    if executor == "inprocess":
        return 1
    if executor == "processes":
        return workers or os.cpu_count() or 1
    return workers or 2


def _preset_record(name: str, cfg: SystemConfig) -> dict:
    """A preset's file (a built-in one relative to the aimclib package, a user file as
    given, never made absolute), its hash and parameters."""
    user = name.endswith(".toml") or "/" in name
    path = Path(name) if user else preset_path(name)
    package = Path(__file__).resolve().parent
    shown = name if user else path.relative_to(package).as_posix() \
        if path.resolve().is_relative_to(package) else f"<user presets>/{path.name}"
    return {"file": shown, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "parameters": cfg.to_dict()}


def sweep(grid: Mapping, study: str = "network", executor: str = "processes",
          address: str | None = None, workers: int | None = None, cache=None,
          progress: bool = True, chunk_size: int | None = None) -> pd.DataFrame:
    """Run every point of the cartesian product of ``grid`` and return one row per point.

    Args:
        grid: name -> list of values (a scalar is a one-value list); points in product order
            of the lists in the given key order. ``study="network"`` keys: ``network``
            (required: zoo name or .onnx/.csv path), ``preset`` ("alpine-tight"), ``cores``
            and ``tiles`` (default: the preset's), ``coverage`` (a target share of MVM
            weights on tiles, resolved per point to the nearest tile budget by
            :func:`~aimclib.simulate.tiles_for_coverage`; excludes ``tiles``),
            ``allocation`` ("optimal"), ``balancer`` ("static-balanced"), ``seed`` (0),
            ``dag`` (False), ``objective`` ("latency"), ``victim`` ("random"),
            ``steal_latency_s`` and ``tasks_per_core`` (the simulator's defaults),
            ``schedule`` (None: ``dag`` decides; "barrier", "dag" or "pipelined"),
            ``batch`` (1) and ``throughput`` ("batch"); a grid with one of these three
            also gets the ``inferences_per_s`` and ``energy_per_inference_j`` columns;
            ``replicate`` ("off"; "on" or "reuse>=X": weight replication, part of the cache
            key; a ``coverage`` target resolves to the budget of the allocation without
            copies).
            ``study="layer"`` keys: ``layer`` (required: a :func:`layer_spec` string),
            ``preset``, ``cores``, ``tiles``, ``balancer``, ``seed``, ``replicate``
            (tiles beyond one full mapping hold copies). Both accept
            ``"set:SECTION.FIELD"`` keys that override one preset parameter.
        study: ``"network"`` or ``"layer"``.
        executor: ``"inprocess"``, ``"processes"`` (a spawn-based process pool of
            ``workers`` processes, default ``os.cpu_count()``) or ``"dask"``.
        address: ``executor="dask"`` only: a scheduler address (``"tcp://host:8786"``) to use
            and leave running; None starts a LocalCluster of ``workers`` (default 2)
            single-threaded worker processes and closes it afterwards.
        workers: number of worker processes (see ``executor``).
        cache: a directory (created) holding an SQLite cache of finished points, or None.
            A point's key hashes its network (zoo name, or path and file hash), its system
            after overrides (every parameter), its other options, the study, the aimclib
            version and :func:`code_identity` (a hash of aimclib's sources): a re-run
            computes only points it has not finished, an edited preset or override
            recomputes only the points it changes, and any change to aimclib's code
            recomputes everything. The cache must be writable (checked before any work);
            rows that are not valid results are computed again.
        progress: show a tqdm progress bar over points.
        chunk_size: most points sent to a worker at once (default: up to 16, fewer so that
            every worker gets work).

    Returns:
        A DataFrame whose columns are the grid keys, then the results. Network study:
        ``coupling``, ``cores``, ``tiles`` (resolved), ``latency_s``, ``energy_j``,
        ``baseline_latency_s``, ``baseline_energy_j``, ``speedup``, ``energy_gain``,
        ``coverage`` (share of MVM weights on tiles), ``mac_coverage``, ``tiles_used``;
        when ``coverage`` is a grid key its column holds the target and the achieved share is
        in ``achieved_coverage``. Layer study: ``layer``, ``kind`` (the spec's: dense, conv,
        depthwise), ``gemm_m``, ``gemm_k``, ``gemm_n``, ``groups``, ``macs``, ``weights``,
        ``tiles_needed``, ``tiles_used``, ``coverage``, ``utilisation``, ``latency_s``,
        ``energy_j``, ``baseline_latency_s``, ``baseline_energy_j``, ``speedup``,
        ``energy_gain``, ``coupling``, ``cores``, ``tiles``. Both end with ``time_<c>_s``
        (s; core-seconds for core components) and ``energy_<c>_j`` (J) per breakdown
        component ``c`` of :data:`COMPONENTS`. ``df.attrs["provenance"]`` is the provenance
        record :func:`save_sweep` writes; ``df.attrs["sweep"]`` is ``{"computed": n,
        "cached": m}`` (distinct points computed now and read from the cache);
        ``df.attrs["cache"]`` is ``{"code": sha256, "invalid": k}`` (the code identity in
        every cache key, and invalid cache rows computed again).

    Raises:
        SweepInterrupted: on Ctrl-C or SIGTERM, after the finished chunks are stored (a
            ``KeyboardInterrupt`` whose message counts the points finished and kept).
    """
    check_choice(study, "study", STUDIES, where="sweep")
    _check_run_options(executor, address, workers, chunk_size)
    grid = _normalize_grid(grid, study)
    keys = list(grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]
    resolver = _Resolver(study)
    resolved = [resolver.point(i, p) for i, p in enumerate(points)]
    unique = {p.key: p for p in resolved}

    store = _Cache(cache, study) if cache is not None else None
    try:
        results = store.get(list(unique)) if store else {}
        cached = len(results)
        if store and store.invalid:
            warnings.warn(f"{store.invalid} row(s) of the sweep cache {store.file} are not "
                          f"valid results: their points are computed again", stacklevel=2)
        pending = [p for k, p in unique.items() if k not in results]
        chunks = _chunks(pending, _parallelism(executor, workers), chunk_size)
        try:
            _compute(study, chunks, executor, address, workers, results, store, progress,
                     total=len(unique), done=cached)
        except KeyboardInterrupt:
            raise SweepInterrupted(len(results) - cached, cached, len(unique),
                                   None if store is None else store.file) from None
    finally:
        if store:
            store.close()

    df = _frame(study, keys, points, [results[p.key] for p in resolved])
    config = {"study": study, "grid": grid, "executor": executor, "address": address,
              "workers": workers, "cache": None if cache is None else os.fspath(cache),
              "presets": {n: _preset_record(n, c) for n, c in resolver.presets.items()}}
    if study == "network":
        config["networks"] = {n: ident for n, (ident, _) in resolver.networks.items()}
    df.attrs["provenance"] = provenance(config)
    df.attrs["sweep"] = {"computed": len(unique) - cached, "cached": cached}
    df.attrs["cache"] = {"code": code_identity(), "invalid": store.invalid if store else 0}
    return df


def _compute(study: str, chunks: list[list[_Point]], executor: str, address, workers,
             results: dict, store: _Cache | None, progress: bool, total: int,
             done: int) -> None:
    """Run ``chunks`` on ``executor``, putting each point's result into ``results`` and
    each finished chunk into ``store`` (committed at once)."""
    if not chunks:
        return
    written = set()
    bar = tqdm(total=total, initial=done, unit="point", desc=f"sweep ({study})",
               disable=not progress)

    def on_done(index: int, rows: list[dict]) -> None:
        # stored first, marked done last: a chunk an interrupt cuts short here is handled
        # again by _drain, so what is counted finished is always what the cache holds
        if index in written:
            return
        items = [(p.key, r) for p, r in zip(chunks[index], rows)]
        if store:
            store.put(study, items)
        results.update(items)
        written.add(index)
        bar.update(len(items))

    tasks = [[p.task for p in c] for c in chunks]
    try:
        if executor == "inprocess":
            for i, t in enumerate(tasks):
                on_done(i, _run_chunk(study, t))
        elif executor == "processes":
            _run_processes(study, tasks, _parallelism(executor, workers), on_done)
        else:
            _run_dask(study, tasks, address, workers, on_done)
    finally:
        bar.close()


def _frame(study: str, keys: list[str], points: list[dict], results: list[dict]
           ) -> pd.DataFrame:
    """Rows of grid values then results; a ``coverage`` grid key keeps the target and the
    achieved share goes to ``achieved_coverage``."""
    produced = (_NETWORK_COLUMNS if study == "network" else _LAYER_COLUMNS) + _BREAKDOWN_COLUMNS
    if study == "network" and any(k in keys for k in _THROUGHPUT_KEYS):
        produced = _NETWORK_COLUMNS + _THROUGHPUT_COLUMNS + _BREAKDOWN_COLUMNS
    target = study == "network" and "coverage" in keys
    rows = []
    for point, res in zip(points, results):
        row = {**point, **res}
        if target:
            row["coverage"], row["achieved_coverage"] = point["coverage"], res["coverage"]
        rows.append(row)
    extra = ["achieved_coverage"] if target else []
    columns = keys + [c for c in produced if c not in keys] + extra
    return pd.DataFrame.from_records(rows, columns=columns)


def save_sweep(df: pd.DataFrame, path) -> Path:
    """Write a :func:`sweep` result as CSV to ``path`` and its provenance (grid, study,
    executor, the contents of every preset used, versions, date, machine) to
    ``<stem>.provenance.json``; returns the CSV's path."""
    record = df.attrs.get("provenance")
    if not isinstance(record, dict) or "config" not in record:
        raise ParameterError("save_sweep: the DataFrame carries no sweep provenance "
                        "(df.attrs['provenance']); pass the DataFrame sweep() returned, or use "
                        "aimclib.provenance.save_table with a config of your own")
    return save_table(df, path, record["config"])
