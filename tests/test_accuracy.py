"""The trained digits CNN, its PCM model, functional inference with allocations, and the
accuracy-aware allocation."""

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimclib import functional, pcm, trained
from aimclib.accuracy import LAYER_NAMES, DigitsInference, accuracy_of, int8_accuracy
from aimclib.accuracy_allocation import (accuracy_aware, every_allocation, latency_pricing)
from aimclib.errors import ParameterError, ShapeError, UnknownNameError
from aimclib.simulate import simulate
from aimclib.system import load_system


@pytest.fixture(scope="module")
def small():
    """Small tiles (64 rows x 8 columns) so layers split into several units and row blocks."""
    return DigitsInference(rows=64, cols=8, test_images=40, calibration_images=64)


# --------------------------------------------------------------------------- the network
@pytest.mark.slow
def test_weights_rebuild_bit_identically(tmp_path):
    """`make train` (python -m aimclib.trained) reproduces the committed weights exactly."""
    assert trained.main(["--out", str(tmp_path / "w.npz")]) == 0
    with np.load(trained.WEIGHTS_FILE) as committed, np.load(tmp_path / "w.npz") as rebuilt:
        assert committed.files == rebuilt.files
        for key in committed.files:
            assert np.array_equal(committed[key], rebuilt[key], equal_nan=True), key
    log = trained.WEIGHTS_FILE.with_suffix(".log").read_text()
    assert (tmp_path / "w.log").read_text() == log


def test_reported_accuracies_match_the_log():
    params, layers = trained.load_weights()
    _, _, x_te, y_te = trained.load_data()
    log = trained.WEIGHTS_FILE.with_suffix(".log").read_text()
    assert f"float test accuracy {trained.accuracy_float(params, x_te, y_te):.4f}" in log
    assert f"int8 test accuracy {int8_accuracy(layers, x_te, y_te):.4f}" in log
    assert int8_accuracy(layers, x_te, y_te) > 0.9


def test_network_matches_the_weights():
    net = trained.digits_network()
    _, layers = trained.load_weights()
    assert [i.name for i in net.mvm] == list(LAYER_NAMES) == [q.spec.name for q in layers]
    for info, q in zip(net.mvm, layers):
        assert (info.k, info.n) == q.w_matrix.shape


def test_missing_weights_say_how_to_make_them(tmp_path):
    with pytest.raises(Exception, match="make train"):
        trained.load_weights(tmp_path / "none.npz")


# ----------------------------------------------------------------- inference with tiles
def test_ideal_tiles_equal_the_digital_reference_bit_for_bit(small):
    ref = small.logits((0, 0, 0, 0))
    counts = [mp.n_units for mp in small.mappings]
    assert counts[1] > 1 and max(mp.tile_row_block.max() for mp in small.mappings) > 0
    for units in [(1, 0, 0, 0), (0, 2, 0, 0), (2, 4, 4, 2), (1, 3, 2, 1)]:
        assert np.array_equal(small.logits(units, "ideal"), ref), units


def test_ideal_default_tiles_equal_the_reference():
    ev = DigitsInference(test_images=30, calibration_images=32)
    assert np.array_equal(ev.logits((1, 1, 1, 1), "ideal"), ev.logits((0, 0, 0, 0)))


def test_noisy_accuracy_is_reproducible_from_the_seed(small):
    a = small.logits((1, 2, 1, 1), "pcm", 86400.0, seed=3)
    b = small.logits((1, 2, 1, 1), "pcm", 86400.0, seed=3)
    c = small.logits((1, 2, 1, 1), "pcm", 86400.0, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, small.logits((0, 0, 0, 0)))
    s1 = small.accuracy_stats((1, 2, 1, 1), "pcm", 0.0, seeds=[0, 1, 2])
    s2 = small.accuracy_stats((1, 2, 1, 1), "pcm", 0.0, seeds=[0, 1, 2])
    assert np.array_equal(s1["values"], s2["values"]) and s1["std"] >= 0


