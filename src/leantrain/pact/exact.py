"""The ``exact`` solver (docs/pact.md, 'The solvers'): the true optimum of small instances, by
branch and bound.

**Search space.** Every plan of docs/pact.md, 'The model': any number of epochs up to
``max_epochs``, each at a level ρ_k ≥ ρ_{k−1} with any non-empty set of (node, fraction) pairs,
every node eligible at that level (memory) and every allowed fraction, with continuous time and
loss (no grid anywhere). Nodes without samples are left out: they add no effective samples and
only time and energy, and an epoch's loss depends on its samples alone (no free lunch: the
equivalent position is not clamped, see :mod:`leantrain.pact.formulas`), so adding one to an epoch
never helps, and an epoch of such nodes alone leaves the loss where it is (beyond a jump it
only raises).

**Why it is exact.** The search enumerates that space, minus only parts that provably hold no plan
strictly cheaper than the incumbent:

1. *Dominated epoch sets.* Per level, all (F+1)^n − 1 sets of the eligible nodes are enumerated
   and a set is dropped when another set of the same level is no longer, delivers no fewer
   effective samples and costs no more energy. Replacing it by that set leaves every later epoch
   allowed, the time and energy no higher and the loss no higher (the loss after an epoch grows
   with the loss before it and falls with its samples), so an optimal plan uses undominated sets
   only (one of each group of equal sets is kept).
2. *Order within a level.* Consecutive epochs at the same level can be permuted freely: the jump
   applies when the level is entered, after which the loss depends only on the sum of their
   samples (s_eq + D₁ + D₂ whatever the order), and time and energy are sums. So only runs whose
   set indices do not decrease are enumerated. Under a subset floor (docs/pact.md, 'The subset
   floor') the order matters, and ascending effective samples is the best order (proven there):
   the sets are then indexed by ascending samples, so the same enumeration covers it.
3. *Bounds.* A partial plan is cut when its energy plus a lower bound of the energy still needed
   reaches the incumbent's, when its time plus a lower bound of the time still needed exceeds the
   deadline, or when the epochs it still needs exceed ``max_epochs``. The lower bounds are those of
   :mod:`leantrain.pact.bounds`, each proven there: the autonomous loss law and the Lagrangian
   dual of an LP relaxation over the undominated sets with the deadline and the epoch cap, then,
   after :data:`WHOLE_EPOCH_AFTER` expanded plans, the tighter
   :class:`~leantrain.pact.bounds.WholeEpochBound` (whole epochs on a loss grid rounded down;
   only the deadline relaxed), which cut the search on the slowest tight 8-node instance from
   126,583 expanded plans to 15,326 (docs/pact.md, 'The solvers').
   A plan stops at the first epoch that reaches the target: further epochs only cost. Under a
   floor on the final epoch's samples (docs/pact.md, 'Epoch floors') a plan ends only with a
   set of at least the floor; the order argument of 2. then holds for every epoch of the last run
   but the final one, so the final set may be any set of its level.
4. *Dominated states.* A partial plan is cut when an already expanded one at the same level
   dominates it: its run may continue with every set this one's may (no higher first allowed
   set index), it used no more epochs, and its loss, time and energy are no higher. Every
   completion of the cut plan is a completion of the other that ends no later, no worse and no
   dearer; since a plan is only cut by one expanded before it, the chains of dominance end at
   expanded plans and no completion is lost.

What remains is enumerated completely (depth first, most promising child first), so the best plan
found is optimal; if the search finds nothing better, the incumbent (the ``pact`` plan) is
optimal, and if there is no incumbent and nothing is found, no plan meets target and deadline.
"Better" means cheaper by more than 1e-12 relative (sums taken in another order differ in the
last bits), so the optimum is exact to that. Plans whose final loss or time lies within 1e-9 of the
target or the deadline are confirmed with :func:`~leantrain.pact.plan.evaluate`, the arbiter of
feasibility, so rounding cannot flip a verdict.

**Guards.** The search raises :class:`SearchLimitError` (it never returns a plan it has not proved
optimal) after ``max_nodes`` expanded partial plans or ``max_seconds`` of search, and when a level
has more than ``max_sets`` node/fraction sets to enumerate ((F+1)^n grows fast: 4^10 ≈ 10⁶ sets
for 10 nodes and 3 fractions). Measured (``python -m benchmarks pact_quality``): random instances
of 3-7 nodes, 3-4 levels, 3 fractions and up to 18 epochs, and 8-node ones with tight deadlines,
mostly finish in seconds; 10 nodes or long deadlines with many epochs are out of reach.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from leantrain.pact.bounds import RemainingBound, WholeEpochBound
from leantrain.pact.dp import PactSolver
from leantrain.pact.formulas import epoch_progress
from leantrain.pact.graph import _pareto
from leantrain.pact.knapsack import LevelItems, level_items
from leantrain.pact.plan import Decision, Plan, evaluate
from leantrain.pact.predictor import LossPredictor
from leantrain.pact.problem import Problem
from leantrain.pact.solver import DEFAULT_EPSILON, Solver

__all__ = ["ExactSolver", "LevelSets", "SearchLimitError", "level_sets"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


#: Expanded plans after which the search builds its :class:`WholeEpochBound` (small instances
#: finish before: the programme costs more than their whole search).
WHOLE_EPOCH_AFTER = 2000


class SearchLimitError(RuntimeError):
    """The exact search hit its node, time or enumeration limit before proving optimality."""


@dataclass(frozen=True)
class LevelSets:
    """The undominated node/fraction sets of one level.

    Attributes:
        level: The level index.
        items: The level's items.
        choice: Fraction index per set and item row (-1: the node does not train), shape (R, n).
        time, samples, energy: Each set's epoch time, effective samples and energy, shape (R,).
    """

    level: int
    items: LevelItems
    choice: NDArray[np.int8]
    time: FloatArray
    samples: FloatArray
    energy: FloatArray

    def decision(self, problem: Problem, index: int) -> Decision:
        """Set ``index`` as a decision."""
        fractions = {
            problem.node[int(self.items.nodes[row])].name: float(self.items.fractions[f])
            for row, f in enumerate(self.choice[index].tolist())
            if f >= 0
        }
        return Decision(self.level, fractions)


def level_sets(problem: Problem, level: int, max_sets: int = 1 << 21) -> LevelSets:
    """Enumerate every non-empty node/fraction set of ``level`` and keep the undominated ones.

    Raises:
        SearchLimitError: More than ``max_sets`` sets to enumerate.
    """
    items = level_items(problem, level)
    n, width = items.size, len(items.fractions) + 1
    count = width**n
    if count - 1 > max_sets:
        raise SearchLimitError(
            f"level {level}: {count - 1} node/fraction sets exceed the limit {max_sets}"
        )
    codes = np.arange(1, count, dtype=np.int64)
    digits = (codes[:, None] // (width ** np.arange(n, dtype=np.int64))[None, :]) % width
    choice = (digits - 1).astype(np.int8)  # (R, n)
    take = choice >= 0
    f = np.maximum(choice, 0).astype(np.int64)
    rows = np.arange(n)[None, :]
    samples = np.where(take, items.samples[rows, f], 0.0).sum(axis=1)
    energy = np.where(take, items.energy[rows, f], 0.0).sum(axis=1)
    longest = np.where(take, items.time[rows, f], 0.0).max(axis=1, initial=0.0)
    # Every epoch trains at least the problem's floor (docs/pact.md, 'Epoch floors').
    allowed = np.flatnonzero(problem.epoch_floor_met(samples))
    choice, samples, energy, longest = (
        choice[allowed],
        samples[allowed],
        energy[allowed],
        longest[allowed],
    )
    keep = _pareto(longest, samples, energy) if len(allowed) else np.empty(0, dtype=np.int64)
    if problem.kappas[level] > 0.0:
        # Runs are enumerated in index order, which must be ascending samples under a subset
        # floor (the module doc, 2.).
        keep = keep[np.argsort(samples[keep], kind="stable")]
    return LevelSets(level, items, choice[keep], longest[keep], samples[keep], energy[keep])


class ExactSolver(Solver):
    """The true optimum by branch and bound (see the module doc for the argument and the guards).

    Args:
        epsilon: The granularity of the ``pact`` run that gives the first incumbent.
        max_nodes: Most partial plans expanded before giving up.
        max_seconds: Most seconds of search before giving up.
        max_sets: Most node/fraction sets enumerated per level.
        whole_epoch_after: Expanded partial plans after which the search adds the whole-epoch
            bound (:class:`~leantrain.pact.bounds.WholeEpochBound`) to its pruning.
    """

    name = "exact"

    exact = True

    def __init__(
        self,
        epsilon: float = DEFAULT_EPSILON,
        *,
        max_nodes: int = 2_000_000,
        max_seconds: float = 600.0,
        max_sets: int = 1 << 21,
        whole_epoch_after: int = WHOLE_EPOCH_AFTER,
    ) -> None:
        super().__init__(epsilon)
        self.max_nodes = max_nodes
        self.max_seconds = max_seconds
        self.max_sets = max_sets
        self.whole_epoch_after = whole_epoch_after
        self.stats: dict[str, Any] = {}  # of the last search
        self._searched: list[tuple[Problem, dict[str, Any]]] = []  # during one solve

    @classmethod
    def too_large(cls, problem: Problem, max_sets: int = 1 << 21) -> str:
        """Why the search would stop before it starts, a level with more node/fraction sets than
        ``max_sets`` to enumerate, or "" (used by ``leantrain plan --compare`` to skip it)."""
        width = len(problem.fractions) + 1
        for level, memory in enumerate(problem.model.memory_bytes):
            nodes = sum(1 for n in problem.node if n.memory_bytes >= memory and n.samples > 0)
            if width**nodes - 1 > max_sets:
                return (
                    f"level {level}: {width}^{nodes} - 1 node/fraction sets exceed the limit "
                    f"{max_sets}"
                )
        return ""

    def solve(self, problem: Problem, *, shrink: bool = True) -> Plan:
        """Search, then evaluate; the plan's notes say how many partial plans its search
        expanded (``shrink``: as :meth:`Solver.solve`).

        Raises:
            SearchLimitError: A guard stopped the search before optimality was proved.
        """
        self._searched.clear()
        try:
            return super().solve(problem, shrink=shrink)
        finally:
            self._searched.clear()

    def search_notes(self, problem: Problem) -> dict[str, Any]:
        """The counts of the search of ``problem`` (the margin's searches are several)."""
        for searched, stats in reversed(self._searched):
            if searched is problem:
                return dict(stats)
        return dict(self.stats)

    def search(self, problem: Problem) -> list[Decision] | None:
        """The optimal decisions, or None when no plan meets the target by the deadline.

        Raises:
            SearchLimitError: A guard stopped the search before optimality was proved.
        """
        began = time.perf_counter()
        levels = len(problem.model.levels)
        sets = [level_sets(problem, level, self.max_sets) for level in range(levels)]
        incumbent = PactSolver(self.epsilon).search(problem)
        best_energy = math.inf
        best: list[Decision] | None = None
        if incumbent is not None:
            plan = evaluate(problem, incumbent, solver="pact")
            if plan.feasible:
                best_energy, best = plan.energy_j, incumbent
        # Sums in another order may differ in the last bits: only a plan cheaper by more than
        # that counts as an improvement (the optimum is exact to 1e-12 relative).
        threshold = best_energy * (1.0 - 1e-12)
        search = _Search(
            problem,
            sets,
            threshold,
            self.max_nodes,
            began + self.max_seconds,
            self.whole_epoch_after,
        )
        found = search.run()
        self.stats = {
            "expanded": search.expanded,
            "dominated": search.dominated,
            "sets": [len(s.time) for s in sets],
            "improved_on_pact": found is not None,
            "whole_epoch_bound": search.whole is not None,
        }
        # Kept with the problem itself (not its id, which a freed problem's copy could reuse).
        self._searched.append((problem, self.stats))
        if found is not None:
            candidate = [sets[level].decision(problem, index) for level, index in found]
            plan = evaluate(problem, candidate, solver="exact")
            if plan.feasible and plan.energy_j < best_energy:
                best = candidate
        return best


class _Search:
    """Depth-first branch and bound over epochs (see the module doc of :mod:`exact`)."""

    def __init__(
        self,
        problem: Problem,
        sets: list[LevelSets],
        incumbent: float,
        max_nodes: int,
        deadline_clock: float,
        whole_epoch_after: int = 0,
    ) -> None:
        self.problem = problem
        self.sets = sets
        self.levels = len(sets)
        self.best = incumbent
        self.best_path: list[tuple[int, int]] | None = None
        self.max_nodes = max_nodes
        self.clock = deadline_clock
        self.expanded = 0
        self.dominated = 0
        self.memo = [_Memo() for _ in sets]
        predictor = LossPredictor.of(problem)
        self.predictor = predictor
        self.target = problem.target.loss
        self.deadline = problem.target.deadline_s
        self.max_epochs = problem.options.max_epochs
        # Each set's progress P(D) along the curves (docs/pact.md, 'Participation').
        self.progress = [
            epoch_progress(s.samples, problem.full_samples, gamma)
            for s, gamma in zip(sets, problem.gammas, strict=True)
        ]
        self.remaining = RemainingBound.of(
            problem,
            [(s.time, p, s.energy) for s, p in zip(sets, self.progress, strict=True)],
            points=4096,
            steps=np.r_[0.0, 2.0 ** np.arange(-6.0, 7.0)],
        )
        self.floor = problem.final_samples > 0.0
        self.may_end = [problem.final_floor_met(s.samples) for s in sets]
        self.whole: WholeEpochBound | None = None
        self.whole_tried = False
        self.whole_epoch_after = whole_epoch_after

    def run(self) -> list[tuple[int, int]] | None:
        """Search from the initial state; the best path strictly cheaper than the incumbent."""
        self._expand(0, 0, self.predictor.initial_loss, 0.0, 0.0, 0, [])
        return self.best_path

    def _promising(
        self, level: IntArray, loss: FloatArray, elapsed: FloatArray, energy: FloatArray, left: int
    ) -> tuple[NDArray[np.bool_], FloatArray]:
        """Which partial plans (level, loss, elapsed, energy; one level per plan) the bounds keep,
        with their energy plus the energy still needed (valid where kept).

        The cheap tests run first and the Lagrangian energy bound only on what survives them: its
        value at λ = μ = 0 (``energy_free``) is one of the terms it maximises, so a plan that
        fails with it fails with the full bound too; the verdicts are those of the full bounds.
        """
        bound = self.remaining
        time_needed, epochs_needed, energy_needed = bound.quick(level, loss)
        keep = (
            (elapsed + time_needed <= self.deadline * (1.0 + 1e-9))
            & (epochs_needed <= left)
            & (energy + energy_needed < self.best)
        )
        score = np.full(len(loss), np.inf)
        rows = np.flatnonzero(keep)
        if len(rows) == 0:
            return keep, score
        if not self.whole_tried and self.expanded >= self.whole_epoch_after:
            self.whole_tried = True  # built once, or never where its table would not fit
            points = WholeEpochBound.grid_points(self.problem)
            if points:
                self.whole = WholeEpochBound.of(
                    self.problem,
                    [
                        (s.time, p, s.samples, s.energy, m)
                        for s, p, m in zip(self.sets, self.progress, self.may_end, strict=True)
                    ],
                    points,
                )
        time_left = self.deadline - elapsed[rows]
        if self.whole is not None:
            time_needed, need = self.whole.to_go(level[rows], loss[rows], time_left, left)
            fits = time_needed <= time_left + self.deadline * 1e-9
            score[rows] = np.where(fits, energy[rows] + need, np.inf)
        else:
            need = bound.energy_to_go(level[rows], loss[rows], time_left, float(left))
            score[rows] = energy[rows] + need
        keep[rows] = score[rows] < self.best
        return keep, score

    def _expand(
        self,
        level: int,
        first: int,
        loss: float,
        elapsed: float,
        energy: float,
        epochs: int,
        path: list[tuple[int, int]],
    ) -> None:
        if self.memo[level].dominated(first, epochs, loss, elapsed, energy):
            self.dominated += 1
            return
        self.memo[level].add(first, epochs, loss, elapsed, energy)
        self.expanded += 1
        if self.expanded > self.max_nodes:
            raise SearchLimitError(f"exact search expanded more than {self.max_nodes} plans")
        if self.expanded % 256 == 0 and time.perf_counter() > self.clock:
            raise SearchLimitError("exact search ran out of time")
        left = self.max_epochs - epochs - 1
        children: list[tuple[float, int, int, float, float, float]] = []
        pending: list[tuple[int, IntArray, FloatArray, FloatArray, FloatArray]] = []
        for to in range(level, self.levels):
            s = self.sets[to]
            lo = first if to == level else 0
            if lo >= len(s.time):
                continue
            # Under a floor on the final epoch (docs/pact.md, 'Epoch floors') the run's order
            # argument holds for every epoch but the last, so the final set may be any set of the
            # level, not only those from ``lo`` on.
            span = 0 if self.floor else lo
            jumped = self.predictor.after_jump(loss, level, to)
            t_new = elapsed + s.time[span:]
            e_new = energy + s.energy[span:]
            l_new = self.predictor.epoch_losses(
                float(jumped), to, self.progress[to][span:], s.samples[span:]
            )
            ok = (t_new <= self.deadline * (1.0 + 1e-9)) & (e_new < self.best)
            if not ok.any():
                continue
            # A plan ends with a set of at least the floor; one that reaches the target with a
            # smaller set may still go on.
            near = ok & (l_new <= self.target * (1.0 + 1e-9)) & self.may_end[to][span:]
            done = np.zeros(len(t_new), dtype=bool)
            for j in np.flatnonzero(near)[np.argsort(e_new[near], kind="stable")]:
                candidate = [*path, (to, span + int(j))]
                clear = l_new[j] <= self.target * (1.0 - 1e-9) and t_new[j] <= self.deadline * (
                    1.0 - 1e-9
                )
                if clear or self._confirm(candidate):
                    done[j] = True
                    if e_new[j] < self.best:
                        self.best, self.best_path = float(e_new[j]), candidate
            if left <= 0:
                continue
            go = np.flatnonzero(ok & ~done)
            go = go[go >= lo - span]
            if len(go) == 0:
                continue
            pending.append((to, span + go, l_new[go], t_new[go], e_new[go]))
        if pending:
            # One bound call for the children of every level: the bounds' cost is mostly per
            # call, and the incumbent they test against is the newest.
            level_of = np.concatenate([np.full(len(p[1]), p[0]) for p in pending])
            set_index, l_all, t_all, e_all = (
                np.concatenate([p[k] for p in pending]) for k in range(1, 5)
            )
            keep, scores = self._promising(level_of, l_all, t_all, e_all, left)
            for k in np.flatnonzero(keep).tolist():
                children.append(
                    (
                        float(scores[k]),
                        int(level_of[k]),
                        int(set_index[k]),
                        float(l_all[k]),
                        float(t_all[k]),
                        float(e_all[k]),
                    )
                )
        children.sort()
        for score, to, index, l_new_j, t_new_j, e_new_j in children:
            if score >= self.best:
                break  # sorted: no later child can do better
            self._expand(to, index, l_new_j, t_new_j, e_new_j, epochs + 1, [*path, (to, index)])

    def _confirm(self, path: list[tuple[int, int]]) -> bool:
        decisions = [self.sets[level].decision(self.problem, index) for level, index in path]
        return evaluate(self.problem, decisions, solver="exact").feasible


#: A dominance test reads the newest expanded states in windows of these sizes first
#: (:class:`_Memo`).
RECENT_STATES = (1024,)

#: States are moved to the memo's archive (its sorted copies) in batches of this many
#: (:class:`_Memo`).
ARCHIVE_BATCH = 16384


class _Memo:
    """The states already expanded at one level, for exact dominance tests.

    State A dominates state B (same level) when A's run may continue with every set B's may
    (first_A ≤ first_B), A used no more epochs, and A's loss, time and energy are no higher: every
    completion of B is then a completion of A that ends no later, no worse and no dearer. A state
    is only ever pruned by one expanded before it, so the chains of dominance end at expanded
    states and no plan is lost.

    The states are kept in insertion order (``data``); every :data:`ARCHIVE_BATCH` of them are
    also merged into an archive kept in four copies, sorted by the first allowed set, the loss,
    the time and the energy. A dominator lies in each copy's prefix of states no higher than the
    tested one in that coordinate, so a test reads only the shortest of the four prefixes (each
    holds about half the states on the slowest tight 8-node instance, their shortest less).
    """

    #: The coordinates (rows of a state) the archive is sorted by, one copy each.
    SORTED_BY = (0, 2, 3, 4)

    def __init__(self) -> None:
        self.size = 0
        self.data = np.empty((5, 1024))
        self.archived = 0  # states [0, archived) are in the archive
        self.archive = [np.empty((5, 0)) for _ in self.SORTED_BY]  # sorted by each row

    def dominated(self, first: int, epochs: int, loss: float, time: float, energy: float) -> bool:
        """Whether an expanded state dominates this one.

        The newest states are tested first (:data:`RECENT_STATES`): the depth-first search expands
        a state's siblings and cousins just before it, and they hold most dominators (74% of the
        dominated states of the slowest tight 8-node instance had one among the newest 2,048).
        Then the other states not yet archived, then the shortest of the archive's prefixes of
        states no higher in one coordinate (the others cannot dominate). The verdict is the plain
        test's.
        """
        if self.size == 0:
            return False
        state = np.array([first, epochs, loss, time, energy])[:, None]
        end = self.size
        for window in (*RECENT_STATES, end):
            start = max(self.archived, self.size - window)
            if start < end and (self.data[:, start:end] <= state).all(axis=0).any():
                return True
            end = start
        if self.archived == 0:
            return False
        values = (first, epochs, loss, time, energy)
        counts = [
            int(np.searchsorted(copy[row], values[row], side="right"))
            for copy, row in zip(self.archive, self.SORTED_BY, strict=True)
        ]
        pick = int(np.argmin(counts))
        count = counts[pick]
        return count > 0 and bool((self.archive[pick][:, :count] <= state).all(axis=0).any())

    def add(self, first: int, epochs: int, loss: float, time: float, energy: float) -> None:
        """Record an expanded state (and archive a full batch)."""
        if self.size == self.data.shape[1]:
            self.data = np.concatenate([self.data, np.empty_like(self.data)], axis=1)
        self.data[:, self.size] = (first, epochs, loss, time, energy)
        self.size += 1
        if self.size - self.archived >= ARCHIVE_BATCH:
            merged = self.data[:, : self.size]
            self.archive = [
                np.ascontiguousarray(merged[:, np.argsort(merged[row], kind="stable")])
                for row in self.SORTED_BY
            ]
            self.archived = self.size
