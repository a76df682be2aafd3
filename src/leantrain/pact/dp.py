"""The ``pact`` solver (SPEC 5): the shortest path on the time-expanded graph, at every rung of a
fixed ladder of granularities down to the requested ε, keeping the best plan.

**Why a ladder.** One ε sets every grid of :mod:`leantrain.pact.graph` (time slots, loss cells,
epoch-length caps, sample targets, the knapsack's buckets and its large/small split). Finer grids
approximate better, but label merging on different grids is not monotone instance by instance, so
"a finer ε never gives a worse plan" is made to hold *by construction*: the rungs are
ε_k = 0.01·2^k (k integer; 0.64, 0.32, ..., 0.02, 0.01, 0.005, ...), and ``pact`` at ε runs every
rung from 0.64 down to the largest rung ≤ ε, each one seeded with the best plan of the rungs before
(as incumbent to beat, which only prunes) and returns the best plan of all. For ε′ < ε the rungs of
ε are a prefix of the rungs of ε′, run identically, so the plan at ε′ is never worse. The finest
rung is within a factor 2 of ε, and since a rung's cost grows at least like 1/ε², all coarser rungs
together cost about a third of the finest one (and their incumbent speeds it up).

**Gap to the optimum.** At a rung ε every approximation is O(ε): epochs may run up to a factor
1 + ε past their cap, the knapsack covers within ε of the sample grid and ε of the cap's energy,
the final epoch overshoots by at most one ε sample step, and merged labels differ by at most one
time slot (ε·T) and one loss cell (relative ε in position). Any plan that meets the target and the
deadline with some slack is therefore found, or beaten, once ε is small enough, so the gap goes to
0 as ε shrinks (for plans tight to the last joule of slack, in the limit).

**Complexity.** See :mod:`leantrain.pact.graph`: polynomial in N, L, F and max_epochs for fixed
ε, O(L·(N·F log(N·F) + (1/ε)(N log N + F/ε³))) for the options and O(max_epochs·L²/ε⁴·ln s) for
the search, times the ~log2(0.64/ε) rungs (a constant factor).
"""

from __future__ import annotations

import math

from leantrain.pact.graph import shortest_plan
from leantrain.pact.plan import Decision
from leantrain.pact.problem import Problem
from leantrain.pact.solver import DEFAULT_EPSILON, Solver, register_solver

__all__ = ["PactSolver", "rungs"]

#: The coarsest rung of the ladder.
COARSEST = DEFAULT_EPSILON * 2**6


def rungs(epsilon: float) -> list[float]:
    """The ladder of granularities run for ``epsilon``, coarsest first: 0.01·2^k from 0.64 down to
    the largest one not above ``epsilon`` (just 0.64 when ``epsilon`` ≥ 0.64)."""
    if not epsilon > 0.0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    lowest = min(6, math.floor(math.log2(epsilon / DEFAULT_EPSILON) + 1e-12))
    return [DEFAULT_EPSILON * 2.0**k for k in range(6, lowest - 1, -1)]


@register_solver("pact")
class PactSolver(Solver):
    """PACT's approximate dynamic program: shortest path on the time-expanded graph (see the
    module doc for the grids, the ε-ladder and the guarantees)."""

    def search(self, problem: Problem) -> list[Decision] | None:
        """The best plan over the rungs down to ε, or None when none meets target and deadline."""
        best: tuple[float, list[Decision]] | None = None
        for rung in rungs(self.epsilon):
            found = shortest_plan(problem, rung, best)
            if found.decisions is not None and (best is None or found.energy < best[0]):
                best = (found.energy, found.decisions)
        return None if best is None else best[1]
