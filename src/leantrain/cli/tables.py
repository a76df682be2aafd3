"""What the commands print on stdout: tables of runs, fronts, plans, profiles and executions,
and the one-line totals (docs/cli.md, 'Progress and output')."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from leantrain import workflows

if TYPE_CHECKING:
    from leantrain.distreal.front import Front
    from leantrain.pact.execute import ExecutionResult
    from leantrain.pact.plan import Plan
    from leantrain.pact.problem import Problem
    from leantrain.pact.profile import ProfileResult

__all__ = [
    "console",
    "print_epochs",
    "print_execution",
    "print_front",
    "print_plan_line",
    "print_profile",
    "print_solvers",
    "print_table",
]


def console() -> Console:
    """The console of results: a terminal's width, or 200 columns for logs and CI (not
    terminals: tables get room instead of wrapping at 80 columns)."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def _numbers_table(title: str, columns: Sequence[str]) -> Table:
    """A table of figures: every column justified right."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    return table


def _plan_totals(problem: Problem, plan: Plan) -> str:
    """A plan's totals against the problem's target and deadline, in one line."""
    return (
        f"energy {plan.energy_j:.6g} J, duration {plan.duration_s:.6g} s "
        f"(deadline {problem.target.deadline_s:g} s), final loss {plan.final_loss:.6g} "
        f"(target {problem.target.loss:g}), {len(plan.epochs)} epochs, "
        f"solved in {plan.solve_time_s:.3g} s"
    )


def print_table(runs_dir: Path, targets: Sequence[float]) -> None:
    """The headline figures of every run in a run directory."""
    from leantrain.report import load_run_dir, summary_table

    header, rows = summary_table(load_run_dir(runs_dir), targets)
    table = Table(title=f"results in {runs_dir}")
    for column in header:
        table.add_column(column, no_wrap=column == header[0])
    for row in rows:
        table.add_row(*row)
    console().print(table)


def print_front(front: Front) -> None:
    """A Pareto front: cost, quality and dropout vector of every point."""
    table = Table(title=f"Pareto front of {front.identity.model} ({len(front.points)} points)")
    table.add_column("R", justify="right")
    table.add_column("Q", justify="right")
    table.add_column("d (" + ", ".join(front.identity.groups) + ")")
    for point in front.points:
        rates = ", ".join(f"{rate:.3f}" for rate in point.dropout)
        table.add_row(f"{point.cost:.4f}", f"{point.quality:.4f}", rates)
    console().print(table)


def print_plan_line(problem: Problem, plan: Plan) -> None:
    """The plan in one line: its totals against the problem's target and deadline."""
    print(f"{plan.solver} plan ({plan.status}): {_plan_totals(problem, plan)}")


def print_epochs(problem: Problem, plan: Plan) -> None:
    """A plan epoch by epoch, then its totals in one plain line."""
    table = _numbers_table(
        f"{plan.solver} plan ({plan.status}), {len(problem.node)} nodes",
        ("epoch", "start (s)", "end (s)", "pruning", "nodes", "energy (J)", "loss after"),
    )
    for epoch in plan.epochs:
        table.add_row(
            str(epoch.index + 1),
            f"{epoch.start_s:.2f}",
            f"{epoch.end_s:.2f}",
            f"{epoch.pruning:g}",
            str(len(epoch.fractions)),
            f"{epoch.energy_j:.2f}",
            f"{epoch.loss_after:.4f}",
        )
    table.add_section()
    table.add_row(
        "total",
        "",
        f"{plan.duration_s:.2f}",
        "",
        "",
        f"{plan.energy_j:.2f}",
        f"{plan.final_loss:.4f}",
    )
    console().print(table)
    print(_plan_totals(problem, plan))  # the totals again as one plain line, for logs and scripts


def print_solvers(problem: Problem, epsilon: float, comparison: workflows.SolverComparison) -> None:
    """Every solver's plan of one problem, against ``pact``'s energy."""
    reference = comparison.plans.get("pact")
    table = Table(title=f"solvers on {len(problem.node)} nodes, ε = {epsilon:g}")
    table.add_column("solver", no_wrap=True)
    for column in ("status", "energy (J)", "duration (s)", "final loss", "solve (s)", "vs pact"):
        table.add_column(column, justify="right")
    for name in workflows.solver_names():
        if name in comparison.skipped:
            table.add_row(name, "skipped", "", "", "", "", "")
            continue
        plan = comparison.plans[name]
        if not plan.feasible:
            table.add_row(name, plan.status, "", "", "", f"{plan.solve_time_s:.3g}", "")
            continue
        ratio = (
            f"{plan.energy_j / reference.energy_j:.3f}"
            if reference is not None and reference.feasible and reference.energy_j > 0.0
            else ""
        )
        table.add_row(
            name,
            plan.status,
            f"{plan.energy_j:.2f}",
            f"{plan.duration_s:.2f}",
            f"{plan.final_loss:.4f}",
            f"{plan.solve_time_s:.3g}",
            ratio,
        )
    console().print(table)
    for name, reason in comparison.skipped.items():
        print(f"note: {name} skipped: {reason}")


def print_profile(result: ProfileResult, model: str, method: str) -> None:
    """The measured figures and the fitted curve of every pruning level."""
    table = _numbers_table(
        f"profile of {model} ({method} training)",
        (
            "level",
            "MFLOP/sample",
            "bytes",
            "train memory",
            "a",
            "b",
            "c",
            "s0",
            "jump",
            "fit RMSE",
            "held-out RMSE",
            "max rel. err",
        ),
    )
    for level in result.levels:
        curve = level.fit.curve
        table.add_row(
            f"{level.pruning:g}",
            f"{level.flops_per_sample / 1e6:.4g}",
            f"{level.state_bytes:,}",
            f"{level.memory_bytes:,}",
            f"{curve.a:.4g}",
            f"{curve.b:.4g}",
            f"{curve.c:.4g}",
            f"{curve.s0:.4g}",
            f"{level.jump:.4f}",
            f"{level.fit.fit_rmse:.4f}",
            f"{level.fit.holdout_rmse:.4f}",
            f"{level.fit.holdout_max_rel_error:.1%}",
        )
    console().print(table)


def print_execution(result: ExecutionResult, title: str) -> None:
    """Predicted against realised figures of every executed epoch, then the totals
    and the execution's notes."""
    table = _numbers_table(
        title,
        (
            "epoch",
            "pruning",
            "nodes",
            "predicted loss",
            "one-step",
            "realised loss",
            "time (s)",
            "energy (J)",
        ),
    )
    for epoch in result.epochs:
        table.add_row(
            str(epoch.index + 1) + ("*" if epoch.replanned else ""),
            f"{epoch.pruning:g}",
            str(len(epoch.nodes)),
            f"{epoch.predicted_loss:.4f}",
            f"{epoch.one_step_loss:.4f}",
            f"{epoch.realised_loss:.4f}",
            f"{epoch.time_s:.2f}",
            f"{epoch.energy_j:.2f}",
        )
    console().print(table)
    errors = result.loss_errors()
    print(
        f"final loss {result.final_loss:.4f} (target {result.target_loss:.4g}: "
        f"{'met' if result.target_met else 'missed'}), time {result.time_s:.6g} s (deadline "
        f"{result.deadline_s:.6g} s), energy {result.energy_j:.6g} J; predicted-loss error "
        f"mean {errors['mean_abs']:.4f} ({errors['mean_rel']:.1%}), max {errors['max_abs']:.4f} "
        f"({errors['max_rel']:.1%})"
    )
    for note in result.notes:
        print(f"note: {note}")
