"""Pair exchanges that polish a plan found on the graph (docs/pact.md, 'Polishing').

The graph search picks each intermediate epoch from a thinned set of edges (caps √ε apart, hull
vertices within a factor 1 + √ε), which is what keeps it fast; when the deadline and
``max_epochs`` both bind, every epoch's length counts and that thinning can cost a few percent
of energy (10,000 nodes, docs/benchmarks.md). The knapsack's full tables hold the missing sets
already, so the found plan is polished with them.

Within a run of consecutive epochs at one pruning level, progress adds up along the level's
curve: the loss after the run depends only on the sum of the epochs' progress, and the jump into
the next level only on that loss. So any two epochs of a run may be replaced by two sets of the
level's tables that take no more time together (plus the plan's slack before the deadline),
make no less progress together and cost less energy; every later loss is then no higher, the
plan no longer, the epoch count the same. Each such exchange is found exactly over the tables
(the cheapest pair, for the partner counting its cap as its time), runs are swept until no pair
improves, and the result is kept only when :func:`~leantrain.pact.plan.evaluate` accepts it and
it is cheaper. Polishing therefore never makes a plan worse, and every guarantee of the search
holds for the polished plan.

Cost per exchange: O(C·K log M) for C caps, M targets and K = C·M table entries; a plan of k
epochs at one level makes at most k(k−1)/2 distinct exchanges per sweep, and a plan at most
:data:`MAX_QUERIES` in all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from leantrain.pact.formulas import epoch_progress
from leantrain.pact.knapsack import CapCover
from leantrain.pact.problem import Problem

__all__ = ["Menu", "polish"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Sweeps over a run's pairs at most (each sweep after the first only when one improved).
MAX_SWEEPS = 3

#: An exchange must save more than this share of the pair's energy (float noise is no gain).
MIN_SAVING = 1e-9

#: Most pair queries per plan: each costs milliseconds at ε = 0.01, and a plan of many distinct
#: epochs at one level would otherwise ask k(k−1)/2 per sweep (the scaling benchmark's plans ask
#: 51-104 over both polished rungs, since equal epochs make equal pairs, asked once).
MAX_QUERIES = 2000


@dataclass(frozen=True)
class Menu:
    """One level's table entries, arranged for pair queries.

    Attributes:
        caps: Each cover's cap, ascending, shape (C,).
        time, progress, energy: Per cover and target, shape (C, M); energy inf where no set.
        sorted_progress: Per cover, the progress of its targets ascending, shape (C, M).
        cheapest: Per cover, the least energy over its targets from each position of
            ``sorted_progress`` on, shape (C, M + 1) (inf at the end).
        cheapest_target: The target index achieving ``cheapest``, shape (C, M + 1).
    """

    caps: FloatArray
    time: FloatArray
    progress: FloatArray
    energy: FloatArray
    sorted_progress: FloatArray
    cheapest: FloatArray
    cheapest_target: IntArray

    @classmethod
    def of(cls, problem: Problem, level: int, covers: Sequence[CapCover]) -> Menu:
        """The menu of ``level`` from its knapsack answers (covers in ascending cap order)."""
        caps = np.array([c.cap for c in covers], dtype=np.float64)
        time = np.stack([c.time for c in covers])
        energy = np.stack([c.energy for c in covers])
        samples = np.stack([c.samples for c in covers])
        progress = epoch_progress(samples, problem.full_samples, problem.gammas[level])
        # Sets below the floor of every epoch are no option (docs/pact.md, 'Epoch
        # floors').
        energy = np.where(problem.epoch_floor_met(samples), energy, np.inf)
        progress = np.where(np.isfinite(energy), progress, np.inf)
        order = np.argsort(progress, axis=1, kind="stable")
        sorted_progress = np.take_along_axis(progress, order, axis=1)
        by_progress = np.take_along_axis(energy, order, axis=1)
        rows, count = energy.shape
        cheapest = np.full((rows, count + 1), np.inf)
        cheapest_target = np.full((rows, count + 1), -1, dtype=np.int64)
        for k in range(count - 1, -1, -1):
            better = by_progress[:, k] < cheapest[:, k + 1]
            cheapest[:, k] = np.where(better, by_progress[:, k], cheapest[:, k + 1])
            cheapest_target[:, k] = np.where(better, order[:, k], cheapest_target[:, k + 1])
        return cls(caps, time, progress, energy, sorted_progress, cheapest, cheapest_target)

    def best_pair(
        self, budget: float, progress: float, energy: float
    ) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The cheapest two entries taking at most ``budget`` seconds and making at least
        ``progress``, when they cost less than ``energy``; None otherwise.

        The first entry counts its own time, the second its cap (never less than its time).
        """
        # First entries: within the budget, leaving time for a second cover's cap, and cheaper
        # than the pair by more than the cheapest entry of all.
        least = float(self.cheapest[:, 0].min())
        candidate = (self.time + self.caps[0] <= budget * (1.0 + 1e-12)) & (
            self.energy + least < energy
        )
        first_cover, first_target = np.nonzero(candidate)
        if len(first_cover) == 0:
            return None
        need = progress - self.progress[first_cover, first_target]
        # Sorted queries make each binary search start where the last one ended.
        order = np.argsort(need, kind="stable")
        first_cover, first_target, need = first_cover[order], first_target[order], need[order]
        spare = budget - self.time[first_cover, first_target]
        # Covers with caps within the spare time form a prefix (caps ascend).
        reach = np.searchsorted(self.caps, spare * (1.0 + 1e-12), side="right") - 1
        rows = max(1, int(reach.max()) + 1)
        # Per second cover: the cheapest entry making at least ``need``.
        cost = np.empty((rows, len(need)))
        for row in range(rows):
            at = np.searchsorted(self.sorted_progress[row], need, side="left")
            cost[row] = self.cheapest[row, at]
        prefix = np.minimum.accumulate(cost, axis=0)
        # A first entry whose spare time rounds below the smallest cap has no partner.
        second = np.where(reach >= 0, prefix[np.maximum(reach, 0), np.arange(len(need))], np.inf)
        total = self.energy[first_cover, first_target] + second
        pick = int(np.argmin(total))
        if not total[pick] < energy * (1.0 - MIN_SAVING):
            return None
        second_cover = int(np.argmin(cost[: reach[pick] + 1, pick]))
        place = int(np.searchsorted(self.sorted_progress[second_cover], need[pick], side="left"))
        return (
            (int(first_cover[pick]), int(first_target[pick])),
            (second_cover, int(self.cheapest_target[second_cover, place])),
        )


