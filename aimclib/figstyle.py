"""The one figure style of the workbench: IEEE column widths, readable fonts, TrueType PDFs,
a colour-blind-safe palette in which each colour has one meaning, and reproducible files.

Use it for every figure (``aimclib.plotting`` does)::

    from aimclib import figstyle as fs

    @fs.styled
    def plot_something(df):
        fig, ax = fs.figure("single", height_in=2.4)          # 3.5 in wide
        for coupling, part in df.groupby("coupling"):
            ax.plot(part["tiles"], part["speedup"], color=fs.COUPLING[coupling],
                    label=coupling)
        fs.unity(ax)                                          # the 1x reference line
        fs.log_axis(ax, "x")
        ax.legend()
        return fig

    fs.save(plot_something(df), "figures/something")         # .png + .pdf, same bytes on re-run

Sizes: :data:`WIDTHS_IN` (single column 3.5 in, double column 7.16 in, IEEE); the page width
of a saved PDF is exactly the figure width (no ``bbox_inches="tight"``; layout is
matplotlib's constrained layout). Fonts: :data:`RC` sets 8 pt text and 7 pt ticks and
legends at that size, TrueType (Type 42) fonts in PDF and PostScript.

Colours (Okabe-Ito and Paul Tol's muted scheme, both colour-blind safe; each colour means one
thing in every figure): :data:`COUPLING` (tight blue, loose orange), :data:`WORK` (what a core
or tile spends its time on), :func:`allocation_colors` (black is the optimum, the reference).
Balancers are line styles (:func:`balancer_lines`) or hatches (:func:`balancer_hatches`), never
colours; strategies are drawn as their registry entry says; core
counts are markers (:data:`CORE_MARKERS`) and, within a coupling, lighter shades of its colour
(:func:`shades`). Greys carry no category: reference lines (:data:`REFERENCE`), dominated or
background points (:data:`BACKGROUND`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.colors as mcolors
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from .allocation import ALLOCATIONS
from .balancing import BALANCERS
from .errors import ParameterError

WIDTHS_IN = {"single": 3.5, "double": 7.16}
"""Figure widths (inches): an IEEE single column and the full two-column text width."""

MIN_FONT_PT = 7.0
"""Smallest font size (pt) any figure uses, at its printed size."""

RC = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],   # ships with matplotlib: the same glyphs everywhere
    "font.size": 8.0,
    "axes.titlesize": 8.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "figure.titlesize": 8.0,
    "figure.labelsize": 8.0,
    "axes.linewidth": 0.6,
    "axes.edgecolor": "#333333",
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.1,
    "lines.markersize": 3.5,
    "patch.linewidth": 0.4,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.minor.size": 1.5,
    "ytick.minor.size": 1.5,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "legend.borderaxespad": 0.3,
    "legend.columnspacing": 1.0,
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "figure.constrained_layout.use": True,
    "figure.constrained_layout.h_pad": 0.02,
    "figure.constrained_layout.w_pad": 0.02,
    "pdf.fonttype": 42,        # TrueType, not Type 3 (IEEE PDF eXpress)
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "svg.hashsalt": "aimclib",  # fixed ids: an SVG re-run is byte-identical
    "image.cmap": "cividis",
}
"""matplotlib rcParams of every figure (applied by :func:`styled` and :func:`save`)."""

# --------------------------------------------------------------------------- colours by meaning
COUPLING = {"tight": "#0072B2", "loose": "#E69F00"}
"""Tile coupling: tight (tile inside the core) blue, loose (tile on the bus) orange."""

SCHEDULE = {"barrier": "#332288", "dag": "#44AA99", "pipelined": "#CC6677"}
"""Schedule of the layers: barrier after every layer (indigo), DAG of the layers (teal), row
bands pipelined (rose). Used where coupling is shown by panel, not colour."""

WORK = {"digital": "#88CCEE", "analog": "#DDCC77", "stolen-digital": "#882255",
        "steal": "#332288", "mvm": "#117733", "idle": "#DDDDDD"}
"""What time is spent on: core digital work (cyan), a core driving a tile (sand), tile work
stolen and computed digitally by another core (wine), the stealing itself (indigo), a tile
computing MVMs (green), idle (pale grey)."""

def allocation_colors() -> dict[str, str]:
    """Colour per allocation strategy, in figure order (from the registry
    :data:`aimclib.allocation.ALLOCATIONS`; black is the optimum the others are measured
    against)."""
    return {a: ALLOCATIONS.entry(a).color for a in ALLOCATIONS}


def allocation_markers() -> dict[str, str]:
    """Marker per allocation strategy (the optimum is a wide band without markers)."""
    return {a: ALLOCATIONS.entry(a).marker for a in ALLOCATIONS}


def balancer_lines() -> dict[str, object]:
    """Line style per balancer, in figure order (from :data:`aimclib.balancing.BALANCERS`:
    static-balanced solid, static-even dashed, work stealing dash-dot)."""
    return {b: BALANCERS.entry(b).line for b in BALANCERS}


def balancer_hatches() -> dict[str, str]:
    """Bar hatch per balancer (bars keep their coupling colour)."""
    return {b: BALANCERS.entry(b).hatch for b in BALANCERS}


REFERENCE = "#777777"
"""Reference lines (1x, one MAC per weight): thin, solid, grey."""

BACKGROUND = "#BBBBBB"
"""Points that are context only (dominated configurations)."""

NEUTRAL = "#444444"
"""Data that has no category colour (one series, or core counts when coupling is not shown)."""

CORE_MARKERS = {1: "o", 2: "s", 4: "^", 8: "D", 16: "v"}
"""Marker per core count."""

PUBLISHED_MARKER = {"marker": "*", "markersize": 8, "markerfacecolor": "white",
                    "markeredgecolor": "black", "markeredgewidth": 0.8, "linestyle": "none"}
"""How a published reference point is drawn (a hollow black star)."""


def shades(color: str, n: int, light: float = 0.45) -> list[tuple]:
    """``n`` shades of ``color`` from the colour itself (first) to a mix with ``light`` of
    white (last): one hue, ordered levels (e.g. core counts within a coupling)."""
    if n < 1:
        raise ParameterError(f"shades: n must be >= 1, got {n!r}")
    rgb = mcolors.to_rgb(color)
    mix = [light * i / max(1, n - 1) for i in range(n)]
    darken = 0.75  # the first shade a little darker, so the ramp spans dark to light
    out = []
    for i, m in enumerate(mix):
        base = [c * (darken + (1 - darken) * i / max(1, n - 1)) for c in rgb] if n > 1 else rgb
        out.append(tuple(b * (1 - m) + m for b in base))
    return out


def core_colors(coupling: str | None, cores: Sequence[int]) -> dict:
    """Colour per core count: shades of the coupling's colour (dark = fewest cores), or of
    :data:`NEUTRAL` when ``coupling`` is None."""
    levels = sorted(set(int(c) for c in cores))
    base = NEUTRAL if coupling is None else COUPLING[coupling]
    return dict(zip(levels, shades(base, len(levels))))


def core_marker(cores: int) -> str:
    """The marker of a core count (:data:`CORE_MARKERS`; "P" for counts not listed)."""
    return CORE_MARKERS.get(int(cores), "P")


# --------------------------------------------------------------------------- figures
def styled(func: Callable) -> Callable:
    """Decorator: run a plotting function with :data:`RC` applied (rcParams are read when
    artists are created, so the whole function runs inside the style; the global rcParams
    are left as they were)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(RC):
            return func(*args, **kwargs)
    return wrapper


