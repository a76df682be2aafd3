"""The planning margin (docs/pact.md, 'Planning margin'): solvers aim at ℓ* − k·σ, and count
on exp(−k·σ_p) of each epoch's predicted progress."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from pact_cases import hand_raw

from leantrain.errors import InputError
from leantrain.pact import LossPredictor, Problem, make_solver, parse_problem
from leantrain.pact.execute import remaining_problem
from leantrain.pact.lagrange import certify
from leantrain.pact.plan import decisions_of, evaluate
from leantrain.pact.problem import MARGIN_CAP
from leantrain.pact.solver import MARGIN_HALVINGS, MARGIN_KEPT_SHARE, margin_note


def _problem(sigma: float, margin: float | None = None) -> Problem:
    raw: dict[str, Any] = hand_raw()
    raw["curve"]["sigma"] = sigma
    if margin is not None:
        raw["options"]["margin"] = margin
    return parse_problem(raw)


def _timed(plain: Problem, factor: float, solver: str = "pact", **curve: float) -> Problem:
    """``plain`` with a deadline of ``factor`` × the duration of ``solver``'s plan for it (which
    must exist) and the ``curve`` fields given (a margin)."""
    fastest = make_solver(solver).solve(plain)
    assert fastest.feasible
    timed = plain.with_target(deadline_s=fastest.duration_s * factor)
    return timed.model_copy(update={"curve": timed.curve.model_copy(update=curve)})


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
    margined = _timed(plain, 1.0001, solver, sigma=0.5 * plain.target.loss)
    curve = margined.curve
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
    assert plan.final_loss <= planned_to and plan.duration_s <= margined.target.deadline_s
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
    margined = _timed(plain, 0.2, sigma=0.05)
    plan = make_solver("pact").solve(margined)
    assert not plan.feasible
    # Judged against the whole margin (the diagnosis is that of ℓ* itself, test_relax.py).
    assert plan.notes["planned_to_loss"] == pytest.approx(margined.planning_loss)
    assert "margin_kept" not in plan.notes


def _progress_problem(progress_sigma: float, family: str = "power") -> Problem:
    raw: dict[str, Any] = hand_raw()
    raw["curve"]["progress_sigma"] = progress_sigma
    if family == "log-logistic":
        raw["curve"]["family"] = family
        raw["curve"]["s0"] = [max(s0, 1.0) for s0 in raw["curve"]["s0"]]
    return parse_problem(raw)


@pytest.mark.parametrize("family", ["power", "log-logistic"])
def test_stretched_curves_advance_scale_times_as_far(family: str) -> None:
    problem = _progress_problem(0.0, family)
    slower = problem.curve.stretched(0.8)
    ours, theirs = (
        LossPredictor.of(problem),
        LossPredictor.of(problem.model_copy(update={"curve": slower})),
    )
    for level in range(len(problem.levels)):
        for s in (0.0, 50.0, 400.0, 3000.0):
            # ℓ′(s) = ℓ(0.8·s); rel 1e-12: λ^(−b) and s0/λ round differently from 0.8·s.
            assert theirs.curves[level].loss(s) == pytest.approx(
                ours.curves[level].loss(0.8 * s), rel=1e-12
            )
    assert problem.curve.stretched(1.0) is problem.curve


@pytest.mark.parametrize("solver", ["exact", "pact"])
def test_a_progress_margin_plans_for_slower_epochs(solver: str) -> None:
    plain, margined = _progress_problem(0.0), _progress_problem(0.2)
    progress = math.exp(-0.2)  # k = 1
    assert margined.planning_progress == pytest.approx(progress, rel=1e-15)
    assert margined.planning_loss == margined.target.loss  # no loss margin
    without = make_solver(solver).solve(plain)
    plan = make_solver(solver).solve(margined)
    assert without.feasible and plan.feasible
    assert plan.notes["planned_progress"] == pytest.approx(progress, rel=1e-15)
    assert plan.notes["planned_to_loss"] == margined.target.loss
    # The plan meets ℓ* even if every epoch progresses only exp(−k·σ_p) as far ...
    decisions = decisions_of(margined, plan)
    slower = margined.for_planning(margined.target.loss, progress)
    assert evaluate(slower, decisions, solver="check").feasible
    # ... while its own losses are the predictions, below ℓ* and below the slower ones.
    assert (
        plan.epochs[-1].loss_after
        == evaluate(plain, decisions, solver="check").epochs[-1].loss_after
    )
    assert (
        plan.final_loss
        < evaluate(slower, decisions, solver="check").final_loss
        <= margined.target.loss
    )
    assert plan.energy_j > without.energy_j  # the margin costs energy here
    certified = certify(margined, plan)
    assert certified.lower_bound_j is not None and certified.lower_bound_j <= plan.energy_j


def test_a_progress_margin_that_does_not_fit_keeps_half_the_largest_that_does() -> None:
    plain = _progress_problem(0.0)
    margined = _timed(plain, 1.0001, progress_sigma=1.0)
    assert make_solver("pact").search(margined.for_planning()) is None
    plan = make_solver("pact").solve(margined)
    assert plan.feasible
    kept = plan.notes["margin_kept"]
    assert 0.0 <= kept < 1.0
    assert plan.notes["planned_progress"] == pytest.approx(math.exp(-kept), rel=1e-12)
    assert "sigma_p" in margin_note(margined, plan)
    # Half of the largest share a plan meets (to 1/256 of the margin).
    step = 1.0 / 2**MARGIN_HALVINGS
    largest = kept / MARGIN_KEPT_SHARE
    reach = margined.for_planning(margined.target.loss, math.exp(-(largest - 1e-6 * step)))
    assert make_solver("pact").search(reach) is not None
    beyond = margined.for_planning(margined.target.loss, math.exp(-(largest + step * 1.001)))
    assert make_solver("pact").search(beyond) is None


def test_replanning_keeps_the_progress_margin() -> None:
    margined = _progress_problem(0.2)
    rest = remaining_problem(margined, 0, 1.0, 0.0, 1)
    assert isinstance(rest, Problem)
    assert rest.curve.progress_sigma == margined.curve.progress_sigma
    assert rest.planning_progress == margined.planning_progress


def test_a_negative_progress_sigma_is_an_input_error() -> None:
    raw = hand_raw()
    raw["curve"]["progress_sigma"] = -0.1
    with pytest.raises(InputError) as caught:
        parse_problem(raw, "p.toml")
    assert caught.value.field == "curve.progress_sigma"


def _with_k(problem: Problem, k: float) -> Problem:
    return problem.model_copy(update={"options": problem.options.model_copy(update={"margin": k})})


def _kept(problem: Problem, solver: str = "pact") -> float:
    """The k that ``solver``'s plan for ``problem`` keeps (all of it unless noted)."""
    plan = make_solver(solver).solve(problem)
    assert plan.feasible
    return float(plan.notes.get("margin_kept", problem.options.margin))


