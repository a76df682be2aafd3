"""PACT (SPEC 5): energy-minimal joint planning of pruning, node and data selection."""

from __future__ import annotations

# Importing the solver modules registers every solver under its --solver name.
from leantrain.pact import baselines as _baselines  # noqa: F401
from leantrain.pact import dp as _dp  # noqa: F401
from leantrain.pact import exact as _exact  # noqa: F401
from leantrain.pact.plan import (
    Decision,
    EpochFigures,
    Plan,
    decisions_of,
    evaluate,
    read_plan,
)
from leantrain.pact.predictor import Curve, LossPredictor
from leantrain.pact.problem import Problem, load_problem, parse_problem
from leantrain.pact.solver import DEFAULT_EPSILON, SOLVERS, Solver, make_solver, register_solver

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
    "register_solver",
]
