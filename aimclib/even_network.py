"""A whole network cut evenly and run in barrier mode in one compiled call.

A sweep over the seeds of work stealing meets every seed once, so each configuration
re-simulates every layer. :func:`run_even_network` does all of it in one crossing into
compiled code: the even cut of every layer (as :func:`aimclib.balancing.even_tasks`), each
layer's generator seed (as :func:`aimclib.validation.stream_seeds`), the layers run alone
(:func:`aimclib.engine.barrier_layers`) and their totals (as
:func:`aimclib.accounting.layer_totals`). It calls the same compiled kernels those functions
call, with the same arrays, so its results are theirs bit for bit
(``tests/test_simulate.py``).
"""

from __future__ import annotations

import numba
import numpy as np

from .accounting import _totals_kernel
from .balancing import (_F_ALT_S, _F_BUS_B, _F_BUS_S, _F_CORE_S, _F_ENERGY, _F_HOST_S,
                        _F_IFACE_S, _F_STALL_S, _F_TILE_S, _FLOAT_FIELDS, _I_CORE, _I_KIND,
                        _I_MVMS, _I_TILE, _INT_FIELDS, CostArrays, TaskSet, _even_kernel)
from .engine import barrier_layers
from .validation import _seed_sequence, seed_words


@numba.njit(cache=True)
def _network_kernel(units, own_ptr, owners, p, tight, chunks, pix, job_s, unit_ptr, eff_px,
                    dram_px, tile_ptr, lead, a, dram_bytes, cells, weight_bytes, words, steal,
                    steal_s, victim, max_tasks):
    """Tasks (float and integer blocks, CSR pointer over the layers), per-task (start, end,
    core, how, tile start), per-layer makespans and :data:`~aimclib.accounting.PARTS` totals
    of every layer ``l`` with ``units[l]`` mapped; nothing is simulated (empty results) when
    the layers have more than ``max_tasks`` tasks."""
    n = units.shape[0]
    layers = np.arange(n)
    fl, it, ptr = _even_kernel(layers, units, own_ptr, owners, p, tight, chunks, pix, job_s,
                               unit_ptr, eff_px, dram_px, tile_ptr, lead, a)
    n_tasks = ptr[n]
    if n_tasks > max_tasks:
        none = np.zeros(0)
        return (fl, it, ptr, none, none, np.zeros(0, np.int64), np.zeros(0, np.int64), none,
                none, np.zeros((0, 0)))
    # only a stealing layer draws random numbers: the others need no stream
    seeds = (_seed_sequence(words, layers.astype(np.uint64)) if steal
             else np.zeros(n, np.int64))
    n_tiles = 0
    for i in range(n_tasks):
        n_tiles = max(n_tiles, it[_I_TILE, i] + 1)
    times = np.empty((3, n_tasks))  # one block each: fewer, steadier allocations
    where = np.empty((2, n_tasks), np.int64)
    start, end, tile_start = times[0], times[1], times[2]
    ran_on, how = where[0], where[1]
    makespans = np.zeros(n)
    barrier_layers(it[_I_KIND], it[_I_CORE], it[_I_TILE], fl[_F_CORE_S], fl[_F_TILE_S],
                   fl[_F_BUS_S], fl[_F_ALT_S], ptr, p, max(1, n_tiles), steal, steal_s, victim,
                   seeds, start, end, ran_on, how, tile_start, makespans)
    vecs = _totals_kernel(ptr, layers, units, tile_ptr[:n], it[_I_CORE], it[_I_TILE],
                          fl[_F_CORE_S], fl[_F_ALT_S], fl[_F_IFACE_S], fl[_F_STALL_S],
                          fl[_F_HOST_S], it[_I_MVMS], fl[_F_TILE_S], fl[_F_ENERGY],
                          fl[_F_BUS_B], ran_on, how, steal_s, unit_ptr, dram_bytes, cells,
                          weight_bytes)
    return fl, it, ptr, start, end, ran_on, how, tile_start, makespans, vecs


def run_even_network(arrays: CostArrays, units: np.ndarray, owners: list[np.ndarray], p: int,
                     tight: bool, chunks: int, steal: bool, steal_s: float, victim: int,
                     seed: int, max_tasks: int):
    """Every layer ``l`` of a workload (cost ``arrays``) with ``units[l]`` mapped and its
    tiles on cores ``owners[l]``, cut evenly into ``chunks`` tasks per core of ``p`` cores
    and simulated alone in barrier mode (``steal``: idle cores steal, paying ``steal_s``
    seconds, victims chosen by engine code ``victim`` from layer ``l``'s stream of ``seed``).

    Returns the tasks (:class:`~aimclib.balancing.TaskSet`), the CSR pointer of the layers'
    tasks, the engine's per-task (start, end, core, how, tile start) (s from the layer's
    start), the makespans (s) and the :data:`~aimclib.accounting.PARTS` totals (one row per
    layer); when there are more than ``max_tasks`` tasks, only the pointer is meaningful
    (nothing was simulated) and the rest is ``None``.
    """
    own_ptr = np.zeros(len(owners) + 1, np.int64)
    np.cumsum([len(o) for o in owners], out=own_ptr[1:])
    flat = np.concatenate(owners).astype(np.int64, copy=False) if owners \
        else np.zeros(0, np.int64)
    A, mc = arrays, arrays.mvm
    a = (mc.iface_s, mc.stall_s, mc.host_s, mc.tile_s, mc.bus_bytes, mc.energy_j, A.alt_px_s,
         mc.vectors_per_job, A.xfer_px, A.sync_s, A.bus_bps)
    fl, it, ptr, *out, makespans, vecs = _network_kernel(
        np.asarray(units, np.int64), own_ptr, flat, p, tight, chunks, A.pixels, A.job_s,
        A.unit_ptr, A.eff_px, A.dram_px, A.tile_ptr, A.lead, a, A.dram_bytes, A.cells,
        A.weight_bytes, seed_words(seed), steal, steal_s, victim, max_tasks)
    if ptr[-1] > max_tasks:
        return None, ptr, None, None, None
    tasks = TaskSet(**dict(zip(_FLOAT_FIELDS, fl)), **dict(zip(_INT_FIELDS, it)))
    return tasks, ptr, tuple(out), makespans, vecs
