"""Figures of the workbench (seaborn/matplotlib). Every axis carries its unit or says 'count'.

Figures are saved with :func:`save_figure`, which strips the PDF creation date so that a
re-run rewrites identical files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

from .network import Network
from .studies import CORE_SHARES, achieved_coverage, layer_label, require_columns


def save_figure(fig: plt.Figure, stem: str | Path, formats: Sequence[str] = ("png", "pdf"),
                dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf`` (reproducible bytes); returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        meta = {"CreationDate": None} if fmt == "pdf" else {}
        if fmt == "png":
            meta = {"Software": None}
        fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata=meta)
        paths.append(path)
    return paths


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


def plot_network_reuse(nets: Sequence[Network]) -> plt.Figure:
    """Per-layer MVM weights against MACs (log-log): weight reuse of each network's layers.

    A point's distance above the diagonal ``MACs = weights`` is the layer's reuse (MACs per
    stored weight): linear layers sit on the diagonal, early convolutions far above it.
    """
    df = network_layers_frame(nets)
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1.4, 1]})
    ax = axes[0]
    sns.scatterplot(data=df, x="weights", y="macs", hue="network", style="kind",
                    ax=ax, s=22, alpha=0.8, linewidth=0)
    lo = max(1, df["weights"].min())
    hi = df["weights"].max()
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--", label="1 MAC per weight")
    ax.set(xscale="log", yscale="log", xlabel="MVM weights per layer (count)",
           ylabel="MACs per layer (count)", title="Per-layer weights vs work (batch 1)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax = axes[1]
    summary = pd.DataFrame([n.summary() for n in nets])
    sns.barplot(data=summary, y="name", x="macs_per_weight", ax=ax, color="tab:blue")
    ax.bar_label(ax.containers[0], fmt="%.0f", fontsize=7, padding=2)
    ax.set(xlabel="network MACs per MVM weight (MAC/weight)", ylabel="",
           title="Weight reuse per network")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------ study figures
COUPLING_COLORS = {"tight": "tab:blue", "loose": "tab:orange"}
"""One color per coupling, shared by every study figure."""
KIND_COLORS = {"digital": "tab:blue", "analog": "tab:orange", "stolen-digital": "tab:red",
               "mvm": "tab:green"}
"""Gantt colors: core work (digital, analog = driving a tile, stolen-digital) and tile MVMs."""
SHARE_COLORS = {"digital": "tab:blue", "analog": "tab:orange", "steal": "tab:red",
                "idle": "lightgrey"}
"""Core-time component colors of the utilisation bars."""
BALANCER_DASHES = {"static-even": (4, 2), "static-balanced": "", "work-stealing": (1, 1.5)}
"""Line styles of the balancers: static-balanced solid, static-even dashed, stealing dotted."""


def _theme() -> None:
    sns.set_theme(style="whitegrid", context="paper")


def _unity(ax: plt.Axes) -> None:
    ax.axhline(1.0, color="grey", lw=0.8, ls=":", zorder=0)


def _log_axis(ax: plt.Axes, which: str = "y") -> None:
    """Log scale with plain-number tick labels: 1, 2, 5, 10, ... or, over more than two
    decades, 1, 10, 100, ... Call it after plotting (it reads the axis limits)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    ax.autoscale_view()
    lo, hi = ax.get_ylim() if which == "y" else ax.get_xlim()
    wide = hi / lo > 1e2
    axis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0,) if wide else (1.0, 2.0, 5.0)))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(mticker.NullFormatter())


def _cores_palette(values) -> dict:
    """Ordered colors for core counts (dark to light, without viridis' pale yellow end)."""
    levels = sorted(set(values))
    cmap = plt.get_cmap("viridis")
    return {c: cmap(0.88 * i / max(1, len(levels) - 1)) for i, c in enumerate(levels)}


def _ordered(values, preferred) -> list:
    """``values``' distinct entries, those in ``preferred`` first in its order."""
    present = list(dict.fromkeys(values))
    return [v for v in preferred if v in present] + [v for v in present if v not in preferred]


