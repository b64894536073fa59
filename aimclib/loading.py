"""One entry point for networks: a zoo name, an ONNX file or a CSV layer table."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ModelFormatError, ParameterTypeError
from .network import Network
from .zoo import get_network

_SUFFIXES = (".onnx", ".csv")


def load_network(source: str | os.PathLike, **kwargs) -> Network:
    """Load a network from a zoo name or a path to an ``.onnx`` or ``.csv`` file.

    ``kwargs`` go to the file importer (e.g. ``unknown_ops="eltwise"`` for ONNX).
    """
    if isinstance(source, Network):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise ParameterTypeError(f"load_network: source must be a zoo network name, a path to "
                                 f"an .onnx or .csv file, or a Network, got {source!r}")
    text = os.fspath(source)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    suffix = Path(text).suffix.lower()
    if suffix in _SUFFIXES or os.sep in text or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise ModelFormatError(f"no such file: {text}")
        if suffix == ".onnx":
            from .onnx_import import read_onnx
            return read_onnx(path, **kwargs)
        if suffix == ".csv":
            from .csvio import read_csv
            return read_csv(path)
        raise ModelFormatError(
            f"cannot read {text}: unknown file type {suffix!r}; accepted: {', '.join(_SUFFIXES)}"
        )
    return get_network(text)
