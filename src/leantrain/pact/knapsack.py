"""Node selection for one epoch: the min-energy covering knapsack of docs/pact.md,
'The time-expanded graph and ε'.

Given a pruning level ρ, an epoch-length cap τ̄ and the effective samples D the epoch must deliver,
choose at most one fraction f per eligible node (memory m(ρ) ≤ M_n and node time ≤ τ̄) so that
Σ q·f·d ≥ D at the least Σ node energy. Each node n offers F items (one per fraction), with samples
D_nf = q·f·d_n, energy E_nf = f·α_n + β_n (compute plus transmission energy) and time τ_nf; the
cap admits a prefix of a node's fractions, because τ_nf grows with f.

The problem is NP-hard (it contains covering knapsack), so it is solved *within ε* in the manner
of Lawler's FPTAS, split into large and small nodes. With the cap fixed, let every eligible node
use its largest admitted fraction; D̄ and Ē are the samples and energy of all of them together.

* A node is **large** when that item's energy is at least ε·Ē; there are at most 1/ε of them. The
  large nodes go through an exact 0/1 multiple-choice DP over a sample axis of bucket
  δ = ε·D̄ / n_large, every item's samples rounded **down** to whole buckets: bucket b keeps the
  cheapest set whose rounded samples sum to b, with its *true* samples (at least b·δ).
* The **small** nodes are taken greedily by energy per sample, a prefix of that order at their
  largest admitted fraction (for them that fraction has the best ratio, since
  E/D = α/(qd) + β/(f·q·d) falls with f, so the prefix is the LP relaxation's solution).
* For a target D the answer is the best split: over the prefix lengths k, the prefix's energy
  plus the cheapest DP set whose true samples cover the rest, D − P_k (a suffix minimum over the
  DP sets sorted by true samples); then the last node of the prefix takes its smallest admitted
  fraction that still covers.

**Guarantee.** The returned set covers D under exact arithmetic (every count is of true samples;
in floating point up to rounding, which :func:`~leantrain.pact.plan.evaluate` arbitrates) and
costs at most OPT(D + ε·D̄) + ε·Ē, where OPT(x) is the least energy of any admissible set
delivering x: take the optimal set for D + ε·D̄; rounding costs its large part at most
n_large·δ = ε·D̄ samples, so some DP set no dearer than that part leaves the small nodes no more
than the optimal set's small part delivers, which the greedy prefix covers within one small item
(< ε·Ē) of the LP bound. Both error terms vanish with ε. When rounding leaves a target up to D̄
uncovered, the whole admitted fleet (which covers it) is returned.

**Cost** per (level, cap): O(N·F + N log N) to build the items and the greedy order,
O(n_large·F·B) for the DP with B ≤ n_large/ε ≤ 1/ε² buckets, and O(M·N·log B) to combine M
targets; that is O(N log N + F/ε³ + M·N log(1/ε)) — with n_large ≤ 1/ε whatever the fleet size,
the property that makes 1000 nodes tractable. The sorted prefixes are the fast path for the small
nodes; the definition is the DP with its guarantee.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from leantrain.pact import formulas
from leantrain.pact.problem import Problem

__all__ = ["CapCover", "LevelItems", "cover", "cover_targets", "level_caps", "level_items"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class LevelItems:
    """The (node, fraction) items of one pruning level: the nodes whose memory holds m(ρ).

    Attributes:
        level: Index of the pruning level.
        nodes: Indices (into ``problem.node``) of the eligible nodes with data, shape (n,).
        fractions: The allowed fractions above 0, ascending, shape (F,).
        samples: D_nf = q·f·d, shape (n, F).
        energy: E_nf, node energy (:func:`~leantrain.pact.formulas.node_energy`), shape (n, F).
        time: τ_nf, node time (:func:`~leantrain.pact.formulas.node_time`), shape (n, F).
    """

    level: int
    nodes: IntArray
    fractions: FloatArray
    samples: FloatArray
    energy: FloatArray
    time: FloatArray

    @property
    def size(self) -> int:
        """The number of eligible nodes."""
        return len(self.nodes)


def level_items(problem: Problem, level: int) -> LevelItems:
    """The items of ``level``: every node with the memory for it and some data, every fraction.

    A node without samples is left out: it adds no effective samples, only time and energy, and
    an epoch's loss depends on its samples alone (docs/pact.md, 'Loss prediction'), so no
    optimal set holds one; :func:`~leantrain.pact.plan.evaluate` accepts it all the same.

    The figures come from :mod:`leantrain.pact.formulas`, as in
    :func:`~leantrain.pact.plan.evaluate`.
    """
    model = problem.model
    memory = model.memory_bytes[level]
    chosen = [i for i, n in enumerate(problem.node) if n.memory_bytes >= memory and n.samples > 0]
    nodes = np.array(chosen, dtype=np.int64)
    fractions = np.array(problem.fractions, dtype=np.float64)
    pick = [problem.node[i] for i in chosen]
    d = np.array([n.samples for n in pick], dtype=np.float64)[:, None]
    flops = np.array([n.flops for n in pick], dtype=np.float64)[:, None]
    bandwidth = np.array([n.bandwidth_bps for n in pick], dtype=np.float64)[:, None]
    power = np.array([n.power_w for n in pick], dtype=np.float64)[:, None]
    tx_power = np.array([n.tx_power_w for n in pick], dtype=np.float64)[:, None]
    quality = np.array([n.quality for n in pick], dtype=np.float64)[:, None]
    f = fractions[None, :]
    phi, size = model.flops_per_sample[level], model.bytes[level]
    time = formulas.node_time(f, d, phi, flops, size, bandwidth)
    energy = formulas.node_energy(f, d, phi, flops, size, bandwidth, power, tx_power)
    samples = formulas.node_samples(f, d, quality, problem.fraction_power(level))
    shape = (len(chosen), len(fractions))
    return LevelItems(
        level=level,
        nodes=nodes,
        fractions=fractions,
        samples=np.broadcast_to(samples, shape).copy(),
        energy=np.broadcast_to(energy, shape).copy(),
        time=np.broadcast_to(time, shape).copy(),
    )


@dataclass(frozen=True)
class CapCover:
    """The knapsack's answers for one (level, cap) and a vector of sample targets.

    Target m is feasible when ``energy[m]`` is finite; its set is the large nodes with
    ``large_choice[m] ≥ 0`` (a fraction index) plus the first ``small_count[m]`` small nodes in
    greedy order at their largest admitted fraction, plus, when ``boundary[m] ≥ 0``, the next small
    node at fraction index ``boundary[m]``.

    Attributes:
        cap: The epoch-length cap.
        targets: The sample targets, shape (M,).
        energy: Energy of each target's set (inf when no admissible set covers it), shape (M,).
        samples: Effective samples of each set (≥ the target), shape (M,).
        time: Epoch time of each set (≤ the cap), shape (M,).
        large: Item rows of the large nodes.
        large_choice: Fraction index per target and large node, -1 when it does not train.
        small: Item rows of the small nodes in greedy order.
        small_top: Largest admitted fraction index of each small node (in ``small`` order).
        small_count: Number of small nodes of the prefix at their largest admitted fraction.
        boundary: Fraction index of the next small node, or -1.
    """

    cap: float
    targets: FloatArray
    energy: FloatArray
    samples: FloatArray
    time: FloatArray
    large: IntArray
    large_choice: NDArray[np.int8]
    small: IntArray
    small_top: IntArray
    small_count: IntArray
    boundary: IntArray

    def choice(self, items: LevelItems, target: int) -> list[tuple[int, int]]:
        """Target ``target``'s set as (item row, fraction index) pairs, by item row."""
        if not math.isfinite(float(self.energy[target])):
            raise ValueError(f"target {target} has no admissible set")
        out = [
            (int(row), int(f))
            for row, f in zip(self.large, self.large_choice[target], strict=True)
            if f >= 0
        ]
        count = int(self.small_count[target])
        out += [(int(self.small[k]), int(self.small_top[k])) for k in range(count)]
        if self.boundary[target] >= 0:
            out.append((int(self.small[count]), int(self.boundary[target])))
        del items  # the rows index it; kept in the signature for the reader
        return sorted(out)


