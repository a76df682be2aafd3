"""Local step policies: what a device trains in its next mini-batch, and when it stops.

A policy runs on the device, before every mini-batch, with only what the device knows: its own
speed now, the time left until the deadline and the work left. Strategies name a policy in each
:class:`~leantrain.fl.task.ClientTask`; the device builds it from :data:`POLICIES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from leantrain.fl.setup import FederatedSetup
from leantrain.fleet import Device, finish_time
from leantrain.nn.groups import ChannelGroups
from leantrain.nn.submodel import SubModelCost
from leantrain.registry import POLICIES

__all__ = [
    "POLICIES",
    "BatchDecision",
    "DropPolicy",
    "FullPolicy",
    "LocalPolicy",
    "LocalProgress",
    "PartialPolicy",
    "PolicyContext",
    "Stop",
    "make_policy",
]


@dataclass(frozen=True)
class LocalProgress:
    """The device's view before mini-batch ``batch``.

    Attributes:
        batch: Index m of the next mini-batch (0-based).
        total_batches: M, the mini-batches of the full local workload.
        now_s: Current simulated time.
        compute_deadline_s: Latest simulated time at which computing may end so the upload still
            meets the round deadline; None without a deadline.
        device: The device itself (its speed and availability trace).
        batch_samples: Samples in the next mini-batch.
        remaining_samples: Samples in mini-batches m..M-1.
        full_flops_per_sample: Training FLOPs per sample of the full model.
    """

    batch: int
    total_batches: int
    now_s: float
    compute_deadline_s: float | None
    device: Device
    batch_samples: int
    remaining_samples: int
    full_flops_per_sample: float

    def finish_of(self, work_flops: float) -> float:
        """Simulated time at which ``work_flops`` started now would be done on this device."""
        return finish_time(self.device.trace, self.device.flops, self.now_s, work_flops)


@dataclass(frozen=True)
class PolicyContext:
    """What a device knows about the model it trains, for policies that train sub-models.

    Attributes:
        setup: The run's setup (the model's channel groups are derived from it on first use, so
            full-model policies work on models channel dropout does not support).
        generator: The device's random stream for this round (fresh channel subsets).
    """

    setup: FederatedSetup
    generator: torch.Generator

    @property
    def groups(self) -> ChannelGroups:
        """The model's droppable channel groups."""
        return self.setup.channel_groups

    @property
    def cost(self) -> SubModelCost:
        """R of any sub-network (kept channel counts per group)."""
        return self.setup.submodel_cost


@dataclass(frozen=True)
class BatchDecision:
    """Train the next mini-batch on this sub-model.

    Attributes:
        flops_per_sample: Training FLOPs per sample of what is trained.
        keep: Channel group name to the kept output-channel indices; None trains the full model.
        cost_ratio: FLOPs relative to the full model (1.0 for the full model).
    """

    flops_per_sample: float
    keep: Mapping[str, torch.Tensor] | None = None
    cost_ratio: float = 1.0


@dataclass(frozen=True)
class Stop:
    """Stop local training now.

    Attributes:
        reason: Why (for the log), e.g. ``deadline``.
        discard: True when what was trained must not be sent (the update is dropped).
        busy_until_deadline: True when the device keeps computing until the deadline anyway
            (a device that cannot know it will be cut off), so its energy is charged until then.
    """

    reason: str
    discard: bool = False
    busy_until_deadline: bool = False


class LocalPolicy(ABC):
    """Decides, before each mini-batch, what to train or whether to stop.

    Args:
        options: The policy options a strategy put in the task.
        context: The model's channel groups and the device's random stream, for policies that
            train sub-models; built by the client.
    """

    name: ClassVar[str]

    def __init__(self, options: Mapping[str, Any], context: PolicyContext) -> None:
        self.options = dict(options)
        self.context = context

    @abstractmethod
    def decide(self, progress: LocalProgress) -> BatchDecision | Stop:
        """The decision for mini-batch ``progress.batch``."""


def make_policy(name: str, options: Mapping[str, Any], context: PolicyContext) -> LocalPolicy:
    """Build the policy ``name`` with ``options``.

    Raises:
        UnknownNameError: No policy of that name is registered (a KeyError).
    """
    return POLICIES.get(name)(options, context)


class FullPolicy(LocalPolicy):
    """Train the full model on the whole workload, however long it takes (FedAvg)."""

    name = "full"

    def decide(self, progress: LocalProgress) -> BatchDecision | Stop:
        return BatchDecision(progress.full_flops_per_sample)


class DropPolicy(LocalPolicy):
    """Train the full model on the whole workload; a device that misses the deadline is dropped.

    The device cannot know in advance that it will be cut off, so it is charged for computing until
    the deadline. The simulation skips the real training of such a device: its result would be
    discarded anyway, and nothing else depends on it.
    """

    name = "drop"

    def decide(self, progress: LocalProgress) -> BatchDecision | Stop:
        if progress.batch == 0 and progress.compute_deadline_s is not None:
            total = progress.remaining_samples * progress.full_flops_per_sample
            if progress.finish_of(total) > progress.compute_deadline_s:
                return Stop("deadline", discard=True, busy_until_deadline=True)
        return BatchDecision(progress.full_flops_per_sample)


class PartialPolicy(LocalPolicy):
    """Train the full model until the next mini-batch would miss the deadline, then send."""

    name = "partial"

    def decide(self, progress: LocalProgress) -> BatchDecision | Stop:
        if progress.compute_deadline_s is not None:
            work = progress.batch_samples * progress.full_flops_per_sample
            if progress.finish_of(work) > progress.compute_deadline_s:
                return Stop("deadline")
        return BatchDecision(progress.full_flops_per_sample)
