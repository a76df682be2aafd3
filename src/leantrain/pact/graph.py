"""The time-expanded graph of the ``pact`` solver and its shortest path (docs/pact.md,
'The time-expanded graph and ε').

Three grids, all set by ε (``epsilon``):

* the **fine grid** (ε): the knapsack's tolerance, the epoch-length caps
  (:func:`~leantrain.pact.knapsack.level_caps`: ratio 1 + ε in time or ε·D̄ in admitted samples)
  and the sample targets D = D̄_cap·min(1, m·ε), m = 1..⌈1/ε⌉ (D̄_cap: every admitted node at its
  largest admitted fraction);
* the **vertex grid** (g between ε and 2ε, see :func:`vertex_grain`): time slots of g·T (T the
  deadline) and loss cells of g·D̄_ρ samples (D̄_ρ: one epoch of every node that fits level ρ, at
  its largest fraction);
* the **edge grid** of the intermediate epochs: caps √ε apart in time and ε·D̄ in samples, sets
  on hulls kept within a factor 1 + ε (or 1 + √ε) in energy, targets √ε·D̄_cap apart.

**Vertices** are (time slot, loss cell, pruning level). A state's time is rounded *up* to its slot;
its loss is mapped to its position s (cumulative effective samples) on the level's curve and
rounded *up* in loss (down in position) to its cell. The initial state is (0, ℓ₀, level 0).

**Edges** are one epoch's decision: a pruning step to a level ρ′ ≥ ρ and a node/fraction set from
the min-energy covering knapsack (:mod:`leantrain.pact.knapsack`), solved for every cap and target
of the fine grid, weighted by the set's energy. Two kinds:

* *final* edges, which reach ℓ*, use the whole fine table: from a state that still needs D
  samples at ρ′, each cap's cheapest set whose target covers D (a suffix minimum over the
  targets), so the last epoch overshoots by at most ε·D̄_cap samples;
* *intermediate* edges use the sets of the edge grid, minus any set another one of the level
  dominates (no longer, no fewer samples, no dearer). Their caps are those of the √ε grid
  (``level_caps`` at √ε) and those that keep every item time within a factor 1 + √ε above or
  ε·D̄ admitted samples below (``level_caps`` at √ε in time, ε in samples): when ``max_epochs``
  binds, every epoch's samples count, and a cap thinned at √ε in samples can cost a tenth of
  them. Per cap: the most efficient set, the whole admitted fleet, and the vertices of the lower
  convex hull of (D, E) that keep it within a factor 1 + ε in energy (:func:`_thin_hull`; 1 + √ε
  on the caps only the sample rule adds); the caps of the √ε grid add targets √ε·D̄_cap apart,
  or, on levels of at most :data:`SMALL_LEVEL_ITEMS` (node, fraction) items, every set of their
  table. Their number multiplies the whole search, hence the coarser grid.

**Search.** The graph is a DAG (time strictly grows along an edge, and so does the epoch count). It
is searched layer by layer in the epoch count, so ``max_epochs`` holds. Every label carries its
*exact* time, loss and energy (the plan formulas, never the rounded ones), and the vertices only
decide which labels live on, by two roundings. *Rounded dominance*: a label is dropped when a
label of a strictly better vertex (earlier slot and no worse cell, or better cell and no later
slot) is no dearer; the two may share a cell (or a slot), where the dropped label's exact loss (or
time) can be the better one by up to a cell (a slot). *Merging*: within its own vertex a label
survives only as the vertex's cheapest or earliest label, not dominated by either. A label never
exceeds its vertex's rounded-up time and loss. Labels that cannot beat the incumbent (energy
so far plus the lower bound of :mod:`leantrain.pact.bounds`) or cannot reach the target by the
deadline or within ``max_epochs`` are pruned, which never loses a better plan. Every candidate plan
is checked with :func:`~leantrain.pact.plan.evaluate` before it is returned; per expansion step
the cheapest final candidates are kept (:data:`FINALS_PER_STEP`) and always the cheapest *sure*
one (clear of the target and deadline by more than rounding), since it alone tightens the pruning.
The plan found is then polished with pair exchanges over the full tables
(:mod:`leantrain.pact.polish`), which the thinned intermediate edges leave out; the polished plan
is kept only when evaluate accepts it and it is cheaper.

**Complexity** for N nodes, L levels, F fractions and fixed ε. A level has C ≤ min(N·F, 1/ε + 1)
caps, each a knapsack of O(N log N + F/ε³ + N/ε·log(1/ε)) (see :mod:`leantrain.pact.knapsack`),
so building the edges costs O(L·(N·F log(N·F) + C·(N log N + F/ε³ + N/ε·log(1/ε)))). There are
R = O(C/√ε) intermediate edges per level (at most C caps, O(1/√ε) sets on each hull) and
V = O(L·K̄/ε²) vertices (K̄: full-fleet epochs to the target), each holding at most two labels
per layer, expanded along O(L·R) intermediate edges and O(L·C) final lookups: the search is
O(max_epochs·L²·K̄·R/ε²), independent of N beyond R. In practice pruning leaves a small share of
the vertices, and with many nodes the knapsacks dominate.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from leantrain.pact.bounds import RemainingBound
from leantrain.pact.formulas import (
    curve_loss,
    epoch_progress,
    equivalent_position,
    floor_samples,
    jumped_loss,
    progress_samples,
    subset_floor,
)
from leantrain.pact.knapsack import CapCover, LevelItems, cover_targets, level_caps, level_items
from leantrain.pact.plan import Decision, evaluate
from leantrain.pact.polish import Menu, polish
from leantrain.pact.predictor import LossPredictor
from leantrain.pact.problem import FLOOR_TOLERANCE, Problem

__all__ = ["EpochOptions", "SearchResult", "epoch_options", "shortest_plan"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Most (label, edge) pairs evaluated in one vectorised block.
_BLOCK = 1 << 20

#: New labels of one block: level, time, loss, energy, parent label, edge, loss cell, position.
_Part = tuple[
    IntArray, FloatArray, FloatArray, FloatArray, IntArray, IntArray, IntArray, FloatArray
]


#: Vertex cells (time slots and loss cells) are between 1 and this many times ε wide.
VERTEX_FACTOR = 2.0

#: Intermediate edges (over all levels) at which the vertex cells start to widen.
EDGE_BUDGET = 40

#: Final candidates kept per expansion step (the cheapest), plus the cheapest sure one.
FINALS_PER_STEP = 8

#: Levels with at most this many (node, fraction) items offer every set of their √ε-grid caps'
#: tables as intermediate edges: few enough to search, and with few nodes, when the epoch cap
#: binds, the exact sample count of each epoch matters more than the grids can resolve.
SMALL_LEVEL_ITEMS = 20


def vertex_grain(epsilon: float, edges: int) -> float:
    """The relative width of the vertex cells: ε·clip(√(edges / 40), 1, 2), at most 1.

    The search's work is (vertices) × (intermediate edges), and the vertices grow as 1/grain²,
    so widening the cells as √edges keeps the work of large fleets (hundreds of edges) near that
    of small ones, which keep the full ε resolution. The cap was 4; at 2 the plans of 100 and
    1,000 nodes improve by 0.1-1.3% for about twice the search time at 100 nodes
    (docs/benchmarks.md, 'PACT: planning time and certified quality at any fleet size').
    """
    factor = min(VERTEX_FACTOR, max(1.0, math.sqrt(edges / EDGE_BUDGET)))
    return min(1.0, factor * epsilon)


def coarse(epsilon: float) -> float:
    """The resolution of the intermediate edges' grid: √ε."""
    return math.sqrt(epsilon)


