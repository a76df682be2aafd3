"""Where PACT's per-node training runs: the seam between an epoch of a plan and an engine.

An epoch of a plan (``execute``, and ``profile``'s FedAvg dynamics) is one synchronous FedAvg
round: every training node trains one local epoch on a fraction of its partition, starting from
the global weights of the (possibly pruned) model. :class:`NodeTrainer` runs those local epochs;
the in-process trainer is :class:`~leantrain.pact.profile.InProcessNodeTrainer`, and
``leantrain.engines`` supplies one for each engine (Flower runs them in its ClientApps).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["NodeResult", "NodeTask", "NodeTrainer"]


@dataclass(frozen=True)
class NodeTask:
    """One node's local epoch.

    Attributes:
        device_index: The node's device in the run's fleet.
        fraction: Fraction of its partition it trains on.
        level: Pruning ratio of the model (its architecture: a remote node rebuilds it from this).
        purpose: The random stream of the sample choice (``pact-execute``, ``pact-profile``).
        epoch: The epoch index (a fresh sample subset per epoch).
    """

    device_index: int
    fraction: float
    level: float
    purpose: str
    epoch: int


@dataclass(frozen=True)
class NodeResult:
    """What a node returned.

    Attributes:
        device: The node's device name.
        samples: Samples it trained on (the aggregation weight).
        state: Its weights after the local epoch; None when it trained nothing or failed.
        reason: Why there is no state (empty when there is one, or it had no sample to train).
    """

    device: str
    samples: int
    state: dict[str, torch.Tensor] | None
    reason: str = ""


class NodeTrainer(ABC):
    """Runs the local epochs of one FedAvg round."""

    @abstractmethod
    def train(self, model: nn.Module, tasks: Sequence[NodeTask]) -> list[NodeResult]:
        """Run every task from ``model``'s current weights; one result per task, in order.

        A node's failure is a result without state (and a reason), never an exception.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release what the trainer holds (processes, connections)."""
