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

__all__ = ["DEFAULT_EPSILON", "SOLVERS", "Solver", "make_solver"]

#: The default granularity of the ``pact`` solver's approximations.
DEFAULT_EPSILON = 0.01


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

    def solve(self, problem: Problem) -> Plan:
        """Search for a plan that reaches the planning target ℓ* − k·σ (docs/pact.md, 'Planning
        margin'), let interchangeable nodes take turns in it (which changes no figure:
        :func:`~leantrain.pact.rotation.take_turns`), then evaluate it with the plan formulas
        against that target; a margin is recorded in the plan's notes (``planned_to_loss``)."""
        planned = problem.for_planning()
        began = time.perf_counter()
        decisions = self.search(planned)
        if decisions:
            decisions = take_turns(planned, decisions)
        elapsed = time.perf_counter() - began
        notes = {} if planned is problem else {"planned_to_loss": planned.target.loss}
        return evaluate(
            planned,
            decisions or [],
            solver=self.name,
            epsilon=self.epsilon,
            solve_time_s=elapsed,
            optimal=self.exact,
            notes=notes,
        )


def make_solver(name: str, epsilon: float = DEFAULT_EPSILON) -> Solver:
    """Build the solver registered as ``name`` in :data:`~leantrain.registry.SOLVERS`.

    Raises:
        UnknownNameError: No solver of that name is registered (a KeyError).
    """
    return SOLVERS.get(name)(epsilon)
