"""A real trained network: a small CNN for scikit-learn's handwritten digits, and its int8 form.

Data: ``sklearn.datasets.load_digits`` (1,797 8x8 greyscale images of the digits 0-9, shipped
inside scikit-learn: nothing is downloaded). Pixels (0..16) are scaled to [0, 1]; a fixed
permutation (:data:`DATA_SEED`) puts :data:`TEST_SHARE` of the images in the test set.

Network (:data:`ARCHITECTURE`, PyTorch conventions; the same layer names as
:func:`digits_network`, the :class:`~aimclib.network.Network` the system simulator prices)::

    conv1  1 -> 16, 3x3, pad 1      16x8x8    relu1
    conv2 16 -> 32, 3x3, pad 1      32x8x8    relu2
    conv3 32 -> 32, 3x3, stride 2   32x4x4    relu3     flatten (C, H, W order) -> 512
    fc    512 -> 10                 logits

Training (:func:`train`): float64, softmax cross-entropy, SGD with momentum, mini-batches in a
seeded order. Every matrix product is a serial Numba loop in a fixed order (no BLAS, no threads,
no ``fastmath``), so the weights are identical bit for bit from run to run whatever the
machine's thread count: ``make train`` rebuilds ``data/digits_cnn.npz`` and
``tests/test_trained.py`` checks the rebuild against the committed file.

Quantisation (:func:`quantize_network`): symmetric int8 per layer. Weights:
``w_q = rint(W / s_w)`` with ``s_w = max|W| / 127``. Activations: the input as
``rint(x * 127)`` (``s = 1/127``); each hidden layer's output (after its ReLU) with
``s = q / 127``, ``q`` the :data:`CALIBRATION_PERCENTILE` percentile of that activation over
the training images (float network). Biases stay float64 and are added when the core
requantises the int32 sums (:mod:`aimclib.accuracy`).

``python -m aimclib.trained [--out data/digits_cnn.npz]`` trains, quantises, reports the float
and int8 test accuracy and writes the weights and a log beside them.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from .errors import ModelFormatError
from .network import Network, NetworkBuilder

DATA_SEED = 2024
"""Seed of the train/test split permutation."""
TEST_SHARE = 0.3
"""Share of the 1,797 images held out for testing (540 images)."""
TRAIN_SEED = 7
"""Seed of the weight initialisation and of the mini-batch order."""
EPOCHS = 30
"""Passes over the training set."""
BATCH = 32
"""Images per SGD step."""
LEARNING_RATE = 0.05
"""SGD step size (per mean-over-batch gradient)."""
MOMENTUM = 0.9
"""SGD momentum."""
WEIGHT_DECAY = 1e-4
"""L2 penalty on conv/linear weights (not biases)."""
CALIBRATION_PERCENTILE = 99.99
"""Percentile of a layer's (non-negative) activations that maps to int8 127."""
WEIGHTS_FILE = Path(__file__).resolve().parents[1] / "data" / "digits_cnn.npz"
"""The committed trained weights (made by ``make train``)."""


@dataclass(frozen=True)
class LayerSpec:
    """One conv or linear layer of the digits CNN (``kernel = 0`` for linear)."""

    name: str
    cin: int
    cout: int
    kernel: int = 0
    stride: int = 1
    padding: int = 0
    relu: bool = True

    @property
    def is_conv(self) -> bool:
        return self.kernel > 0


ARCHITECTURE = (LayerSpec("conv1", 1, 16, 3, 1, 1), LayerSpec("conv2", 16, 32, 3, 1, 1),
                LayerSpec("conv3", 32, 32, 3, 2, 1), LayerSpec("fc", 512, 10, relu=False))
"""The digits CNN's weight layers in execution order (flatten before ``fc``)."""
INPUT_SHAPE = (1, 8, 8)
"""(C, H, W) of one digit image."""


def digits_network() -> Network:
    """The digits CNN as an aimclib :class:`Network` (batch 1), layer names as in the weights."""
    b = NetworkBuilder("digits_cnn", INPUT_SHAPE)
    x = b.input
    for i, spec in enumerate(ARCHITECTURE, 1):
        if spec.is_conv:
            x = b.conv(x, spec.cout, spec.kernel, stride=spec.stride, padding=spec.padding,
                       bias=True, name=spec.name)
        else:
            x = b.linear(b.flatten(x, name="flatten"), spec.cout, name=spec.name)
        if spec.relu:
            x = b.act("relu", x, name=f"relu{i}")
    return b.build()


