"""Layer pipelining: layers cut into row bands that run as one DAG on the engine.

``schedule="pipelined"`` cuts every layer into *bands* of :data:`BAND_ROWS` output rows of
its output feature map (the last band of a layer may be shorter; a layer whose output has one
row, such as a linear layer or a global pool, is one band). Band ``b`` of a layer waits for
the bands of each predecessor that produce the input rows its receptive field reads
(:func:`input_rows`: kernel, stride, top padding and dilation of a conv or pooling window;
the same rows for element-wise layers; every row for layers that mix rows: linear, flatten,
reshape, global and adaptive pools). Each band is a node of the engine's DAG
(:func:`aimclib.engine.simulate_kernel`); its tasks are the chosen balancer's cut of the
layer's work restricted to the band's output positions (rows x output width), so analog
tasks run where that balancer puts them (tight: on the tile's owner; loose: any core).

Costs of pipelining (``docs/model.md``, "Pipelined schedule and throughput"):

* a core acquires a waiting band's flag through the shared L2 before its first task of the
  band: that task (the first of the band in each core's deque, :func:`paying_tasks`) pays
  ``host.band_sync_cycles`` of core time, added to its host (analog) or digital time;
* more, smaller tasks: each band's analog chunk rounds up to whole DMA jobs, and tight
  partial-sum hand-overs happen per task;
* the rows a layer's output must hold until its consumers have read them (row buffers) are
  measured from the schedule (:func:`row_buffers`) and checked against the L2; where they
  live does not change the costs (each layer's activation traffic is priced as in the barrier
  schedule, see :mod:`aimclib.workload`).

The same graph machinery runs whole layers as nodes (:func:`layer_graph`) and several images
through the network (:func:`replicate`), which :mod:`aimclib.throughput` uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .accounting import layer_totals
from .balancing import BALANCERS, EvenCut, TaskSet, cost_arrays, even_tasks, layer_tasks
from .engine import KIND_DIGITAL, simulate_kernel
from .network import Network
from .replication import copy_tasks, replicated
from .scheduling import VICTIMS, LayerSchedules, ScheduleBatch
from .system import SystemConfig
from .validation import check_memory, stream_seed
from .workload import LayerWork, Workload

BAND_ROWS = 1
"""Output rows per band of the pipelined schedule. One row is the finest cut a row-major
convolution produces and lets a consumer start as early as its receptive field allows; the
costs of the finer cut (band hand-overs, DMA jobs rounded up per band) are charged."""

_WHOLE_KINDS = ("linear", "flatten", "reshape", "globalavgpool", "globalmaxpool",
                "adaptiveavgpool")
"""Layer kinds whose every output reads every input row."""

_TASK_BYTES = 200 + 8 * 4
"""Bytes per task of a graph run: the task and schedule arrays, the node copies' index."""

_NODE_BYTES = 8 * 12
"""Bytes per node of a graph run: the graph's, the engine's and the totals' arrays."""


# ------------------------------------------------------------------------------ the graph
@dataclass(frozen=True)
class NodeGraph:
    """The nodes the engine schedules and their dependencies (CSR ``pred_ptr``/``pred``).

    Per node: its ``layer`` (index in the network), ``band`` (index within the layer, 0 for a
    whole layer), ``image`` (0 at batch 1), ``row0`` and ``rows`` (the layer's output rows it
    computes) and ``sync`` (whether its tasks pay the band hand-over). Nodes are ordered image
    by image, layer by layer, band by band, so one layer's nodes of one image are contiguous.
    """

    layer: np.ndarray
    band: np.ndarray
    image: np.ndarray
    row0: np.ndarray
    rows: np.ndarray
    pred_ptr: np.ndarray
    pred: np.ndarray
    sync: np.ndarray

    def __len__(self) -> int:
        return len(self.layer)


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, np.int64)
    np.cumsum([len(x) for x in lists], out=ptr[1:])
    flat = np.array([v for x in lists for v in x], np.int64)
    return ptr, flat


def _out_rows(net: Network, j: int) -> int:
    return int(net.info[j].out_shape[1])


