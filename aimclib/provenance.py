"""Provenance for saved tables: what made a file, with which configuration and versions.

Every table the workbench saves gets a ``<name>.provenance.json`` beside it: the configuration
(with preset files named relative to the aimclib package, never by absolute path) and package
versions. Both it and the table depend only on the inputs, so re-running the same configuration
rewrites them bit for bit and a tracked copy stays unchanged. The date and the machine go to a
``<name>.provenance.local.json`` sidecar (git-ignored): true for one run, not for the table.
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
    """A provenance record for ``config`` (any JSON-serialisable description of the run): the
    config and :func:`versions`, nothing that changes from run to run."""
    return {"config": config, "versions": versions()}


def run_record() -> dict:
    """When and where this run happened (UTC time, platform, host): the untracked sidecar."""
    return {"created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "processor": platform.machine(),
                        "node": platform.node()}}


def _dump(record: dict) -> str:
    return json.dumps(record, indent=2, sort_keys=True, default=str) + "\n"


def save_table(df: pd.DataFrame, path: str | Path, config: dict) -> Path:
    """Write ``df`` as CSV to ``path`` and its provenance to ``<stem>.provenance.json``.

    Returns the path of the CSV. Floats are written with full precision (``%.17g``) so a
    re-read table equals the one written. The run's date and machine go to
    ``<stem>.provenance.local.json``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.17g", lineterminator="\n")
    path.with_name(path.stem + ".provenance.json").write_text(_dump(provenance(config)))
    path.with_name(path.stem + ".provenance.local.json").write_text(_dump(run_record()))
    return path
