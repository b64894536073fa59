"""The explorer app without a browser: its table equals simulate(), its figures are drawn,
bursts of changes are coalesced on the event loop and end on the last setting, bad input is
refused clearly, and the notebook's app-only cells are dropped in app mode."""

import asyncio
import io

import nbformat
import numpy as np
import pytest
from PIL import Image

from aimclib import load_system, simulate
from aimclib.errors import AimcError
from aimclib.explorer import Explorer, Setting, table_cells
from aimclib.webapp import NOTEBOOK_ONLY, app_cells

SMALL = dict(network="alexnet", cores=2, tiles=16, top_layers=5)


def _ink(png: bytes) -> float:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return float((rgb < 245).any(axis=2).mean())


def test_table_and_figures_match_simulate():
    app = Explorer(**SMALL)   # outside a kernel: drawn at once
    s = app.setting()
    want = simulate(s.network, load_system(s.preset, cores=2, tiles=16)).summary()
    for col, text in table_cells(want).items():
        assert f'data-col="{col}">{text}<' in app.table.value
    assert all(_ink(img.value) > 0.05 for img in app.images.values())
    assert app.shown == s and "shown: alexnet" in app.status.value


def test_repeat_is_served_from_the_cache():
    app = Explorer(**SMALL)
    first = {k: img.value for k, img in app.images.items()}
    app.controls["balancer"].value = "work-stealing"
    app.controls["balancer"].value = "static-balanced"
    assert {k: img.value for k, img in app.images.items()} == first
    assert len(app._views) == 2


def test_burst_of_changes_is_coalesced_and_ends_on_the_last():
    async def burst():
        app = Explorer(**SMALL)       # in a loop: waits for a view (or refresh)
        assert app.shown is None
        calls = []
        refresh = app.refresh
        app.refresh = lambda: (calls.append(app.setting()), refresh())
        for i in range(20):
            app.controls["tiles"].value = 4 + i
        await asyncio.sleep(5 * app.debounce_s + 0.2)
        return app, calls

    app, calls = asyncio.run(burst())
    assert len(calls) == 1 and calls[0].tiles == 23
    assert app.shown == Setting("alexnet", "alpine-tight", "preset", 2, 23, "optimal",
                                "static-balanced")


def test_refusals_are_clear():
    with pytest.raises(AimcError, match="network"):
        Explorer(network="nope")
    with pytest.raises(AimcError, match="cores"):
        Explorer(cores=0)


def test_app_mode_drops_notebook_only_cells():
    nb = nbformat.read("notebooks/05_explorer.ipynb", as_version=4)
    kept = app_cells(nb).cells
    assert kept and all(NOTEBOOK_ONLY not in c.metadata.get("tags", []) for c in kept)
    assert any("Explorer(" in c.source for c in kept)
    assert not any("rendered once" in c.source for c in kept)


def test_accuracy_readout_for_the_trained_network():
    from aimclib.accuracy import accuracy_of
    from aimclib.explorer import ACCURACY_SEEDS, DIGITS
    from aimclib.trained import digits_network
    app = Explorer(network=DIGITS, cores=2, tiles=4, top_layers=5)
    hw = load_system("alpine-tight", cores=2, tiles=4)
    r = simulate(digits_network(), hw)
    want = accuracy_of(r.units, seeds=ACCURACY_SEEDS)
    assert f"<b>{want['mean']:.2%} &plusmn; {want['std']:.2%}</b>" in app.accuracy.value
    assert f"on {want['tiles']} tiles" in app.accuracy.value and want["tiles"] > 0
    app.controls["network"].value = "alexnet"   # other networks: the readout says why not
    assert "trained <code>digits_cnn</code> only" in app.accuracy.value
