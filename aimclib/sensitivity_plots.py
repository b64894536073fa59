"""Figures of the sensitivity study (:mod:`aimclib.sensitivity`): the tornado charts and the
region of the published point, in the workbench's style (:mod:`aimclib.figstyle`: two-column
width, 7-8 pt text, coupling colours); save them with :func:`aimclib.figstyle.save`.
"""

from __future__ import annotations

import math

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from . import figstyle as fs
from .kernels import KERNEL_CLASSES
from .sensitivity import HEADLINE, Headline, parameter_effects
from .studies import require_columns
from .validation import check_choice, check_float, check_int

METRIC_LABELS = {"speedup": "speedup", "energy_gain": "energy gain"}

_LOW_ALPHA, _HIGH_ALPHA = 0.4, 1.0
"""Opacity of a bar to the low end (or first alternative) and to the high end (or second)."""

_RATIO_TICKS = (0.1, 0.2, 0.33, 0.5, 0.67, 1.0, 1.5, 2, 3, 5, 10)
_RATIO_TICKS_WIDE = (0.1, 0.2, 0.5, 1.0, 2, 5, 10)  # beyond 0.4x..2.5x: no crowding

_HATCHES = {"tight": "////", "loose": "\\\\\\\\"}


def shown_parameters(table: pd.DataFrame, metric: str, top: int = 14,
                     threshold: float = 0.10) -> list[str]:
    """The parameters a tornado figure of ``metric`` shows, largest effect first: the ``top``
    largest, and more if more than ``top`` move some network's ``metric`` by over
    ``threshold`` (share). Every parameter above the threshold is shown (asserted)."""
    top = check_int(top, "top", low=1, where="shown_parameters")
    threshold = check_float(threshold, "threshold", low=0.0, where="shown_parameters")
    effects = parameter_effects(table, metric)
    over = list(effects.index[effects > threshold])
    shown = list(effects.index[:max(top, len(over))])
    assert set(over) <= set(shown), "a parameter above the threshold is missing"
    return shown


def _grid(n: int) -> tuple[int, int]:
    ncols = min(3, n)
    return math.ceil(n / ncols), ncols