def load_data(seed: int = DATA_SEED, test_share: float = TEST_SHARE):
    """``(x_train, y_train, x_test, y_test)``: images float64 (N, 1, 8, 8) in [0, 1], labels
    int64; a fixed permutation of scikit-learn's bundled digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).reshape(-1, *INPUT_SHAPE)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_share * len(y)))
    test, tr = order[:n_test], order[n_test:]
    return x[tr], y[tr], x[test], y[test]


# ------------------------------------------------------------------- serial Numba kernels
@numba.njit(cache=True)
def _patch_walk(x, cols, kernel, stride, padding, adjoint):
    """Copy between an image batch ``x`` (B, C, H, W) and its patches ``cols``
    (B, Ho*Wo, C*k*k), fan-in in (c, kh, kw) order: ``cols <- x`` (im2col), or with
    ``adjoint`` ``x += cols`` (col2im, the patch gradients summed back in a fixed order)."""
    b_count, c_count, h, w = x.shape
    ho = (h + 2 * padding - kernel) // stride + 1
    wo = (w + 2 * padding - kernel) // stride + 1
    for b in range(b_count):
        for oh in range(ho):
            for ow in range(wo):
                p = oh * wo + ow
                for c in range(c_count):
                    for i in range(kernel):
                        r = oh * stride - padding + i
                        if r < 0 or r >= h:
                            continue
                        for j in range(kernel):
                            q = ow * stride - padding + j
                            if 0 <= q < w:
                                f = (c * kernel + i) * kernel + j
                                if adjoint:
                                    x[b, c, r, q] += cols[b, p, f]
                                else:
                                    cols[b, p, f] = x[b, c, r, q]


def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
    """Patches of ``x`` (B, C, H, W) as (B, Ho*Wo, C*k*k), fan-in in (c, kh, kw) order."""
    b_count, c_count, h, w = x.shape
    ho, wo = (_out_size(d, kernel, stride, padding) for d in (h, w))
    cols = np.zeros((b_count, ho * wo, c_count * kernel * kernel), x.dtype)
    _patch_walk(x, cols, kernel, stride, padding, False)
    return cols


def _col2im(cols: np.ndarray, c_count: int, h: int, w: int, kernel: int, stride: int,
            padding: int) -> np.ndarray:
    """Adjoint of :func:`im2col`: patch gradients (B, P, C*k*k) summed into (B, C, H, W)."""
    x = np.zeros((cols.shape[0], c_count, h, w))
    _patch_walk(x, cols, kernel, stride, padding, True)
    return x


@numba.njit(cache=True)
def _matmul(a, b):
    """``a @ b`` for float64 (M, K) x (K, N), each output summed over k in order."""
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n))
    for i in range(m):
        for kk in range(k):
            aik = a[i, kk]
            for j in range(n):
                out[i, j] += aik * b[kk, j]
    return out


@numba.njit(cache=True)
def _softmax_xent(logits, labels):
    """Mean cross-entropy loss and its gradient w.r.t. the logits (B, 10)."""
    b_count, n = logits.shape
    grad = np.zeros_like(logits)
    loss = 0.0
    for b in range(b_count):
        top = logits[b, 0]
        for j in range(1, n):
            top = max(top, logits[b, j])
        total = 0.0
        for j in range(n):
            grad[b, j] = math.exp(logits[b, j] - top)
            total += grad[b, j]
        for j in range(n):
            grad[b, j] /= total
        loss -= math.log(grad[b, labels[b]])
        grad[b, labels[b]] -= 1.0
    for b in range(b_count):
        for j in range(n):
            grad[b, j] /= b_count
    return loss / b_count, grad


# ------------------------------------------------------------------------ float network
def _as_matrix(spec: LayerSpec, w: np.ndarray) -> np.ndarray:
    """The layer's weights as the (K, N) matrix of the patches' fan-in order."""
    return np.ascontiguousarray(w.reshape(spec.cout, -1).T)


def forward_float(params: dict, x: np.ndarray, keep: bool = False):
    """Float64 forward pass of the digits CNN on ``x`` (B, 1, 8, 8): the logits (B, 10).

    With ``keep`` also returns the per-layer caches for :func:`_backward` and the post-ReLU
    activations ``{name: (B, C, H, W) or (B, N)}``.
    """
    caches, acts = [], {}
    h = np.ascontiguousarray(x, dtype=np.float64)
    for spec in ARCHITECTURE:
        w, bias = params[f"{spec.name}.weight"], params[f"{spec.name}.bias"]
        if spec.is_conv:
            b_count, _, hh, ww = h.shape
            cols = im2col(h, spec.kernel, spec.stride, spec.padding)
            ho, wo = (_out_size(d, spec.kernel, spec.stride, spec.padding) for d in (hh, ww))
            flat = cols.reshape(-1, cols.shape[2])
            out = (_matmul(flat, _as_matrix(spec, w)) + bias).reshape(b_count, ho * wo, -1)
            z = np.ascontiguousarray(out.transpose(0, 2, 1)).reshape(b_count, -1, ho, wo)
            caches.append((spec, h.shape, flat))
        else:
            flat = np.ascontiguousarray(h.reshape(h.shape[0], -1))
            z = _matmul(flat, _as_matrix(spec, w)) + bias
            caches.append((spec, h.shape, flat))
        h = np.maximum(z, 0.0) if spec.relu else z
        acts[spec.name] = h
    return (h, caches, acts) if keep else h


def _backward(params: dict, caches: list, acts: dict, grad: np.ndarray) -> dict:
    """Gradients of every weight and bias from the logits' gradient ``grad`` (B, 10)."""
    grads = {}
    for spec, in_shape, flat in reversed(caches):
        if spec.relu:
            grad = grad * (acts[spec.name] > 0)
        w = params[f"{spec.name}.weight"]
        if spec.is_conv:
            b_count, n, ho, wo = grad.shape
            g2 = np.ascontiguousarray(grad.reshape(b_count, n, ho * wo).transpose(0, 2, 1))
            g2 = g2.reshape(-1, n)
        else:
            g2 = grad
        # flat.T @ g2, summed over the patch rows in order
        grads[f"{spec.name}.weight"] = _matmul(np.ascontiguousarray(flat.T), g2).T.reshape(
            w.shape)
        grads[f"{spec.name}.bias"] = g2.sum(axis=0)
        if spec is ARCHITECTURE[0]:
            break
        dflat = _matmul(g2, np.ascontiguousarray(_as_matrix(spec, w).T))
        if spec.is_conv:
            b_count, c, hh, ww = in_shape
            grad = _col2im(dflat.reshape(b_count, -1, dflat.shape[1]), c, hh, ww, spec.kernel,
                           spec.stride, spec.padding)
        else:
            grad = dflat.reshape(in_shape)
    return grads


