"""A statistical PCM non-ideality model for the functional tiles: programming noise, drift,
read noise and the ADC's resolution.

Every parameter is a :class:`Parameter` in :data:`PARAMETERS` (value, unit, status, source and,
for values the sources do not fix, a plausible range), as the system presets are. The device
model is the statistical PCM model of IBM aihwkit (``aihwkit.inference.PCMLikeNoiseModel``,
fitted to about one million PCM devices: Nandakumar et al., ICECS 2019; Joshi et al., Nat.
Commun. 11, 2473, 2020); the ADC resolution follows IBM's HERMES chip (Le Gallo et al., Nat.
Electron. 6, 680, 2023: 8-bit input/output MVMs on 256x256 PCM crossbars) and ALPINE's int8
tiles. ``docs/model.md`` ("Non-idealities of the analog tiles") explains it with the sources.

How a layer's int8 weights become conductances (:func:`analog_weights`):

1. **Mapping.** Each weight is a differential pair: ``w > 0`` on ``G+ = |w| / w_max * g_max``
   with ``G- = 0``, ``w < 0`` the other way (aihwkit's ``SinglePairConductanceConverter``);
   ``w_max = max |w_q|`` of the layer.
2. **Programming noise** (once, when the tiles are programmed): every device gets
   ``G_prog = max(G_T + s_prog * sigma_prog(G_T) * z1, 0)`` with the polynomial
   ``sigma_prog(G) = (c0 + c1 (G/g_max) + c2 (G/g_max)^2) * g_max / g_ref`` (uS).
3. **Drift** (a property of each device): ``nu = |mu_nu(G_T) + sigma_nu(G_T) * z2| * s_drift``
   with ``mu_nu = clip(-0.0155 ln(G_T/g_max) + 0.0244, 0.049, 0.1)`` and
   ``sigma_nu = clip(-0.0125 ln(G_T/g_max) - 0.0059, 0.008, 0.045)``; at time ``t`` after
   programming ``G_drift = G_prog ((t + t0) / t0)^(-nu)``.
4. **Read noise** (1/f, accumulated from programming to the read): ``G(t) = max(G_drift +
   |G_drift| * s_read * Q_s * sqrt(ln((t + t0 + t_read) / (2 t_read))) * z3, 0)`` with
   ``Q_s = min(0.0088 / max((G_prog/g_max)^0.65, 1e-3), 0.2)``. As in aihwkit, it is drawn once
   per evaluation (a weight perturbation for the whole test set), not per MVM.
5. **Global drift compensation** (aihwkit's ``GlobalDriftCompensation``): the periphery scales
   the layer's ADC gain by ``mean|w(0)| / mean|w(t)|``, measured on the programmed tiles
   (reading every row once); at ``t = 0`` the factor is 1.
6. The effective weight in int8 LSB is ``w(t) = (G+ - G-) / g_max * w_max`` times that factor.

``z1, z2, z3`` are standard normals of shape (2, K, N) (the G+ and G- devices of each weight)
from ``np.random.default_rng([seed, layer index])``: a weight's devices are the same whatever
the allocation, and the same devices are seen at every ``t`` (common random numbers).

ADC (:func:`adc_gain`): ``adc_bits`` bits, saturating per row block (``aimclib.functional``);
its gain per layer maps the :attr:`PcmModel.adc_percentile` percentile of the row blocks'
``|x . w|`` over calibration images to the ADC's largest code. ``adc_bits=None`` is an ideal
ADC: gain 1 and :data:`aimclib.functional.MAX_ADC_BITS` bits, so the tile is exact.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ParameterError, UnknownNameError
from .functional import MAX_ADC_BITS
from .validation import check_choice, check_float, check_int

AIHWKIT = ("IBM aihwkit PCMLikeNoiseModel (aihwkit/inference/noise/pcm.py), fitted on ~1 M PCM "
           "devices: Nandakumar et al., ICECS 2019; Joshi et al., Nat. Commun. 11, 2473 (2020)")
HERMES = ("IBM HERMES 64-core PCM chip, Le Gallo et al., Nat. Electron. 6, 680 (2023): 8-bit "
          "input/output MVMs on 256x256 crossbars")


@dataclass(frozen=True)
class Parameter:
    """One model parameter: value, unit, meaning, status (stated / assumed) and source; for
    assumed values the plausible range ``(low, high)`` (or the choices) and its reason."""

    value: object
    unit: str
    doc: str
    status: str
    source: str
    range: tuple | None = None
    range_reason: str = ""


PARAMETERS: dict[str, Parameter] = {
    "g_max_us": Parameter(
        25.0, "uS", "conductance that the layer's largest |weight| maps to", "stated",
        AIHWKIT + " (g_max default)"),
    "prog_coeff_us": Parameter(
        (0.26348, 1.9650, -1.1731), "uS",
        "programming-noise std polynomial c0 + c1 g + c2 g^2 in g = G_T / g_max, at g_max = "
        "25 uS", "stated", AIHWKIT + " (prog_coeff)"),
    "prog_noise_scale": Parameter(
        1.0, "1", "multiplier of the programming noise", "assumed",
        "the fitted model as published", (0.5, 2.0),
        "HERMES' two-device programming (Vasilopoulos et al., IEEE TED 2023) to older "
        "single-device iterative programming"),
    "drift_t0_s": Parameter(
        20.0, "s", "drift reference time t0 (first read after programming)", "stated",
        AIHWKIT + " (t_0); aihwkit's HERMES fit uses 300 s"),
    "drift_nu_mean": Parameter(
        (-0.0155, 0.0244, 0.049, 0.1), "1",
        "drift exponent mean: a ln(G_T/g_max) + b clipped to [lo, hi] as (a, b, lo, hi)",
        "stated", AIHWKIT + " (generate_drift_coefficients)"),
    "drift_nu_std": Parameter(
        (-0.0125, -0.0059, 0.008, 0.045), "1",
        "drift exponent std: a ln(G_T/g_max) + b clipped to [lo, hi] as (a, b, lo, hi)",
        "stated", AIHWKIT + " (generate_drift_coefficients)"),
    "drift_scale": Parameter(
        1.0, "1", "multiplier of the drift exponents", "assumed", "the fitted model as published",
        (0.5, 1.5), "aihwkit's HERMES fit has mean nu 0.07-0.13 at low conductance against "
        "0.049-0.1 here"),
    "read_noise_q": Parameter(
        (0.0088, 0.65, 0.2), "1",
        "1/f read noise Q_s = min(a / (G/g_max)^b, cap) as (a, b, cap)", "stated",
        AIHWKIT + " (apply_drift_noise_to_conductance)"),
    "read_time_s": Parameter(250e-9, "s", "t_read of the 1/f noise fit", "stated",
                             AIHWKIT + " (t_read)"),
    "read_noise_scale": Parameter(
        1.0, "1", "multiplier of the read noise", "assumed", "the fitted model as published",
        (0.5, 2.0), "read-out circuits from low-noise to twice the fitted device noise"),
    "drift_compensation": Parameter(
        "global", "-", "how the periphery rescales drifted outputs", "assumed",
        "aihwkit's GlobalDriftCompensation (a mean-|output| read-out per layer)",
        ("global", "none"), "compensation can be left out to see raw drift"),
    "adc_bits": Parameter(8, "bit", "ADC resolution per tile column", "stated",
                          HERMES + "; ALPINE's int8 tiles (aimcProcess)", (6, 10),
                          "6-10 bit ADCs span published AIMC macros"),
    "adc_percentile": Parameter(
        99.99, "%", "percentile of |x . w| per row block mapped to the ADC's top code",
        "assumed", "calibrated on training images, as activation scales are", (99.0, 100.0),
        "from clipping 1 % of outputs to clipping none"),
}
"""Every parameter of :class:`PcmModel`, with its value, unit, status and source."""


@dataclass(frozen=True)
class PcmModel:
    """The non-ideality model of the analog tiles (fields: :data:`PARAMETERS`; ``adc_bits =
    None`` is an ideal ADC). Validated on construction."""

    g_max_us: float = PARAMETERS["g_max_us"].value
    prog_coeff_us: tuple = PARAMETERS["prog_coeff_us"].value
    prog_noise_scale: float = PARAMETERS["prog_noise_scale"].value
    drift_t0_s: float = PARAMETERS["drift_t0_s"].value
    drift_nu_mean: tuple = PARAMETERS["drift_nu_mean"].value
    drift_nu_std: tuple = PARAMETERS["drift_nu_std"].value
    drift_scale: float = PARAMETERS["drift_scale"].value
    read_noise_q: tuple = PARAMETERS["read_noise_q"].value
    read_time_s: float = PARAMETERS["read_time_s"].value
    read_noise_scale: float = PARAMETERS["read_noise_scale"].value
    drift_compensation: str = PARAMETERS["drift_compensation"].value
    adc_bits: int | None = PARAMETERS["adc_bits"].value
    adc_percentile: float = PARAMETERS["adc_percentile"].value

    def __post_init__(self):
        where = "PcmModel"
        for name in ("prog_noise_scale", "drift_scale", "read_noise_scale"):
            check_float(getattr(self, name), name, low=0.0, where=where)
        for name in ("g_max_us", "drift_t0_s", "read_time_s"):
            check_float(getattr(self, name), name, low=0.0, low_open=True, where=where)
        check_float(self.adc_percentile, "adc_percentile", low=0.0, high=100.0, low_open=True,
                    where=where)
        check_choice(self.drift_compensation, "drift_compensation", ("global", "none"),
                     where=where)
        if self.adc_bits is not None:
            check_int(self.adc_bits, "adc_bits", low=2, high=MAX_ADC_BITS, where=where)
        for name, size in (("prog_coeff_us", None), ("drift_nu_mean", 4), ("drift_nu_std", 4),
                           ("read_noise_q", 3)):
            value = getattr(self, name)
            if not isinstance(value, tuple) or (size and len(value) != size) or not value:
                raise ParameterError(f"{where}: {name} must be a tuple of "
                                     f"{size or 'one or more'} numbers, got {value!r}")

    @property
    def has_device_noise(self) -> bool:
        """Whether the weights deviate from their int8 targets at all."""
        return (self.prog_noise_scale > 0 or self.read_noise_scale > 0
                or self.drift_scale > 0)

    def replace(self, **changes) -> PcmModel:
        """A copy with ``changes`` (validated)."""
        return dataclasses.replace(self, **changes)


MODELS: dict[str, PcmModel] = {
    "pcm": PcmModel(),
    "adc-only": PcmModel(prog_noise_scale=0.0, drift_scale=0.0, read_noise_scale=0.0),
    "ideal": PcmModel(prog_noise_scale=0.0, drift_scale=0.0, read_noise_scale=0.0,
                      adc_bits=None),
}
"""Named models: ``pcm`` (every non-ideality), ``adc-only`` (exact devices, the 8-bit ADC) and
``ideal`` (exact devices and ADC: the tiles equal the digital int8 reference bit for bit)."""


def get_model(model: PcmModel | str) -> PcmModel:
    """A :class:`PcmModel` or the name of one in :data:`MODELS`."""
    if isinstance(model, PcmModel):
        return model
    try:
        return MODELS[model]
    except (KeyError, TypeError):
        raise UnknownNameError(f"unknown PCM model {model!r}; known: "
                               f"{', '.join(MODELS)} (or pass a PcmModel)") from None


def describe(model: PcmModel | str = "pcm") -> pd.DataFrame:
    """One row per parameter: value, unit, meaning, status, source, plausible range."""
    model = get_model(model)
    rows = []
    for name, p in PARAMETERS.items():
        rows.append({"parameter": name, "value": getattr(model, name), "unit": p.unit,
                     "meaning": p.doc, "status": p.status, "source": p.source,
                     "range": p.range, "range_reason": p.range_reason})
    return pd.DataFrame(rows)


def _clipped_log_fit(coeffs: tuple, g_rel: np.ndarray) -> np.ndarray:
    a, b, lo, hi = coeffs
    return np.clip(a * np.log(g_rel) + b, lo, hi)


def _device_conductances(g_target: np.ndarray, model: PcmModel, t_s: float,
                         z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(G_prog, G(t))`` in uS for targets ``g_target`` and normals ``z`` (3, ...)."""
    gmax = model.g_max_us
    g_rel = g_target / gmax
    sig_prog = np.zeros_like(g_target)
    for power, coeff in enumerate(model.prog_coeff_us):
        sig_prog += coeff * g_rel ** power
    # the polynomial is fitted at g_max = 25 uS; it scales with g_max like the conductances
    sig_prog *= gmax / PARAMETERS["g_max_us"].value
    g_prog = np.maximum(g_target + model.prog_noise_scale * sig_prog * z[0], 0.0)
    g_rel_safe = np.maximum(g_rel, 1e-7)
    nu = np.abs(_clipped_log_fit(model.drift_nu_mean, g_rel_safe)
                + _clipped_log_fit(model.drift_nu_std, g_rel_safe) * z[1]) * model.drift_scale
    t0 = model.drift_t0_s
    g_drift = g_prog * ((t_s + t0) / t0) ** (-nu) if t_s > 0 else g_prog
    a, b, cap = model.read_noise_q
    q_s = np.minimum(a / np.maximum((g_prog / gmax) ** b, 1e-3), cap)
    t_read = model.read_time_s
    sig_read = q_s * math.sqrt(math.log((t_s + t0 + t_read) / (2 * t_read)))
    g_t = np.maximum(g_drift + np.abs(g_drift) * model.read_noise_scale * sig_read * z[2], 0.0)
    return g_prog, g_t


