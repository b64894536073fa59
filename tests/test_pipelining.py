"""The pipelined schedule (row bands as a DAG) and the throughput mode.

A hand-worked two-layer example fixes every band's start and end; hypothesis properties on
random small networks check what must hold for any schedule (dependencies, one task per core
at a time, the same work as the barrier schedule up to the band hand-overs, the throughput
identities); the engine's band DAG is checked against the plain-Python reference engine.
"""

from __future__ import annotations

import math
import warnings

import naive_engine
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aimclib import simulate
from aimclib.balancing import BALANCERS
from aimclib.engine import simulate_kernel
from aimclib.errors import AimcError, ParameterError
from aimclib.network import NetworkBuilder
from aimclib.pipelining import (band_graph, graph_inputs, input_rows, layer_graph, replicate,
                                run_graph)
from aimclib.scheduling import BalancerOptions, arrays_of, workload_for
from aimclib.system import PlausibilityWarning, load_system
from aimclib.throughput import batch_work, image_run

OPTS = BalancerOptions()


def two_convs():
    """Input (4, 4, 4); conv ``a`` 3x3 pad 1 to 8 channels; conv ``b`` 3x3 pad 1 on ``a``:
    both have 4 output rows of 4 positions, so 4 bands of one row each."""
    b = NetworkBuilder("two-convs", (4, 4, 4))
    a = b.conv(b.input, 8, 3, padding=1, name="a")
    b.conv(a, 8, 3, padding=1, name="b")
    return b.build()


# ------------------------------------------------------------------------------ the graph
def test_receptive_field_rows():
    net = two_convs()
    # band 0 of b reads rows 0..1 of a (row -1 is padding), band 3 reads 2..3
    assert input_rows(net, 1, 0, 0, 1) == (0, 2)
    assert input_rows(net, 1, 0, 1, 2) == (0, 3)
    assert input_rows(net, 1, 0, 3, 4) == (2, 4)
    g = band_graph(net)
    assert g.layer.tolist() == [0] * 4 + [1] * 4
    preds = [g.pred[g.pred_ptr[v]:g.pred_ptr[v + 1]].tolist() for v in range(8)]
    assert preds == [[], [], [], [], [0, 1], [0, 1, 2], [1, 2, 3], [2, 3]]
    assert g.sync.tolist() == [False] * 4 + [True] * 4


def test_strided_pool_and_global_layers():
    b = NetworkBuilder("strided", (2, 8, 8))
    x = b.conv(b.input, 4, 3, stride=2, padding=1, name="c")  # 4 rows
    x = b.maxpool(x, 2, name="p")  # 2 rows
    x = b.adaptive_avgpool(x, (1, 1), name="g")
    x = b.flatten(x, name="f")
    b.linear(x, 3, name="fc")
    net = b.build()
    # conv row r reads input rows 2r-1 .. 2r+1
    assert input_rows(net, 0, 0, 1, 2) == (1, 4)
    assert input_rows(net, 1, 0, 1, 2) == (2, 4)  # pool row 1: conv rows 2, 3
    assert input_rows(net, 2, 0, 0, 1) == (0, 2)  # global pool: every row
    g = band_graph(net)
    assert np.bincount(g.layer).tolist() == [4, 2, 1, 1, 1]
    gp = int(np.flatnonzero(g.layer == 2)[0])
    assert g.pred[g.pred_ptr[gp]:g.pred_ptr[gp + 1]].tolist() == [4, 5]


def test_replicated_images_wait_for_their_own_image():
    g = replicate(layer_graph(two_convs(), chain=True), 3)
    assert g.image.tolist() == [0, 0, 1, 1, 2, 2]
    preds = [g.pred[g.pred_ptr[v]:g.pred_ptr[v + 1]].tolist() for v in range(6)]
    assert preds == [[], [0], [], [2], [], [4]]