def plot_layer_coverage(df: pd.DataFrame, value: str = "speedup") -> plt.Figure:
    """Single-layer ``value`` (``speedup`` or ``energy_gain``) against the share of the layer's
    weights on tiles: one panel per layer, color = cores, line style = coupling.

    ``df`` is a layer sweep (one row per layer spec, preset, cores and tile budget); panels
    are titled with :func:`aimclib.studies.layer_label`.
    """
    require_columns(df, ["layer", "coverage", "cores", "coupling", value],
                    "plot_layer_coverage")
    _theme()
    data = df.assign(coverage_pct=100.0 * df["coverage"], label=df["layer"].map(layer_label))
    ylabel = {"speedup": "speedup vs all-digital (x, log)",
              "energy_gain": "energy gain vs all-digital (x, log)"}.get(value, value)
    g = sns.relplot(data=data, x="coverage_pct", y=value, col="label", col_wrap=3,
                    hue="cores", style="coupling", markers=True, kind="line", errorbar=None,
                    palette=_cores_palette(data["cores"]), height=2.6, aspect=1.3,
                    facet_kws={"sharey": False},
                    style_order=_ordered(data["coupling"], ("tight", "loose")),
                    col_order=list(dict.fromkeys(data["label"])))
    for ax in g.axes.flat:
        _log_axis(ax)
        _unity(ax)
    g.set_titles("{col_name}")
    g.set_axis_labels("layer weights on tiles (%)", ylabel)
    what = "Speedup" if value == "speedup" else "Energy gain"
    g.figure.suptitle(f"{what} of single layers against their coverage by tiles", y=1.02)
    return g.figure


def plot_coupling_crossover(by_positions: pd.DataFrame, by_vectors: pd.DataFrame,
                            layer: str, vectors_layer: str) -> plt.Figure:
    """Loose-to-tight speedup ratio of fully mapped layers: left against the layer's output
    positions ``m`` (MVMs per tile), right against the loose interface's vectors per DMA
    job. Both tables come from :func:`aimclib.studies.coupling_ratio` (columns ``gemm_m`` or
    ``set:loose.vectors_per_job``, ``cores``, ``ratio``)."""
    _theme()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    vpj = "set:loose.vectors_per_job"
    for ax, data, x, xlabel, title in (
            (axes[0], by_positions, "gemm_m", "output positions m = MVMs per tile (count, log)",
             f"{layer}: vary the feature map"),
            (axes[1], by_vectors, vpj, "input vectors per DMA job (count, log)",
             f"{vectors_layer}: vary the DMA job size")):
        sns.lineplot(data=data, x=x, y="ratio", hue="cores", palette=_cores_palette(
            data["cores"]), marker="o", errorbar=None, ax=ax)
        _log_axis(ax, "x")
        _log_axis(ax, "y")
        ax.set(xlabel=xlabel, ylabel="loose / tight speedup (x, log; > 1: loose faster)",
               title=title)
        ax.axhline(1.0, color="black", lw=0.9, ls="--", zorder=0)
        ax.legend(title="cores", fontsize=8, frameon=False, loc="lower right")
    fig.suptitle("Tight vs loose coupling: where a DMA job pays off", y=1.02)
    fig.tight_layout()
    return fig


