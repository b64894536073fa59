"""Regression tests of issue 12 ("nothing lost, nothing stale, nothing hangs"): one test (or
parametrized case) per reported case, in the issue's order, then the fuzz test of load,
simulate and JSON output."""

from __future__ import annotations

import json
import math
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import aimclib
from aimclib import NetworkBuilder, cli, layer_cost, load_network, load_system, simulate
from aimclib import calibrate as cal
from aimclib import sweep as sweep_mod
from aimclib.errors import (AimcError, CacheError, LimitError, ModelFormatError, OutputError,
                            ParameterError)
from aimclib.functional import MAX_ROWS, quantize, tile_mvm
from aimclib.placement import _owner_sequence
from aimclib.sweep import SweepInterrupted, sweep
from aimclib.system import PresetError
from aimclib.validation import (MAX_CORES, MAX_SEED, check_choice, check_float, check_int,
                                check_seed, json_text, stream_seed)

simulate_mod = sys.modules["aimclib.simulate"]  # the package's `simulate` is the function
NET = "squeezenet1_1"
PACKAGE = Path(aimclib.__file__).parent
PARAMS = {"clock_hz": 3.0e9, "simd_bits": 256, "mac_lane_bits": 32,
          "simd_issue_per_cycle": 2.0, "gemm_efficiency": 0.4, "gemm_k_half": 7.5,
          "gemm_n_half": 12.0, "depthwise_efficiency": 0.2, "eltwise_ops_per_cycle": 6.0}


