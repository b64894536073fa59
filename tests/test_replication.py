"""Weight replication (aimclib.replication): copy arithmetic by hand, the worked example of
docs/model.md, hypothesis properties (coverage, optimal never slower with copies, r copies on
r cores divide the analog time by r), the naive reference engine on copy tasks, and
simulate_many against simulate."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import naive_engine
from aimclib import NetworkBuilder, load_system
from aimclib.balancing import BALANCERS
from aimclib.batch import simulate_many
from aimclib.engine import KIND_DIGITAL, RAN_ANALOG, simulate_barrier_kernel
from aimclib.errors import AimcError
from aimclib.mapping import map_layer
from aimclib.replication import (ReplicateRule, copies, copies_per_unit, copy_owners,
                                 parse_replicate, replicated, tiles_used, unit_positions)
from aimclib.simulate import cost_table, simulate
from aimclib.scheduling import BalancerOptions, workload_for
from test_simulate import tiny_networks

PRESETS = ("alpine-tight", "alpine-loose")


def one_layer(cin=3, cout=64, k=7, stride=2, pad=3, size=224, name="stem"):
    b = NetworkBuilder(name, (cin, size, size))
    b.conv(b.input, cout, k, stride=stride, padding=pad)
    return b.build()


# ----------------------------------------------------------------------- hand-computed
def test_copy_arithmetic_by_hand():
    # a 3x3 conv 64 -> 600 on 256x256 tiles: K = 576 -> row blocks 192,192,192 (3 tiles per
    # unit), N = 600 -> column blocks 200,200,200: n = 3 units of 3 tiles, 9 tiles in all
    b = NetworkBuilder("hand", (64, 8, 8))
    b.conv(b.input, 600, 3, padding=1)
    info = b.build().info[-1]
    mp = map_layer(info, 256, 256)
    assert mp.n_units == 3 and mp.tiles_full == 9 and info.m == 64
    # u = 7 unit-copies: unit 0 has 3 copies, units 1 and 2 two: 2 x 9 + 3 = 21 tiles
    assert copies_per_unit(7, 3).tolist() == [3, 2, 2]
    assert tiles_used(mp, 7) == 21 and copies(7, 3) == 3
    # u <= n keeps today's meaning
    assert tiles_used(mp, 2) == 6 and copies(2, 3) == 1 and copies(0, 3) == 0
    # positions: unit 0's three copies take 22, 21, 21 of the 64; units 1, 2 take 32 and 32
    assert unit_positions(64, 7, 3).tolist() == [22, 32, 32, 21, 32, 32, 21]
    # copy tile j of the layer's 21 tiles holds tile j % 9's block; coverage counts unique
    # weights: the allocation's coverage is min(u, n) units' weights
    assert mp.partial(min(7, 3)).coverage == 1.0


def test_copies_of_a_tile_sit_on_different_cores():
    # 2 copies of a 3-tile layer handed out round robin from core 5 of 6 cores
    owners = np.array([5, 0, 1, 2, 3, 4], np.int64)
    placed = copy_owners(owners, 3)
    assert sorted(placed.tolist()) == sorted(owners.tolist())  # the same tiles per core
    assert all(placed[j] != placed[j + 3] for j in range(3))
    # 3 copies of one tile over 3 cores, 2 tiles per core: grouped by core
    assert copy_owners(np.array([1, 2, 0, 1, 2, 0]), 2).tolist() == [1, 1, 2, 2, 0, 0]


def test_replicate_settings():
    assert parse_replicate(False) == "off" and parse_replicate(True) == "on"
    assert parse_replicate(" Reuse >= 64 ") == "reuse>=64"
    assert parse_replicate(ReplicateRule(3)) == "reuse>=3"
    for bad in ("sometimes", "reuse>=0", "reuse>=x", 2, None):
        with pytest.raises(AimcError, match="replicate"):
            parse_replicate(bad)
    with pytest.raises(AimcError, match="min_reuse"):
        ReplicateRule(0)
    with pytest.raises(AimcError, match="replicate"):
        simulate("resnet18", replicate="twice")


def test_worked_example_in_the_docs():
    """docs/model.md, "Replication": the ResNet stem conv on alpine-tight, 4 cores,
    static-even, with 1, 2 and 4 copies."""
    net = one_layer()
    want = {1: 2235.184, 2: 1117.592, 4: 558.796}  # µs, as the docs give them
    for tiles, lat_us in want.items():
        r = simulate(net, "alpine-tight", cores=4, tiles=tiles, balancer="static-even",
                     replicate="reuse>=1")
        row = r.layers.iloc[-1]
        assert row["copies"] == tiles and row["tiles_used"] == tiles == r.tiles_used
        assert r.coverage == 1.0 and row["mvms"] == 12544
        assert round(r.latency_s * 1e6, 3) == lat_us
        assert (r.tiles["mvms"] == 12544 // tiles).all()
    assert round(simulate(net, "alpine-tight", cores=4, tiles=1, balancer="static-even")
                 .energy_j * 1e6, 1) == 694.1
    assert round(simulate(net, "alpine-tight", cores=4, tiles=4, balancer="static-even",
                          replicate="reuse>=1").energy_j * 1e6, 1) == 560.0


def test_off_is_the_default_and_changes_nothing():
    a = simulate("resnet18", "alpine-loose", cores=4, tiles=40)
    b = simulate("resnet18", "alpine-loose", cores=4, tiles=40, replicate="off")
    assert a.summary() == b.summary() and a.summary()["replicate"] == "off"
    assert (a.layers["copies"] <= 1).all()


def test_linear_layers_get_no_copies():
    b = NetworkBuilder("head", (64, 1, 1))
    b.linear(b.flatten(b.input), 10)
    r = simulate(b.build(), "alpine-loose", cores=4, tiles=8, replicate=True,
                 allocation="layer-order")
    assert r.tiles_used == 1 and r.layers["copies"].max() == 1


# -------------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None)
@given(net=tiny_networks(), preset=st.sampled_from(PRESETS), cores=st.sampled_from((1, 2, 4)),
       extra=st.integers(0, 60), allocation=st.sampled_from(("optimal", "greedy-benefit",
                                                             "reuse-first", "layer-order")),
       replicate=st.sampled_from(("on", "reuse>=1", "reuse>=16")),
       balancer=st.sampled_from(tuple(BALANCERS)), dag=st.booleans())
def test_coverage_and_tiles(net, preset, cores, extra, allocation, replicate, balancer, dag):
    """Coverage never exceeds 1 (unique weights), tiles used count every copy and fit the
    budget, a layer's copies stay under its cap, copies of a tile sit on different cores
    (tight), and the even cut runs each mapped block once per output position."""
    hw = load_system(preset, cores=cores)
    wl = workload_for(net, hw)
    full = sum(w.mapping.tiles_full for w in wl.layers if w.mapping is not None)
    budget = full + extra
    r = simulate(net, hw, tiles=budget, allocation=allocation, replicate=replicate,
                 balancer=balancer, dag=dag)
    event(f"copies: {bool(replicated(wl, r.units).any())}")
    assert 0.0 <= r.coverage <= 1.0 and (r.layers["coverage"] <= 1.0).all()
    assert r.tiles_used == sum(len(o) for o in r.owners) <= budget
    drivers = cores if preset == "alpine-loose" else sum(
        1 for k in r.system.tiles_per_core() if k > 0)
    for w, u, own, s in zip(wl.layers, r.units, r.owners, r.schedules):
        if w.mapping is None:
            continue
        u, n, full_t = int(u), w.n_units, w.mapping.tiles_full
        assert u <= n * max(1, min(drivers, w.pixels))
        assert len(own) == tiles_used(w.mapping, u)
        if u > n and preset == "alpine-tight" and np.bincount(own).max() <= full_t:
            assert all(own[j] != own[j + full_t] for j in range(len(own) - full_t))
        if balancer == "static-even" and u >= n:  # every block of every position, once
            an = s.how == RAN_ANALOG
            assert int(s.tasks.mvms[an].sum()) == w.pixels * full_t


@settings(max_examples=60, deadline=None)
@given(net=tiny_networks(branches=False), preset=st.sampled_from(PRESETS),
       cores=st.sampled_from((1, 2, 3, 4)), share=st.floats(0.1, 3.0))
def test_optimal_is_never_slower_with_copies(net, preset, cores, share):
    """The knapsack's choices with copies include those without: the planned latency (sum
    of the cost table) never rises, and barrier-mode latency with static-balanced, which is
    what the table costs, does not either (loose: exactly; tight: the placed owners are a
    relabelling of the table's, up to rounding)."""
    hw = load_system(preset, cores=cores)
    wl = workload_for(net, hw)
    full = sum(w.mapping.tiles_full for w in wl.layers if w.mapping is not None)
    budget = max(1, int(full * share))
    off = simulate(net, hw, tiles=budget)
    on = simulate(net, hw, tiles=budget, replicate=True)
    opts, hw_t = BalancerOptions(), hw.with_tiles(budget)
    mvm = [w.index for w in wl.layers if w.mapping is not None]
    plan_off = sum(c[off.units[i]] for c, i in zip(cost_table(wl, hw_t, opts, "latency"), mvm))
    plan_on = sum(c[on.units[i]] for c, i in
                  zip(cost_table(wl, hw_t, opts, "latency", copies=True), mvm))
    event(f"copies chosen: {bool(replicated(wl, on.units).any())}")
    event(f"faster with copies: {on.latency_s < off.latency_s}")
    assert plan_on <= plan_off
    assert on.latency_s <= off.latency_s * (1 + 1e-9)
    assert on.coverage <= 1.0 and on.tiles_used <= budget


@settings(max_examples=20, deadline=None)
@given(preset=st.sampled_from(PRESETS), r=st.integers(1, 4), cout=st.sampled_from((16, 64)),
       size=st.sampled_from((6, 9, 16)), k=st.sampled_from((1, 3)))
def test_r_copies_on_r_cores_divide_analog_time(preset, r, cout, size, k):
    """A conv layer that fits one tile, no digital work, r cores: r copies (static-even) cut
    its latency by r, up to the rounding of M / r positions and, loose, one DMA job per
    copy."""
    net = one_layer(cin=16, cout=cout, k=k, stride=1, pad=k // 2, size=size, name="c")
    kw = dict(cores=r, balancer="static-even", allocation="layer-order")
    one = simulate(net, preset, tiles=1, **kw)
    many = simulate(net, preset, tiles=r, replicate="reuse>=1", **kw)
    assert int(many.units[-1]) == r and many.tiles_used == r and many.coverage == 1.0
    assert one.layers["digital_core_s"].sum() == many.layers["digital_core_s"].sum() == 0.0
    m = size * size
    per_mvm = one.latency_s / m if preset == "alpine-tight" else None
    if preset == "alpine-tight":  # the owner's stream: exactly its positions' MVMs
        assert many.latency_s == pytest.approx(-(-m // r) * per_mvm, rel=1e-12)
    else:
        job_s = one.workload.layers[-1].mvm.job_s
        slack = -(-m // r) / m * one.latency_s
        assert slack - 1e-15 <= many.latency_s + job_s
        assert many.latency_s <= slack + 2 * job_s + 1e-15
    if preset == "alpine-tight" and m % r == 0:
        assert one.latency_s / many.latency_s == pytest.approx(r, rel=1e-12)


# ---------------------------------------------------------------- reference engine
@settings(max_examples=15, deadline=None)
@given(net=tiny_networks(branches=False), preset=st.sampled_from(PRESETS),
       cores=st.sampled_from((2, 3, 4)), balancer=st.sampled_from(tuple(BALANCERS)),
       seed=st.integers(0, 100))
def test_copy_tasks_match_the_reference_engine(net, preset, cores, balancer, seed):
    """The tasks of layers with copies, run by the compiled barrier kernel and by the naive
    reference engine, give the same schedules."""
    hw = load_system(preset, cores=cores)
    wl = workload_for(net, hw)
    full = sum(w.mapping.tiles_full for w in wl.layers if w.mapping is not None)
    res = simulate(net, hw, tiles=2 * full, replicate="reuse>=1", balancer=balancer,
                   seed=seed, allocation="layer-order")  # every layer mapped, then copies
    assert replicated(wl, res.units).any()  # the stem, at least, has copies
    steal = BALANCERS.entry(balancer).steals
    for w, u, s in zip(wl.layers, res.units, res.schedules):
        if w.mapping is None or int(u) <= w.n_units:
            continue
        t = s.tasks
        args = (np.zeros(len(t), np.int64), t.kind, t.core, t.tile, t.core_s, t.tile_s,
                t.bus_s, t.alt_s, np.array([0, len(t)]), cores, int(t.tile.max()) + 1, steal,
                res.options.steal_latency_s, 0, np.array([seed + w.index]))
        got = simulate_barrier_kernel(*args)
        want = naive_engine.simulate_barrier(*args)
        for g, x in zip(got, want):
            np.testing.assert_allclose(g, x, rtol=1e-12, atol=0)
        assert (t.kind[t.tile >= 0] != KIND_DIGITAL).all()


# ------------------------------------------------------------------------------ batch
@pytest.mark.parametrize("preset", PRESETS)
def test_simulate_many_equals_simulate_with_copies(preset):
    kw = dict(cores=4, allocation="greedy-benefit", balancer="work-stealing", seed=3)
    table = simulate_many("resnet18", preset, tiles=[60, 250, 400], replicate=True, **kw)
    for row in table.to_dict("records"):
        s = simulate("resnet18", preset, tiles=int(row["tiles"]), replicate=True, **kw)
        summary = s.summary()
        for col in ("latency_s", "energy_j", "speedup", "coverage", "tiles_used"):
            assert row[col] == summary[col]
        for comp, v in summary["breakdown"].items():
            assert row[f"{comp}_j"] == v["joules"]
    assert table["tiles_used"].iloc[-1] > sum(
        w.mapping.tiles_full for w in workload_for(
            s.network, s.system).layers if w.mapping is not None)  # copies at 400 tiles


# -------------------------------------------------------------------------- CLI, sweeps
def test_cli_replicate(capsys):
    from aimclib import cli
    code = cli.main(["simulate", "resnet18", "--cores", "4", "--tiles", "250", "--replicate",
                     "reuse>=64", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    s = json.loads(out.out)
    want = simulate("resnet18", cores=4, tiles=250, replicate=ReplicateRule(64)).summary()
    assert s["replicate"] == "reuse>=64" and s["latency_s"] == want["latency_s"]
    assert s["tiles_used"] == want["tiles_used"] > 201  # ResNet-18 maps once on 201 tiles
    assert cli.main(["simulate", "resnet18", "--replicate", "maybe"]) == 2
    assert "replicate must be" in capsys.readouterr().err


def test_sweep_replicate_key_and_cache(tmp_path):
    from aimclib.sweep import sweep
    grid = {"network": "resnet18", "cores": 4, "tiles": [250],
            "replicate": ["off", "on", "reuse>=64"]}
    df = sweep(grid, executor="inprocess", progress=False, cache=tmp_path)
    assert df["replicate"].tolist() == ["off", "on", "reuse>=64"]
    for row in df.to_dict("records"):
        s = simulate("resnet18", cores=4, tiles=250, replicate=row["replicate"])
        assert row["latency_s"] == s.latency_s and row["tiles_used"] == s.tiles_used
    assert df["latency_s"].nunique() == 3  # three cache entries, not one
    again = sweep(grid, executor="inprocess", progress=False, cache=tmp_path)
    assert again.attrs["sweep"]["cached"] == 3
    with pytest.raises(AimcError, match="replicate"):
        sweep({"network": "resnet18", "replicate": ["often"]}, executor="inprocess",
              progress=False)


@pytest.mark.parametrize("preset", PRESETS)
def test_layer_cost_with_copies(preset):
    """The single-layer cost scales past one copy: latency never rises with more tiles,
    coverage stays 1, tiles used count every copy up to the cap (the cores)."""
    from aimclib.layercost import layer_cost
    info = one_layer().info[-1]
    hw = load_system(preset)
    prev = None
    for t in range(0, 11):
        c = layer_cost(info, hw, cores=4, tiles=t, replicate=True)
        plain = layer_cost(info, hw, cores=4, tiles=t)
        assert c.tiles_used == min(t, 4) and c.coverage == (1.0 if t else 0.0)
        if t <= 1:
            assert c.latency_s == plain.latency_s
        if prev is not None:
            assert c.latency_s <= prev
        prev = c.latency_s
    # 4 copies on 4 cores against one, static-even: a quarter (tight) of the latency
    one = layer_cost(info, hw, cores=4, tiles=1, balancer="static-even")
    four = layer_cost(info, hw, cores=4, tiles=4, balancer="static-even", replicate=True)
    assert four.latency_s == pytest.approx(one.latency_s / 4,
                                           rel=1e-12 if preset == "alpine-tight" else 0.01)


def test_layer_sweep_replicate():
    from aimclib.sweep import sweep
    df = sweep({"layer": "conv:3:64:7:224:2:3", "cores": 4,
                "tiles": [1, 4], "replicate": ["off", "on"]}, study="layer",
               executor="inprocess", progress=False)
    assert df["tiles_used"].tolist() == [1, 1, 1, 4]
    assert df["speedup"].iloc[3] > 3 * df["speedup"].iloc[1]


def test_explorer_replicate_control():
    from aimclib.explorer import DIGITS, Explorer, table_cells
    app = Explorer(network="alexnet", cores=2, tiles=80, top_layers=5, replicate="on")
    s = app.setting()
    assert s.replicate == "on"
    want = simulate("alexnet", load_system(s.preset, cores=2, tiles=80), replicate=True)
    for col, text in table_cells(want.summary()).items():
        assert f'data-col="{col}">{text}<' in app.table.value
    app.controls["replicate"].value = "off"
    assert app.shown.replicate == "off"
    with pytest.raises(AimcError, match="replicate"):
        Explorer(replicate="sometimes")
    # the accuracy readout counts unique units: copies hold the same weights
    digits = Explorer(network=DIGITS, cores=4, tiles=200, top_layers=5, replicate="on")
    r = digits.view(digits.setting()).result
    assert "accuracy on PCM tiles" in digits.accuracy.value and r.coverage <= 1.0


@pytest.mark.parametrize("preset,off_ms,on_ms,conv1", [("alpine-tight", 45.58, 44.06, 4),
                                                        ("alpine-loose", 45.03, 43.16, 3)])
def test_published_point_numbers_in_the_docs(preset, off_ms, on_ms, conv1):
    """docs/model.md section 13: ResNet-50, 8 cores, 192 tiles (41 % coverage), optimal."""
    off = simulate("resnet50", preset, cores=8, tiles=192)
    on = simulate("resnet50", preset, cores=8, tiles=192, replicate=True)
    assert round(off.latency_s * 1e3, 2) == off_ms and round(on.latency_s * 1e3, 2) == on_ms
    assert round(off.coverage, 3) == 0.411 and round(on.coverage, 3) == 0.385
    assert off.tiles_used == on.tiles_used == 192
    assert on.layers.set_index("layer").loc["conv1", "copies"] == conv1


# ------------------------------------------------------------- the default path is unchanged
GOLDEN = Path(__file__).parent / "data" / "replication_off_golden.json"
GOLDEN_TILES = {"resnet18": 60, "mobilenet_v2": 90}
GOLDEN_LAYER_COLUMNS = ["layer", "units_mapped", "units_total", "tiles_used",
                        "weights_on_tiles", "start_s", "end_s", "digital_core_s",
                        "analog_core_s", "mvms", "steals", "tile_mvm_energy_j", "dram_bytes"]


def _digest(df) -> str:
    return hashlib.sha256(json.dumps(df.to_dict(orient="list"), default=float).encode()
                          ).hexdigest()


@pytest.mark.parametrize("key", sorted(json.loads(GOLDEN.read_text())))
def test_default_path_equals_the_code_before_replication(key):
    """With replication off, summary scalars, the layers table (its columns before
    replication) and the trace equal, bit for bit, what the code before replication computed
    (tests/data/replication_off_golden.json, written by that code: 8 cores, seed 1)."""
    net, preset, balancer, dag = key.split("|")
    want = json.loads(GOLDEN.read_text())[key]
    r = simulate(net, preset, cores=8, tiles=GOLDEN_TILES[net], balancer=balancer,
                 dag=dag == "True", seed=1)
    s = r.summary()
    assert {k: s[k] for k in ("latency_s", "energy_j", "coverage", "tiles_used")} == {
        k: want[k] for k in ("latency_s", "energy_j", "coverage", "tiles_used")}
    assert _digest(r.layers[GOLDEN_LAYER_COLUMNS]) == want["layers"]
    # the pipelined schedule's band column (0 outside it) came after the golden file
    assert (r.trace["band"] == 0).all()
    assert _digest(r.trace.drop(columns="band")) == want["trace"]


def test_cli_layer_replicate(capsys):
    from aimclib import cli
    argv = ["layer", "--kind", "conv", "--cin", "3", "--cout", "64", "--k", "7", "--hw", "224",
            "--stride", "2", "--pad", "3", "--cores", "4", "--tiles", "4", "--json"]
    assert cli.main(argv) == 0
    one = json.loads(capsys.readouterr().out)
    assert cli.main(argv + ["--replicate"]) == 0
    four = json.loads(capsys.readouterr().out)
    assert (one["tiles_used"], four["tiles_used"]) == (1, 4)
    assert four["coverage"] == one["coverage"] == 1.0
    assert four["latency_s"] < one["latency_s"] / 3
