"""Layers of a CNN and the cost-relevant counts each one carries.

A layer is a frozen :class:`Layer` record: its kind, the names of its inputs and the handful of
hyper-parameters that decide its shapes. Shapes are feature maps ``(C, H, W)`` for batch 1;
a flattened vector of length ``n`` is ``(n, 1, 1)``.

Convolutions and linear layers are *MVM layers*: each is a GEMM per group,
``M`` output positions x ``K`` fan-in x ``N`` outputs, repeated for ``G`` groups. Everything
else is *element-wise work* for the cores, counted in scalar operations per output element by
the table :data:`ELTWISE_OPS_PER_OUTPUT` (a stated assumption, see ``docs/model.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import LayerSpecError, LimitError, ShapeError
from .validation import MAX_LAYER_WEIGHTS, MAX_TENSOR_ELEMENTS

Shape = tuple[int, int, int]
"""A batch-1 tensor shape ``(channels, height, width)``."""

MVM_KINDS = ("conv", "linear")
"""Layer kinds whose work is matrix-vector multiplication (mappable onto AIMC tiles)."""

POOL_KINDS = ("maxpool", "avgpool", "globalavgpool", "globalmaxpool", "adaptiveavgpool")
ACTIVATION_KINDS = ("relu", "relu6", "clip", "sigmoid", "silu", "hardswish", "hardsigmoid", "tanh")
ELEMENTWISE_KINDS = ("add", "mul")
OTHER_KINDS = ("batchnorm", "concat", "flatten", "reshape", "softmax", "lrn", "dropout",
               "eltwise")

KINDS = MVM_KINDS + POOL_KINDS + ACTIVATION_KINDS + ELEMENTWISE_KINDS + OTHER_KINDS
"""Every layer kind the network model knows."""

# Scalar operations per output element that a core executes for each non-MVM kind. These are
# an assumption of the model (a plain C/NEON implementation's arithmetic and comparison count),
# stated in docs/model.md; pooling, n-ary and LRN kinds depend on their parameters and are
# computed in Layer.eltwise_ops_per_output.
ELTWISE_OPS_PER_OUTPUT: dict[str, int] = {
    "relu": 1,  # max(x, 0)
    "relu6": 2,  # min(max(x, 0), 6)
    "clip": 2,  # min(max(x, lo), hi)
    "sigmoid": 4,  # negate, exp, add 1, divide
    "tanh": 5,  # two exps folded into one, add, subtract, divide (approximation count)
    "silu": 5,  # x * sigmoid(x)
    "hardswish": 5,  # x * min(max(x + 3, 0), 6) / 6
    "hardsigmoid": 4,  # min(max(x + 3, 0), 6) / 6
    "batchnorm": 2,  # inference BN folded to one scale and one shift
    "softmax": 3,  # exp, running sum, divide
    "concat": 0,  # data movement only
    "flatten": 0,
    "reshape": 0,
    "dropout": 0,  # identity at inference
    "eltwise": 1,  # an operator the model has no kind for (ONNX import opt-in): one op each
}

_N_ARY = ("add", "mul", "concat", "eltwise")


def _pair(value, what: str, name: str) -> tuple[int, int]:
    """Normalise an int or a pair of ints to a pair, with a clear error naming the layer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise LayerSpecError(
            f"layer {name!r}: {what} must be an int or a pair of ints, got {value!r}"
        ) from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (a, b)):
        raise LayerSpecError(f"layer {name!r}: {what} must be integers, got {value!r}")
    return (int(a), int(b))


