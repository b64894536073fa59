"""The cost-model commands of ``aimc``: ``presets``, ``preset show`` and ``layer``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from aimclib import NetworkBuilder, cli, layer_cost, load_system
from aimclib.layercost import CORE_COMPONENTS, DEVICE_COMPONENTS
from aimclib.system import describe

DENSE = ("layer", "--kind", "dense", "--in", "256", "--out", "256", "--preset", "alpine-tight",
         "--cores", "1", "--tiles", "1")
CONV = ("layer", "--kind", "conv", "--cin", "64", "--cout", "64", "--k", "3", "--hw", "56",
        "--pad", "1", "--preset", "alpine-tight")
COST_KEYS = {"layer", "kind", "coupling", "cores", "tiles", "tiles_used", "tiles_needed",
             "coverage", "utilisation", "latency_s", "energy_j", "baseline_latency_s",
             "baseline_energy_j", "speedup", "energy_gain", "breakdown", "baseline_breakdown"}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``aimc argv``."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# ------------------------------------------------------------------------------ layer
def test_dense_tight_single_tile_contract(capsys):
    doc = run_json(capsys, *DENSE)
    assert COST_KEYS <= set(doc)
    bd = doc["breakdown"]
    # alpine-tight: 4-byte cmqueue/cmdequeue of 2 cycles at 2 GHz = 1 ns each; 256 inputs and
    # 256 outputs -> 64 + 64 instructions; cmprocess stalls 200 cycles = 100 ns.
    assert bd["interface"]["seconds"] == pytest.approx(128e-9, abs=1e-15)
    assert bd["tile_wait"]["seconds"] == pytest.approx(100e-9, abs=1e-15)
    assert bd["interface"]["seconds"] + bd["tile_wait"]["seconds"] == pytest.approx(
        228e-9, abs=1e-15)
    # host work: a dense layer's input is contiguous (no im2col gather) and already int8 (no
    # quantise): 2 dequantise ops x 256 outputs at 4 op/cycle = 128 cycles = 64 ns
    assert bd["host"]["seconds"] == pytest.approx(64e-9, abs=1e-15)
    assert doc["latency_s"] == pytest.approx(292e-9, abs=1e-15)
    assert (doc["coverage"], doc["tiles_used"], doc["tiles_needed"]) == (1.0, 1, 1)
    assert (doc["kind"], doc["coupling"], doc["cores"], doc["tiles"]) == ("linear", "tight", 1, 1)
    for total, parts in (("energy_j", "breakdown"), ("baseline_energy_j", "baseline_breakdown")):
        assert math.fsum(v["joules"] for v in doc[parts].values()) == pytest.approx(
            doc[total], rel=1e-12)
    assert doc["speedup"] == pytest.approx(doc["baseline_latency_s"] / doc["latency_s"])
    assert doc["energy_gain"] == pytest.approx(doc["baseline_energy_j"] / doc["energy_j"])


def test_layer_json_is_the_library_result(capsys):
    b = NetworkBuilder("dense", (256, 1, 1))
    b.linear(b.input, 256, bias=False, name="dense")
    expected = layer_cost(b.build()["dense"], load_system("alpine-tight"), 1, 1).to_dict()
    assert run_json(capsys, *DENSE) == json.loads(json.dumps(expected))


def test_linear_is_an_alias_of_dense(capsys):
    dense = run_json(capsys, *DENSE)
    linear = run_json(capsys, *(a if a != "dense" else "linear" for a in DENSE))
    assert linear.pop("layer") == "linear" and dense.pop("layer") == "dense"
    assert linear == dense


def test_no_tiles_is_the_digital_baseline(capsys):
    doc = run_json(capsys, *DENSE[:-1], "0")
    assert doc["speedup"] == 1.0 and doc["energy_gain"] == 1.0
    assert (doc["tiles_used"], doc["coverage"]) == (0, 0.0)
    assert doc["breakdown"] == doc["baseline_breakdown"]


def test_conv_keys_and_mapping(capsys):
    doc = run_json(capsys, *CONV, "--cores", "2", "--tiles", "2")
    assert COST_KEYS <= set(doc)
    assert set(doc["breakdown"]) == set(CORE_COMPONENTS) | set(DEVICE_COMPONENTS)
    # k = 64 * 3 * 3 = 576 rows -> 3 row blocks of 192 for the one 64-column block: one unit
    # of 3 tiles, which does not fit 2 tiles
    assert (doc["tiles_needed"], doc["tiles_used"], doc["coverage"]) == (3, 0, 0.0)
    full = run_json(capsys, *CONV, "--cores", "2", "--tiles", "3")
    assert (full["tiles_used"], full["coverage"]) == (3, 1.0)
    assert full["utilisation"] == pytest.approx(576 * 64 / (3 * 256 * 256))
    assert full["speedup"] > 1.0
    core_s = sum(full["breakdown"][c]["seconds"] for c in CORE_COMPONENTS)
    assert core_s == pytest.approx(2 * full["latency_s"])


def test_depthwise_is_conv_with_groups_equal_to_channels(capsys):
    args = ("layer", "--cin", "32", "--k", "3", "--hw", "8", "--pad", "1", "--tiles", "2")
    dw = run_json(capsys, *args, "--kind", "depthwise")
    conv = run_json(capsys, *args, "--kind", "conv", "--cout", "32", "--groups", "32")
    assert dw.pop("layer") == "depthwise" and conv.pop("layer") == "conv"
    assert dw == conv
    assert dw["tiles_needed"] == 2  # 28 groups of 9 x 1 per 256 x 256 tile -> 28 + 4


def test_set_overrides_numbers_and_strings(capsys):
    slow = run_json(capsys, *DENSE, "--set", "tile.mvm_latency_s=4e-7")
    assert slow["breakdown"]["tile_wait"]["seconds"] == pytest.approx(400e-9, abs=1e-15)
    loose = run_json(capsys, *DENSE, "--set", "system.coupling=loose")
    assert loose["coupling"] == "loose"
    assert loose["breakdown"]["tile_wait"]["seconds"] == 0.0
    assert loose["breakdown"]["bus"]["seconds"] > 0.0


def test_layer_text_has_units_and_breakdown(capsys):
    code, out, _ = run(capsys, *DENSE)
    assert code == 0
    head, table = out.split("\n\n")
    lines = dict(line.split(maxsplit=1) for line in head.splitlines())
    # all-digital GEMM 256 x 256 (int8-intrinsics: 1.3 MAC/cycle sustained):
    # 272 * 264 / 1.3 = 55,236.92 MAC + 128 requantisation cycles = 55,364.92 cycles
    # = 27.682 us; speedup 27.68246 / 0.292 = 94.80
    assert lines["latency"].startswith("0.292 µs (all-digital 27.682 µs): speedup 94.80x")
    # 0.2 W x (128 + 100 + 64) ns = 58.4 nJ + 2 x 10.24 nJ MVM + 0.292 us x 1 mW x 2 static
    # = 58.4 + 20.48 + 0.584 = 79.464 nJ
    assert lines["energy"].startswith("0.0795 µJ")
    rows = {r.split()[0]: r.split()[1:] for r in table.splitlines()[2:-1]}
    assert set(rows) == set(CORE_COMPONENTS) | set(DEVICE_COMPONENTS)
    assert rows["interface"][:2] == ["0.128", "0.0256"]
    assert rows["tile_wait"][:2] == ["0.100", "0.0200"]


@pytest.mark.parametrize("argv, flag", [
    (("--kind", "conv", "--cout", "8", "--k", "3", "--hw", "8"), "--cin"),
    (("--kind", "conv", "--cin", "8", "--cout", "8", "--k", "3", "--hw", "-4"), "--hw"),
    (("--kind", "conv", "--cin", "8", "--cout", "8", "--k", "3", "--hw", "8", "--pad", "-1"),
     "--pad"),
    (("--kind", "dense", "--in", "0", "--out", "8"), "--in"),
    (("--kind", "dense", "--in", "8"), "--out"),
    (("--kind", "dense", "--in", "8", "--out", "8", "--k", "3"), "--k"),
    (("--kind", "depthwise", "--cin", "8", "--cout", "4", "--k", "3", "--hw", "8"), "--cout"),
    (("--kind", "dense", "--in", "8", "--out", "8", "--cores", "0"), "--cores"),
    (("--kind", "dense", "--in", "8", "--out", "8", "--tiles", "-1"), "--tiles"),
    (("--kind", "pool", "--in", "8", "--out", "8"), "--kind"),
    (("--kind", "dense", "--in", "8", "--out", "8", "--set", "cpu.clock_hz=-2e9"),
     "cpu.clock_hz"),
    (("--kind", "dense", "--in", "8", "--out", "8", "--set", "cpu.warp_drive=1"),
     "cpu.warp_drive"),
    (("--kind", "dense", "--in", "8", "--out", "8", "--set", "system.coupling=psychic"),
     "system.coupling"),
    (("--kind", "dense", "--in", "8", "--out", "8", "--set", "tiles"), "--set"),
])
def test_bad_layer_arguments_exit_2_naming_the_flag(capsys, argv, flag):
    code, out, err = run(capsys, "layer", *argv)
    assert code == 2 and out == ""
    assert flag in err


def test_conv_that_does_not_fit_its_input_is_reported(capsys):
    code, _, err = run(capsys, "layer", "--kind", "conv", "--cin", "3", "--cout", "3", "--k",
                       "9", "--hw", "4")
    assert code == 2 and "empty output" in err


# ------------------------------------------------------------------------------ presets
def test_presets_json_lists_the_shipped_presets(capsys):
    rows = {r["name"]: r for r in run_json(capsys, "presets")}
    assert {"alpine-tight", "alpine-loose"} <= set(rows)
    tight, loose = rows["alpine-tight"], rows["alpine-loose"]
    assert (tight["coupling"], tight["cores"], tight["tiles"]) == ("tight", 8, 8)
    assert (loose["coupling"], loose["cores"], loose["tiles"]) == ("loose", 8, 8)
    assert Path(tight["file"]).name == "alpine-tight.toml" and Path(tight["file"]).is_file()
    assert "DMA" in loose["description"]


def test_presets_text_has_one_row_per_preset(capsys):
    code, out, _ = run(capsys, "presets")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["name", "coupling", "cores", "tiles"]
    names = [line.split()[0] for line in lines[2:]]
    assert {"alpine-tight", "alpine-loose"} <= set(names)


def test_preset_show_text_mentions_every_parameter_with_its_unit(capsys):
    code, out, _ = run(capsys, "preset", "show", "alpine-tight")
    assert code == 0
    lines = out.splitlines()
    rows = describe(load_system("alpine-tight"))
    for r in rows:
        field = r["parameter"].partition(".")[2]
        line = next(line for line in lines if line.split()[:1] == [field])
        assert f"  {r['unit']}  " in line and r["status"] in line, line
    for section in ("cpu", "tile", "host", "tight", "loose", "system"):
        assert f"[{section}]" in lines
    tile_latency = next(line for line in lines if line.startswith("mvm_latency_s "))
    assert tile_latency.split()[1:4] == ["1e-07", "s", "stated"]


def test_preset_show_json_is_describe(capsys, tmp_path):
    assert run_json(capsys, "preset", "show", "alpine-loose") == json.loads(
        json.dumps(describe(load_system("alpine-loose"))))
    path = tmp_path / "slow.toml"
    path.write_text('name = "slow"\nbase = "alpine-tight"\n[tile]\nmvm_latency_s = 1e-6\n')
    rows = {r["parameter"]: r for r in run_json(capsys, "preset", "show", str(path))}
    assert rows["tile.mvm_latency_s"]["value"] == 1e-6
    assert rows["tile.mvm_latency_s"]["status"] == "user"
    assert rows["tile.rows"]["value"] == 256


def test_preset_show_unknown_name_exits_2(capsys):
    code, _, err = run(capsys, "preset", "show", "no-such-preset")
    assert code == 2 and "no-such-preset" in err and "alpine-tight" in err
