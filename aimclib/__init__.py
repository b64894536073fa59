"""aimclib: a workbench for heterogeneous CPU + analog in-memory computing (AIMC) edge systems.

The public API: networks (:func:`load_network`, :class:`Network`), systems
(:func:`load_system`), single-layer costs (:func:`layer_cost`) and full-network simulation
(:func:`simulate`, and :func:`simulate_many` for many tile budgets at once).
"""

__version__ = "0.1.0"

from .batch import simulate_many
from .errors import AimcError, ModelFormatError, NetworkError, ShapeError, UnknownNameError
from .layercost import layer_cost
from .layers import KINDS, MVM_KINDS, Layer, LayerInfo
from .loading import load_network
from .network import Network, NetworkBuilder
from .results import SimResult
from .simulate import simulate, tiles_for_coverage
from .system import SystemConfig, load_system, preset_names

__all__ = ["AimcError", "KINDS", "Layer", "LayerInfo", "MVM_KINDS", "ModelFormatError",
           "Network", "NetworkBuilder", "NetworkError", "ShapeError", "SimResult",
           "SystemConfig", "UnknownNameError", "__version__", "layer_cost", "load_network",
           "load_system", "preset_names", "simulate", "simulate_many", "tiles_for_coverage"]
