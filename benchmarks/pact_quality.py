"""PACT plan quality against the exact optimum, on three families of small instances
(docs/pact.md, 'The time-expanded graph and ε').

Seeded random instances (:func:`leantrain.pact.instances.random_problem`), 50 of 3-7 nodes per
family:

* **benign**: 3-4 pruning levels, fractions {0.25, 0.5, 1}, deadlines 0.7x-2x a reference plan's
  duration, the epoch cap twice the reference plan's epochs plus 2;
* **tight**: 3 levels, fractions {1} or {0.5, 1} (alternately), deadlines 0.4x-0.9x, reference
  plans of 3-8 epochs;
* **epoch-capped**: 3-4 levels, fractions {0.25, 0.5, 1}, deadlines 1x-2x, the epoch cap the
  reference plan's epochs plus 0-1, so that it binds (the table says at how many optima it does);
* **tight, 8 nodes**: the tight family with 8 nodes (20 instances), for ``exact``'s reach (goal:
  every one within 60 s).

``exact`` solves each one under a time cap; for every instance it finishes, the tables give each
solver's energy gap to the optimum (``pact`` at the default ε and the baselines registered), and
the gap of the certified lower bound (:func:`leantrain.pact.lagrange.lower_bound`) below it.
Goals for ``pact``: mean gap <= 0.5%, max <= 2% in every family, never infeasible where ``exact``
is feasible.

Each instance's outcome is appended to ``benchmarks/results/pact_quality.jsonl`` as it is solved,
and a rerun resumes from there (``--fresh`` starts over). ``python -m benchmarks pact_quality``
rewrites its section of ``docs/benchmarks.md``; ``python -m benchmarks.pact_quality --quick``
(4 instances per family, short cap, no checkpoint, printed only) is for smoke runs.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._doc import write_section
from leantrain.io import atomic_write_text
from leantrain.pact import DEFAULT_EPSILON, SOLVERS, Problem, make_solver
from leantrain.pact.exact import ExactSolver, SearchLimitError
from leantrain.pact.instances import random_problem
from leantrain.pact.lagrange import lower_bound

COMMAND = "OMP_NUM_THREADS=1 python -m benchmarks pact_quality"
SOLVER_ORDER = ("pact", "no-prune", "greedy", "prune-first", "full")
CAP_S = 60.0
QUICK_INSTANCES, QUICK_CAP_S = 4, 10.0
CHECKPOINT = Path(__file__).resolve().parent / "results" / "pact_quality.jsonl"


def benign(seed: int) -> Problem:
    """Benign instance ``seed`` (the family of the earlier benchmark: same seeds, same problems)."""
    rng = np.random.default_rng(1000 + seed)
    nodes, levels = int(rng.integers(3, 8)), int(rng.integers(3, 5))
    return random_problem(seed, nodes=nodes, levels=levels, fractions=3)


def tight(seed: int) -> Problem:
    """Tight instance ``seed``: short deadlines, few epochs, coarse fractions."""
    rng = np.random.default_rng(2000 + seed)
    nodes = int(rng.integers(3, 8))
    return random_problem(
        2000 + seed,
        nodes=nodes,
        levels=3,
        fractions=1 + seed % 2,
        slack=(0.4, 0.9),
        epochs=(3, 8),
    )


def epoch_capped(seed: int) -> Problem:
    """Epoch-capped instance ``seed``: the epoch cap at most one above the reference plan's."""
    rng = np.random.default_rng(3000 + seed)
    nodes, levels = int(rng.integers(3, 8)), int(rng.integers(3, 5))
    return random_problem(
        3000 + seed,
        nodes=nodes,
        levels=levels,
        fractions=3,
        slack=(1.0, 2.0),
        epochs=(3, 8),
        epochs_to_spare=int(rng.integers(0, 2)),
    )


def tight_8(seed: int) -> Problem:
    """Tight instance ``seed`` with 8 nodes: how far ``exact`` reaches (goal: within 60 s)."""
    return random_problem(
        2000 + seed, nodes=8, levels=3, fractions=1 + seed % 2, slack=(0.4, 0.9), epochs=(3, 8)
    )


FAMILIES: dict[str, Callable[[int], Problem]] = {
    "benign": benign,
    "tight": tight,
    "epoch-capped": epoch_capped,
    "tight, 8 nodes": tight_8,
}

