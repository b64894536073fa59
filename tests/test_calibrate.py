"""``aimclib.calibrate``: the kernels, the fit, the preset it writes and ``aimc calibrate``."""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib

import numpy as np
import pandas as pd
import pytest

from aimclib import calibrate as cal
from aimclib import cli, load_system, preset_names
from aimclib.cpu import gemm_cycles
from aimclib.errors import UnknownNameError
from aimclib.system import PresetError, user_preset_dir

CLOCK = 2.0e9


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """An empty user preset directory in place of ~/.config/aimclib/presets."""
    folder = tmp_path / "presets"
    monkeypatch.setenv("AIMCLIB_PRESET_DIR", str(folder))
    return folder


def synthetic(eff: float, k_half: float, e_dw: float, elt: float, simd_bits: int,
              issue: float = 1.0, lanes_bits: int = 32, n_half: float = 0.0) -> pd.DataFrame:
    """A measurement table whose times are exactly the model's (aimclib.cpu equations)."""
    lanes = simd_bits // lanes_bits
    peak = lanes * issue
    rows = []
    for m in (64, 256):
        for k in (9, 27, 147, 576):
            for n in (16, 20, 64):  # 20: the last vector is partly idle
                n_v = lanes * math.ceil(n / lanes)
                cyc = (m * k * n_v / (peak * eff) * (1 + k_half / k) * (1 + n_half / n_v))
                rows.append(["gemm", f"{m}x{k}x{n}", m, k, n, 1, m * k * n, cyc / CLOCK])
    for hw, c in ((7, 16), (14, 24), (28, 64)):
        m = hw * hw
        cyc = m * 9 * lanes * math.ceil(c / lanes) / (peak * e_dw)
        rows.append(["depthwise", f"{hw}x{hw}x{c}", m, 9, 1, c, m * 9 * c, cyc / CLOCK])
    for size in (1024, 4096):
        ops = size * cal.RELU6_OPS
        rows.append(["eltwise", str(size), 0, 0, 0, 0, ops, ops / elt / CLOCK])
    return pd.DataFrame(rows, columns=cal.COLUMNS)


# ------------------------------------------------------------------------------ fit
@pytest.mark.parametrize("simd_bits, issue, eff, n_half", [
    (256, 1, 0.35, 0.0), (512, 1, 0.9, 6.0), (128, 2, 0.8, 20.0), (256, 3, 0.9, 8.0)])
def test_fit_recovers_the_model_parameters(simd_bits, issue, eff, n_half):
    df = synthetic(eff, 12.5, 0.2, 6.0, simd_bits, issue, n_half=n_half)
    res = cal.fit(df, CLOCK, simd_bits, 32)
    p = res["params"]
    assert list(p) == list(cal.FITTED)
    assert (p["clock_hz"], p["simd_bits"], p["mac_lane_bits"]) == (CLOCK, simd_bits, 32)
    assert p["simd_issue_per_cycle"] == issue
    for key, true in (("gemm_efficiency", eff), ("gemm_k_half", 12.5), ("gemm_n_half", n_half),
                      ("depthwise_efficiency", 0.2), ("eltwise_ops_per_cycle", 6.0)):
        assert p[key] == pytest.approx(true, rel=1e-9, abs=1e-9), key
    q = res["quality"]
    assert q["gemm_r2"] == pytest.approx(1.0, abs=1e-9)
    # the fit without the n term explains the n-dependence only when there is none
    if n_half:
        assert q["gemm_r2_k_only"] < 0.999
    else:
        assert q["gemm_r2_k_only"] == pytest.approx(1.0, abs=1e-9)
    assert q["max_rel_err"] < 1e-9 and res["clipped"] == []
    assert np.abs(res["shapes"]["rel_err"]).max() < 1e-9
    assert np.allclose(res["shapes"]["model_s"], df["seconds"], rtol=1e-9, atol=0)


def test_fit_takes_the_fewest_simd_instructions_per_cycle():
    """Only issue x efficiency is observable: 3 x 0.5 comes back as 2 x 0.75."""
    p = cal.fit(synthetic(0.5, 12.5, 0.2, 6.0, 256, issue=3), CLOCK, 256, 32)["params"]
    assert p["simd_issue_per_cycle"] == 2
    assert p["gemm_efficiency"] == pytest.approx(0.75, rel=1e-9)


