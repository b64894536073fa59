"""GoogLeNet (Inception v1; batch 1, 3x224x224 input, no auxiliary heads), as torchvision builds it.

Follows ``torchvision/models/googlenet.py`` (torchvision 0.29.1) with ``aux_logits=False`` and
``transform_input=False``. Every conv is a ``BasicConv2d`` (conv without bias, BN, ReLU; the
same module as Inception v3's, see :func:`aimclib.zoo.inception.basic_conv2d`). All max pools
use ``ceil_mode=True`` (112 -> 56 -> 28 -> 14 -> 7). In an ``Inception`` block the "5x5"
``branch3`` is really a 3x3 conv (a known torchvision quirk kept for its pretrained weights) and
``branch4`` is a 3x3 stride-1 max pool (``branch4.0``) followed by a 1x1 conv; the four branches
are concatenated as ``<block>.concat``. The head is global average pooling, flatten, dropout
(p = 0.2) and ``fc``. Layer names are torchvision's module paths (``inception3a.branch2.1.conv``).
"""

from __future__ import annotations

from ..network import Network, NetworkBuilder
from .inception import basic_conv2d

_NUM_CLASSES = 1000

# Per Inception block: (name, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection)
# output channels, in torchvision's order; a max pool follows inception3b and inception4e.
_BLOCKS = (
    ("inception3a", 64, 96, 128, 16, 32, 32),
    ("inception3b", 128, 128, 192, 32, 96, 64),
    ("inception4a", 192, 96, 208, 16, 48, 64),
    ("inception4b", 160, 112, 224, 24, 64, 64),
    ("inception4c", 128, 128, 256, 24, 64, 64),
    ("inception4d", 112, 144, 288, 32, 64, 64),
    ("inception4e", 256, 160, 320, 32, 128, 128),
    ("inception5a", 256, 160, 320, 32, 128, 128),
    ("inception5b", 384, 192, 384, 48, 128, 128),
)
_POOL_AFTER = {"inception3b": ("maxpool3", 3), "inception4e": ("maxpool4", 2)}
"""Block -> (name, kernel) of the stride-2 ceil-mode max pool that follows it."""


def _inception(b: NetworkBuilder, x: str, ch1x1: int, ch3x3red: int, ch3x3: int,
               ch5x5red: int, ch5x5: int, pool_proj: int) -> str:
    """torchvision ``Inception``: 1x1, 1x1-3x3, 1x1-3x3 and maxpool-1x1 branches, concatenated."""
    b1 = basic_conv2d(b, x, "branch1", ch1x1, 1)
    b2 = basic_conv2d(b, x, "branch2.0", ch3x3red, 1)
    b2 = basic_conv2d(b, b2, "branch2.1", ch3x3, 3, padding=1)
    b3 = basic_conv2d(b, x, "branch3.0", ch5x5red, 1)
    b3 = basic_conv2d(b, b3, "branch3.1", ch5x5, 3, padding=1)
    b4 = b.maxpool(x, 3, stride=1, padding=1, ceil_mode=True, name="branch4.0")
    b4 = basic_conv2d(b, b4, "branch4.1", pool_proj, 1)
    return b.join("concat", [b1, b2, b3, b4], name="concat")


def googlenet() -> Network:
    """torchvision ``googlenet`` (no aux heads): 6.6 M parameters."""
    b = NetworkBuilder("googlenet", (3, 224, 224))
    x = basic_conv2d(b, b.input, "conv1", 64, 7, stride=2, padding=3)
    x = b.maxpool(x, 3, stride=2, ceil_mode=True, name="maxpool1")
    x = basic_conv2d(b, x, "conv2", 64, 1)
    x = basic_conv2d(b, x, "conv3", 192, 3, padding=1)
    x = b.maxpool(x, 3, stride=2, ceil_mode=True, name="maxpool2")
    for name, *channels in _BLOCKS:
        with b.scope(name):
            x = _inception(b, x, *channels)
        if name in _POOL_AFTER:
            pool, kernel = _POOL_AFTER[name]
            x = b.maxpool(x, kernel, stride=2, ceil_mode=True, name=pool)
    x = b.adaptive_avgpool(x, (1, 1), name="avgpool")
    x = b.flatten(x, name="flatten")
    x = b.dropout(x, name="dropout")
    b.linear(x, _NUM_CLASSES, name="fc")
    return b.build()
