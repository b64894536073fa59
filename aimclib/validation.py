"""Argument checks shared by the whole library, and the limits aimclib documents.

Every check names the parameter, where it was given (``where``: a function, a flag, a file),
what is accepted and the value received, and raises a wrong *type* as a
:class:`~aimclib.errors.ParameterTypeError` (a ``TypeError``) and a wrong *value* as a
:class:`~aimclib.errors.ParameterError` (a ``ValueError``); callers may pass their own
:class:`~aimclib.errors.AimcError` subclass (``error=``) for both. ``docs/limits.md`` lists
the limits below and what each guards.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Collection
from numbers import Integral, Real
from pathlib import Path

import numba
import numpy as np

from .errors import LimitError, OutputError, ParameterError, ParameterTypeError

# ------------------------------------------------------------------------------ limits
MAX_CORES = 1024
"""Most cores a system may have: the engine keeps one task deque per core, sized for all of a
layer's tasks, so its memory grows with cores x tasks (a 1,024-core, 4-tasks-per-core layer
needs about 32 MiB)."""

MAX_TASKS_PER_CORE = 256
"""Most chunks per core a layer is cut into for work stealing (every chunk is one task)."""

MAX_TILE_ROWS = (2**31 - 1) // (128 * 128)
"""Most crossbar rows of a tile (131,071): an MVM's exact sum, at most 128 x 128 per row,
must fit the int32 accumulator of :mod:`aimclib.functional`."""

MAX_TILES = 2**40
"""Most AIMC tiles a system may declare. A budget above what a network can use costs nothing:
only the tiles a network maps are placed and simulated."""

MAX_LAYER_WEIGHTS = 2**28
"""Most weights of one conv/linear layer (256 Mi; VGG-16's largest layer has 103 M). The
allocation simulates every mappable number of units of every layer, so the work grows with
the weights."""

MAX_TENSOR_ELEMENTS = 2**36
"""Most elements of one feature map (C x H x W): beyond this, operation counts lose their
meaning long before any real edge network."""

MAX_SEED = 2**63 - 1
"""Largest seed: seeds are non-negative 64-bit integers (stored in int64 table columns)."""

MEMORY_LIMIT_BYTES = 4 * 2**30
"""Most memory one simulation may allocate for its schedule arrays (estimated before it
starts); beyond it a :class:`~aimclib.errors.LimitError` names what to reduce."""


# ------------------------------------------------------------------------------ messages
def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _fail(error: type[Exception] | None, default: type[Exception], where: str, name: str,
          accepted: str, value) -> Exception:
    return (error or default)(f"{_at(where)}{name} must be {accepted}, got {value!r}")


def _interval(low, high, low_open: bool = False, high_open: bool = False) -> str:
    """``">= 0"``, ``"> 0 and <= 1"``, ...; empty when unbounded."""
    def num(v) -> str:
        return str(v) if isinstance(v, int) else f"{v:g}"

    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {num(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {num(high)}")
    return " and ".join(parts)


# ------------------------------------------------------------------------------ scalars
def check_int(value, name: str, *, low: int | None = None, high: int | None = None,
              where: str = "", error: type[Exception] | None = None,
              limit: str = "") -> int:
    """``value`` as a Python int: an int or NumPy integer (not a bool) in ``[low, high]``.

    ``limit`` names the documented limit behind ``high`` (a value above it then raises
    :class:`~aimclib.errors.LimitError` saying so)."""
    accepted = f"an integer {_interval(low, high)}".rstrip()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise _fail(error, ParameterTypeError, where, name, accepted, value)
    value = int(value)
    if high is not None and value > high and limit:
        raise (error or LimitError)(f"{_at(where)}{name} = {value:,} is above aimclib's limit "
                                    f"{limit} = {high:,} (docs/limits.md)")
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(error, ParameterError, where, name, accepted, value)
    return value


def check_float(value, name: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False, unit: str = "",
                where: str = "", error: type[Exception] | None = None) -> float:
    """``value`` as a finite Python float (ints and NumPy numbers accepted, bools not) in the
    interval ``low .. high`` (open ends with ``low_open`` / ``high_open``)."""
    accepted = f"a finite number {_interval(low, high, low_open, high_open)}".rstrip()
    if unit:
        accepted += f" ({unit})"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise _fail(error, ParameterTypeError, where, name, accepted, value)
    value = float(value)
    if (not math.isfinite(value)
            or (low is not None and (value < low or (low_open and value == low)))
            or (high is not None and (value > high or (high_open and value == high)))):
        raise _fail(error, ParameterError, where, name, accepted, value)
    return value


def check_choice(value, name: str, choices: Collection, *, where: str = "",
                 error: type[Exception] | None = None):
    """``value`` if it is one of ``choices`` (a string where the choices are strings)."""
    accepted = f"one of {', '.join(map(str, choices))}"
    if not isinstance(value, str) and all(isinstance(c, str) for c in choices):
        raise _fail(error, ParameterTypeError, where, name, accepted, value)
    if value not in choices:
        raise _fail(error, ParameterError, where, name, accepted, value)
    return value


def check_bool(value, name: str, *, where: str = "", error: type[Exception] | None = None
               ) -> bool:
    """``value`` if it is True or False (NumPy bools too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(error, ParameterTypeError, where, name, "True or False", value)
    return bool(value)


def check_seed(value, name: str = "seed", *, where: str = "",
               error: type[Exception] | None = None) -> int:
    """A seed: an integer in ``[0, MAX_SEED]``."""
    return check_int(value, name, low=0, high=MAX_SEED, where=where, error=error)


def stream_seed(seed: int, *stream: int) -> int:
    """A 32-bit generator seed for sub-stream ``stream`` (e.g. a layer index) of ``seed``:
    :class:`numpy.random.SeedSequence` mixes ``[seed, *stream]``, so neighbouring seeds and
    neighbouring streams are unrelated and seeds equal modulo 2**32 differ."""
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1, np.uint32)[0])


