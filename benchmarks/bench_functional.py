"""Throughput of the functional AIMC tile model on real layer shapes, against numpy float32.

For each layer the table gives the simulated tile MVMs per second (an MVM is one tile block at
one output pixel, as counted by ``aimclib.functional.tile_mapping``) and the useful GMAC/s of
``conv2d_tiles`` / ``linear_tiles``, next to a numpy float32 im2col + matmul of the same layer.
"cold" is the first call in this process (for the first layer it includes loading the Numba
kernels from the on-disk cache, or compiling them when there is no cache); "warm" is the best
of ``--repeat`` further calls. Both sides include their im2col; the tile side also includes
re-laying the weights out as K x N per call (for the dense layer that copy dominates).
Run: ``.venv/bin/python benchmarks/bench_functional.py [--repeat N] [--threads T]``.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from aimclib import functional as F

# name, C, H, W, Cout, k, stride, padding, groups (linear layers: H = W = k = 1, "fc")
LAYERS = [
    ("ResNet-50 layer1 conv 3x3 64->64 @56", 64, 56, 56, 64, 3, 1, 1, 1),
    ("ResNet-50 layer1 conv 1x1 256->64 @56", 256, 56, 56, 64, 1, 1, 0, 1),
    ("ResNet-50 layer4 conv 3x3 512->512 @7", 512, 7, 7, 512, 3, 1, 1, 1),
    ("MobileNetV2 dw 3x3 96ch s2 @112", 96, 112, 112, 96, 3, 2, 1, 96),
    ("ResNet-18 fc 512->1000", 512, 1, 1, 1000, "fc", 1, 0, 1),
]


def _im2col_f32(x, k, stride, pad, groups):
    """numpy im2col of (C, H, W) float32 -> (groups, Ho*Wo, C/groups*k*k), (c, kh, kw) order."""
    c = x.shape[0]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))
    win = win[:, ::stride, ::stride]  # (C, Ho, Wo, k, k)
    _, ho, wo = win.shape[:3]
    cols = win.reshape(groups, c // groups, ho * wo, k * k).transpose(0, 2, 1, 3)
    return cols.reshape(groups, ho * wo, -1)


def _time(fn, repeat):
    """(first-call seconds, best of ``repeat`` further calls in seconds)."""
    t0 = time.perf_counter()
    fn()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    return cold, min(warm)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="warm calls per layer (best kept)")
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS,
                        help="Numba threads (default: all)")
    parser.add_argument("--rows", type=int, default=F.DEFAULT_ROWS, help="tile rows")
    parser.add_argument("--cols", type=int, default=F.DEFAULT_COLS, help="tile columns")
    args = parser.parse_args(argv)
    numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)

    print(f"tile {args.rows}x{args.cols}, {args.threads} Numba thread(s), best of "
          f"{args.repeat} warm calls; numpy {np.__version__}, numba {numba.__version__}")
    head = (f"{'layer':40s} {'MVMs':>8s} {'R':>3s} {'cold s':>8s} {'warm s':>8s} "
            f"{'MVM/s':>9s} {'GMAC/s':>7s} | {'np f32 s':>8s} {'GMAC/s':>7s} {'slower':>6s}")
    print(head)
    print("-" * len(head))
    for name, c, h, w, cout, k, stride, pad, groups in LAYERS:
        if k == "fc":
            x = rng.integers(-64, 64, c).astype(np.int8)
            wt = rng.integers(-64, 64, (cout, c)).astype(np.int8)
            m, kg, ng = 1, c, cout
            xf, wf = x.astype(np.float32), wt.astype(np.float32)

            def tile_run():
                return F.linear_tiles(x, wt, args.rows, args.cols, scales=0.01)

            def numpy_run():
                return wf @ xf
        else:
            x = rng.integers(-64, 64, (c, h, w)).astype(np.int8)
            wt = rng.integers(-64, 64, (cout, c // groups, k, k)).astype(np.int8)
            ho, wo = F.conv_output_hw(h, w, (k, k), (stride, stride), (pad,) * 4, (1, 1))
            m, kg, ng = ho * wo, c // groups * k * k, cout // groups
            wf = wt.reshape(groups, ng, kg).transpose(0, 2, 1).astype(np.float32)

            def tile_run():
                return F.conv2d_tiles(x, wt, stride, pad, groups=groups, rows=args.rows,
                                      cols=args.cols, scales=0.01)

            def numpy_run():
                return np.matmul(_im2col_f32(x.astype(np.float32), k, stride, pad, groups), wf)
        mapping = F.tile_mapping(kg, ng, groups, args.rows, args.cols)
        mvms = mapping.n_tiles * m
        macs = m * kg * ng * groups
        cold, warm = _time(tile_run, args.repeat)
        _, np_warm = _time(numpy_run, args.repeat)
        print(f"{name:40s} {mvms:8d} {mapping.n_row_blocks:3d} {cold:8.4f} {warm:8.4f} "
              f"{mvms / warm:9.3g} {macs / warm / 1e9:7.2f} | {np_warm:8.4f} "
              f"{macs / np_warm / 1e9:7.2f} {warm / np_warm:6.1f}x")
    hits = sum(d.stats.cache_hits.get(sig, 0) for d in (F._conv_tiles_kernel,)
               for sig in d.signatures)
    print(f"conv kernel: {'loaded from the Numba cache' if hits else 'compiled in this run'} "
          f"(the first layer's cold time includes it); Numba threading layer: "
          f"{numba.threading_layer()}")


if __name__ == "__main__":
    main()
