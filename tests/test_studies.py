"""Data assembly for the study notebooks (aimclib.studies): every helper on small known tables,
plus the ones that read simulation results on a tiny network."""

import json

import numpy as np
import pandas as pd
import pytest

from aimclib import NetworkBuilder, simulate
from aimclib.errors import ParameterError
from aimclib.studies import (CORE_SHARES, achieved_coverage, budget_grid, choices_table,
                             config_summary,
                             coupling_ratio, fewest_tiles, gantt_intervals, layer_label,
                             layer_window, nearest_coverage, pareto_front, pareto_mask,
                             published_comparison, relative_to, save_study_table,
                             copy_threshold, saturation, sweep_layer_tiles, throughput_table,
                             tile_points, unit_budgets, utilisation_table)


# ------------------------------------------------------------------------ single layers
@pytest.mark.parametrize("spec, budgets", [
    ("dense:256:256", [0, 1]),                       # one tile holds it
    ("dense:1024:1024", [0, 4, 8, 12, 16]),          # 4 column blocks of 4 row blocks
    ("conv:512:512:3:7:1:1", [0, 18, 36]),           # k = 4608: 18 row blocks, 2 columns
    ("depthwise:64:3:14:1:1", [0, 1, 2, 3]),         # 28 groups of 9 x 1 per tile: 3 tiles
])
def test_unit_budgets(spec, budgets):
    assert unit_budgets(spec, "alpine-tight") == budgets


@pytest.mark.parametrize("spec, cores, points", [
    # one unit of 3 tiles (k = 576: 3 row blocks), then 2..8 whole copies
    ("conv:64:64:3:56:1:1", 8, [3, 6, 9, 12, 15, 18, 21, 24]),
    ("conv:64:64:3:56:1:1", 1, [3]),                  # one core drives one copy
    ("conv:64:64:3:2:1:1", 8, [3, 6, 9, 12]),          # 2x2 output: at most 4 copies
    ("dense:1024:1024", 8, [4, 8, 12, 16]),            # one position: no copies
    ("conv:320:1280:1:7:1:0", 2, [2, 4, 6, 8, 10, 20]),  # 5 units of 2 tiles, 2 copies
])
def test_tile_points(spec, cores, points):
    assert tile_points(spec, "alpine-tight", cores) == points


def test_tile_points_log_spaced_above_unit_points():
    # dense 25088x4096: 16 units of 98 tiles; with 4 unit points: units 1, 3 (2.5), 6, 16
    assert tile_points("dense:25088:4096", "alpine-tight", 8, unit_points=4) == \
        [98, 294, 588, 1568]


def test_sweep_layer_tiles_uses_each_layers_points_and_copies():
    df = sweep_layer_tiles(["dense:256:256", "conv:64:64:3:2:1:1"],
                           {"preset": ["alpine-tight"], "cores": [1, 4]},
                           executor="inprocess", progress=False)
    conv = df[df["layer"] == "conv:64:64:3:2:1:1"]
    assert conv[conv["cores"] == 4]["tiles"].tolist() == [3, 6, 9, 12]
    # 3 copies split the 4 positions 2/1/1: no faster than 2 copies, so 2 are kept
    assert conv[conv["cores"] == 4]["copies"].tolist() == [1.0, 2.0, 2.0, 4.0]
    assert df[df["layer"] == "dense:256:256"]["tiles"].tolist() == [1, 1]
    grid = df.attrs["provenance"]["config"]["grid"]
    assert grid["tiles"]["conv:64:64:3:2:1:1@1"] == [3]
    with pytest.raises(ParameterError, match="'replicate' comes from"):
        sweep_layer_tiles(["dense:256:256"], {"replicate": ["on"]})
    with pytest.raises(ParameterError, match="at least one layer"):
        sweep_layer_tiles([], {})


