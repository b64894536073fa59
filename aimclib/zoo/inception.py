"""Inception v3 (batch 1, 3x299x299 input, no auxiliary head), as torchvision builds it.

Follows ``torchvision/models/inception.py`` (torchvision 0.29.1) with ``aux_logits=False`` and
``transform_input=False``: a valid-padding stem (299 -> 149 -> 147 -> 147 -> 73 -> 71 -> 35),
three InceptionA (``Mixed_5b-d``), the grid reduction InceptionB (``Mixed_6a``), four
InceptionC with factorised 1x7/7x1 convs (``Mixed_6b-e``), the reduction InceptionD
(``Mixed_7a``) and two InceptionE (``Mixed_7b-c``), then global average pooling, dropout
(p = 0.5), flatten and the classifier ``fc``. Every conv is a ``BasicConv2d``: conv without
bias, BN, ReLU, named ``<module>.conv``, ``<module>.bn`` and ``<module>.relu``. The functional
pools inside blocks are ``<block>.avg_pool`` (3x3, stride 1, pad 1, feeding ``branch_pool``)
and ``<block>.max_pool`` (3x3, stride 2, passed straight to the concat); the block outputs and
InceptionE's paired 1x3/3x1 outputs are concats named ``<block>.concat``,
``<block>.branch3x3_concat`` and ``<block>.branch3x3dbl_concat``. Branches are added in
torchvision's ``_forward`` order, which is also the channel order of each concat.
"""

from __future__ import annotations

from ..network import Network, NetworkBuilder

_NUM_CLASSES = 1000


def basic_conv2d(b: NetworkBuilder, x: str, name: str, out_channels: int, kernel,
                 stride=1, padding=0) -> str:
    """torchvision ``BasicConv2d`` called ``name``: conv (no bias), BN, ReLU.

    Also GoogLeNet's ``BasicConv2d``, which is the same module.
    """
    with b.scope(name):
        y = b.conv(x, out_channels, kernel, stride=stride, padding=padding, name="conv")
        return b.act("relu", b.bn(y, name="bn"), name="relu")


def _inception_a(b: NetworkBuilder, x: str, pool_features: int) -> str:
    """``InceptionA``: 1x1, 5x5, double 3x3 and avg-pool + 1x1 branches at 35x35."""
    b1 = basic_conv2d(b, x, "branch1x1", 64, 1)
    b5 = basic_conv2d(b, x, "branch5x5_1", 48, 1)
    b5 = basic_conv2d(b, b5, "branch5x5_2", 64, 5, padding=2)
    b3 = basic_conv2d(b, x, "branch3x3dbl_1", 64, 1)
    b3 = basic_conv2d(b, b3, "branch3x3dbl_2", 96, 3, padding=1)
    b3 = basic_conv2d(b, b3, "branch3x3dbl_3", 96, 3, padding=1)
    bp = b.avgpool(x, 3, stride=1, padding=1, name="avg_pool")
    bp = basic_conv2d(b, bp, "branch_pool", pool_features, 1)
    return b.join("concat", [b1, b5, b3, bp], name="concat")


def _inception_b(b: NetworkBuilder, x: str) -> str:
    """``InceptionB``: 35x35 -> 17x17 by a strided 3x3, a double 3x3 and a max pool."""
    b3 = basic_conv2d(b, x, "branch3x3", 384, 3, stride=2)
    bd = basic_conv2d(b, x, "branch3x3dbl_1", 64, 1)
    bd = basic_conv2d(b, bd, "branch3x3dbl_2", 96, 3, padding=1)
    bd = basic_conv2d(b, bd, "branch3x3dbl_3", 96, 3, stride=2)
    bp = b.maxpool(x, 3, stride=2, name="max_pool")
    return b.join("concat", [b3, bd, bp], name="concat")


def _inception_c(b: NetworkBuilder, x: str, channels_7x7: int) -> str:
    """``InceptionC``: 1x1, 1x7-7x1, double 1x7-7x1 and avg-pool + 1x1 branches at 17x17."""
    c7 = channels_7x7
    b1 = basic_conv2d(b, x, "branch1x1", 192, 1)
    b7 = basic_conv2d(b, x, "branch7x7_1", c7, 1)
    b7 = basic_conv2d(b, b7, "branch7x7_2", c7, (1, 7), padding=(0, 3))
    b7 = basic_conv2d(b, b7, "branch7x7_3", 192, (7, 1), padding=(3, 0))
    bd = basic_conv2d(b, x, "branch7x7dbl_1", c7, 1)
    bd = basic_conv2d(b, bd, "branch7x7dbl_2", c7, (7, 1), padding=(3, 0))
    bd = basic_conv2d(b, bd, "branch7x7dbl_3", c7, (1, 7), padding=(0, 3))
    bd = basic_conv2d(b, bd, "branch7x7dbl_4", c7, (7, 1), padding=(3, 0))
    bd = basic_conv2d(b, bd, "branch7x7dbl_5", 192, (1, 7), padding=(0, 3))
    bp = b.avgpool(x, 3, stride=1, padding=1, name="avg_pool")
    bp = basic_conv2d(b, bp, "branch_pool", 192, 1)
    return b.join("concat", [b1, b7, bd, bp], name="concat")


