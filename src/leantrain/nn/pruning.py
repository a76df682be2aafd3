"""Structured pruning with Torch-Pruning: channels physically removed, the classifier kept.

PACT's model levels (docs/pact-profile-execute.md, 'Profile') are the model pruned to a ratio ρ of
its full width: every convolution and linear layer but the final classifier keeps
:func:`kept_width` of its channels, ranked by L2 magnitude over each dependency group.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["final_classifier", "kept_width", "prunable_widths", "prune_model"]


def _width(module: nn.Module) -> int:
    if isinstance(module, nn.Linear):
        return int(module.out_features)
    if isinstance(module, nn.modules.conv._ConvNd):
        return int(module.out_channels)
    raise TypeError(f"not a convolution or linear layer: {type(module).__name__}")


def final_classifier(model: nn.Module) -> nn.Module:
    """The layer whose outputs are the logits: the last convolution or linear layer in module
    order (the ``nn.Linear`` head of every registered model). Its outputs are never pruned.

    Raises:
        ValueError: The model has no convolution or linear layer.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.Linear | nn.modules.conv._ConvNd)]
    if not layers:
        raise ValueError("the model has no convolution or linear layer to prune")
    return layers[-1]


def prunable_widths(model: nn.Module) -> dict[str, int]:
    """The output width of every prunable layer (all convolutions and linear layers but the final
    classifier), by qualified name."""
    head = final_classifier(model)
    return {
        name: _width(module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear | nn.modules.conv._ConvNd) and module is not head
    }


def kept_width(full_width: int, level: float) -> int:
    """Channels a layer of ``full_width`` keeps at pruning ratio ``level``: max(1, ⌊C·(1−ρ)⌋),
    Torch-Pruning's own rounding for a ratio applied to the full model."""
    return max(1, int(full_width * (1.0 - level)))


def prune_model(
    model: nn.Module,
    level: float,
    full_widths: Mapping[str, int],
    input_shape: tuple[int, int, int],
) -> nn.Module:
    """Prune ``model`` in place to pruning ratio ``level`` of the full model, physically.

    Every prunable layer keeps :func:`kept_width` of its full-model width ``full_widths[name]``;
    ``model`` may already be pruned to a lower level, so pruning ρ → ρ′ step by step gives exactly
    the architecture of pruning the full model to ρ′ at once. Channels are ranked by Torch-Pruning's
    ``MagnitudeImportance(p=2)`` over each dependency group (a convolution's filters with the
    BatchNorm entries and the next layer's input weights they feed), and removed from every layer
    of the group (``tp.pruner.BasePruner`` with per-layer ratios); the final classifier's outputs
    are ignored. The model's training/evaluation mode is kept.

    Args:
        model: The model to prune (modified and returned).
        level: Target pruning ratio ρ ∈ [0, 1) relative to the full model.
        full_widths: :func:`prunable_widths` of the unpruned model.
        input_shape: One sample's (C, H, W), for tracing the dependency graph.

    Returns:
        ``model``, pruned.

    Raises:
        ValueError: ``level`` is outside [0, 1), or the model is pruned beyond ``level`` already.
    """
    if not 0.0 <= level < 1.0:
        raise ValueError(f"pruning level must lie in [0, 1), got {level}")
    head = final_classifier(model)
    ratios: dict[nn.Module, float] = {}
    for name, module in model.named_modules():
        if name not in full_widths or module is head:
            continue
        current = _width(module)
        target = kept_width(full_widths[name], level)
        if target > current:
            raise ValueError(f"layer {name} has {current} channels, fewer than {target} at {level}")
        if target < current:
            # ⌊current·(1 − r)⌋ = target for r = 1 − (target + ½)/current, free of rounding error.
            ratios[module] = 1.0 - (target + 0.5) / current
    if not ratios:
        return model
    import torch_pruning as tp  # heavy: only when a model is actually pruned

    training = model.training
    model.eval()
    first = next(model.parameters())
    example = torch.zeros((1, *input_shape), dtype=first.dtype, device=first.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pruner = tp.pruner.BasePruner(
            model,
            example,
            importance=tp.importance.MagnitudeImportance(p=2),
            pruning_ratio=0.0,
            pruning_ratio_dict=ratios,
            ignored_layers=[head],
        )
        pruner.step()
    model.train(training)
    for name, module in model.named_modules():
        if name in full_widths and module is not head:
            expected = kept_width(full_widths[name], level)
            if _width(module) != expected:
                raise RuntimeError(
                    f"Torch-Pruning left {_width(module)} channels in {name}, expected {expected}"
                )
    return model
