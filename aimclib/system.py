"""The system description: CPU, AIMC tile, tile interfaces and where the tiles sit.

Every parameter is a field of a frozen dataclass whose metadata gives its unit and meaning;
its value comes from a preset file (``aimclib/presets/*.toml``) that gives, per parameter,
the value, its status (stated / derived / assumed) and the source. ``load_system`` reads a
preset by name or path, applies overrides and validates everything; a missing, negative or
non-physical value is rejected with a message naming the field. A name is looked up among the
shipped presets first, then in the user preset directory (:func:`user_preset_dir`, where
``aimc calibrate`` writes ``host.toml``).

Preset file format (TOML)::

    name = "alpine-tight"
    description = "..."
    base = "other-preset"          # optional: start from another preset, override below
    [cpu]
    clock_hz = { value = 2.0e9, status = "derived", source = "ALPINE manual: ..." }
    gemm_k_half = { value = 16.0, status = "assumed", source = "...",
                    range = [4.0, 64.0], range_reason = "why it plausibly lies there" }
    ...

Every assumed value carries a plausible ``range`` (``[low, high]``, or the plausible choices of
a choice parameter) and its ``range_reason``; a value set outside it is accepted with a
:class:`PlausibilityWarning`. ``cpu.baseline_kernel`` names a class of digital GEMM code
(:mod:`aimclib.kernels`) that fills the kernel-dependent ``cpu`` values the preset leaves out.

Sections: ``cpu``, ``tile``, ``host`` (the cores' per-MVM work), ``tight``, ``loose``
(the two interfaces) and ``system`` (coupling, tile count, placement rule).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AimcError, UnknownNameError
from .kernels import KERNEL_CLASSES
from .validation import MAX_CORES, MAX_TILE_ROWS, MAX_TILES, check_choice, check_float, check_int


class PresetError(AimcError, ValueError):
    """A preset (file or overrides) is missing a value or holds a non-physical one."""


class PlausibilityWarning(UserWarning):
    """A parameter lies outside the plausible range its preset states (allowed, but say so)."""


@dataclass(frozen=True)
class PlausibleRange:
    """Where an assumed value plausibly lies, and why.

    ``low``/``high`` bound a number (same unit as the value); for a choice, ``choices`` lists
    the plausible alternatives and ``low``/``high`` are None.
    """

    low: float | None
    high: float | None
    reason: str
    choices: tuple = ()

    def contains(self, value) -> bool:
        if self.choices:
            return value in self.choices
        return self.low <= value <= self.high

    def describe(self) -> str:
        if self.choices:
            return " / ".join(map(str, self.choices))
        return f"{self.low:g} .. {self.high:g}"


def _p(unit: str, doc: str, minimum: float = 0.0, exclusive: bool = False,
       maximum: float | None = None, integer: bool = False,
       schedules: tuple[str, ...] | None = None):
    """A parameter field: no default (presets must give every value), with unit and physical
    bounds: a value outside ``minimum .. maximum`` is not a possible machine (a clock under
    1 MHz or over 100 GHz, an efficiency above 1, ...) and is an error. ``schedules``: the
    only schedules (:data:`aimclib.validation.SCHEDULES`) the parameter moves (None: all)."""
    meta = {"unit": unit, "doc": doc, "min": minimum, "exclusive": exclusive, "max": maximum,
            "integer": integer}
    if schedules is not None:
        meta["schedules"] = schedules
    return field(metadata=meta)


@dataclass(frozen=True)
class CpuConfig:
    """The digital side: identical in-order cores with SIMD, caches and DRAM."""

    cores: int = _p("count", "cores in the system", 1, maximum=MAX_CORES, integer=True)
    baseline_kernel: str = field(metadata={
        "unit": "-", "doc": "class of the digital GEMM code (aimclib.kernels): sets "
        "mac_lane_bits, mac_instruction_fraction, gemm_efficiency and activation_bits unless "
        "the preset gives them", "choices": tuple(KERNEL_CLASSES)})
    clock_hz: float = _p("Hz", "core clock frequency", 1e6, maximum=1e11)
    simd_bits: int = _p("bit", "SIMD register width", 1, maximum=4096, integer=True)
    simd_issue_per_cycle: float = _p(
        "instr/cycle", "SIMD multiply-accumulate instructions issued per cycle", 0, True, 64)
    mac_lane_bits: int = _p(
        "bit", "accumulator lane width of an int8 SIMD MAC (16: SMLAL-style widening MAC)",
        1, maximum=64, integer=True)
    mac_instruction_fraction: float = _p(
        "1", "share of the GEMM inner loop's SIMD instructions that multiply-accumulate "
        "(int8 with 32-bit accumulators: SMULL + SMLAL + SADALP, 2/3)", 0, True, 1.0)
    activation_bits: int = _p(
        "bit", "width of weights and activations in memory for the digital code (8: int8 "
        "kernels; 32: float32, whose activations the tiles' DACs must quantise)", 1,
        maximum=64, integer=True)
    gemm_efficiency: float = _p(
        "1", "fraction of peak MAC rate a GEMM inner loop sustains (loads, address math)",
        0, True, 1.0)
    gemm_k_half: float = _p(
        "MAC", "fan-in K at which per-output loop overhead equals the MAC time: "
        "efficiency scales by K / (K + k_half)", maximum=1e9)
    gemm_n_half: float = _p(
        "output", "outputs n at which per-(row, k) overhead equals the MAC time: "
        "efficiency scales by n / (n + n_half), n rounded up to whole vectors", maximum=1e9)
    depthwise_efficiency: float = _p(
        "1", "fraction of peak a depthwise conv sustains (vectorised over channels)", 0, True, 1.0)
    eltwise_ops_per_cycle: float = _p(
        "op/cycle", "element-wise scalar operations per cycle (SIMD lanes x issue x efficiency)",
        0, True, 4096)
    gather_bytes_per_cycle: float = _p(
        "B/cycle", "im2col / input-gather copy rate of one core", 0, True, 4096)
    l1d_bytes: int = _p("B", "L1 data cache per core", 1, maximum=2**40, integer=True)
    l2_bytes: int = _p("B", "shared L2 cache", 1, maximum=2**40, integer=True)
    l2_bytes_per_cycle: float = _p("B/cycle", "L2 bandwidth available to one core", 0, True,
                                   4096)
    dram_bandwidth_bps: float = _p(
        "B/s", "DRAM bandwidth, shared by all active cores", 0, True, 1e14)
    active_power_w: float = _p("W", "power of one busy core (dynamic + leakage)", 0, True,
                               1e3)
    idle_power_w: float = _p("W", "power of one idle (clock-gated, WFI) core", maximum=1e3)
    dram_energy_j_per_byte: float = _p("J/B", "DRAM energy per byte read or written "
                                       "(array, I/O and termination)", maximum=1e-3)
    node_nm: float = _p("nm", "technology node of the cores' power model", 1.0, False, 1e4)

    @property
    def macs_per_cycle(self) -> float:
        """Peak MACs per cycle of one core: lanes x SIMD issue x MAC instruction share."""
        return (self.simd_bits / self.mac_lane_bits * self.simd_issue_per_cycle
                * self.mac_instruction_fraction)

    @property
    def sustained_macs_per_cycle(self) -> float:
        """MACs per cycle a large GEMM sustains: peak x ``gemm_efficiency``."""
        return self.macs_per_cycle * self.gemm_efficiency

    @property
    def activation_bytes(self) -> float:
        """Bytes per weight or activation element in the digital code's memory (B)."""
        return self.activation_bits / 8

    @property
    def lanes(self) -> int:
        """int8 MACs in one SIMD instruction."""
        return self.simd_bits // self.mac_lane_bits


