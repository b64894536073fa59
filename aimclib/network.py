"""A network: a DAG of named layers with shapes propagated from its input (batch 1).

Layers are kept in execution order (a topological order of the DAG: every layer's inputs are
the network input or layers listed before it). Building a :class:`Network` resolves every
layer's shapes and counts once; a shape that does not fit raises :class:`ShapeError` naming
the layer and the shapes involved.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from .errors import NetworkError
from .layers import Layer, LayerInfo, Shape, layer_info

INPUT = "input"
"""Default name of a network's input tensor."""


def _check_shape(shape, what: str) -> Shape:
    try:
        c, h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise NetworkError(f"{what} must be (channels, height, width), got {shape!r}") from None
    if min(c, h, w) < 1:
        raise NetworkError(f"{what} must be positive, got {(c, h, w)}")
    return (c, h, w)


class Network:
    """A CNN as a DAG of :class:`~aimclib.layers.Layer` in execution order.

    Args:
        name: the network's name (e.g. ``"resnet50"``).
        input_shape: ``(C, H, W)`` of the single input tensor, batch 1.
        layers: the layers in execution order.
        input_name: the name layers use to read the network input.
    """

    def __init__(
        self,
        name: str,
        input_shape: Sequence[int],
        layers: Sequence[Layer],
        input_name: str = INPUT,
    ) -> None:
        self.name = str(name)
        self.input_shape: Shape = _check_shape(input_shape, f"network {name!r}: input_shape")
        self.input_name = input_name
        self.layers: tuple[Layer, ...] = tuple(layers)
        if not self.layers:
            raise NetworkError(f"network {name!r} has no layers")
        shapes: dict[str, Shape] = {input_name: self.input_shape}
        infos = []
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise NetworkError(f"network {name!r}: expected Layer objects, got {layer!r}")
            if layer.name in shapes:
                raise NetworkError(f"network {name!r}: duplicate layer name {layer.name!r}")
            missing = [i for i in layer.inputs if i not in shapes]
            if missing:
                raise NetworkError(
                    f"network {name!r}: layer {layer.name!r} reads {missing}, which is neither "
                    f"the input {input_name!r} nor a layer listed before it"
                )
            info = layer_info(layer, [shapes[i] for i in layer.inputs])
            shapes[layer.name] = info.out_shape
            infos.append(info)
        self.info: tuple[LayerInfo, ...] = tuple(infos)
        self._index = {layer.name: i for i, layer in enumerate(self.layers)}

    # --------------------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[LayerInfo]:
        return iter(self.info)

    def __getitem__(self, name: str) -> LayerInfo:
        try:
            return self.info[self._index[name]]
        except KeyError:
            raise NetworkError(f"network {self.name!r} has no layer {name!r}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return (self.name, self.input_shape, self.input_name, self.layers) == (
            other.name, other.input_shape, other.input_name, other.layers)

    def __hash__(self) -> int:
        # Hashed on every simulate() call (the workload cache is keyed by the network): a
        # network is not changed after it is built, so its hash is computed once.
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.name, self.input_shape, self.input_name, self.layers))
            self._hash = cached
        return cached

    def __getstate__(self) -> dict:
        # string hashes differ between processes: never ship the cached hash to a worker
        state = dict(self.__dict__)
        state.pop("_hash", None)
        return state

    def __repr__(self) -> str:
        return (f"Network({self.name!r}, input_shape={self.input_shape}, layers={len(self)}, "
                f"mvm_layers={self.mvm_layers}, mvm_weights={self.mvm_weights})")

    @property
    def input_hw(self) -> tuple[int, int]:
        """Input height and width in pixels."""
        return self.input_shape[1], self.input_shape[2]

    @property
    def mvm(self) -> tuple[LayerInfo, ...]:
        """The conv and linear layers, in execution order."""
        return tuple(i for i in self.info if i.layer.is_mvm)

    def predecessors(self, name: str) -> tuple[str, ...]:
        """Names of the layers ``name`` reads (the network input is left out)."""
        return tuple(i for i in self[name].layer.inputs if i != self.input_name)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Layers whose result no other layer reads (the network's outputs)."""
        read = {i for layer in self.layers for i in layer.inputs}
        return tuple(layer.name for layer in self.layers if layer.name not in read)

    # --------------------------------------------------------------------------- totals
    @property
    def mvm_layers(self) -> int:
        """Number of conv and linear layers."""
        return sum(1 for i in self.info if i.layer.is_mvm)

    @property
    def mvm_weights(self) -> int:
        """Conv and linear weights (biases excluded): what AIMC tiles would hold."""
        return sum(i.weights for i in self.info)

    @property
    def total_params(self) -> int:
        """Learnable parameters: MVM weights, biases and batch-norm scale and shift."""
        return sum(i.params for i in self.info)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of all conv and linear layers."""
        return sum(i.macs for i in self.info)

    @property
    def eltwise_ops(self) -> int:
        """Scalar core operations of all non-MVM work (and MVM bias adds)."""
        return sum(i.eltwise_ops for i in self.info)

    def summary(self) -> dict:
        """The network's headline numbers as a JSON-friendly dict."""
        w = self.mvm_weights
        return {
            "name": self.name,
            "input_hw": list(self.input_hw),
            "layers": len(self),
            "mvm_layers": self.mvm_layers,
            "mvm_weights": w,
            "total_params": self.total_params,
            "macs": self.macs,
            "macs_per_weight": self.macs / w if w else 0.0,
            "eltwise_ops": self.eltwise_ops,
        }

    def layer_records(self) -> list[dict]:
        """One dict per layer in execution order (the ``aimc inspect --json`` contract).

        Linear layers report ``kh = kw = stride = hin = win = hout = wout = 1``.
        """
        rows = []
        for i in self.info:
            layer = i.layer
            cin, hin, win = i.in_shapes[0]
            cout, hout, wout = i.out_shape
            kh, kw = layer.kernel
            if layer.kind == "linear":
                kh = kw = hin = win = hout = wout = 1
                stride = 1
            else:
                stride = layer.stride[0] if layer.stride[0] == layer.stride[1] else list(
                    layer.stride)
            rows.append({
                "name": layer.name,
                "kind": layer.kind,
                "inputs": list(layer.inputs),
                "cin": cin,
                "cout": cout,
                "kh": kh,
                "kw": kw,
                "stride": stride,
                "groups": layer.groups,
                "hin": hin,
                "win": win,
                "hout": hout,
                "wout": wout,
                "weights": i.weights,
                "biases": i.biases,
                "params": i.params,
                "macs": i.macs,
                "gemm_m": i.m,
                "gemm_k": i.k,
                "gemm_n": i.n,
                "eltwise_ops": i.eltwise_ops,
            })
        return rows

    def to_frame(self, bits: int = 8) -> pd.DataFrame:
        """Per-layer table: shapes, GEMM view, counts and tensor sizes at ``bits`` per element."""
        df = pd.DataFrame(self.layer_records())
        df["in_bytes"] = np.array([i.in_bytes(bits) for i in self.info])
        df["out_bytes"] = np.array([i.out_bytes(bits) for i in self.info])
        df["weight_bytes"] = np.array([i.weight_bytes(bits) for i in self.info])
        df["macs_per_weight"] = np.where(df["weights"] > 0,
                                         df["macs"] / df["weights"].where(df["weights"] > 0, 1),
                                         0.0)
        return df


class NetworkBuilder:
    """Builds a :class:`Network` layer by layer, checking shapes as it goes.

    Each method adds one layer and returns its name, to be passed as the input of later
    layers. Names are ``scope.local`` where ``local`` is given or generated (``relu``,
    ``relu_1``, ...). Shapes are resolved immediately, so a mistake fails on the line that
    made it.
    """

    def __init__(self, name: str, input_shape: Sequence[int], input_name: str = INPUT) -> None:
        self.name = name
        self.input_name = input_name
        self.input_shape = _check_shape(input_shape, f"network {name!r}: input_shape")
        self._layers: list[Layer] = []
        self._shapes: dict[str, Shape] = {input_name: self.input_shape}
        self._prefix: list[str] = []
        self.input = input_name

    @contextlib.contextmanager
    def scope(self, prefix: str):
        """Prefix names of the layers added inside the ``with`` block by ``prefix.``."""
        self._prefix.append(prefix)
        try:
            yield self
        finally:
            self._prefix.pop()

    def shape(self, x: str) -> Shape:
        """The shape of tensor ``x`` built so far."""
        return self._shapes[x]

    def _name(self, local: str | None, kind: str) -> str:
        base = ".".join([*self._prefix, local or kind])
        if local is not None:
            return base
        name, i = base, 0
        while name in self._shapes:
            i += 1
            name = f"{base}_{i}"
        return name

    def add(self, kind: str, inputs: str | Sequence[str], name: str | None = None, **attrs) -> str:
        """Add a layer of ``kind`` reading ``inputs``; returns its name."""
        inputs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        lname = self._name(name, kind)
        if lname in self._shapes:
            raise NetworkError(f"network {self.name!r}: duplicate layer name {lname!r}")
        layer = Layer(lname, kind, inputs, **attrs)
        for i in inputs:
            if i not in self._shapes:
                raise NetworkError(f"network {self.name!r}: layer {lname!r} reads unknown {i!r}")
        info = layer_info(layer, [self._shapes[i] for i in inputs])
        self._layers.append(layer)
        self._shapes[lname] = info.out_shape
        return lname

    def conv(self, x: str, out_channels: int, kernel, stride=1, padding=0, groups: int = 1,
             bias: bool = False, dilation=1, name: str | None = None) -> str:
        """2-D convolution; input channels are taken from ``x`` and recorded for checking."""
        return self.add("conv", x, name, out_channels=out_channels,
                        in_channels=self.shape(x)[0], kernel=kernel, stride=stride,
                        padding=padding, groups=groups, bias=bias, dilation=dilation)

    def linear(self, x: str, out_features: int, bias: bool = True, name: str | None = None) -> str:
        """Fully-connected layer on a flattened input."""
        return self.add("linear", x, name, out_channels=out_features,
                        in_channels=self.shape(x)[0], bias=bias)

    def bn(self, x: str, name: str | None = None) -> str:
        """Batch normalisation over the channels of ``x``."""
        return self.add("batchnorm", x, name, in_channels=self.shape(x)[0])

    def act(self, kind: str, x: str, name: str | None = None) -> str:
        """An activation of ``kind`` (relu, relu6, sigmoid, silu, hardswish, ...)."""
        return self.add(kind, x, name)

    def maxpool(self, x: str, kernel, stride=None, padding=0, ceil_mode: bool = False,
                name: str | None = None) -> str:
        return self.add("maxpool", x, name, kernel=kernel,
                        stride=kernel if stride is None else stride, padding=padding,
                        ceil_mode=ceil_mode)

    def avgpool(self, x: str, kernel, stride=None, padding=0, ceil_mode: bool = False,
                name: str | None = None) -> str:
        return self.add("avgpool", x, name, kernel=kernel,
                        stride=kernel if stride is None else stride, padding=padding,
                        ceil_mode=ceil_mode)

    def adaptive_avgpool(self, x: str, output_hw, name: str | None = None) -> str:
        """Adaptive average pooling to ``output_hw``; (1, 1) is global average pooling."""
        if tuple(output_hw) == (1, 1):
            return self.add("globalavgpool", x, name)
        return self.add("adaptiveavgpool", x, name, output_hw=tuple(output_hw))

    def join(self, kind: str, xs: Sequence[str], name: str | None = None) -> str:
        """An n-ary layer: ``add``, ``mul`` or ``concat`` (along channels)."""
        return self.add(kind, tuple(xs), name)

    def flatten(self, x: str, name: str | None = None) -> str:
        return self.add("flatten", x, name)

    def dropout(self, x: str, name: str | None = None) -> str:
        return self.add("dropout", x, name)

    def build(self) -> Network:
        """The finished :class:`Network`."""
        return Network(self.name, self.input_shape, self._layers, self.input_name)

