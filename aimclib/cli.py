"""The ``aimc`` command line.

Each subcommand is one function ``(args) -> exit code`` registered with :func:`command`, which
also declares its arguments; ``"preset show"`` style names nest under a parent command. Any
:class:`~aimclib.errors.AimcError` (and an unreadable or unwritable file) ends the command with
``aimc: error: <message>`` on stderr and exit code 2, as do usage errors; success is 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__, zoo
from .csvio import write_csv
from .errors import AimcError
from .loading import load_network
from .network import Network

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
        print(json.dumps(rows, indent=2))
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
        print(json.dumps({**info, "layers": net.layer_records()}, indent=2))
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
    net = _load(args)
    write_csv(net, args.output)
    print(f"wrote {len(net)} layers of {net.name} to {args.output}")
    return 0


# ------------------------------------------------------------------------------ entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``aimc`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors; argparse printed already
        return 0 if exc.code is None else int(exc.code)
    try:
        return args.handler(args)
    except BrokenPipeError:
        # The reader (e.g. `head`) closed the pipe: stop quietly, as Unix tools do, and keep
        # Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (AimcError, OSError) as exc:
        print(f"aimc: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
