"""The ``aimc`` command line.

Each subcommand is one function ``(args) -> exit code`` registered with :func:`command`, which
also declares its arguments; ``"preset show"`` style names nest under a parent command. Any
:class:`~aimclib.errors.AimcError` (and an unreadable or unwritable file) ends the command with
``aimc: error: <message>`` on stderr and exit code 2, as do usage errors; success is 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__, calibrate, zoo
from .allocation import ALLOCATIONS
from .balancing import BALANCERS
from .csvio import write_csv
from .errors import AimcError, ParameterError
from .layercost import CORE_COMPONENTS, LayerCost, layer_cost
from .loading import load_network
from .network import Network, NetworkBuilder
from .scheduling import VICTIMS
from .simulate import OBJECTIVES, simulate
from .system import (CpuConfig, PresetError, SystemConfig, describe, load_system, override_key,
                     preset_names, preset_path, user_preset_dir)
from .throughput import THROUGHPUTS
from .validation import (MAX_CORES, MAX_TILES, REPLICATE_OFF, SCHEDULES, check_int,
                         check_path_writable, check_replicate, json_text)

Handler = Callable[[argparse.Namespace], int]

_COMMANDS: list[tuple[tuple[str, ...], str, tuple, Handler]] = []


def arg(*flags: str, **options) -> tuple[tuple[str, ...], dict]:
    """One ``add_argument`` call of a subcommand, for :func:`command`."""
    return flags, options


def command(name: str, description: str, *arguments: tuple[tuple[str, ...], dict]):
    """Register the decorated function as subcommand ``name`` with the given :func:`arg` s.

    ``name`` may have several words (``"preset show"``): the first ones are parent commands,
    created on first use.
    """
    def register(func: Handler) -> Handler:
        _COMMANDS.append((tuple(name.split()), description, arguments, func))
        return func
    return register


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="aimc", description="Workbench for CPU + analog in-memory-computing edge systems.")
    parser.add_argument("--version", action="version", version=f"aimc {__version__}")
    groups = {(): parser.add_subparsers(dest="command", metavar="COMMAND", required=True)}
    for path, description, arguments, func in _COMMANDS:
        for depth in range(1, len(path)):
            prefix = path[:depth]
            if prefix not in groups:
                parent = groups[prefix[:-1]].add_parser(
                    prefix[-1], help=f"'{' '.join(prefix)}' subcommands")
                groups[prefix] = parent.add_subparsers(
                    dest=f"command_{depth}", metavar="COMMAND", required=True)
        sub = groups[path[:-1]].add_parser(path[-1], help=description, description=description)
        for flags, options in arguments:
            sub.add_argument(*flags, **options)
        sub.set_defaults(handler=func)
    return parser


# ------------------------------------------------------------------------------ formatting
_TOTALS = ("name", "input_hw", "mvm_layers", "mvm_weights", "total_params", "macs",
           "macs_per_weight")


def totals(net: Network) -> dict:
    """The network's headline numbers shown by ``networks`` and ``inspect``."""
    summary = net.summary()
    return {key: summary[key] for key in _TOTALS}


