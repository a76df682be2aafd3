"""Start-up of the command line (docs/architecture.md, 'The planner is plain numpy').

Wall time, median of 5 runs each, of three fresh processes: ``leantrain --help``,
``python -c "import torch"`` (what every command paid before the imports were made lazy) and
``leantrain plan examples/pact/small.toml`` (the numpy-only planner end to end: problem, solver,
plan JSON and figure). The runs alternate, so that a change in the machine's load touches all
three alike. Goals: ``--help`` <= 0.25 x ``import torch``; ``plan`` of the small problem <= 1 s.

``python -m benchmarks cli_startup`` rewrites its section of ``docs/benchmarks.md``;
``python -m benchmarks.cli_startup --quick`` (one run each, printed only) is for smoke runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks._doc import write_section

COMMAND = "python -m benchmarks cli_startup"
ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "examples" / "pact" / "small.toml"
LEANTRAIN = Path(sys.executable).with_name("leantrain")
RUNS = 5
HELP_RATIO_GOAL = 0.25
PLAN_GOAL_S = 1.0


def _wall(command: Sequence[str], cwd: Path) -> float:
    """Seconds of wall time of one fresh process running ``command`` (its output discarded)."""
    began = time.perf_counter()
    subprocess.run(
        list(command),
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - began


#: Runs the plan command's steps in one fresh process and prints each one's wall seconds (JSON),
#: so the report can say where ``plan``'s time goes.
PHASES_SCRIPT = """
import json, sys, time
from pathlib import Path
began = time.perf_counter()
import leantrain.cli.commands
from leantrain.pact.lagrange import certify
from leantrain.pact.problem import load_problem
from leantrain.pact.solver import DEFAULT_EPSILON
from leantrain.workflows.inputs import ARGUMENTS
from leantrain.workflows.planning import solve
marks = [time.perf_counter()]
problem = load_problem(Path(sys.argv[1]))
plan = solve("pact", problem, DEFAULT_EPSILON, ARGUMENTS)
marks.append(time.perf_counter())
plan = certify(problem, plan)
marks.append(time.perf_counter())
from leantrain.pact.figure import plot_plan
marks.append(time.perf_counter())
plot_plan(problem, plan, Path(sys.argv[2]))
marks.append(time.perf_counter())
steps = [began, *marks]
print(json.dumps([b - a for a, b in zip(steps, steps[1:])]))
"""
#: The phases PHASES_SCRIPT times, in its order.
PHASES = (
    "imports (CLI, pydantic, numpy, planner)",
    "solve (pact, default ε)",
    "certified bound",
    "import matplotlib",
    "draw and write the figure",
)


def _phases(cwd: Path, run: int) -> list[float]:
    """Wall seconds of each of PHASES in one fresh process (the interpreter's own start-up is
    not in them)."""
    output = subprocess.run(
        [sys.executable, "-c", PHASES_SCRIPT, str(SMALL), f"phases-{run}.png"],
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    times: list[float] = json.loads(output)
    return times


def measure(runs: int) -> dict[str, list[float]]:
    """Wall times of every command, ``runs`` times each, alternating; ``load`` holds the
    1-minute load average before the first run (other work on the machine slows them all)."""
    times: dict[str, list[float]] = {"help": [], "torch": [], "plan": [], "load": []}
    times.update({phase: [] for phase in PHASES})
    times["load"].append(os.getloadavg()[0])
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for run in range(runs):
            times["help"].append(_wall([str(LEANTRAIN), "--help"], work))
            times["torch"].append(_wall([sys.executable, "-c", "import torch"], work))
            plan = [str(LEANTRAIN), "plan", str(SMALL), "--out", f"plan-{run}.json"]
            times["plan"].append(_wall(plan, work))
            for phase, seconds in zip(PHASES, _phases(work, run), strict=True):
                times[phase].append(seconds)
            print(
                f"run {run + 1}/{runs}: --help {times['help'][-1]:.3f} s, import torch "
                f"{times['torch'][-1]:.3f} s, plan {times['plan'][-1]:.3f} s",
                flush=True,
            )
    return times


def report(times: dict[str, list[float]]) -> str:
    """The section's markdown."""
    help_s, torch_s, plan_s = (statistics.median(times[k]) for k in ("help", "torch", "plan"))
    ratio = help_s / torch_s
    figure_s = sum(statistics.median(times[phase]) for phase in PHASES[3:])
    before_s = sum(statistics.median(times[phase]) for phase in PHASES[:3])
    spread = ", ".join(
        f"{name} {min(times[name]):.3f}-{max(times[name]):.3f} s"
        for name in ("help", "torch", "plan")
    )
    return (
        f"Median of {len(times['help'])} fresh processes each, alternating (range: {spread}); "
        f"load average {times['load'][0]:.1f} on {os.cpu_count()} cores at the start.\n\n"
        "| command | wall (s) | goal | met |\n|---|---:|---|---|\n"
        f"| `leantrain --help` | {help_s:.3f} | <= {HELP_RATIO_GOAL:g} x `import torch` "
        f"= {HELP_RATIO_GOAL * torch_s:.3f} s | {'yes' if ratio <= HELP_RATIO_GOAL else 'no'} |\n"
        f'| `python -c "import torch"` | {torch_s:.3f} | reference | |\n'
        f"| `leantrain plan examples/pact/small.toml` | {plan_s:.3f} | <= {PLAN_GOAL_S:g} s | "
        f"{'yes' if plan_s <= PLAN_GOAL_S else 'no'} |\n\n"
        f"`--help` takes {ratio:.2f} x the time of importing torch. Neither command imports "
        "torch, scikit-learn, Flower, Ray or pymoo (`tests/test_imports.py` checks it); what\n"
        "remains is the interpreter, typer and rich, and for `plan` pydantic, numpy, matplotlib\n"
        "and the solve itself.\n\n"
        "Where `plan`'s time goes (the same steps timed inside one fresh process, medians; the "
        "interpreter's start-up and printing the table are not in them):\n\n"
        "| step | wall (s) |\n|---|---:|\n"
        + "".join(f"| {phase} | {statistics.median(times[phase]):.3f} |\n" for phase in PHASES)
        + f"\nThe figure (import and draw) takes {figure_s:.3f} s of the {plan_s:.3f} s; the "
        f"steps before it {before_s:.3f} s.\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli_startup", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run each, printed only")
    args = parser.parse_args([] if argv is None else list(argv))
    if args.quick:
        print(report(measure(1)))
        return
    write_section("cli-startup", "Start-up of the command line", report(measure(RUNS)), COMMAND)


if __name__ == "__main__":
    main(sys.argv[1:])
