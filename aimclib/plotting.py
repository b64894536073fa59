"""Figures of the workbench. Every axis carries its unit or says 'count'.

Every function returns a :class:`matplotlib.figure.Figure` built in the style of
:mod:`aimclib.figstyle` (IEEE column widths, fonts >= 7 pt, one meaning per colour); save it
with :func:`aimclib.figstyle.save`. Studies too large for one column-width figure have a main
figure (fewer panels) and a ``*_grid`` function drawing every panel, meant for
``figures/extra/``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import figstyle as fs
from .errors import ParameterError
from .network import Network
from .errors import ParameterError
from .studies import (CORE_SHARES, achieved_coverage, layer_label, require_columns,
                      saturation)
from .validation import check_choice

COUPLING_MARKERS = {"tight": "o", "loose": "s"}
"""Markers that tell the couplings apart where colour shows something else (Pareto front)."""

VISIBLE_SHARE_PCT = 0.5
"""Core-time components below this share (%) of every core are too thin to draw; the
utilisation figure names them with their largest share instead."""


def _ordered(values, preferred) -> list:
    """``values``' distinct entries, those in ``preferred`` first in its order."""
    present = list(dict.fromkeys(values))
    return [v for v in preferred if v in present] + [v for v in present if v not in preferred]


def _value_label(value: str) -> str:
    return {"speedup": "speedup (x)", "energy_gain": "energy gain (x)"}.get(value, value)


def _facets(fig_height_per_row: float, keys: Sequence, ncols: int, extra_in: float = 0.55,
            sharex: bool = False):
    """A double-width figure with one panel per key (``ncols`` per row); unused cells are
    removed. Returns ``(fig, {key: ax})``."""
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = fs.figure("double", height_in=fig_height_per_row * nrows + extra_in,
                          nrows=nrows, ncols=ncols, sharex=sharex)
    for ax in axes.flat[len(keys):]:
        ax.remove()
    return fig, dict(zip(keys, axes.flat))


def _label_outer(axes: dict, xlabel: str, ylabel: str, ncols: int) -> None:
    """x label on the lowest panel of each column, y label on the first of each row."""
    keys = list(axes)
    for i, key in enumerate(keys):
        if i % ncols == 0:
            axes[key].set_ylabel(ylabel)
        if i + ncols >= len(keys):
            axes[key].set_xlabel(xlabel)


# ------------------------------------------------------------------------------ networks
def network_layers_frame(nets: Sequence[Network]) -> pd.DataFrame:
    """Per-layer MVM weights and MACs of the conv/linear layers of ``nets`` (one tidy table)."""
    frames = []
    for net in nets:
        df = net.to_frame()
        df = df[df["kind"].isin(("conv", "linear"))]
        frames.append(df.assign(network=net.name, position=range(len(df))))
    cols = ["network", "position", "name", "kind", "groups", "weights", "macs",
            "macs_per_weight"]
    return pd.concat(frames, ignore_index=True)[cols]


@fs.styled
def plot_network_reuse(nets: Sequence[Network]) -> Figure:
    """Per-layer MVM weights against MACs (log-log; one point per conv or linear layer), one
    panel per network, and each
    network's MACs per weight (bars). A point's height above the one-MAC-per-weight diagonal
    is the layer's reuse: linear layers sit on it, early convolutions far above it."""
    df = network_layers_frame(nets)
    names = list(dict.fromkeys(df["network"]))
    ncols = 3
    nrows = math.ceil(len(names) / ncols)
    mosaic = [[names[r * ncols + c] if r * ncols + c < len(names) else "."
               for c in range(ncols)] + ["reuse"] for r in range(nrows)]
    fig, axes = fs.figure("double", height_in=1.45 * nrows + 0.55, mosaic=mosaic,
                          gridspec_kw={"width_ratios": [1] * ncols + [1.15]})
    lo, hi = max(1, df["weights"].min()), df["weights"].max()
    ylo, yhi = max(1, df["macs"].min()), df["macs"].max()
    markers = {"conv": dict(marker="o", s=7, facecolors="none", edgecolors=fs.NEUTRAL,
                            linewidths=0.5),
               "linear": dict(marker="x", s=12, color=fs.NEUTRAL, linewidths=0.7)}
    for i, name in enumerate(names):
        ax = axes[name]
        part = df[df["network"] == name]
        for kind, style in markers.items():
            sel = part[part["kind"] == kind]
            ax.scatter(sel["weights"], sel["macs"], label=f"{kind} layer", zorder=2, **style)
        ax.plot([lo, hi], [lo, hi], color=fs.REFERENCE, lw=0.7, label="1 MAC per weight",
                zorder=1)
        ax.set(xscale="log", yscale="log", xlim=(lo / 2, hi * 2), ylim=(ylo / 2, yhi * 3))
        ax.set_title(name)
        if i % ncols == 0:
            ax.set_ylabel("MACs (count)")
        if i + ncols >= len(names):
            ax.set_xlabel("MVM weights (count)")
    ax = axes["reuse"]
    summary = pd.DataFrame([n.summary() for n in nets])
    bars = ax.barh(summary["name"], summary["macs_per_weight"], color=fs.NEUTRAL, height=0.6)
    ax.bar_label(bars, fmt="%.0f", padding=2)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.25 * summary["macs_per_weight"].max())
    ax.set(xlabel="MACs per MVM weight (MAC/weight)", title="weight reuse per network")
    ax.grid(axis="y", visible=False)
    handles, labels = axes[names[0]].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=3)
    return fig