def test_fitted_parameters_reproduce_the_library_model():
    """The fitted values put into aimclib.cpu give the measured cycles: calibrate and cpu
    use the same equations (requantisation off, no gather), n = 20 included (the n term
    acts on the 24 outputs its three 8-lane vectors compute)."""
    df = synthetic(0.45, 30.0, 0.3, 5.0, 256, n_half=10.0)
    params = cal.fit(df, CLOCK, 256, 32)["params"]
    base = load_system("alpine-tight")
    cpu = dataclasses.replace(base.cpu, **params)
    host = dataclasses.replace(base.host, dequant_ops_per_output=0.0)
    mvm = df[df["kernel"] != "eltwise"]
    model = gemm_cycles(cpu, host, mvm["m"], mvm["k"], mvm["n"], mvm["g"], False)
    np.testing.assert_allclose(model / CLOCK, mvm["seconds"], rtol=1e-9)


def test_fit_clips_and_reports():
    df = synthetic(0.5, 0.0, 0.2, 4.0, 256)
    gm = df["kernel"] == "gemm"
    # overhead that shrinks per MAC as k falls: the fit wants k_half < 0
    df.loc[gm, "seconds"] *= 1 - 2.0 / df.loc[gm, "k"]
    dw = df["kernel"] == "depthwise"
    df.loc[dw, "seconds"] *= 0.1  # faster than the GEMM's peak: e_dw > 1
    res = cal.fit(df, CLOCK, 256, 32)
    p = res["params"]
    assert p["gemm_k_half"] == 0.0 and p["depthwise_efficiency"] == 1.0
    assert len(res["clipped"]) == 2
    assert "gemm_k_half" in res["clipped"][0] and "depthwise_efficiency" in res["clipped"][1]
    # the times do not depend on n: n_half comes out 0 (to rounding), without a clip report
    assert p["gemm_n_half"] == pytest.approx(0.0, abs=1e-9)
    vector_macs = df.loc[gm, "m"] * df.loc[gm, "k"] * np.ceil(df.loc[gm, "n"] / 8)
    ratio = df.loc[gm, "seconds"] * CLOCK / vector_macs
    assert p["gemm_efficiency"] == pytest.approx(1 / ratio.mean())
    assert res["quality"]["gemm_r2"] < 1.0


def test_fit_clips_a_negative_n_half():
    df = synthetic(0.5, 10.0, 0.2, 4.0, 256)
    gm = df["kernel"] == "gemm"
    # time per vector that shrinks as n falls: the fit wants n_half < 0
    n_v = 8 * np.ceil(df.loc[gm, "n"] / 8)
    df.loc[gm, "seconds"] *= 1 - 4.0 / n_v
    res = cal.fit(df, CLOCK, 256, 32)
    assert res["params"]["gemm_n_half"] == 0.0
    assert len(res["clipped"]) == 1 and res["clipped"][0].startswith("gemm_n_half fitted -")
    # k_half still fits the k-dependence: with n_half held at 0 the ratio is
    # a (1 + 10/k) x (mean over n of 1 - 4/n_v), exactly linear in 1/k
    assert res["params"]["gemm_k_half"] == pytest.approx(10.0, rel=1e-9)


def test_separable_fit_beats_dropping_the_cross_term():
    """The alternating fit is the least-squares optimum of the separable model: on times
    that are not exactly separable it fits at least as well as the parameters a linear fit
    on [1, 1/k, 1/n, 1/(k n)] gives (eff = 1/a, k_half = b/a, n_half = c/a), and no small
    step of any parameter improves it."""
    df = synthetic(0.5, 12.0, 0.2, 4.0, 256, n_half=16.0)
    gm = (df["kernel"] == "gemm").to_numpy()
    rng = np.random.default_rng(7)
    df.loc[gm, "seconds"] *= 1 + 0.08 * rng.standard_normal(gm.sum())  # measurement noise
    res = cal.fit(df, CLOCK, 256, 32)
    k, n, m = (df.loc[gm, c].to_numpy(float) for c in ("k", "n", "m"))
    n_v = 8 * np.ceil(n / 8)
    ratio = df.loc[gm, "seconds"].to_numpy() * CLOCK / (m * k * n_v / 8)

    def sse(a, k_half, n_half):
        return float(((ratio - a * (1 + k_half / k) * (1 + n_half / n_v)) ** 2).sum())

    p = res["params"]
    fitted = (1 / (p["gemm_efficiency"] * p["simd_issue_per_cycle"]), p["gemm_k_half"],
              p["gemm_n_half"])
    design = np.column_stack([np.ones_like(k), 1 / k, 1 / n_v, 1 / (k * n_v)])
    (a, b, c, _), *_ = np.linalg.lstsq(design, ratio, rcond=None)
    best = sse(*fitted)
    assert best <= sse(a, b / a, c / a)
    for i in range(3):
        for step in (0.99, 1.01):
            moved = list(fitted)
            moved[i] *= step
            assert sse(*moved) > best


