"""``make explore``: the explorer notebook served as a standalone web app by Voila.

``python -m aimclib.webapp [--port 8866] [notebook]`` serves ``notebooks/05_explorer.ipynb`` on
127.0.0.1 only, without opening a browser, with aimclib's Voila template
(``aimclib/share/jupyter/voila/templates/aimclib``: no assets from a CDN, so it works
offline) and with every cell tagged :data:`NOTEBOOK_ONLY` removed before the notebook runs
(notes and checks meant for notebook users). Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .validation import check_int

NOTEBOOK_ONLY = "notebook-only"
"""Cell tag: the cell is for notebook users; the app neither runs nor shows it."""

TEMPLATE = "aimclib"
"""The Voila template of the app (under :data:`DATA_DIR`)."""

DATA_DIR = Path(__file__).resolve().parent / "share" / "jupyter"
"""A Jupyter data folder holding the app's Voila template (put on ``JUPYTER_PATH``)."""

DEFAULT_NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_explorer.ipynb"
"""The explorer notebook of a source checkout."""

DEFAULT_PORT = 8866
"""Voila's usual port."""


def app_cells(nb):
    """``nb`` (an nbformat notebook) without the cells tagged :data:`NOTEBOOK_ONLY`."""
    nb.cells = [c for c in nb.cells if NOTEBOOK_ONLY not in c.get("metadata", {}).get("tags", [])]
    return nb


def _prelaunch_hook(request_handler, notebook, cwd):
    """Voila's prelaunch hook: the notebook Voila is about to run, in app form."""
    return app_cells(notebook)


def voila_argv(notebook: str | Path, port: int) -> list[str]:
    """Voila's command line for serving ``notebook`` on 127.0.0.1:``port``."""
    return [str(notebook), f"--port={port}", "--Voila.ip=127.0.0.1", "--no-browser",
            f"--template={TEMPLATE}"]


def serve(notebook: str | Path = DEFAULT_NOTEBOOK, port: int = DEFAULT_PORT) -> None:
    """Serve ``notebook`` as the app until interrupted (blocks)."""
    port = check_int(port, "port", low=1, high=65535, where="aimclib.webapp")
    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"aimclib.webapp: notebook {notebook} not found; pass the path "
                                "of notebooks/05_explorer.ipynb")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(DATA_DIR), os.environ.get("JUPYTER_PATH", "")) if p)
    from voila.app import Voila  # the web stack is needed here only

    app = Voila.instance()
    app.initialize(voila_argv(notebook, port))
    app.voila_configuration.prelaunch_hook = _prelaunch_hook
    app.start()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aimclib.webapp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", nargs="?", default=DEFAULT_NOTEBOOK,
                        help="the explorer notebook (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="port on 127.0.0.1 (default: %(default)s)")
    args = parser.parse_args(argv)
    serve(args.notebook, args.port)


if __name__ == "__main__":
    main()