@dataclass(frozen=True)
class TileConfig:
    """One AIMC crossbar tile."""

    rows: int = _p("count", "crossbar rows (inputs per MVM)", 1, maximum=MAX_TILE_ROWS,
                   integer=True)
    cols: int = _p("count", "crossbar columns (outputs per MVM)", 1, maximum=2**20,
                   integer=True)
    mvm_latency_s: float = _p("s", "latency of one MVM, independent of rows/cols used", 0, True,
                              1.0)
    mvm_energy_fixed_j: float = _p("J", "energy per MVM independent of its size (control)",
                                   maximum=1.0)
    mvm_energy_per_row_j: float = _p("J", "energy per MVM per used row (DAC, array drive)",
                                     maximum=1.0)
    mvm_energy_per_col_j: float = _p("J", "energy per MVM per used column (ADC)", maximum=1.0)
    static_power_w: float = _p("W", "static (leakage) power of one powered tile's periphery; "
                               "system.power_gating says when a tile is powered", maximum=1e3)
    input_bits: int = _p("bit", "DAC input resolution", 1, maximum=64, integer=True)
    weight_bits: int = _p("bit", "weight resolution", 1, maximum=64, integer=True)
    output_bits: int = _p("bit", "ADC output resolution", 1, maximum=64, integer=True)
    node_nm: float = _p("nm", "technology node the tile's energy figures were measured at",
                        1.0, False, 1e4)
    energy_node_exponent: float = _p(
        "1", "tile energy scales as node^exponent when evaluated at the cores' node: "
        "factor (cpu.node_nm / tile.node_nm)^exponent on MVM and static energy",
        maximum=10.0)

    def mvm_energy_j(self, rows_used, cols_used):
        """Energy of one MVM using ``rows_used`` rows and ``cols_used`` columns (J)."""
        return (self.mvm_energy_fixed_j + self.mvm_energy_per_row_j * rows_used
                + self.mvm_energy_per_col_j * cols_used)


