"""Per-layer training cost of a PyTorch model: FLOPs, bytes and memory
(docs/world-model.md, 'The cost of work').

Conventions, chosen so that the closed form equals what
:class:`torch.utils.flop_counter.FlopCounterMode` counts for one real training step:

* Counts are **FLOPs** (a multiply-add is 2 FLOPs), never MACs, and always **per sample**.
* Only convolutions (any ``nn.Conv*``/``nn.ConvTranspose*`` module) and ``nn.Linear`` modules are
  counted, as ``FlopCounterMode`` counts only ``convolution``/``mm``/``addmm``. Bias additions,
  batch normalisation, activations, pooling, residual additions and the loss are **not** counted;
  neither are matrix products written as functional calls outside these modules.
* Forward of a convolution: ``2 · Cout · Hout · Wout · (Cin / groups) · kh · kw`` (for a transposed
  convolution the input's spatial size replaces the output's, as ``FlopCounterMode`` does); forward
  of a linear layer: ``2 · in · out`` per row (one row per sample for 2-D inputs).
* Backward = grad-weight + grad-input. Grad-weight equals the forward count (for grouped
  convolutions ``FlopCounterMode`` counts ``groups`` times the forward, and so do we). Grad-input
  equals the forward count, and is omitted for a layer whose input does not require a gradient,
  i.e. whose input depends on the network input only (the first layer, or a layer behind
  parameter-free modules such as pooling of the input) — exactly when autograd skips it.

Shapes come from one forward pass of a one-sample dummy input through a deep copy of the model in
evaluation mode, observed with forward hooks; the caller's model, its training mode and its
BatchNorm statistics are never touched. Any module built from convolutions, linear layers,
normalisation, activations, pooling and residual additions works, including physically smaller
sub-networks sliced out of a larger one.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

__all__ = ["LayerCost", "ModelCost", "model_cost"]


@dataclass(frozen=True)
class LayerCost:
    """Training cost of one convolution or linear layer, per sample.

    Attributes:
        name: The module's qualified name in the model, e.g. ``"features.0"``.
        kind: ``"conv"`` or ``"linear"``.
        forward_flops: Forward FLOPs per sample.
        backward_flops: Backward FLOPs per sample: grad-weight plus grad-input, the latter omitted
            when the layer's input does not require a gradient (it is fed by the network input).
        param_bytes: Bytes of this layer's parameters (weight and bias).
        output_elements: Elements of the layer's output per sample.
    """

    name: str
    kind: str
    forward_flops: float
    backward_flops: float
    param_bytes: int
    output_elements: int

    @property
    def train_flops(self) -> float:
        """Forward plus backward FLOPs per sample."""
        return self.forward_flops + self.backward_flops


@dataclass(frozen=True)
class ModelCost:
    """Training cost of a whole model.

    Attributes:
        layers: The counted layers, in the order they first run in the forward pass.
        param_bytes: Bytes of all parameters.
        state_bytes: Bytes of all parameters and buffers: what a ``state_dict`` transfer sends.
        activation_bytes: Per-sample estimate of the activations kept for backward: the sum of
            the output sizes of every leaf module, times the element size.
    """

    layers: tuple[LayerCost, ...]
    param_bytes: int
    state_bytes: int
    activation_bytes: int

    @property
    def train_flops_per_sample(self) -> float:
        """Forward plus backward FLOPs of one training sample, summed over layers."""
        return math.fsum(layer.forward_flops + layer.backward_flops for layer in self.layers)

    @property
    def forward_flops_per_sample(self) -> float:
        """Forward (inference) FLOPs of one sample, summed over layers."""
        return math.fsum(layer.forward_flops for layer in self.layers)

    def training_memory_bytes(self, batch_size: int, optimizer_slots: int = 1) -> int:
        """Memory needed to train with mini-batches of ``batch_size`` samples.

        The sum of parameters, their gradients, ``optimizer_slots`` parameter-sized optimizer
        buffers (1 for SGD with momentum, 2 for Adam), the model's buffers (``state_bytes`` minus
        ``param_bytes``) and ``batch_size`` times the per-sample activations.

        Args:
            batch_size: Samples per mini-batch (at least 1).
            optimizer_slots: Parameter-sized optimizer buffers (at least 0).

        Returns:
            The estimate in bytes.

        Raises:
            ValueError: If ``batch_size < 1`` or ``optimizer_slots < 0``.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if optimizer_slots < 0:
            raise ValueError(f"optimizer_slots must be non-negative, got {optimizer_slots}")
        buffer_bytes = self.state_bytes - self.param_bytes
        return (
            (2 + optimizer_slots) * self.param_bytes
            + buffer_bytes
            + batch_size * self.activation_bytes
        )


