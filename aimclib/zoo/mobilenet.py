"""MobileNetV2 and MobileNetV3-Large (batch 1, 3x224x224 input), as torchvision builds them.

Follows ``torchvision/models/mobilenetv2.py`` and ``torchvision/models/mobilenetv3.py``
(torchvision 0.29.1, width multiplier 1.0). Layer names are torchvision's module paths
(``features.2.conv.1.0``, ``features.4.block.2.fc1``, ``classifier.1``); the functional parts of
the forward pass get descriptive names (``features.3.add``, ``features.4.block.2.mul``,
``avgpool``, ``flatten``).
"""

from __future__ import annotations

from ..network import Network, NetworkBuilder


def _make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's ``_make_divisible``: round ``v`` to a multiple of ``divisor``, losing <10 %."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_norm_act(b: NetworkBuilder, x: str, scope: str, out_channels: int, kernel: int = 1,
                   stride: int = 1, groups: int = 1, act: str | None = None) -> str:
    """torchvision ``Conv2dNormActivation``: ``scope.0`` conv (no bias, same padding),
    ``scope.1`` BN and, unless ``act`` is None, ``scope.2`` activation."""
    with b.scope(scope):
        y = b.conv(x, out_channels, kernel, stride=stride, padding=(kernel - 1) // 2,
                   groups=groups, name="0")
        y = b.bn(y, name="1")
        return y if act is None else b.act(act, y, name="2")


def _residual(b: NetworkBuilder, x: str, y: str, stride: int) -> str:
    """Add the block input when the block keeps the shape (stride 1, same channels)."""
    if stride == 1 and b.shape(x) == b.shape(y):
        return b.join("add", [y, x], name="add")
    return y


def _classifier_tail(b: NetworkBuilder, x: str) -> str:
    """Global average pooling and flattening in front of the classifier."""
    return b.flatten(b.adaptive_avgpool(x, (1, 1), name="avgpool"), name="flatten")


# MobileNetV2 inverted-residual settings: expansion t, output channels c, repeats n, stride s.
_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))


def _v2_block(b: NetworkBuilder, x: str, out_channels: int, stride: int, expand: int) -> str:
    """MobileNetV2 ``InvertedResidual``: [1x1 expand], 3x3 depthwise, linear 1x1 projection."""
    hidden = b.shape(x)[0] * expand
    y, i = x, 0
    if expand != 1:
        y = conv_norm_act(b, y, f"conv.{i}", hidden, act="relu6")
        i += 1
    y = conv_norm_act(b, y, f"conv.{i}", hidden, 3, stride=stride, groups=hidden, act="relu6")
    y = b.conv(y, out_channels, 1, name=f"conv.{i + 1}")
    y = b.bn(y, name=f"conv.{i + 2}")
    return _residual(b, x, y, stride)


def mobilenet_v2() -> Network:
    """torchvision ``mobilenet_v2``: 17 inverted residuals, 3.5 M parameters."""
    b = NetworkBuilder("mobilenet_v2", (3, 224, 224))
    x = conv_norm_act(b, b.input, "features.0", 32, 3, stride=2, act="relu6")
    index = 1
    for t, c, n, s in _V2_SETTINGS:
        for i in range(n):
            with b.scope(f"features.{index}"):
                x = _v2_block(b, x, c, s if i == 0 else 1, t)
            index += 1
    x = conv_norm_act(b, x, f"features.{index}", 1280, act="relu6")
    x = b.dropout(_classifier_tail(b, x), name="classifier.0")
    b.linear(x, 1000, name="classifier.1")
    return b.build()


# MobileNetV3-Large bneck settings: kernel, expanded channels, output channels, squeeze-and-
# excitation, activation, stride (torchvision's _mobilenet_v3_conf, dilation 1).
_V3_LARGE_SETTINGS = (
    (3, 16, 16, False, "relu", 1),
    (3, 64, 24, False, "relu", 2),
    (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2),
    (5, 120, 40, True, "relu", 1),
    (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hardswish", 2),
    (3, 200, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 480, 112, True, "hardswish", 1),
    (3, 672, 112, True, "hardswish", 1),
    (5, 672, 160, True, "hardswish", 2),
    (5, 960, 160, True, "hardswish", 1),
    (5, 960, 160, True, "hardswish", 1),
)


def _squeeze_excitation(b: NetworkBuilder, x: str, scope: str) -> str:
    """torchvision ``SqueezeExcitation``: pool, 1x1 squeeze + ReLU, 1x1 excite + hardsigmoid,
    then scale ``x`` channel-wise."""
    channels = b.shape(x)[0]
    with b.scope(scope):
        s = b.adaptive_avgpool(x, (1, 1), name="avgpool")
        s = b.act("relu", b.conv(s, _make_divisible(channels // 4), 1, bias=True, name="fc1"),
                  name="activation")
        s = b.act("hardsigmoid", b.conv(s, channels, 1, bias=True, name="fc2"),
                  name="scale_activation")
        # The feature map goes first so per-layer records report its shape as the input.
        return b.join("mul", [x, s], name="mul")


def _v3_block(b: NetworkBuilder, x: str, kernel: int, expanded: int, out_channels: int,
              use_se: bool, act: str, stride: int) -> str:
    """MobileNetV3 ``InvertedResidual``: [1x1 expand], depthwise, [SE], linear 1x1 projection."""
    y, i = x, 0
    if expanded != b.shape(x)[0]:
        y = conv_norm_act(b, y, f"block.{i}", expanded, act=act)
        i += 1
    y = conv_norm_act(b, y, f"block.{i}", expanded, kernel, stride=stride, groups=expanded,
                       act=act)
    i += 1
    if use_se:
        y = _squeeze_excitation(b, y, f"block.{i}")
        i += 1
    y = conv_norm_act(b, y, f"block.{i}", out_channels)
    return _residual(b, x, y, stride)


def mobilenet_v3_large() -> Network:
    """torchvision ``mobilenet_v3_large``: 15 bnecks with SE and hardswish, 5.5 M parameters."""
    b = NetworkBuilder("mobilenet_v3_large", (3, 224, 224))
    x = conv_norm_act(b, b.input, "features.0", 16, 3, stride=2, act="hardswish")
    for index, setting in enumerate(_V3_LARGE_SETTINGS, 1):
        with b.scope(f"features.{index}"):
            x = _v3_block(b, x, *setting)
    x = conv_norm_act(b, x, f"features.{len(_V3_LARGE_SETTINGS) + 1}", 960, act="hardswish")
    x = _classifier_tail(b, x)
    with b.scope("classifier"):
        x = b.act("hardswish", b.linear(x, 1280, name="0"), name="1")
        x = b.dropout(x, name="2")
        b.linear(x, 1000, name="3")
    return b.build()