@pytest.mark.parametrize("kind", ["loss", "progress"])
def test_the_margin_kept_never_shrinks_as_k_grows(kind: str) -> None:
    # Tight enough that k = 1 does not fit: the grid crosses the largest margin that fits.
    plain = _problem(0.0) if kind == "loss" else _progress_problem(0.0)
    scale = {"sigma": 0.5 * plain.target.loss} if kind == "loss" else {"progress_sigma": 1.0}
    tight = _timed(plain, 1.0001, **scale)
    largest = make_solver("pact").solve(tight).notes["margin_largest"]
    assert 0.0 < largest < 1.0
    grid = [largest * f for f in (0.2, 0.4, 0.5, 0.6, 0.8, 0.95, 1.0, 1.05, 1.2, 2.0, 4.0)]
    kept = [_kept(_with_k(tight, k)) for k in grid]
    # The halvings find the largest margin M to within 1/256 of each k's own interval ([0, k]
    # or [k, 2k]) and never above it, so a larger k keeps at least half of M less half its own
    # resolution: a drop of at most that much, where the old rule dropped from k to M/2.
    pairs = list(zip(grid, kept, strict=True))
    for (a, kept_a), (b, kept_b) in itertools.pairwise(pairs):
        resolution = MARGIN_KEPT_SHARE * b / 2**MARGIN_HALVINGS
        assert kept_b >= kept_a - resolution * (1 + 1e-9), (a, kept_a, b, kept_b)
    # Up to half the largest margin the whole k is kept; beyond it, half the largest (within
    # the 1/256 of the margin the halvings resolve, relative to each k's own interval).
    for k, kept_k in zip(grid, kept, strict=True):
        if k <= 0.5 * largest:
            assert kept_k == k
        else:
            assert kept_k == pytest.approx(0.5 * largest, abs=2.0 * k / 2**MARGIN_HALVINGS)


