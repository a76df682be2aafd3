"""Jumps that depend on the loss at pruning time (docs/pact.md, 'Loss prediction'): pruning a
model of level-0-equivalent loss ℓ0 to level j gives ℓ0 + jump_j + β_j·(ℓ0 − ℓ₀).

Float64 formulas and discrete plans: the same on every CPU.
"""

from __future__ import annotations

import functools
import itertools

import pytest
from pact_cases import assert_exact_is_the_enumeration, assert_pact_near_exact, enumerable

from leantrain.errors import InputError
from leantrain.pact import Plan, Problem, make_solver, parse_problem
from leantrain.pact.execute import remaining_problem
from leantrain.pact.instances import random_problem
from leantrain.pact.predictor import LossPredictor


def with_slopes(problem: Problem, share: float) -> Problem:
    """``problem`` whose jumps shrink by ``share`` of themselves from the initial loss down to
    the lowest asymptote (β_j = share·jump_j / (ℓ₀ − min c); level 0: none)."""
    raw = problem.model_dump()
    curve = raw["curve"]
    span = curve["initial_loss"] - min(curve["c"])
    curve["jump_slope"] = [share * j / span for j in curve["jump"]]
    return parse_problem(raw)


@functools.cache
def tiny(seed: int) -> Problem:
    plain = enumerable(seed, levels=3)
    return with_slopes(plain, 0.5)


@functools.cache
def solved(seed: int, solver: str) -> Plan:
    return make_solver(solver, 0.01).solve(tiny(seed))


def test_zero_slopes_are_the_additive_jumps_bit_for_bit() -> None:
    plain = random_problem(3, nodes=3, levels=3)
    flat = with_slopes(plain, 0.0)
    for loss in (2.0, 1.3, 0.7):
        for i in range(3):
            for j in range(i, 3):
                ours = LossPredictor.of(flat).after_jump(loss, i, j)
                assert ours == loss + (plain.curve.jump[j] - plain.curve.jump[i])


def test_a_jump_grows_with_the_loss_at_pruning_time() -> None:
    problem = tiny(0)
    predictor = LossPredictor.of(problem)
    initial = problem.curve.initial_loss
    # At the initial loss the jump is jump_j; lower losses lose β_j per unit.
    assert predictor.after_jump(initial, 0, 2) == pytest.approx(initial + problem.curve.jump[2])
    lower = initial - 0.5
    slope = problem.curve.jump_slope
    assert slope is not None and slope[2] > 0.0
    expected = lower + problem.curve.jump[2] + slope[2] * (lower - initial)
    assert predictor.after_jump(lower, 0, 2) == pytest.approx(expected, rel=1e-12)
    # Composition: 0 → 1 → 2 is 0 → 2.
    via = predictor.after_jump(predictor.after_jump(lower, 0, 1), 1, 2)
    assert via == pytest.approx(predictor.after_jump(lower, 0, 2), rel=1e-12)
    assert predictor.highest_loss() == pytest.approx(initial + problem.curve.jump[-1])


@pytest.mark.parametrize("seed", range(8))
def test_exact_equals_the_plain_enumeration_with_jump_slopes(seed: int) -> None:
    assert_exact_is_the_enumeration(tiny(seed), solved(seed, "exact"))


@pytest.mark.parametrize("seed", range(8))
def test_pact_recomputes_and_stays_near_exact_with_jump_slopes(seed: int) -> None:
    assert_pact_near_exact(tiny(seed), solved(seed, "exact"), solved(seed, "pact"))


def test_slopes_that_make_pruning_lower_the_loss_are_input_errors() -> None:
    raw = random_problem(3, nodes=3, levels=3).model_dump()
    raw["curve"]["jump_slope"] = [0.0, 0.9, 0.0]  # level 2 would jump less than level 1 low down
    with pytest.raises(InputError) as caught:
        parse_problem(raw, "p.toml")
    assert caught.value.field == "curve.jump_slope"
    raw["curve"]["jump_slope"] = [0.0, 0.0]
    with pytest.raises(InputError, match="one entry per level"):
        parse_problem(raw, "p.toml")


def test_the_remaining_problem_composes_the_jump_maps() -> None:
    problem = tiny(1)
    predictor = LossPredictor.of(problem)
    observed = problem.curve.initial_loss - 0.4 + predictor.after_jump(0.0, 0, 1)
    rest = remaining_problem(problem, 1, observed, 0.0, 1)
    assert isinstance(rest, Problem)
    again = LossPredictor.of(rest)
    for loss in (observed, observed - 0.2):
        ours = again.after_jump(loss, 0, 1)
        assert ours == pytest.approx(predictor.after_jump(loss, 1, 2), rel=1e-12)


@pytest.mark.parametrize("above", [0.0, 0.3])
def test_the_remaining_problem_is_valid_where_the_jump_lines_tie_or_cross(above: float) -> None:
    # A profile writes equal jumps at the initial loss with different slopes (the running maximum
    # of its jump fit; the speeds fleet of the pact-predictor benchmark: 0.180 three times, slopes
    # -0.022, -0.383, -0.792). Re-planning from the initial loss itself (rounding may order the
    # ties either way) or from above it (an epoch that raised the loss; the lines cross there)
    # must still give a valid problem, with jumps that never fall.
    raw = random_problem(3, nodes=3, levels=4).model_dump()
    raw["curve"]["jump"] = [0.0, 0.18, 0.18, 0.18]
    raw["curve"]["jump_slope"] = [0.0, -0.022, -0.383, -0.792]
    problem = parse_problem(raw)
    observed = problem.curve.initial_loss + above
    rest = remaining_problem(problem, 0, observed, 0.0, 0)
    assert isinstance(rest, Problem)
    assert all(b >= a for a, b in itertools.pairwise(rest.curve.jump))
    predictor, again = LossPredictor.of(problem), LossPredictor.of(rest)
    for j in range(4):
        # Never below what the problem predicts; equal where its lines do not cross.
        ours, theirs = again.after_jump(observed, 0, j), predictor.after_jump(observed, 0, j)
        assert ours >= theirs - 1e-12
        if above == 0.0:
            assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-12)
    # Below the initial loss nothing crosses: the composed maps, as before.
    lower = remaining_problem(problem, 0, observed - above - 0.5, 0.0, 0)
    assert isinstance(lower, Problem)
    for j in range(4):
        loss = observed - above - 0.6
        ours = LossPredictor.of(lower).after_jump(loss, 0, j)
        assert ours == pytest.approx(predictor.after_jump(loss, 0, j), rel=1e-12)