# ------------------------------------------------------------------------------ single layers
def _layer_frame(df: pd.DataFrame, value: str) -> pd.DataFrame:
    require_columns(df, ["layer", "tiles", "cores", "coupling", value], "single-layer plot")
    return df[df["tiles"] > 0]


def _cores_legend(fig: Figure, couplings: Sequence[str], cores: Sequence[int],
                  loc: str = "outside upper center", saturation: bool = False) -> None:
    """One legend: couplings (colour) and core counts (marker, darker = fewer cores), and the
    saturation mark when ``saturation``."""
    handles = [Line2D([], [], color=fs.COUPLING[c], lw=1.5, label=f"{c} coupling",
                      ls="-" if c == "tight" else (0, (3, 2))) for c in couplings]
    handles += [Line2D([], [], color=fs.NEUTRAL, marker=fs.core_marker(c), ls="none",
                       label=f"{c} core{'s' if c != 1 else ''}") for c in cores]
    if saturation:
        handles.append(Line2D([], [], color=fs.NEUTRAL, marker="o", markersize=8, ls="none",
                              markerfacecolor="none", label="saturates"))
    fig.legend(handles=handles, loc=loc, ncols=len(handles))


def _layer_panel(ax, part: pd.DataFrame, value: str, couplings, cores) -> None:
    """One layer's ``value`` against tiles (log-log; tight solid, loose dashed), each curve's
    saturation point (:func:`aimclib.studies.saturation` on ``value``) ringed."""
    sat = saturation(part, ["coupling", "cores"], value=value)
    for coupling in couplings:
        colors = fs.core_colors(coupling, cores)
        for c in cores:
            pts = part[(part["coupling"] == coupling) & (part["cores"] == c)].sort_values(
                "tiles")
            # loose dashed over tight solid: where both couplings coincide, both stay visible
            ls = "-" if coupling == "tight" else (0, (3, 2))
            ax.plot(pts["tiles"], pts[value], ls=ls, color=colors[c],
                    marker=fs.core_marker(c), markersize=3, lw=0.9)
            at = sat[(sat["coupling"] == coupling) & (sat["cores"] == c)]
            ax.plot(at["tiles"], at[value], ls="none", marker="o", markersize=8,
                    markerfacecolor="none", markeredgecolor=colors[c], markeredgewidth=0.8)
    fs.unity(ax)
    fs.log_axis(ax)
    fs.log_axis(ax, "x")
    ax.set_title(layer_label(part["layer"].iloc[0]))


def _layer_axes_labels(value: str) -> tuple[str, str]:
    return ("tiles (count, log)",
            {"speedup": "speedup (x, log)", "energy_gain": "energy gain (x, log)"}.get(
                value, value))


@fs.styled
def plot_layer_tiles(df: pd.DataFrame, value: str = "speedup",
                     layers: Sequence[str] | None = None, ncols: int = 3) -> Figure:
    """Single-layer ``value`` (``speedup`` or ``energy_gain``, against the same cores without
    tiles) against the tiles offered, from one mapping unit to the copy cap, one panel per
    layer of ``layers`` (default: every layer of ``df``); colour the coupling, marker and
    shade the cores; a ring marks where each curve saturates.

    ``df`` is a layer sweep with copies (:func:`aimclib.studies.sweep_layer_tiles`).
    """
    data = _layer_frame(df, value)
    layers = list(dict.fromkeys(data["layer"])) if layers is None else list(layers)
    missing = [lay for lay in layers if lay not in set(data["layer"])]
    if missing:
        raise ParameterError(f"plot_layer_tiles: no rows for layer(s) {', '.join(missing)}")
    couplings = _ordered(data["coupling"], fs.COUPLING)
    cores = sorted(data["cores"].unique())
    fig, axes = _facets(1.75, layers, ncols)
    for lay, ax in axes.items():
        _layer_panel(ax, data[data["layer"] == lay], value, couplings, cores)
    _label_outer(axes, *_layer_axes_labels(value), ncols=ncols)
    _cores_legend(fig, couplings, cores, saturation=True)
    return fig


@fs.styled
def plot_coupling_crossover(by_positions: pd.DataFrame, by_vectors: pd.DataFrame,
                            layer: str, vectors_layer: str) -> Figure:
    """Loose-to-tight speedup ratio of fully mapped layers: left against the layer's output
    positions ``m`` (MVMs per tile), right against the loose interface's vectors per DMA
    job. Both tables come from :func:`aimclib.studies.coupling_ratio` (columns ``gemm_m`` or
    ``vectors_per_job`` (:func:`aimclib.studies.with_vectors_per_job`), ``cores``,
    ``ratio``)."""
    fig, axes = fs.figure("double", height_in=2.5, nrows=1, ncols=2)
    vpj = "vectors_per_job"
    cores = sorted(set(by_positions["cores"]) | set(by_vectors["cores"]))
    colors = fs.core_colors(None, cores)
    for ax, data, x, xlabel, title in (
            (axes[0, 0], by_positions, "gemm_m", "output positions m = MVMs per tile "
             "(count, log)", f"(a) {layer}: feature map grows"),
            (axes[0, 1], by_vectors, vpj, "input vectors per DMA job (count, log)",
             f"(b) {vectors_layer}: DMA job grows")):
        for c in cores:
            pts = data[data["cores"] == c].sort_values(x)
            ax.plot(pts[x], pts["ratio"], color=colors[c], marker=fs.core_marker(c),
                    label=f"{c} core{'s' if c != 1 else ''}")
        fs.unity(ax)
        fs.log_axis(ax, "x")
        fs.log_axis(ax, "y")
        ax.set(xlabel=xlabel, title=title)
    axes[0, 0].set_ylabel("loose / tight speedup (x, log)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(handles),
               title="above 1: loose coupling is faster")
    return fig


