"""aimclib: a workbench for heterogeneous CPU + analog in-memory computing (AIMC) edge systems."""

from .errors import AimcError, ModelFormatError, NetworkError, ShapeError, UnknownNameError
from .layers import KINDS, MVM_KINDS, Layer, LayerInfo
from .network import Network, NetworkBuilder

__version__ = "0.1.0"
