"""The solver interface: every PACT solver and baseline plugs in here.

See docs/pact.md, 'The solvers'. A solver implements :meth:`Solver.search`, returning the
decisions of its best plan (or None when it finds none); :meth:`Solver.solve` is the template
method that times the search and builds the :class:`~leantrain.pact.plan.Plan` through
:func:`~leantrain.pact.plan.evaluate`, so every reported figure comes from the plan formulas
(docs/pact.md, 'The model'), never from a solver's own bookkeeping. Solvers are found by name
through :data:`~leantrain.registry.SOLVERS`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import ClassVar

from leantrain.pact.plan import Decision, Plan, evaluate
from leantrain.pact.problem import Problem
from leantrain.pact.rotation import take_turns
from leantrain.registry import SOLVERS

__all__ = [
    "DEFAULT_EPSILON",
    "MARGIN_HALVINGS",
    "MARGIN_KEPT_SHARE",
    "SOLVERS",
    "Solver",
    "make_solver",
    "margin_note",
]

#: The default granularity of the ``pact`` solver's approximations.
DEFAULT_EPSILON = 0.01

#: Halvings of the interval between ℓ* − k·σ and ℓ* when the margin must shrink
#: (:meth:`Solver.shrink_margin`): the margin kept is found to 1/256 of k·σ.
MARGIN_HALVINGS = 8

#: The share of the largest margin a plan reaches that a shrunk margin keeps (docs/pact.md,
#: 'Planning margin'): at the largest one the plan sits on the edge of what is feasible, where
#: the cheapest plan is the most that the fleet can do (measured on the pact-predictor
#: benchmark's speeds fleet: 1,924.5 J at the largest margin that fits, 235.7 J at half of it).
MARGIN_KEPT_SHARE = 0.5


class Solver(ABC):
    """A planning method.

    Args:
        epsilon: The granularity knob (used by solvers that approximate; recorded by all).

    Attributes:
        name: The registry name (a class attribute; see :data:`~leantrain.registry.SOLVERS`).
        exact: Whether a plan it returns is the true optimum (status ``optimal``).
    """

    name: ClassVar[str]
    exact: ClassVar[bool] = False

    def __init__(self, epsilon: float = DEFAULT_EPSILON) -> None:
        if not epsilon > 0.0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.epsilon = epsilon

    @abstractmethod
    def search(self, problem: Problem) -> list[Decision] | None:
        """The decisions of the best plan found that meets the target by the deadline, or None."""

    def solve(self, problem: Problem, *, shrink: bool = True) -> Plan:
        """Search for a plan that reaches the planning target ℓ* − k·σ (docs/pact.md, 'Planning
        margin'), let interchangeable nodes take turns in it (which changes no figure:
        :func:`~leantrain.pact.rotation.take_turns`), then evaluate it with the plan formulas
        against that target; a margin is recorded in the plan's notes (``planned_to_loss``).

        Where no plan reaches ℓ* − k·σ but one reaches ℓ*, the margin shrinks to half the
        largest that a plan reaches (:meth:`shrink_margin`), noted as ``margin_kept`` (the k
        kept);
        ``shrink=False`` keeps the whole margin (re-planning in ``execute``, which goes on with
        its previous plan rather than chase the edge of what is feasible)."""
        planned = problem.for_planning()
        began = time.perf_counter()
        decisions = self.search(planned)
        shrunk = shrink and not decisions and planned is not problem
        if shrunk:
            planned, decisions = self.shrink_margin(problem, planned)
        if decisions:
            decisions = take_turns(planned, decisions)
        elapsed = time.perf_counter() - began
        notes: dict[str, float] = (
            {} if planned is problem else {"planned_to_loss": planned.target.loss}
        )
        if shrunk and decisions:
            kept = (problem.target.loss - planned.target.loss) / problem.curve.sigma
            notes["margin_kept"] = kept
        return evaluate(
            planned,
            decisions or [],
            solver=self.name,
            epsilon=self.epsilon,
            solve_time_s=elapsed,
            optimal=self.exact,
            notes=notes,
        )

    def shrink_margin(
        self, problem: Problem, planned: Problem
    ) -> tuple[Problem, list[Decision] | None]:
        """The planning problem with the shrunk margin, and its plan: none when no plan reaches
        ℓ* itself (``planned`` is then returned as it is, so that the diagnosis of the plan is
        that of the whole margin). Else the largest margin a plan reaches is found by
        :data:`MARGIN_HALVINGS` halvings between ``planned``'s loss and ℓ*, and the plan keeps
        :data:`MARGIN_KEPT_SHARE` of it (or all of it, should a search not find the plan that
        the larger margin's plan proves to exist)."""
        target = problem.target.loss
        bare = problem.for_planning(target)
        decisions = self.search(bare)
        if not decisions:
            return planned, None
        best: tuple[Problem, list[Decision] | None] = (bare, decisions)
        unreached, reached = planned.target.loss, target
        for _ in range(MARGIN_HALVINGS):
            middle = 0.5 * (unreached + reached)
            trial = problem.for_planning(middle)
            found = self.search(trial)
            if found:
                reached, best = middle, (trial, found)
            else:
                unreached = middle
        if reached == target:
            return best
        kept = problem.for_planning(target - MARGIN_KEPT_SHARE * (target - reached))
        found = self.search(kept)
        return (kept, found) if found else best


def margin_note(problem: Problem, plan: Plan) -> str:
    """One line saying that ``plan`` kept only part of ``problem``'s margin, or "" when it kept
    all of it (what ``leantrain plan`` prints)."""
    kept = plan.notes.get("margin_kept")
    if kept is None:
        return ""
    return (
        f"margin: no plan reaches loss {problem.planning_loss:.6g} (the target less "
        f"{problem.options.margin:g} x sigma {problem.curve.sigma:.6g}) by the deadline; planned "
        f"to {float(plan.notes['planned_to_loss']):.6g}, keeping {float(kept):.3g} x sigma"
    )


def make_solver(name: str, epsilon: float = DEFAULT_EPSILON) -> Solver:
    """Build the solver registered as ``name`` in :data:`~leantrain.registry.SOLVERS`.

    Raises:
        UnknownNameError: No solver of that name is registered (a KeyError).
    """
    return SOLVERS.get(name)(epsilon)