# ------------------------------------------------------------------------------ networks
def _network_frame(df: pd.DataFrame, value: str) -> pd.DataFrame:
    require_columns(df, ["network", "cores", "coupling", "balancer", "tiles", value],
                    "network coverage plot")
    return df.assign(coverage_pct=100.0 * df[achieved_coverage(df)])


def _network_panel(ax, part: pd.DataFrame, value: str, xcol: str, couplings, balancers,
                   star: tuple | None) -> None:
    for cp in couplings:
        for b in balancers:
            pts = part[(part["coupling"] == cp) & (part["balancer"] == b)].sort_values(xcol)
            ax.plot(pts[xcol], pts[value], color=fs.COUPLING[cp],
                    ls=fs.balancer_lines().get(b, "-"), lw=0.9)
    if star is not None:
        ax.plot(*star, zorder=5, **fs.PUBLISHED_MARKER)
    fs.unity(ax)
    ax.set_ylim(bottom=0)


def _network_legend(fig: Figure, couplings, balancers, published: dict | None,
                    value: str) -> None:
    handles = [Line2D([], [], color=fs.COUPLING[c], label=f"{c} coupling") for c in couplings]
    handles += [Line2D([], [], color=fs.NEUTRAL, ls=fs.balancer_lines().get(b, "-"), label=b)
                for b in balancers]
    if published is not None:
        handles.append(Line2D([], [], **fs.PUBLISHED_MARKER,
                              label=f"published ({published[value]:g}x at "
                                    f"{100 * published['coverage']:.0f} %, "
                                    f"{published['cores']} cores)"))
    fig.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 6))


def _network_setup(df, value, x, published):
    data = _network_frame(df, value)
    xcol = "coverage_pct" if x == "coverage" else "tiles"
    xlabel = "coverage of MVM weights (%)" if x == "coverage" else "tile budget (count)"
    return (data, xcol, xlabel, _ordered(data["coupling"], fs.COUPLING),
            _ordered(data["balancer"], fs.balancer_lines()),
            published if (published is not None and x == "coverage") else None)


@fs.styled
def plot_network_coverage(df: pd.DataFrame, value: str = "speedup",
                          published: dict | None = None, x: str = "coverage",
                          cores: int | None = None) -> Figure:
    """Whole-network ``value`` against coverage of MVM weights (``x="coverage"``, %) or the tile
    budget (``x="tiles"``) on one core count: a panel per network, colour = coupling, line
    style = balancer.

    ``cores`` defaults to ``published["cores"]`` (else the most cores swept). ``published``
    (``{"cores": 8, "coverage": 0.41, "speedup": 5.9, "energy_gain": 5.6}``) is drawn as a
    hollow star in every panel of its core count when ``x="coverage"``.
    :func:`plot_network_coverage_grid` draws every core count.
    """
    data, xcol, xlabel, couplings, balancers, pub = _network_setup(df, value, x, published)
    if cores is None:
        cores = pub["cores"] if pub is not None else int(data["cores"].max())
    if cores not in set(data["cores"]):
        raise ValueError(f"plot_network_coverage: no rows with cores == {cores}; the table "
                         f"has {sorted(data['cores'].unique())}")
    data = data[data["cores"] == cores]
    nets = list(dict.fromkeys(data["network"]))
    fig, axes = _facets(1.45, nets, 3)
    star = (100 * pub["coverage"], pub[value]) if pub and pub["cores"] == cores else None
    for net, ax in axes.items():
        _network_panel(ax, data[data["network"] == net], value, xcol, couplings, balancers,
                       star)
        ax.set_title(f"{net}, {cores} cores")
    _label_outer(axes, xlabel, _value_label(value), 3)
    _network_legend(fig, couplings, balancers, pub if star else None, value)
    return fig


@fs.styled
def plot_network_coverage_grid(df: pd.DataFrame, value: str = "speedup",
                               published: dict | None = None, x: str = "coverage") -> Figure:
    """:func:`plot_network_coverage` for every network (rows) and core count (columns)."""
    data, xcol, xlabel, couplings, balancers, pub = _network_setup(df, value, x, published)
    nets = list(dict.fromkeys(data["network"]))
    cores = sorted(data["cores"].unique())
    keys = [(n, c) for n in nets for c in cores]
    fig, axes = _facets(1.2, keys, len(cores))
    for (net, c), ax in axes.items():
        star = (100 * pub["coverage"], pub[value]) if pub and pub["cores"] == c else None
        _network_panel(ax, data[(data["network"] == net) & (data["cores"] == c)], value, xcol,
                       couplings, balancers, star)
        ax.set_title(f"{net}, {c} core{'s' if c != 1 else ''}")
    _label_outer(axes, xlabel, _value_label(value), len(cores))
    _network_legend(fig, couplings, balancers, pub, value)
    return fig