def _pareto(time: FloatArray, samples: FloatArray, energy: FloatArray) -> IntArray:
    """Indices of the sets no other set dominates (no longer, no fewer samples, no dearer), one
    per group of equal sets, ordered by energy."""
    order = np.lexsort((-samples, time, energy))
    kept: list[int] = []
    kept_t = np.empty(0)
    kept_d = np.empty(0)
    chunk = 256
    for start in range(0, len(order), chunk):
        block = order[start : start + chunk]
        t, d = time[block], samples[block]
        # Against the sets kept so far (all no dearer than this block).
        if len(kept):
            beaten = ((kept_t[None, :] <= t[:, None]) & (kept_d[None, :] >= d[:, None])).any(1)
        else:
            beaten = np.zeros(len(block), dtype=bool)
        # Against the block's earlier sets: dominance is transitive, so being beaten by a beaten
        # set means being beaten by a kept one too.
        inner = (t[None, :] <= t[:, None]) & (d[None, :] >= d[:, None])
        beaten |= (inner & np.tri(len(block), k=-1, dtype=bool)).any(axis=1)
        survivors = np.flatnonzero(~beaten)
        kept.extend(int(x) for x in block[survivors])
        kept_t = np.r_[kept_t, t[survivors]]
        kept_d = np.r_[kept_d, d[survivors]]
    return np.array(kept, dtype=np.int64)


def _hull(samples: FloatArray, energy: FloatArray) -> IntArray:
    """Indices of the vertices of the lower convex hull of the origin and the points (D, E)."""
    order = np.lexsort((energy, samples))
    chain: list[tuple[float, float, int]] = [(0.0, 0.0, -1)]
    for index in order.tolist():
        x, y = float(samples[index]), float(energy[index])
        if x == chain[-1][0]:
            continue  # same samples, dearer
        while len(chain) >= 2:
            (x1, y1, _), (x2, y2, _) = chain[-2], chain[-1]
            if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) <= 0.0:
                chain.pop()  # not below the chord
            else:
                break
        chain.append((x, y, index))
    return np.array([i for _, _, i in chain if i >= 0], dtype=np.int64)


def _thin_hull(samples: FloatArray, energy: FloatArray, epsilon: float) -> IntArray:
    """The vertices of a lower convex hull (ascending samples) that keep it within a factor
    1 + ε in energy: walking up, a vertex is dropped when the chord from the last kept vertex to
    the next one lies at most ε·E above it, so the dropped part of the hull is replaced by
    chords no more than ε dearer. Convex curves need O(1/√ε) such vertices."""
    count = len(samples)
    if count <= 2:
        return np.arange(count, dtype=np.int64)
    kept = [0]
    for k in range(1, count - 1):
        x0, y0 = samples[kept[-1]], energy[kept[-1]]
        x1, y1 = samples[k + 1], energy[k + 1]
        chord = y0 + (y1 - y0) * (samples[k] - x0) / (x1 - x0)
        if chord > (1.0 + epsilon) * energy[k]:
            kept.append(k)
    kept.append(count - 1)
    return np.array(kept, dtype=np.int64)


