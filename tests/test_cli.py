"""The ``aimc`` command line, run in-process through ``main`` (plus one run of the script)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aimclib import __version__, cli
from aimclib.csvio import read_csv, write_csv
from aimclib.network import Network, NetworkBuilder
from aimclib.zoo import NETWORKS, get_network

REFERENCE = json.loads(
    (Path(__file__).parent / "data" / "torchvision_reference.json").read_text())
TOTAL_KEYS = ["name", "input_hw", "mvm_layers", "mvm_weights", "total_params", "macs",
              "macs_per_weight"]
RECORD_KEYS = {"name", "kind", "cin", "cout", "kh", "kw", "stride", "groups", "hin", "win",
               "hout", "wout", "weights", "macs"}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``aimc argv``."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _small() -> Network:
    """conv 3->8 3x3 stride 2 on 3x16x16 (out 8x7x7), global pool, linear 8->5 with bias."""
    b = NetworkBuilder("small", (3, 16, 16))
    x = b.conv(b.input, 8, 3, stride=2, name="conv")
    x = b.act("relu", x)
    x = b.adaptive_avgpool(x, (1, 1), name="gap")
    x = b.flatten(x)
    b.linear(x, 5, name="fc")
    return b.build()


# ------------------------------------------------------------------------------ networks
def test_networks_json_matches_torchvision_totals(capsys):
    code, out, err = run(capsys, "networks", "--json")
    assert code == 0 and err == ""
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list(NETWORKS)
    for r in rows:
        ref = REFERENCE[r["name"]]
        assert list(r) == TOTAL_KEYS
        hw = ref["input_hw"] if isinstance(ref["input_hw"], list) else [ref["input_hw"]] * 2
        assert r["input_hw"] == hw
        for key in ("mvm_layers", "mvm_weights", "total_params", "macs"):
            assert r[key] == ref[key], (r["name"], key)
        assert r["macs_per_weight"] == pytest.approx(ref["macs"] / ref["mvm_weights"])


def test_networks_text_is_an_aligned_table(capsys):
    code, out, _ = run(capsys, "networks")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2 + len(NETWORKS)
    assert lines[0].split()[:2] == ["network", "input"]
    assert len({len(line) for line in lines}) == 1  # right-aligned last column: equal widths
    resnet = next(line for line in lines if line.startswith("resnet50 "))
    assert resnet.split() == ["resnet50", "224x224", "54", "25,502,912", "25,557,032",
                              "4,089,184,256", "160.3"]


# ------------------------------------------------------------------------------ inspect
def test_inspect_json_zoo_name_contract(capsys):
    code, out, _ = run(capsys, "inspect", "resnet18", "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == [*TOTAL_KEYS, "layers"]
    assert (doc["name"], doc["mvm_weights"], doc["macs"]) == ("resnet18", 11_678_912,
                                                              1_814_073_344)
    assert doc["layers"] == get_network("resnet18").layer_records()
    assert all(RECORD_KEYS <= set(r) for r in doc["layers"])
    # every conv/linear record agrees with torchvision's, in execution order
    mvm = [r for r in doc["layers"] if r["kind"] in ("conv", "linear")]
    ref = REFERENCE["resnet18"]["layers"]
    assert len(mvm) == len(ref)
    for r, t in zip(mvm, ref):
        for key in ("cin", "cout", "kh", "kw", "groups", "hin", "win", "hout", "wout",
                    "weights", "macs"):
            assert r[key] == t[key], (t["name"], key)
        assert r["stride"] == t["sh"] == t["sw"]
    fc = doc["layers"][-1]
    assert fc["kind"] == "linear" and (fc["cin"], fc["cout"], fc["weights"]) == (512, 1000,
                                                                                512_000)
    assert [fc[k] for k in ("kh", "kw", "stride", "hin", "win", "hout", "wout")] == [1] * 7


def test_inspect_json_of_exported_csv(capsys, tmp_path):
    path = tmp_path / "small.csv"
    write_csv(_small(), path)
    code, out, _ = run(capsys, "inspect", str(path), "--json")
    assert code == 0
    doc = json.loads(out)
    assert {k: doc[k] for k in TOTAL_KEYS} == {
        "name": "small", "input_hw": [16, 16], "mvm_layers": 2,
        "mvm_weights": 8 * 27 + 40, "total_params": 8 * 27 + 40 + 5,
        "macs": 49 * 8 * 27 + 40, "macs_per_weight": (49 * 8 * 27 + 40) / (8 * 27 + 40)}
    conv, fc = doc["layers"][0], doc["layers"][-1]
    assert all(RECORD_KEYS <= set(r) for r in doc["layers"])
    assert {k: conv[k] for k in RECORD_KEYS} == {
        "name": "conv", "kind": "conv", "cin": 3, "cout": 8, "kh": 3, "kw": 3, "stride": 2,
        "groups": 1, "hin": 16, "win": 16, "hout": 7, "wout": 7, "weights": 216,
        "macs": 49 * 216}
    assert {k: fc[k] for k in RECORD_KEYS} == {
        "name": "fc", "kind": "linear", "cin": 8, "cout": 5, "kh": 1, "kw": 1, "stride": 1,
        "groups": 1, "hin": 1, "win": 1, "hout": 1, "wout": 1, "weights": 40, "macs": 40}


def test_inspect_exported_zoo_csv_equals_inspect_of_name(capsys, tmp_path):
    path = tmp_path / "m.csv"
    assert run(capsys, "export", "mobilenet_v2", "-o", str(path))[0] == 0
    by_name = run(capsys, "inspect", "mobilenet_v2", "--json")[1]
    by_file = run(capsys, "inspect", str(path), "--json")[1]
    assert json.loads(by_file) == json.loads(by_name)


def test_inspect_text_has_totals_and_one_row_per_layer(capsys):
    code, out, _ = run(capsys, "inspect", "resnet18")
    assert code == 0
    head, table = out.split("\n\n")
    assert head.splitlines() == [
        "network      resnet18",
        "input        input 3x224x224",
        f"layers       {len(get_network('resnet18'))} (21 MVM)",
        "MVM weights  11,678,912",
        "params       11,689,512",
        "MACs         1,814,073,344",
        "MACs/weight  155.3",
    ]
    rows = table.splitlines()
    assert len(rows) == 2 + len(get_network("resnet18"))
    assert rows[2].split() == ["conv1", "conv", "3x224x224", "64x112x112", "7x7", "2", "1",
                               "9,408", "118,013,952"]
    assert rows[-1].split() == ["fc", "linear", "512x1x1", "1000x1x1", "512,000", "512,000"]


def test_inspect_passes_unknown_ops_to_the_loader(capsys, monkeypatch):
    seen = {}

    def fake_load(source, **kwargs):
        seen.update(kwargs, source=source)
        return _small()

    monkeypatch.setattr(cli, "load_network", fake_load)
    assert run(capsys, "inspect", "x.onnx", "--unknown-ops", "eltwise")[0] == 0
    assert seen == {"source": "x.onnx", "unknown_ops": "eltwise"}


# ------------------------------------------------------------------------------ export
def test_export_writes_the_csv_layer_table(capsys, tmp_path):
    path = tmp_path / "r18.csv"
    code, out, err = run(capsys, "export", "resnet18", "-o", str(path))
    assert code == 0 and err == ""
    assert out == f"wrote {len(get_network('resnet18'))} layers of resnet18 to {path}\n"
    assert path.read_text().startswith(
        "# aimclib-network v1 name=resnet18 input=input shape=3x224x224\nname,kind,inputs,")
    assert read_csv(path) == get_network("resnet18")


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("argv, expected", [
    (["inspect", "resnet51"], ["unknown network 'resnet51'", "known networks: resnet50,"]),
    (["export", "nope", "-o", "x.csv"], ["unknown network 'nope'"]),
    (["inspect", "missing.csv"], ["no such file: missing.csv"]),
    (["inspect", "dir/missing.onnx", "--json"], ["no such file: dir/missing.onnx"]),
])
def test_bad_source_exits_2_with_message(capsys, argv, expected):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("aimc: error: ") and err.count("\n") == 1
    for part in expected:
        assert part in err


def test_malformed_csv_names_row_and_column(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("# aimclib-network v1 shape=3x8x8\nname,kind,inputs,kh\nc,conv,input,x\n")
    code, _, err = run(capsys, "inspect", str(path))
    assert code == 2
    assert err == f"aimc: error: {path}: row 1 (line 3), column 'kh': 'x' is not an integer\n"


def test_unwritable_output_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "export", "alexnet", "-o", str(tmp_path / "no" / "x.csv"))
    assert code == 2
    assert err.startswith("aimc: error: ") and "does not exist" in err


@pytest.mark.parametrize("argv", [
    [], ["simulate-everything"], ["networks", "--csv"], ["inspect"],
    ["inspect", "resnet18", "--unknown-ops", "ignore"], ["export", "resnet18"],
])
def test_usage_errors_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("usage: aimc") and re.search(r"^aimc( \w+)?: error: ", err, re.M)


def test_version(capsys):
    assert run(capsys, "--version") == (0, f"aimc {__version__}\n", "")


def test_multi_word_commands_nest(capsys, monkeypatch):
    """A later subcommand like 'demo show' is one registered function."""
    monkeypatch.setattr(cli, "_COMMANDS", list(cli._COMMANDS))

    @cli.command("demo show", "Show one demo.", cli.arg("name"))
    def show(args):
        print(f"showing {args.name}")
        return 0

    @cli.command("demo list", "List the demos.")
    def listing(args):
        return 3

    assert run(capsys, "demo", "show", "edge") == (0, "showing edge\n", "")
    assert run(capsys, "demo", "list")[0] == 3
    assert run(capsys, "demo")[0] == 2
    assert run(capsys, "networks", "--json")[0] == 0


# ------------------------------------------------------------------------------ entry point
@pytest.mark.slow
def test_installed_console_script():
    script = Path(sys.executable).with_name("aimc")
    if not script.is_file():
        pytest.skip(f"no aimc console script next to {sys.executable}; run pip install -e .")
    done = subprocess.run([str(script), "networks", "--json"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["name"] for r in rows] == list(NETWORKS)
    assert rows[0]["mvm_weights"] == REFERENCE[rows[0]["name"]]["mvm_weights"]
