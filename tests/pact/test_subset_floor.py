"""The subset floor (``curve.subset_floor`` κ; docs/pact.md, 'The subset floor'): an epoch of D
effective samples cannot bring the loss below c + κ·(N/D − 1), and never raises it. The formulas,
the predictor, evaluate, exact, pact, the profile's fits and re-planning agree on it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pydantic
import pytest
from pact_cases import (
    assert_exact_is_the_enumeration,
    assert_pact_near_exact,
    enumerable,
    enumerate_optimum,
    with_kappa,
)

from leantrain.pact import LossPredictor, Problem, make_solver
from leantrain.pact.execute.replan import remaining_problem
from leantrain.pact.formulas import floor_samples, floored_loss
from leantrain.pact.predictor import Curve
from leantrain.pact.profile.fit import (
    ParticipationRun,
    fit_participation,
    fit_subset_floor,
    participation_losses,
)


def test_the_floor_formulas() -> None:
    full, c, kappa = 1000.0, 0.2, 0.01
    samples = np.array([0.0, 50.0, 250.0, 1000.0])
    curve = np.array([1.0, 0.1 + 1e-9, 0.25, 0.21])
    jumped = 1.0
    out = floored_loss(curve, jumped, samples, full, c, kappa)
    # No samples (the curve stays at the jumped loss): no floor; 50 of 1000: floor c + 19κ; the
    # whole fleet: floor c.
    assert out.tolist() == [1.0, c + 19 * kappa, 0.25, 0.21]
    for k in range(len(samples)):
        scalar = floored_loss(float(curve[k]), jumped, float(samples[k]), full, c, kappa)
        assert scalar == out[k]
    # An epoch below its floor from a loss already under it leaves the loss where it was.
    assert floored_loss(0.1, 0.15, 50.0, full, c, kappa) == 0.15
    # floor_samples inverts the floor: the least D whose floor is the loss (float64 division:
    # one rounding each way, hence 1e-12).
    for loss in (0.21, 0.3, 1.0):
        least = floor_samples(loss, full, c, kappa)
        assert c + kappa * (full / least - 1.0) == pytest.approx(loss, rel=1e-12)
    assert math.isinf(floor_samples(c, full, c, kappa))


def test_the_problem_checks_kappa() -> None:
    raw = enumerable(0, 2).model_dump()
    for bad in (-0.1, math.inf, math.nan, [0.1], [0.1, -0.1]):
        raw["curve"]["subset_floor"] = bad
        with pytest.raises(pydantic.ValidationError, match="subset_floor"):
            Problem.model_validate(raw)
    raw["curve"]["subset_floor"] = [0.0, 0.25]
    assert Problem.model_validate(raw).kappas == [0.0, 0.25]


def test_small_epochs_level_off_at_their_floor() -> None:
    problem = with_kappa(enumerable(1, 1), share=1 / 18)  # a tenth's floor: half-way to ℓ*
    predictor = LossPredictor.of(problem)
    free = LossPredictor.of(enumerable(1, 1))
    full = problem.full_samples
    small = full / 10.0
    floor = problem.curve.c[0] + predictor.kappa(0) * 9.0
    losses = predictor.trajectory([0] * 60, [small] * 60)
    assert all(b <= a for a, b in itertools.pairwise(losses))
    assert min(losses) == pytest.approx(floor, rel=1e-12)
    assert free.trajectory([0] * 60, [small] * 60)[-1] < floor  # without the floor: below it
    # A whole-fleet epoch has the floor c: the predictor's loss is the floorless one.
    assert predictor.trajectory([0] * 3, [full] * 3) == free.trajectory([0] * 3, [full] * 3)
    # samples_needed clears the floor of the loss it aims at.
    target = floor * 0.99
    need = predictor.samples_needed(predictor.initial_loss, 0, 0, target)
    assert need >= predictor.floor_samples(target, 0) > small
    assert predictor.step(predictor.initial_loss, 0, 0, need) <= target * (1 + 1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_ascending_samples_is_the_best_order_within_a_run(seed: int) -> None:
    problem = with_kappa(enumerable(seed, 1), share=0.3)
    predictor = LossPredictor.of(problem)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        run = (rng.uniform(0.02, 1.0, size=4) * problem.full_samples).tolist()
        finals = [
            predictor.trajectory([0] * 4, list(order))[-1]
            for order in set(itertools.permutations(run))
        ]
        ascending = predictor.trajectory([0] * 4, sorted(run))[-1]
        # The same float operations in another order: equal up to rounding (1e-12 relative).
        assert ascending <= min(finals) * (1.0 + 1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_exact_is_the_enumeration_under_a_subset_floor(seed: int) -> None:
    problem = with_kappa(enumerable(seed, 2))
    assert_exact_is_the_enumeration(problem, make_solver("exact").solve(problem))


def test_the_subset_floor_binds_and_pact_keeps_it() -> None:
    raised = 0
    for seed in range(8):
        free = enumerable(seed, 2)
        floored = with_kappa(free)
        before, after = enumerate_optimum(free)[0], enumerate_optimum(floored)[0]
        raised += math.isfinite(before) and after > before * (1.0 + 1e-9)
        exact = make_solver("exact").solve(floored)
        assert_pact_near_exact(floored, exact, make_solver("pact").solve(floored))
    # The floor changes the optimum on some of these instances: the tests above are not vacuous.
    assert raised >= 2


def test_replanning_keeps_the_floor() -> None:
    problem = with_kappa(enumerable(2, 2))
    remaining = remaining_problem(problem, 0, problem.curve.initial_loss * 0.8, 0.0, 1)
    assert isinstance(remaining, Problem)
    assert remaining.curve.subset_floor == problem.curve.subset_floor
    assert remaining.full_samples == problem.full_samples
    # One κ per level: the levels left keep theirs.
    curve = problem.curve.model_copy(update={"subset_floor": [0.01, 0.02]})
    per_level = problem.model_copy(update={"curve": curve})
    later = remaining_problem(per_level, 1, problem.curve.initial_loss, 0.0, 1)
    assert isinstance(later, Problem) and later.kappas == [0.02]


@pytest.mark.parametrize("seed", range(4))
def test_exact_is_the_enumeration_with_one_kappa_per_level(seed: int) -> None:
    problem = enumerable(seed, 2)
    top = problem.target.loss - max(problem.curve.c)
    curve = problem.curve.model_copy(update={"subset_floor": [0.1 * top, 0.5 * top]})
    problem = problem.model_copy(update={"curve": curve})
    exact = make_solver("exact").solve(problem)
    assert_exact_is_the_enumeration(problem, exact)
    assert_pact_near_exact(problem, exact, make_solver("pact").solve(problem))


def test_kappa_is_fitted_to_the_probes_that_rose() -> None:
    full, c, kappa = 1200.0, 0.15, 0.012
    start = 0.17
    shares = (1 / 12, 1 / 4, 1 / 2)
    # Probes at their floors, and ones that fell (floor below the start): only the rising count.
    probes = [(s * full, c + kappa * (1 / s - 1)) for s in shares[:2]] + [(0.5 * full, 0.16)]
    assert all(loss > start for _, loss in probes[:2])
    fit = fit_subset_floor(start, probes, c, full)
    assert fit.kappa == pytest.approx(kappa, rel=1e-12)  # exact data, one division
    assert fit_subset_floor(0.9, probes, c, full).kappa == 0.0  # nothing rose above 0.9
    with pytest.raises(ValueError, match="no sample"):
        fit_subset_floor(start, [(0.0, 0.3)], c, full)


def test_gamma_is_recovered_from_runs_that_reach_their_floor() -> None:
    curve = Curve(a=2.0, b=2.0, c=0.15, s0=3000.0, family="log-logistic")
    full, gamma, kappa = 1200.0, 0.3, 0.03
    runs = []
    for share in (1 / 12, 1 / 4):
        samples = tuple([share * full] * 12)
        blank = ParticipationRun(share, 2.1, samples, tuple([1.0] * 12))
        losses = participation_losses(curve, blank, full, gamma, (curve.c, kappa))
        runs.append(ParticipationRun(share, 2.1, samples, tuple(losses.tolist())))
    # The one-twelfth run levels off at its floor c + 11κ.
    assert runs[0].losses[-1] == pytest.approx(curve.c + 11 * kappa, rel=1e-9)
    fitted = fit_participation(curve, runs, full, (curve.c, kappa))
    # The bounded search's tolerance is 1e-6 in γ.
    assert fitted.gamma == pytest.approx(gamma, abs=1e-4) and fitted.rmse < 1e-6
    # Without the floor the level-off is read as slow progress: a larger γ, a worse fit.
    plain = fit_participation(curve, runs, full)
    assert plain.gamma > gamma and plain.rmse > 100 * fitted.rmse