def cover_targets(
    items: LevelItems, cap: float, targets: Sequence[float] | FloatArray, epsilon: float
) -> CapCover:
    """Solve the covering knapsack at ``cap`` for every target at once (see the module doc).

    Args:
        items: The level's items.
        cap: Epoch-length cap: an item is admitted when its node time is at most this.
        targets: Effective samples each set must deliver (> 0).
        epsilon: The approximation knob.

    Returns:
        The sets, their exact figures, and their encoding.
    """
    goal = np.asarray(targets, dtype=np.float64)
    admitted = items.time <= cap
    top = admitted.sum(axis=1) - 1  # largest admitted fraction index, -1 when none
    rows = np.flatnonzero(top >= 0)
    top_e = items.energy[rows, top[rows]]
    top_d = items.samples[rows, top[rows]]
    total_e = float(top_e.sum())
    total_d = float(top_d.sum())
    is_large = top_e >= epsilon * total_e if total_e > 0.0 else np.zeros(len(rows), dtype=bool)
    large = rows[is_large]
    small_rows = rows[~is_large]

    # Multiple-choice DP over the large nodes, item samples rounded down to whole buckets of
    # delta: bucket b holds the cheapest partial set whose rounded samples sum to b, with its true
    # samples.
    n_large = len(large)
    delta = epsilon * total_d / max(n_large, 1) if total_d > 0 else 1.0
    top_large = top[large]
    weights = np.floor(items.samples[large] / delta).astype(np.int64)
    size = int(weights[np.arange(n_large), top_large].sum())
    table = np.full(size + 1, np.inf)
    table[0] = 0.0
    sums = np.zeros(size + 1)
    choice = np.full((n_large, size + 1), -1, dtype=np.int8)
    for i in range(n_large):
        row = int(large[i])
        new_e, new_s = table.copy(), sums.copy()
        for f in range(int(top_large[i]) + 1):
            w = int(weights[i, f])
            if w == 0:
                continue  # counts no samples, so never better
            cand_e = table[: size + 1 - w] + items.energy[row, f]
            better = cand_e < new_e[w:]
            np.copyto(new_e[w:], cand_e, where=better)
            np.copyto(new_s[w:], sums[: size + 1 - w] + items.samples[row, f], where=better)
            np.copyto(choice[i, w:], np.int8(f), where=better)
        table, sums = new_e, new_s

    # Greedy order of the small nodes: energy per sample at the largest admitted fraction.
    small_top = top[small_rows]
    ratio = items.energy[small_rows, small_top] / items.samples[small_rows, small_top]
    order = np.lexsort((small_rows, ratio))
    small = small_rows[order]
    small_top = small_top[order]
    prefix_d = np.cumsum(items.samples[small, small_top])
    prefix_e = np.cumsum(items.energy[small, small_top])
    n_small = len(small)

    # Combine: a target is covered by a greedy prefix of k small nodes plus the cheapest DP set
    # whose true samples cover the rest (suffix minimum over the DP sets sorted by true samples).
    finite = np.flatnonzero(np.isfinite(table))
    by_sum = finite[np.argsort(sums[finite], kind="stable")]
    sorted_sums = sums[by_sum]
    reverse = table[by_sum][::-1]
    running = np.minimum.accumulate(reverse)
    changed = np.r_[True, running[1:] < running[:-1]]
    first_min = np.maximum.accumulate(np.where(changed, np.arange(len(reverse)), 0))
    suffix_best = running[::-1]
    suffix_at = by_sum[(len(reverse) - 1 - first_min)[::-1]]  # the DP bucket of each minimum
    prefix_d0 = np.r_[0.0, prefix_d]
    prefix_e0 = np.r_[0.0, prefix_e]
    rest = goal[:, None] - prefix_d0[None, :]  # (M, n_small + 1)
    position = np.searchsorted(sorted_sums, rest, side="left")
    ok = position < len(by_sum)
    position = np.minimum(position, len(by_sum) - 1)
    total = np.where(ok, prefix_e0[None, :] + suffix_best[position], np.inf)
    pick = np.arange(len(goal))
    count = np.argmin(total, axis=1)
    feasible = np.isfinite(total[pick, count])
    best = np.where(feasible, suffix_at[position[pick, count]], 0)
    count = np.where(feasible, count, 0)
    # The last small node of the prefix takes its smallest admitted fraction that still covers.
    boundary = np.full(len(goal), -1, dtype=np.int64)
    if n_small:
        uses = count > 0
        last = np.maximum(count - 1, 0)
        left = goal - sums[best] - prefix_d0[last]
        node = small[last]
        fits = (items.samples[node] >= left[:, None]) & admitted[node]
        fits[pick, top[node]] = True  # the whole prefix covers (up to rounding)
        boundary = np.where(uses, np.argmax(fits, axis=1), -1)
        count = last

    # Backtrack the large part for every target at once.
    large_choice = np.full((len(goal), n_large), -1, dtype=np.int8)
    bucket = best.copy()
    for i in range(n_large - 1, -1, -1):
        f = choice[i, bucket]
        large_choice[:, i] = f
        bucket = np.where(f >= 0, bucket - weights[i, np.maximum(f, 0)], bucket)
    small_count = count
    # Rounding can leave a target just below everyone's samples uncovered: everyone covers it.
    everyone = ~feasible & (goal <= total_d)
    if everyone.any():
        large_choice[everyone] = top_large.astype(np.int8)
        small_count = np.where(everyone, n_small, small_count)
        boundary = np.where(everyone, -1, boundary)
        feasible = feasible | everyone

    # Exact figures of every set.
    take = large_choice >= 0
    f_large = np.maximum(large_choice, 0).astype(np.int64)
    samples = np.where(take, items.samples[large[None, :], f_large], 0.0).sum(axis=1)
    spent = np.where(take, items.energy[large[None, :], f_large], 0.0).sum(axis=1)
    longest = np.where(take, items.time[large[None, :], f_large], 0.0).max(axis=1, initial=0.0)
    if n_small:
        prefix_t = np.maximum.accumulate(items.time[small, small_top])
        count = small_count.astype(np.int64)
        has = count > 0
        samples = samples + np.where(has, prefix_d[np.maximum(count - 1, 0)], 0.0)
        spent = spent + np.where(has, prefix_e[np.maximum(count - 1, 0)], 0.0)
        longest = np.maximum(longest, np.where(has, prefix_t[np.maximum(count - 1, 0)], 0.0))
        edge = boundary >= 0
        node_b = small[np.minimum(count, n_small - 1)]
        f_b = np.maximum(boundary, 0)
        samples = samples + np.where(edge, items.samples[node_b, f_b], 0.0)
        spent = spent + np.where(edge, items.energy[node_b, f_b], 0.0)
        longest = np.maximum(longest, np.where(edge, items.time[node_b, f_b], 0.0))
    return CapCover(
        cap=float(cap),
        targets=goal,
        energy=np.where(feasible, spent, np.inf),
        samples=np.where(feasible, samples, 0.0),
        time=np.where(feasible, longest, 0.0),
        large=large,
        large_choice=large_choice,
        small=small,
        small_top=small_top,
        small_count=small_count.astype(np.int64),
        boundary=boundary.astype(np.int64),
    )


