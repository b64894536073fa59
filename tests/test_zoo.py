"""The zoo networks equal torchvision's models layer for layer and in their totals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aimclib.errors import UnknownNameError
from aimclib.zoo import NETWORKS, STUDY_NETWORKS, get_network

REFERENCE = json.loads(
    (Path(__file__).parent / "data" / "torchvision_reference.json").read_text())

# Pinned totals per network. total_params: the torchvision model docs, equal to
# sum(p.numel() for p in model.parameters()) of torchvision 0.29.1; mvm_weights (conv and linear
# weights, no biases) and macs: forward hooks on every Conv2d / Linear of the torchvision model,
# tools/torchvision_reference.py (batch 1, input_hw x input_hw).
TOTALS = {
    "resnet50": dict(input_hw=224, mvm_layers=54, mvm_weights=25_502_912,
                     total_params=25_557_032, macs=4_089_184_256),
    "mobilenet_v2": dict(input_hw=224, mvm_layers=53, mvm_weights=3_469_760,
                         total_params=3_504_872, macs=300_774_272),
    "vgg16": dict(input_hw=224, mvm_layers=16, mvm_weights=138_344_128,
                  total_params=138_357_544, macs=15_470_264_320),
    "densenet121": dict(input_hw=224, mvm_layers=121, mvm_weights=7_894_208,
                        total_params=7_978_856, macs=2_834_161_664),
    "inception_v3": dict(input_hw=299, mvm_layers=95, mvm_weights=23_799_136,
                         total_params=23_834_568, macs=5_713_216_096),
    "efficientnet_b0": dict(input_hw=224, mvm_layers=82, mvm_weights=5_236_192,
                            total_params=5_288_548, macs=385_814_752),
    "resnet18": dict(input_hw=224, mvm_layers=21, mvm_weights=11_678_912,
                     total_params=11_689_512, macs=1_814_073_344),
    "alexnet": dict(input_hw=224, mvm_layers=8, mvm_weights=61_090_496,
                    total_params=61_100_840, macs=714_188_480),
    "squeezenet1_1": dict(input_hw=224, mvm_layers=26, mvm_weights=1_231_552,
                          total_params=1_235_496, macs=349_151_936),
    "googlenet": dict(input_hw=224, mvm_layers=58, mvm_weights=6_609_344,
                      total_params=6_624_904, macs=1_498_376_192),
    "mobilenet_v3_large": dict(input_hw=224, mvm_layers=64, mvm_weights=5_451_272,
                               total_params=5_483_032, macs=216_589_760),
}

# The per-layer fields of the reference; a new field there must be handled by _record.
LAYER_FIELDS = ("name", "kind", "cin", "cout", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw",
                "groups", "bias", "hin", "win", "hout", "wout", "weights", "macs")


def _record(info) -> dict:
    """A conv/linear layer in the reference's terms (linear: unit kernel, stride and sizes)."""
    layer = info.layer
    top, left, bottom, right = layer.padding
    _, hin, win = info.in_shapes[0]
    cout, hout, wout = info.out_shape
    return {
        "name": layer.name,
        "kind": layer.kind,
        "cin": info.in_shapes[0][0],
        "cout": cout,
        "kh": layer.kernel[0],
        "kw": layer.kernel[1],
        "sh": layer.stride[0],
        "sw": layer.stride[1],
        # torchvision pads symmetrically; asymmetric padding shows up as a pair and mismatches.
        "ph": top if top == bottom else (top, bottom),
        "pw": left if left == right else (left, right),
        "dh": layer.dilation[0],
        "dw": layer.dilation[1],
        "groups": layer.groups,
        "bias": layer.bias,
        "hin": hin,
        "win": win,
        "hout": hout,
        "wout": wout,
        "weights": info.weights,
        "macs": info.macs,
    }


def test_registry_covers_the_reference():
    assert set(NETWORKS) == set(TOTALS) == {k for k in REFERENCE if not k.startswith("_")}
    assert len(NETWORKS) == 11
    assert NETWORKS[:6] == STUDY_NETWORKS


@pytest.mark.parametrize("name", NETWORKS)
def test_pinned_totals_equal_reference(name):
    ref, pinned = REFERENCE[name], TOTALS[name]
    assert ref["input_hw"] == [pinned["input_hw"]] * 2, name
    for key in ("mvm_layers", "mvm_weights", "total_params", "macs"):
        assert ref[key] == pinned[key], f"{name}: pinned {key} differs from the reference JSON"


@pytest.mark.parametrize("name", NETWORKS)
def test_layers_equal_torchvision(name):
    net = get_network(name)
    ref_layers = REFERENCE[name]["layers"]
    assert all(tuple(r) == LAYER_FIELDS for r in ref_layers), f"{name}: reference fields changed"
    ours = [_record(info) for info in net.mvm]
    names = [r["name"] for r in ours]
    assert names == [r["name"] for r in ref_layers], f"{name}: conv/linear names or order differ"
    for got, want in zip(ours, ref_layers):
        for field in LAYER_FIELDS:
            assert got[field] == want[field], (
                f"{name}: layer {want['name']!r} field {field!r} is {got[field]!r}, "
                f"torchvision has {want[field]!r}")


@pytest.mark.parametrize("name", NETWORKS)
def test_totals_equal_torchvision(name):
    net, pinned = get_network(name), TOTALS[name]
    assert net.name == name
    assert net.input_shape == (3, pinned["input_hw"], pinned["input_hw"])
    got = dict(input_hw=net.input_hw[0], mvm_layers=net.mvm_layers, mvm_weights=net.mvm_weights,
               total_params=net.total_params, macs=net.macs)
    assert net.input_hw[0] == net.input_hw[1]
    for key, want in pinned.items():
        assert got[key] == want, f"{name}: {key} is {got[key]:,}, torchvision has {want:,}"


@pytest.mark.parametrize("name", NETWORKS)
def test_graph_ends_in_one_1000_class_output(name):
    net = get_network(name)
    assert net.outputs == (net.layers[-1].name,), f"{name}: outputs {net.outputs}"
    assert net.info[-1].out_shape == (1000, 1, 1), name


def test_unknown_network_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as err:
        get_network("resnet51")
    message = str(err.value)
    assert "'resnet51'" in message
    for name in NETWORKS:
        assert name in message
