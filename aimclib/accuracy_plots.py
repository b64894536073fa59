"""Figures of notebook 07: accuracy against coverage, the tiles-speedup-accuracy front, and
which layers the accuracy-aware allocation keeps digital (all in :mod:`aimclib.figstyle`)."""

from __future__ import annotations

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import figstyle as fs
from .studies import require_columns

ACCURACY_AWARE = "accuracy-aware"
"""Name of the accuracy-aware allocation in tables and legends."""
ACCURACY_AWARE_COLOR = "#332288"
"""Colour of the accuracy-aware allocation (not a registered strategy: it needs accuracies)."""


def _colors() -> dict[str, str]:
    """Colour per allocation: the registry's, plus the accuracy-aware one."""
    return {**fs.allocation_colors(), ACCURACY_AWARE: ACCURACY_AWARE_COLOR}


def _pct(ax, axis: str = "y") -> None:
    """Label a share axis (0..1) in percent."""
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(
        mticker.FuncFormatter(lambda v, _: f"{100 * v:g}"))


@fs.styled
def plot_accuracy_coverage(df: pd.DataFrame) -> Figure:
    """Test accuracy (mean +- std over seeds) against weight coverage, one panel per time
    since programming (``time_label``), one line per allocation; the digital int8 reference
    as a grey line."""
    require_columns(df, ["time_label", "allocation", "coverage", "accuracy_mean",
                         "accuracy_std", "reference"], "plot_accuracy_coverage")
    times = list(dict.fromkeys(df["time_label"]))
    fig, axes = fs.figure("double", height_in=2.3, nrows=1, ncols=len(times), sharey=True)
    for ax, label in zip(axes.flat, times):
        part = df[df["time_label"] == label]
        for alloc, pts in part.groupby("allocation", sort=False):
            pts = pts.sort_values("coverage")
            ax.errorbar(pts["coverage"], pts["accuracy_mean"], yerr=pts["accuracy_std"],
                        color=_colors().get(alloc, fs.NEUTRAL), marker="o", ms=3, lw=0.9,
                        capsize=1.5, label=alloc, alpha=0.85)
        fs.unity(ax, float(part["reference"].iloc[0]))
        fs.panel_label(ax, f"after {label}")
        ax.set_xlabel("MVM weights on tiles (%)")
        _pct(ax, "x")
        _pct(ax, "y")
    axes.flat[0].set_ylabel("test accuracy (%)")
    axes.flat[-1].legend(loc="lower left", fontsize=7)
    return fig


@fs.styled
def plot_accuracy_pareto(df: pd.DataFrame) -> Figure:
    """Every allocation: tiles against speedup and against accuracy (mean over seeds); the
    points on the three-way Pareto front (``pareto``) drawn dark, the rest grey; front points
    labelled with their analog layers (``label``) on the accuracy panel."""
    require_columns(df, ["tiles", "speedup", "accuracy_mean", "pareto", "label"],
                    "plot_accuracy_pareto")
    fig, axes = fs.figure("double", height_in=2.3, nrows=1, ncols=2)
    for ax, value, ylabel in ((axes[0, 0], "speedup", "speedup (x)"),
                              (axes[0, 1], "accuracy_mean", "test accuracy (%)")):
        off = df[~df["pareto"]]
        on = df[df["pareto"]]
        ax.scatter(off["tiles"], off[value], s=10, color=fs.BACKGROUND, zorder=1,
                   label="dominated")
        ax.scatter(on["tiles"], on[value], s=16, color=fs.NEUTRAL, zorder=2,
                   label="Pareto-optimal")
        if value == "accuracy_mean":  # labels on one panel only: speedups crowd together
            for _, r in on.iterrows():
                ax.annotate(r["label"], (r["tiles"], r[value]), fontsize=7, xytext=(3, 2),
                            textcoords="offset points")
        ax.set_xlabel("tiles used (count)")
        ax.set_ylabel(ylabel)
        if value == "speedup":
            fs.unity(ax)
        else:
            _pct(ax)
    axes[0, 0].legend(loc="lower right", fontsize=7)
    return fig


@fs.styled
def plot_accuracy_aware_layers(sens: pd.DataFrame, saving: pd.DataFrame,
                               chosen: pd.DataFrame, max_drop: float) -> Figure:
    """Why the accuracy-aware allocation keeps layers digital: (a) each layer's accuracy drop
    when it alone is analog (mean +- std, points) against the bound; (b) the latency each
    layer saves per tile; (c) per tile budget, which layers it maps (analog) or keeps digital.

    ``sens``: ``layer``, ``drop_mean``, ``drop_std``; ``saving``: ``layer``,
    ``saved_us_per_tile``; ``chosen``: ``budget``, ``layer``, ``analog`` (bool).
    """
    require_columns(sens, ["layer", "drop_mean", "drop_std"], "plot_accuracy_aware_layers")
    require_columns(saving, ["layer", "saved_us_per_tile"], "plot_accuracy_aware_layers")
    require_columns(chosen, ["budget", "layer", "analog"], "plot_accuracy_aware_layers")
    layers = list(dict.fromkeys(sens["layer"]))
    x = np.arange(len(layers))
    fig, axes = fs.figure("double", height_in=2.3, nrows=1, ncols=3)
    ax = axes[0, 0]
    s = sens.set_index("layer").loc[layers]
    ax.bar(x, 100 * s["drop_mean"], yerr=100 * s["drop_std"], color=fs.WORK["analog"],
           capsize=2)
    ax.axhline(100 * max_drop, color=fs.NEUTRAL, ls="--", lw=0.8, label="max drop")
    ax.axhline(0, color=fs.REFERENCE, lw=0.6)
    ax.set_xticks(x, layers)
    ax.set_ylabel("drop, layer alone analog (points)")
    ax.legend(loc="upper left", fontsize=7)
    fs.panel_label(ax, "(a) cost in accuracy")
    ax = axes[0, 1]
    sv = saving.set_index("layer").loc[layers]
    ax.bar(x, sv["saved_us_per_tile"], color=fs.WORK["mvm"])
    ax.set_xticks(x, layers)
    ax.set_ylabel("latency saved per tile (us)")
    fs.panel_label(ax, "(b) gain in speed")
    ax = axes[0, 2]
    budgets = sorted(chosen["budget"].unique())
    grid = chosen.pivot(index="budget", columns="layer", values="analog").loc[budgets, layers]
    for i, budget in enumerate(budgets):
        for j, layer in enumerate(layers):
            analog = bool(grid.loc[budget, layer])
            ax.scatter(j, i, s=40, marker="s",
                       color=fs.WORK["analog" if analog else "digital"], edgecolors="white")
    ax.scatter([], [], marker="s", color=fs.WORK["analog"], label="on tiles")
    ax.scatter([], [], marker="s", color=fs.WORK["digital"], label="digital")
    ax.set_xticks(x, layers)
    ax.set_yticks(range(len(budgets)), [str(b) for b in budgets])
    ax.set_ylabel("tile budget (count)")
    ax.set_xlim(-0.6, len(layers) - 0.4)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2, fontsize=7)
    fs.panel_label(ax, "(c) accuracy-aware choice")
    return fig