def _pads(value, name: str) -> tuple[int, int, int, int]:
    """Padding as ``(top, left, bottom, right)`` from an int, a (h, w) pair or a 4-tuple."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value, value, value)
    vals = tuple(value) if isinstance(value, (tuple, list)) else None
    if vals is not None and len(vals) == 2:
        return (vals[0], vals[1], vals[0], vals[1])
    if vals is not None and len(vals) == 4:
        return tuple(vals)  # type: ignore[return-value]
    raise LayerSpecError(
        f"layer {name!r}: padding must be an int, (h, w) or (top, left, bottom, right); "
        f"got {value!r}"
    )


def _out_len(size: int, k: int, s: int, p0: int, p1: int, d: int, ceil_mode: bool) -> int:
    """Output length of a sliding window (PyTorch's rule, including ceil_mode's last-window fix)."""
    span = size + p0 + p1 - d * (k - 1) - 1
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // s) + 1
        # PyTorch drops a last window that would start entirely inside the right padding.
        if (out - 1) * s >= size + p0:
            out -= 1
        return out
    return span // s + 1


@dataclass(frozen=True)
class Layer:
    """One layer of a network (batch 1).

    Attributes:
        name: unique name within the network.
        kind: one of :data:`KINDS`.
        inputs: names of the layers (or the network input) this layer reads, in order.
        out_channels: conv: output channels; linear: output features. Unused otherwise.
        in_channels: conv: expected input channels; linear: expected input features.
            ``None`` takes it from the input shape; a value is checked against it.
        kernel: (kh, kw) window of conv and pooling layers; LRN: (size, 1).
        stride: (sh, sw) of conv and pooling layers.
        padding: (top, left, bottom, right) zero padding of conv and pooling layers.
        dilation: (dh, dw) of conv layers.
        groups: conv groups (1 = dense, ``in_channels`` = depthwise).
        bias: whether a conv/linear layer has a bias vector.
        ceil_mode: pooling output size rounds up (PyTorch ``ceil_mode=True``).
        output_hw: adaptive average pooling's output size (oh, ow).
        target: reshape's output shape (C, H, W); its element count must equal the input's.
            eltwise: the output shape when it differs from the first input's (else None).
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    out_channels: int = 0
    in_channels: int | None = None
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = False
    ceil_mode: bool = False
    output_hw: tuple[int, int] | None = None
    target: Shape | None = None

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name:
            raise LayerSpecError(f"layer name must be a non-empty string, got {name!r}")
        if self.kind not in KINDS:
            raise LayerSpecError(
                f"layer {name!r}: unknown kind {self.kind!r}; known kinds: {', '.join(KINDS)}"
            )
        inputs = (self.inputs,) if isinstance(self.inputs, str) else tuple(self.inputs)
        if not inputs or not all(isinstance(i, str) and i for i in inputs):
            raise LayerSpecError(f"layer {name!r}: inputs must be non-empty names, got {inputs!r}")
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "kernel", _pair(self.kernel, "kernel", name))
        object.__setattr__(self, "stride", _pair(self.stride, "stride", name))
        object.__setattr__(self, "dilation", _pair(self.dilation, "dilation", name))
        object.__setattr__(self, "padding", tuple(int(p) for p in _pads(self.padding, name)))
        if self.output_hw is not None:
            object.__setattr__(self, "output_hw", _pair(self.output_hw, "output_hw", name))
        if self.target is not None:
            object.__setattr__(self, "target", tuple(int(t) for t in self.target))
        self._check_values()

    def _check_values(self) -> None:
        name, kind = self.name, self.kind
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise LayerSpecError(
                f"layer {name!r}: kernel, stride and dilation must be >= 1, got kernel="
                f"{self.kernel}, stride={self.stride}, dilation={self.dilation}"
            )
        if min(self.padding) < 0:
            raise LayerSpecError(f"layer {name!r}: padding must be >= 0, got {self.padding}")
        if self.groups < 1:
            raise LayerSpecError(f"layer {name!r}: groups must be >= 1, got {self.groups}")
        if kind in MVM_KINDS:
            if self.out_channels < 1:
                raise LayerSpecError(
                    f"layer {name!r}: a {kind} layer needs out_channels >= 1, "
                    f"got {self.out_channels}"
                )
            if self.in_channels is not None and self.in_channels < 1:
                raise LayerSpecError(
                    f"layer {name!r}: in_channels must be >= 1 or None, got {self.in_channels}"
                )
        if kind == "conv" and self.out_channels % self.groups:
            raise LayerSpecError(
                f"layer {name!r}: out_channels={self.out_channels} is not divisible by "
                f"groups={self.groups}"
            )
        if kind == "linear" and self.groups != 1:
            raise LayerSpecError(f"layer {name!r}: a linear layer has groups=1, got {self.groups}")
        if kind == "adaptiveavgpool" and (self.output_hw is None or min(self.output_hw) < 1):
            raise LayerSpecError(
                f"layer {name!r}: adaptiveavgpool needs output_hw=(oh, ow) >= 1, "
                f"got {self.output_hw}"
            )
        if kind == "reshape" and (self.target is None or len(self.target) != 3
                                  or min(self.target) < 1):
            raise LayerSpecError(
                f"layer {name!r}: reshape needs target=(C, H, W) >= 1, got {self.target}"
            )
        if kind == "eltwise" and self.target is not None and (
                len(self.target) != 3 or min(self.target) < 1):
            raise LayerSpecError(
                f"layer {name!r}: eltwise target must be None or (C, H, W) >= 1, "
                f"got {self.target}"
            )
        n_in = len(self.inputs)
        if kind in _N_ARY:
            if n_in < 2 and kind not in ("concat", "eltwise"):
                raise LayerSpecError(f"layer {name!r}: {kind} needs >= 2 inputs, got {n_in}")
        elif n_in != 1:
            raise LayerSpecError(f"layer {name!r}: {kind} takes 1 input, got {n_in}")

    @property
    def is_mvm(self) -> bool:
        """True for conv and linear layers (their weights can sit on AIMC tiles)."""
        return self.kind in MVM_KINDS

    # ----------------------------------------------------------------------------- shapes
    def output_shape(self, in_shapes: list[Shape]) -> Shape:
        """The output shape for the given input shapes; :class:`ShapeError` if they do not fit."""
        kind = self.kind
        if kind == "conv":
            return self._conv_shape(in_shapes[0])
        if kind == "linear":
            return self._linear_shape(in_shapes[0])
        if kind in ("maxpool", "avgpool"):
            c, h, w = in_shapes[0]
            (kh, kw), (sh, sw), (pt, pl, pb, pr) = self.kernel, self.stride, self.padding
            if 2 * max(pt, pb) > kh or 2 * max(pl, pr) > kw:
                raise ShapeError(
                    f"layer {self.name!r}: pooling padding {self.padding} exceeds half the "
                    f"kernel {self.kernel}"
                )
            oh = _out_len(h, kh, sh, pt, pb, 1, self.ceil_mode)
            ow = _out_len(w, kw, sw, pl, pr, 1, self.ceil_mode)
            return self._positive((c, oh, ow), in_shapes[0])
        if kind in ("globalavgpool", "globalmaxpool"):
            return (in_shapes[0][0], 1, 1)
        if kind == "adaptiveavgpool":
            return (in_shapes[0][0], *self.output_hw)  # type: ignore[misc]
        if kind in ("add", "mul"):
            return self._broadcast(in_shapes)
        if kind == "concat":
            return self._concat(in_shapes)
        if kind == "eltwise":
            return self.target if self.target is not None else in_shapes[0]
        if kind == "flatten":
            c, h, w = in_shapes[0]
            return (c * h * w, 1, 1)
        if kind == "reshape":
            if math.prod(self.target) != math.prod(in_shapes[0]):  # type: ignore[arg-type]
                raise ShapeError(
                    f"layer {self.name!r}: cannot reshape input {in_shapes[0]} "
                    f"({math.prod(in_shapes[0])} elements) to {self.target}"
                )
            return self.target  # type: ignore[return-value]
        if kind == "batchnorm" and self.in_channels is not None and (
            self.in_channels != in_shapes[0][0]
        ):
            raise ShapeError(
                f"layer {self.name!r}: batchnorm over {self.in_channels} channels got input "
                f"{in_shapes[0]}"
            )
        # batchnorm, activations, softmax, lrn, dropout keep the shape
        return in_shapes[0]

    def _positive(self, out: Shape, in_shape: Shape) -> Shape:
        if min(out) < 1:
            raise ShapeError(
                f"layer {self.name!r} ({self.kind}, kernel={self.kernel}, stride={self.stride}, "
                f"padding={self.padding}) gives an empty output {out} for input {in_shape}"
            )
        return out

    def _conv_shape(self, x: Shape) -> Shape:
        c, h, w = x
        expect = self.in_channels if self.in_channels is not None else c
        if expect != c:
            raise ShapeError(
                f"layer {self.name!r}: conv expects {expect} input channels, got input shape {x}"
            )
        if c % self.groups:
            raise ShapeError(
                f"layer {self.name!r}: input channels {c} of input {x} not divisible by "
                f"groups={self.groups}"
            )
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        pt, pl, pb, pr = self.padding
        oh = _out_len(h, kh, sh, pt, pb, dh, False)
        ow = _out_len(w, kw, sw, pl, pr, dw, False)
        return self._positive((self.out_channels, oh, ow), x)

    def _linear_shape(self, x: Shape) -> Shape:
        c, h, w = x
        if h != 1 or w != 1:
            raise ShapeError(
                f"layer {self.name!r}: linear needs a flattened input (n, 1, 1), got {x}; "
                f"add a flatten layer before it"
            )
        if self.in_channels is not None and self.in_channels != c:
            raise ShapeError(
                f"layer {self.name!r}: linear expects {self.in_channels} input features, "
                f"got input shape {x}"
            )
        return (self.out_channels, 1, 1)

    def _broadcast(self, shapes: list[Shape]) -> Shape:
        out = list(shapes[0])
        for s in shapes[1:]:
            for i in range(3):
                if out[i] == s[i] or s[i] == 1:
                    continue
                if out[i] == 1:
                    out[i] = s[i]
                    continue
                raise ShapeError(
                    f"layer {self.name!r}: {self.kind} cannot broadcast input shapes "
                    f"{shapes[0]} and {s}"
                )
        return tuple(out)  # type: ignore[return-value]

    def _concat(self, shapes: list[Shape]) -> Shape:
        h, w = shapes[0][1:]
        for s in shapes[1:]:
            if s[1:] != (h, w):
                raise ShapeError(
                    f"layer {self.name!r}: concat along channels needs equal spatial sizes, "
                    f"got {shapes[0]} and {s}"
                )
        return (sum(s[0] for s in shapes), h, w)

    # ----------------------------------------------------------------------------- counts
    def eltwise_ops_per_output(self, in_shapes: list[Shape], out: Shape) -> float:
        """Scalar core operations per output element for this layer (see module docstring)."""
        kind = self.kind
        if kind in MVM_KINDS:
            return 1.0 if self.bias else 0.0  # the bias add, done digitally after the MVM
        if kind in ("add", "mul"):
            return float(len(in_shapes) - 1)
        if kind == "maxpool":
            return float(self.kernel[0] * self.kernel[1] - 1)
        if kind == "avgpool":
            return float(self.kernel[0] * self.kernel[1])  # adds plus one scaling multiply
        if kind in ("globalavgpool", "globalmaxpool", "adaptiveavgpool"):
            c, h, w = in_shapes[0]
            return float(h * w) / float(out[1] * out[2])
        if kind == "lrn":
            return float(self.kernel[0] + 4)  # window of squares summed, scale, pow, divide
        return float(ELTWISE_OPS_PER_OUTPUT[kind])


