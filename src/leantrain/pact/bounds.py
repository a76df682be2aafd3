"""Lower bounds on what a partial plan still needs (energy, samples, time, epochs) to reach ℓ*.

Shared by the ``pact`` solver (pruning against its incumbent, over its own epoch options) and the
``exact`` solver (branch and bound, over every undominated node/fraction set). Given per level the
epoch sets c a plan may use (time τ_c, effective samples D_c, energy E_c), the bounds hold for
every plan built from them.

**The loss law.** At a level with curve ℓ(s) = c + a·(s + s0)^(−b) the loss obeys the autonomous
law dℓ/ds = −r(ℓ), r(ℓ) = b·(ℓ − c)^(1 + 1/b)·a^(−1/b) for ℓ > c (0 below), because the equivalent
position s_eq makes the curve memoryless in ℓ (it is not clamped above the curve's start, see
:mod:`leantrain.pact.formulas`). A plan's loss goes down only along that law; jumps only raise it.
So from loss ℓ at level ρ the plan still descends *continuously* through every loss value in
[ℓ*, ℓ], at levels ≥ ρ. Positions count progress P(D) (docs/pact.md, 'Participation'), so the
callers pass each set's progress as its "samples" D_c below (the same thing when γ = 1).

**The relaxation.** Cut that interval on a grid into pieces i of width Δ_i and upper end y_i.
Descending piece i at level ρ′ takes at least n_iρ′ = Δ_i / r_ρ′(y_i) samples (r grows with ℓ, so
the rate in the piece is at most r_ρ′(y_i)). Relax the plan to: a share z_iρ′ ≥ 0 of every piece
descended at each level, Σ_ρ′ z_iρ′ ≥ 1 (a piece may be descended more than once, after a jump,
never less), samples at level ρ′ at least Σ_i z_iρ′·n_iρ′, delivered by any non-negative amounts
y_c of the level's sets (y_c samples through set c: y_c/D_c epochs, time y_c·τ_c/D_c), total time
≤ T′ and total epochs ≤ K′; minimise Σ_c y_c·E_c/D_c. Every real plan is a feasible point, so the LP
optimum is a lower bound of its energy. By weak duality every pair of multipliers λ, μ ≥ 0 for the
time and epoch constraints gives the lower bound

    Σ_i min_ρ′ n_iρ′·g_ρ′(λ, μ) − λ·T′ − μ·K′,   g_ρ′ = min over sets c of level ρ′ of
                                                   (E_c + λ·τ_c + μ) / D_c.

The bound is the best over a fixed grid of (λ, μ), including (0, 0), where it is the cheapest
energy per unit of loss descended at each loss value. With T′ = ∞ and K′ = ∞ the same argument
bounds the samples (weights 1), time (weights τ/D) and epochs (weights 1/D) still needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from leantrain.pact.formulas import curve_loss, descent_rate, jumped_loss
from leantrain.pact.predictor import Curve, LossPredictor
from leantrain.pact.problem import Problem

__all__ = ["EpochSets", "RemainingBound", "WholeEpochBound", "loss_pieces"]

FloatArray = NDArray[np.float64]

#: Points of the loss grid on which the integrals are tabulated (default).
GRID_POINTS = 1024

#: Multiplier steps (times a scale) of the Lagrangian grid, per constraint (default).
STEPS = np.r_[0.0, 2.0 ** np.arange(-6.0, 7.0, 2.0)]

#: Per level: the (time, samples, energy) of the epoch sets a plan may use.
EpochSets = Sequence[tuple[FloatArray, FloatArray, FloatArray]]


@dataclass(frozen=True)
class RemainingBound:
    """Tabulated lower bounds from (level, loss) to the target (see the module doc).

    Attributes:
        target: The loss target ℓ*.
        grid: Loss grid, ascending from ℓ*, shape (G,).
        lambdas, mus: The multiplier grid, shape (K,) each.
        energy: ``energy[ρ, i, k]``: Σ over the pieces below ``grid[i]`` of the cheapest
            n·g_k, shape (L, G, K) (a query gathers whole rows of K values: contiguous).
        samples, time, epochs: The same with weights 1, least τ/D and least 1/D, shape (L, G).
    """

    target: float
    grid: FloatArray
    lambdas: FloatArray
    mus: FloatArray
    energy: FloatArray
    samples: FloatArray
    time: FloatArray
    epochs: FloatArray

    @staticmethod
    def of(
        problem: Problem,
        sets: EpochSets,
        points: int = GRID_POINTS,
        steps: FloatArray = STEPS,
    ) -> RemainingBound:
        """Tabulate the bounds for plans made of ``sets`` (one entry per level).

        Args:
            problem: The problem.
            sets: Per level, the (time, samples, energy) of the epoch sets plans may use.
            points: Points of the loss grid (more: tighter and slower to build and query).
            steps: Multiplier steps per constraint, times a scale set from the sets (the first
                must be 0).
        """
        levels = len(problem.model.levels)
        # Per-level costs per effective sample of the sets, for every multiplier pair.
        usable = [s for s in sets if len(s[0])]
        if usable:
            v = np.concatenate([e / d for t, d, e in usable])
            u = np.concatenate([t / d for t, d, e in usable])
            w = np.concatenate([1.0 / d for t, d, e in usable])
            scale_l = float(np.median(v) / max(float(np.median(u)), 1e-300))
            scale_m = float(np.median(v) / max(float(np.median(w)), 1e-300))
        else:
            scale_l = scale_m = 1.0
        lambdas = np.repeat(steps * scale_l, len(steps))
        mus = np.tile(steps * scale_m, len(steps))
        cost = np.full((levels, len(lambdas)), np.inf)
        pace = np.full(levels, np.inf)  # least τ/D
        count = np.full(levels, np.inf)  # least 1/D
        for level, (t, d, e) in enumerate(sets):
            if len(t) == 0:
                continue
            cost[level] = (
                (e / d)[None, :] + lambdas[:, None] * (t / d)[None, :] + mus[:, None] / d[None, :]
            ).min(axis=1)
            pace[level] = float((t / d).min())
            count[level] = float((1.0 / d).min())
        return RemainingBound.tabulate(problem, lambdas, mus, cost, pace, count, points)

    @staticmethod
    def tabulate(
        problem: Problem,
        lambdas: FloatArray,
        mus: FloatArray,
        cost: FloatArray,
        pace: FloatArray,
        count: FloatArray,
        points: int = GRID_POINTS,
    ) -> RemainingBound:
        """Tabulate the bounds from the per-level rates of the epoch sets.

        Args:
            problem: The problem.
            lambdas, mus: The multiplier pairs, shape (K,) each.
            cost: ``cost[ρ, k]`` ≤ g_ρ(λ_k, μ_k), the least (E + λ_k·τ + μ_k)/D of any set of
                level ρ, shape (L, K); inf where a level has no set.
            pace: Per level, at most the least τ/D of any set, shape (L,).
            count: Per level, at most the least 1/D of any set, shape (L,).
            points: Points of the loss grid (more: tighter and slower to build and query).
        """
        grid, need = loss_pieces(problem, points)
        levels = len(problem.model.levels)

        def times(n: FloatArray, weight: FloatArray) -> FloatArray:
            """n·weight with inf where a piece cannot be descended (whatever the weight)."""
            finite = np.isfinite(n)
            # 0·inf (a piece no level descends, times a level without sets) is nan, which the
            # outer where replaces by inf: the warning it raises says nothing.
            with np.errstate(invalid="ignore"):
                return np.where(finite, np.where(finite, n, 0.0) * weight, np.inf)

        energy = np.zeros((levels, points, len(lambdas)))
        samples = np.zeros((levels, points))
        time = np.zeros((levels, points))
        epochs = np.zeros((levels, points))
        for level in range(levels):
            n = need[level:]  # (L', G-1)
            per_piece = times(n[:, None, :], cost[level:, :, None]).min(axis=0)  # (K, G-1)
            energy[level, 1:, :] = np.cumsum(per_piece, axis=1).T
            samples[level, 1:] = np.cumsum(n.min(axis=0))
            time[level, 1:] = np.cumsum(times(n, pace[level:, None]).min(axis=0))
            epochs[level, 1:] = np.cumsum(times(n, count[level:, None]).min(axis=0))
        return RemainingBound(
            problem.target.loss, grid, lambdas, mus, energy, samples, time, epochs
        )

    def _index(self, loss: FloatArray) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        # The largest grid point not above the loss: every bound grows with the loss.
        index = np.searchsorted(self.grid, loss, side="right") - 1
        # minimum/maximum rather than np.clip: the same values, less call overhead (the exact
        # search asks this a hundred thousand times).
        inside = (index >= 0) & (loss > self.target)
        return np.minimum(np.maximum(index, 0), len(self.grid) - 1), inside

    def energy_to_go(
        self,
        level: int | NDArray[np.int64],
        loss: FloatArray,
        time_left: FloatArray | float,
        epochs_left: FloatArray | float,
    ) -> FloatArray:
        """Lower bound of the energy still needed from ``loss`` at ``level`` with ``time_left``
        seconds and ``epochs_left`` epochs to spare (finite; vectorised over ``loss``, and over
        ``level`` when it is an array of one level per loss)."""
        loss = np.asarray(loss, dtype=np.float64)
        index, inside = self._index(loss)
        table = self.energy[level, index]  # (n, K)
        time_left = np.broadcast_to(np.asarray(time_left, dtype=np.float64), loss.shape)
        epochs_left = np.broadcast_to(np.asarray(epochs_left, dtype=np.float64), loss.shape)
        penalty = self.lambdas * time_left[:, None] + self.mus * epochs_left[:, None]
        value = (table - penalty).max(axis=1)
        return np.where(inside, np.maximum(value, 0.0), 0.0)

    def quick(
        self, level: int | NDArray[np.int64], loss: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`time_to_go`, :meth:`epochs_to_go` and :meth:`energy_free` with one grid
        lookup: the cheap tests a search runs before :meth:`energy_to_go` (``level``: one, or
        one per loss)."""
        index, inside = self._index(np.asarray(loss, dtype=np.float64))
        epochs = np.maximum(np.ceil(self.epochs[level, index] - 1e-9), 1.0)
        return (
            np.where(inside, self.time[level, index], 0.0),
            np.where(inside, epochs, 0.0),
            np.where(inside, self.energy[level, index, 0], 0.0),
        )

    def energy_free(self, level: int, loss: FloatArray) -> FloatArray:
        """The energy lower bound without the deadline and epoch terms (λ = μ = 0)."""
        index, inside = self._index(np.asarray(loss, dtype=np.float64))
        return np.where(inside, self.energy[level, index, 0], 0.0)

    def samples_to_go(self, level: int, loss: FloatArray) -> FloatArray:
        """Lower bound of the effective samples still needed (vectorised)."""
        index, inside = self._index(np.asarray(loss, dtype=np.float64))
        return np.where(inside, self.samples[level, index], 0.0)

    def time_to_go(self, level: int, loss: FloatArray) -> FloatArray:
        """Lower bound of the time still needed (vectorised)."""
        index, inside = self._index(np.asarray(loss, dtype=np.float64))
        return np.where(inside, self.time[level, index], 0.0)

    def epochs_to_go(self, level: int, loss: FloatArray) -> FloatArray:
        """Lower bound of the epochs still needed (vectorised; at least 1 above the target)."""
        index, inside = self._index(np.asarray(loss, dtype=np.float64))
        value = np.ceil(self.epochs[level, index] - 1e-9)
        return np.where(inside, np.maximum(value, 1.0), 0.0)


