"""The CSV layer table: a network as one row per layer, readable and writable by hand.

The format is documented in ``docs/csv-format.md``. In short: the first line is a header
comment ``# aimclib-network v1 name=NAME input=INPUT shape=CxHxW``; the second line names the
columns; then one row per layer in execution order. Only ``name``, ``kind`` and ``inputs`` are
required columns; an empty or absent optional cell takes the :class:`~aimclib.layers.Layer`
default. :func:`write_csv` then :func:`read_csv` gives back an equal :class:`Network`.
"""

from __future__ import annotations

import csv
import os
import shlex
from collections.abc import Callable, Container
from pathlib import Path

from .errors import AimcError, ModelFormatError
from .layers import KINDS, Layer, Shape, layer_info
from .network import INPUT, Network

MAGIC = "# aimclib-network"
"""How the header comment line starts."""

VERSION = "v1"
"""The format version this module reads and writes."""

INPUT_SEP = "|"
"""Separator of the layer names in the ``inputs`` cell."""

REQUIRED_COLUMNS = ("name", "kind", "inputs")
OPTIONAL_COLUMNS = (
    "out_channels", "in_channels", "kh", "kw", "sh", "sw",
    "pad_top", "pad_left", "pad_bottom", "pad_right", "dh", "dw", "groups", "bias", "ceil_mode",
    "output_h", "output_w", "target_c", "target_h", "target_w",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
"""Every column, in the order :func:`write_csv` writes them."""

_HEADER_KEYS = ("name", "input", "shape")
_DEFAULT = Layer("default", "relu", ("input",))
"""A layer with every optional field at its default: what an empty cell stands for."""
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


# ----------------------------------------------------------------------------------- writing
def _check_name(name: str, what: str) -> None:
    """Refuse a name the table could not give back unchanged (cells are stripped on reading)."""
    if INPUT_SEP in name or name != name.strip() or "\n" in name or "\r" in name:
        raise ModelFormatError(
            f"{what} {name!r} cannot be written to a CSV layer table: names must not contain "
            f"{INPUT_SEP!r} or line breaks, nor start or end with whitespace"
        )


def _cells(values: tuple[int, ...] | None, n: int) -> list[str]:
    """``n`` cells of an optional tuple: empty when it is None."""
    return [""] * n if values is None else [str(v) for v in values]


def _layer_row(layer: Layer) -> list[str]:
    """The cells of one layer, in :data:`COLUMNS` order."""
    return [
        layer.name, layer.kind, INPUT_SEP.join(layer.inputs), str(layer.out_channels),
        "" if layer.in_channels is None else str(layer.in_channels),
        *map(str, layer.kernel), *map(str, layer.stride), *map(str, layer.padding),
        *map(str, layer.dilation), str(layer.groups), str(int(layer.bias)),
        str(int(layer.ceil_mode)), *_cells(layer.output_hw, 2), *_cells(layer.target, 3),
    ]


def header_line(net: Network) -> str:
    """The header comment line of ``net`` (without the line break)."""
    c, h, w = net.input_shape
    fields = shlex.join([f"name={net.name}", f"input={net.input_name}", f"shape={c}x{h}x{w}"])
    return f"{MAGIC} {VERSION} {fields}"


def write_csv(net: Network, path: str | os.PathLike) -> None:
    """Write ``net`` to ``path`` as a UTF-8 CSV layer table with every column filled in.

    Raises :class:`ModelFormatError` if a name cannot be stored unchanged (see
    ``docs/csv-format.md``); nothing is written then.
    """
    if not net.name or "\n" in net.name or "\r" in net.name:
        raise ModelFormatError(f"network name {net.name!r} cannot be written to a CSV layer "
                               f"table: it must be non-empty and without line breaks")
    _check_name(net.input_name, "input name")
    for layer in net.layers:
        _check_name(layer.name, "layer name")
    with open(path, "w", newline="", encoding="utf-8") as f:
        f.write(header_line(net) + "\n")
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(_layer_row(layer) for layer in net.layers)


# ----------------------------------------------------------------------------------- reading
def _parse_header(line: str, where: str, default_name: str) -> tuple[str, str, Shape]:
    """Network name, input name and input shape from the header comment line."""
    accepted = (f"accepted: '{MAGIC} {VERSION} name=NAME input=INPUT shape=CxHxW' "
                f"(name and input optional)")
    if not line.startswith(MAGIC):
        raise ModelFormatError(f"{where}: the first line must be the header comment; {accepted}, "
                               f"got {line[:60]!r}")
    try:
        tokens = shlex.split(line[len(MAGIC):])
    except ValueError as exc:
        raise ModelFormatError(f"{where}: cannot split the header comment ({exc}); "
                               f"{accepted}") from None
    if not tokens or tokens[0] != VERSION:
        got = tokens[0] if tokens else "nothing"
        raise ModelFormatError(f"{where}: unsupported format version {got!r}; accepted: "
                               f"{VERSION!r}")
    fields: dict[str, str] = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep or key not in _HEADER_KEYS or key in fields:
            problem = "repeated" if key in fields else "unknown"
            raise ModelFormatError(f"{where}: {problem} header field {token!r}; {accepted}")
        fields[key] = value
    if "shape" not in fields:
        raise ModelFormatError(f"{where}: the header comment has no shape=CxHxW; {accepted}")
    try:
        c, h, w = (int(v) for v in fields["shape"].lower().split("x"))
    except ValueError:
        raise ModelFormatError(f"{where}: shape must be three integers CxHxW (e.g. 3x224x224), "
                               f"got {fields['shape']!r}") from None
    if min(c, h, w) < 1:
        raise ModelFormatError(f"{where}: shape must be positive, got {fields['shape']!r}")
    name, input_name = fields.get("name", default_name), fields.get("input", INPUT)
    if not name or not input_name:
        raise ModelFormatError(f"{where}: name and input must not be empty; {accepted}")
    return name, input_name, (c, h, w)


class _Row:
    """One data row's cells by column, for parsing with errors that say where."""

    def __init__(self, cells: dict[str, str], where: str) -> None:
        self.cells = cells
        self.where = where

    def error(self, column: str, problem: str) -> ModelFormatError:
        return ModelFormatError(f"{self.where}, column {column!r}: {problem}")

    def text(self, column: str) -> str:
        return self.cells.get(column, "")

    def _convert(self, column: str, default, convert: Callable[[str], object], accepted: str):
        text = self.text(column)
        if not text:
            return default
        try:
            return convert(text)
        except ValueError:
            raise self.error(column, f"{text!r} is not {accepted}") from None

    def integer(self, column: str, default):
        return self._convert(column, default, int, "an integer")

    def boolean(self, column: str, default: bool) -> bool:
        def convert(text: str) -> bool:
            if text.lower() in _TRUE + _FALSE:
                return text.lower() in _TRUE
            raise ValueError(text)
        return self._convert(column, default, convert,
                             f"a boolean; accepted: {', '.join(_TRUE + _FALSE)} or empty")

    def ints_or_none(self, columns: tuple[str, ...]) -> tuple[int, ...] | None:
        """All of ``columns`` as integers, or None if all are empty; a partial set is an error."""
        given = [c for c in columns if self.text(c)]
        if not given:
            return None
        if len(given) < len(columns):
            missing = next(c for c in columns if not self.text(c))
            raise self.error(missing, f"empty, but {', '.join(given)} given; fill all of "
                                      f"{', '.join(columns)} or none")
        return tuple(self.integer(c, None) for c in columns)


def _parse_layer(row: _Row, known: Container[str], input_name: str) -> Layer:
    """The layer of one row; ``known`` holds the input and the names of earlier rows."""
    name = row.text("name")
    if not name:
        raise row.error("name", "empty; every layer needs a name")
    if name in known:
        what = "the network input" if name == input_name else "an earlier layer"
        raise row.error("name", f"{name!r} is already the name of {what}")
    kind = row.text("kind")
    if kind not in KINDS:
        raise row.error("kind", f"unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
    inputs = tuple(i.strip() for i in row.text("inputs").split(INPUT_SEP))
    for i in inputs:
        if i not in known:
            raise row.error("inputs", f"{i!r} is neither the input {input_name!r} nor a layer of "
                                      f"an earlier row; separate several inputs with "
                                      f"{INPUT_SEP!r}")
    pad = ("pad_top", "pad_left", "pad_bottom", "pad_right")
    return Layer(
        name=name,
        kind=kind,
        inputs=inputs,
        out_channels=row.integer("out_channels", _DEFAULT.out_channels),
        in_channels=row.integer("in_channels", _DEFAULT.in_channels),
        kernel=(row.integer("kh", _DEFAULT.kernel[0]), row.integer("kw", _DEFAULT.kernel[1])),
        stride=(row.integer("sh", _DEFAULT.stride[0]), row.integer("sw", _DEFAULT.stride[1])),
        padding=tuple(row.integer(c, d) for c, d in zip(pad, _DEFAULT.padding)),
        dilation=(row.integer("dh", _DEFAULT.dilation[0]),
                  row.integer("dw", _DEFAULT.dilation[1])),
        groups=row.integer("groups", _DEFAULT.groups),
        bias=row.boolean("bias", _DEFAULT.bias),
        ceil_mode=row.boolean("ceil_mode", _DEFAULT.ceil_mode),
        output_hw=row.ints_or_none(("output_h", "output_w")),
        target=row.ints_or_none(("target_c", "target_h", "target_w")),
    )


def _check_columns(columns: list[str], where: str) -> None:
    for c in columns:
        if c not in COLUMNS:
            raise ModelFormatError(f"{where}: unknown column {c!r}; accepted columns: "
                                   f"{', '.join(COLUMNS)}")
        if columns.count(c) > 1:
            raise ModelFormatError(f"{where}: column {c!r} appears twice")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ModelFormatError(f"{where}: missing column(s) {', '.join(map(repr, missing))}; "
                               f"required: {', '.join(REQUIRED_COLUMNS)}")


def read_csv(path: str | os.PathLike) -> Network:
    """Read a CSV layer table (see ``docs/csv-format.md``) into a :class:`Network`.

    A file without ``name=`` in its header takes the file's stem as the network name.
    Raises :class:`ModelFormatError` naming the line, data row (1-based) and column of the
    first problem, including a layer the shapes do not fit.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = f.readline().rstrip("\r\n")
            name, input_name, input_shape = _parse_header(first, f"{path}: line 1", path.stem)
            reader = csv.reader(f)
            columns_row = next(reader, None)
            if columns_row is None:
                raise ModelFormatError(f"{path}: line 2: missing the column names line; "
                                       f"required columns: {', '.join(REQUIRED_COLUMNS)}")
            columns = [c.strip() for c in columns_row]
            _check_columns(columns, f"{path}: line 2")
            shapes: dict[str, Shape] = {input_name: input_shape}
            layers = []
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue  # blank lines are allowed between rows
                # reader.line_num counts lines after the header comment and ends at this row
                where = f"{path}: row {len(layers) + 1} (line {reader.line_num + 1})"
                if len(cells) > len(columns):
                    raise ModelFormatError(f"{where}: {len(cells)} cells, but the column names "
                                           f"line has {len(columns)}")
                row = _Row(dict(zip(columns, (c.strip() for c in cells))), where)
                try:
                    layer = _parse_layer(row, shapes, input_name)
                    shapes[layer.name] = layer_info(layer, [shapes[i] for i in layer.inputs]
                                                    ).out_shape
                except ModelFormatError:
                    raise
                except AimcError as exc:
                    raise ModelFormatError(f"{where}: {exc}") from None
                layers.append(layer)
    except UnicodeDecodeError as exc:
        raise ModelFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                               ) from None
    except csv.Error as exc:
        raise ModelFormatError(f"{path}: not a readable CSV file ({exc})") from None
    if not layers:
        raise ModelFormatError(f"{path}: no layer rows after the column names line")
    try:
        return Network(name, input_shape, layers, input_name)
    except AimcError as exc:
        raise ModelFormatError(f"{path}: {exc}") from None