_M32 = np.uint64(0xFFFFFFFF)
_INIT_A, _MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
_INIT_B, _MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
_MIX_L, _MIX_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
_SHIFT = np.uint64(16)
"""Constants of NumPy's SeedSequence hash (numpy/random/bit_generator.pyx)."""


def stream_seeds(seed: int, streams) -> np.ndarray:
    """``stream_seed(seed, s)`` for every ``s`` in ``streams`` (non-negative ints below
    2**32), computed at once in compiled code: NumPy's SeedSequence mixing and first output
    word (``tests/test_registry.py`` checks it against :func:`stream_seed`)."""
    words = []  # the entropy's 32-bit words: the seed's (little end first), then the stream's
    n = int(seed)
    while True:
        words.append(n & 0xFFFFFFFF)
        n >>= 32
        if n == 0:
            break
    if len(words) > 3:
        raise ValueError("stream_seeds: the seed must be below 2**96")
    s = np.asarray(streams, np.int64)
    if s.size and (s.min() < 0 or s.max() > 0xFFFFFFFF):
        raise ValueError("stream_seeds: streams must be in [0, 2**32)")
    return _seed_sequence(np.array(words, np.uint64), s.astype(np.uint64))


@numba.njit(cache=True)
def _hashmix(value, hash_const):
    value ^= hash_const
    hash_const = (hash_const * _MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> _SHIFT), hash_const


@numba.njit(cache=True)
def _mix(x, y):
    r = (_MIX_L * x - _MIX_R * y) & _M32
    return r ^ (r >> _SHIFT)


@numba.njit(cache=True)
def _seed_sequence(words, streams):
    """SeedSequence(words + [stream]).generate_state(1)[0] per stream: a pool of four
    32-bit words, each entropy word hashed in, then every word mixed into every other."""
    out = np.empty(streams.shape[0], np.int64)
    pool = np.zeros(4, np.uint64)
    entropy = np.zeros(4, np.uint64)
    n = words.shape[0] + 1
    for k in range(streams.shape[0]):
        entropy[:n - 1] = words
        entropy[n - 1] = streams[k]
        hash_const = np.uint64(_INIT_A)
        for i in range(4):
            pool[i], hash_const = _hashmix(entropy[i] if i < n else np.uint64(0), hash_const)
        for i_src in range(4):
            for i_dst in range(4):
                if i_src != i_dst:
                    h, hash_const = _hashmix(pool[i_src], hash_const)
                    pool[i_dst] = _mix(pool[i_dst], h)
        v = ((pool[0] ^ _INIT_B) * ((_INIT_B * _MULT_B) & _M32)) & _M32
        out[k] = np.int64(v ^ (v >> _SHIFT))
    return out