def plot_network_coverage(df: pd.DataFrame, value: str = "speedup",
                          published: dict | None = None, x: str = "coverage") -> plt.Figure:
    """Whole-network ``value`` against coverage of MVM weights (``x="coverage"``, %) or the tile
    budget (``x="tiles"``): rows = networks, columns = cores, color = coupling, line style =
    balancer.

    ``published`` (``{"cores": 8, "coverage": 0.41, "speedup": 5.9, "energy_gain": 5.6}``)
    marks the published point with a star on the panels of its core count, with a dotted line
    at its coverage.
    """
    require_columns(df, ["network", "cores", "coupling", "balancer", "tiles", value],
                    "plot_network_coverage")
    _theme()
    data = df.assign(coverage_pct=100.0 * df[achieved_coverage(df)])
    xcol = "coverage_pct" if x == "coverage" else "tiles"
    balancers = _ordered(data["balancer"], BALANCER_DASHES)
    g = sns.relplot(data=data, x=xcol, y=value, row="network", col="cores", hue="coupling",
                    style="balancer", kind="line", errorbar=None, height=2.1, aspect=1.35,
                    palette=COUPLING_COLORS, hue_order=_ordered(data["coupling"],
                                                                COUPLING_COLORS),
                    style_order=balancers, dashes=[BALANCER_DASHES.get(b, "") for b in
                                                   balancers],
                    row_order=list(dict.fromkeys(data["network"])),
                    facet_kws={"sharey": "row", "sharex": x == "coverage",
                               "margin_titles": True})
    g.set_titles(row_template="{row_name}", col_template="cores: {col_name}")
    xlabel = "coverage of MVM weights (%)" if x == "coverage" else "tiles (count)"
    ylabel = {"speedup": "speedup (x)", "energy_gain": "energy gain (x)"}.get(value, value)
    g.set_axis_labels(xlabel, ylabel)
    for ax in g.axes.flat:
        _unity(ax)
    if published is not None and x == "coverage" and published["cores"] in g.col_names:
        col = g.col_names.index(published["cores"])
        for ax in g.axes[:, col]:
            ax.axvline(100 * published["coverage"], color="black", lw=0.7, ls=":")
            ax.plot(100 * published["coverage"], published[value], marker="*", ms=11,
                    color="crimson", markeredgecolor="black", ls="none", zorder=5)
        g.axes[0, col].annotate("published", (100 * published["coverage"], published[value]),
                                xytext=(6, 4), textcoords="offset points", fontsize=7,
                                color="crimson")
    what = "Speedup" if value == "speedup" else "Energy gain"
    against = "coverage" if x == "coverage" else "tile budget"
    g.figure.suptitle(f"{what} of whole networks against {against} (optimal allocation)",
                      y=1.01)
    return g.figure


def plot_published_point(table: pd.DataFrame) -> plt.Figure:
    """The model's speedup and energy gain per network at the published coverage, bars per
    coupling and balancer, against the published values (dashed lines). ``table`` is
    :func:`aimclib.studies.published_comparison`'s output."""
    require_columns(table, ["network", "coupling", "balancer", "speedup", "energy_gain",
                            "published_speedup", "published_energy_gain",
                            "published_coverage"], "plot_published_point")
    _theme()
    data = table.assign(config=table["coupling"] + ", " + table["balancer"])
    order = [f"{c}, {b}" for c in COUPLING_COLORS for b in BALANCER_DASHES]
    order = [o for o in order if o in set(data["config"])]
    palette = dict(zip(order, sns.color_palette("Blues", 4)[1:] + sns.color_palette(
        "Oranges", 4)[1:])) if len(order) == 6 else None
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharex=True)
    for ax, value, label in ((axes[0], "speedup", "speedup (x)"),
                             (axes[1], "energy_gain", "energy gain (x)")):
        sns.barplot(data=data, x="network", y=value, hue="config", hue_order=order,
                    palette=palette, ax=ax)
        pub = float(data[f"published_{value}"].iloc[0])
        ax.axhline(pub, color="crimson", ls="--", lw=1.2)
        ax.text(0.01, pub, f"published {pub:g}x", color="crimson", fontsize=8,
                transform=ax.get_yaxis_transform(), va="bottom", ha="left")
        _unity(ax)
        ax.set(xlabel="", ylabel=label)
        ax.tick_params(axis="x", rotation=25)
        ax.get_legend().remove()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, title="coupling, balancer", loc="upper left",
               bbox_to_anchor=(1.0, 0.92), frameon=False)
    cov = 100 * float(data["published_coverage"].iloc[0])
    cores = ", ".join(str(c) for c in sorted(data["cores"].unique())) if "cores" in data \
        else "?"
    fig.suptitle(f"The model at {cov:.0f}% coverage ({cores} cores) against the published "
                 f"point", y=1.0)
    fig.tight_layout()
    return fig


