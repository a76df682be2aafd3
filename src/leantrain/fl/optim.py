"""The one place that builds the local optimiser (FL clients, PACT node epochs, DSE proxies)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from leantrain.config import TrainingConfig

__all__ = ["build_optimizer"]


def build_optimizer(
    parameters: Iterable[torch.nn.Parameter],
    training: TrainingConfig,
    lr: float | None = None,
) -> torch.optim.SGD:
    """A fresh SGD optimiser with the run's learning rate, momentum and weight decay.

    Every local update starts one: momentum is not carried across rounds (docs/world-model.md).

    Args:
        parameters: The parameters to train.
        training: The run's training settings.
        lr: The learning rate of this update (a round's scheduled rate,
            :func:`~leantrain.fl.schedule.round_lr`); None uses ``training.lr``.
    """
    return torch.optim.SGD(
        parameters,
        lr=training.lr if lr is None else lr,
        momentum=training.momentum,
        weight_decay=training.weight_decay,
    )
