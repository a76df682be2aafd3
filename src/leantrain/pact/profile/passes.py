"""The training passes of ``profile``: central SGD over the pooled data, or one PACT epoch of the
whole fleet (docs/pact-profile-execute.md, 'Profile')."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from leantrain.data import ArrayDataset
from leantrain.fl.client import train_step
from leantrain.fl.setup import FederatedSetup

__all__ = ["central_pass", "pooled_training_data"]


def central_pass(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: ArrayDataset,
    order: torch.Tensor,
    batch_size: int,
) -> None:
    """Train ``model`` on ``data`` in ``order``, one SGD step per mini-batch of ``batch_size``."""
    model.train()
    for batch in torch.split(order, batch_size):
        train_step(model, optimizer, data.x[batch], data.y[batch])


def pooled_training_data(setup: FederatedSetup) -> ArrayDataset:
    """The training samples the fleet holds (the union of the partitions), in dataset order."""
    indices = np.sort(np.concatenate([np.asarray(p, dtype=np.int64) for p in setup.partitions]))
    return setup.data.train.subset(indices)