def aimc(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def dense(n_in: int = 64, n_out: int = 64):
    b = NetworkBuilder("dense", (n_in, 1, 1))
    b.linear(b.input, n_out)
    return b.build()


def run(grid, **kwargs):
    return sweep(grid, executor=kwargs.pop("executor", "inprocess"), progress=False, **kwargs)


# ============================================================== 1. calibrate --out
def test_calibrate_refuses_an_existing_file_unless_forced(capsys, tmp_path):
    results = tmp_path / "results.csv"
    results.write_text("a,b\n1,2\n")
    code, out, err = aimc(capsys, "calibrate", "--quick", "--out", results)
    assert code == 2 and "exists" in err and "--force" in err and "wrote" not in out
    assert results.read_text() == "a,b\n1,2\n"
    with pytest.raises(OutputError, match="exists"):
        cal.write_preset(PARAMS, results)
    assert cal.write_preset(PARAMS, results, force=True) == results
    assert load_system(results).cpu.clock_hz == 3.0e9


def test_calibrate_never_writes_inside_the_package(capsys, tmp_path):
    shipped = PACKAGE / "presets" / "alpine-tight.toml"
    before = shipped.read_bytes()
    for force in ((), ("--force",)):
        code, _, err = aimc(capsys, "calibrate", "--quick", "--out", shipped, *force)
        assert code == 2 and "extend itself" in err
    assert shipped.read_bytes() == before
    with pytest.raises(OutputError, match="inside .*aimclib"):
        cal.write_preset(PARAMS, PACKAGE / "presets" / "new.toml", force=True)
    assert not (PACKAGE / "presets" / "new.toml").exists()
    assert load_system("alpine-tight").cores == 8  # nothing broke


def test_a_preset_that_extends_itself_is_not_written(tmp_path):
    mine = tmp_path / "mine.toml"
    cal.write_preset(PARAMS, mine, name="mine")
    with pytest.raises(PresetError, match="extend itself"):
        cal.write_preset(PARAMS, mine, base=str(mine), name="mine2", force=True)
    with pytest.raises(PresetError, match="extend itself"):
        cal.write_preset(PARAMS, tmp_path / "x.toml", base="host", name="host")
    assert load_system(mine).name == "mine"


# ============================================================== 2. stale cache
def test_cache_key_holds_the_code_identity(tmp_path, monkeypatch):
    grid = {"network": NET, "tiles": [0, 8]}
    assert run(grid, cache=tmp_path).attrs["sweep"] == {"computed": 2, "cached": 0}
    assert run(grid, cache=tmp_path).attrs["sweep"] == {"computed": 0, "cached": 2}
    monkeypatch.setattr(sweep_mod, "code_identity", lambda: "0" * 64)  # other code
    again = run(grid, cache=tmp_path)
    assert again.attrs["sweep"] == {"computed": 2, "cached": 0}
    assert again.attrs["cache"]["code"] == "0" * 64


def test_code_identity_changes_with_any_source_byte(tmp_path):
    tree = tmp_path / "pkg"
    shutil.copytree(PACKAGE, tree, ignore=shutil.ignore_patterns("__pycache__"))
    assert sweep_mod.source_hash(tree) == sweep_mod.code_identity()
    cpu = tree / "cpu.py"
    cpu.write_text(cpu.read_text().replace("gemm_efficiency", "gemm_efficiency * 0.5", 1))
    assert sweep_mod.source_hash(tree) != sweep_mod.code_identity()


def test_sweep_printout_names_the_code_identity(capsys, tmp_path):
    code, out, _ = aimc(capsys, "sweep", "--network", NET, "--tiles", "0", "--executor",
                        "inprocess", "--cache", tmp_path / "c", "--no-progress", "-o",
                        tmp_path / "s.csv")
    assert code == 0
    assert f"byte-identical aimclib code (sources sha256 {sweep_mod.code_identity()[:12]})" in out


# ============================================================== 3. unwritable outputs
@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if any point is computed."""
    def forbidden(*args, **kwargs):
        raise AssertionError("a point was computed")
    monkeypatch.setattr(sweep_mod, "_run_chunk", forbidden)


def test_unusable_cache_fails_before_any_work(tmp_path, no_work):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CacheError, match="nothing has been computed"):
        run({"network": NET, "tiles": [0, 8]}, cache=blocker)


def test_read_only_cache_fails_before_any_work(tmp_path, no_work, monkeypatch):
    sqlite3.connect(tmp_path / sweep_mod.CACHE_FILE).close()
    real = sqlite3.connect

    def read_only(path, **kwargs):  # as a read-only file or directory does (even for root)
        return real(f"file:{path}?mode=ro", uri=True, **kwargs)

    monkeypatch.setattr(sweep_mod.sqlite3, "connect", read_only)
    with pytest.raises(CacheError, match="readonly|read-only"):
        run({"network": NET, "tiles": [0, 8]}, cache=tmp_path)


def test_unwritable_sweep_output_fails_before_any_work(capsys, tmp_path, no_work):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = aimc(capsys, "sweep", "--network", NET, "--executor", "inprocess",
                        "--no-progress", "-o", blocker / "out.csv")
    assert code == 2 and "-o/--output" in err and "cannot be written" in err
    code, _, err = aimc(capsys, "sweep", "--network", NET, "--executor", "inprocess",
                        "--no-progress", "-o", tmp_path)
    assert code == 2 and "is a directory" in err


# ============================================================== 4. limits, memory
def test_a_huge_tile_budget_costs_what_the_network_uses():
    need = layer_cost(dense(256, 256).info[0], load_system("alpine-tight"), tiles=10**9)
    assert need.tiles_used == need.tiles_needed == 1
    net = load_network("resnet18")
    huge = simulate(net, tiles=10**8)
    used = simulate(net, tiles=huge.tiles_used)
    assert huge.latency_s == used.latency_s and huge.tiles_used == used.tiles_used


@pytest.mark.parametrize("caps", [(3, 0, 5, 1), (10**12, 10**12), (0, 2, 2, 7), (1,)])
def test_tile_owners_are_computed_as_the_round_robin_pointer_walk(caps):
    def walk(caps, n):  # the pointer of place_tiles' docstring, one tile at a time
        free, seq, ptr = list(caps), [], 0
        for _ in range(n):
            while free[ptr] == 0:
                ptr = (ptr + 1) % len(caps)
            seq.append(ptr)
            free[ptr] -= 1
            ptr = (ptr + 1) % len(caps)
        return seq
    n = min(sum(caps), 40)
    assert _owner_sequence(caps, n).tolist() == walk(caps, n)


@pytest.mark.parametrize("kwargs, error", [
    (dict(cores=16_384), PresetError), (dict(cores=10**6), PresetError),
    (dict(tasks_per_core=10**5), LimitError), (dict(tasks_per_core=10**6), LimitError),
    (dict(cores=MAX_CORES, tiles=1, balancer="work-stealing", tasks_per_core=256),
     LimitError),  # within the limits, but 1,024 deques of 2**19 tasks: ~4 GiB
])
def test_cores_and_tasks_have_limits(kwargs, error):
    with pytest.raises(error, match="MAX_|limit|<= 1024"):
        simulate(dense(), **kwargs)


def test_limit_errors_on_the_command_line(capsys):
    code, _, err = aimc(capsys, "simulate", NET, "--cores", 10**6)
    assert code == 2 and "--cores" in err and "MAX_CORES" in err
    code, _, err = aimc(capsys, "layer", "--kind", "dense", "--in", 256, "--out", 256,
                        "--tiles", 2**41)
    assert code == 2 and "MAX_TILES" in err


def test_huge_layers_are_refused(tmp_path):
    b = NetworkBuilder("wide", (16, 8, 8))
    with pytest.raises(LimitError, match="MAX_LAYER_WEIGHTS"):
        b.conv(b.input, 10**9, 1)
        b.build()
    csv = tmp_path / "huge.csv"
    csv.write_text("# aimclib-network v1 name=huge input=x shape=64x1x1\nname,kind,inputs,"
                   "out_channels\nfc,linear,x,1000000000000\n")
    with pytest.raises(AimcError, match="MAX_LAYER_WEIGHTS"):
        load_network(csv)
    csv.write_text("# aimclib-network v1 name=huge input=x shape=3x4000000x4000000\n"
                   "name,kind,inputs\nr,relu,x\n")
    with pytest.raises(AimcError, match="MAX_TENSOR_ELEMENTS"):
        load_network(csv)


def test_huge_onnx_conv_is_refused(tmp_path):
    path = _onnx(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], name="c")],
                 [_weight("w", 10**9, 3, 1, 1)])
    with pytest.raises(AimcError, match="MAX_LAYER_WEIGHTS"):
        load_network(path)


def test_out_of_memory_becomes_a_clean_error(monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(simulate_mod, "_run", exhausted)
    with pytest.raises(LimitError, match="ran out of memory"):
        simulate(dense(), "alpine-tight", cores=3)


# ============================================================== 5. seeds
@pytest.mark.parametrize("seed", [2**63, 2**64, -1])
def test_seeds_beyond_64_bits_are_refused(capsys, seed):
    with pytest.raises(ParameterError, match="seed must be an integer >= 0"):
        simulate(NET, seed=seed, tiles=8)
    code, _, err = aimc(capsys, "simulate", NET, "--seed", seed, "--balancer",
                        "static-balanced")
    assert code == 2 and err.count("\n") == 1 and "seed" in err


def test_the_largest_seed_runs():
    assert simulate(NET, seed=MAX_SEED, tiles=8, balancer="work-stealing").seed == MAX_SEED


def test_seeds_do_not_wrap_at_32_bits():
    # the schedules (who ran what, and when), not just the latency: two different victim
    # streams can end a layer at the same time
    def schedule(seed):
        r = simulate("resnet18", tiles=40, balancer="work-stealing", seed=seed)
        return tuple((s.ran_on.tobytes(), s.start.tobytes()) for s in r.schedules)
    runs = {s: schedule(s) for s in (0, 2**32, 2**33)}
    assert len(set(runs.values())) == 3


def test_layer_streams_are_unrelated_across_neighbouring_seeds():
    # before: layer i + 1 of seed s used the stream of layer i of seed s + 1
    streams = {(s, i): stream_seed(s, i) for s in range(3) for i in range(12)}
    assert len(set(streams.values())) == len(streams)
    assert stream_seed(0, 1) == stream_seed(0, 1)  # and they are reproducible


# ============================================================== 6. interrupts
def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


_SLOW_POOL = textwrap.dedent("""
    import concurrent.futures as cf, multiprocessing, os, sys, time
    from aimclib import sweep
    if __name__ == "__main__":
        pool = cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=sweep._worker_init, initargs=(os.getpid(),))
        futures = [pool.submit(time.sleep, 120) for _ in range(2)]
        print("started", flush=True)
        time.sleep(120)
