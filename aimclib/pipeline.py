"""Run the study notebooks with papermill: ``python -m aimclib.pipeline [--params quick] NB...``.

Each notebook ``notebooks/NN_name.ipynb`` runs with its parameters from
``notebooks/params/<mode>/NN_name.yaml`` (when present) plus ``figures_dir`` and ``data_dir``,
with the notebook folder as working directory; the executed copy goes to
``notebooks/output/`` (git-ignored). At the end it lists the figures and tables written.
``make figures QUICK=1`` points ``--figures-dir``/``--data-dir``/``--output-dir`` at the
git-ignored ``build/quick/``, so the small grids never overwrite the committed results.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

KERNEL = "aimclib"
"""Jupyter kernel the notebooks name; ``make setup`` registers it inside .venv."""


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else "python3"


def run_notebook(notebook: Path, mode: str, figures_dir: Path, data_dir: Path,
                 output_dir: Path, extra: dict | None = None) -> Path:
    """Execute one notebook with papermill; returns the executed copy's path."""
    import papermill as pm

    notebook = notebook.resolve()
    params_file = notebook.parent / "params" / mode / f"{notebook.stem}.yaml"
    params = yaml.safe_load(params_file.read_text()) if params_file.is_file() else {}
    params = dict(params or {})
    params.update(figures_dir=str(figures_dir.resolve()), data_dir=str(data_dir.resolve()))
    params.update(extra or {})
    output_dir.mkdir(parents=True, exist_ok=True)
    out = output_dir / notebook.name
    with tempfile.TemporaryDirectory(prefix="aimc-kernel-") as sockets:
        km = _local_kernel_manager(Path(sockets))
        try:
            pm.execute_notebook(str(notebook), str(out), parameters=params,
                                cwd=str(notebook.parent), kernel_name=km.kernel_name,
                                progress_bar=False, km=km)
        finally:  # papermill shuts down only the kernels it created itself
            if km.has_kernel:
                km.shutdown_kernel(now=False)
            km.cleanup_resources()
    return out


def _local_kernel_manager(sockets: Path):
    """A kernel manager whose kernel talks over Unix-domain sockets in ``sockets``: the
    channels never leave the machine, and ipykernel has no reason to warn (as it does for
    its default, unencrypted TCP on localhost)."""
    from jupyter_client.manager import KernelManager

    return KernelManager(kernel_name=_kernel_name(), transport="ipc",
                         ip=str(sockets / "kernel"))


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(prog="python -m aimclib.pipeline", description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks to run, in order")
    parser.add_argument("--params", default="full", choices=("full", "quick"),
                        help="parameter set: notebooks/params/<params>/NAME.yaml")
    parser.add_argument("--figures-dir", type=Path, default=root / "figures")
    parser.add_argument("--data-dir", type=Path, default=root / "data")
    parser.add_argument("--output-dir", type=Path, default=root / "notebooks" / "output")
    args = parser.parse_args(argv)
    missing = [str(nb) for nb in args.notebooks if not nb.is_file()]
    if missing:
        print(f"aimc pipeline: error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    for nb in args.notebooks:
        t0 = time.perf_counter()
        print(f"running {nb} ({args.params} parameters) ...", flush=True)
        out = run_notebook(nb, args.params, args.figures_dir, args.data_dir, args.output_dir)
        print(f"  done in {time.perf_counter() - t0:.1f} s -> {out}", flush=True)
    print(f"\nall {len(args.notebooks)} notebooks ran in {time.perf_counter() - start:.1f} s")
    for label, folder, pattern in (("figures", args.figures_dir, "**/*.png"),
                                   ("tables", args.data_dir, "*.csv")):
        files = sorted(folder.glob(pattern))
        print(f"{label} in {folder}: " + ", ".join(f.relative_to(folder).as_posix()
                                                   for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
