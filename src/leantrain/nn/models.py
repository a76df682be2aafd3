"""The models leantrain trains, in plain PyTorch, behind a name registry.

Every model is built from ``Conv2d``/``BatchNorm2d``/``ReLU``/pooling/``Linear`` modules held as
named attributes or inside ``nn.Sequential`` containers, so parameter names in a ``state_dict`` are
stable and later code (channel groups, slicing, structured pruning) can address layers by name.
Convolutions are followed by batch normalisation and therefore carry no bias of their own. Given
``torch.manual_seed``, construction is deterministic.

Registered names (in :data:`~leantrain.registry.MODELS`, which imports this module on first use):

* ``mnist-cnn``: LeNet-style CNN for 1×28×28 images (MNIST, FEMNIST).
* ``mnist-cnn-wide``: the same CNN with 32/64 filters, to see whether random filter dropout hurts
  less on wider layers (docs/distreal.md, 'The baselines').
* ``digits-cnn``: a small CNN for scikit-learn's 1×8×8 digits.
* ``resnet8``, ``resnet14``, ``resnet20``: the CIFAR ResNets of He et al. (depth 6n + 2).
* ``heterofl-conv``: the four-block CNN of HeteroFL (Diao et al., 2021) at a global width rate
  (``model.global_rate``; docs/distreal.md, 'HeteroFL reproduction').
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from leantrain.errors import InputError
from leantrain.registry import MODELS

__all__ = [
    "MODELS",
    "BasicBlock",
    "CifarResNet",
    "DigitsCNN",
    "HeteroFLConv",
    "MnistCNN",
    "ModelFactory",
    "Scaler",
    "build_model",
    "heterofl_conv",
    "mnist_cnn_wide",
    "resnet8",
    "resnet14",
    "resnet20",
]

ModelFactory = Callable[[tuple[int, int, int], int], nn.Module]
"""Builds a model from the input shape ``(C, H, W)`` and the number of classes."""


def build_model(
    name: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    global_rate: float | None = None,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: A name in :data:`~leantrain.registry.MODELS`.
        input_shape: Shape of one input sample, ``(channels, height, width)``.
        num_classes: Number of output classes (logits).
        global_rate: The global width rate of ``heterofl-conv`` (``model.global_rate``); None
            builds the model at its registered width.

    Returns:
        The freshly initialised model, in training mode.

    Raises:
        InputError: If the name is unknown, or the shape or class count is unusable.
    """
    if name not in MODELS:
        known = ", ".join(MODELS.names())
        raise InputError(None, "model.name", f"unknown model {name!r}; known: {known}")
    factory = MODELS.get(name)
    if len(input_shape) != 3 or any(int(size) < 1 for size in input_shape):
        raise InputError(
            None, "model.input_shape", f"expected three positive sizes (C, H, W), got {input_shape}"
        )
    if num_classes < 1:
        raise InputError(None, "model.num_classes", f"must be at least 1, got {num_classes}")
    shape = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
    if global_rate is not None:
        if name != "heterofl-conv":
            raise InputError(
                None, "model.global_rate", f"applies to heterofl-conv only, not {name}"
            )
        # The one model with a width option: the registry's factories take (shape, classes).
        return heterofl_conv(shape, int(num_classes), global_rate)
    return factory(shape, int(num_classes))


def _conv_bn_relu(
    in_channels: int, out_channels: int, kernel_size: int, padding: int
) -> list[nn.Module]:
    """Conv (no bias) → BatchNorm → ReLU, as a list to splice into an ``nn.Sequential``."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


def _init_weights(model: nn.Module) -> None:
    """Kaiming-normal convolutions, unit/zero batch norm; linear layers keep PyTorch's default."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def _require_size(input_shape: tuple[int, int, int], minimum: int, model: str) -> None:
    """Raise :class:`InputError` when the image is smaller than ``minimum`` on either side."""
    _, height, width = input_shape
    if height < minimum or width < minimum:
        raise InputError(
            None,
            "model.input_shape",
            f"{model} needs images of at least {minimum}×{minimum}, got {height}×{width}",
        )


