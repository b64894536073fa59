"""Accuracy of the trained digits CNN with any allocation: mapped units on functional tiles,
the rest digital int8.

The **digital int8 reference** (:func:`int8_logits` with nothing mapped) computes every layer as
the cores would: the exact integer sums ``acc = x_q . w_q`` (im2col patches, fan-in in
``(c, kh, kw)`` order), then ``y = acc * (s_in * s_w) + bias`` in float64, the ReLU and the
requantisation ``clip(rint(y / s_out), -128, 127)``; the logits stay real-valued.

**Mapped units** (:mod:`aimclib.mapping`: a column block with all its row blocks; the units of
a layer are mapped in order, so ``u`` units are the first outputs of the layer) run on
:func:`aimclib.functional.conv2d_tiles` / :func:`~aimclib.functional.linear_tiles` with the
layer's ADC gain ``g`` (:func:`aimclib.pcm.adc_gain`): each row block's output saturates on its
own at the ADC's resolution and the core adds the row blocks' outputs; the PCM error of the
weights enters before the ADC as ``g * x . (w(t) - w_q)`` per row block
(:func:`aimclib.pcm.analog_weights`). The core then uses ``acc / g`` in place of the exact sum.
With the ``ideal`` model (exact devices, gain 1, an ADC too wide to saturate) the tiles return
the exact sums, so the result equals the digital reference bit for bit.

Accuracy is top-1 on the held-out test images; over seeds it is reported as mean and standard
deviation (ddof = 1) of the per-seed accuracies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache

import numba
import numpy as np
import pandas as pd

from . import pcm
from .errors import ParameterError
from .functional import block_grid, conv2d_tiles, linear_tiles
from .mapping import LayerMapping, map_layer
from .trained import (ARCHITECTURE, WEIGHTS_FILE, QuantizedLayer, digits_network, im2col,
                      load_data, load_weights)
from .validation import check_float, check_int, check_seed

CALIBRATION_IMAGES = 256
"""Training images that set the ADC gains (the first ones of the training split)."""
LAYER_NAMES = tuple(spec.name for spec in ARCHITECTURE)
"""The digits CNN's MVM layers, in the order of a units vector."""


@contextmanager
def _one_numba_thread():
    """Run Numba's parallel kernels on one thread inside the block: one small image per call
    costs more in thread start-up than it gains (15x slower on two busy cores). The tiles'
    results do not depend on the thread count (:mod:`aimclib.functional`)."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def quantize_input(x: np.ndarray) -> np.ndarray:
    """Images in [0, 1] as int8 0..127 (input scale 1/127)."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 127.0), -128, 127).astype(np.int8)


def _patches(q: QuantizedLayer, x_q: np.ndarray) -> np.ndarray:
    """The layer's input as float64 patches (B, P, K): exact for int8 values."""
    if q.spec.is_conv:
        return im2col(x_q, q.spec.kernel, q.spec.stride, q.spec.padding).astype(np.float64)
    return x_q.reshape(x_q.shape[0], 1, -1).astype(np.float64)


def _requantize(q: QuantizedLayer, acc: np.ndarray, out_hw: tuple[int, int] | None):
    """The core's step after the sums: ``acc`` (B, P, N) to the next int8 input or logits."""
    y = acc * (q.in_scale * q.w_scale) + q.bias
    if q.out_scale is None:
        return y.reshape(y.shape[0], -1)
    y = np.maximum(y, 0.0)
    out = np.clip(np.rint(y / q.out_scale), -128, 127).astype(np.int8)
    b_count, _, n = out.shape
    return np.ascontiguousarray(out.transpose(0, 2, 1)).reshape(b_count, n, *out_hw)


