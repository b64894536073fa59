"""A plain-Python reference of :func:`aimclib.engine.simulate_kernel` (no Numba): slow, obvious.

Written from the semantics in the ``aimclib.engine`` docstring, not from the kernel's code:

* Time advances from event to event (a core becoming free, a layer finishing). At each instant
  the state is settled by repeating, until nothing changes: release every layer whose
  predecessors have all finished (layers in index order, each layer's tasks appended in index
  order to the deque of the core the balancer chose), finish every layer whose tasks have all
  started and ended by now (a layer without tasks finishes at its release), and then let every
  free core, lowest index first, take one task.
* A core takes the front of its own deque; with stealing on and its deque empty it picks a
  victim among the other cores with queued work (``random``: ``randint(0, count)`` from numpy's
  legacy generator, which the kernel's Numba generator reproduces draw for draw; ``most-loaded``:
  the largest sum of queued ``core_s``, lowest index on ties) and takes the victim's back task,
  paying ``steal_s`` before it starts.
* A stolen tight task is run digitally (``alt_s``) only if that ends strictly before the owner
  would end it: the owner finishes it after its current task (or now, if idle) plus all its
  queued work, which includes the stolen task as the deque's last. Otherwise the thief takes
  nothing at this instant.
* A loose analog task keeps the core for ``core_s`` from its start; its tile is busy ``tile_s``
  from the later of the task's start and the tile being free (and free again ``tile_s``
  later); its transfers are queued on the
  shared bus first come first served from the task's start and hold it ``bus_s``; the task
  ends when the core part, the tile part and the transfers have all ended.
* Barrier mode reseeds the generator with ``seed + layer`` when a layer is released.

Durations in the tests are dyadic rationals, so every sum is exact and decisions that compare
sums (tight rule, most-loaded ties) cannot be flipped by rounding.
"""

from __future__ import annotations

from collections import deque

import numpy as np

DIGITAL, TIGHT, LOOSE = 0, 1, 2
RANDOM, MOST_LOADED = 0, 1
RAN_DIGITAL, RAN_ANALOG, RAN_STOLEN_DIGITAL = 0, 1, 2