@dataclass(frozen=True)
class EpochOptions:
    """The edges of one level: knapsack sets for every cap and sample target.

    Attributes:
        level: The pruning level index.
        items: The level's items.
        covers: The knapsack's answers, one per cap (ascending caps).
        step: Target spacing ε·D̄_cap of each cap, shape (C,).
        final_energy: Per cap and target m, the cheapest set covering target m or more
            (suffix minimum), shape (C, M); inf where none.
        final_time: Its epoch time, shape (C, M).
        final_samples: Its progress P(D) (its effective samples when γ = 1), shape (C, M).
        final_target: Its target index, shape (C, M).
        time, samples, energy: The intermediate sets' figures (``samples`` as progress P(D)),
            shape (R,).
        cover, target: Each intermediate set's cap and target index, shape (R,).
        floor_position: Under a subset floor (docs/pact.md, 'The subset floor'), the position on
            the level's curve of each intermediate set's floor F(D), shape (R,) (inf where
            F(D) ≤ c); empty without a floor.
    """

    level: int
    items: LevelItems
    covers: tuple[CapCover, ...]
    step: FloatArray
    final_energy: FloatArray
    final_time: FloatArray
    final_samples: FloatArray
    final_target: IntArray
    time: FloatArray
    samples: FloatArray
    energy: FloatArray
    cover: IntArray
    target: IntArray
    floor_position: FloatArray = field(default_factory=lambda: np.empty(0))

    def __len__(self) -> int:
        return len(self.time)

    def decision(self, problem: Problem, cover: int, target: int) -> Decision:
        """The set of cap ``cover`` and target ``target`` as a decision."""
        chosen = self.covers[cover].choice(self.items, target)
        fractions = {
            problem.node[int(self.items.nodes[row])].name: float(self.items.fractions[f])
            for row, f in chosen
        }
        return Decision(self.level, fractions)


def _progress(problem: Problem, samples: FloatArray, level: int) -> FloatArray:
    """P(D) of effective samples ``samples`` in epochs at ``level`` (docs/pact.md,
    'Participation')."""
    return epoch_progress(samples, problem.full_samples, problem.gammas[level])


def _no_options(level: int, items: LevelItems, count: int) -> EpochOptions:
    """A level where no epoch is possible."""
    empty, none, blank = np.empty(0), np.empty(0, dtype=np.int64), np.empty((0, count))
    return EpochOptions(
        level=level,
        items=items,
        covers=(),
        step=empty,
        final_energy=blank,
        final_time=blank,
        final_samples=blank,
        final_target=blank.astype(np.int64),
        time=empty,
        samples=empty,
        energy=empty,
        cover=none,
        target=none,
    )