def _number(value) -> str:
    """An integer with thousands separators, a float with one decimal."""
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                 left: int = 1) -> str:
    """Rows of text cells as an aligned table; the first ``left`` columns align left."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _load(args: argparse.Namespace) -> Network:
    return load_network(args.source, unknown_ops=args.unknown_ops)


_SOURCE = arg("source", metavar="NAME_OR_PATH",
              help="a zoo network name (see 'aimc networks') or a .onnx or .csv file")
_UNKNOWN_OPS = arg("--unknown-ops", choices=("error", "eltwise"), default="error",
                   help="ONNX only: reject operators aimclib does not know (error, the "
                        "default) or count them as element-wise work (eltwise)")
_JSON = arg("--json", action="store_true", help="print JSON instead of a table")


# ------------------------------------------------------------------------------ commands
@command("networks", "List the zoo networks with their totals.", _JSON)
def run_networks(args: argparse.Namespace) -> int:
    rows = [totals(zoo.get_network(name)) for name in zoo.NETWORKS]
    if args.json:
        print(json_text(rows, indent=2))
        return 0
    header = ["network", "input", "MVM layers", "MVM weights", "params", "MACs",
              "MACs/weight"]
    print(format_table(header, [
        [r["name"], "x".join(map(str, r["input_hw"])),
         *(_number(r[k]) for k in _TOTALS[2:])] for r in rows
    ], left=2))
    return 0


def _layer_table(net: Network) -> str:
    """Per-layer text table: shapes, window, groups and MVM counts."""
    windowed = ("conv", "maxpool", "avgpool")
    rows = []
    for r in net.layer_records():
        kind = r["kind"]
        stride = r["stride"] if isinstance(r["stride"], int) else "x".join(map(str, r["stride"]))
        mvm = kind in ("conv", "linear")
        rows.append([
            r["name"], kind,
            f"{r['cin']}x{r['hin']}x{r['win']}", f"{r['cout']}x{r['hout']}x{r['wout']}",
            f"{r['kh']}x{r['kw']}" if kind in windowed else "",
            str(stride) if kind in windowed else "",
            str(r["groups"]) if kind == "conv" else "",
            _number(r["weights"]) if mvm else "",
            _number(r["macs"]) if mvm else "",
        ])
    header = ["layer", "kind", "in CxHxW", "out CxHxW", "kernel", "stride", "groups",
              "weights", "MACs"]
    return format_table(header, rows, left=2)


@command("inspect", "Show a network's totals and layers.", _SOURCE, _JSON, _UNKNOWN_OPS)
def run_inspect(args: argparse.Namespace) -> int:
    net = _load(args)
    info = totals(net)
    if args.json:
        print(json_text({**info, "layers": net.layer_records()}, indent=2))
        return 0
    c, h, w = net.input_shape
    head = [
        ["network", net.name],
        ["input", f"{net.input_name} {c}x{h}x{w}"],
        ["layers", f"{len(net):,} ({net.mvm_layers:,} MVM)"],
        ["MVM weights", _number(net.mvm_weights)],
        ["params", _number(net.total_params)],
        ["MACs", _number(net.macs)],
        ["MACs/weight", _number(info["macs_per_weight"])],
    ]
    width = max(len(k) for k, _ in head)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in head) + "\n\n" + _layer_table(net))
    return 0


@command("export", "Write a network as a CSV layer table (docs/csv-format.md).", _SOURCE,
         arg("-o", "--output", required=True, metavar="OUT.csv", help="the CSV file to write"),
         _UNKNOWN_OPS)
def run_export(args: argparse.Namespace) -> int:
    output = check_path_writable(args.output, "-o/--output")
    net = _load(args)
    write_csv(net, output)
    print(f"wrote {len(net)} layers of {net.name} to {args.output}")
    return 0


# ------------------------------------------------------------------------------ systems
def _value(value) -> str:
    """A parameter value for a table: floats in shortest ``g`` form, the rest as given."""
    return f"{value:g}" if isinstance(value, float) else str(value)


_PRESET_ROW = ("name", "coupling", "cores", "tiles", "description", "file")


@command("presets", "List the system presets: shipped ones, then the user's "
         "($AIMCLIB_PRESET_DIR or ~/.config/aimclib/presets).", _JSON)
def run_presets(args: argparse.Namespace) -> int:
    rows = []
    for name in preset_names():
        path = preset_path(name)
        cfg = load_system(name)
        # The description is the file's own (SystemConfig does not keep it).
        doc = tomllib.loads(path.read_text())
        rows.append({"name": name, "coupling": cfg.coupling, "cores": cfg.cores,
                     "tiles": cfg.tiles, "description": str(doc.get("description", "")),
                     "file": str(path)})
    if args.json:
        print(json_text(rows, indent=2))
        return 0
    print(format_table(_PRESET_ROW, [[str(r[k]) for k in _PRESET_ROW] for r in rows],
                       left=len(_PRESET_ROW)))
    return 0


_PARAM_HEADER = ("parameter", "value", "unit", "status", "plausible range", "source")


def _range(row: dict) -> str:
    """A parameter's plausible range as text ('-' when it has none)."""
    rng = row["range"]
    if rng is None:
        return "-"
    if all(isinstance(v, str) for v in rng):
        return " / ".join(rng)
    return f"{_value(rng[0])} .. {_value(rng[1])}"


def _source(row: dict) -> str:
    """The source, and the range's reason when there is one."""
    if row["range_reason"]:
        return f"{row['source']} [range: {row['range_reason']}]"
    return row["source"]


@command("preset show", "Show every parameter of a preset with its unit, status, plausible "
         "range (assumed values) and source.",
         arg("preset", metavar="NAME_OR_FILE", help="a preset name (see 'aimc presets') or a "
             ".toml file"), _JSON)
