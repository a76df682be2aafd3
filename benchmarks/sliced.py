"""Real speed-up of sliced sub-network training (docs/distreal.md, 'Real speed-up').

Time per mini-batch (batch 32, SGD lr 0.05 momentum 0.5, 2 threads) at uniform dropout
d = 0.25, 0.5 and 0.75 against d = 0, beside the FLOP ratio R(d), for the MNIST CNN (1×28×28) and
ResNet-20 (3×32×32; its full step takes about 70 ms on 2 threads, so the whole benchmark takes about
two minutes on an idle machine). For each d three things are timed:

* **sliced**: :meth:`SlicedTrainer.step` with a fresh uniform random subset of kept channels drawn
  every mini-batch (as in real use; the draw is inside the timed step);
* **dense reduced**: a network built directly with the reduced widths k_l (no slicing), trained
  with the plain full-model step :func:`leantrain.fl.client.train_step` — the practical limit of the
  real speed-up;
* the **full model** with the plain ``train_step`` (d = 0, the denominator of every ratio), and
  ``SlicedTrainer`` with every channel kept, so that the fixed cost of the slicing is visible.

Goals: sliced time / full time <= 1.25·R(d) + 0.05 (issue), and slicing overhead
(sliced time / dense-reduced time − 1) within 15% (docs/distreal.md, 'Real speed-up').

Each variant has its own model and optimizer; variants run in blocks of mini-batches, interleaved in
a rotating order so that drift in the machine hits them alike; the figure is the median time per
mini-batch. Inputs are random tensors (the time does not depend on the values).

Run ``python -m benchmarks sliced`` (writes the ``sliced`` section of ``docs/benchmarks.md``) or
``python -m benchmarks.sliced --quick`` (a few repetitions, printed only, for smoke runs).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from benchmarks._doc import write_section
from leantrain.fl.client import train_step
from leantrain.nn import BasicBlock, CifarResNet, MnistCNN, model_cost
from leantrain.nn.groups import ChannelGroups, channel_groups
from leantrain.nn.submodel import Keep, SlicedTrainer, SubModelCost

COMMAND = "python -m benchmarks sliced"
THREADS = 2
BATCH = 32
CLASSES = 10
LR = 0.05
MOMENTUM = 0.5
DROPOUTS = (0.25, 0.5, 0.75)
RESNET_BLOCKS = 3  # ResNet-20


@dataclass(frozen=True)
class Settings:
    """Repetitions per variant: warm-up mini-batches, timed mini-batches, block length."""

    warmup: int
    timed: int
    block: int


FULL = Settings(warmup=30, timed=200, block=10)
QUICK = Settings(warmup=3, timed=10, block=5)


@dataclass(frozen=True)
class Subject:
    """A model under test: how to build it full-size and with reduced widths."""

    label: str
    input_shape: tuple[int, int, int]
    build: Callable[[], nn.Module]
    build_dense: Callable[[ChannelGroups, Sequence[int]], nn.Module]


def _mnist_dense(groups: ChannelGroups, counts: Sequence[int]) -> nn.Module:
    k = dict(zip(groups.names, counts, strict=True))
    return MnistCNN((1, 28, 28), CLASSES, widths=(k["features.0"], k["features.4"]))


def _resnet(blocks: int) -> CifarResNet:
    return CifarResNet((3, 32, 32), CLASSES, blocks_per_stage=blocks)


def _resnet_dense(groups: ChannelGroups, counts: Sequence[int]) -> nn.Module:
    """ResNet-20 whose blocks' internal width (conv1's outputs) is k_l; residual stream full."""
    model = _resnet(RESNET_BLOCKS)
    k = dict(zip(groups.names, counts, strict=True))
    for stage_name in ("layer1", "layer2", "layer3"):
        stage = model.get_submodule(stage_name)
        assert isinstance(stage, nn.Sequential)
        for index, block in enumerate(stage):
            assert isinstance(block, BasicBlock)
            stage[index] = BasicBlock(
                block.conv1.in_channels,
                block.conv2.out_channels,
                int(block.conv1.stride[0]),
                mid_channels=k[f"{stage_name}.{index}.conv1"],
            )
    return model


SUBJECTS = (
    Subject("MNIST CNN", (1, 28, 28), lambda: MnistCNN((1, 28, 28), CLASSES), _mnist_dense),
    Subject(
        f"ResNet-{6 * RESNET_BLOCKS + 2}",
        (3, 32, 32),
        lambda: _resnet(RESNET_BLOCKS),
        _resnet_dense,
    ),
)


def _sgd(model: nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)


Step = Callable[[torch.Tensor, torch.Tensor], float]


def _plain(model: nn.Module) -> Step:
    optimizer = _sgd(model)
    return lambda x, y: train_step(model, optimizer, x, y)


def _sliced(model: nn.Module, groups: ChannelGroups, counts: Sequence[int], seed: int) -> Step:
    trainer = SlicedTrainer(model, groups, scale_outputs=True)
    optimizer = _sgd(model)
    generator = torch.Generator().manual_seed(seed)
    sizes = list(zip(groups.names, groups.channels, counts, strict=True))

    def step(x: torch.Tensor, y: torch.Tensor) -> float:
        keep: Keep = {
            name: torch.randperm(channels, generator=generator)[:k].sort().values
            for name, channels, k in sizes
        }
        return trainer.step(optimizer, x, y, keep)

    return step


def _time(variants: dict[str, Step], subject: Subject, settings: Settings) -> dict[str, float]:
    """Median seconds per mini-batch of each variant, in interleaved blocks."""
    generator = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.randn(BATCH, *subject.input_shape, generator=generator),
            torch.randint(0, CLASSES, (BATCH,), generator=generator),
        )
        for _ in range(4)
    ]
    for step in variants.values():
        for index in range(settings.warmup):
            step(*batches[index % len(batches)])
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    rounds = -(-settings.timed // settings.block)
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            step = variants[name]
            gc.collect()
            for index in range(settings.block):
                x, y = batches[index % len(batches)]
                began = time.perf_counter()
                loss = step(x, y)
                times[name].append(time.perf_counter() - began)
            if not math.isfinite(loss):  # inf/NaN arithmetic would not be representative
                raise RuntimeError(f"{subject.label} {name}: the loss is {loss}")
    return {name: statistics.median(values) for name, values in times.items()}


def _kept(groups: ChannelGroups, counts: Sequence[int]) -> str:
    pairs = dict.fromkeys(f"{k}/{c}" for c, k in zip(groups.channels, counts, strict=True))
    return ", ".join(pairs)


def measure(subject: Subject, settings: Settings) -> tuple[list[str], list[str]]:
    """Table rows for one model, and the goals it misses."""
    torch.manual_seed(0)
    full_model = subject.build()
    groups = channel_groups(full_model, subject.input_shape)
    full_cost = model_cost(full_model, subject.input_shape)
    cost = SubModelCost(groups, full_cost)
    variants: dict[str, Step] = {"full": _plain(full_model)}
    variants["sliced 0"] = _sliced(subject.build(), groups, groups.channels, seed=0)
    plan: list[tuple[float, tuple[int, ...], float]] = []
    for d in DROPOUTS:
        counts = groups.keep_counts([d] * len(groups))
        ratio = cost.ratio(counts)
        dense_model = subject.build_dense(groups, counts)
        dense_ratio = (
            model_cost(dense_model, subject.input_shape).train_flops_per_sample
            / full_cost.train_flops_per_sample
        )
        if abs(dense_ratio - ratio) > 1e-9:  # the dense network must be the sliced shape
            raise AssertionError(f"{subject.label} d={d}: dense R {dense_ratio} != R {ratio}")
        variants[f"sliced {d}"] = _sliced(subject.build(), groups, counts, seed=1)
        variants[f"dense {d}"] = _plain(dense_model)
        plan.append((d, counts, ratio))
    seconds = _time(variants, subject, settings)
    full = seconds["full"]
    misses: list[str] = []
    rows = [
        f"| {subject.label} | full model, plain step | all | 1.000 | {full * 1e3:.2f} | "
        f"{full * 1e3:.2f} | 1.000 | 1.000 | – | – |"
    ]
    overhead0 = seconds["sliced 0"] / full - 1.0
    rows.append(
        f"| {subject.label} | 0 (sliced, all kept) | {_kept(groups, groups.channels)} | 1.000 | "
        f"{seconds['sliced 0'] * 1e3:.2f} | {full * 1e3:.2f} | "
        f"{seconds['sliced 0'] / full:.3f} | 1.000 | {overhead0:+.1%} | – |"
    )
    if overhead0 > 0.15:
        misses.append(f"{subject.label} d=0: slicing overhead {overhead0:+.1%}")
    for d, counts, ratio in plan:
        sliced, dense = seconds[f"sliced {d}"], seconds[f"dense {d}"]
        limit = 1.25 * ratio + 0.05
        overhead = sliced / dense - 1.0
        meets = sliced / full <= limit
        rows.append(
            f"| {subject.label} | {d} | {_kept(groups, counts)} | {ratio:.3f} | "
            f"{sliced * 1e3:.2f} | {dense * 1e3:.2f} | **{sliced / full:.3f}** | "
            f"{dense / full:.3f} | {overhead:+.1%} | {'yes' if meets else 'no'} "
            f"(≤ {limit:.3f}) |"
        )
        if not meets:
            misses.append(f"{subject.label} d={d}: time ratio {sliced / full:.3f} > {limit:.3f}")
        if overhead > 0.15:
            misses.append(f"{subject.label} d={d}: slicing overhead {overhead:+.1%}")
    return rows, misses


def report(settings: Settings) -> str:
    """The benchmark's markdown section body."""
    torch.set_num_threads(THREADS)
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print(
            f"warning: load average {load_before:.2f} before the benchmark; other processes on "
            "the machine make the timings unreliable",
            file=sys.stderr,
        )
    rows: list[str] = []
    misses: list[str] = []
    for subject in SUBJECTS:
        subject_rows, subject_misses = measure(subject, settings)
        rows += subject_rows
        misses += subject_misses
    load_after = os.getloadavg()[0]
    verdict = "All goals met." if not misses else "Goals missed: " + "; ".join(misses) + "."
    return (
        f"Time per mini-batch (batch {BATCH}, SGD lr {LR} momentum {MOMENTUM}, "
        f"{THREADS} threads) at uniform dropout d, median of {settings.timed} timed mini-batches "
        f"per variant after {settings.warmup} warm-up ones, variants interleaved in blocks of "
        f"{settings.block}; random inputs. *Sliced*: `SlicedTrainer.step` with output scaling and "
        f"a fresh random kept subset every mini-batch (drawn inside the timed step). *Dense "
        f"reduced*: a network built directly with the kept widths k/C, trained with the plain "
        f"`train_step`. Ratios are against the full model's plain `train_step`; slicing overhead "
        f"= sliced / dense reduced − 1 (at d = 0: sliced with all kept / full − 1). The "
        f"ResNet's residual stream keeps its full width; only each block's internal width "
        f"drops.\n\n"
        "| model | d | kept k/C | R(d) | sliced (ms) | dense reduced (ms) | sliced / full | "
        "dense / full | slicing overhead | sliced / full ≤ 1.25·R + 0.05 |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "Goals: sliced / full ≤ 1.25·R(d) + 0.05 (issue); slicing overhead ≤ 15% "
        "([distreal.md](distreal.md#real-speed-up)). "
        f"{verdict} (1-minute load average {load_before:.2f} before, {load_after:.2f} after; "
        "anything but an idle machine distorts these timings.)\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sliced", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a few repetitions, printed, docs untouched"
    )
    args = parser.parse_args([] if argv is None else list(argv))
    if args.quick:
        print(report(QUICK))
        return
    write_section("sliced", "Real speed-up of sliced sub-network training", report(FULL), COMMAND)


if __name__ == "__main__":
    main(sys.argv[1:])