def simulate(task_layer, task_kind, task_core, task_tile, task_core_s, task_tile_s, task_bus_s,
             task_alt_s, layer_task_ptr, layer_pred_ptr, layer_pred, n_cores, n_tiles, steal,
             steal_s, victim, seed, barrier):
    """Same arguments and results as :func:`aimclib.engine.simulate_kernel`:
    ``(start, end, core, how, release, layer_end)`` as numpy arrays."""
    kind = [int(k) for k in task_kind]
    owner_deque = [int(c) for c in task_core]
    tile = [int(t) for t in task_tile]
    core_s = [float(x) for x in task_core_s]
    tile_s = [float(x) for x in task_tile_s]
    bus_s = [float(x) for x in task_bus_s]
    alt_s = [float(x) for x in task_alt_s]
    n_tasks, n_layers = len(kind), len(layer_task_ptr) - 1
    tasks_of = [list(range(layer_task_ptr[lay], layer_task_ptr[lay + 1]))
                for lay in range(n_layers)]
    preds = [[int(p) for p in layer_pred[layer_pred_ptr[lay]:layer_pred_ptr[lay + 1]]]
             for lay in range(n_layers)]
    assert all(int(task_layer[i]) == lay for lay in range(n_layers) for i in tasks_of[lay])

    start = [None] * n_tasks
    end = [None] * n_tasks
    tile_start = [None] * n_tasks
    ran_on = [-1] * n_tasks
    how = [-1] * n_tasks
    release = [None] * n_layers
    layer_end = [None] * n_layers
    deques = [deque() for _ in range(n_cores)]
    core_free = [0.0] * n_cores
    tile_free = [0.0] * max(n_tiles, 1)
    bus_free = 0.0
    rng = np.random.RandomState(seed)
    now = 0.0

    def queued_work(c):
        return sum(core_s[j] for j in deques[c])

    def take(c):
        """The task core ``c`` starts now and how, or None: ``(task, mode, start time)``."""
        if deques[c]:
            i = deques[c].popleft()
            return i, (RAN_DIGITAL if kind[i] == DIGITAL else RAN_ANALOG), now
        if not steal:
            return None
        others = [o for o in range(n_cores) if o != c and deques[o]]
        if not others:
            return None
        if victim == RANDOM:
            v = others[rng.randint(0, len(others))]
        else:
            most = max(queued_work(o) for o in others)
            v = min(o for o in others if queued_work(o) == most)
        cand = deques[v][-1]
        if kind[cand] == TIGHT:
            owner_ends_it = max(core_free[v], now) + queued_work(v)
            if not now + steal_s + alt_s[cand] < owner_ends_it:
                return None
            mode = RAN_STOLEN_DIGITAL
        else:
            mode = RAN_ANALOG if kind[cand] == LOOSE else RAN_DIGITAL
        deques[v].pop()
        return cand, mode, now + steal_s

    def settle():
        """Release, finish and start whatever can be at ``now``; True if anything did."""
        nonlocal rng, bus_free
        finished = False
        for lay in range(n_layers):
            if release[lay] is None or layer_end[lay] is not None:
                continue
            if all(start[i] is not None for i in tasks_of[lay]):
                fin = max([end[i] for i in tasks_of[lay]], default=release[lay])
                if fin <= now:
                    layer_end[lay] = fin
                    finished = True
        if finished:
            return True
        ready = [lay for lay in range(n_layers) if release[lay] is None
                 and all(layer_end[p] is not None for p in preds[lay])]
        for lay in ready:  # layers released at the same moment go in layer order
            release[lay] = now
            if barrier:
                rng = np.random.RandomState(seed + lay)
            for i in tasks_of[lay]:
                deques[owner_deque[i]].append(i)
        if ready:
            return True
        started = False
        for c in range(n_cores):
            if core_free[c] > now:
                continue
            got = take(c)
            if got is None:
                continue
            i, mode, t0 = got
            started = True
            start[i], ran_on[i], how[i] = t0, c, mode
            if mode == RAN_STOLEN_DIGITAL:
                core_free[c] = end[i] = t0 + alt_s[i]
            elif kind[i] == LOOSE:
                core_free[c] = t0 + core_s[i]
                tile_start[i] = max(t0, tile_free[tile[i]])
                tile_free[tile[i]] = tile_start[i] + tile_s[i]
                bus_free = max(bus_free, t0) + bus_s[i]
                end[i] = max(core_free[c], tile_free[tile[i]], bus_free)
            else:
                core_free[c] = end[i] = t0 + core_s[i]
                if mode == RAN_ANALOG:
                    tile_start[i] = t0
        return started

    while any(e is None for e in layer_end):
        while settle():
            pass
        if all(e is not None for e in layer_end):
            break
        upcoming = [f for f in core_free if f > now]
        for lay in range(n_layers):
            if (release[lay] is not None and layer_end[lay] is None
                    and all(start[i] is not None for i in tasks_of[lay])):
                upcoming.append(max([end[i] for i in tasks_of[lay]], default=release[lay]))
        if not upcoming:
            raise RuntimeError("no event left but unfinished layers: inconsistent inputs")
        now = min(upcoming)

    def arr(xs, dtype=np.float64):
        return np.array([np.nan if x is None else x for x in xs], dtype=dtype)

    return (arr(start), arr(end), np.array(ran_on, np.int64), np.array(how, np.int64),
            arr(tile_start), arr(release), arr(layer_end))


def simulate_barrier(task_layer, task_kind, task_core, task_tile, task_core_s, task_tile_s,
                     task_bus_s, task_alt_s, layer_task_ptr, n_cores, n_tiles, steal, steal_s,
                     victim, seeds):
    """Reference of :func:`aimclib.engine.simulate_barrier_kernel`: every layer alone from
    t = 0 with seed ``seeds[layer]`` (``task_layer`` is not used: ``layer_task_ptr`` groups the
    tasks); returns ``(start, end, core, how, tile start, makespan)``."""
    outs = [[], [], [], [], []]
    makespan = []
    for lay in range(len(layer_task_ptr) - 1):
        a, b = int(layer_task_ptr[lay]), int(layer_task_ptr[lay + 1])
        s, e, r, h, ts, _, le = simulate(
            np.zeros(b - a, np.int64), task_kind[a:b], task_core[a:b], task_tile[a:b],
            task_core_s[a:b], task_tile_s[a:b], task_bus_s[a:b], task_alt_s[a:b],
            np.array([0, b - a]), np.array([0, 0]), np.array([], np.int64), n_cores, n_tiles,
            steal, steal_s, victim, int(seeds[lay]), True)
        for out, x in zip(outs, (s, e, r, h, ts)):
            out.append(x)
        makespan.append(le[0])
    cat = [np.concatenate(o) if o else np.zeros(0) for o in outs]
    return (cat[0], cat[1], cat[2].astype(np.int64), cat[3].astype(np.int64), cat[4],
            np.array(makespan))
