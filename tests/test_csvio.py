"""The CSV layer table: exact round trips, hand-written files and errors that say where."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from aimclib.csvio import COLUMNS, read_csv, write_csv
from aimclib.errors import ModelFormatError
from aimclib.layers import KINDS, Layer
from aimclib.loading import load_network
from aimclib.network import Network, NetworkBuilder
from aimclib.zoo import _REGISTRY, NETWORKS, get_network

DOC = Path(__file__).parents[1] / "docs" / "csv-format.md"
THIRD_PARTY_ONNX = Path(__file__).parents[2] / "shared" / "third_party_onnx"


def _every_feature() -> Network:
    """A small network using every column: asymmetric padding, ceil_mode, groups, dilation,
    bias, adaptive pooling, reshape, n-ary add, concat and eltwise, linear, a custom input
    name."""
    b = NetworkBuilder("every feature 'net'", (3, 33, 31), input_name="image")
    x = b.conv(b.input, 8, (3, 5), stride=(2, 1), padding=(0, 1, 2, 3), bias=True, name="stem")
    x = b.bn(x)
    x = b.act("relu6", x)
    x = b.maxpool(x, 3, 2, padding=1, ceil_mode=True, name="pool")
    a = b.conv(x, 8, 3, padding=2, dilation=2, groups=8, name="dw")
    c = b.conv(x, 8, 1, groups=2, name="pw")
    s = b.join("add", [x, a, c], name="sum")
    cat = b.join("concat", [s, a, c], name="cat")
    r = b.add("reshape", cat, "fold", target=(6, b.shape(cat)[1] * 4, b.shape(cat)[2]))
    p = b.adaptive_avgpool(r, (3, 2), name="ada")
    f = b.flatten(p)
    b.linear(f, 10, name="fc")
    # in_channels None: taken from the input shape and written as an empty cell
    b.add("conv", r, "free", out_channels=4)
    b.add("eltwise", [a, c, p], "opaque", target=(2, 3, 4))
    return b.build()


def _written(net: Network, tmp_path: Path) -> Path:
    path = tmp_path / "net.csv"
    write_csv(net, path)
    return path


def test_round_trip_every_feature(tmp_path):
    net = _every_feature()
    back = read_csv(_written(net, tmp_path))
    assert back == net
    assert back.layers == net.layers  # == compares layers too; spelled out for a clear diff
    assert [i.out_shape for i in back] == [i.out_shape for i in net]


def test_written_text_is_the_documented_layout(tmp_path):
    lines = _written(_every_feature(), tmp_path).read_text().splitlines()
    assert lines[0] == ("# aimclib-network v1 'name=every feature '\"'\"'net'\"'\"'' "
                        "input=image shape=3x33x31")
    assert lines[1] == ",".join(COLUMNS)
    assert lines[2] == "stem,conv,image,8,3,3,5,2,1,0,1,2,3,1,1,1,1,0,,,,,"
    assert "sum,add,pool|dw|pw,0,,1,1,1,1,0,0,0,0,1,1,1,0,0,,,,," in lines
    assert lines[-2].startswith("free,conv,fold,4,,")
    assert lines[-1] == "opaque,eltwise,dw|pw|ada,0,,1,1,1,1,0,0,0,0,1,1,1,0,0,,,2,3,4"
    assert len(lines) == 2 + len(_every_feature())


@pytest.mark.parametrize("name", NETWORKS)
def test_round_trip_zoo(name, tmp_path):
    try:
        importlib.import_module(f"aimclib.zoo.{_REGISTRY[name][0]}")
    except ImportError as exc:
        pytest.skip(f"zoo module of {name} is not importable yet: {exc}")
    net = get_network(name)
    path = _written(net, tmp_path)
    assert read_csv(path) == net
    assert load_network(path) == net


@pytest.mark.parametrize("file", ["zigzag_alexnet.onnx", "zigzag_mobilenetv2.onnx",
                                  "zigzag_resnet18.onnx"])
def test_round_trip_onnx_import(file, tmp_path):
    path = THIRD_PARTY_ONNX / file
    if not path.is_file():
        pytest.skip(f"{path} is absent (only the project's shared folder has it)")
    net = load_network(path)
    assert read_csv(_written(net, tmp_path)) == net


def test_hand_written_minimal_columns_take_layer_defaults(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text(
        "# aimclib-network v1 shape=1x8x8\n"
        "name, kind, inputs, out_channels, kh, kw, bias\n"
        "c, conv, input, 4, 3, 3, TRUE\n"
        "\n"
        "r, relu, c\n"
        "j, mul, c | r\n"
    )
    net = read_csv(path)
    assert net.name == "hand" and net.input_name == "input" and net.input_shape == (1, 8, 8)
    assert net.layers == (
        Layer("c", "conv", ("input",), out_channels=4, kernel=(3, 3), bias=True),
        Layer("r", "relu", ("c",)),
        Layer("j", "mul", ("c", "r")),
    )
    assert net["j"].out_shape == (4, 6, 6)


def test_doc_example_reads(tmp_path):
    example = re.search(r"```\n(# aimclib-network.*?)```", DOC.read_text(), re.S).group(1)
    path = tmp_path / "doc.csv"
    path.write_text(example)
    net = read_csv(path)
    assert (net.name, net.input_shape, len(net)) == ("tiny", (3, 32, 32), 8)
    assert net["conv1"].out_shape == (16, 16, 16)
    assert net["pool"].out_shape == (16, 8, 8)
    assert net["sum"].layer.inputs == ("pool", "branch")
    assert net["fc"].layer.bias and not net["conv1"].layer.bias
    assert net.mvm_weights == 3 * 9 * 16 + 16 * 16 + 16 * 10


def test_doc_lists_every_kind():
    row = next(line for line in DOC.read_text().splitlines() if line.startswith("| `kind` |"))
    listed = re.findall(r"`(\w+)`", row.split("|")[2])
    assert sorted(listed) == sorted(KINDS)


def test_reads_byte_order_mark_and_crlf(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeff# aimclib-network v1 name=x shape=2x4x4\r\nname,kind,inputs\r\n"
                     "a,relu,input\r\n".encode())
    assert read_csv(path) == Network("x", (2, 4, 4), [Layer("a", "relu", ("input",))])


@pytest.mark.parametrize("net_name, layer_name", [
    ("n", "a|b"), ("n", " padded"), ("n", "two\nlines"), ("", "a"), ("two\nlines", "a"),
])
def test_write_refuses_names_it_cannot_give_back(net_name, layer_name, tmp_path):
    net = Network(net_name, (1, 2, 2), [Layer(layer_name, "relu", ("input",))])
    with pytest.raises(ModelFormatError, match="cannot be written"):
        write_csv(net, tmp_path / "n.csv")
    assert not (tmp_path / "n.csv").exists()


HEAD = "# aimclib-network v1 name=bad shape=3x8x8\n"
COLS = "name,kind,inputs,out_channels,kh,kw,bias,output_h,output_w\n"
OK_ROW = "c1,conv,input,4,3,3,0,,\n"

# (file text, substrings the message must contain: where, which column, what is accepted)
MALFORMED = {
    "no header comment": (COLS + OK_ROW, ["line 1", "header comment", "shape=CxHxW"]),
    "wrong version": (HEAD.replace("v1", "v2") + COLS + OK_ROW, ["line 1", "'v2'", "'v1'"]),
    "header without shape": ("# aimclib-network v1 name=x\n" + COLS + OK_ROW,
                             ["line 1", "no shape=CxHxW"]),
    "bad shape": (HEAD.replace("3x8x8", "3x8") + COLS + OK_ROW, ["line 1", "'3x8'", "CxHxW"]),
    "zero shape": (HEAD.replace("3x8x8", "0x8x8") + COLS + OK_ROW, ["line 1", "positive"]),
    "unknown header field": (HEAD.replace("name=", "nam=") + COLS + OK_ROW,
                             ["line 1", "unknown header field 'nam=bad'"]),
    "unbalanced quote": ("# aimclib-network v1 'name=x shape=1x1x1\n" + COLS,
                         ["line 1", "cannot split"]),
    "no column line": (HEAD, ["line 2", "column names", "name, kind, inputs"]),
    "missing column": (HEAD + "name,kind\nc1,relu\n", ["line 2", "missing column(s) 'inputs'"]),
    "unknown column": (HEAD + "name,kind,inputs,kernel\n", ["line 2", "unknown column 'kernel'",
                                                            "accepted columns: name"]),
    "repeated column": (HEAD + "name,kind,inputs,kh,kh\n", ["line 2", "column 'kh'", "twice"]),
    "no rows": (HEAD + COLS + "\n", ["no layer rows"]),
    "non-integer": (HEAD + COLS + OK_ROW + "c2,conv,c1,4,three,3,0,,\n",
                    ["row 2 (line 4)", "column 'kh'", "'three' is not an integer"]),
    "float": (HEAD + COLS + "c1,conv,input,4.0,3,3,0,,\n",
              ["row 1 (line 3)", "column 'out_channels'", "'4.0' is not an integer"]),
    "unknown kind": (HEAD + COLS + OK_ROW + "\n" + "p,pool,c1\n",
                     ["row 2 (line 5)", "column 'kind'", "unknown kind 'pool'", "maxpool"]),
    "bad bool": (HEAD + COLS + "c1,conv,input,4,3,3,maybe,,\n",
                 ["row 1 (line 3)", "column 'bias'", "'maybe'", "true", "false"]),
    "unknown input": (HEAD + COLS + OK_ROW + "r,relu,c2\n",
                      ["row 2 (line 4)", "column 'inputs'", "'c2'", "earlier row"]),
    "forward reference": (HEAD + COLS + "r,relu,c1\n" + OK_ROW,
                          ["row 1 (line 3)", "column 'inputs'", "'c1'"]),
    "duplicate name": (HEAD + COLS + OK_ROW + OK_ROW.replace("input", "c1"),
                       ["row 2 (line 4)", "column 'name'", "'c1'", "earlier layer"]),
    "input name reused": (HEAD + COLS + "input,relu,input\n",
                          ["row 1 (line 3)", "column 'name'", "network input"]),
    "empty name": (HEAD + COLS + ",relu,input\n", ["row 1 (line 3)", "column 'name'", "empty"]),
    "half output size": (HEAD + COLS + OK_ROW + "a,adaptiveavgpool,c1,,,,,2,\n",
                         ["row 2 (line 4)", "column 'output_w'", "output_h"]),
    "too many cells": (HEAD + COLS + OK_ROW.strip() + ",1,2\n",
                       ["row 1 (line 3)", "11 cells", "9"]),
    "layer spec": (HEAD + COLS + "c1,conv,input,4,0,3,0,,\n",
                   ["row 1 (line 3)", "layer 'c1'", ">= 1"]),
    "layer without required value": (HEAD + COLS + "a,adaptiveavgpool,input\n",
                                      ["row 1 (line 3)", "layer 'a'", "output_hw"]),
    "shape mismatch": (HEAD + COLS + OK_ROW + "c2,conv,c1,4,9,9,0,,\n",
                       ["row 2 (line 4)", "layer 'c2'", "empty output"]),
    "binary": ("\xff\xfe".encode("latin-1"), ["not UTF-8"]),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_file_says_where_and_what(case, tmp_path):
    text, expected = MALFORMED[case]
    path = tmp_path / "bad.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(ModelFormatError) as exc:
        read_csv(path)
    message = str(exc.value)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
