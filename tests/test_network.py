"""The network model: layer shapes, counts and errors, checked against hand-computed cases."""

import pytest

from aimclib import Layer, Network, NetworkBuilder
from aimclib.errors import LayerSpecError, NetworkError, ShapeError
from aimclib.layers import KINDS, layer_info


def info(kind, shapes, **kw):
    return layer_info(Layer("l", kind, tuple(f"x{i}" for i in range(len(shapes))), **kw), shapes)


def test_conv_gemm_view_and_counts():
    # 3x3 conv, 64 -> 128, stride 2, pad 1 on 56x56: out 28x28; K = 64*9, N = 128.
    i = info("conv", [(64, 56, 56)], out_channels=128, kernel=3, stride=2, padding=1, bias=True)
    assert i.out_shape == (128, 28, 28)
    assert (i.m, i.k, i.n, i.g) == (784, 576, 128, 1)
    assert i.weights == 73728 and i.biases == 128 and i.params == 73856
    assert i.macs == 784 * 73728
    assert i.eltwise_ops == 128 * 784  # one bias add per output
    assert i.in_bytes(8) == 64 * 56 * 56 and i.out_bytes(16) == 2 * 128 * 784


def test_depthwise_and_grouped_conv():
    dw = info("conv", [(32, 112, 112)], out_channels=32, kernel=3, padding=1, groups=32)
    assert (dw.m, dw.k, dw.n, dw.g) == (112 * 112, 9, 1, 32)
    assert dw.weights == 288 and dw.macs == 288 * 112 * 112
    gr = info("conv", [(64, 8, 8)], out_channels=32, kernel=1, groups=4)
    assert (gr.k, gr.n, gr.g, gr.weights) == (16, 8, 4, 512)


def test_asymmetric_padding_dilation_and_ceil_mode():
    assert info("conv", [(8, 17, 17)], out_channels=8, kernel=(1, 7),
                padding=(0, 3)).out_shape == (8, 17, 17)
    assert info("conv", [(8, 10, 10)], out_channels=8, kernel=3, dilation=2).out_shape == (8, 6, 6)
    assert info("conv", [(8, 10, 10)], out_channels=8, kernel=3,
                padding=(1, 0, 0, 0)).out_shape == (8, 9, 8)
    # GoogLeNet's stem pool: 112 -> 56 with ceil_mode (floor would give 55).
    assert info("maxpool", [(64, 112, 112)], kernel=3, stride=2,
                ceil_mode=True).out_shape == (64, 56, 56)
    assert info("maxpool", [(64, 112, 112)], kernel=3, stride=2).out_shape == (64, 55, 55)
    # PyTorch drops a last window starting in the padding: 14 -> 7 for 2x2/2 ceil (not 8).
    assert info("maxpool", [(8, 14, 14)], kernel=2, stride=2,
                ceil_mode=True).out_shape == (8, 7, 7)


def test_linear_and_eltwise_counts():
    fc = info("linear", [(2048, 1, 1)], out_channels=1000, bias=True)
    assert (fc.m, fc.k, fc.n, fc.g, fc.weights, fc.macs) == (1, 2048, 1000, 1, 2048000, 2048000)
    assert info("relu", [(4, 2, 2)]).eltwise_ops == 16
    assert info("batchnorm", [(4, 2, 2)]).params == 8
    assert info("maxpool", [(4, 4, 4)], kernel=2, stride=2).eltwise_ops == 4 * 4 * 3
    assert info("globalavgpool", [(4, 7, 7)]).eltwise_ops == 4 * 49
    assert info("add", [(4, 2, 2)] * 3).eltwise_ops == 2 * 16
    assert info("mul", [(4, 2, 2), (4, 1, 1)]).out_shape == (4, 2, 2)
    assert info("concat", [(4, 2, 2), (6, 2, 2)]).out_shape == (10, 2, 2)
    assert info("flatten", [(4, 2, 2)]).out_shape == (16, 1, 1)
    assert info("reshape", [(4, 2, 2)], target=(2, 4, 2)).out_shape == (2, 4, 2)
    assert info("adaptiveavgpool", [(4, 14, 14)], output_hw=(7, 7)).out_shape == (4, 7, 7)


