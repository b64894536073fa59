"""The event-driven multi-core simulator (Numba): cores run tasks from per-core deques.

Semantics (``docs/model.md`` has the full account):

* Tasks belong to layers. A layer is *released* when all its predecessor layers have finished
  (barrier mode: the previous layer; DAG mode: its real predecessors); layers released at the
  same moment are released in layer order, and their tasks appended, in index order, to the
  deque of the core the balancer assigned them to.
* A free core pops the front task of its own deque. With stealing on and its deque empty, it
  picks a victim (``VICTIM_RANDOM``: uniformly among cores with work, from the seeded
  generator; ``VICTIM_MOST_LOADED``: the largest queued core time, summed front to back,
  lowest index on ties) and
  takes the *back* task of the victim's deque, paying ``steal_s`` first.
* Task kinds: digital (any core, ``core_s``), tight analog (``owner`` core's tile; only the
  owner runs it on the tile, ``core_s``), loose analog (any core; the core is busy ``core_s``
  for job set-up, host work and completion and is free after that; the tile is busy
  ``tile_s`` from ``max(start, tile free)``; the shared bus serves transfers first come first
  served from their issue time, ``bus free = max(bus free, start) + bus_s``; the task ends at
  ``max(start + core_s, tile start + tile_s, bus free)``; the tile is free again at
  ``tile start + tile_s``). The core's part overlaps the tile's:
  a job's completion is not added after the tile's work (a chunk of many MVMs hides it).
* Tight rule for a stolen analog task: the thief computes it digitally (``alt_s``) when that
  finishes sooner than the owner could, i.e. ``now + steal_s + alt_s`` < owner's free time +
  the owner's remaining queued work; otherwise it does not take it (and tries no other task).
* Barrier mode runs each layer alone with its own generator seed (the caller derives it from
  ``numpy.random.SeedSequence([seed, layer])``, :func:`aimclib.validation.stream_seed`), so
  every layer's schedule depends on that layer only and no two layers (nor seeds ``s`` and
  ``s + 1``) share a stream; the network latency is then the sum of the layers' makespans.

Everything is deterministic: ties in time go to the lowest core index.
"""

from __future__ import annotations

import numba
import numpy as np

KIND_DIGITAL, KIND_TIGHT, KIND_LOOSE = 0, 1, 2
VICTIM_RANDOM, VICTIM_MOST_LOADED = 0, 1
RAN_DIGITAL, RAN_ANALOG, RAN_STOLEN_DIGITAL = 0, 1, 2

_BOUND_MAX_TASKS = 2**30
_SUM_BOUND = 1.0 + 2.0**-20
"""An upper bound of the floating-point sum of ``n`` non-negative numbers, each at most ``M``,
added one by one: ``n * M * _SUM_BOUND`` for ``n`` below ``_BOUND_MAX_TASKS``. Each addition
rounds up by at most a factor ``1 + 2**-53``, so the sum is at most ``n M (1 + 2**-53)**n``,
and the two roundings of the bound's own products lose at most ``(1 - 2**-53)**2``; both stay
far inside ``2**-20`` for ``n`` below ``2**30``. Rounding is monotonic, so ``x + sum`` is then
at most ``x + bound`` too."""


@numba.njit(cache=True)
def simulate_kernel(task_layer, task_kind, task_core, task_tile, task_core_s, task_tile_s,
                    task_bus_s, task_alt_s, layer_task_ptr, layer_pred_ptr, layer_pred,
                    n_cores, n_tiles, steal, steal_s, victim, seed, barrier):
    """Run the schedule; returns per-task (start, end, core, how, tile start: when its MVMs
    began on the tile, NaN for tasks not run on a tile) and per-layer (release, end).

    Arrays: tasks are grouped by layer (``layer_task_ptr`` is CSR over layers, in order);
    ``task_core`` is the deque each task is appended to at release, ``task_tile`` the tile of
    an analog task (-1 digital), ``layer_pred_ptr``/``layer_pred`` the predecessors (CSR).
    """
    n_tasks = task_layer.shape[0]
    n_layers = layer_task_ptr.shape[0] - 1
    out = (np.empty(n_tasks), np.empty(n_tasks), np.empty(n_tasks, np.int64),
           np.empty(n_tasks, np.int64), np.empty(n_tasks), np.empty(n_layers),
           np.empty(n_layers))
    # Deques: one ring of capacity n_tasks per core (each task is pushed once overall).
    _run(task_layer, task_kind, task_core, task_tile, task_core_s, task_tile_s, task_bus_s,
         task_alt_s, layer_task_ptr, layer_pred_ptr, layer_pred, n_cores, steal, steal_s,
         victim, seed, barrier, out, np.empty((n_cores, max(n_tasks, 1)), np.int64),
         np.empty(max(n_tiles, 1)))
    return out