def plot_gantt(panels: dict, time_scale: float = 1e3, time_unit: str = "ms",
               title: str | None = None, xlabel: str = "time") -> plt.Figure:
    """Gantt charts stacked on one time axis: ``panels`` maps a panel title to the intervals of
    :func:`aimclib.studies.gantt_intervals`. Rows are cores then tiles; colors are the
    interval kinds (:data:`KIND_COLORS`). Times are multiplied by ``time_scale`` for display
    and the x axis reads ``"{xlabel} ({time_unit})"``.
    """
    _theme()
    sizes = [max(1, int(p["row_pos"].max()) + 1) if len(p) else 1 for p in panels.values()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 0.8 + 0.19 * sum(sizes)
                                                     + 0.5 * len(panels)),
                             sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": sizes})
    kinds_seen: dict = {}
    for ax, (name, iv), n_rows in zip(axes[:, 0], panels.items(), sizes):
        for (pos, kind), part in iv.groupby(["row_pos", "kind"], sort=False):
            bars = list(zip(part["start_s"] * time_scale,
                            (part["end_s"] - part["start_s"]) * time_scale))
            coll = ax.broken_barh(bars, (pos - 0.4, 0.8), facecolors=KIND_COLORS.get(
                kind, "tab:grey"), linewidth=0)
            kinds_seen.setdefault(kind, coll)
        labels = iv.drop_duplicates("row_pos").set_index("row_pos")["row"]
        ax.set_yticks(range(n_rows), [labels.get(i, "") for i in range(n_rows)],
                      fontsize=6 if n_rows > 16 else 7)
        ax.set_ylim(n_rows - 0.5, -0.5)
        ax.set_title(name, fontsize=9, loc="left")
        ax.grid(axis="y", visible=False)
    axes[-1, 0].set_xlabel(f"{xlabel} ({time_unit})")
    order = [k for k in KIND_COLORS if k in kinds_seen]
    handles = [plt.Rectangle((0, 0), 1, 1, color=KIND_COLORS[k]) for k in order]
    names = {"digital": "core: digital", "analog": "core: drives a tile",
             "stolen-digital": "core: stolen tile work, digital", "mvm": "tile: MVM"}
    fig.legend(handles, [names[k] for k in order], loc="upper left",
               bbox_to_anchor=(1.0, 0.95), frameon=False)
    if title:
        fig.suptitle(title, y=1.0)
    fig.tight_layout()
    return fig


def plot_core_utilisation(table: pd.DataFrame, summary: pd.DataFrame | None = None
                          ) -> plt.Figure:
    """Per-core time shares (digital work, analog work, stealing, idle; % of the inference)
    as stacked bars: rows = coupling, columns = balancer. ``table`` is
    :func:`aimclib.studies.utilisation_table`'s output; ``summary``
    (:func:`aimclib.studies.config_summary`) adds each configuration's latency to its title.
    """
    require_columns(table, ["coupling", "balancer", "core", "component", "share_pct"],
                    "plot_core_utilisation")
    _theme()
    couplings = _ordered(table["coupling"], COUPLING_COLORS)
    balancers = _ordered(table["balancer"], BALANCER_DASHES)
    fig, axes = plt.subplots(len(couplings), len(balancers), figsize=(3.6 * len(balancers),
                                                                     2.6 * len(couplings)),
                             sharex=True, sharey=True, squeeze=False)
    for i, c in enumerate(couplings):
        for j, b in enumerate(balancers):
            ax = axes[i, j]
            part = table[(table["coupling"] == c) & (table["balancer"] == b)]
            wide = part.pivot(index="core", columns="component", values="share_pct")
            bottom = pd.Series(0.0, index=wide.index)
            for comp in CORE_SHARES:
                if comp in wide:
                    ax.bar(wide.index, wide[comp], bottom=bottom, color=SHARE_COLORS[comp],
                           label=comp, width=0.8)
                    bottom += wide[comp]
            title = f"{c}, {b}"
            if summary is not None:
                s = summary[(summary["coupling"] == c) & (summary["balancer"] == b)]
                if len(s):
                    title += f"\n{s['latency_ms'].iloc[0]:.1f} ms, " \
                             f"{s['speedup'].iloc[0]:.2f}x"
            ax.set_title(title, fontsize=9)
            ax.set_xticks(wide.index)
            ax.set_ylim(0, 100)
            if i == len(couplings) - 1:
                ax.set_xlabel("core (index)")
            if j == 0:
                ax.set_ylabel("share of inference time (%)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    names = {"digital": "digital work", "analog": "driving tiles (interface, stall, host)",
             "steal": "stealing", "idle": "idle"}
    fig.legend(handles, [names[n] for n in labels], loc="upper left",
               bbox_to_anchor=(1.0, 0.9), frameon=False)
    fig.suptitle("Where each core's time goes", y=1.0)
    fig.tight_layout()
    return fig