@dataclass(frozen=True)
class HostWorkConfig:
    """Work a core does around every MVM, whatever the interface (scalar ops per element)."""

    quantize_ops_per_input: float = _p(
        "op/element", "ops to scale and round one input element to the DAC's int8",
        maximum=1e6)
    dequant_ops_per_output: float = _p(
        "op/element", "ops to rescale one int output to the activation format (also the "
        "digital GEMM's requantisation)", maximum=1e6)
    psum_ops_per_output: float = _p(
        "op/element", "ops to add one row block's partial output into the accumulator",
        maximum=1e6)
    psum_sync_cycles: float = _p(
        "cycle", "tight coupling: hand-over of one chunk of partial sums between two cores "
        "through the shared L2 (release store, the consumer's acquire of the flag line)",
        maximum=1e9)
    band_sync_cycles: float = _p(
        "cycle", "pipelined schedule only: a core acquires the flag a row band's producer "
        "bands released through the shared L2 before its first task of that band",
        maximum=1e9, schedules=("pipelined",))


@dataclass(frozen=True)
class TightConfig:
    """Tightly-coupled interface: tiles inside a core's pipeline (ALPINE's ISA extension)."""

    transfer_bytes: int = _p("B", "int8 values moved by one cmqueue / cmdequeue", 1,
                             maximum=2**20, integer=True)
    queue_cycles: float = _p("cycle", "latency of one cmqueue", maximum=1e9)
    dequeue_cycles: float = _p("cycle", "latency of one cmdequeue", maximum=1e9)
    process_cycles: float = _p("cycle", "latency of cmprocess (the MVM); the core stalls",
                              maximum=1e9)


@dataclass(frozen=True)
class LooseConfig:
    """Loosely-coupled interface: tiles on the shared I/O bus, fed by DMA."""

    dma_register_writes: int = _p("count", "device-register writes to start one DMA job",
                                  maximum=1e6, integer=True)
    dma_register_latency_s: float = _p("s", "latency of one device-register access",
                                       maximum=1.0)
    dma_driver_cycles: float = _p("cycle", "core cycles of driver code per DMA job",
                                  maximum=1e9)
    completion_cycles: float = _p(
        "cycle", "core cycles to take the completion interrupt and run its handler",
        maximum=1e9)
    job_buffer_bytes: int = _p(
        "B", "a tile's DMA input buffer: one job moves as many input vectors as it holds "
        "(at least one)", 1, maximum=2**40, integer=True)
    link_bandwidth_bps: float = _p("B/s", "one tile's I/O bandwidth", 0, True, 1e14)
    bus_bandwidth_bps: float = _p(
        "B/s", "shared bus bandwidth; concurrent transfers divide it", 0, True, 1e14)
    bus_energy_j_per_byte: float = _p("J/B", "energy to move one byte between the cores' "
                                      "memory and a loose tile (bus and link I/O)",
                                      maximum=1e-3)

    def vectors_per_job(self, input_bytes):
        """Input vectors of ``input_bytes`` each that one DMA job moves: as many as
        ``job_buffer_bytes`` holds, at least one (arrays broadcast)."""
        return np.maximum(1, self.job_buffer_bytes // np.maximum(1, np.asarray(input_bytes,
                                                                              np.int64)))