@pytest.mark.parametrize("change, message", [
    (lambda df: df[(df["kernel"] != "gemm") | (df["k"] == 27)], "two fan-ins"),
    (lambda df: df[(df["kernel"] != "gemm") | (df["n"] == 64)], "two output counts n"),
    (lambda df: df[df["kernel"] != "eltwise"], "eltwise"),
    (lambda df: df.assign(kernel=df["kernel"].replace("depthwise", "winograd")), "winograd"),
    (lambda df: df.assign(seconds=df["seconds"].where(df.index != 3, 0.0)), "non-positive"),
    (lambda df: df.drop(columns="ops"), "ops"),
])
def test_fit_rejects_unusable_tables(change, message):
    df = change(synthetic(0.5, 10.0, 0.2, 4.0, 256))
    with pytest.raises(cal.CalibrationError, match=message):
        cal.fit(df, CLOCK, 256, 32)


# ------------------------------------------------------------------------------ machine
@pytest.mark.parametrize("machine, flags, bits", [
    ("x86_64", ["sse4_2", "avx2", "avx512f"], 512), ("x86_64", ["avx", "avx2"], 256),
    ("AMD64", ["sse2"], 128), ("aarch64", ["asimd"], 128), ("riscv64", [], 128)])
def test_simd_bits_from_flags(machine, flags, bits):
    assert cal.simd_bits_for(machine, flags)[0] == bits


def test_clock_and_name_from_cpuinfo():
    text = ("processor\t: 0\nmodel name\t: Test CPU 9000\ncpu MHz\t\t: 1800.000\n\n"
            "processor\t: 1\nmodel name\t: Test CPU 9000\ncpu MHz\t\t: 2400.500\n")
    assert cal.host_clock_hz(text) == (2400.5e6, "/proc/cpuinfo 'cpu MHz'")
    assert cal.host_description(text).endswith(" Test CPU 9000")


# ------------------------------------------------------------------------------ kernels
def test_kernels_compute_the_right_results():
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (5, 27), dtype=np.int8)
    b = rng.integers(-128, 128, (27, 19), dtype=np.int8)
    c = np.empty((5, 19), np.int32)
    cal._gemm_int8(a, b, c, 2)
    np.testing.assert_array_equal(c, a.astype(np.int32) @ b.astype(np.int32))
    x = rng.integers(-128, 128, (6, 7, 5), dtype=np.int8)
    w = rng.integers(-128, 128, (3, 3, 5), dtype=np.int8)
    out = np.empty((4, 5, 5), np.int32)
    cal._depthwise3x3_int8(x, w, out, 1)
    ref = sum(x[ky:ky + 4, kx:kx + 5].astype(np.int32) * w[ky, kx].astype(np.int32)
              for ky in range(3) for kx in range(3))
    np.testing.assert_array_equal(out, ref)
    v = np.linspace(-3, 9, 50, dtype=np.float32)
    y = np.empty_like(v)
    cal._relu6_f32(v, y, 1)
    np.testing.assert_array_equal(y, np.clip(v, 0, 6))


def test_measure_tiny_shapes():
    shapes = [("gemm", 8, 9, 16), ("depthwise", 4, 16), ("eltwise", 256)]
    df = cal.measure(shapes, repeats=2, min_time_s=1e-4)
    assert list(df.columns) == cal.COLUMNS
    assert df["kernel"].tolist() == ["gemm", "depthwise", "eltwise"]
    assert (df["seconds"] > 0).all() and (df["seconds"] < 1e-2).all()
    assert df["ops"].tolist() == [8 * 9 * 16, 16 * 9 * 16, 256 * cal.RELU6_OPS]
    assert df[["m", "k", "n", "g"]].values.tolist() == [[8, 9, 16, 1], [16, 9, 1, 16],
                                                        [0, 0, 0, 0]]
    with pytest.raises(cal.CalibrationError, match="gemm"):
        cal.measure([("gemm", 8, -9, 16)])
    with pytest.raises(cal.CalibrationError, match="unknown calibration shape"):
        cal.measure([("fft", 64)])


def test_default_shapes():
    full, quick = cal.default_shapes(), cal.default_shapes(quick=True)
    assert sum(s[0] == "gemm" for s in full) == 3 * 6 * 3
    assert {s[2] for s in full if s[0] == "gemm"} == {9, 27, 64, 147, 576, 1152}
    assert len(quick) < len(full) // 3


# ------------------------------------------------------------------------------ presets
PARAMS = {"clock_hz": 3.0e9, "simd_bits": 256, "mac_lane_bits": 32,
          "simd_issue_per_cycle": 2.0, "gemm_efficiency": 0.4, "gemm_k_half": 7.5,
          "gemm_n_half": 12.0, "depthwise_efficiency": 0.2, "eltwise_ops_per_cycle": 6.0}


