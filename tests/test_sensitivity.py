"""The sensitivity study: parameter discovery, tornado rows, the static-power shortcut."""

import warnings

import numpy as np
import pandas as pd
import pytest

from aimclib.errors import ParameterError
from aimclib.sensitivity import (Headline, energy_at_static_power, headline_defaults,
                                 macs_grid, parameter_effects, published_region, tornado,
                                 varied_parameters)
from aimclib.simulate import simulate, tiles_for_coverage
from aimclib.system import PlausibilityWarning, describe, load_system

NET = "squeezenet1_1"  # small: the study's code paths in a fraction of a second


def _preset(tmp_path, body: str) -> str:
    path = tmp_path / "varied.toml"
    path.write_text(f'name = "varied"\nbase = "alpine-tight"\n{body}')
    return str(path)


def test_varied_parameters_follow_describe():
    hw = load_system("alpine-tight")
    rows = {r["parameter"]: r for r in describe(hw)}
    varied = {v.parameter: v for v in varied_parameters(hw)}
    for key, r in rows.items():
        rng = r["range"]
        expected = (r["status"] in ("assumed", "derived") and rng is not None
                    and (len(set(rng) - {r["value"]}) > 0 if isinstance(r["value"], str)
                         else rng[0] < rng[1])
                    # the study runs the barrier schedule: a pipelined-only parameter is out
                    and key != "host.band_sync_cycles")
        assert (key in varied) == expected, key
    k = varied["cpu.gemm_k_half"]
    assert k.ends == (("low", rows["cpu.gemm_k_half"]["range"][0]),
                      ("high", rows["cpu.gemm_k_half"]["range"][1]))
    gating = varied["system.power_gating"]
    assert gating.default not in [v for _, v in gating.ends] and len(gating.ends) >= 1


def test_a_new_range_joins_and_degenerate_ranges_are_skipped(tmp_path):
    before = {v.parameter for v in varied_parameters("alpine-tight")}
    assert "cpu.simd_issue_per_cycle" not in before  # assumed, but no range in the preset
    path = _preset(tmp_path, """
[cpu]
simd_issue_per_cycle = { value = 1.0, status = "assumed", source = "test", range = [0.5, 2.0] }
[tile]
static_power_w = { value = 1e-3, status = "assumed", source = "test", range = [1e-3, 1e-3] }
[system]
tile_placement = { value = "even", status = "assumed", source = "test", range = ["even"] }
[tight]
queue_cycles = { value = 2.0, status = "stated", source = "test", range = [1.0, 4.0] }
""")
    varied = {v.parameter: v for v in varied_parameters(path)}
    assert varied["cpu.simd_issue_per_cycle"].ends == (("low", 0.5), ("high", 2.0))
    assert "tile.static_power_w" not in varied  # low == high
    assert "system.tile_placement" not in varied  # no alternative to the default
    assert "tight.queue_cycles" not in varied  # stated values are not varied
    assert set(varied) == before - {"tile.static_power_w", "system.tile_placement"} | {
        "cpu.simd_issue_per_cycle"}


@pytest.fixture(scope="module")
def small():
    """Defaults and a two-parameter tornado of one small network, both couplings."""
    defaults = headline_defaults([NET], executor="inprocess", progress=False)
    tor = tornado([NET], parameters=["cpu.gemm_k_half", "system.power_gating"],
                  defaults=defaults, executor="inprocess", progress=False)
    return defaults, tor


def test_tornado_rows_equal_direct_simulations(small):
    defaults, tor = small
    assert list(defaults["preset"]) == ["alpine-tight", "alpine-loose"]
    # 2 presets x (k_half low/high + the two alternatives of power gating)
    gating = varied_parameters("alpine-tight")
    n_alt = len(next(v for v in gating if v.parameter == "system.power_gating").ends)
    assert len(tor) == 2 * (2 + n_alt)
    for r in tor.itertuples():
        hw = load_system(r.preset)
        tiles = tiles_for_coverage(NET, hw, 0.41)
        assert r.tiles == tiles and r.cores == 8
        direct = simulate(NET, hw.replace(**{r.parameter: r.value}), tiles=tiles)
        assert r.speedup == direct.speedup and r.energy_gain == direct.energy_gain
        assert r.coverage == direct.coverage
        d = simulate(NET, hw, tiles=tiles)
        assert r.default_speedup == d.speedup
        assert r.speedup_change == pytest.approx(direct.speedup / d.speedup - 1, rel=1e-12)
    # power gating moves energy only; k_half moves the speedup
    gate = tor[tor["parameter"] == "system.power_gating"]
    assert (gate["speedup_change"].abs() < 1e-12).all()
    assert (gate["energy_gain_change"].abs() > 0).any()
    assert (tor.loc[tor["parameter"] == "cpu.gemm_k_half", "speedup_change"].abs() > 0).all()
    effects = parameter_effects(tor, "speedup")
    assert list(effects.index) == ["cpu.gemm_k_half", "system.power_gating"]