class MnistCNN(nn.Module):
    """LeNet-style CNN: two conv-BN-ReLU-maxpool stages and a two-layer classifier.

    ``features``: Conv(C, w1, 5, pad 2)-BN-ReLU-MaxPool2 → Conv(w1, w2, 5, pad 2)-BN-ReLU-MaxPool2;
    ``classifier``: Flatten → Linear(w2·⌊H/4⌋·⌊W/4⌋, hidden)-ReLU → Linear(hidden, classes).

    Args:
        input_shape: ``(C, H, W)`` of one sample; H and W at least 4 (exact when divisible by 4).
        num_classes: Number of logits.
        widths: Output channels of the two convolutions (16 and 32 in the registered model);
            smaller widths give the dense reduced-shape networks used as speed references.
        hidden: Width of the hidden linear layer.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        num_classes: int,
        widths: tuple[int, int] = (16, 32),
        hidden: int = 64,
    ) -> None:
        super().__init__()
        channels, height, width = input_shape
        _require_size(input_shape, 4, "mnist-cnn")
        self.features = nn.Sequential(
            *_conv_bn_relu(channels, widths[0], 5, 2),
            nn.MaxPool2d(2),
            *_conv_bn_relu(widths[0], widths[1], 5, 2),
            nn.MaxPool2d(2),
        )
        flat = widths[1] * (height // 2 // 2) * (width // 2 // 2)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch ``x`` of shape ``(N, C, H, W)``."""
        out: torch.Tensor = self.classifier(self.features(x))
        return out


