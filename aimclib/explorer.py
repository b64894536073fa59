"""The live explorer: one network on one system, with controls, a result table and two figures.

:class:`Explorer` is an ipywidgets app (``notebooks/05_explorer.ipynb`` and ``make explore``
only create one and display it)::

    from aimclib.explorer import Explorer
    Explorer(network="resnet50", cores=8, tiles=128)     # the last line of a cell shows it

Design (why the view cannot be blank or half drawn, whatever the kernel's message timing):

- **No pyplot, no Output widget.** The two figures are :class:`matplotlib.figure.Figure` objects
  built once (styled by :mod:`aimclib.figstyle`) whose artists are changed in place; each is
  rendered by Agg to PNG bytes that replace the value of an ``ipywidgets.Image``. The table is
  an ``ipywidgets.HTML``. Nothing goes through a display hook or the Output widget.
- **Debounced, latest wins.** A control change only marks the view stale and schedules one
  refresh :attr:`Explorer.debounce_s` later on the kernel's event loop (the thread that also
  handles widget messages, so a refresh never runs concurrently with a change). The refresh
  reads the controls' current values: after any burst of changes the view shows the last one.
- **Cached.** The simulation result of a setting and its rendered figures are kept per
  setting (:data:`VIEW_CACHE_SIZE` settings): a repeat sends them again without simulating or
  drawing.
- **Progress.** The first view of a network or preset shows a progress bar with its steps
  (building the network, simulating, drawing); the status line always says what is shown and
  how long the table and the figures took (ms).
"""

from __future__ import annotations

import asyncio
import html
import io
import time
from collections import OrderedDict
from dataclasses import astuple, dataclass, field

import ipywidgets as widgets
import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Patch
from PIL import Image

from . import accuracy, trained
from . import figstyle as fs
from .allocation import ALLOCATIONS
from .balancing import BALANCERS
from .errors import AimcError
from .loading import load_network
from .plotting import GANTT_NAMES
from .simulate import simulate
from .studies import gantt_intervals
from .system import load_system, preset_names
from .throughput import THROUGHPUTS
from .validation import SCHEDULES, check_choice, check_float, check_int, check_seed
from .zoo import NETWORKS

DIGITS = "digits_cnn"
"""The trained digits CNN (:mod:`aimclib.trained`): the one network with an accuracy readout."""

EXPLORER_NETWORKS = tuple(NETWORKS) + (DIGITS,)
"""Networks the explorer offers: the zoo, then the trained digits CNN."""

ACCURACY_SEEDS = range(5)
"""Device seeds the accuracy readout averages over (PCM model at t = 0 s)."""

COUPLINGS = ("preset", "tight", "loose")
"""Coupling choices: the preset's own, or forced tight / loose."""

MAX_CORES = 16
"""Largest core count the cores slider offers."""

MAX_TILES = 2200
"""Largest tile budget the tiles slider offers (enough to map every zoo network but vgg16)."""

BATCHES = (1, 2, 4, 8, 16)
"""Batch sizes the batch control offers (the throughput run; 1: latency only)."""

GANTT_ROWS = MAX_CORES + 8
"""Most Gantt rows: one per core plus at most 8 rows of tile groups (``tile_bins``)."""

SCREEN_DPI = 110
"""Pixels per inch of the rendered figures (the figures keep their printed sizes in inches)."""

REPLICATE_CHOICES = ("off", "on")
"""The explorer's weight-replication choices (:mod:`aimclib.replication`)."""

VIEW_CACHE_SIZE = 64
"""Settings whose simulated view is kept, most recently used first."""

