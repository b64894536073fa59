"""Tests of the ONNX importer: third-party files without weights and small synthetic graphs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from aimclib.errors import ModelFormatError, ShapeError
from aimclib.loading import load_network
from aimclib.onnx_import import SUPPORTED_OPS, read_onnx

HERE = Path(__file__).resolve().parent
SHARED_ONNX = HERE.parents[1] / "shared" / "third_party_onnx"
REFERENCE = json.loads((HERE / "data" / "torchvision_reference.json").read_text())

needs_shared = pytest.mark.skipif(
    not SHARED_ONNX.is_dir(),
    reason=f"third-party ONNX files not present at {SHARED_ONNX} (the project's shared/ folder "
           f"sits beside the checkout on the project's machines)",
)

_MVM_FIELDS = ("cin", "cout", "kh", "kw", "sh", "sw", "ph", "pw", "groups", "hin", "win",
               "hout", "wout", "weights", "macs")


def _mvm_rows(net) -> list[dict]:
    """The conv/linear layers of ``net`` in the reference JSON's terms, in execution order."""
    rows = []
    for info in net.mvm:
        layer = info.layer
        top, left, bottom, right = layer.padding
        assert (top, left) == (bottom, right), f"{layer.name}: asymmetric padding"
        cin, hin, win = info.in_shapes[0]
        cout, hout, wout = info.out_shape
        rows.append(dict(cin=cin, cout=cout, kh=layer.kernel[0], kw=layer.kernel[1],
                         sh=layer.stride[0], sw=layer.stride[1], ph=top, pw=left,
                         groups=layer.groups, hin=hin, win=win, hout=hout, wout=wout,
                         weights=info.weights, macs=info.macs))
    return rows


def _reference_rows(network: str) -> list[dict]:
    return [{k: row[k] for k in _MVM_FIELDS} for row in REFERENCE[network]["layers"]]