#: Points of :class:`WholeEpochBound`'s loss grid (default; its first point is −inf).
EPOCH_GRID_POINTS = 2048

#: Most values :class:`WholeEpochBound`'s table may hold (64 MB of float64): with many levels or
#: epochs its grid is made coarser, and below :data:`EPOCH_GRID_LEAST` points it is not built.
EPOCH_TABLE_VALUES = 1 << 23

#: Fewest grid points worth building :class:`WholeEpochBound` with.
EPOCH_GRID_LEAST = 256

#: Deadline multipliers of :class:`WholeEpochBound` (default), times the sets' median power.
EPOCH_STEPS = np.r_[0.0, 2.0 ** np.arange(-4.0, 4.5, 0.5)]


@dataclass(frozen=True)
class WholeEpochBound:
    """Lower bounds of the energy and the time still needed, by a dynamic programme over whole
    epochs on a loss grid rounded down (used by the ``exact`` search, docs/pact.md, 'The
    solvers').

    The LP relaxation of :class:`RemainingBound` lets a plan spend fractions of epochs of the
    cheapest sets; this one keeps every epoch whole and the epoch cap exact, and relaxes only the
    deadline (by a multiplier λ ≥ 0) and the loss (rounded down to a grid). For one λ, Ṽ_k(ρ, g)
    is the least Σ (E_c + λ·τ_c) over plans of at most k epochs that reach ℓ* from level ρ and
    loss grid[g]:

        Ṽ_0 = ∞,   Ṽ_k(ρ, g) = min over levels ρ′ ≥ ρ and sets c of ρ′ of
                   E_c + λ·τ_c + (0 if c reaches ℓ* and may end a plan, else Ṽ_{k−1}(ρ′, g′)),

    g′ the largest grid point not above the loss after the epoch. **Valid**: the loss after an
    epoch grows with the loss before it (jumps and curves are increasing, the subset floor too),
    so from a loss no higher the same epochs reach ℓ* no later and a lower grid point only helps;
    by induction on k, Ṽ_k(ρ, g) ≤ min over real plans from any loss ℓ ≥ grid[g] of Σ E + λ·Σ τ.
    A plan that fits in time T′ then needs energy at least Ṽ_k − λ·T′ for every λ (weak duality),
    and the best λ of the grid is taken. The same programme with the cost τ_c alone gives the least
    time. The run order of the search (its module doc, 2.) is ignored: a relaxation.

    Each level has its own grid (:func:`_level_grid`): its first point is −∞ (losses at or below
    ℓ* of plans that may not end yet); the others run from ℓ* to the highest loss, evenly spaced
    in the level's curve position. Losses after an epoch are lowered by a relative 1e-9 before
    rounding and the bounds scaled down by as much, so that the last bits of other summation
    orders cannot make a bound exceed the value it bounds.

    Attributes:
        grids: Per level, the loss grid, ascending, ``grids[ρ, 0] = −inf``, shape (L, G).
        lambdas: The deadline multipliers, shape (Λ,).
        table: ``table[k, ρ·G + g]``: Ṽ_k(ρ, g) for each λ, then the least time, shape
            (K + 1, L·G, Λ + 1) (a query gathers whole rows: contiguous).
    """

    grids: FloatArray
    lambdas: FloatArray
    table: FloatArray

    @staticmethod
    def of(
        problem: Problem,
        sets: Sequence[tuple[FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]],
        points: int = EPOCH_GRID_POINTS,
        steps: FloatArray = EPOCH_STEPS,
    ) -> WholeEpochBound:
        """Solve the programme for plans made of ``sets``.

        Args:
            problem: The problem (its curves, target and epoch cap).
            sets: Per level, each set's (time, progress P(D), effective samples D, energy,
                whether it may end a plan).
            points: Points of the loss grid.
            steps: Deadline multipliers, times the median power E/τ of the sets.
        """
        predictor = LossPredictor.of(problem)
        levels, target = len(sets), problem.target.loss
        top = max(predictor.highest_loss(), target * (1.0 + 1e-9))
        grids = np.stack([_level_grid(curve, target, top, points) for curve in predictor.curves])
        powers = [e / t for t, _, _, e, _ in sets if len(t)]
        scale = float(np.median(np.concatenate(powers))) if powers else 1.0
        lambdas = np.asarray(steps, dtype=np.float64) * scale
        done_row = levels * points  # a state of cost 0: the plan has ended
        # moves[ρ][j]: for cost column j (each λ, then time alone), the next state of every
        # (grid point of ρ, set of a level ≥ ρ that is cheapest for its progress) and its cost.
        moves: list[list[tuple[NDArray[np.int64], FloatArray]]] = []
        for level in range(levels):
            parts: list[list[tuple[NDArray[np.int64], FloatArray]]] = [
                [] for _ in range(len(lambdas) + 1)
            ]
            for to in range(level, levels):
                t, progress, samples, e, may_end = sets[to]
                if len(t) == 0:
                    continue
                columns = [e + lam * t for lam in lambdas.tolist()] + [t]
                kept = [_cheapest_per_samples(cost, samples, may_end) for cost in columns]
                used = np.unique(np.concatenate(kept))  # only these sets' epochs are computed
                t, progress, samples, e = t[used], progress[used], samples[used], e[used]
                may_end = may_end[used]
                with np.errstate(invalid="ignore"):  # −inf at the grid's first point
                    jumped = jumped_loss(
                        grids[level],
                        predictor.offset(level),
                        predictor.slope(level),
                        predictor.offset(to),
                        predictor.slope(to),
                    )
                after = predictor.epoch_losses(np.asarray(jumped), to, progress, samples)
                after = after - 1e-9 * np.abs(after)
                index = np.maximum(np.searchsorted(grids[to], after, side="right") - 1, 0)
                ends = (after <= target * (1.0 + 1e-9)) & may_end[None, :]
                state = np.where(ends, done_row, to * points + index)
                for j, (cost, keep) in enumerate(zip(columns, kept, strict=True)):
                    parts[j].append((state[:, np.searchsorted(used, keep)], cost[keep]))
            moves.append(
                [
                    (
                        np.concatenate([p[0] for p in part], axis=1),
                        np.concatenate([p[1] for p in part]),
                    )
                    for part in parts
                ]
                if parts[0]
                else []
            )
        epochs = problem.options.max_epochs
        table = np.full((epochs + 1, len(lambdas) + 1, levels * points), np.inf)
        value = np.full((len(lambdas) + 1, levels * points + 1), np.inf)
        value[:, done_row] = 0.0
        for k in range(1, epochs + 1):
            new = np.full_like(value, np.inf)
            new[:, done_row] = 0.0
            for level, columns in enumerate(moves):
                for j, (state, cost) in enumerate(columns):
                    new[j, level * points : (level + 1) * points] = (
                        value[j][state] + cost[None, :]
                    ).min(axis=1)
            value = new
            table[k] = value[:, :done_row]
        table = np.ascontiguousarray(table.transpose(0, 2, 1))
        return WholeEpochBound(grids, lambdas, table)

    @staticmethod
    def grid_points(problem: Problem, steps: FloatArray = EPOCH_STEPS) -> int:
        """The grid points :meth:`of` can afford for ``problem`` within
        :data:`EPOCH_TABLE_VALUES` (at most :data:`EPOCH_GRID_POINTS`), or 0 when fewer than
        :data:`EPOCH_GRID_LEAST` fit (many levels and a large epoch cap)."""
        per_point = (problem.options.max_epochs + 1) * len(problem.model.levels) * (len(steps) + 1)
        points = min(EPOCH_GRID_POINTS, EPOCH_TABLE_VALUES // per_point)
        return points if points >= EPOCH_GRID_LEAST else 0

    def to_go(
        self, level: NDArray[np.int64], loss: FloatArray, time_left: FloatArray, epochs_left: int
    ) -> tuple[FloatArray, FloatArray]:
        """The least time and a lower bound of the energy still needed from ``loss`` at ``level``
        (one per loss) within ``time_left`` seconds and ``epochs_left`` epochs (inf where no plan
        of at most that many epochs reaches ℓ*)."""
        points = self.grids.shape[1]
        index = np.empty(len(loss), dtype=np.int64)
        for at, grid in enumerate(self.grids):
            here = level == at
            if here.any():
                # The largest grid point not above the loss (grid[0] = −inf).
                index[here] = at * points + np.searchsorted(grid, loss[here], side="right") - 1
        row = self.table[epochs_left, index]  # (n, Λ + 1)
        energy = (row[:, :-1] - self.lambdas[None, :] * time_left[:, None]).max(axis=1)
        return row[:, -1] * (1.0 - 1e-9), energy * (1.0 - 1e-9)


def _cheapest_per_samples(
    cost: FloatArray, samples: FloatArray, may_end: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """The sets no other set of the level beats for one cost: a set that costs no more, delivers
    no fewer samples (so its loss after the epoch is no higher, from any loss) and may end a plan
    where this one may leaves this one useless; kept: the cheapest set for its samples among all
    sets and among those that may end a plan."""
    keep = np.zeros(len(cost), dtype=bool)
    for among in (np.ones(len(cost), dtype=bool), may_end):
        rows = np.flatnonzero(among)
        if len(rows) == 0:
            continue
        rows = rows[np.lexsort((-samples[rows], cost[rows]))]  # by cost, most samples first
        best = np.maximum.accumulate(samples[rows])
        keep[rows[np.r_[True, samples[rows][1:] > best[:-1]]]] = True
    return np.flatnonzero(keep)


def _level_grid(curve: Curve, target: float, top: float, points: int) -> FloatArray:
    """A level's loss grid for :class:`WholeEpochBound`: −inf, ℓ*, then the curve's losses at
    positions evenly spaced from where it reaches ℓ* back to where it is at ``top`` (every epoch
    advances the position by its progress, whatever the loss, so even positions lose about as
    much to rounding at every step); losses evenly spaced from ℓ* to ``top``, denser near ℓ*,
    when the curve never reaches ℓ*."""
    if target <= curve.c:
        inner = target + (top - target) * np.linspace(0.0, 1.0, points - 1) ** 2
    else:
        near, far = curve.position(target), curve.position(top)
        inner = np.asarray(curve_loss(np.linspace(near, far, points - 1), *curve.shape))
        inner[0] = target
        inner = np.maximum.accumulate(inner)
    grid: FloatArray = np.r_[-np.inf, inner]
    return grid


def loss_pieces(problem: Problem, points: int) -> tuple[FloatArray, FloatArray]:
    """The loss grid from ℓ* up (denser near ℓ*, where the rates are smallest) and, per level
    and piece, the fewest samples that descend the piece, n_iρ = Δ_i / r_ρ(y_i), shape (L, G-1)."""
    predictor = LossPredictor.of(problem)
    levels = len(problem.model.levels)
    target = problem.target.loss
    top = max(predictor.highest_loss(), target * (1.0 + 1e-9))
    grid = target + (top - target) * np.linspace(0.0, 1.0, points) ** 2
    width = np.diff(grid)
    upper = grid[1:]
    need = np.full((levels, points - 1), np.inf)  # n_iρ: samples per piece
    for index, curve in enumerate(predictor.curves):
        rate = _fastest_descent(curve, grid[:-1], upper)
        above = upper > curve.c
        need[index] = np.where(
            above & (rate > 0.0), width / np.where(rate > 0.0, rate, 1.0), np.inf
        )

    return grid, need


def _fastest_descent(curve: Curve, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """The largest −dℓ/ds of ``curve`` over each loss piece [lower, upper]: the fewest samples
    that descend a piece are at least its width over it.

    A power law descends fastest at the top of a piece. A log-logistic curve is flat at its
    start and in its tail, so the largest rate of a piece is at one of its ends or, for b > 1, at
    the steepest point, loss c + a/(1 + x*) with x* = (b − 1)/(b + 1), when the piece holds it.
    """
    shape = curve.shape
    rate = descent_rate(upper, *shape)
    if curve.family == "power":
        return rate
    rate = np.maximum(rate, descent_rate(lower, *shape))
    if curve.b > 1.0:
        steepest = curve.c + curve.a / (1.0 + (curve.b - 1.0) / (curve.b + 1.0))
        holds = (lower <= steepest) & (steepest <= upper)
        peak = float(descent_rate(np.array([steepest]), *shape)[0])
        rate = np.where(holds, np.maximum(rate, peak), rate)
    # Pieces that reach above the start take the linear continuation's rate a/s0 too.
    start = curve.c + curve.a
    return np.where(upper >= start, np.maximum(rate, curve.a / curve.s0), rate)
