"""The whole-epoch bound (:class:`~leantrain.pact.bounds.WholeEpochBound`): a dynamic programme
over whole epochs on a loss grid rounded down that ``exact`` prunes with once its search grows
(docs/pact.md, 'The solvers'). It must never exceed what a plan still needs, and ``exact`` with it
must stay the plain enumeration."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
from pact_cases import (
    along_plan,
    assert_exact_is_the_enumeration,
    enumerable,
    with_floor,
    with_kappa,
)
from test_jump_slopes import with_slopes

from leantrain.pact import Plan, Problem
from leantrain.pact.bounds import (
    EPOCH_GRID_POINTS,
    RemainingBound,
    WholeEpochBound,
    _cheapest_per_samples,
)
from leantrain.pact.exact import ExactSolver, level_sets
from leantrain.pact.formulas import epoch_progress
from leantrain.pact.instances import random_problem

#: float64 sums in another order (the bound sums epochs from the end, the plan from the start).
REL = 1e-9


def _bound(problem: Problem) -> WholeEpochBound:
    sets = [level_sets(problem, level) for level in range(len(problem.model.levels))]
    return WholeEpochBound.of(
        problem,
        [
            (
                s.time,
                epoch_progress(s.samples, problem.full_samples, gamma),
                s.samples,
                s.energy,
                problem.final_floor_met(s.samples),
            )
            for s, gamma in zip(sets, problem.gammas, strict=True)
        ],
    )


@functools.cache
def _small(seed: int) -> tuple[Problem, Plan]:
    """3-5 nodes, 3 levels, 3 fractions, 6-12 epochs, and its optimal plan."""
    problem = random_problem(seed, nodes=3 + seed % 3, levels=3, fractions=3, epochs=(2, 5))
    return problem, ExactSolver(whole_epoch_after=10**9).solve(problem)


def _root(bound: WholeEpochBound, problem: Problem) -> tuple[float, float]:
    time, energy = bound.to_go(
        np.array([0]),
        np.array([problem.curve.initial_loss]),
        np.array([problem.target.deadline_s]),
        problem.options.max_epochs,
    )
    return float(time[0]), float(energy[0])


@pytest.mark.parametrize("seed", (3, 5, 6, 8, 11))
def test_the_bound_never_exceeds_what_the_optimal_plan_still_spends(seed: int) -> None:
    problem, plan = _small(seed)
    assert plan.feasible
    bound = _bound(problem)
    for k, (level, loss, elapsed, spent, took, _) in enumerate(along_plan(problem, plan)):
        for epochs_left in (len(plan.epochs) - k, problem.options.max_epochs - k):
            time, energy = bound.to_go(
                np.array([level]),
                np.array([loss]),
                np.array([problem.target.deadline_s - elapsed]),
                epochs_left,
            )
            assert time[0] <= took * (1 + REL)
            assert energy[0] <= spent * (1 + REL)
        # No epoch left: no plan reaches the target from above it.
        none_left, _ = bound.to_go(np.array([level]), np.array([loss]), np.array([1e9]), 0)
        assert math.isinf(none_left[0])


def test_the_bound_is_tighter_than_the_lp_bound_at_the_start() -> None:
    # Not vacuous: whole epochs and the exact epoch cap lift the bound above the LP relaxation's
    # on every feasible instance here (by 3% or more), and it stays at or below the optimum.
    tighter = 0
    for seed in range(12):
        problem, plan = _small(seed)
        if not plan.feasible:
            continue
        sets = [level_sets(problem, level) for level in range(3)]
        lp = RemainingBound.of(
            problem,
            [
                (s.time, epoch_progress(s.samples, problem.full_samples, g), s.energy)
                for s, g in zip(sets, problem.gammas, strict=True)
            ],
        )
        lp_energy = float(
            lp.energy_to_go(
                0,
                np.array([problem.curve.initial_loss]),
                problem.target.deadline_s,
                float(problem.options.max_epochs),
            )[0]
        )
        time, energy = _root(_bound(problem), problem)
        assert energy <= plan.energy_j * (1 + REL)
        assert time <= plan.duration_s * (1 + REL)
        tighter += energy > lp_energy * 1.03
    assert tighter >= 8


VARIANTS = {
    "plain": lambda seed: enumerable(seed, 2 + seed % 2),
    "subset floor": lambda seed: with_kappa(enumerable(seed, 2)),
    "final floor": lambda seed: with_floor(enumerable(seed, 2), 0.6),
    "floor on every epoch": lambda seed: with_floor(enumerable(seed, 2), 0.35, "min_share"),
    "jump slopes": lambda seed: with_slopes(enumerable(seed, 3), 0.4),
}


@pytest.mark.parametrize(("variant", "seed"), list(itertools.product(VARIANTS, range(5))))
def test_exact_pruning_with_the_bound_from_the_start_is_the_enumeration(
    variant: str, seed: int
) -> None:
    problem = VARIANTS[variant](seed)
    plan = ExactSolver(whole_epoch_after=0).solve(problem)
    assert_exact_is_the_enumeration(problem, plan)


def test_exact_builds_the_bound_once_its_search_grows() -> None:
    problem, plan = _small(3)  # 2,959 partial plans expanded without the bound
    assert not plan.notes["whole_epoch_bound"]
    pruned = ExactSolver(whole_epoch_after=0).solve(problem)
    assert pruned.notes["whole_epoch_bound"]
    assert pruned.notes["expanded"] < plan.notes["expanded"]
    assert pruned.energy_j == pytest.approx(plan.energy_j, rel=REL)
    default = ExactSolver().solve(problem)
    assert default.notes["whole_epoch_bound"]  # past the default 2,000 expanded plans


def test_the_cheapest_sets_for_their_samples_stand_in_for_every_set() -> None:
    # What the programme needs: every set has a kept one that costs no more, delivers no fewer
    # samples and may end a plan where it may; and a set another beats in all of these is left.
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        # Few distinct values: ties in cost and samples on purpose.
        cost = rng.integers(0, 6, n).astype(float)
        samples = rng.integers(0, 6, n).astype(float)
        may_end = rng.random(n) < 0.5
        kept = _cheapest_per_samples(cost, samples, may_end).tolist()
        for i in range(n):
            assert any(
                cost[j] <= cost[i] and samples[j] >= samples[i] and may_end[j] >= may_end[i]
                for j in kept
            )
            if any(
                cost[j] < cost[i] and samples[j] > samples[i] and may_end[j] >= may_end[i]
                for j in range(n)
            ):
                assert i not in kept


def test_without_room_for_its_table_exact_searches_without_the_bound() -> None:
    problem = enumerable(1, 2)
    huge = problem.model_copy(
        update={"options": problem.options.model_copy(update={"max_epochs": 10**6})}
    )
    assert WholeEpochBound.grid_points(huge) == 0
    assert WholeEpochBound.grid_points(problem) == EPOCH_GRID_POINTS
    plan = ExactSolver(whole_epoch_after=0).solve(huge)
    assert not plan.notes["whole_epoch_bound"]
    assert_exact_is_the_enumeration(problem, ExactSolver(whole_epoch_after=0).solve(problem))
    if plan.feasible:  # more epochs allowed: never dearer
        assert plan.energy_j <= ExactSolver().solve(problem).energy_j * (1 + REL)
