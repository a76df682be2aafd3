"""PACT's energy saving on a realistic tiered fleet (docs/pact.md, 'Benchmark').

The problem is ``examples/pact/tiered-30.toml``: 30 nodes in three tiers (20 phones in three
classes, 7 Jetson-class edge boxes, 3 GPU servers), the data skewed to the phones, the repository's
MNIST CNN profiled at five pruning levels. Every registered solver plans it; the table gives each
plan's energy, duration, final loss, epochs and solve time, and the energy of each baseline
relative to ``pact`` (above 1: pact saves that factor). ``pact`` is also run at a few ε to show the
granularity trade-off (energy against solve time). ``exact`` runs only when it does not declare the
problem too large.

``python -m benchmarks pact_energy`` rewrites its section of ``docs/benchmarks.md``;
``python -m benchmarks.pact_energy --quick`` (coarse ε only, printed only) is for smoke runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from benchmarks._doc import write_section
from leantrain.pact import SOLVERS, Plan, Problem, load_problem, make_solver
from leantrain.pact.exact import SearchLimitError

COMMAND = "python -m benchmarks pact_energy"
PROBLEM = Path(__file__).resolve().parent.parent / "examples" / "pact" / "tiered-30.toml"
ORDER = ("pact", "exact", "no-prune", "greedy", "prune-first", "full")
EPSILONS = (0.05, 0.02, 0.01)
QUICK_EPSILONS = (0.05,)


def _skip(name: str, problem: Problem) -> str:
    check = getattr(SOLVERS[name], "too_large", None)
    return str(check(problem) or "") if callable(check) else ""


def _solve(name: str, problem: Problem, epsilon: float) -> Plan | str:
    """The plan, or why there is none (the exact search's limits)."""
    reason = _skip(name, problem)
    if reason:
        return reason
    try:
        return make_solver(name, epsilon).solve(problem)
    except SearchLimitError as error:
        return str(error)


def _row(name: str, plan: Plan, reference: Plan | None) -> str:
    if not plan.feasible:
        return f"| {name} | {plan.status} | | | | | {plan.solve_time_s:.3g} | |"
    ratio = ""
    if reference is not None and reference.feasible and name != reference.solver:
        ratio = f"**{plan.energy_j / reference.energy_j:.2f}x**"
    levels = sorted({epoch.pruning for epoch in plan.epochs})
    return (
        f"| {name} | {plan.status} | {plan.energy_j:,.1f} | {plan.duration_s:.1f} | "
        f"{plan.final_loss:.4f} | {len(plan.epochs)} ({', '.join(f'{r:g}' for r in levels)}) | "
        f"{plan.solve_time_s:.3g} | {ratio} |"
    )


def report(epsilons: Sequence[float]) -> str:
    """Solve the tiered problem with every solver and return the markdown section body."""
    problem = load_problem(PROBLEM)
    epsilon = min(epsilons)
    names = [n for n in ORDER if n in SOLVERS] + sorted(set(SOLVERS) - set(ORDER))
    plans: dict[str, Plan] = {}
    notes: list[str] = []
    for name in names:
        found = _solve(name, problem, epsilon)
        if isinstance(found, str):
            notes.append(f"`{name}` not run to the end: {found}.")
        else:
            plans[name] = found
    reference = plans.get("pact")
    phones = sum(n.samples for n in problem.node if n.name.startswith("phone"))
    total = sum(n.samples for n in problem.node)
    lines = [
        f"`examples/pact/tiered-30.toml`: {len(problem.node)} nodes (20 phones, 7 edge boxes, "
        f"3 servers), {phones:,} of {total:,} samples on the phones, {len(problem.levels)} "
        f"pruning levels, fractions {problem.options.data_fractions}; target loss "
        f"{problem.target.loss:g} by {problem.target.deadline_s:g} s within "
        f"{problem.options.max_epochs} epochs. ε = {epsilon:g} for every solver. *vs pact* is the "
        "solver's energy divided by pact's (above 1: pact saves that factor).",
        "",
        "| solver | status | energy (J) | duration (s) | final loss | epochs (levels ρ) "
        "| solve (s) | energy vs pact |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(name, plan, reference) for name, plan in plans.items()]
    lines += ["", *notes]
    if len(epsilons) > 1:
        lines += [
            "",
            "pact at several ε (a finer ε never gives a worse plan; solve time grows):",
            "",
            "| ε | energy (J) | duration (s) | final loss | epochs | solve (s) |",
            "|---|---|---|---|---|---|",
        ]
        for value in sorted(epsilons, reverse=True):
            plan = (
                plans["pact"]
                if value == epsilon and "pact" in plans
                else make_solver("pact", value).solve(problem)
            )
            energy = f"{plan.energy_j:,.3f}" if plan.feasible else plan.status
            lines.append(
                f"| {value:g} | {energy} | {plan.duration_s:.2f} | {plan.final_loss:.5f} | "
                f"{len(plan.epochs)} | {plan.solve_time_s:.3g} |"
            )
    if len(epsilons) > 1:
        lines += ["", *_epoch_cap_table(problem, max(epsilons))]
    return "\n".join(lines) + "\n"


def _epoch_cap_table(problem: Problem, epsilon: float) -> list[str]:
    """Energy relative to pact as epochs get scarcer (``max_epochs``), at a coarse ε."""
    lines = [
        f"Sensitivity to the epoch cap (ε = {epsilon:g}; baselines as energy relative to pact): "
        "the loss predictor counts every effective sample alike, so with epochs to spare pact "
        "re-trains the servers' and edge boxes' data and leaves the phones idle; fewer epochs "
        "force the phones (and their memory limits) in.",
        "",
        "| max_epochs | pact (J) | no-prune | greedy | prune-first | full |",
        "|---|---|---|---|---|---|",
    ]
    for cap in (problem.options.max_epochs, 12, 8):
        variant = problem.model_copy(
            update={"options": problem.options.model_copy(update={"max_epochs": cap})}
        )
        pact = make_solver("pact", epsilon).solve(variant)
        cells = [f"{pact.energy_j:,.1f}" if pact.feasible else "infeasible"]
        for name in ("no-prune", "greedy", "prune-first", "full"):
            plan = make_solver(name, epsilon).solve(variant)
            if not plan.feasible:
                cells.append("infeasible")
            elif pact.feasible:
                cells.append(f"{plan.energy_j / pact.energy_j:.2f}x")
            else:
                cells.append(f"{plan.energy_j:,.1f} J")
        lines.append(f"| {cap} | " + " | ".join(cells) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark (``--quick``: coarse ε, printed only, docs untouched)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pact_energy", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="coarse epsilon only, printed, docs untouched"
    )
    args = parser.parse_args([] if argv is None else list(argv))
    if args.quick:
        print(report(QUICK_EPSILONS))
        return
    write_section(
        "pact-energy", "PACT: energy saving on a tiered 30-node fleet", report(EPSILONS), COMMAND
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
