"""Parameter sweeps (aimclib.sweep): grid expansion and columns, equality of the in-process,
process-pool and Dask executors, coverage targets, the resumable cache (re-runs, interrupted
runs, edited overrides and presets, network files), layer specs, errors, provenance and the
``aimc sweep`` command."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

import aimclib
from aimclib import cli, layer_cost, load_system
from aimclib import sweep as sweep_mod
from aimclib.csvio import write_csv
from aimclib.errors import AimcError, LayerSpecError
from aimclib.simulate import simulate, tiles_for_coverage
from aimclib.sweep import COMPONENTS, save_sweep, sweep
from aimclib.zoo import get_network

NET = "squeezenet1_1"
RESULTS = ["coupling", "cores", "tiles", "latency_s", "energy_j", "baseline_latency_s",
           "baseline_energy_j", "speedup", "energy_gain", "coverage", "mac_coverage",
           "tiles_used"]
BREAKDOWN = [col for c in COMPONENTS for col in (f"time_{c}_s", f"energy_{c}_j")]
LAYER_RESULTS = ["kind", "gemm_m", "gemm_k", "gemm_n", "groups", "macs", "weights",
                 "tiles_needed", "tiles_used", "coverage", "utilisation", "latency_s",
                 "energy_j", "baseline_latency_s", "baseline_energy_j", "speedup",
                 "energy_gain", "coupling", "cores", "tiles"]
# two networks x three budgets x two balancers: several chunks per executor
EXEC_GRID = {"network": [NET, "resnet18"], "tiles": [0, 16, 64],
             "balancer": ["static-balanced", "work-stealing"]}


def run(grid, **kwargs) -> pd.DataFrame:
    return sweep(grid, executor=kwargs.pop("executor", "inprocess"), progress=False, **kwargs)


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal values, dtypes and columns, floats bit for bit."""
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.to_dict("records") == b.to_dict("records")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    """EXEC_GRID computed in this process without a cache."""
    return run(EXEC_GRID)


# ------------------------------------------------------------------------------ grid
def test_rows_follow_the_product_order_and_match_simulate():
    grid = {"network": NET, "tiles": np.array([0, 8]),
            "balancer": ["static-even", "work-stealing"], "seed": 1}
    df = run(grid)
    assert list(df.columns) == ["network", "tiles", "balancer", "seed"] + [
        c for c in RESULTS if c != "tiles"] + BREAKDOWN
    assert list(zip(df["tiles"], df["balancer"])) == list(
        itertools.product([0, 8], ["static-even", "work-stealing"]))
    assert (df["network"] == NET).all() and (df["seed"] == 1).all()
    assert df["tiles"].dtype == np.int64 and type(df.attrs["provenance"]["config"]["grid"][
        "tiles"][1]) is int
    for row in df.to_dict("records"):
        r = simulate(NET, "alpine-tight", tiles=row["tiles"], balancer=row["balancer"], seed=1)
        s = r.summary()
        assert {k: row[k] for k in RESULTS} == {k: s[k] for k in RESULTS}
        for c in COMPONENTS:
            assert row[f"time_{c}_s"] == r.breakdown[c]["seconds"]
            assert row[f"energy_{c}_j"] == r.breakdown[c]["joules"]
        assert row["cores"] == 8 and row["coupling"] == "tight"
    assert df.loc[3, "speedup"] > 1.0  # work stealing with 8 tiles beats all-digital
    assert df.attrs["sweep"] == {"computed": 4, "cached": 0}


def test_preset_overrides_and_cores_reach_the_system():
    df = run({"network": NET, "preset": "alpine-loose", "cores": [2, 4], "tiles": 8,
              "set:tile.mvm_latency_s": [1e-7, 3e-7]})
    assert list(df.columns[:5]) == ["network", "preset", "cores", "tiles",
                                    "set:tile.mvm_latency_s"]
    assert (df["coupling"] == "loose").all() and list(df["cores"]) == [2, 2, 4, 4]
    hw = load_system("alpine-loose", tile__mvm_latency_s=3e-7)
    assert df.loc[3, "latency_s"] == simulate(NET, hw, cores=4, tiles=8).latency_s
    assert df.loc[1, "latency_s"] > df.loc[0, "latency_s"]  # slower MVMs


