"""The baselines PACT is compared with (docs/pact.md, 'The solvers'): ``full``,
``prune-first``, ``greedy`` and ``no-prune``.

Every baseline is a :class:`~leantrain.pact.solver.Solver`: its :meth:`search` returns decisions
that :func:`~leantrain.pact.plan.evaluate` accepts and that meet the loss target by the deadline
within ``max_epochs``, or None. They share these conventions:

* A node is *eligible* at a level when the level's training memory fits it (m(ρ) ≤ M_n) and it
  holds data (d_n > 0): a node without samples would spend communication energy and time for no
  effective sample, so no baseline ever selects one.
* Losses and times are advanced with the same functions, in the same order, as ``evaluate``, so a
  baseline's own feasibility checks agree with the recomputed plan to the last bit.

The baselines:

* ``full``: no pruning; every eligible node at the largest allowed fraction, epoch after epoch,
  until the predicted loss meets the target. None when the deadline or ``max_epochs`` runs out
  first, when no node fits the unpruned model, or when the loss stops improving.
* ``prune-first``: prune once, in the first epoch, to the smallest level at which every node that
  holds data fits (if no level fits them all, the smallest level that fits the most of them), then
  as ``full`` at that level.
* ``greedy``: myopic. Each epoch it scores a candidate set of decisions (see :class:`Greedy`) by
  energy per unit of predicted loss decrease and takes the best one after which the target can
  still be met by the deadline within ``max_epochs``, judged by the fastest *stationary*
  continuation (the same level and node set repeated; see :func:`fastest_finish`).
* ``no-prune``: the ``pact`` solver on the problem restricted to the unpruned level (𝒫 = {0}):
  node and data selection only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from leantrain.pact.dp import PactSolver
from leantrain.pact.formulas import epoch_progress
from leantrain.pact.plan import (
    Decision,
    effective_samples,
    epoch_time,
    node_energy,
    node_samples,
    node_time,
)
from leantrain.pact.predictor import LossPredictor
from leantrain.pact.problem import NodeSection, Problem
from leantrain.pact.solver import Solver

__all__ = [
    "SIMULATED",
    "Full",
    "Greedy",
    "NoPrune",
    "PruneFirst",
    "SpeedTable",
    "eligible_nodes",
    "fastest_finish",
    "prune_first_level",
    "restrict_to_unpruned",
]


#: The baselines whose search is a direct simulation of the epochs (microseconds per solve).
SIMULATED = frozenset({"full", "prune-first", "greedy"})


def eligible_nodes(problem: Problem, level: int) -> list[NodeSection]:
    """The nodes that may train at ``level`` and have data, in the problem's order."""
    memory = problem.model.memory_bytes[level]
    return [n for n in problem.node if n.samples > 0 and memory <= n.memory_bytes]


def _repeat(problem: Problem, decision: Decision) -> list[Decision] | None:
    """``decision`` repeated from the start until the loss meets the target (at least once: a plan
    has an epoch), or None when the deadline, ``max_epochs`` or a stalled loss stops it first."""
    predictor = LossPredictor.of(problem)
    duration = epoch_time(problem, decision)
    samples = effective_samples(problem, decision)
    loss, level, now = predictor.initial_loss, 0, 0.0
    out: list[Decision] = []
    while not out or not loss <= problem.target.loss:
        if len(out) >= problem.options.max_epochs or now + duration > problem.target.deadline_s:
            return None
        after = predictor.step(loss, level, decision.level, samples)
        if out and not after < loss:
            return None  # on the curve's floor: more epochs cannot help
        loss, level, now = after, decision.level, now + duration
        out.append(decision)
    return out


def _all_at_largest(problem: Problem, level: int) -> Decision | None:
    nodes = eligible_nodes(problem, level)
    if not nodes:
        return None
    largest = max(problem.fractions)
    return Decision(level, {n.name: largest for n in nodes})


class Full(Solver):
    """No pruning: every eligible node with its largest fraction until the target is met."""

    name = "full"

    def search(self, problem: Problem) -> list[Decision] | None:
        """The repeated all-nodes epoch at level 0, or None if it cannot meet the target."""
        decision = _all_at_largest(problem, 0)
        return None if decision is None else _repeat(problem, decision)