def plot_allocation_strategies(df: pd.DataFrame, value: str = "speedup") -> plt.Figure:
    """``value`` against the tile budget for every allocation strategy: columns = networks,
    rows = coupling (log tile axis; ``optimal`` is the exact optimum for static-balanced)."""
    require_columns(df, ["network", "coupling", "allocation", "tiles", value],
                    "plot_allocation_strategies")
    _theme()
    data = df[df["tiles"] > 0]
    order = ["optimal", "greedy-benefit", "reuse-first", "layer-order", "largest-first"]
    hue_order = _ordered(data["allocation"], order)
    g = sns.relplot(data=data, x="tiles", y=value, col="network", row="coupling",
                    hue="allocation", hue_order=hue_order, style="allocation",
                    style_order=hue_order, markers=True, kind="line", errorbar=None,
                    height=2.5, aspect=1.1,
                    palette=dict(zip(order, ["black", "tab:green", "tab:purple", "tab:orange",
                                             "tab:red"])),
                    row_order=_ordered(data["coupling"], COUPLING_COLORS),
                    col_order=list(dict.fromkeys(data["network"])),
                    facet_kws={"sharey": "col", "margin_titles": True})
    for ax in g.axes.flat:
        _log_axis(ax, "x")
        _unity(ax)
    g.set_titles(row_template="{row_name}", col_template="{col_name}")
    ylabel = {"speedup": "speedup (x)", "energy_gain": "energy gain (x)"}.get(value, value)
    g.set_axis_labels("tile budget (count, log)", ylabel)
    g.figure.suptitle("Allocation strategies against the optimum", y=1.02)
    return g.figure


def plot_pareto(front: pd.DataFrame) -> plt.Figure:
    """Tiles used against speedup (top) and energy gain (bottom) per network: every swept
    point in grey, the Pareto-optimal ones (``pareto`` column of
    :func:`aimclib.studies.pareto_front`) colored by allocation, marker by coupling."""
    require_columns(front, ["network", "tiles_used", "speedup", "energy_gain", "allocation",
                            "coupling", "pareto"], "plot_pareto")
    _theme()
    nets = list(dict.fromkeys(front["network"]))
    fig, axes = plt.subplots(2, len(nets), figsize=(2.9 * len(nets), 5.6), squeeze=False,
                             sharex="col")
    order = ["optimal", "greedy-benefit", "reuse-first", "layer-order", "largest-first"]
    palette = dict(zip(order, ["black", "tab:green", "tab:purple", "tab:orange", "tab:red"]))
    markers = {"tight": "o", "loose": "s"}
    for j, net in enumerate(nets):
        part = front[(front["network"] == net) & (front["tiles_used"] > 0)]
        on = part[part["pareto"]]
        for i, (value, label) in enumerate((("speedup", "speedup (x)"),
                                            ("energy_gain", "energy gain (x)"))):
            ax = axes[i, j]
            ax.scatter(part["tiles_used"], part[value], s=9, color="lightgrey", zorder=1,
                       label="dominated")
            # strategies that allocate alike give the same points: draw the legend's first
            # (optimal) last, on top
            groups = sorted(on.groupby(["allocation", "coupling"], sort=False),
                            key=lambda kv: -(order.index(kv[0][0]) if kv[0][0] in order
                                             else len(order)))
            for (alloc, coup), pts in groups:
                ax.scatter(pts["tiles_used"], pts[value], s=22, zorder=2,
                           color=palette.get(alloc, "tab:grey"),
                           marker=markers.get(coup, "^"), edgecolor="white", linewidth=0.4,
                           label=f"{alloc}, {coup}")
            _log_axis(ax, "x")
            _unity(ax)
            if i == 0:
                ax.set_title(net, fontsize=9)
            if i == 1:
                ax.set_xlabel("tiles used (count, log)")
            if j == 0:
                ax.set_ylabel(label)
    seen = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    labels = ["dominated"] + sorted((k for k in seen if k != "dominated"),
                                    key=lambda s: (order.index(s.split(", ")[0])
                                                   if s.split(", ")[0] in order else 99, s))
    fig.legend([seen[k] for k in labels], [f"Pareto: {k}" if k != "dominated" else k
                                           for k in labels],
               loc="upper left", bbox_to_anchor=(1.0, 0.92), frameon=False, fontsize=8)
    fig.suptitle("Pareto front: fewest tiles, highest speedup, highest energy gain "
                 "(all strategies, budgets, couplings)", y=1.0)
    fig.tight_layout()
    return fig


