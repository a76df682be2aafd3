"""What the server sends a device for a round, and what comes back.

Both are plain data so that any engine can carry them: the local engine passes them in-process,
the Flower engine turns them into messages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from leantrain.fleet import EnergyBreakdown

__all__ = ["NO_DATA", "ClientTask", "ClientUpdate", "SampleSelection", "UpdateStatus"]

UpdateStatus = Literal["ok", "dropped", "failed"]

#: The reason of a ``dropped`` update from a device that had no sample to train on.
NO_DATA = "no data"


@dataclass(frozen=True)
class SampleSelection:
    """A task that trains one pass over a seeded share of the device's partition (a PACT epoch).

    The device trains the first ⌊f·d + ½⌋ samples of a permutation of its d samples drawn from
    the stream ``(seed, purpose, epoch, device)``, in that order, one SGD step per mini-batch of
    the config's batch size, with a fresh optimiser and no deadline
    (docs/pact-profile-execute.md, 'Execute').

    Attributes:
        fraction: Share f of the partition, in [0, 1].
        purpose: The random stream of the choice (``pact-execute``, ``pact-profile``).
        epoch: The epoch index (a fresh subset per epoch).
    """

    fraction: float
    purpose: str
    epoch: int


@dataclass(frozen=True)
class ClientTask:
    """One device's instructions for one round.

    Attributes:
        round: 1-based round index.
        device_index: The device's index in the fleet.
        round_start_s: Simulated time at which the round starts (the server sends the model).
        deadline_s: Round deadline T relative to the round start, covering download, compute and
            upload; None when the strategy has no deadline.
        wait_limit_s: How long after the round start the server waits for this device's answer.
        policy: Name of the local step policy (see :mod:`leantrain.fl.policy`).
        options: Policy options (JSON-serialisable).
        fault: An injected fault kind (``exception``, ``nan``, ``timeout``) or None.
        samples: When set, the device trains one pass over these samples of its partition with
            the full model (policy ``full``) instead of the round's local epochs.
        model_level: Pruning ratio ρ of the architecture the global state belongs to (0: the
            full model); the client builds that architecture
            (:meth:`~leantrain.fl.setup.FederatedSetup.build_model`).
        lr: The learning rate of this round's local update (the schedule's,
            :func:`~leantrain.fl.schedule.round_lr`); None means the config's ``training.lr``.
    """

    round: int
    device_index: int
    round_start_s: float
    deadline_s: float | None
    wait_limit_s: float
    policy: str
    options: dict[str, Any] = field(default_factory=dict)
    fault: str | None = None
    samples: SampleSelection | None = None
    model_level: float = 0.0
    lr: float | None = None


@dataclass(frozen=True)
class ClientUpdate:
    """A device's answer for one round.

    Attributes:
        device: The device's name.
        device_index: The device's index in the fleet.
        status: ``ok`` (an update to aggregate), ``dropped`` (no usable update, e.g. missed the
            deadline) or ``failed`` (the client raised).
        reason: Why the update is not ``ok``; empty otherwise.
        state: The full-size state after local training, or None.
        masks: Which state entries were trained (boolean, per key); None means all.
        num_samples: Samples trained on (the aggregation weight).
        num_batches: Mini-batches trained.
        arrival_s: Time from the round start until the update reached the server (inf if never).
        compute_s: Simulated compute time charged for energy.
        energy: Energy the device spent in this round.
        extra: Policy-specific figures (e.g. the mean cost ratio of the chosen sub-models).
        selections: ``[simulated start time, cost ratio R]`` of each trained mini-batch.
    """

    device: str
    device_index: int
    status: UpdateStatus
    reason: str = ""
    state: dict[str, torch.Tensor] | None = None
    masks: dict[str, torch.Tensor] | None = None
    num_samples: int = 0
    num_batches: int = 0
    arrival_s: float = math.inf
    compute_s: float = 0.0
    energy: EnergyBreakdown = field(default_factory=lambda: EnergyBreakdown(0.0, 0.0, 0.0))
    extra: dict[str, float] = field(default_factory=dict)
    selections: list[list[float]] = field(default_factory=list)
