"""The wider MNIST CNN (``mnist-cnn-wide``): 32/64 filters behind the same registry."""

from __future__ import annotations

import torch

from leantrain.nn import build_model
from leantrain.nn.groups import channel_groups
from leantrain.nn.submodel import SlicedTrainer, first_keep
from leantrain.registry import MODELS


def test_wide_model_is_registered_with_twice_the_filters() -> None:
    assert "mnist-cnn-wide" in MODELS
    torch.manual_seed(0)
    wide = build_model("mnist-cnn-wide", (1, 28, 28), 10)
    narrow = build_model("mnist-cnn", (1, 28, 28), 10)
    assert channel_groups(wide, (1, 28, 28)).channels == (32, 64)
    assert channel_groups(narrow, (1, 28, 28)).channels == (16, 32)
    assert wide(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    wide_params = sum(p.numel() for p in wide.parameters())
    assert wide_params > 2 * sum(p.numel() for p in narrow.parameters())


def test_wide_model_trains_sliced_sub_networks() -> None:
    torch.manual_seed(0)
    model = build_model("mnist-cnn-wide", (1, 28, 28), 10)
    groups = channel_groups(model, (1, 28, 28))
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(16, 1, 28, 28, generator=generator)
    y = torch.randint(0, 10, (16,), generator=generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    trainer = SlicedTrainer(model, groups, scale_outputs=True)
    keep = first_keep(groups, groups.keep_counts([0.5, 0.5]))
    losses = [trainer.step(optimizer, x, y, keep) for _ in range(5)]
    # Five steps on one batch: the loss falls by far more than any rounding difference.
    assert losses[-1] < 0.9 * losses[0]
