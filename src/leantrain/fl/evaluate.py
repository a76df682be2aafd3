"""Test-set evaluation of the global model.

Every method's global model is evaluated as aggregated, BatchNorm running statistics included
(the masked average of the devices' ones); nothing is recomputed at the server
(docs/distreal.md, 'Batch normalisation at evaluation').
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from leantrain.data import ArrayDataset

__all__ = ["Evaluator"]


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
