"""Accuracy of PACT's loss predictor when its plans are executed with real training
(docs/pact-profile-execute.md, 'How good is the predictor?').

MNIST (a seeded subset of the bundled training set, IID over the fleet), the repository's MNIST
CNN, a 16-node fleet in three tiers whose memory makes pruning matter: 8 phones that fit the model
only from pruning level 0.5 on, 5 tablets from 0.25 on, 3 edge boxes that fit it whole.

For each profiling method (``central``: SGD over the pooled data, the default of
``leantrain profile``; ``fedavg``: full-fleet FedAvg rounds) the benchmark

1. profiles the model (``leantrain profile``: Torch-Pruning per level, a short real run per level,
   the fitted curves with their held-out error, the jumps, the default target and deadline);
2. plans with the ``pact`` solver;
3. executes the plan with real FedAvg training (``leantrain execute``), as planned and re-planned
   after every epoch (``--replan``);

and reports, per run, realised against predicted loss per epoch (mean and max absolute and
relative error, of the plan in force and of the one-step prediction from the observed loss), the
final loss, whether the target was met, and the realised time and energy.

``python -m benchmarks pact_predictor`` rewrites its section of ``docs/benchmarks.md``;
``python -m benchmarks.pact_predictor --quick`` (less data, two levels, printed only) is for smoke
runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any, Literal

import torch

from benchmarks._doc import write_section
from leantrain.config import RunConfig, parse_config
from leantrain.fl import build_setup
from leantrain.pact import Plan, make_solver
from leantrain.pact.execute import ExecutionResult, execute_plan
from leantrain.pact.profile import ProfileOptions, ProfileResult, profile

COMMAND = "python -m benchmarks pact_predictor"
EPSILON = 0.05
METHODS: tuple[Literal["central", "fedavg"], ...] = ("central", "fedavg")


def config(quick: bool) -> RunConfig:
    """The benchmark's run config (``quick``: a smaller data subset)."""
    classes = [
        {
            "name": "phone",
            "count": 8,
            "flops": 1.0e9,
            "power_w": 2.5,
            "memory_bytes": 5.0e6,
            "bandwidth_bps": 1.0e7,
            "tx_power_w": 1.0,
        },
        {
            "name": "tablet",
            "count": 5,
            "flops": 3.0e9,
            "power_w": 5.0,
            "memory_bytes": 7.5e6,
            "bandwidth_bps": 3.0e7,
            "tx_power_w": 1.5,
        },
        {
            "name": "edge",
            "count": 3,
            "flops": 1.5e10,
            "power_w": 30.0,
            "memory_bytes": 1.0e9,
            "bandwidth_bps": 1.0e8,
            "tx_power_w": 3.0,
        },
    ]
    raw: dict[str, Any] = {
        "seed": 0,
        "data": {
            "source": "mnist",
            "partition": "iid",
            "train_limit": 1600 if quick else 6000,
            "test_limit": 500 if quick else 2000,
        },
        "model": {"name": "mnist-cnn"},
        "training": {"batch_size": 32, "lr": 0.05},
        "fleet": {"classes": classes},
    }
    return parse_config(raw, "pact_predictor")


def options(quick: bool, method: Literal["central", "fedavg"]) -> ProfileOptions:
    """What is profiled (``quick``: two levels, five passes)."""
    if quick:
        return ProfileOptions(levels=(0.0, 0.5), method=method, epochs=5, holdout=1)
    return ProfileOptions(method=method, epochs=8, holdout=2)


@dataclass(frozen=True)
class Run:
    """One profiled, planned and executed configuration."""

    method: str
    profiled: ProfileResult
    plan: Plan
    executions: dict[str, ExecutionResult]
    seconds: float