@fs.styled
def plot_published_point(table: pd.DataFrame) -> Figure:
    """The model's speedup and energy gain per network at the published coverage: bars by
    coupling (colour) and balancer (hatch), the published values as black lines. ``table`` is
    :func:`aimclib.studies.published_comparison`'s output."""
    require_columns(table, ["network", "coupling", "balancer", "speedup", "energy_gain",
                            "published_speedup", "published_energy_gain",
                            "published_coverage"], "plot_published_point")
    couplings = _ordered(table["coupling"], fs.COUPLING)
    balancers = _ordered(table["balancer"], fs.balancer_hatches())
    nets = list(dict.fromkeys(table["network"]))
    series = [(c, b) for c in couplings for b in balancers]
    width = 0.84 / len(series)
    fig, axes = fs.figure("double", height_in=2.6, nrows=1, ncols=2)
    for ax, value, label in ((axes[0, 0], "speedup", "(a) speedup"),
                             (axes[0, 1], "energy_gain", "(b) energy gain")):
        for k, (c, b) in enumerate(series):
            part = table[(table["coupling"] == c) & (table["balancer"] == b)].set_index(
                "network").reindex(nets)
            x = np.arange(len(nets)) - 0.42 + width * (k + 0.5)
            ax.bar(x, part[value], width=width, color=fs.COUPLING[c],
                   hatch=fs.balancer_hatches().get(b, ""), edgecolor="white", linewidth=0.3)
        pub = float(table[f"published_{value}"].iloc[0])
        ax.axhline(pub, color="black", lw=0.8)
        ax.annotate(f"published {pub:g}x", (1.0, pub), xycoords=("axes fraction", "data"),
                    xytext=(0, 2), textcoords="offset points", ha="right", va="bottom")
        fs.unity(ax)
        ax.set_xticks(range(len(nets)), nets, rotation=25, ha="right")
        ax.grid(axis="x", visible=False)
        ax.set(ylabel=_value_label(value), title=label)
    handles = [Patch(color=fs.COUPLING[c], label=f"{c} coupling") for c in couplings]
    handles += [Patch(facecolor="white", edgecolor=fs.NEUTRAL, hatch=fs.balancer_hatches().get(
        b, ""), label=b, linewidth=0.4) for b in balancers]
    cov = 100 * float(table["published_coverage"].iloc[0])
    cores = ", ".join(str(c) for c in sorted(table["cores"].unique())) \
        if "cores" in table else "?"
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles),
               title=f"coverage nearest {cov:.0f} %, {cores} cores")
    return fig


# ------------------------------------------------------------------------------ schedules
GANTT_NAMES = {"digital": "core: digital work", "analog": "core: drives a tile",
               "stolen-digital": "core: stolen tile work (digital)", "mvm": "tile: MVMs",
               "idle": "idle"}
"""Legend names of the Gantt interval kinds."""


LAYER_COLOURS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77",
                 "#CC6677", "#882255", "#AA4499")
"""Colours :func:`plot_gantt` cycles through for ``colour_by="layer"`` (Paul Tol's muted
scheme), in the order the layers first appear, so consecutive layers differ."""


@fs.styled
def plot_gantt(panels: dict, time_scale: float = 1e3, time_unit: str = "ms",
               title: str | None = None, xlabel: str = "time", ncols: int = 1,
               colour_by: str = "kind") -> Figure:
    """Gantt charts stacked on one time axis: ``panels`` maps a panel title to the intervals of
    :func:`aimclib.studies.gantt_intervals`. Rows are cores then tiles; colours are the
    interval kinds (:data:`aimclib.figstyle.WORK`), or with ``colour_by="layer"`` the layers
    (:data:`LAYER_COLOURS` in turn: a pipelined schedule's overlapping layers show as
    interleaved colours); a row is idle (pale grey) wherever it has
    no interval until its panel's last interval ends. Times are multiplied by ``time_scale``
    and the x axis reads ``"{xlabel} ({time_unit})"``. With ``ncols`` > 1 the panels fill
    columns first (e.g. tight in the left column, loose in the right).
    """
    check_choice(colour_by, "colour_by", ("kind", "layer"), where="plot_gantt")
    sizes = [max(1, int(p["row_pos"].max()) + 1) if len(p) else 1 for p in panels.values()]
    nrows = math.ceil(len(panels) / ncols)
    heights = [max(sizes[r + nrows * c] for c in range(ncols) if r + nrows * c < len(sizes))
               for r in range(nrows)]
    fig, grid = fs.figure("double", height_in=0.75 + 0.112 * sum(heights) + 0.2 * nrows,
                          nrows=nrows, ncols=ncols, sharex=True,
                          gridspec_kw={"height_ratios": heights})
    axes = grid.T.flatten()[:len(panels)]
    for ax in grid.T.flatten()[len(panels):]:
        ax.remove()
    kinds_seen = {"idle"}
    for ax, (name, iv), n_rows in zip(axes, panels.items(), sizes):
        end = float(iv["end_s"].max()) * time_scale if len(iv) else 0.0
        ax.broken_barh([(0.0, end)], (-0.5, n_rows), facecolors=fs.WORK["idle"],
                       linewidth=0, zorder=0)
        order = {lay: k for k, lay in enumerate(dict.fromkeys(iv["layer"]))}
        for (pos, key), part in iv.groupby(["row_pos", colour_by], sort=False):
            bars = list(zip(part["start_s"] * time_scale,
                            (part["end_s"] - part["start_s"]) * time_scale))
            colour = (fs.WORK[key] if colour_by == "kind"
                      else LAYER_COLOURS[order[key] % len(LAYER_COLOURS)])
            ax.broken_barh(bars, (pos - 0.42, 0.84), facecolors=colour, linewidth=0,
                           zorder=1)
            if colour_by == "kind":
                kinds_seen.add(key)
        for pos in range(n_rows):  # white separators between rows keep idle rows apart
            ax.axhline(pos + 0.5, color="white", lw=0.5, zorder=2)
        labels = iv.drop_duplicates("row_pos").set_index("row_pos")["row"]
        ax.set_yticks(range(n_rows), [labels.get(i, "") for i in range(n_rows)])
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(n_rows - 0.5, -0.5)
        ax.set_title(name, loc="left")
        ax.grid(False)
    for ax in grid[-1]:
        ax.set_xlabel(f"{xlabel} ({time_unit})")
    axes[0].set_xlim(left=0)
    if colour_by == "layer":
        if title:
            fig.suptitle(f"{title} (colours: consecutive layers)")
        return fig
    order = [k for k in GANTT_NAMES if k in kinds_seen]
    fig.legend(handles=[Patch(color=fs.WORK[k], label=GANTT_NAMES[k]) for k in order],
               loc="outside upper center", ncols=len(order),
               title=title)
    return fig