def _tensor_bytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _output_tensors(output: Any) -> list[torch.Tensor]:
    """The tensors in a module's output (a tensor, or a possibly nested tuple/list/dict)."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, tuple | list):
        return [tensor for item in output for tensor in _output_tensors(item)]
    if isinstance(output, dict):
        return [tensor for item in output.values() for tensor in _output_tensors(item)]
    return []


def _conv_flops(module: _ConvNd, inp: torch.Tensor, out: torch.Tensor) -> tuple[float, float]:
    """Per-call (forward, grad-weight) FLOPs of a convolution, as ``FlopCounterMode`` counts."""
    spatial = inp.shape[2:] if module.transposed else out.shape[2:]
    rows = inp.shape[0]
    weight = module.weight.shape
    forward = 2 * rows * weight[0] * weight[1] * math.prod(weight[2:]) * math.prod(spatial)
    return float(forward), float(forward * module.groups)


def _linear_flops(module: nn.Linear, out: torch.Tensor) -> float:
    """Per-call forward FLOPs of a linear layer: 2 · in · out per row of the input."""
    rows = out.numel() // module.out_features if module.out_features else 0
    return float(2 * rows * module.in_features * module.out_features)


@dataclass
class _Tally:
    """Accumulates one counted layer over every call in the dummy forward pass."""

    kind: str
    forward: float = 0.0
    backward: float = 0.0
    outputs: int = 0


def model_cost(model: nn.Module, input_shape: tuple[int, int, int]) -> ModelCost:
    """Count the per-sample training cost of ``model`` for inputs of shape ``input_shape``.

    Args:
        model: Any module built from convolutions, linear layers, normalisation, activations,
            pooling and residual additions, full-size or a physically smaller sub-network.
        input_shape: Shape of one input sample, ``(C, H, W)``.

    Returns:
        The per-layer and whole-model cost.

    Raises:
        ValueError: If ``input_shape`` is not three positive sizes.
    """
    if len(input_shape) != 3 or any(int(size) < 1 for size in input_shape):
        raise ValueError(f"input_shape must be three positive sizes (C, H, W), got {input_shape}")

    param_bytes = sum(_tensor_bytes(p) for p in model.parameters())
    state_bytes = sum(_tensor_bytes(t) for t in model.state_dict().values())

    # Outside inference mode and with gradients on, so that autograd propagates requires_grad.
    with torch.inference_mode(False), torch.enable_grad():
        return _probe(model, input_shape, param_bytes, state_bytes)


def _probe(
    model: nn.Module, input_shape: tuple[int, int, int], param_bytes: int, state_bytes: int
) -> ModelCost:
    """Run the hooked dummy forward pass on an evaluation-mode copy of ``model``."""
    probe = copy.deepcopy(model).eval()
    # The trained model updates every parameter: make the copy's require gradients, so autograd's
    # own propagation tells which layer inputs need a grad-input (not those fed by the input only).
    for parameter in probe.parameters():
        if parameter.is_inference():
            parameter.data = parameter.data.clone()
        parameter.requires_grad_(True)
    first = next(probe.parameters(), None)
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    device = first.device if first is not None else torch.device("cpu")
    dummy = torch.zeros((1, *(int(size) for size in input_shape)), dtype=dtype, device=device)

    names = {module: name for name, module in probe.named_modules()}
    tallies: dict[str, _Tally] = {}
    params: dict[str, int] = {}
    activation_bytes = 0

    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        nonlocal activation_bytes
        outputs = _output_tensors(output)
        if not any(True for _ in module.children()):
            activation_bytes += sum(_tensor_bytes(tensor) for tensor in outputs)
        if not isinstance(module, _ConvNd | nn.Linear) or not args or not outputs:
            return
        inp, out = args[0], outputs[0]
        if isinstance(module, _ConvNd):
            forward, grad_weight = _conv_flops(module, inp, out)
            kind = "conv"
        else:
            forward = grad_weight = _linear_flops(module, out)
            kind = "linear"
        grad_input = forward if inp.requires_grad else 0.0
        name = names[module]
        tally = tallies.setdefault(name, _Tally(kind))
        tally.forward += forward
        tally.backward += grad_weight + grad_input
        tally.outputs += out.numel()
        params[name] = sum(_tensor_bytes(p) for p in module.parameters())

    handles = [module.register_forward_hook(hook) for module in probe.modules()]
    try:
        probe(dummy)
    finally:
        for handle in handles:
            handle.remove()

    layers = tuple(
        LayerCost(
            name=name,
            kind=tally.kind,
            forward_flops=tally.forward,
            backward_flops=tally.backward,
            param_bytes=params[name],
            output_elements=tally.outputs,
        )
        for name, tally in tallies.items()
    )
    return ModelCost(
        layers=layers,
        param_bytes=param_bytes,
        state_bytes=state_bytes,
        activation_bytes=activation_bytes,
    )