def test_adc_only_model_loses_to_saturation_and_rounding(small):
    # an 8-bit ADC per row block is not exact: some logits move
    assert not np.array_equal(small.logits((2, 4, 4, 2), "adc-only"), small.logits((0,) * 4))


def test_units_forms_and_errors(small):
    sim_units = np.zeros(len(small.network.layers), np.int64)
    sim_units[[i for i, layer in enumerate(small.network.layers) if layer.name == "conv2"]] = 3
    assert small.units_vector(sim_units).tolist() == [0, 3, 0, 0]
    assert small.units_vector({"fc": 1}).tolist() == [0, 0, 0, 1]
    with pytest.raises(ParameterError, match="unknown layer"):
        small.units_vector({"conv9": 1})
    with pytest.raises(ParameterError, match="one count per MVM layer"):
        small.units_vector((1, 2))
    with pytest.raises(ParameterError, match="units of conv1"):
        small.units_vector((9, 0, 0, 0))


def test_accuracy_of_reports_mean_std_and_coverage():
    out = accuracy_of((0, 0, 0, 0), seeds=[0, 1])
    assert out["mean"] == out["reference"] and out["std"] == 0 and out["tiles"] == 0
    full = accuracy_of({"conv1": 1}, seeds=[0, 1], model="adc-only")
    assert full["tiles"] == 1 and 0 < full["coverage"] < 1 and full["std"] == 0


# ---------------------------------------------------------------------- the PCM model
def test_every_parameter_has_unit_status_source_and_assumed_ones_a_range():
    table = pcm.describe()
    assert set(table["parameter"]) == {f.name for f in dataclasses.fields(pcm.PcmModel)}
    assert (table["unit"] != "").all() and (table["source"] != "").all()
    assert set(table["status"]) <= {"stated", "assumed"}
    assumed = table[table["status"] == "assumed"]
    assert assumed["range"].notna().all() and (assumed["range_reason"] != "").all()


def test_model_validation():
    with pytest.raises(ParameterError):
        pcm.PcmModel(adc_bits=1)
    with pytest.raises(ParameterError):
        pcm.PcmModel(drift_compensation="magic")
    with pytest.raises(UnknownNameError, match="known"):
        pcm.get_model("rram")


def test_analog_weights():
    w = np.random.default_rng(0).integers(-127, 128, (50, 20)).astype(np.int8)
    assert np.array_equal(pcm.analog_weights(w, "ideal", 1e5, 0, 0), w.astype(float))
    w0 = pcm.analog_weights(w, "pcm", 0.0, 1, 2)
    assert np.array_equal(w0, pcm.analog_weights(w, "pcm", 0.0, 1, 2))
    assert 0 < np.abs(w0 - w).mean() < 10
    raw = pcm.PcmModel(drift_compensation="none")
    day, year = (pcm.analog_weights(w, raw, t, 1, 2) for t in (86400.0, 3.15e7))
    assert np.abs(year).mean() < np.abs(day).mean() < np.abs(w0).mean()  # drift shrinks G
    comp = pcm.analog_weights(w, "pcm", 3.15e7, 1, 2)
    # global compensation restores the mean |w| read at t = 0
    assert np.abs(comp).mean() == pytest.approx(np.abs(w0).mean(), rel=1e-9)


def test_adc_gain():
    dots = np.arange(-1000, 1001)
    assert pcm.adc_gain(dots, "ideal") == 1.0
    g = pcm.adc_gain(dots, pcm.PcmModel(adc_percentile=100.0))
    assert g == pytest.approx(127 / 1000)


# ------------------------------------------------------------------ functional additions
def test_functional_adc_bits_and_pre_adc():
    x = np.full(4, 100, np.int8)
    w = np.full((1, 4), 100, np.int8)  # dot = 40,000
    assert functional.linear_tiles(x, w).tolist() == [127]
    assert functional.linear_tiles(x, w, adc_bits=24).tolist() == [40000]
    assert functional.linear_tiles(x, w, adc_bits=24, pre_adc=np.array([[2.4]])).tolist() \
        == [40002]
    assert functional.linear_tiles(x, w, adc_bits=12).tolist() == [2047]
    with pytest.raises(ShapeError, match="pre_adc"):
        functional.linear_tiles(x, w, pre_adc=np.zeros((2, 1)))
    with pytest.raises(ParameterError, match="adc_bits"):
        functional.linear_tiles(x, w, adc_bits=25)


