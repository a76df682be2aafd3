"""A lower bound on the optimal energy of a PACT problem at any fleet size (docs/pact.md,
'Certified quality').

:mod:`leantrain.pact.bounds` bounds the energy still needed from a loss by the Lagrangian dual of
an LP relaxation: with multipliers λ, μ ≥ 0 for the deadline and the epoch cap, the bound is
Σ_i min_ρ n_iρ·g_ρ(λ, μ) − λ·T − μ·K, where g_ρ(λ, μ) is the least (E + λ·τ + μ)/D over the epoch
sets of level ρ. ``exact`` enumerates the sets; here g is found for *every* set of any fleet:

* **A fixed cap.** Among the sets whose epoch time is τ, with K = λ·τ + μ fixed, the least
  (K + E)/D is reached by a *prefix* of the admitted nodes in order of energy per sample, each at
  its largest admitted fraction. (A node in the best set has E/D ≤ the best ratio R, or dropping
  it would lower R; growing its fraction adds samples at the compute-only rate α/(q·d), which is
  below its E/D, so it never raises R. And a best set holds every node of ratio below R, or adding
  one would lower R.) Along the prefixes the ratio falls while the next node's E/D is below it,
  then rises: the best prefix is the first p with K ≤ φ_p = D_p·r_{p+1} − E_p (φ grows with p), a
  binary search per (λ, μ).
* **Caps in groups.** The item times up to the deadline are cut into groups of ratio at most
  1 + :data:`CAP_SPREAD`; for a group [τ_lo, τ_hi] the prefixes are taken over the nodes admitted
  at τ_hi with K = λ·τ_lo + μ. Every set whose time lies in the group has its nodes admitted at
  τ_hi and pays λ·τ ≥ λ·τ_lo, so the group's value is at most that of each of its sets: g is
  bounded from below, and so is the energy.
* Likewise the least τ/D is at least τ_lo/D̄(τ_hi) over the groups (D̄: every admitted node at its
  largest admitted fraction) and the least 1/D at least 1/D̄ at the largest cap.

The bound is the best over a grid of (λ, μ) (:data:`STEPS` times scales set from the fleet),
including (0, 0). Cost per level: O(G·N·log N) for G ≤ ln(τmax/τmin)/ln(1 + CAP_SPREAD) + 1 groups
and N nodes, plus a binary search per group and multiplier pair; it runs in about a second at
10,000 nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from leantrain.pact.bounds import loss_pieces
from leantrain.pact.knapsack import LevelItems, level_items
from leantrain.pact.plan import Plan
from leantrain.pact.problem import Problem

__all__ = [
    "CAP_SPREAD",
    "POINTS",
    "REFINE",
    "STEPS",
    "LevelRates",
    "certificate",
    "certified_gap",
    "certify",
    "level_rates",
    "lower_bound",
]

FloatArray = NDArray[np.float64]

#: Largest ratio between the longest and the shortest item time of one group of caps.
CAP_SPREAD = 0.02

#: Points of the loss grid (finer than the searches' 1024: the certificate is computed once).
POINTS = 4096

#: Multiplier steps (times a scale) per constraint, 0 first: the first, coarse grid.
STEPS = np.r_[0.0, 2.0 ** np.arange(-12.0, 13.0)]

#: Factors of the local grids that refine the best pair, one grid after the other.
REFINE = (2.0 ** (np.arange(-4.0, 5.0) / 4.0), 2.0 ** (np.arange(-4.0, 5.0) / 16.0))


@dataclass(frozen=True)
class LevelRates:
    """Lower bounds of one level's rates over every set of its nodes.

    Attributes:
        cost: Per multiplier pair k, at most the least (E + λ_k·τ + μ_k)/D, shape (K,).
        pace: At most the least τ/D.
        count: At most the least 1/D.
    """

    cost: FloatArray
    pace: float
    count: float


def _groups(times: FloatArray, spread: float) -> list[tuple[float, float]]:
    """Cut the ascending distinct ``times`` into groups [lo, hi] with hi ≤ (1 + spread)·lo."""
    out: list[tuple[float, float]] = []
    i = 0
    while i < len(times):
        j = int(np.searchsorted(times, times[i] * (1.0 + spread), side="right")) - 1
        out.append((float(times[i]), float(times[j])))
        i = j + 1
    return out


def level_rates(
    items: LevelItems, deadline: float, lambdas: FloatArray, mus: FloatArray
) -> LevelRates:
    """The rates of one level's sets, bounded from below (see the module doc).

    Args:
        items: The level's items.
        deadline: No epoch may take longer.
        lambdas, mus: The multiplier pairs, shape (K,) each.
    """
    cost = np.full(len(lambdas), np.inf)
    times = np.unique(items.time[items.time <= deadline])
    if items.size == 0 or len(times) == 0:
        return LevelRates(cost, math.inf, math.inf)
    pace, most = math.inf, 0.0
    for lo, hi in _groups(times, CAP_SPREAD):
        admitted = items.time <= hi
        top = admitted.sum(axis=1) - 1
        rows = np.flatnonzero(top >= 0)
        energy = items.energy[rows, top[rows]]
        samples = items.samples[rows, top[rows]]
        ratio = energy / samples
        order = np.argsort(ratio, kind="stable")
        ratio = ratio[order]
        prefix_e = np.cumsum(energy[order])
        prefix_d = np.cumsum(samples[order])
        phi = np.r_[prefix_d[:-1] * ratio[1:] - prefix_e[:-1], np.inf]
        fixed = lambdas * lo + mus
        best = np.searchsorted(phi, fixed, side="left")
        cost = np.minimum(cost, (fixed + prefix_e[best]) / prefix_d[best])
        pace = min(pace, lo / float(prefix_d[-1]))
        most = max(most, float(prefix_d[-1]))
    return LevelRates(cost, pace, 1.0 / most)


def _scales(problem: Problem) -> tuple[float, float]:
    """Scales of λ and μ: the fleet's median energy per sample over its median time per sample
    and its median samples per node, so that the grid spans both constraints' prices."""
    rate, pace, count = [], [], []
    for level in range(len(problem.levels)):
        items = level_items(problem, level)
        if items.size:
            rate.append(items.energy[:, -1] / items.samples[:, -1])
            pace.append(items.time[:, -1] / items.samples[:, -1])
            count.append(1.0 / items.samples[:, -1])
    if not rate:
        return 1.0, 1.0
    v = float(np.median(np.concatenate(rate)))
    return (
        v / max(float(np.median(np.concatenate(pace))), 1e-300),
        v / max(float(np.median(np.concatenate(count))), 1e-300),
    )