def _assert_rows_equal(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"MVM layer {i} differs"


# ------------------------------------------------------------------------- third-party files
@needs_shared
@pytest.mark.parametrize("stem, input_name, mvm_layers, kinds", [
    ("zigzag_alexnet", "data_0", 8, {"conv": 5, "linear": 3, "lrn": 2, "maxpool": 3,
                                     "relu": 7, "reshape": 1, "softmax": 1}),
    ("zigzag_mobilenetv2", "input.1", 53, {"conv": 52, "linear": 1, "relu6": 35, "add": 10,
                                           "globalavgpool": 1, "flatten": 1}),
    ("zigzag_resnet18", "input.1", 21, {"conv": 20, "linear": 1, "relu": 17, "add": 8,
                                        "maxpool": 1, "globalavgpool": 1, "flatten": 1}),
])
def test_third_party_files_import_without_weights(stem, input_name, mvm_layers, kinds):
    net = read_onnx(SHARED_ONNX / f"{stem}.onnx")
    assert net.name == stem
    assert net.input_name == input_name
    assert net.input_shape == (3, 224, 224)
    assert net.mvm_layers == mvm_layers
    counts: dict[str, int] = {}
    for layer in net.layers:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
    assert counts == kinds
    assert [net[o].out_shape for o in net.outputs] == [(1000, 1, 1)]


@needs_shared
@pytest.mark.parametrize("stem, reference", [
    ("zigzag_resnet18", "resnet18"),
    ("zigzag_mobilenetv2", "mobilenet_v2"),
])
def test_third_party_files_match_torchvision_reference(stem, reference):
    net = read_onnx(SHARED_ONNX / f"{stem}.onnx")
    _assert_rows_equal(_mvm_rows(net), _reference_rows(reference))
    assert net.mvm_weights == REFERENCE[reference]["mvm_weights"]
    assert net.macs == REFERENCE[reference]["macs"]
    # Batch-norm was folded into the convolutions before export: every conv carries a bias.
    assert all(info.layer.bias for info in net.mvm)


@needs_shared
@pytest.mark.parametrize("stem, zoo_module, zoo_name", [
    ("zigzag_resnet18", "aimclib.zoo.resnet", "resnet18"),
    ("zigzag_mobilenetv2", "aimclib.zoo.mobilenet", "mobilenet_v2"),
])
def test_third_party_files_match_zoo(stem, zoo_module, zoo_name):
    pytest.importorskip(zoo_module, reason=f"{zoo_module} is not written yet")
    from aimclib.zoo import get_network

    net = read_onnx(SHARED_ONNX / f"{stem}.onnx")
    zoo = get_network(zoo_name)
    _assert_rows_equal(_mvm_rows(net), _mvm_rows(zoo))
    assert (net.mvm_weights, net.macs) == (zoo.mvm_weights, zoo.macs)


@needs_shared
def test_alexnet_layers():
    net = read_onnx(SHARED_ONNX / "zigzag_alexnet.onnx")
    convs = [i for i in net.mvm if i.kind == "conv"]
    assert [i.out_shape for i in convs] == [(96, 54, 54), (256, 26, 26), (384, 12, 12),
                                           (384, 12, 12), (256, 12, 12)]
    assert [i.layer.groups for i in convs] == [1, 2, 1, 2, 2]
    lrns = [i for i in net if i.kind == "lrn"]
    assert [(i.layer.kernel, i.out_shape) for i in lrns] == [((5, 1), (96, 54, 54)),
                                                             ((5, 1), (256, 26, 26))]
    pool5 = net["Op14"]  # pads (0, 0, 1, 1): 12x12 -> 6x6
    assert pool5.layer.padding == (0, 0, 1, 1) and pool5.out_shape == (256, 6, 6)
    reshape = net["Op15"]
    assert reshape.kind == "reshape" and reshape.out_shape == (9216, 1, 1)
    linears = [i for i in net.mvm if i.kind == "linear"]
    assert [(i.in_shapes[0][0], i.out_shape[0]) for i in linears] == [
        (9216, 4096), (4096, 4096), (4096, 1000)]
    # Dropout (Op18, Op21) is elided: fc7 reads fc6's ReLU directly.
    assert net["Op19"].layer.inputs == ("Op17",)
    conv_macs = (96 * 3 * 121 * 54 * 54 + 256 * 48 * 25 * 26 * 26 + 384 * 256 * 9 * 144
                 + 384 * 192 * 9 * 144 + 256 * 192 * 9 * 144)
    assert net.macs == conv_macs + 9216 * 4096 + 4096 * 4096 + 4096 * 1000


# ------------------------------------------------------------------------- synthetic graphs
def _init(name: str, *dims: int, values=None) -> onnx.TensorProto:
    array = np.zeros(dims, np.float32) if values is None else np.asarray(values)
    return numpy_helper.from_array(array, name)


def _save(tmp_path: Path, nodes, inits=(), in_shape=(1, 3, 8, 8), opset=14,
          fname="model.onnx", inputs=None) -> Path:
    """Save a graph reading ``x`` (``in_shape``) whose last node's first output is the output."""
    graph = helper.make_graph(
        nodes, "g",
        inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        initializer=list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / fname
    onnx.save(model, path)
    return path


def _conv(name, x, w, out, **attrs):
    return helper.make_node("Conv", [x, w], [out], name=name, **attrs)


def test_clip_bounds_from_constant_nodes_initializers_and_attributes(tmp_path):
    c = lambda n, v: helper.make_node(  # noqa: E731
        "Constant", [], [n], value=numpy_helper.from_array(np.array(v, np.float32)))
    nodes = [
        c("lo", 0.0), c("hi", 6.0), c("hi4", 4.0),
        helper.make_node("Clip", ["x", "lo", "hi"], ["a"], name="six"),
        helper.make_node("Clip", ["a", "lo", "hi4"], ["b"], name="four"),
        helper.make_node("Clip", ["b", "ilo", "ihi"], ["c"], name="init"),
        helper.make_node("Clip", ["c", "lo"], ["d"], name="min_only"),
    ]
    inits = [_init("ilo", values=np.float32(0)), _init("ihi", values=np.float32(6))]
    net = read_onnx(_save(tmp_path, nodes, inits))
    assert [(l.name, l.kind) for l in net.layers] == [
        ("six", "relu6"), ("four", "clip"), ("init", "relu6"), ("min_only", "clip")]

    old = [helper.make_node("Clip", ["x"], ["y"], name="attr", min=0.0, max=6.0),
           helper.make_node("Clip", ["y"], ["z"], name="attr2", min=-1.0, max=1.0)]
    net = read_onnx(_save(tmp_path, old, opset=10, fname="old.onnx"))
    assert [l.kind for l in net.layers] == ["relu6", "clip"]


def test_clip_bounds_in_missing_external_data_give_clip(tmp_path):
    nodes = [helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="clip")]
    model = onnx.load(_save(tmp_path, nodes, [_init("lo", values=np.float32(0)),
                                              _init("hi", values=np.float32(6))]))
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="ext.data",
                    size_threshold=0)
    (tmp_path / "ext.data").unlink()
    assert read_onnx(path).layers[0].kind == "clip"  # the bounds cannot be read, so not relu6