def test_write_preset_loads_by_name_from_the_user_dir(user_dir):
    assert user_preset_dir() == user_dir and "host" not in preset_names()
    path = cal.write_preset(PARAMS, user_dir / "host.toml", "alpine-loose",
                            details={"gemm_k_half": "a test"}, origin="unit test")
    assert path == user_dir / "host.toml"
    cfg = load_system("host")
    assert cfg.name == "host" and cfg.coupling == "loose"  # from the base
    assert preset_names()[-1] == "host"
    for key, value in PARAMS.items():
        assert getattr(cfg.cpu, key) == value
        assert cfg.sources[f"cpu.{key}"][0] == "measured"
    assert cfg.sources["cpu.gemm_k_half"][1] == "unit test: a test"
    assert cfg.cpu.l2_bytes == load_system("alpine-loose").cpu.l2_bytes
    doc = tomllib.loads(path.read_text())
    assert (doc["name"], doc["base"]) == ("host", "alpine-loose")


def test_aimc_presets_lists_user_presets_after_shipped_ones(capsys, user_dir):
    cal.write_preset(PARAMS, user_dir / "host.toml")
    assert cli.main(["presets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows][-1] == "host"
    assert rows[-1]["file"] == str(user_dir / "host.toml")
    assert rows[-1]["description"].startswith("alpine-tight with [cpu] fitted by aimc calibrate")
    assert cli.main(["layer", "--kind", "dense", "--in", "64", "--out", "64", "--preset",
                     "host", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["coupling"] == "tight"


def test_user_presets_do_not_shadow_shipped_ones(user_dir):
    user_dir.mkdir()
    (user_dir / "alpine-tight.toml").write_text(
        'name = "fake"\nbase = "alpine-tight"\n[cpu]\ncores = 1\n')
    assert preset_names().count("alpine-tight") == 1
    assert load_system("alpine-tight").cores == 8
    with pytest.raises(PresetError, match="clash"):
        cal.write_preset(PARAMS, user_dir / "alpine-tight.toml")
    with pytest.raises(PresetError, match="clash"):
        cal.write_preset(PARAMS, user_dir / "mine.toml", name="alpine-loose")
    with pytest.raises(UnknownNameError, match=str(user_dir)):
        load_system("host")


@pytest.mark.parametrize("params, message", [
    ({**PARAMS, "gemm_efficiency": 1.5}, "cpu.gemm_efficiency"),
    ({**PARAMS, "clock_hz": -1.0}, "cpu.clock_hz"),
    ({**PARAMS, "turbo": 1.0}, "turbo"),
])
def test_write_preset_rejects_bad_values(tmp_path, params, message):
    with pytest.raises(PresetError, match=message):
        cal.write_preset(params, tmp_path / "host.toml")
    assert not (tmp_path / "host.toml").exists()


# ------------------------------------------------------------------------------ aimc calibrate
def test_aimc_calibrate_quick_writes_a_loadable_preset(capsys, tmp_path, user_dir):
    out = tmp_path / "calibrated.toml"
    code = cli.main(["calibrate", "--quick", "--out", str(out), "--base", "alpine-loose"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "R^2 = " in stdout and str(out) in stdout
    # the fit quality with and without the n term, and the mean error per n with both
    assert "without the n term" in stdout
    by_n = next(line for line in stdout.splitlines() if line.startswith("GEMM mean error by n"))
    assert [f"n={n}:" in by_n for n in cal.QUICK_GEMM_N] == [True] * len(cal.QUICK_GEMM_N)
    cfg = load_system(out)
    assert cfg.name == "host" and cfg.coupling == "loose"
    assert cfg.cpu.mac_lane_bits == 32 and 0 < cfg.cpu.gemm_efficiency <= 1
    assert all(cfg.sources[f"cpu.{key}"][0] == "measured" for key in cal.FITTED)
    # one table row per measured shape, each with measured and model times
    rows = [line.split() for line in stdout.splitlines()
            if line.split()[:1] in (["gemm"], ["depthwise"], ["eltwise"])
            and len(line.split()) == 6]
    assert len(rows) == len(cal.default_shapes(quick=True))
    assert all(float(r[3].replace(",", "")) > 0 for r in rows)
    assert not user_dir.exists()  # --out was honoured


def test_aimc_calibrate_checks_its_target_before_measuring(capsys, user_dir):
    code = cli.main(["calibrate", "--quick", "--out", str(user_dir / "alpine-tight.toml")])
    _, err = capsys.readouterr()
    assert code == 2 and "clash" in err
    code = cli.main(["calibrate", "--quick", "--base", "no-such-base"])
    _, err = capsys.readouterr()
    assert code == 2 and "no-such-base" in err
    code = cli.main(["calibrate", "--quick", "--clock-hz", "0"])
    _, err = capsys.readouterr()
    assert code == 2 and "--clock-hz" in err