@fs.styled
def plot_core_utilisation(table: pd.DataFrame, summary: pd.DataFrame | None = None
                          ) -> Figure:
    """Per-core time shares (digital work, driving tiles, stealing, idle; % of the inference)
    as stacked bars: rows = coupling, columns = balancer. ``table`` is
    :func:`aimclib.studies.utilisation_table`'s output; ``summary``
    (:func:`aimclib.studies.config_summary`) adds each configuration's latency to its title.
    A component below :data:`VISIBLE_SHARE_PCT` on every core is not drawn; the x label names
    it with its largest share.
    """
    require_columns(table, ["coupling", "balancer", "core", "component", "share_pct"],
                    "plot_core_utilisation")
    couplings = _ordered(table["coupling"], fs.COUPLING)
    balancers = _ordered(table["balancer"], fs.balancer_lines())
    largest = table.groupby("component")["share_pct"].max()
    shown = [c for c in CORE_SHARES if largest.get(c, 0.0) >= VISIBLE_SHARE_PCT]
    hidden = [c for c in CORE_SHARES if c in largest and c not in shown]
    fig, axes = fs.figure("double", height_in=1.45 * len(couplings) + 0.75,
                          nrows=len(couplings), ncols=len(balancers), sharex=True, sharey=True)
    names = {"digital": "digital work", "analog": "driving tiles (interface, stall, host)",
             "steal": "stealing", "idle": "idle"}
    for i, c in enumerate(couplings):
        for j, b in enumerate(balancers):
            ax = axes[i, j]
            part = table[(table["coupling"] == c) & (table["balancer"] == b)]
            wide = part.pivot(index="core", columns="component", values="share_pct")
            bottom = pd.Series(0.0, index=wide.index)
            for comp in shown:
                ax.bar(wide.index, wide[comp], bottom=bottom, color=fs.WORK[comp],
                       label=names[comp], width=0.8)
                bottom += wide[comp]
            title = f"{c}, {b}"
            if summary is not None:
                s = summary[(summary["coupling"] == c) & (summary["balancer"] == b)]
                if len(s):
                    title += f": {s['latency_ms'].iloc[0]:.1f} ms, " \
                             f"{s['speedup'].iloc[0]:.2f}x"
            ax.set_title(title)
            ax.set_xticks(wide.index)
            ax.set_ylim(0, 100)
            ax.grid(axis="x", visible=False)
            if j == 0:
                ax.set_ylabel("share of time (%)")
    note = "; ".join(f"{names[h]} at most {largest[h]:.2g} % (too thin to draw)"
                     for h in hidden)
    fig.supxlabel("core (index)" + (f"; {note}" if note else ""))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(handles))
    return fig


# ------------------------------------------------------------------------------ allocation
def _allocation_panel(ax, part: pd.DataFrame, value: str, allocations) -> None:
    """The optimum as a wide translucent band, the heuristics as thin dashed lines on top.
    Heuristics alternate their dash phase and marker positions, so two that coincide show
    both colours instead of one hiding the other."""
    heuristics = [a for a in allocations if a != "optimal"]
    for alloc in allocations:
        pts = part[part["allocation"] == alloc].sort_values("tiles")
        color = fs.allocation_colors().get(alloc, fs.NEUTRAL)
        if alloc == "optimal":
            ax.plot(pts["tiles"], pts[value], color=color, lw=3.2, alpha=0.3,
                    solid_capstyle="butt", zorder=1)
            continue
        k = heuristics.index(alloc)
        ax.plot(pts["tiles"], pts[value], color=color, lw=0.9, zorder=2,
                ls=(3.0 * (k % 2), (3.0, 3.0)), marker=fs.allocation_markers().get(alloc, "o"),
                markevery=(k % 2, 2), markersize=3)
    fs.unity(ax)
    fs.log_axis(ax, "x")


def _allocation_legend(fig: Figure, allocations) -> None:
    handles = []
    for alloc in allocations:
        color = fs.allocation_colors().get(alloc, fs.NEUTRAL)
        if alloc == "optimal":
            handles.append(Line2D([], [], color=color, lw=3.2, alpha=0.3, label=alloc))
        else:
            handles.append(Line2D([], [], color=color, lw=0.9, ls=(0, (3.0, 3.0)),
                                  marker=fs.allocation_markers().get(alloc, "o"), markersize=3,
                                  label=alloc))
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles))


def _allocation_data(df: pd.DataFrame, value: str):
    require_columns(df, ["network", "coupling", "allocation", "tiles", value],
                    "plot_allocation_strategies")
    data = df[df["tiles"] > 0]
    return data, _ordered(data["allocation"], fs.allocation_colors())


@fs.styled
def plot_allocation_strategies(df: pd.DataFrame, value: str = "speedup",
                               coupling: str | None = None) -> Figure:
    """``value`` against the tile budget (log) for every allocation strategy, one panel per
    network, for one ``coupling`` (default: the first of tight, loose in the table).
    :func:`plot_allocation_strategies_grid` draws both couplings."""
    data, allocations = _allocation_data(df, value)
    coupling = coupling or _ordered(data["coupling"], fs.COUPLING)[0]
    data = data[data["coupling"] == coupling]
    nets = list(dict.fromkeys(data["network"]))
    fig, axes = _facets(1.45, nets, 3)
    for net, ax in axes.items():
        _allocation_panel(ax, data[data["network"] == net], value, allocations)
        ax.set_title(f"{net}, {coupling}")
    _label_outer(axes, "tile budget (count, log)", _value_label(value), 3)
    _allocation_legend(fig, allocations)
    return fig