@pytest.mark.parametrize("kind,shapes,kw,words", [
    ("conv", [(3, 8, 8)], dict(out_channels=4, in_channels=4, kernel=3), ["'l'", "(3, 8, 8)", "4"]),
    ("conv", [(3, 2, 2)], dict(out_channels=4, kernel=5), ["'l'", "empty output", "(3, 2, 2)"]),
    ("conv", [(6, 8, 8)], dict(out_channels=4, groups=4), ["groups=4"]),
    ("linear", [(8, 2, 2)], dict(out_channels=4), ["'l'", "(8, 2, 2)", "flatten"]),
    ("linear", [(8, 1, 1)], dict(out_channels=4, in_channels=9), ["9", "(8, 1, 1)"]),
    ("add", [(4, 2, 2), (5, 2, 2)], {}, ["(4, 2, 2)", "(5, 2, 2)"]),
    ("concat", [(4, 2, 2), (4, 3, 3)], {}, ["(4, 2, 2)", "(4, 3, 3)"]),
    ("reshape", [(4, 2, 2)], dict(target=(3, 1, 1)), ["(4, 2, 2)", "(3, 1, 1)"]),
])
def test_shape_errors_name_layer_and_shapes(kind, shapes, kw, words):
    with pytest.raises(ShapeError) as e:
        info(kind, shapes, **kw)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("kw,words", [
    (dict(kind="nope"), ["unknown kind", "'nope'", "conv"]),
    (dict(kind="conv", out_channels=0), ["out_channels"]),
    (dict(kind="conv", out_channels=4, kernel=0), ["kernel"]),
    (dict(kind="conv", out_channels=4, padding=-1), ["padding"]),
    (dict(kind="conv", out_channels=6, groups=4), ["divisible"]),
    (dict(kind="conv", out_channels=4, kernel="3"), ["kernel"]),
    (dict(kind="relu", inputs=("a", "b")), ["1 input"]),
    (dict(kind="add", inputs=("a",)), [">= 2 inputs"]),
    (dict(kind="adaptiveavgpool"), ["output_hw"]),
])
def test_layer_spec_errors(kw, words):
    kw = {"inputs": ("x",), **kw}
    with pytest.raises(LayerSpecError) as e:
        Layer("bad", **kw)
    assert "'bad'" in str(e.value) or kw["kind"] == "nope"
    for w in words:
        assert w in str(e.value)


def test_network_errors():
    conv = Layer("c", "conv", ("input",), out_channels=4, kernel=1)
    with pytest.raises(NetworkError, match="duplicate layer name 'c'"):
        Network("n", (3, 4, 4), [conv, conv])
    with pytest.raises(NetworkError, match="reads \\['later'\\]"):
        Network("n", (3, 4, 4), [Layer("r", "relu", ("later",)), Layer("later", "relu", ("input",))])
    with pytest.raises(NetworkError, match="no layers"):
        Network("n", (3, 4, 4), [])
    with pytest.raises(NetworkError, match="input_shape"):
        Network("n", (3, 0, 4), [conv])


def test_builder_dag_totals_and_records():
    b = NetworkBuilder("tiny", (3, 8, 8))
    x = b.conv(b.input, 4, 3, padding=1, name="c1")
    y = b.conv(x, 4, 1, name="c2")
    z = b.join("add", [x, y], name="sum")
    f = b.flatten(b.adaptive_avgpool(z, (1, 1)))
    b.linear(f, 10, name="fc")
    net = b.build()
    assert net.mvm_layers == 3
    assert net.mvm_weights == 3 * 9 * 4 + 4 * 4 + 4 * 10
    assert net.macs == 108 * 64 + 16 * 64 + 40
    assert net.total_params == net.mvm_weights + 10  # the linear bias
    assert net.predecessors("sum") == ("c1", "c2") and net.outputs == ("fc",)
    rec = {r["name"]: r for r in net.layer_records()}
    assert rec["fc"]["kh"] == rec["fc"]["hin"] == rec["fc"]["wout"] == rec["fc"]["stride"] == 1
    assert rec["c1"]["hout"] == 8 and rec["sum"]["inputs"] == ["c1", "c2"]
    df = net.to_frame()
    assert list(df["name"]) == [layer.name for layer in net.layers]
    assert net == b.build() and hash(net) == hash(b.build())
    with pytest.raises(ShapeError, match="'bad'"):
        b.linear(z, 3, name="bad")


def test_every_kind_is_constructible():
    shapes = {"add": 2, "mul": 2, "concat": 2}
    extra = {"conv": dict(out_channels=2), "linear": dict(out_channels=2),
             "adaptiveavgpool": dict(output_hw=(1, 1)), "reshape": dict(target=(8, 1, 1)),
             "maxpool": dict(kernel=2, stride=2), "avgpool": dict(kernel=2, stride=2)}
    for kind in KINDS:
        n = shapes.get(kind, 1)
        in_shape = (8, 1, 1) if kind == "linear" else (2, 2, 2)
        i = info(kind, [in_shape] * n, **extra.get(kind, {}))
        assert min(i.out_shape) >= 1 and i.eltwise_ops >= 0
