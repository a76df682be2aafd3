"""Diagnosing infeasible problems: the binding constraint and a sufficient, near-smallest
relaxation (checked by re-solving with it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pact_cases import hand_raw, random_problem

from leantrain.errors import InfeasibleError
from leantrain.pact import Decision, Problem, Solver, make_solver, parse_problem
from leantrain.pact.relax import SEARCH_EPSILON, ceil_figures, diagnose, horizon
from leantrain.registry import SOLVERS


def test_ceil_figures_rounds_up() -> None:
    assert ceil_figures(4123.41) == 4123.5
    assert ceil_figures(4123.5) == 4123.5
    assert ceil_figures(0.123456) == 0.12346
    assert ceil_figures(0.0) == 0.0


def test_deadline_binds_and_the_relaxed_deadline_suffices() -> None:
    problem = random_problem(0)
    full = make_solver("full").solve(problem)
    assert full.feasible
    tight = problem.with_target(deadline_s=0.8 * full.duration_s)
    assert not make_solver("full").solve(tight).feasible
    found = diagnose(tight, "full")
    assert found.binding == "deadline"
    assert found.deadline_s is not None and found.loss_by_deadline is not None
    # Sufficient, and within the search tolerance (plus rounding) of the true need.
    assert make_solver("full").solve(tight.with_target(deadline_s=found.deadline_s)).feasible
    assert found.deadline_s <= full.duration_s * (1 + 1e-4)
    # The alternative: the loss reachable by the original deadline.
    by_then = tight.with_target(loss=found.loss_by_deadline)
    assert make_solver("full").solve(by_then).feasible
    assert (
        not make_solver("full")
        .solve(by_then.with_target(loss=0.99 * found.loss_by_deadline))
        .feasible
    )
    error = found.error()
    assert isinstance(error, InfeasibleError) and error.binding == "deadline"
    assert "deadline_s >= " in found.message and "\n" not in found.message
    assert f"by {tight.target.deadline_s:g} s" in found.message


def test_memory_binds_when_no_node_holds_the_smallest_model() -> None:
    raw = hand_raw()
    for node in raw["node"]:
        node["memory_bytes"] = 1.0e5
    found = diagnose(parse_problem(raw), "full")
    assert found.binding == "memory"
    assert found.memory_bytes == 5.0e5
    assert "memory_bytes >= 5e+05" in found.message


def test_target_below_every_floor_binds_the_target() -> None:
    problem = random_problem(1).with_target(loss=0.04)  # below every c
    found = diagnose(problem, "greedy")
    assert found.binding == "target"
    assert "floor" in found.message
    assert found.loss_any_time is not None and found.loss_any_time > 0.05
    assert found.max_epochs is None


def test_too_few_epochs_binds_the_target_with_a_sufficient_max_epochs() -> None:
    raw = hand_raw()
    raw["target"] = {"loss": 0.3, "deadline_s": 1.0e4}
    raw["options"]["max_epochs"] = 2
    problem = parse_problem(raw)
    assert horizon(problem) < problem.target.deadline_s
    found = diagnose(problem, "full")
    assert found.binding == "target"
    assert found.max_epochs is not None and found.max_epochs > 2
    relaxed = problem.model_copy(
        update={"options": problem.options.model_copy(update={"max_epochs": found.max_epochs})}
    )
    assert make_solver("full").solve(relaxed).feasible
    assert found.loss_any_time is not None
    assert make_solver("full").solve(problem.with_target(loss=found.loss_any_time)).feasible


def test_no_data_binds() -> None:
    raw = hand_raw()
    for node in raw["node"]:
        node["samples"] = 0
    assert diagnose(parse_problem(raw), "full").binding == "data"


def test_a_feasible_problem_needs_no_relaxation() -> None:
    assert diagnose(parse_problem(hand_raw()), "full").binding == "none"


@pytest.mark.parametrize("name", ["full", "greedy", "prune-first"])
def test_every_diagnosis_is_one_line(name: str) -> None:
    problem = random_problem(4).with_target(deadline_s=0.5)
    found = diagnose(problem, name)
    assert found.binding in {"deadline", "target"}
    assert "\n" not in str(found.error())


def test_pact_relaxations_hold_at_the_requested_epsilon() -> None:
    """The searches run pact at a coarser ε; the bounds must still work at the finer one."""
    raw = hand_raw()
    raw["target"] = {"loss": 0.4, "deadline_s": 1.0}
    problem = parse_problem(raw)
    assert not make_solver("pact").solve(problem).feasible
    found = diagnose(problem, "pact")
    assert found.binding == "deadline"
    assert found.deadline_s is not None and found.loss_by_deadline is not None
    assert make_solver("pact").solve(problem.with_target(deadline_s=found.deadline_s)).feasible
    assert make_solver("pact").solve(problem.with_target(loss=found.loss_by_deadline)).feasible


class _FineOnly(Solver):
    """``pact`` below the searches' ε and nothing at or above it: what ``pact`` does on the
    instances its coarse rungs cannot plan (a tight epoch cap) while its fine ones can."""

    name = "fine-only"

    def search(self, problem: Problem) -> list[Decision] | None:
        if self.epsilon >= SEARCH_EPSILON:
            return None
        return make_solver("pact", self.epsilon).search(problem)


@pytest.fixture
def fine_only() -> Iterator[str]:
    SOLVERS.register(_FineOnly.name, _FineOnly)
    yield _FineOnly.name
    SOLVERS.unregister(_FineOnly.name)


def test_the_binding_is_decided_at_the_solvers_epsilon(fine_only: str) -> None:
    """A deadline-bound problem stays deadline-bound when the searches' coarser ε finds nothing
    (it was reported as bound by the target when every solve ran at ε_s = 0.05)."""
    raw = hand_raw()
    raw["target"] = {"loss": 0.4, "deadline_s": 1.0}
    problem = parse_problem(raw)
    assert not make_solver(fine_only, 0.01).solve(problem).feasible
    found = diagnose(problem, fine_only, 0.01)
    assert found.binding == "deadline"
    assert (found.solver, found.epsilon, found.search_epsilon) == (fine_only, 0.01, SEARCH_EPSILON)
    assert found.deadline_s is not None
    relaxed = problem.with_target(deadline_s=found.deadline_s)
    assert make_solver(fine_only, 0.01).solve(relaxed).feasible


def test_a_baselines_diagnosis_says_whether_pact_meets_the_problem() -> None:
    problem = random_problem(0)
    full = make_solver("full").solve(problem)
    tight = problem.with_target(deadline_s=0.8 * full.duration_s)
    meets = make_solver("pact").solve(tight).feasible
    found = diagnose(tight, "full", check_pact=True)
    assert found.pact_meets is meets
    assert found.message.endswith("; the pact solver meets the original problem") is meets
    assert diagnose(tight, "full").pact_meets is None  # not asked: no extra solve


def test_a_problem_infeasible_only_through_its_margin_needs_no_relaxation() -> None:
    # The plain problem is feasible; a margin of k·σ takes its planning target out of reach by
    # the deadline. The solver keeps part of the margin (docs/pact.md, 'Planning margin'), so
    # there is nothing to relax.
    plain = random_problem(0)
    found = make_solver("pact").solve(plain)
    assert found.feasible
    tight = plain.with_target(deadline_s=found.duration_s * 1.0001)
    curve = tight.curve.model_copy(update={"sigma": 0.3 * tight.target.loss})
    margined = tight.model_copy(update={"curve": curve})
    assert make_solver("pact").search(margined.for_planning()) is None
    assert make_solver("pact").solve(margined).notes["margin_kept"] < margined.options.margin
    assert diagnose(margined, "pact").binding == "none"


def test_with_a_margin_the_smallest_relaxation_is_that_of_the_target_itself() -> None:
    # Out of reach even without its margin: the diagnosis is that of ℓ* (the same figures as
    # the problem without a margin), and the relaxed problem has a plan, which keeps part of
    # the margin; the whole margin would need a longer deadline.
    plain = random_problem(0)
    found = make_solver("pact").solve(plain)
    hopeless = plain.with_target(deadline_s=found.duration_s * 0.2)  # 0.3 is out of reach too
    curve = hopeless.curve.model_copy(update={"sigma": 0.3 * hopeless.target.loss})
    margined = hopeless.model_copy(update={"curve": curve})
    without = diagnose(hopeless, "pact")
    relaxation = diagnose(margined, "pact")
    assert without.binding == relaxation.binding == "deadline"
    assert relaxation.deadline_s == without.deadline_s is not None
    assert relaxation.loss_by_deadline == without.loss_by_deadline
    assert relaxation.message.startswith(without.message)
    assert relaxation.message.endswith(
        f"keep little of the planning margin (1 x sigma {curve.sigma:g})"
    )
    assert "\n" not in relaxation.message
    relaxed = margined.with_target(deadline_s=relaxation.deadline_s)
    plan = make_solver("pact").solve(relaxed)
    assert plan.feasible and plan.notes["margin_kept"] < margined.options.margin
    assert make_solver("pact").search(relaxed.for_planning()) is None