def test_coverage_targets_resolve_to_the_nearest_budget():
    targets = [0.25, 0.6, 1.0]
    df = run({"network": NET, "coverage": targets})
    assert list(df["coverage"]) == targets  # the grid value stays; achieved is separate
    hw = load_system("alpine-tight")
    for target, tiles, achieved in zip(targets, df["tiles"], df["achieved_coverage"]):
        assert tiles == tiles_for_coverage(NET, hw, target, "optimal")
        assert achieved == simulate(NET, hw, tiles=int(tiles)).coverage
        for other in (tiles - 1, tiles + 1):
            if other >= 0:
                assert abs(simulate(NET, hw, tiles=int(other)).coverage - target) >= abs(
                    achieved - target)
    assert df["achieved_coverage"].iloc[-1] == 1.0
    assert df["tiles"].is_monotonic_increasing


# ------------------------------------------------------------------------------ executors
@pytest.mark.slow
def test_process_pool_equals_in_process(reference):
    df = run(EXEC_GRID, executor="processes", workers=2)
    same(df, reference)
    assert df.attrs["provenance"]["config"]["executor"] == "processes"


def test_chunking_does_not_change_results(reference):
    same(run(EXEC_GRID, chunk_size=1), reference)


@pytest.mark.dask
@pytest.mark.slow
def test_dask_local_cluster_equals_in_process(reference):
    pytest.importorskip("distributed")
    same(run(EXEC_GRID, executor="dask", workers=2), reference)


# ------------------------------------------------------------------------------ cache
def test_second_run_reads_everything_from_the_cache(tmp_path):
    grid = {"network": NET, "tiles": [0, 8, 32], "balancer": ["static-even", "work-stealing"]}
    first = run(grid, cache=tmp_path / "c")
    assert first.attrs["sweep"] == {"computed": 6, "cached": 0}
    assert (tmp_path / "c" / sweep_mod.CACHE_FILE).is_file()
    again = run(grid, cache=tmp_path / "c")
    assert again.attrs["sweep"] == {"computed": 0, "cached": 6}
    same(again, first)
    # one more budget computes only its points; spelling out a default changes nothing
    more = run({**grid, "tiles": [0, 8, 32, 64], "allocation": "optimal"}, cache=tmp_path / "c")
    assert more.attrs["sweep"] == {"computed": 2, "cached": 6}
    same(more.drop(columns="allocation").iloc[:6], first)


