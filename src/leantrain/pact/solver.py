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
        """Search for a plan that reaches the planning target ℓ* − k·σ with every epoch counted
        at exp(−k·σ_p) of its predicted progress (docs/pact.md, 'Planning margin'), let
        interchangeable nodes take turns in it (which changes no figure:
        :func:`~leantrain.pact.rotation.take_turns`), then evaluate it with the plan formulas
        against that target, with the predicted progress (so that its losses are the
        predictions); a margin is recorded in the plan's notes (``planned_to_loss``, and
        ``planned_progress`` where it is below 1).

        Where no plan meets the whole margin but one reaches ℓ* itself, the margin shrinks to
        half the largest that a plan meets (:meth:`shrink_margin`), noted as ``margin_kept``
        (the k kept); ``shrink=False`` keeps the whole margin (re-planning in ``execute``,
        which goes on with its previous plan rather than chase the edge of what is
        feasible)."""
        planned = problem.for_planning()
        began = time.perf_counter()
        decisions = self.search(planned)
        shrunk = shrink and not decisions and planned is not problem
        share = 1.0
        if shrunk:
            planned, decisions, share = self.shrink_margin(problem, planned)
        if decisions:
            decisions = take_turns(planned, decisions)
        elapsed = time.perf_counter() - began
        notes: dict[str, float] = {}
        progress = problem.planning_progress**share
        if planned is not problem:
            notes["planned_to_loss"] = planned.target.loss
            # Judged with the predicted progress: the same target, the curves as profiled.
            planned = problem.for_planning(planned.target.loss, 1.0)
        if progress < 1.0:
            notes["planned_progress"] = progress
        if shrunk and decisions:
            sigma = problem.curve.sigma
            notes["margin_kept"] = (
                (problem.target.loss - planned.target.loss) / sigma
                if sigma > 0.0
                else share * problem.options.margin
            )
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
    ) -> tuple[Problem, list[Decision] | None, float]:
        """The planning problem with the shrunk margin, its plan and the share of the margin
        kept: no plan when none reaches ℓ* itself (``planned`` and the whole margin are then
        returned, so that the plan is judged against the whole margin). Else the largest share
        of the margin a plan meets is found by :data:`MARGIN_HALVINGS` halvings (of the loss
        between ``planned``'s and ℓ*, and of the progress margin's exponent), and the plan keeps
        :data:`MARGIN_KEPT_SHARE` of it (or all of it, should a search not find the plan that
        the larger margin's plan proves to exist)."""
        target = problem.target.loss
        progress = problem.planning_progress
        bare = problem.for_planning(target, 1.0)
        decisions = self.search(bare)
        if not decisions:
            return planned, None, 1.0
        best: tuple[Problem, list[Decision] | None, float] = (bare, decisions, 0.0)
        unreached, reached = planned.target.loss, target
        missed, met = 1.0, 0.0  # shares of the margin
        for _ in range(MARGIN_HALVINGS):
            middle, share = 0.5 * (unreached + reached), 0.5 * (missed + met)
            trial = problem.for_planning(middle, progress**share)
            found = self.search(trial)
            if found:
                reached, met, best = middle, share, (trial, found, share)
            else:
                unreached, missed = middle, share
        if met == 0.0:
            return best
        share = MARGIN_KEPT_SHARE * met
        kept = problem.for_planning(
            target - MARGIN_KEPT_SHARE * (target - reached), progress**share
        )
        found = self.search(kept)
        return (kept, found, share) if found else best


def margin_note(problem: Problem, plan: Plan) -> str:
    """One line saying that ``plan`` kept only part of ``problem``'s margin, or "" when it kept
    all of it (what ``leantrain plan`` prints)."""
    kept = plan.notes.get("margin_kept")
    if kept is None:
        return ""
    if problem.curve.sigma == 0.0:
        return (
            f"margin: no plan reaches the target counting on {problem.planning_progress:.4g} of "
            f"the predicted progress (exp(-{problem.options.margin:g} x sigma_p "
            f"{problem.curve.progress_sigma:.6g})) by the deadline; planned with "
            f"{float(plan.notes.get('planned_progress', 1.0)):.4g}, keeping {float(kept):.3g} x "
            "sigma_p"
        )
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