def plot_tiles_for_speedup(table: pd.DataFrame) -> plt.Figure:
    """Fewest tiles reaching each target speedup per network (bars, log scale), one panel per
    coupling; targets a network never reaches are marked "not reached". ``table`` is
    :func:`aimclib.studies.fewest_tiles`'s output with a ``coupling`` column."""
    require_columns(table, ["network", "coupling", "target", "tiles", "reached"],
                    "plot_tiles_for_speedup")
    _theme()
    data = table.assign(target_label=[f"≥ {t:g}x" for t in table["target"]])
    couplings = _ordered(data["coupling"], COUPLING_COLORS)
    nets = list(dict.fromkeys(data["network"]))
    hue_order = list(dict.fromkeys(data.sort_values("target")["target_label"]))
    fig, axes = plt.subplots(1, len(couplings), figsize=(6.2 * len(couplings), 4.0),
                             sharey=True, squeeze=False)
    for ax, c in zip(axes[0], couplings):
        part = data[data["coupling"] == c]
        sns.barplot(data=part, x="network", y="tiles", hue="target_label", order=nets,
                    hue_order=hue_order, palette="crest", ax=ax)
        for cont in ax.containers:
            ax.bar_label(cont, fmt="%.0f", fontsize=6, padding=1)
        n_h = len(hue_order)
        width = 0.8 / n_h
        for _, row in part[~part["reached"]].iterrows():
            x = nets.index(row["network"]) - 0.4 + width * (hue_order.index(
                row["target_label"]) + 0.5)
            ax.text(x, 1.2, "not reached", rotation=90, ha="center", va="bottom",
                    fontsize=6, color="dimgrey")
        _log_axis(ax)
        ax.set(xlabel="", ylabel="fewest tiles (count, log)", title=f"{c} coupling")
        ax.set_ylim(bottom=1)
        ax.tick_params(axis="x", rotation=25)
        ax.get_legend().remove()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, title="target speedup", loc="upper left",
               bbox_to_anchor=(1.0, 0.9), frameon=False)
    fig.suptitle("Fewest tiles that reach a target speedup (optimal allocation)", y=1.0)
    fig.tight_layout()
    return fig


def plot_layer_latency(layers: pd.DataFrame, top: int = 25) -> plt.Figure:
    """The ``top`` slowest layers of one simulation (a :attr:`SimResult.layers` table):
    latency in ms, colored by the share of the layer's weights on tiles."""
    require_columns(layers, ["layer", "latency_s", "coverage"], "plot_layer_latency")
    _theme()
    data = layers.nlargest(top, "latency_s").assign(
        latency_ms=lambda d: 1e3 * d["latency_s"], coverage_pct=lambda d: 100 * d["coverage"])
    fig, ax = plt.subplots(figsize=(7, 0.22 * len(data) + 1.2))
    cmap = plt.get_cmap("viridis")
    ax.barh(data["layer"], data["latency_ms"], color=cmap(data["coverage_pct"] / 100))
    ax.invert_yaxis()
    ax.set(xlabel="layer latency (ms)", ylabel="", title=f"The {len(data)} slowest layers")
    ax.tick_params(axis="y", labelsize=7)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 100))
    fig.colorbar(sm, ax=ax, label="layer weights on tiles (%)")
    fig.tight_layout()
    return fig