def test_interrupted_sweep_resumes_with_the_rest(tmp_path, monkeypatch):
    grid = {"network": NET, "tiles": [0, 4, 8, 16, 32]}
    calls = []
    real = sweep_mod._network_point

    def interrupted(**task):
        calls.append(task["system"].tiles)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(**task)

    monkeypatch.setattr(sweep_mod, "_network_point", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(grid, cache=tmp_path, chunk_size=1)
    monkeypatch.setattr(sweep_mod, "_network_point", real)
    resumed = run(grid, cache=tmp_path, chunk_size=1)
    assert resumed.attrs["sweep"] == {"computed": 3, "cached": 2}
    same(resumed, run(grid))


def test_failed_worker_chunk_keeps_the_finished_ones(tmp_path, monkeypatch, reference):
    """A point failing in a worker process: the chunks that finished are in the cache."""
    real_point = sweep_mod._Resolver.point

    def poisoned(self, index, point):
        p = real_point(self, index, point)
        if index == len(reference) - 1:  # the last chunk submitted
            p.task["balancer"] = "no-such-balancer"
        return p

    monkeypatch.setattr(sweep_mod._Resolver, "point", poisoned)
    with pytest.raises(AimcError, match="no-such-balancer"):
        run(EXEC_GRID, executor="processes", workers=2, cache=tmp_path, chunk_size=1)
    monkeypatch.setattr(sweep_mod._Resolver, "point", real_point)
    resumed = run(EXEC_GRID, cache=tmp_path)
    assert resumed.attrs["sweep"] == {"computed": 1, "cached": len(reference) - 1}
    same(resumed, reference)


def test_changed_override_recomputes_only_its_points(tmp_path):
    grid = {"network": NET, "tiles": [0, 16], "set:tile.mvm_latency_s": [1e-7, 2e-7]}
    run(grid, cache=tmp_path)
    changed = {**grid, "set:tile.mvm_latency_s": [1e-7, 3e-7]}
    df = run(changed, cache=tmp_path)
    assert df.attrs["sweep"] == {"computed": 2, "cached": 2}
    same(df, run(changed))


def test_edited_preset_recomputes_only_its_points(tmp_path):
    preset = tmp_path / "mine.toml"
    text = 'name = "mine"\nbase = "alpine-tight"\n[tile]\nmvm_latency_s = {}\n'
    preset.write_text(text.format("2e-7"))
    grid = {"network": NET, "preset": ["alpine-tight", str(preset)], "tiles": [8, 32]}
    first = run(grid, cache=tmp_path / "c")
    assert first.attrs["sweep"] == {"computed": 4, "cached": 0}
    presets = first.attrs["provenance"]["config"]["presets"]
    assert presets[str(preset)]["parameters"]["tile"]["mvm_latency_s"] == 2e-7
    preset.write_text(text.format("4e-7"))
    edited = run(grid, cache=tmp_path / "c")
    assert edited.attrs["sweep"] == {"computed": 2, "cached": 2}
    same(edited, run(grid))
    same(edited.iloc[:2], first.iloc[:2])
    assert (edited["latency_s"].iloc[2:].to_numpy() > first["latency_s"].iloc[2:].to_numpy()
            ).all()


def test_network_files_are_keyed_by_content(tmp_path):
    path = tmp_path / "net.csv"
    write_csv(get_network(NET), path)
    grid = {"network": str(path), "tiles": [0, 16]}
    df = run(grid, cache=tmp_path / "c")
    zoo = run({"network": NET, "tiles": [0, 16]})
    assert list(df["latency_s"]) == list(zoo["latency_s"])
    ident = df.attrs["provenance"]["config"]["networks"][str(path)]
    assert ident["path"] == str(path) and len(ident["sha256"]) == 64
    assert run(grid, cache=tmp_path / "c").attrs["sweep"] == {"computed": 0, "cached": 2}
    write_csv(get_network("resnet18"), path)
    other = run(grid, cache=tmp_path / "c")
    assert other.attrs["sweep"] == {"computed": 2, "cached": 0}
    assert list(other["latency_s"]) == list(run({"network": "resnet18",
                                                 "tiles": [0, 16]})["latency_s"])


# ------------------------------------------------------------------------------ layers
@pytest.mark.parametrize("spec,shape", [
    ("dense:256:256", ("linear", 1, 256, 256, 1)),
    ("conv:64:64:3:56", ("conv", 54 * 54, 576, 64, 1)),
    ("conv:64:64:3:56:1:1", ("conv", 56 * 56, 576, 64, 1)),
    ("conv:64:128:3:56:2:1:4", ("conv", 28 * 28, 144, 32, 4)),
    ("depthwise:32:3:112:1:1", ("conv", 112 * 112, 9, 1, 32)),
    (" Depthwise:32:3:112:2 ", ("conv", 55 * 55, 9, 1, 32)),
])
def test_layer_spec_builds_the_layer(spec, shape):
    info = sweep_mod.layer_spec(spec).info[0]
    assert (info.kind, info.m, info.k, info.n, info.g) == shape
    assert info.biases == 0


@pytest.mark.parametrize("spec,why", [
    ("dense:256", "takes 2 to 2 numbers, got 1"),
    ("conv:64:64:3", "takes 4 to 7 numbers, got 3"),
    ("depthwise:32:3:112:1:1:1", "takes 3 to 5 numbers, got 6"),
    ("pool:2:2", "unknown kind 'pool'"),
    ("conv:a:64:3:56", "CIN = 'a' is not an integer"),
    ("dense:0:10", "IN = 0 must be >= 1"),
    ("conv:64:64:3:56:1:-1", "PAD = -1 must be >= 0"),
    ("conv:64:64:3:56:1:1:3", "conv:64:64:3:56:1:1:3"),  # 3 groups do not divide 64
    ("conv:3:8:7:4", "conv:3:8:7:4"),  # a 7x7 kernel on a 4x4 input
    (256, "a spec is a string"),
])
def test_bad_layer_specs_name_the_spec_and_the_forms(spec, why):
    with pytest.raises(LayerSpecError) as exc:
        sweep_mod.layer_spec(spec)
    message = str(exc.value)
    assert why in message and repr(spec) in message
    assert "dense:IN:OUT" in message and "depthwise:C:K:HW[:STRIDE[:PAD]]" in message


def test_layer_study_matches_layer_cost():
    specs = ["dense:256:256", "conv:64:64:3:56:1:1"]
    df = run({"layer": specs, "tiles": [0, 1, 3], "cores": 1, "set:tile.static_power_w": 2e-3},
             study="layer")
    assert list(df.columns) == ["layer", "tiles", "cores", "set:tile.static_power_w"] + [
        c for c in LAYER_RESULTS if c not in ("tiles", "cores")] + BREAKDOWN
    assert list(df["layer"]) == [s for s in specs for _ in range(3)]
    assert list(df["kind"]) == ["dense"] * 3 + ["conv"] * 3
    hw = load_system(tile__static_power_w=2e-3)
    for row in df.to_dict("records"):
        info = sweep_mod.layer_spec(row["layer"]).info[0]
        want = layer_cost(info, hw, 1, row["tiles"]).to_dict()
        for key in ("tiles_needed", "tiles_used", "coverage", "utilisation", "latency_s",
                    "energy_j", "baseline_latency_s", "baseline_energy_j", "speedup",
                    "energy_gain", "coupling", "cores", "tiles"):
            assert row[key] == want[key], key
        assert row["time_idle_s"] == want["breakdown"]["idle"]["seconds"]
        assert (row["gemm_m"], row["gemm_k"], row["gemm_n"], row["groups"]) == (
            info.m, info.k, info.n, info.g)
        assert row["macs"] == info.macs and row["weights"] == info.weights
    assert list(df["tiles_used"]) == [0, 1, 1, 0, 0, 3]  # the conv's unit needs 3 tiles


def test_equal_layers_share_a_cache_entry_and_keep_their_spelling(tmp_path):
    specs = ["conv:64:64:3:56", "CONV:64:64:3:56:1:0:1"]
    df = run({"layer": specs, "tiles": 3}, study="layer", cache=tmp_path)
    assert df.attrs["sweep"] == {"computed": 1, "cached": 0}
    assert list(df["layer"]) == specs
    same(df.drop(columns="layer").iloc[[0]], df.drop(columns="layer").iloc[[1]].set_axis([0]))
    again = run({"layer": specs[1], "tiles": 3}, study="layer", cache=tmp_path)
    assert again.attrs["sweep"] == {"computed": 0, "cached": 1}
    assert again.loc[0, "layer"] == specs[1] and again.loc[0, "kind"] == "conv"


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("grid,kwargs,message", [
    ({"network": NET, "tile": [1]}, {}, "unknown grid key 'tile' for study 'network'; "
     "accepted: network, preset, cores, tiles, coverage"),
    ({"network": NET, "tiles": []}, {}, "grid['tiles'] is an empty list"),
    ({"network": NET, "tiles": [1], "coverage": [0.5]}, {}, "both 'tiles' and 'coverage'"),
    ({"network": NET}, {"executor": "threads"}, "executor must be one of inprocess, processes, "
     "dask, got 'threads'"),
    ({"tiles": [1]}, {}, "needs grid key 'network'"),
    ({"network": NET, "tiles": [-1]}, {}, "grid['tiles']: -1 is not an integer >= 0"),
    ({"network": NET, "balancer": "fast"}, {}, "grid['balancer']: 'fast' is not one of"),
    ({"network": NET, "coverage": 1.5}, {}, "is not a share of the MVM weights in [0, 1]"),
    ({"network": "resnet51"}, {}, "grid['network'] = 'resnet51': unknown network"),
    ({"network": NET, "preset": "nope"}, {}, "grid['preset'] = 'nope': unknown preset"),
    ({"network": NET, "set:tile.rows": [0]}, {}, "grid point 0 (network='squeezenet1_1', "
     "set:tile.rows=0)"),
    ({"network": NET, "layer": "dense:1:1"}, {}, "unknown grid key 'layer'"),
    ({"layer": "dense:1:1", "coverage": 0.5}, {"study": "layer"}, "unknown grid key "
     "'coverage' for study 'layer'; accepted: layer, preset, cores, tiles, balancer, seed"),
    ({"layer": "dense:1"}, {"study": "layer"}, "bad layer spec 'dense:1'"),
    ({"layer": "conv:3:8:7:4"}, {"study": "layer"}, "bad layer spec 'conv:3:8:7:4'"),
    ({"network": NET}, {"study": "layers"}, "study must be one of network, layer, got 'layers'"),
    ({"network": NET}, {"address": "tcp://127.0.0.1:8786"}, "use it with executor='dask'"),
    ({"network": NET}, {"workers": 0}, "workers must be an integer >= 1"),
    ([("network", NET)], {}, "grid must be a mapping"),
])
def test_bad_sweeps_are_rejected_before_running(grid, kwargs, message):
    with pytest.raises(AimcError) as exc:
        run(grid, **kwargs)
    assert message in str(exc.value)


# ------------------------------------------------------------------------------ provenance
def test_save_sweep_writes_the_table_and_its_provenance(tmp_path):
    df = run({"network": NET, "tiles": [0, 8], "set:tile.mvm_latency_s": 2e-7})
    path = save_sweep(df, tmp_path / "out" / "x.csv")
    assert path == tmp_path / "out" / "x.csv"
    back = pd.read_csv(path)
    assert list(back.columns) == list(df.columns)
    assert back["latency_s"].tolist() == df["latency_s"].tolist()  # %.17g is lossless
    meta = json.loads((tmp_path / "out" / "x.provenance.json").read_text())
    config = meta["config"]
    assert config["study"] == "network" and config["executor"] == "inprocess"
    assert config["grid"] == {"network": [NET], "tiles": [0, 8],
                              "set:tile.mvm_latency_s": [2e-7]}
    preset = config["presets"]["alpine-tight"]
    assert preset["parameters"] == load_system("alpine-tight").to_dict()
    assert preset["file"] == "presets/alpine-tight.toml" and len(preset["sha256"]) == 64
    assert meta["versions"]["aimclib"] == aimclib.__version__
    assert {"numpy", "pandas", "dask", "python"} <= set(meta["versions"])
    # the tracked record holds only inputs: no date, machine or absolute path; saving again
    # rewrites the same bytes, and the run's date and machine go to the untracked sidecar
    text = (tmp_path / "out" / "x.provenance.json").read_text()
    assert "created_utc" not in text and "machine" not in text and '"/' not in text
    save_sweep(df, path)
    assert (tmp_path / "out" / "x.provenance.json").read_text() == text
    local = json.loads((tmp_path / "out" / "x.provenance.local.json").read_text())
    assert local["created_utc"] and local["machine"]["platform"]
    with pytest.raises(AimcError, match="no sweep provenance"):
        save_sweep(pd.DataFrame({"a": [1]}), tmp_path / "y.csv")


# ------------------------------------------------------------------------------ command
def test_aimc_sweep_writes_csv_and_summary(tmp_path, capsys):
    out = tmp_path / "s.csv"
    argv = ["sweep", "--network", NET, "--tiles", "0,8", "--balancer",
            "static-even,work-stealing", "--set", "tile.mvm_latency_s=1e-7",
            "--executor", "inprocess", "--cache", str(tmp_path / "c"), "--no-progress",
            "-o", str(out)]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "4 points (4 computed, 0 from the cache)" in text
    assert "work-stealing" in text and "speedup" in text
    df = pd.read_csv(out)
    assert list(zip(df["tiles"], df["balancer"])) == list(
        itertools.product([0, 8], ["static-even", "work-stealing"]))
    assert (tmp_path / "s.provenance.json").is_file()
    assert cli.main(argv) == 0
    assert "4 points (0 computed, 4 from the cache)" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["--tiles", "0,,8"], "--tiles takes a comma-separated list without empty items"),
    (["--tiles", "8", "--coverage", "0.5"], "both 'tiles' and 'coverage'"),
    (["--set", "tile.mvm_latency_s"], "--set takes SECTION.FIELD=V1,V2,..."),
    (["--executor", "threads"], "executor must be one of inprocess, processes, dask, got 'threads'"),
])
def test_aimc_sweep_errors(tmp_path, capsys, argv, message):
    code = cli.main(["sweep", "--network", NET, *argv, "-o", str(tmp_path / "x.csv")])
    assert code == 2 and message in capsys.readouterr().err
