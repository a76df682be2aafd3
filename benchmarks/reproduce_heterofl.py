"""Reproduce Flower's HeteroFL MNIST table (issue 13; docs/distreal.md, 'HeteroFL reproduction').

The protocol of Flower's HeteroFL baseline (``baselines/heterofl`` of flwrlabs/flower: its
``conf/base.yaml``, ``models.py``, ``strategy.py``, ``client_manager_heterofl.py``): MNIST split
IID over 100 clients, 10 clients per round (``fraction_fit: 0.1``; its README's table says 100),
5 local epochs, batch 10, SGD lr 0.01 with momentum 0.9 and weight decay 5e-4, the rate ×0.1
from round 101 (``MultiStepLR`` with milestone 100 stepped once per round), gradients clipped to
norm 1, 200 rounds; model ``heterofl-conv`` at the mix's first (widest) rate; ``dynamic`` widths
redrawn every round; static BatchNorm over the whole training set before each evaluation;
unweighted per-entry count averaging; evaluation on the 10,000 test images.

Each (mix, seed) run is a single-thread background process (``--jobs`` at a time) writing its
run directory under ``benchmarks/results/heterofl/``; a finished run (``summary.json``) is
skipped, and ``--resume`` continues unfinished ones from their checkpoints. The section
``bench:heterofl-reproduction`` of docs/benchmarks.md gets the table ``mix | published (%) |
leantrain (%) | difference (pt)`` (the mean of the seeds, their range beside it), the command, the
protocol as configured and the wall time; unfinished runs are marked. ``--smoke`` runs a tiny
version on scikit-learn's digits and prints the table instead. ``--time-round`` times one round
of the real protocol for mix ``c`` on one thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks._doc import write_section
from leantrain.config import RunConfig, parse_config, parse_mix
from leantrain.engines import LocalExecutor
from leantrain.fl import build_setup
from leantrain.fl.evaluate import Evaluator
from leantrain.fl.run import run_strategy, write_config
from leantrain.fl.run_files import read_rounds, read_summary
from leantrain.fl.schedule import round_lr
from leantrain.fl.store import RunStore
from leantrain.fl.strategy import make_strategy

#: IID MNIST test accuracies of the baseline's README ('dynamic' table, column IID-accuracy).
PUBLISHED = {
    "a": 99.47,
    "a-e": 99.49,
    "a-b-c-d-e": 99.23,
    "b": 99.54,
    "b-e": 99.48,
    "b-c-d-e": 99.34,
    "c": 99.37,
    "c-e": 99.16,
    "c-d-e": 99.28,
    "d": 99.07,
    "d-e": 99.12,
    "e": 98.46,
}
MIXES = ["c", "c-e", "c-d-e", "e"]
SEEDS = 2
RESULTS = Path(__file__).resolve().parent / "results" / "heterofl"
#: The smoke version: digits, 10 clients, a few rounds, widths d and e.
SMOKE_MIXES = ["d", "d-e"]


def config(mix: str, seed: int, smoke: bool = False) -> RunConfig:
    """The run config of one (mix, seed): the baseline's protocol, or the tiny ``smoke`` one."""
    widest = parse_mix(mix)[0][0]
    clients = 10 if smoke else 100
    training: dict[str, Any] = {
        "rounds": 4 if smoke else 200,
        "devices_per_round": 3 if smoke else 10,
        "local_epochs": 1 if smoke else 5,
        "batch_size": 10,
        "lr": 0.01,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "lr_schedule": {"kind": "multistep", "milestones": [2 if smoke else 100], "gamma": 0.1},
        "clip_norm": 1.0,
        "eval_every": 2 if smoke else 20,
        "accuracy_targets": [0.5] if smoke else [0.99],
    }
    raw: dict[str, Any] = {
        "seed": seed,
        "data": {"source": "digits" if smoke else "mnist", "partition": "iid"},
        "model": {"name": "heterofl-conv", "global_rate": widest},
        "fleet": {
            "classes": [
                # Resource-unconstrained: identical, always available clients and no deadline.
                {"name": "client", "count": clients, "flops": 1.0e9, "bandwidth_bps": 1.0e9}
            ]
        },
        "training": training,
        "heterofl": {"mode": "dynamic", "mix": mix, "static_bn": True, "aggregation": "count"},
        # The paper's scaler sits before BatchNorm; nothing rescales what a layer reads.
        "distreal": {"scale_outputs": False},
        "strategies": ["heterofl"],
    }
    return parse_config(raw)


