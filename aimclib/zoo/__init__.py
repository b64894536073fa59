"""The zoo: real CNNs built from architecture definitions in code (batch 1, no downloads).

Every network equals the torchvision model of the same name layer for layer (conv/linear
channels, kernel, stride, padding, groups and spatial sizes) and in its totals of learnable
parameters, MVM weights and MACs; ``tests/test_zoo.py`` checks this against
``tests/data/torchvision_reference.json`` (made by ``tools/torchvision_reference.py``).
"""

from __future__ import annotations

import importlib
from functools import lru_cache

import pandas as pd

from ..errors import UnknownNameError
from ..network import Network

# name -> (module in this package, builder function); modules are imported on first use.
_REGISTRY: dict[str, tuple[str, str]] = {
    "resnet50": ("resnet", "resnet50"),
    "mobilenet_v2": ("mobilenet", "mobilenet_v2"),
    "vgg16": ("vgg", "vgg16"),
    "densenet121": ("densenet", "densenet121"),
    "inception_v3": ("inception", "inception_v3"),
    "efficientnet_b0": ("efficientnet", "efficientnet_b0"),
    "resnet18": ("resnet", "resnet18"),
    "alexnet": ("alexnet", "alexnet"),
    "squeezenet1_1": ("squeezenet", "squeezenet1_1"),
    "googlenet": ("googlenet", "googlenet"),
    "mobilenet_v3_large": ("mobilenet", "mobilenet_v3_large"),
}

STUDY_NETWORKS = ("resnet50", "mobilenet_v2", "vgg16", "densenet121", "inception_v3",
                  "efficientnet_b0")
"""The six CNNs of the reproduced study."""

NETWORKS = tuple(_REGISTRY)
"""Every zoo network, the study's six first."""


@lru_cache(maxsize=None)
def get_network(name: str) -> Network:
    """The zoo network ``name`` (torchvision's name); networks are immutable, so cached."""
    try:
        module, func = _REGISTRY[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown network {name!r}; known networks: {', '.join(NETWORKS)}"
        ) from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), func)()


def summary_table(names=NETWORKS) -> pd.DataFrame:
    """One row per zoo network: name, input_hw, mvm_layers, mvm_weights, total_params, macs,
    macs_per_weight (the ``aimc networks`` table)."""
    rows = []
    for name in names:
        s = get_network(name).summary()
        rows.append({k: s[k] for k in ("name", "input_hw", "mvm_layers", "mvm_weights",
                                        "total_params", "macs", "macs_per_weight")})
    df = pd.DataFrame(rows)
    df["input_hw"] = [f"{h}x{w}" for h, w in df["input_hw"]]
    return df