def layer_graph(net: Network, chain: bool) -> NodeGraph:
    """One node per layer: with ``chain`` each layer waits for the one before it (the barrier
    schedule's order), else for its real predecessors (the DAG schedule)."""
    n = len(net.layers)
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    preds = ([[j - 1] if j else [] for j in range(n)] if chain else
             [sorted({index[p] for p in net.predecessors(layer.name)}) for layer in net.layers])
    ptr, flat = _csr(preds)
    rows = np.array([_out_rows(net, j) for j in range(n)], np.int64)
    z = np.zeros(n, np.int64)
    return NodeGraph(np.arange(n, dtype=np.int64), z, z.copy(), z.copy(), rows, ptr, flat,
                     np.zeros(n, np.bool_))


def input_rows(net: Network, j: int, k: int, a: int, b: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of input ``k`` of layer ``j`` that its output rows ``[a, b)`` read
    (``lo == hi``: none, e.g. a window lying in the padding)."""
    info = net.info[j]
    layer = info.layer
    hin, hout = int(info.in_shapes[k][1]), int(info.out_shape[1])
    kind = layer.kind
    if kind in ("conv", "maxpool", "avgpool"):
        kh, sh, pt = layer.kernel[0], layer.stride[0], layer.padding[0]
        dh = layer.dilation[0] if kind == "conv" else 1
        lo, hi = a * sh - pt, (b - 1) * sh - pt + dh * (kh - 1) + 1
        lo, hi = max(0, lo), min(hin, hi)
        return (lo, hi) if hi > lo else (0, 0)
    if kind in _WHOLE_KINDS or (kind == "eltwise" and layer.target is not None):
        return 0, hin
    if hin == hout:  # element-wise, concat, batch norm, activations: row for row
        return a, b
    if hin == 1:  # a broadcast (C, 1, 1) operand, e.g. squeeze-and-excitation scales
        return 0, 1
    return 0, hin


def band_graph(net: Network, band_rows: int = BAND_ROWS) -> NodeGraph:
    """The row bands of every layer (``band_rows`` output rows each) and which bands of its
    predecessors each one waits for; every band that waits on another pays the hand-over."""
    n = len(net.layers)
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    counts = [-(-_out_rows(net, j) // band_rows) for j in range(n)]
    first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    layer, band, row0, rows, preds = [], [], [], [], []
    for j, lay in enumerate(net.layers):
        h = _out_rows(net, j)
        ins = [(k, index[p]) for k, p in enumerate(lay.inputs) if p != net.input_name]
        for bnd in range(counts[j]):
            a, b = bnd * band_rows, min(h, (bnd + 1) * band_rows)
            need: set[int] = set()
            for k, p in ins:
                lo, hi = input_rows(net, j, k, a, b)
                if hi > lo:
                    need.update(range(int(first[p]) + lo // band_rows,
                                      int(first[p]) + (hi - 1) // band_rows + 1))
            layer.append(j)
            band.append(bnd)
            row0.append(a)
            rows.append(b - a)
            preds.append(sorted(need))
    ptr, flat = _csr(preds)
    m = len(layer)
    return NodeGraph(np.array(layer, np.int64), np.array(band, np.int64),
                     np.zeros(m, np.int64), np.array(row0, np.int64), np.array(rows, np.int64),
                     ptr, flat, np.diff(ptr) > 0)


def replicate(graph: NodeGraph, batch: int) -> NodeGraph:
    """``batch`` images of ``graph``: image ``i``'s nodes wait for image ``i``'s nodes only
    (the images share the cores, tiles and bus); nodes image by image."""
    n = len(graph)
    if batch == 1:
        return graph
    counts = np.diff(graph.pred_ptr)
    ptr = np.zeros(batch * n + 1, np.int64)
    np.cumsum(np.tile(counts, batch), out=ptr[1:])
    pred = (np.tile(graph.pred, batch)
            + np.repeat(np.arange(batch, dtype=np.int64) * n, len(graph.pred)))
    return NodeGraph(np.tile(graph.layer, batch), np.tile(graph.band, batch),
                     np.repeat(np.arange(batch, dtype=np.int64), n), np.tile(graph.row0, batch),
                     np.tile(graph.rows, batch), ptr, pred, np.tile(graph.sync, batch))


# ------------------------------------------------------------------------------ the run
def band_work(work: LayerWork, rows: int) -> LayerWork:
    """``work`` restricted to ``rows`` of its output rows: the output positions of those rows,
    and its DRAM and L2 bytes in proportion (so the per-position costs are the layer's and the
    bands of a layer add up to it)."""
    h = int(work.info.out_shape[1])
    if rows == h:
        return work
    f = rows / h
    return replace(work, pixels=work.pixels // h * rows,
                   digital_dram_bytes=work.digital_dram_bytes * f,
                   act_dram_bytes=work.act_dram_bytes * f, act_l2_bytes=work.act_l2_bytes * f)


@dataclass
class GraphRun:
    """A graph's run: ``tasks`` node after node (CSR ``node_ptr``), when, where and how each
    ran (engine output), every node's ``release`` and ``end`` (s) and its :data:`PARTS`
    totals ``vecs`` (one row per node)."""

    graph: NodeGraph
    tasks: TaskSet
    node_ptr: np.ndarray
    start: np.ndarray
    end: np.ndarray
    ran_on: np.ndarray
    how: np.ndarray
    tile_start: np.ndarray
    release: np.ndarray
    node_end: np.ndarray
    vecs: np.ndarray

    @property
    def makespan(self) -> float:
        return float(self.node_end.max(initial=0.0))


@dataclass
class GraphInputs:
    """What :func:`run_graph` hands the engine: the ``graph`` run (the images' copies of the
    graph asked for), the ``tasks`` node after node (CSR
    ``node_ptr``; band hand-overs included), the kernel's positional ``args``, and what
    totals the run (each node's distinct work ``node_d``, its ``units`` and the distinct
    works' cost ``arrays``)."""

    graph: NodeGraph
    tasks: TaskSet
    node_ptr: np.ndarray
    args: tuple
    node_d: np.ndarray
    units: np.ndarray
    arrays: object


def graph_inputs(wl: Workload, hw: SystemConfig, units: np.ndarray, owners: list[np.ndarray],
                 split: str, opts, seed: int, graph: NodeGraph, batch: int = 1
                 ) -> GraphInputs:
    """The engine's inputs for ``batch`` images of ``graph`` (see :func:`run_graph`); their
    memory is checked before the images' copies are made."""
    # distinct (layer, rows) works, cut once each
    keys, node_d = np.unique(np.stack([graph.layer, graph.rows]), axis=1, return_inverse=True)
    node_d = node_d.reshape(-1)
    works = tuple(band_work(wl.layers[j], int(r)) for j, r in keys.T.tolist())
    d_layer = keys[0]
    d_units = units[d_layer]
    d_owners = [owners[j] for j in d_layer.tolist()]
    arrays = cost_arrays(works, wl.system)
    cut = BALANCERS.entry(split).cut
    tight = hw.coupling == "tight"
    copied = replicated(wl, units)[d_layer]  # layers with copies are cut on their own
    if isinstance(cut, EvenCut) and not copied.any():
        d_tasks, d_ptr = even_tasks(arrays, np.arange(len(works)), d_units, d_owners, hw.cores,
                                    tight, cut.chunks(opts.tasks_per_core))
    else:
        parts = [(copy_tasks if c else layer_tasks)(w, int(u), o, split, hw,
                                                    opts.tasks_per_core)
                 for w, u, o, c in zip(works, d_units.tolist(), d_owners, copied.tolist())]
        d_ptr = np.zeros(len(parts) + 1, np.int64)
        np.cumsum([len(t) for t in parts], out=d_ptr[1:])
        d_tasks = TaskSet.concat(parts)
    counts = np.diff(d_ptr)[node_d]
    n_tasks = batch * int(counts.sum())
    check_memory(n_tasks * (_TASK_BYTES + 8 * hw.cores)
                 + batch * (len(graph) * _NODE_BYTES + 8 * len(graph.pred)),
                 f"scheduling {batch * len(graph):,} nodes ({n_tasks:,} tasks) on "
                 f"{hw.cores} cores", "the batch, the cores, tasks_per_core or the tile budget")
    if batch > 1:
        graph = replicate(graph, batch)
        node_d, counts = np.tile(node_d, batch), np.tile(counts, batch)
    node_ptr = np.zeros(len(graph) + 1, np.int64)
    np.cumsum(counts, out=node_ptr[1:])
    idx = (np.repeat(d_ptr[:-1][node_d] - node_ptr[:-1], counts)
           + np.arange(n_tasks, dtype=np.int64))
    tasks = TaskSet(**{f: getattr(d_tasks, f)[idx] for f in d_tasks.__dataclass_fields__})
    task_node = np.repeat(np.arange(len(graph), dtype=np.int64), counts)
    sync_s = hw.host.band_sync_cycles / hw.cpu.clock_hz
    synced = paying_tasks(graph, task_node, tasks.core, hw.cores)
    if synced.any():  # acquire the producers' flag before the task's own work
        tasks.core_s[synced] += sync_s
        tasks.alt_s[synced] += sync_s
        tasks.host_s[synced & (tasks.kind != KIND_DIGITAL)] += sync_s
    offsets = np.concatenate([[0], np.cumsum([len(o) for o in owners])]).astype(np.int64)
    tiles = np.where(tasks.tile >= 0, tasks.tile + offsets[graph.layer[task_node]], -1)
    args = (task_node, tasks.kind, tasks.core, tiles, tasks.core_s, tasks.tile_s, tasks.bus_s,
            tasks.alt_s, node_ptr, graph.pred_ptr, graph.pred, hw.cores,
            max(1, int(offsets[-1])), BALANCERS.entry(split).steals, opts.steal_latency_s,
            VICTIMS[opts.victim], stream_seed(seed), False)
    return GraphInputs(graph, tasks, node_ptr, args, node_d, d_units[node_d], arrays)


def paying_tasks(graph: NodeGraph, task_node: np.ndarray, task_core: np.ndarray,
                 cores: int) -> np.ndarray:
    """Which tasks pay the band hand-over: the first task of each waiting node in each
    core's deque (a core acquires a band's flag once, before its first task of the band)."""
    key = task_node * cores + task_core
    first = np.zeros(len(key), np.bool_)
    first[np.unique(key, return_index=True)[1]] = True
    return first & graph.sync[task_node]


def run_graph(wl: Workload, hw: SystemConfig, units: np.ndarray, owners: list[np.ndarray],
              split: str, opts, seed: int, graph: NodeGraph, batch: int = 1) -> GraphRun:
    """Run ``batch`` images of ``graph`` (:func:`replicate`) on the engine: each node's tasks
    are ``split``'s cut of its layer's work restricted to its rows (:func:`band_work`);
    nodes with ``sync`` pay ``host.band_sync_cycles`` once per core's deque
    (:func:`paying_tasks`). Tiles are numbered per layer, so all nodes of a layer (its
    bands, its images) share that layer's tiles."""
    inp = graph_inputs(wl, hw, units, owners, split, opts, seed, graph, batch)
    start, end, ran_on, how, tile_start, release, node_end = simulate_kernel(*inp.args)
    vecs = layer_totals(inp.tasks, inp.node_ptr, inp.node_d, inp.units, ran_on, how,
                        opts.steal_latency_s, inp.arrays)
    return GraphRun(inp.graph, inp.tasks, inp.node_ptr, start, end, ran_on, how, tile_start,
                    release, node_end, vecs)


def best_run(wl: Workload, hw: SystemConfig, units: np.ndarray, owners: list[np.ndarray],
             balancer: str, opts, seed: int, graph: NodeGraph, batch: int = 1) -> GraphRun:
    """:func:`run_graph` with each split ``balancer`` scores (static-balanced: its own and
    static-even), keeping the run that finishes first (its own on ties), as the DAG schedule
    does."""
    runs = [run_graph(wl, hw, units, owners, sp, opts, seed, graph, batch)
            for sp in BALANCERS.entry(balancer).splits]
    return min(runs, key=lambda r: r.makespan)


def layer_view(run: GraphRun, n_layers: int) -> tuple[LayerSchedules, np.ndarray, np.ndarray]:
    """A batch-1 graph run seen layer by layer: each layer's schedule (all its bands' tasks,
    absolute times; its totals summed over its bands), release (its first band's) and end
    (its last band's) times (s)."""
    first = np.searchsorted(run.graph.layer, np.arange(n_layers + 1))
    heads = first[:-1]
    release = np.minimum.reduceat(run.release, heads)
    end = np.maximum.reduceat(run.node_end, heads)
    vecs = np.add.reduceat(run.vecs, heads, axis=0)
    batch = ScheduleBatch(run.tasks, run.start, run.end, run.ran_on, run.how, run.tile_start)
    return LayerSchedules(batch, run.node_ptr[first], end - release, vecs), release, end


def task_bands(run: GraphRun) -> np.ndarray:
    """The band (index within its layer) of every task of ``run``."""
    return np.repeat(run.graph.band, np.diff(run.node_ptr))


# ------------------------------------------------------------------------------ buffers
def row_buffers(net: Network, run: GraphRun, hw: SystemConfig) -> tuple[pd.DataFrame, float]:
    """The rows each layer's output holds during a batch-1 band run, and the peak of all of
    them together (B).

    A row is held from the end of the band that produces it until the end of the last band
    that reads it (:func:`input_rows`); a network output's rows stay (the result). One
    row is ``channels x width`` activations of ``cpu.activation_bits``. Columns: ``layer``,
    ``rows`` (its output rows), ``row_bytes``, ``tensor_bytes`` (the whole output, what the
    barrier schedule holds), ``peak_rows``, ``peak_bytes`` (the most held at once).
    """
    g = run.graph
    n = len(net.layers)
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    first = np.searchsorted(g.layer, np.arange(n + 1))
    made = [np.empty(0)] * n
    freed = [np.full(_out_rows(net, j), -np.inf) for j in range(n)]
    for j in range(n):
        nodes = np.arange(first[j], first[j + 1])
        made[j] = np.repeat(run.node_end[nodes], g.rows[nodes])
    read = np.zeros(n, np.bool_)
    for v in range(len(g)):
        j = int(g.layer[v])
        a, b = int(g.row0[v]), int(g.row0[v] + g.rows[v])
        for k, p in enumerate(net.layers[j].inputs):
            if p == net.input_name:
                continue
            lo, hi = input_rows(net, j, k, a, b)
            pi = index[p]
            read[pi] = True
            if hi > lo:
                np.maximum(freed[pi][lo:hi], run.node_end[v], out=freed[pi][lo:hi])
    bits = hw.cpu.activation_bits
    rows_out, all_events = [], []
    for j in range(n):
        info = net.info[j]
        h = _out_rows(net, j)
        row_b = info.out_bytes(bits) / h
        until = freed[j] if read[j] else np.full(h, np.inf)  # the result stays
        until = np.maximum(until, made[j])  # a row no band reads is dropped when made
        times = np.concatenate([made[j], until])
        delta = np.concatenate([np.ones(h), -np.ones(h)])
        order = np.lexsort((delta, times))  # at equal times rows are freed first
        peak = int(np.cumsum(delta[order]).max(initial=0))
        rows_out.append({"layer": info.name, "rows": h, "row_bytes": row_b,
                         "tensor_bytes": info.out_bytes(bits), "peak_rows": peak,
                         "peak_bytes": peak * row_b})
        all_events.append((times, delta * row_b))
    times = np.concatenate([t for t, _ in all_events])
    delta = np.concatenate([d for _, d in all_events])
    order = np.lexsort((delta, times))
    total = float(np.cumsum(delta[order]).max(initial=0.0))
    return pd.DataFrame(rows_out), total