def run_preset_show(args: argparse.Namespace) -> int:
    cfg = load_system(args.preset)
    rows = describe(cfg)
    if args.json:
        print(json_text(rows, indent=2))
        return 0
    cells = [[r["parameter"].partition(".")[2], _value(r["value"]), r["unit"], r["status"],
              _range(r), _source(r)] for r in rows]
    lines = format_table(_PARAM_HEADER, cells, left=len(_PARAM_HEADER)).splitlines()
    out = [f"preset {cfg.name}: {cfg.coupling} coupling, {cfg.cores} cores, {cfg.tiles} tiles",
           "", *lines[:2]]
    section = None
    for r, line in zip(rows, lines[2:]):
        if r["parameter"].partition(".")[0] != section:
            section = r["parameter"].partition(".")[0]
            out.append(f"[{section}]")
        out.append(line)
    print("\n".join(out))
    return 0


# ------------------------------------------------------------------------------ layer cost
_LAYER_KINDS = ("dense", "linear", "conv", "depthwise")
_DENSE_FLAGS = {"--in": "in_features", "--out": "out_features"}
_CONV_FLAGS = {"--cin": "cin", "--cout": "cout", "--k": "k", "--hw": "hw", "--stride": "stride",
               "--pad": "pad", "--groups": "groups"}
_PRESET = arg("--preset", default="alpine-tight", metavar="NAME_OR_FILE",
              help="system preset name or .toml file (default: alpine-tight)")
_SET = arg("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
           help="override one preset parameter, e.g. tile.mvm_latency_s=2e-7 or "
                "system.coupling=loose (repeatable)")


