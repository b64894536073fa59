"""Import an ONNX model file as a :class:`~aimclib.network.Network` (batch 1, shapes only).

The importer reads the graph structure, the dims of the initializers, the operator attributes
and ONNX shape inference; it never reads weight values, so a file whose weights live in a
missing external-data file imports as well as a complete one. Only small constants that decide
a layer's kind (Clip's bounds) are read, and only when they are stored inside the file.

Tensors map to aimclib shapes ``(C, H, W)``: an ONNX ``(N, C, H, W)`` tensor is ``(C, H, W)``
and an ``(N, n)`` tensor is ``(n, 1, 1)``, where the batch ``N`` must be 1 or symbolic (taken
as 1). Nodes whose inputs are all constants (weights, shape arithmetic, ``Shape`` outputs) are
evaluated once at export time, not per inference, and become no layer. ``Dropout`` and
``Identity`` become no layer either: their consumers read the producer directly. An ``Add``,
``Mul`` or ``Sum`` of one activation and constants (a bias, a scale) is an ``eltwise`` layer:
one core operation per output element.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from .errors import ModelFormatError
from .layers import Layer, Shape, layer_info
from .network import Network

_ACTIVATIONS = {
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "HardSigmoid": "hardsigmoid",
    "HardSwish": "hardswish",
    "Tanh": "tanh",
    "Softmax": "softmax",
    "GlobalAveragePool": "globalavgpool",
    "GlobalMaxPool": "globalmaxpool",
}
"""ONNX ops that map one-to-one onto a single-input aimclib kind without parameters."""

_ALIASES = ("Dropout", "Identity")
_SHAPE_OPS = ("Shape", "Size")
_NARY = {"Add": "add", "Mul": "mul", "Sum": "add"}

SUPPORTED_OPS: tuple[str, ...] = tuple(sorted(
    ("Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "BatchNormalization", "Clip",
     "Concat", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "LRN", "Constant",
     *_ACTIVATIONS, *_ALIASES, *_SHAPE_OPS, *_NARY)
))
"""ONNX operator types (default domain) the importer maps onto aimclib layers."""

UNKNOWN_OPS_MODES = ("error", "eltwise")
"""Accepted values of ``read_onnx(..., unknown_ops=)``."""

_DEFAULT_DOMAINS = ("", "ai.onnx")


def read_onnx(path: str | os.PathLike, unknown_ops: str = "error",
              name: str | None = None) -> Network:
    """Read the ONNX model at ``path`` as a batch-1 :class:`Network`.

    Args:
        path: the ``.onnx`` file. External weight data is never opened, so it may be missing.
        unknown_ops: ``"error"`` raises :class:`ModelFormatError` on an operator outside
            :data:`SUPPORTED_OPS`; ``"eltwise"`` imports it as an ``eltwise`` layer (one core
            operation per output element, output shape from ONNX shape inference) and warns.
        name: the network's name; defaults to the file name without its suffix.

    The network's input is the graph input that is not an initializer, and its ONNX name is
    the network's ``input_name``. Layers are named after their ONNX nodes (``<op_type>_<i>``
    for an unnamed node at index ``i``), made unique with a ``_<k>`` suffix.
    """
    if unknown_ops not in UNKNOWN_OPS_MODES:
        raise ModelFormatError(
            f"unknown_ops must be one of {', '.join(map(repr, UNKNOWN_OPS_MODES))}, "
            f"got {unknown_ops!r}"
        )
    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"no such file: {path}")
    model = _load(path)
    return _Importer(model, path, unknown_ops).build(name if name is not None else path.stem)


def _load(path: Path) -> onnx.ModelProto:
    """The model with shapes inferred; any parse or inference failure is a ModelFormatError."""
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    # The protobuf parser raises several unrelated types (DecodeError, RuntimeError, ...) on
    # bad bytes; each means the same thing to the caller: the file is not an ONNX model.
    except Exception as exc:
        raise ModelFormatError(f"cannot read {path} as an ONNX model: {exc}") from exc
    if not model.graph.node:
        raise ModelFormatError(
            f"{path} holds no ONNX graph nodes: it is empty or not an ONNX model"
        )
    try:
        # data_prop lets shape arithmetic (Shape -> Gather -> Concat -> Reshape) resolve.
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:  # the C++ checker's error types vary between onnx releases
        raise ModelFormatError(f"{path}: ONNX shape inference failed: {exc}") from exc


def _value_dims(value_info: onnx.ValueInfoProto) -> list[int | None] | None:
    """Dims of a typed tensor (None for a symbolic or unknown dim), or None without a shape."""
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]


def _attr(node: onnx.NodeProto, key: str, default=None):
    """An attribute's value (strings decoded), or ``default`` when the node lacks it."""
    for a in node.attribute:
        if a.name == key:
            value = onnx.helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


