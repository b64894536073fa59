"""SqueezeNet 1.1 (batch 1, 3x224x224 input), as torchvision builds it.

Follows ``torchvision/models/squeezenet.py`` (torchvision 0.29.1, version "1_1"). Every conv has
a bias and there is no batch norm. Layer names are torchvision's module paths
(``features.3.squeeze``, ``features.3.expand3x3_activation``, ``classifier.1``); the channel
concatenation of a Fire module is ``features.N.cat``.
"""

from __future__ import annotations

from ..network import Network, NetworkBuilder

# The Fire modules: (torchvision index in ``features``, squeeze channels, channels of each of
# the two expand branches). Indices 2, 5 and 8 are the 3x3/2 ceil-mode max-pools.
_FIRES = ((3, 16, 64), (4, 16, 64), (6, 32, 128), (7, 32, 128), (9, 48, 192), (10, 48, 192),
          (11, 64, 256), (12, 64, 256))
_POOLS = (2, 5, 8)


def _fire(b: NetworkBuilder, x: str, squeeze: int, expand: int) -> str:
    """torchvision ``Fire``: 1x1 squeeze + ReLU, then 1x1 and 3x3 expands + ReLU, concatenated."""
    s = b.act("relu", b.conv(x, squeeze, 1, bias=True, name="squeeze"),
              name="squeeze_activation")
    e1 = b.act("relu", b.conv(s, expand, 1, bias=True, name="expand1x1"),
               name="expand1x1_activation")
    e3 = b.act("relu", b.conv(s, expand, 3, padding=1, bias=True, name="expand3x3"),
               name="expand3x3_activation")
    return b.join("concat", [e1, e3], name="cat")


def squeezenet1_1() -> Network:
    """torchvision ``squeezenet1_1``: 8 Fire modules, 1.2 M parameters."""
    b = NetworkBuilder("squeezenet1_1", (3, 224, 224))
    fires = {index: (squeeze, expand) for index, squeeze, expand in _FIRES}
    with b.scope("features"):
        x = b.act("relu", b.conv(b.input, 64, 3, stride=2, bias=True, name="0"), name="1")
        for index in range(2, _FIRES[-1][0] + 1):
            if index in _POOLS:
                x = b.maxpool(x, 3, stride=2, ceil_mode=True, name=str(index))
            else:
                with b.scope(str(index)):
                    x = _fire(b, x, *fires[index])
    with b.scope("classifier"):
        x = b.dropout(x, name="0")
        x = b.act("relu", b.conv(x, 1000, 1, bias=True, name="1"), name="2")
        x = b.adaptive_avgpool(x, (1, 1), name="3")
    b.flatten(x, name="flatten")
    return b.build()