@numba.njit(cache=True)
def _run(task_layer, task_kind, task_core, task_tile, task_core_s, task_tile_s, task_bus_s,
         task_alt_s, layer_task_ptr, layer_pred_ptr, layer_pred, n_cores, steal, steal_s,
         victim, seed, barrier, out, dq, tile_free):
    """:func:`simulate_kernel` writing into ``out`` (its seven result arrays) with the deques
    ``dq`` (cores x at least the tasks) and ``tile_free`` (at least the tiles) given, so a
    caller running many small schedules allocates them once."""
    start, end, ran_on, how, tile_start, release, layer_end = out
    n_layers = layer_task_ptr.shape[0] - 1
    start[:] = np.nan
    end[:] = np.nan
    ran_on[:] = -1
    how[:] = -1
    tile_start[:] = np.nan
    release[:] = np.nan
    layer_end[:] = np.nan
    tile_free[:] = 0.0
    head = np.zeros(n_cores, np.int64)
    tail = np.zeros(n_cores, np.int64)
    core_free = np.zeros(n_cores)
    # each deque's queued core time (_queued), kept until the deque changes
    queued = np.zeros(n_cores)
    queued_ok = np.zeros(n_cores, np.bool_)
    bus_free = 0.0
    pending_preds = np.zeros(n_layers, np.int64)
    succ_count = np.zeros(n_layers, np.int64)
    for lay in range(n_layers):
        pending_preds[lay] = layer_pred_ptr[lay + 1] - layer_pred_ptr[lay]
        for j in range(layer_pred_ptr[lay], layer_pred_ptr[lay + 1]):
            succ_count[layer_pred[j]] += 1
    # successor lists (CSR)
    succ_ptr = np.zeros(n_layers + 1, np.int64)
    for lay in range(n_layers):
        succ_ptr[lay + 1] = succ_ptr[lay] + succ_count[lay]
    succ = np.empty(max(succ_ptr[n_layers], 1), np.int64)
    fill = succ_ptr[:-1].copy()
    for lay in range(n_layers):
        for j in range(layer_pred_ptr[lay], layer_pred_ptr[lay + 1]):
            p = layer_pred[j]
            succ[fill[p]] = lay
            fill[p] += 1
    tasks_left = np.zeros(n_layers, np.int64)
    for lay in range(n_layers):
        tasks_left[lay] = layer_task_ptr[lay + 1] - layer_task_ptr[lay]

    # Layers whose tasks have all started (their finish time is known) but which have not
    # finished yet; layers without tasks finish at their release.
    fin_time = np.full(n_layers, np.inf)
    pending = np.empty(n_layers, np.int64)
    n_pending = 0
    # only stealing draws random numbers; barrier mode seeds every layer at its release.
    # Seeding (about a microsecond) waits for the first draw: a seed no draw follows changes
    # nothing
    reseed = steal
    stream = seed
    n_done_layers = 0
    now = 0.0

    # release every layer without predecessors at t = 0
    ready_stack = np.empty(n_layers, np.int64)
    n_ready = 0
    for lay in range(n_layers):
        if pending_preds[lay] == 0:
            ready_stack[n_ready] = lay
            n_ready += 1

    while n_done_layers < n_layers:
        # 1. release ready layers at `now`, in layer order (no array is made on the many
        # events without one: that costs reference counting)
        if n_ready > 0:
            ready_stack[:n_ready].sort()
            for r in range(n_ready):
                lay = ready_stack[r]
                release[lay] = now
                if barrier and steal:
                    reseed = True
                    stream = seed + lay
                for i in range(layer_task_ptr[lay], layer_task_ptr[lay + 1]):
                    c = task_core[i]
                    dq[c, tail[c]] = i
                    tail[c] += 1
                    queued_ok[c] = False
                if tasks_left[lay] == 0:
                    fin_time[lay] = now
                    pending[n_pending] = lay
                    n_pending += 1
            n_ready = 0
        # 2. finish layers whose finish time has come; release their successors
        progressed = False
        k = 0
        while k < n_pending:
            lay = pending[k]
            if fin_time[lay] <= now:
                layer_end[lay] = fin_time[lay]
                n_done_layers += 1
                progressed = True
                n_pending -= 1
                pending[k] = pending[n_pending]
                for j in range(succ_ptr[lay], succ_ptr[lay + 1]):
                    s = succ[j]
                    pending_preds[s] -= 1
                    if pending_preds[s] == 0:
                        ready_stack[n_ready] = s
                        n_ready += 1
            else:
                k += 1
        if progressed or n_ready > 0:
            continue
        # 3. let every core free at `now` take work (lowest index first)
        started = False
        for c in range(n_cores):
            if core_free[c] > now:
                continue
            i = -1
            mode = RAN_DIGITAL
            t0 = now
            if head[c] < tail[c]:
                i = dq[c, head[c]]
                head[c] += 1
                queued_ok[c] = False
                mode = RAN_ANALOG if task_kind[i] != KIND_DIGITAL else RAN_DIGITAL
            elif steal:
                v = -1
                if victim == VICTIM_RANDOM:
                    cnt = 0
                    for o in range(n_cores):
                        if o != c and head[o] < tail[o]:
                            cnt += 1
                    if cnt > 0:
                        if reseed:
                            np.random.seed(stream)
                            reseed = False
                        pick = np.random.randint(0, cnt)
                        for o in range(n_cores):
                            if o != c and head[o] < tail[o]:
                                if pick == 0:
                                    v = o
                                    break
                                pick -= 1
                else:
                    best = -1.0
                    for o in range(n_cores):
                        if o != c and head[o] < tail[o]:
                            if not queued_ok[o]:
                                queued[o] = _queued(dq, head, tail, task_core_s, o)
                                queued_ok[o] = True
                            w = queued[o]
                            if w > best:
                                best = w
                                v = o
                if v >= 0:
                    cand = dq[v, tail[v] - 1]
                    if task_kind[cand] == KIND_TIGHT:
                        if not queued_ok[v]:
                            queued[v] = _queued(dq, head, tail, task_core_s, v)
                            queued_ok[v] = True
                        owner_done = max(core_free[v], now) + queued[v]
                        if now + steal_s + task_alt_s[cand] < owner_done:
                            i = cand
                            mode = RAN_STOLEN_DIGITAL
                    else:
                        i = cand
                        mode = RAN_ANALOG if task_kind[cand] == KIND_LOOSE else RAN_DIGITAL
                    if i >= 0:
                        tail[v] -= 1
                        queued_ok[v] = False
                        t0 = now + steal_s
            if i < 0:
                continue
            started = True
            start[i] = t0
            ran_on[i] = c
            how[i] = mode
            if mode == RAN_STOLEN_DIGITAL:
                core_free[c] = t0 + task_alt_s[i]
                end[i] = core_free[c]
            elif task_kind[i] == KIND_LOOSE:
                core_free[c] = t0 + task_core_s[i]
                tl = task_tile[i]
                ts = max(t0, tile_free[tl])
                tile_start[i] = ts
                tile_free[tl] = ts + task_tile_s[i]
                bus_free = max(bus_free, t0) + task_bus_s[i]
                end[i] = max(core_free[c], tile_free[tl], bus_free)
            else:
                core_free[c] = t0 + task_core_s[i]
                end[i] = core_free[c]
                if mode == RAN_ANALOG:
                    tile_start[i] = t0
            lay = task_layer[i]
            tasks_left[lay] -= 1
            if tasks_left[lay] == 0:
                fe = 0.0
                for j in range(layer_task_ptr[lay], layer_task_ptr[lay + 1]):
                    fe = max(fe, end[j])
                fin_time[lay] = fe
                pending[n_pending] = lay
                n_pending += 1
        if started:
            continue
        # 4. advance time to the next event: a core becoming free or a layer finishing
        nxt = np.inf
        for c in range(n_cores):
            if core_free[c] > now and core_free[c] < nxt:
                nxt = core_free[c]
        for k in range(n_pending):
            if fin_time[pending[k]] < nxt:
                nxt = fin_time[pending[k]]
        if nxt == np.inf:
            break  # nothing can progress (cannot happen with consistent inputs)
        now = nxt


