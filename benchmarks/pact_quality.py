"""PACT plan quality against the exact optimum (SPEC 5).

50 seeded random small instances (:func:`leantrain.pact.instances.random_problem`: 3-7 nodes,
3-4 pruning levels, fractions {0.25, 0.5, 1}, targets a few epochs of the fleet away, deadlines
from 0.7x to 2x a reference plan's duration, up to 18 epochs). ``exact`` solves each one under a
time cap; for every instance it finishes, the table gives each solver's energy gap to the optimum:
``pact`` at the default ε and the baselines ``full``, ``prune-first``, ``greedy`` and ``no-prune``
(those registered; missing ones are skipped). Goals for ``pact``: mean gap <= 1%, max <= 3%,
never infeasible where ``exact`` is feasible.

``python -m benchmarks pact_quality`` rewrites its section of ``docs/benchmarks.md``;
``python -m benchmarks.pact_quality --quick`` (8 instances, short cap, printed only) is for smoke
runs.
"""

from __future__ import annotations

import argparse
import importlib
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks._doc import write_section
from leantrain.pact import DEFAULT_EPSILON, SOLVERS, Plan, Problem, make_solver
from leantrain.pact.exact import ExactSolver, SearchLimitError
from leantrain.pact.instances import random_problem

COMMAND = "python -m benchmarks pact_quality"
SOLVER_ORDER = ("pact", "no-prune", "greedy", "prune-first", "full")
INSTANCES, CAP_S = 50, 60.0
QUICK_INSTANCES, QUICK_CAP_S = 8, 10.0


def instance(seed: int) -> Problem:
    """Instance ``seed``: its size drawn from its own seeded generator."""
    rng = np.random.default_rng(1000 + seed)
    nodes, levels = int(rng.integers(3, 8)), int(rng.integers(3, 5))
    return random_problem(seed, nodes=nodes, levels=levels, fractions=3)


@dataclass
class Outcome:
    """One instance: the exact plan (or why none) and every solver's plan."""

    seed: int
    nodes: int
    levels: int
    exact: Plan | None
    exact_s: float
    reason: str = ""
    plans: dict[str, Plan] = field(default_factory=dict)


def _load_baselines() -> None:
    try:
        importlib.import_module("leantrain.pact.baselines")
    except ModuleNotFoundError as error:
        if error.name != "leantrain.pact.baselines":
            raise


def run(count: int, cap_s: float) -> list[Outcome]:
    """Solve ``count`` instances with exact (capped at ``cap_s``) and every other solver."""
    _load_baselines()
    names = [n for n in SOLVER_ORDER if n in SOLVERS]
    out = []
    for seed in range(count):
        problem = instance(seed)
        began = time.perf_counter()
        exact: Plan | None = None
        reason = ""
        try:
            exact = ExactSolver(DEFAULT_EPSILON, max_seconds=cap_s).solve(problem)
        except SearchLimitError as error:
            reason = str(error)
        took = time.perf_counter() - began
        outcome = Outcome(
            seed, len(problem.node), len(problem.levels), exact, took, reason,
            {name: make_solver(name, DEFAULT_EPSILON).solve(problem) for name in names},
        )  # fmt: skip
        out.append(outcome)
        verdict = reason or (
            f"{exact.energy_j:.6g} J" if exact and exact.feasible else "infeasible"
        )
        print(
            f"instance {seed}: {outcome.nodes} nodes, exact {verdict} in {took:.1f} s", flush=True
        )
    return out


def _stats(name: str, outcomes: Sequence[Outcome]) -> str:
    gaps: list[float] = []
    missed = 0
    for o in outcomes:
        if o.exact is None or not o.exact.feasible:
            continue
        plan = o.plans[name]
        if not plan.feasible:
            missed += 1
            continue
        gaps.append(plan.energy_j / o.exact.energy_j - 1.0)
    times = [o.plans[name].solve_time_s for o in outcomes]
    if not gaps:
        return f"| {name} | 0 | {missed} | | | | {statistics.median(times):.3g} |"
    within = sum(g <= 0.01 for g in gaps) / len(gaps)
    return (
        f"| {name} | {len(gaps)} | {missed} | {statistics.fmean(gaps):.4%} | {max(gaps):.4%} | "
        f"{within:.0%} | {statistics.median(times):.3g} / {max(times):.3g} |"
    )


def report(outcomes: Sequence[Outcome], cap_s: float) -> str:
    """The markdown section."""
    finished = [o for o in outcomes if o.exact is not None]
    feasible = [o for o in finished if o.exact is not None and o.exact.feasible]
    names = [n for n in SOLVER_ORDER if outcomes and n in outcomes[0].plans]
    exact_times = [o.exact_s for o in finished]
    pact_bad = sum(
        1
        for o in feasible
        if "pact" in o.plans and not o.plans["pact"].feasible  # never, we hope
    )
    body = (
        f"{len(outcomes)} seeded random instances (`leantrain.pact.instances.random_problem`, seed "
        "0..N-1, sizes drawn per seed): 3-7 nodes, 3-4 pruning levels, fractions {0.25, 0.5, 1}, "
        f"6-18 epochs allowed; ε = {DEFAULT_EPSILON} for every solver. `exact` runs under a "
        f"{cap_s:g} s cap (its incumbent is the `pact` plan).\n\n"
        f"**exact finished {len(finished)} of {len(outcomes)} instances** "
        f"({len(feasible)} feasible, {len(finished) - len(feasible)} proven infeasible); "
        f"its time: median {statistics.median(exact_times) if exact_times else math.nan:.2f} s, "
        f"max {max(exact_times) if exact_times else math.nan:.1f} s."
    )
    unfinished = [o for o in outcomes if o.exact is None]
    if unfinished:
        body += " Not finished: " + ", ".join(f"#{o.seed} ({o.nodes} nodes)" for o in unfinished)
        body += "."
    body += (
        "\n\nEnergy gap to the optimum over the instances where exact finished and is feasible "
        "(*infeasible*: the solver found no plan where one exists):\n\n"
        "| solver | instances | infeasible | mean gap | max gap | within 1% | "
        "solve time (s), median / max |\n|---|---|---|---|---|---|---|\n"
        + "\n".join(_stats(name, outcomes) for name in names)
        + "\n\nGoals for `pact`: mean <= 1%, max <= 3%, never infeasible where exact is feasible "
        f"({pact_bad} such instances).\n"
    )
    return body


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pact_quality", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="8 instances, printed only")
    args = parser.parse_args([] if argv is None else list(argv))
    if args.quick:
        print(report(run(QUICK_INSTANCES, QUICK_CAP_S), QUICK_CAP_S))
        return
    write_section(
        "pact-quality",
        "PACT: plan quality against the exact optimum",
        report(run(INSTANCES, CAP_S), CAP_S),
        COMMAND,
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