COUPLINGS = ("tight", "loose")
POWER_GATING = ("none", "unused", "idle")
"""When a tile burns static power: ``none``, all ``T`` tiles for the whole inference;
``unused``, only tiles that hold weights (the others are gated off); ``idle``, a tile only while
its layer runs (PCM keeps the weights without power, so gating loses nothing)."""
TILE_PLACEMENTS = ("even", "first")
"""How tight coupling spreads T tiles over the cores: ``even`` gives each core ``T // p``
tiles and the first ``T % p`` cores one more; ``first`` fills core 0's share first
(``ceil(T / p)`` per core) and leaves later cores without tiles when T is small."""


@dataclass(frozen=True)
class PlacementConfig:
    """How many tiles there are and where they sit."""

    coupling: str = field(metadata={"unit": "-", "doc": "tight (private to a core) or loose "
                                    "(one shared pool)", "choices": COUPLINGS})
    tiles: int = _p("count", "AIMC tiles in the system", 0, maximum=MAX_TILES, integer=True)
    tile_placement: str = field(metadata={"unit": "-", "doc": "tight coupling: how tiles are "
                                          "divided among cores", "choices": TILE_PLACEMENTS})
    power_gating: str = field(metadata={"unit": "-", "doc": "which tiles burn static power "
                                        "when (none / unused / idle)", "choices": POWER_GATING})