def test_identity_and_dropout_are_elided(tmp_path):
    nodes = [
        helper.make_node("Identity", ["x"], ["i0"], name="id_in"),
        _conv("conv", "i0", "w", "c"),
        helper.make_node("Identity", ["c"], ["i1"], name="id"),
        helper.make_node("Dropout", ["i1"], ["d", "mask"], name="drop"),
        helper.make_node("Relu", ["d"], ["y"], name="relu"),
    ]
    net = read_onnx(_save(tmp_path, nodes, [_init("w", 4, 3, 1, 1)]))
    assert [(l.name, l.kind, l.inputs) for l in net.layers] == [
        ("conv", "conv", ("x",)), ("relu", "relu", ("conv",))]


def test_conv_then_batchnorm_keeps_batchnorm(tmp_path):
    nodes = [
        _conv("conv", "x", "w", "c", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"], name="bn"),
    ]
    inits = [_init("w", 16, 3, 3, 3), *(_init(n, 16) for n in "sbmv")]
    net = read_onnx(_save(tmp_path, nodes, inits))
    conv, bn = net["conv"], net["bn"]
    assert (conv.layer.bias, conv.out_shape, conv.weights, conv.macs) == (
        False, (16, 8, 8), 16 * 27, 16 * 27 * 64)
    assert (bn.kind, bn.layer.in_channels, bn.params, bn.out_shape) == (
        "batchnorm", 16, 32, (16, 8, 8))


@pytest.mark.parametrize("auto_pad, padding", [
    ("SAME_UPPER", (0, 0, 1, 1)), ("SAME_LOWER", (1, 1, 0, 0)), ("VALID", (0, 0, 0, 0))])
def test_conv_auto_pad(tmp_path, auto_pad, padding):
    # 8x8, k=3, s=2: SAME gives ceil(8/2)=4 outputs and needs 1 padding pixel per axis.
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", auto_pad=auto_pad,
                              strides=[2, 2])]
    net = read_onnx(_save(tmp_path, nodes, [_init("w", 5, 3, 3, 3), _init("b", 5)]))
    info = net["conv"]
    assert info.layer.padding == padding
    assert info.layer.bias is True
    assert info.out_shape == ((5, 3, 3) if auto_pad == "VALID" else (5, 4, 4))


def test_conv_attributes_pads_order_dilation_groups(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 2, 3, 4],
                              dilations=[2, 1], group=3, strides=[1, 2])]
    net = read_onnx(_save(tmp_path, nodes, [_init("w", 6, 1, 3, 3)], in_shape=(1, 3, 10, 10)))
    layer = net["conv"].layer
    assert (layer.padding, layer.dilation, layer.groups, layer.stride, layer.kernel) == (
        (1, 2, 3, 4), (2, 1), 3, (1, 2), (3, 3))
    # H: 10 + 1 + 3 - 2*2 - 1 + 1 = 10; W: (10 + 2 + 4 - 3) // 2 + 1 = 7
    assert net["conv"].out_shape == (6, 10, 7)