def epoch_options(problem: Problem, level: int, epsilon: float) -> EpochOptions:
    """Every edge of ``level`` on the ε grids (see the module doc)."""
    items = level_items(problem, level)
    count = math.ceil(1.0 / epsilon - 1e-9)
    empty, none = np.empty(0), np.empty(0, dtype=np.int64)
    if items.size == 0:
        return _no_options(level, items, count)
    rough = coarse(epsilon)
    deadline = problem.target.deadline_s
    fine_caps = level_caps(items, epsilon, deadline)
    rough_caps = level_caps(items, rough, deadline)
    # Caps √ε apart in time but never more than ε·D̄ apart in admitted samples: when the epoch
    # cap binds, each epoch's samples count, and a cap thinned at √ε in samples loses them.
    dense_caps = level_caps(items, rough, deadline, epsilon)
    caps = np.union1d(np.union1d(fine_caps, rough_caps), dense_caps)
    steps = np.minimum(1.0, np.arange(1, count + 1) * epsilon)
    covers: list[CapCover] = []
    spacing: list[float] = []
    picks: list[tuple[int, IntArray]] = []
    for cap in caps:
        admitted = items.time <= cap
        most = float(np.where(admitted, items.samples, 0.0).max(axis=1).sum())
        found = cover_targets(items, float(cap), steps * most, epsilon)
        index = len(covers)
        covers.append(found)
        spacing.append(epsilon * most)
        if cap not in rough_caps and cap not in dense_caps:
            continue
        # Every epoch trains at least the problem's floor (docs/pact.md, 'Epoch
        # floors').
        ok = np.flatnonzero(np.isfinite(found.energy) & problem.epoch_floor_met(found.samples))
        if len(ok) == 0:
            continue
        # Intermediate sets of every such cap: the most efficient set, the whole fleet and the
        # vertices of the (D, E) hull that keep it within a factor 1 + √ε (1 + ε on the caps of
        # the √ε grid, which also get targets √ε·D̄_cap apart, or every set on small levels).
        samples, spent = found.samples[ok], found.energy[ok]
        chosen = {int(np.argmin(spent / samples)), len(ok) - 1}
        hull = _hull(samples, spent)
        if cap in rough_caps and items.samples.size <= SMALL_LEVEL_ITEMS:
            chosen.update(range(len(ok)))
        elif cap in rough_caps:
            chosen.update(hull[_thin_hull(samples[hull], spent[hull], epsilon)].tolist())
            last = -math.inf
            for k in range(len(ok)):
                if samples[k] >= last + rough * most:
                    chosen.add(k)
                    last = float(samples[k])
        else:
            chosen.update(hull[_thin_hull(samples[hull], spent[hull], rough)].tolist())
        picks.append((index, ok[sorted(chosen)]))
    if not covers:  # no epoch fits the deadline at this level
        return _no_options(level, items, count)
    time = np.stack([c.time for c in covers])
    # A final epoch trains at least its floor (docs/pact.md, 'Epoch floors').
    energy = np.stack([c.energy for c in covers])
    if problem.final_samples > 0.0:
        ends = problem.final_floor_met(np.stack([c.samples for c in covers]))
        energy = np.where(ends, energy, np.inf)
    kappa, curve = problem.kappas[level], problem.curve
    if kappa > 0.0:
        # A final epoch's subset floor lies at or below the target (docs/pact.md, 'The subset
        # floor'): otherwise the floor keeps the loss above it.
        least = floor_samples(problem.target.loss, problem.full_samples, curve.c[level], kappa)
        ends = np.stack([c.samples for c in covers]) >= least * (1.0 - FLOOR_TOLERANCE)
        energy = np.where(ends, energy, np.inf)
    # Suffix minimum over the targets: the cheapest set that covers target m or more.
    final_energy = energy.copy()
    final_target = np.tile(np.arange(count, dtype=np.int64), (len(covers), 1))
    for m in range(count - 2, -1, -1):
        later = final_energy[:, m + 1] < energy[:, m]
        final_energy[:, m] = np.where(later, final_energy[:, m + 1], energy[:, m])
        final_target[:, m] = np.where(later, final_target[:, m + 1], m)
    final_time = np.take_along_axis(time, final_target, axis=1)
    final_samples = np.take_along_axis(np.stack([c.samples for c in covers]), final_target, axis=1)
    cover = (
        np.concatenate([np.full(len(m), c, dtype=np.int64) for c, m in picks]) if picks else none
    )
    target = np.concatenate([m for _, m in picks]).astype(np.int64) if picks else none
    i_time = np.array([covers[c].time[m] for c, m in zip(cover, target, strict=True)])
    i_samples = np.array([covers[c].samples[m] for c, m in zip(cover, target, strict=True)])
    i_energy = np.array([covers[c].energy[m] for c, m in zip(cover, target, strict=True)])
    keep = _pareto(i_time, i_samples, i_energy) if len(cover) else none
    floor_position = empty
    if kappa > 0.0 and len(keep):
        floor = subset_floor(i_samples[keep], problem.full_samples, curve.c[level], kappa)
        shape = LossPredictor.of(problem).curves[level].shape
        floor_position = equivalent_position(floor, *shape)
    # The search moves along the curves by progress P(D) (docs/pact.md, 'Participation');
    # P is increasing, so the sets kept above are the same in either unit.
    final_samples = _progress(problem, final_samples, level)
    i_samples = _progress(problem, i_samples, level)
    return EpochOptions(
        level=level,
        items=items,
        covers=tuple(covers),
        step=np.array(spacing),
        final_energy=final_energy,
        final_time=final_time,
        final_samples=final_samples,
        final_target=final_target,
        time=i_time[keep] if len(keep) else empty,
        samples=i_samples[keep] if len(keep) else empty,
        energy=i_energy[keep] if len(keep) else empty,
        cover=cover[keep],
        target=target[keep],
        floor_position=floor_position,
    )


@dataclass
class SearchResult:
    """What one search of the graph found.

    Attributes:
        decisions: The best plan's decisions (feasible under :func:`evaluate`), or None.
        energy: Its energy as evaluated (inf when none).
        labels: Labels kept over the whole search.
        pairs: (label, intermediate edge) pairs examined.
        options: Intermediate edges per level.
        caps: Caps per level.
    """

    decisions: list[Decision] | None
    energy: float
    labels: int = 0
    pairs: int = 0
    options: list[int] = field(default_factory=list)
    caps: list[int] = field(default_factory=list)


class _Curves:
    """Vectorised loss predictor: positions, losses and loss cells per level."""

    def __init__(self, problem: Problem, epsilon: float, most: Sequence[float]) -> None:
        predictor = LossPredictor.of(problem)
        self.predictor = predictor
        self.width = epsilon * np.maximum(np.asarray(most, dtype=np.float64), 1e-300)
        self.goal = np.array([c.position(problem.target.loss) for c in predictor.curves])
        # Cells count from the lowest position a label can hold: 0, or below it when the loss
        # can lie above a curve's start (positions are not clamped at 0, docs/pact.md, 'Loss
        # prediction'); no loss exceeds ℓ₀ plus the largest jump.
        top = predictor.highest_loss()
        lowest = np.array([c.position(top) for c in predictor.curves])
        self.origin = np.where(np.isfinite(lowest), np.minimum(lowest, 0.0), 0.0)
        longest = math.ceil((problem.options.max_epochs + 1) / epsilon)
        with np.errstate(invalid="ignore", over="ignore"):
            span = np.maximum(self.goal - self.origin, 0.0)
            need = np.where(np.isfinite(self.goal), np.ceil(span / self.width), longest)
        self.cells = (np.minimum(need, longest) + 1).astype(np.int64)

    def after_jump(self, loss: FloatArray, level_from: int, level_to: int) -> FloatArray:
        """ℓ⁺ of every loss in ``loss`` pruned from ``level_from`` to ``level_to``."""
        p = self.predictor
        return jumped_loss(
            loss, p.offset(level_from), p.slope(level_from), p.offset(level_to), p.slope(level_to)
        )

    def position(self, loss: FloatArray, level: int) -> FloatArray:
        """s_eq of ``loss`` (already jumped) on ``level``'s curve: inf when at or below c."""
        curve = self.predictor.curves[level]
        return equivalent_position(np.asarray(loss, dtype=np.float64), *curve.shape)

    def loss(self, position: FloatArray, level: int) -> FloatArray:
        """ℓ at ``position`` on ``level``'s curve (finite positions)."""
        with np.errstate(over="ignore"):
            return curve_loss(position, *self.predictor.curves[level].shape)

    def cell(self, position: FloatArray, level: int) -> IntArray:
        """The loss cell of a position: its distance from the origin rounded down to a multiple of
        the width."""
        with np.errstate(over="ignore", invalid="ignore"):
            raw = np.floor((position - self.origin[level]) / self.width[level])
        top = self.cells[level] - 1
        out: IntArray = np.where(np.isfinite(raw), np.clip(raw, 0, top), top).astype(np.int64)
        return out

    def cell_end(self, cell: IntArray, level: int) -> FloatArray:
        """The position where ``cell`` ends (its best loss)."""
        out: FloatArray = (cell + 1) * self.width[level] + self.origin[level]
        return out


