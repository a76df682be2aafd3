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
from typing import Any, ClassVar

from leantrain.pact.plan import Decision, Plan, evaluate
from leantrain.pact.problem import MARGIN_CAP, Problem
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

#: Halvings of the interval (between ℓ* and ℓ* − k·σ, or ℓ* − k·σ and ℓ* − 2k·σ) that holds the
#: largest margin a plan meets (:meth:`Solver.fit_margin`): it is found to 1/256 of k·σ.
MARGIN_HALVINGS = 8

#: The most of the largest margin a plan reaches that a plan keeps (docs/pact.md, 'Planning
#: margin'): at the largest one the plan sits on the edge of what is feasible, where
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

    def search_notes(self, problem: Problem) -> dict[str, Any]:
        """Notes on the search of ``problem``, one of those :meth:`solve` searched, that the
        plan made for it carries (none by default; the exact solver's counts)."""
        return {}

    def solve(self, problem: Problem, *, shrink: bool = True) -> Plan:
        """Search for a plan that reaches the planning target ℓ* − k·σ with every epoch counted
        at exp(−k·σ_p) of its predicted progress (docs/pact.md, 'Planning margin'), let
        interchangeable nodes take turns in it (which changes no figure:
        :func:`~leantrain.pact.rotation.take_turns`), then evaluate it with the plan formulas
        against that target, with the predicted progress (so that its losses are the
        predictions); a margin is recorded in the plan's notes (``planned_to_loss``, and
        ``planned_progress`` where it is below 1).

        The margin kept is never more than half the largest one a plan meets by the deadline
        (:meth:`fit_margin`), so that it grows with k: where the whole margin does not fit, or
        fits but twice it does not, the plan keeps half the largest that fits, noted as
        ``margin_kept`` (the k kept) with ``margin_largest`` (the largest k that fits).
        ``shrink=False`` keeps the whole margin (re-planning in ``execute``, which goes on with
        its previous plan rather than chase the edge of what is feasible)."""
        planned = problem.for_planning()
        began = time.perf_counter()
        decisions = self.search(planned)
        share, largest = 1.0, None
        if shrink and planned is not problem:
            planned, decisions, share, largest = self.fit_margin(problem, planned, decisions)
        if decisions:
            decisions = take_turns(planned, decisions)
        elapsed = time.perf_counter() - began
        notes: dict[str, Any] = self.search_notes(planned)
        progress = problem.planning_progress**share
        if planned is not problem:
            notes["planned_to_loss"] = planned.target.loss
            # Judged with the predicted progress: the same target, the curves as profiled.
            planned = problem.for_planning(planned.target.loss, 1.0)
        if progress < 1.0:
            notes["planned_progress"] = progress
        if largest is not None and decisions:
            notes["margin_kept"] = self._margin_k(problem, planned.target.loss, share)
            notes["margin_largest"] = largest
        return evaluate(
            planned,
            decisions or [],
            solver=self.name,
            epsilon=self.epsilon,
            solve_time_s=elapsed,
            optimal=self.exact,
            notes=notes,
        )

    @staticmethod
    def _margin_k(problem: Problem, loss: float, share: float) -> float:
        """The k of a margin that plans to ``loss`` with ``share`` of the progress margin."""
        sigma = problem.curve.sigma
        return (
            (problem.target.loss - loss) / sigma if sigma > 0.0 else share * problem.options.margin
        )

    def fit_margin(
        self, problem: Problem, planned: Problem, decisions: list[Decision] | None
    ) -> tuple[Problem, list[Decision] | None, float, float | None]:
        """The planning problem with the margin kept, its plan, the share of the margin kept
        and the k of the largest margin a plan meets (None when the whole margin is kept, or
        when no plan reaches even ℓ* itself: ``planned`` is then returned without a plan, so
        that the plan is judged against the whole margin).

        ``planned`` is the problem with the whole margin and ``decisions`` its plan (None when
        there is none). A plan at the largest margin sits on the edge of what the fleet can do
        by the deadline, where the cheapest plan is nearly the most expensive one, so a plan
        keeps at most :data:`MARGIN_KEPT_SHARE` of the largest margin. That margin lies between
        ℓ* and the whole margin when the whole margin has no plan, and between the whole margin
        and twice it (the loss no lower than :data:`~leantrain.pact.problem.MARGIN_CAP` × ℓ*)
        when the whole margin has a plan but twice it has none; it is found by
        :data:`MARGIN_HALVINGS` halvings (of the loss and of the progress margin's exponent).
        The margin kept thus never shrinks as k grows (docs/pact.md, 'Planning margin')."""
        target, progress = problem.target.loss, problem.planning_progress
        # The bracket: a margin a plan meets (its problem, plan and share of the progress
        # margin) and one that none meets (its planning loss and share).
        met_at: tuple[Problem, list[Decision] | None, float]
        if decisions:
            doubled = max(target - 2.0 * (target - planned.target.loss), MARGIN_CAP * target)
            if self.search(problem.for_planning(doubled, progress**2.0)):
                return planned, decisions, 1.0, None
            met_at, missed_at = (planned, decisions, 1.0), (doubled, 2.0)
        else:
            bare = problem.for_planning(target, 1.0)
            found = self.search(bare)
            if not found:
                return planned, None, 1.0, None
            met_at, missed_at = (bare, found, 0.0), (planned.target.loss, 1.0)
        (reached, met), best = self._halve(problem, met_at, missed_at)
        largest = self._margin_k(problem, reached, met)
        # Should a search miss the plan that a larger margin's plan proves to exist, the best
        # plan found that keeps no more than the whole margin goes on.
        fallback = best if best[2] <= 1.0 else met_at
        if met == 0.0:
            return (*fallback, largest)
        share = MARGIN_KEPT_SHARE * met
        kept = problem.for_planning(
            target - MARGIN_KEPT_SHARE * (target - reached), progress**share
        )
        found = self.search(kept)
        return (kept, found, share, largest) if found else (*fallback, largest)

    def _halve(
        self,
        problem: Problem,
        met_at: tuple[Problem, list[Decision] | None, float],
        missed_at: tuple[float, float],
    ) -> tuple[tuple[float, float], tuple[Problem, list[Decision] | None, float]]:
        """:data:`MARGIN_HALVINGS` halvings of the interval between a margin a plan meets
        (its problem, plan and share of the progress margin) and one it misses (planning loss
        and share): the largest margin met (its loss and share) and the problem, plan and share
        of the plan found there."""
        best = met_at
        reached, met = met_at[0].target.loss, met_at[2]
        unreached, missed = missed_at
        progress = problem.planning_progress
        for _ in range(MARGIN_HALVINGS):
            middle, share = 0.5 * (unreached + reached), 0.5 * (missed + met)
            trial = problem.for_planning(middle, progress**share)
            found = self.search(trial)
            if found:
                reached, met, best = middle, share, (trial, found, share)
            else:
                unreached, missed = middle, share
        return (reached, met), best