def lower_bound(problem: Problem, points: int = POINTS) -> float:
    """A lower bound on the energy of every plan that meets ``problem``'s target by its deadline
    (inf when the relaxation already shows that none does; 0 when the target is met at once).

    The prefix argument needs progress proportional to the samples, so under a participation
    model with γ < 1 (docs/pact.md, 'Participation') the bound is the trivial 0 J.

    Args:
        problem: The problem.
        points: Points of the loss grid (see :func:`~leantrain.pact.bounds.loss_pieces`).
    """
    if any(gamma != 1.0 for gamma in problem.gammas):
        return 0.0
    deadline = problem.target.deadline_s
    max_epochs = float(problem.options.max_epochs)
    items = [level_items(problem, level) for level in range(len(problem.levels))]
    grid, need = loss_pieces(problem, points)
    # The pieces below the initial loss (the largest grid point not above it: a lower bound).
    below = int(np.searchsorted(grid, problem.curve.initial_loss, side="right")) - 1
    if below <= 0:
        return 0.0
    need = need[:, :below]
    needed = np.where(np.isfinite(need), need, np.inf)

    def least(weight: FloatArray) -> FloatArray:
        """Σ over the pieces of the least n·weight over the levels (inf where none can)."""
        # One (pieces × multipliers) product per level into one buffer, not a levels × pieces ×
        # multipliers array: the same products and minimum, a fraction of the memory traffic.
        # A level that cannot do a piece has n = inf there; inf·0 is nan, which fmin skips.
        smallest = np.full((needed.shape[1], weight.shape[1]), np.inf)
        product = np.empty_like(smallest)
        for level in range(needed.shape[0]):
            np.multiply.outer(needed[level], weight[level], out=product)
            np.fmin(smallest, product, out=smallest)
        out: FloatArray = smallest.sum(axis=0)
        return out

    def values(lambdas: FloatArray, mus: FloatArray) -> tuple[FloatArray, list[LevelRates]]:
        rates = [level_rates(i, deadline, lambdas, mus) for i in items]
        total = least(np.stack([r.cost for r in rates]))
        return total - lambdas * deadline - mus * max_epochs, rates

    scale_l, scale_m = _scales(problem)
    lambdas = np.repeat(STEPS * scale_l, len(STEPS))
    mus = np.tile(STEPS * scale_m, len(STEPS))
    energy, rates = values(lambdas, mus)
    time_needed = least(np.array([[r.pace] for r in rates]))[0]
    epochs_needed = least(np.array([[r.count] for r in rates]))[0]
    if time_needed > deadline or math.ceil(epochs_needed - 1e-9) > max_epochs:
        return math.inf
    best = int(np.argmax(energy))
    value, at_l, at_m = float(energy[best]), float(lambdas[best]), float(mus[best])
    # The dual is concave in (λ, μ): refine around the best pair on finer local grids.
    for fine in REFINE:
        local_l = np.unique(np.r_[0.0, (at_l or scale_l * STEPS[1]) * fine])
        local_m = np.unique(np.r_[0.0, (at_m or scale_m * STEPS[1]) * fine])
        lambdas = np.repeat(local_l, len(local_m))
        mus = np.tile(local_m, len(local_l))
        energy, _ = values(lambdas, mus)
        best = int(np.argmax(energy))
        if energy[best] > value:
            value, at_l, at_m = float(energy[best]), float(lambdas[best]), float(mus[best])
    return max(0.0, value)