def _scalar(text: str):
    """``--set`` value: an int, else a float, else the string itself (e.g. ``loose``)."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue  # not this type: try the next
    return text


def _set_items(items: list[str], form: str) -> dict[str, tuple[str, str]]:
    """``--set`` items as ``{section.field: (item, value text)}``; a malformed item, or one
    parameter set twice (also through a shortcut such as ``cores``), is refused."""
    out: dict[str, tuple[str, str]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise PresetError(f"--set takes {form}, got {item!r}")
        full = override_key(key.strip())
        if full in out:
            raise PresetError(f"--set {out[full][0]} and --set {item} both set {full}; give "
                              f"each parameter once")
        out[full] = (item, text.strip())
    return out


def _no_conflict(sets: dict, args: argparse.Namespace, flags: dict[str, str]) -> None:
    """Refuse a ``--set`` of a parameter that a dedicated flag (``--cores``) also gives."""
    for flag, key in flags.items():
        value = getattr(args, flag.lstrip("-"))
        if value is not None and key in sets:
            raise ParameterError(f"--{flag.lstrip('-')} {value} contradicts --set "
                                 f"{sets[key][0]}: both give {key}; use one of them")


_SIZE_FLAGS = {"--cores": "cpu.cores", "--tiles": "system.tiles"}


def _system(args: argparse.Namespace) -> SystemConfig:
    """The preset with every ``--set`` applied; a bad one is reported with its flag."""
    cfg = load_system(args.preset)
    sets = _set_items(args.set, "SECTION.FIELD=VALUE")
    _no_conflict(sets, args, _SIZE_FLAGS)
    for key, (item, text) in sets.items():
        try:
            cfg = cfg.replace(**{key: _scalar(text)})
        except PresetError as exc:
            raise PresetError(f"--set {item}: {exc}") from None
    return cfg


def _flag(args: argparse.Namespace, flag: str, dest: str, minimum: int = 1,
          default: int | None = None, maximum: int | None = None, limit: str = "") -> int:
    """The value of an integer flag, checked against ``minimum`` (and ``maximum``)."""
    value = getattr(args, dest)
    if value is None:
        if default is None:
            raise ParameterError(f"--kind {args.kind} needs {flag}")
        return default
    return check_int(value, flag, low=minimum, high=maximum, limit=limit)


def _sizes(args: argparse.Namespace) -> tuple[int | None, int | None]:
    """``--cores`` and ``--tiles`` (None when not given), checked against their limits."""
    cores = None if args.cores is None else _flag(args, "--cores", "cores", 1, None,
                                                  MAX_CORES, "MAX_CORES")
    tiles = None if args.tiles is None else _flag(args, "--tiles", "tiles", 0, None,
                                                  MAX_TILES, "MAX_TILES")
    return cores, tiles


def _layer_network(args: argparse.Namespace) -> Network:
    """The one-layer network ``aimc layer`` describes (its flags checked)."""
    dense = args.kind in ("dense", "linear")
    foreign = _CONV_FLAGS if dense else _DENSE_FLAGS
    given = [flag for flag, dest in foreign.items() if getattr(args, dest) is not None]
    if given:
        use = "--in, --out" if dense else "--cin, --cout, --k, --hw, --stride, --pad, --groups"
        raise ParameterError(f"{', '.join(given)}: not used by --kind {args.kind}, which "
                             f"takes {use}")
    if dense:
        fin = _flag(args, "--in", "in_features")
        b = NetworkBuilder(args.kind, (fin, 1, 1))
        b.linear(b.input, _flag(args, "--out", "out_features"), bias=args.bias, name=args.kind)
        return b.build()
    cin = _flag(args, "--cin", "cin")
    if args.kind == "depthwise":
        for flag, dest in (("--cout", "cout"), ("--groups", "groups")):
            value = getattr(args, dest)
            if value is not None and value != cin:
                raise ParameterError(f"--kind depthwise has {flag} = --cin = {cin}, got {value}")
        cout, groups = cin, cin
    else:
        cout, groups = _flag(args, "--cout", "cout"), _flag(args, "--groups", "groups",
                                                           default=1)
    k, hw = _flag(args, "--k", "k"), _flag(args, "--hw", "hw")
    stride = _flag(args, "--stride", "stride", default=1)
    pad = _flag(args, "--pad", "pad", minimum=0, default=0)
    b = NetworkBuilder(args.kind, (cin, hw, hw))
    b.conv(b.input, cout, k, stride=stride, padding=pad, groups=groups, bias=args.bias,
           name=args.kind)
    return b.build()


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.3f}"


def _uj(joules: float) -> str:
    return f"{joules * 1e6:,.4f}"


def _layer_summary(cost: LayerCost, net: Network, cfg: SystemConfig) -> str:
    """``aimc layer``'s text: the layer, the system, latency and energy, the breakdown."""
    info = net.info[0]
    lay = info.layer
    c, h, w = info.in_shapes[0]
    oc, oh, ow = info.out_shape
    if lay.kind == "conv":
        shape = (f"{c} -> {oc} channels, {lay.kernel[0]}x{lay.kernel[1]} kernel, stride "
                 f"{lay.stride[0]}, pad {lay.padding[0]}, {lay.groups} group(s), "
                 f"{c}x{h}x{w} -> {oc}x{oh}x{ow}")
    else:
        shape = f"{c} -> {oc} features"
    head = [
        ["layer", f"{cost.layer} ({cost.kind}): {shape}"],
        ["GEMM", f"m={info.m} x k={info.k} x n={info.n}, g={info.g}: {info.macs:,} MACs, "
                 f"{info.weights:,} weights"],
        ["system", f"{cfg.name}: {cost.coupling} coupling, {cost.cores} core(s), "
                   f"{cost.tiles} tile(s)"],
        ["tiles", f"{cost.tiles_used} used ({cost.tiles_needed} map the whole layer); "
                  f"coverage {cost.coverage:.1%}, utilisation {cost.utilisation:.1%}"],
        ["latency", f"{_us(cost.latency_s)} µs (all-digital {_us(cost.baseline.latency_s)} "
                    f"µs): speedup {cost.speedup:.2f}x"],
        ["energy", f"{_uj(cost.energy_j)} µJ (all-digital {_uj(cost.baseline.energy_j)} µJ): "
                   f"gain {cost.energy_gain:.2f}x"],
    ]
    width = max(len(k) for k, _ in head)
    bd, base = cost.cost.breakdown, cost.baseline.breakdown
    table = format_table(
        ["component", "time µs", "energy µJ", "all-digital µs", "all-digital µJ"],
        [[name, _us(bd[name]["seconds"]), _uj(bd[name]["joules"]),
          _us(base[name]["seconds"]), _uj(base[name]["joules"])] for name in bd])
    note = (f"times of {', '.join(CORE_COMPONENTS)} are core-seconds (they add up to cores x "
            "latency); the others are device busy times")
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in head) + f"\n\n{table}\n{note}"


