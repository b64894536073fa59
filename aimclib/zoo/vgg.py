"""VGG-16 (batch 1, 3x224x224 input), as torchvision builds it.

Follows ``torchvision/models/vgg.py`` (torchvision 0.29.1, configuration "D", no batch norm).
Layer names are torchvision's module paths: ``features.N`` numbers every conv, ReLU and
max-pool of the feature extractor, ``classifier.N`` the Linear-ReLU-Dropout head.
"""

from __future__ import annotations

from ..network import Network, NetworkBuilder

# Configuration "D": output channels of each 3x3 conv, "M" for a 2x2/2 max-pool.
_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M")


def _features(b: NetworkBuilder, x: str, cfg) -> str:
    """torchvision ``make_layers``: each conv is followed by a ReLU, each "M" is a max-pool."""
    index = 0
    with b.scope("features"):
        for item in cfg:
            if item == "M":
                x = b.maxpool(x, 2, stride=2, name=str(index))
                index += 1
            else:
                x = b.conv(x, item, 3, padding=1, bias=True, name=str(index))
                x = b.act("relu", x, name=str(index + 1))
                index += 2
    return x


def vgg16() -> Network:
    """torchvision ``vgg16``: 13 convs and 3 linears, 138.4 M parameters."""
    b = NetworkBuilder("vgg16", (3, 224, 224))
    x = _features(b, b.input, _VGG16_CFG)
    x = b.flatten(b.adaptive_avgpool(x, (7, 7), name="avgpool"), name="flatten")
    with b.scope("classifier"):
        x = b.dropout(b.act("relu", b.linear(x, 4096, name="0"), name="1"), name="2")
        x = b.dropout(b.act("relu", b.linear(x, 4096, name="3"), name="4"), name="5")
        b.linear(x, 1000, name="6")
    return b.build()