def prune_first_level(problem: Problem) -> int:
    """The smallest level index at which every node holding data fits; if none fits them all,
    the smallest level fitting the most of them."""
    counts = [len(eligible_nodes(problem, level)) for level in range(len(problem.levels))]
    return counts.index(max(counts))


class PruneFirst(Solver):
    """Prune once at the start to the level that lets every node train, then as ``full``."""

    name = "prune-first"

    def search(self, problem: Problem) -> list[Decision] | None:
        """The repeated all-nodes epoch at :func:`prune_first_level`, or None."""
        decision = _all_at_largest(problem, prune_first_level(problem))
        return None if decision is None else _repeat(problem, decision)


@dataclass(frozen=True)
class SpeedTable:
    """For one level, the most effective samples one epoch can deliver within each epoch-length
    cap: ``samples[i]`` with every eligible node at its largest fraction whose time fits
    ``caps[i]`` (ascending)."""

    caps: npt.NDArray[np.float64]
    samples: npt.NDArray[np.float64]

    @staticmethod
    def of(problem: Problem, level: int) -> SpeedTable:
        """The table of ``level``."""
        events: list[tuple[float, str, float, float]] = []
        for node in eligible_nodes(problem, level):
            for fraction in problem.fractions:
                rate = node_samples(problem, node, level, fraction)
                events.append(
                    (node_time(problem, node, level, fraction), node.name, fraction, rate)
                )
        events.sort()
        best: dict[str, float] = {}
        caps: list[float] = []
        samples: list[float] = []
        total = 0.0
        for cap, name, _, rate in events:
            if rate > best.get(name, 0.0):
                total += rate - best.get(name, 0.0)
                best[name] = rate
            if caps and caps[-1] == cap:
                samples[-1] = total
            else:
                caps.append(cap)
                samples.append(total)
        return SpeedTable(np.asarray(caps, dtype=float), np.asarray(samples, dtype=float))


def fastest_finish(
    predictor: LossPredictor,
    tables: Sequence[SpeedTable],
    loss: float,
    level: int,
    target: float,
    time_left: float,
    epochs_left: int,
) -> float:
    """The shortest time in which a *stationary* continuation reaches ``target`` from ``loss`` at
    ``level``: some level ρ′ ≥ ``level`` (with its jump) and one node set repeated, within
    ``time_left`` and ``epochs_left``; inf when none does.

    This is an optimistic-enough estimate for a greedy guard, not the true minimum time (which
    may mix levels and node sets).
    """
    if loss <= target:
        return 0.0
    best = math.inf
    for next_level in range(level, len(tables)):
        need = predictor.progress_needed(loss, level, next_level, target)
        table = tables[next_level]
        if not math.isfinite(need) or table.caps.size == 0:
            continue
        progress = epoch_progress(
            table.samples, predictor.full_samples, predictor.gamma(next_level)
        )
        epochs = np.ceil(need / progress)
        times = epochs * table.caps
        fits = (epochs <= epochs_left) & (times <= time_left) & (epochs >= 1.0)
        if fits.any():
            best = min(best, float(times[fits].min()))
    return best


@dataclass(frozen=True)
class _Candidate:
    level: int
    names: tuple[str, ...]
    fraction: float
    duration: float
    energy: float
    samples: float

    def decision(self) -> Decision:
        return Decision(self.level, {name: self.fraction for name in self.names})


def _candidates(problem: Problem, level: int) -> list[_Candidate]:
    """Greedy's candidate decisions at ``level``: for each fraction f, the prefixes of the eligible
    nodes sorted by energy per effective sample at f (the last prefix is "all nodes at f")."""
    out: list[_Candidate] = []
    for fraction in problem.fractions:
        scored = sorted(
            (
                node_energy(problem, node, level, fraction)
                / node_samples(problem, node, level, fraction),
                index,
                node,
            )
            for index, node in enumerate(eligible_nodes(problem, level))
        )
        names: list[str] = []
        duration = energy = samples = 0.0
        for _, _, node in scored:
            names.append(node.name)
            duration = max(duration, node_time(problem, node, level, fraction))
            energy += node_energy(problem, node, level, fraction)
            samples += node_samples(problem, node, level, fraction)
            out.append(_Candidate(level, tuple(names), fraction, duration, energy, samples))
    return out


