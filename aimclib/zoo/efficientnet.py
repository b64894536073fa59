"""EfficientNet-B0 (batch 1, 3x224x224 input), as torchvision builds it.

Follows ``torchvision/models/efficientnet.py`` (torchvision 0.29.1; width and depth multipliers
1.0, so no channel rounding or layer repetition changes the base configuration). ``features.0``
is the stem (3x3/2 conv, BN, SiLU), ``features.1``-``features.7`` the MBConv stages and
``features.8`` the 1x1 head conv to 1280 channels; then global average pooling, flatten and
``classifier`` = dropout (p = 0.2, ``classifier.0``) and Linear (``classifier.1``).

An ``MBConv`` block's ``block`` sequence is [expand 1x1 conv, if the ratio is not 1] depthwise
kxk conv, squeeze-and-excitation and project 1x1 conv (BN, no activation); each conv is a
``Conv2dNormActivation`` named ``.0`` (conv), ``.1`` (BN), ``.2`` (SiLU). The SE module pools
globally (``avgpool``), reduces to ``max(1, block input channels // 4)`` with ``fc1`` (1x1 conv
with bias), applies ``activation`` (SiLU), expands with ``fc2``, applies ``scale_activation``
(sigmoid) and multiplies the block's feature map (``mul``). A block keeps a residual ``add``
when its stride is 1 and its input and output channels match; torchvision's stochastic depth
before that add is the identity at inference and is left out.
"""

from __future__ import annotations

from ..network import Network, NetworkBuilder
from .mobilenet import conv_norm_act

_NUM_CLASSES = 1000
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280  # torchvision: 4 * the last stage's 320 output channels
_SE_REDUCTION = 4  # SE squeeze width = block input channels // 4

# MBConv stages of B0: (expand ratio, kernel, first stride, out channels, layers); a stage's
# input channels are the previous stage's output (the stem's 32 for the first).
_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)


def _squeeze_excitation(b: NetworkBuilder, x: str, name: str, squeeze_channels: int) -> str:
    """torchvision ``SqueezeExcitation`` called ``name``: pool, fc1, SiLU, fc2, sigmoid, scale."""
    with b.scope(name):
        s = b.adaptive_avgpool(x, (1, 1), name="avgpool")
        s = b.conv(s, squeeze_channels, 1, bias=True, name="fc1")
        s = b.act("silu", s, name="activation")
        s = b.conv(s, b.shape(x)[0], 1, bias=True, name="fc2")
        s = b.act("sigmoid", s, name="scale_activation")
        return b.join("mul", [x, s], name="mul")


def _mbconv(b: NetworkBuilder, x: str, expand_ratio: int, kernel: int, stride: int,
            out_channels: int) -> str:
    """torchvision ``MBConv``: expand, depthwise, SE, project, residual add if shapes allow."""
    in_channels = b.shape(x)[0]
    expanded = in_channels * expand_ratio
    index = 0  # position in the block's ``block`` Sequential, which names its layers
    with b.scope("block"):
        y = x
        if expanded != in_channels:
            y = conv_norm_act(b, y, str(index), expanded, 1, act="silu")
            index += 1
        y = conv_norm_act(b, y, str(index), expanded, kernel, stride=stride, groups=expanded,
                          act="silu")
        y = _squeeze_excitation(b, y, str(index + 1), max(1, in_channels // _SE_REDUCTION))
        y = conv_norm_act(b, y, str(index + 2), out_channels, 1)
    if stride == 1 and in_channels == out_channels:
        y = b.join("add", [y, x], name="add")
    return y


def efficientnet_b0() -> Network:
    """torchvision ``efficientnet_b0``: 16 MBConv blocks in 7 stages, 5.3 M parameters."""
    b = NetworkBuilder("efficientnet_b0", (3, 224, 224))
    with b.scope("features"):
        x = conv_norm_act(b, b.input, "0", _STEM_CHANNELS, 3, stride=2, act="silu")
        for stage, (ratio, kernel, stride, out_channels, n_layers) in enumerate(_STAGES, 1):
            for i in range(n_layers):
                with b.scope(f"{stage}.{i}"):
                    # Only a stage's first block changes stride and channel count.
                    x = _mbconv(b, x, ratio, kernel, stride if i == 0 else 1, out_channels)
        x = conv_norm_act(b, x, str(len(_STAGES) + 1), _HEAD_CHANNELS, 1, act="silu")
    x = b.adaptive_avgpool(x, (1, 1), name="avgpool")
    x = b.flatten(x, name="flatten")
    x = b.dropout(x, name="classifier.0")
    b.linear(x, _NUM_CLASSES, name="classifier.1")
    return b.build()