# ------------------------------------------------------------------------------ by hand
def test_two_layer_example_by_hand():
    """Tight, 2 cores, static-even. Layer a on one tile owned by core 0 (no digital part);
    layer b digital on both cores.

    Each band of a is one analog task of 4 MVMs on core 0: ``a_s = 4 x (interface + stall +
    host per MVM)`` (tight: no DMA jobs). Each band of b is two digital tasks of 2 positions
    (one per core), each ``h = 2 x eff_px(b) + sync``. Band k of b needs bands k-1..k+1 of a.

    core 0: a0 [0, a], a1 [a, 2a], a2 [2a, 3a], a3 [3a, 4a], then b0..b3 (h each) from 4a,
    as they were queued behind a's bands;
    core 1: b0 is released when a1 ends (2a), b1 at 3a, b2 and b3 at 4a; it runs each as soon
    as it is released and core 1 is free.
    """
    net = two_convs()
    hw = load_system("alpine-tight", **{"cpu.cores": 2, "system.tiles": 1})
    wl = workload_for(net, hw)
    wa, wb = wl.layers
    units = np.array([wa.n_units, 0], np.int64)
    owners = [np.zeros(1, np.int64), np.zeros(0, np.int64)]
    run = run_graph(wl, hw, units, owners, "static-even", OPTS, 0, band_graph(net))

    mc = wa.mvm
    a = 4 * mc.iface_s[0] + 4 * mc.stall_s[0] + 4 * mc.host_s[0]
    A = arrays_of(wl)
    eff_b = float(A.eff_px[A.unit_ptr[1]])
    sync = hw.host.band_sync_cycles / hw.cpu.clock_hz
    h = 2.0 * eff_b + sync
    core0 = [(k * a, (k + 1) * a) for k in range(4)] + [(4 * a + k * h, 4 * a + (k + 1) * h)
                                                         for k in range(4)]
    core1, free = [], 0.0
    for released in (2 * a, 3 * a, 4 * a, 4 * a):
        s = max(released, free)
        core1.append((s, s + h))
        free = s + h
    # tasks node by node: a's bands (one task each), then b's (core 0's task, core 1's)
    want_start = [s for s, _ in core0[:4]]
    want_end = [e for _, e in core0[:4]]
    for k in range(4):
        want_start += [core0[4 + k][0], core1[k][0]]
        want_end += [core0[4 + k][1], core1[k][1]]
    assert run.ran_on.tolist() == [0, 0, 0, 0] + [0, 1] * 4
    np.testing.assert_allclose(run.start, want_start, rtol=1e-12, atol=0)
    np.testing.assert_allclose(run.end, want_end, rtol=1e-12, atol=0)
    assert run.makespan == pytest.approx(max(core0[-1][1], core1[-1][1]), rel=1e-12)
    # the barrier schedule: a alone (16 MVMs on core 0), then b (8 positions per core)
    barrier = 16 * (mc.iface_s[0] + mc.stall_s[0] + mc.host_s[0]) + 8 * eff_b
    assert barrier == pytest.approx(4 * a + 8 * eff_b, rel=1e-12)
    # consecutive layers overlap: b runs on core 1 while a still runs on core 0
    assert core1[0][0] < 4 * a


def test_docs_worked_example_numbers():
    """docs/model.md, "Pipelined schedule and throughput": the numbers of its example."""
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[1] / "docs" / "model.md").read_text()
    net = two_convs()
    hw = load_system("alpine-tight", **{"cpu.cores": 2, "system.tiles": 1})
    wl = workload_for(net, hw)
    run = run_graph(wl, hw, np.array([wl.layers[0].n_units, 0]),
                    [np.zeros(1, np.int64), np.zeros(0, np.int64)], "static-even", OPTS, 0,
                    band_graph(net))
    A = arrays_of(wl)
    eff_b = float(A.eff_px[A.unit_ptr[1]])
    per_mvm = float(wl.layers[0].mvm.core_s[0])
    barrier = 4 * 4 * per_mvm + 8 * eff_b
    for text in (f"4 x {per_mvm * 1e9:.2f} ns", f"= {4 * per_mvm * 1e9:.0f} ns",
                 f"2 x {eff_b * 1e9:.2f} ns + 200 ns",
                 f"{(2 * eff_b + 2e-7) * 1e9:,.2f} ns", f"{run.makespan * 1e9:,.1f} ns",
                 f"{run.end[-1] * 1e9:,.1f} ns", f"= {barrier * 1e9:,.1f} ns",
                 f"from 0 to {run.end[3] * 1e9:,.0f} ns"):
        assert text in doc, text


