"""DenseNet-121 (batch 1, 3x224x224 input), as torchvision builds it.

Follows ``torchvision/models/densenet.py`` (torchvision 0.29.1): four dense blocks of 6, 12,
24 and 16 layers, growth rate 32, bottleneck width 4 * 32 = 128, 64 stem channels, dropout
rate 0 (so no dropout layers), no conv biases. As in torchvision's ``_DenseLayer`` each layer
first concatenates the list of all features before it (``denselayerN.concat``, a copy of its
single input for the first layer) and each ``_DenseBlock`` ends by concatenating the block
input and every new feature map (``denseblockN.concat``). Layer names are torchvision's module
paths (``features.denseblock1.denselayer1.conv1``, ``features.transition1.pool``,
``classifier``); the functional ReLU, pooling and flatten of ``DenseNet.forward`` are ``relu``,
``avgpool`` and ``flatten``.
"""

from __future__ import annotations

from ..network import Network, NetworkBuilder

_GROWTH_RATE = 32
"""Channels each dense layer adds."""
_BN_SIZE = 4
"""Bottleneck width of a dense layer, in multiples of the growth rate."""
_STEM_CHANNELS = 64
_NUM_CLASSES = 1000


def _dense_layer(b: NetworkBuilder, features: list[str]) -> str:
    """torchvision ``_DenseLayer``: concat, BN-ReLU-1x1 conv, BN-ReLU-3x3 conv to 32 channels."""
    x = b.join("concat", features, name="concat")
    x = b.act("relu", b.bn(x, name="norm1"), name="relu1")
    x = b.conv(x, _BN_SIZE * _GROWTH_RATE, 1, name="conv1")
    x = b.act("relu", b.bn(x, name="norm2"), name="relu2")
    return b.conv(x, _GROWTH_RATE, 3, padding=1, name="conv2")


def _dense_block(b: NetworkBuilder, x: str, n_layers: int) -> str:
    """torchvision ``_DenseBlock``: each layer reads all earlier features; returns their concat."""
    features = [x]
    for i in range(1, n_layers + 1):
        with b.scope(f"denselayer{i}"):
            features.append(_dense_layer(b, features))
    return b.join("concat", features, name="concat")


def _transition(b: NetworkBuilder, x: str) -> str:
    """torchvision ``_Transition``: BN, ReLU, 1x1 conv halving the channels, 2x2/2 avg pool."""
    y = b.act("relu", b.bn(x, name="norm"), name="relu")
    y = b.conv(y, b.shape(x)[0] // 2, 1, name="conv")
    return b.avgpool(y, 2, stride=2, name="pool")


def _densenet(name: str, block_config: tuple[int, ...]) -> Network:
    """A torchvision DenseNet with ``block_config`` layers per dense block."""
    b = NetworkBuilder(name, (3, 224, 224))
    with b.scope("features"):
        x = b.conv(b.input, _STEM_CHANNELS, 7, stride=2, padding=3, name="conv0")
        x = b.act("relu", b.bn(x, name="norm0"), name="relu0")
        x = b.maxpool(x, 3, stride=2, padding=1, name="pool0")
        for i, n_layers in enumerate(block_config, 1):
            with b.scope(f"denseblock{i}"):
                x = _dense_block(b, x, n_layers)
            if i < len(block_config):
                with b.scope(f"transition{i}"):
                    x = _transition(b, x)
        x = b.bn(x, name="norm5")
    x = b.act("relu", x, name="relu")
    x = b.adaptive_avgpool(x, (1, 1), name="avgpool")
    x = b.flatten(x, name="flatten")
    b.linear(x, _NUM_CLASSES, name="classifier")
    return b.build()


def densenet121() -> Network:
    """torchvision ``densenet121``: dense blocks of 6-12-24-16 layers, 8.0 M parameters."""
    return _densenet("densenet121", (6, 12, 24, 16))
