"""The floors on an epoch's samples (``options.min_share`` for every epoch, ``final_share`` for
the final one; docs/pact.md, 'Epoch floors'): evaluate, exact, pact and the profile options agree
on them."""

from __future__ import annotations

import math

import pydantic
import pytest
from pact_cases import (
    assert_exact_is_the_enumeration,
    enumerable,
    enumerate_optimum,
    with_floor,
)

from leantrain.errors import InputError
from leantrain.pact import Problem, make_solver
from leantrain.pact.plan import Decision, Plan, effective_samples, evaluate
from leantrain.pact.profile.options import ProfileOptions


def test_the_problem_checks_the_share() -> None:
    raw = enumerable(0, 2).model_dump()
    raw["options"]["final_share"] = 1.5
    with pytest.raises(pydantic.ValidationError, match="final_share"):
        Problem.model_validate(raw)
    assert enumerable(0, 2).final_samples == 0.0


def test_evaluate_rejects_a_final_epoch_below_the_floor() -> None:
    problem = enumerable(1, 2)
    _, decisions = enumerate_optimum(problem)
    assert decisions is not None
    last = effective_samples(problem, decisions[-1])
    share = last / problem.full_samples
    assert evaluate(with_floor(problem, share), decisions, solver="t").feasible
    above = with_floor(problem, min(1.0, share * 1.01))
    assert not evaluate(above, decisions, solver="t").feasible


@pytest.mark.parametrize("seed", range(8))
def test_exact_is_the_enumeration_under_a_floor(seed: int) -> None:
    problem = with_floor(enumerable(seed, 2), 0.6)
    assert_exact_is_the_enumeration(problem, make_solver("exact").solve(problem))


def test_the_floor_binds_and_every_solver_keeps_it() -> None:
    raised = 0
    for seed in range(8):
        free = enumerable(seed, 2)
        floored = with_floor(free, 0.6)
        before, after = enumerate_optimum(free)[0], enumerate_optimum(floored)[0]
        raised += math.isfinite(before) and after > before * (1.0 + 1e-9)
        exact = make_solver("exact").solve(floored)
        pact = make_solver("pact").solve(floored)
        assert pact.feasible == exact.feasible
        for plan in (exact, pact):
            if plan.feasible:
                assert evaluate(floored, _decisions(floored, plan), solver="t").feasible
        if pact.feasible:
            assert pact.energy_j <= exact.energy_j * 1.02
    # The floor changes the optimum on some of these instances: the tests above are not vacuous.
    assert raised >= 2


def _decisions(problem: Problem, plan: Plan) -> list[Decision]:
    levels = list(problem.model.levels)
    return [Decision(levels.index(e.pruning), dict(e.fractions)) for e in plan.epochs]


def test_evaluate_rejects_any_epoch_below_the_floor_of_every_epoch() -> None:
    problem = enumerable(1, 2)
    _, decisions = enumerate_optimum(problem)
    assert decisions is not None
    least = min(effective_samples(problem, d) for d in decisions)
    share = least / problem.full_samples
    assert evaluate(with_floor(problem, share, "min_share"), decisions, solver="t").feasible
    above = with_floor(problem, min(1.0, share * 1.01), "min_share")
    assert not evaluate(above, decisions, solver="t").feasible
    # The final epoch's floor is the larger of the two.
    both = with_floor(with_floor(problem, 0.2, "min_share"), 0.1)
    assert both.final_samples == pytest.approx(0.2 * problem.full_samples, rel=1e-15)


@pytest.mark.parametrize("seed", range(8))
def test_exact_is_the_enumeration_under_a_floor_on_every_epoch(seed: int) -> None:
    problem = with_floor(enumerable(seed, 2), 0.35, "min_share")
    assert_exact_is_the_enumeration(problem, make_solver("exact").solve(problem))


def test_the_floor_on_every_epoch_binds_and_pact_keeps_it() -> None:
    raised = 0
    for seed in range(8):
        free = enumerable(seed, 2)
        floored = with_floor(free, 0.35, "min_share")
        before, after = enumerate_optimum(free)[0], enumerate_optimum(floored)[0]
        raised += math.isfinite(before) and after > before * (1.0 + 1e-9)
        exact = make_solver("exact").solve(floored)
        pact = make_solver("pact").solve(floored)
        assert pact.feasible == exact.feasible
        if pact.feasible:
            assert evaluate(floored, _decisions(floored, pact), solver="t").feasible
            assert pact.energy_j <= exact.energy_j * 1.02
    assert raised >= 2


def test_profile_options_check_the_shares() -> None:
    for field in ("min_share", "final_share"):
        with pytest.raises(InputError, match=field):
            ProfileOptions(**{field: -0.1}).check()  # type: ignore[arg-type]
    ProfileOptions(min_share=0.25, final_share=0.5).check()