@command("layer", "Latency and energy of one conv or dense layer on a system, against the "
         "all-digital baseline on the same cores.",
         arg("--kind", required=True, choices=_LAYER_KINDS,
             help="dense (alias linear): --in, --out; conv: --cin, --cout, --k, --hw [--stride, "
                  "--pad, --groups]; depthwise: conv with groups = cin = cout"),
         arg("--in", dest="in_features", type=int, metavar="N", help="dense: input features"),
         arg("--out", dest="out_features", type=int, metavar="N", help="dense: output features"),
         arg("--cin", type=int, metavar="C", help="conv: input channels"),
         arg("--cout", type=int, metavar="C", help="conv: output channels"),
         arg("--k", type=int, metavar="K", help="conv: kernel size (K x K)"),
         arg("--hw", type=int, metavar="H", help="conv: input height and width (H x H)"),
         arg("--stride", type=int, metavar="S", help="conv: stride (default 1)"),
         arg("--pad", type=int, metavar="P", help="conv: zero padding on each side (default 0)"),
         arg("--groups", type=int, metavar="G", help="conv: groups (default 1)"),
         arg("--bias", action="store_true", help="the layer has a bias vector"),
         _PRESET, _SET,
         arg("--cores", type=int, metavar="P", help="cores to use (default: the preset's)"),
         arg("--tiles", type=int, metavar="T", help="AIMC tiles (default: the preset's)"),
         arg("--replicate", action="store_true",
             help="tiles beyond one full mapping hold copies of the weights"),
         _JSON)
def run_layer(args: argparse.Namespace) -> int:
    net = _layer_network(args)
    cfg = _system(args)
    cores, tiles = _sizes(args)
    cost = layer_cost(net.info[0], cfg, cores, tiles, replicate=args.replicate)
    if args.json:
        print(json_text(cost.to_dict(), indent=2))
    else:
        print(_layer_summary(cost, net, cfg))
    return 0


# ------------------------------------------------------------------------------ calibrate
def _pct(value: float) -> str:
    return f"{value * 100:+.1f}"


def _calibration_report(res: dict, details: dict) -> str:
    """Per-shape table, the fitted values and the fit quality of ``aimc calibrate``."""
    shapes, q = res["shapes"], res["quality"]
    table = format_table(
        ["kernel", "shape", "MACs/ops", "measured µs", "model µs", "error %"],
        [[r.kernel, r.shape, f"{r.ops:,}", _us(r.seconds), _us(r.model_s), _pct(r.rel_err)]
         for r in shapes.itertuples()], left=2)
    units = {f.name: f.metadata["unit"] for f in dataclasses.fields(CpuConfig)}
    values = format_table(["parameter", "value", "unit", "from"], [
        [key, f"{value:.6g}", units[key], details[key]] for key, value in res["params"].items()],
        left=4)
    quality = [f"fit quality: GEMM R^2 = {q['gemm_r2']:.3f} (cycles per SIMD MAC instruction "
               f"against (1 + k_half/k)(1 + n_half/n); without the n term "
               f"{q['gemm_r2_k_only']:.3f}); |model / measured - 1| median, max:"]
    for name in ("gemm", "depthwise", "eltwise"):
        quality.append(f"  {name:<10} {q[f'{name}_median_rel_err']:6.1%}  "
                       f"{q[f'{name}_max_rel_err']:6.1%}")
    quality.append(f"  {'all':<10} {q['median_rel_err']:6.1%}  {q['max_rel_err']:6.1%}")
    by_n = shapes[shapes["kernel"] == "gemm"].groupby("n")[["rel_err", "rel_err_k_only"]].mean()
    quality.append("GEMM mean error by n: " + ", ".join(
        f"n={n}: {row.rel_err:+.0%} (without the n term {row.rel_err_k_only:+.0%})"
        for n, row in by_n.iterrows()))
    clipped = [f"clipped: {c}" for c in res["clipped"]]
    return "\n".join([table, "", values, "", *quality, *clipped])


@command("calibrate", "Time aimclib's Numba kernels on this machine, fit the digital cycle "
         "model and write a 'host' preset.",
         arg("--out", metavar="PATH", help="preset file to write (default: host.toml in "
             "$AIMCLIB_PRESET_DIR, else in ~/.config/aimclib/presets); an existing file is "
             "refused unless --force"),
         arg("--force", action="store_true", help="overwrite --out if it exists"),
         arg("--quick", action="store_true", help="fewer shapes and repeats (a few seconds)"),
         arg("--base", default="alpine-tight", metavar="PRESET",
             help="the preset 'host' extends: tiles, interfaces, memory, power, core count "
                  "(default alpine-tight)"),
         arg("--clock-hz", type=float, metavar="HZ",
             help="core clock to turn times into cycles (default: /proc/cpuinfo)"))
