"""Test-set evaluation of the global model.

By default every method's global model is evaluated as aggregated, BatchNorm running statistics
included (the masked average of the devices' ones); nothing is recomputed at the server
(docs/distreal.md, 'Batch normalisation at evaluation'). :func:`static_bn_state` is the one
exception, an option of the HeteroFL reproduction: the paper's static BatchNorm, statistics
recomputed over the whole training set before each evaluation
(docs/distreal.md, 'HeteroFL reproduction').
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from leantrain.data import ArrayDataset
from leantrain.nn.state import clone_state

__all__ = ["Evaluator", "static_bn_state"]


class Evaluator:
    """Accuracy and mean cross-entropy of a model state on a test set.

    Args:
        model: A scratch model of the right architecture (its weights are overwritten).
        test: The test set.
        batch_size: Evaluation batch size (memory only; results do not depend on it).
    """

    def __init__(self, model: nn.Module, test: ArrayDataset, batch_size: int = 256) -> None:
        self.model = model
        self.test = test
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, state: Mapping[str, torch.Tensor]) -> tuple[float, float]:
        """Return (accuracy, loss) of ``state`` on the test set."""
        self.model.load_state_dict(state)
        self.model.eval()
        correct = 0
        loss_sum = 0.0
        for start in range(0, len(self.test), self.batch_size):
            inputs = self.test.x[start : start + self.batch_size]
            targets = self.test.y[start : start + self.batch_size]
            logits = self.model(inputs)
            loss_sum += float(nn.functional.cross_entropy(logits, targets, reduction="sum"))
            correct += int((logits.argmax(dim=1) == targets).sum())
        count = max(1, len(self.test))
        return correct / count, loss_sum / count


@torch.no_grad()
def static_bn_state(
    model: nn.Module, state: Mapping[str, torch.Tensor], data: ArrayDataset, batch_size: int
) -> dict[str, torch.Tensor]:
    """``state`` with every BatchNorm's running statistics recomputed over ``data``.

    The statistics are reset and ``data`` passes once through the model in training mode, in
    order, in mini-batches of ``batch_size``, with BatchNorm's momentum set to None: each running
    statistic becomes the plain mean of the mini-batches' statistics (PyTorch's cumulative
    average). Every other entry is unchanged.

    Args:
        model: A scratch model of the right architecture (its weights are overwritten).
        state: The global state.
        data: The data to compute the statistics on (the whole training set).
        batch_size: The mini-batch size of the pass.
    """
    model.load_state_dict(state)
    norms = [
        module
        for module in model.modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats
    ]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    model.train()
    try:
        for start in range(0, len(data), batch_size):
            model(data.x[start : start + batch_size])
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
    return clone_state(model.state_dict())
