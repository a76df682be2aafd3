"""The participation model P(D) = N·(D/N)^γ (docs/pact.md, 'Participation'): the formula, the
fit of γ, and every solver under γ < 1.

The solver checks run in float64 on discrete plans, so they hold on every CPU; the fit is plain
numpy/scipy on synthetic losses made here.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from pact_cases import assert_exact_is_the_enumeration, assert_pact_near_exact, enumerable

from leantrain.errors import InputError
from leantrain.pact import Decision, Plan, Problem, evaluate, make_solver, parse_problem
from leantrain.pact.formulas import epoch_progress, progress_samples
from leantrain.pact.lagrange import lower_bound
from leantrain.pact.plan import effective_samples
from leantrain.pact.predictor import Curve, LossPredictor
from leantrain.pact.profile.fit import (
    ObservedRun,
    ParticipationRun,
    fit_participation,
    participation_losses,
)

GAMMA = 0.4


def with_participation(problem: Problem, gamma: float | list[float]) -> Problem:
    """``problem`` with γ = ``gamma`` (validated again)."""
    raw = problem.model_dump()
    raw["curve"]["participation"] = gamma
    return parse_problem(raw)


@functools.cache
def tiny(seed: int) -> Problem:
    """2-3 nodes, 2 levels, fractions {0.5, 1}, up to 4 epochs, γ = 0.4 (small enough to
    enumerate every plan)."""
    plain = enumerable(seed, levels=2)
    return with_participation(plain, GAMMA)


@functools.cache
def solved(seed: int, solver: str) -> Plan:
    return make_solver(solver, 0.01).solve(tiny(seed))


def test_progress_is_the_samples_at_gamma_one_and_concave_below() -> None:
    samples = np.array([0.0, 10.0, 250.0, 1000.0, 4000.0])
    assert epoch_progress(samples, 1000.0, 1.0) is samples  # the same numbers, bit for bit
    progress = epoch_progress(samples, 1000.0, 0.5)
    assert progress[0] == 0.0  # an empty epoch makes no progress (no free lunch)
    assert np.all(np.diff(progress) > 0.0)  # monotone: the solvers' orderings stay valid
    assert progress[3] == pytest.approx(1000.0)  # a whole-fleet epoch is N whatever γ
    assert progress[2] == pytest.approx(500.0)  # a quarter of the fleet: 1000·0.25^0.5
    back = progress_samples(progress, 1000.0, 0.5)
    np.testing.assert_allclose(back, samples, rtol=1e-12)


def test_half_the_fleet_makes_more_than_half_the_progress() -> None:
    problem = tiny(0)
    predictor = LossPredictor.of(problem)
    full = problem.full_samples
    curve = predictor.curves[0]
    start = predictor.initial_loss
    half = predictor.step(start, 0, 0, full / 2)
    expected = curve.loss(curve.position(start) + full * 0.5**GAMMA)
    assert half == pytest.approx(expected, rel=1e-12)
    linear = LossPredictor.of(with_participation(problem, 1.0)).step(start, 0, 0, full / 2)
    assert half < linear  # γ < 1: faster than proportional to the samples
    assert predictor.step(start, 0, 0, 0.0) == start
    need = predictor.samples_needed(start, 0, 0, half)
    assert need == pytest.approx(full / 2, rel=1e-9)


def _synthetic_runs(
    gamma: float, curve: Curve, full: float, noise: float
) -> list[ParticipationRun]:
    rng = np.random.default_rng(7)
    runs = []
    for share in (0.25, 0.5):
        samples = tuple(float(x) for x in rng.uniform(0.8, 1.2, size=6) * share * full)
        run = ParticipationRun(share, curve.loss(2.0 * full), samples, (0.0,) * 6)
        clean = participation_losses(curve, run, full, gamma)
        noisy = clean * (1.0 + noise * rng.standard_normal(len(clean)))
        runs.append(
            ParticipationRun(share, run.start_loss, samples, tuple(float(x) for x in noisy))
        )
    return runs


@pytest.mark.parametrize("gamma", [0.15, 0.4, 0.8, 1.0])
def test_the_fitted_gamma_recovers_a_synthetic_ground_truth(gamma: float) -> None:
    curve = Curve(a=30.0, b=0.45, c=0.05, s0=2000.0)
    full = 6000.0
    fit = fit_participation(curve, _synthetic_runs(gamma, curve, full, 0.0), full)
    # Noise-free losses: the bounded search stops within its x tolerance (1e-6) of the truth.
    assert fit.gamma == pytest.approx(gamma, abs=1e-4)
    assert fit.rmse <= fit.rmse_linear
    # 1% multiplicative noise on the losses still pins γ to a few hundredths.
    noisy = fit_participation(curve, _synthetic_runs(gamma, curve, full, 0.01), full)
    assert noisy.gamma == pytest.approx(gamma, abs=0.06)


def test_gamma_is_recovered_against_an_observed_whole_fleet_run() -> None:
    curve = Curve(a=30.0, b=0.45, c=0.05, s0=2000.0)
    full = 6000.0
    runs = _synthetic_runs(0.3, curve, full, 0.0)
    # The whole-fleet run from the same start, observed after every pass (what profile has).
    start = curve.position(runs[0].start_loss)
    progress = tuple(k * full for k in range(8))
    observed = ObservedRun(progress, tuple(curve.loss(start + p) for p in progress))
    fit = fit_participation(observed, runs, full)
    # Linear interpolation between passes overestimates the convex loss a little, which the fit
    # answers with slightly more progress: γ within 0.05 of the truth.
    assert fit.gamma == pytest.approx(0.3, abs=0.05)
    too_long = ObservedRun(progress[:3], observed.losses[:3])
    with pytest.raises(ValueError, match="more epochs"):
        fit_participation(too_long, runs, full)


def test_the_participation_fit_rejects_unusable_runs() -> None:
    curve = Curve(a=30.0, b=0.45, c=0.05, s0=2000.0)
    with pytest.raises(ValueError, match="at least one"):
        fit_participation(curve, [], 100.0)
    empty_epoch = ParticipationRun(0.5, 1.0, (10.0, 0.0), (0.9, 0.8))
    with pytest.raises(ValueError, match="no sample"):
        fit_participation(curve, [empty_epoch], 100.0)


@pytest.mark.parametrize("seed", range(8))
def test_exact_equals_the_plain_enumeration_under_partial_participation(seed: int) -> None:
    assert_exact_is_the_enumeration(tiny(seed), solved(seed, "exact"))


@pytest.mark.parametrize("seed", range(8))
def test_pact_plans_recompute_and_stay_near_exact_under_partial_participation(seed: int) -> None:
    assert_pact_near_exact(tiny(seed), solved(seed, "exact"), solved(seed, "pact"))


def test_partial_participation_changes_what_a_plan_predicts() -> None:
    problem = tiny(1)
    names = [node.name for node in problem.node]
    plan = [Decision(0, {names[0]: 1.0})] * 2
    concave = evaluate(problem, plan, solver="hand")
    linear = evaluate(with_participation(problem, 1.0), plan, solver="hand")
    assert concave.final_loss < linear.final_loss
    assert concave.energy_j == linear.energy_j  # the cost model does not change


def test_the_certificate_is_trivial_under_partial_participation() -> None:
    assert lower_bound(tiny(0)) == 0.0
    plain = with_participation(tiny(0), 1.0)
    assert lower_bound(plain) >= 0.0


# ---------------------------------------------------------------------------- γ per level

#: One γ per level of :func:`tiny` (2 levels): the pruned level makes less of its samples.
GAMMAS = [0.3, 0.7]


@functools.cache
def per_level(seed: int) -> Problem:
    """:func:`tiny` with one γ per level."""
    return with_participation(enumerable(seed, levels=2), GAMMAS)


@functools.cache
def solved_per_level(seed: int, solver: str) -> Plan:
    return make_solver(solver, 0.01).solve(per_level(seed))


@pytest.mark.parametrize("seed", range(6))
def test_exact_equals_the_plain_enumeration_with_a_gamma_per_level(seed: int) -> None:
    assert_exact_is_the_enumeration(per_level(seed), solved_per_level(seed, "exact"))


@pytest.mark.parametrize("seed", range(6))
def test_pact_plans_recompute_and_stay_near_exact_with_a_gamma_per_level(seed: int) -> None:
    assert_pact_near_exact(
        per_level(seed), solved_per_level(seed, "exact"), solved_per_level(seed, "pact")
    )


def test_the_epochs_level_sets_its_gamma() -> None:
    problem = per_level(1)
    names = [node.name for node in problem.node]
    for level, gamma in enumerate(GAMMAS):
        plan = [Decision(level, {names[0]: 1.0})]
        mixed = evaluate(problem, plan, solver="hand")
        single = evaluate(with_participation(problem, gamma), plan, solver="hand")
        assert mixed.final_loss == single.final_loss
    assert LossPredictor.of(problem).gamma(1) == GAMMAS[1]
    assert problem.gammas == GAMMAS and tiny(1).gammas == [GAMMA, GAMMA]


def test_a_gamma_list_needs_one_entry_per_level() -> None:
    raw = tiny(0).model_dump()
    raw["curve"]["participation"] = [0.5, 0.5, 0.5]
    with pytest.raises(InputError, match=r"curve\.participation: needs one value, or one entry"):
        parse_problem(raw)
    raw["curve"]["participation"] = [0.5, 1.5]
    with pytest.raises(InputError, match=r"curve.participation: every γ must lie in \(0, 1\]"):
        parse_problem(raw)


# ---------------------------------------------------------------- the fraction law "steps"


def with_law(problem: Problem, law: str) -> Problem:
    """``problem`` with ``curve.fraction_law = law`` (validated again)."""
    raw = problem.model_dump()
    raw["curve"]["fraction_law"] = law
    return parse_problem(raw)


@functools.cache
def stepwise(seed: int) -> Problem:
    """:func:`per_level` (γ 0.3 and 0.7) under the fraction law "steps"."""
    return with_law(per_level(seed), "steps")


@functools.cache
def solved_stepwise(seed: int, solver: str) -> Plan:
    return make_solver(solver, 0.01).solve(stepwise(seed))


def test_under_steps_an_epoch_is_linear_in_its_fraction_and_power_gamma_in_its_nodes() -> None:
    problem = stepwise(2)
    predictor = LossPredictor.of(problem)
    names = [node.name for node in problem.node]
    full = problem.full_samples
    share = sum(node.quality * node.samples for node in problem.node[:2]) / full
    for level, gamma in enumerate(GAMMAS):
        for fraction in (0.5, 1.0):
            decision = Decision(level, {names[0]: fraction, names[1]: fraction})
            progress = predictor.progress(effective_samples(problem, decision), level)
            # P = f·N·(share)^γ: the documented identity of docs/pact.md, 'Participation'.
            assert progress == pytest.approx(fraction * full * share**gamma, rel=1e-12)
    # Under "samples" half the fraction is worth half the data: far more than half the progress.
    samples_law = with_law(per_level(2), "samples")
    half = Decision(0, {names[0]: 0.5, names[1]: 0.5})
    whole = Decision(0, {names[0]: 1.0, names[1]: 1.0})

    def ratio(p: Problem) -> float:
        pred = LossPredictor.of(p)
        return pred.progress(effective_samples(p, half), 0) / pred.progress(
            effective_samples(p, whole), 0
        )

    assert ratio(problem) == pytest.approx(0.5, rel=1e-12)
    assert ratio(samples_law) == pytest.approx(0.5 ** GAMMAS[0], rel=1e-12)


def test_the_fraction_law_defaults_to_samples_and_is_validated() -> None:
    assert per_level(0).curve.fraction_law == "samples"
    assert per_level(0).fraction_power(0) == 1.0
    assert stepwise(0).fraction_power(1) == pytest.approx(1.0 / GAMMAS[1])
    raw = per_level(0).model_dump()
    raw["curve"]["fraction_law"] = "nodes"
    with pytest.raises(InputError, match=r"curve\.fraction_law"):
        parse_problem(raw)


def test_the_laws_agree_at_gamma_one() -> None:
    plain = with_participation(enumerable(3, levels=2), 1.0)
    steps = with_law(plain, "steps")
    one, other = (make_solver("exact", 0.01).solve(p) for p in (plain, steps))
    assert one.epochs == other.epochs and one.energy_j == other.energy_j


@pytest.mark.parametrize("seed", range(6))
def test_exact_equals_the_plain_enumeration_under_the_steps_law(seed: int) -> None:
    assert_exact_is_the_enumeration(stepwise(seed), solved_stepwise(seed, "exact"))


@pytest.mark.parametrize("seed", range(6))
def test_pact_plans_recompute_and_stay_near_exact_under_the_steps_law(seed: int) -> None:
    assert_pact_near_exact(
        stepwise(seed), solved_stepwise(seed, "exact"), solved_stepwise(seed, "pact")
    )