TABLE_COLUMNS = {
    "network": ("network", None), "preset": ("preset", None), "coupling": ("coupling", None),
    "cores": ("cores", None), "tiles": ("tiles", None), "allocation": ("allocation", None),
    "balancer": ("balancer", None), "tiles_used": ("tiles used", None),
    "coverage": ("weights on tiles (fraction)", "{:.3f}"),
    "mac_coverage": ("MACs on tiles (fraction)", "{:.3f}"),
    "latency_ms": ("latency (ms)", "{:.4g}"), "energy_mj": ("energy (mJ)", "{:.4g}"),
    "speedup": ("speedup (x)", "{:.3f}"), "energy_gain": ("energy gain (x)", "{:.3f}"),
    "schedule": ("schedule", None), "batch": ("batch", None),
    "replicate": ("replicate", None),
    "inferences_per_s": ("inferences/s", "{:.4g}"),
    "energy_per_inference_mj": ("energy per inference (mJ)", "{:.4g}"),
}
"""Table column -> (header, number format; None: shown as is). ``latency_ms``, ``energy_mj``
and ``energy_per_inference_mj`` are :meth:`SimResult.summary`'s ``latency_s``, ``energy_j``
and ``energy_per_inference_j`` in ms and mJ."""


def table_values(summary: dict) -> dict:
    """The table's values (:data:`TABLE_COLUMNS` order) from :meth:`SimResult.summary`."""
    scaled = dict(summary, latency_ms=1e3 * summary["latency_s"],
                  energy_mj=1e3 * summary["energy_j"],
                  energy_per_inference_mj=1e3 * summary["energy_per_inference_j"])
    return {col: scaled[col] for col in TABLE_COLUMNS}


def table_cells(summary: dict) -> dict[str, str]:
    """The table's cell texts, formatted as the explorer shows them."""
    return {col: (str(v) if TABLE_COLUMNS[col][1] is None else TABLE_COLUMNS[col][1].format(v))
            for col, v in table_values(summary).items()}


@dataclass(frozen=True)
class Setting:
    """One point of the explorer: what :func:`aimclib.simulate` is called with."""
    network: str
    preset: str
    coupling: str      # "preset", "tight" or "loose"
    cores: int
    tiles: int
    allocation: str
    balancer: str
    schedule: str = "barrier"
    batch: int = 1
    throughput: str = "batch"
    replicate: str = "off"  # weight replication: "off" or "on" (aimclib.replication)

    def system(self):
        """The :class:`SystemConfig` of this setting."""
        over = {} if self.coupling == "preset" else {"coupling": self.coupling}
        return load_system(self.preset, cores=self.cores, tiles=self.tiles, **over)


@dataclass
class View:
    """What the explorer shows for one setting (cached per setting): the table's summary at
    once, the figures' data (Gantt intervals, slowest layers) on first use."""
    summary: dict
    result: object              # the SimResult
    title: str
    intervals: pd.DataFrame | None = None   # :func:`aimclib.studies.gantt_intervals`
    layers: pd.DataFrame | None = None      # the slowest layers (layer, latency_ms, coverage)
    png: dict = field(default_factory=dict)  # figure name -> rendered PNG bytes
    accuracy: str = ""          # the accuracy readout (HTML; the digits CNN only)

    def figure_data(self, top: int) -> None:
        """Compute :attr:`intervals` and :attr:`layers` (once)."""
        if self.intervals is None:
            self.intervals = gantt_intervals(self.result.trace, tile_rows="bins")
            self.layers = self.result.layers.nlargest(top, "latency_s").assign(
                latency_ms=lambda d: 1e3 * d["latency_s"])[["layer", "latency_ms", "coverage"]]


