"""Provenance for saved tables: what made a file, with which configuration and versions.

Every table the workbench saves gets a ``<name>.provenance.json`` beside it. The table itself
holds only results, so re-running the same configuration rewrites it bit for bit; the date and
machine live in the provenance file.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as _md
import json
import platform
from pathlib import Path

import pandas as pd

from . import __version__

DEPENDENCIES = ("numpy", "numba", "pandas", "matplotlib", "seaborn", "onnx", "dask",
                "distributed", "papermill", "tqdm")
"""Packages whose versions are recorded with every saved table."""


def versions() -> dict[str, str]:
    """Installed versions of aimclib, Python and :data:`DEPENDENCIES`."""
    out = {"aimclib": __version__, "python": platform.python_version()}
    for dist in DEPENDENCIES:
        try:
            out[dist] = _md.version(dist)
        except _md.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def provenance(config: dict) -> dict:
    """A provenance record for ``config`` (any JSON-serialisable description of the run)."""
    return {
        "config": config,
        "versions": versions(),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.machine(),
                    "node": platform.node()},
    }


def save_table(df: pd.DataFrame, path: str | Path, config: dict) -> Path:
    """Write ``df`` as CSV to ``path`` and its provenance to ``<stem>.provenance.json``.

    Returns the path of the CSV. Floats are written with full precision (``%.17g``) so a
    re-read table equals the one written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.17g", lineterminator="\n")
    meta = path.with_name(path.stem + ".provenance.json")
    meta.write_text(json.dumps(provenance(config), indent=2, sort_keys=True, default=str) + "\n")
    return path