def test_saturation_fewest_tiles_within_the_level():
    df = pd.DataFrame({"layer": ["a"] * 4 + ["b"] * 3, "tiles": [1, 2, 4, 8, 1, 2, 3],
                       "speedup": [2.0, 9.0, 9.6, 10.0, 5.0, 4.0, 4.0]})
    sat = saturation(df, by=["layer"])
    # a: best 10, 95 % is 9.5 -> 4 tiles; b: best at the first point
    assert sat["tiles"].tolist() == [4, 1]
    assert sat["best"].tolist() == [10.0, 5.0]
    assert sat["last_tiles"].tolist() == [8, 3]
    assert saturation(df, by=["layer"], level=0.9)["tiles"].tolist() == [2, 1]
    with pytest.raises(ParameterError, match="level"):
        saturation(df, by=["layer"], level=1.5)


def test_copy_threshold_separates_positions():
    sat = pd.DataFrame({"gemm_m": [1, 16, 49, 196, 784, 3136],
                        "copies": [1.0, 1.0, 1.0, 2.0, 8.0, 8.0]})
    out = copy_threshold(sat)
    assert out == {"min_reuse": 196, "errors": 0, "need": [196, 784, 3136],
                   "no_need": [1, 16, 49]}
    # one layer against the trend: the fewest errors, the smallest threshold on ties
    sat.loc[1, "copies"] = 3.0
    out = copy_threshold(sat)
    assert (out["min_reuse"], out["errors"]) == (16, 1)  # 16 and 196 both miss one
    with pytest.raises(ParameterError, match="no curve needs copies"):
        copy_threshold(sat.assign(copies=1.0))


@pytest.mark.parametrize("spec, label", [
    ("dense:256:128", "dense 256→128"),
    ("conv:64:64:3:56:1:1", "conv 64→64 3x3 @56"),
    ("conv:64:128:3:56:2:1", "conv 64→128 3x3 @56 /2"),
    ("conv:64:64:3:56:1:1:4", "conv 64→64 3x3 @56 g=4"),
    ("depthwise:384:3:14:1:1", "depthwise 384ch 3x3 @14"),
])
def test_layer_label(spec, label):
    assert layer_label(spec) == label


@pytest.mark.parametrize("spec", ["dense:256", "pool:2:2", "conv:a:b:3:4", "dense:1:2:3"])
def test_layer_label_rejects_bad_specs(spec):
    with pytest.raises(ParameterError, match="layer spec"):
        layer_label(spec)


def test_coupling_ratio():
    df = pd.DataFrame({"gemm_m": [1, 1, 49, 49], "cores": 1,
                       "coupling": ["tight", "loose", "tight", "loose"],
                       "speedup": [8.0, 2.0, 4.0, 6.0]})
    out = coupling_ratio(df, ["gemm_m", "cores"])
    assert out["gemm_m"].tolist() == [1, 49]
    assert out["ratio"].tolist() == [0.25, 1.5]
    with pytest.raises(ParameterError, match="loose"):
        coupling_ratio(df[df["coupling"] == "tight"], ["gemm_m"])
    with pytest.raises(ParameterError, match="no column"):
        coupling_ratio(df, ["layer"])


# ------------------------------------------------------------------------ whole networks
def _coverage_table():
    return pd.DataFrame({
        "network": ["b", "b", "b", "a", "a"],
        "tiles": [10, 20, 30, 5, 7],
        "coverage": [0.5, 0.5, 0.5, 0.5, 0.5],            # the targets of a coverage sweep
        "achieved_coverage": [0.25, 0.5625, 0.375, 0.25, 0.75],
        "speedup": [1.5, 2.0, 1.8, 1.2, 1.3], "energy_gain": [1.4, 1.6, 1.5, 1.1, 1.2]})


