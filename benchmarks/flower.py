"""Flower engine benchmark (issue: Flower engine).

Per-round wall time of ``fedavg`` on the Flower simulation engine (Ray) against the local engine,
on the same workload: 10 clients x 1 epoch of MNIST (the 60k training set split IID), mnist-cnn,
test-set evaluation after every round. Ray's start-up (Ray, the ClientApp actors, the SuperNodes
answering the first query) is measured on its own and excluded from the rounds.
Goal: Flower-engine rounds within 1.5x of local-engine rounds.

Three set-ups, measured in one process one after another:

* local: the local engine as ``leantrain train`` runs it (clients one after another, torch's
  default thread count);
* flower: the Flower engine with its defaults (one CPU and one torch thread per ClientApp, so
  Ray runs as many ClientApps at once as the machine has cores);
* flower, one at a time: one ClientApp at a time with every core (``client_cpus`` = cores,
  ``client_threads`` = torch's default): the same compute as the local engine, so the difference
  is what Flower's messages and Ray add.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import torch

from benchmarks._doc import write_section
from benchmarks.runtime import mnist_config
from leantrain.config import FlowerConfig, RunConfig
from leantrain.engines import LocalExecutor
from leantrain.engines.flower import FlowerEngine
from leantrain.fl import ClientExecutor, FederatedSetup, RoundRecord, build_setup
from leantrain.fl.run import run_strategy

COMMAND = "python -m benchmarks flower"


def _config(rounds: int, train_limit: int | None, flower: dict[str, Any]) -> RunConfig:
    base = mnist_config(10, train_limit, rounds)
    return base.model_copy(update={"flower": FlowerConfig(**flower)})


def _rounds(setup: FederatedSetup, executor: ClientExecutor) -> list[float]:
    """Wall seconds of every round of ``fedavg`` on ``executor`` (which the run closes)."""
    marks = [time.perf_counter()]

    def mark(_: RoundRecord) -> None:
        marks.append(time.perf_counter())

    with TemporaryDirectory() as directory:
        marks[0] = time.perf_counter()
        run_strategy(setup, "fedavg", lambda _: executor, Path(directory), on_round=mark)
    return [b - a for a, b in itertools.pairwise(marks)]


def _flower(setup: FederatedSetup) -> tuple[float, list[float]]:
    engine = FlowerEngine()
    try:
        began = time.perf_counter()
        executor = engine.client_executor(setup)
        start_up = time.perf_counter() - began
        return start_up, _rounds(setup, executor)
    finally:
        engine.close()


def measure(rounds: int, train_limit: int | None) -> str:
    cores = os.cpu_count() or 1
    threads = torch.get_num_threads()
    local_setup = build_setup(_config(rounds, train_limit, {}))
    local = _rounds(local_setup, LocalExecutor(local_setup))
    parallel_start, parallel = _flower(build_setup(_config(rounds, train_limit, {})))
    serial_config = {"client_cpus": float(cores), "client_threads": threads}
    serial_start, serial = _flower(build_setup(_config(rounds, train_limit, serial_config)))

    def median(times: list[float]) -> float:
        return statistics.median(times[1:] if len(times) > 1 else times)

    base = median(local)
    rows = [
        ("local engine (clients in turn, " + f"{threads} torch threads)", None, local),
        (f"flower, defaults ({cores} ClientApps at once, 1 thread each)", parallel_start, parallel),
        (f"flower, one ClientApp at a time ({threads} torch threads)", serial_start, serial),
    ]
    lines = []
    for name, start_up, times in rows:
        start = "—" if start_up is None else f"{start_up:.1f}"
        per_round = ", ".join(f"{t:.2f}" for t in times)
        ratio = median(times) / base
        lines.append(f"| {name} | {start} | {per_round} | {median(times):.2f} | **{ratio:.2f}** |")
    samples = sum(len(p) for p in local_setup.partitions)
    return (
        f"`fedavg`, 10 clients x 1 epoch of MNIST ({samples} training samples per round, IID), "
        f"mnist-cnn, batch 32, test-set evaluation after every round, {rounds} rounds; the three "
        "set-ups run one after another in one process. *Start-up* is the time to start Ray and "
        "the ClientApps and to have every SuperNode answer the first query (the first ClientApp "
        "call in each actor loads MNIST); it is not part of any round. The ratio compares the "
        "median round from round 2 on (round 1 pays one-off warm-up) with the local engine's.\n\n"
        "| engine | start-up (s) | round wall times (s) | median round (s) | ratio to local |\n"
        "|---|---|---|---|---|\n" + "\n".join(lines) + "\n\nGoal: Flower-engine rounds within "
        "1.5x of local-engine rounds.\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flower", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 rounds on 6k samples; no docs")
    args = parser.parse_args([] if argv is None else list(argv))
    if args.quick:
        print(measure(3, 6000))
        return
    write_section("flower", "Flower engine against the local engine", measure(5, None), COMMAND)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
