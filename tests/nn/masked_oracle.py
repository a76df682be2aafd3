"""The masked oracle for :meth:`leantrain.nn.submodel.SlicedTrainer.step` (tests only).

An independent way to train one mini-batch on a sub-network (docs/distreal.md, "The mechanism,
shared by DISTREAL and every sub-model baseline"): the full-size network with the dropped channels
zeroed where they are read, a plain ``torch.optim.SGD`` step, and every entry outside the
sub-network restored afterwards. It shares no code with the sliced trainer beyond the channel
groups, so agreement of the two is evidence that slicing, scattering and the momentum rule are
right.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.func import functional_call

from leantrain.nn.groups import ChannelGroups, TensorSlice
from leantrain.nn.submodel import Keep

__all__ = ["masked_step"]


def _along(
    piece: TensorSlice, tensor: torch.Tensor, keep: torch.Tensor, value: float
) -> torch.Tensor:
    """``value`` at the kept entries of ``piece.dim``, 0 elsewhere, broadcastable to ``tensor``.

    The mask has the tensor's dtype: a float32 mask would round C_l / k_l in a float64 step.
    """
    along = torch.zeros(tensor.shape[piece.dim], dtype=tensor.dtype)
    along[piece.indices(keep)] = value
    shape = [1] * tensor.dim()
    shape[piece.dim] = -1
    return along.view(shape)


def _held(
    state: Mapping[str, torch.Tensor], groups: ChannelGroups, keep: Keep
) -> dict[str, torch.Tensor]:
    """Per indexed state key, a boolean tensor of the entries the sub-network holds."""
    held: dict[str, torch.Tensor] = {}
    for group in groups.groups:
        if group.name not in keep:
            continue
        for piece in group.slices:
            tensor = state[piece.key]
            mask = _along(piece, tensor, keep[group.name], 1.0).expand(tensor.shape) != 0
            previous = held.get(piece.key)
            held[piece.key] = mask if previous is None else previous & mask
    return held


def masked_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    groups: ChannelGroups,
    keep: Keep,
    *,
    scale_outputs: bool,
) -> float:
    """One masked full-size step; returns the mini-batch loss.

    Dropped channels are zeroed where they are read (the reading weights are multiplied by the
    0/1 channel mask, and by C_l / k_l with output scaling), a plain optimizer step runs on the
    full model, and every entry outside the sub-network (weights, BatchNorm statistics, momentum)
    is then restored to its value before the step.
    """
    state = model.state_dict()
    held = _held(state, groups, keep)
    params = dict(model.named_parameters())
    before = {key: state[key].detach().clone() for key in held}
    momentum_before: dict[str, torch.Tensor | None] = {}
    for key in held:
        if key in params:
            buffer = optimizer.state[params[key]].get("momentum_buffer")
            momentum_before[key] = None if buffer is None else buffer.clone()
    read_masks: dict[str, torch.Tensor] = {}
    for group in groups.groups:
        if group.name not in keep:
            continue
        factor = group.channels / len(keep[group.name]) if scale_outputs else 1.0
        for piece in group.slices:
            if piece.reads:
                read_masks[piece.key] = _along(piece, state[piece.key], keep[group.name], factor)
    used = {key: params[key] * mask for key, mask in read_masks.items()}
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(functional_call(model, used, (inputs,)), targets)
    loss.backward()  # type: ignore[no-untyped-call]
    optimizer.step()
    with torch.no_grad():
        for key, mask in held.items():
            state[key][~mask] = before[key][~mask]
            if key in momentum_before:
                buffer = optimizer.state[params[key]].get("momentum_buffer")
                if buffer is not None:
                    old = momentum_before[key]
                    buffer[~mask] = 0.0 if old is None else old[~mask]
    return float(loss.detach())
