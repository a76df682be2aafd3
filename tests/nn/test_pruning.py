"""Structured pruning with Torch-Pruning: widths, step-by-step equals at once, channels physically
removed, the classifier and the model's mode kept."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from leantrain.fl import FederatedSetup
from leantrain.nn.pruning import final_classifier, kept_width, prunable_widths, prune_model


def test_kept_width_floors_and_keeps_one_channel() -> None:
    assert [kept_width(32, level) for level in (0.0, 0.25, 0.5, 0.75)] == [32, 24, 16, 8]
    assert kept_width(10, 0.33) == 6  # ⌊10 · 0.67⌋
    assert kept_width(3, 0.9) == 1


def test_the_classifier_is_the_last_layer_and_never_prunable(tiny_setup: FederatedSetup) -> None:
    model = tiny_setup.build_model()
    head = final_classifier(model)
    assert isinstance(head, nn.Linear) and head.out_features == 10
    assert prunable_widths(model) == {"features.0": 16, "features.3": 32}
    with pytest.raises(ValueError, match="no convolution or linear layer"):
        final_classifier(nn.Sequential(nn.ReLU()))


def test_pruning_step_by_step_equals_pruning_at_once(tiny_setup: FederatedSetup) -> None:
    shape = tiny_setup.data.train.input_shape
    widths = prunable_widths(tiny_setup.build_model())
    stepwise = prune_model(tiny_setup.build_model(), 0.25, widths, shape)
    prune_model(stepwise, 0.5, widths, shape)
    direct = prune_model(tiny_setup.build_model(), 0.5, widths, shape)
    assert (
        prunable_widths(stepwise) == prunable_widths(direct) == {"features.0": 8, "features.3": 16}
    )
    with pytest.raises(ValueError, match="fewer than"):
        prune_model(stepwise, 0.25, widths, shape)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        prune_model(direct, 1.0, widths, shape)


def test_channels_are_removed_not_reweighted_and_the_model_runs(tiny_setup: FederatedSetup) -> None:
    shape = tiny_setup.data.train.input_shape
    model = tiny_setup.build_model()
    model.eval()
    conv = dict(model.named_modules())["features.0"]
    assert isinstance(conv, nn.Conv2d)
    original = conv.weight.detach().clone()  # pruning replaces the module's weight in place
    prune_model(model, 0.5, prunable_widths(model), shape)
    assert not model.training  # the mode is kept
    pruned = dict(model.named_modules())["features.0"]
    assert isinstance(pruned, nn.Conv2d) and pruned.weight.shape[0] == 8
    # Every surviving filter is one of the original ones, unchanged (channels are removed, not
    # re-weighted), kept in their original order.
    rows = [w.flatten().tolist() for w in original]
    kept = [rows.index(w.flatten().tolist()) for w in pruned.weight.detach()]
    assert kept == sorted(kept) and len(set(kept)) == 8
    assert final_classifier(model).out_features == 10
    assert model(torch.zeros(3, *shape)).shape == (3, 10)


def test_a_setup_builds_the_pruned_architecture(tiny_setup: FederatedSetup) -> None:
    shape = tiny_setup.data.train.input_shape
    built = tiny_setup.build_model(0.75)
    by_hand = tiny_setup.build_model()
    prune_model(by_hand, 0.75, prunable_widths(by_hand), shape)
    assert built.state_dict().keys() == by_hand.state_dict().keys()
    for key, value in by_hand.state_dict().items():
        assert torch.equal(built.state_dict()[key], value), key
    assert (
        tiny_setup.cost_at(0.75).train_flops_per_sample
        < tiny_setup.full_cost.train_flops_per_sample
    )