def test_tornado_is_identical_run_to_run_and_across_executors(small):
    defaults, tor = small
    again = tornado([NET], parameters=["cpu.gemm_k_half", "system.power_gating"],
                    defaults=defaults, executor="inprocess", progress=False)
    pd.testing.assert_frame_equal(tor, again)
    pooled = tornado([NET], parameters=["cpu.gemm_k_half", "system.power_gating"],
                     defaults=defaults, executor="processes", workers=2, progress=False)
    pd.testing.assert_frame_equal(tor, pooled)


def test_tornado_rejects_unknown_parameters(small):
    with pytest.raises(ParameterError, match="tile.rows"):
        tornado([NET], parameters=["tile.rows"], defaults=small[0], executor="inprocess",
                progress=False)


@pytest.mark.parametrize("gating", ["unused", "idle", "none"])
def test_static_power_shortcut_equals_full_simulation(gating):
    hw = load_system("alpine-loose", cores=8, **{"system.power_gating": gating,
                                                 "cpu.gemm_efficiency": 0.25})
    tiles = tiles_for_coverage(NET, hw, 0.41) + 3  # a few unused tiles: gating matters
    r = simulate(NET, hw, tiles=tiles)
    outcome = {"energy_j": r.energy_j, "tile_static_j": r.breakdown["tile_static"]["joules"],
               "tile_static_s": r.breakdown["tile_static"]["seconds"],
               "tile_energy_scale": hw.tile_energy_scale}
    for p in (0.0, 3.3e-3, 20e-3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlausibilityWarning)
            full = simulate(NET, hw.replace(**{"tile.static_power_w": p}), tiles=tiles)
        assert full.latency_s == r.latency_s
        assert energy_at_static_power(outcome, p) == pytest.approx(full.energy_j, rel=1e-12)


def test_published_region_marks_reach_and_plausibility(small):
    defaults = small[0]
    peak = load_system("alpine-tight").cpu.macs_per_cycle
    macs = [0.5, 1.3, peak]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)  # suppressed inside, on purpose
        region = published_region([NET], macs_per_cycle=macs,
                                  static_power_w=[0.0, 1e-3, 50e-3], defaults=defaults,
                                  executor="inprocess", progress=False)
    assert len(region) == 2 * 3 * 3
    h = Headline()
    ok = (np.abs(region["speedup"] / h.speedup - 1) <= 0.1) & (
        np.abs(region["energy_gain"] / h.energy_gain - 1) <= 0.1)
    assert (region["both_ok"] == ok).all()
    at = region[(region["baseline_macs_per_cycle"] == pytest.approx(1.3))
                & (region["static_power_w"] == 1e-3)]
    d = defaults.set_index("preset")
    for r in at.itertuples():  # the grid's default point is the default simulation
        assert r.speedup == pytest.approx(d.at[r.preset, "speedup"], rel=1e-12)
        assert r.energy_gain == pytest.approx(d.at[r.preset, "energy_gain"], rel=1e-12)
        assert r.plausible and r.kernel_classes == "int8-intrinsics"
    assert not region.loc[region["static_power_w"] == 50e-3, "plausible"].any()
    assert not region.loc[region["baseline_macs_per_cycle"] == 0.5, "plausible"].any()
    # energy falls as static power rises; speed does not depend on it
    for _, g in region.groupby(["preset", "baseline_macs_per_cycle"]):
        assert g["speedup"].nunique() == 1
        assert g["energy_gain"].is_monotonic_decreasing
    with pytest.raises(ParameterError, match="peak"):
        published_region([NET], macs_per_cycle=[peak * 1.1], defaults=defaults,
                         executor="inprocess", progress=False)


def test_macs_grid_ends_at_the_peak():
    grid = macs_grid("alpine-tight", 0.5, points=5)
    assert grid[0] == 0.5 and grid[-1] == load_system("alpine-tight").cpu.macs_per_cycle
    assert np.all(np.diff(grid) > 0)
    with pytest.raises(ParameterError):
        macs_grid("alpine-tight", 0.5, high=100.0)