@pytest.mark.parametrize("trans_b, w_dims", [(0, (16, 10)), (1, (10, 16))])
def test_gemm_trans_b(tmp_path, trans_b, w_dims):
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc", transB=trans_b)]
    net = read_onnx(_save(tmp_path, nodes, [_init("w", *w_dims), _init("b", 10)],
                          in_shape=(1, 16)))
    info = net["fc"]
    assert net.input_shape == (16, 1, 1)
    assert (info.kind, info.layer.in_channels, info.out_shape, info.layer.bias) == (
        "linear", 16, (10, 1, 1), True)
    assert (info.weights, info.macs) == (160, 160)


def test_matmul_with_constant_weight_is_linear(tmp_path):
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "w"], ["y"], name="mm")]
    net = read_onnx(_save(tmp_path, nodes, [_init("w", 48, 7)], in_shape=(1, 3, 4, 4)))
    info = net["mm"]
    assert (info.kind, info.in_shapes, info.out_shape, info.layer.bias, info.weights) == (
        "linear", ((48, 1, 1),), (7, 1, 1), False, 336)


def test_matmul_of_two_activations_is_rejected(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("MatMul", ["x", "r"], ["y"], name="mm")]
    with pytest.raises(ModelFormatError, match=r"'mm' \(MatMul\).*constant 2-D weight"):
        read_onnx(_save(tmp_path, nodes, in_shape=(1, 3, 4, 4)))