def render_png(fig, dpi: int = SCREEN_DPI) -> bytes:
    """``fig`` drawn by Agg at ``dpi`` as PNG bytes (no pyplot; fast compression)."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    with mpl.rc_context(fs.RC):
        canvas.draw()
    buf = io.BytesIO()
    Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1
                     ).save(buf, format="png", compress_level=1)
    return buf.getvalue()


class LayoutOnChange(ConstrainedLayoutEngine):
    """Constrained layout (figstyle's pads) that reruns only when the figure's texts that set
    its margins changed (its axes' y tick labels; titles are one line whatever their text): a
    redraw with new data but the same labels keeps the margins, about half of a redraw."""

    def __init__(self, **kwargs):
        super().__init__(h_pad=fs.RC["figure.constrained_layout.h_pad"],
                         w_pad=fs.RC["figure.constrained_layout.w_pad"], **kwargs)
        self._key = None

    def execute(self, fig):
        key = tuple(tuple(t.get_text() for t in ax.get_yticklabels()) for ax in fig.axes)
        if key != self._key:
            super().execute(fig)
            self._key = key


def _rects(x0: np.ndarray, width: np.ndarray, y: np.ndarray, height: float) -> np.ndarray:
    """Vertices (n, 4, 2) of axis-aligned rectangles [x0, x0 + width] x [y - h/2, y + h/2]."""
    x1 = x0 + width
    lo, hi = y - height / 2, y + height / 2
    return np.stack([np.column_stack([x0, lo]), np.column_stack([x0, hi]),
                     np.column_stack([x1, hi]), np.column_stack([x1, lo])], axis=1)


class GanttFigure:
    """The Gantt chart of one simulation (rows: cores, then groups of tiles; colours:
    :data:`aimclib.figstyle.WORK`), one :class:`PolyCollection` per interval kind, updated in
    place by :meth:`update`."""

    KINDS = tuple(GANTT_NAMES)

    @fs.styled
    def __init__(self):
        self.fig, self.ax = fs.figure("double", height_in=3.0)
        self.fig.set_layout_engine(LayoutOnChange())
        self.bars = {k: self.ax.add_collection(PolyCollection(
            [], facecolors=fs.WORK[k], linewidths=0, zorder=0 if k == "idle" else 1))
            for k in self.KINDS}
        self.ax.set_xlabel("time (ms)")
        self.ax.tick_params(axis="y", length=0)
        self.ax.grid(False)
        self.fig.legend(handles=[Patch(color=fs.WORK[k], label=GANTT_NAMES[k])
                                 for k in self.KINDS], loc="outside upper center",
                        ncols=len(self.KINDS))

    @fs.styled
    def update(self, intervals: pd.DataFrame, title: str) -> None:
        """Show ``intervals`` (times in s, drawn in ms) under ``title``."""
        iv = intervals
        n_rows = max(1, int(iv["row_pos"].max()) + 1) if len(iv) else 1
        end = 1e3 * float(iv["end_s"].max()) if len(iv) else 1.0
        for kind, bars in self.bars.items():
            if kind == "idle":   # every row is idle wherever it has no interval
                rows = np.arange(n_rows, dtype=float)
                bars.set_verts(_rects(np.zeros(n_rows), np.full(n_rows, end), rows, 0.84))
                continue
            part = iv[iv["kind"] == kind]
            start = 1e3 * part["start_s"].to_numpy()
            bars.set_verts(_rects(start, 1e3 * part["end_s"].to_numpy() - start,
                                  part["row_pos"].to_numpy(float), 0.84))
        labels = iv.drop_duplicates("row_pos").set_index("row_pos")["row"]
        self.ax.set_yticks(range(n_rows), [labels.get(i, "") for i in range(n_rows)])
        self.ax.set_ylim(n_rows - 0.5, -0.5)
        self.ax.set_xlim(0, end)
        self.ax.set_title(title, loc="left")


class LayerFigure:
    """The slowest layers of one simulation as horizontal bars (ms), shaded by their share of
    weights on tiles; ``top`` bars created once, updated in place by :meth:`update`."""

    @fs.styled
    def __init__(self, top: int):
        self.top = top
        self.fig, self.ax = fs.figure("double", height_in=0.13 * top + 0.9)
        self.fig.set_layout_engine(LayoutOnChange())
        self.cmap = mpl.colormaps[fs.RC["image.cmap"]]
        self.bars = self.ax.barh(range(top), np.zeros(top))
        self.ax.set_ylim(top - 0.5, -0.5)
        self.ax.set_xlabel("layer latency (ms)")
        self.ax.grid(axis="y", visible=False)
        sm = mpl.cm.ScalarMappable(cmap=self.cmap, norm=mpl.colors.Normalize(0, 100))
        self.fig.colorbar(sm, ax=self.ax, label="weights on tiles (%)")

    @fs.styled
    def update(self, layers: pd.DataFrame) -> None:
        """Show the first ``top`` rows of ``layers`` (``layer``, ``latency_ms``,
        ``coverage``)."""
        data = layers.head(self.top)
        for i, bar in enumerate(self.bars):
            shown = i < len(data)
            bar.set_visible(shown)
            if shown:
                bar.set_width(data["latency_ms"].iloc[i])
                bar.set_facecolor(self.cmap(float(data["coverage"].iloc[i])))
        self.ax.set_yticks(range(len(data)), list(data["layer"]))
        self.ax.set_xlim(0, 1.05 * float(data["latency_ms"].max()) if len(data) else 1.0)
        self.ax.set_title(f"the {len(data)} slowest layers", loc="left")


def _event_loop():
    """The running asyncio loop (the kernel's), or None outside one (plain Python)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Explorer:
    """The explorer app: controls, progress, result table, Gantt chart and slowest layers.

    Args: the starting setting (``network``: zoo name; ``preset``: system preset;
    ``coupling``: ``"tight"``, ``"loose"`` or None / ``"preset"`` for the preset's own;
    ``cores``, ``tiles``; ``allocation``, ``balancer``; ``schedule``, ``batch`` (one of
    :data:`BATCHES`), ``throughput``; ``replicate``: "off" or "on", weight copies),
    ``seed`` (work stealing's victim
    choice), ``top_layers`` (bars in the slowest-layers chart), ``debounce_s`` (s between a
    change and its refresh; changes within it are coalesced).

    Displaying the object shows :attr:`widget`. In a kernel the first view is drawn when a
    browser first shows the widget (so that its progress is seen), or by :meth:`refresh` (a
    headless run); outside a kernel, at once.
    """

    def __init__(self, network: str = "resnet50", preset: str = "alpine-tight",
                 coupling: str | None = None, cores: int = 8, tiles: int = 128,
                 allocation: str = "optimal", balancer: str = "static-balanced",
                 seed: int = 0, top_layers: int = 20, debounce_s: float = 0.02,
                 schedule: str = "barrier", batch: int = 1, throughput: str = "batch",
                 replicate: str = "off"):
        where = "Explorer"
        coupling = "preset" if coupling is None else coupling
        check_choice(network, "network", EXPLORER_NETWORKS, where=where)
        check_choice(preset, "preset", preset_names(), where=where)
        check_choice(coupling, "coupling", COUPLINGS, where=where)
        check_int(cores, "cores", low=1, high=MAX_CORES, where=where)
        check_int(tiles, "tiles", low=0, high=MAX_TILES, where=where)
        check_choice(allocation, "allocation", ALLOCATIONS, where=where)
        check_choice(balancer, "balancer", BALANCERS, where=where)
        check_choice(schedule, "schedule", SCHEDULES, where=where)
        check_choice(batch, "batch", BATCHES, where=where)
        check_choice(throughput, "throughput", THROUGHPUTS, where=where)
        check_choice(replicate, "replicate", REPLICATE_CHOICES, where=where)
        self.seed = check_seed(seed, where=where)
        self.debounce_s = check_float(debounce_s, "debounce_s", low=0.0, where=where)
        top_layers = check_int(top_layers, "top_layers", low=1, high=60, where=where)
        style = {"description_width": "80px"}

        def dropdown(name, options, value):
            return widgets.Dropdown(options=options, value=value, description=name,
                                    style=style)

        def slider(name, value, high):
            return widgets.IntSlider(value=value, min=0 if name == "tiles" else 1, max=high,
                                     description=name, style=style, continuous_update=False)

        self.controls = {
            "network": dropdown("network", EXPLORER_NETWORKS, network),
            "preset": dropdown("preset", preset_names(), preset),
            "coupling": dropdown("coupling", COUPLINGS, coupling),
            "cores": slider("cores", cores, MAX_CORES),
            "tiles": slider("tiles", tiles, MAX_TILES),
            "allocation": dropdown("allocation", ALLOCATIONS, allocation),
            "balancer": dropdown("balancer", BALANCERS, balancer),
            "schedule": dropdown("schedule", SCHEDULES, schedule),
            "batch": dropdown("batch", BATCHES, batch),
            "throughput": dropdown("throughput", THROUGHPUTS, throughput),
            "replicate": dropdown("replicate", REPLICATE_CHOICES, replicate),
        }
        self.progress = widgets.IntProgress(value=0, min=0, max=3, description="loading",
                                            style=style, bar_style="info",
                                            layout=widgets.Layout(visibility="hidden"))
        self.status = widgets.HTML("starting", layout=widgets.Layout(min_height="1.6em"))
        self.table = widgets.HTML("", layout=widgets.Layout(overflow="auto"))
        self.accuracy = widgets.HTML("", layout=widgets.Layout(min_height="1.6em"))
        self.accuracy.add_class("aimclib-accuracy")
        self.gantt, self.layers = GanttFigure(), LayerFigure(top_layers)
        self.images = {name: widgets.Image(format="png", layout=widgets.Layout(
            width=f"{round(fig.get_figwidth() * SCREEN_DPI)}px", max_width="100%"))
            for name, fig in (("gantt", self.gantt.fig), ("layers", self.layers.fig))}
        for name, image in self.images.items():
            image.add_class(f"aimclib-figure-{name}")
        self.table.add_class("aimclib-table")
        self.status.add_class("aimclib-status")
        c = list(self.controls.values())
        self.widget = widgets.VBox([widgets.HBox(c[:3]), widgets.HBox(c[3:5]),
                                    widgets.HBox(c[5:7]), widgets.HBox(c[7:]),
                                    widgets.HBox([self.progress, self.status]),
                                    self.table, self.accuracy, self.images["gantt"],
                                    self.images["layers"]])
        self.widget.add_class("aimclib-explorer")
        self._views: OrderedDict[Setting, View] = OrderedDict()
        self._seen: set[tuple[str, str]] = set()
        self._handle = None
        self.shown: Setting | None = None
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        if _event_loop() is None:
            self.refresh()
        else:  # in a kernel: draw once a browser shows the app, so it sees the progress
            self.widget._view_count = 0
            self.widget.observe(self._first_view, names="_view_count")

    def _first_view(self, change) -> None:
        if change["new"] and self.shown is None:
            self.widget.unobserve(self._first_view, names="_view_count")
            self._changed()

    # ----------------------------------------------------------------- scheduling
    def setting(self) -> Setting:
        """The setting the controls show now."""
        return Setting(**{k: c.value for k, c in self.controls.items()})

    def _changed(self, change=None) -> None:
        """A control changed: refresh ``debounce_s`` from now on the kernel's loop (once, however
        many changes arrive before then); without a loop, refresh now."""
        loop = _event_loop()
        if loop is None:
            self.refresh()
        elif self._handle is None:
            self._handle = loop.call_later(self.debounce_s, self._scheduled)

    def _scheduled(self) -> None:
        self._handle = None
        try:
            self.refresh()
        except Exception as err:  # shown in the app: an event-loop callback has no caller
            self._progress(None)
            self.status.value = (f"<b>error</b> for {html.escape(str(self.setting()))}: "
                                 f"{html.escape(type(err).__name__)}: {html.escape(str(err))}")

    # ----------------------------------------------------------------- drawing
    def _progress(self, step: int | None, text: str = "") -> None:
        """Show progress step ``step`` of 3 with ``text``; None hides the bar."""
        if step is None:
            self.progress.layout.visibility = "hidden"
            return
        self.progress.value = step
        self.progress.layout.visibility = "visible"
        self.status.value = html.escape(text)

    def view(self, s: Setting) -> View:
        """The simulated view of ``s`` (cached; progress shown on a first network/preset)."""
        if s in self._views:
            self._views.move_to_end(s)
            return self._views[s]
        first = (s.network, s.preset) not in self._seen
        if first:
            self._progress(1, f"building {s.network} (first view of this network and preset)")
        net = trained.digits_network() if s.network == DIGITS else load_network(s.network)
        hw = s.system()
        if first:
            self._progress(2, f"simulating {s.network} on {hw.name} (first run builds its cost "
                              "tables; the very first run after an install compiles the "
                              "simulator, about 10 s)")
        r = simulate(net, hw, allocation=s.allocation, balancer=s.balancer, seed=self.seed,
                     schedule=s.schedule, batch=s.batch, throughput=s.throughput,
                     replicate=s.replicate)
        sched = "" if s.schedule == "barrier" else f", {s.schedule}"
        copies = ", copies" if s.replicate != "off" else ""
        title = (f"{s.network}, {hw.coupling} coupling, {s.cores} cores, {s.tiles} tiles, "
                 f"{s.allocation}, {s.balancer}{sched}{copies}: {1e3 * r.latency_s:.2f} ms, "
                 f"{r.speedup:.2f}x")
        v = View(r.summary(), r, title, accuracy=self.accuracy_html(r, hw))
        self._seen.add((s.network, s.preset))
        self._views[s] = v
        while len(self._views) > VIEW_CACHE_SIZE:
            self._views.popitem(last=False)
        return v

    def refresh(self) -> None:
        """Simulate (or recall) the controls' setting and update table and figures in place."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        s = self.setting()
        t0 = time.perf_counter()
        first = (s.network, s.preset) not in self._seen
        try:
            v = self.view(s)
        except AimcError as err:  # a setting the model refuses: say so, keep the last view
            self._progress(None)
            self.status.value = f"<b>not simulated</b>: {html.escape(str(err))}"
            return
        self.table.value = self.table_html(v.summary)
        self.accuracy.value = v.accuracy
        t_table = time.perf_counter() - t0
        if first:
            self._progress(3, "drawing")
        if not v.png:
            v.figure_data(self.layers.top)
            self.gantt.update(v.intervals, v.title)
            v.png["gantt"] = render_png(self.gantt.fig)
            self.layers.update(v.layers)
            v.png["layers"] = render_png(self.layers.fig)
        for name, png in v.png.items():
            self.images[name].value = png
        t_all = time.perf_counter() - t0
        self._progress(None)
        self.shown = s
        self.status.value = (f"shown: {html.escape(', '.join(map(str, astuple(s))))} "
                             f"(kernel time: table {1e3 * t_table:.0f} ms, figures "
                             f"{1e3 * t_all:.0f} ms)")

    @staticmethod
    def accuracy_html(result, hw) -> str:
        """The accuracy readout: for the trained digits CNN, its test accuracy with the result's
        units on PCM tiles (:func:`aimclib.accuracy.accuracy_of`, t = 0 s, mean and standard
        deviation over :data:`ACCURACY_SEEDS`) against the digital int8 reference."""
        if result.network.name != DIGITS:
            return (f"accuracy: computed for the trained <code>{DIGITS}</code> only (choose it "
                    "as the network)")
        # copies hold the same weights (no device noise of their own): unique units count
        units = [min(int(u), w.n_units) for u, w in zip(result.units, result.workload.layers)]
        a = accuracy.accuracy_of(units, seeds=ACCURACY_SEEDS, rows=hw.tile.rows,
                                 cols=hw.tile.cols)
        return (f"accuracy on PCM tiles (t = 0 s, {len(ACCURACY_SEEDS)} device seeds): "
                f"<b>{a['mean']:.2%} &plusmn; {a['std']:.2%}</b>; digital int8 "
                f"{a['reference']:.2%}; drop {100 * a['drop']:.2f} points; "
                f"{a['coverage']:.0%} of the weights on {a['tiles']} tiles")

    @staticmethod
    def table_html(summary: dict) -> str:
        """The result table as HTML (one row; ``data-col`` names each cell's column)."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in TABLE_COLUMNS.values())
        cells = "".join(f'<td data-col="{col}">{html.escape(text)}</td>'
                        for col, text in table_cells(summary).items())
        return (f'<table class="aimclib-results"><thead><tr>{head}</tr></thead>'
                f"<tbody><tr>{cells}</tr></tbody></table>")

    # ----------------------------------------------------------------- notebook display
    def table_frame(self) -> pd.DataFrame:
        """The result table of the view shown (one row, :data:`TABLE_COLUMNS`)."""
        return pd.DataFrame([table_values(self._views[self.shown].summary)])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