@fs.styled
def plot_tornado(table: pd.DataFrame, metric: str = "speedup", top: int = 14,
                 threshold: float = 0.10, headline: Headline = HEADLINE) -> Figure:
    """Tornado chart of ``metric`` (``speedup`` or ``energy_gain``) from a
    :func:`aimclib.sensitivity.tornado` table: one panel per network; per parameter two bars
    (tight above, loose below), each drawn from the default (1x) to the value at each end of
    the parameter's range (light: low end or first alternative, dark: high end or second),
    on a log axis of the result relative to the default. Parameters are sorted by their
    largest effect over all networks; :func:`shown_parameters` picks them (every one that
    moves any network by more than ``threshold`` is shown). The grey band is +-``threshold``.
    """
    check_choice(metric, "metric", tuple(METRIC_LABELS), where="plot_tornado")
    require_columns(table, ["network", "coupling", "parameter", "end", metric,
                            f"default_{metric}", f"{metric}_change"], "plot_tornado")
    shown = shown_parameters(table, metric, top, threshold)
    networks = list(dict.fromkeys(table["network"]))
    couplings = [c for c in fs.COUPLING if c in set(table["coupling"])]
    ratio = 1.0 + table.loc[table["parameter"].isin(shown), f"{metric}_change"]
    span = max(float(np.abs(np.log(ratio)).max()), math.log(1 + 2 * threshold)) * 1.08
    nrows, ncols = _grid(len(networks))
    fig, axes = fs.figure("double", height_in=0.55 + nrows * (0.45 + 0.13 * len(shown)),
                          nrows=nrows, ncols=ncols, sharex=True, sharey=True)
    bar_h = 0.8 / len(couplings)
    offset = {c: ((len(couplings) - 1) / 2 - j) * bar_h for j, c in enumerate(couplings)}
    for ax, net in zip(axes.flat, networks):
        sub = table[table["network"] == net]
        for i, param in enumerate(shown):
            y = len(shown) - 1 - i
            for c in couplings:
                rows = sub[(sub["parameter"] == param) & (sub["coupling"] == c)]
                ends = list(zip(rows["end"], 1.0 + rows[f"{metric}_change"]))
                # the end farther from 1x first, so a nearer one on the same side stays visible
                for k, (end, r) in sorted(enumerate(ends), key=lambda e: -abs(math.log(e[1][1]))):
                    high = end == "high" or k == 1 or len(ends) == 1
                    ax.barh(y + offset[c], r - 1.0, left=1.0, height=bar_h * 0.9,
                            color=fs.COUPLING[c], alpha=_HIGH_ALPHA if high else _LOW_ALPHA,
                            linewidth=0)
        ax.axvspan(1 / (1 + threshold), 1 + threshold, color="#EBEBEB", zorder=0)
        ax.axvline(1.0, color=fs.REFERENCE, lw=0.7)
        defaults = " / ".join(
            f"{sub.loc[sub['coupling'] == c, f'default_{metric}'].iloc[0]:.2f}x"
            for c in couplings)
        ax.set_title(f"{net}\ndefault {defaults}")
        ax.set_xscale("log")
        ax.set_xlim(math.exp(-span), math.exp(span))
        ticks = _RATIO_TICKS if span < math.log(2.5) else _RATIO_TICKS_WIDE
        ax.xaxis.set_major_locator(mticker.FixedLocator(
            [v for v in ticks if math.exp(-span) <= v <= math.exp(span)]))
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(mticker.NullLocator())
        ax.grid(axis="y", visible=False)
        ax.set_yticks(range(len(shown)), list(reversed(shown)))
        ax.set_ylim(-0.6, len(shown) - 0.4)
    for ax in axes.flat[len(networks):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(f"{METRIC_LABELS[metric]} / default (x, log)")
    handles = [Patch(color=fs.COUPLING[c], alpha=a, label=f"{c}, {what}")
               for c in couplings for a, what in
               ((_LOW_ALPHA, "low end / 1st alternative"),
                (_HIGH_ALPHA, "high end / 2nd alternative"))]
    handles.append(Patch(color="#EBEBEB", label=f"within +-{threshold:.0%} of the default"))
    fig.legend(handles=handles, loc="outside upper center", ncols=3)
    return fig


@fs.styled
def plot_published_region(region: pd.DataFrame, headline: Headline = HEADLINE) -> Figure:
    """Where the published point is reached, from a
    :func:`aimclib.sensitivity.published_region` table: one panel per network, x = the
    baseline's sustained MACs per cycle of one core (log), y = tile static power (mW,
    symlog). Shaded (hatched) per coupling: where speedup and energy gain are both within
    ``headline.tolerance`` of the published values (dots: the grid points inside). Lines:
    where the speedup equals the published value (solid) and where the energy gain does
    (dashed), per coupling, where the grid crosses them. Star: the default parameters; dashed
    box: the plausible ranges of the default kernel class and of the static power; bars along
    the top: the sustained ranges of the kernel classes with the default's peak."""
    require_columns(region, ["network", "coupling", "baseline_macs_per_cycle",
                             "static_power_w", "speedup", "energy_gain", "both_ok",
                             "same_peak_classes", "default_macs_per_cycle",
                             "default_static_power_w", "plausible_macs_low",
                             "plausible_macs_high", "plausible_static_power_low_w",
                             "plausible_static_power_high_w"], "plot_published_region")
    networks = list(dict.fromkeys(region["network"]))
    couplings = [c for c in fs.COUPLING if c in set(region["coupling"])]
    ref = region.iloc[0]
    classes = [c for c in str(ref["same_peak_classes"]).split("/") if c in KERNEL_CLASSES]
    nrows, ncols = _grid(len(networks))
    fig, axes = fs.figure("double", height_in=0.6 + 2.0 * nrows, nrows=nrows, ncols=ncols,
                          sharex=True, sharey=True)
    hi_mw = 1e3 * region["static_power_w"].max()
    for ax, net in zip(axes.flat, networks):
        for c in couplings:
            sub = region[(region["network"] == net) & (region["coupling"] == c)]
            x = np.sort(sub["baseline_macs_per_cycle"].unique())
            y = np.sort(sub["static_power_w"].unique())
            wide = sub.pivot_table(index="static_power_w", columns="baseline_macs_per_cycle",
                                   values=["both_ok", "speedup", "energy_gain"],
                                   aggfunc="first")
            X, Y = np.meshgrid(x, 1e3 * y)
            if len(x) > 1 and len(y) > 1:
                ok = wide["both_ok"].reindex(index=y, columns=x).to_numpy(dtype=float)
                if ok.any():
                    ax.contourf(X, Y, ok, levels=[0.5, 1.5], colors=[fs.COUPLING[c]],
                                alpha=0.3, hatches=[_HATCHES[c]])
                    ax.contour(X, Y, ok, levels=[0.5], colors=[fs.COUPLING[c]],
                               linewidths=0.9)
                for value, target, style in (("speedup", headline.speedup, "-"),
                                             ("energy_gain", headline.energy_gain, "--")):
                    z = wide[value].reindex(index=y, columns=x).to_numpy(dtype=float)
                    if z.min() < target < z.max():
                        ax.contour(X, Y, z, levels=[target], colors=[fs.COUPLING[c]],
                                   linewidths=0.8, linestyles=style)
            inside = sub[sub["both_ok"]]
            ax.plot(inside["baseline_macs_per_cycle"], 1e3 * inside["static_power_w"],
                    ls="none", marker=".", ms=2, color=fs.COUPLING[c])
        ax.add_patch(Rectangle(
            (ref["plausible_macs_low"], 1e3 * ref["plausible_static_power_low_w"]),
            ref["plausible_macs_high"] - ref["plausible_macs_low"],
            1e3 * (ref["plausible_static_power_high_w"] - ref["plausible_static_power_low_w"]),
            fill=False, ls="--", lw=0.9, ec="black", zorder=4))
        ax.plot(ref["default_macs_per_cycle"], 1e3 * ref["default_static_power_w"],
                marker="*", ms=9, color="gold", mec="black", mew=0.7, ls="none", zorder=5)
        for name in classes:  # in the band above the highest static power
            lo, hi = KERNEL_CLASSES[name].sustained_range
            ax.annotate("", xy=(hi, 0.9), xytext=(lo, 0.9), xycoords=("data", "axes fraction"),
                        arrowprops={"arrowstyle": "|-|, widthA=0.3, widthB=0.3",
                                    "color": fs.NEUTRAL, "lw": 0.8, "shrinkA": 0,
                                    "shrinkB": 0})
            ax.text(math.sqrt(lo * hi), 0.92, name, ha="center", va="bottom",
                    color=fs.NEUTRAL, transform=ax.get_xaxis_transform())
        ax.set_xscale("log")
        ax.set_xlim(region["baseline_macs_per_cycle"].min(),
                    region["baseline_macs_per_cycle"].max())
        ax.xaxis.set_major_locator(mticker.FixedLocator([0.5, 1, 2, 3, 5]))
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        # symlog: the interesting powers are the small ones; linear below 0.1 mW, 0 shown
        ax.set_yscale("symlog", linthresh=0.1, linscale=0.5)
        ax.set_ylim(1e3 * region["static_power_w"].min(), hi_mw * 3.5)
        ax.yaxis.set_major_locator(mticker.FixedLocator(
            [v for v in (0, 0.1, 1, 10, 100) if v <= hi_mw]))
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_locator(mticker.NullLocator())
        ax.set_title(net)
    for ax in axes.flat[len(networks):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("baseline MAC/cycle per core (log)")
    for ax in axes[:, 0]:
        ax.set_ylabel("tile static power (mW)")
    tol = f"{headline.tolerance:.0%}"
    handles = [Patch(facecolor=fs.COUPLING[c], alpha=0.3, hatch=_HATCHES[c],
                     edgecolor=fs.COUPLING[c],
                     label=f"{c}: {headline.speedup:g}x and {headline.energy_gain:g}x "
                           f"within +-{tol}") for c in couplings]
    handles += [Line2D([], [], color=fs.NEUTRAL, ls="-", label=f"speedup {headline.speedup:g}x"),
                Line2D([], [], color=fs.NEUTRAL, ls="--",
                       label=f"energy gain {headline.energy_gain:g}x"),
                Line2D([], [], marker="*", ms=8, color="gold", mec="black", mew=0.7,
                       ls="none", label="default"),
                Patch(fill=False, ls="--", ec="black", label="plausible ranges")]
    fig.legend(handles=handles, loc="outside upper center", ncols=3)
    return fig