def test_two_layer_row_buffers_by_hand():
    """a's row k is made when band k of a ends and held until the last band of b reading
    it (bands k-1..k+1) ends; b's rows (the output) are held to the end."""
    net = two_convs()
    hw = load_system("alpine-tight", **{"cpu.cores": 2, "system.tiles": 1})
    r = simulate(net, hw, balancer="static-even", schedule="pipelined")
    run = r.bands
    made = run.node_end[:4]
    b_end = run.node_end[4:]
    freed = [max(b_end[max(0, k - 1):k + 2]) for k in range(4)]
    held = [sum(1 for k in range(4) if made[k] <= t < freed[k]) for t in sorted(made)]
    table = r.row_buffers.set_index("layer")
    row_b = 8 * 4 * hw.cpu.activation_bits / 8
    assert table.loc["a", "peak_rows"] == max(held)
    assert table.loc["a", "row_bytes"] == row_b
    assert table.loc["b", "peak_rows"] == 4  # the output, all of it, at the end
    assert r.summary()["row_buffer_peak_bytes"] >= table["peak_bytes"].max()
    assert r.summary()["row_buffers_fit_l2"] is True


# ------------------------------------------------------------------------------ API
def test_default_and_dag_alias_unchanged():
    a = simulate("resnet18", tiles=40)
    b = simulate("resnet18", tiles=40, schedule="barrier")
    assert a.summary() == b.summary()
    c = simulate("resnet18", tiles=40, dag=True)
    d = simulate("resnet18", tiles=40, schedule="dag")
    assert c.summary() == d.summary() and c.dag and c.schedule == "dag"
    assert a.summary()["inferences_per_s"] == 1.0 / a.latency_s
    assert a.summary()["row_buffer_peak_bytes"] is None


@pytest.mark.parametrize("kwargs,match", [
    ({"dag": True, "schedule": "pipelined"}, "alias"),
    ({"dag": True, "schedule": "barrier"}, "alias"),
    ({"schedule": "layers"}, "schedule must be one of barrier, dag, pipelined"),
    ({"batch": 0}, "batch must be an integer >= 1"),
    ({"batch": 2, "throughput": "stream"}, "throughput must be one of batch, pipelined"),
])
def test_inconsistent_arguments_are_clear_errors(kwargs, match):
    with pytest.raises(AimcError, match=match):
        simulate("resnet18", tiles=8, **kwargs)


def test_simulate_many_refuses_other_schedules():
    from aimclib.batch import simulate_many
    with pytest.raises(ParameterError, match="simulate_many.*barrier"):
        simulate_many("resnet18", tiles=[8], schedule="pipelined")
    with pytest.raises(ParameterError, match="simulate_many.*batch"):
        simulate_many("resnet18", tiles=[8], batch=4)


def test_layers_table_has_one_row_per_layer_and_trace_carries_bands():
    r = simulate("resnet18", "alpine-loose", tiles=40, schedule="pipelined")
    assert len(r.layers) == len(r.network.layers)
    t = r.trace
    conv1 = t[(t["layer"] == "conv1") & (t["resource"] == "core")]
    assert conv1["band"].nunique() == r.network["conv1"].out_shape[1]
    # consecutive layers overlap in time: bn1 starts before conv1 ends
    lay = r.layers.set_index("layer")
    assert lay.loc["bn1", "start_s"] < lay.loc["conv1", "end_s"]
    # every layer's totals are its bands' totals: the MVMs are the barrier schedule's
    base = simulate("resnet18", "alpine-loose", tiles=40, balancer="static-even")
    pipe = simulate("resnet18", "alpine-loose", tiles=40, balancer="static-even",
                    schedule="pipelined")
    assert pipe.layers["mvms"].tolist() == base.layers["mvms"].tolist()


def test_band_sync_only_moves_the_pipelined_schedule():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlausibilityWarning)
        fast = load_system("alpine-tight", **{"host.band_sync_cycles": 0.0})
        slow = load_system("alpine-tight", **{"host.band_sync_cycles": 4000.0})
    for schedule in ("barrier", "dag"):
        assert (simulate("resnet18", fast, tiles=40, schedule=schedule).summary()
                == {**simulate("resnet18", slow, tiles=40, schedule=schedule).summary(),
                    "preset": fast.name})
    a = simulate("resnet18", fast, tiles=40, schedule="pipelined", balancer="static-even")
    b = simulate("resnet18", slow, tiles=40, schedule="pipelined", balancer="static-even")
    assert b.energy_j > a.energy_j