""")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_workers_die_with_a_killed_parent(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(_SLOW_POOL)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "started"
        def workers() -> list[int]:
            return [p for p in _children(parent.pid) if "spawn_main" in _cmdline(p)]

        assert _wait(lambda: len(workers()) == 2, 30)
        started = workers()
        parent.kill()  # kill -9: no handler runs
        parent.wait()
        assert _wait(lambda: not any(_alive(p) for p in started), 10), started
    finally:
        parent.kill()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_a_process_sweep_with_one_line(tmp_path):
    cache = tmp_path / "cache"
    argv = [sys.executable, "-m", "aimclib.cli", "sweep", "--network", "resnet18",
            "--tiles", ",".join(str(t) for t in range(0, 400, 4)), "--balancer",
            # enough points that the sweep is still running when the signal comes
            "work-stealing", "--seed", ",".join(map(str, range(1, 41))), "--workers", "2",
            "--cache", str(cache),
            "--no-progress", "-o", str(tmp_path / "out.csv")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = cache / sweep_mod.CACHE_FILE

    def rows() -> int:
        try:
            with sqlite3.connect(db, timeout=1) as con:
                return con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        except sqlite3.Error:
            return 0

    try:
        assert _wait(lambda: rows() > 0, 120), "no point finished"
        workers = [p for p in _children(proc.pid) if "spawn_main" in _cmdline(p)]
        assert workers
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.count("\n") == 1 and err.startswith("aimc: sweep interrupted: "), err
    kept = rows()
    assert f"{kept} computed in this run and kept in {db}" in err
    assert _wait(lambda: not any(_alive(p) for p in workers), 10)
    assert not (tmp_path / "out.csv").exists()


def test_ctrl_c_reports_what_was_finished_and_kept(capsys, tmp_path, monkeypatch):
    real = sweep_mod._network_point
    calls = []

    def interrupted(**task):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(**task)

    monkeypatch.setattr(sweep_mod, "_network_point", interrupted)
    with pytest.raises(SweepInterrupted) as exc:
        run({"network": NET, "tiles": [0, 4, 8, 16]}, cache=tmp_path, chunk_size=1)
    assert (exc.value.computed, exc.value.cached, exc.value.total) == (2, 0, 4)
    calls.clear()
    code, out, err = aimc(capsys, "sweep", "--network", NET, "--tiles", "0,4,8,16,32",
                          "--executor", "inprocess", "--no-progress", "-o",
                          tmp_path / "s.csv")
    assert code == 128 + signal.SIGINT and out == ""
    # one chunk of 5 points (one in-process worker): none of them had finished
    assert err == ("aimc: sweep interrupted: 0 of 5 points finished, 0 computed in this run "
                   "and not kept: the sweep has no cache (give it one, --cache DIR, to resume "
                   "an interrupted sweep)\n")


@pytest.mark.parametrize("corrupt", ["{not json", json.dumps({"latency_s": 1.0}),
                                     "null", "[1, 2]"])
def test_invalid_cache_rows_are_computed_again(tmp_path, corrupt):
    grid = {"network": NET, "tiles": [0, 8]}
    first = run(grid, cache=tmp_path)
    with sqlite3.connect(tmp_path / sweep_mod.CACHE_FILE) as con:
        key = con.execute("SELECT key FROM points LIMIT 1").fetchone()[0]
        con.execute("UPDATE points SET result = ? WHERE key = ?", (corrupt, key))
    with pytest.warns(UserWarning, match="1 row"):
        again = run(grid, cache=tmp_path)
    assert again.attrs["sweep"] == {"computed": 1, "cached": 1}
    assert again.attrs["cache"]["invalid"] == 1
    assert again.equals(first)
    assert run(grid, cache=tmp_path).attrs["sweep"] == {"computed": 0, "cached": 2}


def test_a_row_with_a_wrong_value_type_is_invalid(tmp_path):
    grid = {"network": NET, "tiles": [0]}
    first = run(grid, cache=tmp_path)
    with sqlite3.connect(tmp_path / sweep_mod.CACHE_FILE) as con:
        row = json.loads(con.execute("SELECT result FROM points").fetchone()[0])
        row["latency_s"] = "fast"
        con.execute("UPDATE points SET result = ?", (json.dumps(row),))
    with pytest.warns(UserWarning):
        assert run(grid, cache=tmp_path).equals(first)


# ============================================================== 7. ONNX
def _weight(name, *dims):
    """A float weight initializer; a large one refers to an (absent) external data file."""
    if math.prod(dims) <= 10**6:
        return numpy_helper.from_array(np.zeros(dims, np.float32), name)
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(dims),
                         data_location=TensorProto.EXTERNAL)
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", f"{name}.bin"
    return tensor


def _onnx(tmp_path, nodes, inits, in_shape=(1, 3, 8, 8)) -> Path:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path


def test_onnx_kernel_shape_must_match_the_weights(tmp_path):
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="c", kernel_shape=[5, 5],
                            pads=[2, 2, 2, 2])
    with pytest.raises(ModelFormatError, match=r"kernel_shape \[5, 5\].*3x3"):
        load_network(_onnx(tmp_path, [conv], [_weight("w", 8, 3, 3, 3)]))


def test_onnx_conv_weights_must_be_constants(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="act"),
             helper.make_node("Conv", ["x", "a"], ["y"], name="c")]
    with pytest.raises(ModelFormatError, match="computed from the activations"):
        load_network(_onnx(tmp_path, nodes, []))


# ============================================================== 8. contradictions
@pytest.mark.parametrize("argv, words", [
    (["--set", "cpu.cores=2", "--cores", "4"], ["--cores 4", "--set cpu.cores=2"]),
    (["--set", "system.tiles=2", "--tiles", "4"], ["--tiles 4", "--set system.tiles=2"]),
    (["--set", "tile.rows=128", "--set", "tile.rows=256"], ["tile.rows=128", "tile.rows=256",
                                                            "once"]),
    (["--set", "cores=2", "--set", "cpu.cores=4"], ["cores=2", "cpu.cores=4", "once"]),
])
@pytest.mark.parametrize("command", ["simulate", "sweep"])
def test_contradictory_options_are_refused(capsys, tmp_path, command, argv, words):
    if command == "simulate":
        full = ["simulate", NET, *argv]
    else:
        full = ["sweep", "--network", NET, "--executor", "inprocess", "--no-progress", "-o",
                tmp_path / "s.csv", *argv]
    code, out, err = aimc(capsys, *full)
    assert code == 2 and out == ""
    for w in words:
        assert w in err, err


def test_contradictory_grid_keys_are_refused():
    with pytest.raises(ParameterError, match="'cores' and 'set:cpu.cores' both set cpu.cores"):
        run({"network": NET, "cores": [2], "set:cpu.cores": [4]})
    with pytest.raises(ParameterError, match="both set cpu.cores"):
        run({"network": NET, "set:cores": [2], "set:cpu.cores": [4]})


# ============================================================== 9. implausible values
@pytest.mark.parametrize("key, value", [("cpu.clock_hz", 2.0), ("cpu.clock_hz", 1e-300),
                                        ("cpu.clock_hz", 1e12), ("cpu.gemm_efficiency", 1.5),
                                        ("tile.rows", 2**17), ("tile.mvm_latency_s", 10.0)])
def test_values_outside_physics_are_errors(capsys, key, value):
    with pytest.raises(PresetError, match=key.replace(".", r"\.")):
        load_system("alpine-tight", **{key: value})
    code, out, err = aimc(capsys, "simulate", NET, "--set", f"{key}={value!r}", "--json")
    assert code == 2 and out == "" and key in err


def test_json_output_is_strict(capsys):
    assert json_text({"a": float("inf"), "b": [float("nan"), np.float64(1.5)]}) == \
        '{"a": null, "b": [null, 1.5]}'
    for argv in (["simulate", NET, "--json"], ["layer", "--kind", "dense", "--in", "8",
                                               "--out", "8", "--json"]):
        code, out, _ = aimc(capsys, *argv)

        def refuse(token):
            raise AssertionError(f"non-finite number {token} in JSON")
        assert code == 0 and json.loads(out, parse_constant=refuse)


# ============================================================== 10. numerics
def test_tile_mvm_at_the_row_limit_does_not_overflow():
    assert MAX_ROWS == 2**17 - 1 and 128 * 128 * MAX_ROWS < 2**31
    x = np.full(MAX_ROWS, -128, np.int8)
    w = np.full((MAX_ROWS, 1), -128, np.int8)
    assert tile_mvm(x, w, rows=MAX_ROWS).tolist() == [127]
    with pytest.raises(LimitError, match="MAX_ROWS"):
        tile_mvm(x, w, rows=2**17)


def test_quantize_refuses_nan():
    with pytest.raises(ParameterError, match="NaN"):
        quantize(np.array([0.5, np.nan]), 0.1)
    assert quantize(np.array([0.5, np.inf, -np.inf]), 0.1).tolist() == [5, 127, -128]


# ============================================================== 11. API edges
def test_numpy_integers_are_integers():
    assert load_system(cores=np.int64(4), tiles=np.int32(8)).cores == 4
    assert simulate(NET, cores=np.int64(2), tiles=np.int64(8), seed=np.uint64(3)).seed == 3


def test_load_network_of_none_is_a_clean_type_error():
    with pytest.raises(AimcError, match="source must be a zoo network name") as exc:
        load_network(None)
    assert isinstance(exc.value, TypeError)


BAD_VALUES = [
    lambda: simulate(NET, allocation="best"),
    lambda: simulate(NET, balancer="magic"),
    lambda: simulate(NET, objective="area"),
    lambda: simulate(NET, victim="oldest"),
    lambda: simulate(NET, seed=-1),
    lambda: simulate(NET, tasks_per_core=0),
    lambda: simulate(NET, steal_latency_s=-1.0),
    lambda: aimclib.tiles_for_coverage(NET, "alpine-tight", 1.5),
    lambda: aimclib.tiles_for_coverage(NET, "alpine-tight", 0.5, allocation="best"),
    lambda: layer_cost(dense().info[0], load_system(), cores=0),
    lambda: layer_cost(dense().info[0], load_system(), balancer="lifo"),
    lambda: __import__("aimclib.allocation", fromlist=["allocate"]).allocate(
        "random", 4, [], [], []),
    lambda: __import__("aimclib.allocation", fromlist=["allocate"]).allocate(
        "layer-order", -1, [], [], []),
    lambda: run({"network": NET}, executor="threads"),
    lambda: run({"network": NET}, study="layers"),
]


@pytest.mark.parametrize("call", BAD_VALUES)
def test_bad_values_raise_value_errors(call):
    with pytest.raises(AimcError) as exc:
        call()
    assert isinstance(exc.value, ValueError), type(exc.value).__mro__


@pytest.mark.parametrize("check, args", [
    (check_int, (2.0, "n")), (check_int, (True, "n")), (check_float, ("1", "x")),
    (check_choice, (3, "mode", ("a", "b"))), (check_seed, ("7",)),
])
def test_wrong_types_raise_type_errors(check, args):
    with pytest.raises(AimcError, match=f"{args[1] if len(args) > 1 else 'seed'} must be"
                       ) as exc:
        check(*args, where="f")
    assert isinstance(exc.value, TypeError) and str(exc.value).startswith("f: ")


# ============================================================== fuzz
def _mostly(good, bad):
    """``good`` seven times in eight, else ``bad``."""
    return st.integers(0, 7).flatmap(lambda r: bad if r == 0 else good)


# layer templates of the fuzzed CSV tables: kind and the columns the fuzz fills
_TEMPLATES = [("conv", ("out_channels", "kh", "kw", "sh", "sw", "pad_top", "pad_left",
                        "groups")),
              ("relu", ()), ("maxpool", ("kh", "kw", "sh", "sw")), ("batchnorm", ()),
              ("add", ()), ("concat", ()), ("globalavgpool", ()), ("flatten", ()),
              ("linear", ("out_channels",)), ("softmax", ())]
_COLUMNS = ("out_channels", "kh", "kw", "sh", "sw", "pad_top", "pad_left", "groups")
_CELLS = _mostly(st.sampled_from(["", "1", "1", "2", "3", "4"]),
                 st.sampled_from(["0", "-1", "1.5", "x", "nan", "99999999999", "4096"]))


@st.composite
def _csv_tables(draw) -> str:
    """A CSV layer table: a chain (with the odd two-input layer) of templated layers, now
    and then with a nonsense shape, kind, input or cell."""
    c = draw(_mostly(st.integers(1, 8), st.sampled_from([0, -1, 10**6])))
    h = draw(_mostly(st.sampled_from([1, 4, 8]), st.sampled_from([0, 10**7])))
    names, rows = ["x"], []
    for i in range(draw(st.integers(1, 4))):
        kind, used = draw(_mostly(st.sampled_from(_TEMPLATES), st.just(("bogus", ()))))
        n_in = 2 if kind in ("add", "concat") else 1
        inputs = [names[-1 - j] if j < len(names) else names[0] for j in range(n_in)]
        inputs[0] = draw(_mostly(st.just(inputs[0]), st.just("nowhere")))
        cells = [draw(_CELLS) if col in used else "" for col in _COLUMNS]
        rows.append(",".join([f"l{i}", kind, "|".join(inputs), *cells]))
        names.append(f"l{i}")
    return (f"# aimclib-network v1 name=fuzz input=x shape={c}x{h}x{h}\n"
            f"name,kind,inputs,{','.join(_COLUMNS)}\n" + "\n".join(rows) + "\n")


@st.composite
def _presets(draw) -> str:
    values = {"cpu.cores": _mostly(st.integers(1, 16), st.integers(-2, 2000)),
              "cpu.clock_hz": _mostly(st.floats(1e8, 5e9), st.floats(-1e12, 1e12)),
              "cpu.gemm_efficiency": _mostly(st.floats(0.05, 1), st.floats(-1, 2)),
              "tile.rows": _mostly(st.integers(1, 512), st.integers(-1, 2**18)),
              "tile.cols": _mostly(st.integers(1, 512), st.integers(-1, 2**18)),
              "system.tiles": _mostly(st.integers(0, 64), st.integers(-1, 10**12)),
              "system.coupling": _mostly(st.sampled_from(["tight", "loose"]),
                                         st.sampled_from(["medium", 3])),
              "tile.mvm_latency_s": _mostly(st.floats(1e-9, 1e-5), st.one_of(
                  st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3)))}
    lines = {"cpu": [], "tile": [], "system": []}
    for key in draw(st.lists(st.sampled_from(sorted(values)), unique=True, max_size=4)):
        section, field = key.split(".")
        lines[section].append(f"{field} = {json.dumps(draw(values[key]))}"
                              .replace("NaN", "nan").replace("Infinity", "inf"))
    base = draw(_mostly(st.sampled_from(["alpine-tight", "alpine-loose"]), st.just("nope")))
    text = f'base = "{base}"\n'
    return text + "".join(f"[{s}]\n" + "\n".join(v) + "\n" for s, v in lines.items() if v)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(table=_csv_tables(), preset=_presets(),
       options=st.fixed_dictionaries({"balancer": st.sampled_from(
           ["static-even", "static-balanced", "work-stealing"]),
           "seed": _mostly(st.integers(0, 2**63 - 1), st.integers(-1, 2**64)),
           "tiles": st.one_of(st.none(), st.integers(0, 64))}))
def test_fuzz_load_simulate_json_gives_a_result_or_a_clean_error(tmp_path, table, preset,
                                                                  options):
    csv, toml = tmp_path / "fuzz.csv", tmp_path / "fuzz.toml"
    csv.write_text(table)
    toml.write_text(preset)
    try:
        net = load_network(csv)
        hw = load_system(toml)
        r = simulate(net, hw, **options)
        text = json_text(r.summary())
    except AimcError:
        return
    assert json.loads(text)["latency_s"] >= 0


def test_a_network_without_work_simulates(tmp_path):
    """Found by the fuzz test: a lone concat has no work, and its speedup divided 0 by 0."""
    csv = tmp_path / "concat.csv"
    csv.write_text("# aimclib-network v1 name=c input=x shape=8x1x1\nname,kind,inputs\n"
                   "l0,concat,x|x\n")
    r = simulate(csv)
    assert (r.latency_s, r.speedup, r.energy_gain) == (0.0, 1.0, 1.0)
    assert json.loads(json_text(r.summary()))["speedup"] == 1.0
