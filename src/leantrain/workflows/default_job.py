"""The embedded default job (``leantrain demo``): a comparison on bundled data, its report and a
small PACT plan.
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
    from leantrain.pact.plan import Plan
    from leantrain.pact.problem import Problem

__all__ = ["DemoOutcome", "demo", "demo_config"]


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
    """

    summaries: list[RunSummary]
    report: Path
    problem: Problem
    plan: Plan
    plan_path: Path
    picture: Path


def demo_config() -> RunConfig:
    """The embedded default job's run config (``leantrain/demo.toml``)."""
    from leantrain.config import parse_config

    return parse_config(tomllib.loads(_resource("demo.toml")), "demo.toml")


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
    """The embedded default job: DISTREAL against the FedAvg baselines on bundled MNIST and a
    heterogeneous, time-varying fleet (``demo.toml``, or ``config``), its report, then the
    ``pact`` plan of a small problem (``demo_problem.toml``) as ``plan.json`` and ``plan.png``
    in ``out``."""
    from leantrain.pact.figure import plot_plan
    from leantrain.pact.problem import parse_problem
    from leantrain.pact.solver import DEFAULT_EPSILON
    from leantrain.report import write_report

    config = config or demo_config()
    summaries = compare(
        config, "demo.toml", config.strategies, executors, out, resume=resume, progress=progress
    )
    report = write_report(out)
    raw = tomllib.loads(_resource("demo_problem.toml"))
    problem = parse_problem(raw, "demo_problem.toml")
    planned = solve("pact", problem, DEFAULT_EPSILON)
    plan_path = planned.save(out / "plan.json")
    picture = plot_plan(problem, planned, out / "plan.png")
    return DemoOutcome(summaries, report, problem, planned, plan_path, picture)
