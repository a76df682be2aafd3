"""Sub-networks of kept channels: their cost, and one SGD step on them
(docs/distreal.md, 'Sliced execution').

:class:`SlicedTrainer` trains one mini-batch on a **physically smaller dense sub-network**: every
tensor indexed by a channel group is sliced to the kept channels (``W[kept_out][:, kept_in]``), the
forward and backward run on the small tensors through :func:`torch.func.functional_call`, and the
updated slices are scattered back into the full model. The optimizer's momentum buffers stay
full-size and only their kept entries change; BatchNorm statistics of dropped channels are never
touched. The tests check it against an independent masked oracle (``tests/nn/masked_oracle.py``):
the full network with the dropped channels zeroed, a plain ``torch.optim.SGD`` step, and every
dropped entry restored afterwards.

Optional output scaling multiplies each kept channel by C_l / k_l where it is read (inverted
dropout), so that the full model sees activations of the same expected size at evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from leantrain.nn.cost import ModelCost
from leantrain.nn.groups import ChannelGroups, TensorSlice

__all__ = [
    "Keep",
    "SlicedTrainer",
    "SubModelCost",
    "TrainedMasks",
    "first_keep",
    "random_keep",
]

#: Kept output-channel indices per channel group name (sorted, int64). A group that is missing
#: keeps all its channels.
Keep = Mapping[str, torch.Tensor]


def random_keep(
    groups: ChannelGroups, counts: Sequence[int], generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """A fresh uniform random subset of ``counts[l]`` channels per group (sorted indices)."""
    keep: dict[str, torch.Tensor] = {}
    for group, count in zip(groups.groups, counts, strict=True):
        chosen = torch.randperm(group.channels, generator=generator)[:count]
        keep[group.name] = chosen.sort().values
    return keep


def first_keep(groups: ChannelGroups, counts: Sequence[int]) -> dict[str, torch.Tensor]:
    """The first ``counts[l]`` channels of each group (nested, ordered sub-networks)."""
    return {
        group.name: torch.arange(count, dtype=torch.int64)
        for group, count in zip(groups.groups, counts, strict=True)
    }


@dataclass(frozen=True)
class _LayerShare:
    flops: float
    out_group: int | None
    in_group: int | None


class SubModelCost:
    """R(k) = training FLOPs of the sub-network / training FLOPs of the full network.

    Every counted layer's FLOPs (forward, grad-weight and grad-input alike) are proportional to
    its input channels times its output channels, so keeping k_out of C_out and k_in of C_in
    scales the layer by (k_out/C_out)·(k_in/C_in), exactly.

    Args:
        groups: The model's channel groups.
        cost: The full model's cost (:func:`leantrain.nn.model_cost`).
    """

    def __init__(self, groups: ChannelGroups, cost: ModelCost) -> None:
        self.groups = groups
        self.full_flops = cost.train_flops_per_sample
        out_of: dict[str, int] = {}
        in_of: dict[str, int] = {}
        for index, group in enumerate(groups.groups):
            for piece in group.slices:
                if piece.key.endswith(".weight"):
                    layer = piece.key.removesuffix(".weight")
                    (in_of if piece.reads else out_of)[layer] = index
        self._layers = tuple(
            _LayerShare(layer.train_flops, out_of.get(layer.name), in_of.get(layer.name))
            for layer in cost.layers
        )

    def flops(self, counts: Sequence[int]) -> float:
        """Training FLOPs per sample of the sub-network keeping ``counts[l]`` channels of group
        l."""
        channels = self.groups.channels
        total = 0.0
        for layer in self._layers:
            share = layer.flops
            if layer.out_group is not None:
                share *= counts[layer.out_group] / channels[layer.out_group]
            if layer.in_group is not None:
                share *= counts[layer.in_group] / channels[layer.in_group]
            total += share
        return total

    def ratio(self, counts: Sequence[int]) -> float:
        """R for the kept channel counts ``counts``."""
        return self.flops(counts) / self.full_flops

    def ratio_of(self, dropout: Sequence[float]) -> float:
        """R(d) for the dropout vector ``dropout``."""
        return self.ratio(self.groups.keep_counts(dropout))


def _sgd_settings(optimizer: torch.optim.Optimizer) -> tuple[float, float, float]:
    if not isinstance(optimizer, torch.optim.SGD) or len(optimizer.param_groups) != 1:
        raise TypeError("sliced training supports one torch.optim.SGD parameter group")
    group = optimizer.param_groups[0]
    if group["nesterov"] or group["dampening"] != 0 or group["maximize"]:
        raise TypeError("sliced training supports SGD without nesterov, dampening or maximize")
    return float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])


class _Index:
    """Where a tensor's kept entries lie, for one step: gather and scatter in one call each.

    A tensor indexed on dims 0 and 1 (a convolution reading and producing kept channels) is
    viewed as ``(C_out·C_in, …)`` and addressed with one flat index, so that taking the slice is a
    single ``index_select`` and writing it back a single ``index_copy_``.
    """

    __slots__ = ("dim", "index", "shape")

    def __init__(
        self, tensor: torch.Tensor, rows: torch.Tensor | None, cols: torch.Tensor | None
    ) -> None:
        self.shape: tuple[int, ...] | None = None
        if rows is not None and cols is not None:
            self.dim = 0
            self.index = (rows.unsqueeze(1) * tensor.shape[1] + cols.unsqueeze(0)).reshape(-1)
            self.shape = (len(rows), len(cols), *tensor.shape[2:])
        elif rows is not None:
            self.dim, self.index = 0, rows
        else:
            assert cols is not None
            self.dim, self.index = 1, cols

    def _flat(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.shape is None:
            return tensor
        return tensor.view(tensor.shape[0] * tensor.shape[1], *tensor.shape[2:])

    def take(self, tensor: torch.Tensor) -> torch.Tensor:
        """A copy of the kept entries."""
        out = self._flat(tensor.detach()).index_select(self.dim, self.index)
        return out if self.shape is None else out.view(self.shape)

    def put(self, tensor: torch.Tensor, values: torch.Tensor) -> None:
        """Write ``values`` into the kept entries of ``tensor``."""
        flat_values = values if self.shape is None else values.reshape(-1, *values.shape[2:])
        self._flat(tensor).index_copy_(self.dim, self.index, flat_values)


class SlicedTrainer:
    """One SGD step on the sub-network of kept channels, scattered back into the full model.

    Tensors that no kept group indexes (the residual stream, the classifier's outputs) are
    trained in place; only the sliced ones are gathered and scattered.

    Args:
        model: The full model; its parameters and buffers are updated in place.
        groups: Its channel groups.
        scale_outputs: Multiply each kept channel by C_l / k_l where it is read.
        clip_norm: Clip the sub-network's gradient to this total norm before each step
            (``torch.nn.utils.clip_grad_norm_`` on the sliced tensors); None does not clip.
    """

    def __init__(
        self,
        model: nn.Module,
        groups: ChannelGroups,
        *,
        scale_outputs: bool,
        clip_norm: float | None = None,
    ) -> None:
        self.model = model
        self.groups = groups
        self.scale_outputs = scale_outputs
        self.clip_norm = clip_norm
        self._params = dict(model.named_parameters())
        self._buffers = dict(model.named_buffers())
        self._channels = dict(zip(groups.names, groups.channels, strict=True))
        # Per state key: (group name, slice) for each indexed dimension.
        self._slices: dict[str, list[tuple[str, TensorSlice]]] = {}
        for group in groups.groups:
            for piece in group.slices:
                self._slices.setdefault(piece.key, []).append((group.name, piece))

    def step(
        self,
        optimizer: torch.optim.Optimizer,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        keep: Keep,
    ) -> float:
        """Train one mini-batch on the kept channels; returns the mini-batch loss.

        Args:
            optimizer: The ``torch.optim.SGD`` over the model's parameters; its momentum buffers
                are created full-size (zeros, which equals SGD's first-step rule) when missing.
            inputs: The mini-batch.
            targets: Its labels.
            keep: Kept channel indices per group.
        """
        lr, momentum, weight_decay = _sgd_settings(optimizer)
        indices = {key: self._index(key, keep) for key in self._slices}
        leaves: dict[str, torch.Tensor] = {}
        used: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for key, param in self._params.items():
                index = indices.get(key)
                leaf = param.detach() if index is None else index.take(param)
                leaves[key] = leaf.requires_grad_(True)
            # Unsliced buffers (and BatchNorm's integer batch counter) are updated in place.
            buffers: dict[str, torch.Tensor] = {}
            for key, buffer in self._buffers.items():
                index = indices.get(key)
                sliced = index is not None and buffer.is_floating_point()
                buffers[key] = index.take(buffer) if index is not None and sliced else buffer
        for key, leaf in leaves.items():
            factor = self._read_scale(key, keep) if self.scale_outputs else 1.0
            used[key] = leaf * factor if factor != 1.0 else leaf
        logits = functional_call(self.model, {**used, **buffers}, (inputs,), tie_weights=False)
        loss = nn.functional.cross_entropy(logits, targets)
        loss.backward()  # type: ignore[no-untyped-call]
        if self.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(list(leaves.values()), self.clip_norm)
        with torch.no_grad():
            keys = list(self._params)
            values = [leaves[key] for key in keys]
            grads = [
                leaf.grad if leaf.grad is not None else torch.zeros_like(leaf) for leaf in values
            ]
            for leaf in values:
                leaf.grad = None
            if weight_decay:
                grads = list(torch._foreach_add(grads, values, alpha=weight_decay))
            if momentum:
                slots = []
                for key in keys:
                    state = optimizer.state[self._params[key]]
                    buffer = state.get("momentum_buffer")
                    if buffer is None:
                        buffer = torch.zeros_like(self._params[key])
                        state["momentum_buffer"] = buffer
                    index = indices.get(key)
                    slots.append(buffer if index is None else index.take(buffer))
                torch._foreach_mul_(slots, momentum)
                torch._foreach_add_(slots, grads)
                grads = slots
            torch._foreach_add_(values, grads, alpha=-lr)
            for position, key in enumerate(keys):
                index = indices.get(key)
                if index is None:
                    continue  # updated in place through the shared storage
                index.put(self._params[key], values[position])
                if momentum:
                    index.put(
                        optimizer.state[self._params[key]]["momentum_buffer"], grads[position]
                    )
            for key, buffer in buffers.items():
                index = indices.get(key)
                if index is not None and buffer.is_floating_point():
                    index.put(self._buffers[key], buffer)
        return float(loss.detach())

    def _index(self, key: str, keep: Keep) -> _Index | None:
        dims: list[torch.Tensor | None] = [None, None]
        for group, piece in self._slices[key]:
            if group in keep:
                dims[piece.dim] = piece.indices(keep[group])
        if dims[0] is None and dims[1] is None:
            return None
        tensor = self._params[key] if key in self._params else self._buffers[key]
        return _Index(tensor, dims[0], dims[1])

    def _read_scale(self, key: str, keep: Keep) -> float:
        factor = 1.0
        for group, piece in self._slices.get(key, ()):
            if piece.reads and group in keep:
                factor *= self._channels[group] / len(keep[group])
        return factor


def _entry_masks(
    state: Mapping[str, torch.Tensor], groups: ChannelGroups, keep: Keep
) -> dict[str, torch.Tensor]:
    """Per indexed state key, a boolean tensor of the entries the sub-network holds."""
    masks: dict[str, torch.Tensor] = {}
    for group in groups.groups:
        if group.name not in keep:
            continue
        for piece in group.slices:
            tensor = state[piece.key]
            along = torch.zeros(tensor.shape[piece.dim], dtype=torch.bool)
            along[piece.indices(keep[group.name])] = True
            shape = [1] * tensor.dim()
            shape[piece.dim] = -1
            mask = along.view(shape).expand(tensor.shape)
            previous = masks.get(piece.key)
            masks[piece.key] = mask.clone() if previous is None else previous & mask
    return masks


class TrainedMasks:
    """How much of a device's local update trained each state entry (for aggregation).

    For every entry indexed by a channel group, the share of the update's samples whose
    mini-batch held that entry in its sub-network, in [0, 1]. Aggregation weighs a device's value
    of an entry by its samples times this share, i.e. by the number of samples that actually
    trained the entry (count-normalised averaging): an entry trained in one mini-batch of ten
    counts a tenth as much as one trained in all ten. Entries no group indexes are trained by
    every mini-batch and have no mask.

    Args:
        state: The model's state (shapes and keys).
        groups: Its channel groups.
    """

    def __init__(self, state: Mapping[str, torch.Tensor], groups: ChannelGroups) -> None:
        self._shapes = {
            piece.key: state[piece.key].shape for group in groups.groups for piece in group.slices
        }
        self._state = state
        self._groups = groups
        self._counts: dict[str, torch.Tensor] = {}
        self._samples = 0

    def add(self, keep: Keep | None, samples: int = 1) -> None:
        """Record one trained mini-batch of ``samples`` samples (``keep`` None: the full model)."""
        self._samples += samples
        held = {} if keep is None else _entry_masks(self._state, self._groups, keep)
        for key, shape in self._shapes.items():
            mask = held.get(key)
            count = self._counts.get(key)
            if count is None:
                count = torch.zeros(shape, dtype=torch.float64)
                self._counts[key] = count
            if mask is None:
                count += samples
            else:
                count.add_(mask, alpha=samples)

    def masks(self) -> dict[str, torch.Tensor] | None:
        """Per indexed state key the share of samples that trained each entry, or None when
        every mini-batch trained the full model."""
        if self._samples == 0 or all(
            bool((count == self._samples).all()) for count in self._counts.values()
        ):
            return None
        return {key: count / self._samples for key, count in self._counts.items()}

    @staticmethod
    def of(
        state: Mapping[str, torch.Tensor], groups: ChannelGroups, keeps: Sequence[Keep | None]
    ) -> dict[str, torch.Tensor] | None:
        """The masks of a sequence of equally sized mini-batches."""
        tracker = TrainedMasks(state, groups)
        for keep in keeps:
            tracker.add(keep)
        return tracker.masks()
