"""Allocations that weigh accuracy against speed: the fastest mapping under a tile budget
and a maximum accuracy drop.

Problem. Each MVM layer ``l`` offers ``u = 0 .. n_l`` mapped units, costing ``tiles_l(u)``
tiles, ``cost_l(u)`` (the layer's barrier-mode latency from
:func:`aimclib.simulate.cost_table`, as the ``optimal`` allocation uses) and an accuracy-drop
proxy ``drop_l(u)``: the measured drop with only that layer's ``u`` units analog
(:func:`aimclib.accuracy.layer_sensitivity`), negative values counted as 0.

:func:`accuracy_aware` solves, exactly,

    minimise  sum_l cost_l(u_l)
    s.t.      sum_l tiles_l(u_l) <= budget   and   sum_l drop_l(u_l) <= max_drop

by dynamic programming over the layers with Pareto labels ``(tiles, drop, cost)`` (a label
dominated in all three is dropped; no rounding, so the optimum of the proxy problem is exact).

What is guaranteed, and what is not:

* **Guaranteed:** the budget, and the *proxy* bound ``sum_l drop_l(u_l) <= max_drop``; among
  allocations meeting both, the returned one has the least summed latency.
* **Not guaranteed by the proxy:** drops need not add up (two analog layers can hurt more, or
  less, than the sum of their separate drops), and they are estimates over a few seeds. With
  ``verify`` (a function measuring the real drop of an allocation, e.g. noisy inference over
  the same seeds) the candidates are tried in order of cost and the first whose *measured* drop
  is within ``max_drop`` is returned; the all-digital allocation (drop 0) ends the list, so
  the measured bound then always holds. The optimality claim is then "the fastest verified
  candidate on the proxy's Pareto set", not a global optimum of the measured drop.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ParameterError
from .network import Network
from .simulate import BalancerOptions, cost_table, simulate, workload_for
from .system import SystemConfig
from .validation import check_float, check_int

DROP_TOLERANCE = 1e-12
"""Float slack when a summed drop is compared with ``max_drop`` (sums of shares)."""
MAX_LABELS = 1_000_000
"""Most Pareto labels the dynamic programme keeps before it gives up with an error."""


@dataclass(frozen=True)
class AccuracyAllocation:
    """The result of :func:`accuracy_aware`.

    Attributes:
        units: units mapped per MVM layer (int64).
        tiles: tiles used.
        cost: summed per-layer cost (s of latency).
        proxy_drop: summed per-layer drop proxy (share, 0..1).
        measured_drop: the drop ``verify`` measured (None without ``verify``).
        tried: candidates measured before this one was accepted (0 without ``verify``).
    """

    units: np.ndarray
    tiles: int
    cost: float
    proxy_drop: float
    measured_drop: float | None
    tried: int


def _check_tables(unit_tiles, cost, drop) -> None:
    if not (len(unit_tiles) == len(cost) == len(drop)):
        raise ParameterError(f"accuracy_aware: unit_tiles, cost and drop need one entry per "
                             f"layer; got {len(unit_tiles)}, {len(cost)} and {len(drop)}")
    for i, (ut, c, d) in enumerate(zip(unit_tiles, cost, drop)):
        if not len(c) == len(d) == len(ut) + 1:
            raise ParameterError(f"accuracy_aware: layer {i} has {len(ut)} units, so cost and "
                                 f"drop need {len(ut) + 1} entries (0..units); got {len(c)} "
                                 f"and {len(d)}")
        if np.any(np.asarray(ut) < 1):
            raise ParameterError(f"accuracy_aware: layer {i}: every unit needs >= 1 tile")


def _pareto_labels(labels: list[tuple]) -> list[tuple]:
    """Labels ``(tiles, drop, cost, units)`` that no other label dominates (ties keep one)."""
    kept: list[tuple] = []
    for lab in sorted(labels, key=lambda x: (x[2], x[0], x[1])):
        if not any(k[0] <= lab[0] and k[1] <= lab[1] for k in kept):
            kept.append(lab)
    return kept


def accuracy_aware(unit_tiles: Sequence[np.ndarray], cost: Sequence[np.ndarray],
                   drop: Sequence[np.ndarray], budget: int, max_drop: float,
                   verify: Callable[[np.ndarray], float] | None = None) -> AccuracyAllocation:
    """The fastest allocation under ``budget`` tiles and ``max_drop`` (module docstring).

    Args:
        unit_tiles: per layer, the tiles of each unit (as :class:`~aimclib.mapping.LayerMapping`
            ``unit_tiles``).
        cost: per layer, the cost for ``0 .. n`` mapped units (e.g. latency in s).
        drop: per layer, the accuracy-drop proxy for ``0 .. n`` mapped units (shares; entry 0
            is ignored and taken as 0, negative entries count as 0).
        budget: tiles available.
        max_drop: the largest accuracy drop allowed (share, e.g. 0.005 for 0.5 points).
        verify: optional ``units -> measured drop``; see the module docstring.
    """
    budget = check_int(budget, "budget (tiles)", low=0, where="accuracy_aware")
    max_drop = check_float(max_drop, "max_drop", low=0.0, where="accuracy_aware")
    _check_tables(unit_tiles, cost, drop)
    labels: list[tuple] = [(0, 0.0, 0.0, ())]
    for ut, c, d in zip(unit_tiles, cost, drop):
        cum = np.concatenate([[0], np.cumsum(ut)])
        proxy = np.maximum(np.asarray(d, dtype=np.float64), 0.0)
        proxy[0] = 0.0
        grown = [(t + int(cum[u]), dr + float(proxy[u]), co + float(c[u]), units + (u,))
                 for t, dr, co, units in labels for u in range(len(cum))
                 if t + cum[u] <= budget and dr + proxy[u] <= max_drop + DROP_TOLERANCE]
        labels = _pareto_labels(grown)
        if len(labels) > MAX_LABELS:
            raise ParameterError(f"accuracy_aware: more than {MAX_LABELS:,} Pareto labels; "
                                 f"the problem is too large for the exact programme")
    tried = 0
    for tiles, dr, co, units in labels:  # sorted by cost: the first is the proxy optimum
        vec = np.array(units, np.int64)
        if verify is None:
            return AccuracyAllocation(vec, tiles, co, dr, None, 0)
        measured = float(verify(vec))
        tried += 1
        if measured <= max_drop + DROP_TOLERANCE:
            return AccuracyAllocation(vec, tiles, co, dr, measured, tried - 1)
    raise ParameterError("accuracy_aware: no candidate passed verify, not even the "
                         "all-digital allocation; verify must return 0 for no analog units")


# ------------------------------------------------------------------------------ pricing
@dataclass(frozen=True)
class LatencyPricing:
    """Barrier-mode latency of any allocation of a network on a system, from the per-layer
    cost tables: ``latency(units) = other_s + sum_l cost_l(u_l)``, where ``other_s`` is the
    time of the layers without weights (the same for every allocation).

    Attributes:
        cost: per MVM layer, latency (s) for 0..n units (:func:`aimclib.simulate.cost_table`,
            static-balanced, each layer's tiles spread evenly).
        baseline_s: latency with no tiles (s), from :func:`aimclib.simulate.simulate`.
        other_s: ``baseline_s - sum_l cost_l(0)`` (s).
        unit_tiles: per MVM layer, the tiles of each unit.
    """

    cost: tuple
    baseline_s: float
    other_s: float
    unit_tiles: tuple

    def latency_s(self, units) -> float:
        """Latency (s) with ``units`` mapped per MVM layer."""
        return self.other_s + float(sum(c[int(u)] for c, u in zip(self.cost, units)))

    def speedup(self, units) -> float:
        """Speedup over the same cores without tiles."""
        return self.baseline_s / self.latency_s(units)


def latency_pricing(net: Network, hw: SystemConfig) -> LatencyPricing:
    """The :class:`LatencyPricing` of ``net`` on ``hw`` (its cores; tiles as needed)."""
    wl = workload_for(net, hw)
    cost = tuple(cost_table(wl, hw, BalancerOptions(), "latency"))
    baseline = simulate(net, hw, tiles=0).latency_s
    unit_tiles = tuple(w.mapping.unit_tiles for w in wl.layers if w.mapping is not None)
    return LatencyPricing(cost, baseline, baseline - float(sum(c[0] for c in cost)),
                          unit_tiles)


def every_allocation(unit_tiles: Sequence[np.ndarray], limit: int = 100_000) -> list[tuple]:
    """Every units vector (0..n_l per layer); refuses more than ``limit`` of them."""
    count = int(np.prod([len(ut) + 1 for ut in unit_tiles]))
    if count > limit:
        raise ParameterError(f"every_allocation: {count:,} allocations exceed the limit of "
                             f"{limit:,}; enumerate fewer layers or larger tiles")
    return list(itertools.product(*[range(len(ut) + 1) for ut in unit_tiles]))


def drop_tables(sensitivity: pd.DataFrame, layers: Sequence[str],
                unit_counts: Sequence[int]) -> list[np.ndarray]:
    """Per layer the drop proxy for 0..n units from a :func:`~aimclib.accuracy.
    layer_sensitivity` table (``drop_mean``; 0 for no units)."""
    tables = []
    for name, n in zip(layers, unit_counts):
        part = sensitivity[sensitivity["layer"] == name].set_index("units")["drop_mean"]
        missing = [u for u in range(1, n + 1) if u not in part.index]
        if missing:
            raise ParameterError(f"drop_tables: the sensitivity table lacks layer {name!r} "
                                 f"with units {missing}")
        tables.append(np.array([0.0] + [float(part[u]) for u in range(1, n + 1)]))
    return tables
