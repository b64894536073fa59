"""Representative single layers of the study's six CNNs, as layer specs (the single-layer study).

For every network of :data:`aimclib.zoo.STUDY_NETWORKS` and every *class* of MVM layer it has,
the layer with the most MACs stands for the class (ties: the first in execution order):

* ``stem``: the network's first convolution (its input is the image: few channels, the
  largest feature map);
* ``conv``: the other dense (one-group) convolutions with a kernel larger than 1x1;
* ``pointwise``: 1x1 convolutions;
* ``depthwise``: convolutions with one input channel per group;
* ``dense``: fully connected layers.

The classes differ in what the single-layer study measures: the output positions ``m`` (MVMs
per tile, and what copies of the weights can split), the fan-in ``k`` (row blocks, so partial
sums) and how densely a crossbar is filled. A layer a spec cannot express (a non-square
kernel, stride or input, asymmetric padding) is skipped and the next largest of its class
taken. The table is kept in ``aimclib/data/representative_layers.csv``; ``python -m
aimclib.layer_shapes`` rewrites it and a test checks the file equals :func:`representative_layers`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from .layers import LayerInfo
from .sweep import layer_spec
from .zoo import STUDY_NETWORKS, get_network

CLASSES = ("stem", "conv", "pointwise", "depthwise", "dense")
"""The layer classes, in the order tables and figures list them."""

DATA_FILE = Path(__file__).parent / "data" / "representative_layers.csv"
"""Where the representative layers are kept (a package data file)."""

COLUMNS = ("network", "layer", "class", "spec", "gemm_m", "gemm_k", "gemm_n", "groups",
           "weights", "macs", "network_mac_share")
"""Columns of :func:`representative_layers` (``network_mac_share``: the layer's share of its
network's MVM MACs, 0..1)."""


def layer_class(info: LayerInfo, first: bool) -> str | None:
    """The class of an MVM layer (``first``: it is the network's first convolution); None for
    other layers and for grouped convolutions that are not depthwise."""
    layer = info.layer
    if layer.kind == "linear":
        return "dense"
    if layer.kind != "conv":
        return None
    if info.g > 1:
        return "depthwise" if info.k == layer.kernel[0] * layer.kernel[1] else None
    if first:
        return "stem"
    return "pointwise" if layer.kernel == (1, 1) else "conv"


def spec_of(info: LayerInfo) -> str | None:
    """The layer spec (:func:`aimclib.sweep.layer_spec`) of a conv or linear layer, or None
    when the spec forms cannot express it (non-square kernel, stride or input, asymmetric or
    unequal padding, dilation, a grouped convolution that is not depthwise)."""
    layer = info.layer
    if layer.kind == "linear":
        return f"dense:{info.k}:{info.n}"
    c, h, w = info.in_shapes[0]
    kh, kw = layer.kernel
    pads = set(layer.padding)
    if (kh != kw or h != w or len(set(layer.stride)) != 1 or len(pads) != 1
            or layer.dilation != (1, 1)):
        return None
    stride, pad = layer.stride[0], pads.pop()
    if info.g == 1:
        return f"conv:{c}:{layer.out_channels}:{kh}:{h}:{stride}:{pad}"
    if info.g == c == layer.out_channels:
        return f"depthwise:{c}:{kh}:{h}:{stride}:{pad}"
    return None


def representative_layers(networks=STUDY_NETWORKS) -> pd.DataFrame:
    """One row per network and layer class: the class's largest layer (by MACs) a spec can
    express (columns :data:`COLUMNS`), networks in the given order, classes in
    :data:`CLASSES` order."""
    rows = []
    for name in networks:
        net = get_network(name)
        mvm = [info for info in net if info.layer.is_mvm]
        total = sum(info.macs for info in mvm)
        best: dict[str, tuple[LayerInfo, str]] = {}
        first_conv = next((info for info in mvm if info.layer.kind == "conv"), None)
        for info in mvm:
            cls = layer_class(info, info is first_conv)
            spec = spec_of(info) if cls is not None else None
            if spec is not None and (cls not in best or info.macs > best[cls][0].macs):
                best[cls] = (info, spec)
        for cls in CLASSES:
            if cls in best:
                info, spec = best[cls]
                rows.append({"network": name, "layer": info.name, "class": cls, "spec": spec,
                             "gemm_m": info.m, "gemm_k": info.k, "gemm_n": info.n,
                             "groups": info.g, "weights": info.weights, "macs": info.macs,
                             "network_mac_share": round(info.macs / total, 6)})
    for row in rows:  # the spec must rebuild the same GEMM
        one = next(iter(layer_spec(row["spec"])))
        if (one.m, one.k, one.n, one.g) != (row["gemm_m"], row["gemm_k"], row["gemm_n"],
                                            row["groups"]):
            raise AssertionError(f"spec {row['spec']} does not rebuild {row['network']} "
                                 f"{row['layer']}")
    return pd.DataFrame(rows, columns=list(COLUMNS))


def load_representative_layers() -> pd.DataFrame:
    """The kept table (:data:`DATA_FILE`)."""
    return pd.read_csv(DATA_FILE)


def main(argv: list[str] | None = None) -> int:
    """Rewrite :data:`DATA_FILE` from the zoo."""
    DATA_FILE.parent.mkdir(exist_ok=True)
    table = representative_layers()
    table.to_csv(DATA_FILE, index=False, lineterminator="\n")
    print(f"wrote {len(table)} layers to {DATA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