@numba.njit(cache=True)
def _drop(busy_at, busy, core):
    """Remove ``core`` from the busy cores ``busy_at[:busy]`` (kept in index order); returns
    their new number."""
    k = 0
    while busy_at[k] != core:
        k += 1
    for j in range(k, busy - 1):
        busy_at[j] = busy_at[j + 1]
    return busy - 1


@numba.njit(cache=True)
def _queued(dq, head, tail, task_core_s, core):
    """Core time of the tasks still in ``core``'s deque, summed front to back."""
    total = 0.0
    for j in range(head[core], tail[core]):
        total += task_core_s[dq[core, j]]
    return total


@numba.njit(cache=True)
def simulate_barrier_kernel(task_layer, task_kind, task_core, task_tile, task_core_s,
                            task_tile_s, task_bus_s, task_alt_s, layer_task_ptr, n_cores,
                            n_tiles, steal, steal_s, victim, seeds):
    """Barrier mode: every layer simulated alone from t = 0 with all cores, tiles and the bus
    free and the generator seeded with ``seeds[layer]`` (the caller passes the layer's own
    stream of the seed, so a layer's schedule depends on that layer only).

    Returns per-task (start, end, core, how, tile start) relative to the layer's start and
    each layer's makespan; the network's timeline is the running sum of the makespans.
    ``task_layer`` is not read (``layer_task_ptr`` groups the tasks).
    """
    n_tasks = task_core.shape[0]
    n_layers = layer_task_ptr.shape[0] - 1
    start = np.empty(n_tasks)
    end = np.empty(n_tasks)
    ran_on = np.empty(n_tasks, np.int64)
    how = np.empty(n_tasks, np.int64)
    tile_start = np.empty(n_tasks)
    makespan = np.zeros(n_layers)
    widest = 1
    for lay in range(n_layers):
        widest = max(widest, layer_task_ptr[lay + 1] - layer_task_ptr[lay])
    # one set of work arrays for every layer
    dq = np.empty((n_cores, widest), np.int64)
    peak = np.empty((n_cores, widest))
    head = np.zeros(n_cores, np.int64)
    tail = np.zeros(n_cores, np.int64)
    busy_at = np.zeros(n_cores, np.int64)
    core_free = np.zeros(n_cores)
    queued = np.zeros(n_cores)
    queued_ok = np.zeros(n_cores, np.bool_)
    tile_free = np.zeros(max(n_tiles, 1))
    for lay in range(n_layers):
        a, b = layer_task_ptr[lay], layer_task_ptr[lay + 1]
        for i in range(a, b):
            start[i] = np.nan
            end[i] = np.nan
            ran_on[i] = -1
            how[i] = -1
            tile_start[i] = np.nan
            if task_tile[i] >= 0:
                tile_free[task_tile[i]] = 0.0
        makespan[lay] = _layer_alone(a, b, task_kind, task_core, task_tile, task_core_s,
                                     task_tile_s, task_bus_s, task_alt_s, n_cores, steal,
                                     steal_s, victim, seeds[lay], start, end, ran_on, how,
                                     tile_start, dq, peak, head, tail, busy_at, core_free,
                                     queued, queued_ok, tile_free)
    return start, end, ran_on, how, tile_start, makespan