@fs.styled
def plot_allocation_strategies_grid(df: pd.DataFrame, value: str = "speedup") -> Figure:
    """:func:`plot_allocation_strategies` for every coupling and network."""
    data, allocations = _allocation_data(df, value)
    keys = [(c, n) for c in _ordered(data["coupling"], fs.COUPLING)
            for n in dict.fromkeys(data["network"])]
    fig, axes = _facets(1.3, keys, 3)
    for (c, net), ax in axes.items():
        _allocation_panel(ax, data[(data["network"] == net) & (data["coupling"] == c)], value,
                          allocations)
        ax.set_title(f"{net}, {c}")
    _label_outer(axes, "tile budget (count, log)", _value_label(value), 3)
    _allocation_legend(fig, allocations)
    return fig


_REPLICATE_LINES = {"on": "-", "rule": (0, (5.0, 1.5, 1.0, 1.5)), "off": (0, (3.0, 2.0))}
"""Line style per replicate setting (``rule``: any ``reuse>=X``)."""


@fs.styled
def plot_replication(df: pd.DataFrame, reference: str = "optimal", marks: dict | None = None,
                     mark_label: str = "marked budget") -> Figure:
    """Latency over the ``reference`` allocation's latency with copies (``latency_vs_ref``)
    against the tile budget (log-log), one panel per network: colour the allocation, solid
    with the copies the allocation chooses (``replicate="on"``), dash-dot with a
    ``reuse>=X`` rule's copies, dashed without copies ("off"); 1x is the reference.
    ``marks`` maps a network to a budget drawn as a thin vertical line labelled
    ``mark_label`` (e.g. the published coverage)."""
    require_columns(df, ["network", "allocation", "replicate", "tiles", "latency_vs_ref"],
                    "plot_replication")
    data = df[df["tiles"] > 0]
    allocations = _ordered(data["allocation"], fs.allocation_colors())
    nets = list(dict.fromkeys(data["network"]))
    fig, axes = _facets(1.45, nets, 3)
    for net, ax in axes.items():
        part = data[data["network"] == net]
        for alloc in allocations:
            color = fs.allocation_colors().get(alloc, fs.NEUTRAL)
            for rep, pts in part[part["allocation"] == alloc].groupby("replicate", sort=True):
                pts = pts.sort_values("tiles")
                ax.plot(pts["tiles"], pts["latency_vs_ref"], color=color, lw=0.9,
                        ls=_REPLICATE_LINES.get(rep, _REPLICATE_LINES["rule"]),
                        marker=fs.allocation_markers().get(alloc, "o"), markersize=3)
        if marks and net in marks:
            ax.axvline(marks[net], color=fs.REFERENCE, lw=0.6, ls=":", zorder=0.5)
        fs.unity(ax)
        fs.log_axis(ax)
        fs.log_axis(ax, "x")
        ax.set_title(net)
    _label_outer(axes, "tile budget (count, log)", f"latency / {reference} (x, log)", 3)
    handles = [Line2D([], [], color=fs.allocation_colors().get(a, fs.NEUTRAL), lw=0.9,
                      marker=fs.allocation_markers().get(a, "o"), markersize=3, label=a)
               for a in allocations]
    handles += [Line2D([], [], color=fs.NEUTRAL, lw=0.9, ls=_REPLICATE_LINES[k], label=label)
                for k, label in (("on", "own copies"), ("rule", "rule's copies"),
                                 ("off", "no copies"))]
    if marks:
        handles.append(Line2D([], [], color=fs.REFERENCE, lw=0.6, ls=":", label=mark_label))
    fig.legend(handles=handles, loc="outside upper center", ncols=4)
    return fig


