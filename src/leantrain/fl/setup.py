"""Everything a run derives from its config, the same on the server and on every client.

Building it is deterministic given the config, so a Flower ClientApp on another machine rebuilds
exactly the device profile, the data partition and the initial model the local engine uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import nn

from leantrain.config import RunConfig
from leantrain.data import ArrayDataset, DataSplit, load_data, partition
from leantrain.errors import InputError
from leantrain.fleet import Device, Fleet, build_fleet
from leantrain.nn import ModelCost, build_model, model_cost
from leantrain.nn.groups import ChannelGroups, UnsupportedModelError, channel_groups
from leantrain.nn.submodel import SubModelCost
from leantrain.seeding import stream_seed

__all__ = ["FederatedSetup", "build_setup"]

#: Without a configured timeout, the server waits this many deadlines for a silent device.
DEFAULT_TIMEOUT_DEADLINES = 50.0


@dataclass(frozen=True)
class FederatedSetup:
    """A run's data, fleet, partition and model, derived from its config.

    Attributes:
        config: The validated config.
        data: Train and test sets.
        fleet: The simulated devices.
        partitions: Per device (fleet order), the indices of its training samples.
        full_cost: Training cost of the full model.
        deadline_s: Round deadline T (configured, or derived from the reference device).
        timeout_s: How long the server waits for a device when a strategy has no deadline.
    """

    config: RunConfig
    data: DataSplit
    fleet: Fleet
    partitions: tuple[np.ndarray, ...]
    full_cost: ModelCost
    deadline_s: float
    timeout_s: float

    def build_model(self, level: float = 0.0) -> nn.Module:
        """A fresh model with the run's deterministic initial weights, pruned to ``level``.

        At ``level`` > 0 the initial model is pruned with
        :func:`~leantrain.nn.pruning.prune_model`: the architecture of any model pruned to that
        level, which a client loads the global weights into (docs/pact-profile-execute.md,
        'Execute').

        Raises:
            ValueError: ``level`` is outside [0, 1).
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stream_seed(self.config.seed, "init"))
            model = build_model(
                self.config.model.name,
                self.data.train.input_shape,
                self.data.train.num_classes,
                self.config.model.global_rate,
            )
        if level != 0.0:
            from leantrain.nn.pruning import prunable_widths, prune_model

            prune_model(model, level, prunable_widths(model), self.data.train.input_shape)
        return model

    def cost_at(self, level: float) -> ModelCost:
        """Training cost of the model pruned to ``level`` (:attr:`full_cost` at 0; measured once
        per level)."""
        if level == 0.0:
            return self.full_cost
        costs = self._level_costs
        if level not in costs:
            costs[level] = model_cost(self.build_model(level), self.data.train.input_shape)
        return costs[level]

    @cached_property
    def _level_costs(self) -> dict[float, ModelCost]:
        return {}

    def local_data(self, device_index: int) -> ArrayDataset:
        """The training samples held by device ``device_index``."""
        return self.data.train.subset(self.partitions[device_index])

    def device(self, device_index: int) -> Device:
        """The device with fleet index ``device_index``."""
        return self.fleet.devices[device_index]

    @cached_property
    def channel_groups(self) -> ChannelGroups:
        """The model's droppable channel groups (traced once, on first use).

        Raises:
            InputError: The model has layers channel dropout cannot slice.
        """
        try:
            return channel_groups(self.build_model(), self.data.train.input_shape)
        except UnsupportedModelError as error:
            raise InputError(None, "model.name", str(error)) from None

    @cached_property
    def submodel_cost(self) -> SubModelCost:
        """R(d) of the model's sub-networks."""
        return SubModelCost(self.channel_groups, self.full_cost)

    @property
    def state_bytes(self) -> int:
        """Bytes of the full model state sent each way per round."""
        return self.full_cost.state_bytes


def reference_round_time(
    device: Device, samples: int, epochs: int, flops_per_sample: float, state_bytes: int
) -> float:
    """Time ``device`` at a(t)=1 needs to download, train ``epochs`` over ``samples``, upload."""
    compute = epochs * samples * flops_per_sample / device.flops
    return device.download_time(state_bytes) + compute + device.upload_time(state_bytes)


def build_setup(config: RunConfig, source: str | Path = "<config>") -> FederatedSetup:
    """Load data, build the fleet, partition the data and cost the model.

    Raises:
        InputError: Data, fleet or model do not fit together (e.g. more devices than writers).
    """
    data = load_data(config.data, config.seed)
    fleet = build_fleet(config.fleet, config.seed, source)
    parts = partition(data.train, config.data, len(fleet.devices), config.seed)
    probe = build_model(
        config.model.name, data.train.input_shape, data.train.num_classes, config.model.global_rate
    )
    cost = model_cost(probe, data.train.input_shape)
    training = config.training
    if training.deadline_s is not None:
        deadline = training.deadline_s
    else:
        median_samples = int(np.median([len(p) for p in parts]))
        deadline = training.deadline_slack * reference_round_time(
            fleet.reference,
            median_samples,
            training.local_epochs,
            cost.train_flops_per_sample,
            cost.state_bytes,
        )
    timeout = training.round_timeout_s or DEFAULT_TIMEOUT_DEADLINES * deadline
    assert math.isfinite(deadline) and deadline > 0
    return FederatedSetup(config, data, fleet, tuple(parts), cost, deadline, timeout)
