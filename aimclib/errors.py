"""Exception types raised by aimclib.

Every error the library raises on bad input derives from :class:`AimcError`, so the command
line (and users) can catch one type and print its message instead of a traceback. Each also
derives from the matching built-in (``ValueError`` or ``TypeError``; ``RuntimeError`` for work
that failed while running) so generic handlers work.
:mod:`aimclib.validation` raises these for every argument it checks.
"""

from __future__ import annotations


class AimcError(Exception):
    """Base class of every error aimclib raises on bad input."""


class ShapeError(AimcError, ValueError):
    """A layer received a tensor whose shape it cannot accept."""


class NetworkError(AimcError, ValueError):
    """A network is malformed: duplicate or unknown layer names, cycles, bad references."""


class LayerSpecError(AimcError, ValueError):
    """A layer's own parameters are invalid (negative kernel, unknown kind, ...)."""


class DTypeError(AimcError, TypeError):
    """An array has the wrong element type (e.g. floats where the AIMC tile needs int8)."""


class ParameterError(AimcError, ValueError):
    """A numeric parameter (tile size, noise level, seed, scale, ...) is out of its range."""


class ParameterTypeError(AimcError, TypeError):
    """A parameter has the wrong type (a string where a number is needed, ...)."""


class LimitError(ParameterError):
    """A size is beyond a documented limit of aimclib (``docs/limits.md``), or the work it asks
    for would not fit in memory."""


class OutputError(AimcError, ValueError):
    """An output location (file, cache directory) cannot be written, or would overwrite a
    file it must not."""


class CacheError(AimcError, ValueError):
    """A sweep cache cannot be opened or written."""


class RunError(AimcError, RuntimeError):
    """Work that failed while running, not because of its input (a worker process died, a
    needed optional package is missing)."""


class ModelFormatError(AimcError, ValueError):
    """A model file (ONNX or CSV) cannot be read into a network."""


class UnknownNameError(AimcError, KeyError):
    """A name (network, preset, ...) is not known; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would repr() the message, adding quotes
        return str(self.args[0]) if self.args else ""