def _ascending_runs(
    levels: Sequence[int], cells: list[tuple[int, int]], options: Sequence[EpochOptions]
) -> list[tuple[int, int]]:
    """``cells`` (cover, target per epoch) with each run of equal levels sorted by ascending
    effective samples (stable)."""
    out = list(cells)
    start = 0
    for end in range(1, len(cells) + 1):
        if end == len(cells) or levels[end] != levels[start]:
            covers = options[levels[start]].covers
            out[start:end] = sorted(
                out[start:end], key=lambda cell: float(covers[cell[0]].samples[cell[1]])
            )
            start = end
    return out


def _firsts(vertex: IntArray, energy: FloatArray, time: FloatArray) -> IntArray:
    """Indices of each vertex's cheapest label and of its earliest label (the first in index
    order on ties), without repeats."""
    out = []
    size = int(vertex.max()) + 1 if len(vertex) else 0
    for value in (energy, time):
        order = np.argsort(value, kind="stable")
        first = np.full(size, len(order), dtype=np.int64)
        np.minimum.at(first, vertex[order], np.arange(len(order)))
        out.append(order[first[first < len(order)]])
    return np.unique(np.concatenate(out))


class _Vertices:
    """The vertices of one level: per (slot, cell) the cheapest and the earliest label so far.

    Rounded dominance: a label is dropped when a label of a *strictly* better vertex (earlier
    slot and no worse cell, or better cell and no later slot) is no dearer. It is not exact: in
    the coordinate the two vertices may share (the cell, or the slot) the dropped label can be
    better by up to a cell or a slot. Merging: within its own vertex a label survives only as the
    vertex's cheapest or earliest label and if neither of them dominates it exactly; labels in
    between are merged away.
    """

    def __init__(self, slots: int, cells: int) -> None:
        shape = (slots, cells)
        self.cheap = np.full((3, *shape), np.inf)  # energy, time, -position
        self.fast = np.full((3, *shape), np.inf)  # energy, time, -position
        self.strict = np.full(shape, np.inf)

    def open(
        self, slot: IntArray, cell: IntArray, energy: FloatArray, time: FloatArray
    ) -> NDArray[np.bool_]:
        """Whether labels may still enter their vertices (a quick, necessary test)."""
        out: NDArray[np.bool_] = (energy < self.strict[slot, cell]) & (
            (energy < self.cheap[0, slot, cell]) | (time < self.fast[1, slot, cell])
        )
        return out

    def admit(
        self,
        slot: IntArray,
        cell: IntArray,
        energy: FloatArray,
        time: FloatArray,
        position: FloatArray,
    ) -> NDArray[np.bool_]:
        """Admit labels (at most a cheapest and an earliest per vertex) and record them."""
        mine = np.stack([energy, time, -position])
        ok = self.open(slot, cell, energy, time)
        for rep in (self.cheap, self.fast):
            theirs = rep[:, slot, cell]
            ok &= ~(theirs <= mine).all(axis=0)
        # Two new labels of one vertex: the cheaper one may dominate the other.
        vertex = slot * self.strict.shape[1] + cell
        order = np.lexsort((time, energy, vertex))
        same = np.flatnonzero(vertex[order][1:] == vertex[order][:-1])
        first, second = order[same], order[same + 1]
        ok[second[(mine[:, first] <= mine[:, second]).all(axis=0)]] = False
        # Record the vertices' new cheapest and earliest labels.
        for rep, row in ((self.cheap, 0), (self.fast, 1)):
            take = np.flatnonzero(ok & (mine[row] < rep[row, slot, cell]))
            if len(take) == 0:
                continue
            take = take[np.lexsort((mine[row, take], vertex[take]))]
            lead = np.r_[True, vertex[take][1:] != vertex[take][:-1]]
            take = take[lead]
            rep[:, slot[take], cell[take]] = mine[:, take]
        if ok.any():
            inclusive = np.minimum.accumulate(self.cheap[0][:, ::-1], axis=1)[:, ::-1]
            inclusive = np.minimum.accumulate(inclusive, axis=0)
            self.strict = np.full_like(inclusive, np.inf)
            self.strict[1:, :] = inclusive[:-1, :]  # strictly earlier slots
            self.strict[:, :-1] = np.minimum(self.strict[:, :-1], inclusive[:, 1:])  # better cells
        return ok


