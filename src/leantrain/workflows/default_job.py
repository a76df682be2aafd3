"""The embedded default job (``leantrain demo``): a comparison on bundled data, its report, and a
PACT plan of a profiled problem executed with real training.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from leantrain.workflows.federated import ExecutorFactory, RoundProgressFactory, compare
from leantrain.workflows.planning import solve

if TYPE_CHECKING:
    from leantrain.config import RunConfig
    from leantrain.fl.records import RunSummary
    from leantrain.pact.execute import ExecutionResult
    from leantrain.pact.plan import Plan
    from leantrain.pact.problem import Problem

__all__ = ["DemoOutcome", "demo", "demo_config", "demo_pact_config", "demo_problem"]


@dataclass(frozen=True)
class DemoOutcome:
    """What :func:`demo` ran and wrote.

    Attributes:
        summaries: The strategies' summaries.
        report: The run directory's ``report.md``.
        problem: The embedded PACT problem.
        plan: Its ``pact`` plan, written to ``plan_path``.
        plan_path: ``plan.json`` in the run directory.
        picture: ``plan.png`` beside it.
        execution: The plan executed with real training on ``demo_pact.toml``'s fleet.
        execution_picture: ``execution.png`` (predicted against realised loss), beside
            ``execution.json``.
    """

    summaries: list[RunSummary]
    report: Path
    problem: Problem
    plan: Plan
    plan_path: Path
    picture: Path
    execution: ExecutionResult
    execution_picture: Path


def demo_config() -> RunConfig:
    """The embedded default job's run config (``leantrain/demo.toml``)."""
    from leantrain.config import parse_config

    return parse_config(tomllib.loads(_resource("demo.toml")), "demo.toml")


def demo_pact_config() -> RunConfig:
    """The run config the demo's PACT problem was profiled from and is executed on
    (``leantrain/demo_pact.toml``)."""
    from leantrain.config import parse_config

    return parse_config(tomllib.loads(_resource("demo_pact.toml")), "demo_pact.toml")


def demo_problem() -> Problem:
    """The demo's PACT problem (``leantrain/demo_problem.toml``): ``leantrain profile`` of
    ``demo_pact.toml`` with a binding target and deadline, packaged by
    ``scripts/package_demo_problem.py`` (docs/pact.md, 'The demo problem')."""
    from leantrain.pact.problem import parse_problem

    return parse_problem(tomllib.loads(_resource("demo_problem.toml")), "demo_problem.toml")


def _resource(name: str) -> str:
    return importlib.resources.files("leantrain").joinpath(name).read_text("utf-8")


def demo(
    out: Path,
    executors: ExecutorFactory,
    *,
    config: RunConfig | None = None,
    resume: bool = False,
    progress: RoundProgressFactory | None = None,
) -> DemoOutcome:
    """The embedded default job: DISTREAL against the baselines on bundled MNIST and a
    heterogeneous, time-varying fleet (``demo.toml``, or ``config``) and its report; then the
    ``pact`` plan of a profiled problem (``demo_problem.toml``) as ``plan.json`` and
    ``plan.png``, executed with real training on the fleet it was profiled from
    (``demo_pact.toml``) as ``execution.json`` and ``execution.png``, all in ``out``."""
    from leantrain.fl.setup import build_setup
    from leantrain.pact.execute import execute_plan, write_execution
    from leantrain.pact.figure import plot_plan
    from leantrain.pact.solver import DEFAULT_EPSILON
    from leantrain.report import write_report

    config = config or demo_config()
    summaries = compare(
        config, "demo.toml", config.strategies, executors, out, resume=resume, progress=progress
    )
    report = write_report(out)
    problem = demo_problem()
    planned = solve("pact", problem, DEFAULT_EPSILON)
    plan_path = planned.save(out / "plan.json")
    picture = plot_plan(problem, planned, out / "plan.png")
    setup = build_setup(demo_pact_config(), "demo_pact.toml")
    executor = executors(setup)
    try:
        execution = execute_plan(
            planned,
            problem,
            setup,
            plan_source=plan_path,
            problem_source="demo_problem.toml",
            executor=executor,
        )
    finally:
        executor.close()
    _, execution_picture = write_execution(execution, out)
    return DemoOutcome(
        summaries, report, problem, planned, plan_path, picture, execution, execution_picture
    )