def analog_weights(w_matrix: np.ndarray, model: PcmModel | str, t_s: float, seed: int,
                   layer: int) -> np.ndarray:
    """The effective weights (float64, int8 LSB units, same shape as ``w_matrix``) of a
    layer's int8 weights programmed on PCM and read ``t_s`` seconds later.

    ``seed`` and ``layer`` (the layer's index) select the devices' random draws
    (module docstring); the result is identical for the same arguments.
    """
    model = get_model(model)
    t_s = check_float(t_s, "t_s (time since programming)", low=0.0, unit="s")
    w = np.asarray(w_matrix).astype(np.float64)
    if not model.has_device_noise:
        return w
    w_max = max(float(np.max(np.abs(w))), 1.0)
    targets = np.stack([np.maximum(w, 0.0), np.maximum(-w, 0.0)]) / w_max * model.g_max_us
    z = np.random.default_rng([int(seed), int(layer)]).standard_normal((3,) + targets.shape)
    g_prog, g_t = _device_conductances(targets, model, t_s, z)
    scale = w_max / model.g_max_us
    w_t = (g_t[0] - g_t[1]) * scale
    if model.drift_compensation == "global" and t_s > 0:
        _, g_0 = _device_conductances(targets, model, 0.0, z)
        ref = np.mean(np.abs(g_0[0] - g_0[1]))
        now = np.mean(np.abs(g_t[0] - g_t[1]))
        if now > 0:
            w_t = w_t * (ref / now)
    return w_t


def adc_gain(dots: np.ndarray, model: PcmModel | str) -> float:
    """The ADC gain (output LSB per integer dot-product unit) of a layer from calibration row
    block dot products ``dots`` (any shape): 1 for an ideal ADC, else the gain that maps the
    model's percentile of ``|dots|`` to the top code ``2**(bits-1) - 1``."""
    model = get_model(model)
    if model.adc_bits is None:
        return 1.0
    top = float(np.percentile(np.abs(dots), model.adc_percentile))
    return (2 ** (model.adc_bits - 1) - 1) / max(top, 1.0)


def adc_bits_of(model: PcmModel | str) -> int:
    """The functional tiles' ``adc_bits`` for ``model`` (the ideal ADC: MAX_ADC_BITS)."""
    model = get_model(model)
    return MAX_ADC_BITS if model.adc_bits is None else model.adc_bits
