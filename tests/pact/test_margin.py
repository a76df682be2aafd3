"""The planning margin (docs/pact.md, 'Planning margin'): solvers aim at ℓ* − k·σ."""

from __future__ import annotations

from typing import Any

import pytest
from pact_cases import hand_raw

from leantrain.pact import Problem, make_solver, parse_problem
from leantrain.pact.execute import remaining_problem
from leantrain.pact.lagrange import certify
from leantrain.pact.problem import MARGIN_CAP
from leantrain.pact.solver import MARGIN_HALVINGS, MARGIN_KEPT_SHARE


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


@pytest.mark.parametrize("solver", ["exact", "pact"])
def test_a_margin_that_no_plan_reaches_keeps_half_the_largest_one_that_fits(solver: str) -> None:
    # The plain problem's optimum takes (almost) its whole deadline: any margin that needs more
    # progress cannot be met by then, but ℓ* itself can.
    plain = _problem(0.0)
    fastest = make_solver(solver).solve(plain)
    assert fastest.feasible
    tight = plain.with_target(deadline_s=fastest.duration_s * 1.0001)
    curve = tight.curve.model_copy(update={"sigma": 0.5 * tight.target.loss})
    margined = tight.model_copy(update={"curve": curve})
    assert make_solver(solver).search(margined.for_planning()) is None  # the whole margin: none
    whole = make_solver(solver).solve(margined, shrink=False)  # as execute re-plans
    assert not whole.feasible and "margin_kept" not in whole.notes
    plan = make_solver(solver).solve(margined)
    assert plan.feasible
    kept = plan.notes["margin_kept"]
    assert 0.0 <= kept < margined.options.margin
    planned_to = plan.notes["planned_to_loss"]
    assert planned_to == pytest.approx(margined.target.loss - kept * curve.sigma, rel=1e-12)
    assert margined.planning_loss < planned_to <= margined.target.loss
    assert plan.final_loss <= planned_to and plan.duration_s <= tight.target.deadline_s
    # The halvings find the largest margin a plan reaches to within 1/256 of the whole margin,
    # and the plan keeps half of it (MARGIN_KEPT_SHARE).
    assert MARGIN_KEPT_SHARE == 0.5
    step = (margined.target.loss - margined.planning_loss) / 2**MARGIN_HALVINGS
    largest = margined.target.loss - (margined.target.loss - planned_to) / MARGIN_KEPT_SHARE
    assert planned_to - largest > step  # half the largest is more than a halving away from it
    assert make_solver(solver).search(margined.for_planning(largest + 1e-6 * step)) is not None
    assert make_solver(solver).search(margined.for_planning(largest - step * (1 + 1e-9))) is None
    # The certificate bounds the problem the plan was made for.
    certified = certify(margined, plan)
    assert certified.lower_bound_j is not None and certified.lower_bound_j <= plan.energy_j


def test_a_target_no_plan_reaches_stays_infeasible_with_the_whole_margin() -> None:
    plain = _problem(0.0)
    fastest = make_solver("pact").solve(plain)
    hopeless = plain.with_target(deadline_s=fastest.duration_s * 0.2)
    curve = hopeless.curve.model_copy(update={"sigma": 0.05})
    margined = hopeless.model_copy(update={"curve": curve})
    plan = make_solver("pact").solve(margined)
    assert not plan.feasible
    # Judged against the whole margin (the diagnosis is that of ℓ* itself, test_relax.py).
    assert plan.notes["planned_to_loss"] == pytest.approx(margined.planning_loss)
    assert "margin_kept" not in plan.notes
