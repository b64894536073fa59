"""The system description: presets, validation, overrides, placement and derived values.

Every expected number is computed by hand in a comment from the preset values in
``aimclib/presets/alpine-tight.toml`` and the published facts (shared/reference/system-facts.md).
"""

import dataclasses
import math
import tomllib
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimclib.errors import AimcError, UnknownNameError
from aimclib.system import (SECTIONS, USER_PRESET_ENV, PlausibilityWarning, PresetError,
                            SystemConfig, describe, load_system, preset_names,
                            user_preset_dir)

PRESET_DIR = resources.files("aimclib") / "presets"


def _tight_doc() -> dict:
    return tomllib.loads((PRESET_DIR / "alpine-tight.toml").read_text())


def _toml_value(v) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def _write_preset(path, doc: dict) -> str:
    """Write ``doc`` (name/description/base + {section: {field: value or entry}}) as TOML."""
    lines = []
    for key in ("name", "description", "base"):
        if key in doc:
            lines.append(f"{key} = {_toml_value(doc[key])}")
    for section, table in doc.items():
        if not isinstance(table, dict):
            continue
        lines.append(f"[{section}]")
        for k, entry in table.items():
            if isinstance(entry, dict):
                inner = ", ".join(f"{ek} = {_toml_value(ev)}" for ek, ev in entry.items())
                lines.append(f"{k} = {{ {inner} }}")
            else:
                lines.append(f"{k} = {_toml_value(entry)}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


# --------------------------------------------------------------------------- shipped presets
SHIPPED = ["alpine-loose", "alpine-tight"]


def test_shipped_presets_are_listed():
    assert preset_names(include_user=False) == SHIPPED


def test_tests_do_not_see_the_users_presets(tmp_path):
    # tests/conftest.py points the user preset directory at an empty folder of each test
    assert user_preset_dir() == tmp_path / "user-presets"
    assert preset_names() == SHIPPED


def test_user_presets_come_after_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.setenv(USER_PRESET_ENV, str(tmp_path))
    _write_preset(tmp_path / "mine.toml", {"name": "mine", "base": "alpine-tight",
                                           "cpu": {"cores": 2}})
    # a user file named like a shipped preset is never used by name
    _write_preset(tmp_path / "alpine-tight.toml", {"name": "fake", "base": "alpine-tight",
                                                   "cpu": {"cores": 3}})
    assert preset_names() == SHIPPED + ["mine"]
    assert load_system("mine").cores == 2
    assert load_system("alpine-tight").cores == 8


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_preset_loads_with_every_parameter_sourced(name):
    cfg = load_system(name)
    assert isinstance(cfg, SystemConfig)
    assert cfg.name == name
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            status, source = cfg.sources[f"{section}.{f.name}"]
            # varied: a study variable that sweeps set (system.tiles), not an assumption
            assert status in ("stated", "derived", "assumed", "varied"), (section, f.name,
                                                                         status)
            assert source.strip(), f"{section}.{f.name} has no source"


def test_every_field_has_unit_and_doc():
    n = 0
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            assert f.metadata.get("unit"), f"{section}.{f.name} has no unit"
            assert len(f.metadata.get("doc", "")) > 10, f"{section}.{f.name} has no doc"
            n += 1
    # 22 cpu + 12 tile + 5 host + 4 tight + 8 loose + 4 system = 55 parameters
    assert n == 55


def test_describe_lists_every_parameter_with_unit_and_status():
    rows = describe(load_system("alpine-tight"))
    assert len(rows) == 55
    by_name = {r["parameter"]: r for r in rows}
    clock = by_name["cpu.clock_hz"]
    assert clock["value"] == 2.0e9 and clock["unit"] == "Hz" and clock["status"] == "derived"
    assert by_name["tile.rows"]["status"] == "stated"
    # the GEMM shape term in n: one vector of int8 in 16-bit lanes (128 / 16 = 8 outputs)
    n_half = by_name["cpu.gemm_n_half"]
    assert (n_half["value"], n_half["unit"], n_half["status"]) == (8.0, "output", "assumed")
    assert "n / (n + n_half)" in n_half["meaning"] and "8 outputs" in n_half["source"]
    # its plausible range and why, beside the value in the preset file
    assert n_half["range"] == [2.0, 32.0] and "vector" in n_half["range_reason"]
    # a stated value has no range; a choice lists its plausible alternatives
    assert by_name["tile.rows"]["range"] is None and by_name["tile.rows"]["range_reason"] == ""
    assert by_name["system.power_gating"]["range"] == ["none", "unused", "idle"]


def test_alpine_tight_values_match_the_published_facts():
    cfg = load_system("alpine-tight")
    assert cfg.cores == 8 and cfg.coupling == "tight" and cfg.tiles == 8
    assert cfg.cpu.clock_hz == 2e9
    assert cfg.cpu.simd_bits == 128
    assert cfg.cpu.l1d_bytes == 32 * 1024 and cfg.cpu.l2_bytes == 1024 * 1024
    assert (cfg.tile.rows, cfg.tile.cols) == (256, 256)
    assert cfg.tile.mvm_latency_s == 100e-9
    # cmprocess 200 cycles at 2 GHz = 100 ns: the two stated values agree.
    assert cfg.tight.process_cycles / cfg.cpu.clock_hz == pytest.approx(cfg.tile.mvm_latency_s)
    assert (cfg.tight.queue_cycles, cfg.tight.dequeue_cycles) == (2.0, 2.0)
    assert cfg.tight.transfer_bytes == 4
    assert cfg.loose.link_bandwidth_bps == 4e9
    assert cfg.loose.dma_register_latency_s == 10e-9
    # the notes' "120 pJ per DRAM access", read as per byte accessed (docs/model.md)
    assert cfg.cpu.dram_energy_j_per_byte == 120e-12
    # the cores' power model is 28 nm, the tile's figures are IBM 14 nm PCM data
    assert (cfg.cpu.node_nm, cfg.tile.node_nm) == (28.0, 14.0)
    # DDR4-2400 x 8 B per transfer = 19.2 GB/s
    assert cfg.cpu.dram_bandwidth_bps == 2400e6 * 8


def test_alpine_loose_is_alpine_tight_with_loose_coupling():
    tight, loose = load_system("alpine-tight"), load_system("alpine-loose")
    assert loose.coupling == "loose" and loose.name == "alpine-loose"
    assert loose.replace(coupling="tight").to_dict() == tight.to_dict()
    assert loose.sources["system.coupling"][0] == "stated"
    assert loose.sources["cpu.clock_hz"] == tight.sources["cpu.clock_hz"]


# --------------------------------------------------------------------------- derived values
def test_derived_values():
    cfg = load_system("alpine-tight")
    # 128-bit NEON / 16-bit widening lanes = 8 lanes; x 1 issue per cycle x 2/3 of the
    # instructions MACs (int8-intrinsics: SMULL + SMLAL + SADALP) = 16/3 = 5.333 MACs/cycle
    assert cfg.cpu.baseline_kernel == "int8-intrinsics"
    assert cfg.cpu.lanes == 8
    assert cfg.cpu.mac_instruction_fraction == pytest.approx(2 / 3, rel=1e-12)
    assert cfg.cpu.macs_per_cycle == pytest.approx(16 / 3, rel=1e-12)
    # sustained 1.3 MAC/cycle of 16/3 peak: gemm_efficiency = 1.3 * 3 / 16 = 0.24375
    assert cfg.cpu.gemm_efficiency == pytest.approx(0.24375, rel=1e-12)
    assert cfg.cpu.sustained_macs_per_cycle == pytest.approx(1.3, rel=1e-12)
    # int8 activations and weights in memory: 1 B per element
    assert (cfg.cpu.activation_bits, cfg.cpu.activation_bytes) == (8, 1.0)
    # tile energy at the cores' node: (28 nm / 14 nm)^1 = 2
    assert cfg.tile_energy_scale == 2.0
    # Full 256 x 256 MVM: 2 * 256 * 256 Op / 12.8e12 Op/s/W = 131072 / 12.8e12 = 10.24 nJ.
    # Preset split: 1.024 nJ fixed + 256 * 12 pJ (3.072 nJ) + 256 * 24 pJ (6.144 nJ).
    full = 2 * 256 * 256 / 12.8e12
    assert full == pytest.approx(10.24e-9, rel=1e-12)
    assert cfg.tile.mvm_energy_j(256, 256) == pytest.approx(full, rel=1e-12)
    # A 27-row, 64-column MVM: 1.024 + 27 * 0.012 + 64 * 0.024 = 1.024 + 0.324 + 1.536 nJ
    assert cfg.tile.mvm_energy_j(27, 64) == pytest.approx(2.884e-9, rel=1e-12)


# an sdot-style machine is not alpine-tight: its issue width lies outside alpine-tight's
# plausible range on purpose
@pytest.mark.filterwarnings("ignore:.*simd_issue_per_cycle:aimclib.system.PlausibilityWarning")
def test_derived_values_follow_overrides():
    # 256-bit SIMD with 8-bit lanes (an sdot-style machine: every SIMD instruction a MAC),
    # 2 issues: 32 lanes, 32 x 2 x 1 = 64 MAC/cycle
    cfg = load_system(cpu__simd_bits=256, cpu__mac_lane_bits=8, cpu__simd_issue_per_cycle=2,
                      cpu__mac_instruction_fraction=1.0)
    assert cfg.cpu.lanes == 32 and cfg.cpu.macs_per_cycle == 64.0
    # the same machine with int8-intrinsics' 2/3 MAC share: 64 x 2/3 = 42.67 MAC/cycle
    two_thirds = load_system(cpu__simd_bits=256, cpu__mac_lane_bits=8,
                             cpu__simd_issue_per_cycle=2)
    assert two_thirds.cpu.macs_per_cycle == pytest.approx(128 / 3, rel=1e-12)
    # a 64 pJ/B DRAM and a tile at the cores' own node (exponent 0: no scaling)
    cfg = load_system(cpu__dram_energy_j_per_byte=64e-12, tile__energy_node_exponent=0.0)
    assert cfg.cpu.dram_energy_j_per_byte == 64e-12 and cfg.tile_energy_scale == 1.0
    # (28 / 7)^2 = 16: a 7 nm tile figure with quadratic scaling
    assert load_system(tile__node_nm=7, tile__energy_node_exponent=2.0
                       ).tile_energy_scale == pytest.approx(16.0, rel=1e-12)
    # n_half = 0 (no per-(row, k) overhead) is allowed: the bound is >= 0
    # (valid, though below its plausible range [2, 32]: a warning, not an error)
    with pytest.warns(PlausibilityWarning, match="cpu.gemm_n_half = 0.0"):
        assert load_system(cpu__gemm_n_half=0).cpu.gemm_n_half == 0.0


# --------------------------------------------------------------------------- tile placement
@pytest.mark.parametrize("tiles, cores, even, first", [
    # 10 on 4: even 10 // 4 = 2 each, the first 10 % 4 = 2 cores one more; first ceil(10/4)=3
    (10, 4, [3, 3, 2, 2], [3, 3, 3, 1]),
    # 5 on 4: even [2,1,1,1]; first ceil(5/4)=2 -> [2,2,1,0]
    (5, 4, [2, 1, 1, 1], [2, 2, 1, 0]),
    (8, 8, [1] * 8, [1] * 8),
    (0, 3, [0, 0, 0], [0, 0, 0]),
    (3, 8, [1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0]),
    # 9 on 8: first ceil(9/8) = 2 -> [2,2,2,2,1,0,0,0]
    (9, 8, [2, 1, 1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 1, 0, 0, 0]),
    (160, 8, [20] * 8, [20] * 8),
])
def test_tiles_per_core(tiles, cores, even, first):
    assert load_system(tiles=tiles, cores=cores).tiles_per_core() == even
    assert load_system(tiles=tiles, cores=cores, tile_placement="first").tiles_per_core() == first


@given(tiles=st.integers(0, 300), cores=st.integers(1, 16),
       placement=st.sampled_from(["even", "first"]))
@settings(max_examples=60, deadline=None)
def test_tiles_per_core_conserves_tiles(tiles, cores, placement):
    per = load_system(tiles=tiles, cores=cores, tile_placement=placement).tiles_per_core()
    assert len(per) == cores and sum(per) == tiles and min(per) >= 0
    if placement == "even":
        assert max(per) - min(per) <= 1
    else:
        assert per == sorted(per, reverse=True)


# --------------------------------------------------------------------------- bad preset files
def _check_message(err, *words):
    msg = str(err.value)
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_missing_field_is_named(tmp_path):
    doc = _tight_doc()
    del doc["cpu"]["clock_hz"]
    path = _write_preset(tmp_path / "p.toml", doc)
    with pytest.raises(PresetError) as err:
        load_system(path)
    _check_message(err, "cpu.clock_hz", "missing", "Hz")


def test_missing_section_is_named(tmp_path):
    doc = _tight_doc()
    del doc["loose"]
    path = _write_preset(tmp_path / "p.toml", doc)
    with pytest.raises(PresetError) as err:
        load_system(path)
    _check_message(err, "loose.")


@pytest.mark.parametrize("section, fname, value, words", [
    ("cpu", "clock_hz", -2e9, ["cpu.clock_hz", ">= 1e+06 and <= 1e+11", "Hz"]),
    ("cpu", "clock_hz", 2.0, ["cpu.clock_hz", ">= 1e+06 and <= 1e+11"]),  # below physics
    ("tile", "mvm_energy_per_row_j", -1e-12, ["tile.mvm_energy_per_row_j", ">= 0"]),
    ("cpu", "gemm_efficiency", 1.5, ["cpu.gemm_efficiency", "> 0 and <= 1"]),
    ("cpu", "gemm_efficiency", 0.0, ["cpu.gemm_efficiency", "> 0 and <= 1"]),  # exclusive bound
    ("cpu", "gemm_n_half", -1.0, ["cpu.gemm_n_half", "output", ">= 0"]),
    ("cpu", "cores", 0, ["cpu.cores", ">= 1 and <= 1024"]),
    ("cpu", "cores", 2.5, ["cpu.cores", "integer"]),
    ("tile", "rows", "many", ["tile.rows", "integer"]),
    ("tile", "rows", True, ["tile.rows", "integer"]),
    ("tile", "mvm_latency_s", float("nan"), ["tile.mvm_latency_s", "finite"]),
    ("tile", "mvm_latency_s", float("inf"), ["tile.mvm_latency_s", "finite"]),
    ("system", "coupling", "medium", ["system.coupling", "tight", "loose"]),
    ("system", "tile_placement", "random", ["system.tile_placement", "even", "first"]),
])
def test_bad_values_in_file_are_named(tmp_path, section, fname, value, words):
    doc = _tight_doc()
    doc[section][fname] = {"value": value, "status": "assumed", "source": "test"}
    path = tmp_path / "p.toml"
    if isinstance(value, float) and not math.isfinite(value):
        # TOML spells them nan / inf; write a placeholder and substitute the literal
        doc[section][fname]["value"] = 12345.678
        _write_preset(path, doc)
        lit = "nan" if math.isnan(value) else "inf"
        path.write_text(path.read_text().replace("12345.678", lit))
    else:
        _write_preset(path, doc)
    with pytest.raises(PresetError) as err:
        load_system(str(path))
    _check_message(err, *words)


def test_entry_without_value_is_named(tmp_path):
    doc = _tight_doc()
    doc["tile"]["rows"] = {"status": "stated", "source": "x"}
    with pytest.raises(PresetError) as err:
        load_system(_write_preset(tmp_path / "p.toml", doc))
    _check_message(err, "tile.rows", "value")


def test_unknown_field_and_section(tmp_path):
    doc = _tight_doc()
    doc["cpu"]["clock_mhz"] = 2000
    with pytest.raises(PresetError) as err:
        load_system(_write_preset(tmp_path / "a.toml", doc))
    _check_message(err, "cpu.clock_mhz", "clock_hz")  # names it and lists the known ones
    doc = _tight_doc()
    doc["gpu"] = {"cores": 4}
    with pytest.raises(PresetError) as err:
        load_system(_write_preset(tmp_path / "b.toml", doc))
    _check_message(err, "gpu", "cpu")


def test_section_that_is_not_a_table(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\ncpu = 4\n')
    with pytest.raises(PresetError) as err:
        load_system(str(path))
    _check_message(err, "[cpu]", "table")


def test_invalid_toml(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[cpu\ncores = 8\n")
    with pytest.raises(PresetError) as err:
        load_system(str(path))
    _check_message(err, "broken.toml", "TOML")


def test_missing_file_and_unknown_name():
    with pytest.raises(PresetError) as err:
        load_system("/nonexistent/dir/none.toml")
    _check_message(err, "none.toml")
    with pytest.raises(UnknownNameError) as err:
        load_system("alpine-medium")
    _check_message(err, "alpine-medium", "alpine-tight", "alpine-loose")
    assert isinstance(err.value, AimcError) and isinstance(err.value, KeyError)


# --------------------------------------------------------------------------- base chains
def test_base_chain_by_name_and_by_path(tmp_path):
    mid = _write_preset(tmp_path / "mid.toml", {
        "name": "mid", "base": "alpine-tight",
        "cpu": {"cores": {"value": 4, "status": "assumed", "source": "test"}},
        "tile": {"rows": 512},
    })
    top = _write_preset(tmp_path / "top.toml", {
        "name": "top", "base": mid,
        "cpu": {"clock_hz": 1e9},
        "system": {"coupling": {"value": "loose", "status": "assumed", "source": "top"}},
    })
    cfg = load_system(top)
    base = load_system("alpine-tight")
    assert cfg.name == "top"
    assert cfg.cores == 4 and cfg.tile.rows == 512 and cfg.cpu.clock_hz == 1e9
    assert cfg.coupling == "loose"
    # everything else comes from alpine-tight, sources included
    assert cfg.tile.cols == base.tile.cols and cfg.loose == base.loose
    assert cfg.sources["cpu.cores"] == ("assumed", "test")
    assert cfg.sources["system.coupling"] == ("assumed", "top")
    assert cfg.sources["cpu.clock_hz"][0] == "user"  # a bare value in a file
    assert cfg.sources["tile.cols"] == base.sources["tile.cols"]


def test_base_that_does_not_exist_and_cycles(tmp_path):
    with pytest.raises(UnknownNameError) as err:
        load_system(_write_preset(tmp_path / "a.toml", {"name": "a", "base": "nope"}))
    _check_message(err, "nope")
    a, b = tmp_path / "x.toml", tmp_path / "y.toml"
    _write_preset(a, {"name": "x", "base": str(b)})
    _write_preset(b, {"name": "y", "base": str(a)})
    with pytest.raises(PresetError) as err:
        load_system(str(a))
    _check_message(err, "cycle")
    _write_preset(a, {"name": "x", "base": str(a)})
    with pytest.raises(PresetError) as err:
        load_system(str(a))
    _check_message(err, "cycle")


def test_bad_value_in_a_derived_preset_is_named(tmp_path):
    path = _write_preset(tmp_path / "d.toml", {"name": "d", "base": "alpine-tight",
                                               "loose": {"link_bandwidth_bps": 0}})
    with pytest.raises(PresetError) as err:
        load_system(path)
    _check_message(err, "loose.link_bandwidth_bps", "d.toml")


# --------------------------------------------------------------------------- overrides
def test_override_forms_agree():
    a = load_system("alpine-tight", cpu__cores=4, tile__mvm_latency_s=2e-7)
    b = load_system("alpine-tight", **{"cpu.cores": 4, "tile.mvm_latency_s": 2e-7})
    c = load_system("alpine-tight", cores=4).replace(**{"tile.mvm_latency_s": 2e-7})
    assert a == b == c
    assert a.cores == 4 and a.tile.mvm_latency_s == 2e-7
    assert a.sources["cpu.cores"] == ("override", "set by the caller")
    # untouched values stay
    assert a.cpu.clock_hz == 2e9 and a.tile == dataclasses.replace(
        load_system().tile, mvm_latency_s=2e-7)


def test_shortcuts():
    cfg = load_system(cores=2, tiles=16, coupling="loose", tile_placement="first")
    assert (cfg.cpu.cores, cfg.system.tiles, cfg.system.coupling) == (2, 16, "loose")
    assert cfg.system.tile_placement == "first"
    assert cfg.replace(tiles=0).tiles == 0
    # integers given as whole floats are converted; a SystemConfig is accepted as the preset
    again = load_system(cfg, cores=3.0)
    assert again.cores == 3 and isinstance(again.cores, int)


@pytest.mark.parametrize("overrides, words", [
    ({"cores": 0}, ["cpu.cores", ">= 1"]),
    ({"tiles": -1}, ["system.tiles", ">= 0"]),
    ({"coupling": "medium"}, ["system.coupling", "tight"]),
    ({"cpu__clock_hz": "2 GHz"}, ["cpu.clock_hz", "number"]),
    ({"tile__mvm_latency_s": -1e-9}, ["tile.mvm_latency_s"]),
    ({"cpu__depthwise_efficiency": 2.0}, ["cpu.depthwise_efficiency", "<= 1"]),
    ({"cpu__clock_mhz": 2000}, ["cpu.clock_mhz", "section.field"]),
    ({"gpu__cores": 2}, ["gpu.cores", "cpu"]),
    ({"clock": 2e9}, ["clock", "cores"]),
])
def test_bad_overrides_are_named(overrides, words):
    with pytest.raises(PresetError) as err:
        load_system("alpine-tight", **overrides)
    _check_message(err, *words)


def _numeric_fields():
    out = []
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            if "choices" not in f.metadata:
                out.append((section, f))
    return out


@st.composite
def _valid_override(draw):
    section, f = draw(st.sampled_from(_numeric_fields()))
    meta = f.metadata
    lo = meta["min"]
    if meta["integer"]:
        hi = min(4096, meta["max"]) if meta["max"] is not None else 4096
        value = draw(st.integers(max(int(lo), 1 if meta["exclusive"] else int(lo)), int(hi)))
    else:
        hi = meta["max"] if meta["max"] is not None else 1e12
        value = draw(st.floats(lo, hi, exclude_min=meta["exclusive"]))
    return section, f.name, value


# any value the validation accepts, plausible or not: the warnings are tested elsewhere
@pytest.mark.filterwarnings("ignore::aimclib.system.PlausibilityWarning")
@given(_valid_override())
@settings(max_examples=80, deadline=None)
def test_overrides_round_trip(ov):
    section, fname, value = ov
    base = load_system("alpine-tight")
    cfg = load_system("alpine-tight", **{f"{section}__{fname}": value})
    assert getattr(getattr(cfg, section), fname) == value
    assert cfg.sources[f"{section}.{fname}"][0] == "override"
    # nothing else changed
    for s in SECTIONS:
        for f in dataclasses.fields(SECTIONS[s]):
            if (s, f.name) != (section, fname):
                assert getattr(getattr(cfg, s), f.name) == getattr(getattr(base, s), f.name)
    # to_dict -> overrides rebuilds the same system
    flat = {f"{s}__{k}": v for s, table in cfg.to_dict().items() for k, v in table.items()}
    assert load_system("alpine-loose", **flat).to_dict() == cfg.to_dict()
