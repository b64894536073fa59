"""ResNet-18 and ResNet-50 (batch 1, 3x224x224 input), as torchvision builds them.

Follows ``torchvision/models/resnet.py`` (torchvision 0.29.1): ResNet v1.5, i.e. a Bottleneck
strides on its 3x3 ``conv2``; a block whose stride or channel count changes gets a
``downsample`` of a strided 1x1 conv (no bias) and BN. Layer names are torchvision's module
paths (``layer1.0.conv1``, ``layer1.0.downsample.0``, ``fc``); the shared ReLU module of a
block is numbered per call (``relu``, ``relu_1``, ``relu_2``) and the residual sum is ``add``.
"""

from __future__ import annotations

from ..network import Network, NetworkBuilder

# Output channels of a block are planes * expansion (torchvision's BasicBlock / Bottleneck).
_BASIC_EXPANSION = 1
_BOTTLENECK_EXPANSION = 4


def _downsample(b: NetworkBuilder, x: str, out_channels: int, stride: int) -> str:
    """The identity branch of a block whose stride or channel count changes."""
    if stride == 1 and b.shape(x)[0] == out_channels:
        return x
    with b.scope("downsample"):
        y = b.conv(x, out_channels, 1, stride=stride, name="0")
        return b.bn(y, name="1")


def _basic_block(b: NetworkBuilder, x: str, planes: int, stride: int) -> str:
    """torchvision ``BasicBlock``: two 3x3 convs with BN, residual add, ReLU."""
    y = b.conv(x, planes, 3, stride=stride, padding=1, name="conv1")
    y = b.act("relu", b.bn(y, name="bn1"))
    y = b.bn(b.conv(y, planes, 3, padding=1, name="conv2"), name="bn2")
    identity = _downsample(b, x, planes * _BASIC_EXPANSION, stride)
    return b.act("relu", b.join("add", [y, identity], name="add"))


def _bottleneck(b: NetworkBuilder, x: str, planes: int, stride: int) -> str:
    """torchvision ``Bottleneck`` (v1.5): 1x1 reduce, strided 3x3, 1x1 expand, add, ReLU."""
    y = b.act("relu", b.bn(b.conv(x, planes, 1, name="conv1"), name="bn1"))
    y = b.conv(y, planes, 3, stride=stride, padding=1, name="conv2")
    y = b.act("relu", b.bn(y, name="bn2"))
    out = planes * _BOTTLENECK_EXPANSION
    y = b.bn(b.conv(y, out, 1, name="conv3"), name="bn3")
    identity = _downsample(b, x, out, stride)
    return b.act("relu", b.join("add", [y, identity], name="add"))


def _resnet(name: str, block, blocks_per_stage: tuple[int, int, int, int]) -> Network:
    """A torchvision ResNet with ``block`` repeated ``blocks_per_stage`` times in layer1-4."""
    b = NetworkBuilder(name, (3, 224, 224))
    x = b.conv(b.input, 64, 7, stride=2, padding=3, name="conv1")
    x = b.act("relu", b.bn(x, name="bn1"), name="relu")
    x = b.maxpool(x, 3, stride=2, padding=1, name="maxpool")
    for stage, (planes, n_blocks) in enumerate(zip((64, 128, 256, 512), blocks_per_stage), 1):
        for i in range(n_blocks):
            # The first block of stages 2-4 halves the spatial size.
            stride = 2 if i == 0 and stage > 1 else 1
            with b.scope(f"layer{stage}.{i}"):
                x = block(b, x, planes, stride)
    x = b.adaptive_avgpool(x, (1, 1), name="avgpool")
    x = b.flatten(x, name="flatten")
    b.linear(x, 1000, name="fc")
    return b.build()


def resnet18() -> Network:
    """torchvision ``resnet18``: BasicBlocks 2-2-2-2, 11.7 M parameters."""
    return _resnet("resnet18", _basic_block, (2, 2, 2, 2))


def resnet50() -> Network:
    """torchvision ``resnet50``: Bottlenecks 3-4-6-3, 25.6 M parameters."""
    return _resnet("resnet50", _bottleneck, (3, 4, 6, 3))
