"""The planning flow: a PACT plan of a problem file, every solver for comparison, and the
diagnosis of an infeasible problem (docs/pact.md). It runs on the numpy-only planner.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from leantrain.errors import InputError
from leantrain.registry import SOLVERS
from leantrain.workflows.inputs import (
    ARGUMENTS,
    Origin,
    check_epsilon,
    figure_beside,
    refuse_overwrite,
)

if TYPE_CHECKING:
    from leantrain.pact.plan import Plan
    from leantrain.pact.problem import Problem
    from leantrain.pact.relax import Relaxation

__all__ = [
    "SOLVER_ORDER",
    "PlanOutcome",
    "SolverComparison",
    "compare_solvers",
    "plan",
    "solve",
    "solver_names",
]

#: The order of solvers in a comparison; any other registered solver follows, sorted.
SOLVER_ORDER = ("pact", "exact", "no-prune", "greedy", "prune-first", "full")


def solver_names() -> list[str]:
    """The registered solvers in comparison order (imports none of them)."""
    names = SOLVERS.names()
    return [n for n in SOLVER_ORDER if n in SOLVERS] + [n for n in names if n not in SOLVER_ORDER]


def solve(name: str, problem: Problem, epsilon: float, origin: Origin = ARGUMENTS) -> Plan:
    """``name``'s plan of ``problem``.

    Raises:
        InputError: The ``exact`` search hit its size or time limit on this problem (field
            ``solver``).
    """
    from leantrain.pact.exact import SearchLimitError
    from leantrain.pact.solver import make_solver

    try:
        return make_solver(name, epsilon).solve(problem)
    except SearchLimitError as error:
        raise origin.error("solver", f"{name}: {error}; the problem is too large for it") from None


def _skip_reason(name: str, problem: Problem) -> str:
    """Why solver ``name`` sits out a comparison on ``problem`` before it runs ("" when it does
    not): a solver may expose ``too_large(problem) -> str``, a size check up front."""
    check = getattr(SOLVERS.get(name), "too_large", None)
    return str(check(problem) or "") if callable(check) else ""


@dataclass(frozen=True)
class SolverComparison:
    """Every registered solver on one problem.

    Attributes:
        plans: Solver name to its plan, in :func:`solver_names` order.
        skipped: Solver name to why it did not run.
    """

    plans: dict[str, Plan]
    skipped: dict[str, str]


def compare_solvers(
    problem: Problem,
    epsilon: float,
    chosen: str | None = None,
    chosen_plan: Plan | None = None,
    origin: Origin = ARGUMENTS,
) -> SolverComparison:
    """Solve ``problem`` with every registered solver (``chosen``'s plan reused when given)."""
    plans: dict[str, Plan] = {}
    skipped: dict[str, str] = {}
    for name in solver_names():
        reason = "" if name == chosen else _skip_reason(name, problem)
        if reason:
            skipped[name] = reason
        elif name == chosen and chosen_plan is not None:
            plans[name] = chosen_plan
        else:
            try:
                plans[name] = solve(name, problem, epsilon, origin)
            except InputError as error:
                skipped[name] = error.message
    return SolverComparison(plans, skipped)


@dataclass(frozen=True)
class PlanOutcome:
    """What :func:`plan` found and wrote.

    Attributes:
        problem: The problem solved.
        plan: The chosen solver's plan (with the problem file, and for an infeasible problem the
            diagnosis, in its notes), written to ``path``.
        path: The plan JSON.
        picture: The plan's figure (None when the plan is infeasible: nothing to draw).
        epsilon: The solvers' granularity.
        comparison: Every solver's plan, when asked for.
        comparison_picture: Their figure, when asked for.
        relaxation: Why the problem is infeasible and the smallest relaxation found, or None
            when the plan is feasible.
    """

    problem: Problem
    plan: Plan
    path: Path
    picture: Path | None
    epsilon: float
    comparison: SolverComparison | None
    comparison_picture: Path | None
    relaxation: Relaxation | None


def plan(
    problem_path: Path,
    *,
    solver: str = "pact",
    epsilon: float | None = None,
    out: Path = Path("plan.json"),
    compare: bool = False,
    force: bool = False,
    origin: Origin = ARGUMENTS,
) -> PlanOutcome:
    """Plan an energy-minimal training of the problem at ``problem_path`` (docs/pact.md).

    The plan goes to ``out`` (naming its problem file, so that :func:`execute` finds it) and its
    figure beside it as ``<stem>.png``; with ``compare``, every solver runs too and their figure
    goes to ``<stem>-compare.png``. An infeasible plan is still written, with the diagnosis in
    its notes, and :attr:`PlanOutcome.relaxation` says what binds.

    Args:
        problem_path: The problem file (TOML).
        solver: The registered solver.
        epsilon: Its granularity; None for the default.
        out: The plan file (JSON).
        compare: Also run every registered solver.
        force: Overwrite existing outputs.
        origin: Where the values came from, for errors.

    Raises:
        InputError: An unknown solver, a bad ε, outputs that exist, or a bad problem file.
    """
    from leantrain.pact.figure import plot_comparison, plot_plan
    from leantrain.pact.lagrange import certify
    from leantrain.pact.problem import load_problem
    from leantrain.pact.solver import DEFAULT_EPSILON

    if solver not in SOLVERS:
        known = ", ".join(solver_names())
        raise origin.error("solver", f"unknown solver '{solver}'; known: {known}")
    epsilon = DEFAULT_EPSILON if epsilon is None else epsilon
    check_epsilon(epsilon, origin)
    picture = figure_beside(out, "", "plan (JSON)", origin)
    comparison_picture = out.with_name(f"{out.stem}-compare.png") if compare else None
    refuse_overwrite(
        [out, picture, *((comparison_picture,) if comparison_picture else ())], force, origin
    )
    problem = load_problem(problem_path)
    chosen = solve(solver, problem, epsilon, origin)
    comparison = compare_solvers(problem, epsilon, solver, chosen, origin) if compare else None
    if comparison is not None and comparison_picture is not None:
        plot_comparison(problem, comparison.plans, comparison_picture)
    relaxation = None if chosen.feasible else _diagnose(problem, solver, epsilon)
    # An infeasible plan carries the diagnosis instead of the solver's notes.
    notes = dict(chosen.notes) if relaxation is None else relaxation.notes()
    # The plan names its problem file, so that `execute` finds it without being told.
    notes["problem"] = str(problem_path.resolve())
    written = replace(chosen, notes=notes)
    if relaxation is None:  # lower_bound_j: the certified gap (docs/pact.md, 'Certified quality')
        written = certify(problem, written)
    written.save(out)
    drawn = plot_plan(problem, written, picture) if relaxation is None else None
    return PlanOutcome(
        problem, written, out, drawn, epsilon, comparison, comparison_picture, relaxation
    )


def _diagnose(problem: Problem, solver: str, epsilon: float) -> Relaxation:
    """Why ``solver`` finds no plan of ``problem`` (docs/pact.md, 'Exit codes and relaxations');
    for a baseline, the diagnosis also says whether ``pact`` meets the original problem."""
    from leantrain.pact.relax import diagnose

    # Relaxation searches run many solves: use pact for exact, the solver itself otherwise.
    searcher = "pact" if solver == "exact" else solver
    return diagnose(problem, searcher, epsilon, check_pact=True)