class DigitsInference:
    """The trained digits CNN, its test set and its tile mapping, ready to evaluate allocations.

    Args:
        weights: the ``.npz`` of :func:`aimclib.trained.save_weights`.
        rows, cols: tile size (the mapping units and the row blocks follow it).
        calibration_images: training images that set the ADC gains.
        test_images: use only the first this many test images (None: all 540).
    """

    def __init__(self, weights=WEIGHTS_FILE, rows: int = 256, cols: int = 256,
                 calibration_images: int = CALIBRATION_IMAGES, test_images: int | None = None):
        self.rows = check_int(rows, "rows", low=1)
        self.cols = check_int(cols, "cols", low=1)
        _, self.layers = load_weights(weights)
        x_tr, _, x_te, y_te = load_data()
        if test_images is not None:
            test_images = check_int(test_images, "test_images", low=1, high=len(y_te))
            x_te, y_te = x_te[:test_images], y_te[:test_images]
        self.x_test, self.y_test = quantize_input(x_te), y_te
        calibration_images = check_int(calibration_images, "calibration_images", low=1,
                                       high=len(x_tr))
        self._x_cal = quantize_input(x_tr[:calibration_images])
        self.network = digits_network()
        self.mappings: tuple[LayerMapping, ...] = tuple(
            map_layer(self.network[name], self.rows, self.cols) for name in LAYER_NAMES)
        self._gains: dict = {}
        self._stats: dict = {}
        self._reference = None

    # ----------------------------------------------------------------------- allocations
    def units_vector(self, units) -> np.ndarray:
        """Units mapped per MVM layer (int64, :data:`LAYER_NAMES` order) from a sequence of one
        per MVM layer, one per network layer (a simulator's units), or ``{name: units}``."""
        n_all = len(self.network.layers)
        if isinstance(units, Mapping):
            unknown = sorted(set(units) - set(LAYER_NAMES))
            if unknown:
                raise ParameterError(f"units: unknown layer(s) {unknown}; the MVM layers are "
                                     f"{', '.join(LAYER_NAMES)}")
            vec = [units.get(name, 0) for name in LAYER_NAMES]
        else:
            vec = list(np.asarray(units).ravel())
            if len(vec) == n_all:
                index = {layer.name: i for i, layer in enumerate(self.network.layers)}
                vec = [vec[index[name]] for name in LAYER_NAMES]
            elif len(vec) != len(LAYER_NAMES):
                raise ParameterError(f"units: need one count per MVM layer "
                                     f"({len(LAYER_NAMES)}: {', '.join(LAYER_NAMES)}) or per "
                                     f"network layer ({n_all}), got {len(vec)}")
        return np.array([check_int(u, f"units of {name}", low=0, high=mp.n_units)
                         for u, name, mp in zip(vec, LAYER_NAMES, self.mappings)], np.int64)

    def tiles_of(self, units) -> int:
        """Tiles an allocation uses."""
        vec = self.units_vector(units)
        return int(sum(mp.tiles_for(int(u)) for mp, u in zip(self.mappings, vec)))

    def coverage_of(self, units) -> float:
        """Share of the network's MVM weights an allocation puts on tiles."""
        vec = self.units_vector(units)
        covered = sum(mp.partial(int(u)).weights_covered for mp, u in zip(self.mappings, vec))
        return covered / sum(mp.weights for mp in self.mappings)

    # --------------------------------------------------------------------------- gains
    def gain(self, index: int, model: pcm.PcmModel) -> float:
        """ADC gain of MVM layer ``index`` under ``model``, from the calibration images run
        through the digital reference (cached per ADC setting)."""
        key = (index, model.adc_bits, model.adc_percentile)
        if key not in self._gains:
            x_q = self._x_cal
            for q in self.layers[:index]:
                x_q = self._digital_layer(q, x_q)
            q = self.layers[index]
            patches, wm = _patches(q, x_q), q.w_matrix.astype(np.float64)
            offsets = block_grid(wm.shape[0], wm.shape[1], self.rows, self.cols).row_offsets
            dots = [patches[..., a:b] @ wm[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
            self._gains[key] = pcm.adc_gain(np.concatenate([d.ravel() for d in dots]), model)
        return self._gains[key]

    # ------------------------------------------------------------------------- inference
    def _digital_layer(self, q: QuantizedLayer, x_q: np.ndarray):
        acc = _patches(q, x_q) @ q.w_matrix.astype(np.float64)
        return _requantize(q, acc, self._out_hw(q, x_q))

    @staticmethod
    def _out_hw(q: QuantizedLayer, x_q: np.ndarray) -> tuple[int, int] | None:
        if not q.spec.is_conv:
            return None
        s, p, k = q.spec.stride, q.spec.padding, q.spec.kernel
        return tuple((d + 2 * p - k) // s + 1 for d in x_q.shape[2:])

    def _tile_sums(self, index: int, q: QuantizedLayer, x_q: np.ndarray, patches: np.ndarray,
                   n_out: int, model: pcm.PcmModel, t_s: float, seed: int) -> np.ndarray:
        """``acc / g`` (B, P, n_out) of the layer's first ``n_out`` outputs run on tiles."""
        gain = self.gain(index, model)
        bits = pcm.adc_bits_of(model)
        w_q = np.ascontiguousarray(q.w_q[:n_out])
        wm = q.w_matrix
        pre = None
        if model.has_device_noise:
            err = pcm.analog_weights(wm, model, t_s, seed, index)[:, :n_out] - wm[:, :n_out]
            offsets = block_grid(wm.shape[0], n_out, self.rows, self.cols).row_offsets
            # (B, R, P, n_out): each row block's share of x . (w(t) - w_q), in output LSB
            pre = gain * np.stack([patches[..., a:b] @ err[a:b]
                                   for a, b in zip(offsets[:-1], offsets[1:])], axis=1)
        out = np.empty((x_q.shape[0], patches.shape[1], n_out))
        spec = q.spec
        with _one_numba_thread():
            self._run_images(spec, x_q, w_q, gain, bits, pre, out)
        return out / gain

    def _run_images(self, spec, x_q, w_q, gain, bits, pre, out) -> None:
        """The tile sums of every image, one functional-tile call per image, into ``out``."""
        n_out = w_q.shape[0]
        for b in range(x_q.shape[0]):
            extra = None if pre is None else pre[b]
            if spec.is_conv:
                acc = conv2d_tiles(x_q[b], w_q, stride=spec.stride, padding=spec.padding,
                                   rows=self.rows, cols=self.cols, scales=gain, adc_bits=bits,
                                   pre_adc=None if extra is None else extra[None])
                out[b] = acc.reshape(n_out, -1).T
            else:
                acc = linear_tiles(x_q[b].ravel(), w_q, rows=self.rows, cols=self.cols,
                                   scales=gain, adc_bits=bits,
                                   pre_adc=None if extra is None else extra[:, 0])
                out[b, 0] = acc

    def logits(self, units=(0, 0, 0, 0), model: pcm.PcmModel | str = "pcm", t_s: float = 0.0,
               seed: int = 0, x_q: np.ndarray | None = None) -> np.ndarray:
        """Logits (B, 10) of the test images (or int8 images ``x_q`` (B, 1, 8, 8)) with
        ``units`` mapped on tiles under ``model``, ``t_s`` seconds after programming; the
        device draws come from ``seed``."""
        vec = self.units_vector(units)
        model = pcm.get_model(model)
        t_s = check_float(t_s, "t_s (time since programming)", low=0.0, unit="s")
        seed = check_seed(seed)
        h = self.x_test if x_q is None else x_q
        for index, (q, mp, u) in enumerate(zip(self.layers, self.mappings, vec)):
            patches = _patches(q, h)
            acc = patches @ q.w_matrix.astype(np.float64)
            n_out = int(mp.unit_outputs[:u].sum())
            if n_out:
                acc[..., :n_out] = self._tile_sums(index, q, h, patches, n_out, model, t_s,
                                                   seed)
            h = _requantize(q, acc, self._out_hw(q, h))
        return h

    def accuracy(self, units=(0, 0, 0, 0), model: pcm.PcmModel | str = "pcm",
                 t_s: float = 0.0, seed: int = 0) -> float:
        """Top-1 test accuracy (0..1) of one evaluation (see :meth:`logits`)."""
        if not self.units_vector(units).any():  # nothing analog: the digital reference
            return self.reference_accuracy
        pred = np.argmax(self.logits(units, model, t_s, seed), axis=1)
        return float(np.mean(pred == self.y_test))

    @property
    def reference_accuracy(self) -> float:
        """Test accuracy of the digital int8 reference."""
        if self._reference is None:
            pred = np.argmax(self.logits((0,) * len(LAYER_NAMES)), axis=1)
            self._reference = float(np.mean(pred == self.y_test))
        return self._reference

    def accuracy_stats(self, units, model: pcm.PcmModel | str = "pcm", t_s: float = 0.0,
                       seeds: Sequence[int] = range(5)) -> dict:
        """Accuracy over ``seeds``: ``mean``, ``std`` (ddof 1; 0 for one seed, no analog layer
        or a model without device noise), ``drop`` (reference minus mean) and the per-seed
        ``values``. Results are kept, so asking again costs nothing."""
        seeds = [check_seed(s) for s in seeds]
        if not seeds:
            raise ParameterError("accuracy_stats: seeds is empty; give at least one seed")
        model = pcm.get_model(model)
        key = (tuple(self.units_vector(units).tolist()), model, float(t_s), tuple(seeds))
        if key not in self._stats:  # sweeps ask for the same allocation again
            self._stats[key] = self._accuracy_stats(units, model, t_s, seeds)
        return dict(self._stats[key])

    def _accuracy_stats(self, units, model: pcm.PcmModel, t_s: float, seeds: list) -> dict:
        if not self.units_vector(units).any():
            values = np.full(len(seeds), self.reference_accuracy)
        elif not model.has_device_noise:  # no random draw: every seed gives the same result
            values = np.full(len(seeds), self.accuracy(units, model, t_s, seeds[0]))
        else:
            values = np.array([self.accuracy(units, model, t_s, s) for s in seeds])
        std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        mean = float(np.mean(values))
        return {"mean": mean, "std": std, "drop": self.reference_accuracy - mean,
                "values": values}


def int8_accuracy(layers: tuple[QuantizedLayer, ...], x: np.ndarray, y: np.ndarray) -> float:
    """Test accuracy of the digital int8 network ``layers`` on float images ``x`` in [0, 1]."""
    h = quantize_input(x)
    for q in layers:
        acc = _patches(q, h) @ q.w_matrix.astype(np.float64)
        h = _requantize(q, acc, DigitsInference._out_hw(q, h))
    return float(np.mean(np.argmax(h, axis=1) == y))


@lru_cache(maxsize=4)
def inference(rows: int = 256, cols: int = 256) -> DigitsInference:
    """A cached :class:`DigitsInference` on the committed weights for ``rows x cols`` tiles."""
    return DigitsInference(WEIGHTS_FILE, rows, cols)


def accuracy_of(units, seeds: Sequence[int] = range(5), model: pcm.PcmModel | str = "pcm",
                t_s: float = 0.0, rows: int = 256, cols: int = 256) -> dict:
    """Test accuracy of the trained digits CNN with ``units`` on tiles (the explorer's readout).

    ``units``: one count per MVM layer (conv1, conv2, conv3, fc), one per layer of
    :func:`aimclib.trained.digits_network` (a :class:`~aimclib.simulate.SimResult`'s
    ``units``), or ``{layer: units}``. Returns ``mean``, ``std`` (over ``seeds``), ``drop``
    against the digital int8 reference, ``reference`` (that accuracy), ``coverage`` and
    ``tiles``.
    """
    ev = inference(rows, cols)
    stats = ev.accuracy_stats(units, model, t_s, seeds)
    return {"mean": stats["mean"], "std": stats["std"], "drop": stats["drop"],
            "reference": ev.reference_accuracy, "coverage": ev.coverage_of(units),
            "tiles": ev.tiles_of(units)}


def layer_sensitivity(ev: DigitsInference, model: pcm.PcmModel | str = "pcm",
                      t_s: float = 0.0, seeds: Sequence[int] = range(5)) -> pd.DataFrame:
    """Accuracy with only one layer (partly) analog: one row per MVM layer and number of
    mapped units ``u >= 1``, the other layers digital. Columns: ``layer``, ``units``,
    ``tiles``, ``accuracy_mean``, ``accuracy_std``, ``drop_mean`` (reference minus mean)."""
    rows = []
    for i, (name, mp) in enumerate(zip(LAYER_NAMES, ev.mappings)):
        for u in range(1, mp.n_units + 1):
            vec = np.zeros(len(LAYER_NAMES), np.int64)
            vec[i] = u
            s = ev.accuracy_stats(vec, model, t_s, seeds)
            rows.append({"layer": name, "units": u, "tiles": mp.tiles_for(u),
                         "accuracy_mean": s["mean"], "accuracy_std": s["std"],
                         "drop_mean": s["drop"]})
    return pd.DataFrame(rows)