# ------------------------------------------------------------------------------ properties
@st.composite
def small_networks(draw):
    """A small CNN: convs, pools, activations and residual adds on a small input, sometimes
    ending in a global pool and a linear layer."""
    c = draw(st.integers(1, 6))
    h = draw(st.integers(3, 9))
    w = draw(st.integers(3, 9))
    b = NetworkBuilder("random", (c, h, w))
    x = b.input
    for i in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["conv", "conv", "pool", "relu", "res"]))
        try:
            if op == "conv":
                k = draw(st.integers(1, 3))
                x = b.conv(x, draw(st.integers(1, 12)), k, stride=draw(st.integers(1, 2)),
                           padding=draw(st.integers(0, k // 2)), name=f"conv{i}")
            elif op == "pool":
                x = b.maxpool(x, 2, stride=2, name=f"pool{i}")
            elif op == "relu":
                x = b.act("relu", x, name=f"relu{i}")
            else:
                y = b.conv(x, b.shape(x)[0], 3, padding=1, name=f"res{i}.conv")
                x = b.join("add", [x, y], name=f"res{i}.add")
        except AimcError:
            assume(False)
    if draw(st.booleans()):
        x = b.adaptive_avgpool(x, (1, 1), name="gap")
        x = b.flatten(x, name="flat")
        b.linear(x, draw(st.integers(1, 10)), name="fc")
    return b.build()


CASES = st.tuples(small_networks(), st.sampled_from(["alpine-tight", "alpine-loose"]),
                  st.integers(1, 4), st.integers(0, 6),
                  st.sampled_from(["static-even", "static-balanced", "work-stealing"]))
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(CASES)
def test_bands_wait_for_the_rows_they_read(case):
    net, preset, cores, tiles, balancer = case
    r = simulate(net, preset, cores=cores, tiles=tiles, balancer=balancer,
                 schedule="pipelined")
    run = r.bands
    g = run.graph
    for v in range(len(g)):
        preds = g.pred[g.pred_ptr[v]:g.pred_ptr[v + 1]]
        ready = float(run.node_end[preds].max(initial=0.0))
        assert run.release[v] >= ready
        a, b = run.node_ptr[v], run.node_ptr[v + 1]
        assert (run.start[a:b] >= run.release[v]).all()
        assert (run.end[a:b] <= run.node_end[v]).all()
    # a band waits for every band making a row it reads
    first = np.searchsorted(g.layer, np.arange(len(net.layers) + 1))
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    for v in range(len(g)):
        j = int(g.layer[v])
        for k, p in enumerate(net.layers[j].inputs):
            if p == net.input_name:
                continue
            lo, hi = input_rows(net, j, k, int(g.row0[v]), int(g.row0[v] + g.rows[v]))
            pi = index[p]
            for u in range(first[pi], first[pi + 1]):
                if g.row0[u] < hi and g.row0[u] + g.rows[u] > lo:
                    assert run.release[v] >= run.node_end[u]


@SETTINGS
@given(CASES)
def test_one_task_at_a_time_per_core_and_tile(case):
    net, preset, cores, tiles, balancer = case
    r = simulate(net, preset, cores=cores, tiles=tiles, balancer=balancer,
                 schedule="pipelined")
    t = r.trace
    for (res, _), part in t.groupby(["resource", "id"]):
        if res == "tile" and r.system.coupling == "tight":
            continue  # a tight tile is driven by its owner core, checked as that core
        s = part.sort_values(["start_s", "end_s"])
        assert (s["start_s"].to_numpy()[1:] >= s["end_s"].to_numpy()[:-1] - 1e-15).all()
    assert r.latency_s == pytest.approx(float(t["end_s"].max()), rel=1e-12)


@SETTINGS
@given(small_networks(), st.integers(1, 4), st.sampled_from(["alpine-tight", "alpine-loose"]))
def test_pipelined_does_the_barrier_work_plus_hand_overs(net, cores, preset):
    """All digital, static-even: the bands' core work is the layers' work plus one
    hand-over per core's deque of each band that waits on others."""
    kw = {"cores": cores, "tiles": 0, "balancer": "static-even"}
    bar = simulate(net, preset, **kw)
    pipe = simulate(net, preset, schedule="pipelined", **kw)
    sync = pipe.system.host.band_sync_cycles / pipe.system.cpu.clock_hz
    run = pipe.bands
    synced = sum(len(np.unique(run.tasks.core[run.node_ptr[v]:run.node_ptr[v + 1]]))
                 for v in np.flatnonzero(run.graph.sync))
    assert pipe.cores["busy_s"].sum() == pytest.approx(
        bar.cores["busy_s"].sum() + synced * sync, rel=1e-9, abs=1e-15)


@SETTINGS
@given(small_networks(), st.sampled_from(["alpine-tight", "alpine-loose"]), st.integers(0, 6))
def test_pipelined_moves_the_same_mvms(net, preset, tiles):
    kw = {"cores": 2, "tiles": tiles, "balancer": "static-even"}
    bar = simulate(net, preset, **kw)
    pipe = simulate(net, preset, schedule="pipelined", **kw)
    assert pipe.layers["mvms"].tolist() == bar.layers["mvms"].tolist()
    assert pipe.layers["dram_bytes"].sum() == pytest.approx(bar.layers["dram_bytes"].sum(),
                                                            rel=1e-9)


@SETTINGS
@given(CASES, st.sampled_from(["barrier", "dag", "pipelined"]))
def test_a_batch_of_one_image_is_the_batch_one_result(case, schedule):
    """The image DAG of one image is the schedule itself: same latency and energy (barrier,
    a balancer scoring several splits: no faster than the barrier schedule's per-layer
    choice)."""
    net, preset, cores, tiles, balancer = case
    r = simulate(net, preset, cores=cores, tiles=tiles, balancer=balancer, schedule=schedule)
    A = arrays_of(r.workload)
    tiles_per_layer = A.tiles_for[A.unit_ptr[:-1] + r.units].tolist()
    tp = image_run(r.workload, r.system, r.units, r.owners, balancer, OPTS, 0, schedule, 1,
                   tiles_per_layer)
    if schedule == "barrier" and len(BALANCERS.entry(balancer).splits) > 1:
        # the image flow keeps the faster of the splits for the whole network (as the DAG
        # schedule does); the barrier schedule keeps the faster per layer, which a chain of
        # barriers can only gain from
        assert r.latency_s <= tp.latency_s * (1 + 1e-9)
    elif schedule == "barrier":  # one DAG run instead of layers alone: same sums, reordered
        assert tp.latency_s == pytest.approx(r.latency_s, rel=1e-9)
        if balancer != "work-stealing":  # the stealing streams differ (one per layer)
            assert tp.energy_j == pytest.approx(r.energy_j, rel=1e-9)
    else:
        assert tp.latency_s == r.latency_s
        assert tp.energy_j == pytest.approx(r.energy_j, rel=1e-12)
    assert batch_work(r.workload.layers[0], r.system.cpu, 1) is r.workload.layers[0]


@SETTINGS
@given(CASES, st.sampled_from(["barrier", "dag", "pipelined"]),
       st.sampled_from(["batch", "pipelined"]), st.integers(2, 4))
def test_throughput_identities(case, schedule, mode, batch):
    net, preset, cores, tiles, balancer = case
    r = simulate(net, preset, cores=cores, tiles=tiles, balancer=balancer, schedule=schedule,
                 batch=batch, throughput=mode)
    s = r.summary()
    assert s["inferences_per_s"] * s["batch_latency_s"] == pytest.approx(batch, rel=1e-12)
    assert s["energy_per_inference_j"] * batch == pytest.approx(s["batch_energy_j"],
                                                                rel=1e-12)
    # the batch-1 scalars are the batch-1 run's
    one = simulate(net, preset, cores=cores, tiles=tiles, balancer=balancer,
                   schedule=schedule)
    assert s["latency_s"] == one.latency_s and s["energy_j"] == one.energy_j


@SETTINGS
@given(small_networks(), st.integers(2, 4), st.sampled_from(["barrier", "dag", "pipelined"]))
def test_one_core_streams_images_back_to_back(net, batch, schedule):
    """One core, all digital, static-even: the core is never idle while images wait, so B
    images through the image DAG take B times one image's work."""
    kw = {"cores": 1, "tiles": 0, "balancer": "static-even", "schedule": schedule}
    one = simulate(net, "alpine-tight", **kw)
    many = simulate(net, "alpine-tight", batch=batch, throughput="pipelined", **kw)
    assert many.throughput.latency_s == pytest.approx(batch * one.latency_s, rel=1e-9)


@SETTINGS
@given(small_networks(), st.integers(2, 4))
def test_one_core_batch_never_slower_per_image_when_activations_fit(net, batch):
    """One core, all digital: a batch has the same per-position compute and reads the
    digital weights once, so (activations of the batch fitting the L2) it takes at most B
    times one image."""
    hw = load_system("alpine-tight", **{"cpu.cores": 1, "system.tiles": 0})
    assume(all(batch * (w.act_dram_bytes + w.act_l2_bytes) <= hw.cpu.l2_bytes
               for w in workload_for(net, hw).layers))
    one = simulate(net, hw, balancer="static-even")
    many = simulate(net, hw, balancer="static-even", batch=batch)
    assert many.throughput.latency_s <= batch * one.latency_s * (1 + 1e-12)


# ------------------------------------------------------------------------------ reference
def _same(got, want):
    for name, g, w in zip(("start", "end", "core", "how", "tile_start", "release",
                           "layer_end"), got, want):
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(CASES, st.integers(1, 2))
def test_band_dag_matches_reference_engine(case, batch):
    """The engine on band DAGs (one or two images; any balancer's cut, stealing included)
    against the plain-Python reference."""
    net, preset, cores, tiles, balancer = case
    r = simulate(net, preset, cores=cores, tiles=tiles)
    inp = graph_inputs(r.workload, r.system, r.units, r.owners, balancer, OPTS, 3,
                       band_graph(net), batch)
    assert len(inp.graph) == batch * len(band_graph(net))
    assume(len(inp.tasks) <= 400)  # the reference is slow
    _same(simulate_kernel(*inp.args), naive_engine.simulate(*inp.args))


def test_pipelined_schedule_runs_resnet50_quickly():
    """Not a timing test: the pipelined schedule of a large network completes and keeps
    its layers' work (its speed is measured in benchmarks/)."""
    r = simulate("resnet50", "alpine-loose", tiles=192, schedule="pipelined")
    assert math.isfinite(r.latency_s) and r.latency_s > 0
    assert len(r.layers) == len(r.network.layers)


def test_gantt_colours_layers_of_the_pipelined_schedule():
    import matplotlib.colors as mcolors

    from aimclib.plotting import LAYER_COLOURS, plot_gantt
    from aimclib.studies import gantt_intervals
    r = simulate(two_convs(), load_system("alpine-tight", **{"cpu.cores": 2, "system.tiles": 1}),
                 balancer="static-even", schedule="pipelined")
    fig = plot_gantt({"pipelined": gantt_intervals(r.trace)}, colour_by="layer")
    drawn = {mcolors.to_hex(c) for coll in fig.axes[0].collections for c in coll.get_facecolor()}
    assert {c.lower() for c in LAYER_COLOURS[:2]} <= drawn
    with pytest.raises(AimcError, match="colour_by must be one of kind, layer"):
        plot_gantt({"x": gantt_intervals(r.trace)}, colour_by="band")


def test_a_batch_too_large_is_refused_before_it_is_built():
    with pytest.raises(AimcError, match="MEMORY_LIMIT_BYTES.*reduce the batch"):
        simulate("resnet50", "alpine-loose", tiles=192, schedule="pipelined", batch=4096,
                 throughput="pipelined")


def test_docs_published_point_numbers():
    """docs/model.md's ResNet-50 numbers at the published point."""
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[1] / "docs" / "model.md").read_text()
    kw = {"tiles": 192, "cores": 8}
    loose = {s: simulate("resnet50", "alpine-loose", schedule=s, **kw)
             for s in ("barrier", "dag", "pipelined")}
    tight = {s: simulate("resnet50", "alpine-tight", schedule=s, **kw)
             for s in ("barrier", "pipelined")}
    ms = {f"{r.latency_s * 1e3:.2f} ms" for r in [*loose.values(), *tight.values()]}
    for text in ms | {f"({loose['barrier'].latency_s / loose['pipelined'].latency_s:.2f}x",
                      f"{loose['pipelined'].coverage:.1%}".replace("%", " %"),
                      f"{loose['pipelined'].row_buffer_peak_bytes / 1e6:.2f} MB loose",
                      f"{tight['pipelined'].row_buffer_peak_bytes / 1e6:.2f} MB tight"}:
        assert text in doc, text
    assert loose["pipelined"].summary()["row_buffers_fit_l2"]
    assert not tight["pipelined"].summary()["row_buffers_fit_l2"]
    flow = simulate("resnet50", "alpine-loose", batch=8, throughput="pipelined", **kw)
    batch = simulate("resnet50", "alpine-loose", batch=8, **kw)
    for text in (f"{flow.inferences_per_s:.2f} inferences/s",
                 f"{flow.energy_per_inference_j * 1e3:.2f} mJ each",
                 f"{1 / flow.latency_s:.2f}/s and {flow.energy_j * 1e3:.2f} mJ at batch 1",
                 f"{batch.inferences_per_s:.2f}/s and "
                 f"{batch.energy_per_inference_j * 1e3:.2f} mJ"):
        assert text in doc, text


def test_explorer_offers_schedule_and_batch():
    from aimclib.explorer import Explorer
    kw = {"schedule": "pipelined", "batch": 4, "throughput": "pipelined"}
    app = Explorer(network="resnet18", tiles=40, **kw)
    want = simulate("resnet18", "alpine-tight", cores=8, tiles=40, **kw).summary()
    row = app.table_frame().iloc[0]
    assert row["schedule"] == "pipelined" and row["batch"] == 4
    assert row["inferences_per_s"] == want["inferences_per_s"]
    assert row["latency_ms"] == 1e3 * want["latency_s"]
    app.controls["schedule"].value = "dag"
    assert app.shown.schedule == "dag"
    with pytest.raises(AimcError, match="batch must be one of 1, 2, 4, 8, 16"):
        Explorer(network="resnet18", batch=3)


@pytest.mark.parametrize("preset", ["alpine-tight", "alpine-loose"])
@pytest.mark.parametrize("balancer", ["static-balanced", "static-even", "work-stealing"])
def test_pipelined_and_image_flow_with_copies(preset, balancer):
    """Weight copies (aimclib.replication) under the pipelined schedule and the image flow:
    the bands cut every copy, so each layer runs the MVMs of the barrier schedule with the
    same copies (static balancers: with stealing a thief may compute a stolen tight MVM
    digitally), and the flow's rate times its latency is its batch."""
    kw = dict(cores=4, tiles=400, replicate=True, balancer=balancer)
    barrier = simulate("resnet18", preset, **kw)
    assert barrier.layers["copies"].max() > 1  # the budget holds copies
    piped = simulate("resnet18", preset, schedule="pipelined", batch=2, throughput="pipelined",
                     **kw)
    assert piped.tiles_used == barrier.tiles_used and piped.coverage == barrier.coverage
    if balancer != "work-stealing":
        np.testing.assert_array_equal(piped.layers["mvms"], barrier.layers["mvms"])
        np.testing.assert_allclose(piped.layers["tile_mvm_energy_j"],
                                   barrier.layers["tile_mvm_energy_j"], rtol=1e-12)
    assert piped.throughput.inferences_per_s * piped.throughput.latency_s == pytest.approx(2)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("balancer", ["static-balanced", "static-even"])
def test_bands_narrower_than_the_copies(balancer):
    """A row band of a 7x7 layer has 7 positions but the layer up to 16 copies: the copies
    left without positions in a band take no work (no 0/0 in static-balanced's split), and
    every layer still runs the barrier schedule's MVMs."""
    kw = dict(cores=16, tiles=3000, allocation="layer-order", replicate="reuse>=1",
              balancer=balancer)
    barrier = simulate("resnet18", "alpine-tight", **kw)
    assert barrier.layers["copies"].max() > 7
    piped = simulate("resnet18", "alpine-tight", schedule="pipelined", **kw)
    assert piped.layers["mvms"].tolist() == barrier.layers["mvms"].tolist()