def margin_note(problem: Problem, plan: Plan) -> str:
    """One line saying that ``plan`` kept only part of ``problem``'s margin, and why, or "" when
    it kept all of it (what ``leantrain plan`` prints)."""
    kept = plan.notes.get("margin_kept")
    if kept is None:
        return ""
    k = problem.options.margin
    largest = float(plan.notes.get("margin_largest", 0.0))
    if problem.curve.sigma == 0.0:
        unit = "sigma_p"
        whole = (
            f"counting on {problem.planning_progress:.4g} of the predicted progress "
            f"(exp(-{k:g} x sigma_p {problem.curve.progress_sigma:.6g}))"
        )
        reach = f"the target {whole}"
        planned = f"planned with {float(plan.notes.get('planned_progress', 1.0)):.4g}"
    else:
        unit = "sigma"
        whole = (
            f"loss {problem.planning_loss:.6g} (the target less {k:g} x sigma "
            f"{problem.curve.sigma:.6g})"
        )
        reach = whole
        planned = f"planned to {float(plan.notes['planned_to_loss']):.6g}"
    # A margin that fits but is over half the largest that does is capped, not shrunk.
    why = (
        f"{whole} is more than half the largest margin a plan meets by the deadline "
        f"({largest:.3g} x {unit})"
        if largest >= k
        else f"no plan reaches {reach} by the deadline"
    )
    return f"margin: {why}; {planned}, keeping {float(kept):.3g} x {unit}"


def make_solver(name: str, epsilon: float = DEFAULT_EPSILON) -> Solver:
    """Build the solver registered as ``name`` in :data:`~leantrain.registry.SOLVERS`.

    Raises:
        UnknownNameError: No solver of that name is registered (a KeyError).
    """
    return SOLVERS.get(name)(epsilon)
