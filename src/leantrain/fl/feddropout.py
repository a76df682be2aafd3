"""``feddropout`` and ``feddropout-partial``: Federated Dropout (Caldas et al., 2018), sized per
device (docs/distreal.md, 'The baselines').

At the start of each round the server gives every selected device a random sub-model: one dropout
rate for all channel groups, the widest on the grid whose cost fits the device's capability at
that moment (its current speed, class FLOP/s times its availability now, times the compute time
the deadline leaves, over the full model's work on its data), and a fresh uniform random subset of
channels per group, fixed for the round. The server averages each entry over the devices whose
sub-model held it.

Two tiers: ``feddropout`` (paper-style) trains the whole workload on that sub-model and a device
that misses the deadline is dropped; ``feddropout-partial`` (strengthened) stops at the deadline
and sends what it trained.

Choices where the paper is silent or differs: the paper uses one rate for every device and saves
communication by sending only the sub-model; here the rate follows the device's capability (our
choice, so that slow devices can finish), and transfers are costed at the full model's size for
every method alike.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from leantrain.fl.strategy import Instruction, Strategy
from leantrain.fl.submodels import Overrun, round_capability, uniform_rate_within
from leantrain.fleet import Device
from leantrain.nn.submodel import random_keep
from leantrain.seeding import torch_generator

__all__ = ["FederatedDropout", "FederatedDropoutPartial"]


class FederatedDropout(Strategy):
    """A random sub-model per device and round, sized to the device's capability at round start;
    a device that misses the deadline is dropped."""

    name = "feddropout"
    overrun: ClassVar[Overrun] = "drop"

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        setup = self.setup
        rate = uniform_rate_within(setup, round_capability(setup, device, round_start_s))
        groups = setup.channel_groups
        counts = groups.keep_counts([rate] * len(groups))
        # The stream keeps the name of the original method, so both tiers draw the same subsets.
        generator: torch.Generator = torch_generator(
            setup.config.seed, "feddropout", round_index, device.index
        )
        keep = random_keep(groups, counts, generator)
        return Instruction(
            "submodel",
            {
                "keep": {name: [int(i) for i in indices] for name, indices in keep.items()},
                "cost": setup.submodel_cost.ratio(counts),
                "rate": rate,
                "overrun": self.overrun,
            },
        )


class FederatedDropoutPartial(FederatedDropout):
    """As :class:`FederatedDropout`, but the device stops at the deadline and sends what it
    trained."""

    name = "feddropout-partial"
    overrun: ClassVar[Overrun] = "partial"
