"""Federated runtime benchmarks (issue: federated runtime).

1. Simulation overhead: per-round wall time of the local engine against the sum of the clients'
   own training compute (the time inside their forward/backward/optimizer steps), for 10 clients
   x 1 epoch of MNIST (the 60k training set split IID). Goal: overhead <= 10%.
2. Training throughput of the reference MNIST CNN through leantrain's local update, in samples/s
   and achieved FLOP/s, against a plain PyTorch training loop on the same model and data.
   Goal: >= 0.95x the plain loop.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import torch
from torch import nn

import leantrain.fl.client as client
from benchmarks._doc import write_section
from leantrain.config import RunConfig, parse_config
from leantrain.engines import LocalExecutor
from leantrain.fl import ClientTask, RoundRecord, build_setup
from leantrain.fl.evaluate import Evaluator
from leantrain.fl.run import run_strategy

COMMAND = "python -m benchmarks runtime"


def mnist_config(devices: int, train_limit: int | None, rounds: int) -> RunConfig:
    """``fedavg`` on ``devices`` identical devices sharing MNIST IID, 1 local epoch each."""
    raw: dict[str, Any] = {
        "seed": 0,
        "data": {"source": "mnist", "partition": "iid"},
        "model": {"name": "mnist-cnn"},
        "training": {
            "rounds": rounds,
            "devices_per_round": devices,
            "local_epochs": 1,
            "batch_size": 32,
            "lr": 0.05,
        },
        "fleet": {"classes": [{"name": "node", "count": devices, "flops": 5e9}]},
    }
    if train_limit is not None:
        raw["data"]["train_limit"] = train_limit
    return parse_config(raw)


class _Stopwatch:
    """Accumulates the time spent inside a wrapped function."""

    def __init__(self) -> None:
        self.total = 0.0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - began

        return timed


def simulation_overhead(rounds: int = 4) -> str:
    setup = build_setup(mnist_config(10, None, rounds))
    compute, evaluation = _Stopwatch(), _Stopwatch()
    original_step, original_eval = client.train_step, Evaluator.__call__
    client.train_step = compute.wrap(original_step)
    Evaluator.__call__ = evaluation.wrap(original_eval)  # type: ignore[method-assign]
    marks: list[tuple[float, float, float]] = []

    def mark(_: RoundRecord) -> None:
        marks.append((time.perf_counter(), compute.total, evaluation.total))

    try:
        with TemporaryDirectory() as directory:
            marks.append((time.perf_counter(), 0.0, 0.0))
            run_strategy(setup, "fedavg", LocalExecutor, Path(directory), on_round=mark)
    finally:
        client.train_step = original_step
        Evaluator.__call__ = original_eval  # type: ignore[method-assign]
    rows = []
    overheads, overheads_no_eval = [], []
    for index in range(1, len(marks)):
        wall = marks[index][0] - marks[index - 1][0]
        train = marks[index][1] - marks[index - 1][1]
        evaluate = marks[index][2] - marks[index - 1][2]
        overhead = wall / train - 1.0
        without_eval = (wall - evaluate) / train - 1.0
        if index > 1:  # round 1 pays one-off imports and allocator warm-up
            overheads.append(overhead)
            overheads_no_eval.append(without_eval)
        rows.append(
            f"| {index} | {wall:.2f} | {train:.2f} | {evaluate:.2f} | "
            f"{overhead:+.1%} | {without_eval:+.1%} |"
        )
    samples = sum(len(p) for p in setup.partitions)
    return (
        f"10 clients x 1 epoch of MNIST ({samples} training samples per round, IID, mnist-cnn, "
        f"batch 32), `fedavg` on the local engine, test-set evaluation (10,000 images) after "
        f"every round. *Client compute* is the time inside the clients' forward, backward and "
        f"optimizer steps; everything else in the round (data indexing, policy and clock, state "
        f"copies, aggregation, evaluation, checkpoint) is overhead.\n\n"
        "| round | round wall (s) | client compute (s) | evaluation (s) | overhead | "
        "overhead without evaluation |\n|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"**Median overhead, rounds 2-{len(marks) - 1}: {statistics.median(overheads):+.1%}** "
        f"({statistics.median(overheads_no_eval):+.1%} without the evaluation). Goal: <= 10%.\n"
    )


def _plain_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """The reference: a textbook PyTorch epoch. Returns seconds."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(seed)
    began = time.perf_counter()
    model.train()
    for batch in torch.randperm(len(y), generator=generator).split(32):  # type: ignore[no-untyped-call]
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return time.perf_counter() - began


def throughput(samples: int = 12_800, repeats: int = 5) -> str:
    setup = build_setup(mnist_config(1, samples, 1))
    data = setup.local_data(0)
    flops = setup.full_cost.train_flops_per_sample
    state = setup.build_model().state_dict()
    scratch = setup.build_model()
    task = ClientTask(
        round=1,
        device_index=0,
        round_start_s=0.0,
        deadline_s=None,
        wait_limit_s=1e12,
        policy="full",
    )
    plain_times, ours = [], []
    client.run_local_update(setup, task, state, scratch)  # warm-up
    _plain_loop(setup.build_model(), data.x, data.y, 0)
    for repeat in range(repeats):  # interleaved so drift in the machine hits both alike
        model = setup.build_model()
        plain_times.append(_plain_loop(model, data.x, data.y, repeat))
        began = time.perf_counter()
        update = client.run_local_update(setup, task, state, scratch)
        ours.append(time.perf_counter() - began)
        assert update.num_samples == len(data)
    plain_rate = len(data) / statistics.median(plain_times)
    our_rate = len(data) / statistics.median(ours)
    return (
        f"mnist-cnn ({flops / 1e6:.2f} MFLOP training per sample), {len(data)} MNIST samples, "
        f"batch 32, SGD; median of {repeats} interleaved epochs each. leantrain's figure is "
        f"a whole local update (`run_local_update`: state load, data order, policy and clock "
        f"per mini-batch, state copy).\n\n"
        "| loop | samples/s | achieved GFLOP/s | ratio |\n|---|---|---|---|\n"
        f"| plain PyTorch | {plain_rate:,.0f} | {plain_rate * flops / 1e9:.2f} | 1.00 |\n"
        f"| leantrain local update | {our_rate:,.0f} | {our_rate * flops / 1e9:.2f} | "
        f"**{our_rate / plain_rate:.3f}** |\n\nGoal: >= 0.95x the plain loop.\n"
    )


def main() -> None:
    write_section(
        "runtime-overhead",
        "Simulation overhead of the local engine",
        simulation_overhead(),
        COMMAND,
    )
    write_section(
        "runtime-throughput", "Training throughput of the MNIST CNN", throughput(), COMMAND
    )


if __name__ == "__main__":
    main()
