"""Tests of leantrain.fl.evaluate: accuracy and mean cross-entropy of a state on a test set."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from leantrain.data import ArrayDataset
from leantrain.fl.evaluate import Evaluator


@pytest.mark.parametrize("batch_size", [1, 3, 256])
def test_accuracy_and_loss_by_hand(batch_size: int) -> None:
    """Two classes with logits = x (an identity layer); the results do not depend on the
    evaluation batch size."""
    x = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 3.0], [0.0, 0.5]]).reshape(4, 1, 1, 2)
    y = torch.tensor([0, 1, 0, 1])
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 2, bias=False))
    evaluator = Evaluator(model, ArrayDataset(x, y, 2), batch_size=batch_size)

    accuracy, loss = evaluator({"1.weight": torch.eye(2)})

    def nll(logits: list[float], target: int) -> float:
        return math.log(sum(math.exp(v) for v in logits)) - logits[target]

    expected = (nll([2, 0], 0) + nll([0, 1], 1) + nll([1, 3], 0) + nll([0, 0.5], 1)) / 4
    assert accuracy == 0.75  # only the third sample's argmax is wrong
    # float32 log-sum-exp of O(1) values and a sum of four: a few ulps (6e-8 each) at most;
    # 1e-6 relative leaves room for any summation order.
    assert loss == pytest.approx(expected, rel=1e-6, abs=0.0)


def test_the_state_is_loaded_each_call() -> None:
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).reshape(2, 1, 1, 2)
    y = torch.tensor([0, 1])
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 2, bias=False))
    evaluator = Evaluator(model, ArrayDataset(x, y, 2))

    assert evaluator({"1.weight": torch.eye(2)})[0] == 1.0
    assert evaluator({"1.weight": torch.eye(2).flip(0)})[0] == 0.0