@dataclass(frozen=True)
class SystemConfig:
    """A whole system: cores, tiles, both interface models and the tile placement."""

    name: str
    cpu: CpuConfig
    tile: TileConfig
    host: HostWorkConfig
    tight: TightConfig
    loose: LooseConfig
    system: PlacementConfig
    sources: dict = field(default_factory=dict, compare=False, repr=False)
    """Per ``section.field``: ``(status, source)`` from the preset file."""
    ranges: dict = field(default_factory=dict, compare=False, repr=False)
    """Per ``section.field``: :class:`PlausibleRange` (assumed values; see ``range`` in the
    preset format)."""

    def __hash__(self) -> int:
        # Hashed on every simulate() call (the workload cache is keyed by the system): the
        # nested dataclasses are hashed once and the value kept.
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.name, self.cpu, self.tile, self.host, self.tight, self.loose,
                           self.system))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self) -> dict:
        # string hashes differ between processes: never ship the cached hash to a worker
        state = dict(self.__dict__)
        state.pop("_hash", None)
        return state

    @property
    def tile_energy_scale(self) -> float:
        """Factor on the tile's MVM and static energy to evaluate it at the cores' node (1)."""
        return (self.cpu.node_nm / self.tile.node_nm) ** self.tile.energy_node_exponent

    @property
    def coupling(self) -> str:
        return self.system.coupling

    @property
    def cores(self) -> int:
        return self.cpu.cores

    @property
    def tiles(self) -> int:
        return self.system.tiles

    def tiles_per_core(self, tiles: int | None = None) -> list[int]:
        """Tight coupling: tiles owned by each core under the placement rule (with ``tiles``
        tiles instead of the system's, when given)."""
        t, p = self.tiles if tiles is None else tiles, self.cores
        if self.system.tile_placement == "even":
            return [t // p + (1 if i < t % p else 0) for i in range(p)]
        share = math.ceil(t / p) if t else 0
        return [max(0, min(share, t - i * share)) for i in range(p)]

    def replace(self, **overrides: Any) -> SystemConfig:
        """A copy with ``section.field=value`` (or ``cores=``, ``tiles=``, ``coupling=``)
        overrides applied and validated."""
        return _apply_overrides(self, overrides)

    def with_tiles(self, tiles: int) -> SystemConfig:
        """``replace(tiles=tiles)``, validated and warned about the same way, without the
        general override machinery (sweeps and the simulator call it per configuration)."""
        key = "system.tiles"
        value = _check_value("system", _TILES_FIELD, tiles, "override")
        out = SystemConfig(self.name, self.cpu, self.tile, self.host, self.tight, self.loose,
                           dataclasses.replace(self.system, tiles=value),
                           {**self.sources, key: ("override", "set by the caller")},
                           dict(self.ranges))
        _warn_implausible(out, [key])
        return out

    def to_dict(self) -> dict:
        """Every parameter as ``{section: {field: value}}`` (what provenance records)."""
        return {s: dataclasses.asdict(getattr(self, s)) for s in SECTIONS}


SECTIONS: dict[str, type] = {"cpu": CpuConfig, "tile": TileConfig, "host": HostWorkConfig,
                             "tight": TightConfig, "loose": LooseConfig,
                             "system": PlacementConfig}
"""Preset sections and the dataclass each one fills."""

_TILES_FIELD = next(f for f in dataclasses.fields(PlacementConfig) if f.name == "tiles")

_SHORTCUTS = {"cores": "cpu.cores", "tiles": "system.tiles", "coupling": "system.coupling",
              "tile_placement": "system.tile_placement"}


def _check_value(section: str, f: dataclasses.Field, value: Any, origin: str) -> Any:
    """Validate one parameter against its physical bounds; returns it converted to the
    field's type (NumPy scalars accepted)."""
    where, name, meta = origin, f"{section}.{f.name}", f.metadata
    if "choices" in meta:
        return check_choice(value, name, meta["choices"], where=where, error=PresetError)
    if meta["integer"]:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # TOML and --set may spell a count 1e3 or 4.0
        low = math.ceil(meta["min"] + (1 if meta["exclusive"] else 0))
        high = None if meta["max"] is None else int(meta["max"])
        return check_int(value, name, low=low, high=high, where=where, error=PresetError)
    return check_float(value, name, low=meta["min"], high=meta["max"],
                       low_open=meta["exclusive"], unit=meta["unit"].strip("1"), where=where,
                       error=PresetError)


def _parse_range(key: str, entry: dict, origin: str) -> PlausibleRange | None:
    """The ``range`` / ``range_reason`` of one preset entry, or None when it has none."""
    if "range" not in entry:
        return None
    rng, reason = entry["range"], str(entry.get("range_reason", ""))
    if not isinstance(rng, list) or not rng:
        raise PresetError(f"{origin}: {key}.range must be a list: [low, high] for a number, "
                          f"the plausible choices for a choice; got {rng!r}")
    if all(isinstance(v, str) for v in rng):
        return PlausibleRange(None, None, reason, tuple(rng))
    if (len(rng) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, float))
                             for v in rng) or rng[0] > rng[1]):
        raise PresetError(f"{origin}: {key}.range must be [low, high] with low <= high, "
                          f"got {rng!r}")
    return PlausibleRange(float(rng[0]), float(rng[1]), reason)


def _raw_values(doc: dict, origin: str) -> tuple[dict, dict, dict]:
    """Split a parsed preset into ``{section: {field: value}}``, ``{key: (status, source)}``
    and ``{key: PlausibleRange}``."""
    values: dict[str, dict] = {}
    sources: dict[str, tuple[str, str]] = {}
    ranges: dict[str, PlausibleRange] = {}
    for section, cls in SECTIONS.items():
        table = doc.get(section, {})
        if not isinstance(table, dict):
            raise PresetError(f"{origin}: [{section}] must be a table")
        known = {f.name for f in dataclasses.fields(cls)}
        for key, entry in table.items():
            if key not in known:
                raise PresetError(f"{origin}: unknown parameter {section}.{key}; "
                                  f"known: {', '.join(sorted(known))}")
            if isinstance(entry, dict):
                if "value" not in entry:
                    raise PresetError(f"{origin}: {section}.{key} has no 'value'")
                values.setdefault(section, {})[key] = entry["value"]
                sources[f"{section}.{key}"] = (str(entry.get("status", "")),
                                               str(entry.get("source", "")))
                rng = _parse_range(f"{section}.{key}", entry, origin)
                if rng is not None:
                    ranges[f"{section}.{key}"] = rng
            else:
                values.setdefault(section, {})[key] = entry
                sources[f"{section}.{key}"] = ("user", origin)
    unknown = set(doc) - set(SECTIONS) - {"name", "description", "base"}
    if unknown:
        raise PresetError(f"{origin}: unknown section(s) {sorted(unknown)}; "
                          f"known: {', '.join(SECTIONS)}")
    return values, sources, ranges