def run_calibrate(args: argparse.Namespace) -> int:
    load_system(args.base)  # fail before measuring
    out = Path(args.out) if args.out else user_preset_dir() / "host.toml"
    calibrate.check_target(out, base=args.base, force=args.force)
    if args.clock_hz is not None:
        if not args.clock_hz > 0:
            raise ParameterError(f"--clock-hz must be > 0, got {args.clock_hz}")
        clock, clock_how = args.clock_hz, "--clock-hz"
    else:
        clock, clock_how = calibrate.host_clock_hz()
    simd, simd_how = calibrate.host_simd_bits()
    cross = ""
    if clock_how != calibrate.CHAIN_CLOCK:
        cross = (f" (a dependent add/xor chain at 2 cycles per step suggests "
                 f"{calibrate.chain_clock_hz() / 1e9:.2f} GHz)")
    print(f"host: {calibrate.host_description()}\nclock {clock / 1e9:.3f} GHz from {clock_how}"
          f"{cross}\nSIMD {simd} bit ({simd_how}); int32 MAC lanes: "
          f"{simd // calibrate.MAC_LANE_BITS} per instruction")
    shapes = calibrate.default_shapes(args.quick)
    repeats, min_time_s = (3, 1e-3) if args.quick else (7, 4e-3)
    print(f"timing {len(shapes)} shapes single-threaded, best of {repeats} ...", flush=True)
    t0 = time.perf_counter()
    df = calibrate.measure(shapes, repeats=repeats, min_time_s=min_time_s)
    res = calibrate.fit(df, clock, simd, calibrate.MAC_LANE_BITS)
    elapsed = time.perf_counter() - t0
    q, n_gemm = res["quality"], int((df["kernel"] == "gemm").sum())
    gemm_fit = (f"least squares of cycles per SIMD MAC instruction = a (1 + k_half/k)"
                f"(1 + n_half/n) over {n_gemm} int8 GEMM shapes (R^2 {q['gemm_r2']:.3f}, "
                f"median error {q['gemm_median_rel_err']:.0%})")
    details = {
        "clock_hz": clock_how, "simd_bits": simd_how,
        "mac_lane_bits": "int32 accumulators of the calibration GEMM",
        "mac_instruction_fraction": "every SIMD instruction the fit counts is a MAC",
        "simd_issue_per_cycle": "ceil of the fitted SIMD MAC instructions per cycle",
        "gemm_efficiency": gemm_fit, "gemm_k_half": gemm_fit, "gemm_n_half": gemm_fit,
        "depthwise_efficiency": f"mean over {int((df['kernel'] == 'depthwise').sum())} "
                                f"depthwise 3x3 int8 shapes (median error "
                                f"{q['depthwise_median_rel_err']:.0%})",
        "eltwise_ops_per_cycle": f"mean over {int((df['kernel'] == 'eltwise').sum())} float32 "
                                 f"relu6 sizes at {calibrate.RELU6_OPS} ops per element",
    }
    print(_calibration_report(res, details))
    path = calibrate.write_preset(res["params"], out, args.base, details, force=args.force)
    cfg = load_system(path)
    found = preset_path(cfg.name)
    by_name = found is not None and Path(str(found)).resolve() == path.resolve()
    use = cfg.name if by_name else str(path)
    print(f"\nmeasured in {elapsed:.1f} s; wrote {path} (use it with --preset {use})")
    return 0


# ------------------------------------------------------------------------------ simulate
_SIM_SCALARS = ("latency_s", "energy_j", "baseline_latency_s", "baseline_energy_j", "speedup",
                "energy_gain", "coverage", "tiles_used")


@command("simulate", "Simulate a whole network: tile allocation under a budget, then "
         "multi-core load balancing, against the all-digital baseline.",
         _SOURCE, _PRESET, _SET,
         arg("--cores", type=int, metavar="P", help="cores (default: the preset's)"),
         arg("--tiles", type=int, metavar="T", help="AIMC tile budget (default: the preset's)"),
         arg("--allocation", default="optimal", choices=ALLOCATIONS,
             help="which weights go on the tiles (default: optimal)"),
         arg("--balancer", default="static-balanced", choices=BALANCERS,
             help="how the cores share the work (default: static-balanced)"),
         arg("--seed", type=int, default=0, help="work-stealing victim seed (default 0)"),
         arg("--victim", default="random", choices=tuple(VICTIMS),
             help="work stealing's victim choice (default: random)"),
         arg("--objective", default="latency", choices=OBJECTIVES,
             help="what optimal/greedy-benefit minimise (default: latency)"),
         arg("--dag", action="store_true",
             help="let independent branches overlap instead of a barrier per layer (the "
             "same as --schedule dag)"),
         arg("--schedule", choices=SCHEDULES,
             help="barrier (default), dag (branches overlap) or pipelined (row bands of "
             "consecutive layers overlap)"),
         arg("--batch", type=int, default=1, metavar="B",
             help="images of the throughput run: reports inferences/s and energy per "
             "inference (default 1)"),
         arg("--throughput", default="batch", choices=THROUGHPUTS,
             help="how a batch runs: batch (each layer takes all images together, default) "
             "or pipelined (the images flow through as a DAG)"),
         arg("--replicate", default="off", metavar="off|on|reuse>=X",
             help="weight replication: off (default); on (optimal/greedy-benefit choose "
                  "copies, other allocations copy every reused layer); reuse>=X (copy the "
                  "layers with at least X output positions with the tiles left)"),
         _UNKNOWN_OPS, _JSON)