#: Instances per family (the 8-node one only times exact and checks pact there).
COUNTS = {"benign": 50, "tight": 50, "epoch-capped": 50, "tight, 8 nodes": 20}


def solve_instance(family: str, seed: int, cap_s: float) -> dict[str, Any]:
    """One instance: exact (or why it stopped), every solver's plan, and the lower bound."""
    problem = FAMILIES[family](seed)
    record: dict[str, Any] = {
        "family": family,
        "seed": seed,
        "nodes": len(problem.node),
        "max_epochs": problem.options.max_epochs,
    }
    began = time.perf_counter()
    try:
        exact = ExactSolver(DEFAULT_EPSILON, max_seconds=cap_s).solve(problem)
        record["exact"] = {
            "energy_j": exact.energy_j if exact.feasible else None,
            "epochs": len(exact.epochs),
        }
    except SearchLimitError as error:
        record["exact"] = {"reason": str(error)}
    record["exact"]["seconds"] = time.perf_counter() - began
    record.update(_solve_plans(problem, [n for n in SOLVER_ORDER if n in SOLVERS]))
    began = time.perf_counter()
    record["lower_bound_j"] = lower_bound(problem)
    record["bound_seconds"] = time.perf_counter() - began
    return record


def _solve_plans(problem: Problem, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in names:
        plan = make_solver(name, DEFAULT_EPSILON).solve(problem)
        out[name] = {
            "energy_j": plan.energy_j if plan.feasible else None,
            "seconds": plan.solve_time_s,
        }
    return out


def resolve(checkpoint: Path, names: Sequence[str]) -> None:
    """Solve the stored instances again with the solvers ``names`` (after a change to them),
    keeping the stored ``exact`` outcomes, and rewrite ``checkpoint``."""
    records = [json.loads(x) for x in checkpoint.read_text(encoding="utf-8").splitlines()]
    for record in records:
        record.update(_solve_plans(FAMILIES[record["family"]](record["seed"]), names))
        print(f"{record['family']} {record['seed']}: solved again", flush=True)
    atomic_write_text(checkpoint, "".join(json.dumps(r) + "\n" for r in records))


def run(count: int | None, cap_s: float, checkpoint: Path | None) -> list[dict[str, Any]]:
    """Solve ``count`` instances of every family (None: :data:`COUNTS`), resuming from
    ``checkpoint`` when given."""
    done: dict[tuple[str, int], dict[str, Any]] = {}
    if checkpoint is not None and checkpoint.exists():
        for line in checkpoint.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            done[(record["family"], record["seed"])] = record
    out = []
    for family in FAMILIES:
        for seed in range(COUNTS[family] if count is None else count):
            record = done.get((family, seed))
            if record is None:
                record = solve_instance(family, seed, cap_s)
                if checkpoint is not None:
                    checkpoint.parent.mkdir(parents=True, exist_ok=True)
                    with checkpoint.open("a", encoding="utf-8") as stream:
                        stream.write(json.dumps(record) + "\n")
            out.append(record)
            exact = record["exact"]
            verdict = exact.get("reason") or (
                f"{exact['energy_j']:.6g} J" if exact["energy_j"] is not None else "infeasible"
            )
            print(
                f"{family} {seed}: {record['nodes']} nodes, exact {verdict} "
                f"in {exact['seconds']:.1f} s",
                flush=True,
            )
    return out


def _optimum(record: dict[str, Any]) -> float | None:
    energy = record["exact"].get("energy_j")
    return None if energy is None else float(energy)


def _stats(name: str, records: Sequence[dict[str, Any]]) -> str:
    gaps: list[float] = []
    missed = 0
    for record in records:
        optimum = _optimum(record)
        if optimum is None:
            continue
        energy = record[name]["energy_j"]
        if energy is None:
            missed += 1
            continue
        gaps.append(energy / optimum - 1.0)
    times = [record[name]["seconds"] for record in records]
    if not gaps:
        return f"| {name} | 0 | {missed} | | | | {statistics.median(times):.3g} |"
    within = sum(g <= 0.01 for g in gaps) / len(gaps)
    return (
        f"| {name} | {len(gaps)} | {missed} | {statistics.fmean(gaps):.4%} | {max(gaps):.4%} | "
        f"{within:.0%} | {statistics.median(times):.3g} / {max(times):.3g} |"
    )


def _family_report(family: str, records: Sequence[dict[str, Any]], cap_s: float) -> str:
    finished = [r for r in records if "reason" not in r["exact"]]
    feasible = [r for r in finished if _optimum(r) is not None]
    exact_times = [r["exact"]["seconds"] for r in finished]
    binding = sum(1 for r in feasible if r["exact"]["epochs"] == r["max_epochs"])
    names = [n for n in SOLVER_ORDER if records and n in records[0]]
    body = (
        f"### {family}\n\n**exact finished {len(finished)} of {len(records)} instances** "
        f"({len(feasible)} feasible, {len(finished) - len(feasible)} proven infeasible; the "
        f"epoch cap binds at {binding} of the {len(feasible)} optima); its time: median "
        f"{statistics.median(exact_times) if exact_times else math.nan:.2f} s, max "
        f"{max(exact_times) if exact_times else math.nan:.1f} s (cap {cap_s:g} s)."
    )
    unfinished = [r for r in records if "reason" in r["exact"]]
    if unfinished:
        body += " Not finished: " + ", ".join(
            f"#{r['seed']} ({r['nodes']} nodes)" for r in unfinished
        )
        body += "."
    bound_gaps = [
        1.0 - r["lower_bound_j"] / optimum
        for r in feasible
        if (optimum := _optimum(r)) is not None and optimum > 0
    ]
    unsafe = sum(
        1
        for r in feasible
        if (optimum := _optimum(r)) is not None and r["lower_bound_j"] > optimum * (1 + 1e-9)
    )
    pact_bad = sum(1 for r in feasible if r["pact"]["energy_j"] is None)
    body += (
        "\n\n| solver | instances | infeasible | mean gap | max gap | within 1% | "
        "solve time (s), median / max |\n|---|---|---|---|---|---|---|\n"
        + "\n".join(_stats(name, records) for name in names)
        + f"\n\n`pact` infeasible where exact is feasible: {pact_bad}. "
    )
    if bound_gaps:
        body += (
            f"Lower bound below the optimum: mean {statistics.fmean(bound_gaps):.2%}, "
            f"max {max(bound_gaps):.2%} (bound above the optimum: {unsafe} instances).\n\n"
        )
    return body


def report(records: Sequence[dict[str, Any]], cap_s: float) -> str:
    """The markdown section."""
    families = list(dict.fromkeys(r["family"] for r in records))
    counts = {f: sum(1 for r in records if r["family"] == f) for f in families}
    sizes = ", ".join(f"{counts[f]} {f}" for f in families)
    body = (
        "Seeded random instances per family (`benchmarks/pact_quality.py` defines the "
        "families: benign, tight deadlines with few epochs and coarse fractions, a binding "
        f"epoch cap, and the tight one at 8 nodes): {sizes}; "
        f"ε = {DEFAULT_EPSILON} for every solver. `exact` runs under a {cap_s:g} s cap (its "
        "incumbent is the `pact` plan). Energy gap to the optimum over the instances where exact "
        "finished and is feasible (*infeasible*: the solver found no plan where one exists). "
        "Goals for `pact`: mean <= 0.5%, max <= 2% in every family, never infeasible where exact "
        "is feasible.\n\n"
    )
    for family in families:
        body += _family_report(family, [r for r in records if r["family"] == family], cap_s)
    return body


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pact_quality", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 instances a family, printed only")
    parser.add_argument("--fresh", action="store_true", help="ignore the checkpoint file")
    parser.add_argument(
        "--resolve",
        metavar="SOLVERS",
        help="comma-separated solvers to solve again on the stored instances (exact is kept)",
    )
    args = parser.parse_args([] if argv is None else list(argv))
    if args.resolve:
        resolve(CHECKPOINT, args.resolve.split(","))
    if args.quick:
        print(report(run(QUICK_INSTANCES, QUICK_CAP_S, None), QUICK_CAP_S))
        return
    if args.fresh and CHECKPOINT.exists():
        CHECKPOINT.unlink()
    write_section(
        "pact-quality",
        "PACT: plan quality against the exact optimum",
        report(run(None, CAP_S, CHECKPOINT), CAP_S),
        COMMAND
        + (
            f"`, its outcomes solved again by `python -m benchmarks.pact_quality --resolve "
            f"{args.resolve}"
            if args.resolve
            else ""
        ),
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