class _Importer:
    """One pass over a shape-inferred ONNX graph in its (topological) node order."""

    def __init__(self, model: onnx.ModelProto, path: Path, unknown_ops: str) -> None:
        self.path = path
        self.unknown_ops = unknown_ops
        self.graph = model.graph
        self.opset = next((o.version for o in model.opset_import
                           if o.domain in _DEFAULT_DOMAINS), 1)
        # Constant tensors by name; their dims are always usable, their values only if internal.
        self.const: dict[str, onnx.TensorProto] = {t.name: t for t in self.graph.initializer}
        # Tensors computed from constants and shapes only: no layer produces them.
        self.static: set[str] = set(self.const)
        self.dims: dict[str, list[int | None] | None] = {}
        for vi in (*self.graph.input, *self.graph.value_info, *self.graph.output):
            self.dims[vi.name] = _value_dims(vi)
        self.alias: dict[str, str] = {}  # ONNX tensor -> aimclib layer (or input) name
        self.shapes: dict[str, Shape] = {}  # aimclib name -> (C, H, W)
        self.layers: list[Layer] = []

    # ------------------------------------------------------------------------ building
    def build(self, name: str) -> Network:
        inputs = [vi for vi in self.graph.input if vi.name not in self.const]
        if len(inputs) != 1:
            raise ModelFormatError(
                f"{self.path}: the importer needs exactly one graph input that is not an "
                f"initializer, found {len(inputs)}: {[vi.name for vi in inputs]}"
            )
        input_name = inputs[0].name
        input_shape = self._to_chw(_value_dims(inputs[0]), f"graph input {input_name!r}")
        self.alias[input_name] = input_name
        self.shapes[input_name] = input_shape
        for index, node in enumerate(self.graph.node):
            self._node(index, node)
        if not self.layers:
            raise ModelFormatError(f"{self.path}: the graph has no node that becomes a layer")
        return Network(name, input_shape, self.layers, input_name)

    def _node(self, index: int, node: onnx.NodeProto) -> None:
        op = node.op_type
        if all(t in self.static for t in node.input if t):
            self._static_node(node)
            return
        lname = self._unique(node.name or f"{op}_{index}")
        if node.domain not in _DEFAULT_DOMAINS or op not in SUPPORTED_OPS:
            self._unknown(node, lname)
        elif op in _ALIASES:
            self.alias[node.output[0]] = self._src(node, node.input[0])
        elif op in _SHAPE_OPS:
            self.static.update(node.output)  # depends on the input's shape, not its values
        elif op in _ACTIVATIONS:
            self._add(node, lname, _ACTIVATIONS[op], self._src(node, node.input[0]))
        elif op in _NARY:
            self._nary(node, lname, _NARY[op])
        else:
            getattr(self, f"_op_{op.lower()}")(node, lname)

    def _static_node(self, node: onnx.NodeProto) -> None:
        """A node of constants only: record a Constant's value, mark the outputs static."""
        self.static.update(t for t in node.output if t)
        if node.op_type != "Constant" or node.domain not in _DEFAULT_DOMAINS:
            return
        for a in node.attribute:
            if a.name == "value":
                self.const[node.output[0]] = a.t
            elif a.name in ("value_float", "value_floats", "value_int", "value_ints"):
                dtype = np.float32 if "float" in a.name else np.int64
                array = np.asarray(onnx.helper.get_attribute_value(a), dtype=dtype)
                self.const[node.output[0]] = numpy_helper.from_array(array, node.output[0])

    def _unique(self, base: str) -> str:
        taken = self.shapes
        lname, k = base, 0
        while lname in taken:
            k += 1
            lname = f"{base}_{k}"
        return lname

    def _add(self, node: onnx.NodeProto, lname: str, kind: str, inputs, **attrs) -> None:
        """Append one layer for ``node``, resolve its shape and check it against ONNX's."""
        inputs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        layer = Layer(lname, kind, inputs, **attrs)
        out = layer_info(layer, [self.shapes[i] for i in inputs]).out_shape
        inferred = self._inferred_chw(node.output[0])
        if inferred is not None and inferred != out:
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} gives shape {out} as aimclib layer "
                f"{kind!r}, but ONNX shape inference says {inferred} (batch dropped)"
            )
        self.layers.append(layer)
        self.shapes[lname] = out
        self.alias[node.output[0]] = lname

    # ------------------------------------------------------------------------ tensors
    def _where(self, node: onnx.NodeProto) -> str:
        return f"{node.name!r} ({node.op_type})" if node.name else f"{node.op_type} (unnamed)"

    def _src(self, node: onnx.NodeProto, tensor: str) -> str:
        """The aimclib name that holds ONNX tensor ``tensor`` read by ``node``."""
        if tensor in self.alias:
            return self.alias[tensor]
        raise ModelFormatError(
            f"{self.path}: node {self._where(node)} reads tensor {tensor!r}, which is not the "
            f"graph input, a constant or an output of an earlier node that the importer maps "
            f"(ONNX nodes must be in topological order)"
        )

    def _data_inputs(self, node: onnx.NodeProto) -> list[str]:
        return [self._src(node, t) for t in node.input if t and t not in self.static]

    def _tensor_dims(self, node: onnx.NodeProto, tensor: str) -> list[int]:
        """Static dims of ``tensor`` from the initializer/constant or from shape inference."""
        if tensor in self.const:
            return [int(d) for d in self.const[tensor].dims]
        dims = self.dims.get(tensor)
        if dims is None or any(d is None for d in dims):
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)}: the shape of {tensor!r} is not known "
                f"statically (got {dims}); the importer needs it to size the layer"
            )
        return dims  # type: ignore[return-value]

    def _value(self, tensor: str) -> np.ndarray | None:
        """A constant's values if they are stored inside the file, else None."""
        t = self.const.get(tensor)
        if t is None or t.data_location == onnx.TensorProto.EXTERNAL:
            return None
        return numpy_helper.to_array(t)

    def _to_chw(self, dims: list[int | None] | None, what: str) -> Shape:
        """ONNX ``(N, C, H, W)`` -> ``(C, H, W)``, ``(N, n)`` -> ``(n, 1, 1)``; N 1 or symbolic."""
        shape = self._chw_or_none(dims)
        if shape is None:
            raise ModelFormatError(
                f"{self.path}: {what} has shape {dims}; the importer needs a static "
                f"(1, C, H, W) or (1, n) tensor (a symbolic batch dimension counts as 1)"
            )
        return shape

    @staticmethod
    def _chw_or_none(dims: list[int | None] | None) -> Shape | None:
        if dims is None or len(dims) not in (2, 4) or dims[0] not in (1, None):
            return None
        rest = dims[1:]
        if any(d is None or d < 1 for d in rest):
            return None
        return (rest[0], rest[1], rest[2]) if len(rest) == 3 else (rest[0], 1, 1)

    def _inferred_chw(self, tensor: str) -> Shape | None:
        return self._chw_or_none(self.dims.get(tensor))

    def _rank(self, node: onnx.NodeProto, tensor: str) -> int:
        dims = self.dims.get(tensor)
        if dims is None:
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)}: the rank of {tensor!r} is unknown, "
                f"so a negative axis cannot be resolved"
            )
        return len(dims)

    # ------------------------------------------------------------------------ operators
    def _constant_weight(self, node: onnx.NodeProto, op: str) -> list[int]:
        """Dims of the node's weight input, which must be a constant: a weight computed from
        the activations is not an MVM whose weights a tile can hold."""
        if node.input[1] not in self.static:
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)}: the {op} weight {node.input[1]!r} is "
                f"computed from the activations, not a constant (initializer or Constant); "
                f"only constant weights map onto tiles"
            )
        return self._tensor_dims(node, node.input[1])

    def _op_conv(self, node: onnx.NodeProto, lname: str) -> None:
        x = self._src(node, node.input[0])
        w = self._constant_weight(node, "Conv")
        if len(w) != 4:
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} has weight dims {w}; only 2-D "
                f"convolutions (weight rank 4) are supported"
            )
        groups = int(_attr(node, "group", 1))
        kernel = tuple(_attr(node, "kernel_shape", w[2:]))
        if list(kernel) != list(w[2:]):
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} has kernel_shape {list(kernel)} but "
                f"its weight dims {w} give a {w[2]}x{w[3]} kernel; the two must agree"
            )
        stride = tuple(_attr(node, "strides", [1, 1]))
        dilation = tuple(_attr(node, "dilations", [1, 1]))
        padding = self._padding(node, self.shapes[x], kernel, stride, dilation)
        bias = len(node.input) > 2 and bool(node.input[2])
        self._add(node, lname, "conv", x, out_channels=w[0], in_channels=w[1] * groups,
                  kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                  groups=groups, bias=bias)

    def _padding(self, node: onnx.NodeProto, shape: Shape, kernel, stride,
                 dilation) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) from ``pads`` or ``auto_pad`` (ONNX's SAME rule)."""
        auto_pad = _attr(node, "auto_pad", "NOTSET")
        if auto_pad == "NOTSET":
            pads = _attr(node, "pads", [0, 0, 0, 0])
            if len(pads) != 4:
                raise ModelFormatError(
                    f"{self.path}: node {self._where(node)} has pads {pads}; expected 4 "
                    f"values (top, left, bottom, right)"
                )
            return tuple(int(p) for p in pads)  # type: ignore[return-value]
        if auto_pad == "VALID":
            return (0, 0, 0, 0)
        if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} has auto_pad {auto_pad!r}; accepted: "
                f"NOTSET, VALID, SAME_UPPER, SAME_LOWER"
            )
        begin, end = [], []
        for size, k, s, d in zip(shape[1:], kernel, stride, dilation):
            out = -(-size // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
            small, big = total // 2, total - total // 2
            # SAME_UPPER puts the odd extra pixel at the end, SAME_LOWER at the beginning.
            begin.append(small if auto_pad == "SAME_UPPER" else big)
            end.append(big if auto_pad == "SAME_UPPER" else small)
        return (begin[0], begin[1], end[0], end[1])

    def _op_gemm(self, node: onnx.NodeProto, lname: str) -> None:
        if _attr(node, "transA", 0):
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} has transA=1; only transA=0 "
                f"(activations as rows) is supported"
            )
        b = self._constant_weight(node, "Gemm")
        if len(b) != 2:
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} has a weight of dims {b}; Gemm needs 2-D"
            )
        k, n = (b[1], b[0]) if _attr(node, "transB", 0) else (b[0], b[1])
        bias = len(node.input) > 2 and bool(node.input[2])
        self._add(node, lname, "linear", self._src(node, node.input[0]), out_channels=n,
                  in_channels=k, bias=bias)

    def _op_matmul(self, node: onnx.NodeProto, lname: str) -> None:
        a, b = node.input[0], node.input[1]
        b_dims = self._tensor_dims(node, b) if b in self.static else []
        if a in self.static or len(b_dims) != 2:
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)}: only MatMul of an activation by a "
                f"constant 2-D weight is supported (a linear layer); got inputs {a!r}, {b!r}"
            )
        self._add(node, lname, "linear", self._src(node, a), out_channels=b_dims[1],
                  in_channels=b_dims[0], bias=False)

    def _pool(self, node: onnx.NodeProto, lname: str, kind: str) -> None:
        x = self._src(node, node.input[0])
        kernel = _attr(node, "kernel_shape")
        if kernel is None or len(kernel) != 2:
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} has kernel_shape {kernel}; 2-D "
                f"pooling needs two values"
            )
        if any(d != 1 for d in _attr(node, "dilations", [1, 1])):
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} has dilations "
                f"{_attr(node, 'dilations')}; pooling is supported with dilation 1 only"
            )
        stride = tuple(_attr(node, "strides", [1, 1]))
        padding = self._padding(node, self.shapes[x], kernel, stride, (1, 1))
        self._add(node, lname, kind, x, kernel=tuple(kernel), stride=stride, padding=padding,
                  ceil_mode=bool(_attr(node, "ceil_mode", 0)))

    def _op_maxpool(self, node: onnx.NodeProto, lname: str) -> None:
        self._pool(node, lname, "maxpool")

    def _op_averagepool(self, node: onnx.NodeProto, lname: str) -> None:
        self._pool(node, lname, "avgpool")

    def _op_batchnormalization(self, node: onnx.NodeProto, lname: str) -> None:
        x = self._src(node, node.input[0])
        channels = self._tensor_dims(node, node.input[1])
        self._add(node, lname, "batchnorm", x, in_channels=channels[0] if channels else None)

    def _op_clip(self, node: onnx.NodeProto, lname: str) -> None:
        """ReLU6 when the bounds are exactly [0, 6], otherwise a general clip."""
        if self.opset < 11:
            lo, hi = _attr(node, "min", -math.inf), _attr(node, "max", math.inf)
        else:
            lo, hi = (self._bound(node, i, default) for i, default in
                      ((1, -math.inf), (2, math.inf)))
        kind = "relu6" if (lo, hi) == (0.0, 6.0) else "clip"
        self._add(node, lname, kind, self._src(node, node.input[0]))

    def _bound(self, node: onnx.NodeProto, i: int, default: float) -> float | None:
        """Clip bound input ``i``: its value, ``default`` when absent, None when unknown."""
        if len(node.input) <= i or not node.input[i]:
            return default
        value = self._value(node.input[i])
        return None if value is None or value.size != 1 else float(value.reshape(()))

    def _nary(self, node: onnx.NodeProto, lname: str, kind: str) -> None:
        data = self._data_inputs(node)
        if len(data) >= 2:
            self._add(node, lname, kind, data)
        elif len([t for t in node.input if t]) == 1:  # Sum of one tensor is that tensor
            self.alias[node.output[0]] = data[0]
        else:
            # An activation combined with a constant (a bias, a scale): one op per element.
            self._add(node, lname, "eltwise", data, target=self._changed(node, data[0]))

    def _changed(self, node: onnx.NodeProto, src: str) -> Shape | None:
        """The inferred output shape of ``node`` if it differs from ``src``'s, else None."""
        out = self._inferred_chw(node.output[0])
        return out if out is not None and out != self.shapes[src] else None

    def _op_concat(self, node: onnx.NodeProto, lname: str) -> None:
        axis = int(_attr(node, "axis", 1))
        if axis < 0:
            axis += self._rank(node, node.output[0])
        if axis != 1:
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} concatenates along axis "
                f"{_attr(node, 'axis')}; only the channel axis 1 is supported"
            )
        consts = [t for t in node.input if t in self.static]
        if consts:
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} concatenates constant tensors "
                f"{consts}; only activations can be concatenated"
            )
        self._add(node, lname, "concat", self._data_inputs(node))

    def _op_flatten(self, node: onnx.NodeProto, lname: str) -> None:
        axis = int(_attr(node, "axis", 1))
        if axis < 0:
            axis += self._rank(node, node.input[0])
        # With batch 1, axis 0 and axis 1 both give (1, C*H*W).
        if axis not in (0, 1):
            raise ModelFormatError(
                f"{self.path}: node {self._where(node)} flattens from axis "
                f"{_attr(node, 'axis')}; only axis 0 or 1 (keeping the batch) is supported"
            )
        self._add(node, lname, "flatten", self._src(node, node.input[0]))

    def _op_reshape(self, node: onnx.NodeProto, lname: str) -> None:
        x = self._src(node, node.input[0])
        target = self._to_chw(self.dims.get(node.output[0]),
                              f"the output of node {self._where(node)}")
        self._add(node, lname, "reshape", x, target=target)

    def _squeeze(self, node: onnx.NodeProto, lname: str) -> None:
        """(Un)squeezing unit dims keeps the aimclib shape (a pure alias); else a reshape."""
        x = self._src(node, node.input[0])
        if self._inferred_chw(node.output[0]) == self.shapes[x]:
            self.alias[node.output[0]] = x
        else:
            self._op_reshape(node, lname)

    _op_squeeze = _squeeze
    _op_unsqueeze = _squeeze

    def _op_lrn(self, node: onnx.NodeProto, lname: str) -> None:
        size = _attr(node, "size")
        if size is None:
            raise ModelFormatError(f"{self.path}: node {self._where(node)} has no size")
        self._add(node, lname, "lrn", self._src(node, node.input[0]), kernel=(int(size), 1))

    def _unknown(self, node: onnx.NodeProto, lname: str) -> None:
        op = node.op_type if node.domain in _DEFAULT_DOMAINS else f"{node.domain}:{node.op_type}"
        if self.unknown_ops == "error":
            raise ModelFormatError(
                f"{self.path}: node {node.name or lname!r} has op type {op!r}, which the ONNX "
                f"importer does not support; supported ops: {', '.join(SUPPORTED_OPS)}; "
                f"pass unknown_ops='eltwise' to import it as element-wise work"
            )
        data = self._data_inputs(node)
        out = self._inferred_chw(node.output[0])
        if out is None:
            raise ModelFormatError(
                f"{self.path}: cannot import node {node.name or lname!r} (op {op!r}) as "
                f"element-wise work: ONNX shape inference gives its output shape as "
                f"{self.dims.get(node.output[0])}, not a static (1, C, H, W) or (1, n)"
            )
        warnings.warn(
            f"ONNX node {node.name or lname!r}: unsupported op {op!r} imported as an 'eltwise' "
            f"layer (1 core op per output element, output shape {out})",
            stacklevel=5,
        )
        self._add(node, lname, "eltwise", data, target=self._changed(node, data[0]))