@dataclass
class _Labels:
    """The label store: index 0 is the initial state; an edge is (level, cap, target)."""

    level: list[IntArray] = field(default_factory=list)
    time: list[FloatArray] = field(default_factory=list)
    loss: list[FloatArray] = field(default_factory=list)
    energy: list[FloatArray] = field(default_factory=list)
    parent: list[IntArray] = field(default_factory=list)
    edge: list[IntArray] = field(default_factory=list)
    size: int = 0

    def add(
        self,
        level: IntArray,
        time: FloatArray,
        loss: FloatArray,
        energy: FloatArray,
        parent: IntArray,
        edge: IntArray,
    ) -> IntArray:
        ids = np.arange(self.size, self.size + len(level), dtype=np.int64)
        self.size += len(level)
        self.level.append(level)
        self.time.append(time)
        self.loss.append(loss)
        self.energy.append(energy)
        self.parent.append(parent)
        self.edge.append(edge)
        return ids


def shortest_plan(
    problem: Problem,
    epsilon: float,
    incumbent: tuple[float, list[Decision]] | None = None,
    polish: bool = True,
) -> SearchResult:
    """Search the time-expanded graph at granularity ``epsilon``.

    Args:
        problem: The problem.
        epsilon: The granularity of the grids (see the module doc).
        incumbent: A known feasible plan (energy, decisions) to beat; only strictly cheaper plans
            are searched for, and the incumbent is returned when none is found.
        polish: Polish the plan found with pair exchanges over the full tables
            (:mod:`leantrain.pact.polish`; never worse).

    Returns:
        The best plan found (the incumbent when nothing beats it), checked with
        :func:`~leantrain.pact.plan.evaluate`.
    """
    levels = len(problem.model.levels)
    options = [epoch_options(problem, level, epsilon) for level in range(levels)]
    return _Search(problem, epsilon, options, incumbent, polish).run()