@fs.styled
def plot_pareto(front: pd.DataFrame) -> Figure:
    """Tiles used against speedup and against energy gain per network: every swept point in
    grey, the Pareto-optimal ones (``pareto`` column of :func:`aimclib.studies.pareto_front`)
    coloured by allocation, marker by coupling. Pareto points that several strategies reach
    alike are drawn once, in the colour of the first in :func:`aimclib.figstyle.allocation_colors`
    order; the legend lists only strategies with a drawn point."""
    require_columns(front, ["network", "tiles_used", "speedup", "energy_gain", "allocation",
                            "coupling", "pareto"], "plot_pareto")
    nets = list(dict.fromkeys(front["network"]))
    order = _ordered(front["allocation"], fs.allocation_colors())
    ncols = 3
    keys = []
    for start in range(0, len(nets), ncols):
        chunk = nets[start:start + ncols]
        keys += [(n, "speedup") for n in chunk] + [None] * (ncols - len(chunk))
        keys += [(n, "energy_gain") for n in chunk] + [None] * (ncols - len(chunk))
    nrows = len(keys) // ncols
    fig, axes = fs.figure("double", height_in=1.25 * nrows + 0.7, nrows=nrows, ncols=ncols)
    drawn: set = set()
    for key, ax in zip(keys, axes.flat):
        if key is None:
            ax.remove()
            continue
        net, value = key
        part = front[(front["network"] == net) & (front["tiles_used"] > 0)]
        ax.scatter(part["tiles_used"], part[value], s=5, color=fs.BACKGROUND, zorder=1,
                   linewidths=0)
        on = part[part["pareto"]].assign(_rank=lambda d: d["allocation"].map(order.index))
        on = on.sort_values("_rank", kind="stable").drop_duplicates(
            ["coupling", "tiles_used", "speedup", "energy_gain"])
        for (alloc, coup), pts in on.groupby(["allocation", "coupling"], sort=False):
            ax.scatter(pts["tiles_used"], pts[value], s=14, zorder=2,
                       color=fs.allocation_colors().get(alloc, fs.NEUTRAL),
                       marker=COUPLING_MARKERS.get(coup, "^"), edgecolors="white",
                       linewidths=0.3)
            drawn.add(alloc)
        fs.log_axis(ax, "x")
        fs.unity(ax)
        ax.set_title(net)
        ax.set_ylabel(_value_label(value))
        ax.set_xlabel("tiles used (count, log)")
    handles = [Line2D([], [], marker="o", ls="none", color=fs.BACKGROUND, markersize=3,
                      label="dominated")]
    handles += [Line2D([], [], marker="o", ls="none", color=fs.allocation_colors().get(a, fs.NEUTRAL),
                       label=a) for a in order if a in drawn]
    handles += [Line2D([], [], marker=COUPLING_MARKERS[c], ls="none", color=fs.NEUTRAL,
                       markerfacecolor="none", label=c)
                for c in _ordered(front["coupling"], COUPLING_MARKERS)]
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles),
               title="Pareto-optimal points by allocation (colour) and coupling (marker)")
    return fig


@fs.styled
def plot_tiles_for_speedup(table: pd.DataFrame) -> Figure:
    """Fewest tiles reaching each target speedup per network (bars, log scale, darker = higher
    target), one panel per coupling; targets a network never reaches are marked "not
    reached". ``table`` is :func:`aimclib.studies.fewest_tiles`'s output with a ``coupling``
    column."""
    require_columns(table, ["network", "coupling", "target", "tiles", "reached"],
                    "plot_tiles_for_speedup")
    couplings = _ordered(table["coupling"], fs.COUPLING)
    nets = list(dict.fromkeys(table["network"]))
    targets = sorted(table["target"].unique())
    width = 0.84 / len(targets)
    fig, axes = fs.figure("double", height_in=2.7, nrows=1, ncols=len(couplings),
                          sharey=True)
    top = float(np.nanmax(table["tiles"])) if table["reached"].any() else 10.0
    for ax, c in zip(axes[0], couplings):
        part = table[table["coupling"] == c]
        colors = fs.shades(fs.COUPLING[c], len(targets))[::-1]
        for k, t in enumerate(targets):
            rows = part[part["target"] == t].set_index("network").reindex(nets)
            x = np.arange(len(nets)) - 0.42 + width * (k + 0.5)
            bars = ax.bar(x, rows["tiles"].fillna(0), width=width, color=colors[k],
                          label=f"≥ {t:g}x")
            ax.bar_label(bars, labels=[f"{v:.0f}" if ok else "" for v, ok in
                                       zip(rows["tiles"], rows["reached"].fillna(False))],
                         rotation=90, padding=1)
            for xi, ok in zip(x, rows["reached"].fillna(True)):
                if not ok:
                    ax.text(xi, 1.1, "not reached", rotation=90, ha="center", va="bottom",
                            color=fs.NEUTRAL)
        fs.log_axis(ax)
        ax.set_ylim(1, top * 6)
        ax.set_xticks(range(len(nets)), nets, rotation=25, ha="right")
        ax.grid(axis="x", visible=False)
        ax.set_title(f"{c} coupling")
        ax.legend(title="target speedup", loc="upper left", ncols=len(targets))
    axes[0, 0].set_ylabel("fewest tiles (count, log)")
    return fig


@fs.styled
def plot_layer_latency(layers: pd.DataFrame, top: int = 25) -> Figure:
    """The ``top`` slowest layers of one simulation (a :attr:`SimResult.layers` table):
    latency in ms, shaded by the share of the layer's weights on tiles."""
    require_columns(layers, ["layer", "latency_s", "coverage"], "plot_layer_latency")
    data = layers.nlargest(top, "latency_s").assign(
        latency_ms=lambda d: 1e3 * d["latency_s"], coverage_pct=lambda d: 100 * d["coverage"])
    fig, ax = fs.figure("single", height_in=0.13 * len(data) + 0.9)
    cmap = mpl.colormaps[fs.RC["image.cmap"]]
    ax.barh(data["layer"], data["latency_ms"], color=cmap(data["coverage_pct"] / 100))
    ax.invert_yaxis()
    ax.set(xlabel="layer latency (ms)", ylabel="", title=f"the {len(data)} slowest layers")
    ax.grid(axis="y", visible=False)
    sm = mpl.cm.ScalarMappable(cmap=cmap, norm=mpl.colors.Normalize(0, 100))
    fig.colorbar(sm, ax=ax, label="weights on tiles (%)")
    return fig


# ------------------------------------------------------- replication, schedules, throughput
REPLICATE_HATCH = {"off": "", "on": "////"}
"""Bar hatch of the replication choice (bars keep their schedule colour)."""

THROUGHPUT_HATCH = {"batch": "", "pipelined": "////"}
"""Bar hatch of the throughput mode (bars keep their coupling colour)."""


def _bar_x(n_groups: int, k: int, n_series: int) -> tuple[np.ndarray, float]:
    """x positions of series ``k`` of ``n_series`` bars per group, and the bar width."""
    width = 0.84 / n_series
    return np.arange(n_groups) - 0.42 + width * (k + 0.5), width