def mnist_cnn_wide(input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """:class:`MnistCNN` with 32 and 64 filters (twice the registered ``mnist-cnn``) and a
    128-wide hidden layer."""
    return MnistCNN(input_shape, num_classes, widths=(32, 64), hidden=128)


class DigitsCNN(nn.Module):
    """Small CNN for 8×8 digits.

    ``features``: Conv(C, w1, 3, pad 1)-BN-ReLU → Conv(w1, w2, 3, pad 1)-BN-ReLU-MaxPool2;
    ``classifier``: Flatten → Linear(w2·⌊H/2⌋·⌊W/2⌋, classes).

    Args:
        input_shape: ``(C, H, W)`` of one sample; H and W at least 2.
        num_classes: Number of logits.
        widths: Output channels of the two convolutions (16 and 32 in the registered model).
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        num_classes: int,
        widths: tuple[int, int] = (16, 32),
    ) -> None:
        super().__init__()
        channels, height, width = input_shape
        _require_size(input_shape, 2, "digits-cnn")
        self.features = nn.Sequential(
            *_conv_bn_relu(channels, widths[0], 3, 1),
            *_conv_bn_relu(widths[0], widths[1], 3, 1),
            nn.MaxPool2d(2),
        )
        flat = widths[1] * (height // 2) * (width // 2)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(flat, num_classes))
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch ``x`` of shape ``(N, C, H, W)``."""
        out: torch.Tensor = self.classifier(self.features(x))
        return out


class BasicBlock(nn.Module):
    """ResNet basic block: conv3×3-BN-ReLU-conv3×3-BN, plus shortcut, then ReLU.

    The shortcut is the identity when the shape is kept, else a projection (1×1 conv + BN) held in
    ``shortcut``; ``shortcut`` is an empty ``nn.Sequential`` for the identity.

    Args:
        in_channels: Channels of the block's input (the residual stream).
        out_channels: Channels of the block's output.
        stride: Stride of the first convolution and of the projection.
        mid_channels: Output channels of the first convolution (the block's internal width);
            defaults to ``out_channels``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        mid_channels: int | None = None,
    ) -> None:
        super().__init__()
        mid = out_channels if mid_channels is None else mid_channels
        self.conv1 = nn.Conv2d(in_channels, mid, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(mid, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Block output for ``x`` of shape ``(N, in_channels, H, W)``."""
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        result: torch.Tensor = self.relu2(out + self.shortcut(x))
        return result


class CifarResNet(nn.Module):
    """CIFAR ResNet of He et al. with depth 6n + 2 and projection shortcuts.

    ``stem``: conv3×3(C → w1)-BN-ReLU; ``layer1``..``layer3``: n :class:`BasicBlock` each, with
    widths w1, w2, w3 (stride 2 at the start of layers 2 and 3); global average pooling; ``fc``:
    Linear(w3, classes).

    Args:
        input_shape: ``(C, H, W)`` of one sample (any size; global pooling adapts).
        num_classes: Number of logits.
        blocks_per_stage: n (1, 2, 3 for ResNet-8, -14, -20).
        widths: Widths of the three stages (16, 32, 64 in the registered models).
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        num_classes: int,
        blocks_per_stage: int,
        widths: tuple[int, int, int] = (16, 32, 64),
    ) -> None:
        super().__init__()
        if blocks_per_stage < 1:
            raise ValueError(f"blocks_per_stage must be at least 1, got {blocks_per_stage}")
        channels = input_shape[0]
        self.stem = nn.Sequential(*_conv_bn_relu(channels, widths[0], 3, 1))
        self.layer1 = self._stage(widths[0], widths[0], blocks_per_stage, stride=1)
        self.layer2 = self._stage(widths[0], widths[1], blocks_per_stage, stride=2)
        self.layer3 = self._stage(widths[1], widths[2], blocks_per_stage, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(widths[2], num_classes)
        _init_weights(self)

    @staticmethod
    def _stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
        """``blocks`` basic blocks, the first one changing width and stride."""
        layers = [BasicBlock(in_channels, out_channels, stride)]
        layers += [BasicBlock(out_channels, out_channels, 1) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch ``x`` of shape ``(N, C, H, W)``."""
        out = self.layer3(self.layer2(self.layer1(self.stem(x))))
        logits: torch.Tensor = self.fc(self.flatten(self.pool(out)))
        return logits


def resnet8(input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """ResNet-8: one basic block per stage (model ``resnet8``)."""
    return CifarResNet(input_shape, num_classes, blocks_per_stage=1)


def resnet14(input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """ResNet-14: two basic blocks per stage (model ``resnet14``)."""
    return CifarResNet(input_shape, num_classes, blocks_per_stage=2)


def resnet20(input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """ResNet-20: three basic blocks per stage (model ``resnet20``)."""
    return CifarResNet(input_shape, num_classes, blocks_per_stage=3)


#: Hidden widths of HeteroFL's ``conv`` model at rate 1.
HETEROFL_HIDDEN = (64, 128, 256, 512)


class Scaler(nn.Module):
    """HeteroFL's scaler: divides activations by ``rate`` while training, passes them at
    evaluation.

    Args:
        rate: The model's width rate relative to the global model's.
    """

    def __init__(self, rate: float) -> None:
        super().__init__()
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"a scaler rate lies in (0, 1], got {rate}")
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x / rate`` in training mode, ``x`` otherwise."""
        return x / self.rate if self.training else x


class HeteroFLConv(nn.Module):
    """HeteroFL's CNN (Diao et al., 2021) at width rate ``rate`` of a global model at
    ``global_rate``.

    ``blocks``: four blocks Conv3×3(pad 1) → scaler → BatchNorm → ReLU → MaxPool2, the last
    without its pool, with ⌈rate·C⌉ channels of C = 64, 128, 256, 512; then adaptive average
    pooling, flatten and Linear(widest, classes).

    Three choices keep it a slice-able leantrain model with the same function as the paper's:

    * The scaler divides by rate / global_rate; the global model (the only one leantrain builds
      for training: clients train slices of it) has ratio 1, so its scaler is an ``nn.Identity``.
    * Convolutions carry no bias: BatchNorm follows each one and subtracts any per-channel
      constant (with batch statistics when training, and with statistics that include it at
      evaluation), so a bias changes no output.
    * BatchNorm keeps running statistics (PyTorch's defaults). Training uses batch statistics
      either way; the paper's clients track none because its server recomputes them before each
      evaluation, which ``heterofl.static_bn`` does (:mod:`leantrain.fl.evaluate`).

    Initialisation follows the paper's code: PyTorch's default convolution and linear weights,
    zero linear bias, unit/zero BatchNorm.

    Args:
        input_shape: ``(C, H, W)`` of one sample; H and W at least 8 (three poolings).
        num_classes: Number of logits.
        rate: This model's width rate in (0, 1].
        global_rate: The global model's width rate (rate ≤ global_rate ≤ 1).
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        num_classes: int,
        rate: float = 1.0,
        global_rate: float = 1.0,
    ) -> None:
        super().__init__()
        if not 0.0 < rate <= global_rate <= 1.0:
            raise InputError(
                None,
                "model.global_rate",
                f"need 0 < rate <= global rate <= 1, got rate {rate}, global rate {global_rate}",
            )
        _require_size(input_shape, 8, "heterofl-conv")
        widths = [math.ceil(rate * channels) for channels in HETEROFL_HIDDEN]
        layers: list[nn.Module] = []
        previous = input_shape[0]
        for index, width in enumerate(widths):
            scaler: nn.Module = nn.Identity() if rate == global_rate else Scaler(rate / global_rate)
            layers += [
                nn.Conv2d(previous, width, 3, padding=1, bias=False),
                scaler,
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
            if index < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            previous = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(previous, num_classes)]
        self.blocks = nn.Sequential(*layers)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch ``x`` of shape ``(N, C, H, W)``."""
        out: torch.Tensor = self.blocks(x)
        return out


def heterofl_conv(
    input_shape: tuple[int, int, int], num_classes: int, global_rate: float = 1.0
) -> nn.Module:
    """The global :class:`HeteroFLConv` at ``global_rate`` (model ``heterofl-conv``)."""
    return HeteroFLConv(input_shape, num_classes, rate=global_rate, global_rate=global_rate)