class _Search:
    """One layered shortest-path search of the graph (see the module doc)."""

    def __init__(
        self,
        problem: Problem,
        epsilon: float,
        options: list[EpochOptions],
        incumbent: tuple[float, list[Decision]] | None,
        polish: bool = True,
    ) -> None:
        self.problem = problem
        self.polish = polish
        self.epsilon = epsilon
        self.options = options
        self.levels = len(options)
        self.bound = RemainingBound.of(problem, [(o.time, o.samples, o.energy) for o in options])
        fleet = [float(o.items.samples[:, -1].sum()) if o.items.size else 0.0 for o in options]
        most = [float(_progress(problem, np.array(d), level)) for level, d in enumerate(fleet)]
        grain = vertex_grain(epsilon, sum(len(o) for o in options))
        self.curves = _Curves(problem, grain, most)
        self.deadline = problem.target.deadline_s
        self.target = problem.target.loss
        self.slot_width = grain * self.deadline
        self.slots = math.ceil(1.0 / grain - 1e-9) + 2
        self.best = incumbent[0] if incumbent is not None else math.inf
        self.result = SearchResult(
            incumbent[1] if incumbent is not None else None,
            self.best,
            options=[len(o) for o in options],
            caps=[len(o.covers) for o in options],
        )
        self.caps_most = max(1, max(len(o.covers) for o in options))
        self.targets = math.ceil(1.0 / epsilon - 1e-9)
        self.labels = _Labels()
        self.labels.add(
            np.zeros(1, dtype=np.int64),
            np.zeros(1),
            np.array([self.curves.predictor.initial_loss]),
            np.zeros(1),
            np.full(1, -1, dtype=np.int64),
            np.full(1, -1, dtype=np.int64),
        )
        # Per level, the vertices: their cheapest and earliest labels and the dominance closure.
        self.vertices = [_Vertices(self.slots, int(n)) for n in self.curves.cells]
        self.finals: list[tuple[float, int, int]] = []  # (energy, parent label, edge)
        # Per level and loss cell: the energy lower bound (no deadline) from the cell's end.
        self.floor = [
            self.bound.energy_free(
                lv,
                self.curves.loss(self.curves.cell_end(np.arange(int(n)), lv), lv),
            )
            for lv, n in enumerate(self.curves.cells)
        ]

    def _edge(self, level: int, cover: IntArray, target: IntArray) -> IntArray:
        return (level * self.caps_most + cover) * self.targets + target

    def _decision(self, edge: int) -> Decision:
        rest, target = divmod(edge, self.targets)
        level, cover = divmod(rest, self.caps_most)
        return self.options[level].decision(self.problem, cover, target)

    def run(self) -> SearchResult:
        """Search layer by layer, then return the best verified plan."""
        max_epochs = self.problem.options.max_epochs
        frontier = np.zeros(1, dtype=np.int64)
        for layer in range(1, max_epochs + 1):
            left = max_epochs - layer  # epochs still allowed after this one
            labels = self.labels
            f_level, f_time = labels.level[-1], labels.time[-1]
            f_loss, f_energy = labels.loss[-1], labels.energy[-1]
            parts: list[_Part] = []
            for level in range(self.levels):
                mine = np.flatnonzero(f_level == level)
                for to in range(level, self.levels) if len(mine) else ():
                    jumped = self.curves.after_jump(f_loss[mine], level, to)
                    start = self.curves.position(jumped, to)
                    self._finish(to, jumped, start, f_time[mine], f_energy[mine], frontier[mine])
                    if left > 0 and len(self.options[to]):
                        parts.extend(
                            self._extend(
                                to, start, f_time[mine], f_energy[mine], frontier[mine], left
                            )
                        )
            if not parts:
                break
            frontier = self._keep(parts)
            if len(frontier) == 0:
                break
        return self._verify()

    def _finish(
        self,
        to: int,
        jumped: FloatArray,
        start: FloatArray,
        time: FloatArray,
        energy: FloatArray,
        parent: IntArray,
    ) -> None:
        """Final edges: for every label, the cheapest set that reaches the target in time."""
        opt = self.options[to]
        if len(opt.covers) == 0:
            return
        stuck = ~np.isfinite(start)
        goal = self.curves.goal[to]
        need = np.where(stuck, 0.0, goal - start)  # samples to the target
        reach = np.where(stuck, jumped <= self.target * (1.0 + 1e-9), np.isfinite(need))
        clear = np.where(stuck, jumped <= self.target, reach)
        rows = np.flatnonzero(reach & (energy < self.best))
        if len(rows) == 0:
            return
        need = np.maximum(need[rows], 0.0)
        # The targets are in effective samples: the samples whose epoch makes ``need``.
        need_samples = progress_samples(need, self.problem.full_samples, self.problem.gammas[to])
        with np.errstate(divide="ignore", invalid="ignore"):
            # Target index covering ``need`` (slightly generous: evaluate has the last word).
            index = np.ceil(need_samples[:, None] / opt.step[None, :] * (1.0 - 1e-9)) - 1.0
        index = np.clip(np.nan_to_num(index, nan=0.0), 0, self.targets)
        valid = index < self.targets
        index = np.minimum(index, self.targets - 1).astype(np.int64)
        caps = np.arange(len(opt.covers))[None, :]
        spent = np.where(valid, opt.final_energy[caps, index], np.inf)
        took = opt.final_time[caps, index]
        spent = np.where(time[rows, None] + took <= self.deadline * (1.0 + 1e-9), spent, np.inf)
        best_cap = np.argmin(spent, axis=1)
        pick = np.arange(len(rows))
        total = energy[rows] + spent[pick, best_cap]
        found = np.isfinite(total) & (total < self.best)
        if not found.any():
            return
        chosen = np.flatnonzero(found)
        cap = best_cap[chosen]
        target = opt.final_target[cap, index[chosen, cap]]
        edges = self._edge(to, cap, target)
        # Only plans clear of the target and the deadline by more than rounding are sure to pass
        # evaluate; the others may fail it when the plan is rebuilt.
        delivered = opt.final_samples[cap, index[chosen, cap]]
        margin = need[chosen] * (1.0 + 1e-9) + 1e-9
        sure = (
            clear[rows[chosen]]
            & (stuck[rows[chosen]] | (delivered >= margin))
            & (time[rows[chosen]] + took[chosen, cap] <= self.deadline * (1.0 - 1e-12))
        )
        order = np.argsort(total[chosen], kind="stable")
        keep = order[:FINALS_PER_STEP].tolist()
        if sure.any():
            # The cheapest sure plan tightens the pruning below, so it must stay a candidate
            # even when the cheaper ones kept above all fail evaluate.
            cheapest_sure = int(order[np.flatnonzero(sure[order])[0]])
            if cheapest_sure not in keep:
                keep.append(cheapest_sure)
            self.best = min(self.best, float(total[chosen[cheapest_sure]]))
        for k in keep:
            self.finals.append(
                (float(total[chosen[k]]), int(parent[rows[chosen[k]]]), int(edges[k]))
            )

    def _extend(
        self,
        to: int,
        start: FloatArray,
        time: FloatArray,
        energy: FloatArray,
        parent: IntArray,
        left: int,
    ) -> list[_Part]:
        """Intermediate edges: new labels at level ``to`` that survive the cheap tests."""
        opt = self.options[to]
        curves = self.curves
        live = np.flatnonzero(np.isfinite(start) & (energy < self.best))
        live = live[np.argsort(energy[live], kind="stable")]  # cheapest labels first
        out = []
        per_block = max(1, _BLOCK // len(opt))
        floor = self.floor[to]
        for r0 in range(0, len(live), per_block):
            rows = live[r0 : r0 + per_block]
            # The sets are sorted by energy: only a prefix can keep the cheapest row in budget.
            width = int(np.searchsorted(opt.energy, self.best - energy[rows[0]], side="left"))
            if width == 0:
                break  # later rows are dearer still
            e_new = energy[rows, None] + opt.energy[None, :width]
            s_new = start[rows, None] + opt.samples[None, :width]
            if len(opt.floor_position):
                # The subset floor stops the epoch at its floor's position, and never moves a
                # label back (docs/pact.md, 'The subset floor').
                capped = np.minimum(s_new, opt.floor_position[None, :width])
                s_new = np.maximum(start[rows, None], capped)
            self.result.pairs += s_new.size
            cell = curves.cell(s_new, to)
            go = (s_new < curves.goal[to]) & (e_new + floor[cell] < self.best)
            i, j = np.nonzero(go)
            if len(i) == 0:
                continue
            t_new = time[rows[i]] + opt.time[j]
            in_time = np.flatnonzero(t_new <= self.deadline)
            i, j = i[in_time], j[in_time]
            s_go, t_go, e_go = s_new[i, j], t_new[in_time], e_new[i, j]
            cell = cell[i, j]
            slot = np.clip(
                np.ceil(t_go / self.slot_width - 1e-12).astype(np.int64), 0, self.slots - 1
            )
            # Cheap tests first: a dominating vertex, then the vertex's cheapest and earliest.
            fresh = np.flatnonzero(self.vertices[to].open(slot, cell, e_go, t_go))
            if len(fresh) == 0:
                continue
            vertex = slot[fresh] * int(curves.cells[to]) + cell[fresh]
            pick = fresh[_firsts(vertex, e_go[fresh], t_go[fresh])]
            i, j = i[pick], j[pick]
            s_go, t_go, e_go, cell = s_go[pick], t_go[pick], e_go[pick], cell[pick]
            loss = curves.loss(s_go, to)
            # Bounds at the cell's optimistic end.
            far = np.minimum(curves.loss(curves.cell_end(cell, to), to), loss)
            keep = t_go + self.bound.time_to_go(to, far) <= self.deadline
            keep &= self.bound.epochs_to_go(to, far) <= left
            if math.isfinite(self.best):
                test = np.flatnonzero(keep)
                need = self.bound.energy_to_go(
                    to, far[test], self.deadline - t_go[test], float(left)
                )
                keep[test] = e_go[test] + need < self.best
            if not keep.any():
                continue
            k = np.flatnonzero(keep)
            edges = self._edge(to, opt.cover[j[k]], opt.target[j[k]])
            level = np.full(len(k), to, dtype=np.int64)
            out.append(
                (level, t_go[k], loss[k], e_go[k], parent[rows[i[k]]], edges, cell[k], s_go[k])
            )
        return out

    def _keep(self, parts: list[_Part]) -> IntArray:
        """Per vertex, the cheapest and the earliest new label, when no label dominates them."""
        level, time, loss, energy, parent, edge, cell, position = (
            np.concatenate(x) for x in zip(*parts, strict=True)
        )
        slot = np.clip(np.ceil(time / self.slot_width - 1e-12).astype(np.int64), 0, self.slots - 1)
        kept: list[IntArray] = []
        for lv in np.unique(level).tolist():
            at = np.flatnonzero((level == lv) & (energy < self.best))
            if len(at) == 0:
                continue
            vertex = slot[at] * int(self.curves.cells[lv]) + cell[at]
            at = at[_firsts(vertex, energy[at], time[at])]
            admitted = self.vertices[lv].admit(
                slot[at], cell[at], energy[at], time[at], position[at]
            )
            kept.append(at[admitted])
        chosen = np.sort(np.concatenate(kept)) if kept else np.empty(0, dtype=np.int64)
        return self.labels.add(
            level[chosen], time[chosen], loss[chosen], energy[chosen], parent[chosen], edge[chosen]
        )

    def _verify(self) -> SearchResult:
        """Rebuild the cheapest final plans and return the first that evaluate accepts."""
        result = self.result
        result.labels = self.labels.size
        parents = np.concatenate(self.labels.parent)
        edges = np.concatenate(self.labels.edge)
        for energy, parent, edge in sorted(self.finals):
            if energy >= result.energy:
                break
            path = [edge]
            label = parent
            while label > 0:
                path.append(int(edges[label]))
                label = int(parents[label])
            path.reverse()
            decisions = [self._decision(e) for e in path]
            plan = evaluate(self.problem, decisions, solver="pact", epsilon=self.epsilon)
            if plan.feasible and plan.energy_j < result.energy:
                result.decisions, result.energy = decisions, plan.energy_j
                if self.polish:
                    self._polish(path, plan.duration_s)
                break
        return result

    def _polish(self, path: list[int], duration: float) -> None:
        """Pair exchanges over the full tables (:mod:`leantrain.pact.polish`); kept only when
        evaluate accepts the polished plan and it is cheaper."""
        entries = [divmod(divmod(e, self.targets)[0], self.caps_most) for e in path]
        levels = [level for level, _ in entries]
        cells = [(cover, e % self.targets) for (_, cover), e in zip(entries, path, strict=True)]
        runs = {lv for lv, nxt in itertools.pairwise(levels) if lv == nxt}
        menus = [
            Menu.of(self.problem, lv, self.options[lv].covers) if lv in runs else None
            for lv in range(self.levels)
        ]
        slack = max(0.0, self.deadline - duration) * (1.0 - 1e-9)
        # Under a floor on the final epoch (docs/pact.md, 'Epoch floors') the final epoch
        # stays as it is: an exchange could move it below the floor.
        # So does it under a subset floor, which the final epoch's set must clear.
        floored = any(kappa > 0.0 for kappa in self.problem.kappas)
        fixed = 1 if self.problem.final_samples > 0.0 or floored else 0
        polished = polish(levels[: len(levels) - fixed], cells[: len(cells) - fixed], menus, slack)
        if floored:
            # Under a subset floor the order within a run matters and ascending samples is the
            # best (docs/pact.md, 'The subset floor'); evaluate then checks the floors.
            polished = _ascending_runs(levels[: len(polished)], polished, self.options)
        polished += cells[len(cells) - fixed :]
        if polished == cells:
            return
        decisions = [
            self.options[lv].decision(self.problem, cover, target)
            for lv, (cover, target) in zip(levels, polished, strict=True)
        ]
        plan = evaluate(self.problem, decisions, solver="pact", epsilon=self.epsilon)
        if plan.feasible and plan.energy_j < self.result.energy:
            self.result.decisions, self.result.energy = decisions, plan.energy_j