def test_gemm_on_unflattened_input_raises_shape_error(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    with pytest.raises(ShapeError, match="flatten"):
        read_onnx(_save(tmp_path, nodes, [_init("w", 8, 5)]))


def test_concat_along_channels_and_other_axis_rejected(tmp_path):
    branches = [_conv("a", "x", "wa", "ya"), _conv("b", "x", "wb", "yb")]
    inits = [_init("wa", 4, 3, 1, 1), _init("wb", 6, 3, 1, 1)]
    nodes = [*branches, helper.make_node("Concat", ["ya", "yb"], ["y"], name="cat", axis=-3)]
    net = read_onnx(_save(tmp_path, nodes, inits))
    assert (net["cat"].layer.inputs, net["cat"].out_shape) == (("a", "b"), (10, 8, 8))

    nodes[-1] = helper.make_node("Concat", ["ya", "ya"], ["y"], name="cat", axis=2)
    with pytest.raises(ModelFormatError, match=r"'cat' \(Concat\) concatenates along axis 2"):
        read_onnx(_save(tmp_path, nodes, inits, fname="bad.onnx"))


def test_reshape_targets(tmp_path):
    nodes = [
        helper.make_node("Reshape", ["x", "s1"], ["r1"], name="to_chw"),
        helper.make_node("Reshape", ["r1", "s2"], ["y"], name="to_vector"),
    ]
    inits = [_init("s1", values=np.array([1, 12, 4, 4], np.int64)),
             _init("s2", values=np.array([1, -1], np.int64))]
    net = read_onnx(_save(tmp_path, nodes, inits))
    assert [(i.kind, i.layer.target, i.out_shape) for i in net] == [
        ("reshape", (12, 4, 4), (12, 4, 4)), ("reshape", (192, 1, 1), (192, 1, 1))]


def test_reshape_from_shape_arithmetic_makes_no_layers_for_the_arithmetic(tmp_path):
    # x.view(x.size(0), -1) as PyTorch exports it: Shape -> Gather -> Unsqueeze -> Concat.
    nodes = [
        _conv("conv", "x", "w", "c"),
        helper.make_node("Shape", ["c"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="cat", axis=0),
        helper.make_node("Reshape", ["c", "target"], ["y"], name="view"),
    ]
    inits = [_init("w", 4, 3, 1, 1), _init("zero", values=np.array(0, np.int64)),
             _init("axes", values=np.array([0], np.int64)),
             _init("minus1", values=np.array([-1], np.int64))]
    net = read_onnx(_save(tmp_path, nodes, inits))
    assert [(l.name, l.kind) for l in net.layers] == [("conv", "conv"), ("view", "reshape")]
    assert net["view"].out_shape == (256, 1, 1)


def test_other_supported_ops(tmp_path):
    nodes = [
        helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[3, 3],
                         strides=[2, 2], ceil_mode=1),
        helper.make_node("AveragePool", ["p"], ["ap"], name="avg", kernel_shape=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["ap"], ["s"], name="sig"),
        helper.make_node("Mul", ["ap", "s"], ["silu"], name="mul"),
        helper.make_node("HardSwish", ["silu"], ["hs"], name="hswish"),
        helper.make_node("HardSigmoid", ["hs"], ["hsig"], name="hsig"),
        helper.make_node("Tanh", ["hsig"], ["t"], name="tanh"),
        helper.make_node("Sum", ["t", "silu", "ap"], ["sum"], name="sum"),
        helper.make_node("Add", ["sum", "bias"], ["biased"], name="add_const"),
        helper.make_node("GlobalMaxPool", ["biased"], ["g"], name="gmax"),
        helper.make_node("Squeeze", ["g", "axes"], ["sq"], name="squeeze"),
        helper.make_node("Softmax", ["sq"], ["y"], name="softmax"),
    ]
    inits = [_init("bias", 1, 3, 1, 1), _init("axes", values=np.array([2, 3], np.int64))]
    net = read_onnx(_save(tmp_path, nodes, inits, in_shape=(1, 3, 9, 9)))
    assert [(i.name, i.kind, i.out_shape) for i in net] == [
        ("pool", "maxpool", (3, 4, 4)), ("avg", "avgpool", (3, 5, 5)),
        ("sig", "sigmoid", (3, 5, 5)), ("mul", "mul", (3, 5, 5)),
        ("hswish", "hardswish", (3, 5, 5)), ("hsig", "hardsigmoid", (3, 5, 5)),
        ("tanh", "tanh", (3, 5, 5)), ("sum", "add", (3, 5, 5)),
        ("add_const", "eltwise", (3, 5, 5)), ("gmax", "globalmaxpool", (3, 1, 1)),
        ("softmax", "softmax", (3, 1, 1))]
    assert net["mul"].layer.inputs == ("avg", "sig")
    assert net["sum"].layer.inputs == ("tanh", "mul", "avg")
    assert net["softmax"].layer.inputs == ("gmax",)  # the squeeze is an alias
    assert net["add_const"].eltwise_ops == 75
    assert net["pool"].layer.ceil_mode is True


def test_layer_names_for_unnamed_and_clashing_nodes(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Relu", ["a"], ["b"], name="x"),
             helper.make_node("Relu", ["b"], ["c"], name="Relu_0"),
             helper.make_node("Relu", ["c"], ["y"], name="Relu_0")]
    net = read_onnx(_save(tmp_path, nodes))
    assert [l.name for l in net.layers] == ["Relu_0", "x_1", "Relu_0_1", "Relu_0_2"]
    assert net.layers[1].inputs == ("Relu_0",)


def test_symbolic_batch_and_network_name(tmp_path):
    x = helper.make_tensor_value_info("img", TensorProto.FLOAT, ["N", 3, 8, 8])
    nodes = [_conv("conv", "img", "w", "y", strides=[2, 2])]
    path = _save(tmp_path, nodes, [_init("w", 4, 3, 1, 1)], inputs=[x], fname="tiny.onnx")
    net = read_onnx(path)
    assert (net.name, net.input_name, net.input_shape, net["conv"].out_shape) == (
        "tiny", "img", (3, 8, 8), (4, 4, 4))
    assert read_onnx(path, name="custom").name == "custom"
    assert load_network(path) == net


def test_batch_larger_than_one_is_rejected(tmp_path):
    path = _save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], in_shape=(2, 3, 8, 8))
    with pytest.raises(ModelFormatError, match=r"graph input 'x' has shape \[2, 3, 8, 8\]"):
        read_onnx(path)


def test_two_graph_inputs_are_rejected(tmp_path):
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 8, 8]) for n in "xz"]
    path = _save(tmp_path, [helper.make_node("Add", ["x", "z"], ["y"])], inputs=inputs)
    with pytest.raises(ModelFormatError, match=r"exactly one graph input.*\['x', 'z'\]"):
        read_onnx(path)