def certify(problem: Problem, plan: Plan) -> Plan:
    """``plan`` with ``lower_bound_j`` set to :func:`lower_bound` of ``problem``'s planning
    problem (feasible plans only; an infeasible plan is returned as it is)."""
    if not plan.feasible:
        return plan
    # Against the problem the plan was made for (ℓ* − k·σ and exp(−k·σ_p) of the progress, or
    # the margin it kept; docs/pact.md, 'Planning margin').
    planned_to = plan.notes.get("planned_to_loss")
    progress = plan.notes.get("planned_progress")
    planned = problem.for_planning(
        None if planned_to is None else float(planned_to),
        None if progress is None else float(progress),
    )
    return replace(plan, lower_bound_j=lower_bound(planned))


def certified_gap(plan: Plan) -> float | None:
    """The plan's energy over its lower bound, minus 1: how far above the optimum it can be at
    most (None without a bound; inf when the bound is 0)."""
    if plan.lower_bound_j is None or not plan.feasible:
        return None
    if plan.lower_bound_j <= 0.0:
        return math.inf
    return plan.energy_j / plan.lower_bound_j - 1.0


def certificate(plan: Plan) -> str:
    """One line stating the plan's certified gap (what ``leantrain plan`` prints), or "" when
    the plan has no bound."""
    gap = certified_gap(plan)
    if gap is None or plan.lower_bound_j is None:
        return ""
    if math.isinf(gap):
        return "certified gap: none (the lower bound is 0 J)"
    return (
        f"certified gap: at most {gap:.2%} above the optimum "
        f"(lower bound {plan.lower_bound_j:.6g} J, plan {plan.energy_j:.6g} J)"
    )
