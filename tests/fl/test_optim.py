"""Tests of leantrain.fl.optim: the one optimiser builder."""

from __future__ import annotations

import torch

from conftest import tiny_config
from leantrain.fl.optim import build_optimizer


def test_the_optimiser_has_the_runs_settings_and_no_history() -> None:
    training = tiny_config(training={"lr": 0.2, "momentum": 0.5, "weight_decay": 1e-3}).training
    weight = torch.nn.Parameter(torch.ones(3))

    optimizer = build_optimizer([weight], training)

    assert isinstance(optimizer, torch.optim.SGD)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.2, 0.5, 1e-3)
    assert not optimizer.state  # momentum is never carried in from an earlier update


def test_one_step_is_plain_sgd_with_weight_decay() -> None:
    training = tiny_config(training={"lr": 0.5, "momentum": 0.0, "weight_decay": 0.25}).training
    weight = torch.nn.Parameter(torch.tensor([2.0], dtype=torch.float64))
    optimizer = build_optimizer([weight], training)

    (3.0 * weight).sum().backward()  # type: ignore[no-untyped-call]
    optimizer.step()

    # w - lr * (grad + wd * w) = 2 - 0.5 * (3 + 0.5) = 0.25, exact in float64.
    assert weight.item() == 0.25