def init_params(seed: int = TRAIN_SEED) -> dict:
    """He-normal weights and zero biases, from ``default_rng(seed)`` in layer order."""
    rng = np.random.default_rng(seed)
    params = {}
    for spec in ARCHITECTURE:
        shape = (spec.cout, spec.cin, spec.kernel, spec.kernel) if spec.is_conv \
            else (spec.cout, spec.cin)
        fan_in = int(np.prod(shape[1:]))
        params[f"{spec.name}.weight"] = rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
        params[f"{spec.name}.bias"] = np.zeros(spec.cout)
    return params


def accuracy_float(params: dict, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy (0..1) of the float network."""
    return float(np.mean(np.argmax(forward_float(params, x), axis=1) == y))


def train(epochs: int = EPOCHS, seed: int = TRAIN_SEED, log=print) -> dict:
    """Train the digits CNN in float64 (SGD with momentum); returns the parameters.

    Deterministic: the initialisation and the batch order come from ``seed``, every sum runs
    in a fixed order (serial Numba kernels), so the result is identical bit for bit on
    every run. ``log`` receives one line per epoch.
    """
    x_tr, y_tr, x_te, y_te = load_data()
    params = init_params(seed)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    rng = np.random.default_rng([seed, 1])
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(y_tr))
        losses = []
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            logits, caches, acts = forward_float(params, x_tr[idx], keep=True)
            loss, grad = _softmax_xent(logits, y_tr[idx])
            losses.append(loss)
            grads = _backward(params, caches, acts, grad)
            for k, g in grads.items():
                if k.endswith(".weight"):
                    g = g + WEIGHT_DECAY * params[k]
                velocity[k] = MOMENTUM * velocity[k] - LEARNING_RATE * g
                params[k] = params[k] + velocity[k]
        log(f"epoch {epoch:3d}  loss {np.mean(losses):.4f}  "
            f"train {accuracy_float(params, x_tr, y_tr):.4f}  "
            f"test {accuracy_float(params, x_te, y_te):.4f}")
    return params


# --------------------------------------------------------------------------- quantisation
@dataclass(frozen=True)
class QuantizedLayer:
    """One int8 layer: weights ``w_q`` (PyTorch layout), their scale ``w_scale`` (real value
    of one weight LSB), the float64 ``bias``, the input scale ``in_scale`` and the output
    scale ``out_scale`` (None for the logits, which stay real-valued)."""

    spec: LayerSpec
    w_q: np.ndarray
    w_scale: float
    bias: np.ndarray
    in_scale: float
    out_scale: float | None

    @property
    def w_matrix(self) -> np.ndarray:
        """int8 (K, N): the weights as a tile holds them (fan-in rows, output columns)."""
        return _as_matrix(self.spec, self.w_q)


INPUT_SCALE = 1.0 / 127.0
"""Real value of one input LSB: pixels in [0, 1] map to 0..127."""


def quantize_network(params: dict, x_calibration: np.ndarray,
                     percentile: float = CALIBRATION_PERCENTILE) -> tuple[QuantizedLayer, ...]:
    """Per-layer symmetric int8 weights and calibrated activation scales (module docstring)."""
    _, _, acts = forward_float(params, x_calibration, keep=True)
    layers, in_scale = [], INPUT_SCALE
    for spec in ARCHITECTURE:
        w = params[f"{spec.name}.weight"]
        w_scale = float(np.max(np.abs(w))) / 127.0
        w_q = np.clip(np.rint(w / w_scale), -127, 127).astype(np.int8)
        out_scale = float(np.percentile(acts[spec.name], percentile)) / 127.0 \
            if spec.relu else None
        layers.append(QuantizedLayer(spec, w_q, w_scale, params[f"{spec.name}.bias"].copy(),
                                     in_scale, out_scale))
        in_scale = out_scale
    return tuple(layers)


def save_weights(path: Path, params: dict, layers: tuple[QuantizedLayer, ...]) -> None:
    """Write the float parameters and the int8 network to one ``.npz``."""
    arrays = {f"float.{k}": v for k, v in params.items()}
    for q in layers:
        arrays[f"int8.{q.spec.name}.weight"] = q.w_q
        arrays[f"int8.{q.spec.name}.scales"] = np.array(
            [q.w_scale, q.in_scale, np.nan if q.out_scale is None else q.out_scale])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # np.savez on a handle: no timestamps vary between runs
        np.savez(fh, **arrays)


def load_weights(path: str | Path = WEIGHTS_FILE) -> tuple[dict, tuple[QuantizedLayer, ...]]:
    """``(float params, int8 layers)`` from a file written by :func:`save_weights`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"no trained weights at {path}; run `make train`")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    try:
        params = {k[len("float."):]: v for k, v in arrays.items() if k.startswith("float.")}
        layers = []
        for spec in ARCHITECTURE:
            w_scale, in_scale, out_scale = arrays[f"int8.{spec.name}.scales"]
            layers.append(QuantizedLayer(spec, arrays[f"int8.{spec.name}.weight"],
                                         float(w_scale), params[f"{spec.name}.bias"],
                                         float(in_scale),
                                         None if np.isnan(out_scale) else float(out_scale)))
    except KeyError as exc:
        raise ModelFormatError(f"{path} lacks {exc}; it was not written by "
                               f"aimclib.trained.save_weights (run `make train`)") from None
    return params, tuple(layers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aimclib.trained",
                                     description="Train the digits CNN, quantise it to int8 "
                                                 "and write its weights and a log.")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE,
                        help="weights file (.npz); the log goes beside it (.log)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    from .accuracy import int8_accuracy  # the int8 reference lives with the inference

    lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    x_tr, y_tr, x_te, y_te = load_data()
    log(f"digits CNN: {len(y_tr)} training / {len(y_te)} test images (data seed {DATA_SEED}), "
        f"{args.epochs} epochs, batch {BATCH}, lr {LEARNING_RATE}, momentum {MOMENTUM}, "
        f"weight decay {WEIGHT_DECAY}, seed {TRAIN_SEED}")
    t0 = time.perf_counter()
    params = train(args.epochs, TRAIN_SEED, log)
    seconds = time.perf_counter() - t0
    layers = quantize_network(params, x_tr)
    save_weights(args.out, params, layers)
    log(f"float test accuracy {accuracy_float(params, x_te, y_te):.4f}")
    log(f"int8 test accuracy {int8_accuracy(layers, x_te, y_te):.4f}")
    log(f"weights sha256 of the float parameters: {_digest(params)}")
    # the duration varies run to run, so it goes to the terminal only, not the tracked log
    print(f"training took {seconds:.1f} s")
    args.out.with_suffix(".log").write_text("\n".join(lines) + "\n")
    return 0


def _digest(params: dict) -> str:
    """SHA-256 over the parameters' bytes in name order: equal digests, equal weights."""
    import hashlib

    h = hashlib.sha256()
    for k in sorted(params):
        h.update(k.encode())
        h.update(np.ascontiguousarray(params[k]).tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