def width_in(width: str | float) -> float:
    """Figure width in inches: ``"single"`` (3.5), ``"double"`` (7.16) or a number from
    :data:`WIDTHS_IN`'s values."""
    if isinstance(width, str):
        if width not in WIDTHS_IN:
            raise ParameterError(f"figure width {width!r} is not known; use one of "
                                 f"{', '.join(map(repr, WIDTHS_IN))}")
        return WIDTHS_IN[width]
    if float(width) not in WIDTHS_IN.values():
        raise ParameterError(f"figure width {width!r} in is not a column width; use one of "
                             f"{', '.join(map(repr, WIDTHS_IN))} ({WIDTHS_IN})")
    return float(width)


def figure(width: str | float = "single", height_in: float = 2.4, nrows: int = 1,
           ncols: int = 1, mosaic=None, **subplot_kw):
    """A :class:`~matplotlib.figure.Figure` (not registered with pyplot) of a column width and
    ``height_in`` inches with constrained layout, and its axes.

    Returns ``(fig, ax)`` for one axes, ``(fig, axes)`` (2-D array, ``squeeze=False``) for
    ``nrows``/``ncols`` grids, or ``(fig, dict)`` when ``mosaic`` (see
    :meth:`Figure.subplot_mosaic`) is given. ``subplot_kw`` goes to ``subplots`` (``sharex``,
    ``sharey``, ``gridspec_kw``, ...). Call it inside a :func:`styled` function.
    """
    if not height_in > 0:
        raise ParameterError(f"figure: height_in must be > 0 inches, got {height_in!r}")
    fig = Figure(figsize=(width_in(width), height_in), layout="constrained")
    if mosaic is not None:
        return fig, fig.subplot_mosaic(mosaic, **subplot_kw)
    if nrows == 1 and ncols == 1 and not subplot_kw:
        return fig, fig.add_subplot()
    return fig, fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)


