"""The baselines: feasible plans that recompute exactly, their defining structure, and ``pact``
never doing worse than any of them."""

from __future__ import annotations

import pytest
from pact_cases import assert_recomputes, hand_raw

from leantrain.pact import LossPredictor, Problem, evaluate, make_solver, parse_problem
from leantrain.pact.baselines import (
    SpeedTable,
    eligible_nodes,
    fastest_finish,
    prune_first_level,
    restrict_to_unpruned,
)
from leantrain.pact.instances import random_problem as instance

SEEDS = range(12)
BASELINES = ("full", "prune-first", "greedy")


def random_problem(seed: int) -> Problem:
    """A small instance from the shared generator: 4 nodes, 3 levels, fractions {0.5, 1}."""
    return instance(seed, nodes=4, levels=3, fractions=2)


def _smallest_level_fitting_everyone(problem: Problem) -> int:
    """Written out from the definition: the first level whose memory every node holding data
    has; failing that, the first level fitting the most of them."""
    holders = [n for n in problem.node if n.samples > 0]
    smallest = min(n.memory_bytes for n in holders)
    fitting = [i for i, m in enumerate(problem.model.memory_bytes) if m <= smallest]
    if fitting:
        return fitting[0]
    counts = [sum(m <= n.memory_bytes for n in holders) for m in problem.model.memory_bytes]
    return counts.index(max(counts))


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_plans_are_feasible_and_recompute(name: str) -> None:
    found = 0
    for seed in SEEDS:
        problem = random_problem(seed)
        decisions = make_solver(name).search(problem)
        if decisions is None:
            continue
        found += 1
        plan = evaluate(problem, decisions, solver=name)
        assert plan.status == "feasible"
        assert_recomputes(problem, plan)
    assert found >= len(SEEDS) // 4  # not vacuous


def test_full_never_prunes_and_uses_every_eligible_node_fully() -> None:
    for seed in SEEDS:
        problem = random_problem(seed)
        decisions = make_solver("full").search(problem)
        if decisions is None:
            continue
        names = {n.name for n in eligible_nodes(problem, 0)}
        for decision in decisions:
            assert decision.level == 0
            assert dict(decision.fractions) == dict.fromkeys(names, 1.0)


def test_prune_first_prunes_once_at_the_first_epoch_to_where_all_fit() -> None:
    checked = 0
    for seed in SEEDS:
        problem = random_problem(seed)
        expected = _smallest_level_fitting_everyone(problem)
        assert prune_first_level(problem) == expected
        decisions = make_solver("prune-first").search(problem)
        if decisions is None:
            continue
        checked += expected > 0
        assert {d.level for d in decisions} == {expected}
        fit = {n.name for n in eligible_nodes(problem, expected)}
        assert all(set(d.fractions) == fit for d in decisions)
    assert checked >= 2


def test_prune_first_falls_back_to_the_level_fitting_most_nodes() -> None:
    raw = hand_raw()
    raw["node"][0]["memory_bytes"] = 1.0e5  # A fits no level at all
    problem = parse_problem(raw)
    assert prune_first_level(problem) == 0  # B fits level 0 already
    decisions = make_solver("prune-first").search(problem)
    assert decisions is not None and {d.level for d in decisions} == {0}


def test_a_plan_always_has_an_epoch_even_when_the_initial_loss_meets_the_target() -> None:
    raw = hand_raw()
    raw["target"]["loss"] = 1.5
    problem = parse_problem(raw)
    for name in BASELINES:
        plan = make_solver(name).solve(problem)
        assert plan.feasible and len(plan.epochs) >= 1, name


def test_baselines_return_none_when_nothing_meets_the_deadline() -> None:
    problem = random_problem(0).with_target(deadline_s=1e-3)
    for name in BASELINES:
        assert make_solver(name).search(problem) is None
        assert make_solver(name).solve(problem).status == "infeasible"


def test_greedy_keeps_the_target_reachable() -> None:
    """Tight deadlines: greedy's guard must steer it to a feasible plan where full has one."""
    found = 0
    for seed in SEEDS:
        problem = random_problem(seed)
        full = make_solver("full").solve(problem)
        if not full.feasible:
            continue
        tight = problem.with_target(deadline_s=full.duration_s * 1.05)
        decisions = make_solver("greedy").search(tight)
        if decisions is not None:
            found += 1
            assert evaluate(tight, decisions, solver="greedy").feasible
    assert found >= len(SEEDS) // 4


def test_fastest_finish_is_zero_at_the_target_and_inf_below_the_floor() -> None:
    problem = random_problem(2)
    predictor = LossPredictor.of(problem)
    tables = [SpeedTable.of(problem, level) for level in range(len(problem.levels))]
    assert fastest_finish(predictor, tables, 0.3, 0, 0.4, 10.0, 3) == 0.0
    assert fastest_finish(predictor, tables, 2.3, 0, 0.01, 1e9, 10**6) == float("inf")
    assert fastest_finish(predictor, tables, 2.3, 0, 0.6, 1e9, 1000) < float("inf")


def test_restrict_to_unpruned_keeps_level_zero_only() -> None:
    problem = random_problem(3)
    restricted = restrict_to_unpruned(problem)
    assert restricted.levels == [0.0]
    assert restricted.model.flops_per_sample == problem.model.flops_per_sample[:1]
    assert restricted.curve.c == problem.curve.c[:1]
    assert restricted.node == problem.node


def test_no_prune_never_prunes_and_recomputes() -> None:
    for seed in SEEDS:
        problem = random_problem(seed)
        decisions = make_solver("no-prune").search(problem)
        if decisions is None:
            continue
        assert all(d.level == 0 for d in decisions)
        assert_recomputes(problem, evaluate(problem, decisions, solver="no-prune"))


@pytest.mark.parametrize("seed", SEEDS)
def test_pact_is_never_worse_than_any_baseline(seed: int) -> None:
    """On the shared generator's instances, whose target is exactly the loss of a reference plan
    that is ``full``'s plan (so ``full`` meets it with zero slack)."""
    problem = random_problem(seed)
    pact = make_solver("pact").solve(problem)
    for name in ("full", "prune-first", "greedy", "no-prune"):
        other = make_solver(name).solve(problem)
        if not other.feasible:
            continue
        assert pact.feasible, (seed, name)
        assert pact.energy_j <= other.energy_j * (1.0 + 1e-9), (seed, name, pact, other)