def run_directory(root: Path, mix: str, seed: int) -> Path:
    """Where the run of (mix, seed) lives."""
    return root / mix / f"seed{seed}"


def run_one(mix: str, seed: int, root: Path, smoke: bool, resume: bool) -> None:
    """Run (or continue, with ``resume``) one (mix, seed) in this process, on one thread.

    Raises:
        SystemExit: The directory holds an unfinished run and ``resume`` is off.
    """
    torch.set_num_threads(1)
    directory = run_directory(root, mix, seed)
    if (directory / "summary.json").is_file():
        return
    if (directory / "checkpoints").is_dir() and not resume:
        raise SystemExit(f"{directory} holds an unfinished run: pass --resume to continue it")
    directory.mkdir(parents=True, exist_ok=True)
    setup = build_setup(config(mix, seed, smoke))
    write_config(directory, setup)
    run_strategy(setup, "heterofl", LocalExecutor, directory, resume=resume)


def run_all(
    mixes: list[str], seeds: int, root: Path, smoke: bool, resume: bool, jobs: int
) -> list[int]:
    """Run every unfinished (mix, seed) as a background process, ``jobs`` at a time, and return
    their exit codes. Each writes its output to ``worker.log`` in its run directory."""
    pending = [
        (mix, seed)
        for mix in mixes
        for seed in range(seeds)
        if not (run_directory(root, mix, seed) / "summary.json").is_file()
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    running: list[tuple[subprocess.Popen[bytes], Any]] = []
    codes: list[int] = []
    while pending or running:
        while pending and len(running) < jobs:
            mix, seed = pending.pop(0)
            directory = run_directory(root, mix, seed)
            directory.mkdir(parents=True, exist_ok=True)
            log = (directory / "worker.log").open("ab")
            command = [
                sys.executable,
                "-m",
                "benchmarks.reproduce_heterofl",
                "--worker",
                mix,
                str(seed),
                "--results",
                str(root),
            ]
            command += ["--smoke"] * smoke + ["--resume"] * resume
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            running.append((process, log))
            print(f"started {mix} seed {seed} (pid {process.pid})", flush=True)
        time.sleep(0.5)
        for entry in list(running):
            process, log = entry
            if process.poll() is not None:
                log.close()
                codes.append(process.returncode)
                running.remove(entry)
    return codes


@dataclass(frozen=True)
class RunStatus:
    """What one (mix, seed) run directory holds."""

    finished: bool
    rounds_done: int
    accuracy: float | None
    wall_s: float


def status(directory: Path) -> RunStatus | None:
    """The state of a run directory, or None when it has no round yet."""
    rounds_path = directory / "rounds.jsonl"
    if not rounds_path.is_file():
        return None
    records = read_rounds(rounds_path)
    evaluated = [r.accuracy for r in records if r.accuracy is not None]
    summary = directory / "summary.json"
    if summary.is_file():
        wall = read_summary(summary)["heterofl"].wall_time_s
    else:
        latest = RunStore(directory).latest()
        wall = latest.wall_time_s if latest is not None else 0.0
    return RunStatus(
        finished=summary.is_file(),
        rounds_done=records[-1].round if records else 0,
        accuracy=evaluated[-1] if evaluated else None,
        wall_s=wall,
    )


def report(mixes: list[str], seeds: int, root: Path, smoke: bool) -> str:
    """The markdown body: the table, the protocol as configured and the wall time."""
    protocol = config(mixes[0], 0, smoke)
    training = protocol.training
    heterofl = protocol.heterofl
    assert heterofl is not None
    rows = [
        "| mix | published (%) | leantrain (%) | difference (pt) |",
        "|---|---:|---:|---:|",
    ]
    total_wall = 0.0
    for mix in mixes:
        states = [status(run_directory(root, mix, seed)) for seed in range(seeds)]
        total_wall += sum(s.wall_s for s in states if s is not None)
        finished = [100 * s.accuracy for s in states if s and s.finished and s.accuracy is not None]
        published = PUBLISHED.get(mix)
        if finished:
            mean = statistics.fmean(finished)
            ours = f"{mean:.2f}"
            if len(finished) > 1:
                ours += f" [{min(finished):.2f}–{max(finished):.2f}]"
            diff = f"{mean - published:+.2f}" if published is not None else "–"
        else:
            ours, diff = "–", "–"
        unfinished = [
            f"seed {seed}: round {s.rounds_done}/{training.rounds}"
            + (f", {100 * s.accuracy:.2f}%" if s.accuracy is not None else "")
            if s is not None
            else f"seed {seed}: not started"
            for seed, s in enumerate(states)
            if s is None or not s.finished
        ]
        if unfinished:
            ours += f" (unfinished: {'; '.join(unfinished)})"
        shown = f"{published:.2f}" if published is not None else "–"
        rows.append(f"| {mix} | {shown} | {ours} | {diff} |")
    schedule = training.lr_schedule
    assert schedule is not None
    decay = schedule.milestones[0] + 1
    lines = [
        "Goal: every difference within ±0.3 points (the published figures are single runs). "
        f"leantrain's figure is the mean over seeds 0..{seeds - 1} of the test accuracy after "
        "the last round, with their range.",
        "",
        *rows,
        "",
        "Protocol as configured (`benchmarks/reproduce_heterofl.py`, `config()`): "
        f"{protocol.data.source} split {protocol.data.partition} over "
        f"{protocol.fleet.classes[0].count} clients, {training.devices_per_round} per round, "
        f"{training.local_epochs} local epochs, batch {training.batch_size}, SGD lr "
        f"{training.lr} momentum {training.momentum} weight decay {training.weight_decay}, "
        f"lr {round_lr(training, decay):.3g} from round {decay} (multistep, stepped per round), "
        f"gradient norm clipped to {training.clip_norm}, {training.rounds} rounds; model "
        f"`{protocol.model.name}` at the mix's first rate; widths `{heterofl.mode}`; "
        f"static BatchNorm over the training set: {heterofl.static_bn}; aggregation: "
        f"{heterofl.aggregation}; no deadline; evaluation every {training.eval_every} "
        "rounds on the whole test set.",
        "",
        f"Wall time of the runs (sum of the rounds' wall times, one thread each): "
        f"{total_wall / 3600:.2f} h ({total_wall:.0f} s).",
    ]
    return "\n".join(lines)


def time_round(smoke: bool = False) -> tuple[float, float]:
    """Wall seconds of one training round of mix ``c`` (seed 0) on one thread, and of one
    evaluation (static BatchNorm over the training set, then the test set)."""
    torch.set_num_threads(1)
    setup = build_setup(config("c", 0, smoke))
    strategy = make_strategy("heterofl", setup)
    executor = LocalExecutor(setup)
    state = setup.build_model().state_dict()
    began = time.perf_counter()
    tasks = strategy.configure(1, 0.0, strategy.select(1))
    updates = executor.run(tasks, state)
    aggregated = strategy.aggregate(1, state, [u for u in updates if u.state is not None])
    round_s = time.perf_counter() - began
    evaluator = Evaluator(setup.build_model(), setup.data.test)
    began = time.perf_counter()
    evaluator(strategy.evaluation_state(aggregated))
    return round_s, time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reproduce_heterofl")
    parser.add_argument("--mixes", default=",".join(MIXES))
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    parser.add_argument("--resume", action="store_true", help="continue unfinished runs")
    parser.add_argument("--smoke", action="store_true", help="digits, few rounds, tiny widths")
    parser.add_argument("--results", type=Path, default=None, help="where the runs live")
    parser.add_argument("--report-only", action="store_true", help="write the section now")
    parser.add_argument("--time-round", action="store_true", help="time one round of mix c")
    parser.add_argument("--worker", nargs=2, metavar=("MIX", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args([] if argv is None else argv)
    root = args.results or (RESULTS / ("smoke" if args.smoke else "full"))
    if args.worker:
        run_one(args.worker[0], int(args.worker[1]), root, args.smoke, args.resume)
        return
    if args.time_round:
        round_s, evaluation_s = time_round(args.smoke)
        print(f"one round of mix c: {round_s:.1f} s; one evaluation: {evaluation_s:.1f} s")
        return
    mixes = SMOKE_MIXES if args.smoke and args.mixes == ",".join(MIXES) else args.mixes.split(",")
    for mix in mixes:
        parse_mix(mix)
    if not args.report_only:
        codes = run_all(mixes, args.seeds, root, args.smoke, args.resume, args.jobs)
        if any(codes):
            print(f"{sum(1 for c in codes if c)} run(s) failed: see their worker.log", flush=True)
    body = report(mixes, args.seeds, root, args.smoke)
    if args.smoke:
        print(body)
        return
    write_section(
        "heterofl-reproduction",
        "HeteroFL reproduction: Flower's MNIST table (IID, dynamic)",
        body,
        f"python -m benchmarks.reproduce_heterofl --mixes {','.join(mixes)} --seeds {args.seeds} "
        f"--jobs {args.jobs} --resume",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
