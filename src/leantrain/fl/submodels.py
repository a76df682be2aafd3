"""What the sub-model baselines share: sizing a uniform-width sub-model to a capability, and the
local policies that train a fixed or a per-step sub-model until the deadline.

A capability is a cost budget relative to the full model: a device with capability 0.4 can afford
sub-networks with R ≤ 0.4 for its whole workload. Widths come from the same grid DISTREAL uses
(``distreal.dse.levels``): dropout rates 0, 1/G, …, (G−1)/G for every channel group at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from leantrain.fl.policy import (
    BatchDecision,
    LocalPolicy,
    LocalProgress,
    PolicyContext,
    Stop,
    register_policy,
)
from leantrain.fl.setup import FederatedSetup
from leantrain.fleet import Device, work_between
from leantrain.nn.submodel import first_keep

__all__ = [
    "FixedSubModelPolicy",
    "OrderedDropoutPolicy",
    "class_capabilities",
    "round_capability",
    "uniform_rate_within",
    "uniform_rates",
]


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


def round_capability(setup: FederatedSetup, device: Device, round_start_s: float) -> float:
    """A device's capability at the start of a round: its speed then, times the compute time the
    deadline leaves after download and upload, over the full model's work on its data."""
    training = setup.config.training
    samples = len(setup.partitions[device.index]) * training.local_epochs
    work = samples * setup.full_cost.train_flops_per_sample
    if work <= 0:
        return 1.0
    compute_s = (
        setup.deadline_s
        - device.download_time(setup.state_bytes)
        - device.upload_time(setup.state_bytes)
    )
    return max(0.0, compute_s) * device.speed(round_start_s) / work


def class_capabilities(setup: FederatedSetup) -> dict[str, float]:
    """A static capability per device class: its FLOP/s times its mean availability over the
    run's horizon (rounds × deadline), relative to the reference device at full availability,
    whose full-model workload defines the deadline."""
    horizon = setup.config.training.rounds * setup.deadline_s
    reference = setup.fleet.reference.flops
    capabilities: dict[str, float] = {}
    for device_class in setup.config.fleet.classes:
        devices = setup.fleet.of_class(device_class.name)
        mean_speed = sum(work_between(d.trace, d.flops, 0.0, horizon) for d in devices) / (
            len(devices) * horizon
        )
        capabilities[device_class.name] = mean_speed / reference
    return capabilities


def _stop_at_deadline(progress: LocalProgress, flops_per_sample: float) -> Stop | None:
    """Stop (and send what was trained) when the next mini-batch would end after the deadline."""
    if progress.compute_deadline_s is None:
        return None
    if progress.finish_of(progress.batch_samples * flops_per_sample) > progress.compute_deadline_s:
        return Stop("deadline")
    return None


@register_policy("submodel")
class FixedSubModelPolicy(LocalPolicy):
    """Train the sub-model the server chose for the whole round; stop at the deadline.

    Options:
        keep: Group name to the kept channel indices (lists of ints).
        cost: R of that sub-model.
    """

    def __init__(self, options: Mapping[str, Any], context: PolicyContext) -> None:
        super().__init__(options, context)
        self.keep = {
            name: torch.tensor(sorted(indices), dtype=torch.int64)
            for name, indices in options["keep"].items()
        }
        self.cost = float(options["cost"])

    def decide(self, progress: LocalProgress) -> BatchDecision | Stop:
        flops = self.cost * progress.full_flops_per_sample
        stop = _stop_at_deadline(progress, flops)
        if stop is not None:
            return stop
        if self.cost >= 1.0:
            return BatchDecision(progress.full_flops_per_sample)
        return BatchDecision(flops, keep=self.keep, cost_ratio=self.cost)


@register_policy("ordered-dropout")
class OrderedDropoutPolicy(LocalPolicy):
    """FjORD's ordered dropout: before every mini-batch, draw a width uniformly among the grid
    widths up to the device's maximum, and train the first channels of every group.

    Options:
        rates: The dropout rates the device may draw from (the grid rates at or above the one
            that fits its capability).
    """

    def __init__(self, options: Mapping[str, Any], context: PolicyContext) -> None:
        super().__init__(options, context)
        self.rates = [float(rate) for rate in options["rates"]]
        if not self.rates:
            raise ValueError("ordered dropout needs at least one rate")

    def decide(self, progress: LocalProgress) -> BatchDecision | Stop:
        draw = int(torch.randint(len(self.rates), (1,), generator=self.context.generator))
        rate = self.rates[draw]
        groups = self.context.groups
        counts = groups.keep_counts([rate] * len(groups))
        cost = self.context.cost.ratio(counts)
        stop = _stop_at_deadline(progress, cost * progress.full_flops_per_sample)
        if stop is not None:
            return stop
        if rate == 0.0:
            return BatchDecision(progress.full_flops_per_sample)
        return BatchDecision(
            cost * progress.full_flops_per_sample,
            keep=first_keep(groups, counts),
            cost_ratio=cost,
        )