@dataclass(frozen=True)
class LayerInfo:
    """A layer with its resolved shapes and cost-relevant counts (batch 1).

    For MVM layers the GEMM view per group is ``m`` output positions x ``k`` fan-in x ``n``
    outputs, ``g`` groups; ``weights = g*k*n``, ``macs = m*k*n*g``. For other layers
    ``m = k = n = g = weights = macs = 0``.
    """

    layer: Layer
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    m: int
    k: int
    n: int
    g: int
    weights: int
    biases: int
    params: int
    macs: int
    eltwise_ops: int
    in_elems: int
    out_elems: int

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def kind(self) -> str:
        return self.layer.kind

    def in_bytes(self, bits: int = 8) -> float:
        """Bytes read from the input tensors at ``bits`` per element."""
        return self.in_elems * bits / 8

    def out_bytes(self, bits: int = 8) -> float:
        """Bytes written to the output tensor at ``bits`` per element."""
        return self.out_elems * bits / 8

    def weight_bytes(self, bits: int = 8) -> float:
        """Bytes of MVM weights at ``bits`` per weight."""
        return self.weights * bits / 8


def layer_info(layer: Layer, in_shapes: list[Shape]) -> LayerInfo:
    """Resolve a layer's output shape and its counts for the given input shapes."""
    out = layer.output_shape(in_shapes)
    c_in = in_shapes[0][0]
    out_elems = math.prod(out)
    m = k = n = g = weights = biases = macs = 0
    params = 0
    if layer.kind == "conv":
        g = layer.groups
        m = out[1] * out[2]
        k = (c_in // g) * layer.kernel[0] * layer.kernel[1]
        n = layer.out_channels // g
    elif layer.kind == "linear":
        g, m, k, n = 1, 1, c_in, layer.out_channels
    if layer.is_mvm:
        weights = g * k * n
        macs = m * weights
        biases = layer.out_channels if layer.bias else 0
        params = weights + biases
    elif layer.kind == "batchnorm":
        params = 2 * c_in  # learnable scale and shift; running statistics are buffers
    if weights > MAX_LAYER_WEIGHTS:
        raise LimitError(f"layer {layer.name!r} ({layer.kind}) has {weights:,} weights, above "
                         f"aimclib's limit MAX_LAYER_WEIGHTS = {MAX_LAYER_WEIGHTS:,} "
                         f"(docs/limits.md)")
    for what, shape in (("outputs", out), *(("reads", s) for s in in_shapes)):
        if math.prod(shape) > MAX_TENSOR_ELEMENTS:
            raise LimitError(f"layer {layer.name!r} ({layer.kind}) {what} {shape} = "
                             f"{math.prod(shape):,} elements, above aimclib's limit "
                             f"MAX_TENSOR_ELEMENTS = {MAX_TENSOR_ELEMENTS:,} (docs/limits.md)")
    ops = layer.eltwise_ops_per_output(in_shapes, out) * out_elems
    return LayerInfo(
        layer=layer,
        in_shapes=tuple(in_shapes),
        out_shape=out,
        m=m,
        k=k,
        n=n,
        g=g,
        weights=weights,
        biases=biases,
        params=params,
        macs=macs,
        eltwise_ops=int(round(ops)),
        in_elems=sum(math.prod(s) for s in in_shapes),
        out_elems=out_elems,
    )