def test_nearest_coverage_uses_achieved_coverage_and_keeps_group_order():
    near = nearest_coverage(_coverage_table(), 0.5, ["network"])
    assert near["network"].tolist() == ["b", "a"]
    assert near["tiles"].tolist() == [20, 5]          # a: a tie (0.25 each way): fewer tiles
    assert achieved_coverage(near) == "achieved_coverage"
    assert achieved_coverage(near.drop(columns="achieved_coverage")) == "coverage"
    with pytest.raises(ParameterError, match="share in"):
        nearest_coverage(_coverage_table(), 41, ["network"])


def test_published_comparison():
    out = published_comparison(_coverage_table(), 0.75, 4.0, 2.0, ["network"])
    assert out["network"].tolist() == ["b", "a"]
    assert out["tiles"].tolist() == [20, 7]
    assert out["coverage"].tolist() == [0.5625, 0.75]
    assert out["speedup_ratio"].tolist() == [0.5, 0.325]
    assert out["energy_gain_ratio"].tolist() == [0.8, 0.6]
    assert (out["published_speedup"] == 4.0).all()


def test_pareto_mask():
    df = pd.DataFrame({"tiles": [1, 2, 2, 3, 2, 4],
                       "speedup": [1.0, 2.0, 1.5, 2.0, 2.0, 3.0]})
    mask = pareto_mask(df, minimize=["tiles"], maximize=["speedup"])
    # (2, 1.5) and (3, 2.0) are dominated by (2, 2.0); the duplicate (2, 2.0) stays
    assert mask.tolist() == [True, True, False, False, True, True]
    with pytest.raises(ParameterError, match="at least one"):
        pareto_mask(df)
    with pytest.raises(ParameterError, match="NaN"):
        pareto_mask(df.assign(speedup=np.nan), maximize=["speedup"])


def test_pareto_front_is_per_group_and_three_objectives():
    df = pd.DataFrame({"network": ["x", "x", "x", "y"],
                       "tiles_used": [10, 20, 20, 50],
                       "speedup": [2.0, 2.0, 3.0, 1.0],
                       "energy_gain": [1.0, 3.0, 2.0, 1.0]})
    out = pareto_front(df)
    # (20, 2.0, 3.0) trades speed for energy against (20, 3.0, 2.0): both on the front;
    # y's only point is on its own front whatever x does
    assert out["pareto"].tolist() == [True, True, True, True]
    out = pareto_front(df.assign(energy_gain=[1.0, 1.0, 2.0, 1.0]))
    assert out["pareto"].tolist() == [True, False, True, True]


def test_fewest_tiles():
    df = pd.DataFrame({"network": ["n"] * 4 + ["m"] * 2,
                       "tiles": [0, 10, 20, 40, 0, 8],
                       "coverage": [0.0, 0.2, 0.5, 1.0, 0.0, 1.0],
                       "speedup": [1.0, 1.6, 2.4, 2.2, 1.0, 1.2]})
    out = fewest_tiles(df, [1.5, 2.0, 3.0], tiles="tiles")
    n = out[out["network"] == "n"].set_index("target")
    assert n["tiles"].tolist()[:2] == [10.0, 20.0]
    assert n["coverage"].tolist()[:2] == [0.2, 0.5]
    assert n["reached"].tolist() == [True, True, False]
    assert np.isnan(n.loc[3.0, "tiles"]) and n.loc[3.0, "best"] == 2.4
    m = out[out["network"] == "m"]
    assert not m["reached"].any() and (m["best"] == 1.2).all()
    with pytest.raises(ParameterError, match="at least one target"):
        fewest_tiles(df, [], tiles="tiles")


def test_budget_grid():
    assert budget_grid(10, 3) == [0, 1, 3, 10]
    assert budget_grid(100, 3, min_tiles=4, include_zero=False) == [4, 20, 100]
    grid = budget_grid(2121, 60)
    assert grid[0] == 0 and grid[-1] == 2121 and grid == sorted(set(grid))
    with pytest.raises(ParameterError, match="max_tiles"):
        budget_grid(2, 5, min_tiles=4)
    with pytest.raises(ParameterError, match="points"):
        budget_grid(10, 1)


