"""What the sub-model baselines share: sizing a uniform-width sub-model to a capability, and the
local policies that train a fixed or a per-step sub-model (docs/distreal.md, 'The baselines').

A capability is a cost budget relative to the full model: a device with capability 0.4 can afford
sub-networks with R ≤ 0.4 for its whole workload. Widths come from the same grid DISTREAL uses
(``distreal.dse.levels``): dropout rates 0, 1/G, …, (G−1)/G for every channel group at once.

Every baseline comes in two tiers: the paper-style one, where the width is fixed at round start
from what the device sees then and a device that misses the deadline is dropped (``overrun =
"drop"``), and the strengthened ``-partial`` one, which stops at the deadline and sends what it
trained (``overrun = "partial"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch

from leantrain.config import (
    ConstantTraceConfig,
    MarkovTraceConfig,
    PeriodicTraceConfig,
    TraceConfig,
)
from leantrain.fl.policy import (
    BatchDecision,
    LocalPolicy,
    LocalProgress,
    PolicyContext,
    Stop,
)
from leantrain.fl.setup import FederatedSetup
from leantrain.fleet import Device, work_between
from leantrain.nn.submodel import first_keep

__all__ = [
    "FixedSubModelPolicy",
    "OrderedDropoutPolicy",
    "Overrun",
    "class_capabilities",
    "configured_availability",
    "round_capability",
    "uniform_rate_within",
    "uniform_rates",
]

#: What a sub-model device does when its work would end after the deadline: ``drop`` (paper-style:
#: it keeps computing, misses T and its update is discarded) or ``partial`` (it stops in time and
#: sends what it trained).
Overrun = Literal["drop", "partial"]


def uniform_rates(setup: FederatedSetup) -> list[tuple[float, float]]:
    """(dropout rate d, R of the uniform vector d) on the grid, by ascending d."""
    levels = setup.config.distreal.dse.levels
    groups = setup.channel_groups
    rates = [index / levels for index in range(levels)]
    return [(rate, setup.submodel_cost.ratio_of([rate] * len(groups))) for rate in rates]


def uniform_rate_within(setup: FederatedSetup, capability: float) -> float:
    """The smallest grid rate whose uniform sub-model has R ≤ ``capability`` (the widest that
    fits), or the largest rate (the narrowest sub-model) when none fits."""
    rates = uniform_rates(setup)
    for rate, cost in rates:
        if cost <= capability:
            return rate
    return rates[-1][0]


def _capability(setup: FederatedSetup, device: Device, samples: int, speed_flops: float) -> float:
    """Budget R of a device computing at ``speed_flops`` for the compute time the deadline
    leaves after download and upload, over the full model's work on ``samples`` samples."""
    work = samples * setup.config.training.local_epochs * setup.full_cost.train_flops_per_sample
    if work <= 0:
        return 1.0
    compute_s = (
        setup.deadline_s
        - device.download_time(setup.state_bytes)
        - device.upload_time(setup.state_bytes)
    )
    return max(0.0, compute_s) * speed_flops / work


def round_capability(setup: FederatedSetup, device: Device, round_start_s: float) -> float:
    """A device's capability at the start of a round: its speed then (class FLOP/s times its
    availability now), times the compute time the deadline leaves after download and upload,
    over the full model's work on its data."""
    samples = len(setup.partitions[device.index])
    return _capability(setup, device, samples, device.speed(round_start_s))


def configured_availability(trace: TraceConfig, setup: FederatedSetup, device_class: str) -> float:
    """The mean availability a class's trace is configured with, known before any round.

    Constant: its value; periodic: (low + high) / 2; Markov: the levels weighted by the chain's
    stationary distribution. A CSV trace is its own configuration: the mean of its replay over
    the run's horizon (rounds × deadline), averaged over the class's devices.
    """
    if isinstance(trace, ConstantTraceConfig):
        return trace.availability
    if isinstance(trace, PeriodicTraceConfig):
        return (trace.low + trace.high) / 2.0
    if isinstance(trace, MarkovTraceConfig):
        return float(np.dot(_stationary(trace.transition), trace.levels))
    horizon = setup.config.training.rounds * setup.deadline_s
    devices = setup.fleet.of_class(device_class)
    work = sum(work_between(d.trace, d.flops, 0.0, horizon) / d.flops for d in devices)
    return work / (len(devices) * horizon)


def _stationary(transition: list[list[float]]) -> np.ndarray:
    """The stationary distribution π = πP of a row-stochastic matrix (least squares with
    Σπ = 1, which also picks one for a reducible chain)."""
    matrix = np.asarray(transition, dtype=np.float64)
    n = matrix.shape[0]
    system = np.vstack([matrix.T - np.eye(n), np.ones((1, n))])
    target = np.zeros(n + 1)
    target[-1] = 1.0
    solution, *_ = np.linalg.lstsq(system, target, rcond=None)
    clipped = np.clip(solution, 0.0, None)
    return np.asarray(clipped / clipped.sum(), dtype=np.float64)