def run_simulate(args: argparse.Namespace) -> int:
    net = _load(args)
    cfg = _system(args)
    cores, tiles = _sizes(args)
    r = simulate(net, cfg, allocation=args.allocation, balancer=args.balancer, seed=args.seed,
                 victim=args.victim, objective=args.objective, dag=args.dag, cores=cores,
                 tiles=tiles, schedule=args.schedule, batch=args.batch,
                 throughput=args.throughput,
                 replicate=check_replicate(args.replicate, "--replicate"))
    summary = r.summary()
    if args.json:
        print(json_text(summary, indent=2))
        return 0
    copies = f", replicate {r.replicate}" if r.replicate != REPLICATE_OFF else ""
    print(f"{net.name} on {cfg.name} ({r.system.coupling}, {r.system.cores} cores, "
          f"{r.system.tiles} tiles), allocation {args.allocation}, balancer {args.balancer}"
          f"{copies}")
    rows = [["latency", f"{_us(r.latency_s)} µs", f"{_us(r.baseline_latency_s)} µs",
             f"speedup {r.speedup:.2f}x"],
            ["energy", f"{_uj(r.energy_j)} µJ", f"{_uj(r.baseline_energy_j)} µJ",
             f"gain {r.energy_gain:.2f}x"],
            ["tiles", f"{r.tiles_used} used", "", f"coverage {r.coverage:.1%}"]]
    print(format_table(["", "with tiles", "all-digital", ""], rows))
    if r.schedule != "barrier":
        print(f"schedule: {r.schedule}")
    if r.row_buffer_peak_bytes is not None:
        fits = "fits" if summary["row_buffers_fit_l2"] else "does not fit"
        print(f"row buffers: at most {r.row_buffer_peak_bytes / 1024:,.1f} KiB at once "
              f"({fits} the {r.system.cpu.l2_bytes / 1024:,.0f} KiB L2)")
    if r.throughput.batch > 1:
        tp = r.throughput
        print(f"batch of {tp.batch} ({tp.mode}): {_us(tp.latency_s)} µs, "
              f"{tp.inferences_per_s:,.2f} inferences/s, "
              f"{_uj(tp.energy_per_inference_j)} µJ per inference")
    return 0


@command("sweep", "Simulate every combination of comma-separated parameter lists (a grid of "
         "whole-network simulations); write the CSV and its provenance.",
         arg("--network", required=True, metavar="NAMES",
             help="zoo names or .onnx/.csv files, e.g. resnet50,mobilenet_v2"),
         arg("--preset", metavar="NAMES", help="presets or .toml files (default: alpine-tight)"),
         arg("--cores", metavar="P,...", help="core counts (default: the preset's)"),
         arg("--tiles", metavar="T,...", help="tile budgets (default: the preset's)"),
         arg("--coverage", metavar="C,...",
             help="target shares of MVM weights on tiles (0..1), each resolved to the nearest "
                  "tile budget; not with --tiles"),
         arg("--allocation", metavar="NAMES", help=f"of {', '.join(ALLOCATIONS)} "
             "(default: optimal)"),
         arg("--balancer", metavar="NAMES", help=f"of {', '.join(BALANCERS)} "
             "(default: static-balanced)"),
         arg("--seed", metavar="S,...", help="work-stealing victim seeds (default: 0)"),
         arg("--schedule", metavar="NAMES", help=f"of {', '.join(SCHEDULES)} "
             "(default: barrier)"),
         arg("--batch", metavar="B,...", help="images of the throughput run (default: 1); "
             "adds the inferences_per_s and energy_per_inference_j columns"),
         arg("--throughput", metavar="NAMES", help=f"of {', '.join(THROUGHPUTS)}: how a "
             "batch runs (default: batch)"),
         arg("--replicate", metavar="R,...",
             help="weight replication settings: off, on, reuse>=X (default: off)"),
         arg("--set", action="append", default=[], metavar="SECTION.FIELD=V1,V2,...",
             help="values of one preset parameter, e.g. tile.mvm_latency_s=1e-7,2e-7 "
                  "(repeatable)"),
         arg("--executor", default="processes", metavar="NAME",
             help="inprocess, processes (default: a local process pool) or dask"),
         arg("--workers", type=int, metavar="N",
             help="worker processes (default: all cores; dask: 2 when it starts the cluster)"),
         arg("--address", metavar="URL",
             help="dask: scheduler of a running cluster, e.g. tcp://10.0.0.5:8786"),
         arg("--cache", metavar="DIR", help="keep finished points in DIR; a re-run computes "
             "only what is missing or changed"),
         arg("--no-progress", action="store_true", help="no progress bar"),
         arg("-o", "--output", required=True, metavar="OUT.csv",
             help="the CSV to write (with OUT.provenance.json beside it)"))
