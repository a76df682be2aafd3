"""Channel groups: the conv output channels that can be dropped together
(docs/distreal.md, 'Channel groups').

A group is one convolution's output channels together with every tensor that is indexed by them:
the convolution's own weight (and bias) along dim 0, the BatchNorm that follows it (weight, bias
and running statistics), and the input dimension of each layer that reads them (the next
convolution's weight along dim 1, or a linear layer's weight after a flatten, where each channel
owns a block of consecutive input features).

The dependencies are found by Torch-Pruning's :class:`~torch_pruning.DependencyGraph`, which traces
the model, so sequential and residual networks written in plain PyTorch work without annotations.
A group that more than one convolution writes into (the residual stream of a ResNet, tied by the
additions) is not droppable: the residual stream keeps its full width, and only the internal
convolutions of each block are dropped. Classifier outputs are never dropped because only
convolutions are roots.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch_pruning as tp
from torch import nn

__all__ = [
    "ChannelGroup",
    "ChannelGroups",
    "TensorSlice",
    "UnsupportedModelError",
    "channel_groups",
    "keep_count",
]

#: Leaf modules the sliced execution understands. Anything else is rejected up front.
SUPPORTED_LEAVES: tuple[type[nn.Module], ...] = (
    nn.Conv2d,
    nn.BatchNorm2d,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.Flatten,
    nn.Linear,
    nn.Dropout,
    nn.Identity,
)

# Torch-Pruning node types allowed inside a droppable group besides the root convolution:
# BatchNorm, activations/pooling (element-wise ops), flatten (reshape), and readers.
_ALLOWED_OPS = {
    tp.ops.OPTYPE.CONV,
    tp.ops.OPTYPE.BN,
    tp.ops.OPTYPE.LINEAR,
    tp.ops.OPTYPE.ELEMENTWISE,
    tp.ops.OPTYPE.RESHAPE,
}


class UnsupportedModelError(ValueError):
    """The model holds a layer that channel dropout cannot slice."""


@dataclass(frozen=True)
class TensorSlice:
    """One state tensor indexed by a group's channels.

    Attributes:
        key: The ``state_dict`` key, e.g. ``"features.0.weight"``.
        dim: The dimension indexed by the channels (0: the tensor produces them; 1: it reads them).
        block: Consecutive entries along ``dim`` per channel (1, or H·W for a linear layer behind a
            flatten).
        reads: True when the tensor reads the channels (a consumer's input dimension); output
            scaling multiplies exactly these tensors.
    """

    key: str
    dim: int
    block: int
    reads: bool

    def indices(self, keep: torch.Tensor) -> torch.Tensor:
        """Entries along :attr:`dim` that belong to the kept channels ``keep``."""
        if self.block == 1:
            return keep
        offsets = torch.arange(self.block, dtype=keep.dtype)
        return (keep.unsqueeze(1) * self.block + offsets).reshape(-1)


@dataclass(frozen=True)
class ChannelGroup:
    """The output channels of one convolution and the tensors they index.

    Attributes:
        name: The producing convolution's module name (the group's name everywhere).
        channels: C_l, the number of channels.
        slices: Every state tensor indexed by the channels.
    """

    name: str
    channels: int
    slices: tuple[TensorSlice, ...]


def keep_count(channels: int, dropout: float) -> int:
    """k_l = max(1, round((1 − d_l)·C_l)) channels kept at dropout rate ``dropout``."""
    return max(1, min(channels, round((1.0 - dropout) * channels)))


@dataclass(frozen=True)
class ChannelGroups:
    """The droppable channel groups of a model, in forward order.

    Attributes:
        groups: The groups.
        skipped: Convolutions whose channels are not droppable, with the reason (for the docs and
            error messages), e.g. the residual stream.
    """

    groups: tuple[ChannelGroup, ...]
    skipped: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def names(self) -> tuple[str, ...]:
        """Group names in order."""
        return tuple(group.name for group in self.groups)

    @property
    def channels(self) -> tuple[int, ...]:
        """C_l per group."""
        return tuple(group.channels for group in self.groups)

    def keep_counts(self, dropout: Sequence[float]) -> tuple[int, ...]:
        """k_l per group for the dropout vector ``dropout``.

        Raises:
            ValueError: The vector's length differs from the number of groups, or a rate lies
                outside [0, 1).
        """
        if len(dropout) != len(self.groups):
            raise ValueError(
                f"dropout vector has {len(dropout)} entries, the model has {len(self.groups)} "
                "channel groups"
            )
        for rate in dropout:
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"dropout rates must lie in [0, 1), got {rate}")
        return tuple(keep_count(g.channels, d) for g, d in zip(self.groups, dropout, strict=True))


def channel_groups(model: nn.Module, input_shape: tuple[int, int, int]) -> ChannelGroups:
    """Find the droppable channel groups of ``model``.

    Args:
        model: The model (not modified; traced on a deep copy in evaluation mode).
        input_shape: ``(C, H, W)`` of one sample.

    Returns:
        The groups, in the order their convolutions first run.

    Raises:
        UnsupportedModelError: The model holds a layer outside :data:`SUPPORTED_LEAVES`, a grouped
            or depthwise convolution, or no droppable convolution at all.
    """
    _check_leaves(model)
    # Tracing switches the model to evaluation mode: trace a copy, never the caller's model.
    model = copy.deepcopy(model)
    names = {module: name for name, module in model.named_modules()}
    graph = tp.DependencyGraph().build_dependency(
        model, example_inputs=torch.zeros(1, *input_shape, dtype=_dtype(model))
    )
    order = {name: index for index, name in enumerate(names.values())}
    groups: list[ChannelGroup] = []
    skipped: list[tuple[str, str]] = []
    for tp_group in graph.get_all_groups(root_module_types=[nn.Conv2d]):
        root = tp_group.items[0].dep.target.module
        root_name = names[root]
        reason = _undroppable(tp_group, root)
        if reason:
            skipped.append((root_name, reason))
            continue
        groups.append(_group_of(graph, root, names))
    if not groups:
        detail = "; ".join(f"{name}: {why}" for name, why in skipped) or "no convolutions"
        raise UnsupportedModelError(f"the model has no droppable channel group ({detail})")
    groups.sort(key=lambda group: order[group.name])
    skipped.sort(key=lambda item: order[item[0]])
    return ChannelGroups(tuple(groups), tuple(skipped))


def _dtype(model: nn.Module) -> torch.dtype:
    for param in model.parameters():
        return param.dtype
    return torch.get_default_dtype()


def _check_leaves(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if any(True for _ in module.children()) or isinstance(
            module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)
        ):
            continue
        if not isinstance(module, SUPPORTED_LEAVES):
            raise UnsupportedModelError(
                f"layer {name!r} ({type(module).__name__}) is not supported by channel dropout; "
                "supported: Conv2d, BatchNorm2d, ReLU, pooling, Flatten, Linear, Dropout"
            )
        if isinstance(module, nn.Conv2d) and module.groups != 1:
            raise UnsupportedModelError(
                f"layer {name!r} is a grouped or depthwise convolution (groups={module.groups}), "
                "which channel dropout does not support"
            )


def _undroppable(tp_group: tp.Group, root: nn.Module) -> str:
    """Why the group cannot be dropped, or an empty string."""
    producers = 0
    for item in tp_group.items:
        node = item.dep.target
        if node.type not in _ALLOWED_OPS:
            return f"its channels pass through a {node.type.name.lower()} operation"
        if node.type == tp.ops.OPTYPE.CONV and _is_out(item):
            producers += 1
    if producers > 1:
        return "its channels are tied to other convolutions (residual stream)"
    if not isinstance(root, nn.Conv2d):
        return "its root is not a convolution"
    return ""


def _is_out(item: tp.dependency.GroupItem) -> bool:
    return str(item.dep.handler.__name__) == "prune_out_channels"


def _group_of(
    graph: tp.DependencyGraph, root: nn.Conv2d, names: dict[nn.Module, str]
) -> ChannelGroup:
    """The tensors indexed by ``root``'s output channels, with their per-channel block size."""
    channels = root.out_channels
    # Ask for channel 1 alone: each tensor's indices for it reveal the block layout.
    probe = graph.get_pruning_group(
        root, tp.prune_conv_out_channels, idxs=[1 if channels > 1 else 0]
    )
    slices: list[TensorSlice] = []
    for item in probe.items:
        module = item.dep.target.module
        if module not in names or isinstance(module, (nn.ReLU, nn.MaxPool2d)):
            continue
        name = names[module]
        out = _is_out(item)
        if isinstance(module, nn.Linear) and out:
            continue  # never reached: classifier outputs are not roots
        size = _indexed_size(module, out)
        if size is None:
            continue
        block = size // channels
        if block * channels != size:
            raise UnsupportedModelError(
                f"layer {name!r} reads {size} features from {channels} channels of "
                f"{names[root]!r}, which is not a whole number per channel"
            )
        found = sorted(int(getattr(index, "idx", index)) for index in item.idxs)
        channel = 1 if channels > 1 else 0
        if found != list(range(channel * block, (channel + 1) * block)):
            raise UnsupportedModelError(
                f"layer {name!r} reads the channels of {names[root]!r} in an order channel "
                "dropout cannot slice (expected channel-major blocks)"
            )
        slices.extend(_tensor_slices(module, name, out, block))
    return ChannelGroup(names[root], channels, tuple(slices))


def _indexed_size(module: nn.Module, out: bool) -> int | None:
    if isinstance(module, nn.Conv2d):
        return int(module.out_channels if out else module.in_channels)
    if isinstance(module, nn.BatchNorm2d):
        return int(module.num_features)
    if isinstance(module, nn.Linear):
        return int(module.in_features)
    return None


def _tensor_slices(module: nn.Module, name: str, out: bool, block: int) -> list[TensorSlice]:
    if isinstance(module, nn.BatchNorm2d):
        keys = ["weight", "bias"] if module.affine else []
        if module.track_running_stats:
            keys += ["running_mean", "running_var"]
        return [TensorSlice(f"{name}.{key}", 0, 1, reads=False) for key in keys]
    if out:
        keys = ["weight"] + (["bias"] if getattr(module, "bias", None) is not None else [])
        return [TensorSlice(f"{name}.{key}", 0, block, reads=False) for key in keys]
    return [TensorSlice(f"{name}.weight", 1, block, reads=True)]