def run(quick: bool) -> list[Run]:
    """Profile, plan and execute with each method."""
    setup = build_setup(config(quick), "pact_predictor")
    runs = []
    for method in METHODS:
        began = time.perf_counter()
        profiled = profile(setup, options(quick, method), source=f"pact_predictor ({method})")
        plan = make_solver("pact", EPSILON).solve(profiled.problem)
        executions: dict[str, ExecutionResult] = {}
        if plan.feasible:
            for mode in ("as planned", "re-planned"):
                executions[mode] = execute_plan(
                    plan, profiled.problem, setup, replan=mode == "re-planned", epsilon=EPSILON
                )
        runs.append(Run(method, profiled, plan, executions, time.perf_counter() - began))
        print(f"[pact_predictor] {method}: {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return runs


def _pct(value: float) -> str:
    return f"{value:.1%}"


def report(runs: list[Run], quick: bool) -> str:
    """The markdown section body."""
    first = runs[0].profiled
    problem = first.problem
    nodes = len(problem.node)
    lines = [
        f"MNIST, {first.samples_per_epoch} training samples IID over {nodes} nodes (8 phones "
        "fitting the model from pruning 0.5 on, 5 tablets from 0.25 on, 3 edge boxes), "
        f"mnist-cnn, held-out loss on {len(build_setup(config(quick)).data.test)} test images. "
        f"Levels {', '.join(f'{x:g}' for x in problem.levels)}; per level a warm-up pass, then "
        f"{runs[0].profiled.options.epochs} passes ({runs[0].profiled.options.holdout} held out "
        f"of the fit). Plans by `pact` (ε = {EPSILON}); executed with real FedAvg rounds, as "
        "planned and re-planned after every epoch. *Predicted*: the loss the plan in force "
        "predicted; *one-step*: the predictor applied to the observed loss before the epoch.",
        "",
        "### Fits (held-out points)",
        "",
        "| method | level | held-out RMSE | max rel. error | jump |",
        "|---|---|---|---|---|",
    ]
    for item in runs:
        for level in item.profiled.levels:
            lines.append(
                f"| {item.method} | {level.pruning:g} | {level.fit.holdout_rmse:.4f} | "
                f"{_pct(level.fit.holdout_max_rel_error)} | {level.jump:.3f} |"
            )
    lines += [
        "",
        "### Plans executed",
        "",
        "| method | run | epochs | target | predicted final | realised final | met | "
        "mean abs. err | max abs. err | mean rel. err | max rel. err | one-step mean rel. | "
        "time / deadline (s) | energy (J) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for item in runs:
        target = item.profiled.problem.target
        if not item.plan.feasible:
            lines.append(
                f"| {item.method} | no feasible plan | | {target.loss:.4f} | | | | | | | | | | |"
            )
            continue
        for mode, result in item.executions.items():
            errors, one_step = result.loss_errors(), result.loss_errors(one_step=True)
            predicted_final = result.epochs[-1].predicted_loss
            lines.append(
                f"| {item.method} | {mode} | {len(result.epochs)} | {target.loss:.4f} | "
                f"{predicted_final:.4f} | {result.final_loss:.4f} | "
                f"{'yes' if result.target_met else 'no'} | {errors['mean_abs']:.4f} | "
                f"{errors['max_abs']:.4f} | {_pct(errors['mean_rel'])} | "
                f"{_pct(errors['max_rel'])} | {_pct(one_step['mean_rel'])} | "
                f"{result.time_s:.1f} / {target.deadline_s:.1f} | {result.energy_j:,.1f} |"
            )
    for item in runs:
        for mode, result in item.executions.items():
            lines += [
                "",
                f"#### {item.method} profile, {mode}",
                "",
                "| epoch | ρ | nodes | predicted | one-step | realised |",
                "|---|---|---|---|---|---|",
            ]
            for epoch in result.epochs:
                lines.append(
                    f"| {epoch.index + 1}{'*' if epoch.replanned else ''} | {epoch.pruning:g} | "
                    f"{len(epoch.nodes)} | {epoch.predicted_loss:.4f} | "
                    f"{epoch.one_step_loss:.4f} | {epoch.realised_loss:.4f} |"
                )
            for note in result.notes:
                lines.append(f"\n*{note}*")
    lines += [
        "",
        "Wall time: "
        + ", ".join(f"{item.method} {item.seconds:.0f} s" for item in runs)
        + " (profile, plan and both executions).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (``--quick``: a small smoke version, printed only)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pact_predictor")
    parser.add_argument("--quick", action="store_true", help="a small smoke version")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args([] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = run(args.quick)
    body = report(runs, args.quick)
    if args.quick:
        print(body)
        return
    write_section("pact-predictor", "PACT loss predictor against real execution", body, COMMAND)


if __name__ == "__main__":
    main(sys.argv[1:])
