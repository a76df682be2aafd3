"""The log-logistic curve family (docs/pact.md, 'Loss prediction'): the formulas and their
inverse, the descent rates the bounds use, every solver on such curves, the re-planning stretch
and the profile's fit.

Float64 arithmetic on fixed inputs and discrete plans: the same on every CPU. The fit recovers a
curve from noiseless synthetic points, so its tolerance only covers the optimiser's stopping
rule.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from pact_cases import assert_exact_is_the_enumeration, assert_pact_near_exact, enumerable

from leantrain.errors import InputError
from leantrain.pact import Plan, Problem, make_solver, parse_problem
from leantrain.pact.bounds import loss_pieces
from leantrain.pact.execute import remaining_problem
from leantrain.pact.formulas import curve_loss, descent_rate, equivalent_position
from leantrain.pact.predictor import Curve, LossPredictor
from leantrain.pact.profile.fit import fit_curve

SHAPE = (2.0, 3.0, 0.2, 1000.0, "log-logistic")  # a, b, c, s0: start 2.2, floor 0.2


def test_the_curve_is_an_s_with_a_linear_continuation_above_its_start() -> None:
    s = np.array([-500.0, 0.0, 500.0, 1000.0, 3000.0, 1e6])
    loss = curve_loss(s, *SHAPE)
    assert loss[1] == pytest.approx(2.2) and loss[3] == pytest.approx(1.2)  # start, half-way
    assert loss[0] == pytest.approx(3.2)  # c + a·(1 − s/s0) above the start
    # At s = 10⁶ the loss is c + a/(1 + 1000³): 2·10⁻⁹ above the floor.
    assert np.all(np.diff(loss) < 0.0) and loss[-1] == pytest.approx(0.2 + 2e-9, rel=1e-6)
    for x in s[:-1]:  # scalar and array forms agree, and the inverse returns the position
        assert curve_loss(float(x), *SHAPE) == pytest.approx(
            float(curve_loss(np.array([x]), *SHAPE)[0])
        )
        back = equivalent_position(float(curve_loss(float(x), *SHAPE)), *SHAPE)
        assert back == pytest.approx(x, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(equivalent_position(loss[:-1], *SHAPE), s[:-1], rtol=1e-9, atol=1e-9)
    assert equivalent_position(0.2, *SHAPE) == math.inf  # the floor is never reached


def test_descent_rates_are_the_slopes_and_the_pieces_bound_the_samples() -> None:
    losses = np.linspace(0.25, 3.0, 40)
    positions = equivalent_position(losses, *SHAPE)
    h = 1e-3
    slope = (curve_loss(positions - h, *SHAPE) - curve_loss(positions + h, *SHAPE)) / (2 * h)
    np.testing.assert_allclose(descent_rate(losses, *SHAPE), slope, rtol=1e-5)
    # The bounds' pieces never claim more than the samples it takes between two losses.
    curve = Curve(*SHAPE)
    raw = enumerable(0, levels=2).model_dump()
    raw["curve"].update(
        a=[2.0, 2.0], b=[3.0, 3.0], c=[0.2, 0.2], s0=[1000.0, 1000.0], family="log-logistic"
    )
    raw["curve"]["initial_loss"] = 3.0
    raw["target"]["loss"] = 0.3
    problem = parse_problem(raw)
    grid, need = loss_pieces(problem, 512)
    for top in (0.5, 1.2, 2.19, 2.9):
        below = int(np.searchsorted(grid, top, side="right")) - 1
        claimed = float(need[0, :below].sum())
        true = curve.position(0.3) - curve.position(float(grid[below]))
        assert claimed <= true * (1.0 + 1e-9)


def log_logistic(problem: Problem) -> Problem:
    """``problem`` with each power curve replaced by a log-logistic one of the same start and
    floor that is half-way down where the power curve is."""
    predictor = LossPredictor.of(problem)
    raw = problem.model_dump()
    a, s0 = [], []
    for curve in predictor.curves:
        start = curve.start
        a.append(start - curve.c)
        s0.append(max(curve.position(curve.c + (start - curve.c) / 2), 1.0))
    raw["curve"].update(a=a, b=[2.0] * len(a), s0=s0, family="log-logistic")
    return parse_problem(raw)


@functools.cache
def solved(seed: int, solver: str) -> Plan:
    return make_solver(solver, 0.01).solve(log_logistic(enumerable(seed, levels=2)))


@pytest.mark.parametrize("seed", range(6))
def test_exact_equals_the_plain_enumeration_on_log_logistic_curves(seed: int) -> None:
    assert_exact_is_the_enumeration(log_logistic(enumerable(seed, levels=2)), solved(seed, "exact"))


@pytest.mark.parametrize("seed", range(6))
def test_pact_recomputes_and_stays_near_exact_on_log_logistic_curves(seed: int) -> None:
    problem = log_logistic(enumerable(seed, levels=2))
    assert_pact_near_exact(problem, solved(seed, "exact"), solved(seed, "pact"))


def test_re_planning_stretches_a_log_logistic_curve_by_lambda() -> None:
    problem = log_logistic(enumerable(1, levels=2))
    plain = remaining_problem(problem, 0, 1.5, 0.0, 0)
    faster = remaining_problem(problem, 0, 1.5, 0.0, 0, progress_scale=2.0)
    assert isinstance(plain, Problem) and isinstance(faster, Problem)
    assert faster.curve.family == "log-logistic"
    profiled = LossPredictor.of(plain)
    for level in range(len(problem.levels)):
        ours = LossPredictor.of(faster).step(1.5, 0, level, 30.0)
        assert ours == pytest.approx(profiled.step(1.5, 0, level, 60.0), rel=1e-9)


def test_the_fit_recovers_a_log_logistic_curve() -> None:
    truth = Curve(2.1, 2.5, 0.17, 9500.0, "log-logistic")
    samples = [6000.0 * k for k in range(10)]
    losses = [truth.loss(s) for s in samples]
    fit = fit_curve(samples, losses, scale=6000.0, holdout=2, family="log-logistic")
    got = fit.curve
    assert got.family == "log-logistic"
    assert (got.a, got.b, got.c, got.s0) == pytest.approx((2.1, 2.5, 0.17, 9500.0), rel=1e-3)
    assert fit.holdout_rmse < 1e-4
    power = fit_curve(samples, losses, scale=6000.0, holdout=2)
    assert power.holdout_rmse > 10 * fit.holdout_rmse  # the S shape is not a power law's


def test_a_log_logistic_curve_needs_a_positive_scale() -> None:
    raw = log_logistic(enumerable(0, levels=2)).model_dump()
    raw["curve"]["s0"] = [0.0, 1.0]
    with pytest.raises(InputError, match="s0"):
        parse_problem(raw)
    raw["curve"]["family"] = "cubic"
    with pytest.raises(InputError, match=r"curve\.family"):
        parse_problem(raw)