def _leaky(tmp_path):
    nodes = [_conv("conv", "x", "w", "c"),
             helper.make_node("LeakyRelu", ["c"], ["l"], name="leaky", alpha=0.1),
             helper.make_node("SpaceToDepth", ["l"], ["y"], name="s2d", blocksize=2)]
    return _save(tmp_path, nodes, [_init("w", 4, 3, 1, 1)])


def test_unknown_op_error_names_op_node_and_supported_set(tmp_path):
    with pytest.raises(ModelFormatError) as err:
        read_onnx(_leaky(tmp_path))
    message = str(err.value)
    assert "'LeakyRelu'" in message and "'leaky'" in message
    assert ", ".join(SUPPORTED_OPS) in message and "Conv" in SUPPORTED_OPS
    assert "unknown_ops='eltwise'" in message


def test_unknown_op_eltwise_opt_in(tmp_path):
    with pytest.warns(UserWarning, match="unsupported op") as record:
        net = read_onnx(_leaky(tmp_path), unknown_ops="eltwise")
    assert sorted(str(w.message).split("'")[1] for w in record) == ["leaky", "s2d"]
    leaky, s2d = net["leaky"], net["s2d"]
    assert (leaky.kind, leaky.layer.target, leaky.out_shape, leaky.eltwise_ops) == (
        "eltwise", None, (4, 8, 8), 256)
    # SpaceToDepth changes the shape: the eltwise layer carries ONNX's inferred shape.
    assert (s2d.kind, s2d.layer.target, s2d.out_shape, s2d.eltwise_ops) == (
        "eltwise", (16, 4, 4), (16, 4, 4), 256)
    assert s2d.layer.inputs == ("leaky",)
    with pytest.warns(UserWarning):
        assert load_network(_leaky(tmp_path), unknown_ops="eltwise") == net


def test_bad_unknown_ops_value(tmp_path):
    with pytest.raises(ModelFormatError, match="unknown_ops must be one of 'error', 'eltwise'"):
        read_onnx(_leaky(tmp_path), unknown_ops="ignore")


def test_missing_external_data_file_still_imports(tmp_path):
    nodes = [_conv("conv", "x", "w", "c", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], name="fc", transB=1)]
    inits = [_init("w", 32, 3, 3, 3), _init("fc_w", 10, 32), _init("fc_b", 10)]
    model = onnx.load(_save(tmp_path, nodes, inits))
    path = tmp_path / "external.onnx"
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.data", size_threshold=0)
    loaded = onnx.load(path, load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in loaded.graph.initializer)
    (tmp_path / "weights.data").unlink()

    net = read_onnx(path)
    assert [(i.name, i.out_shape, i.weights) for i in net.mvm] == [
        ("conv", (32, 8, 8), 864), ("fc", (10, 1, 1), 320)]


def test_missing_path_is_a_model_format_error(tmp_path):
    with pytest.raises(ModelFormatError, match="no such file"):
        read_onnx(tmp_path / "absent.onnx")
    with pytest.raises(ModelFormatError, match="no such file"):
        read_onnx(tmp_path)  # a folder is not a model file


@pytest.mark.parametrize("content", [b"this is not an onnx model", b"", b"\x08\x07\x12"])
def test_corrupt_file_is_a_model_format_error(tmp_path, content):
    path = tmp_path / "corrupt.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match="corrupt.onnx"):
        read_onnx(path)


def test_truncated_real_model_is_a_model_format_error(tmp_path):
    whole = _leaky(tmp_path).read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ModelFormatError, match="cut.onnx"):
        read_onnx(path)


def test_counts_are_batch_one(tmp_path):
    nodes = [_conv("conv", "x", "w", "y", kernel_shape=[3, 3])]
    net = read_onnx(_save(tmp_path, nodes, [_init("w", 8, 3, 3, 3)], in_shape=(1, 3, 5, 5)))
    assert net.macs == 8 * 3 * 9 * 9 and math.prod(net["conv"].out_shape) == 72
