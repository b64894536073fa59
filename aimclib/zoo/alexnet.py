"""AlexNet (batch 1, 3x224x224 input), as torchvision builds it.

Follows ``torchvision/models/alexnet.py`` (torchvision 0.29.1): the single-GPU variant of
"One weird trick" (64/192/384/256/256 channels, no LRN), not the original two-tower network.
Layer names are torchvision's module paths (``features.N``, ``classifier.N``).
"""

from __future__ import annotations

from ..network import Network, NetworkBuilder

# The five convs: (torchvision index in ``features``, output channels, kernel, stride, padding,
# whether a 3x3/2 max-pool follows the conv's ReLU).
_CONVS = ((0, 64, 11, 4, 2, True), (3, 192, 5, 1, 2, True), (6, 384, 3, 1, 1, False),
          (8, 256, 3, 1, 1, False), (10, 256, 3, 1, 1, True))


def alexnet() -> Network:
    """torchvision ``alexnet``: 5 convs and 3 linears, 61.1 M parameters."""
    b = NetworkBuilder("alexnet", (3, 224, 224))
    x = b.input
    with b.scope("features"):
        for index, channels, kernel, stride, padding, pool in _CONVS:
            x = b.conv(x, channels, kernel, stride=stride, padding=padding, bias=True,
                       name=str(index))
            x = b.act("relu", x, name=str(index + 1))
            if pool:
                x = b.maxpool(x, 3, stride=2, name=str(index + 2))
    x = b.flatten(b.adaptive_avgpool(x, (6, 6), name="avgpool"), name="flatten")
    with b.scope("classifier"):
        x = b.dropout(x, name="0")
        x = b.act("relu", b.linear(x, 4096, name="1"), name="2")
        x = b.dropout(x, name="3")
        x = b.act("relu", b.linear(x, 4096, name="4"), name="5")
        b.linear(x, 1000, name="6")
    return b.build()