def polish(
    levels: Sequence[int],
    entries: Sequence[tuple[int, int]],
    menus: Sequence[Menu | None],
    slack: float,
) -> list[tuple[int, int]]:
    """Pair exchanges within each run of equal levels (see the module doc).

    Args:
        levels: Each epoch's pruning level.
        entries: Each epoch's (cover, target) in its level's tables.
        menus: Per level, its menu (None for a level without one).
        slack: Seconds left before the deadline.

    Returns:
        The new (cover, target) of every epoch (the same where nothing improved).
    """
    out = list(entries)
    runs: list[list[int]] = []
    for k, level in enumerate(levels):
        if runs and levels[runs[-1][0]] == level:
            runs[-1].append(k)
        else:
            runs.append([k])
    queries = 0
    for run in runs:
        menu = menus[levels[run[0]]]
        if menu is None or len(run) < 2:
            continue
        tried: set[tuple[tuple[int, int], tuple[int, int], float]] = set()
        for _ in range(MAX_SWEEPS):
            improved = False
            for a_pos, i in enumerate(run):
                for j in run[a_pos + 1 :]:
                    (ci, mi), (cj, mj) = out[i], out[j]
                    key = (min(out[i], out[j]), max(out[i], out[j]), slack)
                    if key in tried or queries >= MAX_QUERIES:
                        continue
                    tried.add(key)
                    queries += 1
                    used = float(menu.time[ci, mi] + menu.time[cj, mj])
                    found = menu.best_pair(
                        used + slack,
                        float(menu.progress[ci, mi] + menu.progress[cj, mj]),
                        float(menu.energy[ci, mi] + menu.energy[cj, mj]),
                    )
                    if found is None:
                        continue
                    out[i], out[j] = found
                    (ca, ma), (cb, mb) = found
                    slack += used - float(menu.time[ca, ma] + menu.time[cb, mb])
                    improved = True
            if not improved:
                break
    return out