def _kernel_defaults(kernel: str, explicit, sources: dict, ranges: dict) -> dict:
    """The ``cpu`` values kernel class ``kernel`` sets for the fields not in ``explicit``;
    their sources and ranges are recorded in ``sources`` and ``ranges``."""
    k = KERNEL_CLASSES[kernel]
    lo, hi = k.efficiency_range
    # an explicit efficiency is still judged against the chosen class's range, unless it is
    # not an assumption (a measured value, say)
    key = "cpu.gemm_efficiency"
    if "gemm_efficiency" in explicit and sources.get(key, ("",))[0] not in ("assumed", "override"):
        ranges.pop(key, None)
    else:
        ranges[key] = PlausibleRange(
            lo, hi, f"{k.name}: {k.sustained_range[0]:g}-{k.sustained_range[1]:g} MAC/cycle "
            f"sustained")
    out = {}
    for name, value in k.values().items():
        if name in explicit:
            continue
        out[name] = value
        key = f"cpu.{name}"
        sources[key] = ("derived", f"baseline kernel {k.name}: {k.source}")
        if name == "gemm_efficiency":
            sources[key] = ("assumed", f"baseline kernel {k.name}: {k.sustained_macs_per_cycle:g}"
                            f" MAC/cycle sustained of {k.peak_macs_per_cycle:.3g} peak; {k.source}")
        else:
            ranges.pop(key, None)
    return out


def _warn_implausible(cfg: SystemConfig, keys) -> None:
    """Warn for each of ``keys`` whose value lies outside its plausible range."""
    for key in keys:
        rng = cfg.ranges.get(key)
        if rng is None:
            continue
        section, _, name = key.partition(".")
        value = getattr(getattr(cfg, section), name)
        if not rng.contains(value):
            warnings.warn(PlausibilityWarning(
                f"{cfg.name}: {key} = {value!r} lies outside its plausible range "
                f"{rng.describe()} ({rng.reason})"), stacklevel=3)


def _build(name: str, values: dict, sources: dict, ranges: dict, origin: str
           ) -> SystemConfig:
    sources, ranges = dict(sources), dict(ranges)
    cpu_given = values.get("cpu", {})
    kernel = cpu_given.get("baseline_kernel")
    if kernel in KERNEL_CLASSES:
        cpu_given = {**_kernel_defaults(kernel, cpu_given, sources, ranges), **cpu_given}
    parts = {}
    for section, cls in SECTIONS.items():
        given = cpu_given if section == "cpu" else values.get(section, {})
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in given:
                raise PresetError(f"{origin}: missing parameter {section}.{f.name} "
                                  f"({f.metadata['unit']}: {f.metadata['doc']})")
            kwargs[f.name] = _check_value(section, f, given[f.name], origin)
        parts[section] = cls(**kwargs)
    cfg = SystemConfig(name=name, sources=sources, ranges=ranges, **parts)
    _warn_implausible(cfg, ranges)
    return cfg


def _preset_dir():
    return resources.files("aimclib") / "presets"


USER_PRESET_ENV = "AIMCLIB_PRESET_DIR"
"""Environment variable naming the user preset directory (``aimc calibrate`` writes there)."""


def user_preset_dir() -> Path:
    """Directory of the user's own presets: ``$AIMCLIB_PRESET_DIR`` if set, else
    ``~/.config/aimclib/presets``. It is searched after the shipped presets, so a user file
    named like a shipped preset is never used by name."""
    env = os.environ.get(USER_PRESET_ENV)
    return Path(env) if env else Path.home() / ".config" / "aimclib" / "presets"


