"""Sliced sub-network steps against the masked oracle, untouched dropped channels, and R(d)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from leantrain.nn import build_model, model_cost
from leantrain.nn.groups import ChannelGroups, channel_groups
from leantrain.nn.submodel import SlicedTrainer, SubModelCost, TrainedMasks, first_keep, random_keep
from nn.masked_oracle import masked_step
from nn.test_groups import UserNet, UserResidual

MODELS = [
    ("mnist-cnn", (1, 28, 28)),
    ("digits-cnn", (1, 8, 8)),
    ("resnet8", (3, 16, 16)),
]


def _model(name: str, shape: tuple[int, int, int]) -> nn.Module:
    torch.manual_seed(0)
    if name == "user-net":
        return UserNet()
    if name == "user-residual":
        return UserResidual()
    return build_model(name, shape, 10)


def _warm_optimizer(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.optim.SGD:
    """An SGD with momentum and weight decay, after one full step (momentum buffers exist)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    return optimizer


def _batch(shape: tuple[int, int, int], classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(8, *shape, generator=generator)
    return x, torch.randint(0, classes, (8,), generator=generator)


CASES = [*MODELS, ("user-net", (3, 8, 8)), ("user-residual", (1, 6, 6))]


@dataclass(frozen=True)
class Tolerance:
    """How far the sliced and the masked step may differ after three steps."""

    loss_rel: float
    state_abs: float
    momentum_abs: float


#: float64: the two orders of summation agree to a few 1e-14 (largest differences measured over
#: the six CPU configurations of docs/testing.md, "Numerical portability of the tests": loss
#: 3.6e-15 relative, weights 2.3e-15, momentum 2.1e-14); 1e-12 leaves a margin of over 40.
EXACT = Tolerance(loss_rel=1e-12, state_abs=1e-12, momentum_abs=1e-12)
#: float32: each result is within rounding of the exact (float64) one, but which way it rounds
#: depends on the CPU's kernels, so the bound is twice the largest float32-vs-float64 error
#: measured over those configurations (loss 2.8e-6 relative, weights 1.6e-6, momentum 1.5e-5;
#: all digits-cnn with scaling, SSE path, one thread) times a margin of 3 to 3.6. An AMD EPYC
#: measured 1.5e-6 relative on the loss. Injected slicing bugs (a kept channel off by one, lost
#: momentum) move weights by 6e-2 or more.
ROUNDED = Tolerance(loss_rel=2e-5, state_abs=1e-5, momentum_abs=1e-4)


@pytest.mark.parametrize(
    ("dtype", "tolerance"), [(torch.float64, EXACT), (torch.float32, ROUNDED)], ids=["f64", "f32"]
)
@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize(("name", "shape"), CASES)
def test_sliced_steps_equal_masked_steps(
    name: str, shape: tuple[int, int, int], scale: bool, dtype: torch.dtype, tolerance: Tolerance
) -> None:
    model = _model(name, shape).to(dtype)
    classes = {"user-net": 5, "user-residual": 3}.get(name, 10)
    x, y = _batch(shape, classes)
    x = x.to(dtype)
    groups = channel_groups(model, shape)
    sliced_model, masked_model = copy.deepcopy(model), copy.deepcopy(model)
    sliced_opt = _warm_optimizer(sliced_model, x, y)
    masked_opt = _warm_optimizer(masked_model, x, y)
    trainer = SlicedTrainer(sliced_model, groups, scale_outputs=scale)
    generator = torch.Generator().manual_seed(1)
    for rate in (0.5, 0.25, 0.75):
        keep = random_keep(groups, groups.keep_counts([rate] * len(groups)), generator)
        loss_sliced = trainer.step(sliced_opt, x, y, keep)
        loss_masked = masked_step(masked_model, masked_opt, x, y, groups, keep, scale_outputs=scale)
        assert loss_sliced == pytest.approx(loss_masked, rel=tolerance.loss_rel, abs=0)
    sliced_state, masked_state = sliced_model.state_dict(), masked_model.state_dict()
    for key, value in sliced_state.items():
        torch.testing.assert_close(value, masked_state[key], atol=tolerance.state_abs, rtol=0)
    sliced_params = dict(sliced_model.named_parameters())
    masked_params = dict(masked_model.named_parameters())
    for key, param in sliced_params.items():
        torch.testing.assert_close(
            sliced_opt.state[param]["momentum_buffer"],
            masked_opt.state[masked_params[key]]["momentum_buffer"],
            atol=tolerance.momentum_abs,
            rtol=0,
        )


def _dropped_entries(
    state: dict[str, torch.Tensor], groups: ChannelGroups, keep: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    masks = TrainedMasks.of(state, groups, [keep])
    assert masks is not None
    return {key: mask == 0 for key, mask in masks.items()}


@pytest.mark.parametrize(("name", "shape"), MODELS)
def test_dropped_channels_are_bit_identical(name: str, shape: tuple[int, int, int]) -> None:
    model = _model(name, shape)
    x, y = _batch(shape)
    groups = channel_groups(model, shape)
    optimizer = _warm_optimizer(model, x, y)
    params = dict(model.named_parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    momentum = {k: optimizer.state[p]["momentum_buffer"].clone() for k, p in params.items()}
    keep = random_keep(
        groups, groups.keep_counts([0.5] * len(groups)), torch.Generator().manual_seed(2)
    )
    SlicedTrainer(model, groups, scale_outputs=True).step(optimizer, x, y, keep)
    after = model.state_dict()
    dropped = _dropped_entries(before, groups, keep)
    assert any("running_mean" in key for key in dropped)
    for key, outside in dropped.items():
        assert torch.equal(after[key][outside], before[key][outside]), key
        assert not torch.equal(after[key], before[key]), f"{key} was not trained at all"
        if key in params:
            buffer = optimizer.state[params[key]]["momentum_buffer"]
            assert torch.equal(buffer[outside], momentum[key][outside]), key


@pytest.mark.parametrize(("name", "shape"), [*MODELS, ("user-net", (3, 8, 8))])
@pytest.mark.parametrize("rates", [(0.5,), (0.25, 0.75), (0.875,)])
def test_cost_ratio_matches_flops_counted_on_the_sliced_step(
    name: str, shape: tuple[int, int, int], rates: tuple[float, ...]
) -> None:
    model = _model(name, shape)
    classes = 5 if name == "user-net" else 10
    x, y = _batch(shape, classes)
    groups = channel_groups(model, shape)
    dropout = [rates[i % len(rates)] for i in range(len(groups))]
    counts = groups.keep_counts(dropout)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    trainer = SlicedTrainer(model, groups, scale_outputs=True)
    cost = SubModelCost(groups, model_cost(model, shape))

    def counted(keep: dict[str, torch.Tensor] | None) -> int:
        with FlopCounterMode(display=False) as counter:
            if keep is None:
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
            else:
                trainer.step(optimizer, x, y, keep)
        return int(counter.get_total_flops())

    sub = counted(random_keep(groups, counts, torch.Generator().manual_seed(3)))
    full = counted(None)
    assert sub == pytest.approx(cost.flops(counts) * len(x), rel=1e-9)
    assert full == pytest.approx(cost.full_flops * len(x), rel=1e-9)
    assert cost.ratio(counts) == pytest.approx(sub / full, rel=1e-9)
    assert cost.ratio_of([0.0] * len(groups)) == 1.0


def test_trained_masks_count_the_samples_that_trained_each_entry() -> None:
    model = _model("digits-cnn", (1, 8, 8))
    groups = channel_groups(model, (1, 8, 8))
    state = model.state_dict()
    first = first_keep(groups, (2, 3))
    second = {"features.0": torch.tensor([1, 5]), "features.3": torch.tensor([0, 7])}
    tracker = TrainedMasks(state, groups)
    tracker.add(first, 30)
    tracker.add(second, 10)
    masks = tracker.masks()
    assert masks is not None
    conv1 = masks["features.3.weight"]
    assert conv1.shape == state["features.3.weight"].shape
    assert {int(i) for i in conv1.sum(dim=(1, 2, 3)).nonzero()} == {0, 1, 2, 7}
    assert float(conv1[0, 1, 0, 0]) == 1.0  # out 0 and in 1 held in both mini-batches
    assert float(conv1[1, 1, 0, 0]) == 0.75  # only in the first (30 of 40 samples)
    assert float(conv1[7, 5, 0, 0]) == 0.25  # only in the second
    assert float(conv1[7, 0, 0, 0]) == 0.0  # input 0 was kept only with outputs 0..2
    running = masks["features.1.running_mean"]
    assert running.tolist()[:6] == [0.75, 1.0, 0.0, 0.0, 0.0, 0.25]
    tracker.add(None, 40)  # a full-model mini-batch holds everything
    assert float(tracker.masks()["features.3.weight"][1, 1, 0, 0]) == (30 + 40) / 80  # type: ignore[index]
    full = TrainedMasks(state, groups)
    full.add(None, 8)
    assert full.masks() is None


def test_only_plain_sgd_is_supported() -> None:
    model = _model("digits-cnn", (1, 8, 8))
    groups = channel_groups(model, (1, 8, 8))
    x, y = _batch((1, 8, 8))
    keep = first_keep(groups, (8, 16))
    trainer = SlicedTrainer(model, groups, scale_outputs=False)
    with pytest.raises(TypeError, match="SGD"):
        trainer.step(torch.optim.Adam(model.parameters()), x, y, keep)
    with pytest.raises(TypeError, match="nesterov"):
        nesterov = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        trainer.step(nesterov, x, y, keep)