def test_relative_to():
    df = pd.DataFrame({"allocation": ["optimal", "greedy", "optimal", "greedy"],
                       "tiles": [8, 8, 16, 16], "speedup": [2.0, 1.5, 4.0, 4.0]})
    out = relative_to(df, "allocation", "optimal", ["tiles"])
    assert out["speedup_vs_optimal"].tolist() == [1.0, 0.75, 1.0, 1.0]
    with pytest.raises(ParameterError, match="no row has"):
        relative_to(df, "allocation", "best", ["tiles"])
    with pytest.raises(ParameterError, match="several"):
        relative_to(df, "allocation", "optimal", ["allocation"])
    with pytest.raises(ParameterError, match="at least one column"):
        relative_to(df, "allocation", "optimal", [])


# ------------------------------------------------------------------------ schedules
def _trace():
    return pd.DataFrame({
        "resource": ["core", "core", "core", "tile", "tile", "tile"],
        "id": [0, 1, 0, 0, 3, 5],
        "layer": ["a", "a", "b", "a", "b", "b"],
        "task": [0, 1, 0, 0, 0, 1],
        "kind": ["analog", "digital", "digital", "mvm", "mvm", "mvm"],
        "start_s": [0.0, 0.0, 2.0, 0.5, 2.0, 2.5],
        "end_s": [1.0, 2.0, 3.0, 1.0, 2.5, 3.0]})


def test_gantt_intervals_rows_and_bins():
    g = gantt_intervals(_trace(), tile_rows="bins", tile_bins=2)
    rows = g.drop_duplicates("row_pos").set_index("row_pos")["row"].to_dict()
    assert rows == {0: "core 0", 1: "core 1", 2: "tiles 0-2", 3: "tiles 3-5"}
    assert len(g) == 6
    assert g["row_pos"].is_monotonic_increasing


def test_gantt_intervals_window_each_tile_and_owners():
    tiles = pd.DataFrame({"tile": [0, 3, 5], "owner_core": [1, 0, -1]})
    g = gantt_intervals(_trace(), window=(0.8, 2.2), tile_rows="each", tiles=tiles,
                        relative=True)
    # the window keeps what overlaps it, clipped, and counts from its start
    assert sorted(g["row"].unique()) == ["core 0", "core 1", "tile 0 (core 1)", "tile 3 (core 0)"]
    wide = gantt_intervals(_trace(), tile_rows="each", tiles=tiles)
    assert "tile 5 (shared)" in set(wide["row"])  # a loose tile: same form, no owner
    core0 = g[g["row"] == "core 0"].sort_values("start_s")
    assert np.allclose(core0[["start_s", "end_s"]].to_numpy(), [[0.0, 0.2], [1.2, 1.4]])
    assert np.isclose(g["start_s"].min(), 0.0) and np.isclose(g["end_s"].max(), 1.4)
    assert gantt_intervals(_trace(), tile_rows="none")["resource"].eq("core").all()