@numba.njit(cache=True)
def _layer_alone(a, b, task_kind, task_core, task_tile, task_core_s, task_tile_s, task_bus_s,
                 task_alt_s, n_cores, steal, steal_s, victim, seed, start, end, ran_on, how,
                 tile_start, dq, peak, head, tail, busy_at, core_free, queued, queued_ok,
                 tile_free):
    """:func:`_run` of tasks ``a:b`` as one layer released alone at t = 0 in barrier mode
    (seeded with ``seed``), writing their results in place; returns the layer's makespan.

    The same decisions in the same order as :func:`_run` (``tests/test_engine.py`` checks
    both against the plain-Python reference), without the DAG bookkeeping a lone layer does
    not need, with the work arrays given (``tile_free`` zero at the layer's tiles) and
    returning as soon as the last task has started: from then on every deque is empty, so no
    core takes work or draws a random number, and the layer ends with its last task.

    Two shortcuts that cannot change a decision: the cores with queued work are listed in
    index order as deques fill and empty (a thief's own deque is empty, so they are the
    victims it draws among, in the order :func:`_run` counts them); and a tight task is
    refused without summing the owner's deque when an upper bound of that sum already makes
    the thief too slow (:data:`_SUM_BOUND`; ``peak[c, k]`` is the largest core time among the
    first ``k + 1`` tasks pushed to core ``c``).

    Its task-start block repeats :func:`_run`'s on purpose: one shared helper, even inlined
    by Numba (``inline="always"``), halved work stealing's rate in
    ``benchmarks/bench_configs.py`` (1,473 to 718 configurations/s)."""
    for c in range(n_cores):
        head[c] = 0
        tail[c] = 0
        core_free[c] = 0.0
        queued_ok[c] = False
    bounded = True  # the bound holds for non-negative core times only (NaN fails too)
    for i in range(a, b):
        c = task_core[i]
        k = tail[c]
        dq[c, k] = i
        x = task_core_s[i]
        if not x >= 0.0:
            bounded = False
        peak[c, k] = x if k == 0 or x > peak[c, k - 1] else peak[c, k - 1]
        tail[c] = k + 1
    left = b - a
    if left == 0:
        return 0.0
    if left >= _BOUND_MAX_TASKS:
        bounded = False
    busy = 0  # cores with queued work: busy_at[:busy], in index order
    for c in range(n_cores):
        if tail[c] > 0:
            busy_at[busy] = c
            busy += 1
    bus_free = 0.0
    reseed = steal  # seeding waits for the first draw, as in _run
    now = 0.0
    while True:
        started = False
        for c in range(n_cores):
            if core_free[c] > now:
                continue
            i = -1
            mode = RAN_DIGITAL
            t0 = now
            if head[c] < tail[c]:
                i = dq[c, head[c]]
                head[c] += 1
                if head[c] == tail[c]:
                    busy = _drop(busy_at, busy, c)
                queued_ok[c] = False
                mode = RAN_ANALOG if task_kind[i] != KIND_DIGITAL else RAN_DIGITAL
            elif steal:
                v = -1
                if victim == VICTIM_RANDOM:
                    # the thief's deque is empty: the others with work are all the busy cores
                    if busy > 0:
                        if reseed:
                            np.random.seed(seed)
                            reseed = False
                        v = busy_at[np.random.randint(0, busy)]
                else:
                    best = -1.0
                    for o in range(n_cores):
                        if o != c and head[o] < tail[o]:
                            if not queued_ok[o]:
                                queued[o] = _queued(dq, head, tail, task_core_s, o)
                                queued_ok[o] = True
                            w = queued[o]
                            if w > best:
                                best = w
                                v = o
                if v >= 0:
                    cand = dq[v, tail[v] - 1]
                    if task_kind[cand] == KIND_TIGHT:
                        thief_done = now + steal_s + task_alt_s[cand]
                        owner_free = max(core_free[v], now)
                        if not queued_ok[v]:
                            n_q = tail[v] - head[v]
                            if bounded and thief_done >= owner_free + (
                                    n_q * peak[v, tail[v] - 1] * _SUM_BOUND):
                                continue  # refused whatever the exact sum
                            queued[v] = _queued(dq, head, tail, task_core_s, v)
                            queued_ok[v] = True
                        if thief_done < owner_free + queued[v]:
                            i = cand
                            mode = RAN_STOLEN_DIGITAL
                    else:
                        i = cand
                        mode = RAN_ANALOG if task_kind[cand] == KIND_LOOSE else RAN_DIGITAL
                    if i >= 0:
                        tail[v] -= 1
                        if head[v] == tail[v]:
                            busy = _drop(busy_at, busy, v)
                        queued_ok[v] = False
                        t0 = now + steal_s
            if i < 0:
                continue
            started = True
            start[i] = t0
            ran_on[i] = c
            how[i] = mode
            if mode == RAN_STOLEN_DIGITAL:
                core_free[c] = t0 + task_alt_s[i]
                end[i] = core_free[c]
            elif task_kind[i] == KIND_LOOSE:
                core_free[c] = t0 + task_core_s[i]
                tl = task_tile[i]
                ts = max(t0, tile_free[tl])
                tile_start[i] = ts
                tile_free[tl] = ts + task_tile_s[i]
                bus_free = max(bus_free, t0) + task_bus_s[i]
                end[i] = max(core_free[c], tile_free[tl], bus_free)
            else:
                core_free[c] = t0 + task_core_s[i]
                end[i] = core_free[c]
                if mode == RAN_ANALOG:
                    tile_start[i] = t0
            left -= 1
            if left == 0:
                fe = 0.0
                for j in range(a, b):
                    fe = max(fe, end[j])
                return fe
        if started:
            continue
        # advance time to the next core becoming free
        nxt = np.inf
        for c in range(n_cores):
            if core_free[c] > now and core_free[c] < nxt:
                nxt = core_free[c]
        if nxt == np.inf:
            return np.nan  # nothing can progress (cannot happen with consistent inputs)
        now = nxt