# ------------------------------------------------------------------------------ memory
def check_memory(nbytes: float, what: str, reduce: str) -> None:
    """Refuse work whose estimated allocation ``nbytes`` exceeds :data:`MEMORY_LIMIT_BYTES`."""
    if nbytes > MEMORY_LIMIT_BYTES:
        raise LimitError(f"{what} would need about {nbytes / 2**30:,.1f} GiB, more than "
                         f"aimclib's limit MEMORY_LIMIT_BYTES = {MEMORY_LIMIT_BYTES / 2**30:g} "
                         f"GiB (docs/limits.md); reduce {reduce}")


def out_of_memory(what: str, reduce: str) -> LimitError:
    """The clean error that replaces a ``MemoryError``."""
    return LimitError(f"{what} ran out of memory; reduce {reduce}")


# ------------------------------------------------------------------------------ paths
def check_path_writable(path, name: str, *, where: str = "", force: bool = True,
                        forbidden: Path | None = None, create: bool = False) -> Path:
    """``path`` as a Path once it is known that a file can be written there, before any work.

    The parent directory must exist (``create``: is created) and accept a new file; an existing
    ``path`` must be a writable file, and with ``force=False`` it is refused. A path inside
    ``forbidden`` (e.g. the installed package) is refused. Raises
    :class:`~aimclib.errors.OutputError` naming the parameter and the reason."""
    if not isinstance(path, (str, os.PathLike)):
        raise _fail(None, ParameterTypeError, where, name, "a file path", path)
    path = Path(path)
    bad = f"{_at(where)}{name} {str(path)!r}"
    if forbidden is not None and path.resolve().is_relative_to(Path(forbidden).resolve()):
        raise OutputError(f"{bad} is inside {forbidden}: aimclib never writes into its own "
                          f"package; choose a path outside it")
    if path.is_dir():
        raise OutputError(f"{bad} is a directory; give a file name")
    if path.exists() and not force:
        raise OutputError(f"{bad} exists; choose another path or pass --force (force=True) "
                          f"to overwrite it")
    if not create and not path.parent.is_dir():
        raise OutputError(f"{bad}: directory {str(path.parent)!r} does not exist")
    check_dir_writable(path.parent, name, where=where, file=path)
    return path


def check_dir_writable(directory, name: str, *, where: str = "", file: Path | None = None
                       ) -> Path:
    """``directory`` (created if missing) once a test file has been created and removed in
    it; with ``file``, that existing file must also open for appending."""
    directory = Path(directory)
    bad = f"{_at(where)}{name} {str(file if file is not None else directory)!r}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()  # creating a file is the test
        if file is not None and file.exists():
            open(file, "ab").close()
    except OSError as exc:
        raise OutputError(f"{bad} cannot be written ({exc.strerror or exc}); choose a "
                          f"writable location") from None
    return directory


# ------------------------------------------------------------------------------ results
def check_finite(values: dict, where: str) -> None:
    """Refuse results that are not finite (a parameter so extreme the arithmetic overflowed)."""
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        raise ParameterError(f"{where}: the system's parameters give non-finite results "
                             f"({', '.join(f'{k} = {v}' for k, v in bad.items())}); check for "
                             f"extreme values (aimc preset show lists them)")


def finite_json(obj):
    """``obj`` with every non-finite float replaced by None, NumPy scalars by Python ones."""
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def json_text(obj, **kwargs) -> str:
    """Strict JSON text of ``obj`` (``NaN``/``Infinity`` become ``null``; never emitted)."""
    return json.dumps(finite_json(obj), allow_nan=False, **kwargs)


__all__ = ["MAX_CORES", "MAX_LAYER_WEIGHTS", "MAX_SEED", "MAX_TASKS_PER_CORE", "MAX_TILE_ROWS",
           "MAX_TENSOR_ELEMENTS", "MAX_TILES", "MEMORY_LIMIT_BYTES", "check_bool",
           "check_choice", "check_dir_writable", "check_finite", "check_float", "check_int",
           "check_memory", "check_path_writable", "check_seed", "finite_json", "json_text",
           "out_of_memory", "stream_seed"]
