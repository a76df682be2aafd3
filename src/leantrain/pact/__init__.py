"""PACT (docs/pact.md): energy-minimal joint planning of pruning, node and data selection.

Solvers are found by name through :data:`SOLVERS` (:mod:`leantrain.registry`); every name here is
imported on first use, and none of the planner's modules imports torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantrain.lazy import lazy_exports

if TYPE_CHECKING:
    from leantrain.pact.plan import Decision, EpochFigures, Plan, decisions_of, evaluate, read_plan
    from leantrain.pact.predictor import Curve, LossPredictor
    from leantrain.pact.problem import Problem, load_problem, parse_problem
    from leantrain.pact.solver import DEFAULT_EPSILON, Solver, make_solver
    from leantrain.registry import SOLVERS

__all__ = [
    "DEFAULT_EPSILON",
    "SOLVERS",
    "Curve",
    "Decision",
    "EpochFigures",
    "LossPredictor",
    "Plan",
    "Problem",
    "Solver",
    "decisions_of",
    "evaluate",
    "load_problem",
    "make_solver",
    "parse_problem",
    "read_plan",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "leantrain.registry": ["SOLVERS"],
        "plan": ["Decision", "EpochFigures", "Plan", "decisions_of", "evaluate", "read_plan"],
        "predictor": ["Curve", "LossPredictor"],
        "problem": ["Problem", "load_problem", "parse_problem"],
        "solver": ["DEFAULT_EPSILON", "Solver", "make_solver"],
    },
)