@pytest.mark.parametrize("solver", ["exact", "pact"])
def test_a_margin_that_fits_but_not_twice_over_keeps_half_the_largest(solver: str) -> None:
    plain = _problem(0.0)
    tight = _timed(plain, 1.0001, solver, sigma=0.5 * plain.target.loss)
    largest = make_solver(solver).solve(tight).notes["margin_largest"]
    margined = _with_k(tight, 0.75 * largest)  # fits, but twice it does not
    assert make_solver(solver).search(margined.for_planning()) is not None
    whole = make_solver(solver).solve(margined, shrink=False)  # as execute re-plans
    assert whole.feasible and "margin_kept" not in whole.notes
    plan = make_solver(solver).solve(margined)
    assert plan.feasible and plan.duration_s <= margined.target.deadline_s
    kept, found = plan.notes["margin_kept"], plan.notes["margin_largest"]
    assert 0.5 * margined.options.margin <= kept < margined.options.margin
    assert kept == pytest.approx(MARGIN_KEPT_SHARE * found, rel=1e-12)
    sigma = margined.curve.sigma
    planned_to = plan.notes["planned_to_loss"]
    assert planned_to == pytest.approx(margined.target.loss - kept * sigma, rel=1e-12)
    assert plan.final_loss <= planned_to
    # The halvings between k and 2k find the largest margin to 1/256 of k: a plan meets it, and
    # none a step beyond.
    step = margined.options.margin * sigma / 2**MARGIN_HALVINGS
    at = margined.target.loss - found * sigma
    assert make_solver(solver).search(margined.for_planning(at + 1e-6 * step)) is not None
    assert make_solver(solver).search(margined.for_planning(at - step * (1 + 1e-9))) is None
    note = margin_note(margined, plan)
    assert note.startswith("margin: loss ") and "more than half the largest margin" in note
    assert f"keeping {kept:.3g} x sigma" in note
    certified = certify(margined, plan)
    assert certified.lower_bound_j is not None and certified.lower_bound_j <= plan.energy_j


def test_a_margin_within_half_the_largest_is_kept_whole() -> None:
    plain = _problem(0.0)
    tight = _timed(plain, 1.0001, sigma=0.5 * plain.target.loss)
    largest = make_solver("pact").solve(tight).notes["margin_largest"]
    margined = _with_k(tight, 0.45 * largest)
    plan = make_solver("pact").solve(margined)
    assert "margin_kept" not in plan.notes and margin_note(margined, plan) == ""
    assert plan.notes["planned_to_loss"] == pytest.approx(margined.planning_loss, rel=1e-15)


def test_the_exact_plan_reports_the_search_that_found_it_not_the_margins_probe() -> None:
    margined = _problem(0.05, margin=2.0)
    plan = make_solver("exact").solve(margined)
    assert "margin_kept" not in plan.notes  # twice the margin fits: probed, then kept whole
    alone = make_solver("exact")
    alone.search(margined.for_planning())
    probe = make_solver("exact")
    target = margined.target.loss
    probe.search(margined.for_planning(target - 2 * (target - margined.planning_loss), 1.0))
    assert alone.stats["expanded"] != probe.stats["expanded"]  # else the test tells nothing
    assert plan.notes["expanded"] == alone.stats["expanded"]