def level_caps(
    items: LevelItems,
    epsilon: float,
    limit: float,
    sample_epsilon: float | None = None,
) -> FloatArray:
    """The epoch-length caps worth solving at one level, on the ε grid.

    Only an item's time can change the admitted set, so the candidates are the distinct item times
    up to ``limit`` (the deadline). They are thinned so that every item time τ has a kept cap that
    is either in [τ, (1+ε)·τ] (an epoch planned at that cap is at most ε longer) or below τ with at
    most ε·D̄ fewer samples admitted (D̄: every node at its largest fraction), which the knapsack's
    own sample tolerance already absorbs. Walking up the times, each kept cap after the first adds
    more than ε·D̄ admitted samples or more than a factor 1+ε of time, so there are at most
    min(N·F, 1/ε + 1, ln(τmax/τmin)/ln(1+ε) + 1) caps.

    Args:
        items: The level's items.
        epsilon: The approximation knob.
        limit: No cap above this is kept.
        sample_epsilon: The share of D̄ in the sample rule, when not ε (the time rule keeps ε).

    Returns:
        The kept caps, ascending.
    """
    flat = items.time.ravel()
    order = np.argsort(flat, kind="stable")
    times = flat[order]
    # Samples admitted up to each item time: a node's larger fraction replaces its smaller one.
    gain = np.diff(items.samples, axis=1, prepend=0.0).ravel()[order]
    admitted = np.cumsum(gain)
    keep_last = np.r_[times[1:] != times[:-1], True]
    times, admitted = times[keep_last], admitted[keep_last]
    inside = times <= limit
    times, admitted = times[inside], admitted[inside]
    total = float(items.samples[:, -1].sum())
    sample_share = epsilon if sample_epsilon is None else sample_epsilon
    kept: list[float] = []
    i = 0
    while i < len(times):
        j = int(np.searchsorted(times, (1.0 + epsilon) * times[i], side="right")) - 1
        kept.append(float(times[j]))
        i = j + 1
        while i < len(times) and admitted[i] - admitted[j] <= sample_share * total:
            i += 1
    return np.array(kept, dtype=np.float64)


def cover(
    problem: Problem, level: int, cap: float, samples: float, epsilon: float
) -> list[tuple[int, float]] | None:
    """The chosen (node index, fraction) pairs for one epoch, or None when no set covers.

    Args:
        problem: The problem.
        level: Pruning level index ρ.
        cap: Epoch-length cap: every chosen node's time is at most this.
        samples: Effective samples D the set must deliver (> 0).
        epsilon: The approximation knob (see the module doc for the guarantee).
    """
    items = level_items(problem, level)
    found = cover_targets(items, cap, [samples], epsilon)
    if not math.isfinite(float(found.energy[0])):
        return None
    return [(int(items.nodes[row]), float(items.fractions[f])) for row, f in found.choice(items, 0)]
