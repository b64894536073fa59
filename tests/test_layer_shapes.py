"""The representative single layers of the six study CNNs (aimclib.layer_shapes)."""

import pandas as pd
import pytest

from aimclib.layer_shapes import (CLASSES, COLUMNS, layer_class, load_representative_layers,
                                  representative_layers, spec_of)
from aimclib.network import NetworkBuilder
from aimclib.sweep import layer_spec
from aimclib.zoo import STUDY_NETWORKS


@pytest.mark.slow
def test_data_file_is_current():
    """The kept file is what the rule gives (``python -m aimclib.layer_shapes`` rewrites it)."""
    pd.testing.assert_frame_equal(load_representative_layers(), representative_layers(),
                                  check_exact=False, rtol=1e-9)


def test_table_covers_every_network_and_names_valid_specs():
    table = load_representative_layers()
    assert tuple(table.columns) == COLUMNS
    assert list(dict.fromkeys(table["network"])) == list(STUDY_NETWORKS)
    assert set(table["class"]) <= set(CLASSES)
    assert not table.duplicated(["network", "class"]).any()
    for row in table.itertuples(index=False):
        one = next(iter(layer_spec(row.spec)))
        assert (one.m, one.k, one.n, one.g) == (row.gemm_m, row.gemm_k, row.gemm_n, row.groups)
        assert one.macs == row.macs
    # every network has a stem and a dense classifier; the depthwise class only where it exists
    for _, part in table.groupby("network"):
        assert {"stem", "dense"} <= set(part["class"])
    assert set(table.loc[table["class"] == "depthwise", "network"]) == {"mobilenet_v2",
                                                                        "efficientnet_b0"}


def test_largest_layer_of_its_class_is_chosen():
    """ResNet-50's 3x3 convolutions all have 115.6 M MACs: the first one stands for them."""
    table = load_representative_layers().set_index(["network", "class"])
    row = table.loc[("resnet50", "conv")]
    assert row["layer"] == "layer1.0.conv2" and row["spec"] == "conv:64:64:3:56:1:1"
    assert row["macs"] == 56 * 56 * 64 * 64 * 9


def _one(build):
    b = NetworkBuilder("t", (8, 10, 10))
    build(b)
    return list(b.build())


def test_classes_and_specs_of_hand_built_layers():
    def build(b):
        x = b.conv(b.input, 8, 3, padding=1, name="a")
        x = b.conv(b.conv(x, 8, 1, name="b"), 8, 3, padding=1, groups=8, name="c")
        b.linear(b.flatten(x), 10, name="d")

    infos = _one(build)
    mvm = [i for i in infos if i.layer.is_mvm]
    assert [layer_class(i, i is mvm[0]) for i in mvm] == ["stem", "pointwise", "depthwise",
                                                          "dense"]
    assert [spec_of(i) for i in mvm] == ["conv:8:8:3:10:1:1", "conv:8:8:1:10:1:0",
                                         "depthwise:8:3:10:1:1", "dense:800:10"]


def test_inexpressible_layers_have_no_spec():
    infos = _one(lambda b: b.conv(b.input, 4, (1, 3), padding=(0, 1), name="a"))
    assert spec_of(infos[0]) is None