def run_sweep(args: argparse.Namespace) -> int:
    from .sweep import save_sweep, sweep

    def values(flag: str, text: str) -> list:
        items = [item.strip() for item in text.split(",")]
        if not all(items):
            raise ParameterError(f"{flag} takes a comma-separated list without empty items, "
                                 f"got {text!r}")
        return [_scalar(item) for item in items]

    grid = {key: values(f"--{key}", getattr(args, key)) for key in (
        "network", "preset", "cores", "tiles", "coverage", "allocation", "balancer", "seed",
        "schedule", "batch", "throughput", "replicate")
        if getattr(args, key) is not None}
    sets = _set_items(args.set, "SECTION.FIELD=V1,V2,...")
    _no_conflict(sets, args, _SIZE_FLAGS)
    for key, (_, text) in sets.items():
        grid[f"set:{key}"] = values(f"--set {key}", text)
    # fail before computing anything when the results could not be written
    output = check_path_writable(args.output, "-o/--output", create=True)
    check_path_writable(output.with_suffix(".provenance.json"), "-o/--output's provenance")
    t0 = time.perf_counter()
    df = sweep(grid, executor=args.executor, address=args.address, workers=args.workers,
               cache=args.cache, progress=not args.no_progress)
    path = save_sweep(df, output)
    stats, cache = df.attrs["sweep"], df.attrs["cache"]
    reuse = ""
    if args.cache is not None:
        reuse = (f"; the cache reuses a point only for byte-identical aimclib code (sources "
                 f"sha256 {cache['code'][:12]})")
        if cache["invalid"]:
            reuse += f"; {cache['invalid']} invalid cache row(s) computed again"
    print(f"{len(df)} points ({stats['computed']} computed, {stats['cached']} from the cache) "
          f"in {time.perf_counter() - t0:.1f} s; wrote {path} and its provenance{reuse}")
    shown = 20
    varied = [k for k, v in grid.items() if len(v) > 1 and k != "tiles"] or ["network"]
    rows = [[str(r[k]) for k in varied] + [
        str(r["tiles"]), _us(r["latency_s"]), f"{r['speedup']:.2f}x",
        f"{r['energy_gain']:.2f}x", f"{r.get('achieved_coverage', r['coverage']):.1%}"]
        + ([f"{r['inferences_per_s']:,.2f}"] if "inferences_per_s" in r else [])
        for r in df.head(shown).to_dict("records")]
    print(format_table([*varied, "tiles", "latency µs", "speedup", "energy gain",
                        "weights on tiles"]
                       + (["inferences/s"] if "inferences_per_s" in df else []), rows,
                       left=len(varied)))
    if len(df) > shown:
        print(f"... {len(df) - shown} more rows in {path}")
    return 0


# ------------------------------------------------------------------------------ entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``aimc`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors; argparse printed already
        return 0 if exc.code is None else int(exc.code)
    signals = []

    def terminate(signum, frame):
        signals.append(signum)
        raise KeyboardInterrupt

    # SIGTERM ends a command as Ctrl-C does: finished work is kept and one line reports it
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, terminate) if main_thread else None
    try:
        return args.handler(args)
    except KeyboardInterrupt as exc:
        print(f"aimc: {str(exc) or 'interrupted'}", file=sys.stderr)
        return 128 + (signals[0] if signals else signal.SIGINT)
    except BrokenPipeError:
        # The reader (e.g. `head`) closed the pipe: stop quietly, as Unix tools do, and keep
        # Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (AimcError, OSError) as exc:
        print(f"aimc: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