def _toml_stems(folder) -> list[str]:
    if not folder.is_dir():
        return []
    return [p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml") and p.is_file()]


def preset_names(include_user: bool = True) -> list[str]:
    """Names of the presets shipped with aimclib, then (unless ``include_user`` is False)
    those in :func:`user_preset_dir` that do not clash with a shipped name."""
    shipped = sorted(_toml_stems(_preset_dir()))
    if not include_user:
        return shipped
    return shipped + sorted(set(_toml_stems(user_preset_dir())) - set(shipped))


def preset_path(name: str):
    """The file of preset ``name``: the shipped one, else the user's; ``None`` if neither."""
    for folder in (_preset_dir(), user_preset_dir()):
        candidate = folder / f"{name}.toml"
        if candidate.is_file():
            return candidate
    return None


def _locate(text: str) -> tuple[Path, str]:
    """The file a preset name or ``.toml`` path names, and how messages call it."""
    if text.endswith(".toml") or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise PresetError(f"no such preset file: {text}")
        return path, str(path)
    res = preset_path(text)
    if res is None:
        raise UnknownNameError(f"unknown preset {text!r}; known presets: "
                               f"{', '.join(preset_names())} (or pass a .toml file, or "
                               f"put one in {user_preset_dir()})")
    return Path(str(res)), f"preset {text!r}"


def _read_preset(name_or_path: str | Path, _seen: tuple = ()
                 ) -> tuple[str, dict, dict, dict, str, tuple[Path, ...]]:
    """Parse a preset and the chain of presets it extends: name, values, sources, ranges,
    origin, and every file read (the preset's own first)."""
    text = str(name_or_path)
    path, origin = _locate(text)
    raw = path.read_text()
    try:
        doc = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as e:
        raise PresetError(f"{origin} is not valid TOML: {e}") from None
    values, sources, ranges = _raw_values(doc, origin)
    files = (path,)
    base = doc.get("base")
    if base:
        if base in _seen:
            raise PresetError(f"{origin}: presets extend each other in a cycle: {_seen}")
        _, bvalues, bsources, branges, _, bfiles = _read_preset(base, _seen + (base,))
        files += bfiles
        for section, table in values.items():
            bvalues.setdefault(section, {}).update(table)
        # a value the child sets keeps the base's range only while it is still an assumption
        # (a measured or stated value is not judged against the base's guess)
        for key, (status, _) in sources.items():
            if key not in ranges and status != "assumed":
                branges.pop(key, None)
        values, sources, ranges = bvalues, {**bsources, **sources}, {**branges, **ranges}
    return str(doc.get("name", Path(text).stem)), values, sources, ranges, origin, files


_PARSED: dict[tuple, tuple[tuple, SystemConfig, list[str]]] = {}
"""Built presets by (name or path, user preset directory setting, home, working directory):
the stamps of the files read (the preset's own and those it extends), the system and its
values outside their plausible ranges.
Sweeps call :func:`load_system` for every configuration; a preset file is parsed again only
when it (or a preset it extends) changes on disk."""


_PARSED_MAX = 256
"""Presets kept in :data:`_PARSED` (it is emptied when full; a preset is small)."""


def _stamps(files) -> tuple:
    """What identifies each file's content on disk: path, size and modification time (ns)."""
    out = []
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            return ()
        out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _copy(cfg: SystemConfig) -> SystemConfig:
    """A copy of ``cfg`` that shares its (frozen) sections but owns its sources and ranges
    (so a caller editing them never changes the cached preset); the hash is kept."""
    out = dataclasses.replace(cfg, sources=dict(cfg.sources), ranges=dict(cfg.ranges))
    if "_hash" in cfg.__dict__:
        object.__setattr__(out, "_hash", cfg.__dict__["_hash"])
    return out


def _preset(text: str) -> SystemConfig:
    """The validated system of preset ``text`` (a name or a path), parsed once per content."""
    # what a name or a relative path resolves against: the user preset directory, the cwd
    key = (text, os.environ.get(USER_PRESET_ENV), os.environ.get("HOME"), os.getcwd())
    hit = _PARSED.get(key)
    if hit is not None and _stamps(f for f, _, _ in hit[0]) == hit[0]:
        cfg, implausible = hit[1], hit[2]
        _warn_implausible(cfg, implausible)  # as a fresh parse would
        return _copy(cfg)
    name, values, sources, ranges, origin, files = _read_preset(text)
    stamps = _stamps(files)
    cfg = _build(name, values, sources, ranges, origin)
    if stamps:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        implausible = [k for k, rng in cfg.ranges.items()
                       if not rng.contains(getattr(getattr(cfg, k.partition(".")[0]),
                                                   k.partition(".")[2]))]
        _PARSED[key] = (stamps, cfg, implausible)
    return _copy(cfg)


def override_key(key: str) -> str:
    """The ``section.field`` an override key names (``cores`` -> ``cpu.cores``)."""
    return _SHORTCUTS.get(key, key)


def _apply_overrides(cfg: SystemConfig, overrides: dict) -> SystemConfig:
    parts = {s: getattr(cfg, s) for s in SECTIONS}
    sources, ranges = dict(cfg.sources), dict(cfg.ranges)
    checked_keys = []
    resolved = {}
    for key, value in overrides.items():
        key = override_key(key)
        if key in resolved:
            raise PresetError(f"override {key!r} is given twice ({resolved[key]!r} and "
                              f"{value!r}); give it once")
        resolved[key] = value
    kernel = resolved.get("cpu.baseline_kernel")
    if kernel is not None and kernel in KERNEL_CLASSES:
        explicit = {k.partition(".")[2] for k in resolved if k.startswith("cpu.")}
        for name, value in _kernel_defaults(kernel, explicit, sources, ranges).items():
            parts["cpu"] = dataclasses.replace(parts["cpu"], **{name: value})
    for key, value in resolved.items():
        section, _, fname = key.partition(".")
        cls = SECTIONS.get(section)
        fields = {f.name: f for f in dataclasses.fields(cls)} if cls else {}
        if fname not in fields:
            raise PresetError(
                f"unknown override {key!r}; use section.field (sections: "
                f"{', '.join(SECTIONS)}) or one of {', '.join(_SHORTCUTS)}")
        checked = _check_value(section, fields[fname], value, "override")
        parts[section] = dataclasses.replace(parts[section], **{fname: checked})
        sources[key] = ("override", "set by the caller")
        checked_keys.append(key)
    out = SystemConfig(name=cfg.name, sources=sources, ranges=ranges, **parts)
    _warn_implausible(out, checked_keys)
    return out


def load_system(preset: str | Path | SystemConfig = "alpine-tight", **overrides: Any
                ) -> SystemConfig:
    """A validated system from a preset name or ``.toml`` path, with overrides.

    Overrides are ``section__field=value`` or ``"section.field": value`` or the shortcuts
    ``cores``, ``tiles``, ``coupling``, ``tile_placement``; e.g.
    ``load_system("alpine-tight", cores=8, tiles=160, tile__mvm_latency_s=2e-7)``.
    """
    if isinstance(preset, SystemConfig):
        cfg = preset
    else:
        cfg = _preset(str(preset))
    fixed = {k.replace("__", "."): v for k, v in overrides.items()}
    return _apply_overrides(cfg, fixed) if fixed else cfg


def describe(cfg: SystemConfig) -> list[dict]:
    """Every parameter with value, unit, meaning, status, source and plausible range
    (``aimc preset show``)."""
    rows = []
    for section, cls in SECTIONS.items():
        part = getattr(cfg, section)
        for f in dataclasses.fields(cls):
            key = f"{section}.{f.name}"
            status, source = cfg.sources.get(key, ("", ""))
            rng = cfg.ranges.get(key)
            rows.append({"parameter": key, "value": getattr(part, f.name),
                         "unit": f.metadata["unit"], "meaning": f.metadata["doc"],
                         "status": status, "source": source,
                         "range": None if rng is None else
                         (list(rng.choices) if rng.choices else [rng.low, rng.high]),
                         "range_reason": "" if rng is None else rng.reason})
    return rows