class Greedy(Solver):
    """Each epoch, the candidate decision with the least energy per unit of predicted loss
    decrease that keeps the target reachable by the deadline.

    Candidate set, per epoch: every level ρ′ ≥ the current one; for each allowed fraction f > 0,
    the eligible nodes at ρ′ sorted by their energy per effective sample at f
    (``node_energy / (q·f·d)``), and every prefix of that order, all at fraction f (the longest
    prefix is "all eligible nodes at f"). That is L·F·N candidates for L levels, F fractions and
    N nodes. A candidate is skipped when it does not fit the time left, does not lower the loss,
    or leaves no stationary continuation (:func:`fastest_finish`) that meets the target within
    the time and epochs left. None when no candidate remains.
    """

    name = "greedy"

    def search(self, problem: Problem) -> list[Decision] | None:
        """The greedy plan, or None."""
        predictor = LossPredictor.of(problem)
        levels = range(len(problem.levels))
        tables = [SpeedTable.of(problem, level) for level in levels]
        candidates = [_candidates(problem, level) for level in levels]
        target, deadline = problem.target.loss, problem.target.deadline_s
        cap = problem.options.max_epochs
        loss, level, now = predictor.initial_loss, 0, 0.0
        out: list[Decision] = []
        while not out or not loss <= target:
            if len(out) >= cap:
                return None
            scored: list[tuple[int, float, int, int, _Candidate, float]] = []
            for next_level in range(level, len(problem.levels)):
                for order, candidate in enumerate(candidates[next_level]):
                    if now + candidate.duration > deadline:
                        continue
                    after = predictor.step(loss, level, next_level, candidate.samples)
                    if after < loss:
                        ratio = candidate.energy / (loss - after)
                        scored.append((0, ratio, next_level, order, candidate, after))
                    elif not out and after <= target:
                        # The initial loss already meets the target, but a plan has an epoch:
                        # rank these after every decreasing one, by energy.
                        scored.append((1, candidate.energy, next_level, order, candidate, after))
            scored.sort(key=lambda item: item[:4])
            chosen: Decision | None = None
            for _, _, next_level, _, candidate, after in scored:
                finish = fastest_finish(
                    predictor,
                    tables,
                    after,
                    next_level,
                    target,
                    deadline - now - candidate.duration,
                    cap - len(out) - 1,
                )
                if math.isfinite(finish):
                    chosen = candidate.decision()
                    break
            if chosen is None:
                return None
            # Advance exactly as evaluate() does, so the plan recomputes bit for bit.
            loss = predictor.step(loss, level, chosen.level, effective_samples(problem, chosen))
            now += epoch_time(problem, chosen)
            level = chosen.level
            out.append(chosen)
        return out


def restrict_to_unpruned(problem: Problem) -> Problem:
    """``problem`` with only its first pruning level (ρ = 0) in the model profile and curves."""
    model = problem.model
    curve = problem.curve
    return problem.model_copy(
        update={
            "model": model.model_copy(
                update={
                    "levels": model.levels[:1],
                    "flops_per_sample": model.flops_per_sample[:1],
                    "bytes": model.bytes[:1],
                    "memory_bytes": model.memory_bytes[:1],
                }
            ),
            "curve": curve.model_copy(
                update={name: getattr(curve, name)[:1] for name in ("a", "b", "c", "s0", "jump")}
            ),
        }
    )


class NoPrune(Solver):
    """The ``pact`` solver with pruning disabled (𝒫 = {0}): node and data selection only."""

    name = "no-prune"

    def search(self, problem: Problem) -> list[Decision] | None:
        """``pact``'s plan on :func:`restrict_to_unpruned` ``(problem)``, mapped back."""
        decisions = PactSolver(self.epsilon).search(restrict_to_unpruned(problem))
        if decisions is None:
            return None
        # Level index 0 is ρ = 0 in both problems; the node names are the same.
        return [Decision(0, dict(decision.fractions)) for decision in decisions]