@fs.styled
def plot_choices(table: pd.DataFrame, x: str = "network") -> Figure:
    """Speedup and energy gain under each replication and schedule choice: rows = speedup,
    energy gain (x, log scale; both against the all-digital baseline under the barrier
    schedule), columns = coupling, groups of bars along ``x`` (networks, or e.g.
    balancers); bar colour the schedule (:data:`aimclib.figstyle.SCHEDULE`), hatch
    replication on. ``table`` is :func:`aimclib.studies.choices_table`'s output with one row
    per ``x``, coupling, replication and schedule."""
    require_columns(table, [x, "coupling", "replicate", "schedule", "speedup",
                            "energy_gain"], "plot_choices")
    if table.duplicated([x, "coupling", "replicate", "schedule"]).any():
        raise ParameterError(f"plot_choices: one row per {x}, coupling, replicate and "
                             f"schedule; filter the table first")
    couplings = _ordered(table["coupling"], fs.COUPLING)
    schedules = _ordered(table["schedule"], fs.SCHEDULE)
    reps = _ordered(table["replicate"], REPLICATE_HATCH)
    groups = list(dict.fromkeys(table[x]))
    series = [(s, r) for r in reps for s in schedules]
    fig, axes = fs.figure("double", height_in=4.2 if len(groups) > 3 else 3.6, nrows=2,
                          ncols=len(couplings), sharey="row")
    letters = iter("abcdefgh")
    for row, value in enumerate(("speedup", "energy_gain")):
        for col, c in enumerate(couplings):
            ax = axes[row, col]
            for k, (s, r) in enumerate(series):
                part = table[(table["coupling"] == c) & (table["schedule"] == s)
                             & (table["replicate"] == r)].set_index(x).reindex(groups)
                pos, width = _bar_x(len(groups), k, len(series))
                ax.bar(pos, part[value], width=width, color=fs.SCHEDULE.get(s, fs.NEUTRAL),
                       hatch=REPLICATE_HATCH.get(r, ".."), edgecolor="white", linewidth=0.3)
            fs.log_axis(ax)
            ax.set_xticks(range(len(groups)), groups if row == 1 else [], rotation=25,
                          ha="right")
            ax.grid(axis="x", visible=False)
            if col == 0:
                ax.set_ylabel(_value_label(value))
            fs.panel_label(ax, f"({next(letters)}) {value.replace('_', ' ')}, {c} coupling")
    handles = [Patch(color=fs.SCHEDULE.get(s, fs.NEUTRAL), label=f"{s} schedule")
               for s in schedules]
    handles += [Patch(facecolor="white", edgecolor=fs.NEUTRAL, hatch=REPLICATE_HATCH.get(r, ".."),
                      label=f"replication {r}", linewidth=0.4) for r in reps]
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles),
               title="against the all-digital baseline on the same cores, barrier schedule")
    return fig


@fs.styled
def plot_throughput_choices(table: pd.DataFrame) -> Figure:
    """Throughput of a batch against batch 1, per network: (a) inferences/s over batch 1's,
    (b) energy per inference over batch 1's (x); bar colour the coupling, hatch the
    throughput mode (all images' positions per layer, or images pipelined as a DAG).
    ``table`` is :func:`aimclib.studies.throughput_table`'s output with one row per network,
    coupling and throughput mode (filter the other keys first)."""
    require_columns(table, ["network", "coupling", "throughput", "batch", "throughput_gain",
                            "energy_per_inference_ratio"], "plot_throughput_choices")
    if table.duplicated(["network", "coupling", "throughput"]).any():
        raise ParameterError("plot_throughput_choices: one row per network, coupling and "
                             "throughput mode; filter the table (replicate, schedule) first")
    couplings = _ordered(table["coupling"], fs.COUPLING)
    modes = _ordered(table["throughput"], THROUGHPUT_HATCH)
    nets = list(dict.fromkeys(table["network"]))
    series = [(c, m) for c in couplings for m in modes]
    fig, axes = fs.figure("double", height_in=2.6, nrows=1, ncols=2)
    for ax, value, label in (
            (axes[0, 0], "throughput_gain", "(a) inferences/s, batch B / batch 1 (x)"),
            (axes[0, 1], "energy_per_inference_ratio",
             "(b) energy per inference, batch B / batch 1 (x)")):
        for k, (c, m) in enumerate(series):
            part = table[(table["coupling"] == c) & (table["throughput"] == m)].set_index(
                "network").reindex(nets)
            x, width = _bar_x(len(nets), k, len(series))
            ax.bar(x, part[value], width=width, color=fs.COUPLING[c],
                   hatch=THROUGHPUT_HATCH.get(m, ".."), edgecolor="white", linewidth=0.3)
        fs.unity(ax)
        lo = float(table[value].min())
        ax.set_ylim(min(0.9, 0.95 * lo), None)
        ax.set_xticks(range(len(nets)), nets, rotation=25, ha="right")
        ax.grid(axis="x", visible=False)
        ax.set_ylabel(label.split(") ", 1)[1])
        fs.panel_label(ax, label.split(" ", 1)[0])
    batch = ", ".join(str(b) for b in sorted(table["batch"].unique()))
    handles = [Patch(color=fs.COUPLING[c], label=f"{c} coupling") for c in couplings]
    handles += [Patch(facecolor="white", edgecolor=fs.NEUTRAL, hatch=THROUGHPUT_HATCH.get(m, ".."),
                      label=f"throughput={m}", linewidth=0.4) for m in modes]
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles),
               title=f"batch B = {batch} images against batch 1")
    return fig
