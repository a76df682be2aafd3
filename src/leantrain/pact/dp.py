"""The ``pact`` solver (docs/pact.md, 'The time-expanded graph and ε'): the shortest path on the
time-expanded graph, at every rung of a fixed ladder of granularities down to the requested ε,
keeping the best plan.

**The knob.** One ε sets every grid of :mod:`leantrain.pact.graph`: the knapsack's tolerance and
large/small split, the epoch-length caps (ratio 1 + ε) and sample targets (steps of ε·D̄_cap) at
ε; the vertex cells (time slots, loss cells) at ε to 2ε (wider when a fleet offers hundreds of
intermediate edges); the intermediate edges' caps at √ε in time and ε in admitted samples, their
sets within 1 + ε (or 1 + √ε) in energy on each cap's hull. Each goes to 0 with ε.

**Why a ladder: a finer ε never gives a worse plan.** Finer grids approximate better, but label
merging on different grids is not monotone instance by instance, so the property is made to hold
*by construction*. The rungs are ε_k = 0.01·2^k (k integer: 0.64, 0.32, ..., 0.02, 0.01, 0.005,
...); ``pact`` at ε runs every rung from 0.64 down to the largest rung ≤ ε, each seeded with the
best plan of the rungs before it (as the incumbent to beat, which only prunes), and returns the
best plan of all. For ε′ < ε the rungs of ε are a prefix of those of ε′ and run identically, so
the plan at ε′ is never worse. The finest rung is within a factor 2 of ε; the coarser rungs cost
little next to it and their incumbent speeds it up. Rungs of ε ≤ 0.02 polish the plan they find
with pair exchanges over the knapsack's full tables (:mod:`leantrain.pact.polish`), which keeps
every property above: a polished plan is never worse, and whether a rung polishes does not depend
on the requested ε.

**The gap to the optimum goes to 0 as ε shrinks** (a limit, not a bound: docs/pact.md, 'What ε
guarantees', states what is proven, what is measured, and the certified gap every plan gets from
:mod:`leantrain.pact.lagrange`). At rung ε every approximation is O(√ε) or finer: an epoch may be
planned at a cap up to a factor 1 + √ε above the time it needs (with at most ε·D̄ fewer samples
admitted below it) and with a set within a factor 1 + √ε in energy of the cap's hull; the
knapsack covers within
ε·D̄_cap samples and ε·Ē_cap energy; the final epoch overshoots by at most ε·D̄_cap samples; merged
labels differ by at most a vertex cell (2ε of the deadline, 2ε of a full epoch's samples). A plan
that meets the target and the deadline with some slack is therefore matched, or beaten, by the
search once ε is small enough; only plans tight to the last bit of the deadline or of the target
are reached just in the limit.

**Complexity.** See :mod:`leantrain.pact.graph`: polynomial in N, L, F and ``max_epochs`` for fixed
ε, O(L·(N·F log(N·F) + (N log N + F/ε³ + N/ε·log(1/ε))/ε)) for the edges (the knapsacks) and
O(max_epochs·L²·K̄·R/ε²) for the search (K̄: full-fleet epochs to the target, R intermediate edges
per level, which grow with N only up to their ε limits), times
the ⌈log2(0.64/ε)⌉ + 1 rungs, whose costs shrink geometrically towards the coarse end.
"""

from __future__ import annotations

import math

from leantrain.pact.graph import shortest_plan
from leantrain.pact.plan import Decision
from leantrain.pact.problem import Problem
from leantrain.pact.solver import DEFAULT_EPSILON, Solver

__all__ = ["PactSolver", "rungs"]

#: The coarsest rung of the ladder.
COARSEST = DEFAULT_EPSILON * 2**6

#: Rungs this fine or finer polish their plans (:mod:`leantrain.pact.polish`). A fixed rung
#: rather than "the last rungs", so that the rungs of ε stay a prefix of those of any finer ε and
#: run identically. Polishing the coarse rungs too cost up to 1.3x the solve time at 1,000 nodes
#: for plans no better on the benchmark seeds.
POLISH_AT_MOST = 2 * DEFAULT_EPSILON


def rungs(epsilon: float) -> list[float]:
    """The ladder of granularities run for ``epsilon``, coarsest first: 0.01·2^k from 0.64 down to
    the largest one not above ``epsilon`` (just 0.64 when ``epsilon`` ≥ 0.64)."""
    if not epsilon > 0.0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    lowest = min(6, math.floor(math.log2(epsilon / DEFAULT_EPSILON) + 1e-12))
    return [DEFAULT_EPSILON * 2.0**k for k in range(6, lowest - 1, -1)]


class PactSolver(Solver):
    """PACT's approximate dynamic program: shortest path on the time-expanded graph (see the
    module doc for the grids, the ε-ladder and the guarantees)."""

    name = "pact"

    def search(self, problem: Problem) -> list[Decision] | None:
        """The best plan over the rungs down to ε, or None when none meets target and deadline."""
        best: tuple[float, list[Decision]] | None = None
        for rung in rungs(self.epsilon):
            found = shortest_plan(problem, rung, best, polish=rung <= POLISH_AT_MOST)
            if found.decisions is not None and (best is None or found.energy < best[0]):
                best = (found.energy, found.decisions)
        return None if best is None else best[1]
