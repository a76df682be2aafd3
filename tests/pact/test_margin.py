"""The planning margin (docs/pact.md, 'Planning margin'): solvers aim at ℓ* − k·σ."""

from __future__ import annotations

from typing import Any

import pytest
from pact_cases import hand_raw

from leantrain.pact import Problem, make_solver, parse_problem
from leantrain.pact.execute import remaining_problem
from leantrain.pact.lagrange import certify
from leantrain.pact.problem import MARGIN_CAP


def _problem(sigma: float, margin: float | None = None) -> Problem:
    raw: dict[str, Any] = hand_raw()
    raw["curve"]["sigma"] = sigma
    if margin is not None:
        raw["options"]["margin"] = margin
    return parse_problem(raw)


def test_without_sigma_the_margin_changes_nothing() -> None:
    plain = _problem(0.0)
    assert plain.planning_loss == plain.target.loss and plain.for_planning() is plain
    plan = make_solver("exact").solve(plain)
    assert "planned_to_loss" not in plan.notes


@pytest.mark.parametrize("solver", ["exact", "pact"])
def test_plans_aim_at_the_target_minus_k_sigma(solver: str) -> None:
    plain, margined = _problem(0.0), _problem(0.05, margin=2.0)
    assert margined.planning_loss == pytest.approx(plain.target.loss - 0.1, rel=1e-12)
    without = make_solver(solver).solve(plain)
    with_margin = make_solver(solver).solve(margined)
    assert without.feasible and with_margin.feasible
    assert with_margin.final_loss <= margined.planning_loss < without.final_loss
    assert with_margin.energy_j > without.energy_j  # the margin costs energy here
    assert with_margin.notes["planned_to_loss"] == pytest.approx(margined.planning_loss)
    # k = 0 switches the margin off whatever σ is.
    off = make_solver(solver).solve(_problem(0.05, margin=0.0))
    assert off.energy_j == without.energy_j


def test_the_certificate_bounds_the_plan_it_was_made_for() -> None:
    margined = _problem(0.05, margin=2.0)
    plan = certify(margined, make_solver("exact").solve(margined))
    assert plan.lower_bound_j is not None and plan.lower_bound_j <= plan.energy_j


def test_the_margin_never_takes_the_target_below_half() -> None:
    raw = hand_raw()
    raw["curve"]["sigma"] = raw["target"]["loss"]  # as large as the target itself
    problem = parse_problem(raw, "p.toml")
    assert problem.planning_loss == MARGIN_CAP * problem.target.loss


def test_replanning_keeps_the_margin() -> None:
    margined = _problem(0.05, margin=2.0)
    rest = remaining_problem(margined, 0, 1.0, 0.0, 1)
    assert isinstance(rest, Problem)
    assert rest.planning_loss == pytest.approx(margined.planning_loss, rel=1e-12)