def _inception_d(b: NetworkBuilder, x: str) -> str:
    """``InceptionD``: 17x17 -> 8x8 by strided 3x3 convs and a max pool."""
    b3 = basic_conv2d(b, x, "branch3x3_1", 192, 1)
    b3 = basic_conv2d(b, b3, "branch3x3_2", 320, 3, stride=2)
    b7 = basic_conv2d(b, x, "branch7x7x3_1", 192, 1)
    b7 = basic_conv2d(b, b7, "branch7x7x3_2", 192, (1, 7), padding=(0, 3))
    b7 = basic_conv2d(b, b7, "branch7x7x3_3", 192, (7, 1), padding=(3, 0))
    b7 = basic_conv2d(b, b7, "branch7x7x3_4", 192, 3, stride=2)
    bp = b.maxpool(x, 3, stride=2, name="max_pool")
    return b.join("concat", [b3, b7, bp], name="concat")


def _inception_e(b: NetworkBuilder, x: str) -> str:
    """``InceptionE``: 8x8 branches whose 1x3 and 3x1 convs share an input and are concatenated."""
    b1 = basic_conv2d(b, x, "branch1x1", 320, 1)
    b3 = basic_conv2d(b, x, "branch3x3_1", 384, 1)
    b3 = b.join("concat", [basic_conv2d(b, b3, "branch3x3_2a", 384, (1, 3), padding=(0, 1)),
                           basic_conv2d(b, b3, "branch3x3_2b", 384, (3, 1), padding=(1, 0))],
                name="branch3x3_concat")
    bd = basic_conv2d(b, x, "branch3x3dbl_1", 448, 1)
    bd = basic_conv2d(b, bd, "branch3x3dbl_2", 384, 3, padding=1)
    bd = b.join("concat", [basic_conv2d(b, bd, "branch3x3dbl_3a", 384, (1, 3), padding=(0, 1)),
                           basic_conv2d(b, bd, "branch3x3dbl_3b", 384, (3, 1), padding=(1, 0))],
                name="branch3x3dbl_concat")
    bp = b.avgpool(x, 3, stride=1, padding=1, name="avg_pool")
    bp = basic_conv2d(b, bp, "branch_pool", 192, 1)
    return b.join("concat", [b1, b3, bd, bp], name="concat")


def inception_v3() -> Network:
    """torchvision ``inception_v3`` (no aux head, 299x299 input): 23.8 M parameters."""
    b = NetworkBuilder("inception_v3", (3, 299, 299))
    x = basic_conv2d(b, b.input, "Conv2d_1a_3x3", 32, 3, stride=2)
    x = basic_conv2d(b, x, "Conv2d_2a_3x3", 32, 3)
    x = basic_conv2d(b, x, "Conv2d_2b_3x3", 64, 3, padding=1)
    x = b.maxpool(x, 3, stride=2, name="maxpool1")
    x = basic_conv2d(b, x, "Conv2d_3b_1x1", 80, 1)
    x = basic_conv2d(b, x, "Conv2d_4a_3x3", 192, 3)
    x = b.maxpool(x, 3, stride=2, name="maxpool2")
    # Each block is called with its own arguments, so the stages are listed rather than looped.
    blocks = [
        ("Mixed_5b", _inception_a, (32,)),
        ("Mixed_5c", _inception_a, (64,)),
        ("Mixed_5d", _inception_a, (64,)),
        ("Mixed_6a", _inception_b, ()),
        ("Mixed_6b", _inception_c, (128,)),
        ("Mixed_6c", _inception_c, (160,)),
        ("Mixed_6d", _inception_c, (160,)),
        ("Mixed_6e", _inception_c, (192,)),
        ("Mixed_7a", _inception_d, ()),
        ("Mixed_7b", _inception_e, ()),
        ("Mixed_7c", _inception_e, ()),
    ]
    for name, block, args in blocks:
        with b.scope(name):
            x = block(b, x, *args)
    x = b.adaptive_avgpool(x, (1, 1), name="avgpool")
    x = b.dropout(x, name="dropout")
    x = b.flatten(x, name="flatten")
    b.linear(x, _NUM_CLASSES, name="fc")
    return b.build()
