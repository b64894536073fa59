"""Plots of the single-layer and replication studies on small known tables."""

import pandas as pd
import pytest

from aimclib.errors import ParameterError
from aimclib.plotting import plot_layer_tiles, plot_replication


def _curve():
    # one layer, one coupling and core count: best 10x, 95 % reached at 4 tiles
    return pd.DataFrame({"layer": ["conv:64:64:3:56:1:1"] * 4, "coupling": ["tight"] * 4,
                         "cores": [8] * 4, "tiles": [3, 6, 12, 24],
                         "speedup": [2.0, 5.0, 9.6, 10.0]})


def test_plot_layer_tiles_rings_the_saturation_point():
    fig = plot_layer_tiles(_curve())
    ax = fig.axes[0]
    rings = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "none"]
    assert len(rings) == 1
    assert rings[0].get_xdata().tolist() == [12] and rings[0].get_ydata().tolist() == [9.6]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    with pytest.raises(ParameterError, match="no rows for layer"):
        plot_layer_tiles(_curve(), layers=["dense:256:256"])


def test_plot_replication_styles_and_checks_columns():
    df = pd.DataFrame({"network": ["n"] * 6, "allocation": ["optimal"] * 3 + ["reuse-first"] * 3,
                       "replicate": ["on", "off", "reuse>=4", "off", "reuse>=4", "off"],
                       "tiles": [10, 10, 10, 10, 10, 20],
                       "latency_vs_ref": [1.0, 1.2, 1.1, 1.5, 1.3, 1.4]})
    fig = plot_replication(df, marks={"n": 10}, mark_label="41% coverage")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 7  # optimal: on, off, rule; reuse-first: off, rule; mark; 1x line
    data = lines[:5]
    # solid only for the copies a strategy chooses itself (optimal "on")
    assert sum(ln.get_linestyle() == "-" for ln in data) == 1
    assert "41% coverage" in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(ParameterError, match="latency_vs_ref"):
        plot_replication(df.drop(columns="latency_vs_ref"))