def class_capabilities(setup: FederatedSetup) -> dict[str, float]:
    """A static capability per device class, from its configuration only: its FLOP/s times its
    trace's configured mean availability (:func:`configured_availability`), times the compute
    time the deadline leaves, over the full model's work on the median device's data (the
    workload that defines the deadline). No realised availability enters it."""
    median_samples = int(np.median([len(p) for p in setup.partitions]))
    capabilities: dict[str, float] = {}
    for device_class in setup.config.fleet.classes:
        device = setup.fleet.of_class(device_class.name)[0]
        availability = configured_availability(device_class.trace, setup, device_class.name)
        capabilities[device_class.name] = _capability(
            setup, device, median_samples, device.flops * availability
        )
    return capabilities


def _overrun(options: Mapping[str, Any]) -> Overrun:
    overrun = str(options.get("overrun", "partial"))
    if overrun not in ("drop", "partial"):
        raise ValueError(f"unknown overrun policy {overrun!r}")
    return "drop" if overrun == "drop" else "partial"


def _stop_at_deadline(
    progress: LocalProgress, flops_per_sample: float, overrun: Overrun
) -> Stop | None:
    """Stop when the next mini-batch would end after the deadline: send what was trained
    (``partial``), or miss T and be dropped (``drop``: the device cannot know it will be cut off,
    so it computes until the deadline)."""
    if progress.compute_deadline_s is None:
        return None
    if progress.finish_of(progress.batch_samples * flops_per_sample) > progress.compute_deadline_s:
        if overrun == "drop":
            return Stop("deadline", discard=True, busy_until_deadline=True)
        return Stop("deadline")
    return None


class FixedSubModelPolicy(LocalPolicy):
    """Train the sub-model the server chose for the whole round, until the work is done or the
    deadline comes.

    Options:
        keep: Group name to the kept channel indices (lists of ints).
        cost: R of that sub-model.
        overrun: ``partial`` (default) stops at the deadline and sends what was trained; ``drop``
            (paper-style) trains the whole workload and is dropped when it misses the deadline.
            The simulation checks the whole workload before the first mini-batch and skips the
            real training of a device that would be dropped, as
            :class:`~leantrain.fl.policy.DropPolicy` does.
    """

    name = "submodel"

    def __init__(self, options: Mapping[str, Any], context: PolicyContext) -> None:
        super().__init__(options, context)
        self.keep = {
            name: torch.tensor(sorted(indices), dtype=torch.int64)
            for name, indices in options["keep"].items()
        }
        self.cost = float(options["cost"])
        self.overrun = _overrun(options)

    def decide(self, progress: LocalProgress) -> BatchDecision | Stop:
        flops = self.cost * progress.full_flops_per_sample
        if self.overrun == "drop":
            stop = None
            if progress.batch == 0 and progress.compute_deadline_s is not None:
                finish = progress.finish_of(progress.remaining_samples * flops)
                if finish > progress.compute_deadline_s:
                    stop = Stop("deadline", discard=True, busy_until_deadline=True)
        else:
            stop = _stop_at_deadline(progress, flops, self.overrun)
        if stop is not None:
            return stop
        if self.cost >= 1.0:
            return BatchDecision(progress.full_flops_per_sample)
        return BatchDecision(flops, keep=self.keep, cost_ratio=self.cost)


class OrderedDropoutPolicy(LocalPolicy):
    """FjORD's ordered dropout: before every mini-batch, draw a width uniformly among the grid
    widths up to the device's maximum, and train the first channels of every group.

    Options:
        rates: The dropout rates the device may draw from (the grid rates at or above the one
            that fits its capability).
        overrun: ``partial`` (default) or ``drop`` (paper-style: a device whose next mini-batch
            would end after the deadline misses T and is dropped).
    """

    name = "ordered-dropout"

    def __init__(self, options: Mapping[str, Any], context: PolicyContext) -> None:
        super().__init__(options, context)
        self.rates = [float(rate) for rate in options["rates"]]
        if not self.rates:
            raise ValueError("ordered dropout needs at least one rate")
        self.overrun = _overrun(options)

    def decide(self, progress: LocalProgress) -> BatchDecision | Stop:
        draw = int(torch.randint(len(self.rates), (1,), generator=self.context.generator))
        rate = self.rates[draw]
        groups = self.context.groups
        counts = groups.keep_counts([rate] * len(groups))
        cost = self.context.cost.ratio(counts)
        stop = _stop_at_deadline(progress, cost * progress.full_flops_per_sample, self.overrun)
        if stop is not None:
            return stop
        if rate == 0.0:
            return BatchDecision(progress.full_flops_per_sample)
        return BatchDecision(
            cost * progress.full_flops_per_sample,
            keep=first_keep(groups, counts),
            cost_ratio=cost,
        )