@pytest.mark.parametrize("kwargs, match", [
    ({"tile_rows": "all"}, "tile_rows"), ({"tile_bins": 0}, "tile_bins"),
    ({"window": (2.0, 1.0)}, "window"),
])
def test_gantt_intervals_rejects_bad_options(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        gantt_intervals(_trace(), **kwargs)


def test_layer_window():
    layers = pd.DataFrame({"layer": ["a", "b", "c"], "start_s": [0.0, 1.0, 3.0],
                           "end_s": [1.0, 3.0, 4.0]})
    assert layer_window(layers, "a", "b") == (0.0, 3.0)
    assert layer_window(layers, "c") == (3.0, 4.0)
    with pytest.raises(ParameterError, match="no layer 'z'"):
        layer_window(layers, "z")
    with pytest.raises(ParameterError, match="execution order"):
        layer_window(layers, "c", "a")


@pytest.fixture(scope="module")
def results():
    b = NetworkBuilder("tiny", (16, 16, 16))
    x = b.conv(b.input, 32, 3, padding=1, name="c1")
    x = b.act("relu", x, name="r1")
    b.conv(x, 32, 3, padding=1, name="c2")
    net = b.build()
    return {(coupling, bal): simulate(net, f"alpine-{coupling}", cores=2, tiles=2, balancer=bal)
            for coupling in ("tight", "loose") for bal in ("static-even", "work-stealing")}


def test_utilisation_table_adds_up(results):
    util = utilisation_table(results)
    assert len(util) == 4 * 2 * len(CORE_SHARES)
    assert util["component"].tolist()[:4] == list(CORE_SHARES)
    per_core = util.groupby(["coupling", "balancer", "core"])["share_pct"].sum()
    assert np.allclose(per_core, 100.0)
    r = results[("tight", "static-even")]
    digital = util[(util["coupling"] == "tight") & (util["balancer"] == "static-even")
                   & (util["component"] == "digital")]["seconds"]
    assert np.allclose(digital, r.cores["digital_s"])


def test_config_summary(results):
    s = config_summary(results)
    assert s[["coupling", "balancer"]].values.tolist() == [
        ["tight", "static-even"], ["tight", "work-stealing"], ["loose", "static-even"],
        ["loose", "work-stealing"]]
    r = results[("loose", "work-stealing")]
    row = s.iloc[3]
    assert row["latency_ms"] == pytest.approx(1e3 * r.latency_s)
    assert row["speedup"] == pytest.approx(r.speedup)
    assert row["min_utilisation_pct"] <= row["mean_utilisation_pct"] <= row[
        "max_utilisation_pct"] <= 100.0 + 1e-9
    with pytest.raises(ParameterError, match="names"):
        config_summary(results, names=("coupling",))


def test_save_study_table_records_notebook_and_sweep(tmp_path):
    df = pd.DataFrame({"x": [1.0, 2.0]})
    df.attrs["provenance"] = {"config": {"study": "network", "grid": {"tiles": [1, 2]}}}
    path = save_study_table(df, tmp_path / "t.csv", "99_test", extra=3)
    meta = json.loads((tmp_path / "t.provenance.json").read_text())
    assert meta["config"]["notebook"] == "99_test" and meta["config"]["extra"] == 3
    assert meta["config"]["sweep"]["grid"] == {"tiles": [1, 2]}
    assert pd.read_csv(path)["x"].tolist() == [1.0, 2.0]
    derived = pd.DataFrame({"y": [0]})
    save_study_table(derived, tmp_path / "d.csv", "99_test", source=df)
    meta = json.loads((tmp_path / "d.provenance.json").read_text())
    assert meta["config"]["sweep"]["study"] == "network"


# ------------------------------------------------------ replication, schedules, throughput
def _choices_sweep():
    """Two networks x two choices each (hand-made numbers): the reference row's baseline is
    the barrier all-digital run (2.0 s, 4.0 J for "a"); the pipelined row's own baseline
    (2.2 s) must not be used."""
    return pd.DataFrame({
        "network": ["a", "a", "a", "b", "b"],
        "coupling": ["tight"] * 5,
        "cores": [8] * 5,
        "replicate": ["off", "on", "off", "off", "off"],
        "schedule": ["barrier", "barrier", "pipelined", "barrier", "dag"],
        "tiles": [10, 10, 10, 4, 4],
        "tiles_used": [10, 10, 10, 4, 4],
        "achieved_coverage": [0.4, 0.3, 0.4, 0.5, 0.5],
        "latency_s": [0.5, 0.4, 0.25, 1.0, 0.8],
        "energy_j": [1.0, 0.8, 2.0, 3.0, 3.0],
        "baseline_latency_s": [2.0, 2.0, 2.2, 3.0, 3.0],
        "baseline_energy_j": [4.0, 4.0, 4.4, 6.0, 6.0],
    })


def test_choices_table_against_the_barrier_baseline_and_reference():
    out = choices_table(_choices_sweep())
    assert out["speedup"].tolist() == [4.0, 5.0, 8.0, 3.0, 3.75]  # 2.0 / latency, 3.0 / ..
    assert out["energy_gain"].tolist() == [4.0, 5.0, 2.0, 2.0, 2.0]
    assert out["latency_gain"].tolist() == [1.0, 1.25, 2.0, 1.0, 1.25]
    assert out["energy_ratio"].tolist() == [1.0, 1.25, 0.5, 1.0, 1.0]
    assert out["latency_ms"].tolist() == [500.0, 400.0, 250.0, 1000.0, 800.0]
    assert out["coverage"].tolist() == [0.4, 0.3, 0.4, 0.5, 0.5]


def test_choices_table_needs_one_reference_row_per_group():
    df = _choices_sweep()
    with pytest.raises(ParameterError, match="no replicate='off', schedule='barrier' row"):
        choices_table(df.drop(index=3))
    with pytest.raises(ParameterError, match="one row per group and choice"):
        choices_table(pd.concat([df, df.iloc[[0]]]))
    with pytest.raises(ParameterError, match="no column"):
        choices_table(df.drop(columns="baseline_latency_s"))


def test_throughput_table_against_batch_one():
    df = pd.DataFrame({"network": ["a", "a"], "coupling": ["loose"] * 2, "cores": [8, 8],
                       "replicate": ["off"] * 2, "batch": [8, 8],
                       "throughput": ["batch", "pipelined"],
                       "inferences_per_s": [2.0, 5.0], "energy_per_inference_j": [0.5, 0.2],
                       "latency_s": [0.25, 0.25], "energy_j": [0.4, 0.4]})
    out = throughput_table(df)
    assert out["batch1_inferences_per_s"].tolist() == [4.0, 4.0]
    assert out["throughput_gain"].tolist() == [0.5, 1.25]
    assert out["energy_per_inference_mj"].tolist() == [500.0, 200.0]
    assert out["energy_per_inference_ratio"].tolist() == [1.25, 0.5]
    with pytest.raises(ParameterError, match="batch >= 2"):
        throughput_table(df.assign(batch=1))


def test_choice_figures_draw_every_bar():
    from aimclib.plotting import plot_choices, plot_throughput_choices

    table = choices_table(_choices_sweep())
    fig = plot_choices(table)
    bars = [p for ax in fig.axes for p in ax.patches]
    # 2 value rows x (3 schedules x 2 replication choices) x 2 networks; the 5 choices present
    # are drawn in both rows, the others are empty (NaN) slots
    assert len(bars) == 2 * 6 * 2
    heights = sorted(b.get_height() for b in bars if np.isfinite(b.get_height()))
    assert heights == sorted(table["speedup"].tolist() + table["energy_gain"].tolist())
    with pytest.raises(ParameterError, match="one row per"):
        plot_choices(pd.concat([table, table]))
    tput = throughput_table(pd.DataFrame({
        "network": ["a", "a"], "coupling": ["loose"] * 2, "cores": [8, 8],
        "replicate": ["off"] * 2, "batch": [8, 8], "throughput": ["batch", "pipelined"],
        "inferences_per_s": [2.0, 5.0], "energy_per_inference_j": [0.5, 0.2],
        "latency_s": [0.25, 0.25], "energy_j": [0.4, 0.4]}))
    fig = plot_throughput_choices(tput)
    assert sorted(p.get_height() for ax in fig.axes for p in ax.patches) == [0.5, 0.5, 1.25,
                                                                               1.25]
    with pytest.raises(ParameterError, match="one row per network"):
        plot_throughput_choices(pd.concat([tput, tput]))