# ------------------------------------------------------------ accuracy-aware allocation
def _brute_force(unit_tiles, cost, drop, budget, max_drop):
    best = None
    for units in itertools.product(*[range(len(ut) + 1) for ut in unit_tiles]):
        tiles = sum(int(np.sum(ut[:u])) for ut, u in zip(unit_tiles, units))
        d = sum(max(float(dd[u]), 0.0) if u else 0.0 for dd, u in zip(drop, units))
        c = sum(float(cc[u]) for cc, u in zip(cost, units))
        if tiles <= budget and d <= max_drop + 1e-12 and (best is None or c < best):
            best = c
    return best


@st.composite
def problems(draw):
    n_layers = draw(st.integers(1, 4))
    unit_tiles, cost, drop = [], [], []
    for _ in range(n_layers):
        n = draw(st.integers(1, 3))
        unit_tiles.append(np.array(draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))))
        cost.append(np.array(draw(st.lists(st.floats(0, 10), min_size=n + 1, max_size=n + 1))))
        drop.append(np.array(draw(st.lists(st.floats(-0.01, 0.05), min_size=n + 1,
                                           max_size=n + 1))))
    budget = draw(st.integers(0, 12))
    max_drop = draw(st.floats(0, 0.08))
    return unit_tiles, cost, drop, budget, max_drop


@settings(max_examples=150, deadline=None)
@given(problems(), st.integers(0, 2**31))
def test_accuracy_aware_respects_its_bounds_and_is_optimal(problem, seed):
    unit_tiles, cost, drop, budget, max_drop = problem
    res = accuracy_aware(unit_tiles, cost, drop, budget, max_drop)
    assert res.tiles <= budget
    assert res.proxy_drop <= max_drop + 1e-12
    assert res.tiles == sum(int(np.sum(ut[:u])) for ut, u in zip(unit_tiles, res.units))
    assert res.cost == pytest.approx(_brute_force(unit_tiles, cost, drop, budget, max_drop),
                                     abs=1e-9)
    # a "measured" drop that is not additive: the verified result still respects the bound
    rng = np.random.default_rng(seed)
    extra = {u: rng.uniform(-0.02, 0.04) for u in every_allocation(unit_tiles)}

    def measured(units):
        if not units.any():
            return 0.0
        return sum(max(float(d[u]), 0) for d, u in zip(drop, units)) + extra[tuple(units)]

    checked = accuracy_aware(unit_tiles, cost, drop, budget, max_drop, verify=measured)
    assert checked.measured_drop <= max_drop + 1e-12
    assert checked.tiles <= budget and checked.proxy_drop <= max_drop + 1e-12


def test_accuracy_aware_errors():
    with pytest.raises(ParameterError, match="entries"):
        accuracy_aware([np.array([1])], [np.array([1.0])], [np.array([0.0, 0.1])], 3, 0.1)
    with pytest.raises(ParameterError, match="verify"):
        accuracy_aware([np.array([1])], [np.array([1.0, 0.5])], [np.array([0.0, 0.0])], 3,
                       0.1, verify=lambda u: 1.0)


def test_latency_pricing_matches_the_simulator():
    net, hw = trained.digits_network(), load_system("alpine-tight")
    pricing = latency_pricing(net, hw)
    ev = DigitsInference(test_images=10, calibration_images=16)
    for tiles in range(7):
        res = simulate(net, hw, allocation="optimal", tiles=tiles)
        units = ev.units_vector(res.units)
        assert pricing.latency_s(units) == pytest.approx(res.latency_s, rel=1e-12)