def unity(ax: Axes, y: float = 1.0) -> None:
    """The 1x reference line (thin solid grey, behind the data)."""
    ax.axhline(y, color=REFERENCE, lw=0.7, ls="-", zorder=0.5)


def log_axis(ax: Axes, which: str = "y") -> None:
    """Log scale with plain-number labels on every decade and, when the axis spans less than
    two decades, also at 2 and 5 (1, 2, 5, 10, 20, 50, ...), so that any axis shows at least
    three labelled ticks. Call it after plotting (it reads the data limits)."""
    if which not in ("x", "y"):
        raise ParameterError(f"log_axis: which must be 'x' or 'y', got {which!r}")
    axis = ax.yaxis if which == "y" else ax.xaxis
    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    ax.autoscale_view()
    lo, hi = ax.get_ylim() if which == "y" else ax.get_xlim()
    decades = abs(np.log10(hi / lo)) if lo > 0 and hi > 0 else 3.0
    subs = (1.0,) if decades > 2.2 else (1.0, 2.0, 5.0) if decades > 0.8 else \
        (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
    axis.set_major_locator(mticker.LogLocator(base=10, subs=subs))
    if sum(min(lo, hi) <= t <= max(lo, hi) for t in axis.get_major_locator()()) < 3:
        # a narrow range (e.g. 0.93-1.0): evenly spaced plain ticks say more than one label
        axis.set_major_locator(mticker.MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(mticker.NullFormatter())


def panel_label(ax: Axes, text: str) -> None:
    """A bold panel title at the left of ``ax`` (e.g. ``"(a) dense 4096→4096"``)."""
    ax.set_title(text, loc="left", fontsize=RC["axes.titlesize"])


SAVE_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None},
                 "svg": {"Date": None}}
"""Metadata removed from saved files so that a re-run writes byte-identical files."""


def small_texts(fig: Figure) -> list[str]:
    """The visible texts of ``fig`` set below :data:`MIN_FONT_PT` (``"'label': 6.0 pt"``)."""
    return [f"{t.get_text()!r}: {t.get_fontsize():g} pt" for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.get_fontsize() < MIN_FONT_PT]


def save(fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "pdf"),
         dpi: int = 300) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf`` (creating folders) at its own size (the
    PDF page is exactly the figure's width), without dates or software versions, so a re-run
    rewrites identical bytes; returns the paths. A figure that is not one or two columns wide,
    or has text below :data:`MIN_FONT_PT`, is refused (:class:`ParameterError`)."""
    width_in(fig.get_figwidth())
    small = small_texts(fig)
    if small:
        raise ParameterError(f"figure {Path(stem).name}: text below {MIN_FONT_PT:g} pt is "
                             f"unreadable in print: {'; '.join(small[:5])}")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    with mpl.rc_context(RC):
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            fig.savefig(path, dpi=dpi, metadata=SAVE_METADATA.get(fmt, {}))
            paths.append(path)
    return paths
